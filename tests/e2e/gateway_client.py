"""A small asyncio client for the hearthd gateway (spec/client-api.md §6), for the e2e tests.

Built on Debian's python3-websockets 10.4 (the legacy asyncio client). Every wait is bounded
by a timeout; a test uses it from a plain sync function through `run()`:

    def test_x(server):
        async def body():
            async with GatewayClient(server) as gw:
                await gw.hello()
                ready = await gw.identify(token)
        run(body())

The client checks two things on every payload it reads, so that every test checks them:
frames are text (binary and zlib-inflated for compress=zlib-stream, each message ending with
00 00 ff ff) and hold a JSON object with an integer `op`; and dispatch sequence numbers
count up by exactly one from the previous dispatch the client saw (READY must be s=1 and a
RESUME starts counting from the seq it sent).
"""

from __future__ import annotations

import asyncio
import json
import zlib
from typing import Any, Callable

import websockets
from websockets.exceptions import ConnectionClosed

WAIT = 5.0          # default bound on waiting for one frame
TEST_BUDGET = 60.0  # bound on one test body run through run()

PROPERTIES = {"os": "linux", "browser": "hearth-e2e", "device": "hearth-e2e"}
ZLIB_SUFFIX = b"\x00\x00\xff\xff"

# Intents (Discord's bits)
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_TYPING = 1 << 11
MESSAGE_CONTENT = 1 << 15


_opened: "list[GatewayClient]" = []


def run(coro, budget: float = TEST_BUDGET):
    """Run one test body on a fresh event loop, bounded by `budget` seconds. Connections the
    body left open (a failed assertion) are dropped at once rather than closed politely."""
    async def bounded():
        try:
            return await asyncio.wait_for(coro, budget)
        finally:
            while _opened:
                _opened.pop().abort()
    return asyncio.run(bounded())


class Closed(Exception):
    """The server closed the connection while the test waited for a payload."""

    def __init__(self, code, reason, frames):
        super().__init__(f"connection closed by the server with {code} {reason!r}")
        self.code = code
        self.reason = reason
        self.frames = frames


def close_code(exc: ConnectionClosed):
    """The code of the close frame the server sent (None: no close frame received)."""
    return exc.rcvd.code if exc.rcvd is not None else None


class GatewayClient:
    """One WebSocket connection to /gateway."""

    def __init__(self, server, query: str | None = "v=10&encoding=json", url: str | None = None,
                 extra_headers=None):
        base = url or f"ws://127.0.0.1:{server.port}/gateway"
        self.url = base + (f"?{query}" if query else "")
        self.zlib = "compress=zlib-stream" in (query or "")
        self.inflater = zlib.decompressobj() if self.zlib else None
        self.extra_headers = extra_headers
        self.ws = None
        self.seq: int | None = None     # last dispatch sequence number seen
        self.session_id: str | None = None
        self.log: list[dict] = []       # every payload received, for failure messages
        self.raw_frames: list[bytes | str] = []

    # -- connection

    async def open(self) -> "GatewayClient":
        self.ws = await asyncio.wait_for(
            websockets.connect(self.url, max_size=None, compression=None, ping_interval=None,
                               close_timeout=2, open_timeout=WAIT,
                               extra_headers=self.extra_headers),
            WAIT + 1)
        _opened.append(self)
        return self

    async def __aenter__(self) -> "GatewayClient":
        return await self.open()

    async def __aexit__(self, *exc):
        await self.shutdown()

    async def shutdown(self, code: int = 1000):
        """Close (if still open) without letting a slow peer stall the test."""
        if self.ws is None:
            return
        try:
            await asyncio.wait_for(self.ws.close(code), 3)
        except Exception:
            self.abort()

    def abort(self):
        """Drop the TCP connection without a close frame."""
        if self.ws is not None and self.ws.transport is not None:
            self.ws.transport.abort()

    async def close(self, code: int):
        """Client-initiated close handshake with `code`; waits for the server's answer."""
        await asyncio.wait_for(self.ws.close(code), WAIT)

    # -- frames

    def _decode(self, frame) -> dict:
        if self.zlib:
            assert isinstance(frame, bytes), \
                f"compress=zlib-stream but a text frame arrived: {frame!r}"
            assert frame.endswith(ZLIB_SUFFIX), \
                f"zlib-stream message does not end with 00 00 ff ff: {frame[-8:].hex()}"
            text = self.inflater.decompress(frame)
            assert not self.inflater.unconsumed_tail, "zlib-stream message left input unconsumed"
        else:
            assert isinstance(frame, str), f"expected a text frame, got binary {frame[:60]!r}"
            text = frame
        try:
            p = json.loads(text)
        except ValueError:
            raise AssertionError(f"gateway payload is not JSON: {text[:300]!r}")
        assert isinstance(p, dict) and isinstance(p.get("op"), int), f"bad payload {p!r}"
        return p

    async def send(self, payload) -> None:
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload)
        await self.ws.send(payload)

    async def recv(self, timeout: float = WAIT) -> dict:
        """The next payload. Raises Closed if the server closes instead, AssertionError on
        timeout."""
        try:
            frame = await asyncio.wait_for(self.ws.recv(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no payload within {timeout} s; received so far: "
                                 f"{self.summary()}") from None
        except ConnectionClosed as e:
            raise Closed(close_code(e), e.rcvd.reason if e.rcvd else None, self.summary()) from None
        self.raw_frames.append(frame)
        p = self._decode(frame)
        self.log.append(p)
        if p["op"] == 0:
            s, t = p.get("s"), p.get("t")
            assert isinstance(s, int) and isinstance(t, str), f"dispatch without s/t: {p!r}"
            if self.seq is not None:
                assert s == self.seq + 1, \
                    f"dispatch {t} has s={s}, expected {self.seq + 1}; received: {self.summary()}"
            self.seq = s
        else:
            assert p.get("s") is None and p.get("t") is None, f"non-dispatch with s/t: {p!r}"
        return p

    def summary(self, last: int = 30) -> str:
        out = []
        for p in self.log[-last:]:
            if p["op"] == 0:
                out.append(f"{p['t']}#{p['s']}")
            else:
                out.append(f"op{p['op']}")
        return "[" + ", ".join(out) + "]"

    async def expect_op(self, op: int, timeout: float = WAIT) -> dict:
        p = await self.recv(timeout)
        assert p["op"] == op, f"expected op {op}, got {p!r}"
        return p

    async def dispatch(self, t: str | None = None, timeout: float = WAIT) -> dict:
        """The next payload, which must be a dispatch (of type t if given)."""
        p = await self.recv(timeout)
        assert p["op"] == 0, f"expected a dispatch {t or ''}, got {p!r}"
        if t is not None:
            assert p["t"] == t, f"expected {t}, got {p['t']} (s={p['s']}): {str(p['d'])[:300]}"
        return p

    async def collect_until(self, pred: Callable[[dict], bool], timeout: float = WAIT,
                            what: str = "the awaited payload") -> list[dict]:
        """Payloads up to and including the first one satisfying pred (its last element)."""
        got: list[dict] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"{what} did not arrive within {timeout} s; "
                                     f"received: {self.summary()}")
            p = await self.recv(left)
            got.append(p)
            if pred(p):
                return got

    async def expect_close(self, code: int | None, timeout: float = WAIT,
                           what: str = "") -> list[dict]:
        """Read until the server closes; assert its close code; return payloads read first."""
        got: list[dict] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"{what}: connection still open after {timeout} s, expected "
                                     f"close {code}; received: {self.summary()}")
            try:
                got.append(await self.recv(left))
            except Closed as e:
                assert e.code == code, (f"{what}: expected close code {code}, got {e.code} "
                                        f"{e.reason!r}; received: {self.summary()}")
                return got

    # -- gateway operations

    async def hello(self) -> dict:
        p = await self.expect_op(10)
        d = p.get("d")
        assert isinstance(d, dict) and isinstance(d.get("heartbeat_interval"), int) \
            and d["heartbeat_interval"] > 0, f"bad HELLO {p!r}"
        return p

    async def send_identify(self, token: str, intents: int | None = None, **extra) -> None:
        d: dict[str, Any] = {"token": token, "properties": PROPERTIES, **extra}
        if intents is not None:
            d["intents"] = intents
        await self.send({"op": 2, "d": d})

    async def identify(self, token: str, intents: int | None = None, guilds: int | None = None,
                       **extra) -> dict:
        """IDENTIFY; return READY's d after reading the GUILD_CREATE of each guild it lists
        (kept in self.guild_creates)."""
        await self.send_identify(token, intents, **extra)
        self.seq = None
        p = await self.dispatch("READY")
        assert p["s"] == 1, f"READY has s={p['s']}, expected 1"
        ready = p["d"]
        self.session_id = ready.get("session_id")
        self.guild_creates = []
        for _ in ready.get("guilds", []):
            self.guild_creates.append((await self.dispatch("GUILD_CREATE"))["d"])
        if guilds is not None:
            assert len(self.guild_creates) == guilds, \
                f"{len(self.guild_creates)} guilds in READY, expected {guilds}"
        return ready

    async def send_resume(self, token: str, session_id: str, seq) -> None:
        await self.send({"op": 6, "d": {"token": token, "session_id": session_id, "seq": seq}})
        self.seq = seq if isinstance(seq, int) else None

    async def heartbeat(self, timeout: float = WAIT) -> dict:
        await self.send({"op": 1, "d": self.seq})
        return await self.expect_op(11, timeout)

    async def wait_message(self, message_id: str, t: str = "MESSAGE_CREATE",
                           timeout: float = WAIT) -> list[dict]:
        """Payloads up to and including the dispatch `t` about message `message_id`."""
        return await self.collect_until(
            lambda p: p["op"] == 0 and p["t"] == t and p["d"].get("id") == message_id, timeout,
            f"{t} of message {message_id}")


def dispatches(payloads: list[dict], t: str | None = None) -> list[dict]:
    return [p for p in payloads if p["op"] == 0 and (t is None or p["t"] == t)]


class DispatchRecorder:
    """A minimal gateway session for REST tests: IDENTIFY with every intent, then record
    every dispatch in order (`seen`), so a test can wait for one and check the others."""

    def __init__(self, server):
        self.url = f"ws://127.0.0.1:{server.port}/gateway?v=10&encoding=json"
        self.seen: list[tuple[str, dict]] = []
        self.ws = None

    async def open(self, token: str) -> dict:
        self.ws = await asyncio.wait_for(
            websockets.connect(self.url, max_size=None, compression=None, ping_interval=None,
                               close_timeout=2), 5)
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
        assert hello["op"] == 10, hello
        await self.ws.send(json.dumps({"op": 2, "d": {
            "token": token, "intents": (1 << 26) - 1,
            "properties": {"os": "linux", "browser": "e2e", "device": "e2e"}}}))
        ready = await self.wait("READY")
        for _ in ready["guilds"]:
            await self.wait("GUILD_CREATE")
        self.seen.clear()
        return ready

    async def wait(self, t: str, pred=lambda d: True, timeout: float = 5.0) -> dict:
        """The next dispatch of type t satisfying pred (everything read is kept in seen)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no {t} within {timeout} s; saw {[x for x, _ in self.seen]}")
            try:
                p = json.loads(await asyncio.wait_for(self.ws.recv(), left))
            except asyncio.TimeoutError:
                continue
            if p.get("op") != 0:
                continue
            self.seen.append((p["t"], p["d"]))
            if p["t"] == t and pred(p["d"]):
                return p["d"]

    def got(self, t: str, pred=lambda d: True) -> list[dict]:
        return [d for x, d in self.seen if x == t and pred(d)]

    async def close(self):
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 3)
            except Exception:
                self.ws.transport.abort()
