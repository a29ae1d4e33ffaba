"""The fixture world of the authorization matrix (tests/e2e/test_authz_matrix.py).

One guild whose @everyone role keeps only VIEW_CHANNEL, so that every other permission comes
from a role: one role `p_<name>` per permission the REST surface asks for (PERMS), a role
`viewer` that a permission overwrite lets into the private channel (hidden from @everyone by
a deny overwrite), and a role `gift` at the bottom for the role-assignment rows.

The private channel holds everything the issue names as content that must stay invisible
without VIEW_CHANNEL: messages, a pinned message, reactions, a public thread with a message,
a private thread, archived public and private threads, an attachment and an invite. Its id,
its name, message ids and contents, thread ids and names and the attachment's id and name
are the "secrets" (group "private"); the private threads' ids and names are visible only to
their members and MANAGE_THREADS holders (group "pthread"); a DM between the owner and the
permitted actor is group "dm".

The actors (spec/client-api.md §7 decides what each may do):

| actor     | state                                                                            |
|-----------|----------------------------------------------------------------------------------|
| nonmember | registered, never joined                                                         |
| banned    | joined, then banned by the owner                                                 |
| blind     | member with every p_ role but VIEW_AUDIT_LOG and MANAGE_GUILD, no viewer role     |
| lacking   | member; per row every p_ role but the ones the row needs (+ viewer when the row   |
|           | is about the private channel)                                                    |
| timedout  | member with every p_ role and viewer, timed out for an hour                      |
| permitted | member; per row exactly the roles the row needs (+ viewer for the private channel)|

`blind` leaves out VIEW_AUDIT_LOG and MANAGE_GUILD because they show guild-wide records
(audit log entries, the guild's invites) that name every channel, as on Discord; with the
rest it is the strongest member that must still see nothing of the private channel.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import re
import secrets as _secrets
import urllib.parse

from harness import Api, HearthServer, describe, new_user, ok

# Discord's bits for the permissions the REST surface checks (homeserver/hs_perm.h).
PERMS = {
    "CREATE_INSTANT_INVITE": 0,
    "KICK_MEMBERS": 1,
    "BAN_MEMBERS": 2,
    "MANAGE_CHANNELS": 4,
    "MANAGE_GUILD": 5,
    "ADD_REACTIONS": 6,
    "VIEW_AUDIT_LOG": 7,
    "SEND_MESSAGES": 11,
    "MANAGE_MESSAGES": 13,
    "ATTACH_FILES": 15,
    "READ_MESSAGE_HISTORY": 16,
    "CHANGE_NICKNAME": 26,
    "MANAGE_NICKNAMES": 27,
    "MANAGE_ROLES": 28,
    "MANAGE_THREADS": 34,
    "CREATE_PUBLIC_THREADS": 35,
    "CREATE_PRIVATE_THREADS": 36,
    "SEND_MESSAGES_IN_THREADS": 38,
    "MODERATE_MEMBERS": 40,
    "PIN_MESSAGES": 51,
}
VIEW_CHANNEL = 1 << 10
ALL_P = frozenset(PERMS)
# "VIEW" in a permission set means: holds the viewer role, i.e. VIEW_CHANNEL in the private
# channel (everyone holds VIEW_CHANNEL in the public one through @everyone).
VIEW = "VIEW"
# What a timed-out member keeps (spec/client-api.md §7.5).
TIMEOUT_KEEP = frozenset({VIEW, "READ_MESSAGE_HISTORY"})
BLIND_ROLES = ALL_P - {"VIEW_AUDIT_LOG", "MANAGE_GUILD"}

ACTORS = ("nonmember", "banned", "blind", "lacking", "timedout", "permitted")

def iso_in(seconds: float) -> str:
    t = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


class Actor:
    """An Api plus what the world made of it: member or not, roles, viewer, timed out."""

    def __init__(self, name: str, api: Api, member: bool = True, roles=frozenset(),
                 viewer: bool = False, timed_out: bool = False):
        self.name = name
        self.api = api
        self.member = member
        self.roles = frozenset(roles)
        self.viewer = viewer
        self.timed_out = timed_out

    @property
    def id(self) -> str:
        return self.api.user_id

    def perms(self) -> frozenset:
        """Effective permission names, VIEW included when the private channel is visible."""
        if not self.member:
            return frozenset()
        p = set(self.roles)
        if self.viewer:
            p.add(VIEW)
        p = frozenset(p)
        return p & TIMEOUT_KEEP if self.timed_out else p

    def visible_groups(self) -> set[str]:
        """Which secret groups this actor may see."""
        g = set()
        p = self.perms()
        if VIEW in p:
            g.add("private")
            if "MANAGE_THREADS" in p:
                g.add("pthread")
        return g

    def __repr__(self):
        return f"<{self.name} roles={sorted(self.roles)} viewer={self.viewer}>"


class World:
    def __init__(self, server: HearthServer):
        self.server = server
        self.tag = _secrets.token_hex(4)
        self._n = itertools.count(1)
        self.owner = new_user(server, "owner")
        o = self.owner
        g = ok(o.post("/guilds", {"name": "Authz Guild"}), 201)
        self.guild_id = g["id"]
        self.general = g["system_channel_id"]

        # Roles: created top first (a new role goes to position 1), gift last, so that every
        # p_ role outranks viewer and gift and every role made later by a row.
        self.role_ids: dict[str, str] = {}
        for name, bit in PERMS.items():
            r = ok(o.post(f"/guilds/{self.guild_id}/roles",
                          {"name": f"p_{name.lower()}", "permissions": str(1 << bit)}))
            self.role_ids[name] = r["id"]
        self.viewer_role = ok(o.post(f"/guilds/{self.guild_id}/roles",
                                     {"name": "viewer", "permissions": "0"}))["id"]
        self.gift_role = ok(o.post(f"/guilds/{self.guild_id}/roles",
                                   {"name": "gift", "permissions": "0"}))["id"]
        ok(o.patch(f"/guilds/{self.guild_id}/roles/{self.guild_id}",
                   {"permissions": str(VIEW_CHANNEL)}))
        self.invite = ok(o.post(f"/channels/{self.general}/invites",
                                {"max_age": 0, "unique": True}))["code"]

        # The private channel and its content.
        self.secrets: dict[str, set[str]] = {"private": set(), "pthread": set(), "dm": set()}
        self.private_name = f"zq-hidden-{self.tag}"
        self.private = self.new_private_channel(self.private_name)
        self.secret("private", self.private, self.private_name)
        self.msg = self.post(self.private, f"zq-secret-message-{self.tag}")
        self.msg2 = self.post(self.private, f"zq-secret-second-{self.tag}")
        self.secret("private", self.msg, f"zq-secret-message-{self.tag}", self.msg2,
                    f"zq-secret-second-{self.tag}")
        ok(o.put(f"/channels/{self.private}/messages/pins/{self.msg}"), 204)
        self.react(o, self.msg, "\N{THUMBS UP SIGN}")
        self.react(o, self.msg2, "\N{THUMBS UP SIGN}")
        fname = f"zq-secret-file-{self.tag}.txt"
        up = self.upload(o, self.private, {"content": f"zq-secret-upload-{self.tag}"},
                         {"files[0]": (fname, b"zq secret bytes", "text/plain")})
        assert up.status_code == 200, describe(up)
        self.upload_msg = up.json()["id"]
        att = up.json()["attachments"][0]
        self.attachment_id, self.attachment_name = att["id"], att["filename"]
        self.secret("private", self.upload_msg, f"zq-secret-upload-{self.tag}",
                    self.attachment_id, self.attachment_name)
        self.thread = self.new_thread(self.private, 11, f"zq-secret-thread-{self.tag}")
        self.thread_msg = self.post(self.thread, f"zq-secret-in-thread-{self.tag}")
        self.secret("private", self.thread, f"zq-secret-thread-{self.tag}", self.thread_msg,
                    f"zq-secret-in-thread-{self.tag}")
        self.pthread = self.new_thread(self.private, 12, f"zq-secret-pthread-{self.tag}")
        self.pthread_msg = self.post(self.pthread, f"zq-secret-in-pthread-{self.tag}")
        self.secret("pthread", self.pthread, f"zq-secret-pthread-{self.tag}", self.pthread_msg,
                    f"zq-secret-in-pthread-{self.tag}")
        self.archived = self.new_thread(self.private, 11, f"zq-secret-archived-{self.tag}")
        ok(o.patch(f"/channels/{self.archived}", {"archived": True}))
        self.secret("private", self.archived, f"zq-secret-archived-{self.tag}")
        self.parchived = self.new_thread(self.private, 12, f"zq-secret-parchived-{self.tag}")
        ok(o.patch(f"/channels/{self.parchived}", {"archived": True}))
        self.secret("pthread", self.parchived, f"zq-secret-parchived-{self.tag}")
        self.private_invite = ok(o.post(f"/channels/{self.private}/invites",
                                        {"max_age": 0, "unique": True}))["code"]
        self.secret("private", self.private_invite)

        # The actors.
        self.actors: dict[str, Actor] = {}
        self.actors["nonmember"] = Actor("nonmember", new_user(server, "nonmember"),
                                         member=False)
        banned = self.new_member("banned")
        ok(o.put(f"/guilds/{self.guild_id}/bans/{banned.id}"), 204)
        banned.member = False
        self.actors["banned"] = banned
        self.actors["blind"] = self.new_member("blind", BLIND_ROLES)
        self.actors["lacking"] = self.new_member("lacking")
        self.actors["permitted"] = self.new_member("permitted")
        self.actors["timedout"] = self.new_member("timedout", ALL_P, viewer=True, timed_out=True)
        self.actors["owner"] = Actor("owner", o, roles=ALL_P, viewer=True)
        # A bot in the guild (no permissions), for the user-only endpoints (403 20001).
        app = self.app_of(o)
        token = ok(o.post(f"/applications/{app['id']}/bot/reset"))["token"]
        ok(o.post("/oauth2/authorize", {"guild_id": self.guild_id, "permissions": "0",
                                        "authorize": True},
                  params={"client_id": app["id"], "scope": "bot"}))
        self.actors["bot"] = Actor("bot", Api(server, token, bot=True, user_id=app["bot"]["id"],
                                              username=app["bot"]["username"]))

        # A DM between the owner and `permitted`, a group DM of the two, and an application
        # owned by `permitted`.
        perm = self.actors["permitted"]
        self.dm = ok(o.post("/users/@me/channels", {"recipient_id": perm.id}))["id"]
        self.dm_msg = self.post(self.dm, f"zq-secret-dm-{self.tag}")
        self.secret("dm", self.dm, self.dm_msg, f"zq-secret-dm-{self.tag}")
        self.gdm = ok(o.post("/users/@me/channels", {"recipients": [perm.id]}))["id"]
        self.app = ok(perm.api.post("/applications", {"name": "Permitted App"}), 201)

    # -- building blocks

    def uniq(self, prefix: str = "x") -> str:
        return f"{prefix}-{next(self._n)}"

    def secret(self, group: str, *values: str) -> None:
        self.secrets[group].update(values)

    def post(self, channel_id: str, content: str | None = None, api: Api | None = None) -> str:
        api = api or self.owner
        return ok(api.post(f"/channels/{channel_id}/messages",
                           {"content": content or self.uniq("row message")}))["id"]

    def react(self, api: Api, message_id: str, emoji: str, channel_id: str | None = None) -> None:
        e = urllib.parse.quote(emoji, safe="")
        ok(api.put(f"/channels/{channel_id or self.private}/messages/{message_id}/reactions/"
                   f"{e}/@me"), 204)

    @staticmethod
    def upload(api: Api, channel_id: str, payload: dict | None, files: dict):
        parts = dict(files)
        if payload is not None:
            parts["payload_json"] = (None, json.dumps(payload), "application/json")
        return api.session.post(f"{api.server.api_url}/channels/{channel_id}/messages",
                                files=parts, headers={"Authorization": api.auth_header},
                                timeout=30)

    def new_private_channel(self, name: str | None = None) -> str:
        ows = [{"id": self.guild_id, "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL)},
               {"id": self.viewer_role, "type": 0, "allow": str(VIEW_CHANNEL), "deny": "0"}]
        return ok(self.owner.post(f"/guilds/{self.guild_id}/channels",
                                  {"name": name or self.uniq("hidden"),
                                   "permission_overwrites": ows}), 201)["id"]

    def new_thread(self, channel_id: str, type_: int = 11, name: str | None = None) -> str:
        return ok(self.owner.post(f"/channels/{channel_id}/threads",
                                  {"name": name or self.uniq("row thread"), "type": type_}),
                  201)["id"]

    def new_role(self) -> str:
        """A role at position 1, below every role of the world."""
        return ok(self.owner.post(f"/guilds/{self.guild_id}/roles",
                                  {"name": self.uniq("fresh"), "permissions": "0"}))["id"]

    def new_user(self, prefix: str = "victim") -> Api:
        return new_user(self.server, prefix)

    def new_member(self, name: str = "victim", roles=frozenset(), viewer: bool = False,
                   timed_out: bool = False) -> Actor:
        api = new_user(self.server, name)
        ok(api.post(f"/invites/{self.invite}"))
        a = Actor(name, api)
        if roles or viewer:
            self.set_roles(a, roles, viewer)
        a._roles_set = True
        if timed_out:
            ok(self.owner.patch(f"/guilds/{self.guild_id}/members/{a.id}",
                                {"communication_disabled_until": iso_in(3600)}))
            a.timed_out = True
        return a

    def set_roles(self, actor: Actor, roles, viewer: bool) -> None:
        roles = frozenset(roles)
        if actor.member and (roles, viewer) == (actor.roles, actor.viewer) and \
                getattr(actor, "_roles_set", False):
            return
        ids = [self.role_ids[r] for r in sorted(roles)] + ([self.viewer_role] if viewer else [])
        ok(self.owner.patch(f"/guilds/{self.guild_id}/members/{actor.id}", {"roles": ids}))
        actor.roles, actor.viewer, actor._roles_set = roles, viewer, True

    def app_of(self, api: Api) -> dict:
        return ok(api.post("/applications", {"name": self.uniq("App")}), 201)

    def counter(self) -> int:
        return next(self._n)

    def victim(self, key: str, viewer: bool = False) -> Actor:
        """A member without roles, one per key, made on first use."""
        cache = self.__dict__.setdefault("_victims", {})
        if key not in cache:
            cache[key] = self.new_member(f"victim_{key}", viewer=viewer)
        return cache[key]

    def movable(self) -> str:
        if not hasattr(self, "_movable"):
            self._movable = ok(self.owner.post(f"/guilds/{self.guild_id}/channels",
                                               {"name": "movable"}), 201)["id"]
        return self._movable

    def join_invite(self) -> str:
        if not hasattr(self, "_join_invite"):
            self._join_invite = self.new_invite(self.general)
        return self._join_invite

    def new_invite(self, channel_id: str) -> str:
        return ok(self.owner.post(f"/channels/{channel_id}/invites",
                                  {"max_age": 0, "unique": True}))["code"]

    def app_with_token(self) -> dict:
        perm = self.actors["permitted"].api
        app = self.app_of(perm)
        token = ok(perm.post(f"/applications/{app['id']}/bot/reset"))["token"]
        return {"application_id": app["id"], "token": token}

    def bot_token_works(self, ctx: dict) -> int:
        return Api(self.server, ctx["token"], bot=True).get("/applications/@me").status_code

    def banned_user(self) -> str:
        u = self.new_user("banned_victim")
        ok(self.owner.put(f"/guilds/{self.guild_id}/bans/{u.user_id}"), 204)
        return u.user_id

    def role_target(self, has: bool) -> dict:
        v = self.victim("role")
        path = f"/guilds/{self.guild_id}/members/{v.id}/roles/{self.gift_role}"
        ok(self.owner.put(path) if has else self.owner.delete(path), 204)
        return {"guild_id": self.guild_id, "user_id": v.id, "role_id": self.gift_role}

    def overwrite_target(self, exists: bool) -> dict:
        v = self.victim("overwrite")
        path = f"/channels/{self.private}/permissions/{v.id}"
        if exists:
            ok(self.owner.put(path, {"type": 1, "allow": "0", "deny": str(VIEW_CHANNEL)}), 204)
        else:
            r = self.owner.delete(path)
            assert r.status_code in (204, 404), describe(r)
        return {"channel_id": self.private, "overwrite_id": v.id}

    def thread_membership(self, joined: bool, thread: str | None = None) -> dict:
        """The member actors in the thread (those who may join) or out of it."""
        thread = thread or self.thread
        for name in ("permitted", "lacking", "timedout"):
            a = self.actors[name]
            if joined:
                r = a.api.put(f"/channels/{thread}/thread-members/@me")
                assert r.status_code in (204, 403), describe(r)
            else:
                r = self.owner.delete(f"/channels/{thread}/thread-members/{a.id}")
                assert r.status_code in (204, 404), describe(r)
        return {"channel_id": thread}

    def thread_target(self, present: bool) -> dict:
        v = self.victim("thread", viewer=True)
        path = f"/channels/{self.thread}/thread-members/{v.id}"
        r = self.owner.put(path) if present else self.owner.delete(path)
        assert r.status_code in (204, 404), describe(r)
        return {"channel_id": self.thread, "user_id": v.id}

    def gdm_target(self, present: bool) -> dict:
        v = self.victim("gdm")
        path = f"/channels/{self.gdm}/recipients/{v.id}"
        r = self.owner.put(path) if present else self.owner.delete(path)
        assert r.status_code in (204, 404), describe(r)
        return {"channel_id": self.gdm, "user_id": v.id}

    def locked_thread(self) -> str:
        if not hasattr(self, "_locked"):
            self._locked = self.new_thread(self.private)
            ok(self.owner.patch(f"/channels/{self._locked}", {"locked": True}))
        return self._locked

    def gdm_rejoin(self) -> dict:
        perm = self.actors["permitted"]
        ok(self.owner.put(f"/channels/{self.gdm}/recipients/{perm.id}"), 204)
        return {"channel_id": self.gdm}

    def dm_ids(self) -> list[str]:
        return sorted(c["id"] for c in self.get("/users/@me/channels"))

    def pinned_msg(self) -> dict:
        m = self.post(self.private)
        ok(self.owner.put(f"/channels/{self.private}/messages/pins/{m}"), 204)
        return {"channel_id": self.private, "message_id": m}

    def clear_emoji(self, emoji: str) -> dict:
        e = urllib.parse.quote(emoji, safe="")
        ok(self.owner.delete(f"/channels/{self.private}/messages/{self.msg}/reactions/{e}"), 204)
        return {"channel_id": self.private, "message_id": self.msg, "*": emoji}

    def owner_reaction(self, emoji: str, msg: str = "msg") -> dict:
        m = getattr(self, msg)
        self.react(self.owner, m, emoji)
        return {"channel_id": self.private, "message_id": m, "*": emoji,
                "user_id": self.owner.user_id}

    def own_reactions(self, emoji: str) -> dict:
        """The owner, then permitted, lacking and timedout react with emoji (the first two
        with READ_MESSAGE_HISTORY lent for the moment; the timed-out member, who may not
        react, with its timeout lifted for the moment)."""
        ctx = self.owner_reaction(emoji)
        for name in ("permitted", "lacking", "timedout"):
            a = self.actors[name]
            roles, viewer = a.roles, a.viewer
            if not a.timed_out and "READ_MESSAGE_HISTORY" not in roles:
                self.set_roles(a, roles | {"READ_MESSAGE_HISTORY"}, True)
            member = f"/guilds/{self.guild_id}/members/{a.id}"
            if a.timed_out:
                ok(self.owner.patch(member, {"communication_disabled_until": None}))
            self.react(a.api, self.msg, emoji)
            if a.timed_out:
                ok(self.owner.patch(member, {"communication_disabled_until": iso_in(3600)}))
            self.set_roles(a, roles, viewer)
        return ctx

    def automod_clear(self) -> dict:
        """No AutoMod rule left in the guild (rows that make rules stay under the per-guild
        limit of 6 KEYWORD rules, spec/rest-automod.md §2)."""
        base = f"/guilds/{self.guild_id}/auto-moderation/rules"
        for rule in self.get(base):
            ok(self.owner.delete(f"{base}/{rule['id']}"), 204)
        return {"guild_id": self.guild_id}

    def automod_body(self, **more) -> dict:
        """A valid KEYWORD rule (disabled, so that it blocks no message of other rows)."""
        return {"name": self.uniq("zq automod rule"), "event_type": 1, "trigger_type": 1,
                "trigger_metadata": {"keyword_filter": [self.uniq("zqautomodword")]},
                "actions": [{"type": 1}], **more}

    def automod_rule(self) -> dict:
        """A fresh KEYWORD rule made by the owner, the only rule of the guild."""
        ctx = self.automod_clear()
        rule = ok(self.owner.post(f"/guilds/{self.guild_id}/auto-moderation/rules",
                                  self.automod_body()))
        return {**ctx, "rule_id": rule["id"]}

    def automod_gone_rule(self) -> dict:
        """The id of a rule of the guild that was deleted since (404 code 0)."""
        ctx = self.automod_rule()
        ok(self.owner.delete(f"/guilds/{self.guild_id}/auto-moderation/rules/"
                             f"{ctx['rule_id']}"), 204)
        return ctx

    # -- reads as the owner, for "nothing changed" snapshots

    def nicks(self) -> dict:
        return {m["user"]["id"]: m["nick"] for m in
                self.get(f"/guilds/{self.guild_id}/members", params={"limit": 1000})}

    def member(self, user_id: str) -> dict:
        m = self.get(f"/guilds/{self.guild_id}/members/{user_id}")
        return {k: m[k] for k in ("nick", "roles", "communication_disabled_until")}

    def overwrites(self, channel_id: str) -> list:
        return self.get(f"/channels/{channel_id}")["permission_overwrites"]

    def invite_codes(self, channel_id: str) -> list[str]:
        return sorted(i["code"] for i in self.get(f"/channels/{channel_id}/invites"))

    def recipients(self, channel_id: str) -> list[str]:
        return sorted(u["id"] for u in self.get(f"/channels/{channel_id}")["recipients"])

    def get(self, path: str, api: Api | None = None, **kw):
        return ok((api or self.owner).get(path, **kw))

    def member_ids(self) -> list[str]:
        return [m["user"]["id"] for m in
                self.get(f"/guilds/{self.guild_id}/members", params={"limit": 1000})]

    def history_ids(self, channel_id: str) -> list[str]:
        return [m["id"] for m in self.get(f"/channels/{channel_id}/messages",
                                          params={"limit": 100})]

    # -- leaks

    def leaks(self, text: str, visible: set[str]) -> list[str]:
        """The secrets of the groups not in `visible` that `text` holds."""
        found = []
        for group, values in self.secrets.items():
            if group in visible:
                continue
            for v in values:
                if re.fullmatch(r"\d+", v):
                    if re.search(rf"(?<!\d){v}(?!\d)", text):
                        found.append(f"{group}:{v}")
                elif v in text:
                    found.append(f"{group}:{v}")
        return found
