"""The demo page in a real headless Chromium: a person signs up through it, browses the seeded
profiles and gets a match by acting as the seeded person they liked, in a second column.

The run leaves a screenshot of the page in tests/artifacts/demo_page.png.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from selenium import webdriver
from selenium.webdriver.common.by import By

from config.i18n import t
from devtools.seed import SeededProfile
from sandbox.server import SandboxServer
from storage import db
from tests.demo import ARTIFACTS
from tests.demo.browser import Column, DemoPage
from tests.support.stack import NodeThread

SCREENSHOT = ARTIFACTS / "demo_page.png"


def photo_file(path: Path, colour: tuple[int, int, int]) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (600, 800), colour).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    return path


def sign_up(max_: Column, tmp_path: Path) -> None:
    """Onboarding through the page: typing, inline and reply-keyboard buttons, the location
    picker and two photo uploads."""
    max_.start()
    max_.expect("onboarding.ask_name")
    max_.say("Max")
    max_.expect("onboarding.ask_age")
    max_.say("30")
    max_.expect("onboarding.ask_gender")
    max_.press_key("buttons.man")
    max_.expect("onboarding.ask_seeking")
    max_.press_key("buttons.seek_women")
    max_.expect("onboarding.ask_age_range", low=25, high=35)
    max_.press_key("buttons.keep_range", low=25, high=35)
    max_.expect("onboarding.ask_location")
    max_.press_key("buttons.share_location")  # a request_location button: the picker opens
    max_.page.share_location("Moscow")
    max_.page.until(
        lambda _: max_.element.find_elements(By.CSS_SELECTOR, ".msg.me .location-card"),
        "the shared location in the chat",
    )
    max_.expect("onboarding.ask_about", limit=1000)
    max_.press_key("buttons.skip")
    interests = max_.expect("onboarding.ask_interests", limit=10)
    message_id = interests.get_attribute("data-message-id")
    music = max_.text("interests.music")
    max_.press(music)
    # The bot edits the keyboard of that same message: the page updates it in place.
    max_.page.until(
        lambda _: f"✅ {music}" in (max_.message(message_id).get_attribute("textContent") or ""),
        "the tick, in place",
    )
    max_.press_key("buttons.done")
    max_.expect("onboarding.ask_photos", limit=3)
    max_.upload_photo(photo_file(tmp_path / "first.jpg", (210, 120, 80)))
    max_.expect("onboarding.photo_saved", count=1, limit=3)
    max_.upload_photo(photo_file(tmp_path / "second.jpg", (80, 120, 210)))
    max_.expect("onboarding.photo_saved", count=2, limit=3)
    max_.press_key("buttons.done")
    max_.expect("onboarding.done")


def liked_by(pool: db.Pool, user_id: int) -> list[int]:
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT target_id FROM interactions WHERE actor_id = %s AND kind = 'like'", (user_id,)
        ).fetchall()
    return [int(row["target_id"]) for row in rows]


def test_sign_up_browse_and_match_in_the_browser(
    browser: webdriver.Chrome,
    demo_server: SandboxServer,
    demo_node: NodeThread,
    seeded: list[SeededProfile],
    demo_pool: db.Pool,
    tmp_path: Path,
) -> None:
    """A person signs up through the page, sees a seeded profile's card with its photo, likes
    it (a toast confirms), then, as that seeded person in a second column, likes back: both
    columns show the match."""
    page = DemoPage(browser, f"{demo_server.url}/")
    max_ = page.add_user("Max", "en")
    sign_up(max_, tmp_path)

    # The own profile comes back as an album of both photos, shown from the sandbox's files.
    album = page.until(
        lambda _: max_.element.find_elements(By.CSS_SELECTOR, ".album-message"),
        "the own profile album",
    )[-1]
    assert len(album.find_elements(By.CSS_SELECTOR, "img.photo")) == 2
    page.until(lambda _: max_.images_loaded(album), "the album's photos to load")

    max_.say("/browse")
    card = page.until(
        lambda _: next(
            (
                message
                for message in max_.element.find_elements(By.CSS_SELECTOR, ".msg.bot")
                if message.find_elements(By.CSS_SELECTOR, "img.photo")
                and "❤️" in [b.text for b in message.find_elements(By.CSS_SELECTOR, ".inline-btn")]
            ),
            None,
        ),
        "a profile card",
    )
    page.until(lambda _: max_.images_loaded(card), "the card's photo to load")
    shown = (card.get_attribute("textContent") or "").split(",", 1)[0]
    assert shown in {profile.name for profile in seeded}

    max_.press(t("en", "browse.button_like"), within=card)
    page.until(
        lambda _: t("en", "browse.liked") in " ".join(page.toasts()),
        "the like confirmed in a toast",
    )
    [liked] = page.until(lambda _: liked_by(demo_pool, max_.user_id), "the like stored")
    seeded_person = next(profile for profile in seeded if profile.user_id == liked)
    assert seeded_person.name == shown

    # Act as the seeded person: open them from the people list and like back.
    her = page.open_person(liked, seeded_person.language)
    her.say("/likes")
    liker_card = her.expect_text("Max, 30")
    liker_id = liker_card.get_attribute("data-message-id")
    her.press(her.text("likes.button_like"), within=liker_card)
    her.expect("matches.new_match", name="Max")
    max_.expect("matches.new_match", name=seeded_person.name)
    with demo_pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM matches WHERE status = 'active' AND "
            "%s IN (user_low, user_high)",
            (max_.user_id,),
        ).fetchone()
    assert row is not None and row["n"] == 1

    # Her liker card loses its buttons: edited in place.
    page.until(
        lambda _: (
            not her.message(liker_id).find_elements(By.CSS_SELECTOR, ".inline-btn")
            and "edited" in (her.message(liker_id).get_attribute("textContent") or "")
        ),
        "the liker card without buttons",
    )
    page.until(lambda _: max_.images_loaded() and her.images_loaded(), "every photo loaded")
    page.screenshot(SCREENSHOT)
    assert SCREENSHOT.stat().st_size > 20_000
    assert page.console_errors() == []
