"""The commander: phase 2 of Paxos for one slot (PMMC section 3.3, Fig. 7).

A commander asks the acceptors to accept one pvalue (b, s, c).  Once a
majority has, c is *chosen* for slot s and the commander tells every replica
the decision.  If any acceptor answers with a different ballot, b has been
overtaken and the commander tells its leader it was preempted.  At most one
commander is spawned per (ballot, slot) with a given command (invariant C1).
"""

from __future__ import annotations

from .messages import Decision, P2a, P2b, Preempted
from .process import Process


class Commander(Process):
    id_prefix = "c"
    #: Virtual time before re-sending p2a to acceptors that have not answered.
    RETRY_AFTER = 10.0

    def __init__(self, pid, env, leader, acceptors, replicas, pvalue):
        super().__init__(pid, env)
        # leader: the leader that spawned this commander.
        self.leader = leader
        # acceptors, replicas: the configuration it works in (tuples of ids).
        self.acceptors = tuple(acceptors)
        self.replicas = tuple(replicas)
        # pvalue: the (b, s, c) it asks the acceptors to accept.
        self.pvalue = pvalue
        # waitfor: the acceptors that have not yet accepted it (a set of ids).
        self.waitfor = set(self.acceptors)

    def start(self) -> None:
        """Send <p2a, (b, s, c)> to every acceptor (PMMC Fig. 7)."""
        msg = P2a(self.id, self.pvalue)
        for a in self.acceptors:
            self.env.send(a, msg)
        self.env.set_timer(self.RETRY_AFTER, "retry")

    def on_P2b(self, msg: P2b) -> None:
        """An acceptor at ballot b has accepted: once fewer than half are left
        in ``waitfor``, tell every replica <decision, s, c>.  An acceptor at
        another ballot means b was preempted (PMMC Fig. 7)."""
        b, s, c = self.pvalue
        if msg.ballot < b:
            # Not in the paper: this acceptor has not yet seen our phase 1 (its
            # p1a was lost or overtaken).  That is no preemption: wait for the
            # others (and retransmit) instead of giving the slot up.
            return
        if msg.ballot == b:
            self.waitfor.discard(msg.src)
            if len(self.waitfor) < len(self.acceptors) / 2:
                decision = Decision(self.id, s, c)
                for r in self.replicas:
                    self.env.send(r, decision)
                self.env.exit()
        else:
            self.env.send(self.leader, Preempted(self.id, msg.ballot))
            self.env.exit()

    def on_timer(self, tag: str) -> None:
        msg = P2a(self.id, self.pvalue)
        for a in self.acceptors:
            if a in self.waitfor:
                self.env.send(a, msg)
        self.env.set_timer(self.RETRY_AFTER, "retry")
