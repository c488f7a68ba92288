"""The model's reductions (paxos_lit.check.model, reductions 4-6: dead
messages, merged invisible steps, acceptor symmetry): they visit fewer states
and reach the same verdicts as the full search; every mutant is still caught
with its invariant, and the reduced counterexample replays in the simulator
delivery by delivery; symmetric states share one key and others do not."""

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
    flatten,
)
from paxos_lit.check.mutants import MUTANTS
from paxos_lit.check.replay import replay
from paxos_lit.errors import ConfigError
from paxos_lit.invariants import NAMES

EXPLORED = [n for n, m in MUTANTS.items() if m.method == "explore"]
ROOT = Path(__file__).resolve().parent.parent


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
