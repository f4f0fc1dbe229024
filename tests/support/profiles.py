"""Finished profiles written straight to the database, for tests that need people but not
their onboarding (storage, ratings, feed and maintenance tests; tests/e2e/people.py)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator, Mapping

from domain.safety_keys import safety_key
from storage import db
from storage.accounts import Accounts
from tests.support.services import SAFETY_SECRET

# Ids far from the sandbox's virtual users and from each other test module's.
_ids: Iterator[int] = itertools.count(6_000_000_001)
_DIGITS_TO_LETTERS = str.maketrans("0123456789", "abcdefghij")


def unique_city() -> str:
    """A city name nobody else in the run has (letters only, as city names must be), so that
    the feeds of different tests never meet."""
    return "Town " + uuid.uuid4().hex[:10].translate(_DIGITS_TO_LETTERS).capitalize()


def write_profile(
    accounts: Accounts,
    user_id: int,
    fields: Mapping[str, object],
    photo: tuple[str, str, str, int] | None,
    *,
    language: str = "en",
    username: str | None = None,
) -> None:
    """Register the user and store a finished profile: the fields, one photo row (storage
    key, file_id, file_unique_id, size) unless photo is None, and the onboarding over."""
    accounts.register(
        user_id, user_id, language, username, safety_key(user_id, SAFETY_SECRET.encode())
    )
    accounts.update_profile(user_id, **fields)
    if photo is not None:
        key, file_id, unique_id, size = photo
        accounts.add_photo(user_id, key, file_id, unique_id, "image/jpeg", size)
    accounts.set_onboarding_step(user_id, None)


def complete_profile(
    pool: db.Pool,
    *,
    gender: str,
    seeking: str,
    city: str,
    age: int = 30,
    user_id: int | None = None,
    **fields: object,
) -> int:
    """A user with a finished profile and one photo row; extra fields override the defaults."""
    user_id = user_id if user_id is not None else next(_ids)
    values: dict[str, object] = {
        "name": "Alex",
        "age": age,
        "gender": gender,
        "seeking": seeking,
        "age_min": 20,
        "age_max": 45,
        "city": city,
        "city_key": city.lower(),
    }
    values.update(fields)
    photo = (f"photos/t{user_id}", f"f{user_id}", f"u{user_id}", 10)
    write_profile(Accounts(pool), user_id, values, photo)
    return user_id


def shown(pool: db.Pool, *pairs: tuple[int, int]) -> None:
    """Each (viewer, target): the target's card was shown to the viewer (a like needs it)."""
    with pool.connection() as conn:
        for viewer, target in pairs:
            conn.execute(
                "INSERT INTO interactions (actor_id, target_id, kind) VALUES (%s, %s, 'view')",
                (viewer, target),
            )
