"""The Bot API client (PTB's Bot) and the bridge that lets actor threads use it.

PTB is not thread-safe: the Bot lives on the node's event loop and actor threads reach it only
through TelegramGateway, which schedules the call on that loop and waits in the calling thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import warnings
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import quote

from telegram import Bot
from telegram.error import TelegramError
from telegram.warnings import PTBUserWarning

from bot_api.transport import AiohttpRequest, call_api
from config.settings import Settings

# Opt in to PTB's coming behaviour: durations such as RetryAfter.retry_after are timedeltas.
os.environ.setdefault("PTB_TIMEDELTA", "true")
# The intake calls getUpdates through Bot.do_api_request on purpose (raw updates, no PTB
# objects); PTB warns on every such call for a method it also wraps.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.", category=PTBUserWarning)

T = TypeVar("T")
GATEWAY_TIMEOUT_SECONDS = 30.0
DOWNLOAD_TIMEOUT_SECONDS = 60.0


def build_bot(settings: Settings, pool_size: int = 64) -> Bot:
    return Bot(
        settings.bot_token,
        base_url=settings.bot_api_base_url,
        base_file_url=settings.bot_file_base_url,
        request=AiohttpRequest(connection_pool_size=pool_size),
        get_updates_request=AiohttpRequest(connection_pool_size=1, read_timeout=40),
    )


class FileTooLarge(Exception):
    """Telegram reports a file larger than the caller accepts; nothing was downloaded."""


class TelegramGateway:
    def __init__(self, bot: Bot, loop: asyncio.AbstractEventLoop) -> None:
        self.bot = bot
        self.loop = loop

    def run(self, make: Callable[[], Awaitable[T]], timeout: float = GATEWAY_TIMEOUT_SECONDS) -> T:
        """Run a coroutine on the bot's loop from another thread and wait for its result."""
        if _running_loop() is self.loop:
            raise RuntimeError("TelegramGateway.run called on the bot's own loop")

        async def call() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout)

    def download(self, file_id: str, max_bytes: int) -> bytes:
        """The bytes of a Telegram file, refusing before download what is over max_bytes."""

        async def fetch() -> bytes:
            # Raw getFile, not Bot.get_file: PTB asks the file system whether the path names
            # a local file (a Bot API server in local mode) before it downloads, which took
            # about a millisecond of the loop per photo here.
            file = await call_api(self.bot, "getFile", {"file_id": file_id})
            size, path = file.get("file_size"), file.get("file_path")
            if size and size > max_bytes:
                raise FileTooLarge(size)
            if not path:
                raise TelegramError("Telegram gave no file_path to download")
            data = await self.bot.request.retrieve(
                f"{self.bot.base_file_url}/{quote(path)}", read_timeout=DOWNLOAD_TIMEOUT_SECONDS
            )
            if len(data) > max_bytes:
                raise FileTooLarge(len(data))
            return data

        return self.run(fetch, DOWNLOAD_TIMEOUT_SECONDS)

    def photo_file_id(self, chat_id: int, data: bytes) -> str:
        """A photo file_id for image bytes that came as a document (whose file_id Telegram
        refuses in sendPhoto): upload them as a photo to the chat, take the largest size's
        file_id and delete the carrier message at once (the file_id stays valid)."""

        async def upload() -> str:
            message = await self.bot.send_photo(chat_id, data, disable_notification=True)
            with contextlib.suppress(TelegramError):
                await self.bot.delete_message(chat_id, message.message_id)
            return message.photo[-1].file_id

        return self.run(upload, DOWNLOAD_TIMEOUT_SECONDS)

    def video_file_id(self, chat_id: int, data: bytes, duration: int) -> tuple[str, str]:
        """A video's file_id and file_unique_id for bytes that came as a video note (whose
        file_id Telegram refuses in sendVideo), the same way as photo_file_id."""

        async def upload() -> tuple[str, str]:
            message = await self.bot.send_video(
                chat_id, data, duration=duration, disable_notification=True
            )
            with contextlib.suppress(TelegramError):
                await self.bot.delete_message(chat_id, message.message_id)
            if message.video is None:
                raise TelegramError("Telegram answered sendVideo without a video")
            return message.video.file_id, message.video.file_unique_id

        return self.run(upload, DOWNLOAD_TIMEOUT_SECONDS)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
