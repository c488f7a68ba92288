"""Determinism and replay (DESIGN sections 3 rule 6, 5 and 6; issue 2).

A run is a pure function of ``(config, seed, plan)``: the same inputs give
the same trace and the same ``trace_sha256`` in this process, in another
process with another ``PYTHONHASHSEED``, and through the CLI; different
seeds give different runs; and a run stopped after N events and resumed is
the run itself, so a violation's event index replays it to that point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from paxos_lit.acceptor import Acceptor
from paxos_lit.messages import P1b, P2b
from paxos_lit.scenarios import build
from paxos_lit.sim import SimConfig, Simulator, simulate

#: The JSON keys DESIGN section 6 promises for ``simulate --json``.
SIMULATE_KEYS = {"seed", "requested", "completed", "decided_slots", "messages_delivered",
                 "virtual_time", "wall_s", "trace_sha256", "violations", "linearizable"}


def fresh(name):
    return Simulator(*build(name))


def python(code_or_args, hashseed):
    env = {**os.environ, "PYTHONHASHSEED": str(hashseed)}
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else code_or_args
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("name", ["duplication_reordering", "leader_crash"])
def test_same_inputs_give_the_same_trace_and_hash(name):
    """The same (config, seed, plan) gives the same trace, record for record,
    and the same trace_sha256 (DESIGN section 3, rule 6)."""
    a, b = fresh(name).run(), fresh(name).run()
    assert len(a.trace) > 500
    assert list(a.trace) == list(b.trace)
    assert a.trace.sha256() == b.trace.sha256()


def test_hash_is_the_same_in_processes_with_different_hash_seeds():
    """String hashing differs per process (PYTHONHASHSEED), and so does the
    iteration order of a frozenset of pvalues; the trace hash must not
    (DESIGN section 3, rule 6).  The run chosen carries p1b messages with
    several accepted pvalues, so the test can fail."""
    sim = fresh("leader_crash").run()
    assert any(type(r[4]) is P1b and len(r[4].accepted) >= 2 for r in sim.trace)
    code = ("from paxos_lit.scenarios import build\n"
            "from paxos_lit.sim import Simulator\n"
            "for name in ('leader_crash', 'reconfiguration'):\n"
            "    print(Simulator(*build(name)).run().trace.sha256())\n")
    here = [sim.trace.sha256(), fresh("reconfiguration").run().trace.sha256()]
    for hashseed in (1, 2):
        assert python(code, hashseed).split() == here


def test_different_seeds_give_different_runs():
    """Different seeds draw different workloads and delays, hence different
    trace hashes."""
    hashes = {simulate(SimConfig(), seed, linearizability=False).trace_sha256
              for seed in range(10)}
    assert len(hashes) == 10


def test_cli_simulate_json_prints_the_design_keys():
    """`python -m paxos_lit simulate --seed 7 --json` prints one JSON object
    with every key of DESIGN section 6, and its trace_sha256 is that of the
    same run in this process (the CLI's defaults are SimConfig's)."""
    out = python(["-m", "paxos_lit", "simulate", "--seed", "7", "--json"], hashseed=3)
    result = json.loads(out)
    assert SIMULATE_KEYS <= set(result)
    assert result["seed"] == 7
    assert result["requested"] == result["completed"] == 30
    assert result["decided_slots"] >= 30 and result["messages_delivered"] > 0
    assert result["violations"] == [] and result["linearizable"] is True
    assert isinstance(result["virtual_time"], float) and isinstance(result["wall_s"], float)
    assert result["trace_sha256"] == simulate(SimConfig(), 7, linearizability=False).trace_sha256


def snapshot(sim) -> dict:
    """Everything that determines the rest of a run, as plain values."""
    out = {"now": sim.now, "events": sim.events, "pending": sim.pending(),
           "rng": sim.rng.getstate(), "down": sorted(sim.down)}
    for pid, p in sorted(sim.procs.items()):
        if hasattr(p, "accepted"):
            out[pid] = (p.ballot_num, sorted(p.accepted))
        elif hasattr(p, "slot_out"):
            out[pid] = (p.slot_in, p.slot_out, sorted(p.decisions.items()), p.state.data)
        elif hasattr(p, "active"):
            out[pid] = (p.ballot_num, p.active, sorted(p.proposals.items()))
    return out


@pytest.mark.parametrize("name", ["leader_crash", "duplication_reordering"])
def test_replay_to_event_n_is_a_prefix_of_the_full_run(name):
    """run(max_events=N) stops after exactly N events, its trace is a prefix
    of the full run's, two such replays reach the same state, and resuming
    one finishes the full run itself (same hash): so any event index (a
    violation's, say) can be replayed to (DESIGN section 5)."""
    full = fresh(name).run()
    for n in (1, 137, full.events // 2, full.events - 1):
        a, b = fresh(name).run(max_events=n), fresh(name).run(max_events=n)
        assert a.events == n
        assert list(a.trace) == list(full.trace[:len(a.trace)])
        assert snapshot(a) == snapshot(b)
        a.run()
        assert a.events == full.events and a.trace.sha256() == full.trace.sha256()


class SloppyAcceptor(Acceptor):
    """A mutant that accepts every p2a, whatever its ballot (breaks A2)."""

    def on_P2a(self, msg):
        self.accepted.add(msg.pvalue)
        self.env.send(msg.src, P2b(self.id, self.ballot_num, msg.pvalue.slot))


def test_a_violation_replays_to_its_event_index():
    """A violation names the event index at which it happened; replaying the
    same (config, seed, plan) to that index shows it, and one event earlier
    does not (issue 2, item 4; invariant A2)."""
    config = SimConfig(leader_policy="naive")
    roles = {"acceptor": SloppyAcceptor}
    sim = Simulator(config, 7, roles=roles).run()
    first = sim.violations[0]
    assert first.invariant == "A2"
    before = Simulator(config, 7, roles=roles).run(max_events=first.event - 1)
    assert before.violations == []
    at = Simulator(config, 7, roles=roles).run(max_events=first.event)
    assert at.violations[0] == first
    assert at.trace[-1][1] == "violation" and at.trace[-1][5] == first.event
