"""The dead letters, for an operator: ``python -m app.deadletters list|replay|purge [--user ID]``
with the node's settings in the environment (AMQP_URL, SHARDS).

list   prints one line per dead letter, oldest first: when, whose, what, and the error's
       last line (--full: the whole error);
replay gives them back to their shards, to be handled again (after a fix is deployed);
purge  drops them.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from config.settings import load_settings
from messaging.deadletters import DeadLetter, DeadLetters


def describe(letter: DeadLetter, full: bool = False) -> str:
    when = datetime.fromtimestamp(letter.dead_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
    lines = letter.error.strip().splitlines() or [""]
    error = letter.error.strip() if full else lines[-1]
    return f"{when} user={letter.user_id} {letter.kind}={letter.key} node={letter.node} {error}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.deadletters", description=__doc__)
    parser.add_argument("action", choices=("list", "replay", "purge"))
    parser.add_argument("--user", type=int, default=None, help="only this user's")
    parser.add_argument("--full", action="store_true", help="list: the whole error")
    args = parser.parse_args(argv)
    settings = load_settings()
    letters = DeadLetters(settings.amqp_url, settings.shards)
    if args.action == "list":
        found = letters.list(args.user)
        for letter in found:
            print(describe(letter, args.full))
        print(f"{len(found)} dead letters", file=sys.stderr)
    elif args.action == "replay":
        print(f"{letters.replay(args.user)} dead letters given back to their shards")
    else:
        print(f"{letters.purge(args.user)} dead letters dropped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
