#!/usr/bin/env python3
"""Test fixtures written straight into a hearthd database (the server may be running:
SQLite serialises the writers). Used by the browser tests for what the REST API cannot
do quickly: messages dated days back (a second user joins a guild by a real invite).

  dbseed.py DB messages CHANNEL_ID AUTHOR_ID COUNT DAYS
      COUNT messages spread evenly over the last DAYS days (ids carry their timestamps,
      so history spans several days for the day separators), "history 1".."history N"
"""
import sqlite3
import sys
import time

DISCORD_EPOCH_MS = 1420070400000
PROCESS_ID = 30  # never the server's (0) nor hearthctl's (31)


def snowflake(ms: int, n: int) -> int:
    return ((ms - DISCORD_EPOCH_MS) << 22) | (PROCESS_ID << 12) | (n & 0xFFF)


def main() -> None:
    db = sqlite3.connect(sys.argv[1], timeout=10)
    cmd = sys.argv[2]
    now = int(time.time() * 1000)
    with db:
        if cmd == "messages":
            channel, author, count, days = (int(x) for x in sys.argv[3:7])
            start = now - days * 86400000
            step = (days * 86400000 - 60000) // max(1, count)
            last = 0
            for i in range(count):
                last = snowflake(start + i * step, i)
                db.execute("INSERT INTO messages (channel_id, id, author_id, content) "
                           "VALUES (?, ?, ?, ?)", (channel, last, author, f"history {i + 1}"))
            db.execute("UPDATE channels SET last_message_id = max(coalesce(last_message_id, 0), ?) "
                       "WHERE id = ?", (last, channel))
        else:
            sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
