"""One node as several processes (NODE_PROCESSES > 1).

CPython runs one thread at a time per process, so a node of actor threads uses about one core
however many the machine has (docs/architecture.md measures where that bites). With
NODE_PROCESSES=N, `python bot.py` becomes this supervisor: it runs N node processes, each a
member of the cluster like any other node (its own actors, its share of the shards, named
NODE_ID-1 … NODE_ID-N), and serves METRICS_PORT for all of them:

* /metrics: every process's metrics in one exposition (their series differ by node_id);
* /healthz: alive while every process runs (503 names the ones being restarted);
* /readyz: ready when every process is (each one's report under its name).

Each process serves its own endpoints on a loopback socket the supervisor opened and hands
down, so a restarted process gets the same one back. A process that exits unexpectedly is
started again after a pause that grows while it keeps failing. SIGTERM or SIGINT stops every
process the way a single node stops (in-flight updates finish, shards are handed over) and
then the supervisor. A process whose supervisor is gone stops by itself.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from config.settings import Settings
from observability.http import bound_port

log = structlog.get_logger(__name__)

BOT_SCRIPT = Path(__file__).resolve().parent.parent / "bot.py"
# Flag of bot.py for a process the supervisor starts: the inherited socket to serve on.
METRICS_FD_FLAG = "--metrics-fd"
PROBE_TIMEOUT_SECONDS = 4.0
# Longer than a node's own stop (app/node.py: 10 s per step, shards handed over in 6 s).
STOP_TIMEOUT_SECONDS = 30.0
RESTART_DELAY_SECONDS = 1.0
RESTART_DELAY_MAX_SECONDS = 30.0
# A process that ran this long before exiting was not crash-looping: its next pause is short.
STEADY_SECONDS = 60.0
PARENT_CHECK_SECONDS = 1.0


def merged_exposition(texts: Iterable[str]) -> bytes:
    """Prometheus text expositions as one: each metric family once, with every sample of it
    (families of one name from several processes would otherwise repeat their TYPE lines,
    which the format forbids)."""
    merged: dict[str, Metric] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            known = merged.get(family.name)
            if known is None:
                merged[family.name] = family
            else:
                known.samples.extend(family.samples)
    registry = CollectorRegistry()
    registry.register(_Collected(list(merged.values())))
    return bytes(generate_latest(registry))


class _Collected:
    """A collector yielding families already collected elsewhere."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


class NodeProcess:
    """One node process, started again when it exits unless the supervisor is stopping."""

    def __init__(self, name: str, environ: Mapping[str, str]) -> None:
        self.name = name
        self._environ = environ
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.set_inheritable(True)
        self.port = int(self._socket.getsockname()[1])
        self.child: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self.child is not None and self.child.returncode is None

    async def start(self) -> None:
        fd = self._socket.fileno()
        self.child = await asyncio.create_subprocess_exec(
            sys.executable,
            str(BOT_SCRIPT),
            METRICS_FD_FLAG,
            str(fd),
            env=dict(self._environ),
            pass_fds=(fd,),
        )
        log.info("node process started", process=self.name, pid=self.child.pid)

    def signal(self, signum: int) -> None:
        if self.running and self.child is not None:
            self.child.send_signal(signum)

    def close(self) -> None:
        self._socket.close()


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        names = [f"{settings.node_id}-{number}" for number in range(1, settings.node_processes + 1)]
        self.processes = [
            NodeProcess(name, {**os.environ, "NODE_PROCESSES": "1", "NODE_ID": name})
            for name in names
        ]
        self.registry = CollectorRegistry()
        self._restarts = Counter(
            "bot_node_process_restarts_total",
            "Node processes started again after they exited",
            ("node_id",),
            registry=self.registry,
        )
        self._restarts.labels(settings.node_id)
        self._running = Gauge(
            "bot_node_processes_running",
            "Node processes running",
            ("node_id",),
            registry=self.registry,
        )
        self._running.labels(settings.node_id).set_function(
            lambda: sum(process.running for process in self.processes)
        )
        self._stopping = asyncio.Event()
        self.metrics_port = 0

    def request_stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        runner = web.AppRunner(self._app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "0.0.0.0", self.settings.metrics_port)
        await site.start()
        self.metrics_port = bound_port(site)
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT_SECONDS)
        )
        try:
            for process in self.processes:
                await process.start()
            watchers = [asyncio.create_task(self._watch(process)) for process in self.processes]
            await self._until_all_answer()
            log.info(
                "node processes started",
                processes=len(self.processes),
                metrics_port=self.metrics_port,
            )
            await self._stopping.wait()
            log.info("node processes stopping")
            await self._stop_all()
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        finally:
            await self._session.close()
            await runner.cleanup()
            for process in self.processes:
                process.close()
        log.info("node processes stopped")

    async def _watch(self, process: NodeProcess) -> None:
        delay = RESTART_DELAY_SECONDS
        while True:
            started = time.monotonic()
            assert process.child is not None
            code = await process.child.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started > STEADY_SECONDS:
                delay = RESTART_DELAY_SECONDS
            log.error(
                "node process exited; starting it again",
                process=process.name,
                exit_code=code,
                restart_in=delay,
            )
            try:
                await asyncio.wait_for(self._stopping.wait(), delay)
                return
            except TimeoutError:
                pass
            delay = min(delay * 2, RESTART_DELAY_MAX_SECONDS)
            self._restarts.labels(self.settings.node_id).inc()
            await process.start()

    async def _until_all_answer(self) -> None:
        """Wait until every process serves its endpoints: a node opens them last."""
        waiting = list(self.processes)
        while waiting and not self._stopping.is_set():
            answers = await asyncio.gather(*(self._get(process, "/healthz") for process in waiting))
            waiting = [
                process
                for process, (status, _) in zip(waiting, answers, strict=True)
                if status != 200
            ]
            if waiting:
                await asyncio.sleep(0.1)

    async def _stop_all(self) -> None:
        for process in self.processes:
            process.signal(signal.SIGTERM)
        children = [process.child for process in self.processes if process.child is not None]
        try:
            await asyncio.wait_for(
                asyncio.gather(*(child.wait() for child in children)), STOP_TIMEOUT_SECONDS
            )
        except TimeoutError:
            log.error(
                "node processes did not stop in time; killing them",
                processes=[process.name for process in self.processes if process.running],
            )
            for process in self.processes:
                process.signal(signal.SIGKILL)
            await asyncio.gather(*(child.wait() for child in children))

    async def _get(self, process: NodeProcess, path: str) -> tuple[int, bytes]:
        """A process's answer on one of its endpoints; status 0 when it gave none."""
        try:
            async with self._session.get(f"http://127.0.0.1:{process.port}{path}") as response:
                return response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError):
            return 0, b""

    def _app(self) -> web.Application:
        async def metrics_view(_: web.Request) -> web.Response:
            answers = await asyncio.gather(
                *(self._get(process, "/metrics") for process in self.processes)
            )
            own = generate_latest(self.registry).decode()
            texts = [own] + [body.decode() for status, body in answers if status == 200]
            return web.Response(
                body=merged_exposition(texts),
                content_type="text/plain",
                charset="utf-8",
                headers={"X-Prometheus-Version": "0.0.4"},
            )

        async def healthz(_: web.Request) -> web.Response:
            down = [process.name for process in self.processes if not process.running]
            body: dict[str, Any] = {
                "status": "restarting" if down else "alive",
                "node_id": self.settings.node_id,
                "processes": [process.name for process in self.processes],
            }
            if down:
                body["down"] = down
            return web.json_response(body, status=503 if down else 200)

        async def readyz(_: web.Request) -> web.Response:
            answers = await asyncio.gather(
                *(self._get(process, "/readyz") for process in self.processes)
            )
            reports: dict[str, Any] = {}
            for process, (status, body) in zip(self.processes, answers, strict=True):
                try:
                    reports[process.name] = (
                        orjson.loads(body) if status else {"ready": False, "error": "no answer"}
                    )
                except orjson.JSONDecodeError:
                    reports[process.name] = {"ready": False, "error": "unreadable answer"}
            ready = all(status == 200 for status, _ in answers)
            return web.json_response(
                {"ready": ready, "node_id": self.settings.node_id, "processes": reports},
                status=200 if ready else 503,
            )

        app = web.Application()
        app.router.add_get("/metrics", metrics_view)
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        return app


async def supervise(settings: Settings) -> None:
    supervisor = Supervisor(settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, supervisor.request_stop)
    await supervisor.run()


async def stop_when_orphaned(stop: Callable[[], None]) -> None:
    """In a node process: call stop() once the supervisor that started it is gone (the
    process is then adopted, and its parent changes)."""
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(PARENT_CHECK_SECONDS)
    log.error("the node's supervisor is gone; stopping")
    stop()
