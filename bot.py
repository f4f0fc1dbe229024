"""Start one node of the dating bot: `python bot.py` (settings from the environment)."""

from __future__ import annotations

import asyncio
import signal
import sys

from config.settings import Settings, SettingsError, load_settings
from node.app import Node
from node.logs import configure_logging


async def serve(settings: Settings) -> None:
    node = Node(settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, node.request_stop)
    await node.run()


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.node_id, settings.log_format)
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
