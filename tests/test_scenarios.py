"""Golden scenario transcripts (issue 2, item 6).

Each scenario of ``paxos_lit.scenarios`` has two golden files here, in
``tests/scenarios/``:

- ``NAME.json``: its config, seed and fault plan, the trace's SHA-256 and the
  key facts of the run (commands requested and completed, the decision of
  every slot, each leader's final ballot, violations, linearizability);
- ``NAME.txt``: a readable transcript of its key events (faults, leaders'
  ballot changes, the first decision of each slot), which the book may show.

The tests re-run every scenario and compare it with its golden files, then
assert the point the scenario makes (e.g. after the leader crash another
leader becomes active at a higher ballot).

To rewrite the golden files deliberately (after an intended change of the
protocol, the simulator or the scenarios), from the repository root::

    .venv/bin/python -m tests.test_scenarios --regen            # all of them
    .venv/bin/python -m tests.test_scenarios --regen NAME ...   # some

and review the diff of tests/scenarios/ before committing it.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import pytest

from paxos_lit import scenarios
from paxos_lit.messages import Decision, P2a, P2b
from paxos_lit.scenarios import DUEL_FAR, DUEL_NEAR, SCENARIOS, build, transcript
from paxos_lit.sim import FaultPlan, NetParams, SimConfig, Simulator
from paxos_lit.sim.faults import Action
from paxos_lit.sim.simulator import check_linearizable
from paxos_lit.types import WINDOW, is_reconfig

GOLDEN = Path(__file__).resolve().parent / "scenarios"
REGEN = "python -m tests.test_scenarios --regen"


# -- running and summarising ----------------------------------------------------
@functools.cache
def run(name: str):
    """Run scenario ``name`` once per test session; returns (sim, result)."""
    config, seed, plan = build(name)
    sim = Simulator(config, seed, plan).run()
    return sim, sim.result(linearizable=check_linearizable(sim.history()))


def decisions(sim) -> dict:
    """slot -> (time, commander id, command) of the first decision sent."""
    out = {}
    for t, kind, a, _, msg, _ in sim.trace:
        if kind == "send" and type(msg) is Decision and msg.slot not in out:
            out[msg.slot] = (t, a, msg.command)
    return out


def states(sim, leader=None) -> list:
    """(time, leader, ballot, active) for every "state" record."""
    return [(t, a, p[0], p[1]) for t, kind, a, _, p, _ in sim.trace
            if kind == "state" and (leader is None or a == leader)]


def final_ballots(sim) -> dict:
    """leader -> its last observed ballot, whether it is up, and whether it
    is active (a crashed leader is not)."""
    out = {}
    for _, pid, ballot, active in states(sim):
        up = pid not in sim.down
        out[pid] = {"ballot": list(ballot), "active": active and up, "up": up}
    return dict(sorted(out.items()))


def facts(sim, result) -> dict:
    return {
        "requested": result.requested,
        "completed": result.completed,
        "decided_slots": result.decided_slots,
        "decisions": {str(s): str(c) for s, (_, _, c) in sorted(decisions(sim).items())},
        "last_decision_at": round(max((t for t, _, _ in decisions(sim).values()), default=0), 6),
        "leaders": final_ballots(sim),
        "messages_delivered": result.messages_delivered,
        "events": result.events,
        "virtual_time": round(result.virtual_time, 6),
        "violations": [v.to_json() for v in result.violations],
        "linearizable": result.linearizable,
    }


def summary(name: str) -> str:
    """The first paragraph of the scenario builder's docstring, on one line."""
    return " ".join(SCENARIOS[name].__doc__.split("\n\n")[0].split())


def golden_record(name: str) -> dict:
    config, seed, plan = build(name)
    sim, result = run(name)
    return {
        "name": name,
        "summary": summary(name),
        "config": config.to_json(),
        "seed": seed,
        "plan": plan.to_json(),
        "trace_sha256": result.trace_sha256,
        "facts": facts(sim, result),
    }


def regenerate(names) -> None:
    GOLDEN.mkdir(exist_ok=True)
    for name in names:
        record = golden_record(name)
        (GOLDEN / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        (GOLDEN / f"{name}.txt").write_text(transcript(run(name)[0].trace), encoding="utf-8")
        print(f"wrote tests/scenarios/{name}.json and .txt  sha256={record['trace_sha256'][:16]}")


def load_golden(name: str) -> dict:
    path = GOLDEN / f"{name}.json"
    if not path.exists():
        pytest.fail(f"{path} is missing; create it with `{REGEN} {name}`")
    return json.loads(path.read_text(encoding="utf-8"))


# -- the goldens -------------------------------------------------------------------
NAMES = sorted(SCENARIOS)


def test_every_scenario_has_golden_files_and_no_stray_ones():
    """One NAME.json and one NAME.txt per scenario, and nothing else."""
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(
        [f"{n}.json" for n in NAMES] + [f"{n}.txt" for n in NAMES])


@pytest.mark.parametrize("name", NAMES)
def test_scenario_matches_its_golden_transcript(name):
    """A run is a pure function of (config, seed, plan) (DESIGN section 5):
    re-running a scenario gives the stored trace hash, facts and transcript.
    The stored config and plan are the scenario's own."""
    golden = load_golden(name)
    config, seed, plan = build(name)
    assert golden["config"] == config.to_json()
    assert golden["seed"] == seed
    assert golden["plan"] == plan.to_json()
    sim, result = run(name)
    hint = f" (if the change is intended: `{REGEN} {name}`)"
    assert facts(sim, result) == golden["facts"], "facts differ" + hint
    assert result.trace_sha256 == golden["trace_sha256"], "trace hash differs" + hint
    text = (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")
    assert transcript(sim.trace) == text, "transcript differs" + hint


@pytest.mark.parametrize("name", NAMES)
def test_golden_file_replays_from_its_own_json(name):
    """The golden JSON alone is enough to replay the run: config and plan
    round-trip through JSON (SimConfig.from_json, FaultPlan.from_json) to the
    same trace hash."""
    golden = load_golden(name)
    config = SimConfig.from_json(golden["config"])
    plan = FaultPlan.from_json(golden["plan"])
    sim = Simulator(config, golden["seed"], plan, check=False).run()
    assert sim.trace.sha256() == golden["trace_sha256"]


@pytest.mark.parametrize("name", [n for n in NAMES if n != "dueling_naive"])
def test_scenario_is_safe_and_complete(name):
    """Safety (no invariant R1-R5, A1-A5, C1-C2 ever broken, a linearizable
    history) and liveness (every command answered) in every scenario but the
    naive duel, whose point is that liveness fails (PMMC section 3.6)."""
    _, result = run(name)
    assert result.violations == [] and result.linearizable is True
    assert result.completed == result.requested == 30 * (2 if name == "partition_heal" else 1)


# -- the point of each scenario -------------------------------------------------------
def test_happy_path_one_leader_decides_everything():
    """With no faults the higher initial ballot (0, l2) is adopted, l2's
    commanders decide every command in exactly one slot, and l1, preempted,
    defers and never becomes active (PMMC section 3; backoff, 3.6)."""
    sim, result = run("happy_path")
    assert result.decided_slots == result.requested
    assert {cid.split(".")[0] for _, cid, _ in decisions(sim).values()} == {"l2"}
    assert not any(active for _, pid, _, active in states(sim) if pid == "l1")
    assert final_ballots(sim)["l2"] == {"ballot": [0, "l2"], "active": True, "up": True}


def test_leader_crash_another_leader_takes_over_at_a_higher_ballot():
    """After the active leader crashes, another leader becomes active at a
    ballot above the crashed one's, per the trace's "state" records, and
    every later decision is its commanders' (PMMC section 3.6)."""
    sim, _ = run("leader_crash")
    crash_at = next(t for t, kind, a, *_ in sim.trace if kind == "crash" and a == "l2")
    before = [(b, act) for t, _, b, act in states(sim, "l2") if t <= crash_at]
    assert before[-1][1], "l2 was active when it crashed"
    l2_ballot = before[-1][0]
    takeover = [(t, b) for t, _, b, act in states(sim, "l1") if act and t > crash_at]
    assert takeover and takeover[0][1] > l2_ballot
    later = [cid for t, cid, _ in decisions(sim).values() if t > crash_at]
    assert later and all(cid.startswith("l1.") for cid in later)
    assert "l2" in sim.down


def test_minority_of_acceptors_crashed_majority_decides():
    """With 2 of 5 acceptors down, every later decision is accepted by all
    three acceptors left, a majority (PMMC section 3.3); messages to the
    crashed ones are lost."""
    sim, _ = run("minority_acceptors")
    crash_at = min(t for t, kind, *_ in sim.trace if kind == "crash")
    pvalue_of = {a: msg.pvalue for _, kind, a, _, msg, _ in sim.trace
                 if kind == "send" and type(msg) is P2a}
    later = [(s, cid) for s, (t, cid, _) in decisions(sim).items() if t > crash_at + 2]
    assert len(later) >= 20
    for _, cid in later:
        pv = pvalue_of[cid]
        assert all(pv in sim.procs[a].accepted for a in ("a1", "a2", "a3"))
        assert all(pv not in sim.durable["a" + n][1] for n in "45")
    assert any(kind == "lost" and b in ("a4", "a5") for _, kind, _, b, *_ in sim.trace)


def test_dueling_naive_livelocks_and_backoff_progresses():
    """The naive policy (the paper's pseudocode) livelocks: after the first
    slots, no new slot is decided for the rest of a long run while ballots
    keep climbing; the backoff policy, on the same config, seed and plan,
    decides every command quickly (PMMC section 3.6, dueling leaders)."""
    naive, nres = run("dueling_naive")
    backoff, bres = run("dueling_backoff")
    until = naive.config.until
    assert bres.completed == bres.requested == 30 and bres.virtual_time < 150
    last = max(t for t, _, _ in decisions(naive).values())
    assert nres.completed < nres.requested
    assert until - naive.now < 1 and until - last >= 1900    # 1900+ time units, nothing new
    rounds = [b.round for _, _, b, _ in states(naive)]
    assert max(rounds) > 500                                  # ballots climb all along
    assert nres.violations == [] and nres.linearizable is True   # slow, never unsafe
    per_naive = nres.messages_delivered / max(1, nres.decided_slots)
    per_backoff = bres.messages_delivered / bres.decided_slots
    assert per_naive > 100 * per_backoff


def test_dueling_naive_is_the_lockstep_of_the_docstring():
    """The mechanism of the livelock, as the scenario's docstring derives
    it: each naive leader goes passive every 2D + 2s time units exactly,
    the other leader's passive moments stay at one fixed offset d with
    2s < d < 2D, and no p2a sent after the lockstep sets in is accepted by a
    majority (PMMC section 3.6)."""
    sim, _ = run("dueling_naive")
    period = 2 * DUEL_FAR + 2 * DUEL_NEAR
    settle = 50.0
    passive = {pid: [t for t, _, _, act in states(sim, pid) if not act and t > settle]
               for pid in ("l1", "l2")}
    for times in passive.values():
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert len(gaps) > 400 and all(abs(g - period) < 1e-6 for g in gaps)
    d = (passive["l1"][0] - passive["l2"][0]) % period
    d = min(d, period - d)
    assert 2 * DUEL_NEAR < d < 2 * DUEL_FAR
    ballot_of = {}   # commander -> its ballot, for p2a sent after the settling
    votes = {}       # commander -> acceptors that accepted its pvalue
    for t, kind, src, dst, msg, _ in sim.trace:
        if kind == "send" and type(msg) is P2a and t > settle:
            ballot_of[src] = msg.pvalue.ballot
        elif kind == "send" and type(msg) is P2b and ballot_of.get(dst) == msg.ballot:
            votes.setdefault(dst, set()).add(src)
    assert len(ballot_of) > 1000
    assert max(map(len, votes.values()), default=0) < 2     # never a majority of 3


def test_partitioned_leader_decides_nothing_and_defers_after_heal():
    """A leader cut off from the rest cannot reach a majority, so nothing it
    proposes is decided; another leader takes over at a higher ballot; after
    the heal the old leader learns the higher ballot, goes passive above it,
    and defers: the new leader stays active to the end (PMMC sections 3.3,
    3.6)."""
    sim, _ = run("partition_heal")
    faults = [(t, p["action"]) for t, kind, _, _, p, _ in sim.trace if kind == "fault"]
    (cut, _), (healed, _) = faults
    delay = sim.config.net.delay_max
    during = [cid for t, cid, _ in decisions(sim).values() if t > cut + 2 * delay]
    assert during and all(cid.startswith("l1.") for cid in during)
    l1_active = [(t, b) for t, _, b, act in states(sim, "l1") if act]
    assert len(l1_active) == 1 and cut < l1_active[0][0] < healed
    l2_after = [(t, b, act) for t, _, b, act in states(sim, "l2") if t > healed]
    assert l2_after and not l2_after[-1][2] and l2_after[-1][1] > l1_active[0][1]
    assert final_ballots(sim)["l1"]["active"] is True


def test_duplication_and_reordering_change_nothing_visible():
    """With half the messages duplicated and delays from 0.1 to 10, messages
    arrive twice and out of order, yet both replicas end in the same state,
    each command is performed once, and the history is linearizable (PMMC
    section 3: no FIFO or exactly-once links assumed)."""
    sim, result = run("duplication_reordering")
    node = sim.node_of
    sends = [r for r in sim.trace if r[1] == "send" and node[r[2]] != node.get(r[3], r[3])]
    dups = [r for r in sim.trace if r[1] == "dup"]
    assert len(dups) > 0.4 * len(sends)
    last_arrival, overtaken = {}, 0
    for _, kind, a, b, _, at in sim.trace:
        if kind == "send":
            link = (a, b)
            if at < last_arrival.get(link, -1.0):
                overtaken += 1
            last_arrival[link] = max(at, last_arrival.get(link, -1.0))
    assert overtaken >= 20
    # The run stops when the last client is answered; a replica may still
    # have decisions in flight.  Let a fresh copy of the run drain.
    drained = Simulator(*build("duplication_reordering")).run()
    drained.run(until=drained.now + 100, stop_when_finished=False)
    r1, r2 = drained.procs["r1"], drained.procs["r2"]
    assert r1.state == r2.state and r1.slot_out == r2.slot_out
    assert len(r1.results) == len(r2.results) == result.requested
    assert drained.violations == []


def test_reconfiguration_hands_slots_over_window_slots_later():
    """The reconfiguration is decided at some slot s; slots below s + WINDOW
    are decided by the old leaders' commanders, every slot from s + WINDOW on
    by the new leaders', and the old acceptors never see a p2a for those
    slots (PMMC section 3.4)."""
    sim, _ = run("reconfiguration")
    decided = decisions(sim)
    (s,) = [slot for slot, (_, _, c) in decided.items() if is_reconfig(c)]
    old, new = ("l1", "l2"), ("l3", "l4")
    for slot, (_, cid, _) in decided.items():
        assert cid.split(".")[0] in (old if slot < s + WINDOW else new), (slot, cid)
    assert max(decided) >= s + WINDOW + 10
    for _, kind, a, b, msg, _ in sim.trace:
        if kind == "send" and type(msg) is P2a and msg.pvalue.slot >= s + WINDOW:
            assert b in ("a4", "a5", "a6"), (a, b, msg)
    assert all(sim.procs[r].leaders == new for r in ("r1", "r2"))


# Before the replica fix, these runs (reconfiguration at t=15 under 30% loss)
# broke R1: a stalled replica sent retries for the old configuration's slots
# to the new leaders, so two configurations decided one slot.
@pytest.mark.parametrize("seed", [138, 140, 149])
def test_reconfiguration_under_loss_keeps_one_decision_per_slot(seed):
    """Under message loss, replicas re-propose stalled slots; each retry goes
    to the leaders of that slot's configuration, so no slot is decided by
    two configurations (R1; PMMC section 3.4)."""
    config = SimConfig(net=NetParams(loss=0.3), until=5000.0)
    plan = FaultPlan((Action(at=15.0, action="reconfigure", leaders=("l3", "l4"),
                             acceptors=("a4", "a5", "a6")),))
    sim = Simulator(config, seed, plan, trace=False).run()
    assert sim.violations == [] and sim.finished


def test_scenario_builders_are_documented_and_pure():
    """Every builder says what it shows, citing the paper, and returns an equal
    (config, seed, plan) each time (the book and widgets rely on both)."""
    for name, builder in SCENARIOS.items():
        config, seed, plan = build(name)
        assert isinstance(config, SimConfig) and isinstance(seed, int)
        assert isinstance(plan, FaultPlan)
        assert build(name) == (config, seed, plan)
        assert summary(name) and "PMMC section" in " ".join(builder.__doc__.split()), name
    assert "livelock" in scenarios.dueling.__doc__ and "2s < d < 2D" in scenarios.dueling.__doc__
    with pytest.raises(KeyError, match="happy_path"):
        build("no_such_scenario")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.test_scenarios",
                                     description="Rewrite the golden scenario files.")
    parser.add_argument("--regen", action="store_true", help="rewrite tests/scenarios/")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"default: all of {NAMES}")
    args = parser.parse_args(argv)
    if not args.regen:
        parser.error("nothing to do without --regen")
    unknown = sorted(set(args.names) - set(NAMES))
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    regenerate(args.names or NAMES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
