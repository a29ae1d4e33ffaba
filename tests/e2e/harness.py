"""Helpers for the hearthd end-to-end tests (fixtures live in conftest.py).

End-to-end harness for hearthd: real processes on free loopback ports.

Run from the repository root with the system interpreter (it has pytest, requests and
websockets from Debian):

    /usr/bin/python3 -m pytest -q tests/e2e

Environment:
    HEARTHD    path of the server binary   (default <repo>/build/hearthd)
    HEARTHCTL  path of the admin tool      (default <repo>/build/hearthctl)

Every server gets a fresh data directory and a free port, and is started as
`hearthd --data-dir DIR --listen 127.0.0.1:PORT --server-name test.local
--ratelimit-enabled 0` (then the test's extra args, which may turn rate limits back on:
see tests/e2e/test_ratelimits.py) with stdout and stderr appended to DIR/hearthd.log.
A test fails if the server does not become ready
(GET /healthz -> 200) within 20 s, does not exit 0 within 10 s of SIGTERM, or writes a
sanitizer report to its log at any time (checked after every test and at shutdown).

Fixtures:
    server          one server per test module (tests in a module must not rely on a clean
                    database, only on the objects they create themselves)
    server_factory  call it to start extra servers owned by one test (restart, kill -9 ...)
"""

from __future__ import annotations

import base64
import datetime as _dt
import itertools
import json as _json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
HEARTHD = Path(os.environ.get("HEARTHD", REPO / "build" / "hearthd"))
HEARTHCTL = Path(os.environ.get("HEARTHCTL", REPO / "build" / "hearthctl"))

READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 15.0

# Suites post far faster than Discord's limits allow (spec/rest-ratelimits.md); the tests
# of the limits themselves turn them on per server with extra args. The gateway shares
# every flush of two or more connections with two writer threads, so that the suites, which
# hold a handful of sessions, run the path a large guild takes (spec/client-api.md §6.7).
DEFAULT_ARGS = ("--ratelimit-enabled", "0", "--gateway-writers", "3", "--gateway-writer-min", "2")

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "WARNING: ThreadSanitizer",
)

DISCORD_EPOCH_MS = 1420070400000
DEFAULT_PASSWORD = "correct horse battery"
DEFAULT_EVERYONE = 1799872721571393

ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$")
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]{32}")


# --------------------------------------------------------------------------- processes


def direct_session() -> requests.Session:
    """A session that ignores *_proxy variables: the servers are on loopback."""
    s = requests.Session()
    s.trust_env = False
    return s


_direct = direct_session()


def free_port() -> int:
    """A port the kernel just handed out on 127.0.0.1 (closed again before returning)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _require_binary(path: Path, what: str) -> None:
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{what} not found at {path}: build it (make) or set the environment variable "
                    f"{what.upper()}", pytrace=False)


def sanitizer_report(text: str) -> str | None:
    """The first lines of a sanitizer report in `text`, or None."""
    for marker in SANITIZER_MARKERS:
        i = text.find(marker)
        if i >= 0:
            start = text.rfind("\n", 0, max(0, i - 200)) + 1
            return text[start:start + 4000]
    return None


class HearthServer:
    """One hearthd data directory and the process (at most one at a time) serving it."""

    live: "list[HearthServer]" = []

    def __init__(self, data_dir: Path, extra_args: tuple[str, ...] = ()):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / "hearthd.log"
        self.extra_args = tuple(extra_args)
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.runs = 0
        self._scanned = 0  # log offset already checked for sanitizer reports
        self._should_run = False  # started and not deliberately stopped or killed since

    # -- URLs

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/v10"

    # -- lifecycle

    def start(self, port: int | None = None) -> "HearthServer":
        """Start hearthd (on a new free port unless one is given) and wait for /healthz."""
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        _require_binary(HEARTHD, "hearthd")
        self.port = port or free_port()
        self.runs += 1
        argv = [str(HEARTHD), "--data-dir", str(self.data_dir),
                "--listen", f"127.0.0.1:{self.port}", "--server-name", "test.local",
                *DEFAULT_ARGS, *self.extra_args]
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        with open(self.log_path, "ab") as log:
            log.write(f"=== e2e: run {self.runs}: {' '.join(argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env)
        self._should_run = True
        if self not in HearthServer.live:
            HearthServer.live.append(self)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self._should_run = False
                pytest.fail(f"hearthd exited with {rc} before it was ready\n{self.log_tail()}",
                            pytrace=False)
            try:
                r = _direct.get(self.base_url + "/healthz", timeout=1.0)
                if r.status_code == 200:
                    assert r.json() == {"status": "ok"}, f"/healthz body {r.text!r}"
                    return
                last = f"HTTP {r.status_code} {r.text[:200]!r}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.05)  # polling interval, not synchronisation
        self.kill9()
        pytest.fail(f"hearthd not ready after {READY_TIMEOUT} s (last: {last})\n{self.log_tail()}",
                    pytrace=False)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM; the process must exit 0 within STOP_TIMEOUT and leave no sanitizer report."""
        if self.proc is None or self.proc.poll() is not None:
            self.check_log()
            self.check_alive()
            return
        self._should_run = False
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"hearthd did not exit within {STOP_TIMEOUT} s of SIGTERM\n"
                        f"{self.log_tail()}", pytrace=False)
        self.check_log()
        if rc != 0:
            pytest.fail(f"hearthd exited with status {rc} after SIGTERM (expected 0)\n"
                        f"{self.log_tail()}", pytrace=False)

    def kill9(self) -> None:
        """SIGKILL, as a crash or power loss would (no clean shutdown)."""
        self._should_run = False
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def restart(self) -> "HearthServer":
        """Graceful stop (checked) then start again on the same data directory."""
        self.stop()
        return self.start()

    def check_alive(self) -> None:
        """Fail if the process died on its own (crash, abort) since it was started."""
        if self._should_run and self.proc is not None and self.proc.poll() is not None:
            self._should_run = False
            pytest.fail(f"hearthd died unexpectedly with status {self.proc.returncode}\n"
                        f"{self.log_tail()}", pytrace=False)

    # -- logs

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n: int = 60) -> str:
        lines = self.log_text().splitlines()[-n:]
        return f"--- last {len(lines)} lines of {self.log_path} ---\n" + "\n".join(lines)

    def check_log(self) -> None:
        """Fail if the part of the log not yet checked holds a sanitizer report."""
        text = self.log_text()
        fresh = text[self._scanned:]
        self._scanned = len(text)
        report = sanitizer_report(fresh)
        if report:
            pytest.fail(f"sanitizer report in {self.log_path}:\n{report}", pytrace=False)

    def close(self) -> None:
        """Teardown: stop if running, forget it; failures propagate to the test."""
        try:
            self.stop()
        finally:
            if self.running:
                self.kill9()
            if self in HearthServer.live:
                HearthServer.live.remove(self)


# --------------------------------------------------------------------------- hearthctl


def hearthctl(*args: str, check: bool = True, timeout: float = 30.0) -> subprocess.CompletedProcess:
    _require_binary(HEARTHCTL, "hearthctl")
    cp = subprocess.run([str(HEARTHCTL), *args], capture_output=True, text=True, timeout=timeout,
                        stdin=subprocess.DEVNULL)
    report = sanitizer_report(cp.stderr + cp.stdout)
    assert report is None, f"sanitizer report from hearthctl {args}:\n{report}"
    if check:
        assert cp.returncode == 0, (f"hearthctl {' '.join(args)} exited {cp.returncode}\n"
                                    f"stdout: {cp.stdout}\nstderr: {cp.stderr}")
    return cp


def token_from_output(text: str) -> str:
    """The (last) token printed by hearthctl."""
    found = TOKEN_RE.findall(text)
    assert found, f"no token in hearthctl output {text!r}"
    return found[-1]


# --------------------------------------------------------------------------- REST client

_MISSING = object()


class Api:
    """A tiny REST client bound to one server and (optionally) one token.

    User tokens are sent raw, bot tokens as `Bot <token>`; `raw_auth` overrides the header.
    Paths are relative to /api/v10. Returns `requests.Response`; use `ok()`/`err()` below.
    """

    def __init__(self, server: HearthServer, token: str | None = None, bot: bool = False,
                 user_id: str | None = None, username: str | None = None,
                 password: str | None = None):
        self.server = server
        self.token = token
        self.bot = bot
        self.user_id = user_id
        self.username = username
        self.password = password
        self.session = direct_session()

    def __repr__(self):
        return f"<Api {'bot' if self.bot else 'user'} {self.username or self.user_id}>"

    @property
    def auth_header(self) -> str | None:
        if self.token is None:
            return None
        return f"Bot {self.token}" if self.bot else self.token

    def request(self, method: str, path: str, *, json=_MISSING, data=None, params=None,
                headers=None, raw_auth=_MISSING, prefix: str = "/api/v10",
                timeout: float = HTTP_TIMEOUT) -> requests.Response:
        h = {}
        auth = self.auth_header if raw_auth is _MISSING else raw_auth
        if auth is not None:
            h["Authorization"] = auth
        if json is not _MISSING:
            data = _json.dumps(json, ensure_ascii=False).encode()
            h["Content-Type"] = "application/json"
        elif data is not None:
            h["Content-Type"] = "application/json"
        if headers:
            h.update(headers)
        return self.session.request(method, self.server.base_url + prefix + path, data=data,
                                    params=params, headers=h, timeout=timeout)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=_MISSING, **kw):
        return self.request("POST", path, json=json, **kw)

    def patch(self, path, json=_MISSING, **kw):
        return self.request("PATCH", path, json=json, **kw)

    def put(self, path, json=_MISSING, **kw):
        return self.request("PUT", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # -- conveniences used across tests

    def me(self) -> dict:
        return ok(self.get("/users/@me"))

    def send(self, channel_id: str, content: str, **extra) -> dict:
        return ok(self.post(f"/channels/{channel_id}/messages", {"content": content, **extra}))

    def history(self, channel_id: str, **params) -> list[dict]:
        return ok(self.get(f"/channels/{channel_id}/messages", params=params))

    def all_messages(self, channel_id: str, page: int = 100) -> list[dict]:
        """Every message of a channel, oldest first, paging with `before`."""
        out: list[dict] = []
        before = None
        while True:
            params = {"limit": page}
            if before is not None:
                params["before"] = before
            batch = self.history(channel_id, **params)
            if not batch:
                break
            out.extend(batch)
            before = batch[-1]["id"]
        out.reverse()
        return out

    def create_guild(self, name: str = "Test Guild") -> dict:
        return ok(self.post("/guilds", {"name": name}), 201)

    def create_channel(self, guild_id: str, name: str, type: int = 0, **extra) -> dict:
        return ok(self.post(f"/guilds/{guild_id}/channels", {"name": name, "type": type, **extra}),
                  201)


def describe(r: requests.Response) -> str:
    req = r.request
    body = req.body
    if isinstance(body, bytes):
        body = body[:300].decode(errors="replace")
    elif isinstance(body, str):
        body = body[:300]
    return (f"{req.method} {req.url} body={body!r} -> HTTP {r.status_code} "
            f"{r.text[:600]!r}")


def ok(r: requests.Response, status: int = 200):
    """Assert `status` and a JSON body (None for 204); return the decoded body."""
    assert r.status_code == status, f"expected {status}: {describe(r)}"
    if status == 204:
        assert r.content == b"", f"204 with a body: {describe(r)}"
        return None
    ctype = r.headers.get("Content-Type", "")
    assert ctype.startswith("application/json"), f"Content-Type {ctype!r}: {describe(r)}"
    try:
        return r.json()
    except ValueError:
        pytest.fail(f"response is not JSON: {describe(r)}", pytrace=False)


def err(r: requests.Response, status: int, code: int, message: str | None = None) -> dict:
    """Assert a Discord-style error `{code, message}` and return the body."""
    assert r.status_code == status, f"expected {status} {code}: {describe(r)}"
    ctype = r.headers.get("Content-Type", "")
    assert ctype.startswith("application/json"), f"Content-Type {ctype!r}: {describe(r)}"
    try:
        body = r.json()
    except ValueError:
        pytest.fail(f"error body is not JSON: {describe(r)}", pytrace=False)
    assert isinstance(body, dict) and body.get("code") == code, f"expected code {code}: {describe(r)}"
    assert isinstance(body.get("message"), str), describe(r)
    if message is not None:
        assert body["message"] == message, describe(r)
    return body


def form_err(r: requests.Response, field: str | None = None, code: str | None = None,
             message: str | None = None) -> dict:
    """Assert `400 50035 Invalid Form Body`, optionally errors.<field>._errors[0].code."""
    body = err(r, 400, 50035, "Invalid Form Body")
    if field is None:
        return body
    node = body.get("errors")
    assert isinstance(node, dict), f"no errors object: {describe(r)}"
    for part in field.split("."):
        assert isinstance(node, dict) and part in node, f"no errors.{field}: {describe(r)}"
        node = node[part]
    errs = node.get("_errors") if isinstance(node, dict) else None
    assert isinstance(errs, list) and errs, f"no errors.{field}._errors: {describe(r)}"
    assert isinstance(errs[0], dict) and isinstance(errs[0].get("message"), str), describe(r)
    if code is not None:
        assert errs[0].get("code") == code, f"expected {field} {code}: {describe(r)}"
    if message is not None:
        assert errs[0].get("message") == message, describe(r)
    return body


# --------------------------------------------------------------------------- accounts

_names = itertools.count(1)


def unique_name(prefix: str = "user") -> str:
    """A valid username (a-z0-9_.) unique within this test process."""
    return f"{prefix}_{os.getpid() % 10000}_{next(_names)}"[:32]


def register(server: HearthServer, username: str, password: str = DEFAULT_PASSWORD,
             **extra) -> str:
    """Register and return the token."""
    return register_full(server, username, password, **extra)["token"]


def register_full(server: HearthServer, username: str, password: str = DEFAULT_PASSWORD,
                  **extra) -> dict:
    r = Api(server).post("/auth/register", {"username": username, "password": password, **extra})
    body = ok(r, 201)
    assert set(body) >= {"token", "user_id"}, describe(r)
    return body


def login(server: HearthServer, name: str, password: str = DEFAULT_PASSWORD) -> str:
    body = ok(Api(server).post("/auth/login", {"login": name, "password": password}))
    return body["token"]


def new_user(server: HearthServer, prefix: str = "user", password: str = DEFAULT_PASSWORD,
             **extra) -> Api:
    """Register a fresh user and return an Api bound to its token."""
    name = unique_name(prefix)
    body = register_full(server, name, password, **extra)
    return Api(server, body["token"], user_id=body["user_id"], username=name, password=password)


# --------------------------------------------------------------------------- shapes


def is_snowflake(value) -> bool:
    return (isinstance(value, str) and value.isdigit() and not value.startswith("0")
            and 0 < int(value) < 2 ** 63)


def assert_snowflake(value, what: str = "id") -> None:
    assert is_snowflake(value), f"{what} is not a snowflake string: {value!r}"


def parse_ts(value: str) -> _dt.datetime:
    assert isinstance(value, str) and ISO_RE.match(value), f"not an ISO 8601 timestamp: {value!r}"
    return _dt.datetime.fromisoformat(value)


def snowflake_ms(sf: str) -> int:
    """Unix milliseconds encoded in a snowflake."""
    return (int(sf) >> 22) + DISCORD_EPOCH_MS


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
