"""Privacy end to end (issue 16): nobody can be located through the bot, a location changes a
few times a day at most."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import pytest

from config.i18n import LANGUAGES, t
from domain.geo import EARTH_MEAN_RADIUS_KM
from domain.location_privacy import LOCATION_CHANGES_PER_DAY
from sandbox.client import Chat, ChatMessage
from tests.e2e.people import People, Person, browse, card_name, decide, unique_spot

pytestmark = pytest.mark.usefixtures("steady_node")

M_PER_DEG = math.pi * EARTH_MEAN_RADIUS_KM * 1000.0 / 180.0


def answer_to(
    person: Person, act: Callable[[], object], wanted: Callable[[ChatMessage], bool], what: str
) -> ChatMessage:
    """Do something and wait for the first new bot message that ``wanted`` accepts (other
    messages, such as a like notice, may come in between)."""
    chat = person.user.refresh()
    seen = max((m.message_id for m in chat.bot_messages), default=0)
    act()

    def arrived(chat: Chat) -> ChatMessage | None:
        return next((m for m in chat.bot_messages if m.message_id > seen and wanted(m)), None)

    return person.user.wait_until(arrived, what=what)


def share_location(person: Person, point: tuple[float, float], language: str = "en") -> str:
    """/profile, 📍 City, share ``point``: the bot's answer (saved, or the daily limit)."""
    user = person.user
    menu = answer_to(
        person,
        lambda: user.send_text("/profile"),
        lambda m: m.body == t(language, "profile.menu"),
        "the profile menu",
    )
    answer_to(
        person,
        lambda: user.press(t(language, "buttons.edit_location"), message_id=menu.message_id),
        lambda m: t(language, "buttons.share_location") in m.button_texts,
        "the location question",
    )
    answers = {t(language, "common.saved"), limit_refusal(language)}
    reply = answer_to(
        person,
        lambda: user.press_reply(
            t(language, "buttons.share_location"), latitude=point[0], longitude=point[1]
        ),
        lambda m: m.body in answers,
        "the answer to the shared location",
    )
    return reply.body


def limit_refusal(language: str) -> str:
    """The refusal of a location change beyond the day's limit, the first of them made just
    now (allowed again in 24 h)."""
    return t(language, "errors.location_limit", limit=LOCATION_CHANGES_PER_DAY, hours=24)


def distance_shown(attacker: Person, victim: Person) -> tuple[float, float]:
    """/likes shows the victim's card again; the km interval its distance says."""
    card = answer_to(
        attacker,
        lambda: attacker.user.send_text("/likes"),
        lambda m: "❤️ Like back" in m.button_texts,
        "the liker's card",
    )
    assert card_name(card) == victim.name, card.describe()
    if "📍 < 1 km" in card.body:
        return 0.0, 1.0
    found = re.search(r"📍 ~(\d+) km", card.body)
    assert found is not None, card.describe()
    km = int(found.group(1))
    return float(km), {1: 2.0, 2: 5.0, 5: 10.0}.get(km, km + 10.0)


def offset(origin: tuple[float, float], east_m: float, north_m: float) -> tuple[float, float]:
    cos_lat = math.cos(math.radians(origin[0]))
    return origin[0] + north_m / M_PER_DEG, origin[1] + east_m / (M_PER_DEG * cos_lat)


def best_estimate(readings: list[tuple[float, float, float, float]]) -> tuple[float, float]:
    """The attacker's estimate (metres east, north of the origin): the centre of the points
    that agree with the most readings (x, y of where the attacker stood, km interval)."""
    axis = np.arange(-6000.0, 6001.0, 25.0)
    xs, ys = (grid.ravel() for grid in np.meshgrid(axis, axis))
    score = np.zeros(xs.shape, dtype=np.int32)
    for x, y, low, high in readings:
        distance = np.hypot(xs - x, ys - y)
        score += (distance >= low * 1000.0) & (distance < high * 1000.0)
    best = score == score.max()
    return float(xs[best].mean()), float(ys[best].mean())


def test_an_attacker_moving_around_cannot_locate_a_liker(people: People) -> None:
    """Someone she liked moves his own location step by step through /profile and re-reads
    the distance on her card in /likes after every move, for days (5 moves a day, the 6th
    refused): his best estimate of where she is stays at least 500 m off."""
    origin = unique_spot()
    victim_at = (350.0, -220.0)  # metres east and north of the origin
    victim = people.join("Victim", gender="f", seeking="m", location=origin)
    attacker = people.join("Attacker", gender="m", seeking="f", location=origin)
    assert share_location(victim, offset(origin, *victim_at)) == "Saved ✅"
    card = browse(victim.user)
    assert card is not None and card_name(card) == "Attacker"
    decide(victim.user, card, "❤️")

    probes = [
        (x, y)
        for x in (-3000.0, -1500.0, 0.0, 1500.0, 3000.0)
        for y in (-2250.0, -750.0, 750.0, 2250.0)
    ]
    readings = []
    for number, (x, y) in enumerate(probes):
        if number and number % LOCATION_CHANGES_PER_DAY == 0:
            refused = share_location(attacker, offset(origin, x, y))
            assert refused == limit_refusal("en")
            # A day passes.
            people.sql(
                "UPDATE location_changes SET changed_at = changed_at - interval '1 day' "
                "WHERE user_id = %s",
                attacker.id,
            )
        assert share_location(attacker, offset(origin, x, y)) == "Saved ✅"
        readings.append((x, y, *distance_shown(attacker, victim)))
    estimate = best_estimate(readings)
    error = math.hypot(estimate[0] - victim_at[0], estimate[1] - victim_at[1])
    print(f"\nattack through the bot: {len(readings)} moves, best estimate {error:.0f} m off")
    assert error >= 500.0, (estimate, readings)


@pytest.mark.parametrize("language", LANGUAGES)
def test_location_changes_are_limited_per_day(people: People, language: str) -> None:
    """The sixth location shared within a day is refused with the reason and when a new one
    is allowed; the stored point stays the fifth one."""
    origin = unique_spot()
    person = people.join("Mover", location=origin, language=language)
    saved = t(language, "common.saved")
    for step in range(LOCATION_CHANGES_PER_DAY):
        assert share_location(person, offset(origin, 600.0 * step, 0.0), language) == saved
    stored = people.value("SELECT latitude FROM profiles WHERE user_id = %s", person.id)
    refused = share_location(person, offset(origin, 9000.0, 0.0), language)
    assert refused == limit_refusal(language)
    assert people.value("SELECT latitude FROM profiles WHERE user_id = %s", person.id) == stored
