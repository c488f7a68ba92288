"""Reads without consensus: one round trip to the acceptors (PMMC 4.5, "Read-Only Commands").

**What the paper says** (in our words; PMMC section 4, "Paxos Made
Pragmatic", subsection "Read-Only Commands").  The paper's replicas treat a
read like any other command: it takes a slot, a commander, a p2a/p2b round
at the acceptors, and a pvalue at each of them.  Answering from one
replica's current state instead would be cheap but wrong: that replica may
lag behind a write that already completed, and the client would read a
stale value (not linearizable).  A read need not be *ordered* among the
writes by consensus; it needs a point in the log that is at least as late
as every write that completed before the read began.  The paper notes that
finding that point through the leader (checking that its ballot is still
current) costs a round trip to the acceptors, a scout per read, which is
why it turns to leases (:mod:`paxos_lit.variants.leases`).

**Our design: a quorum read.**  A write that completed was chosen, so a
majority of acceptors accepted a pvalue for its slot.  Any majority meets
that one.  So a replica that receives a read asks every acceptor for the
highest slot it has accepted anything for (:class:`ReadProbe`, answered by
:class:`ProbeReply`), waits for a majority, takes the maximum ``point``,
waits until it has performed every slot up to ``point``, and answers from
its state.  One round trip, no leader, no slot, no pvalue stored.

Why it is linearizable: put the read after the writes of every slot the
replica performed when it answers.  Every write that completed before the
read began has a slot <= ``point`` (majorities intersect), so the read sees
it; every write it sees was performed, so it had begun before the read
answered; and a later read has a ``point`` at least as high (the slots this
read waited for were chosen before it answered).

Two details: the replica fills gaps up to ``point`` with no-op proposals
when it stalls (a slot accepted by a minority may otherwise never be
decided), and a reconfiguration moves the log to new acceptors, so after
reaching ``point`` the replica checks whether a reconfiguration took effect
on the way; if so it asks the new acceptors too, from the first slot they
own (:class:`ReadReplica` does that for any way of finding the point).

**What we measured** (:func:`compare`, ``python bench/bench_variants.py``;
seed 1: 2 replicas, 2 leaders, 3 acceptors, 3 clients x 40 operations, 90 %
reads, network delays of 0.5 to 1.5 per message).  Through consensus a read
costs a slot and about as much as a write: 12.8 messages per operation,
reads taking 6.0 time units on average, 120 slots decided.  With quorum
reads: 8.8 messages per operation (a read is a request, three probes,
three replies and a response), reads taking 4.0, and only the 15 writes
take slots.  With reads only: 12.6 against 8.3 messages per read.  All
histories linearizable, no invariant broken; over 200 random deployments
under faults (with reconfigurations) neither.
"""

from __future__ import annotations

from typing import NamedTuple

from ..acceptor import Acceptor
from ..messages import Propose, Response, register
from ..replica import Replica
from ..sim.config import SimConfig
from ..types import NOOP, WINDOW, Command, ProcessId, Slot, is_reconfig
from . import harness


# -- messages ------------------------------------------------------------------------------
class ReadProbe(NamedTuple):
    """Replica -> acceptors: what is the highest slot you accepted a pvalue for?
    (``command`` is the read it is asked for, to match the reply.)"""

    src: ProcessId
    command: Command


class ProbeReply(NamedTuple):
    """Acceptor -> replica: ``slot`` is the highest slot it accepted a pvalue
    for (0 if none)."""

    src: ProcessId
    command: Command
    slot: Slot


register(ReadProbe)
register(ProbeReply)


# -- acceptors -------------------------------------------------------------------------------
class ProbeAcceptor(Acceptor):
    """The paper's acceptor that also answers read probes."""

    def __init__(self, pid, env):
        super().__init__(pid, env)
        # top: the highest slot it accepted a pvalue for (0: none).
        self.top = 0

    def on_P2a(self, msg) -> None:
        super().on_P2a(msg)
        if msg.pvalue.slot > self.top and msg.pvalue in self.accepted:
            self.top = msg.pvalue.slot

    def on_ReadProbe(self, msg: ReadProbe) -> None:
        """Tell the replica the highest slot accepted here: a command chosen
        before the probe arrived has its slot accepted at a majority."""
        self.env.send(msg.src, ProbeReply(self.id, msg.command, self.top))

    def restore(self, state) -> None:
        super().restore(state)
        self.top = max((pv.slot for pv in self.accepted), default=0)


# -- replicas ----------------------------------------------------------------------------------
class _Read:
    """One read in progress at a replica."""

    __slots__ = ("config_slot", "targets", "waitfor", "point", "phase", "n")

    def __init__(self, config_slot, targets, floor, n):
        self.config_slot = config_slot  # slot of the reconfiguration it follows (0: initial)
        self.targets = tuple(targets)   # whom it asks: acceptors (quorum read) or leaders (lease)
        self.waitfor = set(targets)     # who has not answered yet
        self.point = floor              # perform every slot up to here before answering
        self.phase = "ask"              # "ask", then "wait" (for slot_out > point)
        self.n = n                      # its number at this replica (names its retry timer)


class ReadReplica(Replica):
    """A replica that serves reads (``get``) at a point found without
    consensus; writes go through Paxos as in the paper.

    Subclasses say whom to ask (``_targets``) and send the question
    (``_ask``); when enough answers arrived they call ``_at_point``.  This
    class waits for the point, fills gaps, follows reconfigurations, and
    answers."""

    #: Virtual time before asking again whoever has not answered a read.
    READ_RETRY = 10.0

    def __init__(self, pid, env, leaders, window=WINDOW):
        super().__init__(pid, env, leaders, window)
        # reads: read command -> its _Read, until answered.
        self.reads: dict = {}
        # reconfigs: (slot, Config) of each reconfiguration performed, in order.
        self.reconfigs: list = []
        # asked: how many reads it has started (numbers their retry timers).
        self.asked = 0

    # -- whom to ask: subclasses --------------------------------------------------
    def serves_reads(self) -> bool:
        """Whether reads bypass consensus (else they go through it, as in the paper)."""
        return True

    def _targets(self, config) -> tuple:
        raise NotImplementedError

    def _ask(self, c: Command, read: _Read) -> None:
        raise NotImplementedError

    # -- the read path -------------------------------------------------------------------
    def on_Request(self, msg) -> None:
        """A ``get`` is served by the read path (answered again from
        ``results`` if it is a retransmission); anything else goes through
        Paxos as in the paper (PMMC Fig. 1)."""
        c = msg.command
        if c.op[0] != "get" or not self.serves_reads():
            super().on_Request(msg)
        elif c in self.results:
            self.env.send(c.client, Response(self.id, c, self.results[c]))
        elif c not in self.reads:
            self._begin(c, 0)

    def _config(self):
        """(slot of the latest reconfiguration performed, its Config), or (0, None)."""
        return self.reconfigs[-1] if self.reconfigs else (0, None)

    def _begin(self, c, floor) -> None:
        slot, config = self._config()
        if slot:
            # Slots before slot + WINDOW belong to older configurations: all
            # of them must be performed first.
            floor = max(floor, slot + self.window - 1)
        self.asked += 1
        read = self.reads[c] = _Read(slot, self._targets(config), floor, self.asked)
        self._ask(c, read)
        self.env.set_timer(self.READ_RETRY, f"read:{self.asked}")

    def _at_point(self, c, point) -> None:
        """Enough answers: ``point`` is at least as late as every write that
        completed before the read began; wait for it."""
        read = self.reads.get(c)
        if read is None or read.phase != "ask":
            return
        read.point = max(read.point, point)
        read.phase = "wait"
        self._serve()

    def _serve(self) -> None:
        """Answer every read whose point is performed, unless a
        reconfiguration took effect meanwhile: then ask the new processes."""
        ready = [c for c, r in self.reads.items() if r.phase == "wait" and r.point < self.slot_out]
        for c in ready:
            read = self.reads[c]
            if self._config()[0] != read.config_slot:
                del self.reads[c]
                self._begin(c, read.point)
                continue
            del self.reads[c]
            value = self.state.apply(c.op)  # a get: reads, changes nothing
            self.results[c] = value
            self.env.send(c.client, Response(self.id, c, value))

    def on_Decision(self, msg) -> None:
        super().on_Decision(msg)
        self._serve()

    def _perform(self, c) -> None:
        if is_reconfig(c):
            self.reconfigs.append((self.slot_out, c.op[1]))
        super()._perform(c)

    def on_timer(self, tag: str) -> None:
        """The paper's stall check (retry undecided slots), plus: propose
        no-ops for undecided slots up to a read's point, so that the point
        gets decided.  And every READ_RETRY, ask again whoever has not
        answered a read (a lost message, or no one able to answer yet)."""
        if tag.startswith("read:"):
            n = int(tag.split(":")[1])
            for c, read in self.reads.items():
                if read.n == n and read.phase == "ask":
                    self._ask(c, read)
                    self.env.set_timer(self.READ_RETRY, tag)
                    break
            return
        stalled = self.slot_out == self.stall_mark
        top = max(self.decisions, default=0) + 1
        # The slots the paper's stall check below retries (see Replica.on_timer).
        retried = stalled and (self.requests or self.proposals or top > self.slot_out)
        start = self.slot_out
        if retried:
            start = min(max(self.slot_in, top), self.slot_out + self.window)
        super().on_timer(tag)
        if tag != "stall" or not self.reads or not stalled:
            return
        point = max((r.point for r in self.reads.values() if r.phase == "wait"), default=0)
        for s in range(max(start, self.slot_out), min(point + 1, self.slot_out + self.window)):
            if s not in self.decisions:
                msg = Propose(self.id, s, self.proposals.get(s, NOOP), True)
                for leader in self._leaders_for(s):
                    self.env.send(leader, msg)


class QuorumReadReplica(ReadReplica):
    """Reads by one round trip to a majority of acceptors (see the module
    docstring).  Needs the acceptors: :class:`~paxos_lit.variants.harness.VariantSimulator`
    passes them (``wants_acceptors``); without them reads go through Paxos."""

    wants_acceptors = True

    def __init__(self, pid, env, leaders, window=WINDOW, acceptors=()):
        super().__init__(pid, env, leaders, window)
        # acceptors: the initial configuration's acceptors (a tuple of ids).
        self.acceptors = tuple(acceptors)

    def serves_reads(self) -> bool:
        return bool(self.acceptors)

    def _targets(self, config) -> tuple:
        return self.acceptors if config is None else config.acceptors

    def _ask(self, c, read) -> None:
        msg = ReadProbe(self.id, c)
        for a in read.targets:
            if a in read.waitfor:
                self.env.send(a, msg)

    def on_ProbeReply(self, msg: ProbeReply) -> None:
        """Collect the highest accepted slot; at a majority, that is the point."""
        read = self.reads.get(msg.command)
        if read is None or read.phase != "ask" or msg.src not in read.waitfor:
            return
        read.point = max(read.point, msg.slot)
        read.waitfor.discard(msg.src)
        if len(read.waitfor) < len(read.targets) / 2:
            self._at_point(msg.command, read.point)


#: Quorum reads: replicas and acceptors change; leaders are the paper's.
ROLES = {"acceptor": ProbeAcceptor, "replica": QuorumReadReplica}


def read_config(commands: int = 40) -> SimConfig:
    """The configuration of the read comparisons: 2 replicas, 2 leaders, 3
    acceptors, 3 clients with ``commands`` operations each, reliable network."""
    return SimConfig(replicas=2, leaders=2, acceptors=3, clients=3, commands=commands)


def compare(seed: int = 1, *, read_fraction: float = 0.9, commands: int = 40) -> dict:
    """Reads through consensus (the paper), quorum reads, and leased reads
    (:mod:`paxos_lit.variants.leases`) on the same workload of
    ``read_fraction`` reads.  Returns ``{"seed", "read_fraction", "config",
    "paper": m, "quorum_read": m, "lease": m}``, each ``m`` as in
    :func:`harness.read_run` (messages per operation and by type, read and
    write latency in virtual time, slots decided, violations,
    linearizability)."""
    from .leases import ROLES as LEASES

    config = read_config(commands)
    out = {"seed": seed, "read_fraction": read_fraction, "config": config.to_json()}
    for name, roles in (("paper", None), ("quorum_read", ROLES), ("lease", LEASES)):
        out[name] = harness.read_run(roles, config, seed, read_fraction=read_fraction)
    return out
