"""An aiohttp transport for PTB's Bot.

PTB's default HTTPXRequest costs about 3.4 ms of CPU per Bot API call on this machine; the
node makes one to three calls per update, so the transport dominated its CPU. aiohttp does the
same request for a fraction of that (see bench/onboarding.py). PTB accepts any BaseRequest.
Two more savings: a form body is url-encoded in one call instead of through aiohttp's FormData,
and responses are parsed with orjson (PTB invites overriding parse_json_payload).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlencode

import aiohttp
import orjson
from telegram import Bot
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import JSONDict, ODVInput
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData

FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
JSON_HEADERS = {"Content-Type": "application/json"}


class JsonBody:
    """The parameters of a call without files, which AiohttpRequest sends as one JSON document
    (Telegram takes any such call as application/json): nested objects such as a keyboard need
    no field-by-field encoding. It reads like RequestData where PTB's own transport reads it,
    so that one can send it too (RequestData itself is final; see json_body)."""

    contains_files = False

    def __init__(self, parameters: Mapping[str, Any]) -> None:
        self.document = {name: value for name, value in parameters.items() if value is not None}

    @property
    def json_parameters(self) -> dict[str, str]:
        return {
            name: value if isinstance(value, str) else orjson.dumps(value).decode()
            for name, value in self.document.items()
        }


def json_body(parameters: Mapping[str, Any]) -> RequestData:
    """Parameters for BaseRequest.post as a JsonBody: PTB hands request_data to the transport
    untouched, so the stand-in only has to read like RequestData."""
    return cast(RequestData, JsonBody(parameters))


async def call_api(bot: Bot, method: str, parameters: Mapping[str, Any]) -> Any:
    """A Bot API call's result as Telegram sent it, the parameters posted as one JSON document:
    PTB's Bot methods would build and encode them field by field and its result objects, and
    warn for every call. PTB's error mapping (RetryAfter, Forbidden, ...) still applies."""
    return await bot.request.post(f"{bot.base_url}/{method}", request_data=json_body(parameters))


class AiohttpRequest(BaseRequest):
    def __init__(
        self,
        connection_pool_size: int = 64,
        read_timeout: float = 15.0,
        write_timeout: float = 30.0,
        connect_timeout: float = 5.0,
        pool_timeout: float = 10.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = (
            self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        )
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        body: aiohttp.FormData | bytes | None = None
        headers: dict[str, str] | None = None
        if isinstance(request_data, JsonBody):
            body = orjson.dumps(request_data.document)
            headers = JSON_HEADERS
        elif request_data is not None:
            if request_data.contains_files:
                form = aiohttp.FormData(request_data.json_parameters)
                for name, part in request_data.multipart_data.items():
                    filename, content, mime_type = (
                        part if len(part) == 3 else (*part, "application/octet-stream")
                    )
                    form.add_field(name, content, filename=filename, content_type=mime_type)
                body = form
            else:
                body = urlencode(request_data.json_parameters).encode()
                headers = FORM_HEADERS
        # Reading the response counts against the read timeout, like PTB's own transport.
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect, sock_read=read, connect=pool
        )
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error

    @staticmethod
    def parse_json_payload(payload: bytes) -> JSONDict:
        try:
            parsed: JSONDict = orjson.loads(payload)
        except orjson.JSONDecodeError as error:
            raise TelegramError("Invalid server response") from error
        return parsed
