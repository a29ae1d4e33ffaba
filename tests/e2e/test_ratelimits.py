"""HTTP rate limits (spec/rest-ratelimits.md), black-box against a real hearthd.

The harness starts every server with rate limits off (other suites post far faster than
Discord allows); each test here starts its own server with them on and with the limits it
needs, so that windows are short and counts small.
"""

from __future__ import annotations

import re
import threading
import time

import pytest

from harness import Api, err, new_user, ok

BUCKET_RE = re.compile(r"^[0-9a-f]{32}$")
FRACTION_RE = re.compile(r"^\d+\.\d{3}$")
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
                "X-RateLimit-Reset-After", "X-RateLimit-Bucket")


def limited_server(server_factory, **limits):
    """A server with rate limits on; limits are setting=value (underscores for dashes)."""
    args = ["--ratelimit-enabled", "1"]
    for k, v in limits.items():
        args += [f"--ratelimit-{k.replace('_', '-')}", str(v)]
    return server_factory(tuple(args))


def owner_and_channel(srv):
    user = new_user(srv, "rl")
    guild = user.create_guild("Limited Guild")
    return user, guild, guild["system_channel_id"]


def headers(r) -> dict:
    return {h: r.headers.get(h) for h in RATE_HEADERS}


def check_headers(r, limit: int, remaining: int, window: float) -> dict:
    h = headers(r)
    assert all(v is not None for v in h.values()), f"missing rate-limit headers: {h}"
    assert int(h["X-RateLimit-Limit"]) == limit, h
    assert int(h["X-RateLimit-Remaining"]) == remaining, h
    assert FRACTION_RE.match(h["X-RateLimit-Reset"]), h
    assert FRACTION_RE.match(h["X-RateLimit-Reset-After"]), h
    after = float(h["X-RateLimit-Reset-After"])
    assert 0 < after <= window, h
    # Reset is the epoch time at which the window ends: now + Reset-After.
    assert abs(float(h["X-RateLimit-Reset"]) - (time.time() + after)) < 2.0, h
    assert BUCKET_RE.match(h["X-RateLimit-Bucket"]), h
    assert "X-RateLimit-Global" not in r.headers and "Retry-After" not in r.headers
    return h


def check_429(r, global_: bool) -> float:
    body = err_429(r)
    assert body["global"] is global_
    retry = body["retry_after"]
    assert isinstance(retry, (int, float)) and retry > 0, body
    assert int(r.headers["Retry-After"]) >= retry, r.headers
    assert int(r.headers["Retry-After"]) - retry < 1.0
    if global_:
        assert r.headers.get("X-RateLimit-Global") == "true", r.headers
        assert r.headers.get("X-RateLimit-Scope") == "global", r.headers
    else:
        # discord.js takes any X-RateLimit-Global header to mean "global": never send one here.
        assert "X-RateLimit-Global" not in r.headers, r.headers
        assert r.headers.get("X-RateLimit-Scope") == "user", r.headers
        assert r.headers["X-RateLimit-Remaining"] == "0"
    return retry


def err_429(r) -> dict:
    assert r.status_code == 429, f"expected 429, got {r.status_code} {r.text[:300]}"
    assert r.headers.get("Content-Type", "").startswith("application/json")
    body = r.json()
    assert set(body) == {"message", "retry_after", "global"}, body
    assert body["message"] == "You are being rate limited."
    return body


def test_harness_servers_have_no_limits(server):
    """The shared server (harness default: --ratelimit-enabled 0) answers without limits."""
    user = new_user(server, "free")
    for _ in range(60):
        r = user.get("/users/@me")
        assert r.status_code == 200
        assert "X-RateLimit-Limit" not in r.headers


def test_headers_count_down(server_factory):
    srv = limited_server(server_factory)  # Discord-like defaults
    user, guild, channel = owner_and_channel(srv)
    seen = []
    for i in range(3):
        r = user.get("/users/@me")
        ok(r)
        seen.append(check_headers(r, limit=10, remaining=9 - i, window=5.0))
    assert len({h["X-RateLimit-Bucket"] for h in seen}) == 1
    assert len({h["X-RateLimit-Reset"] for h in seen}) == 1, "a window does not move"
    # Posting messages: 5 per channel per window, its own bucket.
    r = user.post(f"/channels/{channel}/messages", {"content": "one"})
    ok(r)
    h = check_headers(r, limit=5, remaining=4, window=5.0)
    assert h["X-RateLimit-Bucket"] != seen[0]["X-RateLimit-Bucket"]
    # Error answers carry the headers too, and count.
    r = user.get(f"/channels/{channel}/messages/999999999999999999")
    err(r, 404, 10008)
    check_headers(r, limit=10, remaining=9, window=5.0)
    r = user.get(f"/channels/{channel}/messages/999999999999999999")
    check_headers(r, limit=10, remaining=8, window=5.0)


def test_429_after_the_bucket_is_exhausted(server_factory):
    srv = limited_server(server_factory, messages_per_window=3, window_ms=60000)
    user, guild, channel = owner_and_channel(srv)
    for i in range(3):
        r = user.post(f"/channels/{channel}/messages", {"content": f"m{i}"})
        ok(r)
        check_headers(r, limit=3, remaining=2 - i, window=60.0)
    r = user.post(f"/channels/{channel}/messages", {"content": "too many"})
    retry = check_429(r, global_=False)
    assert 55 < retry <= 60
    assert float(r.headers["X-RateLimit-Reset-After"]) == pytest.approx(retry, abs=0.01)
    # Refused requests are not served and not counted.
    r2 = user.post(f"/channels/{channel}/messages", {"content": "still too many"})
    check_429(r2, global_=False)
    assert r2.headers["X-RateLimit-Reset"] == r.headers["X-RateLimit-Reset"]
    contents = [m["content"] for m in user.history(channel)]
    assert contents == ["m2", "m1", "m0"], "a refused message was stored"
    # Other routes of the same channel are other buckets.
    ok(user.get(f"/channels/{channel}/messages"))


def test_recovery_after_reset(server_factory):
    srv = limited_server(server_factory, messages_per_window=2, window_ms=1000)
    user, guild, channel = owner_and_channel(srv)
    ok(user.post(f"/channels/{channel}/messages", {"content": "a"}))
    ok(user.post(f"/channels/{channel}/messages", {"content": "b"}))
    retry = check_429(user.post(f"/channels/{channel}/messages", {"content": "c"}),
                      global_=False)
    assert retry <= 1.0
    time.sleep(retry + 0.05)
    r = user.post(f"/channels/{channel}/messages", {"content": "d"})
    ok(r)
    check_headers(r, limit=2, remaining=1, window=1.0)
    assert [m["content"] for m in user.history(channel)] == ["d", "b", "a"]


def test_buckets_are_per_channel_and_per_user(server_factory):
    srv = limited_server(server_factory, messages_per_window=2, window_ms=60000)
    user, guild, first = owner_and_channel(srv)
    second = user.create_channel(guild["id"], "second")["id"]
    for _ in range(2):
        ok(user.post(f"/channels/{first}/messages", {"content": "x"}))
    check_429(user.post(f"/channels/{first}/messages", {"content": "x"}), global_=False)
    # Another channel: a bucket of its own, with the same bucket id (the same route).
    r1 = user.post(f"/channels/{first}/messages", {"content": "x"})
    r2 = user.post(f"/channels/{second}/messages", {"content": "y"})
    ok(r2)
    check_headers(r2, limit=2, remaining=1, window=60.0)
    assert r2.headers["X-RateLimit-Bucket"] == r1.headers["X-RateLimit-Bucket"]
    # Another user in the first channel: a bucket of their own.
    code = ok(user.post(f"/channels/{first}/invites", {}))["code"]
    other = new_user(srv, "other")
    ok(other.post(f"/invites/{code}"))
    r = other.post(f"/channels/{first}/messages", {"content": "z"})
    ok(r)
    check_headers(r, limit=2, remaining=1, window=60.0)


def test_global_limit_per_token(server_factory):
    srv = limited_server(server_factory, global_per_second=20, default_per_window=0)
    user = new_user(srv, "global")
    other = new_user(srv, "bystander")
    codes = []
    start = time.monotonic()
    for _ in range(25):
        codes.append(user.get("/users/@me").status_code)
    elapsed = time.monotonic() - start
    if elapsed >= 1.0:
        pytest.skip(f"25 requests took {elapsed:.2f} s: too slow to cross a 1 s window")
    assert codes[:20] == [200] * 20, codes
    assert codes[20:] == [429] * 5, codes
    r = user.get("/users/@me")
    retry = check_429(r, global_=True)
    assert retry <= 1.0
    # Per token: someone else is not limited by it.
    assert other.get("/users/@me").status_code == 200
    time.sleep(retry + 0.05)
    assert user.get("/users/@me").status_code == 200


def test_unauthenticated_limit_per_ip(server_factory):
    srv = limited_server(server_factory, ip_per_second=5, default_per_window=0)
    user = new_user(srv, "ipuser")  # one request without a token already (registration)
    anon = Api(srv)
    time.sleep(1.05)  # a fresh one-second window for this address
    start = time.monotonic()
    codes = [anon.get("/gateway").status_code for _ in range(7)]
    if time.monotonic() - start >= 1.0:
        pytest.skip("too slow to cross a 1 s window")
    assert codes == [200] * 5 + [429] * 2, codes
    check_429(anon.get("/gateway"), global_=True)
    # Requests with a token count against the token, not the address.
    assert user.get("/users/@me").status_code == 200


def test_concurrent_requests_count_exactly(server_factory):
    srv = limited_server(server_factory, default_per_window=30, window_ms=60000,
                         global_per_second=0)
    user = new_user(srv, "racer")
    codes: list[int] = []
    lock = threading.Lock()

    def hammer():
        api = Api(srv, user.token)
        for _ in range(10):
            c = api.get("/users/@me").status_code
            with lock:
                codes.append(c)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(set(codes)) == [200, 429], codes
    assert codes.count(200) == 30 and codes.count(429) == 50


def test_limits_off_by_setting(server_factory):
    srv = server_factory(("--ratelimit-enabled", "1", "--ratelimit-messages-per-window", "0",
                          "--ratelimit-global-per-second", "0"))
    user, guild, channel = owner_and_channel(srv)
    for i in range(12):
        r = user.post(f"/channels/{channel}/messages", {"content": f"{i}"})
        ok(r)
        assert "X-RateLimit-Limit" not in r.headers
    # Other routes keep their limit.
    r = user.get("/users/@me")
    check_headers(r, limit=10, remaining=9, window=5.0)
