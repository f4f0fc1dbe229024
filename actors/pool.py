"""Several instances of one actor, each user always served by the same instance.

A ThreadingActor is one thread; keying instances by user keeps each user's messages in order
(one mailbox) while different users' work runs side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar, cast

import pykka

P = TypeVar("P")


class ActorPool(Generic[P]):
    def __init__(
        self, name: str, size: int, start: Callable[[], pykka.ActorRef[Any]], proxy_type: type[P]
    ) -> None:
        """proxy_type is the typed proxy class (pykka.typing) the callers see; like Mopidy, we
        cast real proxies to it, since instantiating it would run methods in the caller."""
        self.name = name
        self.refs = [start() for _ in range(size)]
        self._proxies = [cast(P, ref.proxy()) for ref in self.refs]

    def for_user(self, user_id: int) -> P:
        return self._proxies[user_id % len(self._proxies)]

    def __iter__(self) -> Iterator[P]:
        return iter(self._proxies)

    def mailbox_size(self) -> int:
        # ThreadingActor's inbox is a queue.Queue; the ActorInbox protocol does not say so.
        return sum(ref.actor_inbox.qsize() for ref in self.refs)  # type: ignore[attr-defined]

    def alive(self) -> bool:
        return all(ref.is_alive() for ref in self.refs)

    def any_alive(self) -> bool:
        return any(ref.is_alive() for ref in self.refs)

    def stop(self, timeout: float = 10.0) -> None:
        for ref in self.refs:
            if ref.is_alive():
                ref.stop(block=True, timeout=timeout)
