"""Run a cluster as an operator would — the sandbox and each node as processes of their own —
and drive virtual users through it (used by tests/cluster/test_processes.py and
bench/cluster.py).

* SandboxProcess: ``python -m sandbox`` with Telegram-like flood control.
* NodeProcess: ``python bot.py``; its JSON log lines go to a file; SIGKILL or SIGTERM it.
* Balancer: in webhook mode, what a load balancer does in front of the nodes — each POST goes to
  the next node that answers, a node that refuses the connection is skipped.
* Driver: pairs of virtual users (a woman and a man in a city of their own) go through the
  whole onboarding (answered by tests/support/onboarding.py, in the users' language), find
  each other in the feed, like each other, open the chat and write to each other in turns;
  every step waits for the bot's reaction, and records when it came. With ``keep_going`` each
  pair, once done, makes way for a new one until the event is cleared (a population that
  onboards, browses, likes and chats the whole time: tests/faults/test_under_load.py).
* Checks of a finished run: problems_of_pair (the chats), pair_counts (the database),
  queue_counts (the broker).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import psycopg
from aiohttp import web

from sandbox.client import Chat, ChatMessage
from tests.support.onboarding import Answers, reply_to

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 60.0
STEP_TIMEOUT_SECONDS = 30.0


# -- processes ------------------------------------------------------------------------------


class Process:
    """A child process whose output goes to a log file; started once a line matches."""

    def __init__(self, args: list[str], env: dict[str, str], ready: str, log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.child = subprocess.Popen(
            args, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.PIPE, stderr=self._log
        )
        assert self.child.stdout is not None
        self._pump = threading.Thread(target=self._drain, daemon=True)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        for line in self.child.stdout:
            self._log.write(line)
            if re.search(ready.encode(), line):
                break
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"{args} did not get ready; see {log_path}")
        else:
            self.kill()
            raise RuntimeError(f"{args} exited early; see {log_path}")
        self._pump.start()

    def _drain(self) -> None:
        assert self.child.stdout is not None
        for line in self.child.stdout:
            self._log.write(line)
        self._log.flush()

    @property
    def pid(self) -> int:
        return self.child.pid

    def kill(self) -> None:
        """SIGKILL: no handler runs, the kernel closes its sockets."""
        self.child.kill()
        self.child.wait(10)
        self._close()

    def terminate(self, timeout: float = 15.0) -> float:
        """SIGTERM and wait; the seconds it took to exit."""
        started = time.monotonic()
        self.child.terminate()
        try:
            self.child.wait(timeout)
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait(10)
        took = time.monotonic() - started
        self._close()
        return took

    def _close(self) -> None:
        if self._pump.is_alive():
            self._pump.join(5)
        if self.child.stdout is not None:
            self.child.stdout.close()
        self._log.close()

    @property
    def alive(self) -> bool:
        return self.child.poll() is None


def sandbox_process(
    port: int,
    token: str,
    log_path: Path,
    *,
    global_rate: float,
    chat_rate: float,
    chat_burst: float = 3,
) -> Process:
    return Process(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(port),
            "--token",
            token,
            "--flood",
            "--global-rate",
            str(global_rate),
            "--chat-rate",
            str(chat_rate),
            "--chat-burst",
            str(chat_burst),
        ],
        {},
        "listening",
        log_path,
    )


@dataclass
class NodeProcess:
    name: str
    metrics_port: int
    webhook_port: int
    process: Process

    @classmethod
    def start(
        cls, name: str, env: dict[str, str], metrics_port: int, webhook_port: int, logs: Path
    ) -> NodeProcess:
        # Unbuffered: a SIGKILLed node's last lines are what one reads first.
        environ = {
            **env,
            "NODE_ID": name,
            "METRICS_PORT": str(metrics_port),
            "WEBHOOK_PORT": str(webhook_port),
            "LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }
        process = Process([sys.executable, "bot.py"], environ, "node started", logs / f"{name}.log")
        return cls(name, metrics_port, webhook_port, process)

    def metric(self, name: str) -> float | None:
        """One sample of the node's /metrics (the first series of that name), None if the
        node does not answer."""
        import httpx  # noqa: PLC0415 - the blocking client, only here

        try:
            text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=3).text
        except httpx.HTTPError:
            return None
        match = re.search(rf"^{name}\{{[^}}]*\}} ([0-9.e+-]+)$", text, re.MULTILINE)
        return float(match.group(1)) if match else None


def start_nodes(
    names: list[str], env: dict[str, str], ports: Callable[[], int], logs: Path
) -> list[NodeProcess]:
    """Start several nodes at once (their start-ups overlap) and wait for each."""
    made: dict[str, NodeProcess] = {}
    errors: list[BaseException] = []

    def one(name: str) -> None:
        try:
            made[name] = NodeProcess.start(name, env, ports(), ports(), logs)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=one, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        for node in made.values():
            node.process.kill()
        raise errors[0]
    return [made[name] for name in names]


def leader(nodes: list[NodeProcess]) -> NodeProcess | None:
    """The one live node polling Telegram (None while there is not exactly one)."""
    leaders = [
        node for node in nodes if node.process.alive and node.metric("bot_intake_leader") == 1.0
    ]
    return leaders[0] if len(leaders) == 1 else None


# -- a load balancer for webhook mode ---------------------------------------------------------


class Balancer:
    """Round-robin reverse proxy for the nodes' webhook ports, on a thread of its own."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.backends: list[int] = []
        self.refused = 0
        self._next = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="balancer", daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> Balancer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() in ("content-type", "x-telegram-bot-api-secret-token")
        }
        backends = list(self.backends)
        assert self._session is not None
        for attempt in range(len(backends)):
            port = backends[(self._next + attempt) % len(backends)]
            try:
                async with self._session.post(
                    f"http://127.0.0.1:{port}{request.path}", data=body, headers=headers
                ) as response:
                    text = await response.read()
                    if response.status == 503:
                        continue
                    self._next += 1
                    return web.Response(status=response.status, body=text)
            except (aiohttp.ClientError, TimeoutError):
                self.refused += 1
                continue
        return web.Response(status=502, text="no node answered")

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()
            if self._session is not None:
                await self._session.close()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


# -- virtual users ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    action: str
    body: dict[str, Any]


def press(text: str) -> Step:
    return Step("press", {"text": text, "kind": "inline"})


ONBOARDING_STEPS = 12


# Bot messages once onboarding is over: a press moves on by editing its question into the
# next one, so only typed answers, the location question, the photo's note and the finished
# card and its menu are messages of their own.
ONBOARDING_MESSAGES = 9
CHAT_ROUNDS = 3
# Bot messages each person of a pair has at the end: onboarding; she gets his card in the
# feed, "that's everyone" and the match notice; he gets "someone likes you", her card as a
# liker, the match card and "nobody new has liked you"; both "you are now chatting" and the
# partner's relayed messages.
FINAL_MESSAGES = ONBOARDING_MESSAGES + 1 + 2 + 1 + CHAT_ROUNDS
NOBODY_LEFT = "That's everyone for now"
NO_NEW_LIKES = "Nobody new has liked you"
LIKES_YOU = "Someone likes you"
MATCH = "It's a match"
CHATTING = "You are now chatting with"


@dataclass
class StepResult:
    user_id: int
    sent_at: float  # wall clock, as the sandbox's sent_at
    reacted_at: float  # the bot's first reaction (sandbox clock)
    done_at: float  # the step fully answered (driver's clock, wall)


@dataclass
class Person:
    user_id: int
    name: str
    chat: Chat
    version: int = -1


@dataclass
class Run:
    """What a driver run saw."""

    steps: list[StepResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    pairs: list[tuple[Person, Person]] = field(default_factory=list)
    seconds: float = 0.0
    # Per pair (her user id): when its story began and ended (wall clock).
    spans: dict[int, tuple[float, float]] = field(default_factory=dict)
    failed: set[int] = field(default_factory=set)  # pairs (her user id) whose story failed

    @property
    def updates(self) -> int:
        return len(self.steps)


class Driver:
    """Pairs of virtual users acting through the sandbox's control API, concurrently."""

    def __init__(
        self,
        sandbox_url: str,
        pairs: int,
        *,
        language: str = "en",
        keep_going: threading.Event | None = None,
        step_timeout: float = STEP_TIMEOUT_SECONDS,
    ) -> None:
        self.base = f"{sandbox_url}/sandbox"
        self.pair_count = pairs
        self.language = language
        self.keep_going = keep_going
        self.step_timeout = step_timeout
        self.run_result = Run()
        self.total_steps = pairs * 2 * (ONBOARDING_STEPS + 2 + 1 + CHAT_ROUNDS)
        self._lock = threading.Lock()
        self._pending: dict[int, float] = {}  # user id: when their unanswered step was sent

    @property
    def progress(self) -> float:
        with self._lock:
            return len(self.run_result.steps) / self.total_steps

    def answered_since(self, moment: float) -> bool:
        """Every step sent before ``moment`` (wall clock) has had its answer (or failed)."""
        with self._lock:
            return all(sent_at >= moment for sent_at in self._pending.values())

    def steps_answered(self) -> int:
        with self._lock:
            return len(self.run_result.steps)

    def run(self) -> Run:
        """Blocking: the whole run, on an event loop of its own."""
        return asyncio.run(self._run())

    async def _run(self) -> Run:
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=self.step_timeout + 15)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            self._session = session
            if self.keep_going is not None:
                started = time.perf_counter()
                numbers = itertools.count()
                await asyncio.gather(*(self._slot(numbers) for _ in range(self.pair_count)))
                self.run_result.seconds = time.perf_counter() - started
                return self.run_result
            for index in range(self.pair_count):
                her = await self._create(f"Alice {letters(index)}")
                him = await self._create(f"Bob {letters(index)}")
                self.run_result.pairs.append((her, him))
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    self._pair(index, her, him)
                    for index, (her, him) in enumerate(self.run_result.pairs)
                )
            )
            self.run_result.seconds = time.perf_counter() - started
        return self.run_result

    async def _slot(self, numbers: Iterator[int]) -> None:
        """Pair after pair, each once the one before is done, while keep_going is set."""
        assert self.keep_going is not None
        while self.keep_going.is_set():
            index = next(numbers)
            her = await self._create(f"Alice {letters(index)}")
            him = await self._create(f"Bob {letters(index)}")
            self.run_result.pairs.append((her, him))
            began = time.time()
            await self._pair(index, her, him)
            self.run_result.spans[her.user_id] = (began, time.time())

    async def _create(self, name: str) -> Person:
        async with self._session.post(
            f"{self.base}/users", json={"first_name": name, "language_code": self.language}
        ) as response:
            user = (await response.json())["user"]
        return Person(user["id"], name, Chat(user["id"]))

    # -- one pair -------------------------------------------------------------------------

    async def _pair(self, index: int, her: Person, him: Person) -> None:
        city = f"Testville {letters(index)}"
        try:
            # He is done before she starts: the feed she opens then surely holds him.
            language = self.language
            await self._onboard(
                him, Answers(language, him.name, gender="man", seeking="women", city=city)
            )
            await self._onboard(
                her, Answers(language, her.name, gender="woman", seeking="men", city=city)
            )
            await self._like(
                her, him.name, lambda chat: _find(chat, lambda m: NOBODY_LEFT in m.body)
            )
            await self._like_back(him, her.name)
            for person, other in ((her, him), (him, her)):
                notice = await self._wait(person, containing(MATCH, other.name), "the match")
                await self._step(
                    person,
                    Step(
                        "press",
                        {"text": "💬 Write", "kind": "inline", "message_id": notice.message_id},
                    ),
                    until=containing(CHATTING),
                )
            for round_ in range(1, CHAT_ROUNDS + 1):
                for person, other in ((her, him), (him, her)):
                    text = f"{person.name} says {round_}"
                    await self._step(
                        person, Step("text", {"text": text}), reaction=(other, containing(text))
                    )
        except Exception as error:
            self.run_result.failed.add(her.user_id)
            self.run_result.failures.append(
                f"pair {index} ({her.user_id}, {him.user_id}): {type(error).__name__}: {error}"
            )

    async def _like(self, person: Person, other_name: str, liked: Callable[[Chat], Any]) -> None:
        """Open the feed, find the other's card, like it; liked(chat) says it was answered."""

        def is_card(message: ChatMessage) -> bool:
            return message.body.startswith(other_name + ",") and MATCH not in message.body

        await self._step(
            person, Step("text", {"text": "/browse"}), until=lambda chat: _find(chat, is_card)
        )
        card = _find(person.chat, is_card)
        assert card is not None
        await self._step(
            person,
            Step("press", {"text": "❤️", "kind": "inline", "message_id": card.message_id}),
            until=liked,
        )

    async def _like_back(self, person: Person, other_name: str) -> None:
        """Open "someone likes you", see who, like them back."""
        notice = await self._wait(person, containing(LIKES_YOU), "the like notice")

        def is_liker(message: ChatMessage) -> bool:
            return (
                message.body.startswith(other_name + ",") and "❤️ Like back" in message.button_texts
            )

        await self._step(
            person,
            Step(
                "press", {"text": "👀 See who", "kind": "inline", "message_id": notice.message_id}
            ),
            until=lambda chat: _find(chat, is_liker),
        )
        liker = _find(person.chat, is_liker)
        assert liker is not None
        await self._step(
            person,
            Step(
                "press", {"text": "❤️ Like back", "kind": "inline", "message_id": liker.message_id}
            ),
            until=lambda chat: (
                _find(chat, lambda m: MATCH in m.body)
                and _find(chat, lambda m: NO_NEW_LIKES in m.body)
            ),
        )

    async def _onboard(self, person: Person, answers: Answers) -> None:
        """/start, then answer whatever the bot asks until the profile is ready."""

        def is_question(message: ChatMessage) -> bool:
            return answers.profile_menu in message.body or (
                reply_to(answers, message, set()) is not None
            )

        def asked(
            since: int, sent_at: float, edited: int | None
        ) -> Callable[[Chat], ChatMessage | None]:
            """The latest question the bot asked after the person acted (or, for a press,
            the question message it changed in place: a toggle, or the next question)."""

            def check(chat: Chat) -> ChatMessage | None:
                fresh = [
                    m
                    for m in chat.bot_messages
                    if (
                        m.message_id > since
                        or (m.message_id == edited and (m.edited_at or 0) >= sent_at)
                    )
                    and is_question(m)
                ]
                return fresh[-1] if fresh else None

            return check

        step = Step("text", {"text": "/start"})
        question: ChatMessage | None = None
        done: set[str] = set()
        for _ in range(3 * ONBOARDING_STEPS):
            latest = person.chat.last_bot_message
            pressed = question is not None and step.action == "press"
            waiting = asked(
                latest.message_id if latest else 0,
                time.time(),
                question.message_id if question is not None and pressed else None,
            )
            await self._step(person, step, until=waiting)
            question = waiting(person.chat)
            assert question is not None
            if answers.profile_menu in question.body:
                return
            action = reply_to(answers, question, done)
            assert action is not None, question.body
            step = Step(action.kind, action.body)
            if step.body.get("kind") == "inline" and step.body["text"] in question.button_texts:
                step = Step("press", {**step.body, "message_id": question.message_id})
        raise AssertionError(f"{person.name} never finished onboarding")

    async def _step(
        self,
        person: Person,
        step: Step,
        reaction: tuple[Person, Callable[[Chat], Any]] | None = None,
        until: Callable[[Chat], Any] | None = None,
    ) -> None:
        """Act, then wait for the answer: until(chat) (and the button's callback answered),
        or a predicate on another person's chat."""
        sent_at = time.time()
        with self._lock:
            self._pending[person.user_id] = sent_at
        try:
            await self._act_and_wait(person, step, sent_at, reaction, until)
        finally:
            with self._lock:
                del self._pending[person.user_id]

    async def _act_and_wait(
        self,
        person: Person,
        step: Step,
        sent_at: float,
        reaction: tuple[Person, Callable[[Chat], Any]] | None,
        until: Callable[[Chat], Any] | None,
    ) -> None:
        async with self._session.post(
            f"{self.base}/users/{person.user_id}/{step.action}", json=step.body
        ) as response:
            acted = await response.json()
        if "update_id" not in acted:
            raise AssertionError(f"{person.name} could not {step}: {acted}")
        query = acted.get("callback_query_id")
        if reaction is not None:
            watcher, predicate = reaction
            found = await self._wait(watcher, predicate, f"{step} reaching {watcher.name}")
            reacted_at = float(getattr(found, "sent_at", None) or time.time())
        else:

            def answered(chat: Chat) -> bool:
                arrived = until(chat) if until is not None else True
                return bool(arrived) and (
                    query is None or (query in chat.callbacks and chat.callbacks[query].answered)
                )

            chat = await self._wait(person, lambda c: c if answered(c) else None, str(step))
            times = [m.sent_at for m in chat.bot_messages if m.sent_at and m.sent_at >= sent_at]
            times += [
                m.edited_at for m in chat.bot_messages if m.edited_at and m.edited_at >= sent_at
            ]
            if query is not None and chat.callbacks[query].answered_at:
                times.append(chat.callbacks[query].answered_at)
            reacted_at = min(times) if times else time.time()
        with self._lock:
            self.run_result.steps.append(
                StepResult(person.user_id, sent_at, reacted_at, time.time())
            )

    async def _wait(self, person: Person, predicate: Callable[[Chat], Any], what: str) -> Any:
        deadline = time.monotonic() + self.step_timeout
        while True:
            value = predicate(person.chat)
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"{person.name} ({person.user_id}) waited for {what}; "
                    f"has {len(person.chat.bot_messages)} bot messages"
                )
            async with self._session.get(
                f"{self.base}/users/{person.user_id}/chat",
                params={
                    "changed_since": str(person.chat.version),
                    "wait": str(min(10.0, max(0.1, left))),
                },
            ) as response:
                person.chat.merge(await response.json())

    async def fetch(self, person: Person) -> Chat:
        async with self._session.get(
            f"{self.base}/users/{person.user_id}/chat", params={"changed_since": "-1"}
        ) as response:
            chat = Chat(person.user_id)
            chat.merge(await response.json())
            return chat


def letters(number: int) -> str:
    """A number written in letters (names and cities may not contain digits)."""
    return "".join("abcdefghij"[int(digit)] for digit in f"{number:04d}")


def containing(*texts: str) -> Callable[[Chat], ChatMessage | None]:
    """A bot message with every one of texts in it."""
    return lambda chat: _find(chat, lambda m: all(text in m.body for text in texts))


def _find(chat: Chat, test: Callable[[ChatMessage], bool]) -> ChatMessage | None:
    return next((m for m in chat.bot_messages if test(m)), None)


async def _fetch_all(sandbox_url: str, user_ids: list[int]) -> dict[int, Chat]:
    async with aiohttp.ClientSession() as session:

        async def one(user_id: int) -> tuple[int, Chat]:
            async with session.get(
                f"{sandbox_url}/sandbox/users/{user_id}/chat", params={"changed_since": "-1"}
            ) as response:
                chat = Chat(user_id)
                chat.merge(await response.json())
                return user_id, chat

        return dict(await asyncio.gather(*(one(user_id) for user_id in user_ids)))


def transcripts(sandbox_url: str, user_ids: list[int]) -> dict[int, Chat]:
    """Every chat as it is now (blocking)."""
    return asyncio.run(_fetch_all(sandbox_url, user_ids))


def uncertain_resends(logs: Path) -> Counter[int]:
    """Per chat, the replies a node sent again although they may already have reached the
    user (they were on their way to Telegram when their node was killed): the one way a reply
    may show twice, logged by the node that sent it again."""
    resent: Counter[int] = Counter()
    for path in logs.glob("node-*.log"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if "a reply may reach the user twice" in line:
                resent[int(json.loads(line)["chat_id"])] += 1
    return resent


def in_doubt_users(logs: Path) -> set[int]:
    """Users with an update handled again after its node died while handling it (its effects
    may have been committed, its replies were never recorded): the second named window."""
    users: set[int] = set()
    for path in logs.glob("node-*.log"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if "work in doubt" in line:
                user_id = json.loads(line).get("user_id")
                if user_id is not None:
                    users.add(int(user_id))
    return users


def without_resends(messages: list[ChatMessage], allowed: int) -> tuple[list[str], int]:
    """The bodies of the bot's messages, up to ``allowed`` immediate repeats dropped (a resent
    reply follows its original at once: nothing else is sent to the chat in between)."""
    bodies: list[str] = []
    previous: ChatMessage | None = None
    dropped = 0
    for message in messages:
        repeat = (
            previous is not None
            and message.body == previous.body
            and message.button_texts == previous.button_texts
        )
        if repeat and dropped < allowed:
            dropped += 1
        else:
            bodies.append(message.body)
        previous = message
    return bodies, dropped


def problems_of_pair(
    her: Chat,
    him: Chat,
    her_name: str,
    his_name: str,
    resent: Counter[int] | None = None,
    ignored: Collection[str] = (),
) -> list[str]:
    """What is wrong with a finished pair's chats. A problem starting "effect:" is about what
    the other person did reaching them (a match, a relayed message, a like) — it must hold
    for everyone; one starting "reply:" is about the bot's answers to the person's own
    messages. ``resent``: replies per chat that may show twice (uncertain_resends);
    ``ignored``: messages that are no answer (the notice that an answer takes longer)."""
    found: list[str] = []

    def exactly(area: str, name: str, what: str, count: int, want: int) -> None:
        if count != want:
            kind = "doubled" if count > want else "missing"
            found.append(f"{area}: {name}: {kind}: {count} {what}, not {want}")

    for chat, name, other, notices in ((her, her_name, his_name, 0), (him, his_name, her_name, 1)):
        messages = [message for message in chat.bot_messages if message.body not in ignored]
        bodies, _ = without_resends(messages, (resent or Counter())[chat.user_id])
        repeats = [body for body, after in itertools.pairwise(bodies) if body == after]
        if repeats:
            found.append(f"reply: {name}: doubled: {repeats[:3]} twice in a row")
        if len(bodies) != FINAL_MESSAGES + notices:
            found.append(
                f"reply: {name}: count: {len(bodies)} bot messages, not {FINAL_MESSAGES + notices}"
            )
        exactly(
            "reply", name, "'that's everyone'", sum(NOBODY_LEFT in b for b in bodies), 1 - notices
        )
        exactly(
            "reply",
            name,
            "'nobody new has liked you'",
            sum(NO_NEW_LIKES in b for b in bodies),
            notices,
        )
        exactly("reply", name, "'chatting' messages", sum(CHATTING in b for b in bodies), 1)
        exactly(
            "reply",
            name,
            f"cards of {other}",
            sum(b.startswith(other + ",") and MATCH not in b for b in bodies),
            1,
        )
        exactly(
            "effect",
            name,
            "'someone likes you' notices",
            sum(LIKES_YOU in b for b in bodies),
            notices,
        )
        exactly(
            "effect",
            name,
            f"match messages about {other}",
            sum(MATCH in b and other in b for b in bodies),
            1,
        )
        relayed = [body for body in bodies if f"{other} says" in body]
        for number in range(1, CHAT_ROUNDS + 1):
            exactly(
                "effect",
                name,
                f"copies of '{other} says {number}'",
                sum(f"{other} says {number}" in body for body in relayed),
                1,
            )
        expected = [f"{other} says {n}" for n in range(1, CHAT_ROUNDS + 1)]
        order = [next((e for e in expected if e in body), body) for body in relayed]
        if order != sorted(order):
            found.append(f"effect: {name}: misplaced: relayed messages in the order {order}")
    return found


@dataclass
class Windows:
    """What the nodes reported of the two named windows (docs/cluster.md)."""

    resent: Counter[int]  # per chat: replies sent again that may have reached Telegram
    in_doubt: set[int]  # users with an update handled again after its node died mid-way

    @classmethod
    def logged(cls, logs: Path) -> Windows:
        return cls(uncertain_resends(logs), in_doubt_users(logs))

    @property
    def touched(self) -> set[int]:
        return self.in_doubt | set(self.resent)

    def rewords(self, her: int, him: int) -> bool:
        """A pair one of whom a window touched: the bot's answers in their chats may read
        differently (a question twice, an update handled again answered anew) — never with
        an effect lost or doubled, and never with someone left unfinished."""
        return bool({her, him} & self.touched)


PAIR_QUERIES = (
    "SELECT count(*) FROM interactions WHERE kind = 'like' AND actor_id IN (%s, %s)",
    "SELECT count(*) FROM matches WHERE user_low = least(%s, %s)",
    "SELECT count(*) FROM chat_messages WHERE sender_id IN (%s, %s)",
)
# A finished pair: two likes, one match, six relayed messages.
PAIR_EXPECTED = (2, 1, 2 * CHAT_ROUNDS)


def pair_counts(conn: psycopg.Connection[tuple[int]], her: int, him: int) -> tuple[int, ...]:
    """A pair's likes, matches and relayed messages in the database (PAIR_QUERIES)."""
    counts = []
    for query in PAIR_QUERIES:
        row = conn.execute(query, (her, him)).fetchone()
        counts.append(int(row[0]) if row else 0)
    return tuple(counts)


def queue_counts(amqp_url: str) -> dict[str, int] | None:
    """Messages in each queue of the vhost, ready or in a consumer's hands (None when
    rabbitmqctl did not answer: ask again)."""
    vhost = unquote(urlsplit(amqp_url).path.lstrip("/"))
    command = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    try:
        listed = subprocess.run(
            [command, "-q", "list_queues", "-p", vhost, "name", "messages"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return None
    counts: dict[str, int] = {}
    for line in listed.splitlines():
        name, _, count = line.rpartition("\t")
        if name and count.isdigit():
            counts[name] = int(count)
    return counts


def queue_backlog(amqp_url: str) -> int:
    """Messages in the vhost's shard queues (-1 when rabbitmqctl did not answer)."""
    counts = queue_counts(amqp_url)
    if counts is None:
        return -1
    return sum(count for name, count in counts.items() if name.startswith("dating.shard."))
