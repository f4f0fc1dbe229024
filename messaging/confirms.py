"""Publisher confirms: the error of a message the broker refused, and one future for many."""

from __future__ import annotations

import threading
from concurrent.futures import Future


class PublishError(ConnectionError):
    """The broker refused (nacked) a message or did not confirm it in time: a fault of the
    broker, not of the work (a ConnectionError, so that it is waited out and retried)."""


def all_confirmed(futures: list[Future[None]]) -> Future[None]:
    """A future done once every one of futures is: with the first failure, or None."""
    combined: Future[None] = Future()
    combined.set_running_or_notify_cancel()  # it stands for work already handed over
    left = len(futures)
    lock = threading.Lock()

    def one_done(future: Future[None]) -> None:
        nonlocal left
        error = None if future.cancelled() else future.exception()
        with lock:
            left -= 1
            if combined.done():
                return
            if future.cancelled() or error is not None:
                combined.set_exception(error or PublishError("publishing was cancelled"))
            elif left == 0:
                combined.set_result(None)

    if not futures:
        combined.set_result(None)
    for future in futures:
        future.add_done_callback(one_done)
    return combined
