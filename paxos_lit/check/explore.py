"""A breadth-first explorer: an explicit-state model checker for any model.

``explore(model)`` visits every state reachable from the model's initial
states, checks the model's invariants in each one, and returns an
:class:`ExploreResult`. Because the search is breadth-first, the first
violating state it meets is one closest to an initial state, so the
counterexample (the action labels leading to it) is a *shortest* one.

This module knows nothing about Paxos. A model is any object with three
methods (see :class:`Model`):

* ``initial_states()``: an iterable of states;
* ``successors(state)``: an iterable of ``(label, next_state)`` pairs, one per
  step (a label names the step, e.g. ``"Phase1a(0)"``);
* ``check(state)``: a list of :class:`Violation` (empty when all invariants
  hold);

and, optionally, ``canonical(state)``: a hashable key used instead of the
state in the visited set, for symmetry reduction. States themselves must be
hashable and immutable (tuples, frozensets, named tuples, frozen dataclasses).
``paxos_lit.synod.Synod`` is one such model; the Multi-Paxos model that
drives the real role classes is another.

Counting follows TLC: ``states`` are distinct states (initial ones included),
``transitions`` are all the ``(label, next_state)`` pairs generated, including
those leading to already-seen states and stuttering steps; TLC's "states
generated" is ``initial_states + transitions`` (:attr:`ExploreResult.generated`).
``depth`` is the number of steps on the longest shortest path found (TLC's
"depth" counts states, so it reports ``depth + 1``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

__all__ = [
    "ExploreResult",
    "Model",
    "Progress",
    "SymmetricModel",
    "Violation",
    "explore",
]

S = TypeVar("S", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Violation:
    """An invariant that does not hold in some state."""

    invariant: str  # the invariant's name, e.g. "Consistency" or "R1"
    detail: str = ""  # what exactly is wrong, for a human

    def to_dict(self) -> dict[str, str]:
        return {"invariant": self.invariant, "detail": self.detail}


class Model(Protocol[S]):
    """What :func:`explore` needs from a model.

    A model may also define ``canonical(state) -> Hashable`` (see
    :class:`SymmetricModel`): two states with the same key are treated as
    one. That is sound only when the key identifies states that behave alike
    (e.g. equal up to renaming interchangeable processes) and every invariant
    gives the same answer on them.
    """

    def initial_states(self) -> Iterable[S]:
        """The states the system may start in."""
        ...

    def successors(self, state: S) -> Iterable[tuple[Any, S]]:
        """Every step from ``state``, as ``(label, next_state)`` pairs."""
        ...

    def check(self, state: S) -> list[Violation]:
        """The invariants violated in ``state``; empty when all hold."""
        ...


class SymmetricModel(Model[S], Protocol[S]):
    """A :class:`Model` with a ``canonical`` key for symmetry reduction."""

    def canonical(self, state: S) -> Hashable:
        """Equal keys for states that are the same up to a symmetry."""
        ...


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot handed to the ``progress`` callback."""

    states: int  # distinct states found so far
    transitions: int  # steps generated so far
    depth: int  # the BFS level being expanded
    queued: int  # states found but not yet expanded (about)
    wall_s: float  # seconds since the search began
    done: bool = False  # True on the last call, after the search ended


@dataclass
class ExploreResult:
    """What :func:`explore` found."""

    states: int  # distinct states visited (initial states included)
    transitions: int  # (label, next_state) pairs generated, duplicates included
    complete: bool  # True iff every reachable state was visited and checked
    violations: list[Violation]  # of the first violating state (of all, if not stopping)
    counterexample: list[Any]  # labels from an initial state to the first violating state
    depth: int  # steps on the longest shortest path found
    wall_s: float  # seconds the search took
    initial_states: int = 0  # how many distinct initial states
    trace: list[Any] = field(default_factory=list)  # the states along counterexample
    fingerprints: bool = False  # visited set of 64-bit hashes (see explore)

    @property
    def collision_probability(self) -> float:
        """With ``fingerprints``: the chance that two of the distinct states
        shared a fingerprint (one would then be skipped), for uniformly
        distributed 64-bit hashes: about n^2 / 2^65 (TLC reports the same
        kind of estimate). 0 for an exact visited set."""
        if not self.fingerprints:
            return 0.0
        n = self.states
        return n * (n - 1) / 2 ** 65

    @property
    def generated(self) -> int:
        """TLC's "states generated": initial states plus transitions."""
        return self.initial_states + self.transitions

    @property
    def ok(self) -> bool:
        """No invariant was violated (in the part of the space visited)."""
        return not self.violations

    @property
    def states_per_s(self) -> float:
        return self.states / self.wall_s if self.wall_s > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the ``check --json`` keys)."""
        return {
            "states": self.states,
            "transitions": self.transitions,
            "complete": self.complete,
            "violations": [v.to_dict() for v in self.violations],
            "counterexample": [_jsonable(label) for label in self.counterexample],
            "depth": self.depth,
            "wall_s": self.wall_s,
            "fingerprints": self.fingerprints,
            "collision_probability": self.collision_probability,
        }

    def summary(self) -> str:
        """One line for a notebook or a terminal."""
        verdict = (
            f"{len(self.violations)} violation(s), first: {self.violations[0].invariant}"
            f" after {len(self.counterexample)} steps"
            if self.violations
            else "no violations"
        )
        scope = "complete" if self.complete else "INCOMPLETE (bound or early stop)"
        return (
            f"{self.states:,} states, {self.transitions:,} transitions, depth {self.depth}, "
            f"{scope}, {verdict}, {self.wall_s:.2f} s"
        )


def _jsonable(label: Any) -> Any:
    if label is None or isinstance(label, str | int | float | bool):
        return label
    if isinstance(label, list | tuple):
        return [_jsonable(x) for x in label]
    return str(label)


def explore(
    model: Model[Any],
    *,
    max_depth: int | None = None,
    max_states: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    symmetry: Callable[[Any], Hashable] | bool | None = None,
    stop_on_violation: bool = True,
    progress_every: int = 10_000,
    fingerprints: bool = False,
) -> ExploreResult:
    """Visit the states reachable in ``model`` breadth-first, checking each.

    - ``max_depth``: do not expand states this many steps from an initial
      state (they are still visited and checked).
    - ``max_states``: visit at most this many distinct states.
    - ``progress``: called with a :class:`Progress` every ``progress_every``
      new states and once at the end (``done=True``).
    - ``symmetry``: the key of the visited set. ``None`` (or ``True``) uses
      ``model.canonical`` when the model has one, else the state itself;
      ``False`` always uses the state itself; a callable is used as the key.
    - ``stop_on_violation``: stop at the first violating state (default);
      otherwise keep going and collect every violation.
    - ``fingerprints``: keep only a 64-bit hash of each key in the visited
      set, with its parent's hash, instead of the key and the label (TLC's
      approach): about 100 bytes a state instead of the whole key, so that
      millions of states fit in memory. Two distinct states with one hash
      would count as one; :attr:`ExploreResult.collision_probability`
      estimates the chance. The counterexample is rebuilt by re-running the
      successors along the chain of hashes.

    ``complete`` in the result is True only if the search ran out of states
    on its own: not cut by a bound and not stopped at a violation.
    """
    t0 = time.perf_counter()
    if symmetry is None or symmetry is True:
        canon = getattr(model, "canonical", None)
    elif symmetry is False:
        canon = None
    else:
        canon = symmetry
    if fingerprints:
        exact = canon
        canon = (lambda s: hash(s)) if exact is None else (lambda s: hash(exact(s)))
    successors = model.successors
    check = model.check
    limit = max_states if max_states is not None else -1
    every = max(1, progress_every)

    # The visited set doubles as the BFS tree: key -> (parent key, label),
    # None for an initial state. With no symmetry the key is the state, so
    # the tree holds each state once and nothing else.
    parent: dict[Hashable, tuple[Hashable, Any] | None] = {}
    violations: list[Violation] = []
    first_bad: Hashable | None = None
    found_bad = False
    cut = False  # a bound or an early stop ended the search
    transitions = 0
    depth = 0

    # Each frontier entry is (key, state); with no symmetry both are the state.
    frontier: list[tuple[Hashable, Any]] = []
    for s in model.initial_states():
        key = s if canon is None else canon(s)
        if key in parent:
            continue
        if len(parent) == limit:
            cut = True
            break
        parent[key] = None
        frontier.append((key, s))
        bad = check(s)
        if bad:
            violations.extend(bad)
            if not found_bad:
                found_bad, first_bad = True, key
            if stop_on_violation:
                cut = True
                break
    n_initial = len(parent)

    next_report = every
    while frontier and not cut:
        if max_depth is not None and depth >= max_depth:
            # Expanding further is not allowed; the search is complete only
            # if nothing beyond this level is new.
            cut = _any_new(frontier, successors, canon, parent)
            break
        level: list[tuple[Hashable, Any]] = []
        append = level.append
        for pkey, state in frontier:
            for label, nxt in successors(state):
                transitions += 1
                key = nxt if canon is None else canon(nxt)
                if key in parent:
                    continue
                if len(parent) == limit:
                    cut = True
                    break
                parent[key] = pkey if fingerprints else (pkey, label)
                append((key, nxt))
                bad = check(nxt)
                if bad:
                    violations.extend(bad)
                    if not found_bad:
                        found_bad, first_bad = True, key
                    if stop_on_violation:
                        cut = True
                        break
            if cut:
                break
            if progress is not None and len(parent) >= next_report:
                next_report = len(parent) + every
                progress(
                    Progress(
                        len(parent),
                        transitions,
                        depth,
                        len(frontier) + len(level),
                        time.perf_counter() - t0,
                    )
                )
        frontier = level
        if level:
            depth += 1

    counterexample: list[Any] = []
    trace: list[Any] = []
    if found_bad:
        if fingerprints:
            counterexample, trace = _path_by_hashes(first_bad, parent, model, canon)
        else:
            counterexample, trace = _path_to(first_bad, parent, model, canon)
    wall_s = time.perf_counter() - t0
    if progress is not None:
        progress(Progress(len(parent), transitions, depth, 0, wall_s, done=True))
    return ExploreResult(
        states=len(parent),
        transitions=transitions,
        complete=not cut,
        violations=violations,
        counterexample=counterexample,
        depth=depth,
        wall_s=wall_s,
        initial_states=n_initial,
        trace=trace,
        fingerprints=fingerprints,
    )


def _any_new(
    frontier: list[tuple[Hashable, Any]],
    successors: Callable[[Any], Iterable[tuple[Any, Any]]],
    canon: Callable[[Any], Hashable] | None,
    parent: dict[Hashable, Any],
) -> bool:
    """Does some state of ``frontier`` have a successor not yet visited?"""
    for _key, state in frontier:
        for _label, nxt in successors(state):
            if (nxt if canon is None else canon(nxt)) not in parent:
                return True
    return False


def _path_to(
    key: Hashable,
    parent: dict[Hashable, tuple[Hashable, Any] | None],
    model: Model[Any],
    canon: Callable[[Any], Hashable] | None,
) -> tuple[list[Any], list[Any]]:
    """The labels and states from an initial state to the state ``key``."""
    labels: list[Any] = []
    keys = [key]
    link = parent[key]
    while link is not None:
        pkey, label = link
        labels.append(label)
        keys.append(pkey)
        link = parent[pkey]
    labels.reverse()
    keys.reverse()
    if canon is None:
        return labels, keys  # the keys are the states
    # With symmetry the keys are not states: replay the labels. Each state
    # expanded was the first one found with its key, and the label recorded
    # was produced from exactly that state, so the replay is exact.
    state = next(s for s in model.initial_states() if canon(s) == keys[0])
    states = [state]
    for label, k in zip(labels, keys[1:], strict=True):
        state = next(n for lab, n in model.successors(state) if lab == label and canon(n) == k)
        states.append(state)
    return labels, states


def _path_by_hashes(
    key: int,
    parent: dict[int, int | None],
    model: Model[Any],
    canon: Callable[[Any], int],
) -> tuple[list[Any], list[Any]]:
    """With fingerprints: the labels and states to the state hashed ``key``,
    found by following the parents' hashes back to an initial state and then
    stepping forward, at each step taking the successor with the next hash."""
    chain = [key]
    link = parent[key]
    while link is not None:
        chain.append(link)
        link = parent[link]
    chain.reverse()
    state = next(s for s in model.initial_states() if canon(s) == chain[0])
    labels: list[Any] = []
    states = [state]
    for h in chain[1:]:
        label, state = next((lab, n) for lab, n in model.successors(state) if canon(n) == h)
        labels.append(label)
        states.append(state)
    return labels, states
