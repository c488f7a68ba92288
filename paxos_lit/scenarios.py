"""Named scenarios: small, seeded runs that each show one thing about PMMC.

Every builder returns ``(config, seed, plan)``, the three things a run is a
pure function of (DESIGN section 5), so a scenario replays exactly::

    >>> import paxos_lit as px
    >>> from paxos_lit import scenarios
    >>> config, seed, plan = scenarios.leader_crash()
    >>> px.simulate(config, seed, plan).completed
    30

The tests keep a golden transcript of each one (``tests/scenarios/``), and
the book and the widgets reuse them: ``SCENARIOS`` maps a name to its builder
and ``transcript`` renders a run's key events as text.
"""

from __future__ import annotations

from .sim.config import NetParams, SimConfig
from .sim.faults import Action, FaultPlan, crash, heal, parse_action, partition


def happy_path(seed: int = 1):
    """The default deployment (2 replicas, 2 leaders, 3 acceptors, 3 clients
    sending 10 commands each) on a reliable network, with no faults.

    Shows the normal case of PMMC section 3: both leaders scout at round 0,
    the higher ballot (0, l2) is adopted and l2 becomes active; l1 is
    preempted and, under the default ``backoff`` policy, defers to l2 while
    l2 answers its pings.  Every command is decided in one slot by l2's
    commanders and answered."""
    return SimConfig(), seed, FaultPlan()


def leader_crash(seed: int = 1, at: float = 20.0):
    """The active leader l2 crashes at ``at``, in the middle of the workload.

    Shows takeover (PMMC section 3.6): l1, which deferred to l2, stops getting
    answers to its pings, scouts with a ballot above l2's, is adopted, learns
    from the acceptors every pvalue l2 got accepted (pmax), and finishes the
    workload.  No command is lost or decided twice."""
    return SimConfig(), seed, FaultPlan((crash(at, "l2"),))


def minority_acceptors(seed: int = 1, at: float = 10.0):
    """Five acceptors; two of them (a4, a5) crash at ``at`` and stay down.

    Shows why Paxos needs only a majority (PMMC section 3.3): scouts and
    commanders wait for 3 of 5 answers, so the three acceptors left are
    enough, and the workload completes as if nothing happened.  Messages to
    the crashed acceptors are simply lost."""
    return SimConfig(acceptors=5), seed, FaultPlan((crash(at, "a4"), crash(at, "a5")))


#: The dueling scenario's link delays: one acceptor near both leaders, two far.
DUEL_NEAR = 0.1
DUEL_FAR = 2.0


def dueling(policy: str = "naive", seed: int = 1, until: float = 2000.0):
    """Two leaders, one acceptor (a1) near both (link delay 0.1 each way), two
    acceptors (a2, a3) far from both (2.0 each way); the delays are constant,
    from time 0.  Everything else is the default deployment.

    Under ``policy="naive"`` (the paper's pseudocode: a preempted leader
    scouts again at once) the leaders *duel* and livelock (PMMC section 3.6):
    after the first few slots nothing is decided for the rest of the run
    while ballots climb without end.  Under ``"backoff"`` the same run
    decides all 30 commands in under 100 time units.

    Why naive livelocks.  Write s = 0.1 and D = 2.0.  A leader that sends its
    p1a at time t is adopted at t + 2D (a majority needs a far acceptor); its
    p2a reach a1 at t + 2D + s and the far acceptors at t + 3D; if they are
    rejected it hears so from a1 at t + 2D + 2s and, being naive, sends its
    next p1a (one round higher than the ballot that beat it) at once.  So
    each leader repeats with period 2D + 2s.  Now let the other leader send
    its higher p1a at t + d with 2s < d < 2D.  It reaches a1 at t + d + s
    (before our p2a at t + 2D + s) and a far acceptor at t + d + D (before
    our p2a at t + 3D): every acceptor rejects our phase 2.  Symmetrically
    our next p1a, sent at t + 2D + 2s, reaches a1 at t + 2D + 3s (before its
    p2a at t + d + 2D + s, as d > 2s) and a far acceptor at t + 3D + 2s
    (before its p2a at t + d + 3D): its phase 2 fails too.  The pattern then
    repeats with the same offset d, forever: each leader's phase 1 always
    lands between the other's phase 1 and phase 2.  The window 2s < d < 2D
    is wide, so the offset the first rounds happen to leave falls in it.
    Nothing random can break the lockstep: the only randomness is in the
    client and replica links, and the naive leaders never wait.  (With
    jitter on the leader-acceptor links the offset drifts out of the window
    now and then and a few slots get through: the slow crawl seen with the
    default random delays.)

    Why backoff progresses: a preempted leader pings the leader that
    preempted it and waits (AIMD timeouts with seeded jitter) as long as that
    leader answers as active, so only one leader runs phase 1 at a time."""
    leaders, acceptors = ("l1", "l2"), ("a1", "a2", "a3")
    actions = []
    for leader in leaders:
        for a in acceptors:
            d = DUEL_NEAR if a == "a1" else DUEL_FAR
            for link in ((leader, a), (a, leader)):
                actions.append(Action(at=0.0, action="set", link=link, delay_min=d, delay_max=d))
    return SimConfig(leader_policy=policy, until=until), seed, FaultPlan(tuple(actions))


def partition_heal(seed: int = 1, at: float = 20.0, heal_at: float = 80.0):
    """The active leader l2 is cut off from every other process at ``at`` and
    the partition heals at ``heal_at``; 20 commands per client so the run
    outlasts the partition.

    Shows that a partitioned leader can do no harm (PMMC section 3.3): l2
    still believes it is active, but it cannot reach a majority, so nothing
    it proposes after the cut is decided.  l1 stops hearing l2's pongs,
    takes over with a higher ballot and continues.  After the heal, l2's
    commanders are rejected by the acceptors, l2 learns of l1's ballot, goes
    passive one round above it, finds l1 active, and defers: l1 stays active
    to the end."""
    others = ["l1", "a1", "a2", "a3", "r1", "r2", "c1", "c2", "c3"]
    plan = FaultPlan((partition(at, ["l2"], others), heal(heal_at)))
    return SimConfig(commands=20), seed, plan


def duplication_reordering(seed: int = 1):
    """Every message is duplicated with probability 0.5, and delays range
    from 0.1 to 10 time units, so messages overtake each other all the time.

    Shows that Paxos needs no FIFO or exactly-once links (PMMC section 3):
    acceptors answer a repeated p1a or p2a the same way, scouts and
    commanders count each acceptor once (``waitfor``), replicas record a
    slot's decision once and perform each command once, and clients ignore
    repeated answers.  The history is still linearizable."""
    return SimConfig(net=NetParams(delay_min=0.1, delay_max=10.0, dup=0.5)), seed, FaultPlan()


def reconfiguration(seed: int = 1, at: float = 15.0):
    """At ``at`` an administrator submits a reconfiguration command that
    replaces both leaders and all three acceptors by new ones (l3, l4;
    a4, a5, a6).

    Shows PMMC section 3.4: the reconfiguration is decided in some slot s
    like any command; slots below s + WINDOW are still decided by the old
    leaders with the old acceptors, and from slot s + WINDOW on the replicas
    propose to the new leaders, whose commanders decide every later slot
    with the new acceptors."""
    plan = FaultPlan((Action(at=at, action="reconfigure", leaders=("l3", "l4"),
                             acceptors=("a4", "a5", "a6")),))
    return SimConfig(), seed, plan


def dueling_naive(seed: int = 1):
    """The ``dueling`` scenario under the paper's ``naive`` policy: after
    the first few slots the two leaders livelock and nothing more is decided
    (PMMC section 3.6; see ``dueling`` for why)."""
    return dueling("naive", seed)


def dueling_backoff(seed: int = 1):
    """The ``dueling`` scenario under the ``backoff`` policy: the same
    network, seed and workload, and every command is decided quickly (PMMC
    section 3.6; see ``dueling``)."""
    return dueling("backoff", seed)


#: Every scenario by name (the golden transcripts use these names).
SCENARIOS = {
    "happy_path": happy_path,
    "leader_crash": leader_crash,
    "minority_acceptors": minority_acceptors,
    "dueling_naive": dueling_naive,
    "dueling_backoff": dueling_backoff,
    "partition_heal": partition_heal,
    "duplication_reordering": duplication_reordering,
    "reconfiguration": reconfiguration,
}


def build(name: str):
    """``(config, seed, plan)`` of the scenario called ``name``."""
    try:
        builder = SCENARIOS[name]
    except KeyError:
        raise KeyError(f"no scenario {name!r} (scenarios: {', '.join(SCENARIOS)})") from None
    return builder()


# -- transcripts ---------------------------------------------------------------
def key_events(trace) -> list[str]:
    """The key events of a run as lines of text: faults, crashes and
    recoveries, leaders' (ballot, active) changes, the first decision of each
    slot (with the commander that made it), and violations."""
    lines = []
    decided = set()
    for t, kind, a, _, payload, _ in trace:
        if kind == "send" and type(payload).__name__ == "Decision":
            if payload.slot in decided:
                continue
            decided.add(payload.slot)
            text = f"decide  slot {payload.slot} = {payload.command} (by {a})"
        elif kind == "state":
            ballot, active = payload
            text = f"state   {a} ballot {ballot} {'active' if active else 'passive'}"
        elif kind == "fault":
            text = "fault   " + parse_action(payload, "fault").describe().split(" ", 1)[1]
        elif kind in ("crash", "recover"):
            text = f"{kind:7s} {a}"
        elif kind == "violation":
            text = f"VIOLATION {payload['invariant']}: {payload['detail']}"
        else:
            continue
        lines.append(f"t={t:9.3f}  {text}")
    return lines


def transcript(trace, head: int = 60, tail: int = 20) -> str:
    """``key_events`` as one text; a long run keeps its first ``head`` and
    last ``tail`` lines, with a count of what was left out between."""
    lines = key_events(trace)
    if len(lines) > head + tail:
        skipped = len(lines) - head - tail
        lines = lines[:head] + [f"... {skipped} more key events ..."] + lines[-tail:]
    return "\n".join(lines) + "\n"
