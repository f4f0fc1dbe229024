"""Seeded profiles (devtools/seed.py): finished accounts with plausible values, photos that are
real files in the sandbox and real objects in the bucket, made the same way for the same seed."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from config.settings import Settings
from devtools.seed import NAMES, PHOTO_SIZE, SeededProfile, draft_profile, placeholder_photo
from domain.interests import INTERESTS
from domain.validation import validate_city, validate_name
from sandbox.client import SandboxClient
from storage import db
from storage.accounts import Accounts
from storage.photos import PhotoStore
from storage.stats import Stats
from tests.demo import SEED_COUNT

JPEG_MAGIC = b"\xff\xd8\xff"


class TestSeededPeople:
    def test_each_is_a_finished_account_as_onboarding_leaves_it(
        self, seeded: list[SeededProfile], demo_pool: db.Pool
    ) -> None:
        """Every seeded person has a complete profile whose stored values are the generated
        ones and pass the same validation a user's answers do."""
        assert len(seeded) == SEED_COUNT
        accounts = Accounts(demo_pool)
        for person in seeded:
            account = accounts.get(person.user_id)
            assert account is not None and account.is_complete, person
            assert (account.name, account.age, account.gender, account.seeking) == (
                person.name,
                person.age,
                person.gender,
                person.seeking,
            )
            assert account.name is not None and account.age is not None
            assert validate_name(account.name) == account.name
            assert account.city is not None
            assert account.city_key == validate_city(account.city)[1]
            assert account.age_min is not None and account.age_max is not None
            assert 18 <= account.age_min <= account.age <= account.age_max <= 100
            assert set(account.interests) <= set(INTERESTS) and 1 <= len(account.interests) <= 6
            assert len(account.photos) == person.photos and 1 <= person.photos <= 3
            assert account.language == person.language
            assert account.username == person.username

    def test_names_fit_gender_and_language(self, seeded: list[SeededProfile]) -> None:
        """A woman gets a woman's name, in her language's alphabet."""
        for person in seeded:
            assert person.name in NAMES[person.language, person.gender], person

    def test_the_crowd_is_varied(self, seeded: list[SeededProfile]) -> None:
        """Both genders and languages, several cities, some with coordinates, some without an
        about text."""
        assert {person.gender for person in seeded} == {"f", "m"}
        assert {person.language for person in seeded} == {"en", "ru"}
        assert len({validate_city(person.city)[1] for person in seeded}) >= 4
        assert any(p.latitude is not None for p in seeded)
        assert any(p.latitude is None for p in seeded)
        assert any(p.about is None for p in seeded) and any(p.about for p in seeded)

    def test_activity_is_spread_over_the_past(
        self, seeded: list[SeededProfile], demo_pool: db.Pool
    ) -> None:
        """Seeded people joined and were last active at different times, most of them within
        the last day, so that "active users" is not simply everyone."""
        ids = [person.user_id for person in seeded]
        with demo_pool.connection() as conn:
            rows = conn.execute(
                "SELECT created_at, last_active_at FROM users WHERE id = ANY(%s)", (ids,)
            ).fetchall()
        now = datetime.now(UTC)
        recent = sum(now - row["last_active_at"] < timedelta(hours=24) for row in rows)
        assert SEED_COUNT // 2 <= recent < SEED_COUNT
        assert all(row["created_at"] <= row["last_active_at"] for row in rows)
        assert Stats(demo_pool).active_users() < Stats(demo_pool).totals().users


class TestSeededPhotos:
    def test_photos_are_sandbox_files_and_bucket_objects(
        self,
        seeded: list[SeededProfile],
        demo_pool: db.Pool,
        demo_sandbox: SandboxClient,
        demo_photos: PhotoStore,
    ) -> None:
        """Each photo's file_id downloads from the sandbox, and the same bytes are stored in
        the bucket under the photo's random key."""
        accounts = Accounts(demo_pool)
        for person in seeded[:8]:
            account = accounts.get(person.user_id)
            assert account is not None
            for photo in account.photos:
                from_sandbox = demo_sandbox.download(photo.telegram_file_id)
                assert from_sandbox.startswith(JPEG_MAGIC)
                assert demo_photos.get(photo.object_key) == from_sandbox
                assert person.name.lower() not in photo.object_key.lower()

    def test_the_bot_may_write_to_seeded_people(
        self, seeded: list[SeededProfile], demo_sandbox: SandboxClient
    ) -> None:
        """Seeded people are sandbox users who started the bot, with their name and language,
        and the upload messages are gone from their chats."""
        person = seeded[0]
        user = demo_sandbox.user(person.user_id)
        assert (user.first_name, user.language_code) == (person.name, person.language)
        assert user.chat.visible_bot_messages == []
        chats = {chat["user"]["id"]: chat for chat in demo_sandbox.chats()}
        assert chats[person.user_id]["started"] is True


class TestGenerator:
    def test_the_same_seed_makes_the_same_people(self) -> None:
        """draft_profile is deterministic for a given random state."""
        first = [draft_profile(random.Random(5), n) for n in range(10)]
        again = [draft_profile(random.Random(5), n) for n in range(10)]
        other = [draft_profile(random.Random(6), n) for n in range(10)]
        assert first == again
        assert first != other

    @pytest.mark.parametrize("name", ["Emma", "Артём", "Anne Marie"])
    def test_placeholder_photo_is_a_gradient_with_initials(self, name: str) -> None:
        """The placeholder is a JPEG of PHOTO_SIZE whose opposite corners differ in colour and
        whose centre holds light initials."""
        image = Image.open(io.BytesIO(placeholder_photo(name, random.Random(3))))
        assert image.format == "JPEG" and image.size == PHOTO_SIZE
        rgb = image.convert("RGB")
        width, height = PHOTO_SIZE
        top_left, bottom_right = rgb.getpixel((2, 2)), rgb.getpixel((width - 3, height - 3))
        assert isinstance(top_left, tuple) and isinstance(bottom_right, tuple)
        assert sum(abs(a - b) for a, b in zip(top_left, bottom_right, strict=True)) > 60
        centre = rgb.crop((width // 4, height // 3, 3 * width // 4, 2 * height // 3))
        extrema = centre.getextrema()  # per band (low, high) of an RGB image
        assert isinstance(extrema[0], tuple)
        assert all(band[1] > 240 for band in extrema if isinstance(band, tuple))  # white glyph


def test_seed_command_adds_people_to_a_running_demo(
    demo_settings: Settings,
    demo_pool: db.Pool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`python -m scripts.seed --count 2` adds two finished profiles where the environment's
    settings point (here: the test's demo)."""
    from scripts.seed import main  # noqa: PLC0415 - a script module, imported for the test

    for name, value in {
        "BOT_TOKEN": demo_settings.bot_token,
        "TELEGRAM_API_URL": demo_settings.telegram_api_url,
        "DATABASE_URL": demo_settings.database_url,
        "S3_ENDPOINT": demo_settings.s3_endpoint,
        "S3_ACCESS_KEY": demo_settings.s3_access_key,
        "S3_SECRET_KEY": demo_settings.s3_secret_key,
        "SAFETY_SECRET": demo_settings.safety_secret,
        "S3_BUCKET": demo_settings.s3_bucket,
    }.items():
        monkeypatch.setenv(name, value)
    before = Stats(demo_pool).totals()
    assert main(["--count", "2", "--rng-seed", "11"]) == 0
    assert capsys.readouterr().out.startswith("seeded 2 profiles: ")
    after = Stats(demo_pool).totals()
    assert (after.users, after.completed) == (before.users + 2, before.completed + 2)
