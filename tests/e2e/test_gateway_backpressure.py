"""A gateway client that stops reading (spec/client-api.md §6.7): the server's memory for it
stays bounded, it is cut off once its replay ring's bound holds only dispatches it was never
sent, the other sessions hear every dispatch in order, and the stalled session can no longer
RESUME (what it missed has left the ring).

The stalled client is a raw socket with a 4 KiB receive buffer and the server's socket has a
16 KiB send buffer (--gateway-sndbuf), so the kernel holds little for it and the server's
own bound (--gateway-max-queued-bytes 65536) is what gives way.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time

import pytest

from gateway_client import GatewayClient, run
from harness import new_user, ok, unique_name

MAX_QUEUED = 65536
MESSAGES = 300          # 300 x ~1.9 KB: far past the 64 KiB ring and the stalled socket
CONTENT = "x" * 1900


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    from harness import HearthServer
    srv = HearthServer(tmp_path_factory.mktemp("hearthd"),
                       ("--gateway-max-queued-bytes", str(MAX_QUEUED),
                        "--gateway-sndbuf", "16384"))
    srv.start()
    yield srv
    srv.stop()


class RawGateway:
    """A minimal blocking WebSocket client: the upgrade, masked text frames out, and frames
    in only when asked (so that it can stop reading)."""

    def __init__(self, port: int, rcvbuf: int = 4096):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(5)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /gateway?v=10&encoding=json HTTP/1.1\r\n"
                           f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        return data

    def send(self, payload: dict) -> None:
        data = json.dumps(payload).encode()
        mask = os.urandom(4)
        assert len(data) < 65536
        hdr = bytes([0x81]) + (bytes([0x80 | len(data)]) if len(data) < 126
                               else bytes([0x80 | 126]) + struct.pack("!H", len(data)))
        self.sock.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def frame(self) -> tuple[int, bytes]:
        """The next frame (opcode, payload); EOFError when the server has closed."""
        while True:
            if len(self.buf) >= 2:
                n = self.buf[1] & 0x7F
                off = 2
                if n == 126:
                    if len(self.buf) < 4:
                        n = None
                    else:
                        n, off = struct.unpack("!H", self.buf[2:4])[0], 4
                elif n == 127:
                    if len(self.buf) < 10:
                        n = None
                    else:
                        n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
                if n is not None and len(self.buf) >= off + n:
                    op, payload = self.buf[0] & 0x0F, self.buf[off:off + n]
                    self.buf = self.buf[off + n:]
                    return op, payload
            self.buf += self._recv()

    def payload(self) -> dict:
        op, data = self.frame()
        assert op == 1, f"opcode {op}: {data[:80]!r}"
        return json.loads(data)

    def close(self) -> None:
        self.sock.close()


def test_stalled_client_is_cut_off_and_others_hear_everything(tight):
    alice = new_user(tight, "bp")
    guild = ok(alice.post("/guilds", {"name": unique_name("g")}), 201)
    general = guild["system_channel_id"]

    stalled = RawGateway(tight.port)
    assert stalled.payload()["op"] == 10
    stalled.send({"op": 2, "d": {"token": alice.token, "intents": 513,
                                 "properties": {"os": "linux", "browser": "e2e",
                                                "device": "e2e"}}})
    ready = stalled.payload()
    assert ready["t"] == "READY"
    session_id, seq = ready["d"]["session_id"], ready["s"]
    while True:  # up to its GUILD_CREATE; from here on it reads nothing
        p = stalled.payload()
        seq = p.get("s") or seq
        if p.get("t") == "GUILD_CREATE":
            break

    async def body():
        healthy = GatewayClient(tight)
        await healthy.open()
        await healthy.hello()
        await healthy.identify(alice.token)
        # Post from a thread while this loop keeps reading: the healthy client keeps up.
        posting = asyncio.ensure_future(asyncio.to_thread(
            lambda: [alice.send(general, f"{i} {CONTENT}")["id"] for i in range(MESSAGES)]))
        got = []
        while len(got) < MESSAGES:
            p = await healthy.recv(timeout=30)
            if p["op"] == 0 and p["t"] == "MESSAGE_CREATE":
                got.append(p["d"]["id"])
        sent = await posting
        assert got == sent, "the healthy session missed or reordered dispatches"
        healthy.abort()
        return sent

    sent = run(body())

    # Now read what the stalled socket holds: a gapless run of its dispatches, then the end
    # of the connection (cut off without a close frame: it could not have read one).
    received = []
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            p = stalled.payload()
            if p.get("op") == 0:
                assert p["s"] == seq + 1, f"gap: s={p['s']} after {seq}"
                seq = p["s"]
                if p["t"] == "MESSAGE_CREATE":
                    received.append(p["d"]["id"])
    except EOFError:
        pass
    else:
        pytest.fail("the stalled connection was not closed")
    finally:
        stalled.close()
    assert received == sent[:len(received)], "the stalled client's dispatches are not a prefix"
    assert len(received) < len(sent), "the stalled client got everything: nothing was bounded"
    # Its unread dispatches were far more than the 64 KiB ring holds: no RESUME.
    assert (len(sent) - len(received)) * len(CONTENT) > MAX_QUEUED
    assert "closing a slow consumer" in tight.log_text()

    async def resume():
        gw = GatewayClient(tight)
        await gw.open()
        await gw.hello()
        await gw.send_resume(alice.token, session_id, seq)
        p = await gw.expect_op(9)
        assert p["d"] is False
        gw.abort()

    run(resume())
