"""Unit tests, one role at a time (PMMC section 3, Figures 1 and 5-8).

Each role is sans-I/O (DESIGN section 3), so a test drives it with a
recording ``Env`` (``make_env`` in conftest.py): hand it one message, look at
what it sent, spawned, timed and whether it exited.  Each docstring states the
rule under test and where the paper gives it.
"""

from __future__ import annotations

import pytest

from paxos_lit.acceptor import Acceptor
from paxos_lit.client import Client
from paxos_lit.commander import Commander
from paxos_lit.leader import Leader, pmax
from paxos_lit.messages import (
    Adopted,
    Decision,
    P1a,
    P1b,
    P2a,
    P2b,
    Ping,
    Pong,
    Preempted,
    Propose,
    Request,
    Response,
)
from paxos_lit.replica import Replica
from paxos_lit.scout import Scout
from paxos_lit.types import BOTTOM, NOOP, Ballot, Command, Config, PValue

ACCEPTORS = ("a1", "a2", "a3")
REPLICAS = ("r1", "r2")
LEADERS = ("l1", "l2")


def cmd(n, op=None, client="c1"):
    """Command number n of client c1 (a put by default)."""
    return Command(client, n, op or ("put", "x", f"{client}.{n}"))


def b(round_, leader="l1"):
    return Ballot(round_, leader)


# -- acceptor (PMMC section 3.3, Fig. 5) -----------------------------------------
@pytest.fixture
def acceptor(make_env):
    return Acceptor("a1", make_env("a1"))


def test_acceptor_starts_at_bottom_with_nothing_accepted(acceptor):
    """An acceptor starts with ballot_num = ⊥ and an empty accepted set
    (PMMC Fig. 5)."""
    assert acceptor.ballot_num == BOTTOM and acceptor.accepted == set()
    assert BOTTOM < b(0, "")


def test_acceptor_adopts_a_higher_ballot_and_replies_with_it_and_accepted(acceptor):
    """p1a(b): if b > ballot_num, adopt b; reply p1b(ballot_num, accepted)
    to the scout (PMMC Fig. 5; invariant A1)."""
    pv = PValue(b(1), 1, cmd(1))
    acceptor.ballot_num, acceptor.accepted = b(1), {pv}
    acceptor.receive(P1a("l2.s1", b(2, "l2")))
    assert acceptor.ballot_num == b(2, "l2")
    assert acceptor.env.sends == [("l2.s1", P1b("a1", b(2, "l2"), frozenset({pv})))]


@pytest.mark.parametrize("ballot", [b(0, "l2"), b(1, "l0"), b(1)])
def test_acceptor_keeps_its_ballot_for_a_lower_or_equal_p1a(acceptor, ballot):
    """p1a(b) with b <= ballot_num changes nothing, but is still answered
    with the current ballot, which tells the scout it was preempted (PMMC
    Fig. 5; A1: adopted ballots only increase)."""
    acceptor.ballot_num = b(1)
    acceptor.receive(P1a("l9.s1", ballot))
    assert acceptor.ballot_num == b(1)
    assert acceptor.env.sends == [("l9.s1", P1b("a1", b(1), frozenset()))]


def test_acceptor_p1b_carries_a_snapshot_not_its_live_set(acceptor):
    """Messages are immutable: the accepted set in a p1b is a frozenset copy,
    so later acceptances do not change a reply already sent (DESIGN section
    3, rule 5)."""
    acceptor.receive(P1a("l1.s1", b(1)))
    acceptor.receive(P2a("l1.c2", PValue(b(1), 1, cmd(1))))
    _, p1b = acceptor.env.sends[0]
    assert isinstance(p1b.accepted, frozenset) and p1b.accepted == frozenset()


def test_acceptor_accepts_p2a_only_at_its_current_ballot(acceptor):
    """p2a(b, s, c): accept only if b == ballot_num; reply p2b(ballot_num, s)
    either way (PMMC Fig. 5; invariant A2).  A lower ballot is refused, and
    so is a higher one: the acceptor never adopted it."""
    acceptor.ballot_num = b(1)
    at_current = PValue(b(1), 3, cmd(1))
    lower = PValue(b(0, "l2"), 4, cmd(2))
    higher = PValue(b(2, "l2"), 5, cmd(3))
    for src, pv in (("l1.c1", at_current), ("l2.c1", lower), ("l2.c2", higher)):
        acceptor.receive(P2a(src, pv))
    assert acceptor.accepted == {at_current}
    assert acceptor.ballot_num == b(1)
    assert acceptor.env.sends == [("l1.c1", P2b("a1", b(1), 3)), ("l2.c1", P2b("a1", b(1), 4)),
                                  ("l2.c2", P2b("a1", b(1), 5))]


def test_acceptor_never_forgets_an_accepted_pvalue(acceptor):
    """A pvalue once accepted stays, even after a higher ballot is adopted
    (invariant A3)."""
    pv = PValue(b(1), 1, cmd(1))
    acceptor.receive(P1a("l1.s1", b(1)))
    acceptor.receive(P2a("l1.c1", pv))
    acceptor.receive(P1a("l2.s1", b(5, "l2")))
    assert pv in acceptor.accepted
    assert acceptor.env.sends[-1] == ("l2.s1", P1b("a1", b(5, "l2"), frozenset({pv})))


def test_acceptor_durable_state_restores_ballot_and_accepted(make_env, acceptor):
    """An acceptor's ballot_num and accepted survive a crash: durable_state
    saves them and restore reloads them (DESIGN section 5; A1 and A3 across a
    crash).  The saved state is immutable, so the old and new incarnation
    share nothing mutable."""
    pv = PValue(b(2), 7, cmd(1))
    acceptor.receive(P1a("l1.s1", b(2)))
    acceptor.receive(P2a("l1.c1", pv))
    state = acceptor.durable_state()
    fresh = Acceptor("a1", make_env("a1"))
    fresh.restore(state)
    assert (fresh.ballot_num, fresh.accepted) == (b(2), {pv})
    fresh.accepted.add(PValue(b(2), 8, cmd(2)))
    assert acceptor.accepted == {pv} and state == (b(2), frozenset({pv}))


# -- scout (PMMC section 3.3, Fig. 6) ---------------------------------------------
@pytest.fixture
def scout(make_env):
    s = Scout("l1.s1", make_env("l1.s1"), "l1", ACCEPTORS, b(1))
    s.start()
    s.env.take()
    return s


def test_scout_start_sends_p1a_to_every_acceptor(make_env):
    """A scout begins by sending p1a(b) to every acceptor (PMMC Fig. 6) and
    sets a retransmission timer (fair links, PMMC section 3.6)."""
    s = Scout("l1.s1", make_env("l1.s1"), "l1", ACCEPTORS, b(1))
    s.start()
    assert s.env.sends == [(a, P1a("l1.s1", b(1))) for a in ACCEPTORS]
    assert s.env.timers == [(Scout.RETRY_AFTER, "retry")]


def test_scout_reports_adopted_on_a_majority_not_before(scout):
    """p1b(b, r) with the scout's ballot: add r to pvalues, remove the
    acceptor from waitfor; once fewer than half remain, send adopted(b,
    pvalues) to the leader and exit (PMMC Fig. 6)."""
    pv1, pv2 = PValue(b(0, "l2"), 1, cmd(1)), PValue(b(0), 2, cmd(2))
    scout.receive(P1b("a1", b(1), frozenset({pv1})))
    assert scout.env.sends == [] and scout.env.exits == 0
    scout.receive(P1b("a3", b(1), frozenset({pv2})))
    assert scout.env.sends == [("l1", Adopted("l1.s1", b(1), frozenset({pv1, pv2})))]
    assert scout.env.exits == 1


def test_scout_counts_each_acceptor_once(scout):
    """A duplicated p1b from one acceptor is one vote: waitfor is a set of
    acceptors, not a counter (PMMC Fig. 6)."""
    for _ in range(3):
        scout.receive(P1b("a1", b(1), frozenset()))
    assert scout.env.sends == [] and scout.waitfor == {"a2", "a3"}


def test_scout_majority_of_five_is_three(make_env):
    """With 5 acceptors a scout needs 3 adoptions: two are not a majority
    (PMMC section 3.3)."""
    accs = tuple(f"a{i}" for i in range(1, 6))
    s = Scout("l1.s1", make_env("l1.s1"), "l1", accs, b(1))
    for a in accs[:2]:
        s.receive(P1b(a, b(1), frozenset()))
    assert s.env.sends == []
    s.receive(P1b("a5", b(1), frozenset()))
    assert s.env.sends == [("l1", Adopted("l1.s1", b(1), frozenset()))]


def test_scout_reports_preempted_on_another_ballot(scout):
    """p1b with a ballot b' != b: send preempted(b') to the leader and exit
    (PMMC Fig. 6)."""
    scout.receive(P1b("a1", b(1), frozenset()))
    scout.receive(P1b("a2", b(3, "l2"), frozenset()))
    assert scout.env.sends == [("l1", Preempted("l1.s1", b(3, "l2")))]
    assert scout.env.exits == 1


def test_scout_retransmits_only_to_acceptors_in_waitfor(scout):
    """On its timer a scout re-sends p1a only to the acceptors that have not
    adopted b (a lost p1a or p1b; PMMC section 3.6, fair links) and re-arms
    the timer."""
    scout.receive(P1b("a2", b(1), frozenset()))
    scout.on_timer("retry")
    assert scout.env.sends == [("a1", P1a("l1.s1", b(1))), ("a3", P1a("l1.s1", b(1)))]
    assert scout.env.timers[-1] == (Scout.RETRY_AFTER, "retry")


# -- commander (PMMC section 3.3, Fig. 7) -------------------------------------------
PV = PValue(b(1), 4, cmd(9))


@pytest.fixture
def commander(make_env):
    c = Commander("l1.c1", make_env("l1.c1"), "l1", ACCEPTORS, REPLICAS, PV)
    c.start()
    c.env.take()
    return c


def test_commander_start_sends_p2a_to_every_acceptor(make_env):
    """A commander begins by sending p2a(b, s, c) to every acceptor (PMMC
    Fig. 7), with a retransmission timer."""
    c = Commander("l1.c1", make_env("l1.c1"), "l1", ACCEPTORS, REPLICAS, PV)
    c.start()
    assert c.env.sends == [(a, P2a("l1.c1", PV)) for a in ACCEPTORS]
    assert c.env.timers == [(Commander.RETRY_AFTER, "retry")]


def test_commander_decides_on_a_majority_and_tells_every_replica(commander):
    """p2b with the commander's ballot: remove the acceptor from waitfor;
    once fewer than half remain, send decision(s, c) to every replica and
    exit (PMMC Fig. 7).  One acceptance, even repeated, is not a majority."""
    commander.receive(P2b("a2", b(1), 4))
    commander.receive(P2b("a2", b(1), 4))
    assert commander.env.sends == [] and commander.env.exits == 0
    commander.receive(P2b("a1", b(1), 4))
    assert commander.env.sends == [(r, Decision("l1.c1", 4, cmd(9))) for r in REPLICAS]
    assert commander.env.exits == 1


def test_commander_reports_preempted_on_another_ballot(commander):
    """p2b with a ballot b' != b: send preempted(b') to the leader and exit,
    deciding nothing (PMMC Fig. 7)."""
    commander.receive(P2b("a1", b(1), 4))
    commander.receive(P2b("a3", b(2, "l2"), 4))
    assert commander.env.sends == [("l1", Preempted("l1.c1", b(2, "l2")))]
    assert commander.env.exits == 1


def test_commander_waits_when_an_acceptor_has_not_seen_its_ballot_yet(commander):
    """p2b with a ballot *below* b means that acceptor has not yet adopted b
    (its p1a was lost or overtaken): no preemption, the commander keeps
    waiting and retransmitting (not in PMMC Fig. 7, whose links are
    reliable and FIFO enough for this not to matter)."""
    commander.receive(P2b("a1", b(0, "l2"), 4))
    assert commander.env.sends == [] and commander.env.exits == 0
    assert commander.waitfor == set(ACCEPTORS)
    commander.receive(P2b("a2", b(1), 4))
    commander.receive(P2b("a3", b(1), 4))
    assert commander.env.sends == [(r, Decision("l1.c1", 4, cmd(9))) for r in REPLICAS]


def test_commander_retransmits_only_to_acceptors_in_waitfor(commander):
    """On its timer a commander re-sends p2a only to acceptors that have not
    accepted (fair links, PMMC section 3.6)."""
    commander.receive(P2b("a3", b(1), 4))
    commander.on_timer("retry")
    assert commander.env.sends == [("a1", P2a("l1.c1", PV)), ("a2", P2a("l1.c1", PV))]


# -- leader (PMMC section 3.3, Fig. 8; section 3.6) ----------------------------------
def make_leader(make_env, policy="backoff", rand_value=0.5):
    leader = Leader("l1", make_env("l1", rand_value=rand_value), ACCEPTORS, REPLICAS, policy)
    leader.start()
    return leader


def spawned(env, cls):
    """The constructor arguments of every child of class cls spawned."""
    return [args for c, args, _ in env.spawns if c is cls]


def commanders(env):
    return [args[-1] for args in spawned(env, Commander)]


def test_pmax_picks_the_highest_ballot_command_per_slot():
    """pmax(pvals): for each slot, the command of the pvalue with the highest
    ballot (PMMC Fig. 8): the only command that may have been chosen there
    (invariant C2)."""
    pvals = {PValue(b(1), 1, cmd(1)), PValue(b(2, "l2"), 1, cmd(2)), PValue(b(1, "l3"), 1, cmd(3)),
             PValue(b(0), 2, cmd(4)), PValue(b(0, "l2"), 2, cmd(5))}
    assert pmax(pvals) == {1: cmd(2), 2: cmd(5)}
    assert pmax(set()) == {}


def test_leader_start_spawns_a_scout_at_round_zero(make_env):
    """A leader starts passive at ballot (0, itself) and spawns a scout for
    it (PMMC Fig. 8)."""
    leader = make_leader(make_env)
    assert leader.ballot_num == b(0) and not leader.active
    assert spawned(leader.env, Scout) == [("l1", ACCEPTORS, b(0))]


def test_leader_propose_records_only_free_slots_and_commands_only_when_active(make_env):
    """propose(s, c): if s has no proposal yet, record c; spawn a commander
    only if active (PMMC Fig. 8).  A later proposal for a taken slot is
    ignored."""
    leader = make_leader(make_env)
    leader.receive(Propose("r1", 1, cmd(1)))
    leader.receive(Propose("r2", 1, cmd(2)))
    assert leader.proposals == {1: cmd(1)} and commanders(leader.env) == []
    leader.receive(Adopted("l1.s1", b(0), frozenset()))
    assert commanders(leader.env) == [PValue(b(0), 1, cmd(1))]
    leader.receive(Propose("r2", 2, cmd(2)))
    leader.receive(Propose("r1", 2, cmd(3)))
    assert leader.proposals == {1: cmd(1), 2: cmd(2)}
    assert commanders(leader.env) == [PValue(b(0), 1, cmd(1)), PValue(b(0), 2, cmd(2))]


def test_leader_adopted_takes_pmax_over_its_own_proposals_and_goes_active(make_env):
    """adopted(ballot_num, pvals): proposals := proposals ◁ pmax(pvals) (a
    possibly chosen command wins over the leader's own), spawn a commander
    for every proposal, and become active (PMMC Fig. 8; invariant C2)."""
    leader = make_leader(make_env)
    leader.receive(Propose("r1", 1, cmd(1)))
    leader.receive(Propose("r1", 3, cmd(3)))
    pvals = frozenset({PValue(b(0, "l0"), 1, cmd(7)), PValue(b(0, "l0"), 2, cmd(8))})
    leader.receive(Adopted("l1.s1", b(0), pvals))
    assert leader.active
    assert leader.proposals == {1: cmd(7), 2: cmd(8), 3: cmd(3)}
    assert commanders(leader.env) == [PValue(b(0), 1, cmd(7)), PValue(b(0), 2, cmd(8)),
                                      PValue(b(0), 3, cmd(3))]
    assert all(args[:3] == ("l1", ACCEPTORS, REPLICAS) for args in spawned(leader.env, Commander))


def test_leader_ignores_adopted_for_a_stale_ballot(make_env):
    """An adopted message for a ballot other than ballot_num comes from an
    old scout: it is ignored (no commanders, stays passive) (PMMC Fig. 8:
    adopted is handled only for ballot_num)."""
    leader = make_leader(make_env, policy="naive")
    leader.receive(Propose("r1", 1, cmd(1)))
    leader.receive(Preempted("l1.s1", b(1, "l2")))
    assert leader.ballot_num == b(2)
    leader.receive(Adopted("l1.s1", b(0), frozenset({PValue(b(0), 5, cmd(5))})))
    assert not leader.active and commanders(leader.env) == []
    assert 5 not in leader.proposals


def test_leader_ignores_preemption_by_a_lower_ballot(make_env):
    """preempted(b'): only b' > ballot_num matters; a lower or equal ballot
    (news from an old child) changes nothing (PMMC Fig. 8)."""
    leader = make_leader(make_env, policy="naive")
    leader.receive(Adopted("l1.s1", b(0), frozenset()))
    n = len(leader.env.spawns)
    leader.receive(Preempted("l1.c9", Ballot(0, "l0")))
    leader.receive(Preempted("l1.c9", b(0)))
    assert leader.active and leader.ballot_num == b(0) and len(leader.env.spawns) == n


def test_naive_leader_rescouts_at_once_above_the_preempting_ballot(make_env):
    """naive policy (the paper's pseudocode): on preempted(b') with b' >
    ballot_num, go passive, ballot_num := (b'.round + 1, self), and spawn a
    scout immediately (PMMC Fig. 8)."""
    leader = make_leader(make_env, policy="naive")
    leader.receive(Adopted("l1.s1", b(0), frozenset()))
    leader.receive(Preempted("l1.c2", b(3, "l2")))
    assert not leader.active and leader.ballot_num == b(4)
    assert spawned(leader.env, Scout)[-1] == ("l1", ACCEPTORS, b(4))
    assert leader.env.timers == [] and leader.env.sends == []


def test_backoff_leader_waits_and_pings_the_preempting_leader(make_env):
    """backoff policy: on preemption, go passive at (b'.round + 1, self) but
    do not scout yet: ping the leader of b' and wait timeout x (1 + jitter),
    the timeout doubled (multiplicative increase) (PMMC section 3.6: failure
    detection and AIMD timeouts)."""
    leader = make_leader(make_env, rand_value=0.25)
    leader.receive(Preempted("l1.s1", b(3, "l2")))
    assert not leader.active and leader.ballot_num == b(4)
    assert len(spawned(leader.env, Scout)) == 1          # only the first one
    assert leader.env.sends == [("l2", Ping("l1", b(4)))]
    timeout = 2 * Leader.BACKOFF_MIN
    assert leader.timeout == timeout
    assert leader.env.timers == [(timeout * 1.25, "backoff")]


def test_backoff_leader_defers_while_the_other_answers_active(make_env):
    """While the preempting leader answers pings as active, the waiting
    leader keeps deferring (ping again, wait again); once a whole wait passes
    without such an answer, it scouts with its new ballot (PMMC section 3.6,
    failure detection).  The first wait needs no answer: the preemption
    itself is fresh news that the other leader is alive."""
    leader = make_leader(make_env)
    leader.receive(Preempted("l1.s1", b(3, "l2")))
    leader.env.take()
    for i in range(4):
        if i:
            leader.receive(Pong("l2", b(3, "l2"), True))
        leader.on_timer("backoff")
        assert leader.env.take() == [("l2", Ping("l1", b(4)))]
        assert len(spawned(leader.env, Scout)) == 1
    leader.on_timer("backoff")                           # no pong this time
    assert spawned(leader.env, Scout)[-1] == ("l1", ACCEPTORS, b(4))


@pytest.mark.parametrize("pong", [Pong("l2", b(3, "l2"), False), Pong("l3", b(9, "l3"), True)])
def test_backoff_leader_only_defers_to_the_watched_leader_being_active(make_env, pong):
    """An answer that says "passive", or one from another leader than the
    one that preempted us, is no reason to keep waiting (PMMC section 3.6)."""
    leader = make_leader(make_env)
    leader.receive(Preempted("l1.s1", b(3, "l2")))
    leader.on_timer("backoff")                           # the first wait is granted
    assert len(spawned(leader.env, Scout)) == 1
    leader.receive(pong)
    leader.on_timer("backoff")
    assert spawned(leader.env, Scout)[-1] == ("l1", ACCEPTORS, b(4))


def test_backoff_leader_stops_deferring_when_a_replica_retries(make_env):
    """A replica's retry proposal means whoever we defer to is not getting
    commands decided: the waiting leader stops deferring at its next check
    (PMMC section 3.6; not in the paper's pseudocode)."""
    leader = make_leader(make_env)
    leader.receive(Preempted("l1.s1", b(3, "l2")))
    leader.receive(Propose("r1", 4, NOOP, True))
    leader.on_timer("backoff")
    assert spawned(leader.env, Scout)[-1] == ("l1", ACCEPTORS, b(4))


def test_backoff_timeout_is_aimd(make_env):
    """AIMD: every preemption doubles the wait (up to BACKOFF_MAX), every
    adoption shortens it by BACKOFF_DECREASE (down to BACKOFF_MIN) (PMMC
    section 3.6)."""
    leader = make_leader(make_env)
    waits = []
    for r in range(1, 8):
        leader.receive(Preempted("l1.s1", b(2 * r, "l2")))
        waits.append(leader.timeout)
    assert waits == [10.0, 20.0, 40.0, 80.0, 160.0, 200.0, 200.0]
    leader.on_timer("backoff")                           # the first wait is granted
    leader.on_timer("backoff")                           # no pong since: scouts
    assert leader.scouting
    leader.receive(Adopted("l1.s9", leader.ballot_num, frozenset()))
    assert leader.active and leader.timeout == 200.0 - Leader.BACKOFF_DECREASE
    leader.timeout = Leader.BACKOFF_MIN + 1
    leader.active = False
    leader.receive(Adopted("l1.s9", leader.ballot_num, frozenset()))
    assert leader.timeout == Leader.BACKOFF_MIN


def test_backoff_timer_is_ignored_once_active_or_scouting(make_env):
    """A backoff timer that fires after the leader already scouts again, or
    is active, does nothing (no second scout for one ballot)."""
    leader = make_leader(make_env)
    n = len(leader.env.spawns)
    leader.on_timer("backoff")                           # still scouting ballot 0
    leader.receive(Adopted("l1.s1", b(0), frozenset()))
    leader.on_timer("backoff")                           # active
    assert len(leader.env.spawns) == n and leader.env.sends == []


def test_leader_answers_ping_with_its_ballot_and_activity(make_env):
    """A ping is answered with a pong carrying the leader's ballot and
    whether it is active (the failure detector of PMMC section 3.6)."""
    leader = make_leader(make_env)
    leader.receive(Ping("l2", b(5, "l2")))
    leader.receive(Adopted("l1.s1", b(0), frozenset()))
    leader.receive(Ping("l2", b(5, "l2")))
    assert leader.env.sends == [("l2", Pong("l1", b(0), False)), ("l2", Pong("l1", b(0), True))]


def test_active_leader_answers_a_retry_with_its_own_command_for_the_slot(make_env):
    """A replica's retry for slot s makes an active leader spawn a commander
    again for the command *it* holds for s: the same pvalue, so no second
    command per (ballot, slot) (invariant C1)."""
    leader = make_leader(make_env)
    leader.receive(Propose("r1", 1, cmd(1)))
    leader.receive(Adopted("l1.s1", b(0), frozenset()))
    leader.receive(Propose("r2", 1, NOOP, True))
    assert commanders(leader.env) == [PValue(b(0), 1, cmd(1))] * 2


def test_recovered_leader_restarts_above_its_last_ballot(make_env):
    """A leader that crashes and recovers must not reuse a ballot of its past
    life, or it could propose a second command for a slot at one ballot
    (C1, A4; PMMC section 3.3): it restarts one round above its last
    ballot."""
    leader = make_leader(make_env, policy="naive")
    leader.receive(Preempted("l1.s1", b(6, "l2")))
    state = leader.durable_state()
    fresh = Leader("l1", make_env("l1"), ACCEPTORS, REPLICAS, "naive")
    fresh.restore(state)
    fresh.start()
    assert fresh.ballot_num == b(8) and fresh.ballot_num > leader.ballot_num
    assert spawned(fresh.env, Scout) == [("l1", ACCEPTORS, b(8))]


def test_leader_rejects_an_unknown_policy(make_env):
    """Only the two documented policies exist (the error names the choices)."""
    with pytest.raises(ValueError, match="naive"):
        Leader("l1", make_env("l1"), ACCEPTORS, REPLICAS, "eager")


# -- replica (PMMC section 3.1, Fig. 1) --------------------------------------------
@pytest.fixture
def replica(make_env):
    r = Replica("r1", make_env("r1"), LEADERS, window=5)
    r.start()
    return r


def proposals_sent(env):
    """(slot, command, leaders) for every proposal sent, in order."""
    out = {}
    for dst, msg in env.sends:
        if isinstance(msg, Propose):
            out.setdefault((msg.slot, msg.command, msg.retry), []).append(dst)
    return [(s, c, tuple(ls)) for (s, c, retry), ls in out.items()]


def responses(env):
    return [(dst, msg.command, msg.result) for dst, msg in env.sends if isinstance(msg, Response)]


def test_replica_proposes_a_request_to_every_leader(replica):
    """request(c): queue c; then propose it for slot_in to every leader
    (PMMC Fig. 1)."""
    replica.receive(Request("c1", cmd(1)))
    assert proposals_sent(replica.env) == [(1, cmd(1), LEADERS)]
    assert replica.proposals == {1: cmd(1)} and replica.slot_in == 2


def test_replica_proposes_only_within_window(replica):
    """A replica proposes only while slot_in < slot_out + WINDOW; the rest
    waits in requests until decisions move slot_out (PMMC Fig. 1; R5)."""
    for n in range(1, 8):
        replica.receive(Request("c1", cmd(n)))
    assert [s for s, _, _ in proposals_sent(replica.env)] == [1, 2, 3, 4, 5]
    assert list(replica.requests) == [cmd(6), cmd(7)]
    replica.env.take()
    replica.receive(Decision("l1.c1", 1, cmd(1)))
    assert proposals_sent(replica.env) == [(6, cmd(6), LEADERS)]
    assert replica.slot_in == 7 and replica.slot_out == 2


def test_replica_requeues_its_proposal_displaced_by_another_decision(replica):
    """decision(s, c') for a slot where this replica proposed c != c': c goes
    back to requests and is proposed again for a later slot (PMMC Fig. 1)."""
    replica.receive(Request("c1", cmd(1)))
    replica.env.take()
    other = cmd(5, client="c2")
    replica.receive(Decision("l1.c1", 1, other))
    assert responses(replica.env) == [("c2", other, None)]
    assert proposals_sent(replica.env) == [(2, cmd(1), LEADERS)]
    assert replica.proposals == {2: cmd(1)}


def test_replica_performs_decisions_in_slot_order(replica):
    """Decisions are performed in slot order, whatever order they arrive in:
    slot 2 waits for slot 1 (PMMC Fig. 1; R2, R3)."""
    first, second = cmd(1, ("put", "x", "1")), cmd(2, ("append", "x", "2"))
    replica.receive(Decision("l1.c2", 2, second))
    assert replica.slot_out == 1 and responses(replica.env) == []
    replica.receive(Decision("l1.c1", 1, first))
    assert replica.slot_out == 3
    assert responses(replica.env) == [("c1", first, None), ("c1", second, None)]
    assert replica.state.data == {"x": "12"}


def test_replica_applies_a_command_decided_twice_only_once(replica):
    """A command decided in two slots is applied at the lower one only; the
    higher slot just advances slot_out (PMMC Fig. 1, perform; R3)."""
    c = cmd(1, ("append", "x", "a"))
    replica.receive(Decision("l1.c1", 1, c))
    replica.receive(Decision("l1.c2", 2, c))
    assert replica.slot_out == 3 and replica.state.data == {"x": "a"}
    assert len(responses(replica.env)) == 1


def test_replica_ignores_a_second_decision_for_a_slot(replica):
    """A duplicated decision changes nothing: the first one recorded for a
    slot stands (R1 makes them equal anyway)."""
    replica.receive(Decision("l1.c1", 1, cmd(1)))
    replica.receive(Decision("l1.c1", 1, cmd(1)))
    assert replica.slot_out == 2 and len(responses(replica.env)) == 1


def test_replica_skips_noop_and_reconfig_without_answering(replica):
    """A no-op or a reconfiguration only advances slot_out: nothing is
    applied and no client is answered (PMMC Fig. 1, perform)."""
    new = Config(REPLICAS, ("a4",), ("l3",))
    replica.receive(Decision("l1.c1", 1, NOOP))
    replica.receive(Decision("l1.c2", 2, Command("admin", 1, ("reconfig", new))))
    assert replica.slot_out == 3 and replica.env.sends == [] and replica.state.data == {}


def test_replica_answers_a_retransmitted_request_from_results(replica):
    """A request for a command already performed is answered again with the
    stored result and not proposed again (clients retransmit; not in the
    paper, whose clients never got answers)."""
    c = cmd(1, ("get", "x"))
    replica.receive(Request("c1", c))
    replica.receive(Decision("l1.c1", 1, c))
    replica.env.take()
    replica.receive(Request("c1", c))
    assert replica.env.sends == [("c1", Response("r1", c, None))]


def test_replica_ignores_a_retransmission_of_a_pending_request(replica):
    """A request already queued, proposed or decided is not proposed into a
    second slot."""
    replica.receive(Request("c1", cmd(1)))
    replica.receive(Request("c1", cmd(1)))
    replica.receive(Decision("l1.c1", 3, cmd(2)))
    replica.receive(Request("c1", cmd(2)))
    assert [s for s, _, _ in proposals_sent(replica.env)] == [1]


def test_replica_switches_leaders_window_slots_after_a_reconfiguration(replica):
    """A reconfiguration decided at slot s takes effect at slot s + WINDOW:
    proposals for slots below go to the old leaders, from s + WINDOW on to
    the new ones (PMMC section 3.4)."""
    new = Config(REPLICAS, ("a4", "a5", "a6"), ("l3", "l4"))
    replica.receive(Decision("l1.c1", 1, Command("admin", 1, ("reconfig", new))))
    for n in range(1, 7):
        replica.receive(Request("c1", cmd(n)))
    sent = proposals_sent(replica.env)
    assert [(s, ls) for s, _, ls in sent] == [(2, LEADERS), (3, LEADERS), (4, LEADERS),
                                              (5, LEADERS), (6, ("l3", "l4"))]
    assert replica.leaders == ("l3", "l4")


def test_replica_retries_each_slot_with_the_leaders_of_its_configuration(replica):
    """A stalled replica re-proposes (marked retry) every undecided slot
    from slot_out, each to the leaders of that slot's configuration: after a
    reconfiguration at slot 1, slots 2-5 still belong to the old leaders and
    slot 6 to the new ones (PMMC section 3.4).  Sending all retries to the
    current leaders let two configurations decide one slot (R1); regression
    test for that fix."""
    new = Config(REPLICAS, ("a4", "a5", "a6"), ("l3", "l4"))
    replica.receive(Decision("l1.c1", 1, Command("admin", 1, ("reconfig", new))))
    for n in range(1, 7):
        replica.receive(Request("c1", cmd(n)))
    replica.env.take()
    replica.on_timer("stall")                # first check: just marks slot_out
    assert replica.env.sends == []
    replica.on_timer("stall")                # no progress since: retry
    retried = [(s, c, ls) for dst, m in replica.env.sends if m.retry
               for s, c, ls in [(m.slot, m.command, dst)]]
    assert sorted({(s, ls) for s, _, ls in retried}) == [
        (2, "l1"), (2, "l2"), (3, "l1"), (3, "l2"), (4, "l1"), (4, "l2"), (5, "l1"), (5, "l2"),
        (6, "l3"), (6, "l4")]
    assert {s: c for s, c, _ in retried} == {s: cmd(s - 1) for s in range(2, 7)}


def test_replica_retries_a_gap_with_noop_and_never_beyond_the_window(replica):
    """A slot this replica never proposed for, but which blocks slot_out, is
    retried with a no-op; slots at or past slot_out + WINDOW are not (their
    configuration is not known yet) (PMMC section 3.4)."""
    replica.receive(Decision("l1.c1", 9, cmd(9)))
    replica.on_timer("stall")
    replica.on_timer("stall")
    retried = sorted((m.slot, m.command) for _, m in replica.env.sends if m.retry)
    assert retried == [(s, NOOP) for s in range(1, 6) for _ in LEADERS]


# -- client -----------------------------------------------------------------------
@pytest.fixture
def client(make_env):
    c = Client("c1", make_env("c1", now=3.0), REPLICAS, [("put", "x", "1"), ("get", "x")], first=0)
    c.start()
    return c


def test_client_sends_one_command_and_records_its_call(client):
    """A client issues one command at a time, to one replica first, and
    records the call time in its history (DESIGN section 6)."""
    c1 = Command("c1", 1, ("put", "x", "1"))
    assert client.env.sends == [("r1", Request("c1", c1))]
    assert client.env.timers == [(Client.RETRY_AFTER, "1")]
    assert client.history == [{"id": None, "client": "c1", "call": 3.0, "return": None,
                               "op": ("put", "x", "1"), "result": None}]


def test_client_retransmits_the_same_command_to_every_replica(client):
    """No answer in time: the same command (same request number, so replicas
    recognise it) goes to every replica, again on every timeout (PMMC
    section 3.6: clients that retry)."""
    client.env.take()
    for _ in range(2):
        client.on_timer("1")
        assert client.env.take() == [(r, Request("c1", Command("c1", 1, ("put", "x", "1"))))
                                     for r in REPLICAS]
    assert client.env.timers[-1] == (Client.RETRY_AFTER, "1")


def test_client_completes_on_the_matching_response_and_ignores_stale_ones(client):
    """The response for the pending command completes it (return time and
    result recorded) and the next command goes to the next replica; a
    duplicate response, or one for an earlier command, is ignored, and so is
    the timer of an answered command."""
    c1 = Command("c1", 1, ("put", "x", "1"))
    client.env.now = 7.5
    client.receive(Response("r2", c1, None))
    c2 = Command("c1", 2, ("get", "x"))
    assert client.env.sends[-1] == ("r2", Request("c1", c2))
    client.env.take()
    client.receive(Response("r1", c1, None))             # duplicate of the first answer
    client.on_timer("1")                                 # the first command's old timer
    assert client.env.sends == [] and client.pending == c2
    assert client.history[0]["return"] == 7.5 and client.history[1]["return"] is None
    client.env.now = 9.0
    client.receive(Response("r1", c2, "1"))
    assert client.done
    assert client.history_ops() == [
        {"client": "c1", "call": 3.0, "return": 7.5,
         "op": {"kind": "put", "key": "x", "value": "1"}, "result": {}},
        {"client": "c1", "call": 7.5, "return": 9.0, "op": {"kind": "get", "key": "x"},
         "result": {"value": "1"}}]
