"""The catalogue of seeded bugs ("mutants"): small, named, wrong roles.

Each mutant is a small subclass of one role that changes one rule, with a
docstring saying what the bug is and which invariant it breaks. They are the
bugs a student writing PMMC's roles tends to make, and the real defects of
the original PMMC code (DESIGN section 4): a leader that goes passive on any
preemption, a commander that decides after one reply, a scout that reports
adoption after one p1b. A checker that does not catch all of them is not
checking much; the tests run every one.

:data:`MUTANTS` maps a name to a :class:`Mutant`: the role classes to give
the simulator or the model (``roles``), the invariant(s) it must break, and
how it is caught:

* ``explore``: the explorer (:mod:`paxos_lit.check.model`) on a small
  configuration finds a shortest path to the violation, which replays in the
  simulator (:mod:`paxos_lit.check.replay`);
* ``sweep``: a seeded simulator sweep (the bug needs clients, loss or time,
  which the model leaves out) finds a seed whose run breaks an invariant or,
  for ``linearizability``, whose client history the linearizability checker
  rejects (``check(parse_history(sim.history()))``).

Invariant names: R1-R5, A1-A5, C1-C2 (``paxos_lit.invariants.NAMES``),
``Chosen`` and ``Liveness`` (``paxos_lit.check.model.MODEL_INVARIANTS``), and
``linearizability``.

    >>> from paxos_lit.check.mutants import MUTANTS, catch
    >>> c = catch("commander_decides_after_one_reply")
    >>> c.caught, c.invariant
    (True, 'Chosen')
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..acceptor import Acceptor
from ..client import Client
from ..commander import Commander
from ..errors import ConfigError
from ..leader import Leader
from ..messages import Request
from ..replica import Replica
from ..scout import Scout
from ..sim.config import NetParams, SimConfig
from ..sim.faults import FaultPlan
from ..types import NOOP, Command, is_reconfig
from .model import ModelConfig

__all__ = ["MUTANTS", "Catch", "Mutant", "SweepSpec", "catch", "get", "names", "sweep_mutant"]

LINEARIZABILITY = "linearizability"


# --------------------------------------------------------------------------
# Leaders
# --------------------------------------------------------------------------
class LeaderPassiveOnAnyPreemption(Leader):
    """The original PMMC leader's defect: on *any* ``preempted`` message it
    sets ``active = False``, even when the preempting ballot is not higher
    than its own (a late message from an old scout or commander). Nothing
    then makes it scout again, so it stays passive for good.

    Breaks: ``Liveness`` (a passive leader with no scout at work; with
    nothing left to deliver, commands never performed)."""

    def on_Preempted(self, msg) -> None:
        super().on_Preempted(msg)
        self.active = False  # the bug: outside the "if b' > ballot_num"


class LeaderIgnoresPmax(Leader):
    """On adoption, keeps its own proposals and ignores the pvalues the
    scout collected (no ``pmax``): it may propose a different command for a
    slot where a majority already accepted one.

    Breaks: ``C2`` (a commander at a higher ballot must carry the
    majority-accepted command), then A5 and R1."""

    def on_Adopted(self, msg) -> None:
        super().on_Adopted(msg._replace(pvalues=frozenset()))


class LeaderRestartsAtRoundZero(Leader):
    """Keeps its ballot in memory only, so after a crash it starts again at
    round 0 and may reuse a ballot of its previous life, now proposing a
    different command for a slot at that same ballot (a real bug of this
    project's leader, fixed by making its ballot durable, PMMC section 3.6).

    Breaks: ``C1`` (at most one command per ballot and slot), then A4 and
    R1."""

    def durable_state(self):
        return None  # the bug: the ballot is forgotten in a crash


# --------------------------------------------------------------------------
# Scouts and commanders (each given to the simulator and the model through a
# leader class whose scout_class or commander_class is the mutant)
# --------------------------------------------------------------------------
class ScoutAdoptsAfterOneP1b(Scout):
    """Reports ``adopted`` after the first p1b for its ballot instead of a
    majority: the state-reduction scout of the original PMMC code. Phase 1
    then misses what the other acceptors accepted.

    Breaks: ``C2`` (its leader proposes a new command for a slot a majority
    already accepted another one for), then A5 and R1."""

    def on_P1b(self, msg) -> None:
        if msg.ballot == self.b:
            self.waitfor.clear()  # the bug: one answer taken for a majority
        super().on_P1b(msg)


class ScoutKeepsLatestP1b(Scout):
    """Keeps only the pvalues of the latest p1b (``pvalues = accepted``
    instead of ``pvalues |= accepted``), so ``adopted`` can omit a pvalue an
    earlier acceptor reported.

    Breaks: ``C2``, then A5 and R1."""

    def on_P1b(self, msg) -> None:
        if msg.ballot == self.b:
            self.pvalues = set()  # the bug: forget what earlier acceptors said
        super().on_P1b(msg)


class CommanderDecidesAfterOneReply(Commander):
    """Sends ``decision`` after the first p2b for its ballot instead of a
    majority: the state-reduction commander of the original PMMC code. A
    command accepted by one acceptor is not chosen; a later ballot may choose
    another one.

    Breaks: ``Chosen`` (a replica learns a command no majority accepted),
    which R1 rests on."""

    def on_P2b(self, msg) -> None:
        if msg.ballot == self.pvalue.ballot:
            self.waitfor.clear()  # the bug: one acceptor taken for a majority
        super().on_P2b(msg)


class CommanderCountsDuplicates(Commander):
    """Counts replies instead of acceptors: a second p2b from the same
    acceptor (a duplicated or retransmitted message) counts as another
    acceptor's, so one acceptor can make a "majority".

    Breaks: ``Chosen`` (needs a duplicate: the explorer's ``dups`` budget,
    or ``dup > 0`` in the simulator)."""

    def on_P2b(self, msg) -> None:
        if msg.ballot == self.pvalue.ballot and msg.src not in self.waitfor and self.waitfor:
            self.waitfor.discard(min(self.waitfor))  # the bug: a repeat counts as new
        super().on_P2b(msg)


def _leader_with(child: type) -> type:
    """A leader class that spawns the mutant scout or commander ``child``."""
    attr = "scout_class" if issubclass(child, Scout) else "commander_class"
    return type(f"LeaderWith{child.__name__}", (Leader,), {
        attr: child, "__module__": __name__,
        "__doc__": f"A correct leader whose {attr} is the mutant {child.__name__}."})


LeaderWithScoutAdoptsAfterOneP1b = _leader_with(ScoutAdoptsAfterOneP1b)
LeaderWithScoutKeepsLatestP1b = _leader_with(ScoutKeepsLatestP1b)
LeaderWithCommanderDecidesAfterOneReply = _leader_with(CommanderDecidesAfterOneReply)
LeaderWithCommanderCountsDuplicates = _leader_with(CommanderCountsDuplicates)


# --------------------------------------------------------------------------
# Acceptors
# --------------------------------------------------------------------------
class AcceptorAcceptsBelowBallot(Acceptor):
    """Accepts a pvalue whose ballot is *below* the ballot it adopted,
    breaking the promise it made in phase 1 to a higher ballot.

    Breaks: ``A2`` (an acceptor accepts only at its current ballot)."""

    def on_P2a(self, msg) -> None:
        if msg.pvalue.ballot < self.ballot_num:
            self.accepted.add(msg.pvalue)  # the bug: should be ignored
        super().on_P2a(msg)


class AcceptorForgetsOnRecovery(Acceptor):
    """Keeps its state in memory only: after a crash it recovers with
    ballot ⊥ and nothing accepted, so it can adopt a ballot it had promised
    to reject, and the pvalues it accepted are gone.

    Breaks: ``A1`` (adopted ballots never decrease, not even across a
    crash), and A3."""

    def durable_state(self):
        return None  # the bug: nothing survives a crash


# --------------------------------------------------------------------------
# Replicas
# --------------------------------------------------------------------------
class ReplicaPerformsTwice(Replica):
    """Applies a command every time it is decided, even when it was already
    performed at a lower slot (a command can be decided in two slots when
    two replicas proposed it).

    Breaks: ``R3`` (the state must be the decisions applied in order, a
    command decided twice applied once); with an append, also
    linearizability."""

    def _perform(self, c) -> None:
        if c in self.results and c != NOOP and not is_reconfig(c):
            del self.results[c]  # the bug: forget it was performed, apply again
        super()._perform(c)


class ReplicaDropsDisplaced(Replica):
    """When another command is decided for a slot it had proposed a command
    for, drops its own command instead of proposing it again in a later slot.
    The client's command is never performed (and, being "seen", a
    retransmission of it is ignored too).

    Breaks: ``Liveness`` (with nothing left to deliver, a command was never
    performed)."""

    def on_Decision(self, msg) -> None:
        mine = self.proposals.get(msg.slot)
        if mine is not None and mine != msg.command and msg.slot not in self.decisions:
            del self.proposals[msg.slot]  # the bug: the displaced command is lost
        super().on_Decision(msg)


class ReplicaIgnoresWindow(Replica):
    """Proposes every queued request at once, however far ahead of
    ``slot_out``: WINDOW is what keeps a reconfiguration from applying to
    slots already proposed under the old configuration.

    Breaks: ``R5`` (slot_in < slot_out + WINDOW)."""

    def _propose(self) -> None:
        window = self.window
        self.window = 1 << 30  # the bug: as if WINDOW were unbounded
        try:
            super()._propose()
        finally:
            self.window = window


# --------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------
class ClientRetransmitsAsNew(Client):
    """Resends an unanswered command under a *new* request number. Replicas
    cannot tell it is the same command, so if the first copy was merely slow
    (or its response lost), the operation takes effect twice, while the
    client's history records it once.

    Breaks: linearizability (a later read sees the double effect)."""

    def on_timer(self, tag: str) -> None:
        c = self.pending
        if c is not None and tag == str(c.req_id):
            self.req_id += 1  # the bug: a fresh request number
            c = self.pending = Command(self.id, self.req_id, c.op)
            for r in self.replicas:
                self.env.send(r, Request(self.id, c))
            self.env.set_timer(self.RETRY_AFTER, str(c.req_id))


# --------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepSpec:
    """A seeded simulator sweep: ``seeds`` runs of ``config`` under ``plan``;
    a run catches the mutant when its checker reports the expected invariant,
    or (``linearizability``) when its history is not linearizable."""

    config: SimConfig
    seeds: range = range(0, 50)
    plan: FaultPlan = field(default_factory=FaultPlan)


@dataclass(frozen=True)
class Mutant:
    name: str
    role: str  # the role it replaces: acceptor, leader, scout, commander, replica, client
    cls: type  # the buggy class (its docstring explains the bug)
    roles: dict  # role name -> class, for Simulator(roles=...) and PaxosModel(roles=...)
    expected: tuple  # invariant names that count as caught; the first is the usual one
    method: str  # "explore" or "sweep"
    model: ModelConfig | None = None  # the explorer's configuration (method "explore")
    sweep: SweepSpec | None = None  # the sweep (method "sweep")

    @property
    def description(self) -> str:
        return " ".join(self.cls.__doc__.split("\n\n")[0].split())

    def to_json(self) -> dict:
        out = {"name": self.name, "role": self.role, "class": self.cls.__name__,
               "expected": list(self.expected), "method": self.method,
               "description": self.description}
        if self.model is not None:
            out["model"] = self.model.to_json()
        if self.sweep is not None:
            out["sweep"] = {"config": self.sweep.config.to_json(),
                            "seeds": [self.sweep.seeds.start, self.sweep.seeds.stop],
                            "faults": self.sweep.plan.to_json()}
        return out


def _m(name, role, cls, roles, expected, method, model=None, sweep=None) -> Mutant:
    return Mutant(name, role, cls, roles, tuple(expected), method, model, sweep)


#: Two replicas with one command each propose different commands for slot 1,
#: which is what it takes to choose two commands for one slot; the leaders
#: know both proposals from the start.
_TWO_REPLICAS = ModelConfig(leaders=2, acceptors=3, replicas=2, commands=2, max_ballot=0,
                            upfront_proposals=True)

MUTANTS: dict[str, Mutant] = {m.name: m for m in [
    _m("leader_passive_on_any_preemption", "leader", LeaderPassiveOnAnyPreemption,
       {"leader": LeaderPassiveOnAnyPreemption}, ["Liveness"], "explore",
       ModelConfig(leaders=2, acceptors=1, replicas=1, commands=2, max_ballot=1)),
    _m("leader_ignores_pmax", "leader", LeaderIgnoresPmax,
       {"leader": LeaderIgnoresPmax}, ["C2"], "explore", _TWO_REPLICAS),
    _m("leader_restarts_at_round_zero", "leader", LeaderRestartsAtRoundZero,
       {"leader": LeaderRestartsAtRoundZero}, ["C1"], "explore",
       ModelConfig(leaders=1, acceptors=1, replicas=2, commands=2, crashes=1)),
    _m("scout_adopts_after_one_p1b", "scout", ScoutAdoptsAfterOneP1b,
       {"leader": LeaderWithScoutAdoptsAfterOneP1b}, ["C2"], "explore", _TWO_REPLICAS),
    _m("scout_keeps_only_latest_p1b", "scout", ScoutKeepsLatestP1b,
       {"leader": LeaderWithScoutKeepsLatestP1b}, ["C2"], "explore", _TWO_REPLICAS),
    _m("commander_decides_after_one_reply", "commander", CommanderDecidesAfterOneReply,
       {"leader": LeaderWithCommanderDecidesAfterOneReply}, ["Chosen"], "explore",
       ModelConfig(leaders=1, commands=1)),
    _m("commander_counts_duplicate_reply", "commander", CommanderCountsDuplicates,
       {"leader": LeaderWithCommanderCountsDuplicates}, ["Chosen"], "explore",
       ModelConfig(leaders=1, commands=1, dups=1)),
    _m("acceptor_accepts_below_ballot", "acceptor", AcceptorAcceptsBelowBallot,
       {"acceptor": AcceptorAcceptsBelowBallot}, ["A2"], "explore",
       ModelConfig(leaders=2, commands=1, max_ballot=0)),
    _m("acceptor_forgets_on_recovery", "acceptor", AcceptorForgetsOnRecovery,
       {"acceptor": AcceptorForgetsOnRecovery}, ["A1", "A3"], "explore",
       ModelConfig(leaders=1, commands=1, crashes=1)),
    _m("replica_performs_twice", "replica", ReplicaPerformsTwice,
       {"replica": ReplicaPerformsTwice}, ["R3"], "explore",
       ModelConfig(leaders=1, acceptors=1, replicas=2, commands=2, spread="all")),
    _m("replica_drops_displaced", "replica", ReplicaDropsDisplaced,
       {"replica": ReplicaDropsDisplaced}, ["Liveness"], "explore",
       ModelConfig(leaders=1, replicas=2, commands=2)),
    _m("replica_ignores_window", "replica", ReplicaIgnoresWindow,
       {"replica": ReplicaIgnoresWindow}, ["R5"], "sweep",
       sweep=SweepSpec(SimConfig(replicas=1, clients=3, commands=2, window=1), range(0, 20))),
    _m("client_retransmits_as_new", "client", ClientRetransmitsAsNew,
       {"client": ClientRetransmitsAsNew}, [LINEARIZABILITY], "sweep",
       sweep=SweepSpec(SimConfig(replicas=2, clients=3, commands=4, keys=1, until=3000.0,
                                 net=NetParams(loss=0.1)), range(0, 60))),
]}


def names() -> list[str]:
    """The mutants' names, in catalogue order."""
    return list(MUTANTS)


def get(name: str) -> Mutant:
    """The mutant called ``name`` (ConfigError naming the known ones if none)."""
    m = MUTANTS.get(name)
    if m is None:
        raise ConfigError("mutant", f"unknown mutant {name!r}; known: {', '.join(MUTANTS)}")
    return m


# --------------------------------------------------------------------------
# Catching a mutant
# --------------------------------------------------------------------------
@dataclass
class Catch:
    """How a mutant was caught (or not)."""

    mutant: str
    method: str
    caught: bool  # an expected invariant broke
    invariant: str | None  # the first violated invariant found (expected or not)
    detail: str = ""
    counterexample: list = field(default_factory=list)  # explorer: the steps
    states: int = 0  # explorer
    transitions: int = 0  # explorer
    complete: bool = False  # explorer: searched everything (then nothing was found)
    seed: int | None = None  # sweep: the failing seed
    runs: int = 0  # sweep: runs tried
    wall_s: float = 0.0
    result: object = None  # explorer: the CheckResult; sweep: the failing Simulator

    def to_json(self) -> dict:
        out = {"mutant": self.mutant, "method": self.method, "caught": self.caught,
               "invariant": self.invariant, "detail": self.detail,
               "wall_s": round(self.wall_s, 6)}
        if self.method == "explore":
            out.update(states=self.states, transitions=self.transitions, complete=self.complete,
                       counterexample=[s.to_json() for s in self.counterexample])
        else:
            out.update(seed=self.seed, runs=self.runs)
        return out


def catch(name: str, *, max_states: int | None = 2_000_000, progress=None) -> Catch:
    """Run the mutant's catching method and report what broke."""
    m = get(name)
    if m.method == "explore":
        from .model import check_model

        t0 = time.perf_counter()
        r = check_model(m.model, m.roles, max_states=max_states, progress=progress)
        v = r.result.violations
        return Catch(m.name, "explore", bool(v) and v[0].invariant in m.expected,
                     v[0].invariant if v else None, v[0].detail if v else "", r.steps,
                     r.result.states, r.result.transitions, r.result.complete,
                     wall_s=time.perf_counter() - t0, result=r)
    return sweep_mutant(m)


def _verdict(m: Mutant, sim) -> tuple[str, str] | None:
    """The first expected invariant a finished run breaks, with its detail."""
    for v in sim.violations:
        if v.invariant in m.expected:
            return v.invariant, v.detail
    if LINEARIZABILITY in m.expected:
        from ..history import parse_history
        from .linearizability import check

        r = check(parse_history(sim.history()))
        if not r.linearizable:
            return LINEARIZABILITY, (f"key {r.failing_key!r}: no linearization of operations "
                                     f"{list(r.failing_ops)}")
    return None


def run_sweep_seed(m: Mutant, seed: int):
    """One run of the mutant's sweep; returns the Simulator, run to the end."""
    from ..sim.simulator import Simulator

    sim = Simulator(m.sweep.config, seed, m.sweep.plan, roles=m.roles)
    sim.run()
    return sim


def sweep_mutant(m: Mutant | str, seeds=None) -> Catch:
    """Run the mutant's seeded sweep until a run breaks an expected invariant."""
    m = get(m) if isinstance(m, str) else m
    if m.sweep is None:
        raise ConfigError("mutant", f"{m.name} has no sweep (it is caught by the explorer)")
    t0 = time.perf_counter()
    runs = 0
    for seed in (m.sweep.seeds if seeds is None else seeds):
        runs += 1
        sim = run_sweep_seed(m, seed)
        found = _verdict(m, sim)
        if found is not None:
            return Catch(m.name, "sweep", True, found[0], found[1], seed=seed, runs=runs,
                         wall_s=time.perf_counter() - t0, result=sim)
    return Catch(m.name, "sweep", False, None, runs=runs, wall_s=time.perf_counter() - t0)
