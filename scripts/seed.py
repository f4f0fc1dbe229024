"""Add generated profiles to the running demo: `python -m scripts.seed --count 50`.

The profiles (devtools/seed.py) go into the demo's database, S3 server and sandbox, found where
`scripts/demo` puts them (`--port`, `--s3-port` as given to the demo). Node settings in the
environment (DATABASE_URL, S3_*, TELEGRAM_API_URL, BOT_TOKEN, ...) override those defaults,
for a sandbox run some other way. `scripts/demo --seed 50` seeds at start instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # also runs as `python scripts/seed.py`
    sys.path.insert(0, str(ROOT))

from config.settings import SETTINGS, SettingsError, load_settings  # noqa: E402
from devtools.demo import DEFAULT_PAGE_PORT, DEFAULT_S3_PORT, demo_environ  # noqa: E402
from devtools.seed import seed_profiles, summary  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.seed", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--count", type=int, default=20, help="profiles to add (%(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PAGE_PORT, help="the demo's sandbox port (%(default)s)"
    )
    parser.add_argument(
        "--s3-port", type=int, default=DEFAULT_S3_PORT, help="the demo's S3 port (%(default)s)"
    )
    parser.add_argument(
        "--rng-seed",
        type=int,
        default=None,
        help="makes the generated people repeatable (default: random)",
    )
    args = parser.parse_args(argv)
    known = {setting.env for setting in SETTINGS}
    environ = {
        **demo_environ(args.port, s3_port=args.s3_port),
        **{name: value for name, value in os.environ.items() if name in known},
    }
    try:
        settings = load_settings(environ)
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    rng_seed = args.rng_seed if args.rng_seed is not None else int.from_bytes(os.urandom(4))
    print(summary(seed_profiles(settings, args.count, rng_seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
