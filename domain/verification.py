"""Verification by a video note: the gestures the bot asks for and the reasons a moderator
gives for a refusal (catalog keys ``verify.gesture_<name>`` and ``verify.reason_<name>``)."""

from __future__ import annotations

import random
from typing import Final

# Easy to do in a round video with one hand, hard to find in an old video of someone else.
GESTURES: Final = (
    "thumbs_up",
    "peace",
    "wave",
    "touch_nose",
    "three_fingers",
    "hand_on_head",
    "ok",
    "point_up",
)
REFUSAL_REASONS: Final = ("gesture", "face", "unclear")


def pick_gesture(rng: random.Random | None = None) -> str:
    """A gesture chosen at random, so that no video made in advance fits."""
    return (rng or random.SystemRandom()).choice(GESTURES)
