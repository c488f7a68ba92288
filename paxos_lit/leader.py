"""The leader: proposes commands for slots (PMMC section 3.3, Fig. 8).

A leader owns a ballot.  It runs phase 1 with a scout; once a majority of
acceptors adopts the ballot the leader is *active* and runs phase 2 with one
commander per slot.  If another ballot overtakes its own, it is *preempted*,
goes passive, and tries again with a higher ballot.

Two policies decide *when* it tries again (PMMC section 3.6, liveness):

- ``naive``: at once, as in the paper's pseudocode.  Two leaders can then
  preempt each other forever (dueling) and nothing gets decided.
- ``backoff`` (default): it first watches the leader that preempted it,
  pinging it, and only starts a scout when that leader stops answering as
  active.  Its wait grows multiplicatively on every preemption and shrinks
  additively on every adoption (AIMD), with random jitter drawn from the
  driver's seeded generator, so two leaders that do collide drift apart.
"""

from __future__ import annotations

from .commander import Commander
from .messages import Adopted, Ping, Pong, Preempted, Propose
from .process import Process
from .scout import Scout
from .types import Ballot, PValue

POLICIES = ("naive", "backoff")


def pmax(pvalues) -> dict:
    """For each slot, the command of the highest-ballot pvalue (PMMC Fig. 8).

    These are the commands that may already have been chosen; proposing any
    other one for their slot could contradict a decision (invariant C2)."""
    best: dict = {}
    for b, s, c in pvalues:
        if s not in best or b > best[s][0]:
            best[s] = (b, c)
    return {s: c for s, (b, c) in best.items()}


class Leader(Process):
    id_prefix = "l"
    #: The children it spawns; a mutant leader may bring its own.
    scout_class = Scout
    commander_class = Commander
    #: ``backoff`` policy: bounds of the wait between checks (virtual time),
    #: and how much one adoption shortens it.
    BACKOFF_MIN = 5.0
    BACKOFF_MAX = 200.0
    BACKOFF_DECREASE = 5.0

    def __init__(self, pid, env, acceptors, replicas, policy="backoff"):
        super().__init__(pid, env)
        if policy not in POLICIES:
            raise ValueError(f"leader policy must be one of {POLICIES}, not {policy!r}")
        # acceptors, replicas: this leader's configuration (tuples of ids).
        self.acceptors = tuple(acceptors)
        self.replicas = tuple(replicas)
        # ballot_num: the ballot it works with; round 0 at first.
        self.ballot_num = Ballot(0, pid)
        # active: whether a majority adopted ballot_num (so it may run phase 2).
        self.active = False
        # proposals: slot -> the command it proposes for that slot.
        self.proposals: dict = {}
        # policy: "naive" or "backoff" (see the module docstring).
        self.policy = policy
        # timeout: the backoff policy's current wait (AIMD).
        self.timeout = self.BACKOFF_MIN
        # watched: the leader whose ballot preempted us, which we defer to.
        self.watched = None
        # heard: whether `watched` answered a Ping as active since our last check.
        self.heard = False
        # scouting: whether a scout for ballot_num is at work.
        self.scouting = False

    def start(self) -> None:
        """Spawn a scout for the initial ballot (PMMC Fig. 8)."""
        self._scout()

    def _scout(self) -> None:
        self.scouting = True
        self.env.spawn(self.scout_class, self.id, self.acceptors, self.ballot_num)

    def _command(self, slot, command) -> None:
        self.env.spawn(self.commander_class, self.id, self.acceptors, self.replicas,
                       PValue(self.ballot_num, slot, command))

    def on_Propose(self, msg: Propose) -> None:
        """Record a proposal for a slot that has none yet; if active, spawn a
        commander for it (PMMC Fig. 8).

        Not in the paper: a replica that has waited too long for a slot sends
        the proposal again marked ``retry``.  An active leader then spawns a
        commander for the command *it* holds for that slot: the same pvalue
        again, so its decision reaches replicas that missed it.  A passive
        leader takes the retry as a sign that whoever it defers to is not
        getting through, and stops deferring."""
        s = msg.slot
        if s not in self.proposals:
            self.proposals[s] = msg.command
            if self.active:
                self._command(s, msg.command)
        elif msg.retry and self.active:
            self._command(s, self.proposals[s])
        if msg.retry and not self.active:
            self.heard = False

    def on_Adopted(self, msg: Adopted) -> None:
        """Ballot b was adopted: for every slot where some acceptor accepted a
        command, adopt the highest-ballot one (pmax), spawn a commander for
        every proposal, and become active (PMMC Fig. 8; invariant C2)."""
        if msg.ballot != self.ballot_num:
            return  # a scout of an older ballot: its news is stale
        self.scouting = False
        self.proposals.update(pmax(msg.pvalues))
        # Sorted, so the order of spawns does not depend on set iteration.
        for s in sorted(self.proposals):
            self._command(s, self.proposals[s])
        self.active = True
        # Progress: shorten the backoff wait additively (AIMD).
        self.timeout = max(self.BACKOFF_MIN, self.timeout - self.BACKOFF_DECREASE)

    def on_Preempted(self, msg: Preempted) -> None:
        """If the preempting ballot b' is higher than ours, go passive and
        move to a ballot above b'; then start a new scout, at once (``naive``)
        or once the leader of b' seems gone (``backoff``) (PMMC Fig. 8)."""
        b = msg.ballot
        if b > self.ballot_num:
            self.active = False
            self.scouting = False
            self.ballot_num = Ballot(b.round + 1, self.id)
            if self.policy == "naive":
                self._scout()
            else:
                # Multiplicative increase: each preemption doubles the wait.
                self.timeout = min(self.BACKOFF_MAX, self.timeout * 2)
                self.watched = b.leader
                self.heard = b.leader != self.id  # a ballot of our own past life
                self._wait()

    def _wait(self) -> None:
        if self.watched != self.id:
            self.env.send(self.watched, Ping(self.id, self.ballot_num))
        # Jitter in [1, 2) x timeout: two leaders that collide drift apart.
        self.env.set_timer(self.timeout * (1 + self.env.rand()), "backoff")

    def on_timer(self, tag: str) -> None:
        """The backoff wait is over: keep deferring if the watched leader
        answered as active since the last check, else try our own ballot."""
        if self.active or self.scouting:
            return
        if self.heard:
            self.heard = False
            self._wait()
        else:
            self._scout()

    # Crash and recovery ------------------------------------------------------
    # Fix (tests helper): a recovered leader used to restart at ballot
    # (0, itself), so it could reuse a ballot of its previous life and
    # propose a different command for a slot at that same ballot: two
    # commanders at one (ballot, slot) (C1, then A4 and possibly R1; PMMC
    # section 3.3).  Its ballot is now durable, like an acceptor's state
    # (PMMC section 3.6, "state on disk"), and it restarts one round above it.
    def durable_state(self):
        return self.ballot_num

    def restore(self, state) -> None:
        self.ballot_num = Ballot(state.round + 1, self.id)

    def on_Ping(self, msg: Ping) -> None:
        """Tell a waiting leader whether we are alive and active."""
        self.env.send(msg.src, Pong(self.id, self.ballot_num, self.active))

    def on_Pong(self, msg: Pong) -> None:
        if msg.src == self.watched and msg.active:
            self.heard = True

    def observe(self):
        """What the trace records when it changes: ballot and activity."""
        return (self.ballot_num, self.active)
