"""A thread that owns one RabbitMQ connection (kombu), and what it needs to wait on it.

kombu channels are not thread-safe: other threads only put requests on a queue and wake the
owning thread through a pipe (Waker), which waits on the broker's socket and that pipe
together (wait_and_drain). messaging.bus and messaging.consumer are the two such threads.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from typing import Any, Self

import orjson
import structlog
from kombu import Connection

log = structlog.get_logger(__name__)

CONSUMER_HEARTBEAT_SECONDS = 10
RECONNECT_FIRST_SECONDS = 0.2
RECONNECT_MAX_SECONDS = 5.0
RECONNECT_RESET_SECONDS = 30.0
IDLE_WAIT_SECONDS = 1.0
MEMORY_POLL_SECONDS = 0.005


def open_connection(url: str, heartbeat: int = 0) -> Connection:
    if url.startswith("memory://"):
        # The in-process transport polls its queues; its default of one second is far too slow.
        return Connection(url, transport_options={"polling_interval": 0.002})
    return Connection(url, heartbeat=heartbeat, connect_timeout=5)


def encode(payload: Any) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)


class Waker:
    """A pipe whose read end makes the owning thread's select() return."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def fileno(self) -> int:
        return self._read

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._write, b"!")

    def clear(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._read, 4096):
                pass

    def close(self) -> None:
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


def _broker_socket(connection: Connection) -> socket.socket | None:
    return getattr(connection.connection, "sock", None)


def wait_and_drain(connection: Connection, waker: Waker, timeout: float) -> None:
    """Wait until the broker sends something, another thread wakes us, or timeout; then handle
    every frame that has arrived."""
    sock = _broker_socket(connection)
    if sock is None:  # memory:// polls
        with contextlib.suppress(TimeoutError, socket.timeout):
            connection.drain_events(timeout=min(timeout, MEMORY_POLL_SECONDS))
        return
    readable, _, _ = select.select([sock.fileno(), waker.fileno()], [], [], timeout)
    if waker.fileno() in readable:
        waker.clear()
    if sock.fileno() in readable:
        while True:
            try:
                connection.drain_events(timeout=0)
            except TimeoutError:
                return


class Reopen(Exception):
    """Raised by _serve to close the connection on purpose and open another at once."""


class BrokerThread(threading.Thread):
    """A thread that owns one broker connection and serves it (_serve) until stopped. A lost
    connection is opened again with a growing pause; a failure before the thread was first
    ready is handed to start_and_wait instead."""

    def __init__(self, name: str, url: str, what: str) -> None:
        super().__init__(name=name, daemon=True)
        self._url = url
        self._what = what
        self._waker = Waker()
        self._stop_requested = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start_and_wait(self, timeout: float = 20.0) -> Self:
        self.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"{self._what} did not start")
        if self._error is not None:
            raise self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop_requested.set()
        self._waker.wake()
        self.join(timeout)
        self._waker.close()

    def run(self) -> None:
        delay = RECONNECT_FIRST_SECONDS
        while not self._stop_requested.is_set():
            opened = time.monotonic()
            try:
                with open_connection(self._url, heartbeat=CONSUMER_HEARTBEAT_SECONDS) as conn:
                    self._serve(conn)
                    return
            except Exception as error:
                if not self._ready.is_set():
                    self._error = error
                    self._ready.set()
                    log.exception(f"{self._what} could not start")
                    return
                log.warning(f"{self._what} connection lost; reconnecting", error=str(error))
                self._connection_lost()
                if isinstance(error, Reopen):
                    continue
                # The pause grows while the broker stays away, and starts small again for the
                # next outage once a connection has served a while.
                if time.monotonic() - opened > RECONNECT_RESET_SECONDS:
                    delay = RECONNECT_FIRST_SECONDS
                time.sleep(delay)
                delay = min(RECONNECT_MAX_SECONDS, delay * 2)
        self._stopped_while_disconnected()

    def _serve(self, conn: Connection) -> None:
        raise NotImplementedError

    def _connection_lost(self) -> None:
        """The connection is gone; another is about to be opened."""

    def _stopped_while_disconnected(self) -> None:
        """Stopped between a lost connection and the next one."""
