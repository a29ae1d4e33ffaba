"""The REST surface of spec/client-api.md §4, black-box against a real hearthd.

All tests of this module share one server (the `server` fixture); each test creates or uses
the objects it needs through the module fixtures below and never assumes an empty database.
After every rejected write the test checks that nothing was stored.
"""

from __future__ import annotations

import re
import statistics
import time

import pytest

from harness import (DEFAULT_EVERYONE, DEFAULT_PASSWORD, Api, assert_snowflake, b64url_decode,
                     describe, err, form_err, hearthctl, login, new_user, ok,
                     parse_ts, register, register_full, snowflake_ms, token_from_output,
                     unique_name)

UNKNOWN_ID = "999999999999999999"  # a well-formed snowflake that names nothing
USERNAME_RE = re.compile(r"^[a-z0-9_.]{2,32}$")
MANAGE_MESSAGES = 1 << 13

UNAUTHORIZED = {"code": 0, "message": "401: Unauthorized"}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def alice(server):
    """Owner of `guild`."""
    return new_user(server, "alice", global_name="Alice A")


@pytest.fixture(scope="module")
def bob(server):
    """A user who is a member of no guild of alice's."""
    return new_user(server, "bob")


@pytest.fixture(scope="module")
def guild(alice):
    return alice.create_guild("Alice Guild")


@pytest.fixture(scope="module")
def general(guild):
    return guild["system_channel_id"]


@pytest.fixture(scope="module")
def bob_guild(bob):
    return bob.create_guild("Bob Guild")


@pytest.fixture(scope="module")
def voice(alice, guild):
    return alice.create_channel(guild["id"], "Voice Room", 2)


@pytest.fixture(scope="module")
def category(alice, guild):
    return alice.create_channel(guild["id"], "Big Category", 4)


def make_app(owner: Api, name: str) -> tuple[dict, Api]:
    """Create an application and return it with an Api for its bot (token from bot/reset)."""
    app = ok(owner.post("/applications", {"name": name}), 201)
    token = ok(owner.post(f"/applications/{app['id']}/bot/reset"))["token"]
    return app, Api(owner.server, token, bot=True, user_id=app["bot"]["id"],
                    username=app["bot"]["username"])


def authorize(user: Api, app_id: str, guild_id: str, permissions="0", authorize=True,
              scope="bot"):
    return user.post("/oauth2/authorize",
                     {"guild_id": guild_id, "permissions": permissions, "authorize": authorize},
                     params={"client_id": app_id, "scope": scope})


@pytest.fixture(scope="module")
def member_bot(alice, guild):
    """A bot in alice's guild with no managed role: @everyone's permissions only."""
    app, bot = make_app(alice, "Helper Bot")
    body = ok(authorize(alice, app["id"], guild["id"], "0"))
    assert isinstance(body.get("location"), str)
    bot.app = app
    return bot


@pytest.fixture(scope="module")
def mod_bot(alice, guild):
    """A bot in alice's guild whose managed role grants MANAGE_MESSAGES."""
    app, bot = make_app(alice, "Mod Bot")
    ok(authorize(alice, app["id"], guild["id"], MANAGE_MESSAGES))
    bot.app = app
    return bot


def member_count(api: Api, guild_id: str) -> int:
    return ok(api.get(f"/guilds/{guild_id}", params={"with_counts": "true"}))[
        "approximate_member_count"]


def ids(messages: list[dict]) -> list[str]:
    return [m["id"] for m in messages]


def snapshot(api: Api, channel_id: str) -> list[tuple]:
    """What a channel holds, for 'nothing changed' checks."""
    return [(m["id"], m["content"], m["edited_timestamp"]) for m in api.all_messages(channel_id)]


# --------------------------------------------------------------------------- shapes

USER_FIXED = {"discriminator": "0", "avatar": None, "system": False, "mfa_enabled": False,
              "locale": "en-US", "verified": True, "email": None, "flags": 0, "public_flags": 0,
              "premium_type": 0}
PRIVATE_USER_FIELDS = {"locale", "verified", "email", "mfa_enabled"}

GUILD_FIXED = {"icon": None, "splash": None, "discovery_splash": None, "afk_channel_id": None,
               "afk_timeout": 300, "verification_level": 0, "default_message_notifications": 0,
               "explicit_content_filter": 0, "emojis": [], "features": [], "mfa_level": 0,
               "application_id": None, "system_channel_flags": 0, "rules_channel_id": None,
               "max_members": 250000, "vanity_url_code": None, "description": None,
               "banner": None, "premium_tier": 0, "premium_subscription_count": 0,
               "preferred_locale": "en-US", "public_updates_channel_id": None, "nsfw_level": 0,
               "stickers": [], "premium_progress_bar_enabled": False}

ROLE_FIXED = {"color": 0, "colors": {"primary_color": 0, "secondary_color": None,
                                     "tertiary_color": None},
              "hoist": False, "icon": None, "unicode_emoji": None, "mentionable": False,
              "flags": 0}

MESSAGE_FIXED = {"tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
                 "attachments": [], "embeds": [], "pinned": False, "type": 0, "flags": 0,
                 "components": []}


def assert_fields(obj: dict, fixed: dict, what: str) -> None:
    for k, v in fixed.items():
        assert k in obj, f"{what} lacks {k!r}: {obj}"
        assert obj[k] == v, f"{what}.{k} = {obj[k]!r}, expected {v!r}"


def check_user(u: dict, private: bool) -> None:
    assert_snowflake(u.get("id"), "user.id")
    assert isinstance(u.get("username"), str) and USERNAME_RE.match(u["username"]), u
    assert u.get("discriminator") == "0", u
    assert "global_name" in u and (u["global_name"] is None or isinstance(u["global_name"], str))
    assert u.get("avatar", "missing") is None, u
    assert isinstance(u.get("bot"), bool), u
    assert u.get("public_flags") == 0, u
    if private:
        assert_fields(u, USER_FIXED, "user")
    else:
        leaked = PRIVATE_USER_FIELDS & set(u)
        assert not leaked, f"public user object shows {leaked}: {u}"


def check_role(r: dict) -> None:
    assert_snowflake(r.get("id"), "role.id")
    assert isinstance(r.get("name"), str)
    assert isinstance(r.get("position"), int)
    assert isinstance(r.get("permissions"), str) and r["permissions"].isdigit(), r
    assert isinstance(r.get("managed"), bool), r
    assert_fields(r, ROLE_FIXED, "role")


def check_guild(g: dict) -> None:
    assert_snowflake(g.get("id"), "guild.id")
    assert_snowflake(g.get("owner_id"), "guild.owner_id")
    assert_snowflake(g.get("system_channel_id"), "guild.system_channel_id")
    assert isinstance(g.get("name"), str)
    assert_fields(g, GUILD_FIXED, "guild")
    assert isinstance(g.get("roles"), list) and g["roles"], g
    for r in g["roles"]:
        check_role(r)


def check_channel(c: dict, guild_id: str) -> None:
    assert_snowflake(c.get("id"), "channel.id")
    assert c.get("guild_id") == guild_id, c
    assert c.get("type") in (0, 2, 4), c
    assert isinstance(c.get("name"), str), c
    assert isinstance(c.get("position"), int), c
    assert c.get("permission_overwrites") == [], c
    assert c.get("flags") == 0, c
    assert "parent_id" in c, c
    if c["parent_id"] is not None:
        assert_snowflake(c["parent_id"], "channel.parent_id")
    if c["type"] == 0:
        for k in ("topic", "nsfw", "rate_limit_per_user", "last_message_id"):
            assert k in c, f"text channel lacks {k}: {c}"
        assert isinstance(c["nsfw"], bool) and isinstance(c["rate_limit_per_user"], int)
        if c["last_message_id"] is not None:
            assert_snowflake(c["last_message_id"], "channel.last_message_id")
    elif c["type"] == 2:
        assert_fields(c, {"bitrate": 64000, "user_limit": 0, "rtc_region": None}, "voice")
        assert isinstance(c.get("nsfw"), bool) and isinstance(c.get("rate_limit_per_user"), int)


def check_message(m: dict, channel_id: str, author_id: str, content: str) -> None:
    assert_snowflake(m.get("id"), "message.id")
    assert m.get("channel_id") == channel_id, m
    assert isinstance(m.get("author"), dict), m
    check_user(m["author"], private=False)
    assert m["author"]["id"] == author_id, m
    assert m.get("content") == content, f"content differs: {m.get('content')!r:.80} vs {content!r:.80}"
    ts = parse_ts(m.get("timestamp"))
    # The timestamp and the snowflake are drawn from the same clock.
    assert abs(ts.timestamp() * 1000 - snowflake_ms(m["id"])) < 5000, m
    assert "edited_timestamp" in m, m
    if m["edited_timestamp"] is not None:
        assert parse_ts(m["edited_timestamp"]) >= ts
    assert_fields(m, MESSAGE_FIXED, "message")


# --------------------------------------------------------------------------- transport


def test_healthz_and_unknown_route(server, alice):
    r = Api(server).request("GET", "/healthz", prefix="")
    assert ok(r) == {"status": "ok"}
    body = err(alice.get("/definitely/not/a/route"), 404, 0, "404: Not Found")
    assert body == {"code": 0, "message": "404: Not Found"}


def test_unknown_route_without_token(server):
    err(Api(server).get("/definitely/not/a/route"), 404, 0, "404: Not Found")
    err(Api(server).get("/not-the-api", prefix=""), 404, 0, "404: Not Found")


def test_v9_prefix_serves_the_same(alice):
    v10 = ok(alice.get("/users/@me"))
    v9 = ok(alice.get("/users/@me", prefix="/api/v9"))
    assert v9 == v10


def test_method_not_allowed(server, alice):
    body = err(alice.delete("/users/@me"), 405, 0, "405: Method Not Allowed")
    assert body == {"code": 0, "message": "405: Method Not Allowed"}
    err(Api(server).get("/auth/register"), 405, 0, "405: Method Not Allowed")
    err(Api(server).get("/auth/login"), 405, 0, "405: Method Not Allowed")


def test_body_too_large(alice, general):
    before = snapshot(alice, general)
    big = "a" * (1024 * 1024 + 100)
    err(alice.post(f"/channels/{general}/messages", {"content": big}), 413, 40005,
        "Request entity too large")
    assert snapshot(alice, general) == before


def test_body_at_the_limit_is_read(alice, general):
    """A body of exactly max-body-bytes (1 MiB) is parsed: the content is too long, not the body."""
    before = snapshot(alice, general)
    head, tail = b'{"content": "', b'"}'
    raw = head + b"a" * (1024 * 1024 - len(head) - len(tail)) + tail
    assert len(raw) == 1024 * 1024
    form_err(alice.post(f"/channels/{general}/messages", data=raw), "content",
             "BASE_TYPE_MAX_LENGTH")
    assert snapshot(alice, general) == before


# --------------------------------------------------------------------------- accounts


def test_register_and_me(server):
    name = unique_name("reg")
    body = register_full(server, name, DEFAULT_PASSWORD, global_name="Reg Istered")
    token, user_id = body["token"], body["user_id"]
    assert_snowflake(user_id, "user_id")
    assert isinstance(token, str)
    # base64url(user id) "." base64url(24 random bytes)
    head, _, secret = token.partition(".")
    assert head and secret and "." not in secret, token
    assert len(b64url_decode(secret)) == 24, token
    decoded = b64url_decode(head)
    assert decoded == user_id.encode() or int.from_bytes(decoded, "big") == int(user_id), token

    me = ok(Api(server, token).get("/users/@me"))
    check_user(me, private=True)
    assert me["id"] == user_id
    assert me["username"] == name
    assert me["global_name"] == "Reg Istered"
    assert me["bot"] is False


def test_register_without_global_name(server):
    api = new_user(server, "plain")
    me = api.me()
    assert me["global_name"] is None
    assert me["username"] == api.username


def test_register_folds_upper_case(server):
    name = unique_name("Mixed")
    token = register(server, name.upper())
    me = ok(Api(server, token).get("/users/@me"))
    assert me["username"] == name.lower()
    # the folded name is taken, whatever its case
    form_err(Api(server).post("/auth/register", {"username": name.lower(),
                                                 "password": DEFAULT_PASSWORD}),
             "username", "USERNAME_ALREADY_TAKEN")
    assert login(server, name.lower())


def test_register_duplicate_username(server):
    name = unique_name("dup")
    first = register_full(server, name)
    r = Api(server).post("/auth/register", {"username": name, "password": "another password"})
    form_err(r, "username", "USERNAME_ALREADY_TAKEN")
    # nothing changed: the first password still works, the second does not
    assert ok(Api(server).post("/auth/login", {"login": name, "password": DEFAULT_PASSWORD}))[
        "user_id"] == first["user_id"]
    form_err(Api(server).post("/auth/login", {"login": name, "password": "another password"}),
             "login", "INVALID_LOGIN")


@pytest.mark.parametrize("username", ["bad name", "bad-name", "émile", "a!b", "tab\tname",
                                      "semi;colon", "ünï", "emoji😀"])
def test_register_invalid_username_characters(server, username):
    r = Api(server).post("/auth/register", {"username": username, "password": DEFAULT_PASSWORD})
    form_err(r, "username", "USERNAME_INVALID_CHARACTERS")
    form_err(Api(server).post("/auth/login", {"login": username, "password": DEFAULT_PASSWORD}),
             "login", "INVALID_LOGIN")


def test_register_username_length(server):
    for name in ("a", "x" * 33):
        r = Api(server).post("/auth/register", {"username": name, "password": DEFAULT_PASSWORD})
        form_err(r, "username", "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 32 in length.")
    # both bounds are accepted
    register(server, "zz")  # no other test of this module uses a 2-character name
    long_name = unique_name("l").ljust(32, "x")
    assert len(long_name) == 32
    register(server, long_name)


def test_register_password_length(server):
    for pw in ("x" * 7, "x" * 129, ""):
        name = unique_name("pw")
        r = Api(server).post("/auth/register", {"username": name, "password": pw})
        form_err(r, "password", "BASE_TYPE_BAD_LENGTH", "Must be between 8 and 128 in length.")
        # nothing stored: the name is still free
        form_err(Api(server).post("/auth/login", {"login": name, "password": pw}),
                 "login", "INVALID_LOGIN")
    register(server, unique_name("pw8"), "x" * 8)
    register(server, unique_name("pw128"), "y" * 128)


@pytest.mark.parametrize("body,field,code", [
    ({"password": DEFAULT_PASSWORD}, "username", "BASE_TYPE_REQUIRED"),
    ({"username": "{name}"}, "password", "BASE_TYPE_REQUIRED"),
    ({"username": 12345, "password": DEFAULT_PASSWORD}, "username", "BASE_TYPE_STRING"),
    ({"username": ["x"], "password": DEFAULT_PASSWORD}, "username", "BASE_TYPE_STRING"),
    ({"username": "{name}", "password": True}, "password", "BASE_TYPE_STRING"),
    ({"username": "{name}", "password": 12345678}, "password", "BASE_TYPE_STRING"),
    ({"username": "{name}", "password": DEFAULT_PASSWORD, "global_name": 7}, "global_name",
     "BASE_TYPE_STRING"),
])
def test_register_wrong_types(server, body, field, code):
    name = unique_name("wt")
    body = {k: (name if v == "{name}" else v) for k, v in body.items()}
    form_err(Api(server).post("/auth/register", body), field, code)
    # nothing stored: the name can still be registered
    register(server, name)


@pytest.mark.parametrize("raw", [b'{"username": "x", "password": ', b"not json", b"[]",
                                 b'"a string"', b"42", b'{"username": "x"}}', b"\xff\xfe"])
def test_register_malformed_json(server, raw):
    err(Api(server).post("/auth/register", data=raw), 400, 50109,
        "The request body contains invalid JSON.")


def test_login(server):
    api = new_user(server, "login")
    body = ok(Api(server).post("/auth/login", {"login": api.username, "password": api.password}))
    assert body["user_id"] == api.user_id
    assert isinstance(body["token"], str) and body["token"] != api.token
    # each login issues a new token; older ones stay valid
    again = login(server, api.username, api.password)
    assert again not in (api.token, body["token"])
    for t in (api.token, body["token"], again):
        assert ok(Api(server, t).get("/users/@me"))["id"] == api.user_id


def test_login_bad_password_and_unknown_user(server, alice):
    for login_name, pw in ((alice.username, "wrong password"),
                           (unique_name("nobody"), DEFAULT_PASSWORD)):
        r = Api(server).post("/auth/login", {"login": login_name, "password": pw})
        form_err(r, "login", "INVALID_LOGIN")
        form_err(r, "password", "INVALID_LOGIN")


def test_login_takes_as_long_for_unknown_users(server, alice):
    """An unknown name must cost about as much as a wrong password (no user enumeration)."""
    def timed(name):
        t0 = time.perf_counter()
        r = Api(server).post("/auth/login", {"login": name, "password": "wrong password"})
        form_err(r, "login", "INVALID_LOGIN")
        return time.perf_counter() - t0

    known = statistics.median(timed(alice.username) for _ in range(3))
    unknown = statistics.median(timed(unique_name("ghost")) for _ in range(3))
    if known < 0.02:
        pytest.skip(f"password hashing too cheap here ({known * 1000:.1f} ms) to compare")
    assert unknown > 0.4 * known, (f"login for an unknown user took {unknown * 1000:.1f} ms, "
                                   f"for a wrong password {known * 1000:.1f} ms")


@pytest.mark.parametrize("body,field,code", [
    ({"password": DEFAULT_PASSWORD}, "login", "BASE_TYPE_REQUIRED"),
    ({"login": "someone"}, "password", "BASE_TYPE_REQUIRED"),
    ({"login": 5, "password": DEFAULT_PASSWORD}, "login", "BASE_TYPE_STRING"),
    ({"login": "someone", "password": None}, "password", None),
])
def test_login_wrong_types(server, body, field, code):
    form_err(Api(server).post("/auth/login", body), field, code)


def test_login_malformed_json(server):
    err(Api(server).post("/auth/login", data=b'{"login": "x",'), 400, 50109)
    err(Api(server).post("/auth/login", data=b'["x"]'), 400, 50109)


# --------------------------------------------------------------------------- tokens


def test_token_checks(server, alice, member_bot):
    def status(raw):
        return Api(server).get("/users/@me", raw_auth=raw)

    user_t, bot_t = alice.token, member_bot.token
    head, _, secret = user_t.partition(".")
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    for raw in (None, "", "garbage", "Bot garbage", f"Bot {user_t}", bot_t, f"Bearer {user_t}",
                f"{head}.{flipped}", f"{head}.", f".{secret}", user_t + "x", f"Bot  {bot_t}",
                "Bot "):
        r = status(raw)
        assert r.status_code == 401, f"Authorization {raw!r}: {describe(r)}"
        assert r.json() == UNAUTHORIZED, describe(r)
    # and the real forms work
    assert ok(status(user_t))["id"] == alice.user_id
    assert ok(status(f"Bot {bot_t}"))["id"] == member_bot.user_id


def test_endpoints_require_auth(server, guild, general):
    anon = Api(server)
    for method, path in (("GET", "/users/@me"), ("GET", "/users/@me/guilds"),
                         ("POST", "/guilds"), ("GET", f"/guilds/{guild['id']}"),
                         ("GET", f"/guilds/{guild['id']}/channels"),
                         ("GET", f"/channels/{general}"),
                         ("GET", f"/channels/{general}/messages"),
                         ("POST", f"/channels/{general}/messages"),
                         ("POST", "/applications")):
        kw = {"json": {"name": "x", "content": "x"}} if method == "POST" else {}
        r = anon.request(method, path, **kw)
        assert r.status_code == 401 and r.json() == UNAUTHORIZED, describe(r)


# --------------------------------------------------------------------------- users


def test_users_me_shape(alice):
    me = alice.me()
    check_user(me, private=True)
    assert me["id"] == alice.user_id
    assert me["username"] == alice.username
    assert me["global_name"] == "Alice A"
    assert me["bot"] is False


def test_get_user_by_id(alice, bob, member_bot):
    u = ok(bob.get(f"/users/{alice.user_id}"))
    check_user(u, private=False)
    assert u["id"] == alice.user_id and u["username"] == alice.username
    assert u["global_name"] == "Alice A" and u["bot"] is False
    b = ok(alice.get(f"/users/{member_bot.user_id}"))
    check_user(b, private=False)
    assert b["bot"] is True
    err(alice.get(f"/users/{UNKNOWN_ID}"), 404, 10013, "Unknown User")


# --------------------------------------------------------------------------- applications


def test_application_create_shape(alice):
    app = ok(alice.post("/applications", {"name": "Shape Bot"}), 201)
    assert_snowflake(app.get("id"), "application.id")
    assert_fields(app, {"name": "Shape Bot", "description": "", "icon": None, "bot_public": True,
                        "bot_require_code_grant": False, "flags": 282624}, "application")
    check_user(app["owner"], private=False)
    assert app["owner"]["id"] == alice.user_id
    check_user(app["bot"], private=False)
    assert app["bot"]["bot"] is True
    assert app["bot"]["id"] != alice.user_id
    # the application can be read back by its owner
    got = ok(alice.get(f"/applications/{app['id']}"))
    assert got["id"] == app["id"] and got["name"] == "Shape Bot"
    assert got["bot"]["id"] == app["bot"]["id"]
    # its bot is a real user
    u = ok(alice.get(f"/users/{app['bot']['id']}"))
    assert u["bot"] is True and u["username"] == app["bot"]["username"]


@pytest.mark.parametrize("name", ["X", "!!!", "Twin", "Twin", "A Very Long Application Name 32c"])
def test_application_bot_username_is_valid_and_unique(alice, name):
    app = ok(alice.post("/applications", {"name": name}), 201)
    assert app["name"] == name
    username = app["bot"]["username"]
    assert USERNAME_RE.match(username), f"bot username {username!r} for application {name!r}"
    # unique: no other user answers to it (the bot user id is the one behind the name)
    assert ok(alice.get(f"/users/{app['bot']['id']}"))["username"] == username


def test_application_bot_usernames_differ(alice):
    a = ok(alice.post("/applications", {"name": "Same Name"}), 201)
    b = ok(alice.post("/applications", {"name": "Same Name"}), 201)
    assert a["id"] != b["id"]
    assert a["bot"]["id"] != b["bot"]["id"]
    assert a["bot"]["username"] != b["bot"]["username"]


@pytest.mark.parametrize("body,code", [
    ({"name": ""}, "BASE_TYPE_BAD_LENGTH"),
    ({"name": "x" * 33}, "BASE_TYPE_BAD_LENGTH"),
    ({}, "BASE_TYPE_REQUIRED"),
    ({"name": 42}, "BASE_TYPE_STRING"),
])
def test_application_name_validation(alice, body, code):
    form_err(alice.post("/applications", body), "name", code)


def test_application_access(alice, bob):
    app = ok(alice.post("/applications", {"name": "Private Reads"}), 201)
    err(bob.get(f"/applications/{app['id']}"), 403, 50013, "Missing Permissions")
    err(alice.get(f"/applications/{UNKNOWN_ID}"), 404, 10002, "Unknown Application")
    err(alice.post(f"/applications/{UNKNOWN_ID}/bot/reset"), 404, 10002)


def test_bot_token_reset(server, alice, bob):
    app = ok(alice.post("/applications", {"name": "Reset Bot"}), 201)
    t1 = ok(alice.post(f"/applications/{app['id']}/bot/reset"))["token"]
    b1 = Api(server, t1, bot=True)
    me = ok(b1.get("/users/@me"))
    check_user(me, private=True)
    assert me["id"] == app["bot"]["id"] and me["bot"] is True
    assert ok(b1.get("/applications/@me"))["id"] == app["id"]

    t2 = ok(alice.post(f"/applications/{app['id']}/bot/reset"))["token"]
    assert t2 != t1
    r = b1.get("/users/@me")
    assert r.status_code == 401 and r.json() == UNAUTHORIZED, describe(r)
    b2 = Api(server, t2, bot=True)
    assert ok(b2.get("/users/@me"))["id"] == app["bot"]["id"]

    # someone else may not reset it, and trying changes nothing
    err(bob.post(f"/applications/{app['id']}/bot/reset"), 403, 50013)
    assert ok(b2.get("/users/@me"))["id"] == app["bot"]["id"]
    # nor may the bot itself: bot tokens are refused on user-only endpoints (spec §3, 20001)
    err(b2.post(f"/applications/{app['id']}/bot/reset"), 403, 20001)
    assert ok(b2.get("/users/@me"))["id"] == app["bot"]["id"]


def test_bots_cannot_create_applications_or_guilds(alice, member_bot):
    err(member_bot.post("/applications", {"name": "Bot Made"}), 403, 20001,
        "Bots cannot use this endpoint")
    before = ids(ok(member_bot.get("/users/@me/guilds")))
    err(member_bot.post("/guilds", {"name": "Bot Guild"}), 403, 20001,
        "Bots cannot use this endpoint")
    assert ids(ok(member_bot.get("/users/@me/guilds"))) == before


# --------------------------------------------------------------------------- oauth2


def test_authorize_adds_bot_as_member(server, alice, guild, general):
    app, bot = make_app(alice, "Joiner Bot")
    err(bot.get(f"/guilds/{guild['id']}"), 403, 50001, "Missing Access")
    err(bot.post(f"/channels/{general}/messages", {"content": "too early"}), 403, 50001)
    count = member_count(alice, guild["id"])

    body = ok(authorize(alice, app["id"], guild["id"], "0"))
    assert isinstance(body.get("location"), str)

    assert member_count(alice, guild["id"]) == count + 1
    g = ok(bot.get(f"/guilds/{guild['id']}"))
    assert g["id"] == guild["id"]
    assert guild["id"] in ids(ok(bot.get("/users/@me/guilds")))
    # no managed role for permissions 0
    assert not [r for r in g["roles"] if (r.get("tags") or {}).get("bot_id") == bot.user_id]
    # it reads and posts with its Bot token
    mine = alice.send(general, "hello bot")
    assert mine["id"] in ids(bot.history(general, limit=100))
    m = bot.send(general, "hello from the bot")
    check_message(m, general, bot.user_id, "hello from the bot")
    assert m["author"]["bot"] is True
    assert alice.history(general, limit=1)[0]["id"] == m["id"]


def test_authorize_managed_role(alice, guild, mod_bot):
    g = ok(alice.get(f"/guilds/{guild['id']}"))
    managed = [r for r in g["roles"] if (r.get("tags") or {}).get("bot_id") == mod_bot.user_id]
    assert len(managed) == 1, g["roles"]
    role = managed[0]
    check_role(role)
    assert role["name"] == "Mod Bot"
    assert role["managed"] is True
    assert role["permissions"] == str(MANAGE_MESSAGES)
    # the bot's permissions in the guild listing include the role's
    entry = [e for e in ok(mod_bot.get("/users/@me/guilds")) if e["id"] == guild["id"]]
    assert entry and int(entry[0]["permissions"]) == DEFAULT_EVERYONE | MANAGE_MESSAGES, entry


def test_authorize_again_changes_nothing(alice, guild, mod_bot):
    roles = ok(alice.get(f"/guilds/{guild['id']}"))["roles"]
    count = member_count(alice, guild["id"])
    body = ok(authorize(alice, mod_bot.app["id"], guild["id"], "8"))  # even with other perms
    assert isinstance(body.get("location"), str)
    assert ok(alice.get(f"/guilds/{guild['id']}"))["roles"] == roles
    assert member_count(alice, guild["id"]) == count


def test_authorize_refusals(server, alice, bob, guild):
    app, bot = make_app(alice, "Refused Bot")
    count = member_count(alice, guild["id"])
    roles = ok(alice.get(f"/guilds/{guild['id']}"))["roles"]

    # a user who is not a member (let alone holding MANAGE_GUILD) may not add it
    r = authorize(bob, app["id"], guild["id"], "8")
    assert r.status_code == 403 and r.json().get("code") in (50001, 50013), describe(r)
    # a scope other than bot
    form_err(authorize(alice, app["id"], guild["id"], "0", scope="identify"))
    # authorize: false answers 200 and does nothing
    ok(authorize(alice, app["id"], guild["id"], "8", authorize=False))
    # unknown application / guild
    err(authorize(alice, UNKNOWN_ID, guild["id"]), 404, 10002, "Unknown Application")
    err(authorize(alice, app["id"], UNKNOWN_ID), 404, 10004, "Unknown Guild")

    err(bot.get(f"/guilds/{guild['id']}"), 403, 50001)
    assert member_count(alice, guild["id"]) == count
    assert ok(alice.get(f"/guilds/{guild['id']}"))["roles"] == roles


def test_authorize_public_app_into_own_guild(alice, bob, bob_guild):
    """A public application may be added by anyone who manages the target guild."""
    app, bot = make_app(alice, "Public Bot")
    ok(authorize(bob, app["id"], bob_guild["id"], "0"))
    assert ok(bot.get(f"/guilds/{bob_guild['id']}"))["id"] == bob_guild["id"]


def test_hearthctl_bot_create_and_reset(server_factory):
    srv = server_factory()
    owner = new_user(srv, "ctlowner")
    g = owner.create_guild("Ctl Guild")
    srv.stop()

    out = hearthctl("--data-dir", str(srv.data_dir), "bot", "create", "Ctl Bot", "--owner",
                    owner.username)
    token = token_from_output(out.stdout)
    out2 = hearthctl("--data-dir", str(srv.data_dir), "bot", "create", "Lonely Bot")
    token2 = token_from_output(out2.stdout)
    assert token2 != token

    srv.start()
    owner = Api(srv, owner.token, user_id=owner.user_id)
    bot = Api(srv, token, bot=True)
    me = ok(bot.get("/users/@me"))
    assert me["bot"] is True
    app = ok(bot.get("/applications/@me"))
    assert app["name"] == "Ctl Bot" and app["owner"]["id"] == owner.user_id
    assert app["bot"]["id"] == me["id"]
    assert ok(owner.get(f"/applications/{app['id']}"))["id"] == app["id"]
    assert ok(Api(srv, token2, bot=True).get("/users/@me"))["bot"] is True
    r = Api(srv, token).get("/users/@me")  # a bot token without the prefix
    assert r.status_code == 401, describe(r)
    # the owner can add it to a guild like any application
    ok(authorize(owner, app["id"], g["id"], "0"))
    assert bot.send(g["system_channel_id"], "made by hearthctl")["author"]["id"] == me["id"]
    srv.stop()

    out3 = hearthctl("--data-dir", str(srv.data_dir), "bot", "reset", app["id"])
    token3 = token_from_output(out3.stdout)
    assert token3 != token
    srv.start()
    r = Api(srv, token, bot=True).get("/users/@me")
    assert r.status_code == 401 and r.json() == UNAUTHORIZED, describe(r)
    assert ok(Api(srv, token3, bot=True).get("/users/@me"))["id"] == me["id"]


# --------------------------------------------------------------------------- guilds


def test_create_guild_shape(alice):
    g = alice.create_guild("Shape Guild")
    check_guild(g)
    assert g["name"] == "Shape Guild"
    assert g["owner_id"] == alice.user_id
    assert len(g["roles"]) == 1
    everyone = g["roles"][0]
    assert everyone["id"] == g["id"]
    assert everyone["name"] == "@everyone"
    assert everyone["permissions"] == str(DEFAULT_EVERYONE)
    assert everyone["position"] == 0 and everyone["managed"] is False
    assert "approximate_member_count" not in g

    channels = ok(alice.get(f"/guilds/{g['id']}/channels"))
    assert len(channels) == 1
    general = channels[0]
    check_channel(general, g["id"])
    assert general["id"] == g["system_channel_id"]
    assert general["type"] == 0 and general["name"] == "general"
    assert general["parent_id"] is None

    got = ok(alice.get(f"/guilds/{g['id']}"))
    check_guild(got)
    assert got == g


def test_get_guild_with_counts(alice, guild, member_bot):
    plain = ok(alice.get(f"/guilds/{guild['id']}"))
    assert "approximate_member_count" not in plain
    assert "approximate_presence_count" not in plain
    counted = ok(alice.get(f"/guilds/{guild['id']}", params={"with_counts": "true"}))
    check_guild(counted)
    assert isinstance(counted["approximate_member_count"], int)
    assert counted["approximate_member_count"] >= 2  # alice and member_bot at least
    assert isinstance(counted["approximate_presence_count"], int)
    fresh = alice.create_guild("Counted")
    got = ok(alice.get(f"/guilds/{fresh['id']}", params={"with_counts": "true"}))
    assert got["approximate_member_count"] == 1


@pytest.mark.parametrize("body,code", [
    ({"name": "a"}, "BASE_TYPE_BAD_LENGTH"),
    ({"name": "x" * 101}, "BASE_TYPE_BAD_LENGTH"),
    ({}, "BASE_TYPE_REQUIRED"),
    ({"name": 5}, "BASE_TYPE_STRING"),
])
def test_create_guild_validation(guild_validation_user, body, code):
    user = guild_validation_user
    before = ok(user.get("/users/@me/guilds"))
    form_err(user.post("/guilds", body), "name", code)
    assert ok(user.get("/users/@me/guilds")) == before


@pytest.fixture(scope="module")
def guild_validation_user(server):
    return new_user(server, "gv")


def test_create_guild_malformed_json(alice):
    before = ok(alice.get("/users/@me/guilds"))
    err(alice.post("/guilds", data=b'{"name": "x"'), 400, 50109)
    err(alice.post("/guilds", data=b'["name"]'), 400, 50109)
    assert ok(alice.get("/users/@me/guilds")) == before


def test_create_guild_name_bounds(alice):
    assert alice.create_guild("ab")["name"] == "ab"
    assert alice.create_guild("n" * 100)["name"] == "n" * 100


def test_guild_unknown_and_foreign(alice, bob, guild):
    err(alice.get(f"/guilds/{UNKNOWN_ID}"), 404, 10004, "Unknown Guild")
    err(alice.get(f"/guilds/{UNKNOWN_ID}/channels"), 404, 10004, "Unknown Guild")
    err(bob.get(f"/guilds/{guild['id']}"), 403, 50001, "Missing Access")
    err(bob.get(f"/guilds/{guild['id']}/channels"), 403, 50001, "Missing Access")
    assert guild["id"] not in ids(ok(bob.get("/users/@me/guilds")))


def test_my_guilds_listing_and_paging(server, member_bot, guild):
    user = new_user(server, "lister")
    assert ok(user.get("/users/@me/guilds")) == []
    gs = [user.create_guild(f"Listed {i}") for i in range(3)]
    g_ids = [g["id"] for g in gs]
    assert [int(i) for i in g_ids] == sorted(int(i) for i in g_ids)

    listing = ok(user.get("/users/@me/guilds"))
    assert ids(listing) == g_ids
    for entry, g in zip(listing, gs):
        assert set(entry) >= {"id", "name", "icon", "banner", "owner", "permissions", "features"}
        assert entry["name"] == g["name"] and entry["icon"] is None and entry["banner"] is None
        assert entry["owner"] is True and entry["features"] == []
        assert isinstance(entry["permissions"], str) and entry["permissions"].isdigit()

    assert ids(ok(user.get("/users/@me/guilds", params={"limit": 2}))) == g_ids[:2]
    assert ids(ok(user.get("/users/@me/guilds", params={"limit": 1}))) == g_ids[:1]
    assert ids(ok(user.get("/users/@me/guilds", params={"after": g_ids[0]}))) == g_ids[1:]
    assert ids(ok(user.get("/users/@me/guilds", params={"after": g_ids[2]}))) == []
    assert ids(ok(user.get("/users/@me/guilds", params={"before": g_ids[2]}))) == g_ids[:2]
    assert ids(ok(user.get("/users/@me/guilds", params={"before": g_ids[0]}))) == []
    assert ids(ok(user.get("/users/@me/guilds", params={"after": g_ids[0], "limit": 1}))) == \
        g_ids[1:2]
    assert ids(ok(user.get("/users/@me/guilds", params={"limit": 200}))) == g_ids
    form_err(user.get("/users/@me/guilds", params={"limit": 0}), "limit")
    form_err(user.get("/users/@me/guilds", params={"limit": 201}), "limit")
    form_err(user.get("/users/@me/guilds", params={"after": "abc"}), "after", "NUMBER_TYPE_COERCE")

    # a non-owner member sees owner: false and @everyone's permissions
    entry = [e for e in ok(member_bot.get("/users/@me/guilds")) if e["id"] == guild["id"]]
    assert len(entry) == 1
    assert entry[0]["owner"] is False
    assert entry[0]["permissions"] == str(DEFAULT_EVERYONE)


# --------------------------------------------------------------------------- channels


def test_guild_channels_ordered(alice, guild, voice, category):
    channels = ok(alice.get(f"/guilds/{guild['id']}/channels"))
    for c in channels:
        check_channel(c, guild["id"])
    assert [c["id"] for c in channels] == [
        c["id"] for c in sorted(channels, key=lambda c: (c["position"], int(c["id"])))]
    got = {c["id"] for c in channels}
    assert {guild["system_channel_id"], voice["id"], category["id"]} <= got


def test_create_text_channel(alice, guild):
    c = alice.create_channel(guild["id"], "My Fancy Channel", 0, topic="about things", nsfw=True,
                             rate_limit_per_user=5)
    check_channel(c, guild["id"])
    assert c["type"] == 0
    assert c["name"] == "my-fancy-channel"
    assert c["topic"] == "about things" and c["nsfw"] is True and c["rate_limit_per_user"] == 5
    assert c["last_message_id"] is None and c["parent_id"] is None
    assert ok(alice.get(f"/channels/{c['id']}")) == c
    assert c["id"] in ids(ok(alice.get(f"/guilds/{guild['id']}/channels")))

    d = ok(alice.post(f"/guilds/{guild['id']}/channels", {"name": "UPPER"}), 201)  # type defaults to 0
    assert d["type"] == 0 and d["name"] == "upper"
    assert d["topic"] is None and d["nsfw"] is False and d["rate_limit_per_user"] == 0


def test_create_voice_and_category(alice, guild, voice, category):
    check_channel(voice, guild["id"])
    assert voice["type"] == 2 and voice["name"] == "Voice Room"
    check_channel(category, guild["id"])
    assert category["type"] == 4 and category["name"] == "Big Category"
    assert ok(alice.get(f"/channels/{voice['id']}")) == voice
    assert ok(alice.get(f"/channels/{category['id']}")) == category


def test_channel_parent(alice, bob, guild, general, category, bob_guild):
    child = alice.create_channel(guild["id"], "child text", 0, parent_id=category["id"])
    assert child["parent_id"] == category["id"]
    vchild = alice.create_channel(guild["id"], "child voice", 2, parent_id=category["id"])
    assert vchild["parent_id"] == category["id"]

    foreign_cat = bob.create_channel(bob_guild["id"], "Bob Cat", 4)
    before = ids(ok(alice.get(f"/guilds/{guild['id']}/channels")))
    for parent in (general, UNKNOWN_ID, foreign_cat["id"], child["id"]):
        form_err(alice.post(f"/guilds/{guild['id']}/channels",
                            {"name": "orphan", "type": 0, "parent_id": parent}), "parent_id")
    assert ids(ok(alice.get(f"/guilds/{guild['id']}/channels"))) == before


@pytest.mark.parametrize("body,field,code", [
    ({"name": "x", "type": 3}, "type", "BASE_TYPE_CHOICES"),
    ({"name": "x", "type": 1}, "type", "BASE_TYPE_CHOICES"),
    ({"name": "x", "type": 5}, "type", "BASE_TYPE_CHOICES"),
    ({"name": "x", "type": "text"}, "type", None),
    ({"name": ""}, "name", "BASE_TYPE_BAD_LENGTH"),
    ({"name": "x" * 101}, "name", "BASE_TYPE_BAD_LENGTH"),
    ({"type": 0}, "name", "BASE_TYPE_REQUIRED"),
    ({"name": 7}, "name", "BASE_TYPE_STRING"),
    ({"name": "x", "topic": "t" * 1025}, "topic", None),
    ({"name": "x", "rate_limit_per_user": 21601}, "rate_limit_per_user", "NUMBER_TYPE_MAX"),
    ({"name": "x", "rate_limit_per_user": -1}, "rate_limit_per_user", "NUMBER_TYPE_MIN"),
    ({"name": "x", "nsfw": "yes"}, "nsfw", "BASE_TYPE_BOOLEAN"),
])
def test_create_channel_validation(alice, guild, body, field, code):
    before = ok(alice.get(f"/guilds/{guild['id']}/channels"))
    form_err(alice.post(f"/guilds/{guild['id']}/channels", body), field, code)
    assert ok(alice.get(f"/guilds/{guild['id']}/channels")) == before


def test_create_channel_bounds(alice, guild):
    assert alice.create_channel(guild["id"], "n" * 100)["name"] == "n" * 100
    c = alice.create_channel(guild["id"], "t", topic="t" * 1024, rate_limit_per_user=21600)
    assert c["name"] == "t" and len(c["topic"]) == 1024 and c["rate_limit_per_user"] == 21600


def test_create_channel_permissions(alice, bob, member_bot, guild):
    before = ok(alice.get(f"/guilds/{guild['id']}/channels"))
    err(bob.post(f"/guilds/{guild['id']}/channels", {"name": "intruder"}), 403, 50001,
        "Missing Access")
    err(member_bot.post(f"/guilds/{guild['id']}/channels", {"name": "botroom"}), 403, 50013,
        "Missing Permissions")
    err(alice.post(f"/guilds/{UNKNOWN_ID}/channels", {"name": "nowhere"}), 404, 10004)
    err(alice.post(f"/guilds/{guild['id']}/channels", data=b"{"), 400, 50109)
    assert ok(alice.get(f"/guilds/{guild['id']}/channels")) == before
    # a member sees the channels
    assert ids(ok(member_bot.get(f"/guilds/{guild['id']}/channels"))) == ids(before)


def test_get_channel_unknown_and_foreign(alice, bob, general):
    err(alice.get(f"/channels/{UNKNOWN_ID}"), 404, 10003, "Unknown Channel")
    err(bob.get(f"/channels/{general}"), 403, 50001, "Missing Access")


# --------------------------------------------------------------------------- messages


@pytest.fixture
def text_channel(alice, guild):
    """A fresh text channel in alice's guild."""
    return alice.create_channel(guild["id"], unique_name("room"))["id"]


def test_message_create_and_get(alice, member_bot, text_channel):
    m = alice.send(text_channel, "Hello, world! ✓")
    check_message(m, text_channel, alice.user_id, "Hello, world! ✓")
    assert m["edited_timestamp"] is None
    assert m["author"]["username"] == alice.username
    got = ok(alice.get(f"/channels/{text_channel}/messages/{m['id']}"))
    check_message(got, text_channel, alice.user_id, "Hello, world! ✓")
    assert got["timestamp"] == m["timestamp"]
    assert ok(member_bot.get(f"/channels/{text_channel}/messages/{m['id']}"))["id"] == m["id"]
    assert ok(alice.get(f"/channels/{text_channel}"))["last_message_id"] == m["id"]
    m2 = alice.send(text_channel, "second")
    assert int(m2["id"]) > int(m["id"])
    assert ok(alice.get(f"/channels/{text_channel}"))["last_message_id"] == m2["id"]
    assert ids(alice.history(text_channel)) == [m2["id"], m["id"]]


def test_message_nonce(alice, text_channel):
    m = alice.send(text_channel, "with nonce", nonce="abc-123")
    assert m["nonce"] == "abc-123"
    m = alice.send(text_channel, "with int nonce", nonce=1234567)
    assert m["nonce"] in (1234567, "1234567"), m["nonce"]
    m = alice.send(text_channel, "no nonce")
    assert m.get("nonce") is None
    before = snapshot(alice, text_channel)
    form_err(alice.post(f"/channels/{text_channel}/messages",
                        {"content": "long nonce", "nonce": "n" * 26}), "nonce")
    assert snapshot(alice, text_channel) == before
    assert alice.send(text_channel, "25", nonce="n" * 25)["nonce"] == "n" * 25


def test_message_length_limit(alice, text_channel):
    before = snapshot(alice, text_channel)
    for too_long in ("a" * 2001, "😀" * 2001, "字" * 2001):
        form_err(alice.post(f"/channels/{text_channel}/messages", {"content": too_long}),
                 "content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    assert snapshot(alice, text_channel) == before
    # exactly 2000 code points is fine, however many bytes or UTF-16 units that is
    for content in ("a" * 2000, "😀" * 2000, "字" * 1999 + "a"):
        m = alice.send(text_channel, content)
        assert m["content"] == content
        assert ok(alice.get(f"/channels/{text_channel}/messages/{m['id']}"))["content"] == content


def test_message_empty(alice, text_channel):
    before = snapshot(alice, text_channel)
    for body in ({"content": ""}, {}, {"nonce": "x"}, {"tts": False}):
        err(alice.post(f"/channels/{text_channel}/messages", body), 400, 50006,
            "Cannot send an empty message")
    assert snapshot(alice, text_channel) == before


def test_message_bad_bodies(alice, text_channel):
    before = snapshot(alice, text_channel)
    for raw in (b'{"content": "x"', b"[]", b'"content"', b"null", b"{'content': 'x'}"):
        err(alice.post(f"/channels/{text_channel}/messages", data=raw), 400, 50109)
    form_err(alice.post(f"/channels/{text_channel}/messages", {"content": ["x"]}), "content")
    form_err(alice.post(f"/channels/{text_channel}/messages", {"content": "x", "tts": "yes"}),
             "tts", "BASE_TYPE_BOOLEAN")
    assert snapshot(alice, text_channel) == before


def test_message_in_non_text_channel(alice, voice, category):
    for c in (voice, category):
        err(alice.post(f"/channels/{c['id']}/messages", {"content": "hi"}), 400, 50008,
            "Cannot send messages in a non-text channel")


def test_message_unknown_ids(alice, text_channel, general):
    err(alice.post(f"/channels/{UNKNOWN_ID}/messages", {"content": "x"}), 404, 10003,
        "Unknown Channel")
    err(alice.get(f"/channels/{UNKNOWN_ID}/messages"), 404, 10003, "Unknown Channel")
    err(alice.get(f"/channels/{UNKNOWN_ID}/messages/{UNKNOWN_ID}"), 404, 10003)
    err(alice.get(f"/channels/{text_channel}/messages/{UNKNOWN_ID}"), 404, 10008,
        "Unknown Message")
    err(alice.patch(f"/channels/{text_channel}/messages/{UNKNOWN_ID}", {"content": "x"}), 404,
        10008)
    err(alice.delete(f"/channels/{text_channel}/messages/{UNKNOWN_ID}"), 404, 10008)
    # a message exists, but in another channel
    m = alice.send(general, "lives in general")
    err(alice.get(f"/channels/{text_channel}/messages/{m['id']}"), 404, 10008)
    err(alice.patch(f"/channels/{text_channel}/messages/{m['id']}", {"content": "moved"}), 404,
        10008)
    err(alice.delete(f"/channels/{text_channel}/messages/{m['id']}"), 404, 10008)
    assert ok(alice.get(f"/channels/{general}/messages/{m['id']}"))["content"] == "lives in general"


def test_foreign_guild_access(alice, bob, text_channel):
    m = alice.send(text_channel, "members only")
    before = snapshot(alice, text_channel)
    base = f"/channels/{text_channel}"
    err(bob.get(base), 403, 50001, "Missing Access")
    err(bob.get(f"{base}/messages"), 403, 50001, "Missing Access")
    err(bob.get(f"{base}/messages/{m['id']}"), 403, 50001, "Missing Access")
    err(bob.post(f"{base}/messages", {"content": "let me in"}), 403, 50001, "Missing Access")
    err(bob.patch(f"{base}/messages/{m['id']}", {"content": "mine now"}), 403, 50001)
    err(bob.delete(f"{base}/messages/{m['id']}"), 403, 50001)
    assert snapshot(alice, text_channel) == before


def test_edit_message(alice, text_channel):
    m = alice.send(text_channel, "original")
    e = ok(alice.patch(f"/channels/{text_channel}/messages/{m['id']}", {"content": "edited"}))
    check_message(e, text_channel, alice.user_id, "edited")
    assert e["id"] == m["id"] and e["timestamp"] == m["timestamp"]
    assert e["edited_timestamp"] is not None
    assert parse_ts(e["edited_timestamp"]) >= parse_ts(m["timestamp"])
    got = ok(alice.get(f"/channels/{text_channel}/messages/{m['id']}"))
    assert got["content"] == "edited" and got["edited_timestamp"] == e["edited_timestamp"]
    assert alice.history(text_channel, limit=1)[0]["content"] == "edited"

    before = snapshot(alice, text_channel)
    form_err(alice.patch(f"/channels/{text_channel}/messages/{m['id']}", {"content": "a" * 2001}),
             "content", "BASE_TYPE_MAX_LENGTH")
    err(alice.patch(f"/channels/{text_channel}/messages/{m['id']}", data=b'{"content":'), 400,
        50109)
    assert snapshot(alice, text_channel) == before
    e2 = ok(alice.patch(f"/channels/{text_channel}/messages/{m['id']}", {"content": "😀" * 2000}))
    assert e2["content"] == "😀" * 2000


def test_edit_other_users_message(alice, member_bot, text_channel):
    mine = alice.send(text_channel, "alice wrote this")
    theirs = member_bot.send(text_channel, "the bot wrote this")
    before = snapshot(alice, text_channel)
    err(member_bot.patch(f"/channels/{text_channel}/messages/{mine['id']}", {"content": "bot"}),
        403, 50005, "Cannot edit a message authored by another user")
    # not even the guild owner edits someone else's message
    err(alice.patch(f"/channels/{text_channel}/messages/{theirs['id']}", {"content": "owner"}),
        403, 50005, "Cannot edit a message authored by another user")
    assert snapshot(alice, text_channel) == before


def test_delete_message(alice, member_bot, mod_bot, text_channel):
    own = alice.send(text_channel, "delete me")
    keep = alice.send(text_channel, "keep me")
    ok(alice.delete(f"/channels/{text_channel}/messages/{own['id']}"), 204)
    err(alice.get(f"/channels/{text_channel}/messages/{own['id']}"), 404, 10008)
    assert ids(alice.history(text_channel)) == [keep["id"]]
    err(alice.delete(f"/channels/{text_channel}/messages/{own['id']}"), 404, 10008)

    # a member without MANAGE_MESSAGES may not delete someone else's message
    before = snapshot(alice, text_channel)
    err(member_bot.delete(f"/channels/{text_channel}/messages/{keep['id']}"), 403, 50013,
        "Missing Permissions")
    assert snapshot(alice, text_channel) == before
    # but its own, yes
    b1 = member_bot.send(text_channel, "bot one")
    ok(member_bot.delete(f"/channels/{text_channel}/messages/{b1['id']}"), 204)
    # the guild owner deletes anyone's
    b2 = member_bot.send(text_channel, "bot two")
    ok(alice.delete(f"/channels/{text_channel}/messages/{b2['id']}"), 204)
    # and so does a member whose (managed) role grants MANAGE_MESSAGES
    ok(mod_bot.delete(f"/channels/{text_channel}/messages/{keep['id']}"), 204)
    assert alice.history(text_channel) == []
    assert ok(alice.get(f"/channels/{text_channel}"))["id"] == text_channel


# --------------------------------------------------------------------------- history paging


def expected_page(asc: list[int], before=None, after=None, around=None, limit=50) -> list[int]:
    """spec/client-api.md §4 'GET /channels/{id}/messages', as a model (newest first)."""
    if before is not None:
        sel = [i for i in asc if i < before][-limit:]
    elif after is not None:
        sel = [i for i in asc if i > after][:limit]
    elif around is not None:
        half = limit // 2
        lower = [i for i in asc if i < around][-half:] if half else []
        mid = [around] if around in asc else []
        upper = [i for i in asc if i > around][:limit - len(lower) - len(mid)]
        sel = lower + mid + upper
    else:
        sel = asc[-limit:]
    return sel[::-1]


@pytest.fixture(scope="module")
def paged(alice, guild):
    """A channel with 30 messages m0..m29 of which m10 was deleted: (channel, [ids])."""
    ch = alice.create_channel(guild["id"], "paging")["id"]
    m = [alice.send(ch, f"message {i}")["id"] for i in range(30)]
    assert [int(x) for x in m] == sorted(int(x) for x in m) and len(set(m)) == 30
    ok(alice.delete(f"/channels/{ch}/messages/{m[10]}"), 204)
    return ch, m


ALL = [i for i in range(30) if i != 10]

# (query with indices into m, expected indices newest first); "m5" means the id of m[5]
PAGING_CASES = [
    ({}, ALL[::-1]),
    ({"limit": 1}, [29]),
    ({"limit": 100}, ALL[::-1]),
    ({"limit": 5}, [29, 28, 27, 26, 25]),
    ({"before": "m20", "limit": 5}, [19, 18, 17, 16, 15]),
    ({"before": "m12", "limit": 5}, [11, 9, 8, 7, 6]),
    ({"before": "m0"}, []),
    ({"before": "m1", "limit": 100}, [0]),
    ({"before": "m3", "limit": 1}, [2]),
    ({"after": "m5", "limit": 3}, [8, 7, 6]),
    ({"after": "m8", "limit": 3}, [12, 11, 9]),
    ({"after": "m29"}, []),
    ({"after": "m28"}, [29]),
    ({"after": "m0"}, [i for i in ALL if i > 0][::-1]),
    ({"after": "m0", "limit": 1}, [1]),
    ({"after": "m9", "limit": 2}, [12, 11]),
    ({"around": "m20", "limit": 5}, [22, 21, 20, 19, 18]),
    ({"around": "m20", "limit": 4}, [21, 20, 19, 18]),
    ({"around": "m10", "limit": 4}, [12, 11, 9, 8]),
    ({"around": "m10", "limit": 5}, [13, 12, 11, 9, 8]),
    ({"around": "m10", "limit": 1}, [11]),
    ({"around": "m1", "limit": 6}, [5, 4, 3, 2, 1, 0]),
    ({"around": "m29", "limit": 6}, [29, 28, 27, 26]),
    ({"around": "m0", "limit": 1}, [0]),
    ({"around": "m15", "limit": 1}, [15]),
    ({"around": "m15", "limit": 2}, [15, 14]),
    ({"around": "m15", "limit": 100}, ALL[::-1]),
    ({"around": "m15"}, ALL[::-1]),
]


@pytest.mark.parametrize("query,expected", PAGING_CASES,
                         ids=[",".join(f"{k}={v}" for k, v in q.items()) or "default"
                              for q, _ in PAGING_CASES])
def test_history_paging(alice, paged, query, expected):
    ch, m = paged
    params = {k: (m[int(v[1:])] if isinstance(v, str) else v) for k, v in query.items()}
    got = ids(alice.history(ch, **params))
    want = [m[i] for i in expected]
    names = {x: f"m{i}" for i, x in enumerate(m)}
    assert got == want, (f"{query}: got {[names.get(x, x) for x in got]}, "
                         f"expected {[names[x] for x in want]}")
    # the hand-written expectation agrees with the model of the spec
    asc = [int(m[i]) for i in ALL]
    model_params = {k: int(v) for k, v in params.items()}
    assert [str(x) for x in expected_page(asc, **model_params)] == want


def test_history_after_zero_is_the_oldest(alice, paged):
    # after=0 is a cursor before every id, not "no cursor": the oldest page, newest first
    ch, m = paged
    assert ids(alice.history(ch, after="0", limit=3)) == [m[2], m[1], m[0]]
    assert ids(alice.history(ch, limit=3)) == [m[29], m[28], m[27]]


def test_history_ids_not_in_channel(alice, paged):
    ch, m = paged
    newest_plus = str(int(m[29]) + 1)
    oldest_minus = str(int(m[0]) - 1)
    assert ids(alice.history(ch, before=newest_plus, limit=3)) == [m[29], m[28], m[27]]
    assert ids(alice.history(ch, after=oldest_minus, limit=3)) == [m[2], m[1], m[0]]
    assert ids(alice.history(ch, after=newest_plus)) == []
    assert ids(alice.history(ch, before=oldest_minus)) == []


def test_history_model_sweep(alice, paged):
    """around/before/after every id of the channel with small limits, against the model."""
    ch, m = paged
    asc = [int(m[i]) for i in ALL]
    names = {int(x): f"m{i}" for i, x in enumerate(m)}
    for key in ("around", "before", "after"):
        for i in (0, 1, 9, 10, 11, 14, 28, 29):
            for limit in (1, 2, 3, 7):
                got = [int(x) for x in ids(alice.history(ch, **{key: m[i], "limit": limit}))]
                want = expected_page(asc, **{key: int(m[i]), "limit": limit})
                assert got == want, (f"{key}=m{i} limit={limit}: got "
                                     f"{[names[x] for x in got]}, expected "
                                     f"{[names[x] for x in want]}")


def test_history_walks(alice, paged):
    ch, m = paged
    want = [m[i] for i in ALL]
    # backwards with before
    seen, before = [], None
    while True:
        params = {"limit": 7} | ({"before": before} if before else {})
        page = ids(alice.history(ch, **params))
        if not page:
            break
        seen.extend(page)
        before = page[-1]
    assert seen[::-1] == want
    # forwards with after (each page is newest first)
    seen, after = [], str(int(m[0]) - 1)
    while True:
        page = ids(alice.history(ch, after=after, limit=7))
        if not page:
            break
        seen.extend(page[::-1])
        after = page[0]
    assert seen == want
    # the messages themselves
    msgs = alice.all_messages(ch)
    assert [x["content"] for x in msgs] == [f"message {i}" for i in ALL]
    for x in msgs:
        check_message(x, ch, alice.user_id, x["content"])


@pytest.mark.parametrize("params,field,code", [
    ({"limit": 0}, "limit", "NUMBER_TYPE_MIN"),
    ({"limit": -5}, "limit", "NUMBER_TYPE_MIN"),
    ({"limit": 101}, "limit", "NUMBER_TYPE_MAX"),
    ({"limit": "abc"}, "limit", "NUMBER_TYPE_COERCE"),
    ({"before": "abc"}, "before", "NUMBER_TYPE_COERCE"),
    ({"after": "12x"}, "after", "NUMBER_TYPE_COERCE"),
    ({"around": "-"}, "around", "NUMBER_TYPE_COERCE"),
    ({"before": "m5", "after": "m1"}, None, None),
    ({"before": "m5", "around": "m3"}, None, None),
    ({"after": "m5", "around": "m7"}, None, None),
    ({"before": "m9", "after": "m1", "around": "m5"}, None, None),
])
def test_history_bad_queries(alice, paged, params, field, code):
    ch, m = paged
    q = {k: (m[int(v[1:])] if isinstance(v, str) and re.fullmatch(r"m\d+", v) else v)
         for k, v in params.items()}
    form_err(alice.get(f"/channels/{ch}/messages", params=q), field, code)


def test_history_permissions(alice, bob, member_bot, paged):
    ch, m = paged
    assert ids(member_bot.history(ch, limit=3)) == [m[29], m[28], m[27]]
    err(bob.get(f"/channels/{ch}/messages"), 403, 50001)
