"""The demo's entry points: `bot.py --sandbox` and its options, the settings it gives the node,
and the page's files as the sandbox serves them."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from config.settings import load_settings
from devtools import demo
from sandbox.server import DEFAULT_TOKEN, SandboxServer
from tests.demo import ROOT


def run_bot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "bot.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestCommandLine:
    def test_the_demo_flag_is_documented(self) -> None:
        """`bot.py --help` names --sandbox, and `bot.py --sandbox --help` lists the demo's
        options without starting anything."""
        plain = run_bot("--help")
        assert plain.returncode == 0 and "--sandbox" in plain.stdout
        sandbox = run_bot("--sandbox", "--help")
        assert sandbox.returncode == 0, sandbox.stderr
        assert "bot.py --sandbox" in sandbox.stdout
        for option in ("--port", "--seed", "--s3-port", "--metrics-port"):
            assert option in sandbox.stdout

    def test_a_taken_port_is_reported_in_one_line(self, demo_server: SandboxServer) -> None:
        """The demo refuses a page port already in use and says what to do, exit status 2."""
        taken = run_bot("--sandbox", "--port", str(demo_server.port), "--s3-port", "0")
        assert taken.returncode == 2
        assert f"port {demo_server.port} is taken" in taken.stderr
        assert "--port" in taken.stderr

    def test_the_demo_settings_are_valid_node_settings(self) -> None:
        """demo_environ gives settings the node accepts: the sandbox as its Bot API, its own
        database, namespace and bucket, and the admin."""
        settings = load_settings(
            demo.demo_environ(8123, s3_port=9123, metrics_port=0, admin_ids=[7])
        )
        assert settings.bot_token == DEFAULT_TOKEN
        assert settings.telegram_api_url == "http://127.0.0.1:8123"
        assert settings.database_url.endswith(f"/{demo.DEMO_DATABASE}")
        assert settings.redis_namespace == demo.REDIS_NAMESPACE
        assert settings.s3_endpoint == "http://127.0.0.1:9123"
        assert settings.admin_ids == frozenset({7})


class TestPageFiles:
    @pytest.mark.parametrize(
        ("path", "content_type", "marker"),
        [
            ("/", "text/html", "<title>Dating bot — sandbox</title>"),
            ("/web/app.js", "javascript", "/sandbox/chats?changed_since="),
            ("/web/style.css", "text/css", ".inline-btn"),
        ],
    )
    def test_the_page_is_served(
        self, demo_server: SandboxServer, path: str, content_type: str, marker: str
    ) -> None:
        """The sandbox serves the page and its assets with their types, uncached."""
        response = httpx.get(f"{demo_server.url}{path}", timeout=10)
        assert response.status_code == 200
        assert content_type in response.headers["content-type"]
        assert response.headers["cache-control"] == "no-cache"
        assert marker in response.text

    @pytest.mark.parametrize("path", ["/web/missing.js", "/web/..%2Fpage.py", "/web/.hidden"])
    def test_nothing_else_is_served(self, demo_server: SandboxServer, path: str) -> None:
        """Only the page's own files are served: no other file of the package."""
        response = httpx.get(f"{demo_server.url}{path}", timeout=10)
        assert response.status_code == 404

    def test_the_page_loads_nothing_from_elsewhere(self) -> None:
        """No CDN, no build step: the page's files refer to no other host."""
        for name in ("index.html", "app.js", "style.css"):
            text = (ROOT / "sandbox" / "web" / name).read_text(encoding="utf-8")
            assert "http://" not in text and "https://" not in text and "//cdn" not in text
