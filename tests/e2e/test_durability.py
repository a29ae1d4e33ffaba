"""Durability (spec/client-api.md §6): an acknowledged write survives kill -9.

Eight client threads post 2,000 messages in total to one channel. Every 200 answer is
recorded. Once about half were acknowledged the server is killed with SIGKILL, restarted on
the same data directory, and the channel's history is read back in full.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter

import requests

from harness import Api, describe, new_user, ok

N_CLIENTS = 8
PER_CLIENT = 250  # 2,000 messages in total
KILL_AFTER = (N_CLIENTS * PER_CLIENT) // 2
CONTENT_RE = re.compile(r"^client (\d) seq (\d{4})$")


def content_for(client: int, seq: int) -> str:
    return f"client {client} seq {seq:04d}"


class Clients:
    """The writers and what each of them was told."""

    def __init__(self, server, token):
        self.server = server
        self.token = token
        self.lock = threading.Lock()
        self.acked_total = 0
        self.half = threading.Event()
        self.acked = {c: [] for c in range(N_CLIENTS)}   # [(seq, id, content)] in send order
        self.failed = {c: [] for c in range(N_CLIENTS)}  # [(seq, why)]: outcome unknown
        self.bad_answers: list[str] = []                 # HTTP answers other than 200/429

    def run(self, client: int, channel: str) -> None:
        api = Api(self.server, self.token)  # own session, own connection
        for seq in range(PER_CLIENT):
            content = content_for(client, seq)
            while True:
                try:
                    r = api.post(f"/channels/{channel}/messages", {"content": content},
                                 timeout=30)
                except requests.RequestException as e:
                    self.failed[client].append((seq, repr(e)))
                    return  # the server is gone: this client stops here
                if r.status_code == 429:  # not stored; a client would retry after the delay
                    time.sleep(float(r.json().get("retry_after", 0.05)))
                    continue
                break
            if r.status_code != 200:
                with self.lock:
                    self.bad_answers.append(describe(r))
                self.failed[client].append((seq, f"HTTP {r.status_code}"))
                return
            body = r.json()
            self.acked[client].append((seq, body.get("id"), body.get("content")))
            with self.lock:
                self.acked_total += 1
                if self.acked_total >= KILL_AFTER:
                    self.half.set()


def test_acknowledged_messages_survive_kill9(server_factory):
    srv = server_factory()
    owner = new_user(srv, "durable")
    guild = owner.create_guild("Durable Guild")
    channel = owner.create_channel(guild["id"], "durable")["id"]

    clients = Clients(srv, owner.token)
    threads = [threading.Thread(target=clients.run, args=(c, channel), daemon=True)
               for c in range(N_CLIENTS)]
    for t in threads:
        t.start()
    assert clients.half.wait(timeout=180), (
        f"only {clients.acked_total} messages acknowledged in 180 s\n{srv.log_tail()}")
    srv.kill9()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a client thread hangs after the server was killed"

    assert not clients.bad_answers, "unexpected answers:\n" + "\n".join(clients.bad_answers[:10])
    acked_total = sum(len(a) for a in clients.acked.values())
    assert KILL_AFTER <= acked_total < N_CLIENTS * PER_CLIENT, (
        f"{acked_total} acknowledged: the kill did not happen mid-stream")
    for c in range(N_CLIENTS):
        seqs = [seq for seq, _, _ in clients.acked[c]]
        assert seqs == list(range(len(seqs)))
        for seq, mid, content in clients.acked[c]:
            assert isinstance(mid, str) and mid.isdigit(), mid
            assert content == content_for(c, seq), "the 200 answer echoed other content"

    srv.start()  # same data directory, new process
    reader = Api(srv, owner.token)
    history = reader.all_messages(channel)  # oldest first

    # ids strictly increase, and nothing appears twice
    ids = [int(m["id"]) for m in history]
    for a, b in zip(ids, ids[1:]):
        assert a < b, f"history ids not strictly ordered: {a} then {b}"
    dup = [c for c, n in Counter(m["content"] for m in history).items() if n > 1]
    assert not dup, f"messages stored twice: {dup[:10]}"

    by_id = {m["id"]: m for m in history}
    per_client: dict[int, list[int]] = {c: [] for c in range(N_CLIENTS)}
    for m in history:
        match = CONTENT_RE.match(m["content"])
        assert match, f"unexpected message in the channel: {m['content']!r}"
        per_client[int(match.group(1))].append(int(match.group(2)))
        assert m["author"]["id"] == owner.user_id

    lost = []
    for c in range(N_CLIENTS):
        for seq, mid, content in clients.acked[c]:
            m = by_id.get(mid)
            if m is None:
                lost.append(f"{content} (id {mid})")
            else:
                assert m["content"] == content, f"id {mid}: {m['content']!r} != {content!r}"
        # each client's messages are in the order it sent them ...
        present = per_client[c]
        assert present == sorted(present), f"client {c} messages out of order: {present}"
        # ... and are its acknowledged ones plus, perhaps, the one in flight at the kill
        allowed = {seq for seq, _, _ in clients.acked[c]} | {seq for seq, _ in clients.failed[c]}
        extra = set(present) - allowed
        assert not extra, f"client {c}: messages that were never sent: {sorted(extra)}"
    assert not lost, f"{len(lost)} acknowledged messages lost after kill -9: {lost[:10]}"
    assert acked_total <= len(history) <= acked_total + N_CLIENTS

    # the restarted server keeps going, with ids above everything stored
    m = reader.send(channel, "after the crash")
    assert int(m["id"]) > ids[-1]
    assert reader.history(channel, limit=1)[0]["id"] == m["id"]


def test_everything_survives_a_clean_restart(server_factory):
    srv = server_factory()
    user = new_user(srv, "keeper", global_name="Keeper")
    guild = user.create_guild("Kept Guild")
    text = user.create_channel(guild["id"], "kept text")
    voice = user.create_channel(guild["id"], "Kept Voice", 2)
    app = ok(user.post("/applications", {"name": "Kept Bot"}), 201)
    bot_token = ok(user.post(f"/applications/{app['id']}/bot/reset"))["token"]
    ok(user.post("/oauth2/authorize",
                 {"guild_id": guild["id"], "permissions": "8192", "authorize": True},
                 params={"client_id": app["id"], "scope": "bot"}))
    bot = Api(srv, bot_token, bot=True)
    sent = [user.send(text["id"], f"kept {i}") for i in range(5)]
    edited = ok(user.patch(f"/channels/{text['id']}/messages/{sent[1]['id']}",
                           {"content": "kept 1, edited"}))
    ok(user.delete(f"/channels/{text['id']}/messages/{sent[3]['id']}"), 204)
    bot.send(text["id"], "bot was here")

    me = user.me()
    g = ok(user.get(f"/guilds/{guild['id']}", params={"with_counts": "true"}))
    channels = ok(user.get(f"/guilds/{guild['id']}/channels"))
    history = user.all_messages(text["id"])
    my_guilds = ok(user.get("/users/@me/guilds"))
    app_before = ok(user.get(f"/applications/{app['id']}"))

    srv.restart()

    assert user.me() == me
    assert ok(user.get(f"/guilds/{guild['id']}", params={"with_counts": "true"})) == g
    assert ok(user.get(f"/guilds/{guild['id']}/channels")) == channels
    assert ok(user.get(f"/channels/{voice['id']}")) == voice
    after = user.all_messages(text["id"])
    assert after == history
    assert [m["content"] for m in after] == ["kept 0", "kept 1, edited", "kept 2", "kept 4",
                                             "bot was here"]
    assert after[1]["edited_timestamp"] == edited["edited_timestamp"]
    assert ok(user.get("/users/@me/guilds")) == my_guilds
    assert ok(user.get(f"/applications/{app['id']}")) == app_before
    assert ok(bot.get("/users/@me"))["id"] == app["bot"]["id"]
    # the password too
    ok(Api(srv).post("/auth/login", {"login": user.username, "password": user.password}))
