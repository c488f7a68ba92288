"""Single-decree Paxos (paxos_lit.synod) against Lamport's Paxos.tla and the
TLC results published with it in the TLA+ Examples repository
(specifications/PaxosHowToWinATuringAward, models MCPaxosTiny and
MCPaxosSmall)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paxos_lit.check.explore import explore
from paxos_lit.synod import INVARIANTS, Msg1b, Msg2a, Synod, majorities

ROOT = Path(__file__).resolve().parent.parent


class AcceptsBelowMaxBal(Synod):
    """Seeded bug: Phase2b drops its guard m.bal >= maxBal[a], so an
    acceptor votes in a ballot lower than one it has promised to join."""

    def accepts(self, s, a, m):
        return True


# -- The external anchor: TLC's own numbers. ------------------------------


def test_tlc_mcpaxostiny_counts():
    """TLC on MCPaxosTiny (3 acceptors, 2 values, ballots 0..1): 3,921
    distinct states, 23,563 states generated, depth 17 (TLC counts the
    initial state as depth 1). Our successors enumerate one step per witness
    of the spec's \\E quantifiers, as TLC does, so the generated count
    matches too."""
    r = explore(Synod.tiny())
    assert r.complete and r.ok
    assert r.states == 3_921
    assert r.generated == 23_563  # = 1 initial state + 23,562 transitions
    assert r.transitions == 23_562
    assert r.depth + 1 == 17


def test_tlc_mcpaxossmall_counts():
    """Ballots 0..2 (MCPaxosSmall): 185,369 distinct states, 1,361,380
    generated. About 10 s; every invariant holds in every state."""
    r = explore(Synod.small())
    assert r.complete and r.ok
    assert r.states == 185_369
    assert r.generated == 1_361_380
    assert r.depth == 24


# -- Safety. ---------------------------------------------------------------


def test_consistency_and_voting_invariants_hold_everywhere():
    """Every reachable state of the tiny model satisfies every invariant,
    and at most one value is ever chosen (Consistency)."""
    m = Synod.tiny()
    r = explore(m, stop_on_violation=False)
    assert r.complete and r.violations == []
    assert set(m.invariants) == set(INVARIANTS)


def test_a_value_gets_chosen():
    """The happy path of ballot 0, step by step: once a quorum votes for v1,
    chosen = {v1}, and it stays the only value chosen when a later ballot
    runs, because its leader must propose the highest reported vote."""
    m = Synod.tiny()
    s = m.initial_state()

    def step(steps, i=0):
        assert steps, "action not enabled"
        return steps[i][1]

    s = step(m.phase1a(s, 0))
    s = step(m.phase1b(s, "a1"))
    assert m.phase2a(s, 0, "v1") == []  # one 1b is not a quorum
    s = step(m.phase1b(s, "a2"))
    s = step(m.phase2a(s, 0, "v1"))
    assert m.phase2a(s, 0, "v2") == []  # one 2a per ballot
    s = step(m.phase2b(s, "a1"))
    assert m.chosen(s) == set()
    s = step(m.phase2b(s, "a2"))
    assert m.chosen(s) == {"v1"} and m.check(s) == []
    # Ballot 1 with quorum {a2, a3}: a2 reports its vote for v1 at ballot 0.
    s = step(m.phase1a(s, 1))
    s = step(m.phase1b(s, "a2"))
    s = step(m.phase1b(s, "a3"), -1)  # a3 could also join ballot 0: take 1a(1)
    assert Msg1b("1b", "a2", 1, 0, "v1") in s.msgs
    assert m.phase2a(s, 1, "v2") == []  # v2 is not safe at ballot 1
    s = step(m.phase2a(s, 1, "v1"))
    assert Msg2a("2a", 1, "v1") in s.msgs
    assert m.phase2b(s, "a1") != [] and m.chosen(s) == {"v1"}


def test_phase1b_needs_a_higher_ballot():
    """Phase1b(a) only answers a 1a with m.bal > maxBal[a]; after a voted in
    ballot 1, a 1a for ballot 1 gets no answer."""
    m = Synod.tiny()
    s = m.phase1a(m.initial_state(), 1)[0][1]
    s = m.phase1b(s, "a1")[0][1]
    assert s.maxBal == (1, -1, -1)
    assert m.phase1b(s, "a1") == []
    s0 = m.phase1a(s, 0)[0][1]
    assert m.phase1b(s0, "a1") == []  # 0 < maxBal[a1]
    assert len(m.phase1b(s0, "a2")) == 2  # a2 may answer ballot 0 or ballot 1


def test_phase1a_again_is_stuttering():
    """Phase1a(b) has no guard; sending the same 1a again changes nothing."""
    m = Synod.tiny()
    s = m.phase1a(m.initial_state(), 0)[0][1]
    assert m.phase1a(s, 0) == [("Phase1a(0)", s)]


def test_phase2a_counts_one_step_per_witness():
    """Two acceptors of one quorum report the same highest vote: the spec's
    \\E m \\in Q1bv has two witnesses, so TLC (and we) generate two equal
    steps for that quorum."""
    m = Synod(("a1", "a2", "a3"), ("v1", "v2"), 1)
    s = m.initial_state()
    for action in (
        lambda s: m.phase1a(s, 0),
        lambda s: m.phase1b(s, "a1"),
        lambda s: m.phase1b(s, "a2"),
        lambda s: m.phase2a(s, 0, "v1"),
        lambda s: m.phase2b(s, "a1"),
        lambda s: m.phase2b(s, "a2"),
        lambda s: m.phase1a(s, 1),
        lambda s: m.phase1b(s, "a1"),
        lambda s: m.phase1b(s, "a2"),
    ):
        s = action(s)[0][1]
    steps = m.phase2a(s, 1, "v1")
    assert [label for label, _ in steps] == ["Phase2a(1, v1) Q={a1,a2}"] * 2
    assert steps[0][1] == steps[1][1]


def test_majorities():
    assert majorities(("a1", "a2", "a3")) == (("a1", "a2"), ("a1", "a3"), ("a2", "a3"))
    assert len(majorities(range(5))) == 10


# -- Seeded bugs: the explorer must catch them, with a shortest trace. -----


def test_phase2b_below_maxbal_breaks_the_promise():
    """Voting below maxBal breaks Inv's 1b conjunct first: an acceptor's 1b
    for ballot 1 is outstanding while its maxBal drops to 0. The shortest
    trace has 7 steps."""
    r = explore(AcceptsBelowMaxBal.tiny())
    assert not r.ok and not r.complete
    assert [v.invariant for v in r.violations] == ["PromiseKept"]
    assert len(r.counterexample) == 7
    assert r.counterexample[-1] == "Phase2b(a1) recv 2a(0, v1)"


def test_phase2b_below_maxbal_breaks_consistency():
    """The same bug, checking Consistency only: two values chosen after 12
    steps (v1 at ballot 0, v2 at ballot 1)."""
    m = AcceptsBelowMaxBal.tiny(invariants=["Consistency"])
    r = explore(m)
    assert [v.invariant for v in r.violations] == ["Consistency"]
    assert len(r.counterexample) == 12
    last = r.trace[-1]
    assert m.chosen(last) == {"v1", "v2"}
    assert m.chosen(r.trace[-2]) != {"v1", "v2"}
    # The trace is made of real steps of the buggy model.
    s = r.trace[0]
    for label, expected in zip(r.counterexample, r.trace[1:], strict=True):
        s = dict(m.successors(s))[label]
        assert s == expected


def test_quorums_that_do_not_intersect_break_consistency():
    """Lamport's exercise: with quorums that need not intersect, Paxos still
    refines Voting but Consistency fails; singleton quorums do it in 8 steps."""
    m = Synod(quorums=[("a1",), ("a2",), ("a3",)], invariants=["Consistency"])
    r = explore(m)
    assert [v.invariant for v in r.violations] == ["Consistency"]
    assert len(r.counterexample) == 8
    # The same model with every invariant: only Consistency can fail.
    assert {
        v.invariant for v in explore(Synod(quorums=[("a1",), ("a2",), ("a3",)])).violations
    } == {"Consistency"}


# -- Symmetry. -------------------------------------------------------------


def test_symmetry_key_counts_orbits():
    """Exploring with symmetric_key visits exactly one state per class of
    states equal up to renaming acceptors and values: as many as there are
    distinct keys among all 3,921 states."""
    m = Synod.tiny()
    full = explore(m, stop_on_violation=False)
    assert full.complete
    all_states = _all_states(m)
    assert len(all_states) == 3_921
    orbits = {m.symmetric_key(s) for s in all_states}
    reduced = explore(m, symmetry=m.symmetric_key)
    assert reduced.complete and reduced.ok
    assert reduced.states == len(orbits) == 443
    # The bug is still found, at the same depth, with a replayable trace.
    bug = AcceptsBelowMaxBal.tiny(invariants=["Consistency"])
    r = explore(bug, symmetry=bug.symmetric_key)
    assert len(r.counterexample) == 12 and bug.chosen(r.trace[-1]) == {"v1", "v2"}


def _all_states(m):
    seen = set(m.initial_states())
    todo = list(seen)
    while todo:
        s = todo.pop()
        for _label, n in m.successors(s):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


# -- Representation. -------------------------------------------------------


def test_states_are_canonical_and_hashable():
    """Equal states built along different paths are equal and hash alike."""
    m = Synod.tiny()
    s0 = m.initial_state()
    ab = m.phase1a(m.phase1a(s0, 0)[0][1], 1)[0][1]
    ba = m.phase1a(m.phase1a(s0, 1)[0][1], 0)[0][1]
    assert ab == ba and hash(ab) == hash(ba) and len({ab, ba}) == 1
    json.dumps(m.describe(ab))


def test_unknown_invariant_is_rejected():
    with pytest.raises(ValueError):
        Synod(invariants=["Liveness"])


def test_exploration_is_independent_of_hash_seed():
    """Successors come in an order fixed by the constants, never by set
    iteration, so counterexamples replay identically in any process."""
    code = (
        "import json; from tests.test_synod import AcceptsBelowMaxBal as B;"
        "from paxos_lit.check.explore import explore;"
        "r = explore(B.tiny(invariants=['Consistency']));"
        "print(json.dumps(r.counterexample))"
    )
    outs = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(ROOT))
        outs.add(
            subprocess.run(
                [sys.executable, "-c", code],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
    assert len(outs) == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_random_walks_stay_safe(choices):
    """Any walk through the ballots-0..2 model keeps every invariant."""
    m = Synod.small()
    s = m.initial_state()
    for c in choices:
        steps = m.successors(s)
        if not steps:
            break
        s = steps[c % len(steps)][1]
        assert m.check(s) == []
        assert len(m.chosen(s)) <= 1
