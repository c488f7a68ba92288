"""The paper's optimizations as variants (PMMC section 4, "Paxos Made Pragmatic").

Three kinds of test:

- unit tests drive one variant role with a recording ``Env`` and check the
  rule of its docstring (state reduction keeps the highest-ballot pvalue per
  slot; a collecting acceptor forgets below its mark and says so in p1b; a
  lease ends on the leader's clock before it can end on the acceptors');
- safety tests run every variant through the simulator under random faults
  with every invariant checked (A3 relaxed exactly as the paper allows:
  ``paxos_lit.variants.harness.RelaxedChecker``) and every client history
  checked for linearizability, and assert zero violations;
- "teeth" tests show that the same checks catch the variants' classic
  mistakes (the original code's two state-reduction defects, an acceptor
  that collects what not every replica has performed, a replica that
  answers reads from its own state, a leader that trusts its lease too
  long), so a green safety test means something;
- measurement tests check that each optimization pays off as the chapter
  says.
"""

from __future__ import annotations

import pytest

from paxos_lit.acceptor import Acceptor
from paxos_lit.errors import ConfigError
from paxos_lit.invariants import InvariantChecker
from paxos_lit.messages import (
    MESSAGE_TYPES,
    Adopted,
    Decision,
    P1a,
    P1b,
    P2a,
    P2b,
    Propose,
    Request,
    Response,
    decode,
    encode,
    register,
)
from paxos_lit.sim.config import NetParams, SimConfig
from paxos_lit.sim.faults import Action, FaultPlan
from paxos_lit.sim.simulator import Simulator
from paxos_lit.sim.sweep import random_fault_plan
from paxos_lit.types import Ballot, Command, PValue
from paxos_lit.variants import (
    VARIANTS,
    garbage_collection,
    harness,
    leases,
    read_only,
    safety_sweep,
    state_reduction,
)
from paxos_lit.variants.garbage_collection import (
    AdoptedCollected,
    Collect,
    CollectingAcceptor,
    CollectingLeader,
    CollectingScout,
    P1bCollected,
    Performed,
)
from paxos_lit.variants.leases import (
    LeaseAcceptor,
    LeaseGrant,
    LeaseLeader,
    LeaseReplica,
    LeaseRequest,
    ReadReady,
    ReadRequest,
)
from paxos_lit.variants.read_only import ProbeAcceptor, ProbeReply, QuorumReadReplica, ReadProbe
from paxos_lit.variants.state_reduction import ReducedAcceptor

ACCEPTORS = ("a1", "a2", "a3")
REPLICAS = ("r1", "r2")


def b(round_, leader="l1"):
    return Ballot(round_, leader)


def cmd(n, op=None, client="c1"):
    return Command(client, n, op or ("put", "x", f"{client}.{n}"))


def pv(round_, slot, n, leader="l1"):
    return PValue(b(round_, leader), slot, cmd(n))


# -- messages.register ------------------------------------------------------------------------
def test_register_refuses_what_is_not_a_message():
    """A message is a NamedTuple whose first field is ``src`` (messages.py);
    anything else is refused with a message that says so."""
    from typing import NamedTuple

    class NoSrc(NamedTuple):
        slot: int

    with pytest.raises(ValueError, match="first field is 'src'"):
        register(NoSrc)
    with pytest.raises(ValueError, match="first field is 'src'"):
        register(dict)


def test_register_needs_a_decoder_for_a_new_field_and_refuses_a_taken_name():
    """decode validates every field, so a new field needs a decoder (named in
    the error); and a name already taken by another class is refused."""
    from typing import NamedTuple

    class Gossip(NamedTuple):
        src: str
        rumour: str

    with pytest.raises(ValueError, match="rumour"):
        register(Gossip)
    assert "Gossip" not in MESSAGE_TYPES

    class P1a(NamedTuple):  # noqa: F811 - a second class under a core name
        src: str
        ballot: Ballot

    with pytest.raises(ValueError, match="already registered"):
        register(P1a)


VARIANT_MESSAGES = [
    Performed("r1", 7), Collect("l1", 5),
    P1bCollected("a1", b(2), frozenset({pv(1, 5, 1), pv(2, 6, 2)}), 5),
    AdoptedCollected("l1.s1", b(2), frozenset({pv(2, 6, 2)}), 3),
    ReadProbe("r1", cmd(3, ("get", "x"))), ProbeReply("a2", cmd(3, ("get", "x")), 12),
    LeaseRequest("l1", b(1), 4, 30.0), LeaseGrant("a3", b(1), 4),
    ReadRequest("r2", cmd(1, ("get", "y"))), ReadReady("l2", cmd(1, ("get", "y")), 9),
]


@pytest.mark.parametrize("msg", VARIANT_MESSAGES, ids=lambda m: type(m).__name__)
def test_variant_messages_round_trip_through_json(msg):
    """Registered messages encode to plain JSON and decode to an equal
    message of the same type (DESIGN section 6: the wire form)."""
    back = decode(encode(msg))
    assert type(back) is type(msg) and back == msg


@pytest.mark.parametrize("obj, field", [
    ({"type": "Collect", "src": "l1", "below": -1}, "below"),
    ({"type": "Performed", "src": "r1", "slot_out": "7"}, "slot_out"),
    ({"type": "LeaseRequest", "src": "l1", "ballot": [1, "l1"], "seq": 1, "duration": -2},
     "duration"),
    ({"type": "LeaseGrant", "src": "a1", "ballot": [1, "l1"], "seq": True}, "seq"),
])
def test_bad_variant_message_is_refused_naming_the_field(obj, field):
    """Bad input gets a clear error naming the field (DESIGN rules)."""
    with pytest.raises(ValueError, match=f"{obj['type']}.{field}"):
        decode(obj)


# -- state reduction (PMMC section 4, "State Reduction") --------------------------------------
def test_reduced_acceptor_keeps_only_the_highest_ballot_pvalue_per_slot(make_env):
    """State reduction: an acceptor keeps, per slot, only the most recently
    accepted pvalue, which has the highest ballot (PMMC section 4, "State Reduction")."""
    env = make_env("a1")
    a = ReducedAcceptor("a1", env)
    a.receive(P1a("l1.s1", b(1)))
    a.receive(P2a("l1.c1", pv(1, 1, 1)))
    a.receive(P2a("l1.c2", pv(1, 2, 2)))
    a.receive(P1a("l2.s1", b(2, "l2")))
    a.receive(P2a("l2.c1", pv(2, 1, 3, "l2")))
    assert a.accepted == {pv(1, 2, 2), pv(2, 1, 3, "l2")}
    # A p2a below the adopted ballot is still refused (A2), and changes nothing.
    a.receive(P2a("l1.c3", pv(1, 1, 4)))
    assert a.accepted == {pv(1, 2, 2), pv(2, 1, 3, "l2")}
    env.take()
    a.receive(P1a("l1.s2", b(1)))
    (dst, p1b), = env.take()
    assert isinstance(p1b, P1b) and len(p1b.accepted) == 2


def test_reduced_acceptor_rebuilds_its_index_after_a_crash(make_env):
    """Durable state (PMMC section 3.6): a recovered acceptor replaces the
    right pvalue, so its index must come back with its set."""
    a = ReducedAcceptor("a1", make_env("a1"))
    a.receive(P1a("l1.s1", b(1)))
    a.receive(P2a("l1.c1", pv(1, 1, 1)))
    again = ReducedAcceptor("a1", make_env("a1"))
    again.restore(a.durable_state())
    again.receive(P1a("l2.s1", b(2, "l2")))
    again.receive(P2a("l2.c1", pv(2, 1, 2, "l2")))
    assert again.accepted == {pv(2, 1, 2, "l2")}


# -- garbage collection (PMMC section 4, "Garbage Collection") --------------------------------
@pytest.fixture
def collector(make_env):
    env = make_env("a1")
    a = CollectingAcceptor("a1", env)
    a.receive(P1a("l1.s1", b(1)))
    for s in range(1, 5):
        a.receive(P2a("l1.c1", pv(1, s, s)))
    env.take()
    return a, env


def test_collecting_acceptor_forgets_below_the_mark_and_reports_it(collector):
    """Once every replica has performed the slots below ``below``, acceptors
    drop their pvalues, and p1b says how far they collected so that a leader
    does not read a missing pvalue as a free slot (PMMC section 4, "Garbage Collection")."""
    a, env = collector
    a.receive(Collect("l1", 3))
    assert a.collected_below == 3 and {p.slot for p in a.accepted} == {3, 4}
    a.receive(Collect("l1", 2))  # marks never go down
    assert a.collected_below == 3
    a.receive(P1a("l2.s1", b(2, "l2")))
    (dst, reply), = env.take()
    assert isinstance(reply, P1bCollected) and reply.below == 3
    assert {p.slot for p in reply.accepted} == {3, 4}


def test_collecting_acceptor_answers_but_does_not_store_a_collected_slot(collector):
    """A p2a below the mark is answered with the current ballot (as always)
    but not stored: the slot is decided and performed everywhere."""
    a, env = collector
    a.receive(Collect("l1", 3))
    a.receive(P2a("l1.c9", pv(1, 2, 9)))
    assert env.take() == [("l1.c9", P2b("a1", b(1), 2))]
    assert all(p.slot >= 3 for p in a.accepted)


def test_collecting_acceptor_mark_is_durable(collector, make_env):
    """The mark survives a crash with the pvalues (else a recovered acceptor
    would report collected slots as free)."""
    a, _ = collector
    a.receive(Collect("l1", 3))
    again = CollectingAcceptor("a1", make_env("a1"))
    again.restore(a.durable_state())
    assert again.collected_below == 3 and again.accepted == a.accepted


def test_collecting_scout_reports_the_highest_mark_of_a_majority(make_env):
    """The scout still waits for a majority (the original code's defect was
    to stop at one p1b) and hands the leader the highest mark it saw."""
    env = make_env("l1.s1")
    s = CollectingScout("l1.s1", env, "l1", ACCEPTORS, b(1))
    s.start()
    env.take()
    s.receive(P1bCollected("a1", b(1), frozenset({pv(0, 4, 4)}), 2))
    assert env.take() == []
    s.receive(P1bCollected("a2", b(1), frozenset({pv(0, 6, 6)}), 5))
    (dst, adopted), = env.take()
    assert dst == "l1" and adopted == AdoptedCollected("l1.s1", b(1),
                                                       frozenset({pv(0, 4, 4), pv(0, 6, 6)}), 5)


def test_collecting_leader_collects_only_when_every_replica_reported(make_env):
    """The mark is the smallest slot_out of *all* the replicas: a slot is
    collected only once every replica has performed it (PMMC section 4, "Garbage Collection").
    The leader forgets its proposals below it and ignores new ones there;
    active, it tells the acceptors."""
    env = make_env("l1")
    leader = CollectingLeader("l1", env, ACCEPTORS, REPLICAS)
    leader.start()
    leader.receive(AdoptedCollected("l1.s1", b(0), frozenset(), 0))
    for s in range(1, 8):
        leader.receive(Propose("r1", s, cmd(s)))
    env.take()
    env.spawns.clear()
    leader.receive(Performed("r1", 6))
    assert leader.collected == 0 and env.take() == []
    leader.receive(Performed("r2", 4))
    assert leader.collected == 4 and sorted(leader.proposals) == [4, 5, 6, 7]
    assert env.take() == [(a, Collect("l1", 4)) for a in ACCEPTORS]
    leader.receive(Propose("r2", 2, cmd(99)))
    assert 2 not in leader.proposals and env.spawns == []


def test_collecting_leader_never_proposes_below_an_adopted_mark(make_env):
    """On adoption the leader drops every pvalue and proposal below the
    highest mark of the majority: only slots at or above it get commanders
    (the paper: no commanders for decided slots)."""
    env = make_env("l1")
    leader = CollectingLeader("l1", env, ACCEPTORS, REPLICAS)
    leader.start()
    leader.receive(Propose("r1", 1, cmd(1)))
    pvalues = frozenset({pv(0, 2, 2, "l2"), pv(0, 5, 5, "l2")})
    leader.receive(AdoptedCollected("l1.s1", b(0), pvalues, 4))
    slots = sorted(args[-1].slot for cls, args, pid in env.spawns if args[-1].__class__ is PValue)
    assert slots == [5] and sorted(leader.proposals) == [5]


# -- quorum reads (PMMC section 4, "Read-Only Commands") --------------------------------------
def test_quorum_read_waits_for_a_majority_and_for_its_point(make_env):
    """A read is not proposed: the replica asks the acceptors for their
    highest accepted slot, takes the maximum over a majority, and answers
    from its state only once it has performed every slot up to it."""
    env = make_env("r1")
    r = QuorumReadReplica("r1", env, ("l1",), 5, ACCEPTORS)
    r.start()
    read = cmd(1, ("get", "x"), client="c2")
    r.receive(Request("c2", read))
    sent = env.take()
    assert sorted(d for d, m in sent) == list(ACCEPTORS)
    assert all(isinstance(m, ReadProbe) for d, m in sent)  # no Propose: no slot
    r.receive(ProbeReply("a1", read, 2))
    assert env.take() == []
    r.receive(ProbeReply("a3", read, 1))   # a majority: point = 2
    assert env.take() == []                # slots 1 and 2 not performed yet
    r.receive(Decision("l1.c1", 1, cmd(1)))
    assert [m for d, m in env.take() if isinstance(m, Response) and m.command == read] == []
    r.receive(Decision("l1.c2", 2, cmd(2)))
    assert ("c2", Response("r1", read, "c1.2")) in env.take()


def test_probe_acceptor_reports_its_highest_accepted_slot(make_env):
    """The probe's answer is the highest slot with an accepted pvalue: a
    command chosen before the probe has its slot accepted at a majority."""
    env = make_env("a1")
    a = ProbeAcceptor("a1", env)
    a.receive(P1a("l1.s1", b(1)))
    a.receive(P2a("l1.c1", pv(1, 7, 1)))
    a.receive(P2a("l1.c1", pv(0, 9, 1)))   # refused (A2): not counted
    env.take()
    read = cmd(5, ("get", "x"))
    a.receive(ReadProbe("r1", read))
    assert env.take() == [("r1", ProbeReply("a1", read, 7))]


# -- leases (PMMC section 4, "Read-Only Commands") --------------------------------------------
def test_lease_timeout_is_the_lease_shrunk_by_the_drift_margin():
    """A lease of L on the acceptors' clocks is trusted for L(1-rho)/(1+rho)
    on the leader's: the slowest leader clock must not outlast the fastest
    acceptor clock."""
    assert leases.lease_timeout(30.0, 0.0) == 30.0
    assert leases.lease_timeout(30.0, 0.05) == pytest.approx(30.0 * 0.95 / 1.05)
    with pytest.raises(ValueError, match="drift"):
        leases.lease_timeout(30.0, 1.0)


@pytest.mark.parametrize("leader_rand", [0.0, 0.5, 0.999999])
@pytest.mark.parametrize("acceptor_rand", [0.0, 0.5, 0.999999])
def test_lease_ends_at_the_leader_before_any_acceptor_promise_ends(make_env, leader_rand,
                                                                   acceptor_rand):
    """Bounded drift as timers: whatever the two clock rates within 1 +- rho,
    the leader's lease timer (started when it sends the request) fires, in
    real time, no later than the acceptor's promise timer (started when the
    request arrives) (PMMC section 4, "Read-Only Commands")."""
    lenv = make_env("l1", rand_value=leader_rand)
    leader = LeaseLeader("l1", lenv, ACCEPTORS, REPLICAS)
    leader.start()
    leader.receive(P1b("a1", b(0), frozenset()))  # ignored: not a scout
    leader.receive(Adopted("l1.s1", b(0), frozenset()))
    expire = [d for d, tag in lenv.timers if tag.startswith("lease-expire:")]
    aenv = make_env("a1", rand_value=acceptor_rand)
    acc = LeaseAcceptor("a1", aenv)
    acc.receive(P1a("l1.s1", b(0)))
    acc.receive(LeaseRequest("l1", b(0), 1, LeaseLeader.LEASE))
    promise = [d for d, tag in aenv.timers if tag == "promise"]
    assert len(expire) == 1 and len(promise) == 1
    assert expire[0] <= promise[0]


def test_leased_acceptor_adopts_no_higher_ballot_until_its_promise_ends(make_env):
    """An acceptor that granted a lease does not adopt a higher ballot (nor
    answer: the scout retries) until its promise timer fires; it grants
    leases only to the ballot it has adopted."""
    env = make_env("a1")
    a = LeaseAcceptor("a1", env)
    a.receive(P1a("l1.s1", b(0)))
    a.receive(LeaseRequest("l2", b(0, "l2"), 1, 30.0))   # not its ballot: no grant
    a.receive(LeaseRequest("l1", b(0), 1, 30.0))
    assert env.take()[-1] == ("l1", LeaseGrant("a1", b(0), 1))
    a.receive(P1a("l2.s1", b(0, "l2")))
    assert a.ballot_num == b(0) and env.take() == []
    a.on_timer("promise")
    a.receive(P1a("l2.s1", b(0, "l2")))
    assert a.ballot_num == b(0, "l2")


def test_recovered_lease_acceptor_waits_out_the_longest_lease(make_env):
    """After a crash an acceptor cannot know what it promised, so it keeps
    the longest promise before adopting a higher ballot."""
    a = LeaseAcceptor("a1", make_env("a1"))
    a.receive(P1a("l1.s1", b(0)))
    env = make_env("a1")
    again = LeaseAcceptor("a1", env)
    again.restore(a.durable_state())
    again.start()
    assert [tag for d, tag in env.timers] == ["promise"]
    again.receive(P1a("l2.s1", b(0, "l2")))
    assert again.ballot_num == b(0)


def test_lease_leader_answers_reads_only_with_a_majority_lease(make_env):
    """The leader answers a read only while a majority's grants for one
    request are younger than that request's timer; then with the highest
    slot it has a proposal for."""
    env = make_env("l1")
    leader = LeaseLeader("l1", env, ACCEPTORS, REPLICAS)
    leader.start()
    leader.receive(Adopted("l1.s1", b(0), frozenset({pv(0, 3, 3, "l0")})))
    read = cmd(1, ("get", "x"), client="c2")
    env.take()
    leader.receive(ReadRequest("r1", read))
    leader.receive(LeaseGrant("a1", b(0), 1))
    assert env.take() == []                               # one grant: no lease
    leader.receive(LeaseGrant("a2", b(0), 1))
    assert env.take() == [("r1", ReadReady("l1", read, 3))]
    leader.on_timer("lease-expire:1")
    leader.receive(ReadRequest("r1", read))
    assert env.take() == []                               # expired: wait


def test_lease_replica_sends_reads_to_the_leaders(make_env):
    """A leased read asks every leader of the configuration, and proposes nothing."""
    env = make_env("r1")
    r = LeaseReplica("r1", env, ("l1", "l2"))
    read = cmd(1, ("get", "x"), client="c2")
    r.receive(Request("c2", read))
    assert env.take() == [("l1", ReadRequest("r1", read)), ("l2", ReadRequest("r1", read))]


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [1.5, -0.1, True, "half"])
def test_read_fraction_must_be_a_fraction(bad):
    """Bad input gets a clear error naming the field."""
    with pytest.raises(ConfigError) as e:
        harness.VariantSimulator(SimConfig(), 0, read_fraction=bad)
    assert e.value.field == "read_fraction"


# -- safety under faults ----------------------------------------------------------------------
@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_is_safe_and_live_under_random_faults(name):
    """R1-R5, A1, A2, A4, A5, C1-C2 hold after every event and A3 holds as
    the paper relaxes it (PMMC section 4); every client history is
    linearizable; every command completes once the faults end (PMMC section
    3.6): 100 random deployments under loss, duplication, delays, crashes,
    partitions and one-way blocks."""
    s = safety_sweep(VARIANTS[name], range(100))
    assert (s["violations"], s["non_linearizable"], s["incomplete"]) == (0, 0, 0), s


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_is_safe_across_reconfigurations(name):
    """The same, with reconfigurations to new leaders and acceptors (PMMC
    section 3.4): collection stays within a configuration, and reads follow
    the log to the new acceptors or leaders."""
    s = safety_sweep(VARIANTS[name], range(100, 140), reconfigure=True)
    assert (s["violations"], s["non_linearizable"], s["incomplete"]) == (0, 0, 0), s


#: A configuration where replicas often lag: one key, 10 % loss, slow links.
LAGGY = SimConfig(replicas=2, leaders=2, acceptors=3, clients=3, commands=12, keys=1,
                  net=NetParams(delay_min=0.5, delay_max=3.0, loss=0.1))


class LocalReadReplica(read_only.ReadReplica):
    """MISTAKE: answers a read from its own state at once."""

    def _targets(self, config):
        return ()

    def _ask(self, c, read):
        self._at_point(c, 0)


def _non_linearizable(roles, seeds, plan=None):
    return [seed for seed in seeds
            if harness.summary(harness.run(roles, LAGGY, seed,
                                           plan(seed) if plan else None,
                                           read_fraction=0.5))["linearizable"] is False]


def test_reads_stay_linearizable_where_local_reads_go_stale():
    """Reading a replica's own state is stale when it lags (PMMC section
    4.5): the linearizability checker sees it on this laggy configuration.
    The quorum reads and the leased reads stay linearizable on the same
    runs, also under random faults."""
    assert _non_linearizable({"replica": LocalReadReplica}, range(8))
    faults = lambda seed: random_fault_plan(seed, LAGGY)  # noqa: E731
    for roles in (read_only.ROLES, leases.ROLES):
        assert _non_linearizable(roles, range(8)) == []
        assert _non_linearizable(roles, range(30), faults) == []


# -- the checks have teeth --------------------------------------------------------------------
def test_the_original_state_reduction_defects_are_caught():
    """DESIGN section 4, known defects: a state-reduction scout that reports
    adoption after one p1b, and a commander that decides after one p2b, let
    one acceptor speak for a majority; the relaxed checker catches both (R1
    or A5/C2), while correct state reduction passes the same runs."""
    found = state_reduction.defects(range(12))
    for name, report in found.items():
        assert report["runs_with_violations"], name
        assert set(report["invariants"]) & {"R1", "A5", "C2"}, name
    config = SimConfig(replicas=2, leaders=2, acceptors=3, clients=3, commands=6,
                       leader_policy="naive", until=3000.0,
                       net=NetParams(delay_min=0.5, delay_max=6.0, loss=0.3))
    for seed in range(12):
        assert harness.run(state_reduction.ROLES, config, seed).violations == []


class RashAcceptor(CollectingAcceptor):
    """MISTAKE: collects every slot below the one it just accepted, whether
    or not the replicas have performed them."""

    def on_P2a(self, msg):
        super().on_P2a(msg)
        below = msg.pvalue.slot - 1
        if below > self.collected_below:
            self.collected_below = below
            self.accepted = {p for p in self.accepted if p.slot >= below}


def test_collecting_what_not_every_replica_performed_breaks_a3():
    """A3 is relaxed only for slots every replica has performed (PMMC
    section 4, "Garbage Collection"); an acceptor that collects earlier is reported."""
    roles = dict(garbage_collection.ROLES, acceptor=RashAcceptor)
    config = state_reduction.long_run_config(10)
    sim = harness.run(roles, config, 0, harness.churn_plan(config, every=40, down=20))
    assert "A3" in {v.invariant for v in sim.violations}


class ForgetfulAcceptor(Acceptor):
    """MISTAKE: loses what it accepted in a crash (not durable)."""

    def durable_state(self):
        return (self.ballot_num, frozenset())


def test_relaxed_checker_still_reports_a_forgetful_acceptor():
    """Dropping pvalues without a higher ballot or a collection mark is an
    A3 violation for the relaxed checker as for the paper's."""
    config = SimConfig(commands=5)
    plan = FaultPlan((Action(at=8.0, action="crash", process="a1"),
                      Action(at=9.0, action="recover", process="a1")))
    roles = {"acceptor": ForgetfulAcceptor}
    relaxed = harness.run(roles, config, 0, plan).violations
    base = Simulator(config, 0, plan, roles=roles).run().violations
    assert [v.invariant for v in base][:1] == ["A3"]
    assert [v.invariant for v in relaxed][:1] == ["A3"]


def test_a_lease_trusted_too_long_returns_stale_reads():
    """A leader that trusts its lease longer than the acceptors keep their
    promise (as if drift were unbounded) answers reads while another leader
    completes writes; the correct lease does not (PMMC section 4, "Read-Only Commands")."""
    demo = leases.margin_demo(range(20))
    assert demo["overconfident"]["not_linearizable"]
    assert demo["lease"]["not_linearizable"] == [] and demo["lease"]["broken"] == []


def test_the_paper_checker_forbids_what_garbage_collection_drops():
    """The paper's A3 (an acceptor never removes a pvalue) forbids
    collection, so the core checker reports it; the relaxed checker allows
    exactly the drops the paper allows, and reports none on the same run."""
    from paxos_lit.sim.simulator import simulate

    config = state_reduction.long_run_config(20)
    core = simulate(config, 1, roles=garbage_collection.ROLES, linearizability=False)
    assert {v.invariant for v in core.violations} == {"A3"}
    assert harness.run(garbage_collection.ROLES, config, 1).violations == []


def test_relaxed_checker_sees_the_paper_roles_as_the_paper_checker_does():
    """On the paper's own roles the relaxed checker relaxes nothing that
    matters: under the same random faults it reports what the paper's
    checker reports (nothing), run by run."""
    from paxos_lit.sim.simulator import simulate
    from paxos_lit.sim.sweep import random_config

    assert isinstance(harness.RelaxedChecker(5), InvariantChecker)
    for seed in range(20):
        config = random_config(seed)
        plan = random_fault_plan(seed, config)
        core = simulate(config, seed, plan, trace=False, linearizability=False).violations
        relaxed = harness.run({}, config, seed, plan).violations
        assert [v.to_json() for v in relaxed] == [v.to_json() for v in core] == []


# -- what the optimizations buy ---------------------------------------------------------------
@pytest.fixture(scope="module")
def memory():
    return garbage_collection.compare(seed=1, commands=100)


def test_state_reduction_keeps_one_pvalue_per_slot_where_the_paper_keeps_more(memory):
    """With leaders crashing in turn, each new leader re-proposes every slot
    at its ballot: the paper's acceptors keep every copy, state reduction one
    per slot (PMMC section 4, "State Reduction"); p1b messages shrink with them."""
    paper, sr = memory["paper"], memory["state_reduction"]
    assert paper["adoptions"] >= 2
    assert sr["pvalues_held_peak"] <= sr["decided_slots"] < paper["pvalues_held_peak"]
    assert sr["p1b"]["pvalues_mean"] < paper["p1b"]["pvalues_mean"]
    assert sr["p1b"]["pvalues_max"] <= paper["p1b"]["pvalues_max"]
    assert (paper["violations"], sr["violations"]) == (0, 0)


def test_garbage_collection_bounds_acceptor_state_and_p1b(memory):
    """With garbage collection acceptors hold only slots not yet performed
    by every replica, so their state and p1b stay small however long the run
    (PMMC section 4, "Garbage Collection"), and view changes re-propose fewer slots."""
    paper = memory["paper"]
    for name in ("garbage_collection", "both"):
        m = memory[name]
        assert m["completed"] == m["requested"] and m["violations"] == 0 and m["linearizable"]
        assert m["pvalues_held_peak"] <= 20 < paper["pvalues_held_peak"]
        assert m["p1b"]["pvalues_max"] <= 20
        assert m["p2a_sent"] < paper["p2a_sent"]
        assert m["leader_proposals_end"] < paper["leader_proposals_end"]


def test_garbage_collected_state_does_not_grow_with_the_run():
    """The paper's acceptor state grows with the run's length; collected
    state does not."""
    g = garbage_collection.growth(seed=2, lengths=(20, 60))
    assert g["paper"]["held"][1] > 2 * g["paper"]["held"][0]
    assert max(g["both"]["held"]) <= 20


def test_reads_without_consensus_take_no_slot_and_fewer_messages():
    """Quorum reads and leased reads take no slot and cost fewer messages and
    less time than reads through consensus, and stay linearizable (PMMC
    section 4, "Read-Only Commands")."""
    r = leases.compare(seed=3, read_fraction=0.9, commands=20)
    paper = r["paper"]
    assert paper["decided_slots"] == paper["reads"] + paper["writes"]
    for name in ("quorum_read", "lease"):
        m = r[name]
        assert m["linearizable"] and m["violations"] == 0
        assert m["decided_slots"] == m["writes"]
        assert m["messages_per_op"] < paper["messages_per_op"]
        assert m["read_latency"]["mean"] < paper["read_latency"]["mean"]
    assert r["lease"]["messages_per_op"] < r["quorum_read"]["messages_per_op"]
    assert r["lease_messages"] > 0
