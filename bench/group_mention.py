"""Group mention benchmark: posting with a 1,000-member ``@all`` against a
plain post, in the same run.

    .venv/bin/python bench/group_mention.py [--members 1000] [--samples 100]

A scratch database (on DATABASE_URL's server) is created, migrated and given
a room of ``--members`` members besides its owner (an admin, so @all is
allowed); then the owner posts, interleaved, a plain message and an
``@all`` message through chatroom.services.message_post (the whole posting
path: the posting function, the one statement storing the 1,000 mention
rows and notifications, the after-commit pushes queued). Prints p50/p95/p99
of each in milliseconds, and the mention rows the run stored."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import created_scratch_database, percentile  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    name = f"teamhub_bench_group_mention_{os.getpid()}"
    os.environ.update(DEBUG="0", DJANGO_SETTINGS_MODULE="config.settings", LOG_LEVEL="WARNING",
                      CHAT_MESSAGE_RATE="1000000")
    with created_scratch_database(name):
        return run(args, name)


def run(args, name: str) -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from accounts.models import Profile, User
    from chatroom.models import Mention, RoomMember
    from chatroom.services import message_post, room_create
    from realtime.broadcast import flush_broadcasts

    settings.CHAT_MESSAGE_RATE = 10**9  # the benchmark posts faster than any person may
    print(f"scratch database {name}: migrating ...", flush=True)
    call_command("migrate", verbosity=0)
    owner = User.objects.create(username="owner", email="owner@example.com")
    room = room_create(owner=owner, name="everyone")
    users = User.objects.bulk_create([User(username=f"member{i:04d}", email=f"member{i}@example.com")
                                      for i in range(args.members)])
    Profile.objects.bulk_create([Profile(user=u) for u in users], ignore_conflicts=True)
    RoomMember.objects.bulk_create([RoomMember(room=room, user=u) for u in users])
    print(f"room of {args.members + 1} members; {args.samples} posts of each kind, interleaved", flush=True)

    timings = {"plain": [], "@all": []}
    for i in range(args.samples + 5):
        for kind, text in (("plain", f"plain message {i}"), ("@all", f"@all message {i}")):
            start = time.perf_counter()
            message_post(actor=owner, room=room, content=text)
            elapsed = (time.perf_counter() - start) * 1000
            if i >= 5:  # warm-up
                timings[kind].append(elapsed)
        flush_broadcasts()  # the pushes are sent off the posting thread; keep the queue from piling up
    for kind, values in timings.items():
        print(f"{kind:>6}: p50 {percentile(values, 50):7.2f} ms  p95 {percentile(values, 95):7.2f} ms  "
              f"p99 {percentile(values, 99):7.2f} ms")
    print(f"mention rows stored: {Mention.objects.count()} "
          f"({args.members} per @all post x {args.samples + 5} posts expected)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
