"""Who may be shown to whom: the candidate rules as pure predicates.

The SQL feed query enforces exactly these rules; each ``Rule`` names one condition, and the
query's WHERE clause has one line per rule (viewer's values as parameters, ``c`` the candidate
row of users JOIN profiles):

    SELF                   c.id <> :viewer_id
    INCOMPLETE             c.onboarding_step IS NULL AND p.completed_at IS NOT NULL
    DELETED                (the users row exists: an inner join)
    BANNED / PAUSED / INACTIVE / HIDDEN
                           NOT c.is_banned AND NOT c.is_paused AND NOT c.is_inactive
                           AND NOT c.is_hidden
    NO_PHOTO               EXISTS (SELECT 1 FROM photos WHERE user_id = c.id)
    BLOCKED_BY_VIEWER      NOT EXISTS (blocks WHERE blocker_id = :viewer_id AND blocked_id = c.id)
    BLOCKED_VIEWER         NOT EXISTS (blocks WHERE blocker_id = c.id AND blocked_id = :viewer_id)
    ALREADY_LIKED          NOT EXISTS (interactions: actor :viewer_id, kind 'like', target c.id)
    MATCHED                NOT EXISTS (matches for the pair, whatever its status)
    SKIPPED_RECENTLY       NOT EXISTS (interactions: actor :viewer_id, kind 'skip', target c.id,
                           created_at > now() - interval '7 days')
    VIEWER_GENDER_WISH     :seeking = 'any' OR p.gender = :seeking
    CANDIDATE_GENDER_WISH  p.seeking = 'any' OR p.seeking = :gender
    VIEWER_AGE_RANGE       p.age BETWEEN coalesce(:age_min, 18) AND coalesce(:age_max, 100)
    CANDIDATE_AGE_RANGE    :age BETWEEN coalesce(p.age_min, 18) AND coalesce(p.age_max, 100)
    LOCATION               p.city_key = :city_key OR (both have coordinates AND
                           haversine(viewer, p) <= :effective_radius_km)

The effective radius is the viewer's ``radius_km`` widened by ``domain.geo.choose_radius``.
Skipped candidates past their 7 days come back only after every never-skipped candidate was
shown: ``partition_by_skip`` and ``feed_sequence`` below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, TypeVar

from domain.geo import haversine_km
from domain.ranking import DEFAULT_AGE_MAX, DEFAULT_AGE_MIN, ProfileFeatures, wants

# A skipped person is not shown again for a week: long enough that the same face does not come
# back while the "no" is fresh, short enough that a small town's pool does not run dry for good.
SKIP_COOLDOWN: Final = timedelta(days=7)

T = TypeVar("T")


class Rule(StrEnum):
    """The rule that rejected a candidate, in the order they are checked."""

    SELF = "self"
    INCOMPLETE = "incomplete"
    DELETED = "deleted"
    BANNED = "banned"
    PAUSED = "paused"
    INACTIVE = "inactive"
    HIDDEN = "hidden"
    NO_PHOTO = "no_photo"
    BLOCKED_BY_VIEWER = "blocked_by_viewer"
    BLOCKED_VIEWER = "blocked_viewer"
    ALREADY_LIKED = "already_liked"
    MATCHED = "matched"
    SKIPPED_RECENTLY = "skipped_recently"
    VIEWER_GENDER_WISH = "viewer_gender_wish"
    CANDIDATE_GENDER_WISH = "candidate_gender_wish"
    VIEWER_AGE_RANGE = "viewer_age_range"
    CANDIDATE_AGE_RANGE = "candidate_age_range"
    LOCATION = "location"


@dataclass(frozen=True, slots=True)
class Relation:
    """What lies between the viewer and one candidate (blocks, interactions, a match)."""

    viewer_blocked_candidate: bool = False
    candidate_blocked_viewer: bool = False
    viewer_liked_candidate: bool = False
    matched: bool = False  # a matches row for the pair, whatever its status
    viewer_skipped_at: datetime | None = None  # the viewer's skip row, if any
    candidate_liked_viewer: bool = False  # not a rule: the feed shows such people early


NO_RELATION: Final = Relation()


def visibility_rejection(candidate: ProfileFeatures) -> Rule | None:
    """The rule hiding this profile from everybody, or None when it may be shown."""
    if not candidate.is_complete:
        return Rule.INCOMPLETE
    if candidate.is_deleted:
        return Rule.DELETED
    if candidate.is_banned:
        return Rule.BANNED
    if candidate.is_paused:
        return Rule.PAUSED
    if candidate.is_inactive:
        return Rule.INACTIVE
    if candidate.is_hidden:
        return Rule.HIDDEN
    if candidate.photo_count <= 0:
        return Rule.NO_PHOTO
    return None


def age_in_range(age: int | None, age_min: int | None, age_max: int | None) -> bool:
    """Whether ``age`` is inside [age_min, age_max]; a missing bound is the schema's bound,
    a missing age is never inside."""
    if age is None:
        return False
    low = DEFAULT_AGE_MIN if age_min is None else age_min
    high = DEFAULT_AGE_MAX if age_max is None else age_max
    return low <= age <= high


def location_ok(viewer: ProfileFeatures, candidate: ProfileFeatures, radius_km: float) -> bool:
    """Same city, or both shared coordinates and are at most ``radius_km`` apart."""
    if viewer.city_key is not None and viewer.city_key == candidate.city_key:
        return True
    if (
        viewer.latitude is None
        or viewer.longitude is None
        or candidate.latitude is None
        or candidate.longitude is None
    ):
        return False
    km = haversine_km(viewer.latitude, viewer.longitude, candidate.latitude, candidate.longitude)
    return km <= radius_km


def preference_rejection(viewer: ProfileFeatures, candidate: ProfileFeatures) -> Rule | None:
    """The gender and age rules (mutual), or None when both sides want each other."""
    if not wants(viewer.seeking, candidate.gender):
        return Rule.VIEWER_GENDER_WISH
    if not wants(candidate.seeking, viewer.gender):
        return Rule.CANDIDATE_GENDER_WISH
    if not age_in_range(candidate.age, viewer.age_min, viewer.age_max):
        return Rule.VIEWER_AGE_RANGE
    if not age_in_range(viewer.age, candidate.age_min, candidate.age_max):
        return Rule.CANDIDATE_AGE_RANGE
    return None


def _wish_and_place_rejection(
    viewer: ProfileFeatures, candidate: ProfileFeatures, radius_km: float | None
) -> Rule | None:
    preference = preference_rejection(viewer, candidate)
    if preference is not None:
        return preference
    radius = viewer.radius_km if radius_km is None else radius_km
    if not location_ok(viewer, candidate, radius):
        return Rule.LOCATION
    return None


def profile_rejection(
    viewer: ProfileFeatures, candidate: ProfileFeatures, *, radius_km: float | None = None
) -> Rule | None:
    """The rules that depend only on the two profiles (not on what happened between them).

    ``radius_km`` is the effective (possibly widened) radius; the viewer's own by default.
    """
    if viewer.user_id == candidate.user_id:
        return Rule.SELF
    hidden = visibility_rejection(candidate)
    if hidden is not None:
        return hidden
    return _wish_and_place_rejection(viewer, candidate, radius_km)


def skipped_recently(skipped_at: datetime | None, now: datetime) -> bool:
    """Whether a skip is still inside its SKIP_COOLDOWN."""
    return skipped_at is not None and now - skipped_at < SKIP_COOLDOWN


def relation_rejection(relation: Relation, now: datetime) -> Rule | None:
    """The rules about the pair's history: blocks either way, a like, a match, a recent skip."""
    if relation.viewer_blocked_candidate:
        return Rule.BLOCKED_BY_VIEWER
    if relation.candidate_blocked_viewer:
        return Rule.BLOCKED_VIEWER
    if relation.viewer_liked_candidate:
        return Rule.ALREADY_LIKED
    if relation.matched:
        return Rule.MATCHED
    if skipped_recently(relation.viewer_skipped_at, now):
        return Rule.SKIPPED_RECENTLY
    return None


def rejection_reason(
    viewer: ProfileFeatures,
    candidate: ProfileFeatures,
    relation: Relation,
    *,
    now: datetime,
    radius_km: float | None = None,
) -> Rule | None:
    """The first rule that keeps ``candidate`` out of ``viewer``'s feed, or None."""
    if viewer.user_id == candidate.user_id:
        return Rule.SELF
    hidden = visibility_rejection(candidate)
    if hidden is not None:
        return hidden
    related = relation_rejection(relation, now)
    if related is not None:
        return related
    return _wish_and_place_rejection(viewer, candidate, radius_km)


def is_candidate(
    viewer: ProfileFeatures,
    candidate: ProfileFeatures,
    relation: Relation,
    *,
    now: datetime,
    radius_km: float | None = None,
) -> bool:
    """Whether ``candidate`` may be shown to ``viewer`` now (every rule passes)."""
    return rejection_reason(viewer, candidate, relation, now=now, radius_km=radius_km) is None


# ---------------------------------------------------------------------------------------------
# Skipped people come back last
# ---------------------------------------------------------------------------------------------


def partition_by_skip(
    items: Iterable[T], skipped_at: Callable[[T], datetime | None], now: datetime
) -> tuple[list[T], list[tuple[T, datetime]]]:
    """Split eligible candidates into never-skipped ones and skipped ones past their cooldown
    (with their skip time); those still cooling down are dropped."""
    fresh: list[T] = []
    recyclable: list[tuple[T, datetime]] = []
    for item in items:
        at = skipped_at(item)
        if at is None:
            fresh.append(item)
        elif now - at >= SKIP_COOLDOWN:
            recyclable.append((item, at))
    return fresh, recyclable


def recycle_order(recyclable: Iterable[tuple[T, datetime]]) -> list[T]:
    """Skipped candidates in the order they come back: the longest ago skipped first (ties
    keep their input order)."""
    return [item for item, _ in sorted(recyclable, key=lambda pair: pair[1])]


def feed_sequence(
    fresh_ordered: Sequence[T],
    recyclable: Iterable[tuple[T, datetime]],
    rank: Callable[[list[T]], Sequence[T]] | None = None,
) -> list[T]:
    """The whole feed: the never-skipped candidates in ranked order, and only after all of them
    the skipped ones past their cooldown, ordered by ``rank`` (the same ranking as the fresh
    ones, typically) or, without it, longest ago skipped first."""
    back = recycle_order(recyclable)
    return [*fresh_ordered, *(rank(back) if rank is not None else back)]
