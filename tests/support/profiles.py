"""Finished profiles written straight to the database, for tests that need people but not
the bot (storage, ratings, feed and maintenance tests)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from storage import db
from storage.accounts import Accounts

# Ids far from the sandbox's virtual users and from each other test module's.
_ids: Iterator[int] = itertools.count(6_000_000_001)


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
    accounts = Accounts(pool)
    user_id = user_id if user_id is not None else next(_ids)
    accounts.register(user_id, user_id, "en", None)
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
    accounts.update_profile(user_id, **values)
    accounts.add_photo(
        user_id, f"photos/t{user_id}", f"f{user_id}", f"u{user_id}", "image/jpeg", 10
    )
    accounts.set_onboarding_step(user_id, None)
    return user_id
