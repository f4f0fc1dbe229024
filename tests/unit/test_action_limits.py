"""The per-user action limits (domain.action_limits): what goes, what is told, what is silent."""

from __future__ import annotations

import pytest

from config.i18n import LANGUAGES, t
from domain.action_limits import LIMITS, Action, Limit, Verdict, verdict


class TestVerdict:
    def test_actions_up_to_the_count_go_through(self) -> None:
        """Every action up to the limit's count in a window is allowed."""
        limit = Limit(3, 60)
        assert [verdict(n, limit) for n in (1, 2, 3)] == [Verdict.ALLOW] * 3

    def test_a_burst_past_the_limit_is_told_once(self) -> None:
        """The first action past the count is told to slow down; the rest of the burst is
        refused without a word, so a flood never gets a reply per message."""
        limit = Limit(3, 60)
        refused = [verdict(n, limit) for n in range(4, 60)]
        assert refused[0] is Verdict.TELL
        assert set(refused[1:]) == {Verdict.SILENT}

    def test_a_flood_of_fifty_messages_is_told_once(self) -> None:
        """Fifty messages in a second: the message limit lets some through and tells once."""
        verdicts = [verdict(n, LIMITS[Action.MESSAGE]) for n in range(1, 51)]
        assert verdicts.count(Verdict.TELL) == 1
        assert Verdict.ALLOW in verdicts and verdicts[-1] is Verdict.SILENT
        assert verdicts.index(Verdict.TELL) == verdicts.count(Verdict.ALLOW)


@pytest.mark.parametrize("action", list(Action))
def test_every_action_has_a_limit_and_a_message_in_every_language(action: Action) -> None:
    """Each limited action has a limit a person can live with and its own polite text."""
    limit = LIMITS[action]
    assert limit.count >= 5 and limit.window_seconds >= 30
    texts = {t(language, f"limits.{action.value}") for language in LANGUAGES}
    assert len(texts) == len(LANGUAGES)
