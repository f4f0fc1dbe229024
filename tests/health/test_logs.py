"""observability/logs.py: JSON lines where stdout is not a terminal (a container), a readable
console in a terminal, and LOG_FORMAT forcing either."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
import structlog

from observability.logs import configure_logging


class Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Pipe(io.StringIO):
    """A stdout that is not a terminal, as in a container."""

    def isatty(self) -> bool:
        return False


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put it back after each test."""
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**config)
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def emit(stdout: io.StringIO, log_format: str, level: str = "INFO") -> str:
    """Configure logging onto ``stdout`` and write one event with some context."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdout", stdout)
        configure_logging(level, "node-7", log_format)
        log = structlog.get_logger("tests.logs").bind(user_id=42)
        log.info("profile edited", update_id=1001, action="edited")
        log.debug("not shown at INFO")
    return stdout.getvalue()


@pytest.mark.usefixtures("restored_logging")
class TestFormats:
    def test_json_when_stdout_is_not_a_terminal(self) -> None:
        """LOG_FORMAT=auto writes one JSON object per line when stdout is a pipe."""
        [line] = emit(Pipe(), "auto").splitlines()
        event = json.loads(line)
        assert event["event"] == "profile edited"
        assert event["level"] == "info"
        assert event["node_id"] == "node-7"
        assert (event["user_id"], event["update_id"], event["action"]) == (42, 1001, "edited")
        assert event["timestamp"].endswith("Z")

    def test_console_in_a_terminal(self) -> None:
        """LOG_FORMAT=auto renders for people when stdout is a terminal: not JSON, but the
        event and its context on one line."""
        [line] = emit(Terminal(), "auto").splitlines()
        assert not line.lstrip().startswith("{")
        assert "profile edited" in line
        assert "user_id" in line and "42" in line and "node-7" in line

    def test_json_forced_in_a_terminal(self) -> None:
        """LOG_FORMAT=json writes JSON even to a terminal."""
        [line] = emit(Terminal(), "json").splitlines()
        assert json.loads(line)["event"] == "profile edited"

    def test_console_forced_in_a_pipe(self) -> None:
        """LOG_FORMAT=console renders for people even into a pipe."""
        [line] = emit(Pipe(), "console").splitlines()
        assert "profile edited" in line
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)

    def test_level_filters(self) -> None:
        """LOG_LEVEL=WARNING drops info and debug events."""
        assert emit(Pipe(), "json", level="WARNING") == ""

    def test_exceptions_are_rendered_in_json(self) -> None:
        """log.exception puts the traceback into the JSON event, as one line."""
        stdout = Pipe()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sys, "stdout", stdout)
            configure_logging("INFO", "node-7", "json")
            try:
                raise ValueError("boom")
            except ValueError:
                structlog.get_logger("tests.logs").exception("update handling failed")
        [line] = stdout.getvalue().splitlines()
        event = json.loads(line)
        assert event["level"] == "error"
        assert "ValueError: boom" in event["exception"]
