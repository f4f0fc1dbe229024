"""The table of faults in docs/reliability.md, from a real run of the fault suite.

    flock -x /tmp/services.lock .venv/bin/python -m bench.fault_table [--print-only]
    .venv/bin/python -m bench.fault_table --table FILE

Runs tests/faults/test_under_load.py (50 people while Telegram, S3, Redis, RabbitMQ and
PostgreSQL fail one after another; it restarts the machine's real servers, so nothing else may
use them meanwhile), prints the table the run wrote and, unless --print-only, puts it into
docs/reliability.md between its two markers. A failing run changes nothing. With --table, the
table a run already wrote (FAULT_TABLE=FILE) is put in instead, without a run.
"""

from __future__ import annotations

import argparse
import datetime as dtm
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = "tests/faults/test_under_load.py"
DOC = ROOT / "docs" / "reliability.md"
BEGIN = "<!-- fault-table:begin (bench/fault_table.py writes what follows) -->"
END = "<!-- fault-table:end -->"


def run_suite(table: Path) -> int:
    command = [sys.executable, "-m", "pytest", SUITE, "-q", "-s", "-p", "no:cacheprovider"]
    environ = {**os.environ, "FAULT_TABLE": str(table)}
    return subprocess.run(command, check=False, cwd=ROOT, env=environ).returncode


def commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() or "unknown"


def with_table(doc: str, table: str, source: str) -> str:
    """The document with the text between the markers replaced by the table."""
    head, begin, rest = doc.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise SystemExit(f"{DOC} has no {BEGIN!r} … {END!r} markers")
    stamp = dtm.datetime.now(dtm.UTC).strftime("%Y-%m-%d %H:%M UTC")
    note = f"Measured by {source}; pasted {stamp}, at commit {commit()}."
    return f"{head}{BEGIN}\n{table.strip()}\n\n{note}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--print-only", action="store_true", help="leave the doc alone")
    parser.add_argument("--table", type=Path, help="a table a run wrote (FAULT_TABLE)")
    args = parser.parse_args()
    if args.table is not None:
        table = args.table.read_text(encoding="utf-8")
    else:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "faults.md"
            code = run_suite(path)
            if code != 0 or not path.exists():
                print(f"the fault suite failed ({code}): the doc stays as it was", file=sys.stderr)
                return code or 1
            table = path.read_text(encoding="utf-8")
    print(table)
    if not args.print_only:
        source = (
            f"a run of `{SUITE}` (`--table`)"
            if args.table is not None
            else "`python -m bench.fault_table`"
        )
        doc = with_table(DOC.read_text(encoding="utf-8"), table, source)
        DOC.write_text(doc, encoding="utf-8")
        print(f"written to {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
