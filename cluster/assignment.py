"""Which member consumes which shard: every node computes the same plan from the same member
list — rendezvous hashing with bounded load, so each node gets floor(S/N) or ceil(S/N) of the S
shards and a joining or leaving node moves few of them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def _score(shard: int, member: str) -> int:
    digest = hashlib.blake2b(f"{shard}:{member}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def assign(shards: int, members: Iterable[str]) -> dict[str, frozenset[int]]:
    """Every shard to one member, the same answer on every node for the same members.

    Rendezvous hashing with bounded load: each shard goes to the member that ranks it highest
    among those not yet full; a member is full at ceil(S/N) shards, and once S mod N members
    are, the rest are full at floor(S/N). So no node has more than one shard above another,
    and a change of members moves few shards."""
    names = sorted(set(members))
    if not names:
        return {}
    low, extra = divmod(shards, len(names))
    owned: dict[str, set[int]] = {name: set() for name in names}
    full_at_high = 0
    for shard in range(shards):
        for name in sorted(names, key=lambda member: _score(shard, member), reverse=True):
            limit = low + 1 if full_at_high < extra else low
            if len(owned[name]) < limit:
                owned[name].add(shard)
                if len(owned[name]) == low + 1:
                    full_at_high += 1
                break
    return {name: frozenset(shards_of) for name, shards_of in owned.items()}
