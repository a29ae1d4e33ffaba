"""Roles, members, moderation and the audit log (spec/rest-members.md), black-box.

Every test shares one server and one guild (the `world` fixture): its owner, a "Mod" role
holding the moderation permissions given to two bots (`mod` and `peer`, so the moderator has
an equal), a "Senior" role above it (`senior`), a member without roles (`plain`) and a user
who is in no guild of the owner's (`outsider`). Members other than the owner are bots, added
with the OAuth2 bot flow: that is the join path this branch has. Tests make their own
targets and never assume an empty database; after every refused write they check that
nothing changed.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import websockets

from harness import (DEFAULT_EVERYONE, Api, assert_snowflake, err, form_err, new_user, ok,
                     parse_ts)

UNKNOWN_ID = "999999999999999999"

# Permission bits (Discord's)
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
VIEW_AUDIT_LOG = 1 << 7
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
CHANGE_NICKNAME = 1 << 26
MANAGE_NICKNAMES = 1 << 27
MANAGE_ROLES = 1 << 28
MODERATE_MEMBERS = 1 << 40
MOD_PERMS = (KICK_MEMBERS | BAN_MEMBERS | VIEW_AUDIT_LOG | MANAGE_NICKNAMES | MANAGE_ROLES
             | MODERATE_MEMBERS)

# Audit log action types
MEMBER_KICK, MEMBER_BAN_ADD, MEMBER_BAN_REMOVE = 20, 22, 23
MEMBER_UPDATE, MEMBER_ROLE_UPDATE, BOT_ADD = 24, 25, 28
ROLE_CREATE, ROLE_UPDATE, ROLE_DELETE = 30, 31, 32

# Gateway intents: GUILDS | GUILD_MEMBERS | GUILD_MODERATION | GUILD_MESSAGES
BOT_INTENTS = 1 | 2 | 4 | (1 << 9)

MEMBER_FIXED = {"avatar": None, "premium_since": None, "deaf": False, "mute": False, "flags": 0,
                "pending": False}


# --------------------------------------------------------------------------- helpers


def authorize(user: Api, app_id: str, guild_id: str, permissions="0"):
    return user.post("/oauth2/authorize",
                     {"guild_id": guild_id, "permissions": str(permissions), "authorize": True},
                     params={"client_id": app_id, "scope": "bot"})


def make_bot(owner: Api, guild_id: str | None, name: str, permissions="0") -> Api:
    """An application of owner's, its bot (an Api with its token) added to guild_id."""
    app = ok(owner.post("/applications", {"name": name}), 201)
    token = ok(owner.post(f"/applications/{app['id']}/bot/reset"))["token"]
    bot = Api(owner.server, token, bot=True, user_id=app["bot"]["id"],
              username=app["bot"]["username"])
    bot.app = app
    if guild_id:
        ok(authorize(owner, app["id"], guild_id, permissions))
    return bot


def reason_header(text: str) -> dict:
    return {"X-Audit-Log-Reason": urllib.parse.quote(text, safe="")}


def iso_in(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()


def check_role(r: dict) -> None:
    assert_snowflake(r.get("id"), "role.id")
    assert isinstance(r.get("name"), str) and r["name"], r
    assert isinstance(r.get("position"), int), r
    assert isinstance(r.get("permissions"), str) and r["permissions"].isdigit(), r
    assert isinstance(r.get("color"), int) and isinstance(r.get("hoist"), bool), r
    assert isinstance(r.get("mentionable"), bool) and isinstance(r.get("managed"), bool), r
    assert r.get("colors") == {"primary_color": r["color"], "secondary_color": None,
                               "tertiary_color": None}, r
    for k in ("icon", "unicode_emoji"):
        assert k in r and r[k] is None, r
    assert r.get("flags") == 0, r


def check_member(m: dict, user_id: str) -> None:
    for k, v in MEMBER_FIXED.items():
        assert m.get(k, "missing") == v, f"member.{k}: {m}"
    assert m["user"]["id"] == user_id, m
    parse_ts(m["joined_at"])
    assert "nick" in m and (m["nick"] is None or isinstance(m["nick"], str)), m
    assert isinstance(m.get("roles"), list) and all(isinstance(r, str) for r in m["roles"]), m
    assert "communication_disabled_until" in m, m
    if m["communication_disabled_until"] is not None:
        parse_ts(m["communication_disabled_until"])


class World(SimpleNamespace):
    def roles(self) -> list[dict]:
        return ok(self.owner.get(f"/guilds/{self.gid}/roles"))

    def role(self, role_id: str) -> dict:
        return ok(self.owner.get(f"/guilds/{self.gid}/roles/{role_id}"))

    def member(self, user_id: str) -> dict:
        return ok(self.owner.get(f"/guilds/{self.gid}/members/{user_id}"))

    def new_role(self, name: str, permissions: int = 0, **extra) -> dict:
        return ok(self.owner.post(f"/guilds/{self.gid}/roles",
                                  {"name": name, "permissions": str(permissions), **extra}))

    def give(self, user_id: str, role_id: str) -> None:
        ok(self.owner.put(f"/guilds/{self.gid}/members/{user_id}/roles/{role_id}"), 204)

    def bot(self, name: str, permissions="0") -> Api:
        return make_bot(self.owner, self.gid, name, permissions)

    def audit(self, **params) -> list[dict]:
        return ok(self.owner.get(f"/guilds/{self.gid}/audit-logs", params=params))[
            "audit_log_entries"]

    def bans(self) -> list[dict]:
        return ok(self.owner.get(f"/guilds/{self.gid}/bans"))


@pytest.fixture(scope="module")
def world(server):
    w = World()
    w.server = server
    w.owner = new_user(server, "owner")
    w.guild = w.owner.create_guild("Moderation Guild")
    w.gid = w.guild["id"]
    w.general = w.guild["system_channel_id"]
    w.mod_role = w.new_role("Mod", MOD_PERMS)
    w.mod = w.bot("Mod Bot")
    w.peer = w.bot("Peer Bot")
    w.give(w.mod.user_id, w.mod_role["id"])
    w.give(w.peer.user_id, w.mod_role["id"])
    w.senior_role = w.new_role("Senior", MOD_PERMS)
    mod_pos = w.role(w.mod_role["id"])["position"]
    ok(w.owner.patch(f"/guilds/{w.gid}/roles", [{"id": w.senior_role["id"], "position": mod_pos}]))
    w.senior = w.bot("Senior Bot")
    w.give(w.senior.user_id, w.senior_role["id"])
    w.plain = w.bot("Plain Bot")
    w.outsider = new_user(server, "outsider")
    assert w.role(w.senior_role["id"])["position"] > w.role(w.mod_role["id"])["position"]
    return w


def positions_dense(roles: list[dict]) -> None:
    by_pos = sorted(r["position"] for r in roles)
    assert by_pos == list(range(len(roles))), [(r["name"], r["position"]) for r in roles]


# --------------------------------------------------------------------------- gateway client


class Gw:
    """A small gateway client: IDENTIFY, then collect dispatches and wait for some."""

    def __init__(self, server, api: Api, intents: int = BOT_INTENTS):
        self.url = f"ws://127.0.0.1:{server.port}/gateway?v=10&encoding=json"
        self.api = api
        self.intents = intents
        self.seen: list[dict] = []  # every dispatch, in order
        self.ws = None

    async def __aenter__(self) -> "Gw":
        self.ws = await asyncio.wait_for(
            websockets.connect(self.url, max_size=None, max_queue=None, compression=None,
                               ping_interval=None, close_timeout=2), 5)
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
        assert hello["op"] == 10, hello
        ident = {"token": self.api.token, "properties": {"os": "linux", "browser": "e2e",
                                                          "device": "e2e"}}
        if self.api.bot:
            ident["intents"] = self.intents
        await self.ws.send(json.dumps({"op": 2, "d": ident}))
        ready = await self.wait("READY")
        for g in ready["guilds"]:
            await self.wait("GUILD_CREATE", lambda d, gid=g["id"]: d["id"] == gid)
        return self

    async def __aexit__(self, *exc):
        try:
            await asyncio.wait_for(self.ws.close(), 3)
        except Exception:
            self.ws.transport.abort()

    async def wait(self, t: str, pred=lambda d: True, timeout: float = 5.0) -> dict:
        """The next dispatch of type t satisfying pred (earlier ones are kept in seen)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            try:
                frame = await asyncio.wait_for(self.ws.recv(), max(left, 0.01))
            except asyncio.TimeoutError:
                raise AssertionError(f"{self.api}: no {t} within {timeout} s; saw "
                                     f"{[p['t'] for p in self.seen]}") from None
            p = json.loads(frame)
            if p["op"] != 0:
                continue
            self.seen.append(p)
            if p["t"] == t and pred(p["d"]):
                return p["d"]

    def types(self) -> list[str]:
        return [p["t"] for p in self.seen]


def run(coro, budget: float = 30.0):
    return asyncio.run(asyncio.wait_for(coro, budget))


async def in_thread(fn, *args, **kw):
    """Runs a blocking REST call off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args, **kw))


# --------------------------------------------------------------------------- roles: reads


def test_roles_list_and_get(world):
    roles = world.roles()
    for r in roles:
        check_role(r)
    everyone = roles[0]
    assert everyone["id"] == world.gid and everyone["name"] == "@everyone"
    assert everyone["position"] == 0 and everyone["permissions"] == str(DEFAULT_EVERYONE)
    assert [r["position"] for r in roles] == sorted(r["position"] for r in roles)
    positions_dense(roles)
    # a member without permissions reads them too, and one at a time
    assert ok(world.plain.get(f"/guilds/{world.gid}/roles")) == roles
    assert ok(world.plain.get(f"/guilds/{world.gid}/roles/{world.mod_role['id']}")) == \
        [r for r in roles if r["id"] == world.mod_role["id"]][0]


def test_roles_read_errors(world):
    err(world.outsider.get(f"/guilds/{world.gid}/roles"), 403, 50001, "Missing Access")
    err(world.outsider.get(f"/guilds/{world.gid}/roles/{world.gid}"), 403, 50001)
    err(world.owner.get(f"/guilds/{UNKNOWN_ID}/roles"), 404, 10004, "Unknown Guild")
    err(world.owner.get(f"/guilds/{world.gid}/roles/{UNKNOWN_ID}"), 404, 10011, "Unknown Role")
    # another guild's role is unknown here
    other = world.outsider.create_guild("Other Guild")
    err(world.owner.get(f"/guilds/{world.gid}/roles/{other['id']}"), 404, 10011)
    form_err(world.owner.get(f"/guilds/{world.gid}/roles/abc"), "role_id", "NUMBER_TYPE_COERCE")


# --------------------------------------------------------------------------- roles: create


def test_role_create_defaults_and_shift(world):
    before = world.roles()
    r = ok(world.owner.post(f"/guilds/{world.gid}/roles", {}))
    check_role(r)
    assert r["name"] == "new role" and r["position"] == 1
    assert r["permissions"] == world.role(world.gid)["permissions"]
    assert (r["color"], r["hoist"], r["mentionable"], r["managed"]) == (0, False, False, False)
    assert "tags" not in r
    after = world.roles()
    assert len(after) == len(before) + 1
    positions_dense(after)
    # every other role moved up one, keeping its order
    old = {x["id"]: x["position"] for x in before}
    for x in after:
        if x["id"] in old:
            assert x["position"] == old[x["id"]] + (1 if old[x["id"]] >= 1 else 0), x
    # an empty body is {}
    r2 = ok(world.owner.request("POST", f"/guilds/{world.gid}/roles"))
    assert r2["name"] == "new role" and r2["position"] == 1


def test_role_create_fields(world):
    r = ok(world.owner.post(f"/guilds/{world.gid}/roles",
                            {"name": "Colourful ✓", "permissions": str(MANAGE_MESSAGES),
                             "color": 0x3498DB, "hoist": True, "mentionable": True}))
    check_role(r)
    assert (r["name"], r["permissions"], r["color"], r["hoist"], r["mentionable"]) == \
        ("Colourful ✓", str(MANAGE_MESSAGES), 0x3498DB, True, True)
    assert world.role(r["id"]) == r
    # integers are accepted for permissions; unknown bits are dropped
    r = ok(world.owner.post(f"/guilds/{world.gid}/roles",
                            {"name": "Int perms", "permissions": (1 << 60) | KICK_MEMBERS}))
    assert r["permissions"] == str(KICK_MEMBERS)
    # 100 characters is the limit
    ok(world.owner.post(f"/guilds/{world.gid}/roles", {"name": "é" * 100}))


@pytest.mark.parametrize("body,field,code", [
    ({"name": ""}, "name", "BASE_TYPE_BAD_LENGTH"),
    ({"name": "x" * 101}, "name", "BASE_TYPE_BAD_LENGTH"),
    ({"name": 5}, "name", "BASE_TYPE_STRING"),
    ({"color": -1}, "color", "NUMBER_TYPE_MIN"),
    ({"color": 0x1000000}, "color", "NUMBER_TYPE_MAX"),
    ({"hoist": "yes"}, "hoist", "BASE_TYPE_BOOLEAN"),
    ({"mentionable": 1}, "mentionable", "BASE_TYPE_BOOLEAN"),
    ({"permissions": "lots"}, "permissions", "NUMBER_TYPE_COERCE"),
    ({"permissions": -4}, "permissions", "NUMBER_TYPE_COERCE"),
])
def test_role_create_validation(world, body, field, code):
    before = world.roles()
    form_err(world.owner.post(f"/guilds/{world.gid}/roles", body), field, code)
    assert world.roles() == before


def test_role_create_refusals(world):
    before = world.roles()
    r = world.owner.request("POST", f"/guilds/{world.gid}/roles", data=b"{nope")
    err(r, 400, 50109)
    err(world.outsider.post(f"/guilds/{world.gid}/roles", {"name": "x"}), 403, 50001)
    err(world.owner.post(f"/guilds/{UNKNOWN_ID}/roles", {"name": "x"}), 404, 10004)
    # no MANAGE_ROLES
    err(world.plain.post(f"/guilds/{world.gid}/roles", {"name": "x"}), 403, 50013,
        "Missing Permissions")
    # the moderator may not grant what it does not hold
    for perms in (ADMINISTRATOR, MANAGE_GUILD, MOD_PERMS | MANAGE_GUILD):
        err(world.mod.post(f"/guilds/{world.gid}/roles", {"name": "x", "permissions": str(perms)}),
            403, 50013)
    assert world.roles() == before
    # ... but may create one with what it holds; it lands below the moderator's role
    r = ok(world.mod.post(f"/guilds/{world.gid}/roles",
                          {"name": "Helper", "permissions": str(KICK_MEMBERS | SEND_MESSAGES)}))
    assert r["position"] == 1
    assert world.role(world.mod_role["id"])["position"] > 1


def test_role_create_by_member_with_manage_roles_but_no_role(world):
    """MANAGE_ROLES from @everyone alone: the new role would be above the actor."""
    srv_owner = new_user(world.server, "solo")
    g = srv_owner.create_guild("Solo Guild")
    everyone = ok(srv_owner.get(f"/guilds/{g['id']}/roles/{g['id']}"))
    bot = make_bot(srv_owner, g["id"], "Solo Bot")
    ok(srv_owner.patch(f"/guilds/{g['id']}/roles/{g['id']}",
                       {"permissions": str(int(everyone["permissions"]) | MANAGE_ROLES)}))
    before = ok(srv_owner.get(f"/guilds/{g['id']}/roles"))
    err(bot.post(f"/guilds/{g['id']}/roles", {"name": "mine"}), 403, 50013)
    assert ok(srv_owner.get(f"/guilds/{g['id']}/roles")) == before


def test_role_limit(server_factory):
    srv = server_factory()
    owner = new_user(srv, "limits")
    g = owner.create_guild("Many Roles")
    for i in range(249):
        ok(owner.post(f"/guilds/{g['id']}/roles", {"name": f"r{i}"}))
    roles = ok(owner.get(f"/guilds/{g['id']}/roles"))
    assert len(roles) == 250
    positions_dense(roles)
    err(owner.post(f"/guilds/{g['id']}/roles", {"name": "one too many"}), 400, 30005)
    assert len(ok(owner.get(f"/guilds/{g['id']}/roles"))) == 250


# --------------------------------------------------------------------------- roles: edit


def test_role_edit(world):
    r = world.new_role("Editable", SEND_MESSAGES)
    out = ok(world.owner.patch(f"/guilds/{world.gid}/roles/{r['id']}",
                               {"name": "Edited", "color": 255, "hoist": True,
                                "mentionable": True, "permissions": str(KICK_MEMBERS)}))
    check_role(out)
    assert (out["name"], out["color"], out["hoist"], out["mentionable"], out["permissions"]) == \
        ("Edited", 255, True, True, str(KICK_MEMBERS))
    assert out["position"] == world.role(r["id"])["position"]
    assert world.role(r["id"]) == out
    # absent fields stay; null is absent
    out2 = ok(world.owner.patch(f"/guilds/{world.gid}/roles/{r['id']}",
                                {"color": 7, "name": None}))
    assert out2["name"] == "Edited" and out2["color"] == 7 and out2["hoist"] is True


def test_role_colors_object(world):
    """`colors {primary_color, ...}`, the only form discord.js 14.19+ sends, sets the colour;
    it wins over `color`; secondary and tertiary colours are ignored (no enhanced colours)."""
    base = f"/guilds/{world.gid}/roles"
    r = ok(world.owner.post(base, {"name": "Colors", "colors": {
        "primary_color": 0x3498DB, "secondary_color": None, "tertiary_color": None}}))
    check_role(r)
    assert r["color"] == 0x3498DB and world.role(r["id"]) == r
    out = ok(world.owner.patch(f"{base}/{r['id']}", {"color": 1, "colors": {
        "primary_color": 0xE91E63, "secondary_color": 0x00FF00}}))
    check_role(out)  # secondary_color stays null
    assert out["color"] == 0xE91E63 and world.role(r["id"]) == out
    # colors without primary_color, or null, changes nothing (but `color` still applies)
    assert ok(world.owner.patch(f"{base}/{r['id']}", {"colors": {}}))["color"] == 0xE91E63
    assert ok(world.owner.patch(f"{base}/{r['id']}", {"colors": None, "color": 5}))["color"] == 5
    before = world.roles()
    for body, field, code in (
            ({"colors": 5}, "colors", "MODEL_TYPE_CONVERT"),
            ({"colors": {"primary_color": "red"}}, "colors.primary_color", "NUMBER_TYPE_COERCE"),
            ({"colors": {"primary_color": -1}}, "colors.primary_color", "NUMBER_TYPE_MIN"),
            ({"colors": {"primary_color": 1 << 24}}, "colors.primary_color", "NUMBER_TYPE_MAX"),
            ({"color": -1, "colors": {"primary_color": 1}}, "color", "NUMBER_TYPE_MIN")):
        form_err(world.owner.post(base, {"name": "bad", **body}), field, code)
        form_err(world.owner.patch(f"{base}/{r['id']}", body), field, code)
    assert world.roles() == before


def test_role_edit_validation_and_refusals(world):
    low = world.new_role("Low", MANAGE_GUILD)  # holds a permission the moderator lacks
    base = f"/guilds/{world.gid}/roles"
    before = world.roles()
    form_err(world.owner.patch(f"{base}/{low['id']}", {"name": ""}), "name",
             "BASE_TYPE_BAD_LENGTH")
    form_err(world.owner.patch(f"{base}/{low['id']}", {"color": 1 << 24}), "color",
             "NUMBER_TYPE_MAX")
    err(world.owner.patch(f"{base}/{low['id']}", data=b"[]"), 400, 50109)
    err(world.owner.patch(f"{base}/{UNKNOWN_ID}", {"name": "x"}), 404, 10011)
    err(world.outsider.patch(f"{base}/{low['id']}", {"name": "x"}), 403, 50001)
    err(world.plain.patch(f"{base}/{low['id']}", {"name": "x"}), 403, 50013)
    # hierarchy: its own top role, an equal's, and one above are out of reach
    for role in (world.mod_role, world.senior_role):
        err(world.mod.patch(f"{base}/{role['id']}", {"color": 1}), 403, 50013)
    # adding a permission the moderator lacks, to a role below it
    err(world.mod.patch(f"{base}/{low['id']}",
                        {"permissions": str(MANAGE_GUILD | ADMINISTRATOR)}), 403, 50013)
    # @everyone keeps its name
    err(world.owner.patch(f"{base}/{world.gid}", {"name": "everyone else"}), 403, 50013)
    assert world.roles() == before
    # ... what the moderator may do: edit below, keeping a permission it lacks
    out = ok(world.mod.patch(f"{base}/{low['id']}", {"color": 9,
                                                     "permissions": str(MANAGE_GUILD)}))
    assert out["color"] == 9 and out["permissions"] == str(MANAGE_GUILD)
    out = ok(world.mod.patch(f"{base}/{low['id']}", {"permissions": str(KICK_MEMBERS)}))
    assert out["permissions"] == str(KICK_MEMBERS)
    # @everyone: its own name is accepted, its permissions are editable
    everyone = world.role(world.gid)
    out = ok(world.owner.patch(f"{base}/{world.gid}", {"name": "@everyone",
                                                       "permissions": everyone["permissions"]}))
    assert out == everyone


# --------------------------------------------------------------------------- roles: delete


def test_role_delete(world):
    victim = world.bot("Role Holder")
    r = world.new_role("Doomed", SEND_MESSAGES)
    world.give(victim.user_id, r["id"])
    assert r["id"] in world.member(victim.user_id)["roles"]
    before = world.roles()
    ok(world.owner.delete(f"/guilds/{world.gid}/roles/{r['id']}",
                          headers=reason_header("cleanup")), 204)
    err(world.owner.get(f"/guilds/{world.gid}/roles/{r['id']}"), 404, 10011)
    after = world.roles()
    assert [x["id"] for x in after] == [x["id"] for x in before if x["id"] != r["id"]]
    positions_dense(after)
    assert r["id"] not in world.member(victim.user_id)["roles"]
    err(world.owner.delete(f"/guilds/{world.gid}/roles/{r['id']}"), 404, 10011)
    entry = world.audit(action_type=ROLE_DELETE, limit=1)[0]
    assert entry["target_id"] == r["id"] and entry["reason"] == "cleanup"
    assert {"key": "name", "old_value": "Doomed"} in entry["changes"]


def test_role_delete_refusals(world):
    managed_bot = world.bot("Managed Bot", SEND_MESSAGES)
    managed = [r for r in world.roles() if (r.get("tags") or {}).get("bot_id") ==
               managed_bot.user_id]
    assert len(managed) == 1 and managed[0]["managed"] is True
    low = world.new_role("Low Delete")
    before = world.roles()
    base = f"/guilds/{world.gid}/roles"
    err(world.owner.delete(f"{base}/{world.gid}"), 403, 50013)  # @everyone
    err(world.owner.delete(f"{base}/{managed[0]['id']}"), 403, 50013)  # managed
    err(world.mod.delete(f"{base}/{world.mod_role['id']}"), 403, 50013)  # its own top
    err(world.mod.delete(f"{base}/{world.senior_role['id']}"), 403, 50013)  # above
    err(world.plain.delete(f"{base}/{low['id']}"), 403, 50013)  # no MANAGE_ROLES
    err(world.outsider.delete(f"{base}/{low['id']}"), 403, 50001)
    assert world.roles() == before
    ok(world.mod.delete(f"{base}/{low['id']}"), 204)


# --------------------------------------------------------------------------- roles: move


def test_role_positions(world):
    a, b, c = (world.new_role(n) for n in ("PosA", "PosB", "PosC"))
    # created in order, each at 1: C=1, B=2, A=3
    pos = {r["id"]: r["position"] for r in world.roles()}
    assert (pos[c["id"]], pos[b["id"]], pos[a["id"]]) == (1, 2, 3)
    out = ok(world.owner.patch(f"/guilds/{world.gid}/roles",
                               [{"id": c["id"], "position": 3}],
                               headers=reason_header("reorder")))
    assert out == world.roles()
    positions_dense(out)
    pos = {r["id"]: r["position"] for r in out}
    assert (pos[b["id"]], pos[a["id"]], pos[c["id"]]) == (1, 2, 3)
    entry = world.audit(action_type=ROLE_UPDATE, limit=1)[0]
    assert entry["target_id"] == c["id"] and entry["reason"] == "reorder"
    assert entry["changes"] == [{"key": "position", "old_value": 1, "new_value": 3}]
    # @everyone may be listed at 0; a role without a position stays
    out = ok(world.owner.patch(f"/guilds/{world.gid}/roles",
                               [{"id": world.gid, "position": 0}, {"id": a["id"]}]))
    assert {r["id"]: r["position"] for r in out} == pos
    # the moderator moves roles below its own
    out = ok(world.mod.patch(f"/guilds/{world.gid}/roles", [{"id": b["id"], "position": 3}]))
    pos = {r["id"]: r["position"] for r in out}
    assert (pos[a["id"]], pos[c["id"]], pos[b["id"]]) == (1, 2, 3)


def test_role_positions_refusals(world):
    low = world.new_role("Mover")
    base = f"/guilds/{world.gid}/roles"
    before = world.roles()
    mod_pos = world.role(world.mod_role["id"])["position"]
    senior_pos = world.role(world.senior_role["id"])["position"]
    # moving a role to the moderator's level or above, or moving one from up there
    err(world.mod.patch(base, [{"id": low["id"], "position": mod_pos}]), 403, 50013)
    err(world.mod.patch(base, [{"id": low["id"], "position": senior_pos + 1}]), 403, 50013)
    err(world.mod.patch(base, [{"id": world.senior_role["id"], "position": 1}]), 403, 50013)
    err(world.mod.patch(base, [{"id": world.mod_role["id"], "position": 1}]), 403, 50013)
    err(world.owner.patch(base, [{"id": world.gid, "position": 2}]), 403, 50013)
    err(world.plain.patch(base, [{"id": low["id"], "position": 2}]), 403, 50013)
    err(world.outsider.patch(base, [{"id": low["id"], "position": 2}]), 403, 50001)
    err(world.owner.patch(base, [{"id": UNKNOWN_ID, "position": 2}]), 404, 10011)
    body = form_err(world.owner.patch(base, {"id": low["id"], "position": 2}))
    assert body["errors"]["_errors"][0]["code"] == "BASE_TYPE_ARRAY", body
    form_err(world.owner.patch(base, [{"position": 2}]), "0.id", "BASE_TYPE_REQUIRED")
    form_err(world.owner.patch(base, [{"id": "x", "position": 2}]), "0.id", "NUMBER_TYPE_COERCE")
    form_err(world.owner.patch(base, [{"id": low["id"], "position": "2"}]), "0.position",
             "NUMBER_TYPE_COERCE")
    form_err(world.owner.patch(base, [{"id": low["id"], "position": -1}]), "0.position",
             "NUMBER_TYPE_MIN")
    form_err(world.owner.patch(base, [low["id"]]), "0", "MODEL_TYPE_CONVERT")
    err(world.owner.patch(base, data=b"[{"), 400, 50109)
    assert world.roles() == before


# --------------------------------------------------------------------------- members: reads


def test_member_list_search_get(world):
    g = f"/guilds/{world.gid}/members"
    one = ok(world.plain.get(g))
    assert len(one) == 1  # limit defaults to 1
    everyone = ok(world.plain.get(g, params={"limit": 1000}))
    ids = [m["user"]["id"] for m in everyone]
    assert ids == sorted(ids, key=int) and one[0]["user"]["id"] == ids[0]
    for uid in (world.owner.user_id, world.mod.user_id, world.plain.user_id):
        assert uid in ids
    for m in everyone:
        check_member(m, m["user"]["id"])
    page = ok(world.plain.get(g, params={"limit": 2, "after": ids[0]}))
    assert [m["user"]["id"] for m in page] == ids[1:3]
    mod = ok(world.plain.get(f"{g}/{world.mod.user_id}"))
    check_member(mod, world.mod.user_id)
    assert mod["roles"] == [world.mod_role["id"]]
    assert mod == [m for m in everyone if m["user"]["id"] == world.mod.user_id][0]
    # search: username prefix, case-insensitive
    found = ok(world.plain.get(f"{g}/search", params={"query": world.plain.username[:6].upper(),
                                                       "limit": 1000}))
    assert world.plain.user_id in [m["user"]["id"] for m in found]
    assert ok(world.plain.get(f"{g}/search", params={"query": "zzzz-nobody"})) == []


def test_member_read_errors(world):
    g = f"/guilds/{world.gid}/members"
    err(world.outsider.get(g), 403, 50001)
    err(world.outsider.get(f"{g}/search", params={"query": "a"}), 403, 50001)
    err(world.outsider.get(f"{g}/{world.owner.user_id}"), 403, 50001)
    err(world.owner.get(f"/guilds/{UNKNOWN_ID}/members"), 404, 10004)
    err(world.owner.delete(f"/guilds/{UNKNOWN_ID}/members/{world.plain.user_id}"), 404, 10004)
    err(world.owner.patch(f"/guilds/{UNKNOWN_ID}/members/{world.plain.user_id}", {"nick": "x"}),
        404, 10004)
    err(world.owner.get(f"{g}/{world.outsider.user_id}"), 404, 10007, "Unknown Member")
    err(world.owner.get(f"{g}/{UNKNOWN_ID}"), 404, 10007)
    form_err(world.owner.get(g, params={"limit": 0}), "limit", "NUMBER_TYPE_MIN")
    form_err(world.owner.get(g, params={"limit": 1001}), "limit", "NUMBER_TYPE_MAX")
    form_err(world.owner.get(g, params={"after": "x"}), "after", "NUMBER_TYPE_COERCE")
    form_err(world.owner.get(f"{g}/search"), "query", "BASE_TYPE_REQUIRED")
    form_err(world.owner.get(f"{g}/search", params={"query": "a", "limit": 1001}), "limit")


# --------------------------------------------------------------------------- nicknames


def test_nick_by_moderator(world):
    target = world.bot("Nick Target")
    path = f"/guilds/{world.gid}/members/{target.user_id}"
    m = ok(world.mod.patch(path, {"nick": "Nicky ✓"}, headers=reason_header("rename – ok")))
    check_member(m, target.user_id)
    assert m["nick"] == "Nicky ✓" and world.member(target.user_id)["nick"] == "Nicky ✓"
    entry = world.audit(action_type=MEMBER_UPDATE, limit=1)[0]
    assert entry["user_id"] == world.mod.user_id and entry["target_id"] == target.user_id
    assert entry["changes"] == [{"key": "nick", "old_value": None, "new_value": "Nicky ✓"}]
    assert entry["reason"] == "rename – ok"
    # null and "" clear it
    assert ok(world.mod.patch(path, {"nick": None}))["nick"] is None
    ok(world.mod.patch(path, {"nick": "again"}))
    assert ok(world.mod.patch(path, {"nick": ""}))["nick"] is None
    # 32 is the limit
    assert ok(world.mod.patch(path, {"nick": "n" * 32}))["nick"] == "n" * 32
    form_err(world.mod.patch(path, {"nick": "n" * 33}), "nick", "BASE_TYPE_MAX_LENGTH")
    form_err(world.mod.patch(path, {"nick": 3}), "nick", "BASE_TYPE_STRING")
    assert world.member(target.user_id)["nick"] == "n" * 32


def test_nick_refusals(world):
    g = f"/guilds/{world.gid}/members"
    snapshot = {u: world.member(u)["nick"] for u in
                (world.owner.user_id, world.peer.user_id, world.senior.user_id,
                 world.mod.user_id)}
    err(world.plain.patch(f"{g}/{world.mod.user_id}", {"nick": "x"}), 403, 50013)
    for target in (world.owner, world.peer, world.senior):
        err(world.mod.patch(f"{g}/{target.user_id}", {"nick": "x"}), 403, 50013)
    err(world.outsider.patch(f"{g}/{world.mod.user_id}", {"nick": "x"}), 403, 50001)
    err(world.mod.patch(f"{g}/{world.outsider.user_id}", {"nick": "x"}), 404, 10007)
    assert {u: world.member(u)["nick"] for u in snapshot} == snapshot


def test_nick_of_oneself(world):
    me = world.bot("Self Namer")
    m = ok(me.patch(f"/guilds/{world.gid}/members/@me", {"nick": "Me Myself"}))
    assert m["nick"] == "Me Myself" and m["user"]["id"] == me.user_id
    # @me only changes the nickname
    m = ok(me.patch(f"/guilds/{world.gid}/members/@me",
                    {"nick": "Me", "roles": [world.mod_role["id"]],
                     "communication_disabled_until": iso_in(60)}))
    assert m["nick"] == "Me" and m["roles"] == [] and m["communication_disabled_until"] is None
    # the owner too, though nobody else may
    assert ok(world.owner.patch(f"/guilds/{world.gid}/members/@me",
                                {"nick": "Boss"}))["nick"] == "Boss"
    err(world.outsider.patch(f"/guilds/{world.gid}/members/@me", {"nick": "x"}), 403, 50001)
    # without CHANGE_NICKNAME (taken from @everyone for a moment) oneself is refused
    everyone = world.role(world.gid)
    try:
        ok(world.owner.patch(f"/guilds/{world.gid}/roles/{world.gid}",
                             {"permissions": str(int(everyone["permissions"]) &
                                                 ~CHANGE_NICKNAME)}))
        err(me.patch(f"/guilds/{world.gid}/members/@me", {"nick": "Nope"}), 403, 50013)
        assert world.member(me.user_id)["nick"] == "Me"
        # MANAGE_NICKNAMES does it as well
        ok(world.mod.patch(f"/guilds/{world.gid}/members/@me", {"nick": "Moddy"}))
    finally:
        ok(world.owner.patch(f"/guilds/{world.gid}/roles/{world.gid}",
                             {"permissions": everyone["permissions"]}))


# --------------------------------------------------------------------------- member roles


def test_member_roles_patch(world):
    target = world.bot("Role Target")
    low1, low2 = world.new_role("Low One"), world.new_role("Low Two")
    path = f"/guilds/{world.gid}/members/{target.user_id}"
    m = ok(world.mod.patch(path, {"roles": [low1["id"], low2["id"], low1["id"], world.gid]},
                           headers=reason_header("promote")))
    assert sorted(m["roles"]) == sorted([low1["id"], low2["id"]])
    entry = world.audit(action_type=MEMBER_ROLE_UPDATE, limit=1)[0]
    assert entry["target_id"] == target.user_id and entry["reason"] == "promote"
    added = [c for c in entry["changes"] if c["key"] == "$add"][0]["new_value"]
    assert sorted(added, key=lambda r: r["id"]) == sorted(
        [{"id": low1["id"], "name": "Low One"}, {"id": low2["id"], "name": "Low Two"}],
        key=lambda r: r["id"])
    m = ok(world.mod.patch(path, {"roles": [low2["id"]]}))
    assert m["roles"] == [low2["id"]]
    entry = world.audit(action_type=MEMBER_ROLE_UPDATE, limit=1)[0]
    assert entry["changes"] == [{"key": "$remove", "new_value": [{"id": low1["id"],
                                                                   "name": "Low One"}]}]
    assert world.member(target.user_id)["roles"] == [low2["id"]]


def test_member_roles_refusals(world):
    target = world.bot("Role Refused")
    managed_bot = world.bot("Managed Two", SEND_MESSAGES)
    managed = [r for r in world.roles()
               if (r.get("tags") or {}).get("bot_id") == managed_bot.user_id][0]
    low = world.new_role("Low Three")
    g = f"/guilds/{world.gid}/members"
    path = f"{g}/{target.user_id}"
    before = world.member(target.user_id)
    err(world.plain.patch(path, {"roles": [low["id"]]}), 403, 50013)
    for role in (world.mod_role, world.senior_role, managed):
        err(world.mod.patch(path, {"roles": [role["id"]]}), 403, 50013)
    err(world.owner.patch(path, {"roles": [managed["id"]]}), 403, 50013)
    err(world.mod.patch(path, {"roles": [UNKNOWN_ID]}), 404, 10011)
    form_err(world.mod.patch(path, {"roles": ["x"]}), "roles.0",
             "NUMBER_TYPE_COERCE")
    form_err(world.mod.patch(path, {"roles": "x"}), "roles", "BASE_TYPE_ARRAY")
    # members at or above the moderator, and the owner
    for who in (world.peer, world.senior, world.owner):
        err(world.mod.patch(f"{g}/{who.user_id}", {"roles": [low["id"]]}), 403, 50013)
    # taking a bot's managed role away by omission
    err(world.owner.patch(f"{g}/{managed_bot.user_id}", {"roles": []}), 403, 50013)
    assert world.member(target.user_id) == before
    assert world.member(managed_bot.user_id)["roles"] == [managed["id"]]


def test_member_role_put_delete(world):
    target = world.bot("Put Target")
    low = world.new_role("Put Role")
    path = f"/guilds/{world.gid}/members/{target.user_id}/roles/{low['id']}"
    ok(world.mod.put(path, headers=reason_header("give")), 204)
    assert world.member(target.user_id)["roles"] == [low["id"]]
    entry = world.audit(action_type=MEMBER_ROLE_UPDATE, limit=1)[0]
    assert entry["changes"] == [{"key": "$add", "new_value": [{"id": low["id"],
                                                                "name": "Put Role"}]}]
    count = len(world.audit(action_type=MEMBER_ROLE_UPDATE, limit=100))
    ok(world.mod.put(path), 204)  # again: nothing to do, nothing logged
    assert len(world.audit(action_type=MEMBER_ROLE_UPDATE, limit=100)) == count
    ok(world.mod.delete(path), 204)
    assert world.member(target.user_id)["roles"] == []
    ok(world.mod.delete(path), 204)
    # a member may give itself a role below its own
    ok(world.mod.put(f"/guilds/{world.gid}/members/{world.mod.user_id}/roles/{low['id']}"), 204)
    assert low["id"] in world.member(world.mod.user_id)["roles"]
    ok(world.mod.delete(f"/guilds/{world.gid}/members/{world.mod.user_id}/roles/{low['id']}"),
       204)


def test_member_role_put_refusals(world):
    target = world.bot("Put Refused")
    low = world.new_role("Put Low")
    g = f"/guilds/{world.gid}/members"
    base = f"{g}/{target.user_id}/roles"
    err(world.mod.put(f"{base}/{world.gid}"), 404, 10011)
    err(world.mod.put(f"{base}/{UNKNOWN_ID}"), 404, 10011)
    err(world.mod.put(f"{g}/{world.outsider.user_id}/roles/{low['id']}"), 404, 10007)
    err(world.plain.put(f"{base}/{low['id']}"), 403, 50013)
    err(world.outsider.put(f"{base}/{low['id']}"), 403, 50001)
    err(world.mod.put(f"{base}/{world.mod_role['id']}"), 403, 50013)
    err(world.mod.put(f"{base}/{world.senior_role['id']}"), 403, 50013)
    err(world.mod.put(f"{g}/{world.owner.user_id}/roles/{low['id']}"), 403, 50013)
    err(world.mod.put(f"{g}/{world.peer.user_id}/roles/{low['id']}"), 403, 50013)
    err(world.mod.delete(f"{g}/{world.peer.user_id}/roles/{world.mod_role['id']}"), 403, 50013)
    err(world.outsider.delete(f"{base}/{low['id']}"), 403, 50001)
    err(world.owner.put(f"/guilds/{UNKNOWN_ID}/members/{target.user_id}/roles/{low['id']}"),
        404, 10004)
    assert world.member(target.user_id)["roles"] == []
    assert world.member(world.peer.user_id)["roles"] == [world.mod_role["id"]]


def test_role_grants_and_takes_permissions(world):
    """A role's permissions apply at once, and stop when the role is taken."""
    target = world.bot("Cleaner")
    cleaner = world.new_role("Cleaner", MANAGE_MESSAGES)
    msg = world.owner.send(world.general, "clean me up")
    err(target.delete(f"/channels/{world.general}/messages/{msg['id']}"), 403, 50013)
    world.give(target.user_id, cleaner["id"])
    ok(target.delete(f"/channels/{world.general}/messages/{msg['id']}"), 204)
    ok(world.owner.delete(f"/guilds/{world.gid}/members/{target.user_id}/roles/{cleaner['id']}"),
       204)
    msg = world.owner.send(world.general, "stay")
    err(target.delete(f"/channels/{world.general}/messages/{msg['id']}"), 403, 50013)


# --------------------------------------------------------------------------- timeouts


def test_timeout_blocks_sending_until_it_ends(world):
    target = world.bot("Timed Out")
    path = f"/guilds/{world.gid}/members/{target.user_id}"
    target.send(world.general, "before the timeout")
    until = datetime.now(timezone.utc) + timedelta(seconds=2)
    m = ok(world.mod.patch(path, {"communication_disabled_until": until.isoformat()},
                           headers=reason_header("cool down")))
    assert abs(parse_ts(m["communication_disabled_until"]) - until) < timedelta(milliseconds=2)
    assert world.member(target.user_id)["communication_disabled_until"] == \
        m["communication_disabled_until"]
    err(target.post(f"/channels/{world.general}/messages", {"content": "muted?"}), 403, 50013)
    # it still reads
    history = target.history(world.general, limit=5)
    assert any(h["content"] == "before the timeout" for h in history)
    ok(target.get(f"/channels/{world.general}/messages/{history[0]['id']}"))
    entry = world.audit(action_type=MEMBER_UPDATE, limit=1)[0]
    assert entry["target_id"] == target.user_id and entry["reason"] == "cool down"
    assert entry["changes"][0]["key"] == "communication_disabled_until"
    assert entry["changes"][0]["old_value"] is None
    # the end restores it
    time.sleep(max(0.0, (until - datetime.now(timezone.utc)).total_seconds()) + 0.3)
    target.send(world.general, "free again")


def test_timeout_clear_and_formats(world):
    target = world.bot("Timeout Formats")
    path = f"/guilds/{world.gid}/members/{target.user_id}"
    z = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.123Z")
    m = ok(world.mod.patch(path, {"communication_disabled_until": z}))
    assert m["communication_disabled_until"].endswith(".123000+00:00")
    err(target.post(f"/channels/{world.general}/messages", {"content": "x"}), 403, 50013)
    assert ok(world.mod.patch(path, {"communication_disabled_until": None}))[
        "communication_disabled_until"] is None
    target.send(world.general, "cleared")
    # a time in the past clears too
    ok(world.mod.patch(path, {"communication_disabled_until": iso_in(3600)}))
    m = ok(world.mod.patch(path, {"communication_disabled_until": "2020-01-01T00:00:00+00:00"}))
    assert m["communication_disabled_until"] is None
    # 28 days is the limit
    ok(world.mod.patch(path, {"communication_disabled_until": iso_in(28 * 86400 - 60)}))
    ok(world.mod.patch(path, {"communication_disabled_until": None}))


def test_timeout_refusals(world):
    target = world.bot("Timeout Refused")
    admin = world.bot("Admin Bot", ADMINISTRATOR)
    g = f"/guilds/{world.gid}/members"
    path = f"{g}/{target.user_id}"
    form_err(world.mod.patch(path, {"communication_disabled_until": iso_in(28 * 86400 + 3600)}),
             "communication_disabled_until", "DATE_TOO_FAR")
    for bad in ("tomorrow", "2026-13-01T00:00:00Z", 5, "2026-01-01"):
        form_err(world.mod.patch(path, {"communication_disabled_until": bad}),
                 "communication_disabled_until", "DATE_TIME_TYPE_PARSE")
    err(world.plain.patch(path, {"communication_disabled_until": iso_in(60)}), 403, 50013)
    for who in (world.owner, world.peer, world.senior, world.mod):
        err(world.mod.patch(f"{g}/{who.user_id}", {"communication_disabled_until": iso_in(60)}),
            403, 50013)
    # not even the owner times out an administrator
    err(world.owner.patch(f"{g}/{admin.user_id}", {"communication_disabled_until": iso_in(60)}),
        403, 50013)
    for who in (target, world.peer, world.senior, admin):
        assert world.member(who.user_id)["communication_disabled_until"] is None
    target.send(world.general, "never timed out")


# --------------------------------------------------------------------------- kicks and leaving


def test_kick(world):
    target = world.bot("Kicked Bot")
    count = len(ok(world.owner.get(f"/guilds/{world.gid}/members", params={"limit": 1000})))
    ok(world.mod.delete(f"/guilds/{world.gid}/members/{target.user_id}",
                        headers=reason_header("bye")), 204)
    err(world.owner.get(f"/guilds/{world.gid}/members/{target.user_id}"), 404, 10007)
    assert len(ok(world.owner.get(f"/guilds/{world.gid}/members",
                                  params={"limit": 1000}))) == count - 1
    err(target.get(f"/guilds/{world.gid}"), 403, 50001)
    err(target.post(f"/channels/{world.general}/messages", {"content": "x"}), 403, 50001)
    assert world.gid not in [g["id"] for g in ok(target.get("/users/@me/guilds"))]
    entry = world.audit(action_type=MEMBER_KICK, limit=1)[0]
    assert (entry["user_id"], entry["target_id"], entry["reason"]) == \
        (world.mod.user_id, target.user_id, "bye")
    err(world.mod.delete(f"/guilds/{world.gid}/members/{target.user_id}"), 404, 10007)
    # the kicked bot can be added again
    ok(authorize(world.owner, target.app["id"], world.gid))
    ok(target.get(f"/guilds/{world.gid}"))


def test_kick_refusals(world):
    g = f"/guilds/{world.gid}/members"
    target = world.bot("Not Kicked")
    for who in (world.owner, world.peer, world.senior, world.mod):
        err(world.mod.delete(f"{g}/{who.user_id}"), 403, 50013)
    err(world.plain.delete(f"{g}/{target.user_id}"), 403, 50013)
    err(world.outsider.delete(f"{g}/{target.user_id}"), 403, 50001)
    err(world.owner.delete(f"{g}/{world.outsider.user_id}"), 404, 10007)
    err(world.owner.delete(f"{g}/{world.owner.user_id}"), 403, 50013)
    for who in (world.owner, world.peer, world.senior, world.mod, target):
        world.member(who.user_id)


def test_kick_removes_managed_role(world):
    bot = world.bot("Managed Kick", SEND_MESSAGES)
    role = [r for r in world.roles() if (r.get("tags") or {}).get("bot_id") == bot.user_id][0]
    ok(world.owner.delete(f"/guilds/{world.gid}/members/{bot.user_id}"), 204)
    err(world.owner.get(f"/guilds/{world.gid}/roles/{role['id']}"), 404, 10011)
    positions_dense(world.roles())


def test_leave(world):
    bot = world.bot("Leaver")
    ok(bot.delete(f"/users/@me/guilds/{world.gid}"), 204)
    err(bot.get(f"/guilds/{world.gid}"), 403, 50001)
    err(world.owner.get(f"/guilds/{world.gid}/members/{bot.user_id}"), 404, 10007)
    err(bot.delete(f"/users/@me/guilds/{world.gid}"), 404, 10004)
    err(world.outsider.delete(f"/users/@me/guilds/{world.gid}"), 404, 10004)
    err(world.owner.delete(f"/users/@me/guilds/{UNKNOWN_ID}"), 404, 10004)
    err(world.owner.delete(f"/users/@me/guilds/{world.gid}"), 400, 50055)
    ok(world.owner.get(f"/guilds/{world.gid}"))
    assert world.member(world.owner.user_id)["user"]["id"] == world.owner.user_id


# --------------------------------------------------------------------------- bans


def test_ban_member(world):
    target = world.bot("Banned Bot")
    side = world.owner.create_channel(world.gid, "side")
    mine = [target.send(world.general, f"spam {i}")["id"] for i in range(3)]
    mine.append(target.send(side["id"], "side spam")["id"])
    keep = world.owner.send(world.general, "owner stays")["id"]
    ok(world.mod.put(f"/guilds/{world.gid}/bans/{target.user_id}",
                     {"delete_message_seconds": 3600}, headers=reason_header("spam bot ✓")), 204)
    ban = ok(world.mod.get(f"/guilds/{world.gid}/bans/{target.user_id}"))
    assert ban["reason"] == "spam bot ✓" and ban["user"]["id"] == target.user_id
    assert ban in world.bans()
    # the banned bot loses everything
    err(target.get(f"/guilds/{world.gid}"), 403, 50001)
    err(target.get(f"/channels/{world.general}"), 403, 50001)
    err(target.get(f"/channels/{world.general}/messages"), 403, 50001)
    err(target.post(f"/channels/{world.general}/messages", {"content": "x"}), 403, 50001)
    err(target.get(f"/guilds/{world.gid}/members"), 403, 50001)
    err(world.owner.get(f"/guilds/{world.gid}/members/{target.user_id}"), 404, 10007)
    # and cannot be added back while banned
    err(authorize(world.owner, target.app["id"], world.gid), 403, 40007)
    # its recent messages went; others' stayed
    left = [m["id"] for m in world.owner.history(world.general, limit=100)]
    assert not set(mine) & set(left) and keep in left
    assert world.owner.history(side["id"]) == []
    entry = world.audit(action_type=MEMBER_BAN_ADD, limit=1)[0]
    assert (entry["user_id"], entry["target_id"], entry["reason"]) == \
        (world.mod.user_id, target.user_id, "spam bot ✓")
    # banning again changes nothing
    ok(world.mod.put(f"/guilds/{world.gid}/bans/{target.user_id}"), 204)
    assert ok(world.mod.get(f"/guilds/{world.gid}/bans/{target.user_id}")) == ban
    # unban: the row goes and the bot may be added again
    ok(world.mod.delete(f"/guilds/{world.gid}/bans/{target.user_id}",
                        headers=reason_header("second chance")), 204)
    err(world.mod.get(f"/guilds/{world.gid}/bans/{target.user_id}"), 404, 10026, "Unknown Ban")
    assert target.user_id not in [b["user"]["id"] for b in world.bans()]
    entry = world.audit(action_type=MEMBER_BAN_REMOVE, limit=1)[0]
    assert entry["target_id"] == target.user_id and entry["reason"] == "second chance"
    err(world.mod.delete(f"/guilds/{world.gid}/bans/{target.user_id}"), 404, 10026)
    ok(authorize(world.owner, target.app["id"], world.gid))
    ok(target.get(f"/guilds/{world.gid}"))


def test_ban_keeps_messages_by_default_and_non_members(world):
    target = world.bot("Quiet Ban")
    msg = target.send(world.general, "this stays")
    ok(world.owner.put(f"/guilds/{world.gid}/bans/{target.user_id}"), 204)
    assert ok(world.owner.get(f"/channels/{world.general}/messages/{msg['id']}"))["id"] == msg["id"]
    # someone who never joined can be banned, and then cannot join
    stranger = make_bot(world.owner, None, "Stranger Bot")
    ok(world.mod.put(f"/guilds/{world.gid}/bans/{stranger.user_id}", {}), 204)
    assert ok(world.owner.get(f"/guilds/{world.gid}/bans/{stranger.user_id}"))["reason"] is None
    err(authorize(world.owner, stranger.app["id"], world.gid), 403, 40007)
    ok(world.mod.put(f"/guilds/{world.gid}/bans/{world.outsider.user_id}"), 204)
    ok(world.mod.delete(f"/guilds/{world.gid}/bans/{world.outsider.user_id}"), 204)


def test_ban_refusals(world):
    g = f"/guilds/{world.gid}/bans"
    target = world.bot("Not Banned")
    before = world.bans()
    for who in (world.owner, world.peer, world.senior, world.mod):
        err(world.mod.put(f"{g}/{who.user_id}"), 403, 50013)
    err(world.plain.put(f"{g}/{target.user_id}"), 403, 50013)
    err(world.outsider.put(f"{g}/{target.user_id}"), 403, 50001)
    err(world.mod.put(f"{g}/{UNKNOWN_ID}"), 404, 10013)
    form_err(world.mod.put(f"{g}/{target.user_id}", {"delete_message_seconds": 604801}),
             "delete_message_seconds", "NUMBER_TYPE_MAX")
    form_err(world.mod.put(f"{g}/{target.user_id}", {"delete_message_seconds": -1}),
             "delete_message_seconds", "NUMBER_TYPE_MIN")
    form_err(world.mod.put(f"{g}/{target.user_id}", {"delete_message_seconds": "1"}),
             "delete_message_seconds", "NUMBER_TYPE_COERCE")
    err(world.mod.put(f"{g}/{target.user_id}", data=b"{x"), 400, 50109)
    assert world.bans() == before
    world.member(target.user_id)
    # reading bans needs BAN_MEMBERS too
    err(world.plain.get(g), 403, 50013)
    err(world.plain.get(f"{g}/{target.user_id}"), 403, 50013)
    err(world.outsider.get(g), 403, 50001)
    err(world.plain.delete(f"{g}/{target.user_id}"), 403, 50013)
    err(world.outsider.get(f"{g}/{target.user_id}"), 403, 50001)
    err(world.outsider.delete(f"{g}/{target.user_id}"), 403, 50001)
    err(world.mod.get(f"{g}/{target.user_id}"), 404, 10026)
    err(world.owner.get(f"/guilds/{UNKNOWN_ID}/bans"), 404, 10004)
    err(world.owner.put(f"/guilds/{UNKNOWN_ID}/bans/{target.user_id}"), 404, 10004)


def test_ban_list_paging(world):
    banned = sorted((make_bot(world.owner, None, f"Paged {i}") for i in range(4)),
                    key=lambda b: int(b.user_id))
    for b in banned:
        ok(world.owner.put(f"/guilds/{world.gid}/bans/{b.user_id}"), 204)
    ids = [b["user"]["id"] for b in world.bans()]
    assert ids == sorted(ids, key=int)
    mine = [b.user_id for b in banned]
    assert [i for i in ids if i in mine] == mine
    g = f"/guilds/{world.gid}/bans"
    after = [b["user"]["id"] for b in ok(world.owner.get(g, params={"after": mine[0],
                                                                     "limit": 2}))]
    assert after == [i for i in ids if int(i) > int(mine[0])][:2]
    before = [b["user"]["id"] for b in ok(world.owner.get(g, params={"before": mine[3],
                                                                      "limit": 2}))]
    assert before == [i for i in ids if int(i) < int(mine[3])][-2:]
    form_err(world.owner.get(g, params={"limit": 1001}), "limit", "NUMBER_TYPE_MAX")
    for b in banned:
        ok(world.owner.delete(f"{g}/{b.user_id}"), 204)


# --------------------------------------------------------------------------- audit log


def test_audit_log_shape_and_filters(world):
    role = ok(world.owner.post(f"/guilds/{world.gid}/roles", {"name": "Audited"},
                               headers=reason_header("new – role")))
    ok(world.owner.patch(f"/guilds/{world.gid}/roles/{role['id']}", {"name": "Audited 2"},
                         headers={"X-Audit-Log-Reason": "plain ascii"}))
    log = ok(world.mod.get(f"/guilds/{world.gid}/audit-logs"))
    assert set(log) >= {"audit_log_entries", "users", "integrations", "threads", "webhooks",
                        "auto_moderation_rules", "application_commands",
                        "guild_scheduled_events"}
    entries = log["audit_log_entries"]
    assert len(entries) == min(50, len(entries)) and entries
    assert [int(e["id"]) for e in entries] == sorted((int(e["id"]) for e in entries),
                                                     reverse=True)
    for e in entries:
        assert_snowflake(e["id"])
        assert isinstance(e["action_type"], int)
    users = {u["id"] for u in log["users"]}
    assert {e["user_id"] for e in entries if e["user_id"]} <= users
    update = [e for e in entries if e["target_id"] == role["id"] and
              e["action_type"] == ROLE_UPDATE][0]
    assert update["changes"] == [{"key": "name", "old_value": "Audited",
                                  "new_value": "Audited 2"}]
    assert update["reason"] == "plain ascii" and update["user_id"] == world.owner.user_id
    create = [e for e in entries if e["target_id"] == role["id"] and
              e["action_type"] == ROLE_CREATE][0]
    assert {"key": "name", "new_value": "Audited"} in create["changes"]
    assert create["reason"] == "new – role"
    bare = world.new_role("Unreasoned")
    assert "reason" not in world.audit(action_type=ROLE_CREATE, limit=1)[0], bare
    # BOT_ADD from the OAuth2 flow
    bot = world.bot("Audited Bot")
    entry = world.audit(action_type=BOT_ADD, limit=1)[0]
    assert entry["target_id"] == bot.user_id and entry["user_id"] == world.owner.user_id
    # filters
    by_owner = world.audit(user_id=world.owner.user_id, limit=100)
    assert by_owner and all(e["user_id"] == world.owner.user_id for e in by_owner)
    assert all(e["action_type"] == ROLE_CREATE for e in world.audit(action_type=ROLE_CREATE))
    assert len(world.audit(limit=2)) == 2
    newest = world.audit(limit=3)
    older = world.audit(before=newest[0]["id"], limit=2)
    assert [e["id"] for e in older] == [e["id"] for e in newest[1:3]]
    newer = world.audit(after=newest[2]["id"], limit=2)
    assert [e["id"] for e in newer] == [newest[1]["id"], newest[0]["id"]]


def test_audit_log_refusals(world):
    path = f"/guilds/{world.gid}/audit-logs"
    err(world.plain.get(path), 403, 50013)
    err(world.outsider.get(path), 403, 50001)
    err(world.owner.get(f"/guilds/{UNKNOWN_ID}/audit-logs"), 404, 10004)
    form_err(world.owner.get(path, params={"limit": 0}), "limit", "NUMBER_TYPE_MIN")
    form_err(world.owner.get(path, params={"limit": 101}), "limit", "NUMBER_TYPE_MAX")
    form_err(world.owner.get(path, params={"user_id": "me"}), "user_id", "NUMBER_TYPE_COERCE")
    form_err(world.owner.get(path, params={"action_type": "kick"}), "action_type",
             "NUMBER_TYPE_COERCE")


def test_audit_reason_is_decoded_and_bounded(world):
    role = world.new_role("Reasoned")
    long = "é" * 600
    ok(world.owner.patch(f"/guilds/{world.gid}/roles/{role['id']}", {"color": 3},
                         headers=reason_header(long)))
    entry = world.audit(action_type=ROLE_UPDATE, limit=1)[0]
    assert entry["target_id"] == role["id"] and entry["reason"] == "é" * 512


# --------------------------------------------------------------------------- gateway


def test_gateway_role_events(world):
    async def body():
        async with Gw(world.server, world.owner) as owner, Gw(world.server, world.plain) as plain:
            role = await in_thread(world.new_role, "Gateway Role", SEND_MESSAGES)
            for gw in (owner, plain):
                d = await gw.wait("GUILD_ROLE_CREATE", lambda d: d["role"]["id"] == role["id"])
                assert d == {"guild_id": world.gid, "role": role}
                # every role moved up one
                await gw.wait("GUILD_ROLE_UPDATE",
                              lambda d: d["role"]["id"] == world.mod_role["id"])
            edited = await in_thread(lambda: ok(world.owner.patch(
                f"/guilds/{world.gid}/roles/{role['id']}", {"name": "Gateway Role 2"})))
            for gw in (owner, plain):
                d = await gw.wait("GUILD_ROLE_UPDATE", lambda d: d["role"]["id"] == role["id"])
                assert d == {"guild_id": world.gid, "role": edited}
            await in_thread(lambda: ok(world.owner.delete(
                f"/guilds/{world.gid}/roles/{role['id']}"), 204))
            for gw in (owner, plain):
                d = await gw.wait("GUILD_ROLE_DELETE", lambda d: d["role_id"] == role["id"])
                assert d == {"guild_id": world.gid, "role_id": role["id"]}
    run(body())


def test_gateway_member_update(world):
    target = world.bot("Gateway Nick")

    async def body():
        async with Gw(world.server, world.owner) as owner, \
                Gw(world.server, target, intents=1) as tgw, Gw(world.server, world.plain) as plain:
            m = await in_thread(lambda: ok(world.mod.patch(
                f"/guilds/{world.gid}/members/{target.user_id}", {"nick": "Seen"})))
            for gw in (owner, plain, tgw):  # the member itself even without GUILD_MEMBERS
                d = await gw.wait("GUILD_MEMBER_UPDATE",
                                  lambda d: d["user"]["id"] == target.user_id)
                assert d == dict(m, guild_id=world.gid)
            low = await in_thread(world.new_role, "Gateway Low")
            await in_thread(world.give, target.user_id, low["id"])
            d = await owner.wait("GUILD_MEMBER_UPDATE", lambda d: d["user"]["id"] == target.user_id)
            assert d["roles"] == [low["id"]] and d["nick"] == "Seen"
    run(body())


def test_gateway_ban_and_kick(world):
    banned = world.bot("Gateway Banned")
    kicked = world.bot("Gateway Kicked")

    async def body():
        async with Gw(world.server, world.owner) as owner, Gw(world.server, world.mod) as mod, \
                Gw(world.server, world.plain) as plain, Gw(world.server, banned) as bgw, \
                Gw(world.server, kicked) as kgw:
            await in_thread(lambda: ok(world.mod.put(
                f"/guilds/{world.gid}/bans/{banned.user_id}"), 204))
            for gw in (owner, mod, plain):
                d = await gw.wait("GUILD_MEMBER_REMOVE",
                                  lambda d: d["user"]["id"] == banned.user_id)
                assert d["guild_id"] == world.gid and d["user"]["username"] == banned.username
            for gw in (owner, mod):
                d = await gw.wait("GUILD_BAN_ADD", lambda d: d["user"]["id"] == banned.user_id)
                assert d["guild_id"] == world.gid
            assert await bgw.wait("GUILD_DELETE") == {"id": world.gid}
            await in_thread(lambda: ok(world.mod.delete(
                f"/guilds/{world.gid}/members/{kicked.user_id}"), 204))
            assert await kgw.wait("GUILD_DELETE") == {"id": world.gid}
            for gw in (owner, mod, plain):
                await gw.wait("GUILD_MEMBER_REMOVE", lambda d: d["user"]["id"] == kicked.user_id)
            # GUILD_BAN_ADD reached moderators only: the plain member saw the later removal
            # but never the ban, and the banned and kicked sessions heard nothing more
            assert "GUILD_BAN_ADD" not in plain.types()
            await in_thread(lambda: ok(world.mod.delete(
                f"/guilds/{world.gid}/bans/{banned.user_id}"), 204))
            d = await mod.wait("GUILD_BAN_REMOVE", lambda d: d["user"]["id"] == banned.user_id)
            assert d["guild_id"] == world.gid
            marker = await in_thread(world.new_role, "Gateway Marker")
            await plain.wait("GUILD_ROLE_CREATE", lambda d: d["role"]["id"] == marker["id"])
            assert "GUILD_BAN_REMOVE" not in plain.types()
            # audit entries reach VIEW_AUDIT_LOG holders only
            assert "GUILD_AUDIT_LOG_ENTRY_CREATE" not in plain.types()
            kick_entry = [p["d"] for p in mod.seen if p["t"] == "GUILD_AUDIT_LOG_ENTRY_CREATE" and
                          p["d"]["action_type"] == MEMBER_KICK]
            assert kick_entry and kick_entry[0]["target_id"] == kicked.user_id
            assert kick_entry[0]["guild_id"] == world.gid
            for gw in (bgw, kgw):
                assert gw.types()[-1] == "GUILD_DELETE", gw.types()
    run(body())


def test_gateway_ban_deletes_messages(world):
    target = world.bot("Gateway Spammer")
    side = world.owner.create_channel(world.gid, "gw-side")
    many = [target.send(world.general, f"spam {i}")["id"] for i in range(3)]
    one = target.send(side["id"], "side")["id"]

    async def body():
        async with Gw(world.server, world.owner) as owner:
            await in_thread(lambda: ok(world.owner.put(
                f"/guilds/{world.gid}/bans/{target.user_id}", {"delete_message_seconds": 600}),
                204))
            d = await owner.wait("MESSAGE_DELETE_BULK", lambda d: d["channel_id"] == world.general)
            assert d == {"ids": many, "channel_id": world.general, "guild_id": world.gid}
            d = await owner.wait("MESSAGE_DELETE", lambda d: d["channel_id"] == side["id"])
            assert d == {"id": one, "channel_id": side["id"], "guild_id": world.gid}
    run(body())
    assert world.owner.history(side["id"]) == []
