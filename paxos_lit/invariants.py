"""The paper's invariants as executable checks (PMMC sections 3.1-3.3).

Replicas
  R1  no two different commands are decided for the same slot;
  R2  every slot below a replica's slot_out is decided (at that replica);
  R3  a replica's state is the decisions below slot_out applied in order
      (a command decided twice is applied once);
  R4  a replica's slot_out never decreases;
  R5  a replica proposes only below slot_out + WINDOW (slot_in never passes it).
Acceptors
  A1  an acceptor adopts only strictly increasing ballots (never going back,
      not even across a crash: its state is durable);
  A2  an acceptor accepts a pvalue only at its current ballot;
  A3  an acceptor never removes an accepted pvalue;
  A4  at most one command per (ballot, slot) across all acceptors;
  A5  once a majority accepted (b, s, c), any accepted (b', s, c') with
      b' > b has c' = c.
Commanders (the paper's site calls these L1 and L2)
  C1  at most one command per (ballot, slot) among commanders (a commander
      re-spawned for the same pvalue is the same proposal again);
  C2  a commander at ballot b for slot s carries c if a majority accepted
      (b', s, c) with b' < b.

The chain of the paper's proof is C1 => A4 and C2 => A5 => R1.

The checker watches a run from outside: after each event the driver hands it
the process that just acted, and it compares that process's state with what
it saw before.  It keeps only what the checks need (per replica a shadow
state machine; per (ballot, slot) the accepting acceptors), so checking costs
O(1) per event in the common case.
"""

from __future__ import annotations

from dataclasses import dataclass

from .acceptor import Acceptor
from .commander import Commander
from .kvstore import KVStore
from .messages import Decision, P2a
from .replica import Replica
from .types import NOOP, Ballot, is_reconfig

NAMES = {
    "R1": "no two different commands decided for one slot",
    "R2": "every slot below slot_out is decided",
    "R3": "a replica's state equals its decisions below slot_out applied in order",
    "R4": "slot_out never decreases",
    "R5": "slot_in < slot_out + WINDOW for every proposal",
    "A1": "an acceptor adopts only strictly increasing ballots",
    "A2": "an acceptor accepts only at its current ballot",
    "A3": "an acceptor never removes accepted pvalues",
    "A4": "at most one command per (ballot, slot) across acceptors",
    "A5": "a majority-accepted command is the only one accepted at higher ballots",
    "C1": "at most one commander per (ballot, slot)",
    "C2": "a commander at a higher ballot carries the majority-accepted command",
}


@dataclass(frozen=True)
class Violation:
    """One broken invariant, with where and when: enough to replay the run to
    ``event`` and look."""

    invariant: str
    detail: str
    processes: tuple = ()
    slot: int | None = None
    ballot: Ballot | None = None
    event: int | None = None
    time: float | None = None

    def to_json(self) -> dict:
        return {"invariant": self.invariant, "name": NAMES.get(self.invariant, ""),
                "detail": self.detail, "processes": list(self.processes),
                "slot": self.slot,
                "ballot": None if self.ballot is None else list(self.ballot),
                "event": self.event, "time": self.time}

    def __str__(self):
        return f"{self.invariant} at event {self.event}: {self.detail}"


class _ReplicaWatch:
    __slots__ = ("shadow", "done", "slot_out")

    def __init__(self):
        self.shadow = KVStore()  # the state R3 says the replica must have
        self.done = set()        # commands the shadow has applied
        self.slot_out = 1        # slot_out last seen


class _AcceptorWatch:
    __slots__ = ("ballot_num", "count")

    def __init__(self, ballot_num, count):
        self.ballot_num = ballot_num  # ballot_num last seen
        self.count = count            # len(accepted) last seen


class InvariantChecker:
    """Checks R1-R5, A1-A5, C1-C2 as a run goes.  ``violations`` collects
    what broke (at most ``limit`` entries)."""

    def __init__(self, window: int, limit: int = 100):
        self.window = window
        self.limit = limit
        self.violations: list[Violation] = []
        self.event = 0                  # set by the driver before each hook
        self.time = 0.0
        # Global knowledge across processes:
        self.decided: dict = {}         # slot -> first command decided (R1)
        self.votes: dict = {}           # (ballot, slot) -> (command, set of acceptors) (A4/A5)
        # The same entries as ``votes``, grouped by slot (slot -> {ballot: entry}),
        # so that A5 looks only at one slot's ballots, not at every vote so far.
        self._votes_at: dict = {}
        # slot -> (lowest ballot, command) accepted by a majority (A5/C2):
        self.chosen: dict = {}
        self.commanders: dict = {}      # (ballot, slot) -> command (C1)
        self._commanders_at: dict = {}  # the same, grouped by slot (slot -> {ballot: command})
        self.quorum: dict = {}          # leader id -> majority size of its acceptors
        self._replicas: dict = {}
        self._acceptors: dict = {}

    # -- registration ----------------------------------------------------
    def register(self, pid, proc) -> None:
        """A process started (or restarted after a crash)."""
        if isinstance(proc, Replica):
            # A restarted replica is a new incarnation: R4 starts over.
            self._replicas[pid] = _ReplicaWatch()
        elif isinstance(proc, Acceptor):
            old = self._acceptors.get(pid)
            if old is not None:
                self._check_acceptor_recovery(pid, proc, old)
            self._acceptors[pid] = _AcceptorWatch(proc.ballot_num, len(proc.accepted))
        elif hasattr(proc, "acceptors") and hasattr(proc, "ballot_num"):
            self.quorum[pid] = len(proc.acceptors) // 2 + 1

    def _fail(self, inv, detail, processes=(), slot=None, ballot=None):
        if len(self.violations) < self.limit:
            self.violations.append(Violation(inv, detail, tuple(processes), slot, ballot,
                                             self.event, self.time))

    # -- hooks -------------------------------------------------------------
    def after_deliver(self, pid, proc, msg) -> None:
        if pid in self._acceptors:
            self._after_acceptor(pid, proc, msg)
        elif pid in self._replicas:
            self._after_replica(pid, proc, msg)

    def after_spawn(self, pid, proc) -> None:
        if isinstance(proc, Commander):
            b, s, c = proc.pvalue
            prev = self.commanders.setdefault((b, s), c)
            self._commanders_at.setdefault(s, {}).setdefault(b, c)
            if prev != c:
                self._fail("C1", f"two commanders at ballot {b} for slot {s}: {prev} and {c}",
                           (pid, proc.leader), s, b)
            ch = self.chosen.get(s)
            if ch is not None and ch[0] < b and ch[1] != c:
                self._fail("C2", f"commander {pid} at {b} carries {c} for slot {s}, but a "
                                 f"majority accepted {ch[1]} at {ch[0]}", (pid, proc.leader), s, b)

    # -- acceptors ---------------------------------------------------------
    def _check_acceptor_recovery(self, pid, proc, old):
        if proc.ballot_num < old.ballot_num:
            self._fail("A1", f"{pid} recovered with ballot {proc.ballot_num} below its "
                             f"adopted {old.ballot_num}", (pid,), None, proc.ballot_num)
        if len(proc.accepted) < old.count:
            self._fail("A3", f"{pid} recovered with {len(proc.accepted)} accepted pvalues, "
                             f"had {old.count}", (pid,))

    def _after_acceptor(self, pid, proc, msg):
        w = self._acceptors[pid]
        b = proc.ballot_num
        if b != w.ballot_num:
            if b < w.ballot_num:
                self._fail("A1", f"{pid} went from ballot {w.ballot_num} back to {b}",
                           (pid,), None, b)
            w.ballot_num = b
        n = len(proc.accepted)
        if n == w.count:
            return
        if n < w.count:
            self._fail("A3", f"{pid} dropped accepted pvalues ({w.count} -> {n})", (pid,))
            w.count = n
            return
        if n == w.count + 1 and type(msg) is P2a and msg.pvalue in proc.accepted:
            new = (msg.pvalue,)
        else:  # unusual growth (a mutant): find what is new the slow way
            new = tuple(pv for pv in proc.accepted
                        if pid not in self.votes.get((pv.ballot, pv.slot), (None, ()))[1])
        w.count = n
        for pv in new:
            self._accepted(pid, proc, pv)

    def _accepted(self, pid, proc, pv):
        pb, s, c = pv
        if pb != proc.ballot_num:
            self._fail("A2", f"{pid} accepted {c} for slot {s} at ballot {pb} while at "
                             f"{proc.ballot_num}", (pid,), s, pb)
        entry = self.votes.get((pb, s))
        if entry is None:
            entry = self.votes[(pb, s)] = (c, set())
            self._votes_at.setdefault(s, {})[pb] = entry
        elif entry[0] != c:
            self._fail("A4", f"two commands accepted at ballot {pb} for slot {s}: {entry[0]} "
                             f"and {c} ({pid})", (pid,), s, pb)
            return
        entry[1].add(pid)
        ch = self.chosen.get(s)
        if ch is not None and ch[0] < pb and ch[1] != c:
            self._fail("A5", f"{pid} accepted {c} for slot {s} at {pb}, but a majority "
                             f"accepted {ch[1]} at {ch[0]}", (pid,), s, pb)
        quorum = self.quorum.get(pb.leader)
        if quorum is not None and len(entry[1]) == quorum and (ch is None or pb < ch[0]):
            self.chosen[s] = (pb, c)
            # A5 backwards: an acceptor may already hold a higher ballot for s.
            for b2, (c2, who) in self._votes_at[s].items():
                if b2 > pb and c2 != c:
                    self._fail("A5", f"{sorted(who)} accepted {c2} for slot {s} at {b2}, but a "
                                     f"majority accepted {c} at {pb}", tuple(sorted(who)), s, b2)
            # C2 backwards: a commander at a higher ballot may already carry
            # another command (checking both ways makes C2's verdict
            # independent of the order of events at different processes).
            for b2, c2 in sorted(self._commanders_at.get(s, {}).items()):
                if b2 > pb and c2 != c:
                    self._fail("C2", f"a commander at {b2} carries {c2} for slot {s}, but a "
                                     f"majority accepted {c} at {pb}", (), s, b2)

    # -- replicas ------------------------------------------------------------
    def _after_replica(self, pid, proc, msg):
        if type(msg) is Decision:
            s, c = msg.slot, msg.command
            prev = self.decided.setdefault(s, c)
            if prev != c:
                self._fail("R1", f"slot {s} decided as {prev} and as {c} "
                                 f"(at {pid}, from {msg.src})", (pid, msg.src), s)
        w = self._replicas[pid]
        out = proc.slot_out
        if out != w.slot_out:
            if out < w.slot_out:
                self._fail("R4", f"{pid} slot_out went back from {w.slot_out} to {out}", (pid,))
                w.slot_out = out
                return
            for s in range(w.slot_out, out):
                c = proc.decisions.get(s)
                if c is None:
                    self._fail("R2", f"{pid} passed slot {s} (slot_out={out}) without a decision",
                               (pid,), s)
                    continue
                if c in w.done or is_reconfig(c) or c == NOOP:
                    continue
                w.done.add(c)
                w.shadow.apply(c.op)
            w.slot_out = out
            if w.shadow.data != proc.state.data:
                self._fail("R3", f"{pid} state {proc.state.data} differs from its decisions "
                                 f"below slot {out} applied in order: {w.shadow.data}",
                           (pid,), out - 1)
        if proc.slot_in > out + self.window:
            self._fail("R5", f"{pid} slot_in={proc.slot_in} beyond "
                             f"slot_out+WINDOW={out + self.window}", (pid,), proc.slot_in - 1)
