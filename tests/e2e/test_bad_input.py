"""Bad input everywhere (issue 3): every route of the REST surface, the multipart parser, the
HTTP layer and the gateway, fed malformed, mistyped, unknown and oversized input.

For each refusal the suite checks the status and Discord JSON code the specs give
(spec/client-api.md §3 and the area specs spec/rest-*.md), that the body is a JSON error with
`Content-Type: application/json`, that it never leaks SQLite text, that the server is still
alive, and that nothing was stored: every table of the database is hashed before and after
each batch of refused requests (`nothing_stored`), and the data directory (attachments
included) and its parent gain no file.

The routes are not listed by hand: `source_routes()` reads them from the route tables in
client-api/capi_*.c, and `test_route_table_is_classified` fails when a route is added without
saying here what its body, parameters and unknown ids do (or why it is exempt).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import os
import re
import socket
import sqlite3
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from harness import REPO, HearthServer

# --------------------------------------------------------------------------- the routes

ROUTE_RE = re.compile(r'\{\s*"(GET|POST|PUT|PATCH|DELETE)",\s*"(/[^"]*)",\s*(\w+),', re.S)


def source_routes() -> dict[tuple[str, str], str]:
    """(method, pattern) -> handler, from every route table in client-api/capi_*.c."""
    out = {}
    for path in sorted((REPO / "client-api").glob("capi_*.c")):
        for m in ROUTE_RE.finditer(path.read_text()):
            out[(m.group(1), m.group(2))] = f"{path.name}:{m.group(3)}"
    return out


def params_of(pattern: str) -> list[str]:
    return [seg[1:] for seg in pattern.split("/") if seg.startswith(":")]


# Body kinds: "object" (a JSON object, 50109 otherwise), "optional" (an empty body counts as
# {}), "array" (a JSON array), None (no body read). `unknown` gives, per path parameter, the
# answer to a snowflake that names nothing (the other parameters valid); EXEMPT_UNKNOWN says
# why a parameter has none.
@dataclass(frozen=True)
class Route:
    body: str | None = None
    unknown: tuple[tuple[str, int, int], ...] = ()
    channel: str = "C"  # which fixture channel the :channel_id of the valid path names
    query: tuple[str, ...] = ()


U_GUILD = ("guild_id", 404, 10004)
U_CHANNEL = ("channel_id", 404, 10003)
U_MESSAGE = ("message_id", 404, 10008)
U_ROLE = ("role_id", 404, 10011)
U_MEMBER = ("user_id", 404, 10007)
U_USER = ("user_id", 404, 10013)
U_BAN = ("user_id", 404, 10026)
U_APP = ("application_id", 404, 10002)
U_RULE = ("rule_id", 404, 0)  # spec/rest-automod.md §1, §8: Discord documents no code

ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/gateway"): Route(),
    ("GET", "/gateway/bot"): Route(),
    ("POST", "/auth/register"): Route("object"),
    ("POST", "/auth/login"): Route("object"),
    ("GET", "/users/@me"): Route(),
    ("GET", "/users/@me/guilds"): Route(query=("before", "after", "limit")),
    ("GET", "/users/:user_id"): Route(unknown=(U_USER,)),
    ("POST", "/applications"): Route("object"),
    ("GET", "/applications/@me"): Route(),
    ("GET", "/applications/:application_id"): Route(unknown=(U_APP,)),
    ("PATCH", "/applications/:application_id"): Route("object", (U_APP,)),
    ("POST", "/applications/:application_id/bot/reset"): Route(unknown=(U_APP,)),
    ("POST", "/oauth2/authorize"): Route("object", query=("client_id", "scope")),
    ("POST", "/guilds"): Route("object"),
    ("GET", "/guilds/:guild_id"): Route(unknown=(U_GUILD,), query=("with_counts",)),
    ("GET", "/guilds/:guild_id/channels"): Route(unknown=(U_GUILD,)),
    ("POST", "/guilds/:guild_id/channels"): Route("object", (U_GUILD,)),
    ("GET", "/channels/:channel_id"): Route(unknown=(U_CHANNEL,)),
    ("GET", "/channels/:channel_id/messages"): Route(
        unknown=(U_CHANNEL,), query=("around", "before", "after", "limit")),
    ("POST", "/channels/:channel_id/messages"): Route("object", (U_CHANNEL,)),
    ("POST", "/channels/:channel_id/typing"): Route(unknown=(U_CHANNEL,)),
    ("GET", "/guilds/:guild_id/messages/search"): Route(
        unknown=(U_GUILD,), query=("content", "limit", "offset", "sort_by", "sort_order",
                                   "author_id", "channel_id", "mentions", "min_id", "max_id")),
    ("GET", "/channels/:channel_id/messages/search"): Route(
        unknown=(U_CHANNEL,), query=("content", "limit", "offset", "min_id", "max_id")),
    ("GET", "/channels/:channel_id/messages/:message_id"): Route(unknown=(U_CHANNEL, U_MESSAGE)),
    ("PATCH", "/channels/:channel_id/messages/:message_id"): Route(
        "object", (U_CHANNEL, U_MESSAGE)),
    ("DELETE", "/channels/:channel_id/messages/:message_id"): Route(
        unknown=(U_CHANNEL, U_MESSAGE)),
    # roles, members, bans, audit log
    ("GET", "/guilds/:guild_id/roles"): Route(unknown=(U_GUILD,)),
    ("POST", "/guilds/:guild_id/roles"): Route("optional", (U_GUILD,)),
    ("PATCH", "/guilds/:guild_id/roles"): Route("array", (U_GUILD,)),
    ("GET", "/guilds/:guild_id/roles/:role_id"): Route(unknown=(U_GUILD, U_ROLE)),
    ("PATCH", "/guilds/:guild_id/roles/:role_id"): Route("object", (U_GUILD, U_ROLE)),
    ("DELETE", "/guilds/:guild_id/roles/:role_id"): Route(unknown=(U_GUILD, U_ROLE)),
    ("GET", "/guilds/:guild_id/members"): Route(unknown=(U_GUILD,), query=("limit", "after")),
    ("GET", "/guilds/:guild_id/members/search"): Route(
        unknown=(U_GUILD,), query=("query", "limit")),
    ("PATCH", "/guilds/:guild_id/members/@me"): Route("object", (U_GUILD,)),
    ("GET", "/guilds/:guild_id/members/:user_id"): Route(unknown=(U_GUILD, U_MEMBER)),
    ("PATCH", "/guilds/:guild_id/members/:user_id"): Route("object", (U_GUILD, U_MEMBER)),
    ("DELETE", "/guilds/:guild_id/members/:user_id"): Route(unknown=(U_GUILD, U_MEMBER)),
    ("PUT", "/guilds/:guild_id/members/:user_id/roles/:role_id"): Route(
        unknown=(U_GUILD, U_MEMBER, U_ROLE)),
    ("DELETE", "/guilds/:guild_id/members/:user_id/roles/:role_id"): Route(
        unknown=(U_GUILD, U_MEMBER, U_ROLE)),
    ("GET", "/guilds/:guild_id/bans"): Route(unknown=(U_GUILD,),
                                             query=("limit", "before", "after")),
    ("GET", "/guilds/:guild_id/bans/:user_id"): Route(unknown=(U_GUILD, U_BAN)),
    ("PUT", "/guilds/:guild_id/bans/:user_id"): Route("optional", (U_GUILD, U_USER)),
    ("DELETE", "/guilds/:guild_id/bans/:user_id"): Route(unknown=(U_GUILD, U_BAN)),
    ("GET", "/guilds/:guild_id/audit-logs"): Route(
        unknown=(U_GUILD,), query=("user_id", "action_type", "before", "after", "limit")),
    ("DELETE", "/users/@me/guilds/:guild_id"): Route(unknown=(U_GUILD,)),
    # channel edits, overwrites, threads
    ("PATCH", "/channels/:channel_id"): Route("object", (U_CHANNEL,)),
    ("DELETE", "/channels/:channel_id"): Route(unknown=(U_CHANNEL,)),
    ("PATCH", "/guilds/:guild_id/channels"): Route("array", (U_GUILD,)),
    ("PUT", "/channels/:channel_id/permissions/:overwrite_id"): Route(
        "object", (U_CHANNEL, ("overwrite_id", 404, 10011))),
    ("DELETE", "/channels/:channel_id/permissions/:overwrite_id"): Route(
        unknown=(U_CHANNEL, ("overwrite_id", 404, 10009))),
    ("POST", "/channels/:channel_id/messages/:message_id/threads"): Route(
        "object", (U_CHANNEL, U_MESSAGE)),
    ("POST", "/channels/:channel_id/threads"): Route("object", (U_CHANNEL,)),
    ("GET", "/channels/:channel_id/thread-members"): Route(
        unknown=(U_CHANNEL,), channel="TH", query=("with_member", "after", "limit")),
    ("PUT", "/channels/:channel_id/thread-members/@me"): Route(unknown=(U_CHANNEL,), channel="TH"),
    ("DELETE", "/channels/:channel_id/thread-members/@me"): Route(
        unknown=(U_CHANNEL,), channel="TH"),
    ("GET", "/channels/:channel_id/thread-members/:user_id"): Route(
        unknown=(U_CHANNEL, U_MEMBER), channel="TH", query=("with_member",)),
    ("PUT", "/channels/:channel_id/thread-members/:user_id"): Route(
        unknown=(U_CHANNEL, U_MEMBER), channel="TH"),
    ("DELETE", "/channels/:channel_id/thread-members/:user_id"): Route(
        unknown=(U_CHANNEL, U_MEMBER), channel="TH"),
    ("GET", "/guilds/:guild_id/threads/active"): Route(unknown=(U_GUILD,)),
    ("GET", "/channels/:channel_id/threads/archived/public"): Route(
        unknown=(U_CHANNEL,), query=("before", "limit")),
    ("GET", "/channels/:channel_id/threads/archived/private"): Route(
        unknown=(U_CHANNEL,), query=("before", "limit")),
    ("GET", "/channels/:channel_id/users/@me/threads/archived/private"): Route(
        unknown=(U_CHANNEL,), query=("before", "limit")),
    # invites, DMs
    ("POST", "/channels/:channel_id/invites"): Route("optional", (U_CHANNEL,)),
    ("GET", "/channels/:channel_id/invites"): Route(unknown=(U_CHANNEL,)),
    ("GET", "/guilds/:guild_id/invites"): Route(unknown=(U_GUILD,)),
    ("GET", "/invites/*"): Route(query=("with_counts",)),
    ("DELETE", "/invites/*"): Route(),
    ("POST", "/invites/*"): Route(),  # spec/rest-invites.md: "body ignored"
    ("GET", "/users/@me/channels"): Route(),
    ("POST", "/users/@me/channels"): Route("object"),
    ("PUT", "/channels/:channel_id/recipients/:user_id"): Route(
        unknown=(U_CHANNEL, U_USER), channel="GDM"),
    ("DELETE", "/channels/:channel_id/recipients/:user_id"): Route(
        unknown=(U_CHANNEL, U_USER), channel="GDM"),
    # pins, bulk delete, reactions, attachments
    ("GET", "/channels/:channel_id/messages/pins"): Route(
        unknown=(U_CHANNEL,), query=("before", "limit")),
    ("PUT", "/channels/:channel_id/messages/pins/:message_id"): Route(
        unknown=(U_CHANNEL, U_MESSAGE)),
    ("DELETE", "/channels/:channel_id/messages/pins/:message_id"): Route(
        unknown=(U_CHANNEL, U_MESSAGE)),
    ("GET", "/channels/:channel_id/pins"): Route(unknown=(U_CHANNEL,)),
    ("PUT", "/channels/:channel_id/pins/:message_id"): Route(unknown=(U_CHANNEL, U_MESSAGE)),
    ("DELETE", "/channels/:channel_id/pins/:message_id"): Route(unknown=(U_CHANNEL, U_MESSAGE)),
    ("POST", "/channels/:channel_id/messages/bulk-delete"): Route("object", (U_CHANNEL,)),
    ("PUT", "/channels/:channel_id/messages/:message_id/reactions/*/@me"): Route(
        unknown=(U_CHANNEL, U_MESSAGE)),
    ("DELETE", "/channels/:channel_id/messages/:message_id/reactions/*/@me"): Route(
        unknown=(U_CHANNEL, U_MESSAGE)),
    ("DELETE", "/channels/:channel_id/messages/:message_id/reactions/*/:user_id"): Route(
        unknown=(U_CHANNEL, U_MESSAGE)),
    ("GET", "/channels/:channel_id/messages/:message_id/reactions/*"): Route(
        unknown=(U_CHANNEL, U_MESSAGE), query=("after", "limit", "type")),
    ("DELETE", "/channels/:channel_id/messages/:message_id/reactions/*"): Route(
        unknown=(U_CHANNEL, U_MESSAGE)),
    ("DELETE", "/channels/:channel_id/messages/:message_id/reactions"): Route(
        unknown=(U_CHANNEL, U_MESSAGE)),
    ("GET", "/attachments/:channel_id/:attachment_id/*"): Route(
        unknown=(U_CHANNEL, ("attachment_id", 404, 10012))),
    # AutoMod rules and the spam settings (spec/rest-automod.md)
    ("GET", "/guilds/:guild_id/auto-moderation/rules"): Route(unknown=(U_GUILD,)),
    ("POST", "/guilds/:guild_id/auto-moderation/rules"): Route("object", (U_GUILD,)),
    ("GET", "/guilds/:guild_id/auto-moderation/rules/:rule_id"): Route(
        unknown=(U_GUILD, U_RULE)),
    ("PATCH", "/guilds/:guild_id/auto-moderation/rules/:rule_id"): Route(
        "object", (U_GUILD, U_RULE)),
    ("DELETE", "/guilds/:guild_id/auto-moderation/rules/:rule_id"): Route(
        unknown=(U_GUILD, U_RULE)),
    ("GET", "/guilds/:guild_id/hearth/spam"): Route(unknown=(U_GUILD,)),
    ("PATCH", "/guilds/:guild_id/hearth/spam"): Route("object", (U_GUILD,)),
}

# Path parameters with no "unknown id" answer, and why.
EXEMPT_UNKNOWN = {
    ("DELETE", "/channels/:channel_id/messages/:message_id/reactions/*/:user_id", "user_id"):
        "removing a reaction nobody made answers 204 and changes nothing "
        "(spec/rest-messages.md §6); checked by test_unknown_ids_in_bodies_and_queries",
}

# The routes with a "*" segment (any text) and the test that feeds it garbage.
STAR_ROUTES = {
    ("PUT", "/channels/:channel_id/messages/:message_id/reactions/*/@me"): "invalid_emoji",
    ("DELETE", "/channels/:channel_id/messages/:message_id/reactions/*/@me"): "invalid_emoji",
    ("DELETE", "/channels/:channel_id/messages/:message_id/reactions/*/:user_id"):
        "invalid_emoji",
    ("GET", "/channels/:channel_id/messages/:message_id/reactions/*"): "invalid_emoji",
    ("DELETE", "/channels/:channel_id/messages/:message_id/reactions/*"): "invalid_emoji",
    ("GET", "/invites/*"): "unknown_ids_in_paths",
    ("DELETE", "/invites/*"): "unknown_ids_in_paths",
    ("POST", "/invites/*"): "unknown_ids_in_paths",
    ("GET", "/attachments/:channel_id/:attachment_id/*"): "unknown_ids_in_paths",
}

# Query parameters that are flags: any value but true/1 means false, so none is out of range.
FLAG_PARAMS = {"with_counts", "with_member"}

# Routes whose query parameters have no out-of-range value, and why.
EXEMPT_QUERY = {
    ("GET", "/guilds/:guild_id"): "with_counts is a flag: anything but true/1 means false",
    ("GET", "/invites/*"): "with_counts is a flag: anything but true/1 means false",
    ("GET", "/channels/:channel_id/thread-members/:user_id"): "with_member is a flag",
}

UNKNOWN_IDS = ("1", str(2 ** 63 - 1))
NOT_SNOWFLAKES = ("abc", "-1", str(2 ** 63), str(2 ** 64), "1.5", "1e3", "0x1f", "%F0%9F%91%8D",
                  "1" * 40)
SQL_RE = re.compile(r"sqlite|SQLITE_|constraint failed|no such (table|column)|syntax error",
                    re.I)

# --------------------------------------------------------------------------- HTTP client


@dataclass
class Resp:
    status: int
    headers: http.client.HTTPMessage
    raw: bytes
    what: str

    @property
    def text(self) -> str:
        return self.raw.decode(errors="replace")

    def json(self):
        return json.loads(self.raw)

    def __str__(self):
        return f"{self.what} -> HTTP {self.status} {self.raw[:500]!r}"


class Client:
    """Sends exactly the bytes it is given (http.client, no URL re-quoting), one connection
    per request, and checks every answer: never a 500, errors are Discord JSON with
    Content-Type application/json, never SQLite text."""

    def __init__(self, server: HearthServer, token: str | None = None):
        self.server = server
        self.token = token

    def req(self, method: str, path: str, body: bytes | None = None, *, json_body=None,
            token: str | None | bool = True, headers: dict | None = None,
            prefix: str = "/api/v10", ctype: str | None = "application/json",
            timeout: float = 20.0) -> Resp:
        h = {}
        tok = self.token if token is True else (token or None)
        if tok:
            h["Authorization"] = tok
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode()
        if body is not None and ctype:
            h["Content-Type"] = ctype
        if headers:
            h.update(headers)
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout)
        what = f"{method} {prefix}{path} body={(body or b'')[:200]!r}"
        try:
            conn.request(method, prefix + path, body=body, headers=h)
            r = conn.getresponse()
            raw = r.read()
        finally:
            conn.close()
        resp = Resp(r.status, r.headers, raw, what)
        check_answer(resp)
        return resp

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def ok(self, method, path, json_body=None, status=200, **kw):
        r = self.req(method, path, json_body=json_body, **kw)
        assert r.status == status, f"expected {status}: {r}"
        return r.json() if r.raw else None


def check_answer(r: Resp) -> None:
    assert r.status != 500, f"server error: {r}"
    assert not SQL_RE.search(r.text), f"SQLite text in a response: {r}"
    if r.status >= 400:
        ctype = r.headers.get("Content-Type", "")
        assert ctype.startswith("application/json"), f"error without a JSON type ({ctype!r}): {r}"
        body = r.json()
        assert isinstance(body, dict) and isinstance(body.get("code"), int) \
            and isinstance(body.get("message"), str), f"not a Discord error: {r}"


def expect(r: Resp, status: int, code: int, field: str | None = None,
           form_code: str | None = None) -> dict:
    """Assert a Discord error (status, code) and, for 50035, the first error at `field`."""
    assert r.status == status and r.json().get("code") == code, \
        f"expected {status} {code} {field or ''} {form_code or ''}: {r}"
    body = r.json()
    if field is not None:
        node = body.get("errors")
        for part in [p for p in field.split(".") if p]:
            assert isinstance(node, dict) and part in node, f"no errors.{field}: {r}"
            node = node[part]
        errs = node.get("_errors") if isinstance(node, dict) else None
        assert isinstance(errs, list) and errs and isinstance(errs[0].get("message"), str), \
            f"no errors.{field}._errors: {r}"
        if form_code is not None:
            assert errs[0].get("code") == form_code, f"expected {field} {form_code}: {r}"
    return body


def form(r: Resp, field: str, form_code: str | None) -> dict:
    return expect(r, 400, 50035, field, form_code)


def alive(server: HearthServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read()) == {"status": "ok"}, "healthz failed"
    finally:
        conn.close()
    server.check_alive()


# --------------------------------------------------------------------------- nothing stored


def db_digest(server: HearthServer) -> dict[str, tuple[int, str]]:
    """(row count, SHA-256 of every row) of every table, read through SQLite (WAL included)."""
    db = sqlite3.connect(f"file:{server.data_dir / 'hearth.db'}?mode=ro", uri=True, timeout=10)
    try:
        out = {}
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        for t in tables:
            h = hashlib.sha256()
            n = 0
            for row in db.execute(f'SELECT * FROM "{t}"'):
                h.update(repr(row).encode())
                n += 1
            out[t] = (n, h.hexdigest())
        return out
    finally:
        db.close()


def last_events(server: HearthServer, n: int = 3) -> str:
    db = sqlite3.connect(f"file:{server.data_dir / 'hearth.db'}?mode=ro", uri=True, timeout=10)
    try:
        rows = db.execute("SELECT seq, type, substr(data, 1, 300) FROM events ORDER BY seq DESC "
                          "LIMIT ?", (n,)).fetchall()
    finally:
        db.close()
    return "; latest events: " + "; ".join(map(str, rows))


def file_tree(root: Path) -> set[str]:
    """Every file under root (the database and logs aside), relative paths."""
    out = set()
    for d, _, files in os.walk(root):
        for f in files:
            p = Path(d, f)
            if p.name.startswith("hearth.db") or p.suffix == ".log":
                continue
            out.add(str(p.relative_to(root)))
    return out


@contextlib.contextmanager
def nothing_stored(server: HearthServer):
    """The block's requests are all refused: no table changes, no file appears in the data
    dir or next to it."""
    root = server.data_dir.parent
    before_db, before_files = db_digest(server), file_tree(root)
    yield
    after_db, after_files = db_digest(server), file_tree(root)
    changed = {t: (before_db.get(t), after_db.get(t)) for t in set(before_db) | set(after_db)
               if before_db.get(t) != after_db.get(t)}
    assert not changed, f"refused requests changed tables: {sorted(changed)}{last_events(server)}"
    assert after_files == before_files, \
        f"refused requests wrote files: {sorted(after_files - before_files)}"
    alive(server)


# --------------------------------------------------------------------------- fixtures

FAST_ARGS = ("--argon2-ops", "1", "--argon2-mem-kib", "8")


def start_server(tmp_path_factory, *extra: str) -> HearthServer:
    srv = HearthServer(tmp_path_factory.mktemp("hearthd"), FAST_ARGS + extra)
    srv.start()
    return srv


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = start_server(tmp_path_factory)
    try:
        yield s
    finally:
        s.close()


def register(server: HearthServer, name: str) -> tuple[str, str]:
    r = Client(server).req("POST", "/auth/register", json_body={
        "username": name, "password": "correct horse battery"})
    assert r.status == 201, str(r)
    return r.json()["token"], r.json()["user_id"]


def multipart(parts: list[tuple[str, bytes, bytes | None, str | None]],
              boundary: bytes = b"b0undary", close: bool = True) -> bytes:
    """parts: (name, data, filename or None, content type or None)."""
    out = b""
    for name, data, filename, ctype in parts:
        out += b"--" + boundary + b"\r\n"
        out += b'Content-Disposition: form-data; name="' + name.encode() + b'"'
        if filename is not None:
            out += b'; filename="' + filename + b'"'
        out += b"\r\n"
        if ctype:
            out += b"Content-Type: " + ctype.encode() + b"\r\n"
        out += b"\r\n" + data + b"\r\n"
    if close:
        out += b"--" + boundary + b"--\r\n"
    return out


MP = "multipart/form-data; boundary=b0undary"


class World(dict):
    """Ids by name (w["C"]), plus the server (w.srv) and clients (w.a, w.b, w.o)."""


@pytest.fixture(scope="module")
def w(srv):
    """The world every test starts from: an owner A with guild G (text channel C, voice
    channel V, role R, thread TH, messages M and M2, M2 with an attachment ATT), a member B,
    an outsider O, a bot application APP (its bot user BOT), an invite INVITE, a group DM
    GDM of A and B, and two disabled AutoMod rules of G: RULE (KEYWORD) and SPAM_RULE (SPAM,
    the guild's one rule of that type)."""
    ids = {}
    a_tok, ids["A"] = register(srv, "bad_owner")
    b_tok, ids["B"] = register(srv, "bad_member")
    o_tok, ids["O"] = register(srv, "bad_outsider")
    a, b = Client(srv, a_tok), Client(srv, b_tok)
    g = a.ok("POST", "/guilds", {"name": "bad input"}, 201)
    ids["G"], ids["C"] = g["id"], g["system_channel_id"]
    ids["V"] = a.ok("POST", f"/guilds/{ids['G']}/channels", {"name": "v", "type": 2}, 201)["id"]
    ids["R"] = a.ok("POST", f"/guilds/{ids['G']}/roles", {"name": "r"})["id"]
    code = a.ok("POST", f"/channels/{ids['C']}/invites", {"max_age": 0})["code"]
    ids["INVITE"] = code
    b.ok("POST", f"/invites/{code}")
    ids["M"] = a.ok("POST", f"/channels/{ids['C']}/messages", {"content": "hello"})["id"]
    up = a.req("POST", f"/channels/{ids['C']}/messages", ctype=MP, body=multipart([
        ("payload_json", b'{"content": "file"}', None, None),
        ("files[0]", b"attached bytes", b"a.txt", "text/plain")]))
    assert up.status == 200, str(up)
    ids["M2"] = up.json()["id"]
    ids["ATT"] = up.json()["attachments"][0]["id"]
    ids["TH"] = a.ok("POST", f"/channels/{ids['C']}/threads", {"name": "t", "type": 11}, 201)["id"]
    ids["GDM"] = a.ok("POST", "/users/@me/channels", {"recipients": [ids["B"]]})["id"]
    app = a.ok("POST", "/applications", {"name": "badbot"}, 201)
    ids["APP"] = app["id"]
    ids["BOT"] = app["bot"]["id"]
    ids["RULE"] = a.ok("POST", f"/guilds/{ids['G']}/auto-moderation/rules",
                       automod_rule_body())["id"]
    ids["SPAM_RULE"] = a.ok("POST", f"/guilds/{ids['G']}/auto-moderation/rules", {
        "name": "spam", "event_type": 1, "trigger_type": 3, "actions": [{"type": 1}]})["id"]
    world = World(ids)
    world.srv, world.a, world.b, world.o = srv, a, b, Client(srv, o_tok)
    return world


def valid_path(w, method: str, pattern: str, route: Route) -> str:
    """The route's pattern with every parameter naming a real object of the world."""
    out = []
    for seg in pattern.split("/"):
        if seg == ":channel_id":
            out.append(w[route.channel])
        elif seg == ":guild_id":
            out.append(w["G"])
        elif seg == ":message_id":
            out.append(w["M2"] if "attachments" in pattern else w["M"])
        elif seg == ":role_id":
            out.append(w["R"])
        elif seg == ":user_id":
            out.append(w["B"])
        elif seg == ":application_id":
            out.append(w["APP"])
        elif seg == ":overwrite_id":
            out.append(w["R"])
        elif seg == ":attachment_id":
            out.append(w["ATT"])
        elif seg == ":rule_id":
            out.append(w["RULE"])
        elif seg == "*":
            out.append({"invites": w["INVITE"], "attachments": "a.txt"}.get(
                pattern.split("/")[1], quote("👍")))
        else:
            out.append(seg)
    path = "/".join(out)
    return path + "?query=bad" if pattern.endswith("/members/search") else path


def automod_rule_body() -> dict:
    """A valid KEYWORD rule (disabled: it judges no message)."""
    return {"name": "rule", "event_type": 1, "trigger_type": 1,
            "trigger_metadata": {"keyword_filter": ["badword"]}, "actions": [{"type": 1}]}


# A body each body route accepts as well formed (so that only the path decides).
def minimal_body(w, method: str, pattern: str) -> dict | list | None:
    return {
        ("PATCH", "/applications/:application_id"): {"flags": 0},
        ("POST", "/guilds/:guild_id/channels"): {"name": "x"},
        ("POST", "/channels/:channel_id/messages"): {"content": "x"},
        ("PATCH", "/channels/:channel_id/messages/:message_id"): {"content": "x"},
        ("PATCH", "/guilds/:guild_id/roles"): [],
        ("PATCH", "/guilds/:guild_id/roles/:role_id"): {"name": "x"},
        ("PATCH", "/guilds/:guild_id/members/@me"): {"nick": "x"},
        ("PATCH", "/guilds/:guild_id/members/:user_id"): {"nick": "x"},
        ("PATCH", "/channels/:channel_id"): {"name": "x"},
        ("PATCH", "/guilds/:guild_id/channels"): [],
        ("PUT", "/channels/:channel_id/permissions/:overwrite_id"): {"type": 0},
        ("POST", "/channels/:channel_id/messages/:message_id/threads"): {"name": "x"},
        ("POST", "/channels/:channel_id/threads"): {"name": "x"},
        ("POST", "/channels/:channel_id/messages/bulk-delete"): {"messages": [w["M"], w["M2"]]},
        ("POST", "/guilds/:guild_id/auto-moderation/rules"): automod_rule_body(),
        ("PATCH", "/guilds/:guild_id/auto-moderation/rules/:rule_id"): {"name": "x"},
        ("PATCH", "/guilds/:guild_id/hearth/spam"): {"enabled": True},
    }.get((method, pattern), {})


# --------------------------------------------------------------------------- the route table


def test_route_table_is_classified():
    """Every route in the C tables is classified here (body, unknown ids, query) and nothing
    here is stale: a new route fails this test until its bad input is covered."""
    routes = source_routes()
    assert len(routes) >= 80 and ("POST", "/channels/:channel_id/messages") in routes, \
        f"the route-table parser found only {len(routes)} routes"
    missing = sorted(set(routes) - set(ROUTES))
    stale = sorted(set(ROUTES) - set(routes))
    assert not missing, f"routes without a bad-input classification: {missing}"
    assert not stale, f"classified routes that no longer exist: {stale}"
    for (method, pattern), route in ROUTES.items():
        covered = {p for p, _, _ in route.unknown}
        for p in params_of(pattern):
            assert p in covered or (method, pattern, p) in EXEMPT_UNKNOWN, \
                f"{method} {pattern}: no unknown-id answer for :{p}"
        if route.query:
            assert (method, pattern) in QUERY_CASES or (method, pattern) in EXEMPT_QUERY, \
                f"{method} {pattern}: query parameters {route.query} not covered"
        if route.body:
            assert (method, pattern) in FIELD_CASES, f"{method} {pattern}: body fields not covered"
        if "*" in pattern.split("/"):
            assert (method, pattern) in STAR_ROUTES, f"{method} {pattern}: '*' segment not covered"


def test_body_routes_are_the_ones_declared(w):
    """A truncated JSON body is refused with 50109 by exactly the routes declared to read a
    body; the others ignore it. Unknown ids everywhere, so nothing can succeed."""
    a = w.a
    wrong = []
    with nothing_stored(w.srv):
        for (method, pattern), route in ROUTES.items():
            path = "/".join(UNKNOWN_IDS[0] if s.startswith(":") else
                            ("zz" if s == "*" else s) for s in pattern.split("/"))
            r = a.req(method, path, b'{"name": "trunc')
            says_body = r.status == 400 and r.json()["code"] == 50109
            if says_body != (route.body is not None):
                wrong.append(f"{method} {pattern}: {r.status} {r.raw[:80]!r}")
    assert not wrong, "routes reading a body other than declared:\n" + "\n".join(wrong)


@pytest.mark.parametrize("bad", NOT_SNOWFLAKES)
def test_path_segments_that_are_not_snowflakes(w, bad):
    """Every :param of every route refuses a segment that is not a snowflake (letters,
    negative, 2^63 and beyond, floats, hex, an emoji, 40 digits): 400 50035
    NUMBER_TYPE_COERCE naming the parameter, and nothing changes."""
    with nothing_stored(w.srv):
        for (method, pattern), route in ROUTES.items():
            body = minimal_body(w, method, pattern)
            raw = json.dumps(body).encode() if route.body else None
            for p in params_of(pattern):
                path = valid_path(w, method, pattern, route).split("/")
                path[pattern.split("/").index(":" + p)] = bad
                r = w.a.req(method, "/".join(path), raw)
                form(r, p, "NUMBER_TYPE_COERCE")


def test_unknown_ids_in_paths(w):
    """A snowflake that names nothing, in each :param of each route (the others valid),
    answers the route's 10xxx code and changes nothing."""
    failures = []
    with nothing_stored(w.srv):
        for (method, pattern), route in ROUTES.items():
            body = minimal_body(w, method, pattern)
            raw = json.dumps(body).encode() if route.body else None
            for p, status, code in route.unknown:
                for unknown in UNKNOWN_IDS:
                    path = valid_path(w, method, pattern, route).split("/")
                    path[pattern.split("/").index(":" + p)] = unknown
                    try:
                        expect(w.a.req(method, "/".join(path), raw), status, code)
                    except AssertionError as e:
                        failures.append(str(e).splitlines()[0])
        # The "*" segments: an invite code, an attachment's file name.
        for method in ("GET", "DELETE", "POST"):
            for code in ("nosuchcode", "a" * 300, "%FF%FE", "..", "%2e%2e", "code%20x",
                         "ab%2Fcd", "%F0%9F%91%8D"):
                r = w.a.req(method, f"/invites/{code}")
                try:
                    # (a decoded slash makes the path one segment longer: no route at all)
                    expect(r, 404, 0 if code == "ab%2Fcd" else 10006)
                except AssertionError as e:
                    failures.append(str(e).splitlines()[0])
        expect(w.a.get(f"/attachments/{w['C']}/{w['ATT']}/b.txt"), 404, 10012)
        expect(w.a.get(f"/attachments/{w['C']}/{w['ATT']}/%2e%2e"), 404, 10012)
        # An overwrite for a member that does not exist.
        expect(w.a.req("PUT", f"/channels/{w['C']}/permissions/{UNKNOWN_IDS[0]}",
                       json_body={"type": 1}), 404, 10007)
    assert not failures, f"{len(failures)} unknown ids answered otherwise:\n" + "\n".join(failures)


def test_unknown_ids_in_bodies_and_queries(w):
    a, G, C, M = w.a, w["G"], w["C"], w["M"]
    u = UNKNOWN_IDS[0]
    with nothing_stored(w.srv):
        expect(a.req("POST", "/users/@me/channels", json_body={"recipient_id": u}), 404, 10013)
        expect(a.req("POST", "/users/@me/channels", json_body={"recipients": [u]}), 404, 10013)
        expect(a.req("PATCH", f"/guilds/{G}/roles", json_body=[{"id": u, "position": 1}]),
               404, 10011)
        form(a.req("PATCH", f"/guilds/{G}/channels", json_body=[{"id": u, "position": 1}]),
             "0.id", "CHANNEL_INVALID")
        expect(a.req("PATCH", f"/guilds/{G}/members/{w['B']}", json_body={"roles": [u]}),
               404, 10011)
        form(a.req("POST", f"/guilds/{G}/channels", json_body={"name": "x", "parent_id": u}),
             "parent_id", "CHANNEL_PARENT_INVALID")
        form(a.req("PATCH", f"/channels/{C}", json_body={"parent_id": u}),
             "parent_id", "CHANNEL_PARENT_INVALID")
        form(a.req("POST", f"/channels/{C}/messages", json_body={
            "content": "x", "message_reference": {"message_id": u}}),
            "message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE")
        form(a.req("PATCH", f"/channels/{C}/messages/{M}", json_body={"attachments": [{"id": u}]}),
             "attachments.0.id", "ATTACHMENT_NOT_FOUND")
        expect(a.req("POST", f"/oauth2/authorize?client_id={u}&scope=bot", json_body={
            "guild_id": G, "permissions": "0", "authorize": True}), 404, 10002)
        expect(a.req("POST", f"/oauth2/authorize?client_id={w['APP']}&scope=bot", json_body={
            "guild_id": u, "permissions": "0", "authorize": True}), 404, 10004)
        # Unknown ids in bulk-delete are ignored: 204, nothing deleted, nothing recorded.
        # (Recent ids of worker 16, which this server never uses: not too old to delete.)
        recent = [str(int(M) | 1 << 21), str(int(M) | 1 << 21 | 1)]
        assert a.req("POST", f"/channels/{C}/messages/bulk-delete",
                     json_body={"messages": recent}).status == 204
        # Removing a reaction nobody made, for a user who does not exist: 204, no change.
        assert a.req("DELETE", f"/channels/{C}/messages/{M}/reactions/{quote('👍')}/{u}"
                     ).status == 204


def test_automod_unknown_rules_and_permissions(w):
    """A rule id that names no rule of the guild (nothing, a message, another guild's rule)
    answers 404 code 0 on GET, PATCH and DELETE; members without MANAGE_GUILD get 50013,
    outsiders 50001, on all seven routes; a TIMEOUT action needs MODERATE_MEMBERS too
    (spec/rest-automod.md §1, §3). Nothing is stored."""
    a, G = w.a, w["G"]
    g2 = a.ok("POST", "/guilds", {"name": "automod other"}, 201)["id"]
    other_rule = a.ok("POST", f"/guilds/{g2}/auto-moderation/rules", automod_rule_body())["id"]
    # a member holding MANAGE_GUILD (1 << 5) but not MODERATE_MEMBERS (1 << 40)
    tok, uid = register(w.srv, "bad_automod_mgr")
    mgr = Client(w.srv, tok)
    mgr.ok("POST", f"/invites/{w['INVITE']}")
    role = a.ok("POST", f"/guilds/{G}/roles", {"name": "mgr", "permissions": str(1 << 5)})["id"]
    a.ok("PUT", f"/guilds/{G}/members/{uid}/roles/{role}", status=204)
    rules = f"/guilds/{G}/auto-moderation/rules"
    timeout = {"actions": [{"type": 3, "metadata": {"duration_seconds": 60}}]}
    with nothing_stored(w.srv):
        for bad in (w["M"], w["C"], G, other_rule):
            for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
                expect(a.req(method, f"{rules}/{bad}", json_body=body), 404, 0)
        expect(a.req("GET", f"/guilds/{g2}/auto-moderation/rules/{w['RULE']}"), 404, 0)
        for c, status, code in ((w.b, 403, 50013), (w.o, 403, 50001)):
            for method, path, body in (
                    ("GET", rules, None), ("POST", rules, automod_rule_body()),
                    ("GET", f"{rules}/{w['RULE']}", None),
                    ("PATCH", f"{rules}/{w['RULE']}", {"name": "x"}),
                    ("DELETE", f"{rules}/{w['RULE']}", None),
                    ("GET", f"/guilds/{G}/hearth/spam", None),
                    ("PATCH", f"/guilds/{G}/hearth/spam", {"enabled": False})):
                expect(c.req(method, path, json_body=body), status, code)
        expect(mgr.req("POST", rules, json_body={**automod_rule_body(), **timeout}), 403, 50013)
        expect(mgr.req("PATCH", f"{rules}/{w['RULE']}", json_body=timeout), 403, 50013)
    # the manager may read and write otherwise (this is what the 403s above are about)
    assert mgr.req("GET", rules).status == 200
    assert mgr.req("GET", f"/guilds/{G}/hearth/spam").status == 200


# --------------------------------------------------------------------------- fields

DEL = object()  # a case's value that removes the field from the base body
STR_BAD = ([1, True, [], {}, 1.5], "BASE_TYPE_STRING")
INT_BAD = (["1", 1.5, 2.0, True, [], {}, 1e300], "NUMBER_TYPE_COERCE")
BOOL_BAD = (["true", 1, 0, [], {}], "BASE_TYPE_BOOLEAN")
ID_BAD = (["abc", -1, 1.5, True, [], {}, str(2 ** 63), "-1", "", " 1"], "NUMBER_TYPE_COERCE")
BITS_BAD = ["abc", -1, 1.5, True, [], {}, str(2 ** 64)]


def typed(field: str, bad: tuple[list, str]) -> list:
    values, code = bad
    return [({field: v}, (field, code)) for v in values]


def rng(field: str, low, high) -> list:
    """The values just outside [low, high]: NUMBER_TYPE_MIN / _MAX."""
    return [({field: low - 1}, (field, "NUMBER_TYPE_MIN")),
            ({field: high + 1}, (field, "NUMBER_TYPE_MAX"))]


def length(field: str, value: str, code: str) -> list:
    return [({field: value}, (field, code))]


def ids(n: int, start: int = 10 ** 15) -> list[str]:
    return [str(start + i) for i in range(n)]


def overwrite_cases(w) -> list:
    f = "permission_overwrites"
    R = w["R"]
    return [({f: "x"}, (f, "BASE_TYPE_ARRAY")),
            ({f: ["x"]}, (f + ".0", "MODEL_TYPE_CONVERT")),
            ({f: [{"id": "abc", "type": 0}]}, (f + ".0.id", "NUMBER_TYPE_COERCE")),
            ({f: [{"id": R, "type": 2}]}, (f + ".0.type", "BASE_TYPE_CHOICES")),
            ({f: [{"id": R, "type": "0"}]}, (f + ".0.type", "BASE_TYPE_CHOICES")),
            ({f: [{"id": R, "type": 0, "allow": "abc"}]}, (f + ".0.allow", "PERMISSIONS_INVALID")),
            ({f: [{"id": R, "type": 0, "deny": -1}]}, (f + ".0.deny", "PERMISSIONS_INVALID")),
            ({f: [{"id": R, "type": 0, "allow": str(1 << 47)}]},
             (f + ".0.allow", "PERMISSIONS_INVALID")),
            ({f: [{"id": R, "type": 0}, {"id": R, "type": 0}]}, (f + ".1.id", "DUPLICATE_VALUE")),
            ({f: [{"id": i, "type": 0} for i in ids(65)]}, (f, "BASE_TYPE_MAX_LENGTH"))]


def mention_cases() -> list:
    am = "allowed_mentions"
    return ([({am: v}, (am, "MODEL_TYPE_CONVERT")) for v in ("x", 1, [], True)] + [
        ({am: {"parse": "users"}}, (am + ".parse", "BASE_TYPE_ARRAY")),
        ({am: {"parse": ["users", "x"]}}, (am + ".parse.1", "BASE_TYPE_CHOICES")),
        ({am: {"parse": [1]}}, (am + ".parse.0", "BASE_TYPE_CHOICES")),
        ({am: {"users": "x"}}, (am + ".users", "BASE_TYPE_ARRAY")),
        ({am: {"users": ["abc"]}}, (am + ".users.0", "NUMBER_TYPE_COERCE")),
        ({am: {"users": ids(101)}}, (am + ".users", "BASE_TYPE_MAX_LENGTH")),
        ({am: {"roles": ["1", -1]}}, (am + ".roles.1", "NUMBER_TYPE_COERCE")),
        ({am: {"replied_user": "yes"}}, (am + ".replied_user", "BASE_TYPE_BOOLEAN")),
        ({am: {"parse": ["users"], "users": ["1"]}},
         (am, "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"))])


def role_cases() -> list:
    return (typed("name", STR_BAD) + length("name", "", "BASE_TYPE_BAD_LENGTH")
            + length("name", "r" * 101, "BASE_TYPE_BAD_LENGTH")
            + [({"permissions": v}, ("permissions", "NUMBER_TYPE_COERCE")) for v in BITS_BAD]
            + typed("color", INT_BAD) + rng("color", 0, 16777215)
            + typed("hoist", BOOL_BAD) + typed("mentionable", BOOL_BAD))


def thread_cases() -> list:
    return (typed("name", STR_BAD) + [({"name": DEL}, ("name", "BASE_TYPE_REQUIRED"))]
            + length("name", "", "BASE_TYPE_BAD_LENGTH")
            + length("name", "t" * 101, "BASE_TYPE_BAD_LENGTH")
            + typed("auto_archive_duration", INT_BAD)
            + [({"auto_archive_duration": 61}, ("auto_archive_duration", "BASE_TYPE_CHOICES"))]
            + typed("rate_limit_per_user", INT_BAD) + rng("rate_limit_per_user", 0, 21600))


def automod_common_cases(w) -> list:
    """The rule fields a POST and a PATCH of a KEYWORD rule validate alike
    (spec/rest-automod.md §2, §3)."""
    V, TH = w["V"], w["TH"]
    tm, kf, al = "trigger_metadata", "trigger_metadata.keyword_filter", \
        "trigger_metadata.allow_list"
    u = UNKNOWN_IDS[0]

    def meta(**kw):
        return {tm: {"keyword_filter": ["badword"], **kw}}

    return (
        typed("name", STR_BAD) + length("name", "", "BASE_TYPE_BAD_LENGTH")
        + length("name", "n" * 101, "BASE_TYPE_BAD_LENGTH")
        + [({"event_type": v}, ("event_type", "BASE_TYPE_CHOICES"))
           for v in (0, 2, "1", 1.5, True, [], {})]
        + [({tm: v}, (tm, "DICT_TYPE_CONVERT")) for v in ("x", 1, [], True)]
        # keyword_filter: required, at most 1000 keywords of 1-60 characters, not only wildcards
        + [({tm: {}}, (kf, "BASE_TYPE_REQUIRED")),
           ({tm: {"keyword_filter": []}}, (kf, "BASE_TYPE_REQUIRED")),
           ({tm: {"keyword_filter": [f"k{i}" for i in range(1001)]}},
            (kf, "BASE_TYPE_MAX_LENGTH"))]
        + [({tm: {"keyword_filter": ["ok", v]}}, (kf + ".1", "BASE_TYPE_STRING"))
           for v in (1, True, [], {}, None)]
        + [({tm: {"keyword_filter": ["ok", v]}}, (kf + ".1", "BASE_TYPE_BAD_LENGTH"))
           for v in ("", "k" * 61)]
        + [({tm: {"keyword_filter": ["ok", v]}}, (kf + ".1", "AUTO_MODERATION_KEYWORD_EMPTY"))
           for v in ("*", "**", "* *", " ", "*  *")]
        # allow_list: at most 100 entries for KEYWORD, each like a keyword
        + [(meta(allow_list=[f"a{i}" for i in range(101)]), (al, "BASE_TYPE_MAX_LENGTH")),
           (meta(allow_list=[1]), (al + ".0", "BASE_TYPE_STRING")),
           (meta(allow_list=["a" * 61]), (al + ".0", "BASE_TYPE_BAD_LENGTH")),
           (meta(allow_list=["*"]), (al + ".0", "AUTO_MODERATION_KEYWORD_EMPTY"))]
        # no regular expressions (§5.2, §8)
        + [(meta(regex_patterns=v), ("trigger_metadata.regex_patterns",
                                     "AUTO_MODERATION_REGEX_UNSUPPORTED"))
           for v in (["a"], ["(a+)+$"], ["^.*$", "b"], [""])]
        # actions: 1-3, at most one of each type, with their metadata
        + [({"actions": v}, ("actions", "BASE_TYPE_ARRAY")) for v in ("x", 1, {}, True)]
        + [({"actions": []}, ("actions", "BASE_TYPE_MIN_LENGTH")),
           ({"actions": [{"type": 1}, {"type": 2, "metadata": {"channel_id": w["C"]}},
                         {"type": 3, "metadata": {"duration_seconds": 60}}, {"type": 1}]},
            ("actions", "BASE_TYPE_MAX_LENGTH")),
           ({"actions": [{}]}, ("actions.0.type", "BASE_TYPE_REQUIRED")),
           ({"actions": [{"metadata": {}}]}, ("actions.0.type", "BASE_TYPE_REQUIRED"))]
        + [({"actions": [{"type": v}]}, ("actions.0.type", "BASE_TYPE_CHOICES"))
           for v in (0, 4, 5, "1", 1.5, True, [])]
        + [({"actions": [{"type": 1}, {"type": 1}]},
            ("actions.1.type", "AUTO_MODERATION_ACTION_DUPLICATE")),
           ({"actions": [{"type": 1, "metadata": {"custom_message": "m" * 151}}]},
            ("actions.0.metadata.custom_message", "BASE_TYPE_BAD_LENGTH")),
           ({"actions": [{"type": 2}]}, ("actions.0.metadata.channel_id", "BASE_TYPE_REQUIRED")),
           ({"actions": [{"type": 2, "metadata": {}}]},
            ("actions.0.metadata.channel_id", "BASE_TYPE_REQUIRED"))]
        + [({"actions": [{"type": 2, "metadata": {"channel_id": v}}]},
            ("actions.0.metadata.channel_id", "CHANNEL_INVALID")) for v in (V, TH, u)]
        + [({"actions": [{"type": 3}]},
            ("actions.0.metadata.duration_seconds", "BASE_TYPE_REQUIRED")),
           ({"actions": [{"type": 3, "metadata": {}}]},
            ("actions.0.metadata.duration_seconds", "BASE_TYPE_REQUIRED")),
           ({"actions": [{"type": 3, "metadata": {"duration_seconds": 0}}]},
            ("actions.0.metadata.duration_seconds", "NUMBER_TYPE_MIN")),
           ({"actions": [{"type": 3, "metadata": {"duration_seconds": 2419201}}]},
            ("actions.0.metadata.duration_seconds", "NUMBER_TYPE_MAX"))]
        + typed("enabled", BOOL_BAD)
        # exempt lists: at most 20 roles / 50 channels, snowflakes of the guild
        + [({"exempt_roles": ids(21)}, ("exempt_roles", "BASE_TYPE_MAX_LENGTH")),
           ({"exempt_channels": ids(51)}, ("exempt_channels", "BASE_TYPE_MAX_LENGTH")),
           ({"exempt_roles": [w["R"], u]}, ("exempt_roles.1", "UNKNOWN_ROLE")),
           ({"exempt_channels": [w["C"], u]}, ("exempt_channels.1", "UNKNOWN_CHANNEL"))]
        + [({k: v}, (k, "BASE_TYPE_ARRAY"))
           for k in ("exempt_roles", "exempt_channels") for v in ("x", 1, {}, True)]
        + [({k: [v]}, (k + ".0", "NUMBER_TYPE_COERCE"))
           for k in ("exempt_roles", "exempt_channels")
           for v in ("abc", -1, 1.5, True, [], str(2 ** 63))])


def automod_create_cases(w) -> list:
    """POST only: the required fields, the trigger types, their own metadata, the limits."""
    tm = "trigger_metadata"
    pr = "trigger_metadata.presets"
    mt = "trigger_metadata.mention_total_limit"
    preset = {"trigger_type": 4, tm: {"presets": [1]}}
    mention = {"trigger_type": 5, tm: {"mention_total_limit": 5}}
    timeout = {"actions": [{"type": 3, "metadata": {"duration_seconds": 60}}]}
    return (
        [({k: DEL}, (k, "BASE_TYPE_REQUIRED"))
         for k in ("name", "event_type", "trigger_type", "actions")]
        + [({"trigger_type": v}, ("trigger_type", "BASE_TYPE_CHOICES"))
           for v in (0, 2, 6, 7, "1", 1.5, True, [], {})]
        + [({tm: DEL}, (tm + ".keyword_filter", "BASE_TYPE_REQUIRED"))]
        # KEYWORD_PRESET: presets required, each 1-3; allow_list up to 1000
        + [({**preset, tm: v}, (pr, "BASE_TYPE_REQUIRED")) for v in ({}, {"presets": []})]
        + [({**preset, tm: {"presets": [1, v]}}, (pr + ".1", "BASE_TYPE_CHOICES"))
           for v in (0, 4, "1", True)]
        + [({**preset, tm: {"presets": [1], "allow_list": [f"a{i}" for i in range(1001)]}},
            ("trigger_metadata.allow_list", "BASE_TYPE_MAX_LENGTH")),
           ({**preset, tm: {"presets": [1], "allow_list": ["* "]}},
            ("trigger_metadata.allow_list.0", "AUTO_MODERATION_KEYWORD_EMPTY"))]
        # MENTION_SPAM: mention_total_limit 1-50, raid protection a bool
        + [({**mention, tm: {}}, (mt, "BASE_TYPE_REQUIRED")),
           ({**mention, tm: {"mention_total_limit": 0}}, (mt, "NUMBER_TYPE_MIN")),
           ({**mention, tm: {"mention_total_limit": 51}}, (mt, "NUMBER_TYPE_MAX"))]
        + [({**mention, tm: {"mention_total_limit": v}}, (mt, "NUMBER_TYPE_COERCE"))
           for v in ("5", 1.5, True, [], {})]
        + [({**mention, tm: {"mention_total_limit": 5, "mention_raid_protection_enabled": v}},
            ("trigger_metadata.mention_raid_protection_enabled", "BASE_TYPE_BOOLEAN"))
           for v in BOOL_BAD[0]]
        # TIMEOUT only on KEYWORD and MENTION_SPAM rules
        + [({**preset, **timeout}, ("actions.0.type", "AUTO_MODERATION_INVALID_ACTION"))]
        # one SPAM rule per guild: the world's SPAM_RULE is it
        + [({"trigger_type": 3, tm: DEL},
            ("trigger_type", "AUTO_MODERATION_MAX_RULES_OF_TYPE_EXCEEDED"))])


def spam_settings_cases(w) -> list:
    """PATCH /guilds/{id}/hearth/spam (spec/rest-automod.md §4)."""
    u = UNKNOWN_IDS[0]
    ranges = {"timeout_seconds": (1, 2419200), "duplicate_limit": (1, 10),
              "duplicate_window_seconds": (1, 600), "velocity_limit": (1, 30),
              "velocity_window_seconds": (1, 600), "link_limit": (1, 50),
              "new_member_seconds": (0, 604800), "new_account_seconds": (0, 2592000),
              "raid_authors": (2, 10), "raid_window_seconds": (1, 600)}
    actions = ("duplicate_action", "velocity_action", "link_action", "invite_action",
               "raid_action")
    out = typed("enabled", BOOL_BAD)
    for f, (low, high) in ranges.items():
        out += typed(f, INT_BAD) + rng(f, low, high)
    for f in actions:
        out += [({f: v}, (f, "BASE_TYPE_CHOICES"))
                for v in ("nuke", "", "ALLOW", "Block", 1, True, [], {})]
    out += typed("alert_channel_id", ID_BAD)
    out += [({"alert_channel_id": v}, ("alert_channel_id", "CHANNEL_INVALID"))
            for v in (w["V"], w["TH"], u)]
    for f, n, unknown in (("exempt_roles", 20, "UNKNOWN_ROLE"),
                          ("exempt_channels", 50, "UNKNOWN_CHANNEL")):
        out += [({f: v}, (f, "BASE_TYPE_ARRAY")) for v in ("x", 1, {}, True)]
        out += [({f: ids(n + 1)}, (f, "BASE_TYPE_MAX_LENGTH")),
                ({f: [u]}, (f + ".0", unknown))]
        out += [({f: [v]}, (f + ".0", "NUMBER_TYPE_COERCE"))
                for v in ("abc", -1, 1.5, True, [], str(2 ** 63))]
    return out


def field_cases(w) -> dict:
    """(method, pattern) -> [(path, base body, [(changes, expected)])]; expected is
    (field, _errors code) for a 50035 or (status, code)."""
    G, C, M, R, B = w["G"], w["C"], w["M"], w["R"], w["B"]
    old = str(1 << 22)  # a snowflake from 2015: too old to bulk delete
    return {
        ("POST", "/auth/register"): [("/auth/register", {
            "username": "bad_fresh", "password": "correct horse battery"},
            typed("username", STR_BAD) + typed("password", STR_BAD)
            + typed("global_name", STR_BAD)
            + [({"username": DEL}, ("username", "BASE_TYPE_REQUIRED")),
               ({"password": DEL}, ("password", "BASE_TYPE_REQUIRED")),
               ({"username": "a"}, ("username", "BASE_TYPE_BAD_LENGTH")),
               ({"username": "a" * 33}, ("username", "BASE_TYPE_BAD_LENGTH")),
               ({"username": "has space"}, ("username", "USERNAME_INVALID_CHARACTERS")),
               ({"username": "bad_owner"}, ("username", "USERNAME_ALREADY_TAKEN")),
               ({"password": "x" * 7}, ("password", "BASE_TYPE_BAD_LENGTH")),
               ({"password": "x" * 129}, ("password", "BASE_TYPE_BAD_LENGTH")),
               ({"global_name": "g" * 33}, ("global_name", "BASE_TYPE_MAX_LENGTH"))])],
        ("POST", "/auth/login"): [("/auth/login", {
            "login": "bad_owner", "password": "correct horse battery"},
            typed("login", STR_BAD) + typed("password", STR_BAD)
            + [({"login": DEL}, ("login", "BASE_TYPE_REQUIRED")),
               ({"password": DEL}, ("password", "BASE_TYPE_REQUIRED")),
               ({"password": "wrong password"}, ("login", "INVALID_LOGIN")),
               ({"login": "nobody_here"}, ("password", "INVALID_LOGIN"))])],
        ("POST", "/applications"): [("/applications", {"name": "app"},
            typed("name", STR_BAD) + [({"name": DEL}, ("name", "BASE_TYPE_REQUIRED")),
                                      ({"name": ""}, ("name", "BASE_TYPE_BAD_LENGTH")),
                                      ({"name": "n" * 33}, ("name", "BASE_TYPE_BAD_LENGTH"))])],
        ("PATCH", "/applications/:application_id"): [(f"/applications/{w['APP']}", {"flags": 0},
            [({"flags": v}, ("flags", "NUMBER_TYPE_COERCE"))
             for v in ("1", 1.5, True, [], {}, -1, DEL)]
            + [({"flags": 1}, ("flags", "APPLICATION_FLAGS_INVALID"))])],
        ("POST", "/oauth2/authorize"): [(
            f"/oauth2/authorize?client_id={w['APP']}&scope=bot",
            {"guild_id": G, "permissions": "0", "authorize": True},
            typed("guild_id", ID_BAD) + typed("authorize", BOOL_BAD)
            + [({"guild_id": DEL}, ("guild_id", "BASE_TYPE_REQUIRED"))]
            + [({"permissions": v}, ("permissions", "NUMBER_TYPE_COERCE")) for v in BITS_BAD])],
        ("POST", "/guilds"): [("/guilds", {"name": "fine name"},
            typed("name", STR_BAD) + [({"name": DEL}, ("name", "BASE_TYPE_REQUIRED")),
                                      ({"name": "a"}, ("name", "BASE_TYPE_BAD_LENGTH")),
                                      ({"name": "n" * 101}, ("name", "BASE_TYPE_BAD_LENGTH"))])],
        ("POST", "/guilds/:guild_id/channels"): [(f"/guilds/{G}/channels", {"name": "x"},
            typed("name", STR_BAD) + [({"name": DEL}, ("name", "BASE_TYPE_REQUIRED"))]
            + length("name", "", "BASE_TYPE_BAD_LENGTH")
            + length("name", "n" * 101, "BASE_TYPE_BAD_LENGTH")
            + typed("type", INT_BAD) + rng("type", 0, 100)
            + [({"type": t}, ("type", "BASE_TYPE_CHOICES")) for t in (1, 3, 5, 11, 12)]
            + typed("topic", STR_BAD) + length("topic", "t" * 1025, "BASE_TYPE_MAX_LENGTH")
            + typed("position", INT_BAD) + rng("position", 0, 100000)
            + typed("nsfw", BOOL_BAD)
            + typed("rate_limit_per_user", INT_BAD) + rng("rate_limit_per_user", 0, 21600)
            + typed("parent_id", ID_BAD)
            + [({"parent_id": C}, ("parent_id", "CHANNEL_PARENT_INVALID"))]
            + overwrite_cases(w))],
        ("POST", "/channels/:channel_id/messages"): [(f"/channels/{C}/messages", {"content": "x"},
            typed("content", STR_BAD) + typed("tts", BOOL_BAD) + typed("enforce_nonce", BOOL_BAD)
            + length("content", "c" * 2001, "BASE_TYPE_MAX_LENGTH")
            + [({"content": ""}, (400, 50006)), ({"content": DEL}, (400, 50006))]
            + [({"nonce": v}, ("nonce", "BASE_TYPE_BAD_LENGTH"))
               for v in (1.5, True, [], {}, "n" * 26)]
            + mention_cases()
            + [({"message_reference": v}, ("message_reference", "MODEL_TYPE_CONVERT"))
               for v in ("x", 1, [], True)]
            + [({"message_reference": {}},
                ("message_reference.message_id", "BASE_TYPE_REQUIRED")),
               ({"message_reference": {"message_id": "abc"}},
                ("message_reference.message_id", "NUMBER_TYPE_COERCE")),
               ({"message_reference": {"message_id": M, "channel_id": "abc"}},
                ("message_reference.channel_id", "NUMBER_TYPE_COERCE")),
               ({"message_reference": {"message_id": M, "fail_if_not_exists": "no"}},
                ("message_reference.fail_if_not_exists", "BASE_TYPE_BOOLEAN")),
               ({"message_reference": {"message_id": M, "type": 1}},
                ("message_reference.type", "BASE_TYPE_CHOICES")),
               ({"attachments": [{"id": 0}]}, ("attachments.0.id", "ATTACHMENT_NOT_FOUND"))])],
        ("PATCH", "/channels/:channel_id/messages/:message_id"): [(
            f"/channels/{C}/messages/{M}", {"content": "y"},
            typed("content", STR_BAD) + length("content", "c" * 2001, "BASE_TYPE_MAX_LENGTH")
            + [({"content": DEL}, ("content", "BASE_TYPE_REQUIRED")),
               ({"attachments": "x"}, ("attachments", "BASE_TYPE_ARRAY")),
               ({"attachments": [1]}, ("attachments.0.id", "BASE_TYPE_REQUIRED")),
               ({"attachments": [{"id": "abc"}]}, ("attachments.0.id", "NUMBER_TYPE_COERCE")),
               ({"attachments": [{"id": "1"}]}, ("attachments.0.id", "ATTACHMENT_NOT_FOUND")),
               ({"attachments": [{"id": i} for i in ids(11)]},
                ("attachments", "BASE_TYPE_MAX_LENGTH"))]
            + mention_cases())],
        ("POST", "/guilds/:guild_id/roles"): [(f"/guilds/{G}/roles", {}, role_cases())],
        ("PATCH", "/guilds/:guild_id/roles/:role_id"): [(f"/guilds/{G}/roles/{R}", {"name": "r"},
                                                         role_cases())],
        ("PATCH", "/guilds/:guild_id/roles"): [(f"/guilds/{G}/roles", None, [
            ({}, ("", "BASE_TYPE_ARRAY")), ("x", ("", "BASE_TYPE_ARRAY")),
            (["x"], ("0", "MODEL_TYPE_CONVERT")),
            ([{"position": 1}], ("0.id", "BASE_TYPE_REQUIRED")),
            ([{"id": "abc", "position": 1}], ("0.id", "NUMBER_TYPE_COERCE")),
            ([{"id": R, "position": "1"}], ("0.position", "NUMBER_TYPE_COERCE")),
            ([{"id": R, "position": 1.5}], ("0.position", "NUMBER_TYPE_COERCE")),
            ([{"id": R, "position": -1}], ("0.position", "NUMBER_TYPE_MIN")),
            ([{"id": i, "position": 1} for i in ids(251)], ("", "BASE_TYPE_MAX_LENGTH"))])],
        ("PATCH", "/guilds/:guild_id/members/@me"): [(f"/guilds/{G}/members/@me", {"nick": "n"},
            typed("nick", STR_BAD) + length("nick", "n" * 33, "BASE_TYPE_MAX_LENGTH"))],
        ("PATCH", "/guilds/:guild_id/members/:user_id"): [(
            f"/guilds/{G}/members/{B}", {"nick": "n"},
            typed("nick", STR_BAD) + length("nick", "n" * 33, "BASE_TYPE_MAX_LENGTH")
            + [({"roles": v}, ("roles", "BASE_TYPE_ARRAY")) for v in ("x", 1, {}, True)]
            + [({"roles": [R, v]}, ("roles.1", "NUMBER_TYPE_COERCE"))
               for v in ("abc", -1, 1.5, [], str(2 ** 63))]
            + [({"roles": ids(251)}, ("roles", "BASE_TYPE_MAX_LENGTH"))]
            + [({"communication_disabled_until": v},
                ("communication_disabled_until", "DATE_TIME_TYPE_PARSE"))
               for v in (1, True, [], "garbage", "2026-13-01T00:00:00Z", "2026-01-01",
                         "2026-01-01T25:00:00Z", "2026-01-01T00:00:00+24:00")]
            + [({"communication_disabled_until": "2999-01-01T00:00:00Z"},
                ("communication_disabled_until", "DATE_TOO_FAR"))])],
        ("PUT", "/guilds/:guild_id/bans/:user_id"): [(f"/guilds/{G}/bans/{w['O']}", {},
            typed("delete_message_days", INT_BAD) + rng("delete_message_days", 0, 7)
            + typed("delete_message_seconds", INT_BAD)
            + rng("delete_message_seconds", 0, 604800))],
        ("PATCH", "/channels/:channel_id"): [(f"/channels/{C}", {"name": "general"},
            typed("name", STR_BAD) + length("name", "", "BASE_TYPE_BAD_LENGTH")
            + length("name", "n" * 101, "BASE_TYPE_BAD_LENGTH")
            + typed("topic", STR_BAD) + length("topic", "t" * 1025, "BASE_TYPE_MAX_LENGTH")
            + typed("nsfw", BOOL_BAD)
            + typed("rate_limit_per_user", INT_BAD) + rng("rate_limit_per_user", 0, 21600)
            + typed("position", INT_BAD) + rng("position", 0, 100000)
            + typed("parent_id", ID_BAD)
            + [({"parent_id": C}, ("parent_id", "CHANNEL_PARENT_INVALID"))]
            + overwrite_cases(w)
            + typed("archived", BOOL_BAD) + typed("locked", BOOL_BAD)
            + typed("invitable", BOOL_BAD) + typed("auto_archive_duration", INT_BAD)
            + [({"auto_archive_duration": 61}, ("auto_archive_duration", "BASE_TYPE_CHOICES"))])],
        ("PATCH", "/guilds/:guild_id/channels"): [(f"/guilds/{G}/channels", None, [
            ({}, (400, 50109)), ("x", (400, 50109)), (None, (400, 50109)),
            (["x"], ("0", "MODEL_TYPE_CONVERT")),
            ([{}], ("0.id", "BASE_TYPE_REQUIRED")),
            ([{"id": 1}], ("0.id", "NUMBER_TYPE_COERCE")),
            ([{"id": "abc"}], ("0.id", "NUMBER_TYPE_COERCE")),
            ([{"id": C, "position": -1}], ("0.position", "NUMBER_TYPE_COERCE")),
            ([{"id": C, "position": "1"}], ("0.position", "NUMBER_TYPE_COERCE")),
            ([{"id": C, "position": 100001}], ("0.position", "NUMBER_TYPE_COERCE")),
            ([{"id": C, "parent_id": "abc"}], ("0.parent_id", "NUMBER_TYPE_COERCE")),
            ([{"id": C, "parent_id": C}], ("0.parent_id", "CHANNEL_PARENT_INVALID")),
            ([{"id": w["TH"]}], ("0.id", "CHANNEL_INVALID")),
            ([{"id": i} for i in ids(501)], ("", "BASE_TYPE_MAX_LENGTH"))])],
        ("PUT", "/channels/:channel_id/permissions/:overwrite_id"): [(
            f"/channels/{C}/permissions/{R}", {"type": 0},
            [({"type": DEL}, ("type", "BASE_TYPE_REQUIRED"))] + typed("type", INT_BAD)
            + rng("type", 0, 1)
            + [({k: v}, (k, "PERMISSIONS_INVALID"))
               for k in ("allow", "deny") for v in BITS_BAD + [str(1 << 47), 1 << 53]])],
        ("POST", "/channels/:channel_id/messages/:message_id/threads"): [(
            f"/channels/{C}/messages/{M}/threads", {"name": "t"}, thread_cases())],
        ("POST", "/channels/:channel_id/threads"): [(f"/channels/{C}/threads", {"name": "t"},
            thread_cases() + typed("type", INT_BAD) + typed("invitable", BOOL_BAD)
            + [({"type": t}, ("type", "BASE_TYPE_CHOICES")) for t in (0, 10, 13)])],
        ("POST", "/channels/:channel_id/invites"): [(f"/channels/{C}/invites", {},
            typed("max_age", INT_BAD) + rng("max_age", 0, 604800)
            + typed("max_uses", INT_BAD) + rng("max_uses", 0, 100)
            + typed("temporary", BOOL_BAD) + typed("unique", BOOL_BAD))],
        ("POST", "/users/@me/channels"): [
            ("/users/@me/channels", {"recipient_id": B},
             typed("recipient_id", ID_BAD)
             + [({"recipient_id": DEL}, ("recipient_id", "BASE_TYPE_REQUIRED")),
                ({"recipient_id": w["A"]}, (400, 50033)),
                ({"recipient_id": w["O"]}, (403, 50007))]),
            ("/users/@me/channels", {"recipients": [B]},
             [({"recipients": v}, ("recipients", "BASE_TYPE_ARRAY")) for v in ("x", 1, {}, True)]
             + [({"recipients": [B, v]}, ("recipients.1", "NUMBER_TYPE_COERCE"))
                for v in ("abc", -1, 0, 1.5, [], str(2 ** 63))]
             + [({"recipients": []}, ("recipients", "BASE_TYPE_MIN_LENGTH")),
                ({"recipients": [w["A"]]}, ("recipients", "BASE_TYPE_MIN_LENGTH")),
                ({"recipients": [w["O"]]}, (403, 50007)),
                ({"recipients": [w["BOT"]]}, (400, 50033))]
             + typed("name", STR_BAD) + length("name", "n" * 101, "BASE_TYPE_MAX_LENGTH"))],
        ("POST", "/channels/:channel_id/messages/bulk-delete"): [(
            f"/channels/{C}/messages/bulk-delete", {"messages": [M, w["M2"]]},
            [({"messages": DEL}, ("messages", "BASE_TYPE_REQUIRED"))]
            + [({"messages": v}, ("messages", "BASE_TYPE_ARRAY")) for v in ("x", 1, {}, True)]
            + [({"messages": v}, ("messages", "BASE_TYPE_BAD_LENGTH"))
               for v in ([], [M], ids(101))]
            + [({"messages": [v, M]}, ("messages.0", "NUMBER_TYPE_COERCE"))
               for v in ("abc", -1, int(M), 1.5, [], str(2 ** 63))]
            + [({"messages": [M, M]}, ("messages.1", "DUPLICATE_IDS")),
               ({"messages": [old, M]}, (400, 50034))])],
        ("POST", "/guilds/:guild_id/auto-moderation/rules"): [(
            f"/guilds/{G}/auto-moderation/rules", automod_rule_body(),
            automod_common_cases(w) + automod_create_cases(w))],
        ("PATCH", "/guilds/:guild_id/auto-moderation/rules/:rule_id"): [
            (f"/guilds/{G}/auto-moderation/rules/{w['RULE']}", {},
             automod_common_cases(w)
             # trigger_type cannot change (ignored): the metadata is still the KEYWORD kind
             + [({"trigger_type": 4, "trigger_metadata": {"presets": [1]}},
                 ("trigger_metadata.keyword_filter", "BASE_TYPE_REQUIRED"))]),
            (f"/guilds/{G}/auto-moderation/rules/{w['SPAM_RULE']}", {},
             [({"actions": [{"type": 3, "metadata": {"duration_seconds": 60}}]},
               ("actions.0.type", "AUTO_MODERATION_INVALID_ACTION")),
              ({"name": ""}, ("name", "BASE_TYPE_BAD_LENGTH"))])],
        ("PATCH", "/guilds/:guild_id/hearth/spam"): [(
            f"/guilds/{G}/hearth/spam", {}, spam_settings_cases(w))],
    }


FIELD_CASES = {("POST", "/auth/register"), ("POST", "/auth/login"), ("POST", "/applications"),
               ("PATCH", "/applications/:application_id"), ("POST", "/oauth2/authorize"),
               ("POST", "/guilds"), ("POST", "/guilds/:guild_id/channels"),
               ("POST", "/channels/:channel_id/messages"),
               ("PATCH", "/channels/:channel_id/messages/:message_id"),
               ("POST", "/guilds/:guild_id/roles"), ("PATCH", "/guilds/:guild_id/roles/:role_id"),
               ("PATCH", "/guilds/:guild_id/roles"), ("PATCH", "/guilds/:guild_id/members/@me"),
               ("PATCH", "/guilds/:guild_id/members/:user_id"),
               ("PUT", "/guilds/:guild_id/bans/:user_id"), ("PATCH", "/channels/:channel_id"),
               ("PATCH", "/guilds/:guild_id/channels"),
               ("PUT", "/channels/:channel_id/permissions/:overwrite_id"),
               ("POST", "/channels/:channel_id/messages/:message_id/threads"),
               ("POST", "/channels/:channel_id/threads"), ("POST", "/channels/:channel_id/invites"),
               ("POST", "/users/@me/channels"),
               ("POST", "/channels/:channel_id/messages/bulk-delete"),
               ("POST", "/guilds/:guild_id/auto-moderation/rules"),
               ("PATCH", "/guilds/:guild_id/auto-moderation/rules/:rule_id"),
               ("PATCH", "/guilds/:guild_id/hearth/spam")}


def apply(base, changes):
    if base is None:  # a route whose body is the case itself (an array)
        return changes
    body = dict(base)
    for k, v in changes.items():
        if v is DEL:
            body.pop(k, None)
        else:
            body[k] = v
    return body


def test_field_cases_cover_the_declared_routes(w):
    assert set(field_cases(w)) == FIELD_CASES


def test_wrong_types_missing_fields_and_limits(w):
    """Every documented field of every body route, given a wrong type, left out when
    required, or out of its range: the 50035 error names it with the spec's code, or the
    route's own refusal, and nothing is stored."""
    failures = []
    with nothing_stored(w.srv):
        for (method, pattern), groups in field_cases(w).items():
            for path, base, cases in groups:
                token = None if pattern.startswith("/auth/") else True
                for changes, expected in cases:
                    body = apply(base, changes)
                    raw = b"" if body is None else json.dumps(body).encode()
                    r = w.a.req(method, path, raw, token=token)
                    try:
                        if isinstance(expected[0], int):
                            expect(r, expected[0], expected[1])
                        else:
                            form(r, *expected)
                    except AssertionError as e:
                        failures.append(str(e))
    assert not failures, f"{len(failures)} refusals differ from the spec:\n" + "\n".join(failures)


# --------------------------------------------------------------------------- query strings


def limit_cases(low: int, high: int) -> list:
    return [(f"limit={low - 1}", ("limit", "NUMBER_TYPE_MIN")),
            (f"limit={high + 1}", ("limit", "NUMBER_TYPE_MAX")),
            ("limit=-5", ("limit", "NUMBER_TYPE_MIN")),
            ("limit=abc", ("limit", "NUMBER_TYPE_COERCE")),
            ("limit=1.5", ("limit", "NUMBER_TYPE_COERCE")),
            ("limit=", ("limit", "NUMBER_TYPE_COERCE")),
            ("limit=0x10", ("limit", "NUMBER_TYPE_COERCE")),
            ("limit=99999999999999999999", ("limit", "NUMBER_TYPE_COERCE"))]


def id_cases(*names: str) -> list:
    return [(f"{n}={v}", (n, "NUMBER_TYPE_COERCE"))
            for n in names for v in ("abc", "-1", str(2 ** 63), "1.5", "")]


QUERY_CASES = {
    ("GET", "/users/@me/guilds"): lambda w: (
        "/users/@me/guilds", limit_cases(1, 200) + id_cases("before", "after")),
    ("GET", "/channels/:channel_id/messages"): lambda w: (
        f"/channels/{w['C']}/messages", limit_cases(1, 100) + id_cases("around", "before", "after")
        + [(f"around={w['M']}&before={w['M']}", ("before", "BASE_TYPE_CHOICES")),
           (f"before={w['M']}&after={w['M']}", ("after", "BASE_TYPE_CHOICES"))]),
    ("GET", "/guilds/:guild_id/members"): lambda w: (
        f"/guilds/{w['G']}/members", limit_cases(1, 1000) + id_cases("after")),
    ("GET", "/guilds/:guild_id/members/search"): lambda w: (
        f"/guilds/{w['G']}/members/search",
        [("limit=5", ("query", "BASE_TYPE_REQUIRED"))]
        + [("query=a&" + q, e) for q, e in limit_cases(1, 1000)]),
    ("GET", "/guilds/:guild_id/bans"): lambda w: (
        f"/guilds/{w['G']}/bans", limit_cases(1, 1000) + id_cases("before", "after")),
    ("GET", "/guilds/:guild_id/audit-logs"): lambda w: (
        f"/guilds/{w['G']}/audit-logs", limit_cases(1, 100) + id_cases("user_id", "before", "after")
        + [("action_type=0", ("action_type", "NUMBER_TYPE_MIN")),
           ("action_type=1001", ("action_type", "NUMBER_TYPE_MAX")),
           ("action_type=kick", ("action_type", "NUMBER_TYPE_COERCE"))]),
    ("GET", "/channels/:channel_id/thread-members"): lambda w: (
        f"/channels/{w['TH']}/thread-members", limit_cases(1, 100) + id_cases("after")),
    ("GET", "/channels/:channel_id/threads/archived/public"): lambda w: (
        f"/channels/{w['C']}/threads/archived/public", limit_cases(1, 100)
        + [(f"before={v}", ("before", "DATE_TIME_TYPE_PARSE"))
           for v in ("garbage", "2026-13-01T00:00:00Z", "2026-01-01", "1969-12-31T23:59:59Z")]),
    ("GET", "/channels/:channel_id/threads/archived/private"): lambda w: (
        f"/channels/{w['C']}/threads/archived/private", limit_cases(1, 100)
        + [("before=yesterday", ("before", "DATE_TIME_TYPE_PARSE"))]),
    ("GET", "/channels/:channel_id/users/@me/threads/archived/private"): lambda w: (
        f"/channels/{w['C']}/users/@me/threads/archived/private",
        limit_cases(1, 100) + id_cases("before")),
    ("GET", "/channels/:channel_id/messages/pins"): lambda w: (
        f"/channels/{w['C']}/messages/pins", limit_cases(1, 50)
        + [(f"before={v}", ("before", "BASE_TYPE_DATETIME"))
           for v in ("yesterday", "2026-02-30T25:00:00Z", "12345", "2026-01-01T00:00:00+99:00")]),
    ("GET", "/channels/:channel_id/messages/:message_id/reactions/*"): lambda w: (
        f"/channels/{w['C']}/messages/{w['M']}/reactions/{quote('👍')}",
        limit_cases(1, 100) + id_cases("after")
        + [("type=2", ("type", "NUMBER_TYPE_MAX")), ("type=-1", ("type", "NUMBER_TYPE_MIN")),
           ("type=burst", ("type", "NUMBER_TYPE_COERCE"))]),
    ("GET", "/guilds/:guild_id/messages/search"): lambda w: (
        f"/guilds/{w['G']}/messages/search",
        [("content=" + "x" * 1025, ("content", "BASE_TYPE_MAX_LENGTH"))]
        + [("content=x&" + q, e) for q, e in limit_cases(1, 25)
        + id_cases("min_id", "max_id") + [
            ("offset=9976", ("offset", "NUMBER_TYPE_MAX")),
            ("offset=-1", ("offset", "NUMBER_TYPE_MIN")),
            ("sort_by=foo", ("sort_by", "BASE_TYPE_CHOICES")),
            ("sort_order=up", ("sort_order", "BASE_TYPE_CHOICES")),
            ("author_id=abc", ("author_id.0", "NUMBER_TYPE_COERCE")),
            ("channel_id=abc", ("channel_id.0", "NUMBER_TYPE_COERCE")),
            ("mentions=abc", ("mentions.0", "NUMBER_TYPE_COERCE"))]]),
    ("GET", "/channels/:channel_id/messages/search"): lambda w: (
        f"/channels/{w['C']}/messages/search",
        [("content=" + "x" * 1025, ("content", "BASE_TYPE_MAX_LENGTH"))]
        + [("content=x&" + q, e) for q, e in limit_cases(1, 25) + id_cases("min_id", "max_id")
           + [("offset=9976", ("offset", "NUMBER_TYPE_MAX"))]]),
    ("POST", "/oauth2/authorize"): lambda w: (
        "/oauth2/authorize", [
            ("scope=bot", ("client_id", "BASE_TYPE_REQUIRED")),
            ("client_id=abc&scope=bot", ("client_id", "NUMBER_TYPE_COERCE")),
            (f"client_id={w['APP']}", ("scope", "BASE_TYPE_REQUIRED")),
            (f"client_id={w['APP']}&scope=identify", ("scope", "BASE_TYPE_CHOICES"))]),
}


def test_query_parameters_out_of_range(w):
    """Every query parameter of every route, out of range or not a number: 50035 naming it."""
    failures = []
    with nothing_stored(w.srv):
        for (method, pattern), make in QUERY_CASES.items():
            path, cases = make(w)
            covered = {kv.split("=")[0] for q, _ in cases for kv in q.split("&")}
            missing = set(ROUTES[(method, pattern)].query) - FLAG_PARAMS - covered
            assert not missing, f"{method} {pattern}: no bad value for {sorted(missing)}"
            body = b'{"guild_id": "%s", "authorize": true}' % w["G"].encode() \
                if method == "POST" else None
            for query, expected in cases:
                r = w.a.req(method, f"{path}?{query}", body)
                try:
                    form(r, *expected)
                except AssertionError as e:
                    failures.append(str(e))
    assert not failures, f"{len(failures)} refusals differ from the spec:\n" + "\n".join(failures)


# --------------------------------------------------------------------------- malformed JSON

NEST = 10000
MALFORMED = [
    ("truncated", b'{"name": "x", "content": "y'),
    ("truncated object", b'{"name": '),
    ("trailing garbage", b'{"name": "xx"} {}'),
    ("duplicate keys", b'{"name": "first", "name": "second", "content": "c"}'),
    ("nested arrays", b'{"name": ' + b"[" * NEST + b"]" * NEST + b"}"),
    ("nested objects", b'{"a":' * NEST + b"1" + b"}" * NEST),
    ("escaped NUL", b'{"name": "a\\u0000b", "content": "a\\u0000b"}'),
    ("raw NUL", b'{"name": "a\x00b", "content": "a\x00b"}'),
    ("invalid UTF-8", b'{"name": "\xff\xfe", "content": "\xc3\x28"}'),
    ("overlong UTF-8", b'{"name": "\xc0\xaf", "content": "\xe0\x80\xaf"}'),
    ("lone surrogate", b'{"name": "\\ud800", "content": "\\udfff"}'),
    ("integer past 2^63", b'{"name": "xx", "max_age": 9223372036854775808}'),
    ("huge integer", b'{"name": "xx", "position": ' + b"9" * 400 + b"}"),
    ("huge real", b'{"name": "xx", "position": 1e400}'),
    ("NaN", b'{"name": "xx", "position": NaN}'),
    ("Infinity", b'{"name": "xx", "position": -Infinity}'),
    ("single quotes", b"{'name': 'xx'}"),
    ("comment", b'{"name": "xx" /* c */}'),
    ("BOM", b'\xef\xbb\xbf{"name": "xx"}'),
    ("UTF-16", '{"name": "xx"}'.encode("utf-16")),
    ("empty", b""),
    ("whitespace", b"   \r\n"),
]
NOT_OBJECT = [b"[]", b'"a string"', b"42", b"null", b"true", b'[{"name": "xx"}]']


def body_routes(w):
    """(method, path, kind) of every route that reads a JSON body, on valid paths."""
    for (method, pattern), route in ROUTES.items():
        if route.body:
            path = valid_path(w, method, pattern, route)
            if pattern == "/oauth2/authorize":
                path += f"?client_id={w['APP']}&scope=bot"
            yield method, pattern, path, route.body


@pytest.mark.parametrize("name,raw", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_json_on_every_body_route(w, name, raw):
    """Unparseable JSON, on every route that reads JSON: 400 50109, nothing stored."""
    with nothing_stored(w.srv):
        for method, pattern, path, kind in body_routes(w):
            if kind == "optional" and not raw.strip():
                continue  # an empty body is {} there (and would succeed)
            if kind == "optional" and name == "whitespace":
                continue
            token = None if pattern.startswith("/auth/") else True
            expect(w.a.req(method, path, raw, token=token), 400, 50109)


def test_bodies_that_are_not_objects(w):
    """A JSON value of the wrong kind: 50109 where an object is expected, 50109 for the
    channel positions (spec/rest-channels.md §4), 50035 BASE_TYPE_ARRAY for role positions
    (spec/rest-members.md §2)."""
    with nothing_stored(w.srv):
        for method, pattern, path, kind in body_routes(w):
            token = None if pattern.startswith("/auth/") else True
            for raw in NOT_OBJECT:
                r = w.a.req(method, path, raw, token=token)
                if kind != "array":
                    expect(r, 400, 50109)
                elif raw.startswith(b"["):
                    continue  # arrays are these routes' form; elements are checked elsewhere
                elif pattern == "/guilds/:guild_id/roles":
                    form(r, "", "BASE_TYPE_ARRAY")
                else:
                    expect(r, 400, 50109)


# --------------------------------------------------------------------------- sizes


def test_content_limits_count_code_points(w):
    """2000 code points is the limit whatever their UTF-8 size: 1000 four-byte emoji (4000
    bytes) and 2000 of them pass and read back byte for byte; 2001 ASCII characters or 2001
    emoji are refused, on create and on edit."""
    a, C, M = w.a, w["C"], w["M"]
    for content in ("😀" * 1000, "😀" * 2000, "x" * 2000, "é" * 2000):
        m = a.ok("POST", f"/channels/{C}/messages", {"content": content})
        assert a.ok("GET", f"/channels/{C}/messages/{m['id']}")["content"] == content
    with nothing_stored(w.srv):
        for content in ("x" * 2001, "😀" * 2001, "👍🏽" * 1001, "e\u0301" * 1001):
            form(a.req("POST", f"/channels/{C}/messages", json_body={"content": content}),
                 "content", "BASE_TYPE_MAX_LENGTH")
            form(a.req("PATCH", f"/channels/{C}/messages/{M}", json_body={"content": content}),
                 "content", "BASE_TYPE_MAX_LENGTH")


def test_strings_up_to_the_body_limit_and_over_it(w):
    """Strings of almost 1 MiB (the body limit) are refused by their field's length, and a
    body over max-body-bytes (1 MiB, 10 MiB) answers 413 40005 without being stored."""
    a, C, G = w.a, w["C"], w["G"]
    big = "x" * (1024 * 1024 - 200)
    with nothing_stored(w.srv):
        form(a.req("POST", f"/channels/{C}/messages", json_body={"content": big}),
             "content", "BASE_TYPE_MAX_LENGTH")
        form(a.req("POST", f"/guilds/{G}/channels", json_body={"name": big}),
             "name", "BASE_TYPE_BAD_LENGTH")
        form(a.req("PATCH", f"/channels/{C}", json_body={"topic": big}),
             "topic", "BASE_TYPE_MAX_LENGTH")
        form(a.req("POST", f"/channels/{C}/messages", json_body={"content": "x", "nonce": big}),
             "nonce", "BASE_TYPE_BAD_LENGTH")
        form(a.req("POST", "/auth/register", token=None, json_body={
            "username": "big_one", "password": big}), "password", "BASE_TYPE_BAD_LENGTH")
        for size in (1024 * 1024 + 1, 10 * 1024 * 1024):
            body = b'{"content": "' + b"x" * (size - 15) + b'"}'
            expect(a.req("POST", f"/channels/{C}/messages", body), 413, 40005)
            expect(a.req("POST", "/auth/register", body, token=None), 413, 40005)
        # Many small elements rather than one big string.
        many = json.dumps({"messages": ["1"] * 150000}).encode()
        assert len(many) < 1024 * 1024
        form(a.req("POST", f"/channels/{C}/messages/bulk-delete", many),
             "messages", "BASE_TYPE_BAD_LENGTH")
        many = json.dumps({"recipients": ids(40000)}).encode()
        expect(a.req("POST", "/users/@me/channels", many), 400, 30011)
        # Repeats of one recipient are one recipient (spec/rest-invites.md §2.3), however many.
        many = json.dumps({"recipients": [w["B"]] * 40000, "name": "n" * 101}).encode()
        form(a.req("POST", "/users/@me/channels", many), "name", "BASE_TYPE_MAX_LENGTH")


def test_251st_pin_is_refused(w):
    a = w.a
    ch = a.ok("POST", f"/guilds/{w['G']}/channels", {"name": "pins"}, 201)["id"]
    mids = [a.ok("POST", f"/channels/{ch}/messages", {"content": str(i)})["id"]
            for i in range(251)]
    for mid in mids[:250]:
        assert a.req("PUT", f"/channels/{ch}/messages/pins/{mid}").status == 204
    with nothing_stored(w.srv):
        expect(a.req("PUT", f"/channels/{ch}/messages/pins/{mids[250]}"), 400, 30003)
        expect(a.req("PUT", f"/channels/{ch}/pins/{mids[250]}"), 400, 30003)
    # Re-pinning a pinned message is still a no-op, not a refusal.
    assert a.req("PUT", f"/channels/{ch}/messages/pins/{mids[0]}").status == 204


def test_21st_reaction_is_refused(w):
    a, C = w.a, w["C"]
    mid = a.ok("POST", f"/channels/{C}/messages", {"content": "react"})["id"]
    emoji = [chr(0x1F600 + i) for i in range(21)]
    for e in emoji[:20]:
        assert a.req("PUT", f"/channels/{C}/messages/{mid}/reactions/{quote(e)}/@me").status == 204
    with nothing_stored(w.srv):
        expect(a.req("PUT", f"/channels/{C}/messages/{mid}/reactions/{quote(emoji[20])}/@me"),
               400, 30010)
        expect(w.b.req("PUT", f"/channels/{C}/messages/{mid}/reactions/{quote(emoji[20])}/@me"),
               400, 30010)
    # An emoji already there may still be added by someone else.
    assert w.b.req("PUT", f"/channels/{C}/messages/{mid}/reactions/{quote(emoji[0])}/@me"
                   ).status == 204
    assert len(a.ok("GET", f"/channels/{C}/messages/{mid}")["reactions"]) == 20


def test_11th_group_dm_recipient_is_refused(w):
    a = w.a
    users = []
    for i in range(10):
        tok, uid = register(w.srv, f"bad_gdm_{i}")
        Client(w.srv, tok).ok("POST", f"/invites/{w['INVITE']}")
        users.append(uid)
    with nothing_stored(w.srv):
        expect(a.req("POST", "/users/@me/channels", json_body={"recipients": users}), 400, 30011)
    gdm = a.ok("POST", "/users/@me/channels", {"recipients": users[:9]})["id"]
    with nothing_stored(w.srv):
        expect(a.req("PUT", f"/channels/{gdm}/recipients/{users[9]}"), 400, 30011)
        expect(a.req("PUT", f"/channels/{gdm}/recipients/{w['B']}"), 400, 30011)


def test_251st_role_is_refused(w):
    """A guild holds 250 roles, @everyone included (spec/rest-members.md §2). Creating a
    role shifts every other one, so this is quadratic; the roles are created concurrently so
    that group commit keeps it within a few seconds."""
    a = w.a
    gid = a.ok("POST", "/guilds", {"name": "roles"}, 201)["id"]
    errors = []

    def create(n):
        for _ in range(n):
            r = a.req("POST", f"/guilds/{gid}/roles", b"")
            if r.status != 200:
                errors.append(str(r))
    threads = [threading.Thread(target=create, args=(n,)) for n in (63, 62, 62, 62)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert len(a.ok("GET", f"/guilds/{gid}/roles")) == 250
    with nothing_stored(w.srv):
        expect(a.req("POST", f"/guilds/{gid}/roles", json_body={"name": "one too many"}),
               400, 30005)


# --------------------------------------------------------------------------- reaction emoji

BAD_EMOJI = [
    ("ASCII letter", "a"), ("ASCII escaped", "%41"), ("digit without keycap", "1"),
    ("double-encoded emoji", "%25F0%259F%2591%258D"), ("percent-encoded percent", "%2541"),
    ("overlong slash", "%C0%AF"), ("overlong 3 bytes", "%E0%80%AF"),
    ("overlong 4 bytes", "%F0%80%80%AF"), ("surrogate", "%ED%A0%80"),
    ("past U+10FFFF", "%F4%90%80%80"), ("lone 0xFF", "%FF"), ("cut-off sequence", "%F0%9F%91"),
    ("continuation byte", "%80"), ("ZWJ alone", "%E2%80%8D"), ("VS16 alone", "%EF%B8%8F"),
    ("tags alone", "%F3%A0%81%A7"), ("space", "%20"),
    ("no-break space", "%C2%A0"), ("C1 control", "%C2%85"), ("line separator", "%E2%80%A8"),
    ("newline", "%0A"), ("tab before emoji", "%09%F0%9F%91%8D"),
    ("letter after emoji", "%F0%9F%91%8Da"), ("36 bytes", "%F0%9F%91%8D" * 9),
    ("custom emoji", "name:123"), ("custom emoji, encoded", "name%3A123"),
    ("broken escapes", "%zz%"), ("percent signs", "%%"), ("dots", ".."),
    ("quote and angle", "%22%3C"),
]
GOOD_EMOJI = ["%F0%9F%91%8D", "1%EF%B8%8F%E2%83%A3", "%F0%9F%87%AB%F0%9F%87%B7",
              "%F0%9F%91%8D%F0%9F%8F%BD", "%F0%9F%91%A8%E2%80%8D%F0%9F%91%A9%E2%80%8D%F0%9F%91%A7",
              "%E2%9D%A4%EF%B8%8F"]


def test_invalid_emoji_in_reaction_paths(w):
    """Every reaction route refuses what is not a unicode emoji (spec/rest-messages.md §6):
    400 10014, nothing stored."""
    a, C, M, B = w.a, w["C"], w["M"], w["B"]
    base = f"/channels/{C}/messages/{M}/reactions"
    failures = []
    with nothing_stored(w.srv):
        for name, e in BAD_EMOJI:
            for method, path in (("PUT", f"{base}/{e}/@me"), ("DELETE", f"{base}/{e}/@me"),
                                 ("DELETE", f"{base}/{e}/{B}"), ("GET", f"{base}/{e}"),
                                 ("DELETE", f"{base}/{e}")):
                try:
                    expect(a.req(method, path), 400, 10014)
                except AssertionError as err:
                    failures.append(f"{name}: {str(err).splitlines()[0]}")
        # An encoded slash is a path separator once decoded: no route, no reaction.
        expect(a.req("PUT", f"{base}/%2F/@me"), 404, 0)
    assert not failures, "\n".join(failures)
    for e in GOOD_EMOJI:  # the checks are not simply refusing everything
        assert a.req("PUT", f"{base}/{e}/@me").status == 204, e
        assert a.req("DELETE", f"{base}/{e}/@me").status == 204, e


# --------------------------------------------------------------------------- multipart

HEX64 = re.compile(r"^hearthd\d*/attachments/[0-9a-f]{2}/[0-9a-f]{62}$")


@contextlib.contextmanager
def files_only_in_attachments(server: HearthServer, expect_new: int | None = None):
    """Files written by the block are all content-addressed under DATA_DIR/attachments."""
    root = server.data_dir.parent
    before = file_tree(root)
    passwd = os.stat("/etc/passwd").st_mtime_ns
    yield
    new = file_tree(root) - before
    stray = sorted(p for p in new
                   if not HEX64.match(p) or p.split("/")[0] != server.data_dir.name)
    assert not stray, f"files written outside {server.data_dir}/attachments: {stray}"
    if expect_new is not None:
        assert len(new) == expect_new, f"expected {expect_new} new files, got {sorted(new)}"
    assert os.stat("/etc/passwd").st_mtime_ns == passwd
    assert not Path("/abs/path").exists()


FILENAMES = [
    (b"../../etc/passwd", "passwd"), (b"..\\..\\x", "x"), (b"/abs/path", "path"),
    (b"C:\\Windows\\win.ini", "win.ini"), (b"..", "unknown"), (b"", "unknown"),
    (b"...hidden", "hidden"), (b"a b\tc.txt", "a_b_c.txt"), (b"\xff\xfe.txt", "_.txt"),
    ("é€.txt".encode(), "_.txt"), (b"x" * 300, "x" * 128),
    (b"a" * 126 + b".txt", "a" * 126 + ".t"),
    (b"%2e%2e%2fx", "_2e_2e_2fx"), (b"a;b=c", "a_b_c"), (b"\x00", "unknown"),
    (b"a\x00b.txt", "a_b.txt"),
]


def upload(client: Client, channel: str, parts, payload: dict | None = None,
           boundary: bytes = b"b0undary", ctype: str | None = None) -> Resp:
    allparts = ([("payload_json", json.dumps(payload).encode(), None, None)]
                if payload is not None else []) + parts
    return client.req("POST", f"/channels/{channel}/messages",
                      multipart(allparts, boundary), ctype=ctype or MP)


def test_multipart_file_names_are_never_paths(w):
    """A file name is sanitised (spec/rest-messages.md §8): what the client sent never
    becomes a path, every stored file is content-addressed under the data directory, and the
    download answers under the sanitised name only."""
    a, C = w.a, w["C"]
    with files_only_in_attachments(w.srv):
        for raw, expected in FILENAMES:
            data = b"name test " + raw
            r = upload(a, C, [("files[0]", data, raw, "text/plain")], {"content": ""})
            assert r.status == 200, str(r)
            att = r.json()["attachments"][0]
            assert att["filename"] == expected, (raw, att)
            assert att["url"] == f"/attachments/{C}/{att['id']}/{expected}"
            got = a.req("GET", att["url"], prefix="")
            assert got.status == 200 and got.raw == data, str(got)
            sent = quote(raw.decode("latin-1"), safe="") + "x"
            r = a.req("GET", f"/attachments/{C}/{att['id']}/{sent}", prefix="")
            # (A decoded slash splits the path: then no route matches at all.)
            expect(r, 404, 0 if b"/" in raw else 10012)
        # RFC 5987 filename* wins over filename, and is sanitised the same way.
        body = (b"--b0undary\r\nContent-Disposition: form-data; name=\"files[0]\"; "
                b"filename=\"plain.txt\"; filename*=UTF-8''..%2F..%2Fetc%2Fshadow\r\n\r\nx\r\n"
                b"--b0undary--\r\n")
        r = a.req("POST", f"/channels/{C}/messages", body, ctype=MP)
        assert r.status == 200 and r.json()["attachments"][0]["filename"] == "shadow", str(r)


def bad_multipart(w) -> list:
    """(what, body, content type, expected): malformed multipart bodies."""
    pj = ("payload_json", b'{"content": "mp"}', None, None)
    f0 = ("files[0]", b"data", b"f.txt", "text/plain")
    files11 = [(f"files[{i}]", b"d%d" % i, b"f.txt", None) for i in range(11)]
    inv = ("files", "MULTIPART_INVALID")
    return [
        ("no boundary parameter", multipart([pj, f0]), "multipart/form-data", inv),
        ("empty boundary", multipart([pj, f0]), "multipart/form-data; boundary=", inv),
        ("wrong boundary", multipart([pj, f0]), "multipart/form-data; boundary=other", inv),
        ("boundary over 70", multipart([pj, f0], b"b" * 71),
         "multipart/form-data; boundary=" + "b" * 71, inv),
        ("unterminated part", multipart([pj, f0], close=False)[:-2], MP, inv),
        ("no delimiter at all", b"just some text", MP, inv),
        ("empty body", b"", MP, inv),
        ("huge part headers", b"--b0undary\r\nX-Pad: " + b"p" * 10000 + b"\r\n" +
         multipart([pj])[len(b"--b0undary\r\n"):], MP, inv),
        ("headers never end", b"--b0undary\r\nContent-Disposition: form-data; name=\"a\"\r\n"
         + b"X: y\r\n" * 3000, MP, inv),
        ("33 parts", multipart([pj] + [("x", b"", None, None)] * 32), MP, inv),
        ("11 files", multipart([pj] + files11), MP, ("files[10]", None)),
        ("files[10]", multipart([pj, ("files[10]", b"x", b"f", None)]), MP, ("files[10]", None)),
        ("files[01]", multipart([pj, ("files[01]", b"x", b"f", None)]), MP, ("files[01]", None)),
        ("files[-1]", multipart([pj, ("files[-1]", b"x", b"f", None)]), MP, ("files[-1]", None)),
        ("a file under another name", multipart([pj, ("upload", b"x", b"f", None)]), MP,
         ("upload", None)),
        ("the same file twice", multipart([pj, f0, f0]), MP, ("files[0]", None)),
        ("11 attachments", multipart([("payload_json", json.dumps({"attachments": [
            {"id": i} for i in range(11)]}).encode(), None, None)] + files11[:10]), MP,
         ("attachments", "BASE_TYPE_MAX_LENGTH")),
        ("attachment without its file", multipart([("payload_json",
         b'{"attachments": [{"id": 5}]}', None, None), f0]), MP,
         ("attachments.0.id", "ATTACHMENT_NOT_FOUND")),
        ("attachment id twice", multipart([("payload_json",
         b'{"attachments": [{"id": 0}, {"id": "0"}]}', None, None), f0]), MP,
         ("attachments.1.id", "ATTACHMENT_NOT_FOUND")),
        ("description over 1024", multipart([("payload_json", json.dumps({"attachments": [
            {"id": 0, "description": "d" * 1025}]}).encode(), None, None), f0]), MP,
         ("attachments.0.description", "BASE_TYPE_MAX_LENGTH")),
        ("attachments not an array", multipart([("payload_json", b'{"attachments": 1}', None,
                                                 None), f0]), MP,
         ("attachments", "BASE_TYPE_ARRAY")),
        ("payload_json not JSON", multipart([("payload_json", b'{"content": ', None, None), f0]),
         MP, (400, 50109)),
        ("payload_json an array", multipart([("payload_json", b"[]", None, None), f0]), MP,
         (400, 50109)),
        ("payload_json invalid UTF-8", multipart([("payload_json", b'{"content": "\xff"}', None,
                                                   None), f0]), MP, (400, 50109)),
        ("payload_json wrong type", multipart([("payload_json", b'{"content": 5}', None, None),
                                               f0]), MP, ("content", "BASE_TYPE_STRING")),
        ("content over 2000", multipart([("payload_json", json.dumps(
            {"content": "c" * 2001}).encode(), None, None), f0]), MP,
         ("content", "BASE_TYPE_MAX_LENGTH")),
        ("reply to nothing", multipart([("payload_json", json.dumps(
            {"content": "c", "message_reference": {"message_id": "1"}}).encode(), None, None),
            f0]), MP, ("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE")),
        ("neither content nor files", multipart([pj[:1] + (b'{"content": ""}', None, None)]), MP,
         (400, 50006)),
    ]


def test_malformed_multipart(w):
    """Malformed multipart bodies are 50035 MULTIPART_INVALID (or the field's error), and no
    file is written for any of them."""
    failures = []
    with nothing_stored(w.srv):
        for what, body, ctype, expected in bad_multipart(w):
            r = w.a.req("POST", f"/channels/{w['C']}/messages", body, ctype=ctype)
            try:
                if isinstance(expected[0], int):
                    expect(r, *expected)
                else:
                    form(r, *expected)
            except AssertionError as e:
                failures.append(f"{what}: {str(e).splitlines()[0]}")
    assert not failures, "\n".join(failures)


def test_upload_refused_before_any_file_is_written(w):
    """Without ATTACH_FILES, or in a channel one cannot see: refused, no file on disk."""
    a, b, G = w.a, w.b, w["G"]
    ch = a.ok("POST", f"/guilds/{G}/channels", {"name": "no-files", "permission_overwrites": [
        {"id": G, "type": 0, "deny": str(1 << 15)}]}, 201)["id"]
    hidden = a.ok("POST", f"/guilds/{G}/channels", {"name": "hidden", "permission_overwrites": [
        {"id": G, "type": 0, "deny": str(1 << 10)}]}, 201)["id"]
    part = [("files[0]", os.urandom(64), b"r.bin", None)]
    with nothing_stored(w.srv):
        expect(upload(b, ch, part, {"content": "x"}), 403, 50013)
        expect(upload(b, hidden, part, {"content": "x"}), 403, 50001)
        expect(upload(w.o, w["C"], part, {"content": "x"}), 403, 50001)
        expect(upload(a, UNKNOWN_IDS[0], part, {"content": "x"}), 404, 10003)


# --------------------------------------------------------------------------- HTTP abuse

TIGHT_BODY, TIGHT_UPLOAD = 65536, 262144


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    """A server with small limits: 64 KiB bodies, 256 KiB uploads, a 2 s connection timeout."""
    s = start_server(tmp_path_factory, "--max-body-bytes", str(TIGHT_BODY),
                     "--max-upload-bytes", str(TIGHT_UPLOAD), "--connection-timeout", "2")
    try:
        tok, uid = register(s, "tight_owner")
        c = Client(s, tok)
        g = c.ok("POST", "/guilds", {"name": "tight"}, 201)
        s.client, s.channel, s.guild = c, g["system_channel_id"], g["id"]
        yield s
    finally:
        s.close()


def raw_exchange(server: HearthServer, data: bytes, *, half_close: bool = False,
                 timeout: float = 10.0, drip: float = 0.0) -> tuple[bytes, float]:
    """Sends data on a fresh connection and reads until the server closes it (or the
    timeout). Returns what came back and how long the server took to close."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    start = time.monotonic()
    out = b""
    try:
        if drip:
            for i in range(0, len(data), 64):
                s.sendall(data[i:i + 64])
                time.sleep(drip)
        else:
            s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        out += b"<still open>"
    finally:
        s.close()
    return out, time.monotonic() - start


def status_line(raw: bytes) -> int | None:
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", raw)
    return int(m.group(1)) if m else None


def test_multipart_upload_limit(tight):
    """A multipart create may be max-upload-bytes; a file over it answers 413 40005 and
    stores nothing. Other bodies keep max-body-bytes."""
    c, ch = tight.client, tight.channel
    with files_only_in_attachments(tight, expect_new=1):
        r = upload(c, ch, [("files[0]", os.urandom(TIGHT_UPLOAD // 2), b"half.bin", None)],
                   {"content": "fits"})
        assert r.status == 200, str(r)
    with nothing_stored(tight):
        expect(upload(c, ch, [("files[0]", os.urandom(TIGHT_UPLOAD + 1), b"big.bin", None)],
                      {"content": "over"}), 413, 40005)
        parts = [(f"files[{i}]", os.urandom(TIGHT_UPLOAD // 8), b"p.bin", None) for i in range(9)]
        expect(upload(c, ch, parts, {"content": "over in total"}), 413, 40005)
        expect(c.req("POST", f"/channels/{ch}/messages",
                     json.dumps({"content": "x" * TIGHT_BODY}).encode()), 413, 40005)


def test_content_length_larger_than_the_body(tight):
    """A body that never arrives: the connection is dropped at the connection timeout (2 s
    here) without an answer and without storing anything, and other clients are served
    meanwhile."""
    c, ch = tight.client, tight.channel
    head = (f"POST /api/v10/channels/{ch}/messages HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {c.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: 1000\r\n\r\n").encode()
    body = b'{"content": "never finished"}'
    with nothing_stored(tight):
        out, took = raw_exchange(tight, head + body, half_close=True)
        assert out == b"", f"an answer to a request whose body never came: {out[:200]!r}"
        result = {}
        t = threading.Thread(target=lambda: result.update(
            zip(("out", "took"), raw_exchange(tight, head + body, timeout=8))))
        t.start()
        time.sleep(0.3)
        alive(tight)  # served while the other connection waits for its body
        t.join()
        assert result["out"] == b"", f"answered: {result['out'][:200]!r}"
        assert 1.5 <= result["took"] <= 6, f"held for {result['took']:.1f} s (timeout is 2 s)"


def test_oversized_headers_and_authorization(tight):
    """Header blocks libmicrohttpd cannot hold (its 32 KiB per-connection pool) are refused
    by libmicrohttpd itself with 431 (414 for the request line) and the connection closed.
    Those answers are its own HTML pages: it replies before any handler runs, so they are
    the one place where errors are not Discord JSON (documented in the report). A large
    header that fits reaches the API and gets its JSON answer."""
    c = tight.client
    with nothing_stored(tight):
        for head in (f"GET /api/v10/users/@me HTTP/1.1\r\nHost: x\r\nAuthorization: {c.token}"
                     f"\r\nX-Padding: {'p' * 100_000}\r\n\r\n",
                     f"GET /api/v10/users/@me HTTP/1.1\r\nHost: x\r\n"
                     f"Authorization: {'A' * 100_000}\r\n\r\n",
                     "GET /api/v10/users/@me HTTP/1.1\r\nHost: x\r\n"
                     + "".join(f"X-H{i}: {i}\r\n" for i in range(5000)) + "\r\n"):
            out, _ = raw_exchange(tight, head.encode())
            assert status_line(out) == 431, out[:300]
        out, _ = raw_exchange(tight, f"GET /api/v10/users/{'1' * 100_000} HTTP/1.1\r\n"
                                     "Host: x\r\n\r\n".encode())
        assert status_line(out) == 414, out[:300]
        expect(c.get("/users/@me", token="A" * 16_000), 401, 0)
        expect(c.get("/users/@me", token="Bot " + "A" * 16_000), 401, 0)
        expect(c.get("/users/@me", token=c.token + "x"), 401, 0)
    r = c.req("POST", f"/guilds/{tight.guild}/roles", b"", headers={
        "X-Audit-Log-Reason": "r" * 20_000})
    assert r.status == 200, str(r)
    entry = c.ok("GET", f"/guilds/{tight.guild}/audit-logs")["audit_log_entries"][0]
    assert entry["reason"] == "r" * 512, "the reason is cut to 512 characters"


def test_bodies_over_the_limit_on_every_route(tight):
    """A body over max-body-bytes answers 413 40005 on every route, before routing (so
    unknown paths too), and a multipart Content-Type does not lift the limit anywhere but on
    message creation."""
    c = tight.client
    big = b'{"name": "' + b"n" * TIGHT_BODY + b'"}'
    with nothing_stored(tight):
        for method, path in (("POST", "/guilds"), ("POST", "/auth/register"),
                             ("PATCH", f"/channels/{tight.channel}"),
                             ("POST", "/no/such/route"), ("PUT", "/users/@me")):
            expect(c.req(method, path, big), 413, 40005)
        chunked = (f"POST /api/v10/guilds HTTP/1.1\r\nHost: x\r\nAuthorization: {c.token}\r\n"
                   "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                   "Connection: close\r\n\r\n").encode()
        for i in range(0, len(big), 8192):
            piece = big[i:i + 8192]
            chunked += b"%x\r\n" % len(piece) + piece + b"\r\n"
        out, _ = raw_exchange(tight, chunked + b"0\r\n\r\n")
        assert status_line(out) == 413 and b'"code":40005' in out, out[:300]


# --------------------------------------------------------------------------- the gateway


@pytest.fixture(scope="module")
def gws(tmp_path_factory):
    """A server whose gateway expects IDENTIFY within 1 s and cuts off a consumer with more
    than 64 KiB queued."""
    s = start_server(tmp_path_factory, "--gateway-heartbeat-ms", "1000",
                     "--gateway-max-queued-bytes", "65536")
    try:
        tok, uid = register(s, "gw_owner")
        c = Client(s, tok)
        g = c.ok("POST", "/guilds", {"name": "gateway"}, 201)
        s.client, s.channel = c, g["system_channel_id"]
        yield s
    finally:
        s.close()


class RawWs:
    """A WebSocket client on a bare socket, so that frames can be as wrong as needed."""

    def __init__(self, server: HearthServer, host: bytes = b"127.0.0.1", rcvbuf: int = 0,
                 query: bytes = b"v=10&encoding=json"):
        self.s = socket.socket()
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(5)
        self.s.connect(("127.0.0.1", server.port))
        key = base64.b64encode(os.urandom(16))
        self.s.sendall(b"GET /gateway?" + query + b" HTTP/1.1\r\nHost: " + host +
                       b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(4096)
            assert chunk, f"closed during the handshake: {self.buf!r}"
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head

    @staticmethod
    def frame(payload: bytes, opcode: int = 1, fin: bool = True, mask: bool = True,
              length: int | None = None) -> bytes:
        n = len(payload) if length is None else length
        b0 = (0x80 if fin else 0) | opcode
        m = 0x80 if mask else 0
        if n < 126:
            head = struct.pack("!BB", b0, m | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, m | 126, n)
        else:
            head = struct.pack("!BBQ", b0, m | 127, n)
        if not mask:
            return head + payload
        k = os.urandom(4)
        return head + k + bytes(c ^ k[i % 4] for i, c in enumerate(payload))

    def send(self, payload, **kw):
        if isinstance(payload, dict):
            payload = json.dumps(payload).encode()
        self.s.sendall(self.frame(payload, **kw))

    def _need(self, n: int):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def recv(self) -> tuple[int, bytes]:
        self._need(2)
        op, n, off = self.buf[0] & 0x0F, self.buf[1] & 0x7F, 2
        if n == 126:
            self._need(4)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(off + n)
        payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
        return op, payload

    def payload(self) -> dict:
        op, p = self.recv()
        assert op == 1, (op, p[:200])
        return json.loads(p)

    def close_code(self, timeout: float = 5) -> tuple[int | None, bytes]:
        """Reads until the server's close frame: (code, reason); (None, b'') on a bare EOF."""
        self.s.settimeout(timeout)
        try:
            while True:
                op, p = self.recv()
                if op == 8:
                    return (struct.unpack("!H", p[:2])[0] if len(p) >= 2 else None), p[2:]
        except (EOFError, ConnectionResetError):
            return None, b""

    def identify(self, token: str) -> dict:
        assert self.payload()["op"] == 10
        self.send({"op": 2, "d": {"token": token, "properties": {}}})
        ready = self.payload()
        assert ready["t"] == "READY", ready
        return ready["d"]

    def close(self):
        self.s.close()


GW_CASES = [
    ("invalid UTF-8", lambda ws: ws.send(b'{"op": 1, "d": "\xff\xfe"}'), 1007),
    ("overlong UTF-8", lambda ws: ws.send(b'{"op": 1, "d": "\xc0\xaf"}'), 1007),
    ("invalid UTF-8 across fragments", lambda ws: (
        ws.send(b'{"op": 1, "d": "\xe2\x82', fin=False), ws.send(b'\xff"}', opcode=0)), 1007),
    ("a 70 KB frame", lambda ws: ws.send(b'{"op":1,"d":"' + b"a" * 70_000 + b'"}'), 1009),
    ("70 KB in 4 KB fragments", lambda ws: [
        ws.send(b"a" * 4096, opcode=1 if i == 0 else 0, fin=i == 17) for i in range(18)], 1009),
    ("a 5 KB payload", lambda ws: ws.send(b'{"op":1,"d":"' + b"a" * 5000 + b'"}'), 4002),
    ("not JSON", lambda ws: ws.send(b"{op: 1}"), 4002),
    ("NUL in JSON", lambda ws: ws.send(b'{"op": 1, "d": "\\u0000"}'), 4002),
    ("op not an integer", lambda ws: ws.send(b'{"op": 1.5, "d": null}'), 4002),
    ("duplicate keys", lambda ws: ws.send(b'{"op": 1, "op": 2}'), 4002),
    ("a binary frame", lambda ws: ws.send(b'{"op": 1}', opcode=2), 4002),
    ("an unmasked frame", lambda ws: ws.send(b'{"op": 1, "d": null}', mask=False), 1002),
]


@pytest.mark.parametrize("name,send,code", GW_CASES, ids=[c[0] for c in GW_CASES])
def test_gateway_bad_frames(gws, name, send, code):
    ws = RawWs(gws)
    try:
        assert ws.payload()["op"] == 10
        send(ws)
        got, reason = ws.close_code()
        assert got == code, f"{name}: expected close {code}, got {got} {reason!r}"
    finally:
        ws.close()
    alive(gws)


@pytest.mark.parametrize("query,code", [
    (b"v=abc", 4012), (b"v=8", 4012), (b"v=", 4012), (b"encoding=etf", 4002),
    (b"encoding=", 4002),
    (b"compress=zstd-stream", 4002), (b"compress=", 4002)])
def test_gateway_bad_query_parameters(gws, query, code):
    """spec/client-api.md §6.1: the HELLO-time refusals of v, encoding and compress."""
    ws = RawWs(gws, query=query)
    try:
        got, reason = ws.close_code()
        assert got == code, f"{query!r}: expected close {code}, got {got} {reason!r}"
    finally:
        ws.close()


def test_gateway_frames_the_server_must_drop(gws):
    """Declared lengths it must never allocate, and oversized control frames: the
    connection goes (with or without a close frame) and the server stays up."""
    for data in (b"\x81\xff" + struct.pack("!Q", 1 << 63) + b"mask" + b"x" * 100,
                 b"\x81\xff" + struct.pack("!Q", (1 << 63) - 1) + b"mask" + b"x" * 100,
                 b"\x81\xff" + struct.pack("!Q", (1 << 64) - 1) + b"mask" + b"x" * 100,
                 b"\x81\xff" + struct.pack("!Q", 1 << 40) + b"mask" + b"x" * 1000,
                 RawWs.frame(b"p" * 200, opcode=9),
                 RawWs.frame(b"p", opcode=9, fin=False),
                 RawWs.frame(b"x", opcode=3)):
        ws = RawWs(gws)
        try:
            assert ws.payload()["op"] == 10
            ws.s.sendall(data)
            code, _ = ws.close_code()
            assert code in (None, 1002, 1009), (data[:12], code)
        finally:
            ws.close()
    alive(gws)


def test_gateway_one_byte_writes(gws):
    """A client whose frames arrive one byte per TCP write is served all the same; one that
    starts a frame and never finishes it is closed when IDENTIFY is late (4003), not kept."""
    ws = RawWs(gws)
    try:
        assert ws.payload()["op"] == 10
        ws.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = RawWs.frame(json.dumps({"op": 2, "d": {"token": gws.client.token,
                                                      "properties": {}}}).encode())
        for i in range(len(data)):
            ws.s.send(data[i:i + 1])
            time.sleep(0.001)
        assert ws.payload()["t"] == "READY"
    finally:
        ws.close()
    ws = RawWs(gws)
    try:
        assert ws.payload()["op"] == 10
        start = time.monotonic()
        ws.s.sendall(RawWs.frame(b'{"op": 2, "d": {"token": "' + b"t" * 100 + b'"}}')[:40])
        code, _ = ws.close_code(timeout=6)
        assert code == 4003 and time.monotonic() - start < 4, code
    finally:
        ws.close()
    alive(gws)


def test_gateway_client_that_never_reads(gws):
    """A session that stops reading is cut off once its queue passes
    gateway-max-queued-bytes (64 KiB here) instead of growing the server's memory, and
    the gateway goes on serving everyone else."""
    c, ch = gws.client, gws.channel
    stuck = RawWs(gws, rcvbuf=4096)
    stop = threading.Event()

    def beat():  # a stuck reader may still write: keep the session from timing out (4009)
        while not stop.wait(0.3):
            try:
                stuck.send({"op": 1, "d": None})
            except OSError:
                return
    beater = threading.Thread(target=beat)
    posted = []

    def post(n):
        for _ in range(n):
            r = c.req("POST", f"/channels/{ch}/messages", json_body={"content": "😀" * 2000})
            assert r.status == 200, str(r)
            posted.append(r.json()["id"])
    try:
        stuck.identify(c.token)
        log_start = len(gws.log_text())
        beater.start()
        deadline = time.monotonic() + 30
        while "slow consumer" not in gws.log_text()[log_start:]:
            assert time.monotonic() < deadline and len(posted) < 3000, \
                f"no slow-consumer cut-off after {len(posted)} messages"
            threads = [threading.Thread(target=post, args=(5,)) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        # The stuck client finds its stream ended (no close frame: spec/client-api.md §6.4)
        # long before it has read everything.
        stuck.s.settimeout(10)
        total = 0
        try:
            while True:
                chunk = stuck.s.recv(1 << 20)
                if not chunk:
                    break
                total += len(chunk)
        except ConnectionResetError:
            pass
        assert total < len(posted) * 16_000, "the stuck client was sent everything"
    finally:
        stop.set()
        stuck.close()
        if beater.ident:
            beater.join(5)
    # Everyone else is served as before.
    fresh = RawWs(gws)
    try:
        fresh.identify(c.token)
        last = c.ok("POST", f"/channels/{ch}/messages", {"content": "after"})["id"]
        while True:
            p = fresh.payload()
            if p.get("t") == "MESSAGE_CREATE" and p["d"]["id"] == last:
                break
    finally:
        fresh.close()
    alive(gws)


# --------------------------------------------------------------------------- regressions
# Each test below failed before the fix named in its docstring.


def test_gateway_host_header_that_is_not_ascii(w):
    """capi_ws.c host_ok: a Host header of arbitrary bytes went into READY's
    resume_gateway_url, which jansson refused as a JSON string, and op_identify's
    HS_ASSERT(ready) aborted the whole server on the next IDENTIFY. GET /gateway answered
    200 with an empty body."""
    for host in (b"\xff\xfe", b"h\xc3\x28st", b"a b", b'x"y', b"x/y", b"h" * 300):
        ws = RawWs(w.srv, host=host)
        try:
            ready = ws.identify(w.a.token)
            assert ready["resume_gateway_url"] == "ws://localhost/gateway", ready
        finally:
            ws.close()
        out, _ = raw_exchange(w.srv, b"GET /api/v10/gateway HTTP/1.1\r\nHost: " + host +
                              b"\r\nConnection: close\r\n\r\n")
        assert status_line(out) == 200, out[:300]
        url = json.loads(out.partition(b"\r\n\r\n")[2])["url"]
        assert url == f"ws://127.0.0.1:{w.srv.port}/gateway", url
    alive(w.srv)


def test_percent_encoded_nul_in_paths_and_queries(w):
    """capi_http.c unescape: libmicrohttpd decoded %00 into the path, which then ended
    there: DELETE .../reactions/%00/@me removed every reaction of the message, and
    .../members/{id}%00/roles/{role} kicked the member. %00 now stays three characters."""
    a, C, M, G, B, R = w.a, w["C"], w["M"], w["G"], w["B"], w["R"]
    thumbs = quote("👍")
    assert a.req("PUT", f"/channels/{C}/messages/{M}/reactions/{thumbs}/@me").status == 204
    assert w.b.req("PUT", f"/channels/{C}/messages/{M}/reactions/{thumbs}/@me").status == 204
    with nothing_stored(w.srv):
        base = f"/channels/{C}/messages/{M}/reactions"
        for method, path in (("DELETE", f"{base}/%00/@me"), ("PUT", f"{base}/%00/@me"),
                             ("DELETE", f"{base}/{thumbs}%00/@me"),
                             ("DELETE", f"{base}/%00/{B}"), ("GET", f"{base}/%00")):
            expect(a.req(method, path), 400, 10014)
        form(a.req("DELETE", f"/guilds/{G}/members/{B}%00/roles/{R}"), "user_id",
             "NUMBER_TYPE_COERCE")
        form(a.req("DELETE", f"/channels/{C}%00/messages/{M}"), "channel_id",
             "NUMBER_TYPE_COERCE")
        form(a.req("GET", f"/channels/{C}/messages?limit=5%00"), "limit", "NUMBER_TYPE_COERCE")
        form(a.req("GET", f"/channels/{C}/messages?before={M}%00"), "before",
             "NUMBER_TYPE_COERCE")
        expect(a.req("GET", f"/invites/{w['INVITE']}%00"), 404, 10006)
        expect(a.req("GET", f"/attachments/{C}/{w['ATT']}/a.txt%00"), 404, 10012)
    reactions = a.ok("GET", f"/channels/{C}/messages/{M}")["reactions"]
    assert [(x["emoji"]["name"], x["count"]) for x in reactions] == [("👍", 2)]
    assert a.ok("GET", f"/guilds/{G}/members/{B}")["user"]["id"] == B
    for query, code in ((b"v=10%00", 4012), (b"encoding=json%00", 4002)):
        ws = RawWs(w.srv, query=query)
        try:
            assert ws.close_code()[0] == code, query
        finally:
            ws.close()
    # Other escapes still decode once: %F0%9F%91%8D is the emoji, %2541 the text %41.
    assert a.req("DELETE", f"{base}/{thumbs}/@me").status == 204
    expect(a.req("PUT", f"{base}/%2541/@me"), 400, 10014)
    assert a.ok("GET", f"/guilds/{G}/members/search?query=bad%5Fmem")[0]["user"]["id"] == B


def test_audit_reason_that_is_not_utf8(w):
    """capi_routes.c capi_audit_reason: a reason that decoded to bytes that are not UTF-8 was
    stored as they were; jansson then refused them, so the ban could not be read back (GET
    answered 404 10026 Unknown Ban and the list left it out) and the audit entry lost its
    reason. Such bytes now become U+FFFD."""
    a, G = w.a, w["G"]
    tok, victim = register(w.srv, "bad_banned")
    Client(w.srv, tok).ok("POST", f"/invites/{w['INVITE']}")
    r = a.req("PUT", f"/guilds/{G}/bans/{victim}", b"", headers={
        "X-Audit-Log-Reason": "%FF%FEspam%C0%AF%ED%A0%80 ok %F0%9F%91%8D"})
    assert r.status == 204, str(r)
    expected = "\ufffd\ufffdspam\ufffd\ufffd\ufffd\ufffd\ufffd ok 👍"
    assert a.ok("GET", f"/guilds/{G}/bans/{victim}")["reason"] == expected
    assert [b["reason"] for b in a.ok("GET", f"/guilds/{G}/bans")
            if b["user"]["id"] == victim] == [expected]
    entry = a.ok("GET", f"/guilds/{G}/audit-logs?action_type=22")["audit_log_entries"][0]
    assert entry["target_id"] == victim and entry["reason"] == expected, entry
    # Raw bytes in the header (not percent-encoded) are treated the same way.
    conn = http.client.HTTPConnection("127.0.0.1", w.srv.port, timeout=10)
    conn.putrequest("PUT", f"/api/v10/guilds/{G}/bans/{w['O']}")
    conn.putheader("Authorization", a.token)
    conn.putheader("X-Audit-Log-Reason", b"caf\xe9")
    conn.putheader("Content-Length", "0")
    conn.endheaders()
    assert conn.getresponse().status == 204
    conn.close()
    assert a.ok("GET", f"/guilds/{G}/bans/{w['O']}")["reason"] == "caf\ufffd"
    assert a.req("DELETE", f"/guilds/{G}/bans/{w['O']}").status == 204


def test_refused_upload_stores_no_file(w):
    """capi_messages.c upload_job: the files of a multipart message were written before the
    write's own checks ran, so a message refused for its content, its reply target, its
    channel's type, slowmode or a locked thread still left its files on disk. The checks now run first
    (hs_msg_create_fn with check_only), rolled back, and a thread they would unarchive stays
    archived."""
    a, b, G, C = w.a, w.b, w["G"], w["C"]
    slow = a.ok("POST", f"/guilds/{G}/channels", {"name": "slow", "rate_limit_per_user": 600},
                201)["id"]
    b.ok("POST", f"/channels/{slow}/messages", {"content": "first"})
    locked = a.ok("POST", f"/channels/{C}/threads", {"name": "locked", "type": 11}, 201)["id"]
    a.ok("PATCH", f"/channels/{locked}", {"locked": True})
    archived = a.ok("POST", f"/channels/{C}/threads", {"name": "archived", "type": 11}, 201)["id"]
    a.ok("PATCH", f"/channels/{archived}", {"archived": True})

    def part():
        return [("files[0]", os.urandom(256), b"r.bin", None)]
    with nothing_stored(w.srv):
        form(upload(a, C, part(), {"content": "c" * 2001}), "content", "BASE_TYPE_MAX_LENGTH")
        form(upload(a, C, part(), {"content": "c", "message_reference": {"message_id": "1"}}),
             "message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE")
        expect(upload(b, slow, part(), {"content": "again"}), 429, 20016)
        expect(upload(b, locked, part(), {"content": "locked"}), 403, 160005)
        expect(upload(a, w["V"], part(), {"content": "voice"}), 400, 50008)
        form(upload(a, archived, part(), {"content": "c", "message_reference": {
            "message_id": "1"}}), "message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE")
    assert a.ok("GET", f"/channels/{archived}")["thread_metadata"]["archived"] is True
    # A retried nonce answers the first message and stores nothing more.
    payload = {"content": "once", "nonce": "bad-input-nonce", "enforce_nonce": True}
    first = upload(a, C, part(), payload)
    assert first.status == 200, str(first)
    with nothing_stored(w.srv):
        again = upload(a, C, part(), payload)
        assert again.status == 200 and again.json()["id"] == first.json()["id"], str(again)
    # And an accepted upload to an archived thread unarchives it, file and all.
    with files_only_in_attachments(w.srv, expect_new=1):
        r = upload(a, archived, part(), {"content": "wake up"})
        assert r.status == 200 and len(r.json()["attachments"]) == 1, str(r)
    assert a.ok("GET", f"/channels/{archived}")["thread_metadata"]["archived"] is False


def test_multipart_type_does_not_lift_other_body_limits(tight):
    """capi_http.c body_limit: a multipart Content-Type raised the body limit from
    max-body-bytes to max-upload-bytes on every route (POST /auth/register included, without
    a token), so any client could make the server buffer 25 MiB per connection. Only message
    creation takes files now."""
    c = tight.client
    body = multipart([("payload_json", b'{"name": "x"}', None, None),
                      ("files[0]", b"z" * (TIGHT_BODY * 2), b"f", None)])
    assert TIGHT_BODY < len(body) < TIGHT_UPLOAD
    with nothing_stored(tight):
        for method, path, token in (("POST", "/guilds", True), ("POST", "/auth/register", None),
                                    ("PATCH", f"/channels/{tight.channel}", True),
                                    ("POST", f"/channels/{tight.channel}/messages/bulk-delete",
                                     True), ("POST", "/nothing/here", None)):
            expect(c.req(method, path, body, ctype=MP, token=token), 413, 40005)
    r = c.req("POST", f"/channels/{tight.channel}/messages", body, ctype=MP)
    assert r.status == 200, str(r)


def test_ambiguous_body_framing_is_refused(tight):
    """capi_http.c framing_ok: libmicrohttpd 0.9.75 read a body by the first of two
    different Content-Length headers (and by Transfer-Encoding when both were present), so
    a proxy that picks the other one could have the rest read as a second request
    (smuggling). Such requests are now answered 400 before their body is read, and the
    connection is closed."""
    c, ch = tight.client, tight.channel
    smuggled = (f"GET /api/v10/users/@me HTTP/1.1\r\nHost: x\r\nAuthorization: {c.token}\r\n"
                "\r\n").encode()
    body = b'{"content": "smuggled"}'
    head = (f"POST /api/v10/channels/{ch}/messages HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {c.token}\r\nContent-Type: application/json\r\n").encode()
    chunked = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    with nothing_stored(tight):
        for framing, payload in (
                (b"Content-Length: %d\r\nContent-Length: 3\r\n" % len(body), body + smuggled),
                (b"Content-Length: 3\r\nContent-Length: %d\r\n" % len(body), body + smuggled),
                (b"Transfer-Encoding: chunked\r\nContent-Length: %d\r\n" % len(chunked),
                 chunked + smuggled),
                (b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(chunked),
                 chunked + smuggled),
                (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
                 chunked + smuggled)):
            out, _ = raw_exchange(tight, head + framing + b"\r\n" + payload)
            assert status_line(out) == 400, out[:300]
            assert out.count(b"HTTP/1.1 ") == 1, f"a second request was read: {out[:600]!r}"
            head_part, _, rest = out.partition(b"\r\n\r\n")
            assert b"application/json" in head_part and json.loads(rest)["code"] == 0, out
    # The same length twice is no ambiguity, and a plain chunked body still works.
    for framing, payload in ((b"Content-Length: %d\r\nContent-Length: %d\r\n"
                              % (len(body), len(body)), body),
                             (b"Transfer-Encoding: chunked\r\n", chunked)):
        out, _ = raw_exchange(tight, head + framing + b"Connection: close\r\n\r\n" + payload)
        assert status_line(out) == 200, out[:300]


def test_gateway_burst_is_not_a_slow_consumer(gws):
    """capi_gateway.c conn_send: the slow-consumer bound was checked as each event was
    queued, before anything was written, so one group commit's events for a session that
    reads at once (here 16 messages of 16 KB against a 64 KiB bound) cut it off as if it
    were stuck. The socket now takes what it can first."""
    c, ch = gws.client, gws.channel
    reader = RawWs(gws)
    barrier = threading.Barrier(16)
    posted: list[str] = []

    def post():
        barrier.wait()
        r = c.req("POST", f"/channels/{ch}/messages", json_body={"content": "😀" * 2000})
        assert r.status == 200, str(r)
        posted.append(r.json()["id"])
    try:
        reader.identify(c.token)
        log_start = len(gws.log_text())
        for _ in range(3):
            threads = [threading.Thread(target=post) for _ in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            barrier.reset()
        reader.send({"op": 1, "d": None})
        got: set[str] = set()
        reader.s.settimeout(10)
        while not set(posted) <= got:
            try:
                p = reader.payload()
            except (EOFError, ConnectionResetError):
                pytest.fail(f"the reading session was cut off after {len(got)} of "
                            f"{len(posted)} messages: {gws.log_text()[log_start:][-300:]}")
            if p.get("t") == "MESSAGE_CREATE":
                got.add(p["d"]["id"])
        assert "slow consumer" not in gws.log_text()[log_start:]
    finally:
        reader.close()
    alive(gws)
