"""discord.js v14 against a real hearthd: login, cache, messages both ways, typing, presence,
and a server-forced disconnect that the bot resumes from (spec/client-api.md §6)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

from harness import Api, new_user

JS_DIR = Path(__file__).parent / "discordjs"


def test_discordjs_bot_end_to_end(server):
    assert shutil.which("node") and (JS_DIR / "node_modules" / "discord.js").is_dir(), \
        "node and tests/e2e/discordjs/node_modules are needed: `make test` installs them"
    alice = new_user(server, "djs_alice")
    guild = alice.post("/guilds", {"name": "discord.js guild"}).json()
    channel = guild["system_channel_id"]
    app = alice.post("/applications", {"name": "djs bot"}).json()
    token = alice.post(f"/applications/{app['id']}/bot/reset").json()["token"]
    r = alice.post(f"/oauth2/authorize?client_id={app['id']}&scope=bot",
                   {"guild_id": guild["id"], "permissions": "0", "authorize": True})
    assert r.status_code == 200, r.text

    env = dict(os.environ, HEARTH_BASE=server.base_url, USER_TOKEN=alice.token, BOT_TOKEN=token,
               CHANNEL_ID=channel, HEARTHD_PID=str(server.proc.pid))
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(k, None)
    proc = subprocess.run(["node", str(JS_DIR / "bot.cjs")], env=env, capture_output=True,
                          text=True, timeout=90)
    steps = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    by = {s["step"]: s for s in steps}
    trace = f"exit {proc.returncode}\nsteps: {steps}\nstderr: {proc.stderr[-2000:]}"
    assert proc.returncode == 0, trace

    ready = by["ready"]
    assert ready["user"] == app["bot"]["id"], trace
    assert ready["guilds"] == 1 and ready["channelCached"] and ready["channelName"] == "general"
    assert by["typing"] == {"step": "typing", "channel": channel, "user": alice.user_id}
    assert by["presence"]["user"] == alice.user_id and by["presence"]["status"] == "dnd"
    assert by["presence"]["activity"] == "testing Hearth"
    assert by["ping"]["author"] == alice.user_id and by["ping"]["guild"] == guild["id"]
    assert by["replied"]["content"] == "pong"
    # The reply is stored, by the bot, in the channel.
    stored = alice.get(f"/channels/{channel}/messages/{by['replied']['id']}").json()
    assert stored["content"] == "pong" and stored["author"]["id"] == app["bot"]["id"]
    # Forced off with 4000, the bot resumed and got what was posted meanwhile, replayed.
    assert "posted-while-away" in by and "away-received" in by, trace
    order = [s["step"] for s in steps]
    assert order.index("posted-while-away") < order.index("away-received") < order.index("resumed")
    assert by["resumed"]["replayed"] >= 2, trace  # the message and RESUMED itself
    assert "disconnect" not in by, trace
