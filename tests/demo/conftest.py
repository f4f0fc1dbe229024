"""The demo as the tests run it: fresh services of its own (seeded Moscow profiles must not
meet the other tests' feeds), the sandbox with the web page, an admin, seeded profiles, a node,
and a headless Chromium driven by Selenium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from config.settings import Settings, load_settings
from devtools import demo
from devtools.seed import SeededProfile, seed_profiles
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from storage import db
from storage.photos import PhotoStore
from tests.demo import SEED_COUNT
from tests.support.services import S3_ACCESS_KEY, S3_SECRET_KEY, Services, fresh_services
from tests.support.stack import NodeThread, schema_pool

RNG_SEED = 1
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1600,1000",
    "--lang=en-US",
)


@pytest.fixture(scope="session")
def demo_services() -> Iterator[Services]:
    with fresh_services() as made:
        yield made


@pytest.fixture(scope="session")
def demo_server() -> Iterator[SandboxServer]:
    """The sandbox with the page, started the way the demo starts it (on a free port)."""
    server = demo.start_sandbox()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def demo_sandbox(demo_server: SandboxServer) -> Iterator[SandboxClient]:
    with SandboxClient(demo_server.url) as client:
        yield client


@pytest.fixture(scope="session")
def admin_id(demo_server: SandboxServer) -> int:
    return demo.create_admin(demo_server.url)


@pytest.fixture(scope="session")
def demo_environ(
    demo_services: Services, demo_server: SandboxServer, admin_id: int
) -> dict[str, str]:
    return demo_services.environ(
        BOT_TOKEN=demo_server.token,
        TELEGRAM_API_URL=demo_server.url,
        ADMIN_IDS=str(admin_id),
        S3_BUCKET="dating-demo-test",
    )


@pytest.fixture(scope="session")
def demo_settings(demo_environ: dict[str, str], admin_id: int) -> Settings:
    settings = load_settings(demo_environ)
    demo.register(settings, admin_id)
    return settings


@pytest.fixture(scope="session")
def seeded(demo_settings: Settings) -> list[SeededProfile]:
    return seed_profiles(demo_settings, SEED_COUNT, RNG_SEED)


@pytest.fixture(scope="session")
def demo_node(demo_environ: dict[str, str], seeded: list[SeededProfile]) -> Iterator[NodeThread]:
    with NodeThread(demo_environ) as running:
        yield running


@pytest.fixture(scope="session")
def demo_pool(demo_settings: Settings) -> Iterator[db.Pool]:
    with schema_pool(demo_settings.database_url, "demo-tests") as made:
        yield made


@pytest.fixture(scope="session")
def demo_photos(demo_settings: Settings) -> PhotoStore:
    return PhotoStore(
        demo_settings.s3_endpoint, S3_ACCESS_KEY, S3_SECRET_KEY, demo_settings.s3_bucket
    )


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """Debian's Chromium, headless, with a fresh profile; its console is kept for the test."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.fail(
            "the browser test needs chromium and chromedriver: scripts/bootstrap "
            "installs them (apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    made = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        yield made
    finally:
        made.quit()
