"""Leases: reads on the leader's word, under bounded clock drift (PMMC 4.5, "Read-Only Commands").

**What the paper says** (in our words; PMMC section 4, "Paxos Made
Pragmatic", subsection "Read-Only Commands").  A leader could serve reads
without consensus if it knew that its ballot is still the current one: then
no other leader can have had a command chosen that this leader does not
know of.  Checking that per read costs a round trip to the acceptors.
Leases avoid it, at the price of a timing assumption: clocks drift from
real time by a bounded rate.  The leader asks the acceptors for a lease of
some period; an acceptor that grants it promises not to adopt any higher
ballot until the period has passed on its own clock.  Once a majority
granted, no other ballot can be adopted by a majority before the lease ends,
so no other leader can get anything chosen: the leader may answer reads
(from a replica that has performed the slots it proposed so far).

**Our design, with timers instead of clocks.**  Roles never read a clock
(DESIGN section 3): they set timers.  A timer *is* a clock read in disguise:
"call me back after d" means "tell me when your clock has advanced by d".
So bounded drift is a bound on timers: a process whose clock runs at rate
r (a local duration d takes d / r of real time) has r in [1 - rho, 1 + rho].
An acceptor that grants a lease of L local units keeps its promise for at
least L / (1 + rho) of real time, starting when the request *arrives*.  The
leader starts its own timer when it *sends* the request; the lease is valid
until that timer fires, so the timer must fire, in real time, no later than
the earliest the promise can end, even if the leader's clock is the slowest
allowed: ``d / (1 - rho) <= L / (1 + rho)``, i.e. ``d = L (1 - rho) / (1 +
rho)`` (:func:`lease_timeout`).  That margin is what the bounded-drift
assumption buys; with ``rho = 0`` it is the whole lease.  The simulator's
timers do not drift, so each lease role draws its own clock rate once in
``[1 - DRIFT, 1 + DRIFT]`` from the simulator's seeded generator and runs all
its lease timers at that rate (:class:`DriftingClock`): drift is then really
there, and the margin really needed.

- :class:`LeaseLeader`, once active, asks its acceptors for a lease
  (:class:`LeaseRequest`) and renews it every ``RENEW``; the lease is valid
  from a majority of grants (:class:`LeaseGrant`) until the timer of that
  request fires.  A read request (:class:`ReadRequest`) is answered
  (:class:`ReadReady`) with the highest slot it has a proposal for: every
  write that completed was chosen at this ballot or before it, so its slot
  is among the leader's proposals (by ``pmax`` at adoption, or proposed by
  the leader itself).  Without a valid lease it keeps the request until it
  has one.
- :class:`LeaseAcceptor` grants a lease only for its current ballot, and
  ignores a p1a with a higher ballot while any promise is running (the
  other leader's scout retries later).  After a crash it cannot know
  whether it promised something, so it keeps the longest promise
  (``MAX_LEASE``) first.
- :class:`LeaseReplica` sends reads to the leaders and waits for the slot
  it is given (the waiting, gap filling and reconfiguration checks are
  :class:`~paxos_lit.variants.read_only.ReadReplica`'s).

**What we measured** (:func:`compare`, :func:`failover`,
:func:`margin_demo`; ``python bench/bench_variants.py``, seed 1, the
configuration of :mod:`read_only`).  A leased read is a request, a read
request to each of the two leaders, one answer and the response: 7.1
messages per operation at 90 % reads (6.1 with reads only) against 8.8
for quorum reads and 12.8 through consensus; reads take 4.3 time units on
average (consensus: 6.0).  The renewals cost about 0.6 messages per time
unit (a request and a grant per acceptor every ``RENEW``), with or without
load.  The price shows on failure: when the lease holder crashes at time
40, the longest read takes 50.4 with leases against 22.7 with quorum
reads (the longest write 48.2 against 26.8), because no one may adopt a
new ballot until the acceptors' promises run out.  And the margin matters:
a leader that trusts its lease ten times too long, cut off from the
acceptors, returned stale reads in 12 of 40 runs; the correct lease in none.
"""

from __future__ import annotations

from typing import NamedTuple

from ..acceptor import Acceptor
from ..leader import Leader
from ..messages import register
from ..types import Ballot, Command, ProcessId, Slot
from . import harness
from .read_only import ReadReplica, read_config


# -- messages -------------------------------------------------------------------------------
class LeaseRequest(NamedTuple):
    """Leader -> acceptors: promise not to adopt a higher ballot than
    ``ballot`` for ``duration`` (of your clock).  ``seq`` numbers the request."""

    src: ProcessId
    ballot: Ballot
    seq: int
    duration: float


class LeaseGrant(NamedTuple):
    """Acceptor -> leader: promised, for request ``seq`` at ``ballot``."""

    src: ProcessId
    ballot: Ballot
    seq: int


class ReadRequest(NamedTuple):
    """Replica -> leaders: up to which slot must I perform before answering
    the read ``command``?"""

    src: ProcessId
    command: Command


class ReadReady(NamedTuple):
    """Leader (holding a lease) -> replica: perform up to ``slot``, then answer."""

    src: ProcessId
    command: Command
    slot: Slot


register(LeaseRequest, seq=harness.decode_seq, duration=harness.decode_duration)
register(LeaseGrant)
register(ReadRequest)
register(ReadReady)


# -- time ------------------------------------------------------------------------------------
def lease_timeout(lease: float, drift: float) -> float:
    """How long (on its own clock) a leader may trust a lease of ``lease``
    (on the acceptors' clocks) when every clock's rate is within ``1 +- drift``
    of real time: ``lease * (1 - drift) / (1 + drift)`` (see the module
    docstring)."""
    if not 0 <= drift < 1:
        raise ValueError(f"drift must be in [0, 1), got {drift!r}")
    return lease * (1 - drift) / (1 + drift)


class DriftingClock:
    """A role's clock that drifts: ``rate`` (drawn once from the driver's
    seeded generator, in ``[1 - DRIFT, 1 + DRIFT]``) is how fast it runs
    against real (virtual) time, and ``local_timer(d, tag)`` fires after
    ``d`` units of *this* clock, that is ``d / rate`` of real time."""

    #: The drift bound rho: every clock's rate is within 1 +- DRIFT.
    DRIFT = 0.05
    #: This process's clock rate against real time (drawn at its first timer,
    #: so that building the processes draws nothing from the generator).
    rate = None

    def local_timer(self, duration: float, tag: str) -> None:
        if self.rate is None:
            self.rate = 1.0 + self.DRIFT * (2.0 * self.env.rand() - 1.0)
        self.env.set_timer(duration / self.rate, tag)


# -- acceptors -----------------------------------------------------------------------------------
class LeaseAcceptor(DriftingClock, Acceptor):
    """The paper's acceptor that grants leases (PMMC section 4, "Read-Only Commands")."""

    #: The longest lease it grants (its clock): also how long it waits after
    #: a crash before adopting any higher ballot.
    MAX_LEASE = 30.0

    def __init__(self, pid, env):
        super().__init__(pid, env)
        # promises: how many lease promises are still running (each ends
        #   with its own timer); while any runs, no higher ballot is adopted.
        self.promises = 0
        # recovering: restarted after a crash (it may have promised before).
        self.recovering = False

    def start(self) -> None:
        if self.recovering:
            # It cannot know what it promised before the crash: keep the
            # longest promise it could have made.
            self.promises += 1
            self.local_timer(self.MAX_LEASE, "promise")

    def restore(self, state) -> None:
        super().restore(state)
        self.recovering = True

    def on_P1a(self, msg) -> None:
        """As the paper's acceptor, except that while a lease promise runs it
        does not adopt a higher ballot (nor answer: the scout asks again)."""
        if msg.ballot > self.ballot_num and self.promises:
            return
        super().on_P1a(msg)

    def on_LeaseRequest(self, msg: LeaseRequest) -> None:
        """Grant a lease to the ballot it has adopted: promise, for
        ``duration`` of its own clock, not to adopt a higher one."""
        if msg.ballot != self.ballot_num or msg.duration > self.MAX_LEASE:
            return
        self.promises += 1
        self.local_timer(msg.duration, "promise")
        self.env.send(msg.src, LeaseGrant(self.id, msg.ballot, msg.seq))

    def on_timer(self, tag: str) -> None:
        if tag == "promise":
            self.promises -= 1


# -- leaders ------------------------------------------------------------------------------------
class LeaseLeader(DriftingClock, Leader):
    """The paper's leader that holds a lease while active and answers reads."""

    #: The lease it asks for (acceptors' clocks) and how often it renews (its clock).
    LEASE = 30.0
    RENEW = 10.0

    def __init__(self, pid, env, acceptors, replicas, policy="backoff"):
        super().__init__(pid, env, acceptors, replicas, policy)
        # lease_seq: the number of the latest lease request sent.
        self.lease_seq = 0
        # grants: request number -> acceptors that granted it (while it may count).
        self.grants: dict = {}
        # valid: the request whose majority of grants makes the lease valid
        #   now, or None (no lease).
        self.valid = None
        # waiting: read command -> replica, reads asked before the lease was valid.
        self.waiting: dict = {}

    def lease_timeout(self) -> float:
        """How long a request's lease lasts on this leader's clock."""
        return lease_timeout(self.LEASE, self.DRIFT)

    def _lease_round(self) -> None:
        self.lease_seq += 1
        k = self.lease_seq
        self.grants[k] = set()
        msg = LeaseRequest(self.id, self.ballot_num, k, self.LEASE)
        for a in self.acceptors:
            self.env.send(a, msg)
        self.local_timer(self.lease_timeout(), f"lease-expire:{k}")
        self.local_timer(self.RENEW, f"lease-renew:{k}")

    def _drop_lease(self) -> None:
        self.valid = None
        self.grants.clear()

    def on_Adopted(self, msg) -> None:
        """As the paper's leader; on becoming active, ask for a lease."""
        was = self.active
        super().on_Adopted(msg)
        if self.active and not was:
            self._drop_lease()
            self._lease_round()

    def on_Preempted(self, msg) -> None:
        super().on_Preempted(msg)
        if not self.active:
            self._drop_lease()

    def on_LeaseGrant(self, msg: LeaseGrant) -> None:
        """A majority of grants for one request, before its timer fired,
        makes the lease valid (until that timer fires)."""
        granted = self.grants.get(msg.seq)
        if not self.active or msg.ballot != self.ballot_num or granted is None:
            return
        granted.add(msg.src)
        if len(granted) > len(self.acceptors) / 2 and (self.valid is None or msg.seq > self.valid):
            self.valid = msg.seq
            for c, replica in self.waiting.items():
                self.env.send(replica, ReadReady(self.id, c, self._point()))
            self.waiting.clear()

    def _point(self) -> int:
        return max(self.proposals, default=0)

    def on_ReadRequest(self, msg: ReadRequest) -> None:
        """With a valid lease, tell the replica the highest slot proposed so
        far (no write can have completed in a slot the leader does not know);
        without one, keep the request until it has one (a passive leader may
        become active; the replica asks every leader, so whoever has the
        lease answers first)."""
        if self.active and self.valid is not None:
            self.env.send(msg.src, ReadReady(self.id, msg.command, self._point()))
        else:
            self.waiting[msg.command] = msg.src

    def on_timer(self, tag: str) -> None:
        if tag.startswith("lease-expire:"):
            k = int(tag.split(":")[1])
            self.grants.pop(k, None)
            if self.valid == k:
                self.valid = None
        elif tag.startswith("lease-renew:"):
            if self.active and int(tag.split(":")[1]) == self.lease_seq:
                self._lease_round()
        else:
            super().on_timer(tag)


# -- replicas -------------------------------------------------------------------------------------
class LeaseReplica(ReadReplica):
    """Sends each read to the leaders; the lease holder says up to which
    slot to perform before answering."""

    def _targets(self, config) -> tuple:
        return self.first_leaders if config is None else config.leaders

    def _ask(self, c, read) -> None:
        msg = ReadRequest(self.id, c)
        for leader in read.targets:
            self.env.send(leader, msg)

    def on_ReadReady(self, msg: ReadReady) -> None:
        self._at_point(msg.command, msg.slot)


#: Leased reads: every role but the client changes.
ROLES = {"acceptor": LeaseAcceptor, "leader": LeaseLeader, "replica": LeaseReplica}


def compare(seed: int = 1, *, read_fraction: float = 0.9, commands: int = 40) -> dict:
    """Leased reads against quorum reads and reads through consensus
    (:func:`paxos_lit.variants.read_only.compare`), plus the lease's own
    costs: ``lease_messages`` (requests and grants sent) and
    ``lease_messages_per_time`` (per unit of virtual time)."""
    from .read_only import compare as read_compare

    out = read_compare(seed, read_fraction=read_fraction, commands=commands)
    m = out["lease"]
    lease_msgs = m["messages"].get("LeaseRequest", 0) + m["messages"].get("LeaseGrant", 0)
    out["lease_messages"] = lease_msgs
    out["lease_messages_per_time"] = round(lease_msgs / m["virtual_time"], 3)
    return out


def failover(seed: int = 1, *, crash_at: float = 40.0, down: float = 100.0,
             read_fraction: float = 0.9, commands: int = 40) -> dict:
    """What a lease costs when its holder fails: the active leader crashes
    at ``crash_at`` and recovers ``down`` later.  Compares the longest read
    and write latencies with quorum reads and with leases (a new leader must
    wait for the acceptors' promises to run out).  Returns ``{"seed",
    "crash_at", "quorum_read": m, "lease": m}`` (``m`` as in
    :func:`harness.read_run`, with ``crashed`` naming the leader)."""
    from .read_only import ROLES as QUORUM

    config = read_config(commands)
    out = {"seed": seed, "crash_at": crash_at}
    for name, roles in (("quorum_read", QUORUM), ("lease", ROLES)):
        out[name] = harness.read_run(roles, config, seed, read_fraction=read_fraction,
                                     crash_active_at=crash_at, down=down)
    return out


# -- learning from bugs: trusting a lease too long ------------------------------------------------
class OverconfidentLeader(LeaseLeader):
    """DEFECT (for teaching): trusts each lease ten times as long as the
    acceptors keep their promise, as if clocks could drift without bound.
    Cut off from the acceptors, it keeps answering reads after another
    leader has taken over and completed writes it does not know of."""

    def lease_timeout(self) -> float:
        return 10 * self.LEASE


def margin_demo(seeds=range(40), *, read_fraction: float = 0.9) -> dict:
    """Why the lease must end on the leader's clock before it can end on
    the acceptors': the active leader ``l2`` (with ``r1`` and client ``c1``)
    is cut off from everyone else (``l1``, the acceptors, ``r2``, clients
    ``c2`` and ``c3``) at time 20 until 400, while ``l1`` takes over once the
    promises run out.  Runs :data:`ROLES` and the
    :class:`OverconfidentLeader` on the same plan for each seed; returns,
    per variant, the seeds whose history is not linearizable, and the runs
    with an invariant violation or an unanswered command."""
    from ..sim.config import SimConfig
    from ..sim.faults import Action, FaultPlan

    config = SimConfig(replicas=2, leaders=2, acceptors=3, clients=3, commands=40, keys=1)
    plan = FaultPlan((Action(at=20.0, action="partition",
                             groups=(("l2", "r1", "c1"),
                                     ("l1", "a1", "a2", "a3", "r2", "c2", "c3"))),
                      Action(at=400.0, action="heal")))
    out = {"plan": plan.to_json(), "config": config.to_json()}
    overconfident = dict(ROLES, leader=OverconfidentLeader)
    for name, roles in (("lease", ROLES), ("overconfident", overconfident)):
        stale, broken = [], []
        for seed in seeds:
            sim = harness.run(roles, config, seed, plan, read_fraction=read_fraction)
            s = harness.summary(sim)
            if s["linearizable"] is False:
                stale.append(seed)
            if s["violations"] or s["completed"] < s["requested"]:
                broken.append(seed)
        out[name] = {"runs": len(list(seeds)), "not_linearizable": stale, "broken": broken}
    return out
