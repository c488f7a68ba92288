"""The acceptor: the memory of Paxos (PMMC section 3.3, Figure 5).

An acceptor promises never to accept a pvalue below the highest ballot it has
adopted, and never forgets what it accepted.  Those two facts are invariants
A1-A3 of the paper; together with majorities they make A4 and A5 hold and so
keep any two decisions for one slot equal (R1).

Its state is *durable*: a crash and recovery keep ``ballot_num`` and
``accepted`` (the "forgetful acceptor" mutant shows what happens otherwise).
"""

from __future__ import annotations

from .messages import P1a, P1b, P2a, P2b
from .process import Process
from .types import BOTTOM


class Acceptor(Process):
    id_prefix = "a"

    def __init__(self, pid, env):
        super().__init__(pid, env)
        # ballot_num: the highest ballot adopted so far (a Ballot; ⊥ at first).
        self.ballot_num = BOTTOM
        # accepted: every pvalue (ballot, slot, command) accepted so far (a set).
        self.accepted: set = set()

    def on_P1a(self, msg: P1a) -> None:
        """Adopt b if it is higher than any ballot adopted so far; either way,
        reply with the current ballot and everything accepted (PMMC Fig. 5;
        invariant A1: adopted ballots only increase)."""
        if msg.ballot > self.ballot_num:
            self.ballot_num = msg.ballot
        self.env.send(msg.src, P1b(self.id, self.ballot_num, frozenset(self.accepted)))

    def on_P2a(self, msg: P2a) -> None:
        """Accept the pvalue only if its ballot is the one currently adopted;
        either way, reply with the current ballot (PMMC Fig. 5; invariant A2).

        A commander whose ballot was overtaken learns it from the reply: the
        reply's ballot differs from its own."""
        pvalue = msg.pvalue
        if pvalue.ballot == self.ballot_num:
            self.accepted.add(pvalue)
        self.env.send(msg.src, P2b(self.id, self.ballot_num, pvalue.slot))

    def durable_state(self):
        # A3: an acceptor never loses what it accepted, not even in a crash.
        return (self.ballot_num, frozenset(self.accepted))

    def restore(self, state) -> None:
        self.ballot_num, accepted = state
        self.accepted = set(accepted)
