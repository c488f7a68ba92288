"""Replay an explorer counterexample in the simulator, exactly.

The explorer (:mod:`paxos_lit.check.model`) drives the role classes with a
recording environment; the simulator drives the same classes with a queue of
timed events. A counterexample is a list of :class:`~paxos_lit.check.model.Step`:
deliver, drop or duplicate one message, fire one timer, crash or recover one
process. :func:`replay` builds the simulator the model stands for (same
processes, same roles, no clients, the same requests handed to the replicas),
then performs each step by taking *that* event out of the simulator's queue
(``Simulator.pending()`` / ``take(entry)``): the message identified by its
destination, type and every field; the timer by process and tag; a crash or
recovery by ``Simulator.crash`` / ``recover``. Virtual time plays no part:
the simulator processes the events in the order of the steps.

With ``compare=True`` (the default) the model is run alongside and, after
every step, the simulator's state is read back into the model's form
(:func:`state_of`) and compared with the model's state: same processes with
the same fields, same messages in flight, same ghost variables. That is what
"replays exactly" means here, and it is checked, not assumed. The violation
is then reproduced twice over: the simulator's own invariant checker reports
it (for R1-R5, A1-A5, C1-C2), and the model's checks, evaluated on the state
read from the simulator, report it too (for all invariants, including
``Chosen`` and ``Liveness``, which the simulator's checker does not have).

Two queue operations have no public method in the simulator and are done
here on its queue directly: a ``drop`` removes the entry, a ``dup`` pushes a
copy with a new sequence number (both are traced, as ``drop`` with reason
``"model"`` and as ``dup``).
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field

from ..errors import ConfigError
from ..messages import Request
from ..sim.config import SimConfig
from ..sim.simulator import DELIVER, TIMER, Simulator
from .explore import Violation
from .model import ModelConfig, MState, PaxosModel, Step, encode_process, node_of

__all__ = ["ReplayError", "ReplayResult", "replay", "simulator_for", "state_of"]

_FIELDS = ("procs", "net", "extra", "timers", "down", "children", "decided", "chosen",
           "commanders", "used")


class ReplayError(ValueError):
    """A step names an event the simulator does not have pending."""


@dataclass
class ReplayResult:
    """What a replay did and found."""

    sim: Simulator  # the simulator, after the last step (its trace tells the story)
    steps: list  # the steps performed
    states_match: bool | None  # the simulator's state equals the model's after every step
    #                            (None: not compared)
    mismatch: str | None = None  # the first difference, if any
    sim_violations: list = field(default_factory=list)  # names reported by the sim's checker
    model_violations: list = field(default_factory=list)  # model checks on the final sim state
    first_violation_step: int | None = None  # the step after which the sim's checker first fired

    @property
    def violations(self) -> list[str]:
        """Every invariant name reported, by either checker, without repeats."""
        return list(dict.fromkeys(self.sim_violations + self.model_violations))

    def reproduces(self, invariant: str) -> bool:
        """Did the replay break ``invariant``?"""
        return invariant in self.violations

    def to_json(self) -> dict:
        return {"steps": len(self.steps), "states_match": self.states_match,
                "mismatch": self.mismatch, "sim_violations": self.sim_violations,
                "model_violations": self.model_violations}


def simulator_config(config: ModelConfig) -> SimConfig:
    """The simulator configuration a model configuration stands for."""
    return SimConfig(replicas=config.replicas, leaders=config.leaders,
                     acceptors=config.acceptors, clients=0, commands=0,
                     window=config.window, leader_policy=config.leader_policy)


def simulator_for(model: PaxosModel, *, trace: bool = True) -> Simulator:
    """A simulator in the model's initial state: every process started (the
    simulator does that), then the workload's requests delivered to the
    replicas (and, with ``upfront_proposals``, the replicas' proposals to
    the leaders), in the model's order."""
    sim = Simulator(simulator_config(model.config), 0, check=True, trace=trace,
                    roles=dict(model.roles))
    for rid, cmd in model.config.workload():
        sim.process((sim.now, 0, DELIVER, rid, Request(cmd.client, cmd), cmd.client))
    if model.config.upfront_proposals:
        state = state_of(sim, model)
        for key in model.setup_proposals(state):
            sim.take(_find_message(sim, key[0], key[1], key[2]))
    return sim


def _find_message(sim: Simulator, dst, mtype, msg):
    best = None
    for e in sim.heap:
        if e[2] == DELIVER and e[3] == dst and type(e[4]).__name__ == mtype and e[4] == msg:
            if best is None or e[:2] < best[:2]:
                best = e
    if best is None:
        raise ReplayError(f"no {mtype} {msg} pending for {dst}")
    return best


def _find_timer(sim: Simulator, pid, tag):
    epoch = sim.epoch.get(node_of(pid))
    best = None
    for e in sim.heap:
        if e[2] == TIMER and e[3] == pid and e[4] == tag and e[5] == epoch:
            if best is None or e[:2] < best[:2]:
                best = e
    if best is None:
        raise ReplayError(f"no timer {tag!r} pending at {pid}")
    return best


def state_of(sim: Simulator, model: PaxosModel, used=(0, 0, 0, 0), watches=None) -> MState:
    """The simulator's state in the model's form (see the model's
    docstring): live processes encoded, messages in flight to live or
    crashed processes (not to exited children or clients), armed timers if
    the model has them, and the invariant checker's ghost variables.
    ``watches`` are the acceptors' (ballot, accepted) when they crashed."""
    watches = watches or {}
    procs = sorted((encode_process(p) for pid, p in sim.procs.items()
                    if node_of(pid) in model.kind_of), key=lambda e: e[0])
    alive = {e[0] for e in procs}
    down = sorted(pid for pid in sim.down if pid in model.kind_of)
    counts: Counter = Counter()
    timers = set()
    for e in sim.heap:
        if e[2] == DELIVER:
            if e[3] in alive or e[3] in down:
                counts[(e[3], type(e[4]).__name__, e[4])] += 1
        elif e[2] == TIMER and model.timers_on and e[3] in alive \
                and e[5] == sim.epoch.get(node_of(e[3])):
            timers.add((e[3], e[4]))
    checker = sim.checker
    return MState(
        tuple(procs), frozenset(counts), frozenset((k, n - 1) for k, n in counts.items() if n > 1),
        frozenset(timers),
        tuple((pid, sim.durable.get(pid), watches.get(pid)) for pid in down),
        tuple(sorted(sim.children.items())),
        frozenset(checker.decided.items()), frozenset(checker.chosen.items()),
        frozenset(checker.commanders.items()), tuple(used), ())


def _diff(a: MState, b: MState) -> str | None:
    for name in _FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if x != y:
            if isinstance(x, frozenset) and isinstance(y, frozenset):
                return (f"{name}: only in the model {sorted(map(str, x - y))}, only in the "
                        f"simulator {sorted(map(str, y - x))}")
            if name == "procs":
                xm, ym = {e[0]: e for e in x}, {e[0]: e for e in y}
                for pid in sorted(set(xm) | set(ym)):
                    if xm.get(pid) != ym.get(pid):
                        return (f"procs: {pid} differs: model {xm.get(pid)}, "
                                f"simulator {ym.get(pid)}")
            return f"{name}: model {x}, simulator {y}"
    return None


def replay(steps, config: ModelConfig | None = None, roles: dict | None = None, *,
           model: PaxosModel | None = None, compare: bool = True,
           trace: bool = True) -> ReplayResult:
    """Perform ``steps`` (Steps, or their JSON dicts) in a simulator set up as
    the model of ``config`` with ``roles``; see the module docstring."""
    if model is None:
        model = PaxosModel(config, roles)
    elif model.reduce:
        # A reduced path is a path of the unreduced model, one delivery per
        # step; the lockstep comparison takes that model's states.
        model = PaxosModel(model.config, model.roles)
    steps = [s if isinstance(s, Step) else Step.from_json(s) for s in steps]
    sim = simulator_for(model, trace=trace)
    used = [0, 0, 0, 0]
    watches: dict = {}
    state = model.initial_state() if compare else None
    mismatch = None
    if compare:
        mismatch = _diff(state, state_of(sim, model))
        if mismatch is not None:
            mismatch = "initial state: " + mismatch
    names_seen: list[str] = [v.invariant for v in sim.violations]
    first = None if not names_seen else -1
    for i, step in enumerate(steps):
        n = len(sim.violations)
        _perform(sim, model, step, used, watches)
        if len(sim.violations) > n and first is None:
            first = i
        if compare:
            nxt = next((s for lab, s in model.successors(state) if lab == step), None)
            if nxt is None:
                raise ReplayError(f"step {i} ({step}) is not a step of the model here")
            state = nxt
            if mismatch is None:
                d = _diff(state, state_of(sim, model, used, watches))
                if d is not None:
                    mismatch = f"after step {i} ({step}): {d}"
    final = state_of(sim, model, used, watches)
    model_bad = [v.invariant for v in _model_checks(model, final, state)]
    return ReplayResult(sim, steps, None if not compare else mismatch is None, mismatch,
                        [v.invariant for v in sim.violations], model_bad, first)


def _model_checks(model: PaxosModel, final: MState, state: MState | None) -> list[Violation]:
    """The model's checks on the state read from the simulator; the step
    violations (``bad``) are the lockstep model's, since they belong to the
    step and not to the state."""
    bad = list(state.bad) if state is not None else []
    return bad + model.check(final)


def _perform(sim: Simulator, model: PaxosModel, step: Step, used: list, watches: dict) -> None:
    kind = step.kind
    if kind == "deliver":
        sim.take(_find_message(sim, step.process, step.mtype, step.msg))
    elif kind == "drop":
        e = _find_message(sim, step.process, step.mtype, step.msg)
        sim.heap.remove(e)
        heapq.heapify(sim.heap)
        if sim.trace is not None:
            sim.trace.append((sim.now, "drop", e[5], e[3], e[4], "model"))
        used[1] += 1
    elif kind == "dup":
        e = _find_message(sim, step.process, step.mtype, step.msg)
        sim.seq += 1
        heapq.heappush(sim.heap, (e[0], sim.seq) + tuple(e[2:]))
        if sim.trace is not None:
            sim.trace.append((sim.now, "dup", e[5], e[3], e[4], e[0]))
        used[2] += 1
    elif kind == "timer":
        sim.take(_find_timer(sim, step.process, step.msg))
        used[3] += 1
    elif kind == "crash":
        proc = sim.procs.get(step.process)
        if proc is None:
            raise ReplayError(f"cannot crash {step.process}: it is not up")
        if model.kind_of.get(step.process) == "acceptor":
            watches[step.process] = (proc.ballot_num, frozenset(proc.accepted))
        sim.crash(step.process)
        used[0] += 1
    elif kind == "recover":
        sim.recover(step.process)
        watches.pop(step.process, None)
    else:
        raise ConfigError("step", f"unknown step kind {kind!r}")
