"""Property tests over random fault plans (issue 2, item 6).

Hypothesis builds deployments and fault plans that are valid for them
(crash/recover pairs on live processes, partitions, one-way blocks, heals,
network and per-link loss, duplication and delay, reconfigurations to new
leaders and acceptors) and checks:

- safety always, healed or not: no invariant of the paper is violated
  (R1-R5, A1-A5, C1-C2; PMMC sections 3.1-3.3) and the history is
  linearizable, under either leader policy;
- liveness once healed: when every fault ends at the plan's calm time, every
  client command completes (PMMC section 3.6);
- fault plans round-trip through JSON (DESIGN section 5).

The plans are built here independently of ``random_fault_plan`` (which the
randomized sweep uses), so the two generators check each other's blind
spots.  Under CI (``CI`` set) the examples are derandomized, so a CI run is
reproducible; locally each run explores new examples.  A failure shows the
run as JSON (``load_spec`` replays it).
"""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from paxos_lit import Action, FaultPlan, NetParams, SimConfig, Simulator, simulate
from paxos_lit.sim.sweep import calm_time, load_spec, run_spec

_COMMON = dict(max_examples=60, deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("paxos_lit.properties.ci", derandomize=True, database=None,
                          **_COMMON)
settings.register_profile("paxos_lit.properties.dev", **_COMMON)
PROFILE = settings.get_profile("paxos_lit.properties.ci" if os.environ.get("CI")
                               else "paxos_lit.properties.dev")

probabilities = st.floats(0.0, 0.5)


def configs(policies=("backoff",), until=20_000.0):
    """Small deployments: 1-3 replicas and leaders, 1, 3 or 5 acceptors,
    1-3 clients with 1-6 commands, a slightly lossy base network."""
    net = st.builds(NetParams, delay_min=st.just(0.5), delay_max=st.floats(0.5, 3.0),
                    loss=st.floats(0.0, 0.1), dup=st.floats(0.0, 0.1))
    return st.builds(SimConfig, replicas=st.integers(1, 3), leaders=st.integers(1, 3),
                     acceptors=st.sampled_from((1, 3, 5)), clients=st.integers(1, 3),
                     commands=st.integers(1, 6), window=st.integers(1, 5),
                     keys=st.integers(1, 3), leader_policy=st.sampled_from(policies),
                     net=net, until=st.just(until))


def net_fields(draw, max_loss=0.5):
    lo = draw(st.floats(0.0, 5.0))
    return {"loss": draw(st.floats(0.0, max_loss)), "dup": draw(probabilities),
            "delay_min": lo, "delay_max": lo + draw(st.floats(0.0, 5.0))}


@st.composite
def fault_plans(draw, config: SimConfig, calm: bool = True):
    """A valid fault plan for ``config``.  With ``calm``, every fault ends at
    the plan's last time: heal, the network and touched links back to
    ``config.net``, every crashed process recovered."""
    end = draw(st.integers(20, 300)) * 1.0
    times = st.integers(0, int(end * 10) - 1).map(lambda x: x / 10)
    kinds = st.sampled_from(("crash", "partition", "block", "net", "link", "heal",
                             "reconfigure"))
    # Episodes in time order, so that processes a reconfiguration creates are
    # named only once they exist.
    episodes = sorted(draw(st.lists(st.tuples(times, kinds), max_size=8)))
    crashable = list(config.replica_ids + config.leader_ids + config.acceptor_ids)
    everyone = crashable + list(config.client_ids)
    actions, down, links, fresh = [], {}, [], 0
    for at, kind in episodes:
        if kind == "crash":
            pid = draw(st.sampled_from(crashable))
            back = min(end, at + draw(st.integers(1, 200)))
            if any(not (back < s or at > e) for s, e in down.get(pid, ())):
                continue  # would crash a process that is already down
            down.setdefault(pid, []).append((at, back))
            actions.append(Action(at=at, action="crash", process=pid))
            if back < end or not calm:
                actions.append(Action(at=back, action="recover", process=pid))
        elif kind == "partition":
            where = draw(st.lists(st.sampled_from((None, 0, 1, 2)), min_size=len(everyone),
                                  max_size=len(everyone)))
            groups = [tuple(p for p, g in zip(everyone, where) if g == i) for i in range(3)]
            groups = tuple(g for g in groups if g)
            if len(groups) >= 2:
                actions.append(Action(at=at, action="partition", groups=groups))
        elif kind == "block":
            ids = st.lists(st.sampled_from(everyone), min_size=1, max_size=4, unique=True)
            actions.append(Action(at=at, action="block", src=tuple(draw(ids)),
                                  dst=tuple(draw(ids))))
        elif kind == "net":
            actions.append(Action(at=at, action="set", **net_fields(draw)))
        elif kind == "link":
            link = tuple(draw(st.lists(st.sampled_from(everyone), min_size=2, max_size=2,
                                       unique=True)))
            actions.append(Action(at=at, action="set", link=link, **net_fields(draw, 1.0)))
            links.append(link)
        elif kind == "reconfigure":
            fresh += 1
            leaders = tuple(f"l{fresh}{i}" for i in range(draw(st.integers(1, 2))))
            acceptors = tuple(f"a{fresh}{i}" for i in range(draw(st.sampled_from((1, 3)))))
            actions.append(Action(at=at, action="reconfigure", leaders=leaders,
                                  acceptors=acceptors))
            crashable += leaders + acceptors
            everyone += leaders + acceptors
        else:
            actions.append(Action(at=at, action="heal"))
    actions.sort(key=lambda a: a.at)
    if calm:
        base = config.net
        reset = {"loss": base.loss, "dup": base.dup, "delay_min": base.delay_min,
                 "delay_max": base.delay_max}
        actions += [Action(at=end, action="heal"), Action(at=end, action="set", **reset)]
        actions += [Action(at=end, action="set", link=link, **reset)
                    for link in dict.fromkeys(links)]
        actions += [Action(at=end, action="recover", process=pid)
                    for pid, spans in down.items() if any(e == end for _, e in spans)]
    return FaultPlan(tuple(actions))


@st.composite
def runs(draw, calm=True, policies=("backoff",), until=20_000.0):
    config = draw(configs(policies, until))
    return config, draw(st.integers(0, 2**32 - 1)), draw(fault_plans(config, calm))


def describe(config, seed, plan) -> str:
    return json.dumps(run_spec(config, seed, plan))


@PROFILE
@given(runs(calm=True))
def test_safe_and_live_once_healed(run):
    """Whatever faults strike before the calm time, no invariant breaks, the
    history is linearizable, and once everything is up and healed every
    client command completes before the time limit (PMMC sections 3, 3.6)."""
    config, seed, plan = run
    note(describe(*run))
    result = simulate(config, seed, plan, trace=False)
    assert [v.to_json() for v in result.violations] == []
    assert result.linearizable is True
    assert result.completed == config.clients * config.commands, \
        f"completed {result.completed} by t={result.virtual_time:g}, calm at {calm_time(plan):g}"
    assert result.virtual_time <= config.until


@PROFILE
@given(runs(calm=False, policies=("backoff", "naive"), until=1_500.0))
def test_safe_even_if_never_healed(run):
    """Safety does not depend on faults ending, nor on the leader policy:
    even with processes left down, partitions left standing and dueling
    naive leaders, nothing decided is ever contradicted (R1 and the rest)
    and whatever the clients saw is linearizable.  Liveness is not claimed
    here."""
    config, seed, plan = run
    note(describe(*run))
    result = simulate(config, seed, plan, trace=False)
    assert [v.to_json() for v in result.violations] == []
    assert result.linearizable is True


@PROFILE
@given(runs(calm=False))
def test_generated_plans_are_valid_and_round_trip(run):
    """Plans built by the strategy are accepted by the simulator, and every
    plan survives JSON unchanged, as does the whole run spec."""
    config, seed, plan = run
    Simulator(config, seed, plan, check=False, trace=False)
    text = json.dumps(plan.to_json())
    assert FaultPlan.from_json(json.loads(text)) == plan
    assert FaultPlan.loads(plan.dumps()) == plan
    assert load_spec(json.loads(describe(config, seed, plan))) == (config, seed, plan)
