"""The demo: its web page in a real browser, seeded profiles, /stats, and the command."""

from pathlib import Path

SEED_COUNT = 40  # profiles the demo tests seed
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
