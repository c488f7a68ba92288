"""The model's reductions (paxos_lit.check.model, reductions 4-9: dead
messages, merged invisible steps, acceptor symmetry, persistent sets, last
words, blind values): they
visit fewer states and reach the same verdicts as the full search; every
mutant is still caught with its invariant, and the reduced counterexample
replays in the simulator delivery by delivery; symmetric states share one key
and others do not."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from paxos_lit.acceptor import Acceptor
from paxos_lit.check.model import (
    LIVENESS,
    ModelConfig,
    PaxosModel,
    Step,
    check_model,
    encode_process,
    field_of,
    flatten,
)
from paxos_lit.check.mutants import MUTANTS
from paxos_lit.check.replay import replay
from paxos_lit.commander import Commander
from paxos_lit.errors import ConfigError
from paxos_lit.invariants import NAMES, InvariantChecker
from paxos_lit.leader import Leader
from paxos_lit.messages import Adopted, P1a, P2a, P2b, Preempted, Propose
from paxos_lit.replica import Replica
from paxos_lit.scout import Scout
from paxos_lit.types import Ballot, Command, PValue

EXPLORED = [n for n, m in MUTANTS.items() if m.method == "explore"]
ROOT = Path(__file__).resolve().parent.parent


class OwnReplica(Replica):
    """A replica of one's own that behaves as the stock one."""


class OwnLeader(Leader):
    """A leader of one's own that behaves as the stock one."""


class OwnAcceptor(Acceptor):
    """An acceptor of one's own that behaves as the stock one."""


@pytest.mark.parametrize("config", [
    ModelConfig(leaders=1, commands=2, max_ballot=1),
    ModelConfig(leaders=2, acceptors=2, commands=1, max_ballot=0),
    ModelConfig(leaders=1, commands=1, max_ballot=1, crashes=1),
    ModelConfig(leaders=1, commands=1, max_ballot=0, dups=1),
], ids=["1l-2c-2r", "2l-2a-1c-1r", "crash", "dup"])
def test_reduced_search_agrees_with_the_full_one(config):
    """Both searches complete with no violation; the reduced one visits
    fewer states. With faults in the budget the merged steps are off (they
    would hide a fault between two invisible deliveries), the other two
    reductions still apply."""
    full = check_model(config)
    red = check_model(config, reduce=True)
    assert full.result.complete and red.result.complete
    assert full.ok and red.ok, (full.result.violations, red.result.violations)
    assert red.result.states < full.result.states
    assert red.model.lazy == (not (config.crashes or config.dups))


@functools.cache
def reduced_catch(name):
    m = MUTANTS[name]
    return check_model(m.model, m.roles, max_states=400_000, reduce=True)


@pytest.mark.parametrize("name", EXPLORED)
def test_reduced_search_catches_every_mutant_and_replays(name):
    """Each explorer mutant, searched with the reductions, breaks its
    documented invariant, and the counterexample (merged steps flattened
    into single deliveries) replays in the simulator: same state after every
    delivery as the unreduced model, same violation at the end."""
    m = MUTANTS[name]
    r = reduced_catch(name)
    assert r.result.violations, name
    first = r.result.violations[0].invariant
    assert first in m.expected, (name, first)
    assert r.steps and all(isinstance(s, Step) for s in r.steps)
    rep = replay(r.steps, model=r.model)
    assert rep.states_match, rep.mismatch
    assert rep.reproduces(first)
    if first in NAMES:
        assert first in rep.sim_violations
    else:
        assert rep.sim_violations == []


def test_a_liveness_counterexample_is_drained_to_quiescence():
    """A reduced quiescent state may still hold messages the reductions left
    out (dead or invisible ones); the steps returned deliver them, so the
    unreduced model, too, ends with nothing left to deliver."""
    name = next((n for n in EXPLORED if MUTANTS[n].expected[0] == LIVENESS), None)
    assert name is not None, "the catalogue has a liveness mutant"
    r = reduced_catch(name)
    plain = PaxosModel(r.model.config, r.model.roles)
    state = plain.initial_state()
    for step in r.steps:
        state = next(n for lab, n in plain.successors(state) if lab == step)
    if r.result.violations[0].detail.startswith("nothing left"):
        assert plain.quiescent(state)
    assert any(v.invariant == LIVENESS for v in plain.check(state))


def _after(model, state, *wanted):
    for w in wanted:
        state = next(n for lab, n in model.successors(state)
                     if isinstance(lab, Step) and (lab.process, lab.mtype, lab.msg[0]) == w)
    return state


def test_symmetric_states_share_a_key_and_others_do_not():
    """Delivering l1's p1a to a1 or to a2 first gives two states equal up to
    renaming the acceptors: one key with the reduction, two without. Two
    p1as to the same acceptor in either order are not symmetric."""
    cfg = ModelConfig(leaders=2, commands=1, max_ballot=0)
    red, full = PaxosModel(cfg, reduce=True), PaxosModel(cfg)
    s0 = red.initial_state()
    x = _after(red, s0, ("a1", "P1a", "l1.s1"))
    y = _after(red, s0, ("a2", "P1a", "l1.s1"))
    assert x != y
    assert red.canonical(x) == red.canonical(y)
    assert full.canonical(x) != full.canonical(y)
    # a1 adopts (0,l1) then (0,l2) / a2 adopts only (0,l2): not the same state.
    u = _after(red, s0, ("a1", "P1a", "l1.s1"), ("a1", "P1a", "l2.s1"))
    v = _after(red, s0, ("a2", "P1a", "l2.s1"))
    assert red.canonical(u) != red.canonical(v)


def test_dead_messages_only_for_the_stock_roles():
    """A p1a from a scout that has exited, at or below the acceptor's
    ballot, is dead for the stock Acceptor (delivering it can change
    nothing, ever); for a subclass (a student's or a mutant's) nothing is
    assumed. The same p1a to an acceptor still below its ballot is alive."""

    class Mine(Acceptor):
        pass

    cfg = ModelConfig(leaders=2, commands=1, max_ballot=0)
    for cls, expect in ((Acceptor, True), (Mine, False)):
        plain = PaxosModel(cfg, {"acceptor": cls})
        red = PaxosModel(cfg, {"acceptor": cls}, reduce=True)
        # a1 adopts (0,l2), so l1's scout is preempted by a1's reply and exits.
        s = _after(plain, plain.initial_state(), ("a1", "P1a", "l2.s1"),
                   ("a1", "P1a", "l1.s1"), ("l1.s1", "P1b", "a1"))
        assert "l1.s1" not in plain._view(s)
        p1a = next(k for k in s.net if k[0] == "a2" and k[2][0] == "l1.s1")
        assert red.dead(p1a, red._view(s)) is False  # a2 would still adopt (0,l1)
        s = _after(plain, s, ("a2", "P1a", "l2.s1"))  # now a2 is at (0,l2) > (0,l1)
        assert red.dead(p1a, red._view(s)) is expect


def test_reduce_must_be_a_bool():
    with pytest.raises(ConfigError) as e:
        PaxosModel(ModelConfig(), reduce="yes")
    assert e.value.field == "reduce"


def test_flatten_keeps_single_steps_and_opens_merged_ones():
    a, b, c = (Step("deliver", p, "P1a", ("x", (0, "l1"))) for p in ("a1", "a2", "a3"))
    assert flatten([a, (b, c)]) == [a, b, c]


def _cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "paxos_lit", "check", "--json", "--quiet", *args],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_cli_reduces_by_default_and_not_with_no_reduce():
    args = ("--leaders", "1", "--commands", "2", "--max-ballot", "1")
    red, full = _cli(*args), _cli(*args, "--no-reduce")
    assert red["reduced"] is True and full["reduced"] is False
    assert red["complete"] and full["complete"]
    assert red["violations"] == [] == full["violations"]
    assert red["states"] < full["states"]


def _without_por(monkeypatch):
    init = PaxosModel.__init__

    def no_por(self, *args, **kw):
        init(self, *args, **kw)
        self.por = False

    monkeypatch.setattr(PaxosModel, "__init__", no_por)


@pytest.mark.parametrize("config", [
    ModelConfig(leaders=2, commands=1, max_ballot=0),
    ModelConfig(leaders=2, commands=1, max_ballot=1),
    ModelConfig(leaders=1, commands=2, max_ballot=1),
    ModelConfig(leaders=2, commands=1, replicas=2, max_ballot=0),
], ids=["2l-1c-1r", "2l-1c-2r", "1l-2c-2r", "2-replicas"])
def test_persistent_sets_keep_the_verdict_and_visit_fewer_states(config, monkeypatch):
    """Reduction 7 on top of 4-6: the same verdict (complete, no
    violation), fewer states, and the same quiescent end states: every state
    where nothing can happen any more is found by both searches (persistent
    sets keep every such state), compared by key."""
    with_por = check_model(config, reduce=True)
    assert with_por.model.por
    ends_por = _quiescent_keys(with_por.model)
    with monkeypatch.context() as m:
        _without_por(m)
        plain = check_model(config, reduce=True)
        assert not plain.model.por
        ends_plain = _quiescent_keys(plain.model)
    assert with_por.result.complete and plain.result.complete
    assert with_por.ok and plain.ok
    assert with_por.result.states < plain.result.states
    assert ends_por == ends_plain and ends_por


def _quiescent_states(model):
    """Every reachable quiescent state of a model (its own search)."""
    seen, todo, ends = set(), [model.initial_state()], []
    while todo:
        s = todo.pop()
        k = model.canonical(s)
        if k in seen:
            continue
        seen.add(k)
        if model.quiescent(s):
            ends.append(s)
        todo.extend(n for _, n in model.successors(s))
    return ends


def _quiescent_keys(model):
    """Keys of every reachable quiescent state of a model (its own search)."""
    return {model.canonical(s) for s in _quiescent_states(model)}


def test_persistent_sets_only_for_roles_whose_behaviour_they_assume():
    """A replica of one's own, or a leader that changes only phase 2, keeps
    the reduction; an acceptor, scout or commander of one's own, a leader
    that picks ballots its own way, or faults in the budget turn it off."""
    cfg = ModelConfig(leaders=2, commands=1, max_ballot=0)

    class PhaseTwo(Leader):
        def on_Adopted(self, msg):
            super().on_Adopted(msg)

    class Ballots(Leader):
        def on_Preempted(self, msg):
            super().on_Preempted(msg)

    class MyScout(Scout):
        pass

    class ScoutLeader(Leader):
        scout_class = MyScout

    assert PaxosModel(cfg, reduce=True).por
    assert PaxosModel(cfg, {"replica": OwnReplica}, reduce=True).por
    assert PaxosModel(cfg, {"leader": PhaseTwo}, reduce=True).por
    for roles in ({"leader": Ballots}, {"leader": ScoutLeader}, {"acceptor": OwnAcceptor}):
        assert not PaxosModel(cfg, roles, reduce=True).por, roles
    assert not PaxosModel(ModelConfig(leaders=2, commands=1, dups=1), reduce=True).por
    assert not PaxosModel(cfg).por


POR_MUTANTS = [n for n in EXPLORED
               if PaxosModel(MUTANTS[n].model, MUTANTS[n].roles, reduce=True).por]


def test_some_mutants_keep_the_persistent_sets():
    """The replica mutants and the leader that ignores pmax (it changes
    only phase 2) leave reduction 7 on: the tests above check that it still
    catches them, the pmax one through a race between two ballots at the
    acceptors, which is what the reduction reorders."""
    assert "leader_ignores_pmax" in POR_MUTANTS
    assert {n for n in EXPLORED if MUTANTS[n].role == "replica"} <= set(POR_MUTANTS)


@pytest.mark.parametrize("name", POR_MUTANTS)
def test_persistent_sets_find_what_the_search_without_them_finds(name, monkeypatch):
    """For each such mutant, with and without reduction 7: both find a
    violation, the same invariant first (breadth-first, shortest)."""
    r = reduced_catch(name)
    assert r.model.por and r.result.violations
    with monkeypatch.context() as m:
        _without_por(m)
        m2 = MUTANTS[name]
        plain = check_model(m2.model, m2.roles, max_states=400_000, reduce=True)
    assert plain.result.violations
    assert r.result.violations[0].invariant == plain.result.violations[0].invariant


def test_ballot_ceiling_bounds_the_ballots_of_future_scouts():
    """Standard configuration, at the start: l1 at (0,l1) can be preempted
    by (0,l2) and scout again at (1,l1), which is the highest ballot any
    future scout can have ((2,l2) is beyond the bound). With one ballot
    round there is no future scout at all."""
    m = PaxosModel(ModelConfig(), reduce=True)
    s = m.initial_state()
    assert max(m._future_ballots(s, m._view(s))) == Ballot(1, "l1")
    m0 = PaxosModel(ModelConfig(max_ballot=0), reduce=True)
    s0 = m0.initial_state()
    assert m0._future_ballots(s0, m0._view(s0)) == set()


def _view_of(*objs):
    return {o.id: (i, encode_process(o)) for i, o in enumerate(objs)}


def test_dead_messages_at_leaders_and_commanders():
    """Without crashes a leader's ballot only grows: a verdict on an older
    ballot and a preemption by a ballot it has passed are dead; so is
    everything sent to a naive leader past the last ballot round, which can
    never be adopted. A commander ignores a p2b below its ballot."""
    m = PaxosModel(ModelConfig(), reduce=True)
    accs, reps = ("a1", "a2", "a3"), ("r1",)
    lead = Leader("l1", None, accs, reps, "naive")
    lead.ballot_num = Ballot(1, "l1")
    view = _view_of(lead)
    cmd = Command("c1", 1, ("append", "x", "c1.1"))
    assert m.dead(("l1", "Adopted", Adopted("l1.s1", Ballot(0, "l1"), frozenset())), view)
    assert not m.dead(("l1", "Adopted", Adopted("l1.s2", Ballot(1, "l1"), frozenset())), view)
    assert m.dead(("l1", "Preempted", Preempted("l1.c1", Ballot(0, "l2"))), view)
    assert not m.dead(("l1", "Preempted", Preempted("l1.c1", Ballot(1, "l2"))), view)
    assert not m.dead(("l1", "Propose", Propose("r1", 1, cmd)), view)
    lead.ballot_num = Ballot(2, "l1")  # past max_ballot=1: retired
    view = _view_of(lead)
    assert m.dead(("l1", "Propose", Propose("r1", 1, cmd)), view)
    crashy = PaxosModel(ModelConfig(crashes=1), reduce=True)
    assert not crashy.dead(("l1", "Propose", Propose("r1", 1, cmd)), view)
    com = Commander("l1.c1", None, "l1", accs, reps, PValue(Ballot(0, "l2"), 1, cmd))
    view = _view_of(com)
    assert m.dead(("l1.c1", "P2b", P2b("a1", Ballot(0, "l1"), 1)), view)
    assert not m.dead(("l1.c1", "P2b", P2b("a1", Ballot(0, "l2"), 1)), view)
    assert not m.dead(("l1.c1", "P2b", P2b("a1", Ballot(1, "l1"), 1)), view)


def test_c2_is_checked_both_ways():
    """A commander at a higher ballot carrying another command breaks C2
    whether it is spawned after the lower ballot's majority formed or
    before: the checker looks again when the majority forms, so the verdict
    does not depend on the order of events at different processes (which
    reduction 7 reorders)."""
    c1 = Command("c1", 1, ("append", "x", "c1.1"))
    c2 = Command("c2", 1, ("append", "x", "c2.1"))
    low, high = Ballot(0, "l1"), Ballot(1, "l2")
    ck = InvariantChecker(window=5)
    accs = [Acceptor(a, None) for a in ("a1", "a2", "a3")]
    for a in accs:
        ck.register(a.id, a)
    for lid in ("l1", "l2"):
        ck.register(lid, Leader(lid, None, ("a1", "a2", "a3"), ("r1",), "naive"))
    ck.after_spawn("l2.c1", Commander("l2.c1", None, "l2", ("a1", "a2", "a3"), ("r1",),
                                      PValue(high, 1, c2)))
    assert ck.violations == []
    for a in accs[:2]:
        a.ballot_num = low
        a.accepted.add(PValue(low, 1, c1))
        ck.after_deliver(a.id, a, P2a("l1.c1", PValue(low, 1, c1)))
    assert [v.invariant for v in ck.violations] == ["C2"]
    assert "majority accepted" in ck.violations[0].detail


def test_reduced_counts_do_not_depend_on_hash_seed():
    """The reduced key orders acceptors by hashed fingerprints, and the
    persistent sets pick acceptors and processes by name: the counts are
    still the same under two string-hash seeds."""
    code = ("from paxos_lit.check.model import check_model, ModelConfig;"
            "r = check_model(ModelConfig(leaders=2, commands=1, max_ballot=0),"
            " reduce=True).result;"
            "print(r.states, r.transitions, r.depth)")
    outs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, cwd=ROOT, timeout=300)
        assert out.returncode == 0, out.stderr
        outs.add(out.stdout)
    assert len(outs) == 1, outs


def _reachable(model, limit):
    """Up to ``limit`` reachable states of a model, breadth-first."""
    seen, todo, out = set(), [model.initial_state()], []
    while todo and len(out) < limit:
        s = todo.pop(0)
        k = model.canonical(s)
        if k in seen:
            continue
        seen.add(k)
        out.append(s)
        todo.extend(n for _, n in model.successors(s))
    return out


def test_rule_7b_picks_only_refusals_that_the_senders_own_leader_can_lift():
    """Rule 7b of the persistent sets (PaxosModel._refusal), on the states of
    a real search: whenever it picks a message, that message is a p1a or p2a
    below the acceptor's ballot from a live scout or commander, and every
    ballot that could still lift the acceptor (a p1a in flight to it, or a
    future scout's) is of that sender's leader. It does pick some."""
    m = PaxosModel(ModelConfig(leaders=2, commands=1, max_ballot=1), reduce=True)
    picked = 0
    for s in _reachable(m, 3000):
        view = m._view(s)
        future = m._future_ballots(s, view)
        for a in m.config.acceptor_ids:
            pending = [k for k in s.net if k[0] == a and m.deliverable(k)
                       and not m.dead(k, view)]
            k = m._refusal(view, a, pending, future)
            if k is None:
                continue
            picked += 1
            beta = field_of(view[a][1], "ballot_num")
            b = k[2][1] if k[1] == "P1a" else k[2][1][0]
            assert k[1] in ("P1a", "P2a") and b < beta and k[2][0] in view
            lifts = {y.leader for y in future if y > beta}
            lifts |= {p[2][1].leader for p in pending if p[1] == "P1a" and p[2][1] > beta}
            assert lifts <= {b.leader}
    assert picked > 0


def test_rule_7b_refuses_to_pick_when_another_leader_can_lift():
    """A p2a of l1 below a1's ballot (0,l2) is not picked while a p1a of
    (1,l2) is on its way to a1 (another leader could lift a1: delivering the
    p2a before or after it gives replies that move l1 differently), and is
    picked when only l1's own (1,l1) can lift a1."""
    m = PaxosModel(ModelConfig(leaders=2, max_ballot=2), reduce=True)
    acc = Acceptor("a1", None)
    acc.ballot_num = Ballot(0, "l2")
    com = Commander("l1.c1", None, "l1", ("a1", "a2", "a3"), ("r1",),
                    PValue(Ballot(0, "l1"), 1, Command("c1", 1, ("append", "x", "c1.1"))))
    view = _view_of(acc, com)
    p2a = ("a1", "P2a", P2a("l1.c1", com.pvalue))
    assert m._refusal(view, "a1", [p2a], {Ballot(1, "l1")}) == p2a
    assert m._refusal(view, "a1", [p2a], set()) == p2a
    lift = ("a1", "P1a", P1a("l2.s2", Ballot(1, "l2")))
    assert m._refusal(view, "a1", [p2a, lift], {Ballot(1, "l1")}) is None
    assert m._refusal(view, "a1", [p2a], {Ballot(1, "l1"), Ballot(1, "l2")}) is None
    # From a commander that has exited: not picked (dead, or another rule's).
    assert m._refusal(_view_of(acc), "a1", [p2a], {Ballot(1, "l1")}) is None


def _keeps_the_quiescent_states(monkeypatch, method: str):
    """Search with and without one rule (``method`` of PaxosModel made to
    return None), the other reductions on in both: the same verdict, the
    same quiescent end states, and fewer states with the rule."""
    config = ModelConfig(leaders=2, commands=1, max_ballot=1)
    with_it = check_model(config, reduce=True)
    ends_with = _quiescent_keys(with_it.model)
    with monkeypatch.context() as mp:
        mp.setattr(PaxosModel, method, lambda self, *a: None)
        without = check_model(config, reduce=True)
        ends = _quiescent_keys(without.model)
    assert with_it.ok and without.ok and with_it.result.complete and without.result.complete
    assert with_it.result.states < without.result.states
    assert ends_with == ends and ends


def test_rule_7b_keeps_the_quiescent_states(monkeypatch):
    """Rule 7b (refusals first) keeps every quiescent state."""
    _keeps_the_quiescent_states(monkeypatch, "_refusal")


def test_last_words_keep_the_quiescent_states(monkeypatch):
    """Reduction 8 (a scout's or commander's last message delivered with its
    last step) keeps every quiescent state."""
    _keeps_the_quiescent_states(monkeypatch, "_last_word")


def _verdicts_in_flight(model, state):
    view = model._view(state)
    return {k[1] for k in state.net if k[1] in ("Adopted", "Preempted", "Decision")
            and not model.dead(k, view)}


def test_last_words_are_heard_in_the_step_that_says_them():
    """Reduction 8, on the states of a real search. Where every step is
    explored (no persistent set), a step never leaves a new live Adopted,
    Preempted or Decision in flight: a child's last delivery is followed, in
    the same step, by the delivery of the message it sent, and some such
    steps let the leader take a proposal first. With two
    replicas a commander's last step sends two decisions and is not merged,
    so decisions do wait in flight."""
    one = PaxosModel(ModelConfig(leaders=2, commands=1, max_ballot=1), reduce=True)
    merged = first = 0
    for s in _reachable(one, 2_000):
        view = one._view(s)
        enabled = [k for k in s.net if not one.dead(k, view)]
        if one._ample(s, view, enabled):
            continue
        before = _verdicts_in_flight(one, s)
        for lab, n in one.successors(s):
            assert _verdicts_in_flight(one, n) <= before, lab
            if isinstance(lab, tuple) and not isinstance(lab, Step):
                # A child's last delivery, then (after any proposals its
                # leader takes first) the message it sent.
                merged += sum(1 for i, st in enumerate(lab)
                              if st.mtype in ("Adopted", "Preempted", "Decision")
                              and any(x.process == st.msg.src for x in lab[:i]))
                # The leader may take proposals in flight before it hears the
                # verdict (rule 5's merged steps), not only after it.
                first += lab[-1].mtype == "Adopted" and lab[-2].mtype == "Propose"
    assert merged > 0 and first > 0
    two = PaxosModel(ModelConfig(leaders=1, replicas=2, commands=1, max_ballot=0), reduce=True)
    assert any("Decision" in _verdicts_in_flight(two, s) for s in _reachable(two, 100_000))


def test_rule_7c_merges_a_last_word_only_when_nothing_else_can_reach_the_leader():
    """Rule 7c with reduction 8 (PaxosModel._sole_voice), on the states of a
    real search: whenever it lets a closed child's last word be heard at
    once, that child is its leader's only live child, nothing but proposals
    to a passive leader is in flight to the leader, and the replica has
    nothing left to propose; it says yes in some states and no in others."""
    m = PaxosModel(ModelConfig(max_ballot=0), reduce=True)  # two commanders a leader
    said = set()
    for s in _reachable(m, 3_000):
        view = m._view(s)
        for pid in sorted({k[0] for k in s.net if "." in k[0]}):
            lead = pid.split(".")[0]
            ok = m._sole_voice(s, view, pid)
            said.add(ok)
            if not ok:
                continue
            assert [e[0] for e in s.procs if e[0].startswith(lead + ".")] == [pid]
            passive = not field_of(view[lead][1], "active")
            assert all(k[1] == "Propose" and passive for k in s.net
                       if k[0] == lead and not m.dead(k, view))
            assert not field_of(view["r1"][1], "requests")
    assert said == {True, False}
    # A replica of one's own might propose at any time: never.
    mine = PaxosModel(ModelConfig(leaders=2, commands=1, max_ballot=1),
                      {"replica": OwnReplica}, reduce=True)
    s = next(s for s in _reachable(mine, 3_000) if any("." in k[0] for k in s.net))
    view = mine._view(s)
    assert not any(mine._sole_voice(s, view, k[0]) for k in s.net if "." in k[0])


def test_rule_7d_keeps_the_quiescent_states(monkeypatch):
    """Rule 7d (a decision to a finished replica first) keeps every
    quiescent state."""
    _keeps_the_quiescent_states(monkeypatch, "_finished")


def test_rule_7d_only_for_a_finished_stock_replica():
    """Rule 7d picks a decision only for the one stock replica with nothing
    left to propose, and never with a replica or a leader of one's own, or
    with two replicas."""
    m = PaxosModel(ModelConfig(max_ballot=0), reduce=True)
    picked = 0
    for s in _reachable(m, 3_000):
        view = m._view(s)
        enabled = sorted((k for k in s.net if not m.dead(k, view)), key=m._order)
        k = m._finished(view, enabled)
        if k is not None:
            picked += 1
            assert k[:2] == ("r1", "Decision") and not field_of(view["r1"][1], "requests")
    assert picked

    for roles, cfg in (({"replica": OwnReplica}, ModelConfig(max_ballot=0)),
                       ({"leader": OwnLeader}, ModelConfig(max_ballot=0)),
                       ({}, ModelConfig(leaders=1, replicas=2, max_ballot=0))):
        other = PaxosModel(cfg, roles, reduce=True)
        for s in _reachable(other, 1_000):
            view = other._view(s)
            assert other._finished(view, sorted(s.net, key=other._order)) is None


@pytest.mark.parametrize("config", [
    ModelConfig(leaders=2, commands=1, max_ballot=1),
    ModelConfig(leaders=1, commands=3, max_ballot=0),
], ids=["2l-1c-2r", "1l-3c-1r"])
def test_blind_values_keep_the_quiescent_states(config, monkeypatch):
    """Reduction 9 (blind values): with and without it, the same verdict,
    fewer states with it, and the same quiescent end states: every end
    state of the search without it has the key (with it) of an end state
    the search with it finds, and the other way round."""
    with_it = check_model(config, reduce=True)
    assert with_it.model.stock
    ends_with = {with_it.model.canonical(s) for s in _quiescent_states(with_it.model)}
    with monkeypatch.context() as mp:
        mp.setattr(PaxosModel, "_blind", lambda self, view: None)
        without = check_model(config, reduce=True)
        ends = _quiescent_states(without.model)
    assert with_it.ok and without.ok and with_it.result.complete and without.result.complete
    assert with_it.result.states < without.result.states
    assert {with_it.model.canonical(s) for s in ends} == ends_with and ends_with


def _with_accepted(state, acceptor: str, pv: PValue):
    """The state with one more pvalue in an acceptor's ``accepted``."""
    procs = []
    for e in state.procs:
        if e[0] == acceptor:
            i = e[1].pos["accepted"]
            vals = e[2]
            e = (e[0], e[1], vals[:i] + (type(vals[i])(vals[i] | {pv}),) + vals[i + 1:])
        procs.append(e)
    return state._replace(procs=tuple(procs))


def test_blind_keys_leave_out_the_pvalues_of_slots_every_live_leader_holds():
    """On the states of a real search: an acceptor's accepting one more
    pvalue for slot 1 leaves the key as it is exactly when every leader that
    is not retired holds a proposal for slot 1 (none can learn slot 1 from
    pvalues any more); and the ghosts ``chosen`` and ``commanders`` are never
    in the key. Both kinds of states occur."""
    m = PaxosModel(ModelConfig(leaders=2, commands=2, max_ballot=0), reduce=True)
    extra = PValue(Ballot(0, "l1"), 1, Command("c1", 1, ("append", "x", "c1.1")))
    blind = seeing = 0
    for s in _reachable(m, 4_000):
        view = m._view(s)
        holding = all(m.retired(view[lid][1])
                      or 1 in {sl for sl, _ in field_of(view[lid][1], "proposals")}
                      for lid in ("l1", "l2"))
        assert (1 in m._blind(view)) == holding
        if s.chosen or s.commanders:
            ghostless = s._replace(chosen=frozenset(), commanders=frozenset())
            assert m.canonical(ghostless) == m.canonical(s)
        if extra in field_of(view["a1"][1], "accepted"):
            continue
        same = m.canonical(_with_accepted(s, "a1", extra)) == m.canonical(s)
        assert same == holding
        blind += holding
        seeing += not holding
    assert blind and seeing


def test_blind_values_only_for_the_stock_roles_and_one_replica():
    """Reduction 9 rests on every role being the stock one, on one replica
    and on no fault or timer: otherwise the key keeps every pvalue."""
    cfg = ModelConfig(leaders=2, commands=1, max_ballot=0)
    assert PaxosModel(cfg, reduce=True).stock
    for roles, c in (({"replica": OwnReplica}, cfg), ({"leader": OwnLeader}, cfg),
                     ({"acceptor": OwnAcceptor}, cfg),
                     ({}, ModelConfig(leaders=2, commands=1, replicas=2, max_ballot=0)),
                     ({}, ModelConfig(leaders=2, commands=1, max_ballot=0, crashes=1)),
                     ({}, ModelConfig(leaders=2, commands=1, max_ballot=0, dups=1))):
        other = PaxosModel(c, roles, reduce=True)
        assert not other.stock
        assert all(other._blind(other._view(s)) is None for s in _reachable(other, 500))
    assert not PaxosModel(cfg).stock  # and never without reduce
