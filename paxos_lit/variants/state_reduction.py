"""State reduction: an acceptor keeps one pvalue per slot (PMMC 4.1, "State Reduction").

**What the paper says** (in our words; PMMC section 4, "Paxos Made
Pragmatic", subsection "State Reduction").  The paper's acceptor keeps every
pvalue it ever accepted (invariant A3), and a p1b carries all of them.  But
a leader that adopts a ballot only uses, for each slot, the pvalue with the
highest ballot (``pmax``).  So an acceptor may keep just the most recently
accepted pvalue of each slot, and report only those: since ballots an
acceptor accepts only grow (A1, A2), "most recent" is "highest ballot".

Is that still safe?  A majority may now no longer *hold* a chosen pvalue:
acceptors overwrite it with later ones.  But by C2 every later ballot's
commander carries the same command for that slot, so what overwrites a
chosen pvalue is the same command at a higher ballot, and ``pmax`` still
finds it.  The paper's footnote warns of the converse mistake: do not
conclude that a command is chosen because the latest pvalues of a majority
agree on it.  (A1, A2, A4, A5 are unchanged; A3 becomes "an acceptor drops
a pvalue only for a higher-ballot pvalue of the same slot".)

The paper goes on to let leaders skip slots already decided (the first
undecided slot in p1a, no commanders for decided slots); that needs to know
which slots every replica has, which is garbage collection
(:mod:`paxos_lit.variants.garbage_collection`).

**Learning from bugs.**  The original code's state-reduction variant had
two defects (DESIGN section 4): its commander decided after the first p2b,
and its scout reported adoption after the first p1b.  Either one means that
a single acceptor speaks for a majority, and majorities that do not
intersect break R1.  :class:`EagerScout` and :class:`EagerCommander` reproduce
them; :func:`defects` shows the relaxed checker catching both.

**What we measured** (:func:`compare`, ``python bench/bench_variants.py``;
seed 1: 2 replicas, 2 leaders crashing in turn every 150 time units, 3
acceptors, 3 clients x 100 commands, so 300 slots and 4 view changes).
Each new leader re-proposes every slot it knows at its own ballot, and the
paper's acceptors keep every copy: the largest acceptor ends up holding 843
pvalues, and the largest p1b carries 543 (mean 187).  With state reduction:
300 pvalues (one per slot; ratio 0.36) and p1b at most 256 (mean 109).
The messages are the same (7527 delivered): state reduction changes what
is stored and sent in p1b, not how many messages flow.  Both still grow
with the run: bounding them is garbage collection's job.  The defects:
over 40 seeds, the eager scout broke an invariant in 28 runs (A5, C2, R1),
the eager commander in 9 (R1) (:func:`defects`).

Use::

    from paxos_lit.variants import state_reduction as sr
    sr.compare(seed=1)                 # plain data for a table or a chart
    sim = harness.run(sr.ROLES, config, seed, plan)   # any run, checked
"""

from __future__ import annotations

from ..acceptor import Acceptor
from ..commander import Commander
from ..leader import Leader
from ..messages import Adopted, Decision, P1b, P2b, Preempted
from ..scout import Scout
from ..sim.config import SimConfig
from . import harness


class ReducedAcceptor(Acceptor):
    """The paper's acceptor keeping, per slot, only the pvalue with the
    highest ballot (PMMC section 4, "State Reduction")."""

    def __init__(self, pid, env):
        super().__init__(pid, env)
        # accepted: still a set of pvalues (what p1b sends), now at most one
        #   per slot: the highest-ballot one accepted for that slot.
        # best: slot -> the pvalue held for that slot (an index into accepted).
        self.best: dict = {}

    def on_P2a(self, msg) -> None:
        """Accept the pvalue only at the current ballot, as the paper's
        acceptor does (A2); it replaces the pvalue held for its slot, whose
        ballot is lower (ballots accepted only grow: A1, A2)."""
        pv = msg.pvalue
        if pv.ballot == self.ballot_num:
            old = self.best.get(pv.slot)
            if old != pv:
                if old is not None:
                    self.accepted.discard(old)
                self.accepted.add(pv)
                self.best[pv.slot] = pv
        self.env.send(msg.src, P2b(self.id, self.ballot_num, pv.slot))

    def restore(self, state) -> None:
        super().restore(state)
        self.best = {}
        for pv in self.accepted:
            old = self.best.get(pv.slot)
            if old is None or old.ballot < pv.ballot:
                self.best[pv.slot] = pv


#: The roles to pass to the simulator: everything else is the paper's.
ROLES = {"acceptor": ReducedAcceptor}


# -- learning from bugs: the original code's two state-reduction defects ---------------
class EagerScout(Scout):
    """DEFECT (for teaching): reports ``adopted`` after the first p1b with its
    ballot, as the original state-reduction scout did.  One acceptor is not
    a majority: two leaders can both be "active" on disjoint acceptors."""

    def on_P1b(self, msg: P1b) -> None:
        if msg.ballot == self.b:
            self.env.send(self.leader, Adopted(self.id, self.b, frozenset(msg.accepted)))
        else:
            self.env.send(self.leader, Preempted(self.id, msg.ballot))
        self.env.exit()


class EagerCommander(Commander):
    """DEFECT (for teaching): decides after the first p2b with its ballot, as
    the original state-reduction commander did.  A command accepted by one
    acceptor is not chosen: a later ballot may choose another."""

    def on_P2b(self, msg: P2b) -> None:
        b, s, c = self.pvalue
        if msg.ballot == b:
            for r in self.replicas:
                self.env.send(r, Decision(self.id, s, c))
            self.env.exit()
        elif msg.ballot > b:
            self.env.send(self.leader, Preempted(self.id, msg.ballot))
            self.env.exit()


class EagerScoutLeader(Leader):
    scout_class = EagerScout


class EagerCommanderLeader(Leader):
    commander_class = EagerCommander


#: The two defects, each as a role set on top of state reduction.
DEFECTS = {
    "scout adopts after one p1b": {"acceptor": ReducedAcceptor, "leader": EagerScoutLeader},
    "commander decides after one p2b": {"acceptor": ReducedAcceptor,
                                        "leader": EagerCommanderLeader},
}


def long_run_config(commands: int = 100) -> SimConfig:
    """The long run of the comparisons: 2 replicas, 2 leaders, 3 acceptors,
    3 clients with ``commands`` commands each, a reliable network."""
    return SimConfig(replicas=2, leaders=2, acceptors=3, clients=3, commands=commands)


def compare(seed: int = 1, *, commands: int = 100, every: float = 150.0, down: float = 60.0,
            sample_every: float = 25.0) -> dict:
    """The paper's acceptor against state reduction on the same long run
    (:func:`long_run_config`, leaders crashing in turn: :func:`harness.churn_plan`).

    Returns ``{"seed", "config", "faults", "paper": m, "state_reduction": m}``
    where each ``m`` is :func:`harness.memory_run`'s measurements (pvalues
    held at the end and at peak, a time series, p1b sizes, p2a sent, view
    changes, violations, linearizability)."""
    config = long_run_config(commands)
    plan = harness.churn_plan(config, every=every, down=down)
    out = {"seed": seed, "config": config.to_json(), "faults": plan.to_json()}
    for name, roles in (("paper", None), ("state_reduction", ROLES)):
        out[name] = harness.memory_run(roles, config, seed, plan, sample_every=sample_every)
    return out


def defects(seeds=range(40), *, leader_policy: str = "naive") -> dict:
    """Run each of the original code's defects (:data:`DEFECTS`) on
    ``seeds`` with the relaxed checker, on 2 leaders of ``leader_policy``
    (``naive`` leaders duel, which is what exposes the defects) over a lossy
    (30 %), slow network, 3 acceptors, 2 replicas (whose different proposals
    for one slot are what can end up decided twice).  Returns, per defect,
    the runs with a violation, the invariants broken (counted over all runs)
    and the first violation."""
    from ..sim.config import NetParams

    config = SimConfig(replicas=2, leaders=2, acceptors=3, clients=3, commands=6,
                       leader_policy=leader_policy, until=3000.0,
                       net=NetParams(delay_min=0.5, delay_max=6.0, loss=0.3))
    out = {}
    for name, roles in DEFECTS.items():
        bad, names, first = [], {}, None
        for seed in seeds:
            sim = harness.run(roles, config, seed)
            if sim.violations:
                bad.append(seed)
                for v in sim.violations:
                    names[v.invariant] = names.get(v.invariant, 0) + 1
                first = first or sim.violations[0].to_json()
        out[name] = {"runs": len(list(seeds)), "runs_with_violations": bad,
                     "invariants": dict(sorted(names.items())), "first_violation": first}
    return out
