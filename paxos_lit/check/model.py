"""Multi-Paxos as a model for the explorer, driving the real role classes.

:func:`paxos_lit.check.explore.explore` visits every state a model can reach.
:class:`PaxosModel` is such a model for the whole PMMC protocol: its states
hold the *same* ``Acceptor``, ``Replica``, ``Leader``, ``Scout`` and
``Commander`` objects the simulator runs (or a student's or a mutant's
subclasses), and every step calls one of their handlers. The model plays the
network and the operating system for them through an ``Env`` that records
effects instead of scheduling them: ``send`` adds a message to the network,
``spawn`` creates and starts a child, ``set_timer`` arms a timer, ``exit``
removes the process, ``rand`` returns a fixed 0.0 (only the ``backoff``
policy's jitter reads it, and the model has no clock for jitter to move).

What a state holds (:class:`MState`)
------------------------------------
* ``procs``: every live process, encoded as ``(pid, class, field names,
  frozen field values)``. Encoding is the copy-on-write: a step decodes only
  the process it delivers to (a fresh object whose sets and dicts are fresh
  copies), runs the handler, and encodes it again, so states never share a
  mutable object. Measured on this machine, decoding and re-encoding a role
  costs about as much as ``copy.copy`` plus copying its containers, and the
  encoded tuple is needed anyway as the hashable key.
  Frozen forms: a set becomes a frozenset, a list a tuple, a ``KVStore`` its
  sorted items, a dict its items sorted by key. Sorting a dict is a sound
  canonicalisation because the roles never depend on a dict's insertion
  order (slot -> command maps are read with ``in``, ``get``, ``max`` and
  ``sorted``), with one exception that keeps its order: the replica's
  ``requests``, an ordered set whose first element is proposed next (see
  :data:`ORDERED_FIELDS`).
* ``net``: the messages in flight, a *multiset*: a frozenset of
  ``(dst, type name, message)`` keys plus ``extra``, the copies beyond the
  first of a key (empty unless duplication or retransmission made two equal
  messages). A plain set would merge a retransmitted message with the
  original still in flight and lose the second delivery, which is exactly
  the behaviour the "commander counts a duplicate reply twice" mutant needs.
  The type name is part of the key because two NamedTuple messages with
  equal fields compare equal whatever their class (``P1a`` and
  ``Preempted`` are both ``(src, ballot)``).
* ``timers``: armed timers ``(pid, tag)``, only when timers may fire (below).
* ``down``: crashed processes, each with the durable state it saved and, for
  an acceptor, what the invariant checker last saw of it (ballot and
  accepted pvalues), to check A1 and A3 on recovery.
* ``children``: how many children each process has spawned, because child
  ids (``l1.s2``, ``l1.c5``) are numbered as in the simulator, so a
  counterexample names the same processes in both.
* ghost variables of the invariant checker (:class:`InvariantChecker` keeps
  the same ones): ``decided`` (slot -> first command decided at a replica,
  for R1), ``chosen`` (slot -> lowest ballot at which a majority accepted,
  and its command, for A5 and C2) and ``commanders`` ((ballot, slot) ->
  command of the first commander, for C1).
* ``used``: how much of each fault budget the path has spent (crashes,
  drops, duplications, timer firings), and ``bad``: the invariants the step
  into this state broke.

Steps (:class:`Step`, the labels of a counterexample)
-----------------------------------------------------
``deliver`` a message in flight (to a crashed process it is lost, as in the
simulator); ``drop`` or ``dup`` one (within the ``drops`` / ``dups``
budgets; never a message between a leader and its own scouts and commanders,
which the simulator delivers locally); fire a ``timer`` (within ``timers``);
``crash`` a replica, leader or acceptor (within ``crashes``) and ``recover``
it. A step names the message itself (destination, type and every field), the
timer (process and tag) or the process, which is what
:mod:`paxos_lit.check.replay` needs to pick the same event from the
simulator's queue.

Bounds
------
* ``max_ballot``: ballot rounds ``0..max_ballot``. A leader whose next
  ballot would exceed it still spawns its scout (the role code is not
  changed), but that scout's ``P1a`` messages are never delivered: the
  leader has, in effect, stopped scouting. ``max_ballot=1`` is "2 ballot
  rounds".
* ``commands``: the workload, N distinct commands from clients c1..cN
  (``append x ci.1``: appends, so that a command applied twice or out of
  order shows in the replica's state, R3), handed to the replicas up front as
  ``Request`` messages delivered before the first step (command i to replica
  i mod R, or with ``spread="all"`` every command to every replica, replica j
  getting them rotated by j, like clients that resend to every replica).
  Clients are not modelled: responses leave the system.
* ``upfront_proposals`` (off by default): also deliver the replicas' first
  proposals to the leaders before the first step, leader j hearing replica
  j first, so every leader knows the workload from the start (and two
  leaders may favour different commands for one slot). A narrower workload, not a reduction: the
  catalogue of mutants uses it to keep searches for deep counterexamples
  short; the paths found are still real and replay in the simulator.
* ``crashes``, ``drops``, ``dups``, ``timers``: per-path budgets (0 by
  default); ``max_depth`` and ``max_states`` are the explorer's.

Timers
------
The standard configuration has no loss and the paper's ``naive`` leaders,
which set no timers. The timers left are the scouts', commanders' and
replicas' retransmissions (not in the paper: they make fair-loss links
reliable). Without loss every message they would resend is still in flight
or already answered, so they only duplicate messages; and each one re-arms
itself, so with timers the state space would have no quiescent states and be
unbounded. So timers are recorded and may fire only when the ``timers``
budget is positive (at most that many firings per path); with the default 0
the model is the paper's protocol on reliable links, and the ``dup`` budget
is the explicit way to explore duplicates.

Invariants
----------
Checked after each step exactly as the simulator's
:class:`~paxos_lit.invariants.InvariantChecker` checks them after each event
(same rules, same ghost variables, same moments: after a delivery to an
acceptor or replica, at a commander's spawn, at a recovery), so a
counterexample replayed in the simulator breaks the same invariant at the
same step: R1-R5, A1-A5, C1-C2. Two more (:data:`MODEL_INVARIANTS`):

* ``Chosen``: a replica learns a decision ``(s, c)`` only if a majority of
  acceptors accepted ``c`` for ``s`` at one ballot. That is the paper's
  definition of a chosen command and the step R1 rests on; checking it
  catches a commander that decides too early at the decision itself, before
  a second ballot has to choose another command for R1 to break.
* ``Liveness``: (a) a passive ``naive`` leader within the ballot bound
  always has a scout at work for its ballot, or that scout's verdict on the
  way (PMMC Fig. 8: a preempted leader scouts again at once); (b) in a
  *quiescent* state (no message can be delivered, no timer can fire) of a
  path without crash or loss, every naive leader is active unless it ran
  out of ballot rounds, and if some leader is active, every replica has
  performed every command of the workload. The paper's protocol guarantees
  these on reliable links: every scout and commander ends (adopted,
  preempted, or decided) once its messages are delivered, and an active
  leader has a commander at its ballot for every proposal. (A ``backoff``
  leader may rightly stay passive while it defers to an active one, so (a)
  and the first half of (b) apply to naive leaders only.)

This check found a real gap while the model was being written: the
commander used to treat a p2b carrying a *lower* ballot (from an acceptor
that had not yet seen the p1a of its ballot, the p2a having overtaken it)
as a preemption and exit, and its leader then ignored that stale
preemption, so the slot waited for the replica's retry timer. The
commander now ignores such replies.

Reductions (all sound) and what is not reduced
----------------------------------------------
1. Dict fields are stored sorted (see above): the same role state is one
   state whatever order its dict was filled in.
2. A message addressed to a scout or commander that has exited, or to a
   crashed leader's children, is removed from the network at once (and one
   sent to such a process is never added): child ids are never reused, so
   the simulator would deliver it to nobody. Responses to clients are not
   kept (clients are not modelled).
3. Requests (and, with ``upfront_proposals``, the first proposals) are
   delivered during setup: a choice of workload, see Bounds.

The three above are always on. Six more apply with ``reduce=True``
(``check_model(..., reduce=True)``; ``paxos-lit check`` uses them unless
``--no-reduce``). Each keeps every verdict: a state is left out only when
one that is kept behaves the same for every invariant, and every step kept
is a sequence of real deliveries, so a reduced counterexample is a path of
the full model and replays in the simulator one delivery at a time.

4. Dead messages: a message whose delivery can change nothing, now or
   later, is never delivered and is left out of the state's key. Decided
   for the stock classes only (:meth:`PaxosModel.dead`): a p1a from a scout
   that has exited, at or below the acceptor's ballot (acceptor ballots
   never decrease, A1), and a p2a from an exited commander below it; a p2b
   below the commander's ballot (it ignores those); and, without crashes
   (which make a leader or replica forget): a first proposal for a slot the
   leader already holds, a decision the replica already has, a verdict on
   an older ballot or a preemption by a ballot the leader has already
   passed (its ballot only grows), and anything sent to a *retired* naive
   leader, one past the last ballot round (its scout's p1a is never
   delivered, so it can never be adopted, and no higher ballot exists to
   preempt it; its proposals, never read again, are left out of the key).
5. Merged invisible steps, when no fault and no timer can come between
   (``crashes``, ``drops``, ``dups`` and ``timers`` all 0): a delivery to
   a scout, commander or leader that only changes fields of that process
   which no invariant reads (a p1b or p2b short of a majority, a proposal
   to a passive leader) sends nothing, so it commutes with every step of
   every other process and can be postponed until that process's next
   visible delivery. The model does exactly that: one step is every order
   of every subset of a process's invisible messages, then a visible one,
   and its label is the tuple of those deliveries. A state where only
   invisible deliveries are left is quiescent for the liveness check.
6. Acceptor symmetry: the acceptors run one class and every leader, scout
   and commander treats them alike (all are asked, any majority counts), so
   states equal up to renaming acceptors share one key
   (:meth:`PaxosModel.reduced_key`). The key also leaves out the pvalues of
   a p1b that refuses a stock scout's ballot (it reads them only at its own
   ballot). This assumes an acceptor class that does not look at its own id.
7. Persistent sets (partial-order reduction, Godefroid 1996), with step
   merging: in a state, explore only a subset of the steps when every path
   that avoids them consists of steps independent of them (deliveries to
   other processes, which commute with them). Four such subsets
   (:meth:`PaxosModel._ample`):
   a. one delivery to a *settled* acceptor, whose ballot is at or above
      every ballot a p1a could still bring it (none in flight above it, and
      none from a future scout: :meth:`PaxosModel._future_ballots` bounds
      their ballots by the rule that a preempted leader scouts at round
      b.round + 1). Such an acceptor's ballot is final, and then every
      delivery to it commutes with every other: p2as only add to a set and
      are answered with the ballot, and a refused p1a's pvalues are not
      read (6);
   b. one *refusal*: a p1a or p2a below its acceptor's ballot beta, from
      a live scout or commander of a leader L, when every ballot that could
      still lift beta (a p1a in flight to that acceptor, or a future
      scout's) is L's own (:meth:`PaxosModel._refusal`). It is refused
      whenever it comes; only its reply's ballot depends on when (beta now,
      one of L's later ballots y after such a p1a). Either reply makes the
      sender exit with a Preempted to L, and a Preempted(y) exists only
      once L is at y, where L ignores it and Preempted(beta) alike. So the
      paths where it comes later end where the ones where it comes first
      end, with one ignored (dead, so left out of the key) Preempted in
      place of another. In the standard configuration this is, say, l1's
      commander at (0,l1) refused by an acceptor at (0,l2), while only
      l1's own future scout at (1,l1) could still lift it;
   c. the merged steps of a *closed* scout or commander, none of whose
      p1a or p2a is still in flight: nothing will ever be sent to it again,
      so nothing outside its own deliveries depends on them;
   d. one decision to a *finished* replica: the only replica, stock (as
      every leader), with nothing left to propose. With one replica no
      slot ever gets two commands, so it never re-queues a displaced
      command and never proposes again, and its decisions commute with
      each other and with every other step (:meth:`PaxosModel._finished`).
   Why verdicts are kept: the model's steps cannot cycle (every delivery
   consumes a message; a reply is smaller than its request, and spawns,
   exits, ballots and slots only grow), so persistent sets reach every
   state where nothing more can happen, by a reordering of any path to it;
   the rules only pick steps that leave the ``Liveness`` scouting check
   unchanged; and the checks that read the ghost variables give the same
   verdict in every order of independent steps: A4 and A5 compare every
   pair of votes whichever comes first, C2 is checked both when a commander
   is spawned and when a majority forms (the checker does both), C1 and R1
   are about one process's own steps, and ``Chosen`` can fail for the
   stock commander, which decides only after a majority answered, only
   together with A5. The reduction assumes the stock acceptor, scout and
   commander and the stock leader's ballot methods (its start and
   preemption); a replica of one's own, or a leader that changes phase 2
   only (the pmax mutant), keeps it (``PaxosModel.por``). With it, a
   counterexample is shortest among the paths explored, not necessarily
   among all.
8. Last words, on the same condition as 5: when a scout or commander takes
   its last step (it exits, having sent exactly one message to a live
   process: its ``Adopted`` or ``Preempted`` to its leader, or, with one
   replica, its ``Decision``), that message is delivered in the same step
   (:meth:`PaxosModel._last_word`), after any subset of the receiver's
   invisible messages, in any order, as in 5 (a passive leader may take a
   proposal first). Why this keeps every verdict: once the sender has
   exited, the message is the only trace of that step anyone can see (no
   spawn, no ghost variable; replies still on their way to the sender are
   dead, 2), so on any path the step can be moved later, past every step in
   between, to just before the message is delivered (a "right mover", in
   Lipton's terms); on a path that ends before that, it can be left out.
   This needs nothing of the role classes but that they exit, so it holds
   for the mutants too. With two or more replicas a commander's last step
   sends several decisions, and it is not merged. With persistent sets a
   merged step is dependent on every other delivery to its receiver, so
   rule 7c (a closed child first) merges a last word only when nothing else
   can reach that leader first (:meth:`PaxosModel._sole_voice`: no other
   live child, nothing in flight to it but proposals while it is passive,
   and the one stock replica has nothing left to propose); otherwise the
   message waits in flight like any other.
9. Blind values: with one replica, every role the stock one and no fault
   or timer, no slot ever gets two commands (every command for slot s comes
   from the replica's one proposal for s, copied by leaders, commanders and
   acceptors; see rule 7d). Then no verdict reads pvalues or the ghosts
   ``chosen`` and ``commanders``: A4, A5, C1, C2 and R1 compare two commands
   for one slot; ``Chosen`` fails only if a commander decides without a
   majority that accepted at its ballot, which the stock commander and
   acceptor never do (a p2b at the commander's ballot comes from an
   acceptor that has just accepted its pvalue, and acceptors keep what they
   accept); A2 and A3 are about one acceptor's own step, checked on the
   state explored. And a pvalue for slot s can change what anyone does
   only through a leader's ``pmax`` on adoption, which for a leader that
   already holds a proposal for s gives the command it holds (a stock
   leader reads pvalues nowhere else; a stock scout and acceptor only pass
   them on). So the key leaves out both ghosts, and the pvalues (in the
   acceptors' ``accepted``, the scouts' ``pvalues``, p1bs and ``Adopted``)
   of every slot that every leader that can still be adopted (one not
   retired) holds (:meth:`PaxosModel._blind`). It needs every role to be
   the stock one (a mutant's leader may read pvalues its own way, a
   mutant's acceptor may drop them; ``PaxosModel.stock``). This is most of
   the race the second ballot round adds: a p2a of the retired leader's
   ballot reaching an acceptor before or after the p1a of the round-1
   ballot changes that acceptor's ``accepted`` and nothing else anyone
   will read.

Measured (``check_model`` without and with ``reduce``; the second figure
before persistent sets and the last dead-message rules, the third with them,
the fourth with rule 8 as well, the fifth with rule 7d too, the sixth with
reduction 9): 2 leaders, 1 command, 1 ballot round: 177,916 states -> 2,591
-> 1,099 -> 692 -> 616 -> 519; 1 leader, 3 commands, 1 round: 1,922,087 ->
37,244 -> 4,237 -> 2,648 -> 1,433 -> 1,180; 2 leaders, 1 command, 2 rounds:
more than 1,000,000 (not finished) -> 29,242 -> 10,100 -> 6,272 -> 5,686 ->
2,712; 2 leaders, 2 commands, 1 round: 188,664 (all rules but 8, 7d and 9)
-> 111,182 -> 74,549 -> 37,474. Every mutant of the catalogue is still
caught with its invariant, and tests/test_reductions.py checks each
reduction against the search without it.

The standard configuration (2 leaders, 3 acceptors, 1 replica, 2 commands,
2 ballot rounds) completes with all nine: ``paxos-lit check --json`` on 2
CPUs (:mod:`paxos_lit.check.parallel`, fingerprints) reports 1,126,209
states, 2,869,534 transitions, depth 33, complete, no violation, in 387 s
(1,418,132 states in 504 s with a first version of reduction 9 that kept
every pvalue until every live leader held every slot, and kept the
ghosts). Without reduction 9 it did not: the search was stopped after 25
minutes at 5.97 million states, depth 27, its levels growing again about
1.3 times per level (0.40, 0.54, 0.73 and 0.93 million new states at depths
24-27) in a second wave of races between the retired leader's p2as and the
round-1 ballot, with 4.5 GB a worker; before rules 8 and 7d, a run reached
14.7 million states at depth 32 in 67 minutes and filled the machine's 24
GB. With reduction 9 the levels stay below about 0.12 million states and
die out after depth 27.

Not reduced, and why: the order of deliveries at an acceptor whose ballot
can still rise (a p2a before or after a p1a of a higher ballot is the race
Paxos is about), orders of decisions at a replica that may still propose
(they do not always commute: which slots ``propose`` skips depends on it;
rule 7d covers the replica that cannot), and the timing of a proposal
against its leader's adoption (a proposal that arrives after the leader was
adopted and then preempted is never commanded at that ballot: a real
behaviour, not an order that does not matter). Tried and dropped: whole
leaders with their children as persistent sets (a replica may still
propose, or an acceptor still adopt a higher ballot, so they applied too
rarely to pay for their conditions); a stubborn-set closure that follows a
future scout back to the deliveries that could spawn it (6 % fewer states
at depth 16 of the standard configuration, for as much time spent deciding
it); treating a commander whose every possible message is dead as exited
(7 % fewer states on 2 leaders, 2 commands, 1 round, none on the others);
and not storing the states of forced steps (a state with one successor):
4.3 times fewer states stored on 2 leaders, 2 commands, 1 round, but 2.3
times slower, since chains of forced steps reached from several states are
walked again.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..acceptor import Acceptor
from ..commander import Commander
from ..errors import ConfigError
from ..kvstore import KVStore
from ..leader import POLICIES, Leader
from ..messages import Decision, Request, decode, encode, to_plain
from ..replica import Replica
from ..scout import Scout
from ..sim.config import check_count
from ..types import NOOP, WINDOW, Ballot, Command, PValue, is_reconfig
from .explore import ExploreResult, Violation, explore

__all__ = ["CheckResult", "MState", "ModelConfig", "PaxosModel", "Step", "ORDERED_FIELDS",
           "check_model", "STANDARD"]

#: The leader methods that decide when a scout is spawned and at which ballot.
_BALLOT_METHODS = ("__init__", "start", "_scout", "on_Preempted", "on_timer", "_wait", "restore")
#: Role names a model (like the simulator) lets you replace.
ROLE_NAMES = ("acceptor", "leader", "replica")
#: Dict fields whose insertion order the roles depend on (kept in order).
ORDERED_FIELDS = frozenset({"requests"})
#: The invariant names the model adds to R1-R5, A1-A5, C1-C2.
LIVENESS = "Liveness"
CHOSEN = "Chosen"
#: What each of them says (the others are in ``paxos_lit.invariants.NAMES``).
MODEL_INVARIANTS = {
    CHOSEN: "a replica learns a decision only for a command a majority of acceptors "
            "accepted at one ballot (the definition of chosen, behind R1)",
    LIVENESS: "a passive naive leader within the ballot bound always has a scout at work; "
              "when nothing can happen any more (no crash, no loss), every naive leader is "
              "active unless out of ballots, and if one leader is active every replica "
              "performed every command",
}


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelConfig:
    """What the model explores. The defaults are the standard small
    configuration (DESIGN section 6): 2 leaders, 3 acceptors, 1 replica,
    2 commands, 2 ballot rounds (``max_ballot=1``: rounds 0 and 1), no loss,
    the paper's ``naive`` leaders."""

    leaders: int = 2
    acceptors: int = 3
    replicas: int = 1
    commands: int = 2
    max_ballot: int = 1
    window: int = WINDOW
    leader_policy: str = "naive"
    crashes: int = 0
    drops: int = 0
    dups: int = 0
    timers: int = 0
    spread: str = "one"
    upfront_proposals: bool = False

    def __post_init__(self):
        check_count("leaders", self.leaders, minimum=1, maximum=9)
        check_count("acceptors", self.acceptors, minimum=1, maximum=9)
        check_count("replicas", self.replicas, minimum=1, maximum=9)
        check_count("commands", self.commands, minimum=0, maximum=20)
        check_count("max_ballot", self.max_ballot, minimum=0, maximum=50)
        check_count("window", self.window, minimum=1, maximum=1000)
        check_count("crashes", self.crashes, minimum=0, maximum=100)
        check_count("drops", self.drops, minimum=0, maximum=100)
        check_count("dups", self.dups, minimum=0, maximum=100)
        check_count("timers", self.timers, minimum=0, maximum=100)
        if self.leader_policy not in POLICIES:
            raise ConfigError("leader_policy", f"must be one of {', '.join(POLICIES)}, "
                                               f"got {self.leader_policy!r}")
        if self.spread not in ("one", "all"):
            raise ConfigError("spread", f"must be 'one' or 'all', got {self.spread!r}")
        if not isinstance(self.upfront_proposals, bool):
            raise ConfigError("upfront_proposals", f"must be true or false, got "
                                                   f"{self.upfront_proposals!r}")

    @property
    def acceptor_ids(self) -> tuple[str, ...]:
        return tuple(f"a{i}" for i in range(1, self.acceptors + 1))

    @property
    def replica_ids(self) -> tuple[str, ...]:
        return tuple(f"r{i}" for i in range(1, self.replicas + 1))

    @property
    def leader_ids(self) -> tuple[str, ...]:
        return tuple(f"l{i}" for i in range(1, self.leaders + 1))

    def workload(self) -> list[tuple[str, Command]]:
        """``(replica, command)`` pairs, in the order the requests arrive."""
        cmds = [Command(f"c{i}", 1, ("append", "x", f"c{i}.1"))
                for i in range(1, self.commands + 1)]
        reps = self.replica_ids
        if self.spread == "one":
            return [(reps[i % len(reps)], c) for i, c in enumerate(cmds)]
        n = len(cmds)
        return [(r, cmds[(j + k) % n]) for j, r in enumerate(reps) for k in range(n)]

    def to_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, obj: dict) -> ModelConfig:
        if not isinstance(obj, dict):
            raise ConfigError("config", "must be a JSON object")
        unknown = sorted(set(obj) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(unknown[0], "unknown model configuration field")
        return cls(**obj)


#: The standard small configuration (DESIGN section 6).
STANDARD = ModelConfig()


# --------------------------------------------------------------------------
# States and steps
# --------------------------------------------------------------------------
class MState(NamedTuple):
    """One state of the Multi-Paxos model (see the module docstring)."""

    procs: tuple  # ((pid, schema, values), ...) sorted by pid: the live processes
    net: frozenset  # {(dst, type name, msg)}: messages in flight (one copy each)
    extra: frozenset  # {((dst, type name, msg), n)}: n more copies of a key
    timers: frozenset  # {(pid, tag)}: armed timers (only when timers may fire)
    down: tuple  # ((pid, durable state, acceptor watch or None), ...) sorted
    children: tuple  # ((parent, children spawned so far), ...) sorted
    decided: frozenset  # {(slot, command)}: first command decided per slot (R1)
    chosen: frozenset  # {(slot, (ballot, command))}: lowest majority-accepted (A5, C2)
    commanders: frozenset  # {((ballot, slot), command)}: first commander's command (C1)
    used: tuple  # (crashes, drops, dups, timer firings) spent on the path
    bad: tuple  # Violations the step into this state caused


class Step(NamedTuple):
    """One step of a path: ``kind`` is deliver, drop, dup, timer, crash or
    recover; ``process`` the destination, timer owner or crashing process;
    ``mtype`` and ``msg`` the message (for a timer, ``msg`` is its tag)."""

    kind: str
    process: str
    mtype: str | None = None
    msg: Any = None

    def __str__(self) -> str:
        if self.kind in ("deliver", "drop", "dup"):
            return f"{self.kind} {show_msg(self.mtype, self.msg)} to {self.process}"
        if self.kind == "timer":
            return f"timer {self.msg!r} fires at {self.process}"
        return f"{self.kind} {self.process}"

    def to_json(self) -> dict:
        out: dict[str, Any] = {"step": self.kind, "process": self.process}
        if self.kind in ("deliver", "drop", "dup"):
            out["msg"] = encode(self.msg)
        elif self.kind == "timer":
            out["tag"] = self.msg
        out["text"] = str(self)
        return out

    @classmethod
    def from_json(cls, obj) -> Step:
        """The inverse of :meth:`to_json` (``text`` is ignored)."""
        if not isinstance(obj, dict) or not isinstance(obj.get("step"), str) \
                or not isinstance(obj.get("process"), str):
            raise ConfigError("step", f"a step needs string 'step' and 'process', got {obj!r}")
        kind = obj["step"]
        if kind in ("deliver", "drop", "dup"):
            try:
                msg = decode(obj.get("msg"))
            except ValueError as e:
                raise ConfigError("step.msg", str(e)) from None
            return cls(kind, obj["process"], type(msg).__name__, msg)
        if kind == "timer":
            return cls(kind, obj["process"], None, obj.get("tag"))
        if kind in ("crash", "recover"):
            return cls(kind, obj["process"])
        raise ConfigError("step.step", f"unknown step kind {kind!r} (deliver, drop, dup, "
                                       "timer, crash, recover)")


def show_msg(mtype, msg) -> str:
    """A message as one short line: ``P1b(a1: (0,l1), {})``."""
    fields = ", ".join(_show(v) for v in msg[1:])
    return f"{mtype}({msg[0]}{': ' if fields else ''}{fields})"


def _show(v) -> str:
    if isinstance(v, frozenset | set):
        return "{" + ", ".join(sorted(_show(x) for x in v)) + "}"
    if isinstance(v, PValue):
        return f"<{v[0]}, {v[1]}, {v[2]}>"
    if isinstance(v, tuple) and type(v) is not tuple:  # Ballot, Command
        return str(v)
    return repr(v)


# --------------------------------------------------------------------------
# Freezing and thawing role state (the copy-on-write)
# --------------------------------------------------------------------------
class FSet(frozenset):
    """A frozen ``set`` field (thaws back to a set)."""

    __slots__ = ()


class FDict(tuple):
    """A frozen ``dict`` field: its items, sorted by key (thaws to a dict)."""

    __slots__ = ()


class FODict(tuple):
    """A frozen order-sensitive ``dict`` field: items in insertion order."""

    __slots__ = ()


class FList(tuple):
    """A frozen ``list`` field."""

    __slots__ = ()


class FKV(tuple):
    """A frozen ``KVStore``: its data items, sorted."""

    __slots__ = ()


def _sorted_items(d: dict) -> tuple:
    try:
        return tuple(sorted(d.items()))
    except TypeError:
        return tuple(sorted(d.items(), key=lambda kv: repr(kv[0])))


_MUTABLE = frozenset({set, dict, list, KVStore})
_FROZEN = frozenset({FSet, FDict, FODict, FList, FKV})


def _freeze(name: str, v):
    t = type(v)
    if t is set:
        return FSet(v)
    if t is dict:
        return FODict(v.items()) if name in ORDERED_FIELDS else FDict(_sorted_items(v))
    if t is list:
        return FList(v)
    kv = FKV(_sorted_items(v.data))
    return kv


def _thaw(v):
    t = type(v)
    if t is FSet:
        return set(v)
    if t is FList:
        return list(v)
    if t is FKV:
        kv = KVStore()
        kv.data = dict(v)
        return kv
    return dict(v)


class Schema:
    """A role class and its field names, interned: one object per pair, so
    an encoded process compares and hashes its schema by identity."""

    __slots__ = ("cls", "names", "keys", "pos", "h")

    def __init__(self, cls, keys):
        self.cls = cls
        self.keys = keys  # every attribute name, in insertion order
        self.names = tuple(k for k in keys if k != "id" and k != "env")
        self.pos = {k: i for i, k in enumerate(self.names)}  # name -> index in values
        # Hashed by what it is, not where it lives: two worker processes of
        # the parallel explorer intern their own Schema objects, and one
        # state must have one fingerprint in both.
        self.h = hash((cls.__module__, cls.__qualname__, keys))

    def __hash__(self):
        return self.h

    def __reduce__(self):
        # Unpickled (the parallel explorer passes states between processes)
        # as the receiving process's own interned schema.
        return (schema_for, (self.cls, self.keys))

    def __repr__(self):
        return f"Schema({self.cls.__name__})"


_SCHEMAS: dict = {}


def schema_for(cls, keys: tuple) -> Schema:
    """The one Schema of this process for a class and its attribute names."""
    sch = _SCHEMAS.get((cls, keys))
    if sch is None:
        sch = _SCHEMAS[(cls, keys)] = Schema(cls, keys)
    return sch


def encode_process(obj) -> tuple:
    """A role object as a hashable ``(pid, schema, frozen values)`` entry."""
    d = obj.__dict__
    cls = type(obj)
    keys = tuple(d)
    sch = _SCHEMAS.get((cls, keys)) or schema_for(cls, keys)
    vals = []
    append = vals.append
    for k in sch.names:
        v = d[k]
        append(_freeze(k, v) if type(v) in _MUTABLE else v)
    return (obj.id, sch, tuple(vals))


def decode_process(entry: tuple, env) -> Any:
    """A fresh role object from an entry: its containers are fresh copies,
    so running a handler on it never changes a stored state."""
    pid, sch, values = entry
    obj = sch.cls.__new__(sch.cls)
    d = obj.__dict__
    d["id"] = pid
    d["env"] = env
    for k, v in zip(sch.names, values):
        d[k] = _thaw(v) if type(v) in _FROZEN else v
    return obj


def field_of(entry: tuple, name: str, default=None):
    """One field of an encoded process, still frozen, without decoding it."""
    i = entry[1].pos.get(name)
    return default if i is None else entry[2][i]


def node_of(pid: str) -> str:
    """The top-level process a process lives in (a child lives in its leader)."""
    i = pid.find(".")
    return pid if i < 0 else pid[:i]


class Key:
    """The explorer's key for a state: the state with its hash computed once
    (a state is a deep tuple, and Python does not cache tuple hashes)."""

    __slots__ = ("state", "h")

    def __init__(self, state):
        self.state = state
        self.h = hash(state)

    def __hash__(self):
        return self.h

    def __eq__(self, other):
        return self.h == other.h and self.state == other.state


# --------------------------------------------------------------------------
# One step in the making
# --------------------------------------------------------------------------
class _Env:
    """The recording environment handed to a role during one step."""

    __slots__ = ("ctx", "pid")
    now = 0.0  # clients read the clock; the roles of the model do not

    def __init__(self, ctx: _Ctx, pid: str):
        self.ctx = ctx
        self.pid = pid

    def send(self, dst, msg) -> None:
        self.ctx.sends.append((dst, msg))

    def spawn(self, cls, *args):
        return self.ctx.spawn(self.pid, cls, args)

    def set_timer(self, delay, tag) -> None:
        if self.ctx.model.timers_on:
            self.ctx.new_timers.append((self.pid, tag))

    def rand(self) -> float:
        return 0.0

    def exit(self) -> None:
        self.ctx.exits.append(self.pid)


class _Ctx:
    """The effects of one step, and the ghost variables it may update."""

    __slots__ = ("model", "state", "view", "live", "sends", "spawned", "exits", "new_timers",
                 "children", "decided", "chosen", "commanders", "bad")

    def __init__(self, model: PaxosModel, state: MState, view: dict):
        self.model = model
        self.state = state
        self.view = view            # pid -> (index, entry) in state.procs
        self.live: dict = {}        # pid -> decoded or new object, encoded at the end
        self.sends: list = []
        self.spawned: list = []
        self.exits: list = []
        self.new_timers: list = []
        self.children: dict | None = None
        self.decided: dict | None = None
        self.chosen: dict | None = None
        self.commanders: dict | None = None
        self.bad: list = []

    def get(self, pid):
        obj = self.live.get(pid)
        if obj is None:
            obj = decode_process(self.view[pid][1], _Env(self, pid))
            self.live[pid] = obj
        return obj

    def fail(self, inv: str, detail: str) -> None:
        self.bad.append(Violation(inv, detail))

    def read(self, name: str) -> dict:
        d = getattr(self, name)
        return dict(getattr(self.state, name)) if d is None else d

    def write(self, name: str) -> dict:
        d = getattr(self, name)
        if d is None:
            d = dict(getattr(self.state, name))
            setattr(self, name, d)
        return d

    def spawn(self, parent: str, cls, args) -> str:
        if self.children is None:
            self.children = dict(self.state.children)
        n = self.children.get(parent, 0) + 1
        self.children[parent] = n
        pid = f"{parent}.{cls.id_prefix}{n}"
        proc = cls(pid, _Env(self, pid), *args)
        self.live[pid] = proc
        self.spawned.append(pid)
        if isinstance(proc, Commander):
            self.model._check_spawn(self, pid, proc)
        proc.start()
        return pid


# --------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------
_EMPTY: frozenset = frozenset()
_EMPTY_DICT = FDict()


class PaxosModel:
    """The PMMC protocol over a fully asynchronous network, as a model for
    :func:`~paxos_lit.check.explore.explore`.

    ``roles`` replaces role classes as in the simulator
    (``{"acceptor": MyAcceptor}``; scouts and commanders come from the
    leader class's ``scout_class`` and ``commander_class``)."""

    def __init__(self, config: ModelConfig | None = None, roles: dict | None = None, *,
                 reduce: bool = False):
        self.config = config = config if config is not None else ModelConfig()
        if not isinstance(config, ModelConfig):
            raise ConfigError("config", "must be a ModelConfig")
        self.roles = {"acceptor": Acceptor, "leader": Leader, "replica": Replica}
        for name, cls in (roles or {}).items():
            if name == "client":
                continue  # clients are not modelled: a client class changes nothing here
            if name not in self.roles:
                raise ConfigError("roles", f"unknown role {name!r} (the model's roles: "
                                           f"{', '.join(ROLE_NAMES)})")
            self.roles[name] = cls
        c = config
        self.kind_of: dict[str, str] = {}
        self.specs: dict[str, tuple] = {}
        for pid in c.acceptor_ids:
            self.kind_of[pid] = "acceptor"
            self.specs[pid] = (self.roles["acceptor"], ())
        for pid in c.replica_ids:
            self.kind_of[pid] = "replica"
            self.specs[pid] = (self.roles["replica"], (c.leader_ids, c.window))
        for pid in c.leader_ids:
            self.kind_of[pid] = "leader"
            self.specs[pid] = (self.roles["leader"], (c.acceptor_ids, c.replica_ids,
                                                      c.leader_policy))
        self.top = tuple(self.kind_of)  # in the simulator's start order
        self.quorum = len(c.acceptor_ids) // 2 + 1
        self.commands = tuple(dict.fromkeys(cmd for _, cmd in c.workload()))
        self.timers_on = c.timers > 0
        self.naive = c.leader_policy == "naive"
        self._leader_set = frozenset(c.leader_ids)
        self._order_memo: dict = {}
        if not isinstance(reduce, bool):
            raise ConfigError("reduce", f"must be true or false, got {reduce!r}")
        #: Reductions 4-9 (see the module docstring): dead messages and
        #: acceptor symmetry always, when asked; merging invisible steps
        #: and persistent sets only on a path with no fault and no timer to
        #: interleave with them.
        self.reduce = reduce
        self.lazy = reduce and not (c.crashes or c.drops or c.dups or c.timers)
        #: Reduction 7 (persistent sets) rests on how the stock acceptor,
        #: scout and commander behave and on where a leader gets new ballots
        #: from (its start and its preemption handler): those must be the
        #: stock ones. A different replica, or a leader that changes only
        #: phase 2 (say, on adoption), keeps the reduction.
        lead = self.roles["leader"]
        self.por = (self.lazy and self.roles["acceptor"] is Acceptor
                    and lead.scout_class is Scout and lead.commander_class is Commander
                    and all(getattr(lead, n, None) is getattr(Leader, n) for n in _BALLOT_METHODS))
        #: Reduction 9 (blind values) rests on every role being the stock
        #: one and on one replica; see :meth:`_blind`.
        self.stock = (self.lazy and c.replicas == 1 and lead is Leader
                      and self.roles["acceptor"] is Acceptor and self.roles["replica"] is Replica)
        self._acceptor_set = frozenset(c.acceptor_ids)

    def __repr__(self) -> str:
        return f"PaxosModel({self.config!r})"

    # -- the explorer's interface ----------------------------------------------
    def initial_states(self) -> list[MState]:
        return [self.initial_state()]

    def canonical(self, state: MState) -> Key:
        if not self.reduce:
            return Key(state)
        return Key(self.reduced_key(state))

    def initial_state(self) -> MState:
        """Every process started in the simulator's order (acceptors,
        replicas, leaders), then the workload's requests delivered."""
        empty = MState((), _EMPTY, _EMPTY, _EMPTY, (), (), _EMPTY, _EMPTY, _EMPTY,
                       (0, 0, 0, 0), ())
        ctx = _Ctx(self, empty, {})
        for pid in self.top:
            cls, args = self.specs[pid]
            proc = cls(pid, _Env(ctx, pid), *args)
            ctx.live[pid] = proc
            proc.start()
        state = self._commit(ctx, _EMPTY, _EMPTY)
        bad = list(state.bad)
        for rid, cmd in self.config.workload():
            ctx = _Ctx(self, state, self._view(state))
            msg = Request(cmd.client, cmd)
            proc = ctx.get(rid)
            before = proc.slot_out if isinstance(proc, Replica) else None
            proc.receive(msg)
            self._check_after(ctx, rid, proc, msg, before)
            state = self._commit(ctx, state.net, state.extra)
            bad += state.bad
        if self.config.upfront_proposals:
            for key in self.setup_proposals(state):
                state = self._deliver(state, self._view(state), key)
                bad += state.bad
        return state._replace(bad=tuple(bad))

    def setup_proposals(self, state: MState) -> list:
        """With ``upfront_proposals``: the replicas' proposals in flight after
        the requests, in the order the setup delivers them: leader by leader,
        leader j hearing replica j first (then j+1, ...), slot by slot, so
        that two leaders may favour different commands for one slot."""
        reps = self.config.replica_ids
        rank = {r: i for i, r in enumerate(reps)}
        leaders = {pid: j for j, pid in enumerate(self.config.leader_ids)}

        def order(k):
            j = leaders.get(k[0], 0)
            return (k[0], (rank.get(k[2][0], 0) - j) % len(reps), k[2][1], self._order(k))

        return sorted((k for k in state.net if k[1] == "Propose"), key=order)

    @staticmethod
    def _view(state: MState) -> dict:
        return {e[0]: (i, e) for i, e in enumerate(state.procs)}

    def deliverable(self, key) -> bool:
        """Whether a message in flight may be delivered: all may, except a
        scout's ``P1a`` beyond the ballot bound (that scout never scouts)."""
        return key[1] != "P1a" or key[2][1][0] <= self.config.max_ballot

    def _order(self, key):
        memo = self._order_memo
        k = memo.get(key)
        if k is None:
            k = memo[key] = (key[0], key[1], repr(to_plain(tuple(key[2]))))
        return k

    def successors(self, state: MState) -> Iterator[tuple[Step, MState]]:
        c = self.config
        view = self._view(state)
        net = state.net
        keys = sorted(net, key=self._order) if len(net) > 1 else list(net)
        mb = c.max_ballot
        enabled = [k for k in keys if k[1] != "P1a" or k[2][1][0] <= mb]
        if self.reduce:
            enabled = [k for k in enabled if not self.dead(k, view)]
        if self.lazy:
            yield from self._merged_steps(state, view, enabled)
            return
        for key in enabled:
            yield Step("deliver", key[0], key[1], key[2]), self._deliver(state, view, key)
        crashes, drops, dups, fired = state.used
        if drops < c.drops or dups < c.dups:
            for key in enabled:
                if node_of(key[2][0]) == node_of(key[0]):
                    continue  # local to one node: never lost or duplicated
                if drops < c.drops:
                    n, x = _remove(state.net, state.extra, key)
                    yield (Step("drop", key[0], key[1], key[2]),
                           state._replace(net=n, extra=x, used=(crashes, drops + 1, dups, fired),
                                          bad=()))
                if dups < c.dups:
                    n, x = _add(state.net, state.extra, key)
                    yield (Step("dup", key[0], key[1], key[2]),
                           state._replace(net=n, extra=x, used=(crashes, drops, dups + 1, fired),
                                          bad=()))
        if fired < c.timers:
            for pid, tag in sorted(state.timers):
                yield Step("timer", pid, None, tag), self._timer(state, view, pid, tag)
        if crashes < c.crashes:
            for pid in self.top:
                if pid in view:
                    yield Step("crash", pid), self._crash(state, view, pid)
        for d in state.down:
            yield Step("recover", d[0]), self._recover(state, view, d[0])

    def check(self, state: MState) -> list[Violation]:
        if state.bad:
            return list(state.bad)
        if self.naive:
            bad = self.scouting(state)
            if bad:
                return bad
        return self.liveness(state)

    # -- steps -------------------------------------------------------------------
    def _deliver(self, state: MState, view: dict, key) -> MState:
        net, extra = _remove(state.net, state.extra, key)
        dst, _, msg = key
        if dst not in view:  # a crashed process: the message is lost
            return state._replace(net=net, extra=extra, bad=())
        ctx = _Ctx(self, state, view)
        proc = ctx.get(dst)
        kind = self.kind_of.get(dst)
        if kind == "acceptor":
            before = (proc.ballot_num, frozenset(proc.accepted))
        elif kind == "replica":
            before = proc.slot_out
        else:
            before = None
        handler = proc._handlers.get(type(msg))
        if handler is not None:
            handler(proc, msg)
        if kind is not None:
            self._check_after(ctx, dst, proc, msg, before)
        return self._commit(ctx, net, extra)

    def _timer(self, state: MState, view: dict, pid: str, tag) -> MState:
        ctx = _Ctx(self, state, view)
        ctx.get(pid).on_timer(tag)
        new = self._commit(ctx, state.net, state.extra, fired=(pid, tag))
        u = new.used
        return new._replace(used=(u[0], u[1], u[2], u[3] + 1))

    def _crash(self, state: MState, view: dict, pid: str) -> MState:
        """Stop ``pid`` and its children; keep its durable state."""
        ctx = _Ctx(self, state, view)
        proc = ctx.get(pid)
        durable = proc.durable_state()
        watch = None
        if self.kind_of[pid] == "acceptor":
            watch = (proc.ballot_num, frozenset(proc.accepted))
        ctx.live.clear()
        ctx.exits.extend(p for p in view if node_of(p) == pid)
        new = self._commit(ctx, state.net, state.extra, keep=pid)
        down = tuple(sorted(state.down + ((pid, durable, watch),), key=_first))
        u = new.used
        return new._replace(down=down, used=(u[0] + 1, u[1], u[2], u[3]))

    def _recover(self, state: MState, view: dict, pid: str) -> MState:
        """Restart ``pid`` from its durable state (and check A1 and A3)."""
        ctx = _Ctx(self, state, view)
        rec = next(d for d in state.down if d[0] == pid)
        cls, args = self.specs[pid]
        proc = cls(pid, _Env(ctx, pid), *args)
        if rec[1] is not None:
            proc.restore(rec[1])
        ctx.live[pid] = proc
        watch = rec[2]
        if watch is not None:
            if proc.ballot_num < watch[0]:
                ctx.fail("A1", f"{pid} recovered with ballot {proc.ballot_num} below its "
                               f"adopted {watch[0]}")
            if len(proc.accepted) < len(watch[1]):
                ctx.fail("A3", f"{pid} recovered with {len(proc.accepted)} accepted pvalues, "
                               f"had {len(watch[1])}")
        proc.start()
        new = self._commit(ctx, state.net, state.extra)
        return new._replace(down=tuple(d for d in state.down if d[0] != pid))

    def _commit(self, ctx: _Ctx, net, extra, fired=None, keep=None) -> MState:
        """Build the next state from one step's effects."""
        state = ctx.state
        view = ctx.view
        live = ctx.live
        gone = ctx.exits
        procs = state.procs
        if not gone and not ctx.spawned and len(live) == 1 and next(iter(live)) in view:
            # The common case: one process changed, in place.
            (pid, obj), = live.items()
            i = view[pid][0]
            procs = procs[:i] + (encode_process(obj),) + procs[i + 1:]
            alive = view
        else:
            pmap = {pid: e for pid, (_, e) in view.items()}
            for pid in gone:
                pmap.pop(pid, None)
            for pid, obj in live.items():
                if pid not in gone:
                    pmap[pid] = encode_process(obj)
            procs = tuple(sorted(pmap.values(), key=_first))
            alive = pmap
        ctx.live = None  # no reference cycle through the environments
        if ctx.sends:
            down = {d[0] for d in state.down}
            if keep is not None:
                down.add(keep)
            add = []
            for dst, msg in ctx.sends:
                if dst in alive and dst not in gone or dst in down:
                    add.append((dst, type(msg).__name__, msg))
                # else: to an exited child or a client, nobody will receive it
            if add:
                if len(add) == len(set(add)) and net.isdisjoint(add):
                    net = net.union(add)
                else:
                    for k in add:
                        net, extra = _add(net, extra, k)
        if gone:
            # Reduction 2: messages to a child that has exited are dead (a
            # crashed top-level process keeps its own: it may recover).
            dead = set(gone)
            dead.discard(keep)
            if dead and any(k[0] in dead for k in net):
                net = frozenset(k for k in net if k[0] not in dead)
                if extra:
                    extra = frozenset(kv for kv in extra if kv[0][0] not in dead)
        timers = state.timers
        if fired is not None or ctx.new_timers or (gone and timers):
            t = set(timers)
            t.discard(fired)
            if gone:
                dead = set(gone)
                t = {x for x in t if x[0] not in dead}
            for pid, tag in ctx.new_timers:
                if pid not in gone:
                    t.add((pid, tag))
            timers = frozenset(t)
        return MState(
            procs, net, extra, timers, state.down,
            state.children if ctx.children is None else tuple(sorted(ctx.children.items())),
            state.decided if ctx.decided is None else frozenset(ctx.decided.items()),
            state.chosen if ctx.chosen is None else frozenset(ctx.chosen.items()),
            state.commanders if ctx.commanders is None else frozenset(ctx.commanders.items()),
            state.used, tuple(ctx.bad))

    # -- invariant checks, mirroring paxos_lit.invariants.InvariantChecker --------
    def _check_after(self, ctx: _Ctx, pid: str, proc, msg, before) -> None:
        kind = self.kind_of.get(pid)
        if kind == "acceptor":
            self._check_acceptor(ctx, pid, proc, before)
        elif kind == "replica":
            self._check_replica(ctx, pid, proc, msg, before)

    def _check_spawn(self, ctx: _Ctx, pid: str, proc) -> None:
        """C1 and C2, when a commander is spawned (as the checker does)."""
        b, s, c = proc.pvalue
        commanders = ctx.write("commanders")
        prev = commanders.setdefault((b, s), c)
        if prev != c:
            ctx.fail("C1", f"two commanders at ballot {b} for slot {s}: {prev} and {c}")
        ch = ctx.read("chosen").get(s)
        if ch is not None and ch[0] < b and ch[1] != c:
            ctx.fail("C2", f"commander {pid} at {b} carries {c} for slot {s}, but a majority "
                           f"accepted {ch[1]} at {ch[0]}")

    def _votes(self, ctx: _Ctx, pid: str, acc_now) -> dict:
        """(ballot, slot) -> {acceptor: command}: every vote cast so far (the
        checker's ``votes``): the acceptors' accepted sets (``acc_now`` for
        the acceptor ``pid`` that is acting) and, for a crashed acceptor,
        what it had accepted when it crashed."""
        votes: dict = {}
        for a in self.config.acceptor_ids:
            if a == pid:
                acc = acc_now
            else:
                v = ctx.view.get(a)
                if v is not None:
                    acc = field_of(v[1], "accepted", ())
                else:
                    rec = next((d for d in ctx.state.down if d[0] == a), None)
                    acc = rec[2][1] if rec is not None and rec[2] is not None else ()
            for pv in acc:
                votes.setdefault((pv[0], pv[1]), {})[a] = pv[2]
        return votes

    def _check_acceptor(self, ctx: _Ctx, pid: str, proc, before) -> None:
        old_b, old_acc = before
        b = proc.ballot_num
        if b != old_b and b < old_b:
            ctx.fail("A1", f"{pid} went from ballot {old_b} back to {b}")
        n = len(proc.accepted)
        if n == len(old_acc):
            return
        if n < len(old_acc):
            ctx.fail("A3", f"{pid} dropped accepted pvalues ({len(old_acc)} -> {n})")
            return
        acc_now = set(old_acc)
        for pv in sorted((pv for pv in proc.accepted if pv not in old_acc), key=repr):
            self._accepted(ctx, pid, proc, pv, acc_now)
            acc_now.add(pv)

    def _accepted(self, ctx: _Ctx, pid: str, proc, pv, acc_now) -> None:
        pb, s, c = pv
        if pb != proc.ballot_num:
            ctx.fail("A2", f"{pid} accepted {c} for slot {s} at ballot {pb} while at "
                           f"{proc.ballot_num}")
        votes = self._votes(ctx, pid, acc_now)
        at = votes.setdefault((pb, s), {})
        first = next(iter(at.values()), None)
        if first is not None and first != c:
            ctx.fail("A4", f"two commands accepted at ballot {pb} for slot {s}: {first} and "
                           f"{c} ({pid})")
            return
        at[pid] = c
        ch = ctx.read("chosen").get(s)
        if ch is not None and ch[0] < pb and ch[1] != c:
            ctx.fail("A5", f"{pid} accepted {c} for slot {s} at {pb}, but a majority "
                           f"accepted {ch[1]} at {ch[0]}")
        if len(at) == self.quorum and (ch is None or pb < ch[0]):
            ctx.write("chosen")[s] = (pb, c)
            # A5 backwards: an acceptor may already hold a higher ballot for s.
            for (b2, s2), who in sorted(votes.items(), key=repr):
                if s2 == s and b2 > pb:
                    others = sorted(a for a, c2 in who.items() if c2 != c)
                    if others:
                        ctx.fail("A5", f"{others} accepted {who[others[0]]} for slot {s} at "
                                       f"{b2}, but a majority accepted {c} at {pb}")
            # C2 backwards: a commander at a higher ballot may already exist.
            for (b2, s2), c2 in sorted(ctx.read("commanders").items(), key=repr):
                if s2 == s and b2 > pb and c2 != c:
                    ctx.fail("C2", f"a commander at {b2} carries {c2} for slot {s}, but a "
                                   f"majority accepted {c} at {pb}")

    def _check_replica(self, ctx: _Ctx, pid: str, proc, msg, old_out) -> None:
        if type(msg) is Decision:
            s, c = msg.slot, msg.command
            prev = ctx.read("decided").get(s)
            if prev is None:
                ctx.write("decided")[s] = c
            elif prev != c:
                ctx.fail("R1", f"slot {s} decided as {prev} and as {c} (at {pid}, from {msg.src})")
            ch = ctx.read("chosen").get(s)
            if ch is None or ch[1] != c:
                why = "" if ch is None else f" (a majority accepted {ch[1]} at {ch[0]})"
                ctx.fail(CHOSEN, f"{pid} learned {c} for slot {s} from {msg.src}, but no majority "
                                 f"of acceptors accepted it{why}")
        out = proc.slot_out
        if out != old_out:
            if out < old_out:
                ctx.fail("R4", f"{pid} slot_out went back from {old_out} to {out}")
                return
            decisions = proc.decisions
            for s in range(old_out, out):
                if decisions.get(s) is None:
                    ctx.fail("R2", f"{pid} passed slot {s} (slot_out={out}) without a decision")
            # R3: the state must be the decisions below slot_out applied in
            # order, a command decided twice applied once.
            shadow = KVStore()
            done = set()
            for s in range(1, out):
                c = decisions.get(s)
                if c is None or c in done or c == NOOP or is_reconfig(c):
                    continue
                done.add(c)
                shadow.apply(c.op)
            if shadow.data != proc.state.data:
                ctx.fail("R3", f"{pid} state {proc.state.data} differs from its decisions "
                               f"below slot {out} applied in order: {shadow.data}")
        if proc.slot_in > out + self.config.window:
            ctx.fail("R5", f"{pid} slot_in={proc.slot_in} beyond slot_out+WINDOW="
                           f"{out + self.config.window}")

    # -- reductions (module docstring, 4-9) ---------------------------------------
    def dead(self, key, view: dict) -> bool:
        """Reduction 4: would delivering this message change nothing, now and
        in every later state? Decided only for the stock role classes, whose
        handlers the reasons below are about (a subclass, a mutant say, may
        handle the message otherwise, so its messages are never dead)."""
        dst, mtype, msg = key
        v = view.get(dst)
        if v is None:
            return False
        e = v[1]
        cls = e[1].cls
        if mtype == "P1a" or mtype == "P2a":
            # From a scout or commander that has exited: its reply would be
            # thrown away. The acceptor ignores a p1a at or below its ballot
            # and a p2a below it, and its ballot never decreases (A1), not
            # even across a crash (its ballot is durable).
            if cls is not Acceptor or msg[0] in view:
                return False
            b = field_of(e, "ballot_num")
            return msg[1] <= b if mtype == "P1a" else msg[1][0] < b
        if mtype == "P2b":
            # A commander ignores a reply below its ballot (the acceptor had
            # not yet heard of the ballot when the p2a reached it), and its
            # ballot never changes.
            return cls is Commander and msg.ballot < field_of(e, "pvalue")[0]
        if self.config.crashes:
            return False  # a leader or replica forgets in a crash: its messages live again
        if cls is Leader:
            if self.retired(e):
                return True  # see retired(): nothing it receives matters any more
            if mtype == "Propose":
                # A leader ignores a first proposal for a slot it already holds
                # a proposal for, and it never forgets one (but in a crash).
                return not msg.retry and any(s == msg.slot for s, _ in field_of(e, "proposals"))
            # Its ballot only grows (but in a crash): a verdict on an older
            # ballot, or a preemption by a ballot it has already passed, is
            # ignored now and forever.
            if mtype == "Adopted":
                return msg.ballot < field_of(e, "ballot_num")
            if mtype == "Preempted":
                return msg.ballot <= field_of(e, "ballot_num")
            return False
        if mtype == "Decision":
            # A replica ignores a decision it already has (a different
            # command for the slot is not ignored: that is R1's business),
            # and it never forgets one (but in a crash).
            if cls is not Replica:
                return False
            return any(s == msg.slot and c == msg.command for s, c in field_of(e, "decisions"))
        return False

    def retired(self, entry) -> bool:
        """A stock ``naive`` leader past the last ballot round, without
        crashes: its scout's p1a is never delivered, so it can never be
        adopted (it stays passive), and no ballot above its own will ever
        exist to preempt it; a proposal only fills ``proposals``, which it
        would read on adoption. Whatever it receives changes nothing any
        invariant or any other process can see."""
        return (self.naive and entry[1].cls is Leader and not self.config.crashes
                and field_of(entry, "ballot_num")[0] > self.config.max_ballot)

    def _lazy_dst(self, pid: str) -> bool:
        return "." in pid or self.kind_of.get(pid) == "leader"

    def _merged_steps(self, state: MState, view: dict, enabled: list):
        """Reduction 5: a delivery to a scout, commander or leader that
        changes nothing but that process's own unobserved fields (no message,
        no spawn, no exit, no ghost variable, no violation) is not a step of
        its own: it is merged into the next *visible* delivery to the same
        process. For each such process, every order of every subset of its
        messages in flight that stays invisible, followed by one visible
        delivery, is one step, labelled by the tuple of its deliveries."""
        if self.por:
            ample = self._ample(state, view, enabled)
            if ample:
                yield from ample
                return
        groups: dict = {}
        for key in enabled:
            if self._lazy_dst(key[0]):
                groups.setdefault(key[0], []).append(key)
            else:
                yield Step("deliver", key[0], key[1], key[2]), self._deliver(state, view, key)
        for pid, pending in groups.items():
            yield from self._process_steps(state, view, pid, pending)

    def _process_steps(self, state: MState, view: dict, pid: str, pending: list,
                       final=None, heard=None):
        """The merged steps of one lazy process (see :meth:`_merged_steps`):
        every order of every subset of its invisible deliveries, then a
        visible one. With ``final``, that last delivery must be ``final``
        (a message reduction 8 delivers at once, see :meth:`_last_word`).
        ``heard``: the receivers whose last words are delivered at once
        (None: all of them; rule 7c allows it only for some)."""
        tried = set()
        if final is not None:
            pending = list(pending) + [final]
        stack = [(state, view, (), tuple(pending))]
        while stack:
            st, v, path, rest = stack.pop()
            for i, key in enumerate(rest):
                nxt = self._deliver(st, v, key)
                steps = path + (Step("deliver", key[0], key[1], key[2]),)
                if key != final and self._invisible(st, nxt, key, pid):
                    left = rest[:i] + rest[i + 1:]
                    if left and (nxt, left) not in tried:
                        tried.add((nxt, left))
                        stack.append((nxt, self._view(nxt), steps, left))
                elif final is not None and key != final:
                    continue  # another visible delivery: a step of its own
                else:
                    last = None if final is not None else self._last_word(st, nxt, pid)
                    if last is not None and heard is not None and last[0] not in heard:
                        last = None
                    if last is None:
                        if nxt not in tried:
                            tried.add(nxt)
                            yield (steps[0] if len(steps) == 1 else steps), nxt
                        continue
                    # Reduction 8: the last word is heard at once, after any
                    # invisible deliveries its receiver may take first.
                    nv = self._view(nxt)
                    dst = last[0]
                    mine = sorted((k for k in nxt.net if k[0] == dst and k != last
                                   and not self.dead(k, nv)),
                                  key=self._order) if self._lazy_dst(dst) else []
                    for more, fin in self._process_steps(nxt, nv, dst, mine, final=last):
                        if nxt.bad:
                            fin = fin._replace(bad=nxt.bad + fin.bad)
                        if fin not in tried:
                            tried.add(fin)
                            more = more if isinstance(more, tuple) and not isinstance(
                                more, Step) else (more,)
                            yield steps + more, fin

    def _last_word(self, before: MState, after: MState, pid: str):
        """Reduction 8: if the step from ``before`` to ``after`` was a
        scout's or commander's last (it exited, spawned nothing, touched no
        ghost variable and sent exactly one message, to a live process), that
        message's key, to be delivered at once; else None. The step's only
        effect anything else can see is that message, so in any path the
        step can be postponed until just before the message is delivered
        (module docstring)."""
        if ("." not in pid or after.children is not before.children
                or after.decided is not before.decided or after.chosen is not before.chosen
                or after.commanders is not before.commanders or after.extra != before.extra
                or after.timers != before.timers
                or len(after.procs) != len(before.procs) - 1
                or any(e[0] == pid for e in after.procs)):
            return None
        new = after.net - before.net
        if len(new) != 1 or any(k[0] != pid for k in before.net - after.net):
            return None
        key, = new
        dst = key[0]
        if "." in dst or not any(e[0] == dst for e in after.procs):
            return None
        return key

    def _ample(self, state: MState, view: dict, enabled: list) -> list | None:
        """Reduction 7: a persistent set of steps, or None (then every step
        is explored). Four rules, tried in this order:

        * a decision to a *finished* replica (rule d, see
          :meth:`_finished`; the cheapest to decide): that one delivery;
        * a *settled* acceptor (its ballot is at or above every ballot a
          p1a could still bring it, see :meth:`_future_ballots`): one
          delivery to it, any one;
        * a *refusal* (see :meth:`_refusal`): that one delivery;
        * a *closed* scout or commander (none of its p1a or p2a is still in
          flight, so nothing more will ever be sent to it): all of its
          merged steps, if it has any.
        """
        k = self._finished(view, enabled)
        if k is not None:
            return [(Step("deliver", k[0], k[1], k[2]), self._deliver(state, view, k))]
        accs = self._acceptor_set
        mine: dict = {}
        for k in enabled:
            if k[0] in accs:
                mine.setdefault(k[0], []).append(k)
        if mine:
            future = self._future_ballots(state, view)
            ceiling = max(future, default=None)  # None: no scout is still to come
            for a in sorted(mine):
                beta = field_of(view[a][1], "ballot_num")
                if ceiling is not None and beta < ceiling:
                    continue
                if any(k[1] == "P1a" and not k[2][1] < beta for k in mine[a]):
                    continue
                k = mine[a][0]
                return [(Step("deliver", k[0], k[1], k[2]), self._deliver(state, view, k))]
            for a in sorted(mine):
                k = self._refusal(view, a, mine[a], future)
                if k is not None:
                    return [(Step("deliver", k[0], k[1], k[2]), self._deliver(state, view, k))]
        asking = {k[2][0] for ks in mine.values() for k in ks}
        closed: dict = {}
        for k in enabled:
            if "." in k[0] and k[0] not in asking:
                closed.setdefault(k[0], []).append(k)
        for pid in sorted(closed):
            # Reduction 8 only where nothing else can reach the leader first.
            lead = pid[:pid.index(".")]
            heard = (lead,) if self._sole_voice(state, view, pid) else ()
            steps = list(self._process_steps(state, view, pid, closed[pid], heard=heard))
            if steps and not (self.naive and any(self.scouting(n) for _, n in steps)):
                return steps
        return None

    def _finished(self, view: dict, enabled: list):
        """Rule 7d of :meth:`_ample`: a decision in flight to a *finished*
        replica, or None. The replica is the only one, it and every leader
        run the stock classes, and it has nothing left to propose. Then no
        slot ever gets two commands (every command for slot s comes from
        its one proposal for s, through leaders, commanders and acceptors),
        so it never re-queues a displaced command and never proposes again:
        a decision changes only the replica and the ghost ``decided`` and
        sends nothing anyone keeps, and two decisions lead, in either order,
        to the same replica (decisions, slot_out, state) with the same
        verdicts (R1: one command a slot; Chosen: a majority that accepted
        stays so). So one decision commutes with every other step and may
        go first, alone."""
        r = self._done_replica(view)
        if r is None or self.roles["leader"] is not Leader:
            return None
        for k in enabled:
            if k[0] == r and k[1] == "Decision":
                return k
        return None

    def _done_replica(self, view: dict):
        """The id of the one replica, if it runs the stock class and has
        nothing left to propose (rules 7c and 7d rest on it); else None."""
        reps = self.config.replica_ids
        if len(reps) != 1 or self.roles["replica"] is not Replica:
            return None
        v = view.get(reps[0])
        return reps[0] if v is not None and not field_of(v[1], "requests") else None

    def _sole_voice(self, state: MState, view: dict, pid: str) -> bool:
        """Rule 7c with reduction 8: may the closed child ``pid`` have its
        last word delivered to its leader L at once, in a step explored
        alone? Only when nothing else can reach L first: L has no other
        live child (only children and replicas send to a leader), no message
        in flight to L but proposals while it is passive (a stock leader
        only records those, unseen), and the one stock replica has nothing
        left to propose (with one replica no slot ever gets two commands,
        so it never re-proposes a displaced command)."""
        lead = pid[:pid.index(".")]
        prefix = lead + "."
        for e in state.procs:
            if e[0].startswith(prefix) and e[0] != pid:
                return False
        entry = view[lead][1]
        if entry[1].cls is not Leader:
            return False
        passive = not field_of(entry, "active")
        for k in state.net:
            if k[0] == lead and not (passive and k[1] == "Propose") and not self.dead(k, view):
                return False
        return self._done_replica(view) is not None

    def _refusal(self, view: dict, a: str, pending: list, future: set):
        """Rule b of :meth:`_ample`: a p1a or p2a to acceptor ``a`` that it
        refuses whenever it comes (below its ballot beta, from a live scout
        or commander of leader L), when every ballot that could still lift
        beta (a p1a in flight to ``a``, or a future scout's) is L's own; or
        None. Why delivering it first and alone keeps every quiescent state:
        reduction 7b in the module docstring."""
        beta = field_of(view[a][1], "ballot_num")
        lifts = {k[2][1].leader for k in pending if k[1] == "P1a" and k[2][1] > beta}
        lifts.update(y.leader for y in future if y > beta)
        if len(lifts) > 1:
            return None
        for k in pending:
            src = k[2][0]
            if src not in view:
                continue
            b = k[2][1] if k[1] == "P1a" else k[2][1][0]
            if b < beta and lifts <= {b.leader}:
                return k
        return None

    def _future_ballots(self, state: MState, view: dict) -> set:
        """A superset of the ballots of the scouts not yet spawned that
        could ever get a p1a delivered. A leader spawns a scout (after
        its first) only when preempted by a ballot b above its own, and then
        at round b.round + 1; every ballot that can ever preempt is one that
        exists now (held by a process or carried by a message) or such a new
        one. So the closure below is a superset of the future scouts' ballots."""
        mb = self.config.max_ballot
        current = [field_of(view[pid][1], "ballot_num") for pid in self.config.leader_ids]
        known = set(current)
        for e in state.procs:
            if e[0] in self._acceptor_set:
                known.add(field_of(e, "ballot_num"))
        for _, mtype, msg in state.net:
            if mtype == "P2a":
                known.add(msg[1][0])
            elif mtype in ("P1a", "P1b", "P2b", "Preempted", "Adopted"):
                known.add(msg[1])
        new: set = set()
        grew = True
        while grew:
            grew = False
            for pid, cur in zip(self.config.leader_ids, current):
                for b in list(known):
                    if b > cur and b[0] < mb:
                        nb = Ballot(b[0] + 1, pid)
                        if nb not in known:
                            known.add(nb)
                            new.add(nb)
                            grew = True
        return new

    #: Fields of a process that an invariant or the liveness checks read: a
    #: step that changes one of them is visible.
    OBSERVED = {"leader": ("active", "ballot_num"), "scout": ("b",)}

    def _invisible(self, before: MState, after: MState, key, pid: str) -> bool:
        if (after.bad or after.children is not before.children
                or after.decided is not before.decided or after.chosen is not before.chosen
                or after.commanders is not before.commanders
                or len(after.procs) != len(before.procs) or after.extra != before.extra
                or after.timers != before.timers or len(after.net) != len(before.net) - 1
                or not after.net < before.net):
            return False
        old = next(e for e in before.procs if e[0] == pid)
        new = next(e for e in after.procs if e[0] == pid)
        if old[1] is not new[1]:
            return False
        kind = self.kind_of.get(pid) or ("scout" if issubclass(old[1].cls, Scout) else "child")
        return all(field_of(old, f) == field_of(new, f) for f in self.OBSERVED.get(kind, ()))

    def reduced_key(self, state: MState) -> tuple:
        """Reduction 6, with 4: the state with its dead messages left out,
        a refused p1b's (unread) pvalues left out, and the acceptors renamed
        into a canonical order. Acceptors are interchangeable: every leader,
        scout and commander sends to all of them and counts any majority, and
        they all run one class. Every fact in a state names at most one
        acceptor (its own entry, a message to or from it, its membership in a
        ``waitfor``), so ordering the acceptors by a fingerprint of their facts
        gives equal keys to states that are equal up to renaming; two
        acceptors with equal fingerprints have the same facts, and swapping
        them changes nothing. The key is an exact renaming of the state, so
        equal keys always mean equivalent states."""
        view = self._view(state)
        accs = self._acceptor_set
        facts: dict = {a: [] for a in accs}
        # Reduction 9: the slots whose pvalues no one will read (None: keep
        # every pvalue and the ghosts; ALL_SLOTS: leave out every pvalue).
        blind = self._blind(view)
        net = []
        for k in state.net:
            dst, mtype, msg = k
            if (mtype == "P1a" and msg[1][0] > self.config.max_ballot) or self.dead(k, view):
                continue
            if mtype == "P1b":
                v = view.get(dst)
                if v is not None and v[1][1].cls is Scout and msg[1] != field_of(v[1], "b"):
                    # A stock scout reads a p1b's pvalues only at its own ballot.
                    msg = msg._replace(accepted=_EMPTY)
                elif blind and msg.accepted:
                    msg = msg._replace(accepted=_unblind(msg.accepted, blind))
            elif mtype == "Adopted" and blind and msg.pvalues:
                msg = msg._replace(pvalues=_unblind(msg.pvalues, blind))
            net.append((dst, mtype, msg))
            if dst in accs:
                facts[dst].append(hash((1, mtype, msg)))
            elif msg[0] in accs:
                facts[msg[0]].append(hash((2, dst, mtype, msg[1:])))
        procs = state.procs
        if self.naive and not self.config.crashes:
            # A retired leader's proposals are never read again (retired()).
            procs = tuple(_blank(e, "proposals") if e[0] in self._leader_set and self.retired(e)
                          else e for e in procs)
        if blind:
            procs = tuple(_blind_field(e, "accepted", blind) if e[0] in accs
                          else _blind_field(e, "pvalues", blind) if e[1].cls is Scout
                          else e for e in procs)
        for e in procs:
            pid = e[0]
            if pid in accs:
                facts[pid].append(hash((0, e[1], e[2])))
            else:
                w = field_of(e, "waitfor")
                if w is not None:
                    h = hash((3, pid))
                    for a in w:
                        if a in facts:
                            facts[a].append(h)
        for d in state.down:
            if d[0] in accs:
                facts[d[0]].append(hash((4, d[1], d[2])))
        order = sorted(accs, key=lambda a: (sorted(facts[a]), a))
        ids = self.config.acceptor_ids
        ren = dict(zip(order, ids))
        if all(ren[a] == a for a in ids):
            rnet = frozenset(net)
            rprocs = procs
        else:
            rnet = frozenset(_rename_key(k, ren, accs) for k in net)
            out = []
            for e in procs:
                pid = e[0]
                if pid in accs:
                    out.append((ren[pid], e[1], e[2]))
                else:
                    i = e[1].pos.get("waitfor")
                    if i is not None:
                        vals = list(e[2])
                        vals[i] = frozenset(ren.get(a, a) for a in vals[i])
                        out.append((pid, e[1], tuple(vals)))
                    else:
                        out.append(e)
            rprocs = tuple(sorted(out, key=_first))
        extra = frozenset((_rename_key(k, ren, accs), n) for k, n in state.extra) \
            if state.extra else _EMPTY
        down = tuple(sorted((ren.get(d[0], d[0]),) + d[1:] for d in state.down)) \
            if state.down else ()
        return (rprocs, rnet, extra, state.timers, down, state.children, state.decided,
                _EMPTY if blind is not None else state.chosen,
                _EMPTY if blind is not None else state.commanders, state.used,
                tuple(v.invariant for v in state.bad))

    def _blind(self, view: dict):
        """Reduction 9, blind values: which pvalues may the key leave out?
        None (keep them all, and the ghosts ``chosen`` and ``commanders``)
        unless every role runs the stock class, there is one replica and no
        fault or timer can happen (``self.stock``). Then no slot ever gets
        two commands: every command for slot s comes from the one replica's
        one proposal for s (it re-proposes a command only when a different
        one is decided for its slot, which cannot happen), copied by
        leaders, commanders and acceptors. So no verdict reads pvalues or
        those ghosts: A4, A5, C1, C2 and R1 compare two commands for one
        slot; ``Chosen`` fails only if a commander decides without a
        majority that accepted at its ballot, which the stock commander and
        acceptor never do (a p2b at the commander's ballot comes from an
        acceptor that has just accepted its pvalue, and acceptors keep what
        they accept); A2 and A3 are about one acceptor's own step, checked
        on the state explored. And a pvalue for slot s can change what
        someone does only through a leader's ``pmax`` on adoption, which
        for a leader that already holds a proposal for s gives the command
        it holds: a stock leader reads pvalues nowhere else, and a stock
        acceptor and scout only pass them on. So the answer is the slots
        every leader that can still be adopted (one not retired) holds
        (:data:`ALL_SLOTS` when there is no such leader): states that
        differ only in pvalues for those slots, or in the ghosts, do the
        same things with the same verdicts. The answer reads only parts of
        the state the key keeps, so equal keys agree on it."""
        if not self.stock:
            return None
        held = ALL_SLOTS
        for lid in self.config.leader_ids:
            e = view[lid][1]  # no crash with self.stock: every leader is live
            if self.retired(e):
                continue
            mine = frozenset(sl for sl, _ in field_of(e, "proposals"))
            held = mine if held is ALL_SLOTS else held & mine
        return held

    # -- liveness ------------------------------------------------------------------
    def quiescent(self, state: MState) -> bool:
        """Nothing can happen any more but faults: no message can be
        delivered, and no timer can fire (none armed, or the budget spent)."""
        mb = self.config.max_ballot
        if state.timers and state.used[3] < self.config.timers:
            return False
        if not self.reduce:
            return not any(k[1] != "P1a" or k[2][1][0] <= mb for k in state.net)
        # Reduced: a dead message, or one whose delivery would be invisible
        # (reduction 5), is not something that can still happen.
        view = self._view(state)
        live = [k for k in state.net
                if (k[1] != "P1a" or k[2][1][0] <= mb) and not self.dead(k, view)]
        if not live:
            return True
        if not self.lazy or any(not self._lazy_dst(k[0]) for k in live):
            return False
        return next(iter(self._merged_steps(state, view, live)), None) is None

    def scouting(self, state: MState) -> list[Violation]:
        """A passive naive leader within the ballot bound has a scout at work
        for its ballot, or that scout's verdict (adopted, or preempted by a
        higher ballot) on its way to it: PMMC Fig. 8, a preempted leader
        spawns a new scout at once, so it is never idle while passive."""
        mb = self.config.max_ballot
        leaders = self._leader_set
        waiting = []
        scouts = set()
        for e in state.procs:
            pid = e[0]
            if pid in leaders:
                if not field_of(e, "active"):
                    ballot = field_of(e, "ballot_num")
                    if ballot is not None and ballot[0] <= mb:
                        waiting.append((pid, ballot))
            elif issubclass(e[1].cls, Scout):
                scouts.add((node_of(pid), field_of(e, "b")))
        out = []
        for pid, ballot in waiting:
            if (pid, ballot) in scouts:
                continue
            if any(k[0] == pid and (k[1] == "Adopted" and k[2][1] == ballot
                                    or k[1] == "Preempted" and k[2][1] > ballot)
                   for k in state.net):
                continue
            out.append(Violation(LIVENESS, f"leader {pid} is passive at ballot {ballot} with "
                                           f"no scout at work (ballot rounds left: max_ballot="
                                           f"{mb})"))
        return out

    def liveness(self, state: MState) -> list[Violation]:
        """In a quiescent state of a path without crash or loss: (1) every
        naive leader is active unless it ran out of ballot rounds (a
        ``backoff`` leader may rightly wait, deferring to an active one);
        (2) if some leader is active, every replica performed every command."""
        used = state.used
        if used[0] or used[1] or state.down or not self.quiescent(state):
            return []
        view = self._view(state)
        active, stuck = [], []
        for pid in self.config.leader_ids:
            e = view[pid][1]
            ballot = field_of(e, "ballot_num")
            if field_of(e, "active"):
                active.append(pid)
            elif self.naive and (ballot is None or ballot[0] <= self.config.max_ballot):
                stuck.append(f"{pid} (at {ballot})")
        out = []
        if stuck:
            out.append(Violation(LIVENESS, f"nothing left to deliver, yet leader "
                                           f"{', '.join(stuck)} is passive with ballot rounds "
                                           f"left (max_ballot={self.config.max_ballot})"))
        if active:
            missing = []
            for rid in self.config.replica_ids:
                e = view[rid][1]
                slot_out = field_of(e, "slot_out")
                decisions = dict(field_of(e, "decisions", ()))
                performed = {decisions.get(s) for s in range(1, slot_out)}
                lacks = [str(c) for c in self.commands if c not in performed]
                if lacks:
                    missing.append(f"{rid} has not performed {', '.join(lacks)}")
            if missing:
                out.append(Violation(LIVENESS, f"nothing left to deliver and {', '.join(active)} "
                                               f"active, yet {'; '.join(missing)}"))
        return out

    # -- reading a state -------------------------------------------------------------
    def describe(self, state: MState) -> dict:
        """A readable, JSON-ready view of a state."""
        procs = {}
        for pid, sch, vals in state.procs:
            procs[pid] = {"class": sch.cls.__name__,
                          **{k: to_plain(_plain(v)) for k, v in zip(sch.names, vals)}}
        extra = dict(state.extra)
        net = [{"to": k[0], "msg": show_msg(k[1], k[2]), "copies": 1 + extra.get(k, 0)}
               for k in sorted(state.net, key=self._order)]
        return {"processes": procs, "network": net,
                "timers": sorted(map(list, state.timers)),
                "down": [d[0] for d in state.down],
                "decided": {s: str(c) for s, c in sorted(state.decided)},
                "used": dict(zip(("crashes", "drops", "dups", "timers"), state.used)),
                "violations": [v.to_dict() for v in state.bad]}


def _plain(v):
    if type(v) in (FKV, FDict, FODict):
        return {str(k): x for k, x in v}
    return v


def _first(x):
    return x[0]


def _with_field(entry: tuple, name: str, value) -> tuple:
    """An encoded process with field ``name`` set to ``value`` (for a key only)."""
    i = entry[1].pos[name]
    vals = entry[2]
    return (entry[0], entry[1], vals[:i] + (value,) + vals[i + 1:])


def _blank(entry: tuple, name: str) -> tuple:
    """An encoded process with one dict field emptied (for a key only)."""
    return _with_field(entry, name, _EMPTY_DICT)


class _AllSlots:
    """Every slot (reduction 9 when no leader can be adopted any more)."""

    __slots__ = ()

    def __contains__(self, slot) -> bool:
        return True

    def __repr__(self) -> str:
        return "ALL_SLOTS"


ALL_SLOTS = _AllSlots()


def _unblind(pvalues: frozenset, blind) -> frozenset:
    """The pvalues of slots not in ``blind`` (reduction 9)."""
    kept = frozenset(pv for pv in pvalues if pv[1] not in blind)
    return kept if len(kept) != len(pvalues) else pvalues


def _blind_field(entry: tuple, name: str, blind) -> tuple:
    """An encoded process with the pvalues of the slots in ``blind`` left
    out of its set field ``name`` (for a key only)."""
    old = field_of(entry, name)
    new = _unblind(old, blind)
    return entry if new is old else _with_field(entry, name, FSet(new))


def _rename_key(key, ren: dict, accs) -> tuple:
    """A network key with its acceptor ids renamed (destination or source)."""
    dst, mtype, msg = key
    if dst in accs:
        return (ren[dst], mtype, msg)
    if msg[0] in accs:
        return (dst, mtype, msg._replace(src=ren[msg[0]]))
    return key


def _remove(net: frozenset, extra: frozenset, key):
    if extra:
        d = dict(extra)
        n = d.get(key)
        if n:
            if n == 1:
                del d[key]
            else:
                d[key] = n - 1
            return net, frozenset(d.items())
    return net.difference((key,)), extra


def _add(net: frozenset, extra: frozenset, key):
    if key not in net:
        return net.union((key,)), extra
    d = dict(extra)
    d[key] = d.get(key, 0) + 1
    return net, frozenset(d.items())


# --------------------------------------------------------------------------
# One call: explore a configuration
# --------------------------------------------------------------------------
@dataclass
class CheckResult:
    """An exploration of a :class:`PaxosModel` and what it found."""

    model: PaxosModel
    result: ExploreResult
    steps: list = field(default_factory=list)  # the counterexample, as Steps

    @property
    def ok(self) -> bool:
        return not self.result.violations

    def to_dict(self) -> dict:
        r = self.result
        return {"states": r.states, "transitions": r.transitions, "complete": r.complete,
                "violations": [v.to_dict() for v in r.violations],
                "counterexample": [s.to_json() for s in self.steps],
                "depth": r.depth, "wall_s": round(r.wall_s, 6),
                "fingerprints": r.fingerprints, "collision_probability": r.collision_probability}


def check_model(config: ModelConfig | None = None, roles: dict | None = None, *,
                max_depth: int | None = None, max_states: int | None = None,
                progress=None, progress_every: int = 50_000,
                stop_on_violation: bool = True, reduce: bool = False,
                fingerprints: bool = False, workers: int = 1) -> CheckResult:
    """Explore ``config`` (the standard configuration by default) with the
    given role classes, breadth-first: the counterexample, if any, is a
    shortest one (in steps of the model explored: with ``reduce``, a merged
    step counts once; ``steps`` lists every delivery).

    ``fingerprints=True`` keeps 64-bit hashes of the states in the visited
    set instead of the states (see :func:`~paxos_lit.check.explore.explore`);
    ``workers=N`` (N > 1) runs the search on N processes
    (:mod:`paxos_lit.check.parallel`), always with fingerprints.

    ``reduce=True`` applies reductions 4-9 of the module docstring (``paxos-lit
    check`` does, unless ``--no-reduce``); the default explores every state."""
    model = PaxosModel(config, roles, reduce=reduce)
    # States are tuples of tuples; nothing the model builds is cyclic, so the
    # cyclic garbage collector would only re-walk the visited set over and
    # over. Reference counting still frees everything at once.
    collecting = gc.isenabled()
    gc.disable()
    try:
        if workers != 1:
            from .parallel import explore_parallel  # fingerprints, on several processes
            r = explore_parallel(model, workers=workers, max_depth=max_depth,
                                 max_states=max_states, progress=progress,
                                 progress_every=progress_every,
                                 stop_on_violation=stop_on_violation)
        else:
            r = explore(model, max_depth=max_depth, max_states=max_states, progress=progress,
                        progress_every=progress_every, stop_on_violation=stop_on_violation,
                        fingerprints=fingerprints)
    finally:
        if collecting:
            gc.enable()
    steps = flatten(r.counterexample)
    if reduce and r.violations and any(v.invariant == LIVENESS for v in r.violations):
        steps += _drain(model, steps)
    return CheckResult(model, r, steps)


def flatten(labels) -> list:
    """The deliveries of a path whose merged steps are tuples, one by one."""
    out = []
    for lab in labels:
        if isinstance(lab, tuple) and not isinstance(lab, Step):
            out.extend(lab)
        else:
            out.append(lab)
    return out


def _drain(model: PaxosModel, steps: list) -> list:
    """After a reduced path to a quiescent state, the deliveries the
    reductions left out (dead or invisible ones: they change nothing any
    invariant reads), so that the path also ends quiescent in the unreduced
    model and the simulator."""
    plain = PaxosModel(model.config, model.roles)
    state = plain.initial_state()
    for step in steps:
        state = next(n for lab, n in plain.successors(state) if lab == step)
    more = []
    while not plain.quiescent(state):
        lab, state = next(x for x in plain.successors(state) if x[0].kind == "deliver")
        more.append(lab)
    return more
