"""DMs and group DMs (spec/rest-invites.md "DMs"), black-box against a real hearthd.

Opening a DM (one per pair, only with someone one shares a guild or a DM with), listing
them, closing one for oneself, group DMs (up to 10 recipients, the owner's rights, leaving),
and privacy: nobody outside a DM reads, posts, lists or reacts in it (403 50001). The
gateway part checks that DM events reach the recipients and nobody else.
"""

from __future__ import annotations

import asyncio

import pytest

from gateway_client import DispatchRecorder as Gateway
from harness import Api, assert_snowflake, err, form_err, new_user, ok

UNKNOWN_ID = "999999999999999999"
DM_KEYS = {"id", "type", "flags", "last_message_id", "recipients"}
GROUP_KEYS = DM_KEYS | {"name", "icon", "owner_id"}


# --------------------------------------------------------------------------- gateway


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def alice(server):
    """Owner of `guild`."""
    return new_user(server, "alice", global_name="Alice")


@pytest.fixture(scope="module")
def guild(alice):
    return alice.create_guild("DM Guild")


@pytest.fixture(scope="module")
def general(guild):
    return guild["system_channel_id"]


def join(alice: Api, general: str, user: Api) -> Api:
    code = ok(alice.post(f"/channels/{general}/invites", {"max_age": 0}))["code"]
    ok(user.post(f"/invites/{code}"))
    return user


def member(server, alice, general, prefix: str) -> Api:
    """A fresh user who is a member of `guild`."""
    return join(alice, general, new_user(server, prefix))


@pytest.fixture(scope="module")
def bob(server, alice, general):
    return member(server, alice, general, "bob")


@pytest.fixture(scope="module")
def dave(server, alice, general):
    """A member of the guild who is in none of the DMs under test."""
    return member(server, alice, general, "dave")


@pytest.fixture(scope="module")
def carol(server):
    """Shares no guild with anyone here."""
    return new_user(server, "carol")


@pytest.fixture(scope="module")
def dm(alice, bob):
    return ok(alice.post("/users/@me/channels", {"recipient_id": bob.user_id}))


def make_bot(owner: Api, name: str, guild_id: str | None = None) -> Api:
    app = ok(owner.post("/applications", {"name": name}), 201)
    token = ok(owner.post(f"/applications/{app['id']}/bot/reset"))["token"]
    if guild_id:
        ok(owner.post("/oauth2/authorize",
                      {"guild_id": guild_id, "permissions": "0", "authorize": True},
                      params={"client_id": app["id"], "scope": "bot"}))
    return Api(owner.server, token, bot=True, user_id=app["bot"]["id"],
               username=app["bot"]["username"])


@pytest.fixture(scope="module")
def guild_bot(alice, guild):
    return make_bot(alice, "DM Bot", guild["id"])


def my_channels(api: Api) -> list[dict]:
    return ok(api.get("/users/@me/channels"))


def my_channel_ids(api: Api) -> list[str]:
    return [c["id"] for c in my_channels(api)]


def recipient_ids(channel: dict) -> list[str]:
    return [u["id"] for u in channel["recipients"]]


def history_ids(api: Api, channel_id: str) -> list[str]:
    return [m["id"] for m in api.history(channel_id, limit=100)]


def check_public_user(u: dict, api: Api) -> None:
    assert u["id"] == api.user_id and u["username"] == api.username, u
    assert "email" not in u and "locale" not in u, u


# --------------------------------------------------------------------------- DMs


def test_open_dm_shape(alice, bob, dm):
    assert set(dm) == DM_KEYS, sorted(dm)
    assert_snowflake(dm["id"])
    assert dm["type"] == 1 and dm["flags"] == 0 and dm["last_message_id"] is None
    # Discord's recipients leave out the one asking.
    assert len(dm["recipients"]) == 1
    check_public_user(dm["recipients"][0], bob)


def test_open_dm_is_idempotent(alice, bob, dm):
    assert ok(alice.post("/users/@me/channels", {"recipient_id": bob.user_id})) == dm
    from_bob = ok(bob.post("/users/@me/channels", {"recipient_id": alice.user_id}))
    assert from_bob["id"] == dm["id"] and from_bob["type"] == 1
    assert recipient_ids(from_bob) == [alice.user_id]
    # Snowflakes given as integers mean the same.
    assert ok(alice.post("/users/@me/channels", {"recipient_id": int(bob.user_id)}))["id"] == \
        dm["id"]
    assert my_channel_ids(alice).count(dm["id"]) == 1
    assert my_channel_ids(bob).count(dm["id"]) == 1


@pytest.mark.parametrize("body, field, code", [
    ({}, "recipient_id", "BASE_TYPE_REQUIRED"),
    ({"recipient_id": None}, "recipient_id", "BASE_TYPE_REQUIRED"),
    ({"recipient_id": "bob"}, "recipient_id", "NUMBER_TYPE_COERCE"),
    ({"recipient_id": [1]}, "recipient_id", "NUMBER_TYPE_COERCE"),
])
def test_open_dm_validation(alice, dm, body, field, code):
    before = my_channels(alice)
    form_err(alice.post("/users/@me/channels", body), field, code)
    assert my_channels(alice) == before


def test_open_dm_refusals(server, alice, carol, dm):
    before = my_channels(alice)
    err(alice.post("/users/@me/channels", {"recipient_id": UNKNOWN_ID}), 404, 10013,
        "Unknown User")
    err(alice.post("/users/@me/channels", {"recipient_id": alice.user_id}), 400, 50033,
        "Invalid Recipient(s)")
    # No shared guild and no DM yet: not allowed, either way round.
    err(alice.post("/users/@me/channels", {"recipient_id": carol.user_id}), 403, 50007,
        "Cannot send messages to this user")
    err(carol.post("/users/@me/channels", {"recipient_id": alice.user_id}), 403, 50007)
    err(alice.post("/users/@me/channels", data=b"{"), 400, 50109)
    err(Api(server).post("/users/@me/channels", {"recipient_id": alice.user_id}), 401, 0)
    assert my_channels(alice) == before
    assert my_channels(carol) == []


def test_dm_messages(alice, bob, dm):
    a = alice.send(dm["id"], "hello bob")
    b = bob.send(dm["id"], "hello alice")
    assert a["channel_id"] == dm["id"] and "guild_id" not in a
    assert history_ids(alice, dm["id"])[:2] == [b["id"], a["id"]]
    assert history_ids(bob, dm["id"])[:2] == [b["id"], a["id"]]
    assert ok(bob.get(f"/channels/{dm['id']}/messages/{a['id']}"))["content"] == "hello bob"
    ch = ok(alice.get(f"/channels/{dm['id']}"))
    assert ch["id"] == dm["id"] and ch["type"] == 1
    assert ch["last_message_id"] == b["id"]


def test_dm_privacy(server, alice, bob, dave, carol, dm):
    """Neither a guild-mate (dave) nor a stranger (carol) gets anything of the DM."""
    m = alice.send(dm["id"], "secret")
    before = history_ids(alice, dm["id"])
    for other in (dave, carol):
        err(other.get(f"/channels/{dm['id']}"), 403, 50001, "Missing Access")
        err(other.get(f"/channels/{dm['id']}/messages"), 403, 50001)
        err(other.get(f"/channels/{dm['id']}/messages/{m['id']}"), 403, 50001)
        err(other.post(f"/channels/{dm['id']}/messages", {"content": "let me in"}), 403, 50001)
        err(other.patch(f"/channels/{dm['id']}/messages/{m['id']}", {"content": "x"}), 403, 50001)
        err(other.delete(f"/channels/{dm['id']}/messages/{m['id']}"), 403, 50001)
        err(other.post(f"/channels/{dm['id']}/typing"), 403, 50001)
        err(other.put(f"/channels/{dm['id']}/recipients/{other.user_id}"), 403, 50001)
        err(other.delete(f"/channels/{dm['id']}"), 403, 50001)
        err(other.get(f"/channels/{dm['id']}/invites"), 403, 50001)
        assert dm["id"] not in my_channel_ids(other)
    assert history_ids(alice, dm["id"]) == before
    assert ok(alice.get(f"/channels/{dm['id']}/messages/{m['id']}"))["content"] == "secret"


def test_dm_reactions_are_private(alice, dave, carol, dm):
    m = alice.send(dm["id"], "react to me")
    r = dave.put(f"/channels/{dm['id']}/messages/{m['id']}/reactions/%F0%9F%91%8D/@me")
    if r.status_code in (404, 405) and r.json().get("code") == 0:
        pytest.skip("needs the reactions endpoints (the messages module)")
    err(r, 403, 50001)
    err(carol.put(f"/channels/{dm['id']}/messages/{m['id']}/reactions/%F0%9F%91%8D/@me"),
        403, 50001)
    err(dave.get(f"/channels/{dm['id']}/messages/{m['id']}/reactions/%F0%9F%91%8D"), 403, 50001)
    assert ok(alice.get(f"/channels/{dm['id']}/messages/{m['id']}")).get("reactions") in (None,
                                                                                          [])


def test_list_my_channels(server, alice, general):
    x = member(server, alice, general, "lx")
    y = member(server, alice, general, "ly")
    dx = ok(x.post("/users/@me/channels", {"recipient_id": alice.user_id}))
    dy = ok(x.post("/users/@me/channels", {"recipient_id": y.user_id}))
    grp = ok(x.post("/users/@me/channels", {"recipients": [alice.user_id, y.user_id]}))
    listed = my_channels(x)
    assert [c["id"] for c in listed] == [grp["id"], dy["id"], dx["id"]], "newest first"
    assert listed[0] == grp and listed[1] == dy and listed[2] == dx
    for c in listed:
        assert x.user_id not in recipient_ids(c)
    # Activity moves a channel to the front.
    x.send(dx["id"], "bump")
    assert my_channel_ids(x)[0] == dx["id"]
    assert set(my_channel_ids(y)) >= {dy["id"], grp["id"]}


def test_close_dm(server, alice, general, carol):
    x = member(server, alice, general, "closer")
    y = member(server, alice, general, "kept")
    d = ok(x.post("/users/@me/channels", {"recipient_id": y.user_id}))
    first = y.send(d["id"], "before closing")
    closed = ok(x.delete(f"/channels/{d['id']}"))
    assert closed["id"] == d["id"] and closed["type"] == 1
    assert recipient_ids(closed) == [y.user_id]
    assert d["id"] not in my_channel_ids(x)
    assert d["id"] in my_channel_ids(y), "closing is for the closer only"
    # The closer keeps access to its history.
    assert history_ids(x, d["id"]) == [first["id"]]
    # A new message opens it again for the closer.
    y.send(d["id"], "still there?")
    assert d["id"] in my_channel_ids(x)
    # Closed again, then opened again by hand.
    ok(x.delete(f"/channels/{d['id']}"))
    assert d["id"] not in my_channel_ids(x)
    assert ok(x.post("/users/@me/channels", {"recipient_id": y.user_id}))["id"] == d["id"]
    assert d["id"] in my_channel_ids(x)
    err(carol.delete(f"/channels/{d['id']}"), 403, 50001)
    err(x.delete(f"/channels/{UNKNOWN_ID}"), 404, 10003)
    assert d["id"] in my_channel_ids(y)


def test_bots_open_dms_with_guild_members(server, alice, carol, guild, guild_bot):
    d = ok(guild_bot.post("/users/@me/channels", {"recipient_id": alice.user_id}))
    assert d["type"] == 1 and recipient_ids(d) == [alice.user_id]
    m = guild_bot.send(d["id"], "beep")
    assert ok(alice.get(f"/channels/{d['id']}/messages/{m['id']}"))["author"]["id"] == \
        guild_bot.user_id
    assert d["id"] in my_channel_ids(alice)
    err(guild_bot.post("/users/@me/channels", {"recipient_id": carol.user_id}), 403, 50007)
    # Bots never DM bots.
    other_bot = make_bot(alice, "Other DM Bot", guild["id"])
    err(guild_bot.post("/users/@me/channels", {"recipient_id": other_bot.user_id}), 403, 50007)
    # A bot outside every guild of alice's may not.
    lone = make_bot(alice, "Lonely Bot")
    err(lone.post("/users/@me/channels", {"recipient_id": alice.user_id}), 403, 50007)


# --------------------------------------------------------------------------- group DMs


@pytest.fixture(scope="module")
def crowd(server, alice, general):
    """Ten members of the guild, for recipient limits."""
    return [member(server, alice, general, f"crowd{i}") for i in range(10)]


def test_group_dm_shape(alice, bob, dave):
    g = ok(alice.post("/users/@me/channels",
                      {"recipients": [bob.user_id, dave.user_id], "name": "Trio"}))
    assert set(g) == GROUP_KEYS, sorted(g)
    assert g["type"] == 3 and g["owner_id"] == alice.user_id and g["name"] == "Trio"
    assert g["icon"] is None and g["last_message_id"] is None and g["flags"] == 0
    assert sorted(recipient_ids(g)) == sorted([bob.user_id, dave.user_id])
    as_bob = [c for c in my_channels(bob) if c["id"] == g["id"]]
    assert len(as_bob) == 1
    assert sorted(recipient_ids(as_bob[0])) == sorted([alice.user_id, dave.user_id])
    # Everyone in it talks; no name means null.
    dave.send(g["id"], "hi all")
    unnamed = ok(alice.post("/users/@me/channels", {"recipients": [bob.user_id]}))
    assert unnamed["type"] == 3 and unnamed["name"] is None
    assert unnamed["id"] != g["id"], "a group DM is new every time"


def test_group_dm_recipient_limit(alice, crowd):
    before = my_channels(alice)
    ids = [u.user_id for u in crowd]
    body = err(alice.post("/users/@me/channels", {"recipients": ids}), 400, 30011)
    assert body["message"] == "Maximum number of group DM recipients reached (10)"
    assert my_channels(alice) == before
    # Nine others and the owner make ten; duplicates and the owner's own id are not counted.
    g = ok(alice.post("/users/@me/channels",
                      {"recipients": ids[:9] + [ids[0], alice.user_id]}))
    assert sorted(recipient_ids(g)) == sorted(ids[:9])


@pytest.mark.parametrize("body, field, code", [
    ({"recipients": []}, "recipients", "BASE_TYPE_MIN_LENGTH"),
    ({"recipients": "x"}, "recipients", "BASE_TYPE_ARRAY"),
    ({"recipients": ["nope"]}, "recipients.0", "NUMBER_TYPE_COERCE"),
    ({"recipients": ["NEEDS_ID", 0]}, "recipients.1", "NUMBER_TYPE_COERCE"),
    ({"recipients": ["NEEDS_ID"], "name": 5}, "name", "BASE_TYPE_STRING"),
    ({"recipients": ["NEEDS_ID"], "name": "n" * 101}, "name", "BASE_TYPE_MAX_LENGTH"),
])
def test_group_dm_validation(alice, bob, body, field, code):
    body = {k: [bob.user_id if x == "NEEDS_ID" else x for x in v] if k == "recipients" and
            isinstance(v, list) else v for k, v in body.items()}
    before = my_channels(alice)
    form_err(alice.post("/users/@me/channels", body), field, code)
    assert my_channels(alice) == before


def test_group_dm_refusals(alice, bob, carol, guild_bot):
    before = my_channels(alice)
    err(alice.post("/users/@me/channels", {"recipients": [bob.user_id, carol.user_id]}), 403,
        50007)
    err(alice.post("/users/@me/channels", {"recipients": [bob.user_id, UNKNOWN_ID]}), 404, 10013)
    err(alice.post("/users/@me/channels", {"recipients": [guild_bot.user_id]}), 400, 50033)
    err(guild_bot.post("/users/@me/channels", {"recipients": [alice.user_id]}), 403, 20001)
    assert my_channels(alice) == before


def test_group_dm_add_recipient(server, alice, bob, dave, carol, general, guild_bot, crowd, dm):
    g = ok(alice.post("/users/@me/channels", {"recipients": [bob.user_id]}))
    newcomer = member(server, alice, general, "newcomer")
    # Any recipient may add someone they may DM.
    ok(bob.put(f"/channels/{g['id']}/recipients/{newcomer.user_id}"), 204)
    # The newcomer can read the group; as on Discord, a DM's recipients leave out the viewer.
    seen = ok(newcomer.get(f"/channels/{g['id']}"))
    assert newcomer.user_id not in recipient_ids(seen)
    assert {alice.user_id, bob.user_id} <= set(recipient_ids(seen))
    assert newcomer.user_id in recipient_ids(ok(alice.get(f"/channels/{g['id']}")))
    assert g["id"] in my_channel_ids(newcomer)
    newcomer.send(g["id"], "thanks for having me")
    # Again: no change.
    ok(bob.put(f"/channels/{g['id']}/recipients/{newcomer.user_id}"), 204)
    assert recipient_ids(ok(alice.get(f"/channels/{g['id']}"))).count(newcomer.user_id) == 1

    before = sorted(recipient_ids(ok(alice.get(f"/channels/{g['id']}"))))
    err(alice.put(f"/channels/{g['id']}/recipients/{carol.user_id}"), 403, 50007)
    err(alice.put(f"/channels/{g['id']}/recipients/{guild_bot.user_id}"), 400, 50033)
    err(alice.put(f"/channels/{g['id']}/recipients/{UNKNOWN_ID}"), 404, 10013)
    err(dave.put(f"/channels/{g['id']}/recipients/{dave.user_id}"), 403, 50001)
    err(alice.put(f"/channels/{UNKNOWN_ID}/recipients/{dave.user_id}"), 404, 10003)
    err(alice.put(f"/channels/{dm['id']}/recipients/{dave.user_id}"), 400, 50024)
    err(alice.put(f"/channels/{general}/recipients/{dave.user_id}"), 400, 50024)
    assert sorted(recipient_ids(ok(alice.get(f"/channels/{g['id']}")))) == before
    assert g["id"] not in my_channel_ids(dave)

    # Full at ten.
    full = ok(alice.post("/users/@me/channels", {"recipients": [u.user_id for u in crowd[:9]]}))
    err(crowd[0].put(f"/channels/{full['id']}/recipients/{crowd[9].user_id}"), 400, 30011)
    assert crowd[9].user_id not in recipient_ids(ok(alice.get(f"/channels/{full['id']}")))


def test_group_dm_remove_recipient(server, alice, general):
    owner, x, y, z = (member(server, alice, general, f"grp{i}") for i in range(4))
    g = ok(owner.post("/users/@me/channels",
                      {"recipients": [x.user_id, y.user_id, z.user_id]}))
    gid = g["id"]
    # Not the owner: only oneself.
    err(x.delete(f"/channels/{gid}/recipients/{y.user_id}"), 403, 50013, "Missing Permissions")
    assert y.user_id in recipient_ids(ok(owner.get(f"/channels/{gid}")))
    ok(x.delete(f"/channels/{gid}/recipients/{x.user_id}"), 204)
    err(x.get(f"/channels/{gid}/messages"), 403, 50001)
    assert gid not in my_channel_ids(x)
    # The owner removes anyone.
    ok(owner.delete(f"/channels/{gid}/recipients/{y.user_id}"), 204)
    err(y.post(f"/channels/{gid}/messages", {"content": "hello?"}), 403, 50001)
    err(owner.delete(f"/channels/{gid}/recipients/{y.user_id}"), 404, 10013)
    # (GET /channels/{id} may or may not list the caller among recipients: compare the rest.)
    assert set(recipient_ids(ok(owner.get(f"/channels/{gid}")))) - {owner.user_id} == {z.user_id}
    # The owner leaves (DELETE /channels/{id}): the group passes to who is left.
    left = ok(owner.delete(f"/channels/{gid}"))
    assert left["id"] == gid and left["type"] == 3
    after = ok(z.get(f"/channels/{gid}"))
    assert after["owner_id"] == z.user_id
    assert recipient_ids(after) == [z.user_id] or recipient_ids(after) == []
    err(owner.get(f"/channels/{gid}"), 403, 50001)
    # The last one leaves: the group DM is gone.
    ok(z.delete(f"/channels/{gid}/recipients/{z.user_id}"), 204)
    err(z.get(f"/channels/{gid}"), 404, 10003)
    assert gid not in my_channel_ids(z)


# --------------------------------------------------------------------------- gateway


def test_gateway_dm_events_reach_recipients_only(server, alice, general):
    x = member(server, alice, general, "gwx")
    y = member(server, alice, general, "gwy")
    w = member(server, alice, general, "gww")  # in the guild, not in the DM

    async def body():
        gx, gy, gw = Gateway(server), Gateway(server), Gateway(server)
        try:
            await gx.open(x.token)
            await gy.open(y.token)
            await gw.open(w.token)
            d = ok(x.post("/users/@me/channels", {"recipient_id": y.user_id}))
            for g, other in ((gx, y), (gy, x)):
                c = await g.wait("CHANNEL_CREATE", lambda c: c["id"] == d["id"])
                assert c["type"] == 1 and "guild_id" not in c
                # Each side sees the other as the recipient, never itself.
                assert [u["id"] for u in c["recipients"]] == [other.user_id], c
            m = y.send(d["id"], "just us")
            for g in (gx, gy):
                got = await g.wait("MESSAGE_CREATE", lambda e: e["id"] == m["id"])
                assert got["content"] == "just us" and "guild_id" not in got
            # A guild message all three hear, after which w has heard all it ever will.
            fence = alice.send(general, "dm fence")
            await gw.wait("MESSAGE_CREATE", lambda e: e["id"] == fence["id"])
            assert gw.got("CHANNEL_CREATE") == []
            assert gw.got("MESSAGE_CREATE", lambda e: e["channel_id"] == d["id"]) == []
        finally:
            for g in (gx, gy, gw):
                await g.close()
    run(body())


def test_gateway_group_recipient_events(server, alice, general):
    x = member(server, alice, general, "gox")
    y = member(server, alice, general, "goy")
    z = member(server, alice, general, "goz")
    g = ok(x.post("/users/@me/channels", {"recipients": [y.user_id]}))

    async def body():
        gx, gy, gz = Gateway(server), Gateway(server), Gateway(server)
        try:
            await gx.open(x.token)
            await gy.open(y.token)
            await gz.open(z.token)
            ok(y.put(f"/channels/{g['id']}/recipients/{z.user_id}"), 204)
            for s in (gx, gy, gz):
                d = await s.wait("CHANNEL_RECIPIENT_ADD", lambda d: d["channel_id"] == g["id"])
                assert d["user"]["id"] == z.user_id
            ok(x.delete(f"/channels/{g['id']}/recipients/{y.user_id}"), 204)
            for s in (gx, gz):
                d = await s.wait("CHANNEL_RECIPIENT_REMOVE", lambda d: d["channel_id"] == g["id"])
                assert d["user"]["id"] == y.user_id
            # y is out: later messages of the group do not reach it.
            m = x.send(g["id"], "without y")
            await gz.wait("MESSAGE_CREATE", lambda e: e["id"] == m["id"])
            fence = alice.send(general, "group fence")
            await gy.wait("MESSAGE_CREATE", lambda e: e["id"] == fence["id"])
            assert gy.got("MESSAGE_CREATE", lambda e: e["id"] == m["id"]) == []
            # The owner leaves: the group is handed over (CHANNEL_UPDATE), and the one left
            # sees the others, not itself, among the recipients.
            w = member(server, alice, general, "gow")
            ok(x.put(f"/channels/{g['id']}/recipients/{w.user_id}"), 204)
            ok(x.delete(f"/channels/{g['id']}/recipients/{x.user_id}"), 204)
            d = await gz.wait("CHANNEL_UPDATE", lambda d: d["id"] == g["id"])
            assert sorted(u["id"] for u in d["recipients"]) == [w.user_id], d
        finally:
            for s in (gx, gy, gz):
                await s.close()
    run(body())


def test_ready_lists_private_channels(server, alice, bob, dm):
    """A user's READY carries its open DMs, with the other recipients."""
    from gateway_client import GatewayClient, run

    async def body():
        async with GatewayClient(server) as gw:
            await gw.hello()
            ready = await gw.identify(bob.token)
            chans = {c["id"]: c for c in ready["private_channels"]}
            assert dm["id"] in chans, ready["private_channels"]
            assert [u["id"] for u in chans[dm["id"]]["recipients"]] == [alice.user_id]

    run(body())
