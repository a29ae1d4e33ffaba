"""The gateway of spec/client-api.md §6, black-box over raw WebSockets against a real hearthd.

Most tests share one server (`server`, overridden here only to make password hashing cheap);
tests that need a server-wide setting use their own: `fast` (heartbeat 1000 ms, sessions
resumable for 2 s), `small_ring` (5 dispatches kept for RESUME), and server_factory for the
signal and shutdown tests. Absence of a dispatch is proven with a marker: after the event
that must not arrive, a second event the session does receive is caused, and the session's
payloads up to that marker must not contain the first.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets
import signal
import socket
import time

import pytest

from gateway_client import (GUILD_MEMBERS, GUILD_MESSAGES, GUILD_PRESENCES, GUILDS,
                            MESSAGE_CONTENT, GatewayClient, dispatches, run)
from harness import (Api, HearthServer, direct_session, login, new_user, ok, parse_ts,
                     unique_name)

FAST_ARGON = ("--argon2-ops", "1", "--argon2-mem-kib", "8")
DEFAULT_APP_FLAGS = 282624
UNAUTHORIZED = {"code": 0, "message": "401: Unauthorized"}
EMPTY_GUILD_LISTS = ("threads", "voice_states", "stage_instances", "guild_scheduled_events",
                     "soundboard_sounds", "embedded_activities")


# --------------------------------------------------------------------------- servers


def _module_server(tmp_path_factory, *args):
    srv = HearthServer(tmp_path_factory.mktemp("hearthd"), FAST_ARGON + tuple(args))
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The shared server of this module (default gateway settings)."""
    yield from _module_server(tmp_path_factory)


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    """Heartbeat interval 1000 ms: identify timeout 1 s, heartbeat timeout 1.5 s."""
    yield from _module_server(tmp_path_factory, "--gateway-heartbeat-ms", "1000",
                              "--gateway-resume-seconds", "2")


@pytest.fixture(scope="module")
def small_ring(tmp_path_factory):
    """Sessions keep only their last 5 dispatches for RESUME."""
    yield from _module_server(tmp_path_factory, "--gateway-replay-events", "5")


# --------------------------------------------------------------------------- helpers


def user(srv, prefix="user") -> Api:
    return new_user(srv, prefix)


def make_bot(owner: Api, guild_id: str | None = None, permissions="0") -> Api:
    """A new application of `owner` and an Api for its bot (token from bot/reset),
    authorised into guild_id when given."""
    app = ok(owner.post("/applications", {"name": unique_name("app")}), 201)
    token = ok(owner.post(f"/applications/{app['id']}/bot/reset"))["token"]
    bot = Api(owner.server, token, bot=True, user_id=app["bot"]["id"],
              username=app["bot"]["username"])
    bot.app = app
    if guild_id is not None:
        authorize(owner, app["id"], guild_id, permissions)
    return bot


def authorize(owner: Api, app_id: str, guild_id: str, permissions="0") -> None:
    ok(owner.post("/oauth2/authorize",
                  {"guild_id": guild_id, "permissions": permissions, "authorize": True},
                  params={"client_id": app_id, "scope": "bot"}))


def user_with_guild(srv, prefix="user"):
    u = user(srv, prefix)
    g = u.create_guild(unique_name("g"))
    return u, g, g["system_channel_id"]


def is_msg(p, t, mid):
    return p["op"] == 0 and p["t"] == t and p["d"].get("id") == mid


def is_channel_create(p, cid):
    return p["op"] == 0 and p["t"] == "CHANNEL_CREATE" and p["d"].get("id") == cid


def assert_absent(payloads, pred, what):
    bad = [p for p in payloads if pred(p)]
    assert not bad, f"{what}: {[(p.get('t'), p.get('s')) for p in bad]}"


async def connect(srv, token=None, query="v=10&encoding=json", intents=None, **identify):
    """Open, read HELLO and (with a token) IDENTIFY; returns the client (ready in .ready)."""
    gw = GatewayClient(srv, query)
    await gw.open()
    gw.hello_payload = await gw.hello()
    if token is not None:
        gw.ready = await gw.identify(token, intents, **identify)
    return gw


async def close_all(*clients):
    for c in clients:
        await c.shutdown()


# --------------------------------------------------------------------------- 6.1 finding it


def test_get_gateway_url(server):
    r = ok(Api(server).get("/gateway"))
    assert r == {"url": f"ws://127.0.0.1:{server.port}/gateway"}, r
    # HOST is the request's Host header
    r = ok(Api(server).get("/gateway", headers={"Host": "chat.example.org:8443"}))
    assert r == {"url": "ws://chat.example.org:8443/gateway"}, r


def test_get_gateway_bot(server):
    owner = user(server, "owner")
    bot = make_bot(owner)
    r = Api(server).get("/gateway/bot")
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED), r.text
    r = owner.get("/gateway/bot")
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED), \
        f"a user token must get 401 on /gateway/bot: {r.status_code} {r.text}"
    body = ok(bot.get("/gateway/bot"))
    assert body == {
        "url": f"ws://127.0.0.1:{server.port}/gateway",
        "shards": 1,
        "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 86400000,
                                "max_concurrency": 1},
    }, body


def _ws_headers(version="13"):
    return {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": version,
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def test_handshake_plain_get_is_400(server):
    r = direct_session().get(server.base_url + "/gateway", timeout=5)
    assert r.status_code == 400, f"plain GET /gateway: {r.status_code} {r.text!r}"


def test_handshake_other_websocket_version_is_426(server):
    r = direct_session().get(server.base_url + "/gateway?v=10", headers=_ws_headers("8"),
                             timeout=5)
    assert r.status_code == 426, f"Sec-WebSocket-Version 8: {r.status_code} {r.text!r}"


@pytest.mark.parametrize("drop", ["Sec-WebSocket-Key", "bad key", "Upgrade", "Connection"])
def test_handshake_incomplete_upgrade_is_400(server, drop):
    h = _ws_headers()
    if drop == "bad key":
        h["Sec-WebSocket-Key"] = "too-short"
    else:
        del h[drop]
    r = direct_session().get(server.base_url + "/gateway", headers=h, timeout=5)
    assert r.status_code == 400, f"upgrade without {drop}: {r.status_code} {r.text!r}"


def test_handshake_raw_rfc6455(server):
    """A byte-level handshake with header values as browsers send them (token lists,
    mixed case): 101 with the RFC 6455 accept key, then HELLO in an unmasked text frame."""
    key = base64.b64encode(os.urandom(16)).decode()
    expect = base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    req = (f"GET /gateway?v=10&encoding=json HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
           "Upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(req)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(4096)
            assert chunk, f"connection closed during the handshake: {buf!r}"
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        assert lines[0].startswith("HTTP/1.1 101"), lines[0]
        headers = {k.strip().lower(): v.strip() for k, v in
                   (line.split(":", 1) for line in lines[1:])}
        assert headers.get("upgrade", "").lower() == "websocket", headers
        assert "upgrade" in headers.get("connection", "").lower(), headers
        assert headers.get("sec-websocket-accept") == expect, headers
        while len(rest) < 2:
            rest += sock.recv(4096)
        assert rest[0] == 0x81, f"first frame is not a final text frame: {rest[:2].hex()}"
        assert not rest[1] & 0x80, "server frames must not be masked"


def test_handshake_426_names_the_supported_version(server):
    """RFC 6455 §4.4: the refusal carries Sec-WebSocket-Version with the versions served."""
    r = direct_session().get(server.base_url + "/gateway", headers=_ws_headers("8"), timeout=5)
    assert r.status_code == 426
    versions = r.headers.get("Sec-WebSocket-Version", "").replace(" ", "").split(",")
    assert "13" in versions, \
        f"426 without 'Sec-WebSocket-Version: 13' (RFC 6455 §4.4): headers {dict(r.headers)}"


# --------------------------------------------------------------------------- 6.2 lifecycle


def test_hello_identify_ready_and_guild_create(server):
    alice, g1, general = user_with_guild(server, "alice")
    g2 = alice.create_guild(unique_name("g"))
    bot = make_bot(alice, g1["id"])
    me = alice.me()

    async def body():
        gw = GatewayClient(server)
        await gw.open()
        hello = await gw.recv()
        assert hello["op"] == 10 and hello.get("s") is None and hello.get("t") is None, hello
        assert hello["d"]["heartbeat_interval"] == 41250, f"HELLO {hello!r}"
        await gw.send_identify(alice.token)
        p = await gw.dispatch("READY")
        assert p["s"] == 1, f"READY s={p['s']}"
        ready = p["d"]
        assert ready["v"] == 10
        assert ready["user"] == me, f"READY user {ready['user']} != /users/@me {me}"
        assert sorted(ready["guilds"], key=lambda g: g["id"]) == sorted(
            [{"id": g1["id"], "unavailable": True}, {"id": g2["id"], "unavailable": True}],
            key=lambda g: g["id"]), ready["guilds"]
        assert isinstance(ready["session_id"], str) and ready["session_id"]
        assert ready["resume_gateway_url"] == f"ws://127.0.0.1:{server.port}/gateway", ready
        assert ready["session_type"] == "normal"
        for k in ("private_channels", "relationships", "presences", "guild_join_requests",
                  "geo_ordered_rtc_regions"):
            assert ready[k] == [], (k, ready[k])
        assert ready["user_settings"] == {}
        assert "application" not in ready and "shard" not in ready, ready

        creates = {}
        for i in range(2):
            p = await gw.dispatch("GUILD_CREATE")
            assert p["s"] == 2 + i
            creates[p["d"]["id"]] = p["d"]
        assert set(creates) == {g1["id"], g2["id"]}

        gc = creates[g1["id"]]
        rest = ok(alice.get(f"/guilds/{g1['id']}"))
        for k, v in rest.items():
            assert gc.get(k) == v, f"GUILD_CREATE {k}={gc.get(k)!r}, REST has {v!r}"
        assert gc["unavailable"] is False and gc["large"] is False
        assert gc["member_count"] == 2
        parse_ts(gc["joined_at"])
        member_ids = sorted(m["user"]["id"] for m in gc["members"])
        assert member_ids == sorted([alice.user_id, bot.user_id]), gc["members"]
        me_member = next(m for m in gc["members"] if m["user"]["id"] == alice.user_id)
        assert me_member["joined_at"] == gc["joined_at"]
        assert gc["channels"] == ok(alice.get(f"/guilds/{g1['id']}/channels")), gc["channels"]
        assert general in [c["id"] for c in gc["channels"]]
        for k in EMPTY_GUILD_LISTS:
            assert gc.get(k) == [], (k, gc.get(k))
        assert isinstance(gc.get("presences"), list), gc.get("presences")

        # HEARTBEAT with the last seq -> HEARTBEAT_ACK
        await gw.send({"op": 1, "d": 3})
        ack = await gw.recv()
        assert ack["op"] == 11, ack
        # and a dispatch follows with s = 4
        m = alice.send(general, "hello gateway")
        p = await gw.dispatch("MESSAGE_CREATE")
        assert p["s"] == 4 and p["d"]["id"] == m["id"] and p["d"]["content"] == "hello gateway"
        await gw.shutdown()

    run(body())


def test_heartbeat_before_and_after_identify(server):
    alice, _, _ = user_with_guild(server)

    async def body():
        gw = await connect(server)
        await gw.send({"op": 1, "d": None})
        assert (await gw.recv())["op"] == 11, "HEARTBEAT before IDENTIFY is answered"
        await gw.identify(alice.token)
        for _ in range(3):
            await gw.heartbeat()
        await gw.shutdown()

    run(body())


@pytest.mark.parametrize("query", ["v=9&encoding=json", None, "v=10", "encoding=json"])
def test_identify_other_accepted_queries(server, query):
    alice, _, _ = user_with_guild(server)

    async def body():
        gw = await connect(server, alice.token, query=query)
        await gw.heartbeat()
        await gw.shutdown()

    run(body())


def test_bot_identify_with_prefix_shard_and_application(server):
    owner, g, _ = user_with_guild(server, "owner")
    bot = make_bot(owner, g["id"])

    async def body():
        gw = await connect(server, "Bot " + bot.token, intents=GUILDS | GUILD_MESSAGES)
        r = gw.ready
        assert r["user"]["id"] == bot.user_id and r["user"]["bot"] is True
        assert r["application"] == {"id": bot.app["id"], "flags": DEFAULT_APP_FLAGS}, r
        assert r["guilds"] == [{"id": g["id"], "unavailable": True}]
        assert "shard" not in r
        await gw.shutdown()
        # a bare bot token works as well; shard [0, 1] is echoed
        gw = await connect(server, bot.token, intents=0, shard=[0, 1])
        assert gw.ready["shard"] == [0, 1], gw.ready
        assert len(gw.ready["guilds"]) == 1
        await gw.shutdown()
        # the largest shard count accepted is 1024
        gw = await connect(server, bot.token, intents=0, shard=[1023, 1024])
        assert gw.ready["shard"] == [1023, 1024], gw.ready
        await gw.shutdown()

    run(body())


def test_shards_split_guilds_by_id(server):
    """Discord's routing: a guild belongs to shard (guild_id >> 22) % num_shards; READY,
    GUILD_CREATE and the guild's dispatches go to that shard's session only."""
    owner = user(server, "owner")
    bot = make_bot(owner)
    guilds = []
    while len({(int(g["id"]) >> 22) % 2 for g in guilds}) < 2 or len(guilds) < 4:
        assert len(guilds) < 40, "could not create guilds on both shards"
        g = owner.create_guild(unique_name("g"))
        authorize(owner, bot.app["id"], g["id"])
        guilds.append(g)

    async def body():
        shards = []
        for i in range(2):
            gw = await connect(server, bot.token, intents=GUILDS | GUILD_MESSAGES,
                               shard=[i, 2])
            mine = sorted(g["id"] for g in guilds if (int(g["id"]) >> 22) % 2 == i)
            assert sorted(x["id"] for x in gw.ready["guilds"]) == mine, (i, gw.ready["guilds"])
            assert sorted(gc["id"] for gc in gw.guild_creates) == mine
            shards.append(gw)
        for g in guilds:
            m = owner.send(g["system_channel_id"], "routed")
            i = (int(g["id"]) >> 22) % 2
            got = await shards[i].wait_message(m["id"])
            assert len(got) == 1, shards[i].summary()
            marker = owner.send(next(x for x in guilds if (int(x["id"]) >> 22) % 2 == 1 - i)
                                ["system_channel_id"], "marker")
            got = await shards[1 - i].wait_message(marker["id"])
            assert_absent(got, lambda p: is_msg(p, "MESSAGE_CREATE", m["id"]),
                          f"shard {1 - i} got a message of a guild of shard {i}")
        await close_all(*shards)

    run(body())


def test_sequence_counts_by_one_across_dispatch_kinds(server):
    alice, g1, c1 = user_with_guild(server)
    g2 = alice.create_guild(unique_name("g"))
    g3 = alice.create_guild(unique_name("g"))
    bot = make_bot(alice, g1["id"])

    async def body():
        gw = await connect(server, alice.token)
        assert sorted(gc["id"] for gc in gw.guild_creates) == sorted(g["id"] for g in (g1, g2, g3))
        assert gw.seq == 4
        sb = await connect(server, bot.token, intents=GUILDS)   # PRESENCE_UPDATE to alice
        m1 = alice.send(c1, "one")
        m2 = alice.send(g2["system_channel_id"], "two")
        ch = alice.create_channel(g3["id"], "fresh")
        m3 = alice.send(ch["id"], "three")
        ok(alice.post(f"/channels/{c1}/typing"), 204)
        ok(alice.patch(f"/channels/{c1}/messages/{m1['id']}", {"content": "one!"}))
        ok(alice.delete(f"/channels/{g2['system_channel_id']}/messages/{m2['id']}"), 204)
        newcomer = make_bot(alice, g3["id"], permissions="8192")
        m4 = alice.send(c1, "last")
        got = await gw.wait_message(m4["id"])
        seen = [p["t"] for p in got]
        assert [p["s"] for p in got] == list(range(5, 5 + len(got))), gw.summary()
        # Audit log entries (channel creation, bot added) interleave; they count in s too.
        kinds = [p for p in got if p["t"] != "GUILD_AUDIT_LOG_ENTRY_CREATE"]
        seen = [p["t"] for p in kinds]
        assert seen[0] == "PRESENCE_UPDATE" and got[0]["d"]["user"]["id"] == bot.user_id, seen
        assert seen[1:8] == ["MESSAGE_CREATE", "MESSAGE_CREATE", "CHANNEL_CREATE",
                             "MESSAGE_CREATE", "TYPING_START", "MESSAGE_UPDATE",
                             "MESSAGE_DELETE"], seen
        assert sorted(seen[8:-1]) == ["GUILD_MEMBER_ADD", "GUILD_ROLE_CREATE"], seen
        assert kinds[4]["d"]["id"] == m3["id"]
        assert dispatches(got, "GUILD_MEMBER_ADD")[0]["d"]["user"]["id"] == newcomer.user_id
        await gw.send({"op": 1, "d": gw.seq})
        assert (await gw.recv())["op"] == 11
        await close_all(sb, gw)

    run(body())


def test_zlib_stream(server):
    alice, _, general = user_with_guild(server)

    async def body():
        gw = GatewayClient(server, "v=10&encoding=json&compress=zlib-stream")
        await gw.open()
        hello = await gw.hello()  # binary, 00 00 ff ff, inflated with the connection's stream
        assert hello["d"]["heartbeat_interval"] == 41250
        ready = await gw.identify(alice.token, guilds=1)
        assert ready["user"]["id"] == alice.user_id
        await gw.heartbeat()
        m = alice.send(general, "compressed " * 20)
        p = await gw.dispatch("MESSAGE_CREATE")
        assert p["d"]["id"] == m["id"] and p["d"]["content"] == "compressed " * 20
        assert all(isinstance(f, bytes) for f in gw.raw_frames)
        await gw.shutdown()

    run(body())


# --------------------------------------------------------------------------- 6.3 close codes


def test_close_4001_unknown_opcode_after_identify(server):
    alice, _, _ = user_with_guild(server)

    async def body():
        gw = await connect(server, alice.token)
        # known opcodes with well-formed payloads do not close the connection
        await gw.send({"op": 3, "d": {"since": None, "activities": [], "status": "online",
                                      "afk": False}})
        await gw.send({"op": 4, "d": {"guild_id": gw.ready["guilds"][0]["id"],
                                      "channel_id": None, "self_mute": False,
                                      "self_deaf": False}})
        await gw.send({"op": 8, "d": {"guild_id": gw.ready["guilds"][0]["id"], "query": "",
                                      "limit": 0}})
        await gw.send({"op": 1, "d": gw.seq})
        await gw.collect_until(lambda p: p["op"] == 11, what="HEARTBEAT_ACK")
        await gw.send({"op": 99, "d": None})
        await gw.expect_close(4001, what="op 99 after IDENTIFY")

    run(body())


BAD_PAYLOADS = {
    "not json": "{this is not json",
    "json array": "[1, 2]",
    "op not integer": '{"op": "1", "d": null}',
    "op missing": '{"d": null}',
    "identify without d": '{"op": 2}',
    "identify without token": '{"op": 2, "d": {"intents": 0, "properties": {}}}',
    "identify token not string": '{"op": 2, "d": {"token": 5, "intents": 0}}',
    "resume without session_id": '{"op": 6, "d": {"token": "x", "seq": 1}}',
}


@pytest.mark.parametrize("name", list(BAD_PAYLOADS))
def test_close_4002_decode_errors(server, name):
    async def body():
        gw = await connect(server)
        await gw.send(BAD_PAYLOADS[name])
        await gw.expect_close(4002, what=name)

    run(body())


def test_close_4002_binary_frame(server):
    alice, _, _ = user_with_guild(server)

    async def body():
        gw = await connect(server, alice.token)
        await gw.ws.send(b'{"op": 1, "d": null}')
        await gw.expect_close(4002, what="binary frame")

    run(body())


def test_close_4002_payload_over_4096_bytes(server):
    def padded(n):
        head, tail = '{"op":1,"d":null,"pad":"', '"}'
        s = head + "x" * (n - len(head) - len(tail)) + tail
        assert len(s.encode()) == n
        return s

    async def body():
        gw = await connect(server)
        await gw.send(padded(4096))
        assert (await gw.recv())["op"] == 11, "a 4096-byte payload is accepted"
        await gw.send(padded(4097))
        await gw.expect_close(4002, what="4097-byte payload")

    run(body())


def test_close_1009_message_over_64k(server):
    async def body():
        gw = await connect(server)
        await gw.send('{"op":1,"d":null,"pad":"' + "x" * 70000 + '"}')
        await gw.expect_close(1009, what="70 KB message")

    run(body())


@pytest.mark.parametrize("query", ["v=10&encoding=etf", "v=10&encoding=xml",
                                   "v=10&encoding=json&compress=zstd-stream",
                                   "v=10&compress=zlib"])
def test_close_4002_bad_encoding_or_compress(server, query):
    async def body():
        gw = GatewayClient(server, query)
        await gw.open()
        await gw.expect_close(4002, timeout=2, what=query)

    run(body())


@pytest.mark.parametrize("payload", [
    {"op": 3, "d": {"since": None, "activities": [], "status": "online", "afk": False}},
    {"op": 8, "d": {"guild_id": "1", "query": "", "limit": 0}},
    {"op": 4, "d": {"guild_id": "1", "channel_id": None, "self_mute": False,
                    "self_deaf": False}},
    {"op": 99, "d": None},
], ids=["op3", "op8", "op4", "op99"])
def test_close_4003_before_identify(server, payload):
    async def body():
        gw = await connect(server)
        await gw.send(payload)
        await gw.expect_close(4003, what=f"op {payload['op']} before IDENTIFY")

    run(body())


def test_close_4003_no_identify_within_heartbeat_interval(fast):
    """Heartbeating does not stand in for IDENTIFY."""
    async def body():
        t0 = time.monotonic()
        gw = await connect(fast)
        assert gw.hello_payload["d"]["heartbeat_interval"] == 1000

        async def beat():
            while True:
                await asyncio.sleep(0.3)  # pacing the heartbeats, not synchronisation
                try:
                    await gw.send({"op": 1, "d": None})
                except Exception:
                    return

        beater = asyncio.create_task(beat())
        try:
            got = await gw.expect_close(4003, timeout=6, what="no IDENTIFY")
        finally:
            beater.cancel()
        elapsed = time.monotonic() - t0
        assert elapsed >= 0.95, f"closed 4003 after {elapsed:.2f} s, before one interval"
        assert all(p["op"] == 11 for p in got), got

    run(body())


def test_close_4004_bad_tokens(server):
    owner = user(server, "owner")
    bot = make_bot(owner)
    old_token = bot.token
    ok(owner.post(f"/applications/{bot.app['id']}/bot/reset"))

    async def body():
        for what, token in [("garbage", "not-a-token"),
                            ("well-formed unknown",
                             owner.token.split(".")[0] + "." + "A" * 32),
                            ("bot token before reset", old_token)]:
            gw = await connect(server)
            await gw.send_identify(token, intents=0)
            await gw.expect_close(4004, what=f"IDENTIFY with {what}")
        gw = await connect(server)
        await gw.send_resume("not-a-token", "0" * 32, 1)
        await gw.expect_close(4004, what="RESUME with a bad token")

    run(body())


def test_close_4005_already_authenticated(server):
    alice, _, _ = user_with_guild(server)

    async def body():
        gw = await connect(server, alice.token)
        await gw.send_identify(alice.token)
        await gw.expect_close(4005, what="second IDENTIFY")
        gw = await connect(server, alice.token)
        await gw.send_resume(alice.token, gw.session_id, gw.seq)
        await gw.expect_close(4005, what="RESUME after IDENTIFY")

    run(body())


def test_close_4007_resume_seq_beyond(server):
    alice, _, _ = user_with_guild(server)

    async def body():
        gw = await connect(server, alice.token)
        sid, seq = gw.session_id, gw.seq
        await gw.close(4100)
        gw2 = await connect(server)
        await gw2.send_resume(alice.token, sid, seq + 5)
        await gw2.expect_close(4007, what=f"RESUME seq {seq + 5} > {seq}")

    run(body())


def test_close_4008_more_than_120_payloads_a_minute(server):
    async def body():
        gw = await connect(server)
        for _ in range(120):
            await gw.send({"op": 1, "d": None})
        for i in range(120):
            p = await gw.recv()
            assert p["op"] == 11, f"payload {i + 1} of 120: {p!r}"
        await gw.send({"op": 1, "d": None})
        await gw.expect_close(4008, what="121st payload within 60 s")

    run(body())


def test_close_4009_heartbeat_timeout_and_session_resumable(fast):
    alice, _, general = user_with_guild(fast)
    bob, _, _ = user_with_guild(fast)

    async def body():
        t_a = time.monotonic()
        a = await connect(fast, bob.token)
        b = await connect(fast, alice.token)
        t_b = time.monotonic()
        await b.heartbeat()
        sid, seq = b.session_id, b.seq

        async def keep_beating():
            while True:
                await a.heartbeat()
                await asyncio.sleep(0.4)  # pacing, not synchronisation

        beater = asyncio.create_task(keep_beating())
        try:
            await b.expect_close(4009, timeout=6, what="no heartbeat")
            elapsed = time.monotonic() - t_b
            assert elapsed >= 1.45, f"4009 after {elapsed:.2f} s, before 1.5 intervals"
            # the heartbeating connection lives on past 2.5 intervals
            while time.monotonic() - t_a < 2.6:
                assert not beater.done(), f"heartbeating connection failed: {beater}"
                await asyncio.sleep(0.1)  # pacing
            assert not beater.done(), f"heartbeating connection failed: {beater}"
        finally:
            beater.cancel()
        # the timed-out session stays resumable
        m = alice.send(general, "while timed out")
        c = await connect(fast)
        await c.send_resume(alice.token, sid, seq)
        p = await c.dispatch("MESSAGE_CREATE")
        assert p["d"]["id"] == m["id"]
        await c.dispatch("RESUMED")
        await close_all(a, c)

    run(body())


@pytest.mark.parametrize("shard", [[1, 1], [0, 0], "x", [0, 1025], [-1, 2], [0], [0, 1, 2],
                                   ["0", "1"]], ids=str)
def test_close_4010_invalid_shard(server, shard):
    owner = user(server, "owner")
    bot = make_bot(owner)

    async def body():
        gw = await connect(server)
        await gw.send_identify(bot.token, intents=0, shard=shard)
        await gw.expect_close(4010, what=f"shard {shard!r}")

    run(body())


@pytest.mark.parametrize("v", ["8", "11", "abc", "0", "", "10abc", "9.5"])
def test_close_4012_bad_version(server, v):
    async def body():
        gw = GatewayClient(server, f"v={v}&encoding=json")
        await gw.open()
        await gw.expect_close(4012, timeout=2, what=f"v={v}")

    run(body())


@pytest.mark.parametrize("intents", [None, 1 << 30, -1, 1 << 17, "513"], ids=str)
def test_close_4013_bot_invalid_intents(server, intents):
    owner = user(server, "owner")
    bot = make_bot(owner)

    async def body():
        gw = await connect(server)
        d = {"token": bot.token, "properties": {}}
        if intents is not None:
            d["intents"] = intents
        await gw.send({"op": 2, "d": d})
        await gw.expect_close(4013, what=f"bot intents {intents!r}")

    run(body())


def test_user_identify_without_intents_is_fine(server):
    alice, _, _ = user_with_guild(server)

    async def body():
        gw = await connect(server, alice.token)  # no intents field at all
        await gw.heartbeat()
        await gw.shutdown()

    run(body())


def test_close_4014_privileged_intents_follow_application_flags(server):
    owner, g, _ = user_with_guild(server, "owner")
    bot = make_bot(owner, g["id"])
    app_path = f"/applications/{bot.app['id']}"

    async def refused(intents, what):
        gw = await connect(server)
        await gw.send_identify(bot.token, intents=intents)
        await gw.expect_close(4014, what=what)

    async def allowed(intents, flags):
        gw = await connect(server, bot.token, intents=intents)
        assert gw.ready["application"]["flags"] == flags, gw.ready["application"]
        await gw.shutdown()

    async def body():
        await allowed(GUILDS | GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT,
                      DEFAULT_APP_FLAGS)
        ok(owner.patch(app_path, {"flags": 0}))
        await refused(GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT, "MESSAGE_CONTENT, flags 0")
        await refused(GUILD_MEMBERS, "GUILD_MEMBERS, flags 0")
        await refused(GUILD_PRESENCES, "GUILD_PRESENCES, flags 0")
        await allowed(GUILDS | GUILD_MESSAGES, 0)
        ok(owner.patch(app_path, {"flags": 1 << 18}))  # GATEWAY_MESSAGE_CONTENT
        await allowed(GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT, 1 << 18)
        await refused(GUILD_MEMBERS | MESSAGE_CONTENT, "GUILD_MEMBERS with flags 1<<18")
        ok(owner.patch(app_path, {"flags": 1 << 19}))  # GATEWAY_MESSAGE_CONTENT_LIMITED
        await allowed(MESSAGE_CONTENT, 1 << 19)
        ok(owner.patch(app_path, {"flags": (1 << 13) | (1 << 15)}))  # the other _LIMITED bits
        await allowed(GUILD_MEMBERS | GUILD_PRESENCES, (1 << 13) | (1 << 15))
        await refused(MESSAGE_CONTENT, "MESSAGE_CONTENT with flags (1<<13)|(1<<15)")

    run(body())


# --------------------------------------------------------------------------- resume


@pytest.mark.parametrize("how", ["close-4100", "tcp-abort"])
def test_resume_replays_missed_dispatches(server, how):
    alice, _, general = user_with_guild(server)

    async def body():
        gw = await connect(server, alice.token)
        m1 = alice.send(general, "before")
        p = await gw.dispatch("MESSAGE_CREATE")
        assert p["d"]["id"] == m1["id"] and p["s"] == 3
        sid, seq, url = gw.session_id, gw.seq, gw.ready["resume_gateway_url"]
        if how == "close-4100":
            await gw.close(4100)
        else:
            gw.abort()
        missed = [alice.send(general, f"away {i}") for i in range(3)]

        gw2 = GatewayClient(server, "v=10&encoding=json", url=url)
        await gw2.open()
        await gw2.hello()
        await gw2.send_resume(alice.token, sid, seq)
        got = await gw2.collect_until(lambda p: p["op"] == 0 and p["t"] == "RESUMED",
                                      what="RESUMED")
        assert [(p["t"], p["s"], p["d"].get("id")) for p in got] == \
            [("MESSAGE_CREATE", 4 + i, m["id"]) for i, m in enumerate(missed)] + \
            [("RESUMED", 7, None)], gw2.summary()
        assert [p["d"]["content"] for p in got[:3]] == ["away 0", "away 1", "away 2"]
        # live again, the sequence carries on
        m5 = alice.send(general, "after")
        p = await gw2.dispatch("MESSAGE_CREATE")
        assert p["d"]["id"] == m5["id"] and p["s"] == 8
        await gw2.heartbeat()
        await gw2.shutdown()

    run(body())


def test_resume_with_nothing_missed(server):
    alice, _, _ = user_with_guild(server)

    async def body():
        gw = await connect(server, alice.token)
        sid, seq = gw.session_id, gw.seq
        await gw.close(4100)
        gw2 = await connect(server)
        await gw2.send_resume(alice.token, sid, seq)
        p = await gw2.dispatch("RESUMED")
        assert p["s"] == seq + 1
        await gw2.shutdown()

    run(body())


async def _expect_invalid_session(gw, what):
    p = await gw.recv()
    assert p["op"] == 9 and p.get("d") is False, f"{what}: expected op 9 d:false, got {p!r}"


async def _identify_after_invalid(gw, token, user_id):
    ready = await gw.identify(token)
    assert ready["user"]["id"] == user_id
    await gw.heartbeat()


@pytest.mark.parametrize("code", [1000, 1001])
def test_resume_after_clean_close_is_invalid(server, code):
    alice, _, _ = user_with_guild(server)

    async def body():
        gw = await connect(server, alice.token)
        sid, seq = gw.session_id, gw.seq
        await gw.close(code)
        gw2 = await connect(server)
        await gw2.send_resume(alice.token, sid, seq)
        await _expect_invalid_session(gw2, f"resume after close {code}")
        await _identify_after_invalid(gw2, alice.token, alice.user_id)
        assert gw2.session_id != sid
        await gw2.shutdown()

    run(body())


def test_resume_unknown_session_is_invalid(server):
    alice, _, _ = user_with_guild(server)

    async def body():
        gw = await connect(server)
        await gw.send_resume(alice.token, secrets.token_hex(16), 1)
        await _expect_invalid_session(gw, "unknown session id")
        await _identify_after_invalid(gw, alice.token, alice.user_id)
        await gw.shutdown()

    run(body())


def test_resume_foreign_session_is_invalid_and_harmless(server):
    alice, _, general = user_with_guild(server)
    mallory = user(server, "mallory")

    async def body():
        a = await connect(server, alice.token)
        sid, seq = a.session_id, a.seq
        # while alice is connected: refused, and alice's connection is untouched
        m = await connect(server)
        await m.send_resume(mallory.token, sid, seq)
        await _expect_invalid_session(m, "resume of another user's live session")
        await a.heartbeat()
        msg = alice.send(general, "still mine")
        p = await a.dispatch("MESSAGE_CREATE")
        assert p["d"]["id"] == msg["id"]
        await _identify_after_invalid(m, mallory.token, mallory.user_id)
        await m.shutdown()
        # while alice is away: refused, and alice can still resume
        seq = a.seq
        await a.close(4100)
        missed = alice.send(general, "while away")
        m = await connect(server)
        await m.send_resume(mallory.token, sid, seq)
        await _expect_invalid_session(m, "resume of another user's detached session")
        await m.shutdown()
        a2 = await connect(server)
        await a2.send_resume(alice.token, sid, seq)
        p = await a2.dispatch("MESSAGE_CREATE")
        assert p["d"]["id"] == missed["id"] and p["d"]["content"] == "while away"
        await a2.dispatch("RESUMED")
        await a2.shutdown()

    run(body())


def test_resume_with_another_token_of_the_same_user(server):
    alice, _, general = user_with_guild(server)
    other_token = login(server, alice.username)
    assert other_token != alice.token

    async def body():
        gw = await connect(server, alice.token)
        sid, seq = gw.session_id, gw.seq
        await gw.close(4100)
        m = alice.send(general, "away")
        gw2 = await connect(server)
        await gw2.send_resume(other_token, sid, seq)
        assert (await gw2.dispatch("MESSAGE_CREATE"))["d"]["id"] == m["id"]
        await gw2.dispatch("RESUMED")
        await gw2.shutdown()

    run(body())


def test_resume_elsewhere_closes_the_older_connection_4000(server):
    alice, _, general = user_with_guild(server)

    async def body():
        a = await connect(server, alice.token)
        sid, seq = a.session_id, a.seq
        b = await connect(server)
        await b.send_resume(alice.token, sid, seq)
        await b.dispatch("RESUMED")
        await a.expect_close(4000, what="older connection of a resumed session")
        m = alice.send(general, "to the new connection")
        p = await b.dispatch("MESSAGE_CREATE")
        assert p["d"]["id"] == m["id"] and p["s"] == seq + 2
        await b.shutdown()

    run(body())


def test_resume_past_the_replay_buffer_is_invalid(small_ring):
    alice, _, general = user_with_guild(small_ring)

    async def body():
        gw = await connect(small_ring, alice.token)
        sid, seq = gw.session_id, gw.seq
        await gw.close(4100)
        # exactly 5 missed dispatches fit in a ring of 5
        missed = [alice.send(general, f"fits {i}") for i in range(5)]
        gw2 = await connect(small_ring)
        await gw2.send_resume(alice.token, sid, seq)
        got = await gw2.collect_until(lambda p: p["op"] == 0 and p["t"] == "RESUMED")
        assert [p["d"].get("id") for p in got[:-1]] == [m["id"] for m in missed], gw2.summary()
        seq = gw2.seq
        await gw2.close(4100)
        # 6 missed dispatches do not
        for i in range(6):
            alice.send(general, f"too many {i}")
        gw3 = await connect(small_ring)
        await gw3.send_resume(alice.token, sid, seq)
        await _expect_invalid_session(gw3, "resume whose missed dispatches left the buffer")
        # the session is gone for good
        gw4 = await connect(small_ring)
        await gw4.send_resume(alice.token, sid, seq)
        await _expect_invalid_session(gw4, "second resume of a dropped session")
        await _identify_after_invalid(gw3, alice.token, alice.user_id)
        await close_all(gw3, gw4)

    run(body())


def test_resume_after_resume_window_is_invalid(fast):
    alice, _, _ = user_with_guild(fast)

    async def body():
        gw = await connect(fast, alice.token)
        sid, seq = gw.session_id, gw.seq
        gw.abort()
        # the session must outlive gateway-resume-seconds=2 (swept once a second): let time pass
        await asyncio.sleep(3.6)
        gw2 = await connect(fast)
        await gw2.send_resume(alice.token, sid, seq)
        await _expect_invalid_session(gw2, "resume after gateway-resume-seconds")
        await gw2.shutdown()

    run(body())


def test_sigusr1_closes_4000_and_sessions_resume(server_factory):
    srv = server_factory(FAST_ARGON)
    alice, _, general = user_with_guild(srv)
    bob, _, bob_general = user_with_guild(srv)

    async def body():
        a = await connect(srv, alice.token)
        b = await connect(srv, bob.token)
        srv.proc.send_signal(signal.SIGUSR1)
        await a.expect_close(4000, what="SIGUSR1 (alice)")
        await b.expect_close(4000, what="SIGUSR1 (bob)")
        ma = alice.send(general, "after the signal")
        for who, gw, msg in [(alice, a, ma), (bob, b, None)]:
            c = await connect(srv)
            await c.send_resume(who.token, gw.session_id, gw.seq)
            got = await c.collect_until(lambda p: p["op"] == 0 and p["t"] == "RESUMED")
            ids = [p["d"].get("id") for p in got[:-1]]
            assert ids == ([msg["id"]] if msg else []), c.summary()
            await c.heartbeat()
            await c.shutdown()
        assert srv.running, "SIGUSR1 must not stop the server"

    run(body())


def test_clean_stop_closes_4000(server_factory):
    srv = server_factory(FAST_ARGON)
    alice, _, _ = user_with_guild(srv)

    async def body():
        gw = await connect(srv, alice.token)
        stopping = asyncio.get_running_loop().run_in_executor(None, srv.stop)
        try:
            await gw.expect_close(4000, timeout=10, what="SIGTERM")
        finally:
            await stopping

    run(body())


# --------------------------------------------------------------------------- 6.4 intents


def test_intents_message_events_and_content(server):
    alice, g, general = user_with_guild(server, "alice")
    b_guilds = make_bot(alice, g["id"])    # GUILDS: no message events
    b_msgs = make_bot(alice, g["id"])      # GUILD_MESSAGES without MESSAGE_CONTENT
    b_content = make_bot(alice, g["id"])   # GUILD_MESSAGES | MESSAGE_CONTENT

    async def body():
        s_alice = await connect(server, alice.token)
        s_guilds = await connect(server, b_guilds.token, intents=GUILDS)
        s_msgs = await connect(server, b_msgs.token, intents=GUILD_MESSAGES)
        s_content = await connect(server, b_content.token,
                                  intents=GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT)
        for s in (s_guilds, s_msgs, s_content):
            assert [gc["id"] for gc in s.guild_creates] == [g["id"]], \
                "GUILD_CREATE is sent whatever the intents"

        # 1. alice writes
        m1 = alice.send(general, "secret words")
        ch = alice.create_channel(g["id"], "marker")  # CHANNEL_CREATE (GUILDS)
        got = await s_guilds.collect_until(lambda p: is_channel_create(p, ch["id"]))
        assert_absent(got, lambda p: p["op"] == 0 and p["t"].startswith("MESSAGE_"),
                      "MESSAGE_* reached a bot without GUILD_MESSAGES")
        p = (await s_msgs.wait_message(m1["id"]))[-1]
        assert p["d"]["content"] == "", \
            f"bot without MESSAGE_CONTENT got content {p['d']['content']!r}"
        for k in ("embeds", "attachments", "components"):
            assert p["d"][k] == [], (k, p["d"][k])
        assert p["d"]["author"]["id"] == alice.user_id
        p = (await s_content.wait_message(m1["id"]))[-1]
        assert p["d"]["content"] == "secret words"
        got = await s_alice.wait_message(m1["id"])
        assert got[-1]["d"]["content"] == "secret words"
        await s_alice.collect_until(lambda p: is_channel_create(p, ch["id"]))
        await s_content.collect_until(lambda p: is_channel_create(p, ch["id"]))

        # 2. the content-less bot writes: its own message keeps its content
        m2 = b_msgs.send(general, "my own words")
        got = await s_msgs.wait_message(m2["id"])
        assert_absent(got, lambda p: is_channel_create(p, ch["id"]),
                      "CHANNEL_CREATE reached a bot without GUILDS")
        assert got[-1]["d"]["content"] == "my own words", \
            "a bot without MESSAGE_CONTENT sees the content of its own messages"
        assert (await s_content.wait_message(m2["id"]))[-1]["d"]["content"] == "my own words"
        assert (await s_alice.wait_message(m2["id"]))[-1]["d"]["content"] == "my own words"

        # 3. edits and deletes follow the same rules
        ok(alice.patch(f"/channels/{general}/messages/{m1['id']}", {"content": "edited secret"}))
        ok(alice.delete(f"/channels/{general}/messages/{m1['id']}"), 204)
        ch2 = alice.create_channel(g["id"], "marker-two")
        got = await s_guilds.collect_until(lambda p: is_channel_create(p, ch2["id"]))
        assert_absent(got, lambda p: p["op"] == 0 and p["t"].startswith("MESSAGE_"),
                      "MESSAGE_UPDATE/DELETE reached a bot without GUILD_MESSAGES")
        p = (await s_msgs.wait_message(m1["id"], "MESSAGE_UPDATE"))[-1]
        assert p["d"]["content"] == "", f"MESSAGE_UPDATE content {p['d']['content']!r}"
        p = (await s_msgs.wait_message(m1["id"], "MESSAGE_DELETE"))[-1]
        assert p["d"]["channel_id"] == general
        p = (await s_content.wait_message(m1["id"], "MESSAGE_UPDATE"))[-1]
        assert p["d"]["content"] == "edited secret"
        await s_content.wait_message(m1["id"], "MESSAGE_DELETE")
        p = (await s_alice.wait_message(m1["id"], "MESSAGE_UPDATE"))[-1]
        assert p["d"]["content"] == "edited secret"
        await s_alice.wait_message(m1["id"], "MESSAGE_DELETE")
        await close_all(s_alice, s_guilds, s_msgs, s_content)

    run(body())


def test_intents_member_add_and_role_create(server):
    alice, g, general = user_with_guild(server, "alice")
    b_plain = make_bot(alice, g["id"])
    b_members = make_bot(alice, g["id"])

    async def body():
        s_alice = await connect(server, alice.token)
        s_plain = await connect(server, b_plain.token, intents=GUILDS | GUILD_MESSAGES)
        s_members = await connect(server, b_members.token, intents=GUILD_MEMBERS)
        newcomer = make_bot(alice, g["id"], permissions="8192")  # managed role
        marker = alice.send(general, "marker")
        # the user session sees everything
        got = await s_alice.wait_message(marker["id"])
        adds = dispatches(got, "GUILD_MEMBER_ADD")
        assert [p["d"]["user"]["id"] for p in adds] == [newcomer.user_id], s_alice.summary()
        assert adds[0]["d"]["guild_id"] == g["id"]
        roles = dispatches(got, "GUILD_ROLE_CREATE")
        assert len(roles) == 1, s_alice.summary()
        # GUILDS|GUILD_MESSAGES: the role, not the member
        got = await s_plain.wait_message(marker["id"])
        assert_absent(got, lambda p: p["op"] == 0 and p["t"] == "GUILD_MEMBER_ADD",
                      "GUILD_MEMBER_ADD reached a bot without GUILD_MEMBERS")
        assert len(dispatches(got, "GUILD_ROLE_CREATE")) == 1, s_plain.summary()
        # GUILD_MEMBERS only: the member, neither the role nor the message
        got = await s_members.collect_until(
            lambda p: p["op"] == 0 and p["t"] == "GUILD_MEMBER_ADD")
        assert got[-1]["d"]["user"]["id"] == newcomer.user_id
        marker2 = make_bot(alice, g["id"])  # a second GUILD_MEMBER_ADD as the marker
        got = await s_members.collect_until(
            lambda p: p["op"] == 0 and p["t"] == "GUILD_MEMBER_ADD"
            and p["d"]["user"]["id"] == marker2.user_id)
        assert_absent(got, lambda p: p["op"] == 0 and p["t"] in
                      ("GUILD_ROLE_CREATE", "MESSAGE_CREATE"),
                      "a bot with GUILD_MEMBERS only got GUILDS/GUILD_MESSAGES dispatches")
        await close_all(s_alice, s_plain, s_members)

    run(body())


# --------------------------------------------------------------------------- visibility


def test_no_dispatches_from_guilds_one_is_not_in(server):
    alice, ga, ca = user_with_guild(server, "alice")
    bob, gb, cb = user_with_guild(server, "bob")

    async def body():
        sa = await connect(server, alice.token)
        sb = await connect(server, bob.token)
        mb = bob.send(cb, "in guild B")
        bob.create_channel(gb["id"], "bobs-channel")
        ma = alice.send(ca, "in guild A")
        got = await sa.wait_message(ma["id"])
        assert_absent(got, lambda p: p["op"] == 0 and p["d"].get("guild_id") == gb["id"]
                      or is_msg(p, "MESSAGE_CREATE", mb["id"]),
                      "alice got a dispatch of a guild she is not in")
        assert len(got) == 1, sa.summary()
        got = await sb.wait_message(mb["id"])
        marker = bob.send(cb, "marker")
        got = await sb.wait_message(marker["id"])
        assert_absent(got, lambda p: is_msg(p, "MESSAGE_CREATE", ma["id"]),
                      "bob got alice's message")
        await close_all(sa, sb)

    run(body())


def test_joining_a_guild_sends_guild_create_then_its_events(server):
    alice, g, general = user_with_guild(server, "alice")
    bot = make_bot(alice)  # not in any guild yet

    async def body():
        sa = await connect(server, alice.token)
        sb = await connect(server, bot.token,
                           intents=GUILDS | GUILD_MEMBERS | GUILD_MESSAGES | MESSAGE_CONTENT)
        assert sb.ready["guilds"] == []
        m0 = alice.send(general, "before the bot joined")
        authorize(alice, bot.app["id"], g["id"])
        p = await sb.dispatch("GUILD_CREATE")
        gc = p["d"]
        assert gc["id"] == g["id"] and gc["unavailable"] is False
        assert gc["member_count"] == 2
        assert sorted(m["user"]["id"] for m in gc["members"]) == sorted(
            [alice.user_id, bot.user_id])
        parse_ts(gc["joined_at"])
        assert general in [c["id"] for c in gc["channels"]]
        m1 = alice.send(general, "welcome")
        got = await sb.wait_message(m1["id"])
        assert_absent(got, lambda p: is_msg(p, "MESSAGE_CREATE", m0["id"]),
                      "a message from before the join was dispatched")
        assert_absent(got, lambda p: p["op"] == 0 and p["t"] == "GUILD_MEMBER_ADD",
                      "the new member's own session got GUILD_MEMBER_ADD")
        assert got[-1]["d"]["content"] == "welcome"
        got = await sa.wait_message(m1["id"])
        adds = dispatches(got, "GUILD_MEMBER_ADD")
        assert [p["d"]["user"]["id"] for p in adds] == [bot.user_id], sa.summary()
        await close_all(sa, sb)

    run(body())


def test_creating_a_guild_sends_guild_create(server):
    alice = user(server, "alice")

    async def body():
        sa = await connect(server, alice.token)
        assert sa.ready["guilds"] == []
        g = alice.create_guild(unique_name("g"))
        got = await sa.collect_until(lambda p: p["op"] == 0 and p["t"] == "GUILD_CREATE")
        gc = got[-1]["d"]
        assert gc["id"] == g["id"] and gc["owner_id"] == alice.user_id
        assert [c["id"] for c in gc["channels"]] == [g["system_channel_id"]]
        assert [m["user"]["id"] for m in gc["members"]] == [alice.user_id]
        m = alice.send(g["system_channel_id"], "first")
        await sa.wait_message(m["id"])
        await sa.shutdown()

    run(body())


@pytest.fixture(scope="module")
def big_guild(server):
    """A guild of 101 members: its owner and 100 bots (ids ascending in joining order)."""
    alice, g, _ = user_with_guild(server, "alice")
    bots = [make_bot(alice, g["id"]) for _ in range(100)]
    return alice, g, bots


@pytest.mark.parametrize("who", ["owner", "last joiner"])
def test_guild_create_members_capped_at_100_with_the_caller(server, big_guild, who):
    """§6.2: `members` holds up to 100 members, always including the caller."""
    alice, g, bots = big_guild
    caller = alice if who == "owner" else bots[-1]

    async def body():
        gw = await connect(server, caller.token, intents=GUILDS if caller.bot else None)
        gc = gw.guild_creates[0]
        ids = [m["user"]["id"] for m in gc["members"]]
        assert gc["member_count"] == 101
        assert caller.user_id in ids, f"{who}: the caller is missing from GUILD_CREATE members"
        assert len(ids) == len(set(ids)), \
            f"{who}: duplicate members in GUILD_CREATE ({len(ids)} entries, " \
            f"{len(set(ids))} distinct; the caller x{ids.count(caller.user_id)})"
        assert len(ids) <= 100, f"{who}: {len(ids)} members in GUILD_CREATE, over 100"
        await gw.shutdown()

    run(body())
