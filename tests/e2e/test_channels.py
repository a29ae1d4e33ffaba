"""Channel edits, permission overwrites, threads and slowmode (spec/rest-channels.md),
black-box against a real hearthd: REST for the state, a raw WebSocket gateway client for the
dispatches.

Everyone but the owner is a bot: in this tree bots (authorised into the guild, with a managed
role holding the permissions asked for) are how a guild gets members whose permissions differ.
All tests share one server and guild; each makes its own channels and threads, and after every
rejected write checks that nothing changed.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import websockets

from harness import Api, assert_snowflake, err, form_err, new_user, ok, parse_ts

UNKNOWN_ID = "999999999999999999"

P = {name: 1 << bit for name, bit in {
    "CREATE_INSTANT_INVITE": 0, "ADMINISTRATOR": 3, "MANAGE_CHANNELS": 4, "MANAGE_GUILD": 5,
    "VIEW_CHANNEL": 10, "SEND_MESSAGES": 11, "MANAGE_MESSAGES": 13,
    "READ_MESSAGE_HISTORY": 16, "MANAGE_ROLES": 28, "MANAGE_THREADS": 34,
    "CREATE_PUBLIC_THREADS": 35, "CREATE_PRIVATE_THREADS": 36,
    "SEND_MESSAGES_IN_THREADS": 38, "BYPASS_SLOWMODE": 52}.items()}

INTENTS = (1 << 0) | (1 << 9)  # GUILDS, GUILD_MESSAGES


# --------------------------------------------------------------------------- gateway client


class Gateway:
    """A gateway session on its own thread: IDENTIFY, heartbeats, and every dispatch kept in
    order in `events` as (t, d). Sync tests wait on it with wait_for / absent_before."""

    def __init__(self, api: Api):
        self.api = api
        self.events: list[tuple[str, dict]] = []
        self.cond = threading.Condition()
        self.failure: BaseException | None = None
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.ws = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(15), f"no READY/GUILD_CREATE for {api}: {self.failure!r}"

    def _run(self):
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as e:  # reported by wait_for
            self.failure = e
        finally:
            with self.cond:
                self.cond.notify_all()

    async def _main(self):
        url = f"ws://127.0.0.1:{self.api.server.port}/gateway?v=10&encoding=json"
        async with websockets.connect(url, max_size=None) as ws:
            self.ws = ws
            hello = json.loads(await ws.recv())
            assert hello["op"] == 10, hello
            await ws.send(json.dumps({"op": 2, "d": {
                "token": self.api.token, "intents": INTENTS,
                "properties": {"os": "linux", "browser": "e2e", "device": "e2e"}}}))
            beat = asyncio.ensure_future(self._heartbeat(ws, hello["d"]["heartbeat_interval"]))
            pending: set[str] | None = None
            try:
                async for raw in ws:
                    msg = json.loads(raw)
                    if msg.get("op") != 0:
                        continue
                    t, d = msg["t"], msg["d"]
                    with self.cond:
                        self.events.append((t, d))
                        self.cond.notify_all()
                    if t == "READY":
                        pending = {g["id"] for g in d["guilds"]}
                    elif t == "GUILD_CREATE" and pending is not None:
                        pending.discard(d["id"])
                    if pending is not None and not pending:
                        self.ready.set()
            finally:
                beat.cancel()

    async def _heartbeat(self, ws, interval_ms):
        while True:
            await asyncio.sleep(interval_ms / 1000 * 0.5)
            await ws.send(json.dumps({"op": 1, "d": None}))

    def close(self):
        if self.ws is not None and self.thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self.ws.close(), self.loop).result(10)
            except Exception:  # the loop ended meanwhile: nothing left to close
                pass
        self.thread.join(10)

    def mark(self) -> int:
        with self.cond:
            return len(self.events)

    def find(self, t: str, pred=lambda d: True, since: int = 0) -> list[dict]:
        with self.cond:
            return [d for (et, d) in self.events[since:] if et == t and pred(d)]

    def wait_for(self, t: str, pred=lambda d: True, since: int = 0, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for et, d in self.events[since:]:
                    if et == t and pred(d):
                        return d
                left = deadline - time.monotonic()
                if left <= 0 or self.failure is not None or not self.thread.is_alive():
                    seen = [et for et, _ in self.events[since:]]
                    pytest.fail(f"{self.api}: no {t} within {timeout}s (got {seen}, "
                                f"failure {self.failure!r})", pytrace=False)
                self.cond.wait(left)


def sentinel(owner: Api, channel_id: str, *gws: Gateway) -> None:
    """Posts a message every session in gws can see and waits until each has it. Dispatches
    reach a session in commit order, so anything committed before the sentinel that the
    session was going to get has arrived by then."""
    m = owner.send(channel_id, "sentinel")
    for gw in gws:
        gw.wait_for("MESSAGE_CREATE", lambda d: d["id"] == m["id"])


# --------------------------------------------------------------------------- fixtures


def make_bot(owner: Api, guild_id: str, name: str, permissions: int) -> Api:
    app = ok(owner.post("/applications", {"name": name}), 201)
    token = ok(owner.post(f"/applications/{app['id']}/bot/reset"))["token"]
    bot = Api(owner.server, token, bot=True, user_id=app["bot"]["id"],
              username=app["bot"]["username"])
    ok(owner.post("/oauth2/authorize",
                  {"guild_id": guild_id, "permissions": str(permissions), "authorize": True},
                  params={"client_id": app["id"], "scope": "bot"}))
    roles = ok(owner.get(f"/guilds/{guild_id}"))["roles"]
    bot.role_id = next((r["id"] for r in roles if r.get("tags", {}).get("bot_id") == bot.user_id),
                       None)
    return bot


@pytest.fixture(scope="module")
def alice(server):
    return new_user(server, "alice")


@pytest.fixture(scope="module")
def bob(server):
    """Not a member of alice's guild."""
    return new_user(server, "bob")


@pytest.fixture(scope="module")
def guild(alice):
    return alice.create_guild("Channel Guild")


@pytest.fixture(scope="module")
def general(guild):
    return guild["system_channel_id"]


@pytest.fixture(scope="module")
def plain(alice, guild):
    """@everyone's permissions only."""
    return make_bot(alice, guild["id"], "Plain Bot", 0)


@pytest.fixture(scope="module")
def viewer(alice, guild):
    """Has a managed role (VIEW_CHANNEL) that role overwrites can name."""
    return make_bot(alice, guild["id"], "Viewer Bot", P["VIEW_CHANNEL"])


@pytest.fixture(scope="module")
def chanmgr(alice, guild):
    return make_bot(alice, guild["id"], "Chan Bot", P["MANAGE_CHANNELS"])


@pytest.fixture(scope="module")
def rolemgr(alice, guild):
    return make_bot(alice, guild["id"], "Role Bot", P["MANAGE_CHANNELS"] | P["MANAGE_ROLES"])


@pytest.fixture(scope="module")
def mod(alice, guild):
    return make_bot(alice, guild["id"], "Mod Bot", P["MANAGE_THREADS"] | P["MANAGE_MESSAGES"])


@pytest.fixture(scope="module")
def gws(alice, plain, viewer, mod):
    made = {name: Gateway(api) for name, api in
            (("alice", alice), ("plain", plain), ("viewer", viewer), ("mod", mod))}
    yield made
    for gw in made.values():
        gw.close()


def channel(api: Api, channel_id: str) -> dict:
    return ok(api.get(f"/channels/{channel_id}"))


def overwrites(api: Api, channel_id: str) -> list[dict]:
    return channel(api, channel_id)["permission_overwrites"]


def visible_ids(api: Api, guild_id: str) -> set[str]:
    return {c["id"] for c in ok(api.get(f"/guilds/{guild_id}/channels"))}


def ow(target: str, type_: int, allow: int = 0, deny: int = 0) -> dict:
    return {"id": target, "type": type_, "allow": str(allow), "deny": str(deny)}


def audit_entry(gw: Gateway, since: int, action: int, target: str) -> dict:
    return gw.wait_for("GUILD_AUDIT_LOG_ENTRY_CREATE",
                       lambda d: d["action_type"] == action and d["target_id"] == target, since)


# --------------------------------------------------------------------------- PATCH /channels


def test_edit_channel_fields_events_and_audit(alice, guild, gws):
    cat = alice.create_channel(guild["id"], "Cat One", 4)
    c = alice.create_channel(guild["id"], "edit me")
    since = gws["alice"].mark()
    body = ok(alice.patch(f"/channels/{c['id']}", {
        "name": "New Name", "topic": "the topic", "nsfw": True, "rate_limit_per_user": 30,
        "position": 7, "parent_id": cat["id"]}, headers={"X-Audit-Log-Reason": "tidy%20up"}))
    expected = dict(c, name="new-name", topic="the topic", nsfw=True, rate_limit_per_user=30,
                    position=7, parent_id=cat["id"])
    assert body == expected
    assert channel(alice, c["id"]) == expected
    ev = gws["alice"].wait_for("CHANNEL_UPDATE", lambda d: d["id"] == c["id"], since)
    assert ev == expected
    entry = audit_entry(gws["alice"], since, 11, c["id"])
    assert entry["user_id"] == alice.user_id and entry["reason"] == "tidy up"
    changed = {ch["key"]: (ch.get("old_value"), ch.get("new_value")) for ch in entry["changes"]}
    assert changed == {"name": ("edit-me", "new-name"), "topic": (None, "the topic"),
                       "nsfw": (False, True), "rate_limit_per_user": (0, 30),
                       "position": (c["position"], 7), "parent_id": (None, cat["id"])}

    # null clears the topic and the parent; fields of other channel types are ignored.
    body = ok(alice.patch(f"/channels/{c['id']}", {"topic": None, "parent_id": None,
                                                   "archived": True, "locked": True}))
    assert body["topic"] is None and body["parent_id"] is None
    assert "thread_metadata" not in body
    voice = alice.create_channel(guild["id"], "Voice Edit", 2)
    body = ok(alice.patch(f"/channels/{voice['id']}", {"name": "Loud Room", "topic": "ignored"}))
    assert body["name"] == "Loud Room" and "topic" not in body


def test_edit_channel_errors_change_nothing(alice, bob, plain, guild, general):
    c = alice.create_channel(guild["id"], "stable")
    text2 = alice.create_channel(guild["id"], "not a category")
    other_guild = bob.create_guild("Bob Guild")
    other_cat = bob.create_channel(other_guild["id"], "bob cat", 4)
    before = channel(alice, c["id"])
    path = f"/channels/{c['id']}"
    err(bob.patch(path, {"name": "x"}), 403, 50001)
    err(plain.patch(path, {"name": "x"}), 403, 50013)
    err(alice.patch(f"/channels/{UNKNOWN_ID}", {"name": "x"}), 404, 10003)
    form_err(alice.patch(path, {"name": ""}), "name", "BASE_TYPE_BAD_LENGTH")
    form_err(alice.patch(path, {"name": "n" * 101}), "name", "BASE_TYPE_BAD_LENGTH")
    form_err(alice.patch(path, {"name": 5}), "name", "BASE_TYPE_STRING")
    form_err(alice.patch(path, {"topic": "t" * 1025}), "topic", "BASE_TYPE_MAX_LENGTH")
    form_err(alice.patch(path, {"rate_limit_per_user": 21601}), "rate_limit_per_user")
    form_err(alice.patch(path, {"rate_limit_per_user": -1}), "rate_limit_per_user")
    form_err(alice.patch(path, {"nsfw": "yes"}), "nsfw", "BASE_TYPE_BOOLEAN")
    form_err(alice.patch(path, {"position": -2}), "position")
    form_err(alice.patch(path, {"parent_id": text2["id"]}), "parent_id", "CHANNEL_PARENT_INVALID")
    form_err(alice.patch(path, {"parent_id": other_cat["id"]}), "parent_id")
    form_err(alice.patch(path, {"parent_id": "abc"}), "parent_id", "NUMBER_TYPE_COERCE")
    form_err(alice.patch(path, {"permission_overwrites": "all"}), "permission_overwrites")
    err(alice.patch(path, data=b"[1]"), 400, 50109)
    assert channel(alice, c["id"]) == before


def test_edit_needs_manage_channels_and_roles(alice, chanmgr, rolemgr, guild, plain):
    c = alice.create_channel(guild["id"], "managed")
    body = ok(chanmgr.patch(f"/channels/{c['id']}", {"name": "by-chanmgr"}))
    assert body["name"] == "by-chanmgr"
    # Overwrites need MANAGE_ROLES as well.
    err(chanmgr.patch(f"/channels/{c['id']}",
                      {"permission_overwrites": [ow(plain.user_id, 1, deny=P["SEND_MESSAGES"])]}),
        403, 50013)
    assert overwrites(alice, c["id"]) == []
    body = ok(rolemgr.patch(f"/channels/{c['id']}",
                            {"permission_overwrites": [ow(plain.user_id, 1,
                                                          deny=P["SEND_MESSAGES"])]}))
    assert body["permission_overwrites"] == [ow(plain.user_id, 1, deny=P["SEND_MESSAGES"])]


def test_patch_overwrites_replaces_the_set(alice, rolemgr, plain, viewer, guild, gws):
    c = alice.create_channel(guild["id"], "replace set")
    gid = guild["id"]
    # rolemgr keeps SEND_MESSAGES through its own allow: it may only lift the @everyone deny
    # of a permission it holds (test_overwrite_errors_change_nothing has the refusal).
    first = [ow(gid, 0, deny=P["SEND_MESSAGES"]), ow(plain.user_id, 1, allow=P["SEND_MESSAGES"]),
             ow(rolemgr.user_id, 1, allow=P["SEND_MESSAGES"])]
    ok(rolemgr.patch(f"/channels/{c['id']}", {"permission_overwrites": first}))
    assert sorted(overwrites(alice, c["id"]), key=lambda o: int(o["id"])) == \
        sorted(first, key=lambda o: int(o["id"]))
    plain.send(c["id"], "allowed by member overwrite")
    err(viewer.post(f"/channels/{c['id']}/messages", {"content": "no"}), 403, 50013)

    second = [ow(viewer.role_id, 0, allow=P["SEND_MESSAGES"])]
    since = gws["alice"].mark()
    body = ok(rolemgr.patch(f"/channels/{c['id']}", {"permission_overwrites": second}))
    assert body["permission_overwrites"] == second
    ev = gws["alice"].wait_for("CHANNEL_UPDATE", lambda d: d["id"] == c["id"], since)
    assert ev["permission_overwrites"] == second
    viewer.send(c["id"], "now allowed")

    # Bad sets are refused whole.
    path = f"/channels/{c['id']}"
    err(alice.patch(path, {"permission_overwrites": [ow(UNKNOWN_ID, 0)]}), 404, 10011)
    err(alice.patch(path, {"permission_overwrites": [ow(UNKNOWN_ID, 1)]}), 404, 10007)
    form_err(alice.patch(path, {"permission_overwrites": [ow(gid, 2)]}),
             "permission_overwrites.0.type", "BASE_TYPE_CHOICES")
    form_err(alice.patch(path, {"permission_overwrites": [{"id": gid, "type": 0, "allow": "x"}]}),
             "permission_overwrites.0.allow")
    form_err(alice.patch(path, {"permission_overwrites": [{"id": gid, "type": 0,
                                                           "deny": str(1 << 47)}]}),
             "permission_overwrites.0.deny")
    form_err(alice.patch(path, {"permission_overwrites": [ow(gid, 0), ow(gid, 0)]}),
             "permission_overwrites.1.id")
    form_err(alice.patch(path, {"permission_overwrites": [ow(gid, 0)] * 65}),
             "permission_overwrites", "BASE_TYPE_MAX_LENGTH")
    # A non-administrator may only decide permissions it holds (MANAGE_GUILD it lacks).
    err(rolemgr.patch(path, {"permission_overwrites": second + [ow(gid, 0,
                                                                  allow=P["MANAGE_GUILD"])]}),
        403, 50013)
    assert overwrites(alice, c["id"]) == second


# --------------------------------------------------------------------------- DELETE /channels


def test_delete_channel(alice, bob, plain, chanmgr, guild, gws):
    c = alice.create_channel(guild["id"], "doomed")
    m = alice.send(c["id"], "starter")
    th = ok(alice.post(f"/channels/{c['id']}/messages/{m['id']}/threads", {"name": "t"}), 201)
    err(bob.delete(f"/channels/{c['id']}"), 403, 50001)
    err(plain.delete(f"/channels/{c['id']}"), 403, 50013)
    err(alice.delete(f"/channels/{UNKNOWN_ID}"), 404, 10003)
    assert channel(alice, c["id"])["name"] == "doomed"

    since = gws["plain"].mark()
    body = ok(chanmgr.delete(f"/channels/{c['id']}", headers={"X-Audit-Log-Reason": "gone"}))
    assert body["id"] == c["id"] and body["name"] == "doomed" and body["type"] == 0
    ev = gws["plain"].wait_for("CHANNEL_DELETE", lambda d: d["id"] == c["id"], since)
    assert ev["id"] == c["id"] and ev["guild_id"] == guild["id"]
    entry = audit_entry(gws["alice"], since, 12, c["id"])
    assert entry["reason"] == "gone" and entry["user_id"] == chanmgr.user_id
    err(alice.get(f"/channels/{c['id']}"), 404, 10003)
    err(alice.get(f"/channels/{c['id']}/messages"), 404, 10003)
    err(alice.post(f"/channels/{c['id']}/messages", {"content": "x"}), 404, 10003)
    err(alice.get(f"/channels/{th['id']}"), 404, 10003)  # its threads went with it
    assert c["id"] not in visible_ids(alice, guild["id"])
    assert th["id"] not in {t["id"] for t in
                            ok(alice.get(f"/guilds/{guild['id']}/threads/active"))["threads"]}
    err(alice.delete(f"/channels/{c['id']}"), 404, 10003)


def test_delete_category_detaches_children(alice, guild, gws):
    cat = alice.create_channel(guild["id"], "Doomed Cat", 4)
    kid = alice.create_channel(guild["id"], "kid", parent_id=cat["id"])
    since = gws["alice"].mark()
    ok(alice.delete(f"/channels/{cat['id']}"))
    assert channel(alice, kid["id"])["parent_id"] is None
    ev = gws["alice"].wait_for("CHANNEL_UPDATE", lambda d: d["id"] == kid["id"], since)
    assert ev["parent_id"] is None


def test_delete_thread_needs_manage_threads(alice, plain, mod, guild, gws):
    c = alice.create_channel(guild["id"], "thread deletion")
    th = ok(plain.post(f"/channels/{c['id']}/threads", {"name": "mine", "type": 11}), 201)
    err(plain.delete(f"/channels/{th['id']}"), 403, 50013)  # owning it is not enough
    since = gws["alice"].mark()
    body = ok(mod.delete(f"/channels/{th['id']}"))
    assert body["id"] == th["id"] and body["type"] == 11
    ev = gws["alice"].wait_for("THREAD_DELETE", lambda d: d["id"] == th["id"], since)
    assert ev == {"id": th["id"], "guild_id": guild["id"], "parent_id": c["id"], "type": 11}
    audit_entry(gws["alice"], since, 112, th["id"])
    err(alice.get(f"/channels/{th['id']}"), 404, 10003)
    assert channel(alice, c["id"])["name"] == "thread-deletion"


# --------------------------------------------------------------------------- positions


def test_channel_positions(alice, bob, plain, chanmgr, guild, gws):
    gid = guild["id"]
    cat = alice.create_channel(gid, "Pos Cat", 4)
    a = alice.create_channel(gid, "pos a")
    b = alice.create_channel(gid, "pos b")
    since = gws["alice"].mark()
    ok(chanmgr.patch(f"/guilds/{gid}/channels",
                     [{"id": a["id"], "position": 90}, {"id": b["id"], "position": 80,
                                                        "parent_id": cat["id"]}]), 204)
    assert channel(alice, a["id"])["position"] == 90
    got = channel(alice, b["id"])
    assert got["position"] == 80 and got["parent_id"] == cat["id"]
    listed = [c["id"] for c in ok(alice.get(f"/guilds/{gid}/channels"))]
    assert listed.index(b["id"]) < listed.index(a["id"])
    gws["alice"].wait_for("CHANNEL_UPDATE", lambda d: d["id"] == b["id"] and
                          d["position"] == 80, since)
    ok(alice.patch(f"/guilds/{gid}/channels", [{"id": b["id"], "parent_id": None}]), 204)
    assert channel(alice, b["id"])["parent_id"] is None

    body = [{"id": a["id"], "position": 1}]
    err(bob.patch(f"/guilds/{gid}/channels", body), 403, 50001)
    err(plain.patch(f"/guilds/{gid}/channels", body), 403, 50013)
    err(alice.patch(f"/guilds/{UNKNOWN_ID}/channels", body), 404, 10004)
    form_err(alice.patch(f"/guilds/{gid}/channels", [{"id": a["id"], "position": 1},
                                                     {"id": UNKNOWN_ID, "position": 2}]),
             "1.id", "CHANNEL_INVALID")
    form_err(alice.patch(f"/guilds/{gid}/channels", [{"position": 2}]), "0.id",
             "BASE_TYPE_REQUIRED")
    form_err(alice.patch(f"/guilds/{gid}/channels", [{"id": a["id"], "position": "x"}]),
             "0.position")
    form_err(alice.patch(f"/guilds/{gid}/channels", [{"id": a["id"], "parent_id": b["id"]}]),
             "0.parent_id", "CHANNEL_PARENT_INVALID")
    form_err(alice.patch(f"/guilds/{gid}/channels", [{"id": cat["id"], "parent_id": cat["id"]}]),
             "0.parent_id")
    err(alice.patch(f"/guilds/{gid}/channels", {"id": a["id"]}), 400, 50109)
    assert channel(alice, a["id"])["position"] == 90  # the valid first item did not apply


# --------------------------------------------------------------------------- create


def test_create_with_overwrites(alice, chanmgr, viewer, plain, guild, gws):
    gid = guild["id"]
    sets = [ow(gid, 0, deny=P["VIEW_CHANNEL"]), ow(viewer.role_id, 0, allow=P["VIEW_CHANNEL"])]
    since = gws["alice"].mark()
    c = ok(alice.post(f"/guilds/{gid}/channels",
                      {"name": "secret", "permission_overwrites": sets}), 201)
    assert sorted(c["permission_overwrites"], key=lambda o: int(o["id"])) == \
        sorted(sets, key=lambda o: int(o["id"]))
    entry = audit_entry(gws["alice"], since, 10, c["id"])
    assert {ch["key"] for ch in entry["changes"]} >= {"name", "type", "permission_overwrites"}
    assert c["id"] in visible_ids(viewer, gid) and c["id"] not in visible_ids(plain, gid)

    before = visible_ids(alice, gid)
    err(Api(alice.server, new_user(alice.server, "outsider").token).post(
        f"/guilds/{gid}/channels", {"name": "x", "permission_overwrites": sets}), 403, 50001)
    err(alice.post(f"/guilds/{gid}/channels",
                   {"name": "x", "permission_overwrites": [ow(UNKNOWN_ID, 0)]}), 404, 10011)
    err(alice.post(f"/guilds/{gid}/channels",
                   {"name": "x", "permission_overwrites": [ow(UNKNOWN_ID, 1)]}), 404, 10007)
    form_err(alice.post(f"/guilds/{gid}/channels",
                        {"name": "x", "permission_overwrites": [ow(gid, 3)]}),
             "permission_overwrites.0.type")
    form_err(alice.post(f"/guilds/{gid}/channels", {"name": "x", "permission_overwrites": {}}),
             "permission_overwrites")
    # chanmgr holds VIEW_CHANNEL but not MANAGE_GUILD in the guild.
    err(chanmgr.post(f"/guilds/{gid}/channels",
                     {"name": "x", "permission_overwrites": [ow(gid, 0, deny=P["MANAGE_GUILD"])]}),
        403, 50013)
    assert visible_ids(alice, gid) == before
    ok(chanmgr.post(f"/guilds/{gid}/channels",
                    {"name": "ok", "permission_overwrites": [ow(gid, 0, deny=P["VIEW_CHANNEL"])]}),
       201)


def test_max_500_channels(server):
    owner = new_user(server, "many")
    g = owner.create_guild("Many Channels")
    gid = g["id"]

    def make(i):
        return owner.post(f"/guilds/{gid}/channels", {"name": f"c{i}"}).status_code

    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(make, range(499)))  # plus "general": 500
    assert codes == [201] * 499
    err(owner.post(f"/guilds/{gid}/channels", {"name": "one too many"}), 400, 30013)
    assert len(ok(owner.get(f"/guilds/{gid}/channels"))) == 500
    # Threads do not count; a deleted channel frees its place.
    ok(owner.post(f"/channels/{g['system_channel_id']}/threads", {"name": "t"}), 201)
    some = ok(owner.get(f"/guilds/{gid}/channels"))[-1]
    ok(owner.delete(f"/channels/{some['id']}"))
    ok(owner.post(f"/guilds/{gid}/channels", {"name": "fits again"}), 201)


# --------------------------------------------------------------------------- overwrites


def test_put_delete_overwrite(alice, plain, rolemgr, viewer, guild, gws):
    c = alice.create_channel(guild["id"], "single overwrites")
    path = f"/channels/{c['id']}/permissions/{plain.user_id}"
    since = gws["alice"].mark()
    ok(rolemgr.put(path, {"type": 1, "allow": str(P["SEND_MESSAGES"]),
                          "deny": str(P["READ_MESSAGE_HISTORY"])},
                   headers={"X-Audit-Log-Reason": "why"}), 204)
    want = ow(plain.user_id, 1, allow=P["SEND_MESSAGES"], deny=P["READ_MESSAGE_HISTORY"])
    assert overwrites(alice, c["id"]) == [want]
    ev = gws["alice"].wait_for("CHANNEL_UPDATE", lambda d: d["id"] == c["id"], since)
    assert ev["permission_overwrites"] == [want]
    entry = audit_entry(gws["alice"], since, 13, c["id"])
    assert entry["options"] == {"id": plain.user_id, "type": "1"} and entry["reason"] == "why"
    # plain lost READ_MESSAGE_HISTORY here at once: history answers [].
    alice.send(c["id"], "hidden history")
    assert ok(plain.get(f"/channels/{c['id']}/messages")) == []

    since = gws["alice"].mark()
    ok(rolemgr.put(path, {"type": 1, "allow": P["SEND_MESSAGES"]}), 204)  # integers accepted
    assert overwrites(alice, c["id"]) == [ow(plain.user_id, 1, allow=P["SEND_MESSAGES"])]
    entry = audit_entry(gws["alice"], since, 14, c["id"])
    assert entry["changes"] == [{"key": "deny", "old_value": str(P["READ_MESSAGE_HISTORY"]),
                                 "new_value": "0"}]
    assert len(ok(plain.get(f"/channels/{c['id']}/messages"))) == 1

    role_path = f"/channels/{c['id']}/permissions/{viewer.role_id}"
    ok(alice.put(role_path, {"type": 0, "deny": str(P["SEND_MESSAGES"])}), 204)
    entry = audit_entry(gws["alice"], since, 13, c["id"])
    since = gws["alice"].mark()
    ok(rolemgr.delete(path), 204)
    assert overwrites(alice, c["id"]) == [ow(viewer.role_id, 0, deny=P["SEND_MESSAGES"])]
    audit_entry(gws["alice"], since, 15, c["id"])
    gws["alice"].wait_for("CHANNEL_UPDATE", lambda d: d["id"] == c["id"], since)
    err(alice.delete(path), 404, 10009)


def test_overwrite_errors_change_nothing(alice, bob, plain, chanmgr, rolemgr, guild):
    gid = guild["id"]
    c = alice.create_channel(guild["id"], "overwrite errors")
    ok(alice.put(f"/channels/{c['id']}/permissions/{gid}",
                 {"type": 0, "deny": str(P["MANAGE_GUILD"])}), 204)
    before = overwrites(alice, c["id"])
    path = f"/channels/{c['id']}/permissions/{plain.user_id}"
    body = {"type": 1, "allow": str(P["SEND_MESSAGES"])}
    err(bob.put(path, body), 403, 50001)
    err(plain.put(path, body), 403, 50013)
    err(chanmgr.put(path, body), 403, 50013)  # MANAGE_CHANNELS is not MANAGE_ROLES
    err(bob.delete(f"/channels/{c['id']}/permissions/{gid}"), 403, 50001)
    err(plain.delete(f"/channels/{c['id']}/permissions/{gid}"), 403, 50013)
    err(alice.put(f"/channels/{UNKNOWN_ID}/permissions/{plain.user_id}", body), 404, 10003)
    err(alice.put(f"/channels/{c['id']}/permissions/{UNKNOWN_ID}", {"type": 0}), 404, 10011)
    err(alice.put(f"/channels/{c['id']}/permissions/{bob.user_id}", {"type": 1}), 404, 10007)
    form_err(alice.put(path, {"allow": "0"}), "type", "BASE_TYPE_REQUIRED")
    form_err(alice.put(path, {"type": 2}), "type")
    form_err(alice.put(path, {"type": 1, "allow": "12x"}), "allow", "PERMISSIONS_INVALID")
    form_err(alice.put(path, {"type": 1, "deny": str(1 << 60)}), "deny", "PERMISSIONS_INVALID")
    form_err(alice.put(f"/channels/{c['id']}/permissions/abc", {"type": 1}), "overwrite_id")
    err(alice.put(path, data=b"nope"), 400, 50109)
    # rolemgr lacks MANAGE_GUILD: it may neither grant it nor lift alice's deny of it.
    err(rolemgr.put(path, {"type": 1, "allow": str(P["MANAGE_GUILD"])}), 403, 50013)
    err(rolemgr.put(f"/channels/{c['id']}/permissions/{gid}", {"type": 0}), 403, 50013)
    err(rolemgr.delete(f"/channels/{c['id']}/permissions/{gid}"), 403, 50013)
    # Threads take their parent's overwrites and have none of their own.
    th = ok(alice.post(f"/channels/{c['id']}/threads", {"name": "t", "type": 11}), 201)
    err(alice.put(f"/channels/{th['id']}/permissions/{plain.user_id}", body), 400, 50024)
    assert overwrites(alice, c["id"]) == before


def test_overwrite_layers(alice, plain, viewer, guild, general):
    """@everyone deny < role allow < member deny, in every endpoint, at once."""
    gid = guild["id"]
    c = alice.create_channel(gid, "layers")
    m = alice.send(c["id"], "layered")

    def sees(api: Api) -> bool:
        listed = c["id"] in visible_ids(api, gid)
        r = api.get(f"/channels/{c['id']}")
        h = api.get(f"/channels/{c['id']}/messages/{m['id']}")
        if listed:
            ok(r)
            assert ok(h)["id"] == m["id"]
        else:
            err(r, 403, 50001)
            err(h, 403, 50001)
            err(api.post(f"/channels/{c['id']}/messages", {"content": "x"}), 403, 50001)
        return listed

    assert sees(plain) and sees(viewer)
    ok(alice.put(f"/channels/{c['id']}/permissions/{gid}",
                 {"type": 0, "deny": str(P["VIEW_CHANNEL"])}), 204)
    assert not sees(plain) and not sees(viewer)
    ok(alice.put(f"/channels/{c['id']}/permissions/{viewer.role_id}",
                 {"type": 0, "allow": str(P["VIEW_CHANNEL"])}), 204)
    assert not sees(plain) and sees(viewer)
    ok(alice.put(f"/channels/{c['id']}/permissions/{viewer.user_id}",
                 {"type": 1, "deny": str(P["VIEW_CHANNEL"])}), 204)
    assert not sees(viewer)
    ok(alice.delete(f"/channels/{c['id']}/permissions/{viewer.user_id}"), 204)
    assert sees(viewer)
    # A member allow beats the @everyone deny too.
    ok(alice.put(f"/channels/{c['id']}/permissions/{plain.user_id}",
                 {"type": 1, "allow": str(P["VIEW_CHANNEL"])}), 204)
    assert sees(plain)
    assert alice.send(c["id"], "owner always sees")


# --------------------------------------------------------------------------- gateway


def test_gateway_follows_overwrites_at_once(alice, viewer, plain, guild, general, gws):
    gid = guild["id"]
    c = alice.create_channel(gid, "gateway view")
    vgw, pgw = gws["viewer"], gws["plain"]

    since = vgw.mark()
    m1 = alice.send(c["id"], "one")
    vgw.wait_for("MESSAGE_CREATE", lambda d: d["id"] == m1["id"], since)

    ok(alice.put(f"/channels/{c['id']}/permissions/{viewer.user_id}",
                 {"type": 1, "deny": str(P["VIEW_CHANNEL"])}), 204)
    since = vgw.mark()
    m2 = alice.send(c["id"], "two")
    sentinel(alice, general, vgw, pgw)
    assert vgw.find("MESSAGE_CREATE", lambda d: d["id"] == m2["id"], since) == []
    assert pgw.find("MESSAGE_CREATE", lambda d: d["id"] == m2["id"]) != []

    ok(alice.delete(f"/channels/{c['id']}/permissions/{viewer.user_id}"), 204)
    since = vgw.mark()
    m3 = alice.send(c["id"], "three")
    vgw.wait_for("MESSAGE_CREATE", lambda d: d["id"] == m3["id"], since)


def test_channel_delete_reaches_only_those_who_saw_it(alice, viewer, guild, general, gws):
    c = alice.create_channel(guild["id"], "quiet delete")
    ok(alice.put(f"/channels/{c['id']}/permissions/{viewer.user_id}",
                 {"type": 1, "deny": str(P["VIEW_CHANNEL"])}), 204)
    vsince, psince = gws["viewer"].mark(), gws["plain"].mark()
    ok(alice.delete(f"/channels/{c['id']}"))
    gws["plain"].wait_for("CHANNEL_DELETE", lambda d: d["id"] == c["id"], psince)
    sentinel(alice, general, gws["viewer"])
    assert gws["viewer"].find("CHANNEL_DELETE", lambda d: d["id"] == c["id"], vsince) == []


# --------------------------------------------------------------------------- threads


THREAD_KEYS = {"id", "type", "guild_id", "name", "parent_id", "owner_id", "rate_limit_per_user",
               "last_message_id", "flags", "message_count", "total_message_sent", "member_count",
               "thread_metadata"}


def check_thread(t: dict, *, type_: int, parent: str, owner: str, name: str) -> None:
    assert THREAD_KEYS <= set(t), t
    assert_snowflake(t["id"])
    assert (t["type"], t["parent_id"], t["owner_id"], t["name"]) == (type_, parent, owner, name)
    meta = t["thread_metadata"]
    assert isinstance(meta["archived"], bool) and isinstance(meta["locked"], bool)
    assert meta["auto_archive_duration"] in (60, 1440, 4320, 10080)
    parse_ts(meta["archive_timestamp"])
    parse_ts(meta["create_timestamp"])
    assert ("invitable" in meta) == (type_ == 12)


def test_thread_from_message(alice, bob, plain, guild, gws):
    gid = guild["id"]
    c = alice.create_channel(gid, "thread starts")
    m = plain.send(c["id"], "start here")
    since = gws["alice"].mark()
    t = ok(plain.post(f"/channels/{c['id']}/messages/{m['id']}/threads",
                      {"name": "From Message", "auto_archive_duration": 60,
                       "rate_limit_per_user": 5}), 201)
    check_thread(t, type_=11, parent=c["id"], owner=plain.user_id, name="From Message")
    assert t["id"] == m["id"]  # as on Discord
    assert t["thread_metadata"]["auto_archive_duration"] == 60
    assert t["rate_limit_per_user"] == 5 and t["member_count"] == 1 and t["message_count"] == 0
    ev = gws["alice"].wait_for("THREAD_CREATE", lambda d: d["id"] == t["id"], since)
    assert ev == dict(t, newly_created=True)
    gws["plain"].wait_for("THREAD_MEMBER_UPDATE", lambda d: d["id"] == t["id"])
    audit_entry(gws["alice"], since, 110, t["id"])
    assert ok(alice.get(f"/channels/{c['id']}/messages/{m['id']}"))["flags"] & 32  # HAS_THREAD
    assert [x["user_id"] for x in ok(alice.get(f"/channels/{t['id']}/thread-members"))] == \
        [plain.user_id]

    path = f"/channels/{c['id']}/messages/{m['id']}/threads"
    err(alice.post(path, {"name": "again"}), 400, 160004)
    err(bob.post(path, {"name": "x"}), 403, 50001)
    err(alice.post(f"/channels/{UNKNOWN_ID}/messages/{m['id']}/threads", {"name": "x"}), 404,
        10003)
    m2 = alice.send(c["id"], "second")
    err(alice.post(f"/channels/{c['id']}/messages/{UNKNOWN_ID}/threads", {"name": "x"}), 404,
        10008)
    p2 = f"/channels/{c['id']}/messages/{m2['id']}/threads"
    form_err(alice.post(p2, {}), "name", "BASE_TYPE_REQUIRED")
    form_err(alice.post(p2, {"name": ""}), "name", "BASE_TYPE_BAD_LENGTH")
    form_err(alice.post(p2, {"name": "x" * 101}), "name", "BASE_TYPE_BAD_LENGTH")
    form_err(alice.post(p2, {"name": "x", "auto_archive_duration": 61}), "auto_archive_duration")
    form_err(alice.post(p2, {"name": "x", "rate_limit_per_user": 21601}), "rate_limit_per_user")
    ok(alice.put(f"/channels/{c['id']}/permissions/{plain.user_id}",
                 {"type": 1, "deny": str(P["CREATE_PUBLIC_THREADS"])}), 204)
    err(plain.post(p2, {"name": "x"}), 403, 50013)
    err(alice.get(f"/channels/{m2['id']}"), 404, 10003)  # none of those made a thread
    # A thread in a thread, or in a voice channel, is not a thing.
    tm = alice.send(t["id"], "in thread")
    err(alice.post(f"/channels/{t['id']}/messages/{tm['id']}/threads", {"name": "x"}), 400, 50024)
    voice = alice.create_channel(gid, "thread voice", 2)
    err(alice.post(f"/channels/{voice['id']}/threads", {"name": "x"}), 400, 50024)


def test_thread_create_types(alice, plain, bob, guild):
    c = alice.create_channel(guild["id"], "thread types")
    t = ok(plain.post(f"/channels/{c['id']}/threads", {"name": "default"}), 201)
    check_thread(t, type_=12, parent=c["id"], owner=plain.user_id, name="default")
    assert t["thread_metadata"]["invitable"] is True
    t = ok(plain.post(f"/channels/{c['id']}/threads",
                      {"name": "closed", "type": 12, "invitable": False}), 201)
    assert t["thread_metadata"]["invitable"] is False
    t = ok(plain.post(f"/channels/{c['id']}/threads", {"name": "open", "type": 11}), 201)
    check_thread(t, type_=11, parent=c["id"], owner=plain.user_id, name="open")
    err(bob.post(f"/channels/{c['id']}/threads", {"name": "x"}), 403, 50001)
    err(plain.post(f"/channels/{UNKNOWN_ID}/threads", {"name": "x"}), 404, 10003)
    form_err(plain.post(f"/channels/{c['id']}/threads", {}), "name", "BASE_TYPE_REQUIRED")
    form_err(plain.post(f"/channels/{c['id']}/threads", {"name": "x", "type": 10}), "type")
    form_err(plain.post(f"/channels/{c['id']}/threads", {"name": "x", "invitable": 1}),
             "invitable")
    form_err(plain.post(f"/channels/{c['id']}/threads", {"name": "x", "type": "11"}), "type")
    ok(alice.put(f"/channels/{c['id']}/permissions/{plain.user_id}",
                 {"type": 1, "deny": str(P["CREATE_PRIVATE_THREADS"])}), 204)
    before = ok(alice.get(f"/guilds/{guild['id']}/threads/active"))["threads"]
    err(plain.post(f"/channels/{c['id']}/threads", {"name": "x", "type": 12}), 403, 50013)
    ok(plain.post(f"/channels/{c['id']}/threads", {"name": "still public", "type": 11}), 201)
    after = ok(alice.get(f"/guilds/{guild['id']}/threads/active"))["threads"]
    assert len(after) == len(before) + 1


def test_private_thread_visibility_and_members(alice, plain, viewer, mod, bob, guild, general,
                                               gws):
    gid = guild["id"]
    c = alice.create_channel(gid, "private threads")
    psince, msince = gws["plain"].mark(), gws["mod"].mark()
    t = ok(alice.post(f"/channels/{c['id']}/threads",
                      {"name": "secret", "type": 12, "invitable": False}), 201)
    inside = alice.send(t["id"], "members only")
    # At the gateway too: a moderator hears of it, a non-member does not.
    gws["mod"].wait_for("THREAD_CREATE", lambda d: d["id"] == t["id"], msince)
    gws["mod"].wait_for("MESSAGE_CREATE", lambda d: d["id"] == inside["id"], msince)
    sentinel(alice, general, gws["plain"])
    assert gws["plain"].find("THREAD_CREATE", lambda d: d["id"] == t["id"], psince) == []
    assert gws["plain"].find("MESSAGE_CREATE", lambda d: d["id"] == inside["id"], psince) == []
    active = lambda api: {x["id"] for x in  # noqa: E731
                          ok(api.get(f"/guilds/{gid}/threads/active"))["threads"]}
    err(plain.get(f"/channels/{t['id']}"), 403, 50001)
    err(plain.post(f"/channels/{t['id']}/messages", {"content": "x"}), 403, 50001)
    err(plain.put(f"/channels/{t['id']}/thread-members/@me"), 403, 50001)
    assert t["id"] not in active(plain)
    assert t["id"] in active(mod)  # MANAGE_THREADS sees every private thread
    ok(mod.get(f"/channels/{t['id']}"))

    # The owner adds plain: plain sees it at once, and hears of it.
    psince, asince = gws["plain"].mark(), gws["alice"].mark()
    ok(alice.put(f"/channels/{t['id']}/thread-members/{plain.user_id}"), 204)
    ev = gws["alice"].wait_for("THREAD_MEMBERS_UPDATE", lambda d: d["id"] == t["id"], asince)
    assert ev["guild_id"] == gid and ev["member_count"] == 2
    assert [a["user_id"] for a in ev["added_members"]] == [plain.user_id]
    assert ev["added_members"][0]["member"]["user"]["id"] == plain.user_id
    gws["plain"].wait_for("THREAD_MEMBERS_UPDATE", lambda d: d["id"] == t["id"], psince)
    mine = gws["plain"].wait_for("THREAD_MEMBER_UPDATE", lambda d: d["id"] == t["id"], psince)
    assert mine["user_id"] == plain.user_id and mine["guild_id"] == gid
    assert ok(plain.get(f"/channels/{t['id']}"))["member_count"] == 2
    assert t["id"] in active(plain)
    plain.send(t["id"], "hello from inside")

    # Not invitable: a member without MANAGE_THREADS may not add others; a moderator may.
    err(plain.put(f"/channels/{t['id']}/thread-members/{viewer.user_id}"), 403, 50013)
    err(viewer.get(f"/channels/{t['id']}"), 403, 50001)
    ok(mod.put(f"/channels/{t['id']}/thread-members/{viewer.user_id}"), 204)
    ok(viewer.get(f"/channels/{t['id']}"))
    # Removing others: owner or MANAGE_THREADS.
    err(plain.delete(f"/channels/{t['id']}/thread-members/{viewer.user_id}"), 403, 50013)
    asince = gws["alice"].mark()
    ok(alice.delete(f"/channels/{t['id']}/thread-members/{viewer.user_id}"), 204)
    ev = gws["alice"].wait_for("THREAD_MEMBERS_UPDATE",
                               lambda d: d["id"] == t["id"] and "removed_member_ids" in d, asince)
    assert ev["removed_member_ids"] == [viewer.user_id] and ev["member_count"] == 2
    err(viewer.get(f"/channels/{t['id']}"), 403, 50001)
    err(alice.delete(f"/channels/{t['id']}/thread-members/{viewer.user_id}"), 404, 10007)
    # plain leaves and loses sight of it.
    ok(plain.delete(f"/channels/{t['id']}/thread-members/@me"), 204)
    err(plain.get(f"/channels/{t['id']}"), 403, 50001)
    assert t["id"] not in active(plain)
    err(alice.put(f"/channels/{t['id']}/thread-members/{bob.user_id}"), 404, 10007)
    err(alice.put(f"/channels/{t['id']}/thread-members/{UNKNOWN_ID}"), 404, 10007)
    assert [x["user_id"] for x in ok(alice.get(f"/channels/{t['id']}/thread-members"))] == \
        [alice.user_id]


def test_thread_member_endpoints(alice, plain, viewer, bob, guild):
    c = alice.create_channel(guild["id"], "public members")
    t = ok(alice.post(f"/channels/{c['id']}/threads", {"name": "pub", "type": 11}), 201)
    base = f"/channels/{t['id']}/thread-members"
    ok(plain.put(f"{base}/@me"), 204)
    ok(plain.put(f"{base}/@me"), 204)  # idempotent
    one = ok(alice.get(f"{base}/{plain.user_id}"))
    assert set(one) == {"id", "user_id", "join_timestamp", "flags"}
    assert one["id"] == t["id"] and one["user_id"] == plain.user_id and one["flags"] == 0
    parse_ts(one["join_timestamp"])
    with_member = ok(alice.get(f"{base}/{plain.user_id}", params={"with_member": "true"}))
    assert with_member["member"]["user"]["id"] == plain.user_id
    # Public thread: anyone who may post in it may add others.
    ok(plain.put(f"{base}/{viewer.user_id}"), 204)
    listed = ok(alice.get(base))
    assert sorted(x["user_id"] for x in listed) == sorted([alice.user_id, plain.user_id,
                                                          viewer.user_id])
    page = ok(alice.get(base, params={"limit": 1, "after": min(x["user_id"] for x in listed)}))
    assert len(page) == 1
    err(alice.get(f"{base}/{bob.user_id}"), 404, 10007)
    err(bob.get(base), 403, 50001)
    err(bob.put(f"{base}/@me"), 403, 50001)
    err(alice.get(f"/channels/{UNKNOWN_ID}/thread-members"), 404, 10003)
    err(alice.get(f"/channels/{c['id']}/thread-members"), 400, 50024)
    err(alice.put(f"/channels/{c['id']}/thread-members/@me"), 400, 50024)
    form_err(alice.get(base, params={"limit": 0}), "limit")
    form_err(alice.put(f"{base}/nobody"), "user_id")
    ok(plain.delete(f"{base}/@me"), 204)
    ok(plain.delete(f"{base}/@me"), 204)  # leaving twice is not an error
    err(alice.get(f"{base}/{plain.user_id}"), 404, 10007)
    # Without SEND_MESSAGES_IN_THREADS one may not add others.
    ok(alice.put(f"/channels/{c['id']}/permissions/{plain.user_id}",
                 {"type": 1, "deny": str(P["SEND_MESSAGES_IN_THREADS"])}), 204)
    err(plain.put(f"{base}/{alice.user_id}"), 403, 50013)
    ok(plain.put(f"{base}/@me"), 204)  # joining oneself needs only access
    # Archived: no joins or leaves.
    ok(alice.patch(f"/channels/{t['id']}", {"archived": True}))
    err(viewer.delete(f"{base}/@me"), 400, 50083)
    err(alice.put(f"{base}/{plain.user_id}"), 400, 50083)


def test_send_messages_in_threads_governs_posting(alice, plain, guild):
    c = alice.create_channel(guild["id"], "thread posting")
    t = ok(alice.post(f"/channels/{c['id']}/threads", {"name": "posts", "type": 11}), 201)
    ok(alice.put(f"/channels/{c['id']}/permissions/{plain.user_id}",
                 {"type": 1, "deny": str(P["SEND_MESSAGES_IN_THREADS"])}), 204)
    plain.send(c["id"], "parent is fine")
    err(plain.post(f"/channels/{t['id']}/messages", {"content": "no"}), 403, 50013)
    ok(alice.put(f"/channels/{c['id']}/permissions/{plain.user_id}",
                 {"type": 1, "deny": str(P["SEND_MESSAGES"]),
                  "allow": str(P["SEND_MESSAGES_IN_THREADS"])}), 204)
    err(plain.post(f"/channels/{c['id']}/messages", {"content": "no"}), 403, 50013)
    plain.send(t["id"], "thread is fine")
    assert [m["content"] for m in alice.history(t["id"])] == ["thread is fine"]
    assert ok(alice.get(f"/channels/{t['id']}"))["message_count"] == 1


def test_archive_and_lock(alice, plain, viewer, mod, guild, gws):
    c = alice.create_channel(guild["id"], "archive lock")
    t = ok(plain.post(f"/channels/{c['id']}/threads", {"name": "lifecycle", "type": 11}), 201)
    path = f"/channels/{t['id']}"
    plain.send(t["id"], "one")
    # The owner archives; the thread leaves the active list for the archived one.
    since = gws["alice"].mark()
    body = ok(plain.patch(path, {"archived": True}))
    assert body["thread_metadata"]["archived"] is True
    ev = gws["alice"].wait_for("THREAD_UPDATE", lambda d: d["id"] == t["id"], since)
    assert ev["thread_metadata"]["archived"] is True
    audit_entry(gws["alice"], since, 111, t["id"])
    active = ok(alice.get(f"/guilds/{guild['id']}/threads/active"))["threads"]
    assert t["id"] not in {x["id"] for x in active}
    archived = ok(alice.get(f"/channels/{c['id']}/threads/archived/public"))
    assert [x["id"] for x in archived["threads"]] == [t["id"]] and archived["has_more"] is False
    # An archived thread is edited only by unarchiving it.
    err(plain.patch(path, {"name": "renamed"}), 400, 50083)
    # A post from someone who may send brings it back.
    since = gws["alice"].mark()
    viewer.send(t["id"], "wake up")
    ev = gws["alice"].wait_for("THREAD_UPDATE", lambda d: d["id"] == t["id"], since)
    assert ev["thread_metadata"]["archived"] is False
    got = ok(alice.get(path))
    assert got["thread_metadata"]["archived"] is False and got["message_count"] == 2

    # Locking is for moderators; a locked thread takes posts from moderators only.
    err(plain.patch(path, {"locked": True}), 403, 50013)
    ok(mod.patch(path, {"locked": True}))
    err(plain.post(f"/channels/{t['id']}/messages", {"content": "x"}), 403, 160005)
    mod.send(t["id"], "mods may")
    ok(mod.patch(path, {"archived": True}))
    err(plain.patch(path, {"archived": False}), 403, 160005)
    err(viewer.post(f"/channels/{t['id']}/messages", {"content": "x"}), 403, 160005)
    meta = ok(alice.get(path))["thread_metadata"]
    assert (meta["archived"], meta["locked"]) == (True, True)
    ok(mod.patch(path, {"archived": False, "locked": False}))
    plain.send(t["id"], "open again")
    assert ok(alice.get(path))["message_count"] == 4

    # Unarchiving an unlocked thread: anyone who may post in it.
    ok(plain.patch(path, {"archived": True}))
    ok(viewer.patch(path, {"archived": False}))


def test_thread_edit_permissions(alice, plain, viewer, mod, guild):
    c = alice.create_channel(guild["id"], "thread edits")
    t = ok(plain.post(f"/channels/{c['id']}/threads", {"name": "edit me", "type": 12}), 201)
    path = f"/channels/{t['id']}"
    ok(plain.put(f"{path}/thread-members/{viewer.user_id}"), 204)
    body = ok(plain.patch(path, {"name": "Owner Rename", "auto_archive_duration": 1440}))
    assert body["name"] == "Owner Rename"  # thread names are not folded
    assert body["thread_metadata"]["auto_archive_duration"] == 1440
    err(viewer.patch(path, {"name": "not mine"}), 403, 50013)
    err(viewer.patch(path, {"archived": True}), 403, 50013)
    err(plain.patch(path, {"rate_limit_per_user": 10}), 403, 50013)
    err(plain.patch(path, {"invitable": False}), 403, 50013)
    form_err(plain.patch(path, {"auto_archive_duration": 100}), "auto_archive_duration")
    form_err(plain.patch(path, {"name": ""}), "name")
    assert ok(alice.get(path)) == body
    body = ok(mod.patch(path, {"rate_limit_per_user": 10, "invitable": False, "topic": "no"}))
    assert body["rate_limit_per_user"] == 10 and body["thread_metadata"]["invitable"] is False
    assert "topic" not in body


def test_archived_listings(alice, plain, mod, bob, guild):
    c = alice.create_channel(guild["id"], "archive lists")
    ids = []
    for i in range(3):
        t = ok(alice.post(f"/channels/{c['id']}/threads", {"name": f"p{i}", "type": 11}), 201)
        ok(alice.patch(f"/channels/{t['id']}", {"archived": True}))
        ids.append(t["id"])
    priv = ok(alice.post(f"/channels/{c['id']}/threads", {"name": "priv", "type": 12}), 201)
    ok(alice.put(f"/channels/{priv['id']}/thread-members/{plain.user_id}"), 204)
    ok(alice.patch(f"/channels/{priv['id']}", {"archived": True}))

    base = f"/channels/{c['id']}/threads/archived"
    got = ok(plain.get(f"{base}/public"))
    assert [t["id"] for t in got["threads"]] == ids[::-1] and got["has_more"] is False
    assert got["members"] == []
    first = ok(plain.get(f"{base}/public", params={"limit": 2}))
    assert [t["id"] for t in first["threads"]] == ids[:0:-1] and first["has_more"] is True
    before = first["threads"][-1]["thread_metadata"]["archive_timestamp"]
    rest = ok(plain.get(f"{base}/public", params={"before": before}))
    assert [t["id"] for t in rest["threads"]] == ids[:1] and rest["has_more"] is False
    all_alice = ok(alice.get(f"{base}/public"))
    assert len(all_alice["members"]) == 3  # alice joined each thread she made

    err(plain.get(f"{base}/private"), 403, 50013)  # needs MANAGE_THREADS
    got = ok(mod.get(f"{base}/private"))
    assert [t["id"] for t in got["threads"]] == [priv["id"]] and got["members"] == []
    joined = ok(plain.get(f"/channels/{c['id']}/users/@me/threads/archived/private"))
    assert [t["id"] for t in joined["threads"]] == [priv["id"]]
    assert [m["user_id"] for m in joined["members"]] == [plain.user_id]
    assert ok(mod.get(f"/channels/{c['id']}/users/@me/threads/archived/private"))["threads"] == []
    err(bob.get(f"/channels/{c['id']}/users/@me/threads/archived/private"), 403, 50001)
    form_err(plain.get(f"/channels/{c['id']}/users/@me/threads/archived/private",
                       params={"before": "2026-01-01T00:00:00+00:00"}), "before")

    err(bob.get(f"{base}/public"), 403, 50001)
    err(alice.get(f"/channels/{UNKNOWN_ID}/threads/archived/public"), 404, 10003)
    form_err(alice.get(f"{base}/public", params={"before": "yesterday"}), "before")
    form_err(alice.get(f"{base}/public", params={"limit": 101}), "limit")
    ok(alice.put(f"/channels/{c['id']}/permissions/{plain.user_id}",
                 {"type": 1, "deny": str(P["READ_MESSAGE_HISTORY"])}), 204)
    err(plain.get(f"{base}/public"), 403, 50013)


def test_active_threads(alice, plain, bob, guild):
    gid = guild["id"]
    c = alice.create_channel(gid, "active threads")
    pub = ok(alice.post(f"/channels/{c['id']}/threads", {"name": "a", "type": 11}), 201)
    got = ok(plain.get(f"/guilds/{gid}/threads/active"))
    assert set(got) == {"threads", "members"}
    mine = {t["id"]: t for t in got["threads"]}
    assert mine[pub["id"]] == ok(alice.get(f"/channels/{pub['id']}"))
    assert pub["id"] not in {m["id"] for m in got["members"]}
    ok(plain.put(f"/channels/{pub['id']}/thread-members/@me"), 204)
    got = ok(plain.get(f"/guilds/{gid}/threads/active"))
    assert pub["id"] in {m["id"] for m in got["members"]}
    # Hiding the parent hides its threads.
    ok(alice.put(f"/channels/{c['id']}/permissions/{plain.user_id}",
                 {"type": 1, "deny": str(P["VIEW_CHANNEL"])}), 204)
    assert pub["id"] not in {t["id"] for t in
                             ok(plain.get(f"/guilds/{gid}/threads/active"))["threads"]}
    err(plain.get(f"/channels/{pub['id']}"), 403, 50001)
    err(bob.get(f"/guilds/{gid}/threads/active"), 403, 50001)
    err(alice.get(f"/guilds/{UNKNOWN_ID}/threads/active"), 404, 10004)


def test_guild_create_lists_visible_threads(alice, plain, guild):
    c = alice.create_channel(guild["id"], "guild create threads")
    pub = ok(alice.post(f"/channels/{c['id']}/threads", {"name": "seen", "type": 11}), 201)
    priv = ok(alice.post(f"/channels/{c['id']}/threads", {"name": "unseen", "type": 12}), 201)
    gw = Gateway(plain)
    try:
        gc = gw.wait_for("GUILD_CREATE", lambda d: d["id"] == guild["id"])
        ids = {t["id"] for t in gc["threads"]}
        assert pub["id"] in ids and priv["id"] not in ids
    finally:
        gw.close()


# --------------------------------------------------------------------------- slowmode


def test_slowmode(alice, plain, mod, chanmgr, guild):
    gid = guild["id"]
    bypass = make_bot(alice, gid, "Fast Bot", P["BYPASS_SLOWMODE"])
    c = alice.create_channel(gid, "slow", rate_limit_per_user=60)
    plain.send(c["id"], "first")
    body = err(plain.post(f"/channels/{c['id']}/messages", {"content": "second"}), 429, 20016)
    assert 0 < body["retry_after"] <= 60
    assert [m["content"] for m in alice.history(c["id"])] == ["first"]
    for api in (alice, mod, chanmgr, bypass):  # owner, MANAGE_MESSAGES, MANAGE_CHANNELS, bit 52
        api.send(c["id"], "exempt 1")
        api.send(c["id"], "exempt 2")

    # The window passes.
    fast = alice.create_channel(gid, "brief slowmode", rate_limit_per_user=1)
    plain.send(fast["id"], "a")
    err(plain.post(f"/channels/{fast['id']}/messages", {"content": "b"}), 429, 20016)
    time.sleep(1.1)
    plain.send(fast["id"], "c")

    # Threads have their own slowmode, and MANAGE_THREADS bypasses it there.
    t = ok(alice.post(f"/channels/{fast['id']}/threads", {"name": "slow thread", "type": 11}),
           201)
    ok(alice.patch(f"/channels/{t['id']}", {"rate_limit_per_user": 60}))
    plain.send(t["id"], "t1")
    err(plain.post(f"/channels/{t['id']}/messages", {"content": "t2"}), 429, 20016)
    assert ok(alice.get(f"/channels/{t['id']}"))["message_count"] == 1
    mod.send(t["id"], "m1")
    mod.send(t["id"], "m2")


def test_hidden_channels_can_be_neither_moved_nor_used_as_parents(alice, chanmgr, guild):
    """MANAGE_CHANNELS does not reach channels one cannot see: moving one, or naming a hidden
    category as a parent, answers as for a channel that does not exist."""
    g = guild["id"]
    hidden = alice.create_channel(g, "hidden-room")["id"]
    category = alice.create_channel(g, "Hidden Cat", 4)["id"]
    for ch in (hidden, category):
        ok(alice.put(f"/channels/{ch}/permissions/{chanmgr.user_id}",
                     ow(chanmgr.user_id, 1, deny=P["VIEW_CHANNEL"])), 204)
    before = channel(alice, hidden)
    r = chanmgr.patch(f"/guilds/{g}/channels", [{"id": hidden, "position": 42}])
    form_err(r, "0.id", "CHANNEL_INVALID")
    assert channel(alice, hidden) == before
    r = chanmgr.post(f"/guilds/{g}/channels", {"name": "under-hidden", "parent_id": category})
    form_err(r, "parent_id", "CHANNEL_PARENT_INVALID")
    assert "under-hidden" not in {c["name"] for c in ok(alice.get(f"/guilds/{g}/channels"))}
    # The owner, who sees both, may.
    ok(alice.patch(f"/guilds/{g}/channels", [{"id": hidden, "position": 42}]), 204)
    assert channel(alice, hidden)["position"] == 42
