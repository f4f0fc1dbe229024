"""A TCP proxy between a node and one service, to make that service fail for the node alone
(the machine's PostgreSQL, Redis and RabbitMQ are shared by every test).

    with FaultProxy("127.0.0.1", 6379) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}/0"
        proxy.cut()      # open connections are reset, new ones refused at once
        proxy.stall()    # connections are accepted and held; nothing passes either way
        proxy.heal()     # back to passing bytes through

Real sockets and the real service: the node sees exactly what an outage, a restart (cut) or
a hung server (stall) shows it.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from typing import Self
from urllib.parse import urlsplit, urlunsplit

BUFFER = 65536


class FaultProxy:
    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._mode = "pass"
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket | None]] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._drop_all()
        self._listener.close()

    def cut(self) -> None:
        with self._lock:
            self._mode = "cut"
        self._drop_all()

    def stall(self) -> None:
        with self._lock:
            self._mode = "stall"

    def heal(self) -> None:
        with self._lock:
            self._mode = "pass"
        self._drop_stalled()

    @property
    def mode(self) -> str:
        return self._mode

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            mode = self._mode
            if mode == "cut":
                _reset(client)
            elif mode == "stall":
                with self._lock:
                    self._pairs.append((client, None))
            else:
                threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._target, timeout=5)
        except OSError:
            _reset(client)
            return
        with self._lock:
            self._pairs.append((client, upstream))
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        try:
            while not self._stopping.is_set():
                if self._mode == "stall":
                    # Hold the bytes: a hung server neither answers nor closes.
                    self._stopping.wait(0.05)
                    continue
                for key, _ in selector.select(0.2):
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(BUFFER)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            _reset(client)
            _reset(upstream)

    def _drop_all(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, upstream in pairs:
            _reset(client)
            if upstream is not None:
                _reset(upstream)

    def _drop_stalled(self) -> None:
        """Connections accepted while stalled never reached the service: close them, as a
        server coming back would."""
        with self._lock:
            stalled = [client for client, upstream in self._pairs if upstream is None]
            self._pairs = [pair for pair in self._pairs if pair[1] is not None]
        for client in stalled:
            _reset(client)


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with contextlib.suppress(OSError):
        sock.close()


def proxied(url: str, proxy: FaultProxy) -> str:
    """The URL with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def proxy_for(url: str, default_port: int) -> FaultProxy:
    parts = urlsplit(url)
    return FaultProxy(parts.hostname or "127.0.0.1", parts.port or default_port)
