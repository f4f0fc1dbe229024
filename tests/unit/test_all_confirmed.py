"""One future for a batch of publishes (messaging.confirms.all_confirmed), without a broker."""

from concurrent.futures import Future

import pytest

from messaging.confirms import PublishError, all_confirmed


def pending(count: int) -> list[Future[None]]:
    futures: list[Future[None]] = [Future() for _ in range(count)]
    for future in futures:
        future.set_running_or_notify_cancel()
    return futures


def test_done_once_every_message_is_confirmed() -> None:
    futures = pending(3)
    combined = all_confirmed(futures)
    futures[0].set_result(None)
    futures[2].set_result(None)
    assert not combined.done()
    futures[1].set_result(None)
    assert combined.result(0) is None


def test_the_first_refusal_fails_the_batch() -> None:
    futures = pending(2)
    combined = all_confirmed(futures)
    futures[1].set_exception(PublishError("the broker refused a message"))
    with pytest.raises(PublishError):
        combined.result(0)
    futures[0].set_result(None)  # a later confirm changes nothing
    assert isinstance(combined.exception(0), PublishError)


def test_an_empty_batch_is_confirmed_at_once() -> None:
    assert all_confirmed([]).result(0) is None
