"""The authorization matrix (issue 3): every route of the REST surface, asked by a non-member,
a banned user, a member who cannot see the private channel, a member lacking the permission,
a timed-out member and a permitted member; each gets exactly the status and code the specs
document (spec/client-api.md §3, §4, §7 and spec/rest-*.md), and nothing leaks.

How a row runs (run_row): the owner gives `permitted` exactly the roles the row needs and
`lacking` every role but those (authz_world.py describes the actors); the row's setup makes
the resources it needs; then each actor sends the request. A refused write must leave the
row's snapshot (a re-read of the resource as the owner) exactly as it was; an accepted one
must change it (so the snapshot is shown to observe the resource), after which the setup
runs again for the next actor. Every response to an actor who may not see the private
channel (or a private thread, or the DM) is searched for its secrets: ids, names, message
contents, thread names, attachment ids and names.

Besides the issue's five actors there is `blind` (a member holding nearly every permission
but unable to see the private channel), and some rows add the owner or a bot (`extra`). Rows
marked with a variant probe the same route another way: on a thread, a private thread, a DM;
with the id of a message or attachment of the private channel put under the public channel.

test_every_route_has_a_row parses the route tables (client-api/capi_*.c) so that a new
endpoint without a row here (or a reason in EXEMPT) fails the suite.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from authz_world import (ACTORS, ALL_P, BLIND_ROLES, VIEW, Actor, World, iso_in)
from gateway_client import GatewayClient, run
from harness import HearthServer, describe, ok

REPO = Path(__file__).resolve().parents[2]
OK = "ok"

# Routes without a row, and why.
EXEMPT = {
    ("GET", "/gateway"): "no token, no guild data: answers {url} to anyone",
    ("GET", "/gateway/bot"): "bot tokens only (users get 401); no guild data",
    ("POST", "/auth/register"): "unauthenticated by design (account creation)",
    ("POST", "/auth/login"): "unauthenticated by design (token issue)",
}

THUMBS = "\N{THUMBS UP SIGN}"
E_NEW = "\N{PARTY POPPER}"
E_OWN = "\N{FIRE}"
E_USER = "\N{ROCKET}"
E_EMOJI = "\N{EYES}"


# --------------------------------------------------------------------------- rows


@dataclass
class Row:
    method: str
    route: str  # exactly as in the route table
    variant: str = ""
    # guild: a guild route; private: about the private channel (no VIEW_CHANNEL there: 50001);
    # pthread: a private thread (also members and MANAGE_THREADS only); user: any account;
    # app: the application's owner (`permitted`) only, others 50013; dm/gdm: recipients only.
    scope: str = "guild"
    # Alternatives: the request is allowed when the actor holds every permission of one of
    # them; `permitted` gets the first. VIEW means the private channel's viewer role.
    needs: tuple = ((),)
    lack: frozenset | None = None  # what `lacking` lacks (default: all of needs)
    setup: Callable[[World], dict] | None = None
    body: Callable[[World, dict], Any] | None = None
    query: Callable[[World, dict], dict] | None = None
    files: Callable[[World, dict], dict] | None = None  # multipart upload
    snap: Callable[[World, dict], Any] | None = None
    nosnap: str = ""  # why a write row has no snapshot
    changes: Any = True  # True, False or the set of actors whose success changes snap
    ok: int = 200
    expect: dict = field(default_factory=dict)  # actor -> OK or (status, code)
    # What an actor the derivation allows gets instead of success (an id that is not the
    # channel's: the permission is checked first, then the id).
    instead: Any = None
    verify: Callable | None = None  # (world, ctx, actor, response) on success
    fresh: frozenset = frozenset()  # actors made anew for this row
    extra: tuple = ()  # further actors (e.g. "owner") after the six
    leak_ok: bool = False  # the permission itself shows guild-wide records (audit, invites)
    prefix: str = "/api/v10"
    raw: bool = False  # the success body is not JSON (a file)

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}" + (f" [{self.variant}]" if self.variant else "")


def need(*alts) -> tuple:
    return tuple(tuple(a) if isinstance(a, (tuple, list, set, frozenset)) else (a,)
                 for a in alts)


def rows() -> list[Row]:
    R = Row
    G = lambda w: {"guild_id": w.guild_id}  # noqa: E731
    P = lambda w: {"channel_id": w.private}  # noqa: E731
    T = lambda w: {"channel_id": w.thread}  # noqa: E731

    def with_(base, **more):
        return lambda w: {**base(w), **{k: (v(w) if callable(v) else v) for k, v in more.items()}}

    def uniq(prefix):
        return lambda w, c: {"content": w.uniq(prefix)}

    history = lambda ch: lambda w, c: w.history_ids(  # noqa: E731
        c[ch] if ch in c else getattr(w, ch))
    roles_snap = lambda w, c: sorted((r["id"], r["position"], r["name"])  # noqa: E731
                                     for r in w.get(f"/guilds/{w.guild_id}/roles"))
    channel_snap = lambda w, c: w.get(f"/channels/{c['channel_id']}")  # noqa: E731
    channels_snap = lambda w, c: sorted(  # noqa: E731
        (ch["id"], ch["position"]) for ch in w.get(f"/guilds/{w.guild_id}/channels"))
    active_snap = lambda w, c: sorted(  # noqa: E731
        t["id"] for t in w.get(f"/guilds/{w.guild_id}/threads/active")["threads"])
    pins_snap = lambda w, c: [m["id"] for m in w.get(f"/channels/{w.private}/pins")]  # noqa
    bans_snap = lambda w, c: sorted(  # noqa: E731
        b["user"]["id"] for b in w.get(f"/guilds/{w.guild_id}/bans"))
    automod_snap = lambda w, c: w.get(  # noqa: E731
        f"/guilds/{w.guild_id}/auto-moderation/rules")
    tm_snap = lambda w, c: sorted(  # noqa: E731
        m["user_id"] for m in w.get(f"/channels/{c['channel_id']}/thread-members"))

    def reactors(emoji, msg="msg"):
        def snap(w, c):
            e = urllib.parse.quote(emoji, safe="")
            return [u["id"] for u in w.get(f"/channels/{w.private}/messages/"
                                           f"{getattr(w, msg)}/reactions/{e}")]
        return snap

    def fresh_msg(w):
        return {"channel_id": w.private, "message_id": w.post(w.private)}

    def victim(w, viewer=False):
        return w.new_member("victim", viewer=viewer)

    # -- verifications of successful answers
    def sees_private_history(w, c, a, r):
        body = r.json()
        if "READ_MESSAGE_HISTORY" in a.perms():
            assert w.msg in [m["id"] for m in body], "history misses the secret message"
        else:
            assert body == [], f"without READ_MESSAGE_HISTORY the answer is []: {body!r}"

    def my_guilds(w, c, a, r):
        ids = [g["id"] for g in r.json()]
        assert (w.guild_id in ids) == a.member, ids

    def channel_list(w, c, a, r):
        ids = [ch["id"] for ch in r.json()]
        assert (w.private in ids) == (VIEW in a.perms()), ids

    def active_threads(w, c, a, r):
        ids = [t["id"] for t in r.json()["threads"]]
        assert (w.thread in ids) == (VIEW in a.perms()), ids
        assert (w.pthread in ids) == ("pthread" in a.visible_groups()), ids

    def pins_v2(w, c, a, r):
        body = r.json()
        if "READ_MESSAGE_HISTORY" in a.perms():
            assert w.msg in [i["message"]["id"] for i in body["items"]], body
        else:
            assert body == {"items": [], "has_more": False}, body

    def pins_legacy(w, c, a, r):
        body = r.json()
        if "READ_MESSAGE_HISTORY" in a.perms():
            assert w.msg in [m["id"] for m in body], body
        else:
            assert body == [], body

    def lists(key, what):
        return lambda w, c, a, r: getattr(w, what) in [t["id"] for t in r.json()[key]]

    def attachment_bytes(w, c, a, r):
        assert r.content == b"zq secret bytes", r.content[:100]

    def is_owner_member(w, c, a, r):
        assert r.json()["user"]["id"] == w.owner.user_id

    def invite_guild(w, c, a, r):
        assert r.json()["guild"]["id"] == w.guild_id

    out = [
        # ---------------------------------------------------------------- accounts, apps
        R("GET", "/users/@me", scope="user",
          verify=lambda w, c, a, r: r.json()["id"] == a.id),
        R("GET", "/users/@me/guilds", scope="user", verify=my_guilds),
        R("GET", "/users/:user_id", scope="user", setup=lambda w: {"user_id": w.owner.user_id}),
        # Bots: 403 20001 on the endpoints for user accounts only (spec/client-api.md §4).
        R("POST", "/applications", scope="user", ok=201, extra=("bot",),
          nosnap="no endpoint lists a user's applications; only the bot is refused",
          expect={"bot": (403, 20001)}, body=lambda w, c: {"name": w.uniq("App")}),
        # A user token has no application of its own (it is the calling bot's).
        R("GET", "/applications/@me", scope="user", instead=(404, 10002), extra=("bot",),
          expect={"bot": OK}, verify=lambda w, c, a, r: r.json()["bot"]["id"] == a.id),
        R("GET", "/applications/:application_id", scope="app", extra=("bot",),
          setup=lambda w: {"application_id": w.app["id"]}),
        # (spec/client-api.md does not say that bots get 20001 here; the code answers so.)
        R("PATCH", "/applications/:application_id", scope="app", extra=("bot",),
          expect={"bot": (403, 20001)},
          setup=lambda w: {"application_id": w.app_of(w.actors["permitted"].api)["id"]},
          body=lambda w, c: {"flags": 1 << 14},
          snap=lambda w, c: w.get(f"/applications/{c['application_id']}",
                                  api=w.actors["permitted"].api)["flags"]),
        R("POST", "/applications/:application_id/bot/reset", scope="app", extra=("bot",),
          expect={"bot": (403, 20001)},
          setup=lambda w: w.app_with_token(),
          snap=lambda w, c: w.bot_token_works(c)),
        R("POST", "/oauth2/authorize", needs=need("MANAGE_GUILD"), extra=("bot",),
          expect={"bot": (403, 20001)},
          setup=lambda w: {"app": w.app_of(w.owner)["id"]},
          query=lambda w, c: {"client_id": c["app"], "scope": "bot"},
          body=lambda w, c: {"guild_id": w.guild_id, "permissions": "0", "authorize": True},
          snap=lambda w, c: w.member_ids()),
        R("POST", "/guilds", scope="user", ok=201, body=lambda w, c: {"name": "Row Guild"},
          extra=("bot",), expect={"bot": (403, 20001)}, changes=False,
          snap=lambda w, c: w.get("/users/@me/guilds", api=w.actors["bot"].api)),

        # ---------------------------------------------------------------- guilds, channels
        R("GET", "/guilds/:guild_id", setup=G),
        R("GET", "/guilds/:guild_id/channels", setup=G, verify=channel_list),
        R("POST", "/guilds/:guild_id/channels", setup=G, needs=need("MANAGE_CHANNELS"),
          ok=201, body=lambda w, c: {"name": w.uniq("made")}, snap=channels_snap),
        R("GET", "/channels/:channel_id", scope="private", setup=P,
          verify=lambda w, c, a, r: r.json()["id"] == w.private),
        R("GET", "/channels/:channel_id", "public channel", setup=lambda w: {
            "channel_id": w.general}),
        R("GET", "/channels/:channel_id", "thread", scope="private", setup=T),
        R("GET", "/channels/:channel_id", "private thread", scope="pthread",
          needs=need("MANAGE_THREADS"), setup=lambda w: {"channel_id": w.pthread}),
        R("GET", "/channels/:channel_id", "dm", scope="dm", setup=lambda w: {
            "channel_id": w.dm}),
        R("PATCH", "/channels/:channel_id", scope="private", setup=P,
          needs=need("MANAGE_CHANNELS"), body=lambda w, c: {"topic": w.uniq("topic")},
          snap=channel_snap),
        R("PATCH", "/channels/:channel_id", "thread", scope="private",
          setup=lambda w: {"channel_id": w.new_thread(w.private)},
          needs=need("MANAGE_THREADS"),
          body=lambda w, c: {"rate_limit_per_user": w.counter()}, snap=channel_snap),
        R("DELETE", "/channels/:channel_id", scope="private",
          setup=lambda w: {"channel_id": w.new_private_channel()},
          needs=need("MANAGE_CHANNELS"), snap=channels_snap),
        R("DELETE", "/channels/:channel_id", "thread", scope="private",
          setup=lambda w: {"channel_id": w.new_thread(w.private)},
          needs=need("MANAGE_THREADS"), snap=active_snap),
        R("PATCH", "/guilds/:guild_id/channels", setup=with_(G, channel=lambda w: w.movable()),
          needs=need("MANAGE_CHANNELS"), ok=204,
          body=lambda w, c: [{"id": c["channel"], "position": w.counter() + 10}],
          snap=channels_snap),

        # ---------------------------------------------------------------- messages
        R("GET", "/channels/:channel_id/messages", scope="private", setup=P,
          needs=need("READ_MESSAGE_HISTORY"), expect={"lacking": OK},
          verify=sees_private_history),
        R("GET", "/channels/:channel_id/messages", "public channel",
          setup=lambda w: {"channel_id": w.general}, needs=need("READ_MESSAGE_HISTORY"),
          expect={"lacking": OK}),
        R("GET", "/channels/:channel_id/messages", "thread", scope="private", setup=T,
          needs=need("READ_MESSAGE_HISTORY"), expect={"lacking": OK}),
        R("GET", "/channels/:channel_id/messages", "dm", scope="dm",
          setup=lambda w: {"channel_id": w.dm}),
        R("POST", "/channels/:channel_id/messages", scope="private", setup=P,
          needs=need("SEND_MESSAGES"), body=uniq("posted"), snap=history("channel_id")),
        R("POST", "/channels/:channel_id/messages", "thread", scope="private", setup=T,
          needs=need("SEND_MESSAGES_IN_THREADS"), lack=frozenset({"SEND_MESSAGES_IN_THREADS"}),
          body=uniq("posted"), snap=history("channel_id")),
        # A locked thread takes posts from MANAGE_THREADS holders only (rest-channels.md §5),
        # after the SEND_MESSAGES_IN_THREADS check.
        R("POST", "/channels/:channel_id/messages", "locked thread", scope="private",
          setup=lambda w: {"channel_id": w.locked_thread()},
          needs=need(("SEND_MESSAGES_IN_THREADS", "MANAGE_THREADS")),
          lack=frozenset({"MANAGE_THREADS"}), expect={"lacking": (403, 160005)},
          body=uniq("posted"), snap=history("channel_id")),
        R("POST", "/channels/:channel_id/messages", "attachment", scope="private", setup=P,
          needs=need(("SEND_MESSAGES", "ATTACH_FILES")), lack=frozenset({"ATTACH_FILES"}),
          files=lambda w, c: {"files[0]": ("row.txt", b"row file", "text/plain")},
          snap=history("channel_id")),
        R("POST", "/channels/:channel_id/messages", "dm", scope="dm",
          setup=lambda w: {"channel_id": w.dm}, body=uniq("dm post"),
          snap=history("channel_id")),
        # Search (spec/rest-search.md §5): a guild search is for members and shows only what
        # the searcher may read; a channel search needs view and history there.
        R("GET", "/guilds/:guild_id/messages/search", setup=G,
          query=lambda w, c: {"content": f"zq-secret-message-{w.tag}"}),
        R("GET", "/channels/:channel_id/messages/search", scope="private", setup=P,
          needs=need("READ_MESSAGE_HISTORY"),
          query=lambda w, c: {"content": f"zq-secret-message-{w.tag}"}),
        R("GET", "/channels/:channel_id/messages/search", "dm", scope="dm",
          setup=lambda w: {"channel_id": w.dm}, query=lambda w, c: {"content": "zq"}),
        R("POST", "/channels/:channel_id/typing", scope="private", setup=P,
          needs=need("SEND_MESSAGES"), ok=204, nosnap="typing is ephemeral, never stored"),
        # Undocumented in spec/client-api.md: fetching one message needs READ_MESSAGE_HISTORY
        # (403 50001 without it), as the attachment rule of spec/rest-messages.md §8.
        R("GET", "/channels/:channel_id/messages/:message_id", scope="private",
          setup=with_(P, message_id=lambda w: w.msg), needs=need("READ_MESSAGE_HISTORY"),
          expect={"lacking": (403, 50001)}),
        # Author only: the owner wrote it.
        R("PATCH", "/channels/:channel_id/messages/:message_id", scope="private",
          setup=fresh_msg, body=uniq("edited"),
          expect={"lacking": (403, 50005), "timedout": (403, 50005),
                  "permitted": (403, 50005), "owner": OK},
          extra=("owner",),
          snap=lambda w, c: w.get(f"/channels/{w.private}/messages/{c['message_id']}")[
              "content"]),
        R("DELETE", "/channels/:channel_id/messages/:message_id", scope="private",
          setup=fresh_msg, needs=need("MANAGE_MESSAGES"), ok=204,
          snap=history("channel_id")),

        # ---------------------------------------------------------------- roles
        R("GET", "/guilds/:guild_id/roles", setup=G),
        R("POST", "/guilds/:guild_id/roles", setup=G, needs=need("MANAGE_ROLES"),
          body=lambda w, c: {"name": w.uniq("role"), "permissions": "0"}, snap=roles_snap),
        R("PATCH", "/guilds/:guild_id/roles", setup=with_(G, role_id=lambda w: w.new_role()),
          needs=need("MANAGE_ROLES"),
          body=lambda w, c: [{"id": c["role_id"], "position": 2}], snap=roles_snap),
        R("GET", "/guilds/:guild_id/roles/:role_id",
          setup=with_(G, role_id=lambda w: w.gift_role)),
        R("PATCH", "/guilds/:guild_id/roles/:role_id",
          setup=with_(G, role_id=lambda w: w.new_role()), needs=need("MANAGE_ROLES"),
          body=lambda w, c: {"name": w.uniq("renamed")}, snap=roles_snap),
        R("DELETE", "/guilds/:guild_id/roles/:role_id",
          setup=with_(G, role_id=lambda w: w.new_role()), needs=need("MANAGE_ROLES"), ok=204,
          snap=roles_snap),

        # ---------------------------------------------------------------- members
        R("GET", "/guilds/:guild_id/members", setup=G, query=lambda w, c: {"limit": 1000}),
        R("GET", "/guilds/:guild_id/members/search", setup=G,
          query=lambda w, c: {"query": "owner", "limit": 10}),
        R("GET", "/guilds/:guild_id/members/:user_id",
          setup=with_(G, user_id=lambda w: w.owner.user_id), verify=is_owner_member),
        R("PATCH", "/guilds/:guild_id/members/@me", setup=G,
          needs=need("CHANGE_NICKNAME", "MANAGE_NICKNAMES"),
          body=lambda w, c: {"nick": w.uniq("nick")}, snap=lambda w, c: w.nicks()),
        R("PATCH", "/guilds/:guild_id/members/:user_id", "nick",
          setup=with_(G, user_id=lambda w: w.victim("nick").id),
          needs=need("MANAGE_NICKNAMES"), body=lambda w, c: {"nick": w.uniq("nick")},
          snap=lambda w, c: w.member(c["user_id"])),
        R("PATCH", "/guilds/:guild_id/members/:user_id", "roles",
          setup=with_(G, user_id=lambda w: w.victim("roles").id), needs=need("MANAGE_ROLES"),
          body=lambda w, c: {"roles": [] if w.member(c["user_id"])["roles"]
                             else [w.gift_role]},
          snap=lambda w, c: w.member(c["user_id"])),
        R("PATCH", "/guilds/:guild_id/members/:user_id", "timeout",
          setup=with_(G, user_id=lambda w: w.victim("timeout").id),
          needs=need("MODERATE_MEMBERS"),
          body=lambda w, c: {"communication_disabled_until": iso_in(600 + w.counter())},
          snap=lambda w, c: w.member(c["user_id"])),
        R("DELETE", "/guilds/:guild_id/members/:user_id",
          setup=with_(G, user_id=lambda w: victim(w).id), needs=need("KICK_MEMBERS"), ok=204,
          snap=lambda w, c: w.member_ids()),
        R("PUT", "/guilds/:guild_id/members/:user_id/roles/:role_id",
          setup=lambda w: w.role_target(False), needs=need("MANAGE_ROLES"), ok=204,
          snap=lambda w, c: w.member(c["user_id"])["roles"]),
        R("DELETE", "/guilds/:guild_id/members/:user_id/roles/:role_id",
          setup=lambda w: w.role_target(True), needs=need("MANAGE_ROLES"), ok=204,
          snap=lambda w, c: w.member(c["user_id"])["roles"]),
        R("DELETE", "/users/@me/guilds/:guild_id", setup=G, ok=204,
          fresh=frozenset({"blind", "lacking", "timedout", "permitted"}),
          expect={"nonmember": (404, 10004), "banned": (404, 10004)},
          snap=lambda w, c: w.member_ids()),

        # ---------------------------------------------------------------- bans, audit log
        R("GET", "/guilds/:guild_id/bans", setup=G, needs=need("BAN_MEMBERS")),
        R("GET", "/guilds/:guild_id/bans/:user_id",
          setup=with_(G, user_id=lambda w: w.actors["banned"].id), needs=need("BAN_MEMBERS")),
        R("PUT", "/guilds/:guild_id/bans/:user_id",
          setup=with_(G, user_id=lambda w: victim(w).id), needs=need("BAN_MEMBERS"), ok=204,
          snap=lambda w, c: (bans_snap(w, c), w.member_ids())),
        R("DELETE", "/guilds/:guild_id/bans/:user_id",
          setup=with_(G, user_id=lambda w: w.banned_user()), needs=need("BAN_MEMBERS"),
          ok=204, snap=bans_snap),
        R("GET", "/guilds/:guild_id/audit-logs", setup=G, needs=need("VIEW_AUDIT_LOG"),
          leak_ok=True),

        # ---------------------------------------------------------------- AutoMod
        # spec/rest-automod.md §1: every route needs MANAGE_GUILD (bots too); a TIMEOUT action
        # needs MODERATE_MEMBERS as well (§3). Rules are KEYWORD rules, disabled.
        R("GET", "/guilds/:guild_id/auto-moderation/rules", setup=lambda w: w.automod_rule(),
          needs=need("MANAGE_GUILD"), extra=("bot",),
          verify=lambda w, c, a, r: c["rule_id"] in [x["id"] for x in r.json()]),
        R("POST", "/guilds/:guild_id/auto-moderation/rules",
          setup=lambda w: w.automod_clear(), needs=need("MANAGE_GUILD"), extra=("bot",),
          body=lambda w, c: w.automod_body(), snap=automod_snap,
          verify=lambda w, c, a, r: r.json()["creator_id"] == a.id),
        R("POST", "/guilds/:guild_id/auto-moderation/rules", "timeout action",
          setup=lambda w: w.automod_clear(),
          needs=need(("MANAGE_GUILD", "MODERATE_MEMBERS")),
          lack=frozenset({"MODERATE_MEMBERS"}),
          body=lambda w, c: w.automod_body(actions=[
              {"type": 1}, {"type": 3, "metadata": {"duration_seconds": 60}}]),
          snap=automod_snap),
        R("GET", "/guilds/:guild_id/auto-moderation/rules/:rule_id",
          setup=lambda w: w.automod_rule(), needs=need("MANAGE_GUILD"),
          verify=lambda w, c, a, r: r.json()["id"] == c["rule_id"]),
        # The permission is checked before the rule is looked up.
        R("GET", "/guilds/:guild_id/auto-moderation/rules/:rule_id", "unknown rule",
          setup=lambda w: w.automod_gone_rule(), needs=need("MANAGE_GUILD"),
          instead=(404, 0)),
        R("PATCH", "/guilds/:guild_id/auto-moderation/rules/:rule_id",
          setup=lambda w: w.automod_rule(), needs=need("MANAGE_GUILD"),
          body=lambda w, c: {"name": w.uniq("zq renamed rule")}, snap=automod_snap),
        R("PATCH", "/guilds/:guild_id/auto-moderation/rules/:rule_id", "timeout action",
          setup=lambda w: w.automod_rule(),
          needs=need(("MANAGE_GUILD", "MODERATE_MEMBERS")),
          lack=frozenset({"MODERATE_MEMBERS"}),
          body=lambda w, c: {"actions": [
              {"type": 1}, {"type": 3, "metadata": {"duration_seconds": 60 + w.counter()}}]},
          snap=automod_snap),
        R("DELETE", "/guilds/:guild_id/auto-moderation/rules/:rule_id",
          setup=lambda w: w.automod_rule(), needs=need("MANAGE_GUILD"), ok=204,
          snap=automod_snap),
        R("DELETE", "/guilds/:guild_id/auto-moderation/rules/:rule_id", "unknown rule",
          setup=lambda w: w.automod_gone_rule(), needs=need("MANAGE_GUILD"),
          instead=(404, 0), snap=automod_snap),
        R("GET", "/guilds/:guild_id/hearth/spam", setup=G, needs=need("MANAGE_GUILD"),
          extra=("bot",)),
        R("PATCH", "/guilds/:guild_id/hearth/spam", setup=G, needs=need("MANAGE_GUILD"),
          extra=("bot",), body=lambda w, c: {"timeout_seconds": 600 + w.counter()},
          snap=lambda w, c: w.get(f"/guilds/{w.guild_id}/hearth/spam"),
          verify=lambda w, c, a, r: r.json() == w.get(f"/guilds/{w.guild_id}/hearth/spam")),

        # ---------------------------------------------------------------- overwrites
        R("PUT", "/channels/:channel_id/permissions/:overwrite_id", scope="private",
          setup=lambda w: w.overwrite_target(False), needs=need("MANAGE_ROLES"), ok=204,
          body=lambda w, c: {"type": 1, "allow": "0", "deny": str(1 << 10)},
          snap=lambda w, c: w.overwrites(c["channel_id"])),
        R("DELETE", "/channels/:channel_id/permissions/:overwrite_id", scope="private",
          setup=lambda w: w.overwrite_target(True), needs=need("MANAGE_ROLES"), ok=204,
          snap=lambda w, c: w.overwrites(c["channel_id"])),

        # ---------------------------------------------------------------- threads
        R("POST", "/channels/:channel_id/messages/:message_id/threads", scope="private",
          setup=fresh_msg, needs=need("CREATE_PUBLIC_THREADS"), ok=201,
          body=lambda w, c: {"name": w.uniq("from message")}, snap=active_snap),
        R("POST", "/channels/:channel_id/threads", "public", scope="private", setup=P,
          needs=need("CREATE_PUBLIC_THREADS"), ok=201,
          body=lambda w, c: {"name": w.uniq("public"), "type": 11}, snap=active_snap),
        R("POST", "/channels/:channel_id/threads", "private", scope="private", setup=P,
          needs=need("CREATE_PRIVATE_THREADS"), ok=201,
          body=lambda w, c: {"name": w.uniq("private"), "type": 12}, snap=active_snap),
        R("GET", "/channels/:channel_id/thread-members", scope="private", setup=T),
        R("GET", "/channels/:channel_id/thread-members", "private thread", scope="pthread",
          needs=need("MANAGE_THREADS"), setup=lambda w: {"channel_id": w.pthread}),
        R("PUT", "/channels/:channel_id/thread-members/@me", scope="private",
          setup=lambda w: w.thread_membership(False), ok=204, snap=tm_snap),
        R("PUT", "/channels/:channel_id/thread-members/@me", "private thread",
          scope="pthread", needs=need("MANAGE_THREADS"),
          setup=lambda w: w.thread_membership(False, w.pthread), ok=204, snap=tm_snap),
        R("DELETE", "/channels/:channel_id/thread-members/@me", scope="private",
          setup=lambda w: w.thread_membership(True), ok=204, snap=tm_snap),
        R("GET", "/channels/:channel_id/thread-members/:user_id", scope="private",
          setup=with_(T, user_id=lambda w: w.owner.user_id)),
        R("PUT", "/channels/:channel_id/thread-members/:user_id", scope="private",
          setup=lambda w: w.thread_target(False), needs=need("SEND_MESSAGES_IN_THREADS"),
          ok=204, snap=tm_snap),
        R("DELETE", "/channels/:channel_id/thread-members/:user_id", scope="private",
          setup=lambda w: w.thread_target(True), needs=need("MANAGE_THREADS"), ok=204,
          snap=tm_snap),
        R("GET", "/guilds/:guild_id/threads/active", setup=G, verify=active_threads),
        R("GET", "/channels/:channel_id/threads/archived/public", scope="private", setup=P,
          needs=need("READ_MESSAGE_HISTORY"), verify=lists("threads", "archived")),
        R("GET", "/channels/:channel_id/threads/archived/private", scope="private", setup=P,
          needs=need(("READ_MESSAGE_HISTORY", "MANAGE_THREADS")),
          lack=frozenset({"MANAGE_THREADS"}), verify=lists("threads", "parchived")),
        R("GET", "/channels/:channel_id/users/@me/threads/archived/private", scope="private",
          setup=P, needs=need("READ_MESSAGE_HISTORY")),

        # ---------------------------------------------------------------- invites
        R("POST", "/channels/:channel_id/invites", scope="private", setup=P,
          needs=need("CREATE_INSTANT_INVITE"), body=lambda w, c: {"unique": True},
          snap=lambda w, c: w.invite_codes(w.private)),
        R("GET", "/channels/:channel_id/invites", scope="private", setup=P,
          needs=need("MANAGE_CHANNELS"),
          verify=lambda w, c, a, r: w.private_invite in [i["code"] for i in r.json()]),
        R("GET", "/guilds/:guild_id/invites", setup=G, needs=need("MANAGE_GUILD"),
          leak_ok=True),
        R("GET", "/invites/*", scope="user", setup=lambda w: {"*": w.invite},
          verify=invite_guild),
        R("DELETE", "/invites/*", "manage channels",
          setup=lambda w: {"*": w.new_invite(w.private)},
          needs=need((VIEW, "MANAGE_CHANNELS"), "MANAGE_GUILD"),
          snap=lambda w, c: w.owner.get(f"/invites/{c['*']}").status_code),
        R("DELETE", "/invites/*", "manage guild", setup=lambda w: {"*": w.new_invite(w.private)},
          needs=need("MANAGE_GUILD", (VIEW, "MANAGE_CHANNELS")), leak_ok=True,
          snap=lambda w, c: w.owner.get(f"/invites/{c['*']}").status_code),
        # Joining: a non-member joins; the banned user is refused; members get 200 and the
        # invite counts no use.
        R("POST", "/invites/*", scope="user", setup=lambda w: {"*": w.join_invite()},
          fresh=frozenset({"nonmember"}), extra=("bot",),
          expect={"banned": (403, 40007), "bot": (403, 20001)},
          changes={"nonmember"}, verify=invite_guild,
          snap=lambda w, c: (w.member_ids(), w.get(f"/invites/{c['*']}")["uses"])),

        # ---------------------------------------------------------------- DMs
        R("GET", "/users/@me/channels", scope="user"),
        R("POST", "/users/@me/channels", scope="user", extra=("bot",),
          body=lambda w, c: {"recipient_id": w.owner.user_id},
          expect={"nonmember": (403, 50007), "banned": (403, 50007)},
          snap=lambda w, c: w.dm_ids(), changes=False),
        R("PUT", "/channels/:channel_id/recipients/:user_id", scope="gdm",
          setup=lambda w: w.gdm_target(False), ok=204,
          snap=lambda w, c: w.recipients(c["channel_id"])),
        # The group's owner removes anyone; another recipient only themself.
        R("DELETE", "/channels/:channel_id/recipients/:user_id", scope="gdm",
          setup=lambda w: w.gdm_target(True), ok=204, extra=("owner",),
          expect={"permitted": (403, 50013), "owner": OK},
          snap=lambda w, c: w.recipients(c["channel_id"])),

        # ---------------------------------------------------------------- pins
        R("GET", "/channels/:channel_id/messages/pins", scope="private", setup=P,
          needs=need("READ_MESSAGE_HISTORY"), expect={"lacking": OK}, verify=pins_v2),
        R("GET", "/channels/:channel_id/pins", scope="private", setup=P,
          needs=need("READ_MESSAGE_HISTORY"), expect={"lacking": OK}, verify=pins_legacy),
        R("PUT", "/channels/:channel_id/messages/pins/:message_id", scope="private",
          setup=fresh_msg, needs=need("PIN_MESSAGES", "MANAGE_MESSAGES"), ok=204,
          snap=pins_snap),
        R("DELETE", "/channels/:channel_id/messages/pins/:message_id", scope="private",
          setup=lambda w: w.pinned_msg(), needs=need("PIN_MESSAGES", "MANAGE_MESSAGES"),
          ok=204, snap=pins_snap),
        R("PUT", "/channels/:channel_id/pins/:message_id", scope="private", setup=fresh_msg,
          needs=need("MANAGE_MESSAGES", "PIN_MESSAGES"), ok=204, snap=pins_snap),
        R("DELETE", "/channels/:channel_id/pins/:message_id", scope="private",
          setup=lambda w: w.pinned_msg(), needs=need("MANAGE_MESSAGES", "PIN_MESSAGES"),
          ok=204, snap=pins_snap),
        R("POST", "/channels/:channel_id/messages/bulk-delete", scope="private",
          setup=lambda w: {"channel_id": w.private, "ids": [w.post(w.private),
                                                            w.post(w.private)]},
          needs=need("MANAGE_MESSAGES"), ok=204, body=lambda w, c: {"messages": c["ids"]},
          snap=history("channel_id")),

        # ---------------------------------------------------------------- reactions
        # An emoji someone already used needs READ_MESSAGE_HISTORY only; a new one
        # ADD_REACTIONS as well. A timed-out member may not react at all (as on Discord).
        R("PUT", "/channels/:channel_id/messages/:message_id/reactions/*/@me", "existing",
          scope="private", setup=with_(P, message_id=lambda w: w.msg, **{"*": THUMBS}),
          needs=need("READ_MESSAGE_HISTORY"), ok=204, snap=reactors(THUMBS),
          expect={"timedout": (403, 50013)}),
        R("PUT", "/channels/:channel_id/messages/:message_id/reactions/*/@me", "new emoji",
          scope="private", setup=lambda w: w.clear_emoji(E_NEW),
          needs=need(("READ_MESSAGE_HISTORY", "ADD_REACTIONS")),
          lack=frozenset({"ADD_REACTIONS"}), ok=204, snap=reactors(E_NEW)),
        R("DELETE", "/channels/:channel_id/messages/:message_id/reactions/*/@me",
          scope="private", setup=lambda w: w.own_reactions(E_OWN), ok=204,
          snap=reactors(E_OWN)),
        R("DELETE", "/channels/:channel_id/messages/:message_id/reactions/*/:user_id",
          scope="private", setup=lambda w: w.owner_reaction(E_USER),
          needs=need("MANAGE_MESSAGES"), ok=204, snap=reactors(E_USER)),
        R("GET", "/channels/:channel_id/messages/:message_id/reactions/*", scope="private",
          setup=with_(P, message_id=lambda w: w.msg, **{"*": THUMBS}),
          needs=need("READ_MESSAGE_HISTORY"),
          verify=lambda w, c, a, r: w.owner.user_id in [u["id"] for u in r.json()]),
        R("DELETE", "/channels/:channel_id/messages/:message_id/reactions/*", scope="private",
          setup=lambda w: w.owner_reaction(E_EMOJI), needs=need("MANAGE_MESSAGES"), ok=204,
          snap=reactors(E_EMOJI)),
        R("DELETE", "/channels/:channel_id/messages/:message_id/reactions", scope="private",
          setup=lambda w: w.owner_reaction(THUMBS, "msg2"), needs=need("MANAGE_MESSAGES"),
          ok=204, snap=reactors(THUMBS, "msg2")),

        # ---------------------------------------------------------------- attachments
        R("GET", "/attachments/:channel_id/:attachment_id/*", scope="private",
          setup=lambda w: {"channel_id": w.private, "attachment_id": w.attachment_id,
                           "*": w.attachment_name},
          needs=need("READ_MESSAGE_HISTORY"), expect={"lacking": (403, 50001)}, prefix="",
          raw=True, verify=attachment_bytes),
    ]

    # ---------------------------------------------------------------- cross-channel ids
    # A message, attachment or pin of the private channel named through the public one,
    # which every member sees: the id is not of that channel, so the answer is the "unknown"
    # one and nothing happens, for members holding every permission but VIEW_CHANNEL there.
    XG = lambda w: {"channel_id": w.general, "message_id": w.msg}  # noqa: E731

    def xc(method, route, variant, setup=XG, code=(404, 10008), **kw):
        return R(method, route, variant, setup=setup, lack=frozenset(), instead=code,
                 expect={"nonmember": (403, 50001), "banned": (403, 50001),
                         **kw.pop("expect", {})}, **kw)

    out += [
        xc("GET", "/channels/:channel_id/messages/:message_id", "other channel's message",
           needs=need("READ_MESSAGE_HISTORY")),
        xc("PATCH", "/channels/:channel_id/messages/:message_id", "other channel's message",
           extra=("owner",), body=lambda w, c: {"content": "moved"},
           snap=lambda w, c: w.get(f"/channels/{w.private}/messages/{w.msg}")["content"]),
        # Who may delete depends on the message's author, so the message is looked up first.
        xc("DELETE", "/channels/:channel_id/messages/:message_id", "other channel's message",
           needs=need("MANAGE_MESSAGES"), snap=history("private"),
           expect={"timedout": (404, 10008)}),
        xc("PUT", "/channels/:channel_id/messages/pins/:message_id", "other channel's message",
           setup=lambda w: {**XG(w), "message_id": w.post(w.private)},
           needs=need("PIN_MESSAGES"), snap=pins_snap),
        xc("DELETE", "/channels/:channel_id/messages/pins/:message_id",
           "other channel's message", setup=lambda w: {**w.pinned_msg(),
                                                       "channel_id": w.general},
           needs=need("PIN_MESSAGES"), snap=pins_snap),
        xc("PUT", "/channels/:channel_id/pins/:message_id", "other channel's message",
           setup=lambda w: {**XG(w), "message_id": w.post(w.private)},
           needs=need("MANAGE_MESSAGES"), snap=pins_snap),
        xc("DELETE", "/channels/:channel_id/pins/:message_id", "other channel's message",
           setup=lambda w: {**w.pinned_msg(), "channel_id": w.general},
           needs=need("MANAGE_MESSAGES"), snap=pins_snap),
        # Whether ADD_REACTIONS is needed depends on the message's reactions: looked up first.
        xc("PUT", "/channels/:channel_id/messages/:message_id/reactions/*/@me",
           "other channel's message", setup=lambda w: {**XG(w), "*": THUMBS},
           needs=need(("READ_MESSAGE_HISTORY", "ADD_REACTIONS")), snap=reactors(THUMBS),
           expect={"timedout": (404, 10008)}),
        xc("GET", "/channels/:channel_id/messages/:message_id/reactions/*",
           "other channel's message", setup=lambda w: {**XG(w), "*": THUMBS},
           needs=need("READ_MESSAGE_HISTORY")),
        xc("DELETE", "/channels/:channel_id/messages/:message_id/reactions/*/:user_id",
           "other channel's message",
           setup=lambda w: {**XG(w), "*": THUMBS, "user_id": w.owner.user_id},
           needs=need("MANAGE_MESSAGES"), snap=reactors(THUMBS)),
        xc("DELETE", "/channels/:channel_id/messages/:message_id/reactions/*",
           "other channel's message", setup=lambda w: {**XG(w), "*": THUMBS},
           needs=need("MANAGE_MESSAGES"), snap=reactors(THUMBS)),
        xc("DELETE", "/channels/:channel_id/messages/:message_id/reactions",
           "other channel's message", needs=need("MANAGE_MESSAGES"), snap=reactors(THUMBS)),
        xc("POST", "/channels/:channel_id/messages/:message_id/threads",
           "other channel's message", setup=lambda w: {**XG(w),
                                                       "message_id": w.post(w.private)},
           needs=need("CREATE_PUBLIC_THREADS"), body=lambda w, c: {"name": "stolen"},
           snap=active_snap),
        xc("GET", "/attachments/:channel_id/:attachment_id/*", "other channel's attachment",
           setup=lambda w: {"channel_id": w.general, "attachment_id": w.attachment_id,
                            "*": w.attachment_name},
           needs=need("READ_MESSAGE_HISTORY"), code=(404, 10012), prefix=""),
        # A reply must name a message of its own channel (spec/rest-messages.md §3).
        xc("POST", "/channels/:channel_id/messages", "reply to other channel's message",
           setup=lambda w: {"channel_id": w.general}, needs=need("SEND_MESSAGES"),
           code=(400, 50035),
           body=lambda w, c: {"content": "re", "message_reference": {"message_id": w.msg}},
           snap=history("channel_id")),
        # Bulk deletion ignores ids that are not the channel's: 204 and nothing deleted.
        R("POST", "/channels/:channel_id/messages/bulk-delete", "other channel's messages",
          setup=lambda w: {"channel_id": w.general, "ids": [w.post(w.private),
                                                            w.post(w.private)]},
          needs=need("MANAGE_MESSAGES"), lack=frozenset(), ok=204, changes=False,
          body=lambda w, c: {"messages": c["ids"]}, snap=history("private")),
        # Paging the public channel around a hidden message's id shows none of it.
        R("GET", "/channels/:channel_id/messages", "public channel around a hidden message",
          setup=lambda w: {"channel_id": w.general}, needs=need("READ_MESSAGE_HISTORY"),
          query=lambda w, c: {"around": w.msg, "limit": 100}, expect={"lacking": OK}),
    ]

    # ---------------------------------------------------------------- private thread
    out += [
        R("GET", "/channels/:channel_id/messages", "private thread", scope="pthread",
          setup=lambda w: {"channel_id": w.pthread},
          needs=need(("MANAGE_THREADS", "READ_MESSAGE_HISTORY")),
          lack=frozenset({"MANAGE_THREADS"}),
          verify=lambda w, c, a, r: w.pthread_msg in [m["id"] for m in r.json()]),
        R("POST", "/channels/:channel_id/messages", "private thread", scope="pthread",
          setup=lambda w: {"channel_id": w.pthread},
          needs=need(("MANAGE_THREADS", "SEND_MESSAGES_IN_THREADS")),
          lack=frozenset({"MANAGE_THREADS"}), body=uniq("pthread post"),
          snap=history("channel_id")),
        R("GET", "/channels/:channel_id/messages/:message_id", "private thread",
          scope="pthread", setup=lambda w: {"channel_id": w.pthread,
                                            "message_id": w.pthread_msg},
          needs=need(("MANAGE_THREADS", "READ_MESSAGE_HISTORY")),
          lack=frozenset({"MANAGE_THREADS"})),
        R("PUT", "/channels/:channel_id/messages/:message_id/reactions/*/@me",
          "private thread", scope="pthread",
          setup=lambda w: {"channel_id": w.pthread, "message_id": w.pthread_msg,
                           "*": THUMBS},
          needs=need(("MANAGE_THREADS", "READ_MESSAGE_HISTORY", "ADD_REACTIONS")),
          lack=frozenset({"MANAGE_THREADS"}), ok=204,
          snap=lambda w, c: w.get(f"/channels/{w.pthread}/messages/{w.pthread_msg}").get(
              "reactions")),
        R("GET", "/channels/:channel_id/thread-members/:user_id", "private thread",
          scope="pthread", needs=need("MANAGE_THREADS"),
          setup=lambda w: {"channel_id": w.pthread, "user_id": w.owner.user_id}),
        R("GET", "/channels/:channel_id", "archived private thread", scope="pthread",
          needs=need("MANAGE_THREADS"), setup=lambda w: {"channel_id": w.parchived}),
        R("GET", "/attachments/:channel_id/:attachment_id/*", "api prefix", scope="private",
          setup=lambda w: {"channel_id": w.private, "attachment_id": w.attachment_id,
                           "*": w.attachment_name},
          needs=need("READ_MESSAGE_HISTORY"), expect={"lacking": (403, 50001)}, raw=True,
          verify=attachment_bytes),
    ]

    # ---------------------------------------------------------------- DMs and group DMs
    # spec/rest-invites.md §2.3: a non-recipient gets 403 50001 on every channel endpoint of
    # a DM; the recipient (`permitted`) what the DM allows (HS_PERM_DM), 50024 where the
    # action has no meaning for a DM.
    D = lambda w: {"channel_id": w.dm}  # noqa: E731
    DM = lambda w: {"channel_id": w.dm, "message_id": w.dm_msg}  # noqa: E731
    not_dm = (400, 50024)
    dm_history = lambda w, c: w.history_ids(w.dm)  # noqa: E731
    out += [
        R("GET", "/channels/:channel_id/messages/:message_id", "dm", scope="dm", setup=DM),
        R("POST", "/channels/:channel_id/typing", "dm", scope="dm", setup=D, ok=204,
          nosnap="typing is ephemeral, never stored"),
        R("PUT", "/channels/:channel_id/messages/:message_id/reactions/*/@me", "dm",
          scope="dm", setup=lambda w: {**DM(w), "*": THUMBS}, ok=204,
          snap=lambda w, c: w.get(f"/channels/{w.dm}/messages/{w.dm_msg}").get("reactions")),
        R("GET", "/channels/:channel_id/messages/pins", "dm", scope="dm", setup=D),
        R("PUT", "/channels/:channel_id/messages/pins/:message_id", "dm", scope="dm",
          setup=lambda w: {"channel_id": w.dm, "message_id": w.post(w.dm)}, ok=204,
          snap=lambda w, c: [m["id"] for m in w.get(f"/channels/{w.dm}/pins")]),
        # Nobody holds MANAGE_MESSAGES in a DM (spec/rest-messages.md §7).
        R("POST", "/channels/:channel_id/messages/bulk-delete", "dm", scope="dm",
          setup=lambda w: {"channel_id": w.dm, "ids": [w.post(w.dm), w.post(w.dm)]},
          body=lambda w, c: {"messages": c["ids"]}, expect={"permitted": (403, 50013)},
          snap=dm_history),
        R("PATCH", "/channels/:channel_id", "dm", scope="dm", setup=D, instead=not_dm,
          body=lambda w, c: {"name": "dm"}, snap=lambda w, c: w.get(f"/channels/{w.dm}")),
        R("POST", "/channels/:channel_id/invites", "dm", scope="dm", setup=D, instead=not_dm,
          body=lambda w, c: {}, nosnap="a DM has no invite list to re-read"),
        R("PUT", "/channels/:channel_id/permissions/:overwrite_id", "dm", scope="dm",
          setup=lambda w: {"channel_id": w.dm, "overwrite_id": w.owner.user_id},
          instead=not_dm, body=lambda w, c: {"type": 1, "allow": "0", "deny": "0"},
          snap=lambda w, c: w.get(f"/channels/{w.dm}")),
        R("POST", "/channels/:channel_id/threads", "dm", scope="dm", setup=D, instead=not_dm,
          body=lambda w, c: {"name": "dm thread", "type": 11}, snap=dm_history),
        R("PUT", "/channels/:channel_id/recipients/:user_id", "dm", scope="dm",
          setup=lambda w: {"channel_id": w.dm, "user_id": w.victim("gdm").id},
          instead=not_dm, snap=lambda w, c: w.recipients(w.dm)),
        # Closing a DM hides it from the closer's list only; the other side sees no change.
        R("DELETE", "/channels/:channel_id", "dm", scope="dm", setup=D, changes=False,
          snap=lambda w, c: w.dm_ids(),
          verify=lambda w, c, a, r: w.dm in w.dm_ids() and w.dm not in [
              ch["id"] for ch in w.get("/users/@me/channels", api=a.api)]),
        # Leaving a group DM; the owner adds `permitted` back for the next actor.
        R("DELETE", "/channels/:channel_id", "group dm", scope="gdm",
          setup=lambda w: w.gdm_rejoin(), snap=lambda w, c: w.recipients(w.gdm)),
        # A recipient may add only someone they may DM (spec/rest-invites.md §2.2).
        R("PUT", "/channels/:channel_id/recipients/:user_id", "user sharing no guild",
          scope="gdm", setup=lambda w: {"channel_id": w.gdm,
                                        "user_id": w.actors["nonmember"].id},
          instead=(403, 50007), snap=lambda w, c: w.recipients(w.gdm)),
        R("POST", "/users/@me/channels", "group dm", scope="user", ok=200, extra=("bot",),
          body=lambda w, c: {"recipients": [w.owner.user_id]},
          expect={"nonmember": (403, 50007), "banned": (403, 50007), "bot": (403, 20001)},
          snap=lambda w, c: w.dm_ids(), changes=False),
    ]
    return out


ROWS = rows()


# --------------------------------------------------------------------------- the runner


def outcome(row: Row, a: Actor):
    """What `a` must get: OK, or (status, code)."""
    if a.name in row.expect:
        return row.expect[a.name]
    want = derive(row, a)
    return row.instead if want == OK and row.instead is not None else want


def derive(row: Row, a: Actor):
    if a.name == "owner":
        return OK
    if row.scope == "user":
        return OK
    if row.scope == "app":
        return OK if a.name == "permitted" else (403, 50013)
    if row.scope in ("dm", "gdm"):
        return OK if a.name == "permitted" else (403, 50001)
    if not a.member:
        return (403, 50001)
    p = a.perms()
    if row.scope in ("private", "pthread") and VIEW not in p:
        return (403, 50001)
    if row.scope == "pthread" and "MANAGE_THREADS" not in p:
        return (403, 50001)  # a private thread one is not in
    if any(set(alt) <= p for alt in row.needs):
        return OK
    return (403, 50013)


def assign_roles(w: World, row: Row) -> None:
    """permitted: the first alternative; lacking: every p_ role but what the row needs."""
    if row.scope not in ("guild", "private", "pthread"):
        return
    channel_row = row.scope in ("private", "pthread")
    first = set(row.needs[0])
    lack = row.lack if row.lack is not None else \
        frozenset().union(*map(set, row.needs)) - {VIEW}
    w.set_roles(w.actors["permitted"], first - {VIEW}, channel_row or VIEW in first)
    w.set_roles(w.actors["lacking"], ALL_P - lack,
                channel_row or any(VIEW in alt for alt in row.needs))


def fresh_actor(w: World, name: str) -> Actor:
    if name == "nonmember":
        return Actor("nonmember", w.new_user("nonmember"), member=False)
    t = w.actors[name]
    return w.new_member(name, t.roles, t.viewer, t.timed_out)


def build_path(route: str, ctx: dict) -> str:
    out = []
    for seg in route.split("/"):
        if seg.startswith(":"):
            out.append(str(ctx[seg[1:]]))
        elif seg == "*":
            out.append(urllib.parse.quote(ctx["*"], safe=""))
        else:
            out.append(seg)
    return "/".join(out)


def send(w: World, row: Row, ctx: dict, a: Actor):
    path = build_path(row.route, ctx)
    params = row.query(w, ctx) if row.query else None
    if row.files:
        return a.api.session.post(a.api.server.api_url + path, files=row.files(w, ctx),
                                  headers={"Authorization": a.api.auth_header}, timeout=30)
    kw = {"params": params, "prefix": row.prefix}
    if row.body:
        kw["json"] = row.body(w, ctx)
    return a.api.request(row.method, path, **kw)


def describe_perms(a: Actor) -> str:
    p = a.perms()
    if not a.member:
        return "not a member"
    missing = sorted(ALL_P - p)
    text = f"every role but {missing}" if len(missing) < len(ALL_P) / 2 else str(sorted(p - {VIEW}))
    text += ", sees the private channel" if VIEW in p else ", cannot see the private channel"
    return text + (", timed out" if a.timed_out else "")


def run_row(w: World, row: Row) -> list[str]:
    """Runs every actor of the row; returns the problems found (empty: the row holds)."""
    problems: list[str] = []
    assign_roles(w, row)
    ctx = row.setup(w) if row.setup else {}
    for name in ACTORS + row.extra:
        a = fresh_actor(w, name) if name in row.fresh else w.actors[name]
        want = outcome(row, a)
        before = row.snap(w, ctx) if row.snap else None
        r = send(w, row, ctx, a)
        what = f"{name} ({describe_perms(a)})"
        if want == OK:
            if r.status_code != row.ok:
                problems.append(f"{what}: expected {row.ok}: {describe(r)}")
            elif row.ok == 204 and r.content:
                problems.append(f"{what}: 204 with a body: {describe(r)}")
            elif row.ok != 204 and not row.raw and \
                    not r.headers.get("Content-Type", "").startswith("application/json"):
                problems.append(f"{what}: the answer is not JSON: {describe(r)}")
            elif row.verify and row.ok != 204:
                try:
                    res = row.verify(w, ctx, a, r)
                    assert res is None or res, "verification returned false"
                except AssertionError as e:
                    problems.append(f"{what}: wrong answer ({e}): {describe(r)}")
        else:
            status, code = want
            body = None
            try:
                body = r.json()
            except ValueError:
                pass
            if r.status_code != status or not isinstance(body, dict) or body.get("code") != code:
                problems.append(f"{what}: expected {status} {code}: {describe(r)}")
        # Leaks: whoever may not see the private channel, a private thread or the DM.
        privileged = row.leak_ok and want == OK
        if name != "owner" and not privileged:
            visible = a.visible_groups() | ({"dm"} if name == "permitted" else set())
            found = w.leaks(r.text, visible)
            if found:
                problems.append(f"{what}: the answer leaks {found}: {describe(r)}")
        if row.snap:
            after = row.snap(w, ctx)
            changers = row.changes if isinstance(row.changes, (set, frozenset)) else None
            if want != OK and after != before:
                problems.append(f"{what}: refused, yet the resource changed:\n  before "
                                f"{before!r}\n  after  {after!r}")
            elif want == OK and r.status_code == row.ok and after == before and \
                    (row.changes is True or (changers and name in changers)):
                problems.append(f"{what}: accepted but the snapshot did not change "
                                f"({before!r}): the row cannot see the resource")
        if r.status_code < 300 and row.method != "GET" and row.setup:
            ctx = row.setup(w)
    return problems


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = HearthServer(tmp_path_factory.mktemp("hearthd"),
                       ("--argon2-ops", "1", "--argon2-mem-kib", "8"))
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def world(server):
    return World(server)


# --------------------------------------------------------------------------- tests


def route_table() -> set[tuple[str, str]]:
    """Every (method, pattern) of the route tables in client-api/capi_*.c."""
    found = set()
    for path in sorted((REPO / "client-api").glob("capi_*.c")):
        for m in re.finditer(r'\{\s*"(GET|POST|PUT|PATCH|DELETE)"\s*,\s*"([^"]+)"',
                             path.read_text()):
            found.add((m[1], m[2]))
    return found


def test_every_route_has_a_row():
    routes = route_table()
    assert len(routes) > 80, f"the route tables were not parsed: {sorted(routes)}"
    covered = {(r.method, r.route) for r in ROWS}
    missing = sorted(routes - covered - set(EXEMPT))
    assert not missing, f"routes without a row in the authorization matrix: {missing}"
    stale = sorted((covered | set(EXEMPT)) - routes)
    assert not stale, f"matrix rows or exemptions for routes that no longer exist: {stale}"


def test_every_write_row_rereads_its_resource():
    bare = [r.id for r in ROWS if r.method != "GET" and r.snap is None and not r.nosnap]
    assert not bare, f"write rows with neither a snapshot nor a reason for none: {bare}"
    ids = [r.id for r in ROWS]
    assert len(ids) == len(set(ids)), "two rows share a name"


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_matrix(world, row):
    problems = run_row(world, row)
    assert not problems, f"{row.id}:\n" + "\n".join(problems)


def test_leak_scanner_sees_the_secrets(world):
    """The scanner finds each group's secrets where they are shown (so a clean scan means
    something), and the actors are what the rows assume."""
    o = world.owner
    seen = []
    for path in (f"/guilds/{world.guild_id}/channels", f"/guilds/{world.guild_id}/threads/active",
                 f"/channels/{world.private}/messages", f"/channels/{world.dm}/messages"):
        seen += world.leaks(o.get(path).text, set())
    groups = {s.split(":")[0] for s in seen}
    assert groups == {"private", "pthread", "dm"}, seen
    for s in (world.private, world.private_name, world.thread, world.msg, world.attachment_id,
              world.attachment_name):
        assert any(s in x for x in seen), (s, seen)
    assert world.actors["blind"].roles == BLIND_ROLES
    assert world.actors["timedout"].perms() == {VIEW, "READ_MESSAGE_HISTORY"}


def test_gateway_hides_the_private_channel(world):
    """GUILD_CREATE of a member without VIEW_CHANNEL on the private channel lists neither it
    nor its threads, and that session hears nothing of what then happens there (nor do the
    non-member's and the banned user's sessions hear anything of the guild); a member who sees
    it (timed out, so without MANAGE_THREADS) gets the channel, the public thread only, and
    every event."""
    o = world.owner
    blind, viewer = world.actors["blind"], world.actors["timedout"]
    outsiders = [world.actors["nonmember"], world.actors["banned"]]
    # The outsiders' own guilds carry their fences.
    fences = {a.name: ok(a.api.post("/guilds", {"name": "Fence"}), 201)["system_channel_id"]
              for a in outsiders}
    tag = world.uniq("gw")
    text = {k: f"zq-gw-{k}-{tag}" for k in ("content", "edited", "thread", "channel", "dm")}

    async def body():
        clients = {}
        for a in [blind, viewer, *outsiders]:
            gw = await GatewayClient(world.server).open()
            await gw.hello()
            await gw.identify(a.api.token)
            clients[a.name] = gw
        gb, gv = clients["blind"], clients["timedout"]
        gc = next(g for g in gb.guild_creates if g["id"] == world.guild_id)
        ids = [c["id"] for c in gc["channels"]]
        assert world.general in ids and world.private not in ids, ids
        assert gc.get("threads") == [], gc.get("threads")
        found = world.leaks(json.dumps(gc), blind.visible_groups())
        assert not found, f"GUILD_CREATE leaks {found}"
        vc = next(g for g in gv.guild_creates if g["id"] == world.guild_id)
        assert world.private in [c["id"] for c in vc["channels"]]
        threads = [t["id"] for t in vc["threads"]]
        assert world.thread in threads and world.pthread not in threads, threads
        for a in outsiders:
            got = [g["id"] for g in clients[a.name].guild_creates]
            assert world.guild_id not in got, f"{a.name} got the guild's GUILD_CREATE"

        # Things happen in the private channel (and the DM), then fences.
        world.secret("private", *(text[k] for k in ("content", "edited", "thread", "channel")))
        world.secret("dm", text["dm"])
        m = world.post(world.private, text["content"])
        world.secret("private", m)
        ok(o.patch(f"/channels/{world.private}/messages/{m}", {"content": text["edited"]}))
        world.react(o, m, THUMBS)
        ok(o.post(f"/channels/{world.private}/typing"), 204)
        ok(o.put(f"/channels/{world.private}/messages/pins/{m}"), 204)
        t = ok(o.post(f"/channels/{world.private}/threads",
                      {"name": text["thread"], "type": 11}), 201)["id"]
        world.secret("private", t)
        world.post(t, text["content"])
        code = world.new_invite(world.private)
        world.secret("private", code)
        ok(o.patch(f"/channels/{world.private}", {"topic": text["edited"]}))
        c = world.new_private_channel(text["channel"])
        world.secret("private", c)
        ok(o.delete(f"/channels/{c}"))
        ok(o.delete(f"/channels/{world.private}/messages/{m}"), 204)
        world.post(world.dm, text["dm"])
        fence = world.post(world.general, "fence")
        got = await gb.wait_message(fence)
        for p in got:
            found = world.leaks(json.dumps(p), blind.visible_groups())
            assert not found, f"{p.get('t')} leaks {found} to the blind session"
        for a in outsiders:
            mine = world.post(fences[a.name], "own fence", api=a.api)
            for p in await clients[a.name].wait_message(mine):
                dump = json.dumps(p)
                assert world.guild_id not in dump and not world.leaks(dump, set()), \
                    f"{a.name} heard {p.get('t')}: {dump[:300]}"
        seen = await gv.wait_message(fence)
        types = {p["t"] for p in seen if p["op"] == 0}
        missed = {"MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_REACTION_ADD", "TYPING_START",
                  "CHANNEL_PINS_UPDATE", "THREAD_CREATE", "CHANNEL_UPDATE", "CHANNEL_CREATE",
                  "CHANNEL_DELETE", "MESSAGE_DELETE"} - types
        assert not missed, f"the viewing session missed {sorted(missed)}: {sorted(types)}"
        for gw in clients.values():
            await gw.shutdown()

    run(body())
