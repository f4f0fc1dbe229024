"""Flood control: Telegram's per-bot and per-chat limits, forced 429s, retry_after checks."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

# Telegram's published guidance: about 30 messages per second per bot, 1 per second per chat.
DEFAULT_GLOBAL_RATE = 30.0
DEFAULT_CHAT_RATE = 1.0
DEFAULT_CHAT_BURST = 3.0
# A retry that arrives this much before its retry_after ran out still counts as honouring it
# (timers and clocks of two processes are not perfectly aligned).
CLOCK_SLACK = 0.02


@dataclass(slots=True)
class FloodConfig:
    enabled: bool = False
    global_rate: float = DEFAULT_GLOBAL_RATE
    global_burst: float = DEFAULT_GLOBAL_RATE
    chat_rate: float = DEFAULT_CHAT_RATE
    chat_burst: float = DEFAULT_CHAT_BURST
    # While a retry_after runs, calls in its scope get 429 again and count as early retries.
    enforce_retry_after: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class ForcedRule:
    remaining: int
    retry_after: int
    chat_id: int | None
    methods: frozenset[str] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "remaining": self.remaining,
            "retry_after": self.retry_after,
            "chat_id": self.chat_id,
            "methods": sorted(self.methods) if self.methods is not None else None,
        }


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float

    def refill(self, rate: float, burst: float, now: float) -> None:
        self.tokens = min(burst, self.tokens + (now - self.stamp) * rate)
        self.stamp = now


@dataclass(slots=True)
class FloodCounters:
    flood_429: int = 0
    forced_429: int = 0
    early_retry_429: int = 0

    @property
    def total(self) -> int:
        return self.flood_429 + self.forced_429 + self.early_retry_429


@dataclass
class FloodControl:
    """Decides whether one send call is answered 429; all times are ``time.monotonic()``."""

    config: FloodConfig = field(default_factory=FloodConfig)
    counters: FloodCounters = field(default_factory=FloodCounters)
    forced: list[ForcedRule] = field(default_factory=list)
    _global: _Bucket | None = None
    _chats: dict[int, _Bucket] = field(default_factory=dict)
    # Scope (None: the whole bot, else a chat id) -> monotonic time its retry_after ends.
    _penalties: dict[int | None, float] = field(default_factory=dict)

    def reset(self, *, counters: bool = True) -> None:
        self._global = None
        self._chats.clear()
        self._penalties.clear()
        self.forced.clear()
        if counters:
            self.counters = FloodCounters()

    def force(
        self,
        count: int,
        retry_after: int,
        chat_id: int | None = None,
        methods: frozenset[str] | None = None,
    ) -> ForcedRule:
        rule = ForcedRule(count, retry_after, chat_id, methods)
        self.forced.append(rule)
        return rule

    def check(self, method: str, chat_id: int, now: float, counted: bool = True) -> int | None:
        """None when the call may go through, else the retry_after to answer with 429.

        ``counted`` calls (the ones that send a message) pass the limits and the running
        retry_after windows; other calls (edits, ...) only meet forced rules naming them.
        """
        if not (self.forced or self._penalties or self.config.enabled):
            return None
        config = self.config
        if counted and config.enforce_retry_after and self._penalties:
            for scope in (None, chat_id):
                until = self._penalties.get(scope)
                if until is None:
                    continue
                if now < until - CLOCK_SLACK:
                    self.counters.early_retry_429 += 1
                    return max(1, math.ceil(until - now))
                del self._penalties[scope]
        for rule in self.forced:
            if (rule.chat_id is None or rule.chat_id == chat_id) and (
                method in rule.methods if rule.methods is not None else counted
            ):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self.forced.remove(rule)
                self.counters.forced_429 += 1
                self._penalties[rule.chat_id] = now + rule.retry_after
                return rule.retry_after
        if not (config.enabled and counted):
            return None
        if self._global is None:
            self._global = _Bucket(config.global_burst, now)
        glob = self._global
        glob.refill(config.global_rate, config.global_burst, now)
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = _Bucket(config.chat_burst, now)
        else:
            chat.refill(config.chat_rate, config.chat_burst, now)
        if glob.tokens < 1:
            return self._limited(None, (1 - glob.tokens) / config.global_rate, now)
        if chat.tokens < 1:
            return self._limited(chat_id, (1 - chat.tokens) / config.chat_rate, now)
        glob.tokens -= 1
        chat.tokens -= 1
        return None

    def _limited(self, scope: int | None, wait: float, now: float) -> int:
        self.counters.flood_429 += 1
        self._penalties[scope] = now + wait
        return max(1, math.ceil(wait))
