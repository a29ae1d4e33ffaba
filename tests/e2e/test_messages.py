"""Messages beyond plain text (spec/rest-messages.md): mentions and allowed_mentions, replies,
idempotent nonces, pins, reactions, bulk deletion, attachments, and the gateway dispatches
of reactions, pins and bulk deletes, which reach only those who may view the channel.

Members other than the guild owner are bots added with OAuth2 (their managed role carries the
permissions a test needs). What this branch's REST surface cannot set up yet (a permission
overwrite, a mentionable role, a message two weeks old) is written straight into the server's
SQLite database, which hearthd reads afresh on every request.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
import websockets

from harness import (DISCORD_EPOCH_MS, Api, HearthServer, assert_snowflake, err, form_err,
                     new_user, ok, parse_ts, unique_name)

UNKNOWN_ID = "999999999999999999"

VIEW_CHANNEL = 1 << 10
ADD_REACTIONS = 1 << 6
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
PIN_MESSAGES = 1 << 51

# Gateway intents
GUILDS = 1 << 0
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
MESSAGE_CONTENT = 1 << 15

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000030000000208060000009bc6a3") + \
    b"\x00" * 40  # a PNG header saying 3x2, enough for sniffing and dimensions
THUMBS = "\N{THUMBS UP SIGN}"
HEART = "\N{HEAVY BLACK HEART}\N{VARIATION SELECTOR-16}"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the module, with cheap password hashing."""
    srv = HearthServer(tmp_path_factory.mktemp("hearthd"),
                       ("--argon2-ops", "1", "--argon2-mem-kib", "8"))
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def alice(server):
    return new_user(server, "alice")


@pytest.fixture(scope="module")
def bob(server):
    """Not a member of alice's guild."""
    return new_user(server, "bob")


@pytest.fixture(scope="module")
def guild(alice):
    return alice.create_guild("Messages Guild")


def make_bot(owner: Api, guild_id: str, name: str, permissions: int = 0) -> Api:
    app = ok(owner.post("/applications", {"name": name}), 201)
    token = ok(owner.post(f"/applications/{app['id']}/bot/reset"))["token"]
    ok(owner.post("/oauth2/authorize", {"guild_id": guild_id, "permissions": str(permissions),
                                        "authorize": True},
                  params={"client_id": app["id"], "scope": "bot"}))
    bot = Api(owner.server, token, bot=True, user_id=app["bot"]["id"],
              username=app["bot"]["username"])
    roles = ok(owner.get(f"/guilds/{guild_id}"))["roles"]
    bot.role_id = next((r["id"] for r in roles if r.get("tags", {}).get("bot_id") == bot.user_id),
                       None)
    return bot


@pytest.fixture(scope="module")
def member(alice, guild):
    """A member with @everyone's permissions only."""
    return make_bot(alice, guild["id"], "Plain Member")


@pytest.fixture(scope="module")
def member2(alice, guild):
    return make_bot(alice, guild["id"], "Second Member")


@pytest.fixture(scope="module")
def mod(alice, guild):
    return make_bot(alice, guild["id"], "Moderator", MANAGE_MESSAGES)


@pytest.fixture(scope="module")
def pinner(alice, guild):
    return make_bot(alice, guild["id"], "Pinner", PIN_MESSAGES)


@pytest.fixture(scope="module")
def herald(alice, guild):
    """A member allowed to mention everyone."""
    return make_bot(alice, guild["id"], "Herald", MENTION_EVERYONE)


@pytest.fixture
def chan(alice, guild):
    """A fresh text channel in alice's guild."""
    return alice.create_channel(guild["id"], unique_name("room"))["id"]


# --------------------------------------------------------------------------- helpers


def db(server) -> sqlite3.Connection:
    return sqlite3.connect(server.data_dir / "hearth.db", timeout=15, isolation_level=None)


def sql(server, query: str, *args) -> list[tuple]:
    con = db(server)
    try:
        return con.execute(query, args).fetchall()
    finally:
        con.close()


def overwrite(server, channel_id: str, target_id: str, allow: int = 0, deny: int = 0,
              type: int = 0) -> None:
    """A permission overwrite (type 0: role, the guild id for @everyone; 1: member)."""
    sql(server, "INSERT OR REPLACE INTO overwrites (channel_id, target_id, type, allow, deny) "
                "VALUES (?, ?, ?, ?, ?)", int(channel_id), int(target_id), type, allow, deny)


def snowflake_at(unix_ms: int, low: int = 0) -> int:
    return ((unix_ms - DISCORD_EPOCH_MS) << 22) | low


def msg_url(channel_id: str, message_id: str = "") -> str:
    return f"/channels/{channel_id}/messages" + (f"/{message_id}" if message_id else "")


def react_url(channel_id: str, message_id: str, emoji: str, rest: str = "") -> str:
    return (f"/channels/{channel_id}/messages/{message_id}/reactions/"
            f"{urllib.parse.quote(emoji, safe='')}{rest}")


def post(api: Api, channel_id: str, **body):
    return api.post(msg_url(channel_id), body)


def stored(api: Api, channel_id: str) -> list[tuple]:
    """What a channel holds, oldest first, for 'nothing changed' checks."""
    return [(m["id"], m["type"], m["content"], m["pinned"], json.dumps(m.get("reactions")),
             len(m["attachments"]))
            for m in api.all_messages(channel_id)]


def user_ids(objs) -> list[str]:
    return [o["id"] for o in objs]


def upload(api: Api, channel_id: str, payload: dict | None, files: dict, auth=True):
    """POST a message as multipart/form-data: files maps part names to (filename, bytes,
    content type)."""
    parts = dict(files)
    if payload is not None:
        parts["payload_json"] = (None, json.dumps(payload), "application/json")
    headers = {"Authorization": api.auth_header} if auth else {}
    return api.session.post(api.server.api_url + msg_url(channel_id), files=parts,
                            headers=headers, timeout=60)


def download(api: Api, url: str, auth=True):
    assert url.startswith("/attachments/"), url
    headers = {"Authorization": api.auth_header} if auth else {}
    return api.session.get(api.server.base_url + url, headers=headers, timeout=30)


# --------------------------------------------------------------------------- mentions


def test_user_mentions_resolved_with_partial_member(alice, bob, member, mod, chan):
    m = ok(post(alice, chan, content=f"hi <@{member.user_id}> and <@!{mod.user_id}>, "
                                     f"<@{member.user_id}> again, <@{bob.user_id}> "
                                     f"<@{UNKNOWN_ID}> <@abc> <@>"))
    # Existing members count, once each, in order; a non-member and an unknown id do not.
    assert user_ids(m["mentions"]) == [member.user_id, mod.user_id]
    for u in m["mentions"]:
        assert u["username"] in (member.username, mod.username)
        assert "member" in u and "user" not in u["member"], u
        parse_ts(u["member"]["joined_at"])
        assert set(u["member"]) >= {"roles", "joined_at", "nick", "deaf", "mute"}
    assert m["mentions"][0]["member"]["roles"] == []
    assert m["mentions"][1]["member"]["roles"] == [mod.role_id]
    assert m["mention_roles"] == [] and m["mention_everyone"] is False
    # Stored: a fetch and the history say the same.
    got = ok(alice.get(msg_url(chan, m["id"])))
    assert user_ids(got["mentions"]) == [member.user_id, mod.user_id]
    assert user_ids(alice.history(chan)[0]["mentions"]) == [member.user_id, mod.user_id]
    assert ok(post(alice, chan, content="nobody here"))["mentions"] == []


def test_role_mentions(server, alice, member, mod, herald, guild, chan):
    text = f"<@&{mod.role_id}> <@&{guild['id']}> <@&{UNKNOWN_ID}>"
    # The owner holds MENTION_EVERYONE: any role of the guild but @everyone counts.
    assert ok(post(alice, chan, content=text))["mention_roles"] == [mod.role_id]
    assert ok(post(herald, chan, content=text))["mention_roles"] == [mod.role_id]
    # Without it, only mentionable roles do.
    assert ok(post(member, chan, content=text))["mention_roles"] == []
    sql(server, "UPDATE roles SET mentionable = 1 WHERE id = ?", int(mod.role_id))
    try:
        m = ok(post(member, chan, content=text))
        assert m["mention_roles"] == [mod.role_id]
        assert ok(member.get(msg_url(chan, m["id"])))["mention_roles"] == [mod.role_id]
    finally:
        sql(server, "UPDATE roles SET mentionable = 0 WHERE id = ?", int(mod.role_id))


def test_mention_everyone_needs_the_permission(alice, member, herald, chan):
    for content in ("@everyone look", "look @here"):
        m = ok(post(alice, chan, content=content))
        assert m["mention_everyone"] is True, content
        assert ok(post(herald, chan, content=content))["mention_everyone"] is True
        plain = ok(post(member, chan, content=content))
        assert plain["mention_everyone"] is False and plain["content"] == content
        assert ok(alice.get(msg_url(chan, plain["id"])))["mention_everyone"] is False
        assert ok(alice.get(msg_url(chan, m["id"])))["mention_everyone"] is True
    assert ok(post(alice, chan, content="@every one"))["mention_everyone"] is False


def test_allowed_mentions(alice, member, mod, chan):
    text = f"<@{member.user_id}> <@{mod.user_id}> <@&{mod.role_id}> @everyone"

    def send(am):
        return ok(post(alice, chan, content=text, allowed_mentions=am))

    m = send({"parse": []})
    assert (m["mentions"], m["mention_roles"], m["mention_everyone"]) == ([], [], False)
    m = send({"parse": ["users"]})
    assert user_ids(m["mentions"]) == [member.user_id, mod.user_id]
    assert (m["mention_roles"], m["mention_everyone"]) == ([], False)
    m = send({"parse": ["roles", "everyone"]})
    assert (m["mentions"], m["mention_roles"], m["mention_everyone"]) == \
        ([], [mod.role_id], True)
    m = send({"users": [mod.user_id], "roles": []})
    assert user_ids(m["mentions"]) == [mod.user_id] and m["mention_roles"] == []
    m = send({"parse": ["users"], "roles": [mod.role_id]})
    assert len(m["mentions"]) == 2 and m["mention_roles"] == [mod.role_id]
    # An allowed id that the content does not mention mentions nobody.
    m = ok(post(alice, chan, content="quiet", allowed_mentions={"users": [member.user_id]}))
    assert m["mentions"] == []

    before = stored(alice, chan)
    form_err(post(alice, chan, content=text,
                  allowed_mentions={"parse": ["users"], "users": [member.user_id]}),
             "allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE")
    form_err(post(alice, chan, content=text, allowed_mentions={"parse": ["roles"],
                                                               "roles": [mod.role_id]}),
             "allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE")
    form_err(post(alice, chan, content=text, allowed_mentions={"parse": ["users", "all"]}),
             "allowed_mentions.parse.1", "BASE_TYPE_CHOICES")
    form_err(post(alice, chan, content=text, allowed_mentions={"users": [UNKNOWN_ID] * 101}),
             "allowed_mentions.users", "BASE_TYPE_MAX_LENGTH")
    form_err(post(alice, chan, content=text, allowed_mentions={"users": ["x"]}),
             "allowed_mentions.users.0", "NUMBER_TYPE_COERCE")
    form_err(post(alice, chan, content=text, allowed_mentions="users"), "allowed_mentions")
    form_err(post(alice, chan, content=text, allowed_mentions={"replied_user": "yes"}),
             "allowed_mentions.replied_user", "BASE_TYPE_BOOLEAN")
    assert stored(alice, chan) == before


def test_mentions_follow_edits(alice, member, mod, chan):
    m = ok(post(alice, chan, content=f"<@{member.user_id}>"))
    assert user_ids(m["mentions"]) == [member.user_id]
    e = ok(alice.patch(msg_url(chan, m["id"]), {"content": f"<@{mod.user_id}> @everyone"}))
    assert user_ids(e["mentions"]) == [mod.user_id] and e["mention_everyone"] is True
    e = ok(alice.patch(msg_url(chan, m["id"]), {"content": f"<@{mod.user_id}> @everyone",
                                               "allowed_mentions": {"parse": []}}))
    assert e["mentions"] == [] and e["mention_everyone"] is False
    got = ok(alice.get(msg_url(chan, m["id"])))
    assert got["mentions"] == [] and got["mention_everyone"] is False


# --------------------------------------------------------------------------- replies


def test_reply(alice, member, guild, chan):
    target = ok(post(member, chan, content="the original"))
    r = ok(post(alice, chan, content="a reply", message_reference={"message_id": target["id"]}))
    assert r["type"] == 19
    assert r["message_reference"] == {"type": 0, "message_id": target["id"], "channel_id": chan,
                                      "guild_id": guild["id"]}
    ref = r["referenced_message"]
    assert ref["id"] == target["id"] and ref["content"] == "the original"
    assert ref["author"]["id"] == member.user_id and "referenced_message" not in ref
    # The replied-to author is mentioned by default...
    assert user_ids(r["mentions"]) == [member.user_id]
    got = ok(alice.get(msg_url(chan, r["id"])))
    assert got["type"] == 19 and got["referenced_message"]["id"] == target["id"]
    assert user_ids(got["mentions"]) == [member.user_id]
    # ...but not when allowed_mentions says so (replied_user defaults to false in it).
    for am in ({"replied_user": False}, {"parse": ["users"]}):
        quiet = ok(post(alice, chan, content="quiet reply", allowed_mentions=am,
                        message_reference={"message_id": target["id"], "channel_id": chan}))
        assert quiet["type"] == 19 and quiet["mentions"] == [], am
    loud = ok(post(alice, chan, content="loud", allowed_mentions={"parse": [],
                                                                  "replied_user": True},
                   message_reference={"message_id": target["id"]}))
    assert user_ids(loud["mentions"]) == [member.user_id]
    # An integer id and fail_if_not_exists: true work too.
    ok(post(alice, chan, content="x", message_reference={"message_id": int(target["id"]),
                                                         "fail_if_not_exists": True}))
    # The target deleted later: referenced_message is null, the reference stays.
    ok(member.delete(msg_url(chan, target["id"])), 204)
    got = ok(alice.get(msg_url(chan, r["id"])))
    assert got["referenced_message"] is None and got["message_reference"]["message_id"] == \
        target["id"]
    assert alice.history(chan, limit=100)[-1]["referenced_message"] is None


def test_reply_to_missing_or_foreign_message(alice, guild, chan):
    other = alice.create_channel(guild["id"], unique_name("other"))["id"]
    elsewhere = ok(post(alice, other, content="in another channel"))
    here = ok(post(alice, chan, content="here"))
    before = stored(alice, chan)
    bad_refs = [{"message_id": UNKNOWN_ID}, {"message_id": elsewhere["id"]},
                {"message_id": elsewhere["id"], "channel_id": other},
                {"message_id": here["id"], "channel_id": other},
                {"message_id": here["id"], "guild_id": UNKNOWN_ID}]
    for ref in bad_refs:
        form_err(post(alice, chan, content="reply", message_reference=ref),
                 "message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE")
    form_err(post(alice, chan, content="r", message_reference={}), "message_reference.message_id",
             "BASE_TYPE_REQUIRED")
    form_err(post(alice, chan, content="r", message_reference={"message_id": "x"}),
             "message_reference.message_id", "NUMBER_TYPE_COERCE")
    form_err(post(alice, chan, content="r", message_reference={"message_id": here["id"],
                                                               "type": 1}),
             "message_reference.type")
    form_err(post(alice, chan, content="r", message_reference=here["id"]), "message_reference")
    assert stored(alice, chan) == before
    # fail_if_not_exists: false turns a bad reference into a plain message.
    for ref in bad_refs:
        m = ok(post(alice, chan, content="plain", message_reference={**ref,
                                                                     "fail_if_not_exists": False}))
        assert m["type"] == 0 and "message_reference" not in m and "referenced_message" not in m


# --------------------------------------------------------------------------- nonces


def test_enforce_nonce_is_idempotent(alice, member, guild, chan):
    first = ok(post(alice, chan, content="once", nonce="n-1", enforce_nonce=True))
    again = ok(post(alice, chan, content="once", nonce="n-1", enforce_nonce=True))
    assert again["id"] == first["id"] and again["nonce"] == "n-1"
    assert again["content"] == "once"
    assert [m["id"] for m in alice.all_messages(chan)] == [first["id"]]
    # Integer nonces as well; the same value as a string is the same nonce.
    i1 = ok(post(alice, chan, content="int", nonce=4242, enforce_nonce=True))
    i2 = ok(post(alice, chan, content="int", nonce=4242, enforce_nonce=True))
    assert i1["id"] == i2["id"]
    # Another author, another channel, or no enforce_nonce: new messages.
    other_author = ok(post(member, chan, content="once", nonce="n-1", enforce_nonce=True))
    other = alice.create_channel(guild["id"], unique_name("nonce"))["id"]
    other_chan = ok(post(alice, other, content="once", nonce="n-1", enforce_nonce=True))
    plain1 = ok(post(alice, chan, content="echo", nonce="n-2"))
    plain2 = ok(post(alice, chan, content="echo", nonce="n-2"))
    assert len({first["id"], other_author["id"], other_chan["id"], plain1["id"],
                plain2["id"]}) == 5
    assert plain1["nonce"] == plain2["nonce"] == "n-2"
    assert len(alice.all_messages(chan)) == 5
    # A deleted message frees its nonce.
    ok(alice.delete(msg_url(chan, first["id"])), 204)
    fresh = ok(post(alice, chan, content="once", nonce="n-1", enforce_nonce=True))
    assert fresh["id"] != first["id"]
    form_err(post(alice, chan, content="x", nonce="n", enforce_nonce="yes"), "enforce_nonce",
             "BASE_TYPE_BOOLEAN")


def test_enforce_nonce_concurrent(alice, chan):
    """Twenty identical sends racing each other still create one message."""
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(
            lambda _: ok(post(alice, chan, content="race", nonce="race-1", enforce_nonce=True)),
            range(20)))
    assert len({m["id"] for m in results}) == 1
    assert [m["content"] for m in alice.all_messages(chan)] == ["race"]


# --------------------------------------------------------------------------- pins


def audit_rows(server, guild_id: str, action: int) -> list[tuple]:
    return sql(server, "SELECT user_id, target_id, options, reason FROM audit_log WHERE "
                       "guild_id = ? AND action_type = ? ORDER BY id", int(guild_id), action)


def test_pin_and_unpin(server, alice, member, pinner, mod, guild, chan):
    m1 = ok(post(member, chan, content="pin me"))
    m2 = ok(post(alice, chan, content="pin me too"))
    ok(alice.put(f"/channels/{chan}/messages/pins/{m1['id']}",
                 headers={"X-Audit-Log-Reason": "important%20stuff"}), 204)
    got = ok(alice.get(msg_url(chan, m1["id"])))
    assert got["pinned"] is True
    # The system message Discord posts.
    notice = alice.history(chan, limit=1)[0]
    assert notice["type"] == 6 and notice["content"] == "" and notice["pinned"] is False
    assert notice["author"]["id"] == alice.user_id
    assert notice["message_reference"]["message_id"] == m1["id"]
    assert notice["message_reference"]["channel_id"] == chan
    # A system message is neither edited nor pinned.
    err(alice.patch(msg_url(chan, notice["id"]), {"content": "forged"}), 400, 50021)
    err(alice.put(f"/channels/{chan}/messages/pins/{notice['id']}"), 400, 50021)
    assert ok(alice.get(msg_url(chan, notice["id"])))["content"] == ""
    # The older route, by a member holding only PIN_MESSAGES.
    ok(pinner.put(f"/channels/{chan}/pins/{m2['id']}"), 204)
    # Pinning again changes nothing: no second notice.
    count = len(alice.all_messages(chan))
    ok(alice.put(f"/channels/{chan}/pins/{m2['id']}"), 204)
    assert len(alice.all_messages(chan)) == count

    page = ok(alice.get(f"/channels/{chan}/messages/pins"))
    assert page["has_more"] is False
    assert [i["message"]["id"] for i in page["items"]] == [m2["id"], m1["id"]]
    for i in page["items"]:
        parse_ts(i["pinned_at"])
        assert i["message"]["pinned"] is True
    assert parse_ts(page["items"][0]["pinned_at"]) > parse_ts(page["items"][1]["pinned_at"])
    legacy = ok(alice.get(f"/channels/{chan}/pins"))
    assert [m["id"] for m in legacy] == [m2["id"], m1["id"]]
    # Paging with before (a timestamp) and limit.
    first = ok(alice.get(f"/channels/{chan}/messages/pins", params={"limit": 1}))
    assert [i["message"]["id"] for i in first["items"]] == [m2["id"]] and first["has_more"]
    rest = ok(alice.get(f"/channels/{chan}/messages/pins",
                        params={"before": first["items"][0]["pinned_at"]}))
    assert [i["message"]["id"] for i in rest["items"]] == [m1["id"]] and not rest["has_more"]
    zulu = first["items"][0]["pinned_at"].replace("+00:00", "Z")
    assert [i["message"]["id"] for i in ok(alice.get(
        f"/channels/{chan}/messages/pins", params={"before": zulu}))["items"]] == [m1["id"]]

    # Audit log: who pinned whose message where, with the reason.
    rows = [r for r in audit_rows(server, guild["id"], 74) if json.loads(r[2])["channel_id"] ==
            chan]
    assert len(rows) == 2
    assert (str(rows[0][0]), str(rows[0][1]), rows[0][3]) == (alice.user_id, member.user_id,
                                                              "important stuff")
    assert json.loads(rows[0][2]) == {"channel_id": chan, "message_id": m1["id"]}
    assert str(rows[1][0]) == pinner.user_id

    # Unpin through both routes (mod holds MANAGE_MESSAGES).
    ok(mod.delete(f"/channels/{chan}/messages/pins/{m1['id']}"), 204)
    ok(alice.delete(f"/channels/{chan}/pins/{m2['id']}"), 204)
    ok(alice.delete(f"/channels/{chan}/pins/{m2['id']}"), 204)  # not pinned: no change
    assert ok(alice.get(f"/channels/{chan}/messages/pins")) == {"items": [], "has_more": False}
    assert ok(alice.get(f"/channels/{chan}/pins")) == []
    assert ok(alice.get(msg_url(chan, m1["id"])))["pinned"] is False
    unpins = [r for r in audit_rows(server, guild["id"], 75)
              if json.loads(r[2])["channel_id"] == chan]
    assert [str(r[0]) for r in unpins] == [mod.user_id, alice.user_id]


def test_pin_refusals(server, alice, bob, member, chan):
    m = ok(post(alice, chan, content="not for everyone to pin"))
    before = stored(alice, chan)
    for path in (f"/channels/{chan}/messages/pins/{m['id']}", f"/channels/{chan}/pins/{m['id']}"):
        err(member.put(path), 403, 50013, "Missing Permissions")
        err(bob.put(path), 403, 50001, "Missing Access")
        err(alice.put(path.replace(m["id"], UNKNOWN_ID)), 404, 10008)
        err(alice.put(path.replace(chan, UNKNOWN_ID)), 404, 10003)
    assert stored(alice, chan) == before
    ok(alice.put(f"/channels/{chan}/pins/{m['id']}"), 204)
    after = stored(alice, chan)
    err(member.delete(f"/channels/{chan}/pins/{m['id']}"), 403, 50013)
    err(bob.delete(f"/channels/{chan}/messages/pins/{m['id']}"), 403, 50001)
    assert stored(alice, chan) == after
    err(bob.get(f"/channels/{chan}/messages/pins"), 403, 50001)
    err(bob.get(f"/channels/{chan}/pins"), 403, 50001)
    err(alice.get(f"/channels/{UNKNOWN_ID}/messages/pins"), 404, 10003)
    err(alice.get(f"/channels/{UNKNOWN_ID}/pins"), 404, 10003)
    form_err(alice.put(f"/channels/{chan}/messages/pins/abc"), "message_id", "NUMBER_TYPE_COERCE")
    form_err(alice.delete(f"/channels/{chan}/pins/abc"), "message_id", "NUMBER_TYPE_COERCE")
    form_err(alice.get(f"/channels/{chan}/messages/pins", params={"limit": 51}), "limit")
    form_err(alice.get(f"/channels/{chan}/messages/pins", params={"limit": 0}), "limit")
    form_err(alice.get(f"/channels/{chan}/messages/pins", params={"before": "yesterday"}),
             "before")
    # Without READ_MESSAGE_HISTORY the list is empty, as on Discord.
    overwrite(server, chan, member.user_id, deny=READ_MESSAGE_HISTORY, type=1)
    assert ok(member.get(f"/channels/{chan}/messages/pins")) == {"items": [], "has_more": False}
    assert ok(member.get(f"/channels/{chan}/pins")) == []
    assert len(ok(alice.get(f"/channels/{chan}/pins"))) == 1


def test_pin_limit(alice, chan):
    with ThreadPoolExecutor(8) as pool:
        msgs = list(pool.map(lambda i: ok(post(alice, chan, content=f"p{i}"))["id"], range(251)))
        codes = list(pool.map(
            lambda mid: alice.put(f"/channels/{chan}/messages/pins/{mid}").status_code, msgs[:250]))
    assert codes == [204] * 250
    err(alice.put(f"/channels/{chan}/messages/pins/{msgs[250]}"), 400, 30003)
    assert ok(alice.get(msg_url(chan, msgs[250])))["pinned"] is False
    assert len(ok(alice.get(f"/channels/{chan}/pins"))) == 250
    # Paging through all 250 by pinned_at meets each exactly once.
    seen, before = [], None
    while True:
        params = {"limit": 50, **({"before": before} if before else {})}
        page = ok(alice.get(f"/channels/{chan}/messages/pins", params=params))
        seen += [i["message"]["id"] for i in page["items"]]
        if not page["has_more"]:
            break
        before = page["items"][-1]["pinned_at"]
    assert sorted(seen) == sorted(msgs[:250]) and len(seen) == 250
    # Unpinning one makes room again.
    ok(alice.delete(f"/channels/{chan}/messages/pins/{msgs[0]}"), 204)
    ok(alice.put(f"/channels/{chan}/messages/pins/{msgs[250]}"), 204)


# --------------------------------------------------------------------------- reactions


def reaction(count: int, me: bool, name: str) -> dict:
    return {"count": count, "count_details": {"burst": 0, "normal": count}, "me": me,
            "me_burst": False, "burst_colors": [], "emoji": {"id": None, "name": name}}


def test_reactions_add_list_and_me(alice, member, member2, chan):
    m = ok(post(alice, chan, content="react to me"))
    assert "reactions" not in m
    ok(alice.put(react_url(chan, m["id"], THUMBS, "/@me")), 204)
    ok(member.put(react_url(chan, m["id"], THUMBS, "/@me")), 204)
    ok(member.put(react_url(chan, m["id"], HEART, "/@me")), 204)
    ok(member.put(react_url(chan, m["id"], HEART, "/@me")), 204)  # again: no change
    # `me` is relative to whoever looks.
    assert ok(alice.get(msg_url(chan, m["id"])))["reactions"] == [
        reaction(2, True, THUMBS), reaction(1, False, HEART)]
    assert ok(member.get(msg_url(chan, m["id"])))["reactions"] == [
        reaction(2, True, THUMBS), reaction(1, True, HEART)]
    assert ok(member2.get(msg_url(chan, m["id"])))["reactions"] == [
        reaction(2, False, THUMBS), reaction(1, False, HEART)]
    assert member2.history(chan, limit=1)[0]["reactions"] == [
        reaction(2, False, THUMBS), reaction(1, False, HEART)]
    assert alice.history(chan, limit=1)[0]["reactions"][0]["me"] is True

    users = ok(alice.get(react_url(chan, m["id"], THUMBS)))
    assert user_ids(users) == sorted([alice.user_id, member.user_id], key=int)
    assert all("email" not in u for u in users)
    first = ok(alice.get(react_url(chan, m["id"], THUMBS), params={"limit": 1}))
    assert user_ids(first) == user_ids(users)[:1]
    assert user_ids(ok(alice.get(react_url(chan, m["id"], THUMBS),
                                 params={"after": first[0]["id"]}))) == user_ids(users)[1:]
    assert ok(alice.get(react_url(chan, m["id"], THUMBS), params={"type": 1})) == []
    assert ok(alice.get(react_url(chan, m["id"], "\N{GRINNING FACE}"))) == []
    for bad in ({"limit": 0}, {"limit": 101}, {"after": "x"}, {"type": 2}):
        form_err(alice.get(react_url(chan, m["id"], THUMBS), params=bad))


def test_reaction_removal(alice, member, mod, chan):
    m = ok(post(alice, chan, content="removals"))
    for api in (alice, member, mod):
        ok(api.put(react_url(chan, m["id"], THUMBS, "/@me")), 204)
    ok(alice.put(react_url(chan, m["id"], HEART, "/@me")), 204)
    # Own reaction.
    ok(member.delete(react_url(chan, m["id"], THUMBS, "/@me")), 204)
    ok(member.delete(react_url(chan, m["id"], THUMBS, "/@me")), 204)  # already gone
    assert ok(alice.get(msg_url(chan, m["id"])))["reactions"][0]["count"] == 2
    # Someone else's: MANAGE_MESSAGES.
    before = ok(alice.get(msg_url(chan, m["id"])))["reactions"]
    err(member.delete(react_url(chan, m["id"], THUMBS, f"/{alice.user_id}")), 403, 50013)
    err(member.delete(react_url(chan, m["id"], THUMBS)), 403, 50013)
    err(member.delete(f"/channels/{chan}/messages/{m['id']}/reactions"), 403, 50013)
    assert ok(alice.get(msg_url(chan, m["id"])))["reactions"] == before
    # One's own by id needs nothing more.
    ok(mod.delete(react_url(chan, m["id"], THUMBS, f"/{mod.user_id}")), 204)
    ok(alice.put(react_url(chan, m["id"], THUMBS, "/@me")), 204)
    ok(mod.put(react_url(chan, m["id"], THUMBS, "/@me")), 204)
    ok(mod.delete(react_url(chan, m["id"], THUMBS, f"/{alice.user_id}")), 204)
    assert ok(alice.get(msg_url(chan, m["id"])))["reactions"] == [
        reaction(1, False, THUMBS), reaction(1, True, HEART)]
    # A whole emoji, then everything.
    ok(mod.delete(react_url(chan, m["id"], THUMBS)), 204)
    assert ok(alice.get(msg_url(chan, m["id"])))["reactions"] == [reaction(1, True, HEART)]
    ok(member.put(react_url(chan, m["id"], THUMBS, "/@me")), 204)
    ok(mod.delete(f"/channels/{chan}/messages/{m['id']}/reactions"), 204)
    assert "reactions" not in ok(alice.get(msg_url(chan, m["id"])))


def test_reaction_limits_and_permissions(server, alice, member, member2, chan):
    m = ok(post(alice, chan, content="twenty at most"))
    emoji = [chr(0x1F600 + i) for i in range(21)]
    for e in emoji[:20]:
        ok(alice.put(react_url(chan, m["id"], e, "/@me")), 204)
    err(alice.put(react_url(chan, m["id"], emoji[20], "/@me")), 400, 30010)
    # An emoji already there may still be added to.
    ok(member.put(react_url(chan, m["id"], emoji[0], "/@me")), 204)
    reactions = ok(alice.get(msg_url(chan, m["id"])))["reactions"]
    assert [r["emoji"]["name"] for r in reactions] == emoji[:20]
    assert reactions[0]["count"] == 2

    # Without ADD_REACTIONS: only emoji that are already there.
    n = ok(post(alice, chan, content="no new emoji"))
    ok(alice.put(react_url(chan, n["id"], THUMBS, "/@me")), 204)
    overwrite(server, chan, member2.user_id, deny=ADD_REACTIONS, type=1)
    err(member2.put(react_url(chan, n["id"], HEART, "/@me")), 403, 50013)
    ok(member2.put(react_url(chan, n["id"], THUMBS, "/@me")), 204)
    # Without READ_MESSAGE_HISTORY: nothing at all.
    overwrite(server, chan, member2.user_id, deny=READ_MESSAGE_HISTORY, type=1)
    err(member2.put(react_url(chan, n["id"], "\N{FIRE}", "/@me")), 403, 50013)
    err(member2.get(react_url(chan, n["id"], THUMBS)), 403, 50013)
    assert ok(alice.get(msg_url(chan, n["id"])))["reactions"] == [reaction(2, True, THUMBS)]


def test_reaction_bad_input(alice, bob, chan):
    m = ok(post(alice, chan, content="bad emoji"))
    before = stored(alice, chan)
    for bad in ("a", "ab", "👍a", " 👍", "👍 ", "%", ":)", "1", "😀" * 9, "\u200b", "\x85"):
        err(alice.put(react_url(chan, m["id"], bad, "/@me")), 400, 10014)
        err(alice.get(react_url(chan, m["id"], bad)), 400, 10014)
        err(alice.delete(react_url(chan, m["id"], bad, "/@me")), 400, 10014)
        err(alice.delete(react_url(chan, m["id"], bad, f"/{alice.user_id}")), 400, 10014)
        err(alice.delete(react_url(chan, m["id"], bad)), 400, 10014)
    # Custom emoji are unknown (there are none on Hearth yet).
    err(alice.put(react_url(chan, m["id"], "hearth:123456789012345678", "/@me")), 400, 10014,
        "Unknown Emoji")
    # The path is percent-decoded exactly once: %25F0... is not the emoji.
    r = alice.put(f"/channels/{chan}/messages/{m['id']}/reactions/%25F0%259F%2591%258D/@me")
    err(r, 400, 10014)
    # Malformed UTF-8 (a lone continuation byte, an overlong '/').
    for raw in ("%80", "%C0%AF", "%F0%9F%91"):
        err(alice.put(f"/channels/{chan}/messages/{m['id']}/reactions/{raw}/@me"), 400, 10014)
    err(alice.put(react_url(chan, UNKNOWN_ID, THUMBS, "/@me")), 404, 10008)
    err(alice.delete(react_url(chan, UNKNOWN_ID, THUMBS, "/@me")), 404, 10008)
    err(alice.get(react_url(chan, UNKNOWN_ID, THUMBS)), 404, 10008)
    err(alice.delete(f"/channels/{chan}/messages/{UNKNOWN_ID}/reactions"), 404, 10008)
    err(alice.put(react_url(UNKNOWN_ID, m["id"], THUMBS, "/@me")), 404, 10003)
    form_err(alice.delete(react_url(chan, m["id"], THUMBS, "/someone")), "user_id",
             "NUMBER_TYPE_COERCE")
    for call in (bob.put(react_url(chan, m["id"], THUMBS, "/@me")),
                 bob.get(react_url(chan, m["id"], THUMBS)),
                 bob.delete(react_url(chan, m["id"], THUMBS, "/@me")),
                 bob.delete(f"/channels/{chan}/messages/{m['id']}/reactions")):
        err(call, 403, 50001)
    assert stored(alice, chan) == before
    # Keycaps, flags, skin tones and ZWJ sequences are emoji.
    for good in ("1\ufe0f\u20e3", "#\u20e3", "\U0001F1EB\U0001F1F7", "\U0001F44D\U0001F3FD",
                 "\U0001F468\u200d\U0001F4BB"):
        ok(alice.put(react_url(chan, m["id"], good, "/@me")), 204)
    names = [r["emoji"]["name"] for r in ok(alice.get(msg_url(chan, m["id"])))["reactions"]]
    assert names == ["1\ufe0f\u20e3", "#\u20e3", "\U0001F1EB\U0001F1F7", "\U0001F44D\U0001F3FD",
                     "\U0001F468\u200d\U0001F4BB"]


# --------------------------------------------------------------------------- bulk delete


def test_bulk_delete(server, alice, member, mod, guild, chan):
    ids = [ok(post(member, chan, content=f"bulk {i}"))["id"] for i in range(5)]
    keep = ok(post(alice, chan, content="keep"))["id"]
    ok(alice.put(react_url(chan, ids[0], THUMBS, "/@me")), 204)
    unknown = str(snowflake_at(int(time.time() * 1000), 4095))  # recent, but names nothing
    ok(mod.post(f"/channels/{chan}/messages/bulk-delete",
                {"messages": ids[:3] + [unknown]},
                headers={"X-Audit-Log-Reason": "spam"}), 204)
    assert [m["id"] for m in alice.all_messages(chan)] == ids[3:] + [keep]
    assert sql(server, "SELECT count(*) FROM reactions WHERE message_id = ?", int(ids[0])) == [(0,)]
    rows = audit_rows(server, guild["id"], 73)
    assert rows[-1][:2] == (int(mod.user_id), int(chan)) and rows[-1][3] == "spam"
    assert json.loads(rows[-1][2]) == {"count": "3"}
    # Up to 100 at once, by the owner.
    more = [ok(post(alice, chan, content=f"m{i}"))["id"] for i in range(95)]
    ok(alice.post(f"/channels/{chan}/messages/bulk-delete", {"messages": more + ids[3:]}), 204)
    assert [m["id"] for m in alice.all_messages(chan)] == [keep]


def test_bulk_delete_refusals(server, alice, bob, member, mod, chan):
    ids = [ok(post(member, chan, content=f"x{i}"))["id"] for i in range(3)]
    before = stored(alice, chan)
    url = f"/channels/{chan}/messages/bulk-delete"
    form_err(mod.post(url, {"messages": ids[:1]}), "messages", "BASE_TYPE_BAD_LENGTH")
    form_err(mod.post(url, {"messages": []}), "messages", "BASE_TYPE_BAD_LENGTH")
    form_err(mod.post(url, {"messages": ids + [str(10**17 + i) for i in range(98)]}),
             "messages", "BASE_TYPE_BAD_LENGTH")
    form_err(mod.post(url, {}), "messages", "BASE_TYPE_REQUIRED")
    form_err(mod.post(url, {"messages": "all"}), "messages")
    form_err(mod.post(url, {"messages": [ids[0], "nope"]}), "messages.1", "NUMBER_TYPE_COERCE")
    form_err(mod.post(url, {"messages": [ids[0], ids[0]]}), "messages.1")
    err(mod.post(url, data=b"{"), 400, 50109)
    err(member.post(url, {"messages": ids}), 403, 50013)
    err(bob.post(url, {"messages": ids}), 403, 50001)
    err(mod.post(f"/channels/{UNKNOWN_ID}/messages/bulk-delete", {"messages": ids}), 404, 10003)
    # One message older than two weeks fails the whole request.
    old = snowflake_at(int(time.time() * 1000) - 15 * 86400 * 1000, 77)
    sql(server, "INSERT INTO messages (channel_id, id, author_id, content) VALUES (?, ?, ?, ?)",
        int(chan), old, int(member.user_id), "ancient")
    before = stored(alice, chan)
    assert before[0][2] == "ancient"
    err(mod.post(url, {"messages": ids + [str(old)]}), 400, 50034)
    # Even an unknown id: the age is the id's own.
    err(mod.post(url, {"messages": ids[:2] + [str(old + 1)]}), 400, 50034)
    assert stored(alice, chan) == before
    ok(mod.post(url, {"messages": ids[:2]}), 204)
    assert [m[2] for m in stored(alice, chan)] == ["ancient", "x2"]


def test_single_delete_audit(server, alice, member, mod, guild, chan):
    mine = ok(post(mod, chan, content="my own"))
    theirs = ok(post(member, chan, content="someone's"))
    n = len(audit_rows(server, guild["id"], 72))
    ok(mod.delete(msg_url(chan, mine["id"])), 204)
    assert len(audit_rows(server, guild["id"], 72)) == n
    ok(mod.delete(msg_url(chan, theirs["id"]), headers={"X-Audit-Log-Reason": "rude"}), 204)
    rows = audit_rows(server, guild["id"], 72)
    assert len(rows) == n + 1
    assert rows[-1][:2] == (int(mod.user_id), int(member.user_id)) and rows[-1][3] == "rude"
    assert json.loads(rows[-1][2]) == {"channel_id": chan, "count": "1"}


# --------------------------------------------------------------------------- attachments


def test_upload_round_trip(server, alice, member, chan):
    text = "hello, files\n".encode() * 10
    r = upload(member, chan, {"content": "two files", "attachments": [
        {"id": 0, "description": "a tiny png"}, {"id": 1, "filename": "notes.txt"}]},
        {"files[0]": ("pic.png", PNG, "image/png"),
         "files[1]": ("ignored name.txt", text, "text/plain")})
    m = ok(r)
    assert m["content"] == "two files" and len(m["attachments"]) == 2
    png, txt = m["attachments"]
    assert_snowflake(png["id"])
    assert png["filename"] == "pic.png" and png["size"] == len(PNG)
    assert png["content_type"] == "image/png" and png["description"] == "a tiny png"
    assert (png["width"], png["height"]) == (3, 2)
    assert png["url"] == f"/attachments/{chan}/{png['id']}/pic.png" == png["proxy_url"]
    assert txt["filename"] == "notes.txt" and "width" not in txt
    assert ok(alice.get(msg_url(chan, m["id"])))["attachments"] == m["attachments"]
    assert alice.history(chan, limit=1)[0]["attachments"] == m["attachments"]

    got = download(alice, png["url"])
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Disposition"].startswith("inline")
    got = download(member, txt["url"])
    assert got.content == text and got.headers["Content-Type"].startswith("text/plain")
    # Stored content-addressed, once however often it is uploaded.
    digest = hashlib.sha256(PNG).hexdigest()
    assert (server.data_dir / "attachments" / digest[:2] / digest[2:]).read_bytes() == PNG
    m2 = ok(upload(alice, chan, None, {"files[3]": ("again.png", PNG, "image/png")}))
    assert m2["content"] == "" and m2["attachments"][0]["filename"] == "again.png"
    assert download(alice, m2["attachments"][0]["url"]).content == PNG
    assert len(list((server.data_dir / "attachments" / digest[:2]).iterdir())) >= 1

    # A wrong filename in the URL, another channel, an unknown id: 404.
    err(download(alice, png["url"].replace("pic.png", "other.png")), 404, 10012)
    err(download(alice, f"/attachments/{chan}/{UNKNOWN_ID}/pic.png"), 404, 10012)
    assert alice.get(f"/attachments/{chan}/{png['id']}/pic.png").content == PNG  # /api/v10 too
    # Deleting the message makes its files unreachable.
    ok(member.delete(msg_url(chan, m["id"])), 204)
    err(download(alice, png["url"]), 404, 10012)
    err(download(alice, txt["url"]), 404, 10012)


def test_upload_unsafe_names_and_types(alice, chan):
    html = b"<html><script>alert(1)</script></html>"
    m = ok(upload(alice, chan, {"content": "careful"}, {
        "files[0]": ("../../etc/passwd", b"root:x:0:0\n", "text/plain"),
        "files[1]": ("page.html", html, "text/html"),
        "files[2]": ("fake.png", html, "image/png"),
        "files[3]": ("..", b"dots", "application/x-thing"),
        "files[4]": ("a b\"c;d\r\n.txt", b"quotes", "text/plain"),
        "files[5]": ("..\\..\\win.ini", b"[x]", None)}))
    names = [a["filename"] for a in m["attachments"]]
    assert names[:4] == ["passwd", "page.html", "fake.png", "unknown"] and names[5] == "win.ini"
    # Quotes, separators and control characters never reach a URL or a header.
    assert names[4].startswith("a_b_") and names[4].endswith(".txt"), names[4]
    for a in m["attachments"]:
        assert all(c.isalnum() or c in "._-" for c in a["filename"]), a["filename"]
        assert not a["filename"].startswith(".")
        assert a["url"].endswith("/" + a["filename"])
    passwd, page, fake, dots = (download(alice, a["url"]) for a in m["attachments"][:4])
    assert passwd.content == b"root:x:0:0\n"
    # HTML, and a "PNG" that is not one, are downloads, never rendered.
    for got in (page, fake, dots):
        assert got.headers["Content-Type"] == "application/octet-stream"
        assert got.headers["Content-Disposition"].startswith("attachment")
        assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert page.content == html
    assert page.headers["Content-Disposition"] == 'attachment; filename="page.html"'
    # Nothing was written outside the data directory's attachments.
    assert not (alice.server.data_dir / "etc").exists()


def test_upload_access(server, alice, bob, member, guild, chan):
    m = ok(upload(alice, chan, {"content": "secret"}, {"files[0]": ("s.png", PNG, "image/png")}))
    url = m["attachments"][0]["url"]
    assert download(member, url).status_code == 200
    err(download(bob, url), 403, 50001)
    assert download(alice, url, auth=False).status_code == 401
    # A channel the member may not view hides its files.
    overwrite(server, chan, member.user_id, deny=VIEW_CHANNEL, type=1)
    err(download(member, url), 403, 50001)
    overwrite(server, chan, member.user_id, deny=READ_MESSAGE_HISTORY, type=1)
    err(download(member, url), 403, 50001)
    assert download(alice, url).content == PNG


def test_upload_refusals(server, alice, bob, member, chan):
    before = stored(alice, chan)
    files = {"files[0]": ("f.txt", b"data", "text/plain")}
    err(upload(bob, chan, {"content": "x"}, files), 403, 50001)
    err(upload(alice, UNKNOWN_ID, {"content": "x"}, files), 404, 10003)
    form_err(upload(alice, chan, {"attachments": [{"id": 1}]}, files), "attachments.0.id",
             "ATTACHMENT_NOT_FOUND")
    form_err(upload(alice, chan, {"attachments": [{"id": 0}, {"id": 0}]}, files),
             "attachments.1.id")
    form_err(upload(alice, chan, {"attachments": [{"id": 0, "description": "d" * 1025}]}, files),
             "attachments.0.description", "BASE_TYPE_MAX_LENGTH")
    form_err(upload(alice, chan, {"content": "x"}, {"files[10]": ("f", b"x", "text/plain")}))
    form_err(upload(alice, chan, {"content": "x"}, {"file": ("f", b"x", "text/plain")}))
    form_err(upload(alice, chan, {"content": "a" * 2001}, files), "content")
    err(upload(alice, chan, None, {"payload_json": ("p.json", b"{", "application/json")}), 400,
        50035)
    r = alice.session.post(alice.server.api_url + msg_url(chan),
                           data=b"--xyz\r\nContent-Disposition: form-data; name=\"payload_json\""
                                b"\r\n\r\n{not json\r\n--xyz--\r\n",
                           headers={"Authorization": alice.token,
                                    "Content-Type": "multipart/form-data; boundary=xyz"})
    err(r, 400, 50109)
    r = alice.session.post(alice.server.api_url + msg_url(chan), data=b"garbage",
                           headers={"Authorization": alice.token,
                                    "Content-Type": "multipart/form-data; boundary=xyz"})
    form_err(r)
    # No content and no files: an empty message.
    err(upload(alice, chan, {"content": ""}, {}), 400, 50006)
    # Files in a JSON body are refused.
    form_err(post(alice, chan, content="x", attachments=[{"id": 0}]), "attachments.0.id")
    # Without ATTACH_FILES, nothing is stored, not even the file.
    overwrite(server, chan, member.user_id, deny=ATTACH_FILES, type=1)
    secret = b"never stored " + str(time.time()).encode()
    err(upload(member, chan, {"content": "x"}, {"files[0]": ("n.txt", secret, "text/plain")}),
        403, 50013)
    digest = hashlib.sha256(secret).hexdigest()
    assert not (server.data_dir / "attachments" / digest[:2] / digest[2:]).exists()
    # Text alone is still fine for that member.
    ok(post(member, chan, content="words only"))
    assert stored(alice, chan)[:-1] == before


def test_upload_size_limit(alice, chan):
    before = stored(alice, chan)
    big = b"\0" * (25 * 1024 * 1024)  # the file alone fits; with the form around it, it does not
    err(upload(alice, chan, {"content": "big"}, {"files[0]": ("big.bin", big, None)}), 413, 40005)
    # The JSON limit (1 MiB) still applies to JSON bodies.
    err(alice.post(msg_url(chan), data=b'{"content": "' + b"a" * (1 << 20) + b'"}'), 413, 40005)
    assert stored(alice, chan) == before
    # Just under the limit is accepted.
    fits = b"\1" * (25 * 1024 * 1024 - 4096)
    m = ok(upload(alice, chan, {"content": "fits"}, {"files[0]": ("fits.bin", fits, None)}))
    assert m["attachments"][0]["size"] == len(fits)
    assert download(alice, m["attachments"][0]["url"]).content == fits


def test_edit_keeps_or_drops_attachments(alice, member, chan):
    m = ok(upload(alice, chan, {"content": "two"}, {
        "files[0]": ("a.txt", b"A", "text/plain"), "files[1]": ("b.txt", b"B", "text/plain")}))
    a, b = m["attachments"]
    e = ok(alice.patch(msg_url(chan, m["id"]), {"attachments": [{"id": b["id"]}]}))
    assert e["attachments"] == [b] and e["content"] == "two"
    err(download(alice, a["url"]), 404, 10012)
    assert download(alice, b["url"]).content == b"B"
    before = stored(alice, chan)
    form_err(alice.patch(msg_url(chan, m["id"]), {"attachments": [{"id": a["id"]}]}),
             "attachments.0.id", "ATTACHMENT_NOT_FOUND")
    form_err(alice.patch(msg_url(chan, m["id"]), {"attachments": [{}]}), "attachments.0.id")
    err(alice.patch(msg_url(chan, m["id"]), {"content": "", "attachments": []}), 400, 50006)
    err(member.patch(msg_url(chan, m["id"]), {"attachments": []}), 403, 50005)
    assert stored(alice, chan) == before
    e = ok(alice.patch(msg_url(chan, m["id"]), {"content": "", "attachments": [{"id": b["id"]}]}))
    assert e["content"] == "" and e["attachments"] == [b]


# --------------------------------------------------------------------------- gateway


class Gateway:
    """A minimal gateway client: identify, then collect dispatches."""

    def __init__(self, server, token: str, intents: int | None = None):
        self.url = f"ws://127.0.0.1:{server.port}/gateway?v=10&encoding=json"
        self.token, self.intents = token, intents
        self.seen: list[tuple[str, dict]] = []

    async def __aenter__(self):
        self.ws = await websockets.connect(self.url, max_size=1 << 24)
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
        assert hello["op"] == 10
        d = {"token": self.token, "properties": {"os": "linux", "browser": "e2e", "device": "e2e"}}
        if self.intents is not None:
            d["intents"] = self.intents
        await self.ws.send(json.dumps({"op": 2, "d": d}))
        await self.until(lambda t, _: t == "READY")
        return self

    async def __aexit__(self, *exc):
        await self.ws.close()

    async def until(self, pred, timeout: float = 5.0) -> list[tuple[str, dict]]:
        """Reads dispatches until pred(t, d) holds; returns those read (the match last)."""
        got = []
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            assert left > 0, f"timed out; saw {[t for t, _ in got]}"
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), left))
            if msg["op"] != 0:
                continue
            got.append((msg["t"], msg["d"]))
            self.seen.append((msg["t"], msg["d"]))
            if pred(msg["t"], msg["d"]):
                return got


def test_gateway_dispatches_to_viewers_only(server, alice, bob, member, mod, guild):
    public = alice.create_channel(guild["id"], unique_name("public"))["id"]
    hidden = alice.create_channel(guild["id"], unique_name("hidden"))["id"]
    overwrite(server, hidden, guild["id"], deny=VIEW_CHANNEL)  # @everyone may not view
    pub_msgs = [ok(post(alice, public, content=f"p{i}"))["id"] for i in range(3)]
    hid_msgs = [ok(post(alice, hidden, content=f"h{i}"))["id"] for i in range(3)]
    intents = GUILDS | GUILD_MESSAGES | GUILD_MESSAGE_REACTIONS

    async def call(fn, *args, **kw):
        return await asyncio.to_thread(fn, *args, **kw)

    async def body():
        async with Gateway(server, alice.token) as owner, \
                Gateway(server, member.token, intents) as viewer, \
                Gateway(server, member.token, GUILDS) as no_reactions, \
                Gateway(server, bob.token) as stranger:
            for gw in (owner, viewer, no_reactions):
                await gw.until(lambda t, d: t == "GUILD_CREATE" and d["id"] == guild["id"])
            # In the hidden channel first: the owner sees it all, the member nothing.
            ok(await call(alice.put, react_url(hidden, hid_msgs[0], THUMBS, "/@me")), 204)
            ok(await call(alice.put, f"/channels/{hidden}/messages/pins/{hid_msgs[0]}"), 204)
            ok(await call(alice.post, f"/channels/{hidden}/messages/bulk-delete",
                          {"messages": hid_msgs[1:]}), 204)
            seen = await owner.until(lambda t, d: t == "MESSAGE_DELETE_BULK")
            types = [t for t, _ in seen]
            assert "MESSAGE_REACTION_ADD" in types and "CHANNEL_PINS_UPDATE" in types

            # Then the public channel.
            ok(await call(member.put, react_url(public, pub_msgs[0], THUMBS, "/@me")), 204)
            ok(await call(mod.delete, react_url(public, pub_msgs[0], THUMBS,
                                                f"/{member.user_id}")), 204)
            ok(await call(alice.put, react_url(public, pub_msgs[0], HEART, "/@me")), 204)
            ok(await call(mod.delete, react_url(public, pub_msgs[0], HEART)), 204)
            ok(await call(alice.put, react_url(public, pub_msgs[0], HEART, "/@me")), 204)
            ok(await call(mod.delete, f"/channels/{public}/messages/{pub_msgs[0]}/reactions"), 204)
            ok(await call(alice.put, f"/channels/{public}/messages/pins/{pub_msgs[1]}"), 204)
            ok(await call(mod.post, f"/channels/{public}/messages/bulk-delete",
                          {"messages": pub_msgs[1:]}), 204)
            got = await viewer.until(lambda t, d: t == "MESSAGE_DELETE_BULK")
            # The member heard nothing of the hidden channel, everything of the public one.
            assert all(d.get("channel_id") in (public, None) for t, d in viewer.seen), viewer.seen
            assert not [d for t, d in viewer.seen if hidden in json.dumps(d)]
            ev = {t: d for t, d in reversed(got)}
            add = next(d for t, d in got if t == "MESSAGE_REACTION_ADD")
            assert add == {"user_id": member.user_id, "channel_id": public,
                           "message_id": pub_msgs[0], "guild_id": guild["id"],
                           "emoji": {"id": None, "name": THUMBS},
                           "message_author_id": alice.user_id, "burst": False,
                           "burst_colors": [], "type": 0, "member": add["member"]}
            assert add["member"]["user"]["id"] == member.user_id
            assert ev["MESSAGE_REACTION_REMOVE"] == {
                "user_id": member.user_id, "channel_id": public, "message_id": pub_msgs[0],
                "guild_id": guild["id"], "emoji": {"id": None, "name": THUMBS},
                "burst": False, "type": 0}
            assert ev["MESSAGE_REACTION_REMOVE_EMOJI"] == {
                "channel_id": public, "message_id": pub_msgs[0], "guild_id": guild["id"],
                "emoji": {"id": None, "name": HEART}}
            assert ev["MESSAGE_REACTION_REMOVE_ALL"] == {
                "channel_id": public, "message_id": pub_msgs[0], "guild_id": guild["id"]}
            pins = ev["CHANNEL_PINS_UPDATE"]
            assert set(pins) == {"guild_id", "channel_id", "last_pin_timestamp"}
            assert pins["channel_id"] == public and pins["guild_id"] == guild["id"]
            parse_ts(pins["last_pin_timestamp"])
            notice = [d for t, d in got if t == "MESSAGE_CREATE"]
            assert [d["type"] for d in notice] == [6]
            updates = [d for t, d in got if t == "MESSAGE_UPDATE"]
            assert updates and updates[-1]["id"] == pub_msgs[1] and updates[-1]["pinned"]
            bulk = ev["MESSAGE_DELETE_BULK"]
            assert bulk == {"ids": pub_msgs[1:], "channel_id": public, "guild_id": guild["id"]}

            # Intents: without GUILD_MESSAGE_REACTIONS, no reaction events, pins still.
            got = await no_reactions.until(lambda t, d: t == "CHANNEL_PINS_UPDATE" and
                                           d["channel_id"] == public)
            assert not [t for t, _ in no_reactions.seen if t.startswith("MESSAGE_REACTION")]
            # The stranger, in no guild, heard nothing at all.
            ok(await call(bob.post, "/guilds", {"name": "Bob's own"}), 201)
            got = await stranger.until(lambda t, d: t == "GUILD_CREATE")
            assert [t for t, _ in stranger.seen] == ["READY", "GUILD_CREATE"]

    asyncio.run(asyncio.wait_for(body(), 60))


def test_mention_lets_a_bot_without_message_content_read(server, alice, member, guild):
    chan = alice.create_channel(guild["id"], unique_name("intent"))["id"]

    async def body():
        async with Gateway(server, member.token, GUILDS | GUILD_MESSAGES) as gw:
            await gw.until(lambda t, d: t == "GUILD_CREATE" and d["id"] == guild["id"])
            await asyncio.to_thread(post, alice, chan, content="not for you")
            await asyncio.to_thread(post, alice, chan, content=f"hey <@{member.user_id}>")
            got = await gw.until(lambda t, d: t == "MESSAGE_CREATE" and "hey" in d["content"])
            creates = [d for t, d in got if t == "MESSAGE_CREATE"]
            assert [d["content"] for d in creates] == ["", f"hey <@{member.user_id}>"]
            assert user_ids(creates[1]["mentions"]) == [member.user_id]
            assert creates[1]["member"]["joined_at"] and creates[1]["guild_id"] == guild["id"]

    asyncio.run(asyncio.wait_for(body(), 30))
