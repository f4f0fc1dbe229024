"""Issue 14, part A, the pure parts: media checks, the gestures, the trust factor."""

from __future__ import annotations

import random

import pytest

from config.i18n import t
from domain import ranking
from domain.media import (
    LIKE_MEDIA_KINDS,
    MEDIA_MAX_BYTES,
    MEDIA_MAX_SECONDS,
    PROFILE_VIDEO_KINDS,
    VERIFICATION_KINDS,
    check_media,
    sniff_video_type,
)
from domain.ranking import CandidateRating, FeedCandidate
from domain.validation import Invalid
from domain.verification import GESTURES, REFUSAL_REASONS, pick_gesture
from tests.unit.test_ranking import NOW, profile


class TestCheckMedia:
    def test_accepts_what_fits(self) -> None:
        """A medium of an allowed kind, at the limits of length and size, passes."""
        check_media("video_note", MEDIA_MAX_SECONDS, MEDIA_MAX_BYTES, PROFILE_VIDEO_KINDS, "k")

    @pytest.mark.parametrize(
        ("kind", "allowed"),
        [
            ("photo", PROFILE_VIDEO_KINDS),
            ("video", LIKE_MEDIA_KINDS),
            ("voice", VERIFICATION_KINDS),
        ],
    )
    def test_refuses_the_wrong_kind_with_the_given_key(
        self, kind: str, allowed: frozenset[str]
    ) -> None:
        """A kind the purpose does not take is refused with that purpose's own text."""
        with pytest.raises(Invalid) as refusal:
            check_media(kind, 1, 1, allowed, "media.video_expected")
        assert refusal.value.key == "media.video_expected"

    def test_refuses_too_long_then_too_large(self) -> None:
        """One second over the limit, or one byte over it, is refused with the figures."""
        with pytest.raises(Invalid) as long_one:
            check_media("voice", MEDIA_MAX_SECONDS + 1, 1, LIKE_MEDIA_KINDS, "k")
        assert long_one.value.key == "media.too_long"
        assert long_one.value.params == {"seconds": 16, "limit": MEDIA_MAX_SECONDS}
        with pytest.raises(Invalid) as large:
            check_media("voice", 1, MEDIA_MAX_BYTES + 1, LIKE_MEDIA_KINDS, "k")
        assert large.value.key == "media.too_large"


class TestSniffVideo:
    @pytest.mark.parametrize(
        ("head", "expected"),
        [
            (b"\x00\x00\x00\x18ftypmp42", "video/mp4"),
            (b"\x00\x00\x00\x14ftypqt  ", "video/quicktime"),
            (b"\x1a\x45\xdf\xa3\x01\x00", "video/webm"),
            (b"\xff\xd8\xff\xe0JFIF", None),
            (b"OggS\x00\x02", None),
        ],
    )
    def test_the_bytes_decide(self, head: bytes, expected: str | None) -> None:
        """The container is read from the bytes: an image or audio is no video."""
        assert sniff_video_type(head) == expected


class TestGestures:
    def test_every_gesture_and_reason_has_both_texts(self) -> None:
        """Each gesture and refusal reason reads in both languages."""
        for language in ("en", "ru"):
            for gesture in GESTURES:
                assert t(language, f"verify.gesture_{gesture}")
            for reason in REFUSAL_REASONS:
                assert t(language, f"verify.reason_{reason}")
                assert t(language, f"verify.button_refuse_{reason}")

    def test_the_pick_varies(self) -> None:
        """Over many requests every gesture comes up: no video made in advance fits."""
        rng = random.Random(7)
        assert {pick_gesture(rng) for _ in range(400)} == set(GESTURES)


class TestVerifiedTrust:
    def _pair(self) -> list[FeedCandidate]:
        rating = CandidateRating(primary=0.6, behaviour=0.5, evidence=5.0)
        return [
            FeedCandidate(profile(2), rating),
            FeedCandidate(profile(3, is_verified=True), rating),
        ]

    def test_a_verified_twin_comes_first(self) -> None:
        """Of two otherwise equal candidates the verified one is shown first (ties would
        give the lower id)."""
        ordered = ranking.order_feed(profile(1, gender="m", seeking="f"), self._pair(), NOW)
        assert [c.profile.user_id for c in ordered] == [3, 2]

    def test_the_factor_scales_the_score_and_one_turns_it_off(self) -> None:
        """The verified score is VERIFIED_TRUST times its twin's; with 1 they are equal."""
        viewer = profile(1, gender="m", seeking="f")
        plain, verified = ranking.feed_scores(viewer, self._pair(), NOW)
        assert verified == pytest.approx(plain * ranking.VERIFIED_TRUST)
        off = ranking.feed_scores(viewer, self._pair(), NOW, verified_trust=1.0)
        assert off[0] == pytest.approx(off[1])
