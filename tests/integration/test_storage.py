"""Accounts, photos and the schema against real PostgreSQL and an S3 endpoint."""

from __future__ import annotations

import itertools
import urllib.request

import psycopg
import pytest

from storage import db
from storage.accounts import Accounts
from storage.photos import PhotoStore
from tests.support.services import Services

_ids = itertools.count(9_000_000_001)


def new_user(accounts: Accounts) -> int:
    user_id = next(_ids)
    accounts.register(user_id, user_id, "en", "someone")
    return user_id


class TestSchema:
    def test_applying_twice_changes_nothing(self, pool: db.Pool) -> None:
        """schema.sql is idempotent: a second application succeeds and keeps the tables."""
        db.apply_schema(pool)
        with pool.connection() as conn:
            tables = {
                row["tablename"]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                )
            }
        assert {
            "users",
            "profiles",
            "photos",
            "ratings",
            "rating_history",
            "interactions",
            "matches",
        } <= tables

    def test_age_bounds_are_enforced(self, pool: db.Pool) -> None:
        """The database itself refuses an age outside 18-100."""
        accounts = Accounts(pool)
        user_id = new_user(accounts)
        with pytest.raises(psycopg.errors.CheckViolation):
            accounts.update_profile(user_id, age=17)

    def test_one_match_per_unordered_pair(self, pool: db.Pool) -> None:
        """A second match row for the same pair is refused."""
        accounts = Accounts(pool)
        low, high = new_user(accounts), new_user(accounts)
        with pool.connection() as conn:
            conn.execute("INSERT INTO matches (user_low, user_high) VALUES (%s, %s)", (low, high))
        with pytest.raises(psycopg.errors.UniqueViolation), pool.connection() as conn:
            conn.execute("INSERT INTO matches (user_low, user_high) VALUES (%s, %s)", (low, high))


class TestAccounts:
    def test_a_refused_answer_saves_nothing(self, pool: db.Pool) -> None:
        """save() sends its statements together, as one transaction: when one is refused, the
        step does not move and the other fields keep their values."""
        accounts = Accounts(pool)
        user_id = new_user(accounts)
        with pytest.raises(psycopg.errors.CheckViolation):
            accounts.save(user_id, {"name": "Anna", "age": 17}, "gender")
        account = accounts.get(user_id)
        assert account is not None
        assert (account.name, account.age, account.onboarding_step) == (None, None, "name")

    def test_save_writes_fields_and_step_and_reads_them_back(self, pool: db.Pool) -> None:
        """The account save() hands back is the one stored, finished profile included."""
        accounts = Accounts(pool)
        user_id = new_user(accounts)
        saved, shown = accounts.save(
            user_id, {"name": "O'Brien; DROP", "interests": ["music"]}, "age"
        )
        assert not shown and saved == accounts.get(user_id)
        assert (saved.name, saved.interests, saved.onboarding_step) == (
            "O'Brien; DROP",
            ("music",),
            "age",
        )
        finished, shown = accounts.save(user_id, {}, None)
        assert shown and finished.is_complete and finished == accounts.get(user_id)

    def test_register_is_idempotent(self, pool: db.Pool) -> None:
        """Registering twice returns the same account and says it was created only once."""
        accounts = Accounts(pool)
        _, created = accounts.register(8_000_000_001, 8_000_000_001, "ru", None)
        again, created_again = accounts.register(8_000_000_001, 8_000_000_001, "en", None)
        assert created and not created_again
        assert again.language == "ru" and again.onboarding_step == "name"

    def test_photos_keep_dense_positions(self, pool: db.Pool) -> None:
        """Photos fill positions 0-2, deleting closes the gap, make-main moves one to 0."""
        accounts = Accounts(pool)
        user_id = new_user(accounts)
        for n in range(3):
            assert accounts.add_photo(
                user_id, f"photos/k{user_id}-{n}", f"f{n}", f"u{user_id}{n}", "image/jpeg", 10
            )
        assert not accounts.add_photo(user_id, f"photos/k{user_id}-x", "fx", "ux", "image/jpeg", 1)
        account = accounts.get(user_id)
        assert account is not None
        assert [p.telegram_file_id for p in account.photos] == ["f0", "f1", "f2"]
        assert accounts.make_main_photo(user_id, account.photos[2].id)
        assert accounts.delete_photo(user_id, account.photos[0].id) == f"photos/k{user_id}-0"
        account = accounts.get(user_id)
        assert account is not None
        assert [(p.position, p.telegram_file_id) for p in account.photos] == [(0, "f2"), (1, "f1")]

    def test_delete_account_removes_rows_and_queues_objects(self, pool: db.Pool) -> None:
        """Deleting an account removes its rows and lists its photo objects for removal."""
        accounts = Accounts(pool)
        user_id = new_user(accounts)
        accounts.add_photo(user_id, f"photos/del{user_id}", "f", f"u{user_id}", "image/jpeg", 5)
        assert accounts.delete_account(user_id).object_keys == [f"photos/del{user_id}"]
        assert accounts.get(user_id) is None
        with pool.connection() as conn:
            left = conn.execute(
                "SELECT count(*) AS n FROM photos WHERE user_id = %s", (user_id,)
            ).fetchone()
        assert left is not None and left["n"] == 0

    def test_a_sweep_cursor_naming_a_deleted_account_names_nobody(self, pool: db.Pool) -> None:
        """A rating sweep whose last done user was the deleted one resumes from just below."""
        accounts = Accounts(pool)
        user_id = new_user(accounts)
        with pool.connection() as conn:
            row = conn.execute(
                """INSERT INTO sweep_runs (kind, node_id, cursor_user)
                   VALUES ('incremental', 'test', %s) RETURNING id""",
                (user_id,),
            ).fetchone()
        assert row is not None
        accounts.delete_account(user_id)
        with pool.connection() as conn:
            cursor = conn.execute(
                "SELECT cursor_user FROM sweep_runs WHERE id = %s", (row["id"],)
            ).fetchone()
        assert cursor is not None and cursor["cursor_user"] == user_id - 1


class TestPhotoStore:
    def test_round_trip_and_delete(self, photo_store: PhotoStore) -> None:
        """Bytes stored under a random key come back, and are gone after delete."""
        key = photo_store.put(b"\xff\xd8\xffjpeg-bytes", "image/jpeg")
        assert key.startswith("photos/") and len(key) > 20
        assert photo_store.get(key) == b"\xff\xd8\xffjpeg-bytes"
        photo_store.delete([key])
        assert not photo_store.exists(key)

    def test_presigned_url_serves_the_object(self, photo_store: PhotoStore) -> None:
        """A presigned URL lets an outside reader fetch the photo without credentials."""
        key = photo_store.put(b"\x89PNG\r\n\x1a\nrest", "image/png")
        url = photo_store.presigned_url(key)
        assert "X-Amz-Expires=600" in url
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.read() == b"\x89PNG\r\n\x1a\nrest"

    def test_bucket_is_private(self, photo_store: PhotoStore, services: Services) -> None:
        """An anonymous request for an object is refused."""
        key = photo_store.put(b"\xff\xd8\xffsecret", "image/jpeg")
        endpoint = services.s3_endpoint
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{endpoint}/{photo_store.bucket}/{key}", timeout=5)
        refused.value.close()
        assert refused.value.code == 403
