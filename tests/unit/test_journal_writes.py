"""The reply journal's writer sends one write per entry and batch (pure part, no Redis)."""

from storage.journal import _coalesced


def test_the_last_sent_count_of_an_entry_is_written_once() -> None:
    writes = [("n", "7", 1, None), ("n", "8", 1, None), ("n", "7", 2, None)]
    assert _coalesced(writes) == {"7": 2, "8": 1}


def test_a_finished_entry_is_only_marked_complete() -> None:
    writes = [
        ("n", "7", 1, None),
        ("n", "7", 2, None),
        ("s", "7", 0, lambda: None),
        ("n", "9", 3, None),
    ]
    assert _coalesced(writes) == {"7": None, "9": 3}


def test_nothing_to_write_for_an_empty_batch() -> None:
    assert _coalesced([]) == {}
