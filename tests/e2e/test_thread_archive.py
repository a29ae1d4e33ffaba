"""Threads archive themselves after auto_archive_duration minutes without a message
(spec/rest-channels.md, threads): THREAD_UPDATE with `archived: true`, a fresh
archive_timestamp, the archived listing; a busy or long-lived thread is left alone; a post
brings an archived thread back, and its clock starts again.

The server counts a thread's minutes in 40 ms (--thread-archive-minute-ms) and runs its
housekeeping every 100 ms, so a 60-minute thread goes quiet in 2.4 s and a 10080-minute one
would take over 6 minutes.
"""

from __future__ import annotations

import time

import pytest

from gateway_client import DispatchRecorder, run
from harness import HearthServer, new_user, ok, parse_ts, unique_name

MINUTE_MS = 40


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    srv = HearthServer(tmp_path_factory.mktemp("hearthd"),
                       ("--thread-archive-minute-ms", str(MINUTE_MS), "--housekeeping-ms", "100"))
    srv.start()
    yield srv
    srv.stop()


def thread(api, channel_id: str, name: str, duration: int) -> dict:
    return ok(api.post(f"/channels/{channel_id}/threads",
                       {"name": name, "type": 11, "auto_archive_duration": duration}), 201)


def test_idle_thread_archives_itself(fast):
    alice = new_user(fast, "arch")
    guild = ok(alice.post("/guilds", {"name": unique_name("g")}), 201)
    general = guild["system_channel_id"]

    async def body():
        rec = DispatchRecorder(fast)
        await rec.open(alice.token)
        try:
            quick = thread(alice, general, "quick", 60)        # 2.4 s of quiet
            slow = thread(alice, general, "slow", 10080)        # over 6 minutes
            busy = thread(alice, general, "busy", 60)
            # Keep `busy` talking past quick's deadline: it must stay open meanwhile.
            t0 = time.monotonic()
            while time.monotonic() - t0 < 3.0:
                alice.send(busy["id"], "still here")
                time.sleep(0.3)
            ev = await rec.wait("THREAD_UPDATE", lambda d: d["id"] == quick["id"]
                                and d["thread_metadata"]["archived"], timeout=10)
            meta = ev["thread_metadata"]
            assert parse_ts(meta["archive_timestamp"]) > \
                parse_ts(quick["thread_metadata"]["archive_timestamp"])
            assert ok(alice.get(f"/channels/{quick['id']}"))["thread_metadata"]["archived"]
            archived = ok(alice.get(f"/channels/{general}/threads/archived/public"))["threads"]
            assert quick["id"] in [t["id"] for t in archived]
            for t in (slow, busy):
                assert not ok(alice.get(f"/channels/{t['id']}"))["thread_metadata"]["archived"]
                assert rec.got("THREAD_UPDATE", lambda d, t=t: d["id"] == t["id"]) == []
            # A post brings it back, and the quiet clock starts again from there.
            alice.send(quick["id"], "back again")
            await rec.wait("THREAD_UPDATE", lambda d: d["id"] == quick["id"]
                           and not d["thread_metadata"]["archived"], timeout=5)
            await rec.wait("THREAD_UPDATE", lambda d: d["id"] == quick["id"]
                           and d["thread_metadata"]["archived"]
                           and parse_ts(d["thread_metadata"]["archive_timestamp"])
                           > parse_ts(meta["archive_timestamp"]), timeout=10)
            # busy, once it stops talking, goes the same way (perhaps already read above).
            def busy_archived(d):
                return d["id"] == busy["id"] and d["thread_metadata"]["archived"]
            if not rec.got("THREAD_UPDATE", busy_archived):
                await rec.wait("THREAD_UPDATE", busy_archived, timeout=10)
            assert not ok(alice.get(f"/channels/{slow['id']}"))["thread_metadata"]["archived"]
        finally:
            await rec.close()

    run(body())
