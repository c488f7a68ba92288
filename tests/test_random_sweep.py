"""The randomized sweep (issue 2, item 6): 500 seeds of random deployments
under random faults, run in CI through ``sweep`` on a process pool.

Each seed gives a config (``random_config``) and a fault plan
(``random_fault_plan``): loss, duplication, delays, crashes and recoveries,
partitions and one-way blocks, reconfigurations to new leaders and
acceptors, all over by the plan's calm time.  For every
run we assert

- safety: no invariant of the paper is ever violated (R1-R5, A1-A5, C1-C2,
  PMMC sections 3.1-3.3), and the client history is linearizable;
- liveness: once a majority of acceptors, a leader and a replica are up on a
  fair network for long enough, every client command completes (PMMC
  section 3.6).  The generator ends every fault by the calm time, so every
  run must finish within its config's ``until``.

A failing run prints its ``(config, seed, plan)`` as JSON: save it to a
file and replay it with ``load_spec`` (or pass it to ``paxos-lit simulate
--faults``, which reads its ``faults``).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from paxos_lit import ConfigError, SimConfig, Simulator
from paxos_lit.leader import Leader
from paxos_lit.sim.sweep import (
    calm_time,
    load_spec,
    random_config,
    random_fault_plan,
    run_spec,
    summarize,
    sweep,
)

SEEDS = range(500)


def make_runs(seeds):
    runs = []
    for seed in seeds:
        config = random_config(seed)
        runs.append((config, seed, random_fault_plan(seed, config, reconfigure=True)))
    return runs


@pytest.fixture(scope="module")
def swept():
    runs = make_runs(SEEDS)
    # A process pool (the default executor), like a user's sweep; no trace
    # is kept (the invariant checks and the history do not need it).
    table = sweep(runs, progress=False, trace=False)
    return runs, table


def replay_json(run) -> str:
    return json.dumps(run_spec(*run))


def report(failures) -> str:
    lines = [f"{len(failures)} failing run(s); replay with "
             "paxos_lit.sim.sweep.load_spec(json.loads(LINE)):"]
    lines += [f"{why}\n{replay_json(run)}" for run, why in failures[:10]]
    return "\n".join(lines)


def test_sweep_covers_every_seed_in_order(swept):
    runs, table = swept
    assert [row["seed"] for row in table] == list(SEEDS)
    assert summarize(table)["unchecked"] == 0


def test_no_invariant_is_ever_violated(swept):
    """R1-R5, A1-A5, C1-C2 hold after every event of every run, whatever the
    faults (PMMC sections 3.1-3.3)."""
    runs, table = swept
    failures = [(run, "violations: " + "; ".join(f"{v['invariant']} {v['detail']}"
                                                 for v in row["violations"][:3]))
                for run, row in zip(runs, table) if row["violations"]]
    assert not failures, report(failures)


def test_every_history_is_linearizable(swept):
    """What the clients saw is explained by one order of their operations
    consistent with real time: the replicated store behaves as one."""
    runs, table = swept
    failures = [(run, "not linearizable") for run, row in zip(runs, table)
                if row["linearizable"] is not True]
    assert not failures, report(failures)


def test_every_command_completes_once_faults_end(swept):
    """After the calm time all processes are up, links healed and the
    network back to the config's: every client command must be answered
    before the config's time limit (PMMC section 3.6: with a majority of
    acceptors, a leader and a replica up, and retransmission, progress)."""
    runs, table = swept
    failures = []
    for run, row in zip(runs, table):
        config = run[0]
        expected = config.clients * config.commands
        if row["completed"] != expected or row["virtual_time"] > config.until:
            failures.append((run, f"completed {row['completed']} of {expected} by "
                                  f"t={row['virtual_time']:g} (calm at {calm_time(run[2]):g})"))
    assert not failures, report(failures)


def test_faults_really_hit_the_runs(swept):
    """Not a vacuous sweep: every kind of fault occurs many times, and in
    most runs the workload is still going when the first fault strikes."""
    runs, table = swept
    kinds = Counter()
    for _, _, plan in runs:
        for a in plan:
            if a.at < calm_time(plan):
                kinds["link" if a.action == "set" and a.link else a.action] += 1
    for kind in ("crash", "recover", "partition", "block", "set", "link", "heal",
                 "reconfigure"):
        assert kinds[kind] >= 50, kinds
    hit = sum(1 for (_, _, plan), row in zip(runs, table)
              if plan.actions and plan.actions[0].at < row["virtual_time"])
    assert hit >= 0.7 * len(runs)
    # Some runs are still unfinished when the faults end, so the liveness
    # assertion covers recovery from faults, not only runs that outran them.
    late = sum(1 for (_, _, plan), row in zip(runs, table)
               if row["virtual_time"] > calm_time(plan))
    assert late >= 0.2 * len(runs)


@pytest.mark.parametrize("seed", [0, 1, 2, 17, 123, 499])
def test_generator_is_deterministic_and_valid(seed):
    """random_fault_plan is a pure function of (seed, config), and its plans
    are accepted by the simulator (valid ids, crash only live processes,
    recover only dead ones)."""
    config = random_config(seed)
    plan = random_fault_plan(seed, config, reconfigure=True)
    assert plan == random_fault_plan(seed, config, reconfigure=True)
    assert random_config(seed) == config
    assert plan != random_fault_plan(seed + 1, config, reconfigure=True)
    Simulator(config, seed, plan)  # raises ConfigError if the plan is invalid
    Simulator(config, seed, random_fault_plan(seed, config))


@pytest.mark.parametrize("seed", range(0, 500, 25))
def test_everything_is_calm_after_calm_time(seed):
    """At the calm time every process is up, nothing is blocked, and the
    network (and every link the plan touched) is back to the config's: the
    premise of the liveness assertion."""
    config = random_config(seed)
    plan = random_fault_plan(seed, config, reconfigure=True)
    t = calm_time(plan)
    assert 50 <= t <= 400
    sim = Simulator(config, seed, plan, check=False, trace=False)
    sim.run(until=t, stop_when_finished=False)
    # Every action of the plan has been applied by now.
    assert not any(entry[2] == 2 for entry in sim.heap)
    assert sim.down == set()
    assert sim.blocked == set()
    assert sim.net == config.net
    assert all(params == config.net for params in sim.links.values())


def test_generator_options():
    """calm_at and episodes fix the fault period and its size; zero episodes
    leave only the calm (a no-op on a calm network); bad options name the
    field."""
    config = SimConfig()
    plan = random_fault_plan(3, config, calm_at=120.0, episodes=20)
    assert calm_time(plan) == 120.0
    assert len([a for a in plan if a.at < 120.0]) >= 10
    quiet = random_fault_plan(3, config, episodes=0)
    assert {a.action for a in quiet} == {"heal", "set"}
    for kw, field in (({"calm_at": -1}, "calm_at"), ({"calm_at": float("inf")}, "calm_at"),
                      ({"episodes": -2}, "episodes"), ({"max_loss": 1.5}, "max_loss"),
                      ({"max_dup": -0.1}, "max_dup"), ({"max_delay": -1}, "max_delay")):
        with pytest.raises(ConfigError) as e:
            random_fault_plan(1, config, **kw)
        assert e.value.field == field
    with pytest.raises(ConfigError) as e:
        random_fault_plan("7", config)
    assert e.value.field == "seed"


def test_reconfigurations_take_effect():
    """Not vacuous either: in some runs a reconfiguration is decided and the
    replicas switch to the new leaders (PMMC section 3.4), so the sweep
    covers runs across a change of configuration."""
    switched = 0
    for seed in range(60):
        config = random_config(seed)
        plan = random_fault_plan(seed, config, reconfigure=True)
        if not any(a.action == "reconfigure" for a in plan):
            continue
        sim = Simulator(config, seed, plan, check=False, trace=False).run()
        switched += any(set(sim.procs[r].leaders) != set(config.leader_ids)
                        for r in config.replica_ids if r in sim.procs)
    assert switched >= 5


class ForgetfulLeader(Leader):
    """The leader as it was when the sweep found the bug: nothing survives
    a crash, so it restarts at ballot (0, itself)."""

    def durable_state(self):
        return None


# Found by a longer run of this sweep (an earlier generator; seeds 500-9499
# failed at 689, 2689, 3093, 5383, 6274, 7334, 7737, 7808, 8772): a leader
# that crashed and recovered restarted at ballot (0, itself), so it could
# reuse a ballot of its previous life and propose a different command for a
# slot at that same ballot (C1, then A4: PMMC section 3.3).  The two runs are
# kept here as JSON, so they do not depend on the generator.
REGRESSIONS = [
    {"config": {"replicas": 3, "leaders": 1, "acceptors": 5, "clients": 4, "commands": 12,
                "window": 3, "leader_policy": "backoff",
                "net": {"delay_min": 0.5, "delay_max": 2.781, "loss": 0.0, "dup": 0.0},
                "until": 20000.0, "keys": 1},
     "seed": 3093,
     "faults": [{"at": 15.776, "action": "partition",
                 "groups": [["r1"], ["a2", "c1", "c2", "c4", "l1", "r2", "r3"],
                            ["a1", "a3", "a4", "a5"]]},
                {"at": 20.974, "action": "crash", "process": "l1"},
                {"at": 94.597, "action": "heal"},
                {"at": 95.121, "action": "heal"},
                {"at": 95.121, "action": "set", "loss": 0.0, "dup": 0.0, "delay_min": 0.5,
                 "delay_max": 2.781},
                {"at": 95.121, "action": "recover", "process": "l1"}]},
    {"config": {"replicas": 1, "leaders": 1, "acceptors": 3, "clients": 4, "commands": 9,
                "window": 4, "leader_policy": "backoff",
                "net": {"delay_min": 0.5, "delay_max": 1.991, "loss": 0.0, "dup": 0.0},
                "until": 20000.0, "keys": 3},
     "seed": 7808,
     "faults": [{"at": 1.086, "action": "set", "loss": 0.18, "dup": 0.13, "delay_min": 5.585,
                 "delay_max": 6.14},
                {"at": 10.053, "action": "crash", "process": "l1"},
                {"at": 24.363, "action": "partition",
                 "groups": [["a2", "a3", "c2", "c3", "c4", "l1", "r1"], ["a1", "c1"]]},
                {"at": 135.29, "action": "crash", "process": "r1"},
                {"at": 137.698, "action": "partition", "groups": [["c2", "r1"], ["c1", "c3"]]},
                {"at": 144.355, "action": "block", "src": ["a1", "c1", "r1"],
                 "dst": ["a1", "a2"]},
                {"at": 156.145, "action": "set", "loss": 0.063, "dup": 0.083,
                 "delay_min": 4.567, "delay_max": 6.876},
                {"at": 156.188, "action": "recover", "process": "l1"},
                {"at": 194.163, "action": "heal"},
                {"at": 194.163, "action": "set", "loss": 0.0, "dup": 0.0, "delay_min": 0.5,
                 "delay_max": 1.991},
                {"at": 194.163, "action": "recover", "process": "r1"}]},
]


@pytest.mark.parametrize("spec", REGRESSIONS, ids=lambda spec: f"seed{spec['seed']}")
def test_recovered_leader_never_reuses_a_ballot(spec):
    """C1: at most one command per (ballot, slot) among commanders, even
    across a leader's crash and recovery (PMMC section 3.3).  The forgetful
    leader shows that the run does exercise the bug."""
    config, seed, plan = load_spec(spec)
    good = sweep([(config, seed, plan)], executor="serial", progress=False, trace=False)[0]
    assert good["violations"] == [], report([((config, seed, plan), good["violations"][:2])])
    assert good["linearizable"] is True
    assert good["completed"] == config.clients * config.commands
    bad = sweep([(config, seed, plan)], executor="serial", progress=False, trace=False,
                roles={"leader": ForgetfulLeader})[0]
    assert "C1" in {v["invariant"] for v in bad["violations"]}, (
        "this regression run no longer reaches the bug (did the simulator's random "
        "stream change?): find a new one with the sweep and ForgetfulLeader")
