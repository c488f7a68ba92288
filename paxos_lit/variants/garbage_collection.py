"""Garbage collection: forget what every replica has performed (PMMC 4.2, "Garbage Collection").

**What the paper says** (in our words; PMMC section 4, "Paxos Made
Pragmatic", subsection "Garbage Collection").  Even with state reduction an
acceptor keeps a pvalue for every slot ever decided, and a p1b carries them
all.  Once *every* replica has performed slot s, nobody will ever need s
again: the acceptors may drop its pvalues.  But a leader that adopts a
ballot and sees no pvalue for s would think s free, and could propose
another command for it.  So an acceptor remembers how far it collected (a
low-water mark, our ``collected_below``) and sends it in its p1b; a leader
never proposes below the highest mark a majority reported.  Leaders may
forget their proposals below the mark too (the paper: no commanders for
decided slots), which also makes view changes cheap: a new leader
re-proposes only the slots not yet collected.

Waiting for *every* replica has a cost the paper points out: one slow or
crashed replica stops collection for all.  Its remedy (2f+1 replicas,
collect once f+1 have performed a slot, and let a lagging replica fetch a
snapshot from another) is not built here; see "Left out" below.

**Our design.**

- :class:`CollectingReplica` reports its ``slot_out`` to the leaders
  (:class:`Performed`), every ``REPORT_EVERY`` slots and on its stall timer.
  Its state is durable (PMMC section 3.6, "state on disk"): a replica that
  has performed a slot must still have performed it after a crash, or the
  slot would be needed again after the acceptors forgot it.
- :class:`CollectingLeader` keeps each replica's latest report; once all its
  replicas have reported, the smallest report is the mark.  It forgets its
  proposals below the mark, ignores proposals below it, and, if active,
  sends :class:`Collect` to the acceptors.  Its scout
  (:class:`CollectingScout`) takes the highest mark of the p1bs it counts
  (:class:`P1bCollected`) and hands it to the leader
  (:class:`AdoptedCollected`), which drops pvalues and proposals below it
  before ``pmax``.
- :class:`CollectingAcceptor` drops its pvalues below a ``Collect`` mark,
  keeps the mark durable with its state, sends it in every p1b, and answers
  a p2a below the mark without accepting it.

Why the last rule is safe: a commander that counts such an answer at ballot
b carries, by C1/C2, the command already chosen for that slot (its leader
saw either the chosen pvalue or a mark above the slot when it adopted b),
and no later ballot can choose another, because every later scout meets
either the accepted pvalue or the mark.  The invariant checker enforces
exactly that: R1 on every decision, and A3 relaxed only for slots below the
acceptor's mark that every replica has performed
(:class:`~paxos_lit.variants.harness.RelaxedChecker`).

**What we measured** (:func:`compare`, :func:`growth`, :func:`stall`;
``python bench/bench_variants.py``, seed 1, the long run of
:mod:`state_reduction`: 300 slots, 4 view changes).  The paper's largest
acceptor ends with 843 pvalues and its largest p1b carries 543; with
garbage collection (with or without state reduction) the largest acceptor
never holds more than 7 and no p1b carries more than 6 (ratio 0.008).
A new leader re-proposes only what is not collected: 939 p2a sent instead
of 2547, and 4184 messages delivered in all instead of 7527 (0.56), the
replicas' reports and the Collect messages included.  Against the run's
length (25, 50, 100, 200 commands per client) the paper's largest acceptor
holds 75, 257, 843, 2918 pvalues; with collection 6, 7, 7, 7.  And the
price of waiting for every replica: with ``r2`` down from time 100 to 300,
the state climbs to 24 pvalues, and falls back to about 5 once it is back.

**Left out.**  Snapshots for lagging replicas (and so collecting at f+1 of
2f+1 replicas); collecting the replicas' own ``decisions``; collection
across a reconfiguration is safe (each configuration's leaders collect their
own acceptors) but the old configuration's acceptors keep what they had.
"""

from __future__ import annotations

from typing import NamedTuple

from ..acceptor import Acceptor
from ..leader import Leader
from ..messages import Adopted, P2b, Preempted, register
from ..replica import Replica
from ..scout import Scout
from ..types import WINDOW, Ballot, ProcessId, Slot
from . import harness
from .state_reduction import ReducedAcceptor, long_run_config


# -- messages (registered before the roles that handle them) -------------------------
class Performed(NamedTuple):
    """Replica -> leaders: "I have performed every slot below ``slot_out``"."""

    src: ProcessId
    slot_out: Slot


class Collect(NamedTuple):
    """Leader -> acceptors: every replica has performed every slot below
    ``below``; forget their pvalues."""

    src: ProcessId
    below: Slot


class P1bCollected(NamedTuple):
    """The p1b of a collecting acceptor: its ballot, the pvalues it still
    holds, and ``below``: the slots under it were collected (so a missing
    pvalue there does not mean "free")."""

    src: ProcessId
    ballot: Ballot
    accepted: frozenset
    below: Slot


class AdoptedCollected(NamedTuple):
    """Scout -> leader: ballot adopted by a majority, with their pvalues and
    the highest collection mark among them."""

    src: ProcessId
    ballot: Ballot
    pvalues: frozenset
    below: Slot


register(Performed, slot_out=harness.decode_slot)
register(Collect, below=harness.decode_slot)
register(P1bCollected)
register(AdoptedCollected)


# -- acceptors --------------------------------------------------------------------------
class CollectingAcceptor(Acceptor):
    """The paper's acceptor that forgets collected slots (PMMC section 4, "Garbage Collection")."""

    def __init__(self, pid, env):
        super().__init__(pid, env)
        # collected_below: every slot below it was performed by every replica
        #   and its pvalues dropped (0: nothing collected yet).
        self.collected_below = 0

    def on_Collect(self, msg: Collect) -> None:
        """Raise the mark and drop every pvalue below it (the mark never goes
        down: marks only grow, like the replicas' slot_out they come from)."""
        if msg.below > self.collected_below:
            self.collected_below = msg.below
            self.accepted = {pv for pv in self.accepted if pv.slot >= msg.below}
            self._reindex()

    def _reindex(self) -> None:
        """Rebuild any index of ``accepted`` (state reduction keeps one)."""

    def on_P1a(self, msg) -> None:
        """As the paper's acceptor (A1), but the p1b also says how far it
        collected, so the leader does not read a missing pvalue as a free slot."""
        if msg.ballot > self.ballot_num:
            self.ballot_num = msg.ballot
        self.env.send(msg.src, P1bCollected(self.id, self.ballot_num, frozenset(self.accepted),
                                            self.collected_below))

    def on_P2a(self, msg) -> None:
        """A p2a for a collected slot is answered (with the current ballot,
        as always) but not stored: the slot is decided and performed
        everywhere, and its command is the one this p2a carries (see the
        module docstring)."""
        if msg.pvalue.slot < self.collected_below:
            self.env.send(msg.src, P2b(self.id, self.ballot_num, msg.pvalue.slot))
            return
        super().on_P2a(msg)

    def durable_state(self):
        return (super().durable_state(), self.collected_below)

    def restore(self, state) -> None:
        inner, self.collected_below = state
        super().restore(inner)


class ReducedCollectingAcceptor(CollectingAcceptor, ReducedAcceptor):
    """Both optimizations: one pvalue per slot, and none below the mark."""

    def _reindex(self) -> None:
        self.best = {pv.slot: pv for pv in self.accepted}


# -- scouts and leaders ---------------------------------------------------------------------
class CollectingScout(Scout):
    """The paper's scout (a majority, not one reply: see the defects in
    :mod:`state_reduction`) that also keeps the highest collection mark."""

    def __init__(self, pid, env, leader, acceptors, ballot):
        super().__init__(pid, env, leader, acceptors, ballot)
        # below: the highest collection mark among the p1bs counted so far.
        self.below = 0

    def on_P1bCollected(self, msg: P1bCollected) -> None:
        """As the paper's scout (PMMC Fig. 6), plus the mark: once a
        majority adopted b, report their pvalues and their highest mark."""
        if msg.ballot == self.b:
            if msg.src in self.waitfor:
                self.pvalues |= msg.accepted
                self.below = max(self.below, msg.below)
                self.waitfor.discard(msg.src)
            if len(self.waitfor) < len(self.acceptors) / 2:
                self.env.send(self.leader, AdoptedCollected(self.id, self.b,
                                                            frozenset(self.pvalues), self.below))
                self.env.exit()
        else:
            self.env.send(self.leader, Preempted(self.id, msg.ballot))
            self.env.exit()

    def on_P1b(self, msg) -> None:
        # An acceptor that does not collect: it collected nothing.
        self.on_P1bCollected(P1bCollected(msg.src, msg.ballot, msg.accepted, 0))


class CollectingLeader(Leader):
    """The paper's leader that forgets (and refuses) collected slots."""

    scout_class = CollectingScout

    def __init__(self, pid, env, acceptors, replicas, policy="backoff"):
        super().__init__(pid, env, acceptors, replicas, policy)
        # performed: replica id -> the highest slot_out it reported.
        self.performed: dict = {}
        # collected: no proposal below this slot is kept, accepted or made.
        self.collected = 0

    def _collect(self, below: int) -> bool:
        """Forget proposals below ``below``; True if the mark went up."""
        if below <= self.collected:
            return False
        self.collected = below
        for s in [s for s in self.proposals if s < below]:
            del self.proposals[s]
        return True

    def on_Performed(self, msg: Performed) -> None:
        """Record a replica's progress; when every replica of the
        configuration has reported, the smallest report is a slot below
        which every replica has performed everything: collect it."""
        if msg.src not in self.replicas:
            return
        if msg.slot_out > self.performed.get(msg.src, 0):
            self.performed[msg.src] = msg.slot_out
        if len(self.performed) == len(self.replicas):
            if self._collect(min(self.performed.values())) and self.active:
                for a in self.acceptors:
                    self.env.send(a, Collect(self.id, self.collected))

    def on_Propose(self, msg) -> None:
        """A proposal for a collected slot is stale (every replica has
        performed that slot): ignore it.  Otherwise as the paper's leader."""
        if msg.slot < self.collected:
            return
        super().on_Propose(msg)

    def on_AdoptedCollected(self, msg: AdoptedCollected) -> None:
        """Adopted: first forget everything below the highest mark reported
        (those slots are decided and performed everywhere; proposing there
        could contradict a decision whose pvalues are gone), then as the
        paper's leader: pmax, commanders for the rest, active."""
        if msg.ballot != self.ballot_num:
            return
        self._collect(msg.below)
        pvalues = frozenset(pv for pv in msg.pvalues if pv.slot >= self.collected)
        self.on_Adopted(Adopted(msg.src, msg.ballot, pvalues))
        if self.active and self.collected:
            for a in self.acceptors:
                self.env.send(a, Collect(self.id, self.collected))


# -- replicas ---------------------------------------------------------------------------------
class CollectingReplica(Replica):
    """The paper's replica, durable, reporting its progress to the leaders."""

    #: Report after this many newly performed slots (and on every stall check).
    REPORT_EVERY = 5

    def __init__(self, pid, env, leaders, window=WINDOW):
        super().__init__(pid, env, leaders, window)
        # reported: the slot_out last reported to the leaders.
        self.reported = 0

    def _report(self) -> None:
        self.reported = self.slot_out
        msg = Performed(self.id, self.slot_out)
        for leader in self.leaders:
            self.env.send(leader, msg)

    def on_Decision(self, msg) -> None:
        super().on_Decision(msg)
        if self.slot_out >= self.reported + self.REPORT_EVERY:
            self._report()

    def on_timer(self, tag: str) -> None:
        super().on_timer(tag)
        if self.slot_out > 1:
            self._report()  # also repairs a lost report

    # State on disk (PMMC section 3.6): what it performed stays performed.
    def durable_state(self):
        return (dict(self.state.data), self.slot_out, dict(self.decisions),
                dict(self.results), self.leaders)

    def restore(self, state) -> None:
        data, self.slot_out, decisions, results, self.leaders = state
        self.state.data = dict(data)
        self.decisions = dict(decisions)
        self.results = dict(results)
        self.slot_in = self.slot_out
        self.seen = set(self.decisions.values()) | set(self.results)


#: Garbage collection on the paper's acceptor, and on top of state reduction.
ROLES = {"acceptor": CollectingAcceptor, "leader": CollectingLeader,
         "replica": CollectingReplica}
ROLES_WITH_STATE_REDUCTION = dict(ROLES, acceptor=ReducedCollectingAcceptor)


def compare(seed: int = 1, *, commands: int = 100, every: float = 150.0, down: float = 60.0,
            sample_every: float = 25.0) -> dict:
    """The paper's acceptor, state reduction, garbage collection, and both, on
    the same long run (:func:`state_reduction.long_run_config`, leaders
    crashing in turn).

    Returns ``{"seed", "config", "faults", "paper": m, "state_reduction": m,
    "garbage_collection": m, "both": m}``, each ``m`` as in
    :func:`harness.memory_run` (pvalues held at the end and at peak, a time
    series of the largest acceptor, p1b sizes, p2a sent, view changes,
    leader proposals kept, violations, linearizability)."""
    from .state_reduction import ROLES as SR

    config = long_run_config(commands)
    plan = harness.churn_plan(config, every=every, down=down)
    out = {"seed": seed, "config": config.to_json(), "faults": plan.to_json()}
    for name, roles in (("paper", None), ("state_reduction", SR), ("garbage_collection", ROLES),
                        ("both", ROLES_WITH_STATE_REDUCTION)):
        out[name] = harness.memory_run(roles, config, seed, plan, sample_every=sample_every)
    return out


def growth(seed: int = 1, lengths=(25, 50, 100, 200), *, every: float = 150.0,
           down: float = 60.0) -> dict:
    """How the largest acceptor state and the largest p1b grow with the run's
    length (commands per client), for the paper's acceptor and with garbage
    collection plus state reduction.  Returns ``{"commands": [...],
    "paper": {"held": [...], "p1b_max": [...]}, "both": {...}}``."""
    out = {"seed": seed, "commands": list(lengths)}
    for name, roles in (("paper", None), ("both", ROLES_WITH_STATE_REDUCTION)):
        held, p1b = [], []
        for n in lengths:
            config = long_run_config(n)
            plan = harness.churn_plan(config, every=every, down=down, until=40.0 * n)
            m = harness.memory_run(roles, config, seed, plan)
            held.append(m["pvalues_held_peak"])
            p1b.append(m["p1b"]["pvalues_max"])
        out[name] = {"held": held, "p1b_max": p1b}
    return out


def stall(seed: int = 1, *, commands: int = 100, crash_at: float = 100.0,
          down: float = 200.0, sample_every: float = 25.0) -> dict:
    """The price of waiting for *every* replica (PMMC section 4.2): replica
    ``r2`` is down from ``crash_at`` for ``down``; collection stops, the
    acceptors' state grows, and it shrinks again once ``r2`` is back (its
    state is durable, so it resumes where it stopped and catches up).
    Returns ``{"seed", "faults", "both": m}`` with ``m`` as in
    :func:`harness.memory_run` (``series`` shows the bump)."""
    from ..sim.faults import Action, FaultPlan

    config = long_run_config(commands)
    plan = FaultPlan((Action(at=crash_at, action="crash", process="r2"),
                      Action(at=crash_at + down, action="recover", process="r2")))
    m = harness.memory_run(ROLES_WITH_STATE_REDUCTION, config, seed, plan,
                           sample_every=sample_every)
    return {"seed": seed, "faults": plan.to_json(), "both": m}
