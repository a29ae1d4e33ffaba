"""Invites (spec/rest-invites.md "Invites"), black-box against a real hearthd.

Creating, listing, reading, deleting and using invites; their expiry (max_age) and use
limit (max_uses); who may do what (403 50001 for non-members, 50013 without the
permission); the INVITE_CREATE / INVITE_DELETE dispatches (only to MANAGE_CHANNELS
holders) and the GUILD_CREATE a joining user's session gets. After every refused write the
test checks that nothing changed.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import timedelta

import pytest

from gateway_client import DispatchRecorder as Gateway
from harness import (Api, assert_snowflake, err, form_err, new_user, ok, parse_ts)

UNKNOWN_ID = "999999999999999999"
CODE_RE = re.compile(r"^[A-Za-z0-9]{8,10}$")
CREATE_INSTANT_INVITE = 1 << 0
INVITE_KEYS = {"type", "code", "guild", "channel", "inviter", "max_age", "max_uses", "uses",
               "temporary", "created_at", "expires_at"}
GUILD_PARTIAL_FIXED = {"icon": None, "splash": None, "banner": None, "description": None,
                       "features": [], "verification_level": 0, "vanity_url_code": None,
                       "nsfw_level": 0, "premium_subscription_count": 0}


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
    return alice.create_guild("Invite Guild")


@pytest.fixture(scope="module")
def general(guild):
    return guild["system_channel_id"]


@pytest.fixture(scope="module")
def bob(server, alice, general):
    """A plain member of `guild` (joined through an invite): @everyone's permissions."""
    bob = new_user(server, "bob")
    code = ok(alice.post(f"/channels/{general}/invites", {"unique": True}))["code"]
    ok(bob.post(f"/invites/{code}"))
    return bob


@pytest.fixture(scope="module")
def carol(server):
    """In no guild of alice's."""
    return new_user(server, "carol")


@pytest.fixture(scope="module")
def voice(alice, guild):
    return alice.create_channel(guild["id"], "Voice", 2)


@pytest.fixture(scope="module")
def category(alice, guild):
    return alice.create_channel(guild["id"], "Stuff", 4)


def new_invite(api: Api, channel: str, **body) -> dict:
    return ok(api.post(f"/channels/{channel}/invites", {"unique": True, **body}))


def channel_codes(api: Api, channel: str) -> list[str]:
    return [i["code"] for i in ok(api.get(f"/channels/{channel}/invites"))]


def guild_codes(api: Api, guild_id: str) -> list[str]:
    return [i["code"] for i in ok(api.get(f"/guilds/{guild_id}/invites"))]


def is_member(api: Api, guild_id: str) -> bool:
    r = api.get(f"/guilds/{guild_id}")
    if r.status_code == 200:
        return True
    err(r, 403, 50001)
    return False


def member_count(api: Api, guild_id: str) -> int:
    return ok(api.get(f"/guilds/{guild_id}", params={"with_counts": "true"}))[
        "approximate_member_count"]


def check_invite(inv: dict, *, guild: dict, channel_id: str, channel_name: str,
                 inviter: Api, max_age=86400, max_uses=0, uses=0, temporary=False,
                 channel_type=0) -> None:
    assert set(inv) == INVITE_KEYS, f"invite keys {sorted(inv)}"
    assert inv["type"] == 0
    assert CODE_RE.match(inv["code"]), inv["code"]
    assert inv["guild"] == {"id": guild["id"], "name": guild["name"], **GUILD_PARTIAL_FIXED}
    assert inv["channel"] == {"id": channel_id, "name": channel_name, "type": channel_type}
    u = inv["inviter"]
    assert u["id"] == inviter.user_id and u["username"] == inviter.username, u
    assert "email" not in u and "locale" not in u, "the inviter is shown as a public user"
    assert (inv["max_age"], inv["max_uses"], inv["uses"], inv["temporary"]) == (
        max_age, max_uses, uses, temporary)
    created = parse_ts(inv["created_at"])
    assert abs(time.time() - created.timestamp()) < 60, inv["created_at"]
    if max_age:
        assert parse_ts(inv["expires_at"]) == created + timedelta(seconds=max_age)
    else:
        assert inv["expires_at"] is None


def make_bot(owner: Api, name: str) -> Api:
    app = ok(owner.post("/applications", {"name": name}), 201)
    token = ok(owner.post(f"/applications/{app['id']}/bot/reset"))["token"]
    return Api(owner.server, token, bot=True, user_id=app["bot"]["id"],
               username=app["bot"]["username"])


# --------------------------------------------------------------------------- creating


def test_create_invite_defaults(alice, guild, general):
    inv = ok(alice.post(f"/channels/{general}/invites", {}))
    check_invite(inv, guild=guild, channel_id=general, channel_name="general", inviter=alice)
    # The same object is what anyone holding the code reads.
    assert ok(alice.get(f"/invites/{inv['code']}")) == inv


def test_create_invite_without_a_body(alice, guild, general):
    r = alice.request("POST", f"/channels/{general}/invites")
    inv = ok(r)
    check_invite(inv, guild=guild, channel_id=general, channel_name="general", inviter=alice)


def test_create_invite_options(alice, guild, general, voice):
    inv = new_invite(alice, general, max_age=0, max_uses=5, temporary=True)
    check_invite(inv, guild=guild, channel_id=general, channel_name="general", inviter=alice,
                 max_age=0, max_uses=5, temporary=True)
    inv = new_invite(alice, voice["id"], max_age=604800, max_uses=100)
    check_invite(inv, guild=guild, channel_id=voice["id"], channel_name="Voice", inviter=alice,
                 max_age=604800, max_uses=100, channel_type=2)


def test_member_creates_invite(bob, guild, general):
    """@everyone has CREATE_INSTANT_INVITE by default."""
    inv = new_invite(bob, general, max_uses=1)
    check_invite(inv, guild=guild, channel_id=general, channel_name="general", inviter=bob,
                 max_uses=1)


def test_unique_false_reuses_an_equivalent_invite(alice, bob, general):
    first = ok(alice.post(f"/channels/{general}/invites", {"max_age": 3000, "max_uses": 3}))
    again = ok(alice.post(f"/channels/{general}/invites",
                          {"max_age": 3000, "max_uses": 3, "unique": False}))
    assert again == first
    assert channel_codes(alice, general).count(first["code"]) == 1
    fresh = ok(alice.post(f"/channels/{general}/invites",
                          {"max_age": 3000, "max_uses": 3, "unique": True}))
    other_age = ok(alice.post(f"/channels/{general}/invites", {"max_age": 3001, "max_uses": 3}))
    by_bob = ok(bob.post(f"/channels/{general}/invites", {"max_age": 3000, "max_uses": 3}))
    codes = {first["code"], fresh["code"], other_age["code"], by_bob["code"]}
    assert len(codes) == 4, "unique, other settings and another inviter each make a new code"


@pytest.mark.parametrize("body, field, code", [
    ({"max_age": -1}, "max_age", "NUMBER_TYPE_MIN"),
    ({"max_age": 604801}, "max_age", "NUMBER_TYPE_MAX"),
    ({"max_age": "1"}, "max_age", "NUMBER_TYPE_COERCE"),
    ({"max_age": 1.5}, "max_age", "NUMBER_TYPE_COERCE"),
    ({"max_uses": 101}, "max_uses", "NUMBER_TYPE_MAX"),
    ({"max_uses": -1}, "max_uses", "NUMBER_TYPE_MIN"),
    ({"temporary": "yes"}, "temporary", "BASE_TYPE_BOOLEAN"),
    ({"unique": 1}, "unique", "BASE_TYPE_BOOLEAN"),
])
def test_create_invite_validation(alice, guild, general, body, field, code):
    before = guild_codes(alice, guild["id"])
    form_err(alice.post(f"/channels/{general}/invites", body), field, code)
    assert guild_codes(alice, guild["id"]) == before


def test_create_invite_malformed_json(alice, guild, general):
    before = guild_codes(alice, guild["id"])
    err(alice.post(f"/channels/{general}/invites", data=b"{nope"), 400, 50109)
    err(alice.post(f"/channels/{general}/invites", data=b"[]"), 400, 50109)
    assert guild_codes(alice, guild["id"]) == before


def test_create_invite_refusals(server, alice, carol, guild, general, category):
    before = guild_codes(alice, guild["id"])
    err(alice.post(f"/channels/{UNKNOWN_ID}/invites", {}), 404, 10003, "Unknown Channel")
    err(carol.post(f"/channels/{general}/invites", {}), 403, 50001, "Missing Access")
    err(alice.post(f"/channels/{category['id']}/invites", {}), 400, 50024,
        "Cannot execute action on this channel type")
    form_err(alice.post("/channels/notanid/invites", {}), "channel_id", "NUMBER_TYPE_COERCE")
    err(Api(server).post(f"/channels/{general}/invites", {}), 401, 0)
    assert guild_codes(alice, guild["id"]) == before


def test_create_invite_in_a_dm_is_refused(alice, bob):
    dm = ok(alice.post("/users/@me/channels", {"recipient_id": bob.user_id}))
    err(alice.post(f"/channels/{dm['id']}/invites", {}), 400, 50024)
    err(alice.get(f"/channels/{dm['id']}/invites"), 403, 50013)


def test_create_invite_needs_the_permission(alice, bob, guild):
    """A channel overwrite denying CREATE_INSTANT_INVITE to @everyone stops members."""
    channel = alice.create_channel(guild["id"], "no-invites")
    r = alice.put(f"/channels/{channel['id']}/permissions/{guild['id']}",
                  {"type": 0, "allow": "0", "deny": str(CREATE_INSTANT_INVITE)})
    if r.status_code in (404, 405) and r.json().get("code") == 0:
        pytest.skip("needs PUT /channels/{id}/permissions/{id} (the channels module)")
    assert r.status_code == 204, r.text
    err(bob.post(f"/channels/{channel['id']}/invites", {}), 403, 50013, "Missing Permissions")
    assert channel_codes(alice, channel["id"]) == []
    new_invite(alice, channel["id"])  # the owner has every permission


# --------------------------------------------------------------------------- listing


def test_list_channel_invites(alice, bob, carol, guild, general, voice):
    made = [new_invite(alice, general, max_uses=9) for _ in range(2)]
    in_voice = new_invite(alice, voice["id"])
    listed = ok(alice.get(f"/channels/{general}/invites"))
    codes = [i["code"] for i in listed]
    for inv in made:
        assert codes.count(inv["code"]) == 1
        assert inv in listed
    assert in_voice["code"] not in codes
    assert all(i["channel"]["id"] == general for i in listed)
    for i in listed:
        assert set(i) == INVITE_KEYS
    err(bob.get(f"/channels/{general}/invites"), 403, 50013, "Missing Permissions")
    err(carol.get(f"/channels/{general}/invites"), 403, 50001, "Missing Access")
    err(alice.get(f"/channels/{UNKNOWN_ID}/invites"), 404, 10003)


def test_list_guild_invites(alice, bob, carol, guild, general, voice):
    a = new_invite(alice, general)
    b = new_invite(alice, voice["id"])
    listed = ok(alice.get(f"/guilds/{guild['id']}/invites"))
    codes = [i["code"] for i in listed]
    assert a["code"] in codes and b["code"] in codes
    assert len(codes) == len(set(codes))
    created = [parse_ts(i["created_at"]) for i in listed]
    assert created == sorted(created), "oldest first"
    err(bob.get(f"/guilds/{guild['id']}/invites"), 403, 50013)
    err(carol.get(f"/guilds/{guild['id']}/invites"), 403, 50001)
    err(alice.get(f"/guilds/{UNKNOWN_ID}/invites"), 404, 10004, "Unknown Guild")


# --------------------------------------------------------------------------- reading


def test_get_invite_for_anyone(server, alice, bob, carol, guild, general):
    inv = new_invite(alice, general)
    assert ok(carol.get(f"/invites/{inv['code']}")) == inv  # not a member: still readable
    counted = ok(carol.get(f"/invites/{inv['code']}", params={"with_counts": "true"}))
    assert counted.pop("approximate_member_count") == member_count(alice, guild["id"])
    assert counted.pop("approximate_presence_count") == 0
    assert counted == inv
    err(Api(server).get(f"/invites/{inv['code']}"), 401, 0)


@pytest.mark.parametrize("code", ["nosuchcode", "AAAAAAAA", "%21%21", "a" * 40, "12345678"])
def test_unknown_invite(alice, code):
    err(alice.get(f"/invites/{code}"), 404, 10006, "Unknown Invite")
    err(alice.post(f"/invites/{code}"), 404, 10006, "Unknown Invite")
    err(alice.delete(f"/invites/{code}"), 404, 10006, "Unknown Invite")


def test_invite_codes_are_case_sensitive(alice, general):
    inv = new_invite(alice, general)
    flipped = inv["code"].swapcase()
    if flipped == inv["code"]:
        pytest.skip("an all-digit code")
    err(alice.get(f"/invites/{flipped}"), 404, 10006)


# --------------------------------------------------------------------------- deleting


def test_delete_invite(alice, bob, carol, guild, general):
    inv = new_invite(alice, general)
    err(bob.delete(f"/invites/{inv['code']}"), 403, 50013, "Missing Permissions")
    err(carol.delete(f"/invites/{inv['code']}"), 403, 50001, "Missing Access")
    assert ok(alice.get(f"/invites/{inv['code']}")) == inv  # both refusals changed nothing
    assert ok(alice.delete(f"/invites/{inv['code']}")) == inv
    err(alice.get(f"/invites/{inv['code']}"), 404, 10006)
    err(alice.delete(f"/invites/{inv['code']}"), 404, 10006)
    assert inv["code"] not in guild_codes(alice, guild["id"])
    joiner = new_user(alice.server, "late")
    err(joiner.post(f"/invites/{inv['code']}"), 404, 10006)
    assert not is_member(joiner, guild["id"])


def test_invite_audit_log(alice, guild, general):
    r = alice.get(f"/guilds/{guild['id']}/audit-logs")
    if r.status_code in (404, 405) and r.json().get("code") == 0:
        pytest.skip("needs GET /guilds/{id}/audit-logs (the members module)")
    inv = ok(alice.post(f"/channels/{general}/invites", {"unique": True},
                        headers={"X-Audit-Log-Reason": "for%20friends"}))
    ok(alice.delete(f"/invites/{inv['code']}", headers={"X-Audit-Log-Reason": "spam"}))
    entries = ok(alice.get(f"/guilds/{guild['id']}/audit-logs"))["audit_log_entries"]

    def about(e):
        return any(c.get("new_value", c.get("old_value")) == inv["code"]
                   for c in e.get("changes", []) if c["key"] == "code")
    created = [e for e in entries if e["action_type"] == 40 and about(e)]
    deleted = [e for e in entries if e["action_type"] == 42 and about(e)]
    assert len(created) == 1 and created[0]["reason"] == "for friends", entries[:3]
    assert len(deleted) == 1 and deleted[0]["reason"] == "spam"
    assert created[0]["user_id"] == alice.user_id


# --------------------------------------------------------------------------- joining


def test_join_by_invite(server, alice, guild, general):
    inv = new_invite(alice, general, max_uses=10)
    joiner = new_user(server, "joiner")
    assert not is_member(joiner, guild["id"])
    count = member_count(alice, guild["id"])
    joined = ok(joiner.post(f"/invites/{inv['code']}"))
    check_invite(joined, guild=guild, channel_id=general, channel_name="general", inviter=alice,
                 max_uses=10, uses=1)
    assert joined["code"] == inv["code"]
    assert is_member(joiner, guild["id"])
    assert member_count(alice, guild["id"]) == count + 1
    assert guild["id"] in [g["id"] for g in ok(joiner.get("/users/@me/guilds"))]
    assert ok(joiner.get(f"/channels/{general}"))["id"] == general
    # Joining again: 200, no change, no use counted.
    again = ok(joiner.post(f"/invites/{inv['code']}"))
    assert again["uses"] == 1
    assert ok(alice.get(f"/invites/{inv['code']}"))["uses"] == 1
    assert member_count(alice, guild["id"]) == count + 1
    # The owner using their own invite changes nothing either.
    assert ok(alice.post(f"/invites/{inv['code']}"))["uses"] == 1


def test_join_with_a_body(server, alice, guild, general):
    inv = new_invite(alice, general)
    joiner = new_user(server, "bodied")
    ok(joiner.post(f"/invites/{inv['code']}", {}))
    assert is_member(joiner, guild["id"])


def test_bots_cannot_join_by_invite(alice, guild, general):
    bot = make_bot(alice, "Inviting Bot")
    inv = new_invite(alice, general)
    err(bot.post(f"/invites/{inv['code']}"), 403, 20001, "Bots cannot use this endpoint")
    assert not is_member(bot, guild["id"])
    assert ok(alice.get(f"/invites/{inv['code']}"))["uses"] == 0


def test_max_uses_exhausted(server, alice, guild, general):
    inv = new_invite(alice, general, max_uses=2)
    first, second, third = (new_user(server, f"use{i}") for i in range(3))
    assert ok(first.post(f"/invites/{inv['code']}"))["uses"] == 1
    assert ok(alice.get(f"/invites/{inv['code']}"))["uses"] == 1
    assert ok(second.post(f"/invites/{inv['code']}"))["uses"] == 2
    count = member_count(alice, guild["id"])
    err(third.post(f"/invites/{inv['code']}"), 404, 10006, "Unknown Invite")
    assert not is_member(third, guild["id"])
    assert member_count(alice, guild["id"]) == count
    err(alice.get(f"/invites/{inv['code']}"), 404, 10006)
    assert inv["code"] not in channel_codes(alice, general)
    assert is_member(first, guild["id"]) and is_member(second, guild["id"])


def test_expired_invite(server, alice, guild, general):
    inv = new_invite(alice, general, max_age=1)
    early = new_user(server, "early")
    late = new_user(server, "late")
    ok(early.post(f"/invites/{inv['code']}"))
    assert inv["code"] in channel_codes(alice, general)
    time.sleep(1.1)
    err(alice.get(f"/invites/{inv['code']}"), 404, 10006, "Unknown Invite")
    err(late.post(f"/invites/{inv['code']}"), 404, 10006)
    err(alice.delete(f"/invites/{inv['code']}"), 404, 10006)
    assert not is_member(late, guild["id"])
    assert is_member(early, guild["id"])
    assert inv["code"] not in channel_codes(alice, general)
    assert inv["code"] not in guild_codes(alice, guild["id"])


def test_banned_user_cannot_join(server, alice, guild, general):
    target = new_user(server, "banned")
    r = alice.put(f"/guilds/{guild['id']}/bans/{target.user_id}", {})
    if r.status_code in (404, 405) and r.json().get("code") == 0:
        pytest.skip("needs PUT /guilds/{id}/bans/{user} (the members module); the ban check "
                    "itself is covered by tests/unit/core/test_invites.c")
    assert r.status_code == 204, r.text
    inv = new_invite(alice, general)
    err(target.post(f"/invites/{inv['code']}"), 403, 40007, "The user is banned from this guild.")
    assert not is_member(target, guild["id"])
    assert ok(alice.get(f"/invites/{inv['code']}"))["uses"] == 0


# --------------------------------------------------------------------------- gateway


def test_gateway_invite_events_reach_channel_managers_only(server, alice, bob, guild, general):
    async def body():
        a, b = Gateway(server), Gateway(server)
        try:
            await a.open(alice.token)
            await b.open(bob.token)
            inv = new_invite(alice, general, max_age=600, max_uses=3)
            d = await a.wait("INVITE_CREATE", lambda d: d["code"] == inv["code"])
            assert d["channel_id"] == general and d["guild_id"] == guild["id"]
            assert d["inviter"]["id"] == alice.user_id
            assert (d["max_age"], d["max_uses"], d["uses"], d["temporary"]) == (600, 3, 0, False)
            assert d["created_at"] == inv["created_at"]
            # A later message both may see: once bob has it, he has missed nothing before.
            fence = alice.send(general, "fence 1")
            await b.wait("MESSAGE_CREATE", lambda d: d["id"] == fence["id"])
            assert b.got("INVITE_CREATE") == [], "INVITE_CREATE reached a member without " \
                                                 "MANAGE_CHANNELS"

            ok(alice.delete(f"/invites/{inv['code']}"))
            d = await a.wait("INVITE_DELETE", lambda d: d["code"] == inv["code"])
            assert d == {"channel_id": general, "guild_id": guild["id"], "code": inv["code"]}
            fence = alice.send(general, "fence 2")
            await b.wait("MESSAGE_CREATE", lambda d: d["id"] == fence["id"])
            assert b.got("INVITE_DELETE") == []
        finally:
            await a.close()
            await b.close()
    run(body())


def test_gateway_join_sends_guild_create(server, alice, guild, general):
    joiner = new_user(server, "gwjoin")

    async def body():
        a, j = Gateway(server), Gateway(server)
        try:
            await a.open(alice.token)
            ready = await j.open(joiner.token)
            assert ready["guilds"] == []
            inv = new_invite(alice, general, max_uses=1)
            ok(joiner.post(f"/invites/{inv['code']}"))
            g = await j.wait("GUILD_CREATE", lambda d: d["id"] == guild["id"])
            assert general in [c["id"] for c in g["channels"]]
            assert joiner.user_id in [m["user"]["id"] for m in g["members"]]
            added = await a.wait("GUILD_MEMBER_ADD", lambda d: d["user"]["id"] == joiner.user_id)
            assert added["guild_id"] == guild["id"]
            # That was the last use: the invite is gone, and its managers are told.
            d = await a.wait("INVITE_DELETE", lambda d: d["code"] == inv["code"])
            assert d["channel_id"] == general
            # The new member now hears the guild's messages.
            m = alice.send(general, "welcome")
            await j.wait("MESSAGE_CREATE", lambda d: d["id"] == m["id"])
        finally:
            await a.close()
            await j.close()
    run(body())


def test_created_invite_ids(alice, general):
    inv = new_invite(alice, general)
    assert_snowflake(inv["guild"]["id"])
    assert_snowflake(inv["channel"]["id"])
    assert_snowflake(inv["inviter"]["id"])


# --------------------------------------------------------------------------- temporary


def _gateway_session_then_close(server, token: str, close_code: int):
    from gateway_client import GatewayClient
    from gateway_client import run as gw_run

    async def body():
        gw = await GatewayClient(server).open()
        await gw.hello()
        await gw.identify(token)
        await gw.close(close_code)

    gw_run(body())


def _wait_until(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_temporary_member_leaves_when_its_last_session_ends(server, alice, guild, general):
    temp = new_user(server, "temp")
    code = new_invite(alice, general, temporary=True)["code"]
    ok(temp.post(f"/invites/{code}"))
    assert is_member(temp, guild["id"])
    # A session that ends (the client closes with 1000) is the end of the membership.
    _gateway_session_then_close(server, temp.token, 1000)
    assert _wait_until(lambda: not is_member(temp, guild["id"])), "temporary member stayed"
    # The owner's view agrees, and the audit of joins is unaffected.
    err(alice.get(f"/guilds/{guild['id']}/members/{temp.user_id}"), 404, 10007)


def test_temporary_member_with_a_role_stays(server, alice, guild, general):
    temp = new_user(server, "temprole")
    code = new_invite(alice, general, temporary=True)["code"]
    ok(temp.post(f"/invites/{code}"))
    role = ok(alice.post(f"/guilds/{guild['id']}/roles", {"name": "keeper"}))
    ok(alice.put(f"/guilds/{guild['id']}/members/{temp.user_id}/roles/{role['id']}"), 204)
    _gateway_session_then_close(server, temp.token, 1000)
    # Give the server time to act on the session's end, then check nothing happened:
    # a marker write after it is committed after any expiry the gateway queued.
    time.sleep(0.3)
    alice.send(general, "marker")
    assert is_member(temp, guild["id"])


def test_ordinary_member_stays_after_its_session_ends(server, alice, guild, general):
    plain = new_user(server, "plain")
    code = new_invite(alice, general)["code"]
    ok(plain.post(f"/invites/{code}"))
    _gateway_session_then_close(server, plain.token, 1000)
    time.sleep(0.3)
    alice.send(general, "marker")
    assert is_member(plain, guild["id"])
