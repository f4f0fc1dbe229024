"""Push N virtual users through onboarding on one node, against the local Bot API sandbox.

    .venv/bin/python -m bench.onboarding --users 200

Starts fresh services (a database, a Redis namespace, a RabbitMQ vhost, an S3 endpoint: moto
in a process of its own), the sandbox as its own process, then two bots in turn, each as its
own process:
  1. the baseline: a plain PTB echo bot (bench/echo_bot.py), every user sending texts;
  2. our node (bot.py, with NODE_PROCESSES=--node-processes: by default one process per
     core), every user going through the whole onboarding (12 updates each: commands, texts,
     button presses, a photo) — and, with --asyncio-debug, once more under asyncio's debug
     mode, counting its slow-callback warnings.
Each bot runs twice: as fast as the users can go (its throughput), then with the users' actions
paced to --rate per second over all users (its latency at that load; by default 0.7 of the echo
bot's throughput measured in the same run). Then --browsers men go through onboarding and
browse the women of those runs (/browse, 👎, ↩️, ❤️, 👎, ❤️). Each step waits for what the person
then sees (the next question, the tick, the next card: a new message or the pressed one
edited), so the same driver measures any version of the bot; the Bot API calls come from the
sandbox's counters (messages sent or edited per update, and all calls but getUpdates). In the
paced run the users start one after another over its whole nominal length, so that at any
moment the steps are mixed as in steady traffic. Started together, they would move through the
steps in lockstep (200 photo uploads within one second, then 200 profile completions); started
over only the first half, the run's last seconds were mostly its two heaviest steps (the photo
and the finished profile) instead of one update in six. Prints updates per second, p50/p99
latency from an update entering the sandbox to the bot's first reaction (a message, an edit or
a callback answer, by the sandbox's clock), the same by onboarding step for the paced run, and
the bot's CPU seconds (all its processes) per 1000 updates, with the ratio to the echo bot.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from config.i18n import t
from domain.onboarding import ONBOARDING_ORDER
from domain.onboarding import Step as OnboardingStep
from tests.support.onboarding import Answers, script
from tests.support.services import TEST_BOT_TOKEN, free_port, fresh_services

ROOT = Path(__file__).resolve().parent.parent
# The calls a person sees: a message arriving or one changing (the flood limits count these).
SHOWN_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendMediaGroup",
        "sendVideo",
        "sendVoice",
        "sendVideoNote",
        "copyMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "editMessageMedia",
    }
)
# The paced runs offer this share of the echo bot's throughput measured in the same run.
PACED_SHARE = 0.7
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


Message = dict[str, Any]  # a message as the sandbox's chat view shows it


@dataclass(frozen=True)
class Step:
    action: str
    body: dict[str, Any]
    # The step is answered when the bot's latest message shows this (a new message, or the
    # pressed question edited into the next): the same test for every version of the bot,
    # however many messages and edits it takes to get there.
    # (the message, when the user acted by the sandbox's clock)
    answered: Callable[[Message, float], bool]


def _says(text: str) -> Callable[[Message, float], bool]:
    return lambda message, _: text in (message.get("text") or message.get("caption") or "")


def _labels(message: Message) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b.get("text") for row in markup.get("inline_keyboard", []) for b in row]


def _ticked(text: str, label: str) -> Callable[[Message, float], bool]:
    return lambda message, at: _says(text)(message, at) and label in _labels(message)


def _new_card(undo: bool | None = None) -> Callable[[Message, float], bool]:
    """A feed card shown since the user acted (sent, or the pressed card edited into it),
    with or without ↩️ (None: either)."""

    def shown(message: Message, at: float) -> bool:
        labels = _labels(message)
        fresh = message["sent_at"] >= at or (message["edited_at"] or 0) >= at
        return (
            fresh
            and t("en", "browse.button_skip") in labels
            and (undo is None or (t("en", "browse.button_undo") in labels) is undo)
        )

    return shown


def browsing() -> tuple[Step, ...]:
    """A man browsing the women who onboarded: 👎, ↩️, ❤️, 👎, ❤️ on the card shown, each
    answered by the next card (a new message, or the pressed card edited into it)."""

    def press(key: str) -> dict[str, str]:
        return {"text": t("en", key), "kind": "inline"}

    return (
        Step("text", {"text": "/browse"}, _new_card()),
        Step("press", press("browse.button_skip"), _new_card(undo=True)),
        Step("press", press("browse.button_undo"), _new_card(undo=False)),
        Step("press", press("browse.button_like"), _new_card()),
        Step("press", press("browse.button_skip"), _new_card(undo=True)),
        Step("press", press("browse.button_like"), _new_card()),
    )


BROWSING = browsing()


def onboarding(language: str = "en", answers: Answers | None = None) -> tuple[Step, ...]:
    """The onboarding of tests/support/onboarding.py (labels from the language's catalog),
    each action with what the user then sees: the next question, the tick, the menu."""
    answers = answers or Answers(language)
    actions = script(answers)
    before = ONBOARDING_ORDER[: ONBOARDING_ORDER.index(OnboardingStep.INTERESTS)]
    shown = [_says(answers.question(step)) for step in before]
    interests = answers.question(OnboardingStep.INTERESTS)
    shown += [
        _says(interests),
        _ticked(interests, answers.interest_label(chosen=True)),
        _says(answers.question(OnboardingStep.PHOTOS)),
        _says(answers.photo_saved(1)),
        _says(answers.profile_menu),
    ]
    assert len(actions) == len(shown), "the script and the expected screens disagree"
    return tuple(
        Step(action.kind, action.body, answered)
        for action, answered in zip(actions, shown, strict=True)
    )


ONBOARDING = onboarding()
# The men who then browse the women of the runs before (all of them in Moscow, 27, into music).
MEN = onboarding(answers=Answers(gender="man", seeking="women"))


def echo_script(count: int) -> tuple[Step, ...]:
    return tuple(Step("text", {"text": f"hello {n}"}, _says(f"hello {n}")) for n in range(count))


@dataclass
class Result:
    name: str
    updates: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float
    step_latencies: dict[int, list[float]]
    calls: dict[str, int]  # Bot API calls the bot made during the run, by method
    user_ids: list[int]

    @property
    def messages_per_update(self) -> float:
        """Messages sent and edited per update: what the person sees arrive or change."""
        shown = sum(n for method, n in self.calls.items() if method in SHOWN_METHODS)
        return shown / self.updates

    @property
    def calls_per_update(self) -> float:
        """Every Bot API call but getUpdates, per update."""
        return sum(n for method, n in self.calls.items() if method != "getUpdates") / self.updates

    @property
    def per_second(self) -> float:
        return self.updates / self.seconds

    @property
    def cpu_per_1000(self) -> float:
        return self.cpu_seconds / self.updates * 1000

    def percentile(self, share: float) -> float:
        return percentile(self.latencies, share)


def percentile(latencies: list[float], share: float) -> float:
    """The latency (ms) that `share` of them do not exceed."""
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and of the processes it started (a node's supervisor and its
    node processes), as far as they are running."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += (task / "children").read_text().split()
    return own + sum(_if_running(int(child)) for child in children)


def _if_running(pid: int) -> float:
    try:
        return process_cpu_seconds(pid)
    except FileNotFoundError:  # it has just exited
        return 0.0


@contextmanager
def process(
    args: list[str], env: dict[str, str], ready: str, log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a child, wait for a line matching ready on its output, stop it at the end."""
    log_file = log_path.open("wb")
    child = subprocess.Popen(
        args, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.PIPE, stderr=log_file
    )
    assert child.stdout is not None
    deadline = time.monotonic() + 60
    for line in child.stdout:
        log_file.write(line)
        if re.search(ready.encode(), line):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{args} did not get ready")
    else:
        raise RuntimeError(f"{args} exited early; see {log_path}")
    # Keep draining its output, or the child blocks once the pipe is full.
    pump = threading.Thread(
        target=lambda: [log_file.write(line) for line in child.stdout or ()], daemon=True
    )
    pump.start()
    try:
        yield child
    finally:
        child.terminate()
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
        pump.join(5)
        log_file.close()


class Pacer:
    """Spaces the starts of user actions to at most `rate` per second over all users, so a
    run offers a chosen load instead of as much as the machine can take."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0

    async def turn(self) -> None:
        if not self._interval:
            return
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


class Driver:
    """Virtual users acting through the sandbox's control API, each waiting for answers."""

    def __init__(self, sandbox_url: str, rate: float | None = None) -> None:
        self.base = f"{sandbox_url}/sandbox"
        self.latencies: list[float] = []
        self.step_latencies: dict[int, list[float]] = {}  # by the step's place in the script
        self._pacer = Pacer(rate)
        self._rate = rate
        self.ids: list[int] = []  # the users of the last run

    async def run(
        self,
        users: int,
        script: tuple[Step, ...],
        language: str = "en",
        ids: list[int] | None = None,
    ) -> float:
        """Every user through the script: ``users`` new ones, or those of ``ids``."""
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            self.ids = ids = list(ids or [])
            for n in range(0 if ids else users):
                async with session.post(
                    f"{self.base}/users", json={"first_name": f"User{n}", "language_code": language}
                ) as response:
                    ids.append((await response.json())["user"]["id"])
            # Paced: users start one after another over the run's nominal length.
            spread = len(ids) * len(script) / self._rate if self._rate else 0.0
            start = time.perf_counter()
            await asyncio.gather(
                *(
                    self._user(session, user_id, script, n * spread / len(ids))
                    for n, user_id in enumerate(ids)
                )
            )
            return time.perf_counter() - start

    async def _user(
        self, session: aiohttp.ClientSession, user_id: int, script: tuple[Step, ...], delay: float
    ) -> None:
        await asyncio.sleep(delay)
        mirror: dict[int, Message] = {}  # the bot's messages in this chat, as they are now
        version = -1
        for place, step in enumerate(script):
            await self._pacer.turn()
            started = time.time()
            async with session.post(
                f"{self.base}/users/{user_id}/{step.action}", json=step.body
            ) as response:
                acted = await response.json(loads=orjson.loads)
                if not acted.get("ok", True) or "update_id" not in acted:
                    raise RuntimeError(f"user {user_id} could not {step}: {acted}")
            sent_at = acted["acted_at"]  # the sandbox's clock, as the reactions' times are
            query_id = acted.get("callback_query_id")
            reacted_at: float | None = None
            answered = query_id is None
            while True:
                async with session.get(
                    f"{self.base}/users/{user_id}/chat",
                    params={"changed_since": str(version), "wait": "10"},
                ) as response:
                    view = await response.json(loads=orjson.loads)
                version = view["version"]
                for message in view["messages"]:
                    if message["outgoing"]:
                        mirror[message["message_id"]] = message
                times = [
                    m["sent_at"]
                    for m in view["messages"]
                    if m["outgoing"] and m["sent_at"] >= sent_at
                ]
                times += [
                    m["edited_at"]
                    for m in view["messages"]
                    if m["edited_at"] and m["edited_at"] >= sent_at
                ]
                times += [
                    c["answered_at"]
                    for c in view["callback_answers"]
                    if c["callback_query_id"] == query_id and c["answered_at"]
                ]
                if times and reacted_at is None:
                    reacted_at = min(times)
                answered = answered or any(
                    c["callback_query_id"] == query_id and c["answered"]
                    for c in view["callback_answers"]
                )
                visible = [m for _, m in sorted(mirror.items()) if not m["deleted"]]
                shown = bool(visible) and step.answered(visible[-1], sent_at)
                if shown and answered and reacted_at is not None:
                    break
                if time.time() - started > 30:
                    raise TimeoutError(f"user {user_id} got no answer to {step}")
            self.latencies.append(reacted_at - sent_at)
            self.step_latencies.setdefault(place, []).append(reacted_at - sent_at)


def measure(
    name: str,
    pid: int,
    sandbox_url: str,
    users: int,
    script: tuple[Step, ...],
    rate: float | None = None,
    ids: list[int] | None = None,
) -> Result:
    driver = Driver(sandbox_url, rate)
    calls_before = bot_calls(sandbox_url)
    cpu_before = process_cpu_seconds(pid)
    seconds = asyncio.run(driver.run(users, script, ids=ids))
    cpu = process_cpu_seconds(pid) - cpu_before
    calls = bot_calls(sandbox_url)
    for method, count in calls_before.items():
        calls[method] -= count
    return Result(
        name,
        users * len(script),
        seconds,
        driver.latencies,
        cpu,
        driver.step_latencies,
        {method: count for method, count in calls.items() if count},
        driver.ids,
    )


def bot_calls(sandbox_url: str) -> Counter[str]:
    """The Bot API calls the sandbox has counted for the bot so far, by method."""
    with urllib.request.urlopen(f"{sandbox_url}/sandbox/stats", timeout=10) as response:
        return Counter(orjson.loads(response.read())["calls"])


def report(
    args: argparse.Namespace,
    results: list[Result],
    rate: float,
    browsed: Result,
    slow: int | None,
) -> None:
    baseline = results[0]  # CPU per update of the echo bot at full speed
    print(
        f"\n{args.users} virtual users, {len(ONBOARDING)} updates each; our node runs "
        f"NODE_PROCESSES={args.node_processes} (its CPU: all its processes)\n"
    )
    print(
        "| bot | updates | updates/s | p50 ms | p99 ms | CPU s / 1000 updates | CPU ratio "
        "| messages+edits / update | Bot API calls / update |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for result in results:
        print(
            f"| {result.name} | {result.updates} | {result.per_second:.0f} | "
            f"{result.percentile(0.5):.1f} | {result.percentile(0.99):.1f} | "
            f"{result.cpu_per_1000:.2f} | {result.cpu_per_1000 / baseline.cpu_per_1000:.2f} | "
            f"{result.messages_per_update:.2f} | {result.calls_per_update:.2f} |"
        )
    echo_rate = results[0].per_second
    paced = results[3]
    print(
        f"\np99 from update to reply at {rate:g}/s ({rate / echo_rate:.2f} of the echo bot's "
        f"{echo_rate:.0f}/s measured above): our node {paced.percentile(0.99):.1f} ms, "
        f"the echo bot {results[1].percentile(0.99):.1f} ms; CPU per update "
        f"{paced.cpu_per_1000 / baseline.cpu_per_1000:.2f}x the echo bot's"
    )
    print(
        f"\nBot API calls of our node's onboarding, by method: {dict(sorted(paced.calls.items()))}"
    )
    print(
        f"\nbrowsing ({args.browsers} men, {len(BROWSING)} updates each: /browse, 👎, ↩️, ❤️, 👎, "
        f"❤️): {browsed.messages_per_update:.2f} messages+edits and "
        f"{browsed.calls_per_update:.2f} Bot API calls per update, p50 "
        f"{browsed.percentile(0.5):.1f} ms, p99 {browsed.percentile(0.99):.1f} ms; by method: "
        f"{dict(sorted(browsed.calls.items()))}"
    )
    print(
        f"\nmean latency of our node at {rate:g}/s: "
        f"{statistics.mean(paced.latencies) * 1000:.1f} ms"
    )
    print(f"\nour node at {rate:g}/s, by onboarding step:\n")
    print("| step | p50 ms | p99 ms | max ms |")
    print("| --- | ---: | ---: | ---: |")
    for place, step in enumerate(ONBOARDING):
        latencies = paced.step_latencies[place]
        label = step.body.get("text", step.action)
        print(
            f"| {place + 1}. {step.action} {label} | {percentile(latencies, 0.5):.1f} | "
            f"{percentile(latencies, 0.99):.1f} | {max(latencies) * 1000:.1f} |"
        )
    if slow is not None:
        print(f"asyncio debug mode: {slow} slow-callback warnings (over 100 ms) in the node")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--browsers", type=int, default=50, help="men who then browse")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="updates per second offered in the paced runs (default: 0.7 of the echo bot's "
        "throughput measured in the same run)",
    )
    parser.add_argument(
        "--node-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="NODE_PROCESSES of our node (default: one per core)",
    )
    parser.add_argument(
        "--asyncio-debug",
        action="store_true",
        help="also run the node under asyncio debug mode, counting slow callbacks",
    )
    args = parser.parse_args()
    logs = ROOT / "bench" / "results"
    logs.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    with fresh_services(s3_in_own_process=True) as services:
        port = free_port()
        sandbox_url = f"http://127.0.0.1:{port}"
        with process(
            [
                python,
                "-m",
                "sandbox",
                "--port",
                str(port),
                "--token",
                TEST_BOT_TOKEN,
                "--allow-unstarted",
            ],
            {},
            "listening",
            logs / "sandbox.log",
        ):
            # INFO, as in production: the node writes an audit line per user action. Telegram's
            # sending limits are lifted (the sandbox runs without flood control): the bot's own
            # cost is measured here, not the pacing of its replies.
            env = services.environ(
                TELEGRAM_API_URL=sandbox_url,
                LOG_LEVEL="INFO",
                SEND_RATE_PER_SECOND="10000",
                SEND_RATE_PER_CHAT="1000",
            )
            results = []
            with process([python, "bench/echo_bot.py"], env, "polling", logs / "echo.log") as echo:
                results.append(
                    measure(
                        "PTB echo bot, as fast as it goes",
                        echo.pid,
                        sandbox_url,
                        args.users,
                        echo_script(len(ONBOARDING)),
                    )
                )
                rate = args.rate or round(results[0].per_second * PACED_SHARE)
                results.append(
                    measure(
                        f"PTB echo bot, offered {rate:g}/s",
                        echo.pid,
                        sandbox_url,
                        args.users,
                        echo_script(len(ONBOARDING)),
                        rate,
                    )
                )
            node_env = {**env, "NODE_PROCESSES": str(args.node_processes)}
            node_ready = "node processes started" if args.node_processes > 1 else "node started"
            with process([python, "bot.py"], node_env, node_ready, logs / "node.log") as node:
                results.append(
                    measure(
                        "our node, onboarding, as fast as it goes",
                        node.pid,
                        sandbox_url,
                        args.users,
                        ONBOARDING,
                    )
                )
                results.append(
                    measure(
                        f"our node, onboarding, offered {rate:g}/s",
                        node.pid,
                        sandbox_url,
                        args.users,
                        ONBOARDING,
                        rate,
                    )
                )
                men = measure("men", node.pid, sandbox_url, args.browsers, MEN)
                browsed = measure(
                    "our node, browsing, as fast as it goes",
                    node.pid,
                    sandbox_url,
                    args.browsers,
                    BROWSING,
                    ids=men.user_ids,
                )
            slow = None
            if args.asyncio_debug:
                debug_env = {
                    **node_env,
                    "PYTHONASYNCIODEBUG": "1",
                    "REDIS_NAMESPACE": env["REDIS_NAMESPACE"] + "-debug",
                }
                with process(
                    [python, "bot.py"], debug_env, node_ready, logs / "node-debug.log"
                ) as node:
                    measure(
                        "our node, asyncio debug",
                        node.pid,
                        sandbox_url,
                        max(20, args.users // 4),
                        ONBOARDING,
                    )
                slow = (logs / "node-debug.log").read_text().count("Executing <")
    report(args, results, rate, browsed, slow)
    return 0


if __name__ == "__main__":
    sys.exit(main())
