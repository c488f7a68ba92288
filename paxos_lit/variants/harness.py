"""Running the optimization variants: a checker, a simulator, and measurements.

The variants of this package change what the paper's acceptor remembers
(state reduction and garbage collection drop pvalues) and how reads are
served (read-only commands, leases).  To keep them honest they run in the
same seeded simulator as the paper's roles, with every invariant checked
after every event and every client history checked for linearizability.

- :class:`RelaxedChecker` is the paper's invariant checker with A3 ("an
  acceptor never removes a pvalue") relaxed exactly as PMMC section 4 allows,
  and no further: an acceptor may drop a pvalue ``(b, s, c)`` only if it now
  holds a pvalue for slot ``s`` with a higher ballot (state reduction), or if
  ``s`` is below its ``collected_below`` mark *and* every replica has
  performed slot ``s`` (garbage collection).  A1, A2, A4, A5, R1-R5 and
  C1-C2 are the base checker's, unchanged.
- :class:`VariantSimulator` is the :class:`~paxos_lit.sim.Simulator` with that
  checker, with replicas that ask for it given the initial acceptors, and
  with an optional read-heavy workload (``read_fraction``).
- :func:`run`, :func:`summary`, :func:`safety_sweep` run variants and count
  what went wrong; :func:`memory_run` and :func:`read_run` measure them.

Why a subclass and not an option of the Simulator: the core Simulator
builds its own ``InvariantChecker``, and ``simulate`` / ``sweep`` build the
core Simulator.  So the paper's roles pass through them unchanged, while the
variants run here: this module swaps the checker in before the processes
are built (``_build``), and adds the acceptors to a replica's arguments
(``_add``).  Run a variant through the core ``simulate`` and the paper's
checker reports every pvalue garbage collection drops as an A3 violation,
as it should: the paper's A3 forbids it.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter

from ..acceptor import Acceptor
from ..errors import ConfigError
from ..invariants import InvariantChecker
from ..messages import P1a, P2a
from ..replica import Replica
from ..sim.config import SimConfig
from ..sim.faults import Action, FaultPlan
from ..sim.simulator import Simulator, check_linearizable
from ..sim.sweep import random_config, random_fault_plan, summarize


# -- decoders for the variants' new message fields (see messages.register) -------
def decode_slot(v) -> int:
    """A slot number (or a count of slots) in JSON: a non-negative integer."""
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"bad slot {v!r}")
    return v


def decode_seq(v) -> int:
    """A sequence number in JSON: a non-negative integer."""
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"bad sequence number {v!r}")
    return v


def decode_duration(v) -> float:
    """A duration in JSON: a non-negative number."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < float("inf"):
        raise ValueError(f"bad duration {v!r}")
    return float(v)


# -- the checker -------------------------------------------------------------------
class RelaxedChecker(InvariantChecker):
    """The paper's invariants with A3 relaxed as PMMC section 4 allows.

    It follows each acceptor's ``accepted`` set (which the variants keep a
    set of pvalues, as in the paper) and, when a pvalue disappears, asks
    whether the paper allows it:

    - state reduction ("State Reduction"): the acceptor now holds a pvalue
      for the same slot with a strictly higher ballot;
    - garbage collection ("Garbage Collection"): the slot is below the
      acceptor's ``collected_below`` and every replica has performed it
      (its ``slot_out`` passed the slot, in this or an earlier life).

    Anything else is an A3 violation.  A pvalue that appears is handed to the
    base checker's A2/A4/A5 bookkeeping, as in the base checker."""

    def __init__(self, window: int, limit: int = 100):
        super().__init__(window, limit)
        self._held: dict = {}       # acceptor id -> set of pvalues it held when last seen
        self._held_at: dict = {}    # acceptor id -> {slot: set of those pvalues}
        self._ballot: dict = {}     # acceptor id -> ballot_num when last seen (A1)
        self._performed: dict = {}  # replica id -> highest slot_out it ever reached

    # -- registration ----------------------------------------------------------
    def register(self, pid, proc) -> None:
        if isinstance(proc, Acceptor):
            if pid in self._held:  # a recovery: its durable state must be what it had
                if proc.ballot_num < self._ballot[pid]:
                    self._fail("A1", f"{pid} recovered with ballot {proc.ballot_num} below its "
                                     f"adopted {self._ballot[pid]}", (pid,), None, proc.ballot_num)
                self._ballot[pid] = proc.ballot_num
                self._diff(pid, proc)
            else:
                self._held[pid] = set()
                self._held_at[pid] = {}
                self._ballot[pid] = proc.ballot_num
                self._diff(pid, proc)
            return
        super().register(pid, proc)
        if isinstance(proc, Replica):
            self._performed[pid] = max(self._performed.get(pid, 1), proc.slot_out)

    # -- hooks -------------------------------------------------------------------
    def after_deliver(self, pid, proc, msg) -> None:
        if pid in self._held:
            self._after_acceptor_relaxed(pid, proc, msg)
            return
        super().after_deliver(pid, proc, msg)
        top = self._performed.get(pid)
        if top is not None and proc.slot_out > top:
            self._performed[pid] = proc.slot_out

    def performed_below(self) -> int:
        """The lowest slot some replica has not performed yet: every slot
        below it is performed by every replica."""
        return min(self._performed.values(), default=1)

    # -- acceptors -----------------------------------------------------------------
    def _after_acceptor_relaxed(self, pid, proc, msg):
        b = proc.ballot_num
        if b != self._ballot[pid]:
            if b < self._ballot[pid]:
                self._fail("A1", f"{pid} went from ballot {self._ballot[pid]} back to {b}",
                           (pid,), None, b)
            self._ballot[pid] = b
        kind = type(msg)
        if kind is P2a:
            # The common case: one p2a adds its pvalue and (state reduction)
            # replaces the one held for its slot.  Anything else: full diff.
            acc = proc.accepted
            held = self._held[pid]
            pv = msg.pvalue
            added = [pv] if pv in acc and pv not in held else []
            removed = [q for q in self._held_at[pid].get(pv.slot, ()) if q not in acc]
            if len(acc) == len(held) + len(added) - len(removed):
                self._apply(pid, proc, added, removed)
                return
        elif kind is P1a or len(proc.accepted) == len(self._held[pid]):
            return  # like the base checker: other messages are seen through sizes
        self._diff(pid, proc)

    def _diff(self, pid, proc):
        acc = proc.accepted
        held = self._held[pid]
        self._apply(pid, proc, [pv for pv in acc if pv not in held],
                    [pv for pv in held if pv not in acc])

    def _apply(self, pid, proc, added, removed):
        held, at = self._held[pid], self._held_at[pid]
        for pv in sorted(added):
            held.add(pv)
            at.setdefault(pv.slot, set()).add(pv)
            self._accepted(pid, proc, pv)
        for pv in sorted(removed):
            held.discard(pv)
            same_slot = at.get(pv.slot)
            if same_slot is not None:
                same_slot.discard(pv)
                if not same_slot:
                    del at[pv.slot]
            self._check_removal(pid, proc, pv)

    def _check_removal(self, pid, proc, pv):
        b, s, c = pv
        if any(q.ballot > b for q in self._held_at[pid].get(s, ())):
            return  # state reduction: a higher ballot's pvalue replaced it
        below = getattr(proc, "collected_below", 0)
        if s < below and s < self.performed_below():
            return  # garbage collection: every replica has performed slot s
        why = (f"{pid} dropped {c} for slot {s} at ballot {b}: no higher-ballot pvalue for "
               f"slot {s} replaces it")
        if s < below:
            why += (f", and not every replica has performed slot {s} "
                    f"(lowest slot_out {self.performed_below()})")
        elif below:
            why += f", and slot {s} is not below collected_below={below}"
        self._fail("A3", why, (pid,), s, b)


# -- the simulator ---------------------------------------------------------------------
class VariantSimulator(Simulator):
    """The Simulator with :class:`RelaxedChecker` (``checker_class``), which
    gives a replica class with ``wants_acceptors = True`` the initial
    acceptors as a last constructor argument, and which can draw a workload
    with a given fraction of reads (``read_fraction`` in [0, 1]; None: the
    Simulator's usual mix)."""

    checker_class = RelaxedChecker

    def __init__(self, config: SimConfig | None = None, seed: int = 0,
                 plan: FaultPlan | None = None, *, check: bool = True, trace: bool = True,
                 roles: dict | None = None, read_fraction: float | None = None):
        if read_fraction is not None and (isinstance(read_fraction, bool)
                                          or not isinstance(read_fraction, (int, float))
                                          or not 0.0 <= read_fraction <= 1.0):
            raise ConfigError("read_fraction",
                              f"must be a fraction in [0, 1], got {read_fraction!r}")
        self.read_fraction = read_fraction
        super().__init__(config, seed, plan, check=check, trace=trace, roles=roles)

    def _build(self):
        if self.checker is not None:
            self.checker = self.checker_class(self.config.window)
        super()._build()

    def _add(self, pid, kind, args):
        if kind == "replica" and getattr(self.roles["replica"], "wants_acceptors", False):
            args = tuple(args) + (self.config.acceptor_ids,)
        super()._add(pid, kind, args)

    def _workload(self) -> dict:
        if self.read_fraction is None:
            return super()._workload()
        c = self.config
        keys = c.key_names
        out = {}
        for pid in c.client_ids:
            ops = []
            for n in range(1, c.commands + 1):
                key = keys[self.rng.randrange(len(keys))]
                if self.rng.random() < self.read_fraction:
                    ops.append(("get", key))
                elif self.rng.random() < 0.5:
                    ops.append(("put", key, f"{pid}.{n}"))
                else:
                    ops.append(("append", key, f"{pid}.{n}"))
            out[pid] = ops
        return out


# -- running ------------------------------------------------------------------------------
def run(roles: dict | None = None, config: SimConfig | None = None, seed: int = 0,
        plan: FaultPlan | None = None, *, check: bool = True, trace: bool = False,
        read_fraction: float | None = None, until: float | None = None) -> VariantSimulator:
    """Build a :class:`VariantSimulator` with ``roles`` and run it until
    every client is answered (or ``until``); return it, finished."""
    sim = VariantSimulator(config, seed, plan, check=check, trace=trace, roles=roles,
                           read_fraction=read_fraction)
    sim.run(until=until)
    return sim


def summary(sim: Simulator, *, linearizability: bool = True, wall_s: float = 0.0) -> dict:
    """A finished run as the CLI's JSON keys (DESIGN section 6), with the
    linearizability verdict of its client history."""
    lin = check_linearizable(sim.history()) if linearizability else None
    return sim.result(wall_s=wall_s, linearizable=lin).to_json()


def safety_sweep(roles: dict, seeds, *, reconfigure: bool = False,
                 read_fraction: float | None = None, config: SimConfig | None = None) -> dict:
    """Run ``roles`` once per seed on a random deployment (``random_config``,
    or ``config`` if given) under a random fault plan (``random_fault_plan``:
    loss, duplication, delays, crashes, partitions, one-way blocks, and with
    ``reconfigure`` new leaders and acceptors), with every invariant checked
    and every history checked for linearizability.

    Returns :func:`~paxos_lit.sim.sweep.summarize`'s counts (``violations``,
    ``non_linearizable``, ``incomplete``, ``failing`` positions, ...) plus
    ``failing_seeds`` and ``first_violations`` (up to 5, as JSON)."""
    table = []
    seeds = list(seeds)
    for seed in seeds:
        cfg = config if config is not None else random_config(seed)
        plan = random_fault_plan(seed, cfg, reconfigure=reconfigure)
        t0 = time.perf_counter()
        sim = run(roles, cfg, seed, plan, read_fraction=read_fraction)
        row = {"seed": seed, "clients": cfg.clients, "commands": cfg.commands}
        row.update(summary(sim, wall_s=time.perf_counter() - t0))
        table.append(row)
    out = summarize(table)
    out["failing_seeds"] = [seeds[i] for i in out["failing"]]
    out["first_violations"] = [v for row in table for v in row["violations"]][:5]
    return out


# -- measuring ---------------------------------------------------------------------------------
def churn_plan(config: SimConfig, *, every: float = 150.0, down: float = 60.0,
               until: float = 3000.0) -> FaultPlan:
    """Leaders crash in turn (each for ``down`` time units, one every
    ``every``), so ballots change and new leaders adopt again and again:
    the long run in which the paper's acceptor state keeps growing."""
    actions = []
    leaders = config.leader_ids
    t, i = every, 0
    while t + down < until:
        pid = leaders[i % len(leaders)]
        actions.append(Action(at=t, action="crash", process=pid))
        actions.append(Action(at=t + down, action="recover", process=pid))
        t += every
        i += 1
    return FaultPlan(tuple(actions))


def _held(sim) -> list:
    return [len(p.accepted) for pid, p in sim.procs.items() if sim.kind_of.get(pid) == "acceptor"]


def memory_run(roles: dict | None, config: SimConfig, seed: int, plan: FaultPlan | None = None,
               *, sample_every: float = 25.0) -> dict:
    """Run ``roles`` and measure what the acceptors remember.

    Keys: ``pvalues_held_end`` / ``pvalues_held_peak`` (the largest
    ``len(accepted)`` of any acceptor at the end / at any sample),
    ``series`` (``[time, largest len(accepted)]`` every ``sample_every``),
    ``p1b`` (how many p1b replies were sent and how many pvalues they carried:
    mean and max), ``p2a_sent``, ``adoptions`` (ballots adopted by a
    majority: view changes), ``leader_proposals_end`` (the largest leader
    ``proposals``), and the run's ``completed``, ``requested``,
    ``decided_slots``, ``messages_delivered``, ``virtual_time``,
    ``violations`` (a count) and ``linearizable``."""
    sim = VariantSimulator(config, seed, plan, check=True, trace=True, roles=roles)
    series = []
    t = 0.0
    while not sim.finished and sim.now < config.until:
        t += sample_every
        sim.run(until=t)
        series.append([round(t, 3), max(_held(sim), default=0)])
    sizes, p2a, adoptions = [], 0, 0
    for rec in sim.trace:
        if rec[1] != "send":
            continue
        name = type(rec[4]).__name__
        if name.startswith("P1b"):
            sizes.append(len(rec[4].accepted))
        elif name == "P2a":
            p2a += 1
        elif name.startswith("Adopted"):
            adoptions += 1
    leaders = [p for pid, p in sim.procs.items() if sim.kind_of.get(pid) == "leader"]
    res = summary(sim)
    return {"pvalues_held_end": max(_held(sim), default=0),
            "pvalues_held_peak": max((v for _, v in series), default=0),
            "series": series,
            "p1b": {"count": len(sizes),
                    "pvalues_mean": round(statistics.fmean(sizes), 2) if sizes else 0.0,
                    "pvalues_max": max(sizes, default=0)},
            "p2a_sent": p2a, "adoptions": adoptions,
            "leader_proposals_end": max((len(p.proposals) for p in leaders), default=0),
            "completed": res["completed"], "requested": res["requested"],
            "decided_slots": res["decided_slots"],
            "messages_delivered": res["messages_delivered"],
            "virtual_time": res["virtual_time"],
            "violations": len(res["violations"]), "linearizable": res["linearizable"]}


def read_run(roles: dict | None, config: SimConfig, seed: int, *, read_fraction: float,
             plan: FaultPlan | None = None, crash_active_at: float | None = None,
             down: float = 100.0) -> dict:
    """Run ``roles`` with a workload of ``read_fraction`` reads and measure
    what reads cost.

    Keys: ``reads`` / ``writes`` (operations answered), ``messages_per_op``
    (messages delivered over operations answered), ``messages`` (delivered,
    by message type), ``read_latency`` / ``write_latency`` (virtual time from
    call to return: mean, median, max), ``decided_slots`` (reads through
    consensus take slots; the read-only paths do not), and the run's
    ``completed``, ``requested``, ``virtual_time``, ``violations`` (a count)
    and ``linearizable``.

    With ``crash_active_at``, the leader that is active at that time (the
    one with the highest ballot) crashes then and recovers ``down`` later;
    ``crashed`` names it (None if no leader was active)."""
    sim = VariantSimulator(config, seed, plan, check=True, trace=True, roles=roles,
                           read_fraction=read_fraction)
    crashed = None
    if crash_active_at is not None:
        sim.run(until=crash_active_at)
        active = [(p.ballot_num, pid) for pid, p in sim.procs.items()
                  if sim.kind_of.get(pid) == "leader" and p.active]
        if active and not sim.finished:
            crashed = max(active)[1]
            sim.crash(crashed)
            sim.run(until=crash_active_at + down)
            sim.recover(crashed)
    sim.run()
    by_type = Counter()
    for rec in sim.trace:
        if rec[1] == "send":
            by_type[type(rec[4]).__name__] += 1
    lat = {"get": [], "write": []}
    for cl in sim.clients:
        for h in cl.history:
            if h["return"] is not None:
                lat["get" if h["op"][0] == "get" else "write"].append(h["return"] - h["call"])
    res = summary(sim)

    def stats(xs):
        if not xs:
            return {"mean": None, "median": None, "max": None}
        return {"mean": round(statistics.fmean(xs), 3), "median": round(statistics.median(xs), 3),
                "max": round(max(xs), 3)}

    answered = len(lat["get"]) + len(lat["write"])
    per_op = round(res["messages_delivered"] / answered, 2) if answered else None
    return {"reads": len(lat["get"]), "writes": len(lat["write"]), "crashed": crashed,
            "messages_per_op": per_op,
            "messages": dict(sorted(by_type.items())),
            "read_latency": stats(lat["get"]), "write_latency": stats(lat["write"]),
            "decided_slots": res["decided_slots"], "completed": res["completed"],
            "requested": res["requested"], "virtual_time": res["virtual_time"],
            "violations": len(res["violations"]), "linearizable": res["linearizable"]}
