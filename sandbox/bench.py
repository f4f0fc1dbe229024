"""Measure the sandbox: ``python -m sandbox.bench [--mode send|echo] [--calls N]``.

It starts the sandbox as a separate process (its CPU is read from ``/sandbox/stats``), then

* ``send``: one aiohttp client sends ``sendMessage`` (url-encoded, as PTB does) with
  ``--concurrency`` requests in flight; reports calls/s and sandbox CPU per call;
* ``echo``: virtual users send messages through the control API while a bot long-polls
  getUpdates and answers each with sendMessage; reports updates/s end to end and sandbox CPU
  per update (one control call + its share of getUpdates + one sendMessage).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from typing import Any

import aiohttp

TOKEN = "7000000000:AAsandbox-bench-token-0000000000000000"


async def _json(session: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> Any:
    async with session.request(method, url, **kw) as response:
        return await response.json()


async def _cpu(session: aiohttp.ClientSession, root: str) -> float:
    stats = await _json(session, "GET", f"{root}/sandbox/stats")
    return float(stats["process_cpu_seconds"])


async def bench_send(root: str, calls: int, concurrency: int) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        user = await _json(
            session, "POST", f"{root}/sandbox/users", json={"first_name": "B", "started": True}
        )
        chat_id = str(user["user"]["id"])
        url = f"{root}/bot{TOKEN}/sendMessage"
        left = calls

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                data = {"chat_id": chat_id, "text": "Привет! Это сообщение от бота."}
                async with session.post(url, data=data) as response:
                    await response.read()
                    assert response.status == 200, response.status

        cpu0 = await _cpu(session, root)
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        cpu = await _cpu(session, root) - cpu0
    return {
        "calls": calls,
        "seconds": elapsed,
        "calls_per_second": calls / elapsed,
        "sandbox_cpu_us_per_call": cpu / calls * 1e6,
        "sandbox_cpu_share": cpu / elapsed,
    }


async def bench_echo(root: str, updates: int, users: int, concurrency: int) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=concurrency + 4)
    async with aiohttp.ClientSession(connector=connector) as session:
        ids = []
        for i in range(users):
            user = await _json(
                session, "POST", f"{root}/sandbox/users", json={"first_name": f"U{i}"}
            )
            ids.append(user["user"]["id"])
        replied = 0
        done = asyncio.Event()

        async def bot() -> None:
            nonlocal replied
            offset = 0
            while replied < updates:
                params = {"offset": str(offset), "timeout": "5"}
                result = (
                    await _json(session, "POST", f"{root}/bot{TOKEN}/getUpdates", data=params)
                )["result"]
                for update in result:
                    offset = update["update_id"] + 1
                    chat = update["message"]["chat"]["id"]
                    data = {"chat_id": str(chat), "text": "echo: " + update["message"]["text"]}
                    await _json(session, "POST", f"{root}/bot{TOKEN}/sendMessage", data=data)
                    replied += 1
            done.set()

        sent = updates

        async def driver() -> None:
            nonlocal sent
            while sent > 0:
                sent -= 1
                uid = ids[sent % users]
                await _json(
                    session, "POST", f"{root}/sandbox/users/{uid}/text", json={"text": "hi"}
                )

        cpu0 = await _cpu(session, root)
        start = time.perf_counter()
        bot_task = asyncio.create_task(bot())
        await asyncio.gather(*(driver() for _ in range(concurrency)))
        await done.wait()
        elapsed = time.perf_counter() - start
        await bot_task
        cpu = await _cpu(session, root) - cpu0
    return {
        "updates": updates,
        "seconds": elapsed,
        "updates_per_second": updates / elapsed,
        "sandbox_cpu_us_per_update": cpu / updates * 1e6,
        "sandbox_cpu_share": cpu / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.bench")
    parser.add_argument("--mode", choices=["send", "echo"], default="send")
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(args.port),
            "--token",
            TOKEN,
            "--allow-unstarted",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        root = process.stdout.readline().split()[3]
        if args.mode == "send":
            result = asyncio.run(bench_send(root, args.calls, args.concurrency))
        else:
            result = asyncio.run(bench_echo(root, args.calls, args.users, args.concurrency))
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
    print(json.dumps({"mode": args.mode, "concurrency": args.concurrency, **result}, indent=2))


if __name__ == "__main__":
    main()
