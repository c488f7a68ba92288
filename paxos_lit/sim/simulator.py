"""The deterministic discrete-event simulator (DESIGN section 5).

One priority queue holds every pending delivery, timer and fault, ordered by
virtual time and then by a sequence number (never by object identity).  One
``random.Random(seed)`` decides every delay, loss, duplication and jitter.
So a run is a pure function of ``(config, seed, plan)``, and its trace hash
proves it.

The simulator plays the network and the operating system for the sans-I/O
roles: each process gets an ``_Env`` whose ``send`` samples the link's fate
and schedules a delivery, whose ``spawn`` starts a child (named
``parent.s3``, living and dying with its parent), whose ``set_timer``
schedules a wake-up.
"""

from __future__ import annotations

import gc
import heapq
import random
import time
from dataclasses import dataclass, field
from heapq import heappop, heappush

from ..acceptor import Acceptor
from ..client import Client
from ..errors import ConfigError
from ..invariants import InvariantChecker, Violation
from ..leader import Leader
from ..messages import Decision
from ..replica import Replica
from ..types import Config
from .config import NetParams, SimConfig
from .faults import Action, FaultPlan
from .trace import Trace

DELIVER, TIMER, FAULT = 0, 1, 2
INF = float("inf")
ROLE_NAMES = ("acceptor", "leader", "replica", "client")
DEFAULT_ROLES = {"acceptor": Acceptor, "leader": Leader, "replica": Replica, "client": Client}
#: Processes that may crash and recover (clients are the outside world).
CRASHABLE = ("acceptor", "leader", "replica")


class _Env:
    """What one process may do (see ``paxos_lit.process.Env``)."""

    __slots__ = ("sim", "pid", "node", "local")

    def __init__(self, sim, pid, node):
        self.sim = sim
        self.pid = pid     # the process this env belongs to
        self.node = node   # the top-level process it lives in (itself, or its leader)
        # Every id that lives (or lived) in the same top-level process: the
        # node and its children, so the set ``sim.node_of`` maps to ``node``.
        self.local = sim.co_located.setdefault(node, {node})

    @property
    def now(self) -> float:
        return self.sim.now

    def send(self, dst, msg) -> None:
        # The hottest function of a run: every message passes here once, so
        # it is written for speed: each attribute read once, the rare cases
        # (same process, partitions, per-link settings) out of the main line.
        sim = self.sim
        if dst in self.local:
            sim._send_local(self.pid, dst, msg)
            return
        net = sim.net
        if sim.special_links:
            dnode = sim.node_of.get(dst, dst)
            if (self.node, dnode) in sim.blocked:
                if sim.trace is not None:
                    sim.trace.append((sim.now, "drop", self.pid, dst, msg, "partition"))
                return
            net = sim.links.get((self.node, dnode), net)
        # The draws decide the message's fate, in this order: lost?, its
        # delay, duplicated?, the copy's delay.  A draw is skipped when its
        # probability is 0, so a lossless run draws no loss numbers.
        rng = sim.rng
        now = sim.now
        trace = sim.trace
        if net.loss and rng.random() < net.loss:
            if trace is not None:
                trace.append((now, "drop", self.pid, dst, msg, "loss"))
            return
        lo = net.delay_min
        at = now + lo + (net.delay_max - lo) * rng.random()
        sim.seq = seq = sim.seq + 1
        heappush(sim.heap, (at, seq, DELIVER, dst, msg, self.pid))
        if trace is not None:
            trace.append((now, "send", self.pid, dst, msg, at))
        if net.dup and rng.random() < net.dup:
            at = now + lo + (net.delay_max - lo) * rng.random()
            sim.seq = seq = seq + 1
            heappush(sim.heap, (at, seq, DELIVER, dst, msg, self.pid))
            if trace is not None:
                trace.append((now, "dup", self.pid, dst, msg, at))

    def spawn(self, cls, *args):
        return self.sim._spawn(self.pid, self.node, cls, args)

    def set_timer(self, delay, tag) -> None:
        sim = self.sim
        sim.seq += 1
        heapq.heappush(sim.heap, (sim.now + delay, sim.seq, TIMER, self.pid, tag,
                                  sim.epoch[self.node]))

    def rand(self) -> float:
        return self.sim.rng.random()

    def exit(self) -> None:
        sim = self.sim
        if sim.procs.pop(self.pid, None) is not None:
            sim.members[self.node].discard(self.pid)
            if sim.trace is not None:
                sim.trace.append((sim.now, "exit", self.pid, None, None, None))


@dataclass
class RunResult:
    """What a run produced; ``to_json`` gives the CLI's keys (DESIGN 6)."""

    seed: int
    requested: int
    completed: int
    decided_slots: int
    messages_delivered: int
    events: int
    virtual_time: float
    wall_s: float
    trace_sha256: str | None
    violations: list = field(default_factory=list)
    linearizable: bool | None = None
    history: dict | None = None

    def to_json(self) -> dict:
        return {"seed": self.seed, "requested": self.requested, "completed": self.completed,
                "decided_slots": self.decided_slots,
                "messages_delivered": self.messages_delivered, "events": self.events,
                "virtual_time": round(self.virtual_time, 6), "wall_s": round(self.wall_s, 6),
                "trace_sha256": self.trace_sha256,
                "violations": [v.to_json() for v in self.violations],
                "linearizable": self.linearizable}


class Simulator:
    """A seeded simulation of one PMMC deployment.

    ``roles`` replaces role classes (``{"acceptor": MyAcceptor}``): that is
    how a student's implementation or a mutant is put under test."""

    def __init__(self, config: SimConfig | None = None, seed: int = 0,
                 plan: FaultPlan | None = None, *, check: bool = True,
                 trace: bool = True, roles: dict | None = None):
        self.config = config = config if config is not None else SimConfig()
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError("seed", f"must be an integer, got {seed!r}")
        self.seed = seed
        self.plan = plan if plan is not None else FaultPlan()
        self.roles = dict(DEFAULT_ROLES)
        for name, cls in (roles or {}).items():
            if name not in DEFAULT_ROLES:
                raise ConfigError("roles", f"unknown role {name!r} "
                                           f"(roles: {', '.join(ROLE_NAMES)})")
            self.roles[name] = cls
        self.rng = random.Random(seed)
        self.now = 0.0
        self.heap: list = []
        self.seq = 0
        self.events = 0                 # events processed so far (violations cite it)
        self.delivered = 0              # messages handed to a live process
        self.procs: dict = {}           # pid -> live process
        self.node_of: dict = {}         # pid -> top-level process it lives in
        self.co_located: dict = {}      # top-level pid -> every pid that lives or lived in it
        self.members: dict = {}         # top-level pid -> pids living in it
        self.kind_of: dict = {}         # top-level pid -> role name
        self.specs: dict = {}           # top-level pid -> (cls, args), to rebuild on recovery
        self.down: set = set()          # crashed top-level pids
        self.durable: dict = {}         # top-level pid -> durable state saved at crash
        self.epoch: dict = {}           # top-level pid -> incarnation (stale timers die)
        self.children: dict = {}        # parent pid -> children spawned so far (for ids)
        self.net: NetParams = config.net
        self.links: dict = {}           # (src, dst) -> NetParams for that directed link
        self.blocked: set = set()       # (src, dst) directed links blocked by partitions
        self.special_links = False      # any links or blocks at all (fast path when not)
        self.trace = Trace() if trace else None
        self.checker = InvariantChecker(config.window) if check else None
        self.decided: set = set()       # slots decided at some replica
        self.observed: dict = {}        # leader pid -> last observed (ballot, active)
        self.clients: list = []
        self.admin = None               # the client that submits reconfigurations
        self._unfinished = 0
        self._validate_plan()
        self._build()

    # -- setup ---------------------------------------------------------------
    def _build(self):
        c = self.config
        self.configuration = Config(c.replica_ids, c.acceptor_ids, c.leader_ids)
        for pid in c.acceptor_ids:
            self._add(pid, "acceptor", ())
        for pid in c.replica_ids:
            self._add(pid, "replica", (c.leader_ids, c.window))
        for pid in c.leader_ids:
            self._add(pid, "leader", (c.acceptor_ids, c.replica_ids, c.leader_policy))
        workload = self._workload()
        for i, pid in enumerate(c.client_ids):
            self._add(pid, "client", (c.replica_ids, workload[pid], i))
        self.clients = [self.procs[pid] for pid in c.client_ids]
        self._waiting = {cl.id for cl in self.clients if not cl.done}
        self._unfinished = len(self._waiting)
        for action in self.plan:
            self.seq += 1
            heapq.heappush(self.heap, (action.at, self.seq, FAULT, action, None, None))

    def _workload(self) -> dict:
        """Random operations per client, drawn from the seeded generator.
        Values name their writer (``c2.5``) so histories are easy to read."""
        c = self.config
        keys = c.key_names
        out = {}
        for pid in c.client_ids:
            ops = []
            for n in range(1, c.commands + 1):
                key = keys[self.rng.randrange(len(keys))]
                roll = self.rng.random()
                value = f"{pid}.{n}"
                if roll < 0.3:
                    ops.append(("get", key))
                elif roll < 0.6:
                    ops.append(("put", key, value))
                elif roll < 0.85:
                    ops.append(("append", key, value))
                else:
                    # The expected value: none, or some client's n-th value
                    # (drawn in this order: the roll, the client, the n).
                    if self.rng.random() < 0.3:
                        expect = None
                    else:
                        writer = self.rng.randrange(1, c.clients + 1)
                        expect = f"c{writer}.{self.rng.randrange(1, n + 1)}"
                    ops.append(("cas", key, expect, value))
            out[pid] = ops
        return out

    def _add(self, pid, kind, args):
        cls = self.roles[kind]
        self.kind_of[pid] = kind
        self.specs[pid] = (cls, args)
        self.epoch[pid] = 0
        self._instantiate(pid)

    def _instantiate(self, pid):
        cls, args = self.specs[pid]
        proc = cls(pid, _Env(self, pid, pid), *args)
        if pid in self.durable:
            proc.restore(self.durable.pop(pid))
        self.procs[pid] = proc
        self.node_of[pid] = pid
        self.members[pid] = {pid}
        if hasattr(proc, "observe"):
            self.observed[pid] = None
        if self.checker is not None:
            self.checker.register(pid, proc)
        proc.start()
        self._observe(pid, proc)
        return proc

    def _spawn(self, parent, node, cls, args):
        n = self.children.get(parent, 0) + 1
        self.children[parent] = n
        pid = f"{parent}.{cls.id_prefix}{n}"
        proc = cls(pid, _Env(self, pid, node), *args)
        self.procs[pid] = proc
        self.node_of[pid] = node
        self.co_located[node].add(pid)
        self.members[node].add(pid)
        if self.trace is not None:
            self.trace.append((self.now, "spawn", parent, pid, cls.__name__, None))
        if self.checker is not None:
            self.checker.after_spawn(pid, proc)
        proc.start()
        return pid

    def _validate_plan(self):
        """Reject a plan that names unknown processes or asks the impossible
        (crash a process that is down, recover one that is up)."""
        c = self.config
        known = set(c.replica_ids) | set(c.leader_ids) | set(c.acceptor_ids) | set(c.client_ids)
        crashable = set(c.replica_ids) | set(c.leader_ids) | set(c.acceptor_ids)
        down = set()
        order = sorted(enumerate(self.plan.actions), key=lambda ia: (ia[1].at, ia[0]))
        for i, a in order:
            where = f"faults[{i}]"
            if a.action == "reconfigure":
                for name in ("leaders", "acceptors"):
                    for pid in getattr(a, name):
                        if pid in known:
                            raise ConfigError(f"{where}.{name}", f"{pid} already exists; a "
                                              "new configuration's processes are new "
                                              "(PMMC section 3.4)")
                new = set(a.leaders) | set(a.acceptors)
                known |= new
                crashable |= new
                continue
            names = []
            if a.process is not None:
                names.append(("process", a.process))
            for fname in ("src", "dst", "link"):
                names += [(fname, p) for p in (getattr(a, fname) or ())]
            for gi, g in enumerate(a.groups or ()):
                names += [(f"groups[{gi}]", p) for p in g]
            for fname, pid in names:
                if pid not in known:
                    raise ConfigError(f"{where}.{fname}", f"unknown process {pid!r}")
            if a.action == "crash":
                if a.process not in crashable:
                    raise ConfigError(f"{where}.process", f"{a.process} cannot crash (only "
                                      "replicas, leaders and acceptors do)")
                if a.process in down:
                    raise ConfigError(f"{where}.process",
                                      f"{a.process} is already down at t={a.at:g}")
                down.add(a.process)
            elif a.action == "recover":
                if a.process not in down:
                    raise ConfigError(f"{where}.process", f"{a.process} is not down at t={a.at:g}")
                down.discard(a.process)
            elif a.action == "set":
                lo = a.delay_min if a.delay_min is not None else c.net.delay_min
                hi = a.delay_max if a.delay_max is not None else c.net.delay_max
                if hi < lo:
                    raise ConfigError(f"{where}.delay_max", f"must be >= delay_min ({lo:g})")

    def _send_local(self, src, dst, msg) -> None:
        """A message between a leader and its own scouts and commanders: one
        process, so no network: nothing lost or duplicated, no delay."""
        self.seq += 1
        heappush(self.heap, (self.now, self.seq, DELIVER, dst, msg, src))
        if self.trace is not None:
            self.trace.append((self.now, "send", src, dst, msg, self.now))

    # -- faults --------------------------------------------------------------
    def _apply(self, a: Action):
        if self.trace is not None:
            self.trace.append((self.now, "fault", None, None, a.to_json(), None))
        kind = a.action
        if kind == "crash":
            self.crash(a.process)
        elif kind == "recover":
            self.recover(a.process)
        elif kind == "partition":
            for gi, g in enumerate(a.groups):
                for h in a.groups[gi + 1:]:
                    for p in g:
                        for q in h:
                            self.blocked.add((p, q))
                            self.blocked.add((q, p))
        elif kind == "block":
            for p in a.src:
                for q in a.dst:
                    self.blocked.add((p, q))
        elif kind == "heal":
            self.blocked.clear()
        elif kind == "set":
            changes = {k: getattr(a, k) for k in ("loss", "dup", "delay_min", "delay_max")
                       if getattr(a, k) is not None}
            if a.link is not None:
                base = self.links.get(tuple(a.link), self.net)
                self.links[tuple(a.link)] = NetParams(**{**base.__dict__, **changes})
            else:
                self.net = NetParams(**{**self.net.__dict__, **changes})
        elif kind == "reconfigure":
            self._reconfigure(a)
        self.special_links = bool(self.blocked or self.links)

    def crash(self, pid):
        """Stop a process and its children; keep its durable state."""
        if pid not in self.kind_of or self.kind_of[pid] not in CRASHABLE:
            raise ConfigError("process", f"{pid!r} is not a replica, leader or acceptor")
        if pid in self.down:
            raise ConfigError("process", f"{pid} is already down")
        proc = self.procs[pid]
        state = proc.durable_state()
        if state is not None:
            self.durable[pid] = state
        for member in self.members.pop(pid, ()):
            self.procs.pop(member, None)
        self.down.add(pid)
        self.epoch[pid] += 1
        if pid in self.observed:
            self.observed[pid] = None
        if self.trace is not None:
            self.trace.append((self.now, "crash", pid, None, None, None))

    def recover(self, pid):
        """Restart a crashed process from its durable state."""
        if pid not in self.down:
            raise ConfigError("process", f"{pid!r} is not down")
        self.down.discard(pid)
        if self.trace is not None:
            self.trace.append((self.now, "recover", pid, None, None, None))
        self._instantiate(pid)

    def _reconfigure(self, a: Action):
        old = self.configuration
        new = Config(old.replicas, tuple(a.acceptors), tuple(a.leaders))
        for pid in new.acceptors:
            self._add(pid, "acceptor", ())
        for pid in new.leaders:
            self._add(pid, "leader", (new.acceptors, new.replicas, self.config.leader_policy))
        self.configuration = new
        if self.admin is None:
            self.admin = self.procs["admin"] = self.roles["client"](
                "admin", _Env(self, "admin", "admin"), old.replicas)
            self.node_of["admin"] = "admin"
            self.members["admin"] = {"admin"}
            self.epoch["admin"] = 0
        self.admin.submit(("reconfig", new))

    # -- running ---------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """Every client has all its commands answered."""
        return self._unfinished == 0

    def _observe(self, pid, proc):
        if pid in self.observed:
            now = proc.observe()
            if now != self.observed[pid]:
                self.observed[pid] = now
                if self.trace is not None:
                    self.trace.append((self.now, "state", pid, None, now, None))

    def run(self, until: float | None = None, max_events: int | None = None,
            stop_when_finished: bool = True) -> Simulator:
        """Process events in order until virtual time ``until`` (default: the
        config's), ``max_events`` events in total, or (by default) every
        client is answered."""
        until = self.config.until if until is None else until
        limit = INF if max_events is None else max_events
        # A speed trick, the one timeit uses too: pause Python's cyclic
        # garbage collector while the loop runs.  The simulator and the roles
        # make no reference cycles, so the collector would find nothing; but
        # with the trace on every event leaves a record behind, and the
        # collector would walk the whole growing trace again and again.
        # Memory is still freed at once by reference counting; the collector
        # resumes when the loop ends.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._process_queue(self.heap, until, limit, stop_when_finished)
        finally:
            if collecting:
                gc.enable()
        return self

    def pending(self) -> list:
        """The scheduled events, earliest first (a copy; for replay tools)."""
        return sorted(self.heap)

    def take(self, entry) -> None:
        """Remove one scheduled event, chosen by a replay tool, from the queue
        and process it now (virtual time does not go backwards)."""
        self.heap.remove(entry)
        heapq.heapify(self.heap)
        self.process((max(self.now, entry[0]),) + tuple(entry[1:]))

    def process(self, entry) -> None:
        """Process one event taken off the queue."""
        self._process_queue([entry], INF, INF, False)

    def _process_queue(self, queue, until, limit, stop_when_finished) -> None:
        """Take events off ``queue`` (a heap), earliest first, and process
        them, until it is empty, the next one is later than ``until``,
        ``limit`` events were processed in the whole run, or (if
        ``stop_when_finished``) every client is answered.

        ``run`` hands it the simulator's queue; ``process`` a queue holding
        just the one event to process.  (One loop with the delivery inline,
        instead of a call to a one-event function per event, because a
        Python call per event is a good part of the simulator's cost.)"""
        if stop_when_finished and self._unfinished == 0:
            return
        # ``while True`` and returns, not ``while <condition>``: CPython 3.11
        # specializes (speeds up) a running loop's code only when the loop
        # jumps back unconditionally.
        while True:
            if not queue or self.events >= limit or queue[0][0] > until:
                return
            entry = heappop(queue)
            # (For a timer or a fault the last three fields mean other things.)
            now, _, kind, dst, msg, src = entry
            self.now = now
            self.events += 1
            if kind != DELIVER:
                self._fire(entry)
                continue
            proc = self.procs.get(dst)
            if proc is None:
                if self.trace is not None:
                    self.trace.append((now, "lost", src, dst, msg, "down"))
                continue
            self.delivered += 1
            mtype = type(msg)
            handler = proc._handlers.get(mtype)
            if handler is not None:
                handler(proc, msg)
            if mtype is Decision:
                self.decided.add(msg.slot)
            checker = self.checker
            if checker is not None:
                checker.event = self.events
                checker.time = now
                found = len(checker.violations)
                checker.after_deliver(dst, proc, msg)
                if len(checker.violations) != found:
                    self._trace_violations(found)
            if dst in self.observed:
                self._observe(dst, proc)
            elif dst in self._waiting and proc.done:
                # Only a delivery to a client can answer its last command.
                self._waiting.discard(dst)
                self._unfinished -= 1
                if stop_when_finished and self._unfinished == 0:
                    return

    def _fire(self, entry) -> None:
        """A timer or a fault is due."""
        if entry[2] == TIMER:
            _, _, _, pid, tag, epoch = entry
            proc = self.procs.get(pid)
            if proc is not None and self.epoch[self.node_of[pid]] == epoch:
                proc.on_timer(tag)
                if pid in self.observed:
                    self._observe(pid, proc)
        else:
            self._apply(entry[3])

    def _trace_violations(self, start: int) -> None:
        """Record in the trace the violations the checker found from index
        ``start`` on."""
        if self.trace is not None:
            for v in self.checker.violations[start:]:
                self.trace.append((self.now, "violation", None, None, v.to_json(), self.events))

    # -- results ---------------------------------------------------------------
    def history(self) -> dict:
        """Every client's operations in the history format (DESIGN 6)."""
        ops = []
        for cl in self.clients:
            ops.extend(cl.history_ops())
        ops.sort(key=lambda op: (op["call"], op["client"]))
        for i, op in enumerate(ops):
            op["id"] = i
        return {"format": "paxos-lit-history/1", "model": "kv", "ops": ops}

    @property
    def violations(self) -> list[Violation]:
        return [] if self.checker is None else self.checker.violations

    def result(self, wall_s: float = 0.0, linearizable: bool | None = None) -> RunResult:
        history = self.history()
        requested = sum(len(cl.history) for cl in self.clients)
        completed = sum(1 for cl in self.clients for rec in cl.history
                        if rec["return"] is not None)
        return RunResult(seed=self.seed, requested=requested, completed=completed,
                         decided_slots=len(self.decided), messages_delivered=self.delivered,
                         events=self.events, virtual_time=self.now, wall_s=wall_s,
                         trace_sha256=None if self.trace is None else self.trace.sha256(),
                         violations=list(self.violations), linearizable=linearizable,
                         history=history)


def check_linearizable(history: dict, timeout_s: float = 60.0) -> bool | None:
    """The verdict of the linearizability checker on a run's history, or
    None when the search gave up after ``timeout_s`` seconds (unknown)."""
    from ..check.linearizability import check
    from ..history import parse_history

    result = check(parse_history(history), timeout_s=timeout_s)
    if result.timed_out and result.failing_key is None:
        return None
    return result.linearizable


def simulate(config: SimConfig | None = None, seed: int = 0, plan: FaultPlan | None = None,
             *, check: bool = True, trace: bool = True, linearizability: bool = True,
             roles: dict | None = None, until: float | None = None) -> RunResult:
    """Run one simulation to completion and summarise it."""
    t0 = time.perf_counter()
    sim = Simulator(config, seed, plan, check=check, trace=trace, roles=roles)
    sim.run(until=until)
    wall = time.perf_counter() - t0
    history = sim.history()
    lin = check_linearizable(history) if linearizability else None
    return sim.result(wall_s=wall, linearizable=lin)
