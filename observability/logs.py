"""structlog set-up: JSON lines in containers, readable console in a terminal.

Context variables do not follow a message into an actor thread, so handlers bind user_id and
update_id from the message they carry (see actors.session).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog


def configure_logging(level: str, node_id: str, log_format: str = "auto") -> None:
    use_console = log_format == "console" or (log_format == "auto" and sys.stdout.isatty())

    def add_node(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event.setdefault("node_id", node_id)
        return event

    renderer: Any = (
        structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_node,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    # Libraries log through the standard library: keep their warnings, drop their chatter.
    logging.basicConfig(
        level=max(logging.WARNING, logging.getLevelName(level)),
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpcore", "apscheduler", "kombu", "amqp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
