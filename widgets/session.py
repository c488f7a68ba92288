"""The dashboard's model: a simulator driven by clicks, every click recorded.

A ``Session`` owns one ``Simulator`` and everything a person can do to it:
crash and recover processes, cut and heal links, change the network, run
it, step back, fork.  It has no widgets, so the same logic is tested in
pytest and driven by the dashboard.

Exact replay is the point.  Every fault a click asks for becomes a
fault-plan ``Action`` (``paxos_lit.sim.faults``) and is applied through the
very path a plan's actions take (``Simulator.process`` of a fault event,
which calls the simulator's ``_apply``), at a virtual time chosen so that a
plan replays it at the same place in the event sequence:

* events still pending at the current instant are processed first, so the
  action never has to squeeze between two events of one instant;
* the action's time ``at`` is then a short decimal strictly between the
  current time and the next pending event (at 0 before anything ran).

In a replay, ``Simulator(config, seed, plan)`` holds the action in its queue
from the start; nothing else is scheduled at ``at``, so it is processed
right after the same events as here.  Hence, for the recorded ``plan``::

    Simulator(config, seed, plan).run(max_events=session.events,
                                      stop_when_finished=False)

reproduces this session's trace, hash for hash (tests/test_dashboard.py).

Going back (``go_to``/``step_back``) replays from the start to the wanted
event; later recorded actions stay scheduled, so stepping forward again
meets them.  ``fork`` (or any new fault while such later actions exist)
drops them, to continue with new faults from there.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from paxos_lit.errors import ConfigError
from paxos_lit.sim import FaultPlan, NetParams, SimConfig, Simulator
from paxos_lit.sim.faults import Action, parse_action
from paxos_lit.sim.simulator import CRASHABLE, FAULT

from .tracemodel import lane_key

__all__ = ["Session", "Recorded", "time_between"]


@dataclass(frozen=True)
class Recorded:
    """A fault the session applied: the plan action, and how many events
    the simulator had processed once it was applied (the action included)."""

    action: Action
    event: int


def time_between(lo: float, hi: float) -> float:
    """A short decimal strictly between ``lo`` and ``hi`` (``hi`` may be
    inf): what a person would write in a fault plan, and exact in JSON."""
    if math.isinf(hi):
        return float(math.floor(lo) + 1)
    for digits in range(0, 17):
        scale = 10 ** digits
        candidate = (math.floor(lo * scale) + 1) / scale
        candidate = round(candidate, digits)
        if lo < candidate < hi:
            return candidate
    mid = lo + (hi - lo) / 2
    if lo < mid < hi:
        return mid
    raise ValueError(f"no float strictly between {lo!r} and {hi!r}")


class Session:
    """A simulator under interactive control, with its recorded fault plan.

    ``config``, ``seed``, ``plan`` (a fault plan to start from, kept as
    is), ``roles`` and ``check`` are passed to ``Simulator``.  Every method
    that asks the impossible raises ``ConfigError(field, problem)`` before
    changing anything.  ``listeners`` are called as ``f(session, what)``
    after every change.
    """

    def __init__(self, config: SimConfig | None = None, seed: int = 0,
                 plan: FaultPlan | None = None, *, roles: dict | None = None,
                 check: bool = True):
        self.listeners: list = []
        self.roles = roles
        self.check = check
        self.base_plan = plan if plan is not None else FaultPlan()
        self._new(config if config is not None else SimConfig(), seed)

    def _new(self, config, seed):
        sim = Simulator(config, seed, self.base_plan, check=self.check, trace=True,
                        roles=self.roles)
        self.config = config
        self.seed = seed
        self.sim = sim
        self.recorded: list[Recorded] = []

    # -- what is ----------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.sim.now

    @property
    def events(self) -> int:
        return self.sim.events

    @property
    def trace(self):
        return self.sim.trace

    @property
    def finished(self) -> bool:
        """Every client has all its commands answered."""
        return self.sim.finished

    @property
    def violations(self) -> list:
        return self.sim.violations

    def trace_sha256(self) -> str:
        return self.sim.trace.sha256()

    def history(self) -> dict:
        return self.sim.history()

    @property
    def crashable(self) -> list[str]:
        """Processes a click may crash: leaders, acceptors, replicas (in
        that order, numbered in numeric order)."""
        order = {"leader": 0, "acceptor": 1, "replica": 2}
        procs = [(order[k], lane_key(p), p) for p, k in self.sim.kind_of.items()
                 if k in CRASHABLE]
        return [p for _, _, p in sorted(procs)]

    @property
    def known(self) -> list[str]:
        """Every top-level process, clients included."""
        return list(self.sim.kind_of)

    def is_down(self, pid: str) -> bool:
        return pid in self.sim.down

    def leader_state(self, pid: str):
        """``(ballot, active)`` of a live leader, None if down."""
        return self.sim.observed.get(pid)

    def active_leaders(self) -> list[str]:
        return [p for p, st in self.sim.observed.items() if st is not None and st[1]]

    @property
    def net(self) -> NetParams:
        """The network parameters in force now."""
        return self.sim.net

    @property
    def plan(self) -> FaultPlan:
        """The plan that replays this session: the starting plan, then every
        recorded action in the order it was applied."""
        return FaultPlan(tuple(self.base_plan) + tuple(r.action for r in self.recorded))

    @property
    def future(self) -> list[Recorded]:
        """Recorded actions not yet applied (after stepping back)."""
        return [r for r in self.recorded if r.event > self.sim.events]

    def plan_json(self) -> str:
        """The plan as JSON, one action per line."""
        actions = self.plan.to_json()
        if not actions:
            return "[]"
        return "[\n " + ",\n ".join(json.dumps(a) for a in actions) + "\n]"

    # -- faults ----------------------------------------------------------------
    def crash(self, pid: str) -> Action:
        """Crash ``pid`` (a replica, leader or acceptor) now."""
        return self._inject({"action": "crash", "process": pid})

    def recover(self, pid: str) -> Action:
        """Recover ``pid`` now, from its durable state."""
        return self._inject({"action": "recover", "process": pid})

    def partition(self, groups) -> Action:
        """Cut every link between two different groups, both ways."""
        return self._inject({"action": "partition", "groups": [list(g) for g in groups]})

    def block(self, src, dst) -> Action:
        """Cut the links from every process in ``src`` to every one in
        ``dst``, one way only."""
        return self._inject({"action": "block", "src": list(src), "dst": list(dst)})

    def heal(self) -> Action:
        """Restore every cut link."""
        return self._inject({"action": "heal"})

    def set_network(self, *, loss=None, dup=None, delay_min=None, delay_max=None) -> Action:
        """Change the whole network's loss, duplication or delay range."""
        fields = {k: v for k, v in (("loss", loss), ("dup", dup), ("delay_min", delay_min),
                                    ("delay_max", delay_max)) if v is not None}
        return self._inject({"action": "set", **fields})

    def _validate(self, a: Action) -> None:
        """The checks of ``Simulator._validate_plan``, against the state now,
        with messages for a person who clicked."""
        sim = self.sim
        known = set(sim.kind_of)
        names = []
        if a.process is not None:
            names.append(("process", a.process))
        for fname in ("src", "dst"):
            names += [(fname, p) for p in (getattr(a, fname) or ())]
        for gi, g in enumerate(a.groups or ()):
            names += [(f"groups[{gi}]", p) for p in g]
        for fname, pid in names:
            if pid not in known:
                raise ConfigError(fname, f"unknown process {pid!r}")
        if a.action == "crash":
            if sim.kind_of[a.process] not in CRASHABLE:
                raise ConfigError("process", f"{a.process} cannot crash (only replicas, "
                                             "leaders and acceptors do)")
            if a.process in sim.down:
                raise ConfigError("process", f"{a.process} is already down")
        elif a.action == "recover":
            if a.process not in sim.down:
                raise ConfigError("process", f"{a.process} is not down")
        elif a.action == "set":
            lo = a.delay_min if a.delay_min is not None else sim.net.delay_min
            hi = a.delay_max if a.delay_max is not None else sim.net.delay_max
            if hi < lo:
                raise ConfigError("delay_max", f"must be >= delay_min ({lo:g}), got {hi:g}")
            # Simulator._validate_plan checks a replayed plan against the
            # configuration's delays: keep what it sees consistent too.
            c = self.config.net
            lo2 = a.delay_min if a.delay_min is not None else c.delay_min
            hi2 = a.delay_max if a.delay_max is not None else c.delay_max
            if hi2 < lo2:
                raise ConfigError("delay_max", "set delay_min and delay_max together "
                                               f"(delay_max {hi2:g} < delay_min {lo2:g})")

    def _check_plan(self, action: Action) -> None:
        """The whole plan with ``action`` must pass the simulator's own plan
        check: a click may not clash with a later action of the starting
        plan (say, crash a1 now when the plan crashes it at t=15)."""
        if not any(a.at >= action.at for a in self.base_plan):
            return  # nothing later in the plan to clash with: the state checks suffice
        plan = self.plan.plus(action)
        try:
            Simulator(self.config, self.seed, plan, check=False, trace=False, roles=self.roles)
        except ConfigError as e:
            field = e.field
            if field.startswith("faults["):
                i = int(field[7:field.index("]")])
                if i < len(self.base_plan):
                    raise ConfigError(action.action, "clashes with the starting plan's "
                                      f"action {plan.actions[i].describe()!r}: {e.problem}"
                                      ) from None
                field = action.action
            raise ConfigError(field, e.problem) from None

    def _inject(self, obj: dict) -> Action:
        probe = parse_action({**obj, "at": 0.0}, "action")   # field errors, named
        self._validate(probe)
        if self.future:
            self.fork()
        sim = self.sim
        before = sim.events
        # Finish the current instant first (see the module docstring).
        while sim.heap and sim.heap[0][0] <= sim.now:
            sim.run(max_events=sim.events + 1, stop_when_finished=False,
                    until=math.inf)
        try:
            self._validate(probe)
            if sim.events == 0:
                at = 0.0
            else:
                at = time_between(sim.now, sim.heap[0][0] if sim.heap else math.inf)
            if at > self.config.until:
                raise ConfigError("until", f"the run has reached its time limit "
                                           f"(until={self.config.until:g})")
            action = parse_action({**obj, "at": at}, "action")
            self._check_plan(action)
        except ConfigError:
            if sim.events != before:
                self.go_to(before)
            raise
        sim.process((at, 0, FAULT, action, None, None))
        self.recorded.append(Recorded(action, sim.events))
        self._changed("fault")
        return action

    # -- running ------------------------------------------------------------------
    def step(self) -> int:
        """Process one event; returns how many were processed (0 or 1)."""
        return self.run(1)

    def run(self, n: int) -> int:
        """Process up to ``n`` more events (however the clients are doing).
        Returns how many were processed."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigError("n", f"must be a non-negative integer, got {n!r}")
        before = self.sim.events
        self.sim.run(max_events=before + n, stop_when_finished=False)
        self._changed("run")
        return self.sim.events - before

    def run_until_decided(self, max_events: int = 200_000, chunk: int | None = None):
        """Run until every client is answered (or ``max_events`` more events,
        or the configuration's time limit).  Returns how many events were
        processed.  With ``chunk``, returns a generator that runs ``chunk``
        events per ``next()`` (so a driver can pause between chunks)."""
        if chunk is not None:
            return self._chunks(max_events, chunk)
        before = self.sim.events
        self.sim.run(max_events=before + max_events, stop_when_finished=True)
        self._changed("run")
        return self.sim.events - before

    def _chunks(self, max_events: int, chunk: int):
        limit = self.sim.events + max_events
        while not self.sim.finished and self.sim.events < limit:
            before = self.sim.events
            self.sim.run(max_events=min(limit, before + chunk), stop_when_finished=True)
            self._changed("run")
            if self.sim.events == before:
                return
            yield self.sim.events

    def _replay_to(self, n: int, plan: FaultPlan) -> Simulator:
        sim = Simulator(self.config, self.seed, plan, check=self.check, trace=True,
                        roles=self.roles)
        sim.run(max_events=n, stop_when_finished=False)
        return sim

    def go_to(self, n: int) -> None:
        """Be at event ``n``: replay from the start (going back) or run on.
        Recorded actions after ``n`` stay scheduled."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigError("step", f"must be a non-negative integer, got {n!r}")
        if n >= self.sim.events:
            self.run(n - self.sim.events)
            return
        self.sim = self._replay_to(n, self.plan)
        self._changed("rewind")

    def step_back(self) -> None:
        """Undo the last event (by replaying all but it)."""
        if self.sim.events == 0:
            raise ConfigError("step", "already at the start (event 0)")
        self.go_to(self.sim.events - 1)

    def fork(self) -> int:
        """Drop the recorded actions that have not happened yet, so the run
        continues from here with new faults.  Returns how many were dropped."""
        future = self.future
        if not future:
            return 0
        self.recorded = [r for r in self.recorded if r.event <= self.sim.events]
        self.sim = self._replay_to(self.sim.events, self.plan)
        self._changed("fork")
        return len(future)

    def reset(self, config: SimConfig | None = None, seed: int | None = None) -> None:
        """Start again (optionally with another configuration or seed),
        forgetting every recorded action."""
        self._new(config if config is not None else self.config,
                  self.seed if seed is None else seed)
        self._changed("reset")

    # -- replay ---------------------------------------------------------------------
    def replay(self) -> Simulator:
        """A fresh simulator that replays this session from its plan."""
        return self._replay_to(self.sim.events, self.plan)

    def replay_code(self) -> str:
        """Python code that replays this session and checks its trace hash."""
        config = json.dumps(self.config.to_json())
        plan = self.plan_json()
        lines = [
            "# Replay of a dashboard session: (config, seed, fault plan) -> the same trace.",
            "import paxos_lit as px",
            f"config = px.SimConfig.from_json({config})",
            f"plan = px.FaultPlan.loads('''{plan}''')",
        ]
        if self.roles:
            lines.append("# NOTE: this session replaced roles "
                         f"({', '.join(sorted(self.roles))}); pass the same roles= below.")
        lines += [
            f"sim = px.Simulator(config, seed={self.seed}, plan=plan"
            f"{'' if self.check else ', check=False'})",
            f"sim.run(max_events={self.sim.events}, stop_when_finished=False)",
            f"assert sim.trace.sha256() == {self.trace_sha256()!r}",
            "sim.result().to_json()",
        ]
        return "\n".join(lines)

    # -- listeners ---------------------------------------------------------------------
    def _changed(self, what: str) -> None:
        for f in list(self.listeners):
            f(self, what)
