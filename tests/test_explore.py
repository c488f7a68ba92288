"""The generic breadth-first explorer (paxos_lit.check.explore) on toy models
whose state spaces can be counted by hand."""

from __future__ import annotations

import json

import pytest

from paxos_lit.check.explore import ExploreResult, Progress, Violation, explore


class Grid:
    """A walk on the grid 0..n x 0..n: from (x, y) step right or up.

    (n+1)^2 states, 2n(n+1) transitions, the farthest state (n, n) is 2n steps
    away. ``bad`` is a sum x + y that violates the invariant "Budget"."""

    def __init__(self, n: int, bad: int | None = None) -> None:
        self.n, self.bad = n, bad

    def initial_states(self):
        return [(0, 0)]

    def successors(self, state):
        x, y = state
        if x < self.n:
            yield "right", (x + 1, y)
        if y < self.n:
            yield "up", (x, y + 1)

    def check(self, state):
        if self.bad is not None and sum(state) == self.bad:
            return [Violation("Budget", f"x + y = {self.bad} at {state}")]
        return []


class SymmetricGrid(Grid):
    """The grid, with (x, y) and (y, x) declared the same state."""

    def canonical(self, state):
        return tuple(sorted(state))


class Clock:
    """A clock mod k with a stuttering step and two initial states (0 and 0
    again, plus 1): checks that duplicates and self-loops are counted as TLC
    counts them."""

    def __init__(self, k: int) -> None:
        self.k = k

    def initial_states(self):
        return [0, 0, 1]

    def successors(self, state):
        return [("tick", (state + 1) % self.k), ("stutter", state)]

    def check(self, state):
        return []


def test_grid_exact_counts():
    """Every reachable state is visited once; every step is counted."""
    n = 6
    r = explore(Grid(n))
    assert (r.states, r.transitions, r.depth) == ((n + 1) ** 2, 2 * n * (n + 1), 2 * n)
    assert r.complete and r.ok and r.counterexample == [] and r.trace == []
    assert r.initial_states == 1 and r.generated == r.transitions + 1


def test_duplicates_and_stuttering_are_counted():
    """Duplicate initial states count once; self-loops and steps back to seen
    states count as transitions, as in TLC's 'states generated'."""
    r = explore(Clock(5))
    assert r.initial_states == 2  # 0 (twice) and 1
    assert r.states == 5
    assert r.transitions == 5 * 2
    assert r.generated == 12
    assert r.depth == 3  # 1 -> 2 -> 3 -> 4, while 0 is initial
    assert r.complete


def test_shortest_counterexample():
    """BFS reaches a violating state by a shortest path: x + y = 5 needs 5
    steps, and the trace replays the labels."""
    r = explore(Grid(6, bad=5))
    assert not r.ok and not r.complete
    assert r.violations == [Violation("Budget", "x + y = 5 at (5, 0)")]
    assert len(r.counterexample) == 5
    assert len(r.trace) == 6 and r.trace[0] == (0, 0) and sum(r.trace[-1]) == 5
    state = r.trace[0]
    for label, expected in zip(r.counterexample, r.trace[1:], strict=True):
        state = dict(Grid(6).successors(state))[label]
        assert state == expected


def test_violation_in_an_initial_state():
    r = explore(Grid(3, bad=0))
    assert r.counterexample == [] and r.trace == [(0, 0)]
    assert r.states == 1 and r.transitions == 0 and not r.complete


def test_continue_after_violation_collects_all():
    """With stop_on_violation=False the whole space is searched: every state
    with x + y = 4 is reported, and the counterexample is still a shortest
    path to the first one."""
    r = explore(Grid(3, bad=4), stop_on_violation=False)
    assert r.complete and r.states == 16
    assert len(r.violations) == 3  # (1,3), (2,2), (3,1)
    assert len(r.counterexample) == 4


def test_max_depth_cuts_the_search():
    n = 5
    r = explore(Grid(n), max_depth=3)
    assert not r.complete
    assert r.depth == 3
    assert r.states == sum(1 for x in range(n + 1) for y in range(n + 1) if x + y <= 3)


def test_max_depth_at_the_diameter_is_complete():
    """A depth bound that cuts nothing leaves the search complete."""
    r = explore(Grid(4), max_depth=8)
    assert r.complete and r.states == 25
    assert not explore(Grid(4), max_depth=7).complete


def test_max_states_cuts_the_search():
    r = explore(Grid(5), max_states=10)
    assert r.states == 10 and not r.complete
    exact = explore(Grid(5), max_states=36)  # exactly the whole space
    assert exact.states == 36 and exact.complete


def test_symmetry_reduction_and_counterexample_replay():
    """With a canonical key, one state per class is visited: pairs x <= y.
    The counterexample is still made of real steps from a real initial state."""
    n = 5
    r = explore(SymmetricGrid(n))
    assert r.complete and r.states == (n + 1) * (n + 2) // 2
    assert explore(SymmetricGrid(n), symmetry=False).states == (n + 1) ** 2
    bad = explore(SymmetricGrid(n, bad=3))
    assert len(bad.counterexample) == 3 and sum(bad.trace[-1]) == 3
    state = bad.trace[0]
    for label, expected in zip(bad.counterexample, bad.trace[1:], strict=True):
        state = dict(SymmetricGrid(n).successors(state))[label]
        assert state == expected


def test_symmetry_callable_overrides():
    r = explore(Grid(5), symmetry=lambda s: tuple(sorted(s)))
    assert r.states == 21


def test_progress_callback():
    seen: list[Progress] = []
    r = explore(Grid(30), progress=seen.append, progress_every=100)
    assert len(seen) >= 9
    assert seen[-1].done and seen[-1].states == r.states
    assert all(not p.done for p in seen[:-1])
    states = [p.states for p in seen]
    assert states == sorted(states)


def test_result_to_dict_is_json():
    r = explore(Grid(2, bad=2))
    d = json.loads(json.dumps(r.to_dict()))
    assert set(d) >= {
        "states",
        "transitions",
        "complete",
        "violations",
        "counterexample",
        "wall_s",
        "depth",
    }
    assert d["violations"] == [{"invariant": "Budget", "detail": "x + y = 2 at (2, 0)"}]
    assert d["counterexample"] == ["right", "right"]
    assert isinstance(r, ExploreResult) and "violation" in r.summary()


@pytest.mark.parametrize("n", [0, 1, 7])
def test_grid_counts_parametrised(n):
    r = explore(Grid(n))
    assert r.states == (n + 1) ** 2 and r.transitions == 2 * n * (n + 1)


class CollidingGrid(Grid):
    """A grid whose states all hash alike modulo 2: with a fake hash that
    collides on purpose, fingerprints merge distinct states (which is what
    the collision probability warns of)."""

    def canonical(self, state):
        return _Collide(state)


class _Collide:
    __slots__ = ("s",)

    def __init__(self, s):
        self.s = s

    def __hash__(self):
        return sum(self.s) % 2

    def __eq__(self, other):
        return self.s == other.s


@pytest.mark.parametrize("model", [Grid(7), SymmetricGrid(7), Clock(9)],
                         ids=["grid", "symmetric", "clock"])
def test_fingerprints_count_what_the_exact_set_counts(model):
    """With real hashes, the visited set of 64-bit fingerprints finds the
    same states, transitions and depth as the exact one, and says which it
    was and how likely a collision was."""
    exact = explore(model)
    fp = explore(model, fingerprints=True)
    assert (fp.states, fp.transitions, fp.depth, fp.complete) == \
        (exact.states, exact.transitions, exact.depth, exact.complete)
    assert fp.fingerprints and not exact.fingerprints
    assert exact.collision_probability == 0.0
    assert 0 < fp.collision_probability < 1e-15
    d = fp.to_dict()
    assert d["fingerprints"] is True and d["collision_probability"] == fp.collision_probability


def test_fingerprints_rebuild_the_shortest_counterexample():
    """The counterexample is rebuilt from the chain of parent hashes: the
    same labels and states as with the exact visited set."""
    for model in (Grid(6, bad=5), SymmetricGrid(6, bad=4)):
        exact = explore(model)
        fp = explore(model, fingerprints=True)
        assert fp.violations == exact.violations
        assert fp.counterexample == exact.counterexample
        assert fp.trace == exact.trace


def test_fingerprints_are_only_as_good_as_the_hash():
    """A hash that collides makes the fingerprint search merge states that
    the exact search keeps apart: the reason the result reports itself as
    fingerprinted."""
    exact = explore(CollidingGrid(4))
    fp = explore(CollidingGrid(4), fingerprints=True)
    assert exact.states == 25 and fp.states == 2
