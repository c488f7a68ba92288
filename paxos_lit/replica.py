"""The replica: keeps a copy of the application and applies decided commands
in slot order (PMMC section 3.1, Fig. 1).

A replica receives requests from clients, proposes them to the leaders for
free slots, and applies ("performs") the decisions in slot order, answering
the client.  Because every replica applies the same decided command in each
slot (R1) in order (R2, R3), all replicas hold the same state.

WINDOW bounds how far ahead of ``slot_out`` a replica proposes (R5).  That is
also what makes reconfiguration safe: a reconfiguration command decided for
slot s changes the leaders from slot s + WINDOW on, and by then every replica
has performed slot s (PMMC section 3.4).
"""

from __future__ import annotations

from .kvstore import KVStore
from .messages import Decision, Propose, Request, Response
from .process import Process
from .types import NOOP, WINDOW, is_reconfig


class Replica(Process):
    id_prefix = "r"
    #: Virtual time without progress after which the replica asks again for
    #: the slots it is waiting on (not in the paper; see ``on_timer``).
    STALL_AFTER = 15.0

    def __init__(self, pid, env, leaders, window=WINDOW):
        super().__init__(pid, env)
        # state: the application state (the replicated key-value store).
        self.state = KVStore()
        # slot_in: the next slot this replica will propose a command for.
        self.slot_in = 1
        # slot_out: the next slot whose decision it will perform.
        self.slot_out = 1
        # requests: commands received but not yet proposed (an ordered set).
        self.requests: dict = {}
        # proposals: slot -> command proposed for it, not yet decided.
        self.proposals: dict = {}
        # decisions: slot -> command decided for it.
        self.decisions: dict = {}
        # leaders: the leaders of the current configuration (a tuple of ids).
        self.leaders = tuple(leaders)
        # first_leaders: the leaders of the initial configuration; with the
        # reconfigurations in ``decisions`` they give each slot's leaders.
        self.first_leaders = self.leaders
        # window: the WINDOW of the paper (slots proposed ahead of slot_out).
        self.window = window
        # results: command -> its result, for every command performed; it is
        # how a retransmitted request gets its lost answer (not in the paper).
        self.results: dict = {}
        # seen: every command in requests, proposals or decisions (so a
        # retransmitted request is not proposed into a second slot).
        self.seen: set = set()
        # stall_mark: slot_out at the previous stall check.
        self.stall_mark = 0

    def start(self) -> None:
        self.env.set_timer(self.STALL_AFTER, "stall")

    def on_Request(self, msg: Request) -> None:
        """Queue a client's command for proposal (PMMC Fig. 1).

        A retransmission of a command already performed is answered again
        from ``results``; one already queued, proposed or decided is ignored."""
        c = msg.command
        if c in self.results:
            self.env.send(c.client, Response(self.id, c, self.results[c]))
        elif c not in self.seen:
            self.seen.add(c)
            self.requests[c] = None
            self._propose()

    def on_Decision(self, msg: Decision) -> None:
        """Record the decision; then, while the next slot to perform is
        decided, perform it, first re-queueing our own different proposal
        for that slot, which lost (PMMC Fig. 1; invariants R2, R3)."""
        s, c = msg.slot, msg.command
        if s not in self.decisions:
            self.decisions[s] = c
            self.seen.add(c)
        while self.slot_out in self.decisions:
            decided = self.decisions[self.slot_out]
            mine = self.proposals.pop(self.slot_out, None)
            if mine is not None and mine != decided:
                self.requests[mine] = None
            self._perform(decided)
        self._propose()

    def _propose(self) -> None:
        """Propose queued requests for free slots while slot_in is within
        WINDOW of slot_out (PMMC Fig. 1; invariant R5).  A reconfiguration
        decided WINDOW slots back switches the leaders first."""
        while self.slot_in < self.slot_out + self.window and self.requests:
            earlier = self.decisions.get(self.slot_in - self.window)
            if earlier is not None and is_reconfig(earlier):
                self.leaders = earlier.op[1].leaders
            if self.slot_in not in self.decisions:
                c = next(iter(self.requests))
                del self.requests[c]
                self.proposals[self.slot_in] = c
                msg = Propose(self.id, self.slot_in, c)
                for leader in self.leaders:
                    self.env.send(leader, msg)
            self.slot_in += 1

    def _perform(self, c) -> None:
        """Apply command c to the state and answer its client, unless it was
        already performed at a lower slot or only reconfigures; either way
        slot_out advances (PMMC Fig. 1; R4: slot_out never decreases)."""
        if c in self.results or is_reconfig(c) or c == NOOP:
            self.slot_out += 1
            return
        result = self.state.apply(c.op)
        self.results[c] = result
        self.slot_out += 1
        self.env.send(c.client, Response(self.id, c, result))

    def _leaders_for(self, slot) -> tuple:
        """The leaders of slot's configuration: set by the reconfiguration
        decided latest at a slot <= slot - WINDOW (PMMC section 3.4).  Every
        such slot is below slot_out, hence decided here, when slot <
        slot_out + WINDOW."""
        leaders, last = self.first_leaders, 0
        for s, c in self.decisions.items():
            if last < s <= slot - self.window and is_reconfig(c):
                leaders, last = c.op[1].leaders, s
        return leaders

    def on_timer(self, tag: str) -> None:
        """Not in the paper, which assumes no message is lost: if nothing was
        performed since the last check while work is waiting, propose again,
        marked ``retry``, for every undecided slot from slot_out up: our own
        proposal, or a no-op where we have none.  A lost decision, or one
        missed while crashed, is then sent again by the active leader."""
        top = max(self.decisions, default=0) + 1
        waiting = self.requests or self.proposals or top > self.slot_out
        if waiting and self.slot_out == self.stall_mark:
            # Fix (tests helper): a retry for slot s must go to the leaders of
            # slot s's configuration, not to the current ones.  Sending every
            # retry to ``self.leaders`` let the new leaders of a
            # reconfiguration decide, with the new acceptors, a slot the old
            # configuration was deciding (and the old leaders decide a slot
            # past s + WINDOW): two different commands for one slot, an R1
            # violation (PMMC section 3.4).  Slots at or beyond slot_out +
            # WINDOW are skipped: their configuration is not known yet, and
            # they are retried once slot_out comes within WINDOW of them.
            end = min(max(self.slot_in, top), self.slot_out + self.window)
            for s in range(self.slot_out, end):
                if s not in self.decisions:
                    msg = Propose(self.id, s, self.proposals.get(s, NOOP), True)
                    for leader in self._leaders_for(s):
                        self.env.send(leader, msg)
        self.stall_mark = self.slot_out
        self.env.set_timer(self.STALL_AFTER, "stall")
