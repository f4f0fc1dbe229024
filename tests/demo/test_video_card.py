"""The demo page shows a card with a profile video and the ✅ badge (issue 14): a verified
person with a video in a city of her own, a viewer who opens /browse in the page; the run
leaves a screenshot of it in tests/artifacts/demo_video_card.png (gitignored)."""

from __future__ import annotations

import uuid

from selenium import webdriver
from selenium.webdriver.common.by import By

from config.i18n import t
from domain.validation import validate_city
from sandbox.client import SandboxClient
from sandbox.media import VIDEO, make_photo_sizes
from sandbox.server import SandboxServer
from storage import db
from storage.accounts import Accounts
from tests.demo import ARTIFACTS
from tests.demo.browser import DemoPage
from tests.support.images import jpeg
from tests.support.profiles import unique_city, write_profile
from tests.support.stack import NodeThread

SCREENSHOT = ARTIFACTS / "demo_video_card.png"
VIDEO_BYTES = b"\x00\x00\x00\x18ftypmp42demo-profile-video"


def test_a_card_with_a_video_and_the_badge(
    browser: webdriver.Chrome,
    demo_server: SandboxServer,
    demo_sandbox: SandboxClient,
    demo_node: NodeThread,
    demo_pool: db.Pool,
) -> None:
    """The viewer's /browse shows her card as a video with its player and length, and her
    name with ✅; the page logs no error."""
    accounts = Accounts(demo_pool)
    token = demo_server.token
    photo = demo_server.call(
        lambda state: state.files.add_photo(token, make_photo_sizes(jpeg(colour=(200, 90, 120))))
    )[-1]
    video = demo_server.call(lambda state: state.files.add(token, VIDEO, VIDEO_BYTES, duration=9))
    shown, key = validate_city(unique_city())
    place = {"city": shown, "city_key": key, "age_min": 18, "age_max": 99}
    her = demo_sandbox.create_user("Mira", language_code="en", started=True)
    write_profile(
        accounts,
        her.id,
        {
            "name": "Mira",
            "age": 28,
            "gender": "f",
            "seeking": "m",
            **place,
            "about": "Film photography and long walks",
            "interests": ["photography", "hiking"],
        },
        (f"demo/{uuid.uuid4().hex}", photo.file_id, photo.file_unique_id, photo.size),
    )
    with demo_pool.connection() as conn:
        conn.execute(
            """INSERT INTO profile_videos (user_id, object_key, telegram_file_id, file_unique_id,
                                           content_type, size_bytes, duration_s)
               VALUES (%s, %s, %s, %s, 'video/mp4', %s, 9)""",
            (her.id, f"photos/{uuid.uuid4().hex}", video.file_id, video.file_unique_id, video.size),
        )
        conn.execute("UPDATE users SET verified_at = now() WHERE id = %s", (her.id,))
    him = demo_sandbox.create_user("Leo", language_code="en", started=True)
    write_profile(
        accounts,
        him.id,
        {
            "name": "Leo",
            "age": 31,
            "gender": "m",
            "seeking": "f",
            **place,
            "interests": ["photography"],
        },
        (f"demo/{uuid.uuid4().hex}", photo.file_id, photo.file_unique_id, photo.size),
    )

    page = DemoPage(browser, f"{demo_server.url}/")
    leo = page.open_person(him.id, "en")
    leo.say("/browse")
    badge = t("en", "verify.badge", name="Mira")
    card = page.until(
        lambda _: next(
            (
                message
                for message in leo.element.find_elements(By.CSS_SELECTOR, ".msg.bot")
                if message.find_elements(By.CSS_SELECTOR, ".media-box.video video")
                and badge in (message.get_attribute("textContent") or "")
            ),
            None,
        ),
        "a card with a video and the badge",
    )
    assert "0:09" in (card.get_attribute("textContent") or "")
    assert "❤️" in [b.text for b in card.find_elements(By.CSS_SELECTOR, ".inline-btn")]
    page.screenshot(SCREENSHOT)
    assert SCREENSHOT.stat().st_size > 10_000
    assert page.console_errors() == []
