"""discord.js v14 against a real hearthd, over REST: the library's own managers (message
history with pagination, replies with allowed mentions, edits, deletes, reactions, pins,
roles, permission overwrites, bans, threads, DMs), what its objects say, the errors it
raises for refused requests, and its handling of Hearth's rate-limit headers.

The node side is tests/e2e/discordjs/rest.cjs (discord.js pinned by package-lock.json); it
prints one JSON line per step. The module fixture `tour` sets the world up over REST and runs
the script once; each test checks one area: what discord.js reported, then the server's state
re-read with the harness's Api. The rate-limit test runs its own server with limits on.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest

from harness import DEFAULT_EVERYONE, Api, err, new_user, ok

JS_DIR = Path(__file__).parent / "discordjs"

# Discord's permission bits (spec/client-api.md §7).
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
ADD_REACTIONS = 1 << 6
VIEW_AUDIT_LOG = 1 << 7
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
MANAGE_ROLES = 1 << 28
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38

# What the bot is authorised with: everything its tour does, but not KICK_MEMBERS,
# ADMINISTRATOR or MENTION_EVERYONE, whose absence the tour runs into on purpose.
BOT_PERMISSIONS = (BAN_MEMBERS | ADD_REACTIONS | VIEW_AUDIT_LOG | VIEW_CHANNEL | SEND_MESSAGES
                   | MANAGE_MESSAGES | READ_MESSAGE_HISTORY | MANAGE_ROLES | MANAGE_THREADS
                   | CREATE_PUBLIC_THREADS | CREATE_PRIVATE_THREADS | SEND_MESSAGES_IN_THREADS)

THUMBS = "\N{THUMBS UP SIGN}"


def run_node(server, bot_token: str, mode: str, config: dict, timeout: float = 60) -> tuple:
    """Run rest.cjs; return ({step: data}, the steps in order, a trace for messages)."""
    assert shutil.which("node") and (JS_DIR / "node_modules" / "discord.js").is_dir(), \
        "node and tests/e2e/discordjs/node_modules are needed: `make test` installs them"
    env = dict(os.environ, HEARTH_BASE=server.base_url, BOT_TOKEN=bot_token, MODE=mode,
               CONFIG=json.dumps(config))
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(k, None)
    proc = subprocess.run(["node", str(JS_DIR / "rest.cjs")], env=env, capture_output=True,
                          text=True, timeout=timeout)
    steps = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    trace = f"exit {proc.returncode}\nsteps: {steps}\nstderr: {proc.stderr[-3000:]}"
    assert proc.returncode == 0 and steps and steps[-1]["step"] == "done", trace
    return {s["step"]: s for s in steps}, steps, trace


def make_bot(owner: Api, guild_id: str, permissions: int) -> tuple[dict, str]:
    app = ok(owner.post("/applications", {"name": "djs rest bot"}), 201)
    token = ok(owner.post(f"/applications/{app['id']}/bot/reset"))["token"]
    ok(owner.post(f"/oauth2/authorize?client_id={app['id']}&scope=bot",
                  {"guild_id": guild_id, "permissions": str(permissions), "authorize": True}))
    return app, token


def join(owner: Api, channel_id: str, *users: Api) -> None:
    code = ok(owner.post(f"/channels/{channel_id}/invites", {"max_age": 0}))["code"]
    for u in users:
        ok(u.post(f"/invites/{code}"))


def react_url(channel_id: str, message_id: str, emoji: str, rest: str = "/@me") -> str:
    return f"/channels/{channel_id}/messages/{message_id}/reactions/{quote(emoji)}{rest}"


def audit(owner: Api, guild_id: str, action: int) -> list[dict]:
    return ok(owner.get(f"/guilds/{guild_id}/audit-logs",
                        params={"action_type": action}))["audit_log_entries"]


def check_refused(got: dict, status: int, code: int, method: str, path: str):
    """discord.js threw its DiscordAPIError carrying Hearth's status, code and request."""
    assert got["threw"], f"not refused: {got}"
    assert got["isDiscordAPIError"], got
    assert got["name"] == f"DiscordAPIError[{code}]", got
    assert (got["code"], got["status"], got["method"]) == (code, status, method), got
    assert got["path"].split("?")[0] == path, got
    assert got["raw"]["code"] == code and got["message"].startswith(got["raw"]["message"]), got


@pytest.fixture(scope="module")
def tour(server):
    """The world the bot is pointed at, and the steps of one run of rest.cjs in it."""
    w = SimpleNamespace()
    w.alice = alice = new_user(server, "djsr_alice")
    w.bob = bob = new_user(server, "djsr_bob")
    w.carol = carol = new_user(server, "djsr_carol")
    guild = alice.create_guild("discord.js REST guild")
    w.gid = gid = guild["id"]
    w.general = general = guild["system_channel_id"]
    join(alice, general, bob, carol)
    w.history = alice.create_channel(gid, "history")["id"]
    w.locked = alice.create_channel(gid, "locked")["id"]
    w.hist_ids = [alice.send(w.history, f"h{i}")["id"] for i in range(7)]
    w.target = alice.send(general, "ping from alice")["id"]
    ok(alice.put(react_url(general, w.target, THUMBS)), 204)
    w.delete_target = alice.send(general, "delete me")["id"]
    w.carol_msg = carol.send(general, "carol spam")["id"]
    w.app, token = make_bot(alice, gid, BOT_PERMISSIONS)
    w.bot_id = w.app["bot"]["id"]
    w.by, steps, w.trace = run_node(server, token, "main", {
        "guild": gid, "general": general, "history": w.history, "locked": w.locked,
        "target": w.target, "deleteTarget": w.delete_target,
        "alice": alice.user_id, "bob": bob.user_id, "carol": carol.user_id})
    w.errors = {s["step"]: s["error"] for s in steps if "error" in s}
    return w


def step(w, name: str) -> dict:
    """One step's data; fails with what discord.js threw if the step threw."""
    assert name in w.by, f"step {name} did not run\n{w.trace}"
    got = w.by[name]
    assert "error" not in got, f"step {name} threw: {json.dumps(got, indent=1)}"
    return got


def test_every_step_ran_without_error(tour):
    assert not tour.errors, f"steps that threw: {json.dumps(tour.errors, indent=1)}\n{tour.trace}"
    assert tour.by["ready"]["user"] == tour.bot_id and tour.by["ready"]["guilds"] == 1


def test_guild_and_members(tour):
    # guild, members
    w = tour
    g = step(w, "guild")
    managed = [r for r in ok(w.alice.get(f"/guilds/{w.gid}/roles")) if r["managed"]]
    assert len(managed) == 1 and managed[0]["tags"] == {"bot_id": w.bot_id}, managed
    assert (g["id"], g["name"], g["ownerId"]) == (w.gid, "discord.js REST guild", w.alice.user_id)
    assert set(g["roles"]) == {w.gid, managed[0]["id"]}, g
    assert g["everyone"] == str(DEFAULT_EVERYONE), g
    # discord.js lists @everyone among a member's roles.
    assert g["me"] == w.bot_id and sorted(g["myRoles"]) == sorted([w.gid, managed[0]["id"]]), g
    assert g["myPermissions"] == str(DEFAULT_EVERYONE | BOT_PERMISSIONS), g
    assert g["botRole"] == managed[0]["id"], g  # found through the role's tags.bot_id
    assert g["tag"] == w.app["bot"]["username"], g  # discriminator "0": the tag is the name
    everyone = [w.alice.user_id, w.bob.user_id, w.carol.user_id, w.bot_id]
    assert g["listed"] == sorted(everyone, key=int), g
    assert g["bob"]["id"] == w.bob.user_id and g["bob"]["username"] == w.bob.username, g
    member = ok(w.alice.get(f"/guilds/{w.gid}/members/{w.bob.user_id}"))
    assert g["bob"]["joinedAt"][:23] == member["joined_at"][:23], (g, member)


def test_history_pagination(tour):
    # history with pagination: pages of 3 going back with `before`, then after/around
    w = tour
    h = step(w, "history")
    assert (h["channel"], h["name"], h["type"]) == (w.history, "history", 0), h
    assert h["lastMessageId"] == w.hist_ids[-1], h
    assert h["pages"] == [["h6", "h5", "h4"], ["h3", "h2", "h1"], ["h0"]], h
    assert h["after"] == ["h2", "h1"], h  # the oldest two after h0, newest first
    assert h["around"] == ["h4", "h3", "h2"], h
    one = h["one"]
    assert (one["id"], one["content"], one["author"]) == (w.hist_ids[3], "h3", w.alice.user_id)
    assert (one["channelId"], one["guildId"]) == (w.history, w.gid), one


def test_reply_with_allowed_mentions(tour):
    # a reply with allowed mentions: bob (listed), alice (replied_user), not carol, and
    # no @everyone (the bot lacks MENTION_EVERYONE)
    w = tour
    rp = step(w, "reply")
    assert rp["isReply"] and rp["type"] == 19 and rp["author"] == w.bot_id, rp
    assert rp["content"] == f"hi <@{w.bob.user_id}> <@{w.carol.user_id}> @everyone", rp
    assert rp["reference"] == {"channelId": w.general, "guildId": w.gid, "messageId": w.target,
                               "type": 0}, rp
    assert rp["referenced"] == {"id": w.target, "content": "ping from alice"}, rp
    assert rp["mentionedUsers"] == sorted([w.alice.user_id, w.bob.user_id]), rp
    assert rp["mentionedMembers"] == rp["mentionedUsers"], rp  # from mentions[].member
    assert rp["repliedUser"] == w.alice.user_id and rp["everyone"] is False, rp
    # (the stored message is checked after the edit below, which re-resolves its mentions)
    stored = ok(w.alice.get(f"/channels/{w.general}/messages/{rp['id']}"))
    assert stored["mention_everyone"] is False and stored["type"] == 19, stored
    assert stored["referenced_message"]["id"] == w.target, stored


def test_edit(tour):
    # edit
    w = tour
    rp, ed = step(w, "reply"), step(w, "edit")
    assert ed["id"] == rp["id"] and ed["content"] == "edited reply", ed
    assert ed["edited"] and ed["editedAfterCreate"] and ed["type"] == 19, ed
    stored = ok(w.alice.get(f"/channels/{w.general}/messages/{rp['id']}"))
    assert stored["content"] == "edited reply" and stored["edited_timestamp"], stored
    # the reply's ping of alice stays; bob, no longer in the content, is gone
    assert [u["id"] for u in stored["mentions"]] == [w.alice.user_id], stored


def test_reactions(tour):
    # reactions: alice's 👍 plus the bot's; the bot's 🎉 added and removed again
    w = tour
    rx = step(w, "react")
    assert rx["emoji"] == THUMBS and rx["reactions"] == [THUMBS], rx
    assert rx["count"] == 2 and rx["me"] is True, rx
    assert rx["users"] == sorted([w.alice.user_id, w.bot_id]), rx
    stored = ok(w.alice.get(f"/channels/{w.general}/messages/{w.target}"))
    assert [(r["emoji"]["name"], r["count"], r["me"]) for r in stored["reactions"]] == \
        [(THUMBS, 2, True)], stored
    who = ok(w.alice.get(react_url(w.general, w.target, THUMBS, "")))
    assert sorted(u["id"] for u in who) == rx["users"], who


def test_pin(tour):
    # pin
    w = tour
    pn = step(w, "pin")
    assert pn["pinned"] is True and pn["hasMore"] is False, pn
    assert [p["id"] for p in pn["pins"]] == [w.target], pn
    assert pn["notice"] == {"type": 6, "isPinNotice": True, "author": w.bot_id, "system": True,
                            "reference": w.target}, pn
    pins = ok(w.alice.get(f"/channels/{w.general}/messages/pins"))
    assert [i["message"]["id"] for i in pins["items"]] == [w.target], pins
    assert pins["items"][0]["pinned_at"][:23] == pn["pins"][0]["pinnedAt"][:23], (pins, pn)
    pin_audit = audit(w.alice, w.gid, 74)
    # newest first: the reply, pinned without a reason in the "undo" step, then the target
    assert [(e["user_id"], e["target_id"], e.get("reason")) for e in pin_audit] == \
        [(w.bot_id, w.bot_id, None), (w.bot_id, w.alice.user_id, "pinned by discord.js")], pin_audit


def test_deletes(tour):
    # deletes: its own message, and alice's with MANAGE_MESSAGES
    w = tour
    dl = step(w, "delete")
    assert dl["gone"]["threw"] and (dl["gone"]["code"], dl["gone"]["status"]) == (10008, 404), dl
    err(w.alice.get(f"/channels/{w.general}/messages/{dl['mine']}"), 404, 10008)
    err(w.alice.get(f"/channels/{w.general}/messages/{w.delete_target}"), 404, 10008)


def test_role(tour):
    # role: created with its fields, given to bob, renamed, mentioned
    w = tour
    rl = step(w, "role")
    c = rl["created"]
    assert (c["name"], c["color"], c["hoist"], c["mentionable"], c["managed"]) == \
        ("djs role", 0x3498DB, True, True, False), c
    assert c["permissions"] == str(SEND_MESSAGES | ADD_REACTIONS) and c["position"] == 1, c
    assert sorted(rl["bobRoles"]) == sorted([w.gid, c["id"]]) and rl["renamed"] == "djs role 2", rl
    assert rl["fetched"] == {"id": c["id"], "name": "djs role 2",
                             "permissions": str(SEND_MESSAGES | ADD_REACTIONS),
                             "color": 0xE91E63, "hexColor": "#e91e63"}, rl
    assert rl["ping"]["roles"] == [c["id"]], rl
    role = ok(w.alice.get(f"/guilds/{w.gid}/roles/{c['id']}"))
    assert (role["name"], role["permissions"], role["color"], role["hoist"]) == \
        ("djs role 2", str(SEND_MESSAGES | ADD_REACTIONS), 0xE91E63, True), role
    assert role["colors"] == {"primary_color": 0xE91E63, "secondary_color": None,
                              "tertiary_color": None}, role
    assert ok(w.alice.get(f"/guilds/{w.gid}/members/{w.bob.user_id}"))["roles"] == [c["id"]]
    created = audit(w.alice, w.gid, 30)
    assert [(e["target_id"], e["user_id"], e["reason"]) for e in created] == \
        [(c["id"], w.bot_id, "made by discord.js ✓")], created
    given = audit(w.alice, w.gid, 25)
    assert [(e["target_id"], e["reason"]) for e in given] == \
        [(w.bob.user_id, "given by discord.js")], given


def test_permission_overwrites(tour):
    # overwrites: the role denied sending and allowed reacting, bob denied reacting
    w = tour
    c, ow = step(w, "role")["created"], step(w, "overwrite")
    assert sorted(ow["overwrites"], key=lambda o: int(o["id"])) == sorted([
        {"id": c["id"], "type": 0, "allow": str(ADD_REACTIONS), "deny": str(SEND_MESSAGES)},
        {"id": w.bob.user_id, "type": 1, "allow": "0", "deny": str(ADD_REACTIONS)},
    ], key=lambda o: int(o["id"])), ow
    assert ow["bobCan"] == {"view": True, "send": False, "react": False}, ow
    chan = ok(w.alice.get(f"/channels/{w.locked}"))
    def rows(overwrites):
        return sorted((o["id"], o["type"], o["allow"], o["deny"]) for o in overwrites)
    assert rows(chan["permission_overwrites"]) == rows(ow["overwrites"]), chan
    # What discord.js computed is what the server enforces.
    err(w.bob.post(f"/channels/{w.locked}/messages", {"content": "can I?"}), 403, 50013)
    probe = w.alice.send(w.locked, "react to me")
    err(w.bob.put(react_url(w.locked, probe["id"], THUMBS)), 403, 50013)
    # Newest first: alice's (the "undo" step below), bob's (no reason given), the role's.
    assert [(e["options"]["id"], e.get("reason")) for e in audit(w.alice, w.gid, 13)] == \
        [(w.alice.user_id, None), (w.bob.user_id, None), (c["id"], "overwrite by discord.js")]


def test_ban_and_unban(tour):
    # ban (its messages purged) and unban
    w = tour
    bn = step(w, "ban")
    assert bn["ban"] == {"user": w.carol.user_id, "reason": "spam"}, bn
    assert bn["listed"] == [w.carol.user_id] and bn["listedAfter"] == [], bn
    a = bn["afterUnban"]
    assert a["threw"] and (a["code"], a["status"]) == (10026, 404), bn
    assert ok(w.alice.get(f"/guilds/{w.gid}/bans")) == []
    err(w.alice.get(f"/guilds/{w.gid}/members/{w.carol.user_id}"), 404, 10007)
    err(w.alice.get(f"/channels/{w.general}/messages/{w.carol_msg}"), 404, 10008)
    for action, reason in ((22, "spam"), (23, "forgiven")):  # MEMBER_BAN_ADD, _REMOVE
        assert [(e["target_id"], e["reason"]) for e in audit(w.alice, w.gid, action)] == \
            [(w.carol.user_id, reason)]


def test_threads(tour):
    # threads
    w = tour
    rl, th = step(w, "role"), step(w, "thread")
    t = th["thread"]
    assert (t["type"], t["name"], t["parentId"], t["ownerId"], t["guildId"]) == \
        (11, "djs thread", w.general, w.bot_id, w.gid), t
    assert t["archived"] is False and t["autoArchiveDuration"] == 60, t
    assert th["posted"]["channelId"] == t["id"] and th["posted"]["content"] == "in the thread"
    assert th["again"]["messageCount"] == 1 and th["again"]["memberCount"] == 1, th
    assert th["again"]["locked"] is False and th["again"]["lastMessageId"] == th["posted"]["id"]
    assert th["again"]["createdAt"][:23] == \
        ok(w.alice.get(f"/channels/{t['id']}"))["thread_metadata"]["create_timestamp"][:23], th
    assert th["members"] == [w.bot_id], th
    fm = th["fromMessage"]
    assert fm == {"id": rl["ping"]["id"], "type": 11, "parentId": w.general,
                  "name": "from a message"}, th
    assert th["second"]["channelId"] == fm["id"], th
    assert th["hasThread"] is True and th["threadOfMessage"] == fm["id"], th
    pv = th["private"]
    assert (pv["type"], pv["invitable"]) == (12, False), pv
    assert pv["members"] == sorted([w.bot_id, w.bob.user_id]), pv
    stored = ok(w.alice.get(f"/channels/{t['id']}"))
    assert (stored["type"], stored["owner_id"], stored["message_count"]) == (11, w.bot_id, 1)
    assert [m["content"] for m in w.alice.history(t["id"])] == ["in the thread"]
    assert [m["content"] for m in w.alice.history(fm["id"])] == ["under the message"]
    assert ok(w.bob.get(f"/channels/{pv['id']}"))["type"] == 12  # bob was added: he sees it


def test_dm(tour):
    # DM
    w = tour
    dm = step(w, "dm")
    assert dm["user"] == {"id": w.bob.user_id, "username": w.bob.username, "bot": False}, dm
    assert dm["dm"]["type"] == 1 and dm["dm"]["recipientId"] == w.bob.user_id, dm
    assert dm["dm"]["recipient"] == w.bob.username, dm
    assert dm["sent"] == {"id": dm["sent"]["id"], "channelId": dm["dm"]["id"],
                          "content": "hello bob", "guildId": None}, dm
    assert dm["history"] == ["hello bob"], dm
    bobs_dms = ok(w.bob.get("/users/@me/channels"))
    assert [(d["id"], [r["id"] for r in d["recipients"]]) for d in bobs_dms] == \
        [(dm["dm"]["id"], [w.bot_id])], bobs_dms
    assert [m["content"] for m in w.bob.history(dm["dm"]["id"])] == ["hello bob"]


def test_undo_and_audit_log(tour):
    # undoing: unpin, remove all reactions, drop an overwrite, archive; the audit log
    w = tour
    rp, c = step(w, "reply"), step(w, "role")["created"]
    pv = step(w, "thread")["private"]
    un = step(w, "undo")
    assert un["before"] == {"pinned": True,
                            "reactions": ["\N{EYES}", "\N{WHITE HEAVY CHECK MARK}"]}, un
    assert un["after"] == {"pinned": False, "reactions": []}, un
    stored = ok(w.alice.get(f"/channels/{w.general}/messages/{rp['id']}"))
    assert stored["pinned"] is False and "reactions" not in stored, stored
    kept = sorted([c["id"], w.bob.user_id])
    assert un["overwrites"] == {"added": sorted(kept + [w.alice.user_id]), "after": kept}, un
    assert [(e["options"]["id"], e.get("reason")) for e in audit(w.alice, w.gid, 15)] == \
        [(w.alice.user_id, "dropped by discord.js")]
    assert un["archived"] == {"id": pv["id"], "archived": True}, un
    assert ok(w.alice.get(f"/channels/{pv['id']}"))["thread_metadata"]["archived"] is True
    au = un["audit"]
    assert (au["size"], au["action"], au["actionType"], au["targetType"]) == \
        (1, 30, "Create", "Role"), au
    assert (au["targetId"], au["executorId"], au["reason"]) == \
        (c["id"], w.bot_id, "made by discord.js ✓"), au
    assert au["changes"] == ["color", "hoist", "mentionable", "name", "permissions"], au
    assert un["unpin"] == [{"targetId": w.bot_id, "reason": "unpinned by discord.js",
                            "channel": w.general, "messageId": rp["id"]}], un
    pins = ok(w.alice.get(f"/channels/{w.general}/messages/pins"))
    assert [i["message"]["id"] for i in pins["items"]] == [w.target], pins


def test_refusals_are_discord_api_errors(tour):
    # refusals surface as DiscordAPIError with Hearth's code, and change nothing
    w = tour
    rf = step(w, "refused")
    messages = f"/channels/{w.general}/messages"
    check_refused(rf["kick"], 403, 50013, "DELETE", f"/guilds/{w.gid}/members/{w.bob.user_id}")
    check_refused(rf["adminRole"], 403, 50013, "POST", f"/guilds/{w.gid}/roles")
    check_refused(rf["banOwner"], 403, 50013, "PUT", f"/guilds/{w.gid}/bans/{w.alice.user_id}")
    check_refused(rf["editOthers"], 403, 50005, "PATCH", f"{messages}/{w.target}")
    check_refused(rf["unknownMessage"], 404, 10008, "GET", f"{messages}/1")
    check_refused(rf["badEmoji"], 400, 10014, "PUT", f"{messages}/{w.target}/reactions/nope/@me")
    check_refused(rf["badLimit"], 400, 50035, "GET", messages)
    assert "limit[NUMBER_TYPE_MAX]" in rf["badLimit"]["message"], rf["badLimit"]
    ok(w.alice.get(f"/guilds/{w.gid}/members/{w.bob.user_id}"))
    assert "admin grab" not in [r["name"] for r in ok(w.alice.get(f"/guilds/{w.gid}/roles"))]
    assert ok(w.alice.get(f"/guilds/{w.gid}/bans")) == []
    assert ok(w.alice.get(f"{messages}/{w.target}"))["content"] == "ping from alice"


BURST = 10
PER_WINDOW = 3
WINDOW_MS = 1000


def test_discordjs_reads_rate_limit_headers(server_factory):
    srv = server_factory(("--ratelimit-enabled", "1", "--ratelimit-window-ms", str(WINDOW_MS),
                          "--ratelimit-messages-per-window", str(PER_WINDOW)))
    owner = new_user(srv, "djsr_rl")
    guild = owner.create_guild("limited")
    channel = guild["system_channel_id"]
    app, token = make_bot(owner, guild["id"], 0)

    by, _steps, trace = run_node(srv, token, "burst", {"channel": channel, "count": BURST})
    b = by["burst"]
    assert "error" not in b, trace
    # Every send succeeded, none was answered 429: discord.js waited for the window to end
    # because it read X-RateLimit-Remaining / Reset-After, not because it was refused.
    assert b["failed"] == [] and len(b["sent"]) == BURST, trace
    assert b["statuses"] == {"200": BURST}, trace
    windows = math.ceil(BURST / PER_WINDOW)
    assert len(b["limited"]) >= windows - 1, trace
    assert all(x["limit"] == PER_WINDOW and not x["global"] for x in b["limited"]), trace
    # discord.js adds its 50 ms offset twice to the wait it reports.
    assert all(0 < x["timeToReset"] <= WINDOW_MS + 200 for x in b["limited"]), trace
    assert b["elapsedMs"] >= (windows - 1) * WINDOW_MS, trace
    # In order (one queue per bucket), all stored.
    stored = [m for m in owner.history(channel, limit=100) if m["author"]["id"] == app["bot"]["id"]]
    assert [m["content"] for m in reversed(stored)] == [f"burst-{i}" for i in range(BURST)]
    assert [m["id"] for m in reversed(stored)] == b["sent"]
