"""How shards are divided among members: even, the same everywhere, and stable."""

from __future__ import annotations

import itertools

from cluster.assignment import assign


def test_every_shard_has_exactly_one_member() -> None:
    """Each of the shards goes to one member, and only members get shards."""
    plan = assign(16, ["a", "b", "c"])
    owned = list(itertools.chain.from_iterable(plan.values()))
    assert sorted(owned) == list(range(16))
    assert set(plan) == {"a", "b", "c"}


def test_shares_differ_by_at_most_one() -> None:
    """For any number of members the largest and smallest share differ by at most one."""
    for members in range(1, 12):
        for shards in (1, 7, 16, 64):
            sizes = [len(s) for s in assign(shards, [f"node-{n}" for n in range(members)]).values()]
            assert max(sizes) - min(sizes) <= 1, (members, shards, sizes)
            assert sum(sizes) == shards


def test_every_node_computes_the_same_plan() -> None:
    """The plan depends on the set of members, not on the order a node lists them in."""
    assert assign(16, ["c", "a", "b"]) == assign(16, ["b", "c", "a"])


def test_a_joining_member_moves_few_shards() -> None:
    """A fourth member takes about a quarter of the shards; the others keep most of theirs."""
    before = assign(64, ["a", "b", "c"])
    after = assign(64, ["a", "b", "c", "d"])
    moved = sum(len(before[name] - after[name]) for name in before)
    assert len(after["d"]) == 16
    assert moved <= 24, moved


def test_no_members_no_plan() -> None:
    """Without live members nobody is given anything."""
    assert assign(16, []) == {}
