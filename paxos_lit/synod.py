"""Single-decree Paxos (Lamport's Synod) as an explorable model.

This module is a line-by-line Python reading of Lamport's TLA+ specification
``Paxos.tla`` (TLA+ Examples repository, ``specifications/Paxos`` and
``specifications/PaxosHowToWinATuringAward``): the Paxos *consensus*
algorithm, in which acceptors choose at most one value. It is the teaching
stage before Multi-Paxos: one decree, no slots, no leaders as processes (each
ballot ``b`` has its own notional leader, which performs ``Phase1a(b)`` and
``Phase2a(b, v)``), no replicas, no learners.

It uses exactly the spec's constants, variables and actions:

* constants ``acceptors``, ``values``, ``ballots`` (``0..max_ballot``) and
  ``quorums`` (by default all majorities of the acceptors);
* variables ``maxBal``, ``maxVBal``, ``maxVal`` (one entry per acceptor) and
  ``msgs``, the set of every message ever sent. Messages are never removed:
  receiving is "acting on a message that is in ``msgs``", so loss,
  duplication and reordering are all already covered;
* actions ``Phase1a(b)``, ``Phase1b(a)``, ``Phase2a(b, v)``, ``Phase2b(a)``.

A :class:`Synod` object is a model for :func:`paxos_lit.check.explore.explore`
(``initial_states``, ``successors``, ``check``). Its successor function yields
one step per way an action is enabled, i.e. one per witness of the spec's
``\\E`` quantifiers, which is how TLC counts "states generated". So exploring
``Synod.tiny()`` (TLC model ``MCPaxosTiny``: 3 acceptors, 2 values, ballots
0..1) finds TLC's 3,921 distinct states from 23,563 generated (23,562
transitions plus the initial state), and ``Synod.small()`` (``MCPaxosSmall``,
ballots 0..2) finds 185,369 distinct states from 1,361,380 generated.

Invariants checked in every state (:meth:`Synod.check`): ``Consistency``
(at most one value is chosen) and the cheap conjuncts of the spec's
inductive invariant ``Inv`` and of Voting's ``OneValuePerBallot``; see
:data:`INVARIANTS`. (Voting's ``VotesSafe`` needs ``SafeAt`` over all lower
ballots and quorums; it is left out because it is expensive, and
``Consistency`` is what it exists to prove.)

Representation, chosen so a state is canonical and hashable:

* a function over acceptors (``maxBal`` etc.) is a tuple indexed like
  ``model.acceptors``; messages name acceptors and values directly;
* a message is an immutable named tuple whose first field is its ``type``,
  so ``m.type == "1b"`` and ``m.bal`` read as in TLA+;
* ``msgs`` is a ``frozenset``;
* the spec's ``None`` ("not a value") is Python's ``None``.

Successors are produced in an order fixed by the constants (never by set
iteration order), so explorations and counterexamples are reproducible
across processes, whatever ``PYTHONHASHSEED`` is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations, permutations
from typing import Any, NamedTuple

from paxos_lit.check.explore import Violation

__all__ = [
    "INVARIANTS",
    "Msg1a",
    "Msg1b",
    "Msg2a",
    "Msg2b",
    "Synod",
    "SynodState",
    "majorities",
]

# --------------------------------------------------------------------------
# Messages: the TLA+ set Message, one named tuple per record shape.
# --------------------------------------------------------------------------


class Msg1a(NamedTuple):
    """``[type |-> "1a", bal |-> b]``: the leader of ballot ``b`` starts it."""

    type: str  # always "1a"
    bal: int  # the ballot being started


class Msg1b(NamedTuple):
    """``[type |-> "1b", acc, bal, mbal, mval]``: acceptor ``acc`` joins
    ballot ``bal`` and reports its latest vote ``<<mbal, mval>>``
    (``<<-1, None>>`` if it has never voted)."""

    type: str  # always "1b"
    acc: Any  # the acceptor that sent it
    bal: int  # the ballot it joins (its new maxBal)
    mbal: int  # maxVBal of acc when it sent this, -1 if it had not voted
    mval: Any  # maxVal of acc when it sent this, None if it had not voted


class Msg2a(NamedTuple):
    """``[type |-> "2a", bal |-> b, val |-> v]``: the leader of ballot ``b``
    asks the acceptors to vote for ``v`` in ballot ``b``."""

    type: str  # always "2a"
    bal: int
    val: Any


class Msg2b(NamedTuple):
    """``[type |-> "2b", acc, bal, val]``: acceptor ``acc`` voted for ``val``
    in ballot ``bal``. The set of these messages is the Voting spec's
    ``votes``."""

    type: str  # always "2b"
    acc: Any
    bal: int
    val: Any


Message = Msg1a | Msg1b | Msg2a | Msg2b


# --------------------------------------------------------------------------
# State: the four variables of Paxos.tla.
# --------------------------------------------------------------------------


class SynodState(NamedTuple):
    """One state of the spec: ``<<maxBal, maxVBal, maxVal, msgs>>``.

    The three per-acceptor functions are tuples indexed like
    ``model.acceptors`` (use :meth:`Synod.describe` for a readable view).
    """

    maxBal: tuple[int, ...]  # highest ballot each acceptor has joined; -1 at start
    maxVBal: tuple[int, ...]  # ballot of each acceptor's latest vote; -1 if none
    maxVal: tuple[Any, ...]  # value of each acceptor's latest vote; None if none
    msgs: frozenset  # every message ever sent (Msg1a | Msg1b | Msg2a | Msg2b)


#: The invariants :meth:`Synod.check` evaluates, with what each one says.
#: Names follow ``Paxos.tla`` / ``Voting.tla`` where the spec names them.
INVARIANTS: dict[str, str] = {
    "Consistency": "at most one value is chosen (Consensus.tla); a value is "
    "chosen when some quorum all voted for it in one ballot",
    "OneValuePerBallot": "no two votes in the same ballot are for different values (Voting.tla)",
    "OneProposalPerBallot": "at most one 2a message per ballot (Inv, 2a conjunct)",
    "MaxBalCoversVote": "maxBal[a] >= maxVBal[a] for every acceptor (Inv)",
    "LatestVoteRecorded": "<<maxVBal[a], maxVal[a]>> is <<-1, None>> or one of a's votes (Inv)",
    "PromiseKept": "a 1b message with ballot b from a implies maxBal[a] >= b, "
    "and the vote it reports was really cast (Inv, 1b conjunct)",
    "VoteFollows2a": "a vote <<b, v>> by a implies maxVBal[a] >= b and a 2a "
    "message for <<b, v>> (Inv, 2b conjunct)",
}


def majorities(acceptors: Sequence[Any]) -> tuple[tuple[Any, ...], ...]:
    """All minimal majorities of ``acceptors``: any two of them intersect,
    which is the one assumption Paxos makes about quorums. For three
    acceptors a1, a2, a3 this is ``{a1,a2}, {a1,a3}, {a2,a3}``, as in the TLC
    models ``MCPaxosTiny`` and ``MCPaxosSmall``."""
    return tuple(combinations(tuple(acceptors), len(acceptors) // 2 + 1))


class Synod:
    """The Synod (single-decree Paxos) specification with fixed constants.

    ``Synod(acceptors, values, max_ballot, quorums=None, invariants=None)``:
    ballots are ``0..max_ballot``; ``quorums`` defaults to
    :func:`majorities`; ``invariants`` restricts :meth:`check` to a subset of
    :data:`INVARIANTS` (all by default).

    Use it step by step (``s = m.initial_state(); s = m.phase1a(s, 0)[0][1]``)
    or hand it to the explorer (``explore(Synod.tiny())``).
    """

    def __init__(
        self,
        acceptors: Sequence[Any] = ("a1", "a2", "a3"),
        values: Sequence[Any] = ("v1", "v2"),
        max_ballot: int = 1,
        quorums: Iterable[Iterable[Any]] | None = None,
        invariants: Iterable[str] | None = None,
    ) -> None:
        # -- the constants of the spec --
        self.acceptors: tuple[Any, ...] = tuple(acceptors)  # CONSTANT Acceptor
        self.values: tuple[Any, ...] = tuple(values)  # CONSTANT Value
        self.ballots: tuple[int, ...] = tuple(range(max_ballot + 1))  # Ballot = 0..MaxBallot
        if quorums is None:
            quorums = majorities(self.acceptors)
        # CONSTANT Quorum: each quorum as a tuple in acceptor order.
        self.quorums: tuple[tuple[Any, ...], ...] = tuple(
            tuple(a for a in self.acceptors if a in set(q)) for q in quorums
        )
        self.invariants: tuple[str, ...] = (
            tuple(INVARIANTS) if invariants is None else tuple(invariants)
        )
        unknown = set(self.invariants) - set(INVARIANTS)
        if unknown:
            raise ValueError(f"unknown invariants: {sorted(unknown)}")
        if len(set(self.acceptors)) != len(self.acceptors) or None in self.values:
            raise ValueError("acceptors must be distinct and None is not a value")
        for q in self.quorums:
            if not q:
                raise ValueError("a quorum must not be empty")

        # -- derived lookups (speed and memory only; no protocol meaning) --
        self.index = {a: i for i, a in enumerate(self.acceptors)}  # acceptor -> tuple slot
        self._quorum_sets = tuple(frozenset(q) for q in self.quorums)
        self._msgs: dict[Message, Message] = {}  # one shared copy of each message
        self._rows: dict[tuple, tuple] = {}  # one shared copy of each per-acceptor tuple
        self._1a = {b: self._intern_msg(Msg1a("1a", b)) for b in self.ballots}
        self._2a = {
            (b, v): self._intern_msg(Msg2a("2a", b, v)) for b in self.ballots for v in self.values
        }
        # Labels are built once and shared by every step that uses them.
        self._label_1a = {b: f"Phase1a({b})" for b in self.ballots}
        self._label_1b = {
            (a, b): f"Phase1b({a}) recv 1a({b})" for a in self.acceptors for b in self.ballots
        }
        self._label_2a = {
            (b, v, q): f"Phase2a({b}, {v}) Q={{{','.join(map(str, q))}}}"
            for b in self.ballots
            for v in self.values
            for q in self.quorums
        }
        self._label_2b = {
            (a, b, v): f"Phase2b({a}) recv 2a({b}, {v})"
            for a in self.acceptors
            for b in self.ballots
            for v in self.values
        }
        self._sym: list[Any] | None = None  # permutation tables, built on first use

    # ----------------------------------------------------------------------
    # The TLC models of the TLA+ Examples repository.
    # ----------------------------------------------------------------------

    @classmethod
    def tiny(cls, **kw: Any) -> Synod:
        """TLC model ``MCPaxosTiny``: acceptors a1..a3, values v1, v2, ballots
        0..1, majority quorums. TLC: 3,921 distinct states, 23,563 generated,
        depth 17 (counting the initial state as depth 1)."""
        return cls(("a1", "a2", "a3"), ("v1", "v2"), 1, **kw)

    @classmethod
    def small(cls, **kw: Any) -> Synod:
        """TLC model ``MCPaxosSmall``: as :meth:`tiny` with ballots 0..2.
        185,369 distinct states, 1,361,380 generated."""
        return cls(("a1", "a2", "a3"), ("v1", "v2"), 2, **kw)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(acceptors={self.acceptors!r}, values={self.values!r}, "
            f"max_ballot={self.ballots[-1]}, quorums={self.quorums!r})"
        )

    # ----------------------------------------------------------------------
    # Init and the subaction Send.
    # ----------------------------------------------------------------------

    def initial_state(self) -> SynodState:
        """``Init``: nobody has joined or voted in any ballot, no messages."""
        n = len(self.acceptors)
        return SynodState(
            maxBal=self._intern_row((-1,) * n),
            maxVBal=self._intern_row((-1,) * n),
            maxVal=self._intern_row((None,) * n),
            msgs=frozenset(),
        )

    def initial_states(self) -> list[SynodState]:
        """The explorer's entry point: the one state satisfying ``Init``."""
        return [self.initial_state()]

    def send(self, s: SynodState, m: Message) -> frozenset:
        """``Send(m)``: the value of ``msgs'``, i.e. ``msgs \\cup {m}``."""
        return s.msgs | {self._intern_msg(m)}

    def _except(self, f: tuple, a: Any, x: Any) -> tuple:
        """``[f EXCEPT ![a] = x]`` for a per-acceptor tuple."""
        i = self.index[a]
        return self._intern_row(f[:i] + (x,) + f[i + 1 :])

    # States share one copy of every message and of every per-acceptor tuple,
    # which keeps a 185k-state exploration lean. Purely a memory optimisation.
    def _intern_msg(self, m: Message) -> Message:
        return self._msgs.setdefault(m, m)

    def _intern_row(self, row: tuple) -> tuple:
        return self._rows.setdefault(row, row)

    # ----------------------------------------------------------------------
    # The four actions. Each returns a list of (label, next_state), one entry
    # per way the action is enabled (one per witness of its \E), as TLC
    # enumerates them. An empty list means the action is not enabled.
    # ----------------------------------------------------------------------

    def phase1a(self, s: SynodState, b: int) -> list[tuple[str, SynodState]]:
        """TLA+ ``Phase1a(b)``: the leader of ballot ``b`` sends
        ``[type |-> "1a", bal |-> b]`` to all acceptors.

        There is no guard: sending it a second time leaves every variable
        unchanged, a stuttering step that is allowed (and that TLC still
        counts as a generated state)."""
        m = self._1a[b]
        nxt = s if m in s.msgs else SynodState(s.maxBal, s.maxVBal, s.maxVal, self.send(s, m))
        return [(self._label_1a[b], nxt)]

    def phase1b(self, s: SynodState, a: Any) -> list[tuple[str, SynodState]]:
        """TLA+ ``Phase1b(a)``: on a 1a message ``m`` with
        ``m.bal > maxBal[a]``, acceptor ``a`` sets ``maxBal[a]`` to ``m.bal``
        (promising to ignore lower ballots) and sends a 1b message reporting
        its latest vote ``<<maxVBal[a], maxVal[a]>>``."""
        i = self.index[a]
        steps = []
        for b in self.ballots:  # \E m \in msgs : m.type = "1a" /\ m.bal > maxBal[a]
            m = self._1a[b]
            if m in s.msgs and m.bal > s.maxBal[i]:
                reply = Msg1b("1b", a, m.bal, s.maxVBal[i], s.maxVal[i])
                nxt = SynodState(
                    self._except(s.maxBal, a, m.bal), s.maxVBal, s.maxVal, self.send(s, reply)
                )
                steps.append((self._label_1b[a, b], nxt))
        return steps

    def phase2a(self, s: SynodState, b: int, v: Any) -> list[tuple[str, SynodState]]:
        """TLA+ ``Phase2a(b, v)``: the leader of ballot ``b`` sends
        ``[type |-> "2a", bal |-> b, val |-> v]`` if

        1. it has not sent a 2a message for ballot ``b`` before, and
        2. some quorum ``Q`` has sent 1b messages for ballot ``b``, and
           either none of them reports a vote, or ``v`` is the value of a
           report with the highest ``mbal`` among them.

        Condition 2 is the heart of Paxos: ``v`` is then safe at ``b`` (no
        other value has been or can be chosen in a lower ballot). One step
        per witness: per quorum ``Q``, and per highest report ``m`` naming
        ``v`` (the spec's inner ``\\E m \\in Q1bv``)."""
        if any(self._2a[b, w] in s.msgs for w in self.values):
            return []  # ~ \E m \in msgs : m.type = "2a" /\ m.bal = b
        one_b: dict[Any, list[Msg1b]] = {}  # acceptor -> its 1b messages for ballot b
        for m in s.msgs:
            if m.type == "1b" and m.bal == b:
                one_b.setdefault(m.acc, []).append(m)
        if not one_b:
            return []
        msg = self._2a[b, v]
        steps = []
        for Q in self.quorums:
            if not all(a in one_b for a in Q):  # \A a \in Q : \E m \in Q1b : m.acc = a
                continue
            Q1b = [m for a in Q for m in one_b[a]]
            Q1bv = [m for m in Q1b if m.mbal >= 0]  # the reports of an actual vote
            if not Q1bv:
                witnesses = 1  # Q1bv = {}: every value is safe
            else:
                top = max(m.mbal for m in Q1bv)
                # \E m \in Q1bv : m.mval = v /\ \A mm \in Q1bv : m.mbal >= mm.mbal
                witnesses = sum(1 for m in Q1bv if m.mval == v and m.mbal == top)
            if witnesses:
                nxt = SynodState(s.maxBal, s.maxVBal, s.maxVal, self.send(s, msg))
                steps.extend([(self._label_2a[b, v, Q], nxt)] * witnesses)
        return steps

    def phase2b(self, s: SynodState, a: Any) -> list[tuple[str, SynodState]]:
        """TLA+ ``Phase2b(a)``: on a 2a message ``m`` with
        ``m.bal >= maxBal[a]`` (``a`` has joined no higher ballot), acceptor
        ``a`` votes for ``m.val`` in ballot ``m.bal``: it sets ``maxBal[a]``
        and ``maxVBal[a]`` to ``m.bal`` and ``maxVal[a]`` to ``m.val``, and
        sends the 2b message that records the vote."""
        i = self.index[a]
        steps = []
        for b in self.ballots:  # \E m \in msgs : m.type = "2a" /\ ...
            for v in self.values:
                m = self._2a[b, v]
                if m in s.msgs and self.accepts(s, a, m):
                    steps.append((self._label_2b[a, b, v], self._vote(s, a, i, m)))
        return steps

    def accepts(self, s: SynodState, a: Any, m: Msg2a) -> bool:
        """Phase2b's guard ``m.bal >= maxBal[a]`` (a hook for seeded bugs)."""
        return m.bal >= s.maxBal[self.index[a]]

    def _vote(self, s: SynodState, a: Any, i: int, m: Msg2a) -> SynodState:
        reply = Msg2b("2b", a, m.bal, m.val)
        if reply in s.msgs and s.maxBal[i] == m.bal == s.maxVBal[i] and s.maxVal[i] == m.val:
            return s  # voting again for the same thing: a stuttering step
        return SynodState(
            self._except(s.maxBal, a, m.bal),
            self._except(s.maxVBal, a, m.bal),
            self._except(s.maxVal, a, m.val),
            self.send(s, reply),
        )

    # ----------------------------------------------------------------------
    # Next, as the explorer sees it.
    # ----------------------------------------------------------------------

    def successors(self, s: SynodState) -> list[tuple[str, SynodState]]:
        """``Next``: every step from ``s``, as ``(label, next_state)``.

        ``Next == \\/ \\E b \\in Ballot : Phase1a(b) \\/ \\E v \\in Value : Phase2a(b, v)
        \\/ \\E a \\in Acceptor : Phase1b(a) \\/ Phase2b(a)``"""
        steps = []
        for b in self.ballots:
            steps += self.phase1a(s, b)
            for v in self.values:
                steps += self.phase2a(s, b, v)
        for a in self.acceptors:
            steps += self.phase1b(s, a)
            steps += self.phase2b(s, a)
        return steps

    # ----------------------------------------------------------------------
    # What the spec guarantees, checked in every state.
    # ----------------------------------------------------------------------

    def votes(self, s: SynodState) -> dict[Any, set[tuple[int, Any]]]:
        """The spec's ``votes``: ``votes[a]`` is the set of ``<<b, v>>`` such
        that ``a`` sent ``[type |-> "2b", acc |-> a, bal |-> b, val |-> v]``."""
        out: dict[Any, set[tuple[int, Any]]] = {a: set() for a in self.acceptors}
        for m in s.msgs:
            if m.type == "2b":
                out[m.acc].add((m.bal, m.val))
        return out

    def chosen_at(self, s: SynodState) -> set[tuple[int, Any]]:
        """The pairs ``<<b, v>>`` with Voting's ``ChosenAt(b, v)``: every
        acceptor of some quorum voted for ``v`` in ballot ``b``."""
        voters: dict[tuple[int, Any], set[Any]] = {}  # <<b, v>> -> who voted for it
        for m in s.msgs:
            if m.type == "2b":
                voters.setdefault((m.bal, m.val), set()).add(m.acc)
        return {bv for bv, who in voters.items() if any(q <= who for q in self._quorum_sets)}

    def chosen(self, s: SynodState) -> set[Any]:
        """Voting's ``chosen``: the values ``v`` such that ``ChosenAt(b, v)``
        for some ballot ``b``. ``Consistency`` says it has at most one element."""
        return {v for _b, v in self.chosen_at(s)}

    def check(self, s: SynodState) -> list[Violation]:
        """Evaluate :data:`INVARIANTS` (those selected) in ``s``; return the
        violations, an empty list when all hold.

        One pass over ``msgs`` checks the per-message conjuncts of ``Inv``;
        ``Consistency`` is then only worked out when votes for two different
        values exist at all. (Lookups use plain tuples such as
        ``("2a", b, v)``, which equal the named-tuple messages.)"""
        msgs = s.msgs
        maxBal, maxVBal, maxVal = s.maxBal, s.maxVBal, s.maxVal
        index = self.index
        bad: list[Violation] = []

        def fail(invariant: str, detail: str) -> None:
            bad.append(Violation(invariant, detail))

        proposal: dict[int, Any] = {}  # ballot -> the value its 2a proposes
        vote_in: dict[int, Any] = {}  # ballot -> a value voted for in it
        for m in msgs:
            t = m[0]
            if t == "2b":  # acceptor a voted <<b, v>>
                _, a, b, v = m
                if vote_in.setdefault(b, v) != v:
                    fail("OneValuePerBallot", f"ballot {b} has votes for {vote_in[b]} and {v}")
                if maxVBal[index[a]] < b or ("2a", b, v) not in msgs:
                    fail(
                        "VoteFollows2a",
                        f"{a} voted <<{b}, {v}>> with maxVBal[{a}] = "
                        f"{maxVBal[index[a]]}, 2a({b}, {v}) sent: {('2a', b, v) in msgs}",
                    )
            elif t == "1b":  # acceptor a joined ballot b, reporting vote <<mbal, mval>>
                _, a, b, mbal, mval = m
                if maxBal[index[a]] < b:
                    fail(
                        "PromiseKept",
                        f"{a} joined ballot {b} but maxBal[{a}] = {maxBal[index[a]]}",
                    )
                elif mbal >= 0 and ("2b", a, mbal, mval) not in msgs:
                    fail("PromiseKept", f"{a} reported vote <<{mbal}, {mval}>> it never cast")
            elif t == "2a":  # the leader of ballot b proposed v
                _, b, v = m
                if proposal.setdefault(b, v) != v:
                    fail("OneProposalPerBallot", f"ballot {b} proposes {proposal[b]} and {v}")
        for i, a in enumerate(self.acceptors):
            if maxBal[i] < maxVBal[i]:
                fail(
                    "MaxBalCoversVote", f"maxBal[{a}] = {maxBal[i]} < maxVBal[{a}] = {maxVBal[i]}"
                )
            if maxVBal[i] == -1:
                recorded = maxVal[i] is None
            else:
                recorded = ("2b", a, maxVBal[i], maxVal[i]) in msgs
            if not recorded:
                fail(
                    "LatestVoteRecorded",
                    f"<<maxVBal[{a}], maxVal[{a}]>> = "
                    f"<<{maxVBal[i]}, {maxVal[i]}>> is not a vote of {a}",
                )
        if len(set(vote_in.values())) > 1:  # two values have votes: were both chosen?
            chosen = self.chosen_at(s)
            if len({v for _b, v in chosen}) > 1:
                how = "; ".join(f"{v} at ballot {b}" for b, v in sorted(chosen, key=str))
                fail("Consistency", f"two values chosen: {how}")
        if bad and len(self.invariants) != len(INVARIANTS):
            bad = [x for x in bad if x.invariant in self.invariants]
        return bad

    # ----------------------------------------------------------------------
    # Reading a state, and symmetry.
    # ----------------------------------------------------------------------

    def describe(self, s: SynodState) -> dict[str, Any]:
        """A readable, JSON-friendly view of ``s``: per-acceptor dicts and the
        messages sorted by type, ballot and acceptor."""

        def key(m: Message) -> tuple:
            return (m.type, m.bal, str(getattr(m, "acc", "")), str(m))

        return {
            "maxBal": dict(zip(self.acceptors, s.maxBal, strict=True)),
            "maxVBal": dict(zip(self.acceptors, s.maxVBal, strict=True)),
            "maxVal": dict(zip(self.acceptors, s.maxVal, strict=True)),
            "msgs": [m._asdict() for m in sorted(s.msgs, key=key)],
        }

    def symmetric_key(self, s: SynodState) -> tuple:
        """A key equal for two states iff one is the other with acceptors
        and/or values renamed. Pass it as ``explore(model,
        symmetry=model.symmetric_key)`` to visit one state per class
        (TLC's SYMMETRY on ``Permutations(Acceptor) \\cup Permutations(Value)``).

        Sound here because the spec treats acceptors alike, values alike,
        majority quorums are closed under renaming, and every invariant in
        :data:`INVARIANTS` is itself unchanged by renaming. Ballots are
        ordered, so they are never permuted. Do not use it with
        non-symmetric custom ``quorums``."""
        if self._sym is None:
            self._sym = self._symmetry_tables()
        best = None
        for pa, pv in self._sym:
            # Acceptor i becomes pa[i]; value j becomes pv[j] (None stays -1).
            mb = [0] * len(pa)
            mvb = [0] * len(pa)
            mv = [0] * len(pa)
            for i, j in enumerate(pa):
                mb[j] = s.maxBal[i]
                mvb[j] = s.maxVBal[i]
                mv[j] = -1 if s.maxVal[i] is None else pv[self.values.index(s.maxVal[i])]
            msgs = sorted(self._msg_image(m, pa, pv) for m in s.msgs)
            key = (tuple(mb), tuple(mvb), tuple(mv), tuple(msgs))
            if best is None or key < best:
                best = key
        return best  # type: ignore[return-value]

    def _symmetry_tables(self) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        n, k = len(self.acceptors), len(self.values)
        qs = {frozenset(self.index[a] for a in q) for q in self.quorums}
        tables = []
        for pa in permutations(range(n)):
            if {frozenset(pa[i] for i in q) for q in qs} != qs:
                continue  # this renaming does not preserve Quorum: not a symmetry
            for pv in permutations(range(k)):
                tables.append((pa, pv))
        return tables

    def _msg_image(self, m: Message, pa: tuple[int, ...], pv: tuple[int, ...]) -> tuple:
        # A message as a tuple of ints under a renaming, for ordering.
        def val(x: Any) -> int:
            return -1 if x is None else pv[self.values.index(x)]

        if m.type == "1a":
            return (0, m.bal)
        if m.type == "1b":
            return (1, m.bal, pa[self.index[m.acc]], m.mbal, val(m.mval))
        if m.type == "2a":
            return (2, m.bal, val(m.val))
        return (3, m.bal, pa[self.index[m.acc]], val(m.val))
