"""The scout: phase 1 of Paxos on behalf of one leader (PMMC section 3.3, Fig. 6).

A scout tries to get ballot ``b`` adopted by a majority of acceptors and
collects every pvalue they have accepted on the way, so that its leader can
propose only commands that are consistent with anything already chosen
(invariant C2).  It ends by reporting ``adopted`` or ``preempted`` to its
leader and exiting.
"""

from __future__ import annotations

from .messages import Adopted, P1a, P1b, Preempted
from .process import Process


class Scout(Process):
    id_prefix = "s"
    #: Virtual time before re-sending p1a to acceptors that have not answered.
    #: The paper assumes reliable links; this retransmission is what makes a
    #: fair-loss link reliable enough (PMMC section 3.6, "fair links").
    RETRY_AFTER = 10.0

    def __init__(self, pid, env, leader, acceptors, ballot):
        super().__init__(pid, env)
        # leader: the leader that spawned this scout, and gets its verdict.
        self.leader = leader
        # acceptors: every acceptor of the configuration (a tuple of ids).
        self.acceptors = tuple(acceptors)
        # b: the ballot this scout tries to get adopted.
        self.b = ballot
        # waitfor: the acceptors that have not yet adopted b (a set of ids).
        self.waitfor = set(self.acceptors)
        # pvalues: every pvalue reported by the acceptors that adopted b.
        self.pvalues: set = set()

    def start(self) -> None:
        """Send <p1a, b> to every acceptor (PMMC Fig. 6)."""
        for a in self.acceptors:
            self.env.send(a, P1a(self.id, self.b))
        self.env.set_timer(self.RETRY_AFTER, "retry")

    def on_P1b(self, msg: P1b) -> None:
        """An acceptor that adopted b adds its accepted pvalues and leaves
        ``waitfor``; once fewer than half are left, b is adopted by a majority.
        An acceptor at another ballot b' means b was preempted (PMMC Fig. 6)."""
        if msg.ballot == self.b:
            self.pvalues |= msg.accepted
            self.waitfor.discard(msg.src)
            if len(self.waitfor) < len(self.acceptors) / 2:
                self.env.send(self.leader, Adopted(self.id, self.b, frozenset(self.pvalues)))
                self.env.exit()
        else:
            # Acceptors only ever report a ballot >= b, so b' > b here.
            self.env.send(self.leader, Preempted(self.id, msg.ballot))
            self.env.exit()

    def on_timer(self, tag: str) -> None:
        # Ask again only those that have not answered: a lost p1a or p1b.
        for a in self.acceptors:
            if a in self.waitfor:
                self.env.send(a, P1a(self.id, self.b))
        self.env.set_timer(self.RETRY_AFTER, "retry")
