"""The baseline for bench/onboarding.py: a plain python-telegram-bot echo bot.

Run by the benchmark as its own process, against the same sandbox, with the same default
HTTP transport our node uses, so that its CPU per update is the cost of PTB itself.
"""

from __future__ import annotations

import os
import sys

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters


async def echo(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    if update.message and update.message.text:
        await update.message.reply_text(update.message.text)


def main() -> int:
    root = os.environ["TELEGRAM_API_URL"]
    application = (
        Application.builder()
        .token(os.environ["BOT_TOKEN"])
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .concurrent_updates(64)
        .connection_pool_size(64)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))
    print("echo bot polling", flush=True)
    application.run_polling(poll_interval=0, timeout=20, drop_pending_updates=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
