"""What the figures read out of a trace: plain Python, no plotting.

The simulator's trace (``paxos_lit.sim.trace``) is a list of raw tuples
``(time, kind, a, b, payload, extra)``.  The functions here turn it into the
few structures the charts draw: each leader's ballot over time, when each
process was down, when links were cut, every message between two processes
with its fate, and what each replica has learned was decided.  They take the
trace and return lists and dicts, so they can be tested (and reused by a
reader) without plotly.

A *source* is whatever a figure is asked to draw: a ``Simulator``, a
dashboard ``Session``, or a bare trace together with its seed.  ``as_run``
normalises the three into a ``Run``.
"""

from __future__ import annotations

from dataclasses import dataclass

from paxos_lit.errors import ConfigError
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
from paxos_lit.types import NOOP, is_reconfig

#: Message types grouped by the part of the protocol they belong to; the
#: message chart gives each group one colour.
GROUPS = {
    "client": (Request, Response),
    "replica-leader": (Propose, Decision),
    "phase 1": (P1a, P1b, Adopted, Preempted),
    "phase 2": (P2a, P2b),
    "failure detector": (Ping, Pong),
}
GROUP_OF = {cls: name for name, classes in GROUPS.items() for cls in classes}
ROLE_ORDER = {"c": 0, "r": 1, "l": 2, "a": 3}


@dataclass
class Run:
    """A trace with what is needed to label it: its seed, the virtual time it
    reached, and (when known) its configuration and simulator."""

    trace: list
    seed: int
    now: float
    config: object = None   # SimConfig, when the source was a simulator
    sim: object = None      # the Simulator, when there is one

    @property
    def events(self) -> int:
        return self.sim.events if self.sim is not None else len(self.trace)


def as_run(source, seed=None) -> Run:
    """A ``Run`` from a Simulator, a Session (anything with ``.sim``), or a
    bare trace (then ``seed`` is required, so the figure can print it)."""
    sim = getattr(source, "sim", None)
    if sim is None and hasattr(source, "trace") and hasattr(source, "seed"):
        sim = source
    if sim is not None:
        if sim.trace is None:
            raise ConfigError("trace", "the simulator was built with trace=False; "
                                       "figures draw the trace")
        return Run(sim.trace, sim.seed if seed is None else seed, sim.now, sim.config, sim)
    if not isinstance(source, list):
        raise ConfigError("source", "must be a Simulator, a Session or a trace "
                                    f"(list of records), got {type(source).__name__}")
    if seed is None:
        raise ConfigError("seed", "is required with a bare trace (every figure prints its seed)")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError("seed", f"must be an integer, got {seed!r}")
    now = source[-1][0] if source else 0.0
    return Run(source, seed, now)


def node(pid: str) -> str:
    """The top-level process a pid lives in (``l1.s3`` lives in ``l1``)."""
    return pid.split(".", 1)[0]


def lane_key(pid: str):
    """Clients, replicas, leaders, acceptors, then anything else; numbers in
    numeric order (``a2`` before ``a10``)."""
    head = pid.rstrip("0123456789")
    digits = pid[len(head):]
    return (ROLE_ORDER.get(head, 4), head, int(digits) if digits else -1, pid)


def processes(run: Run) -> list[str]:
    """Every top-level process of the run, in lane order."""
    names = set()
    c = run.config
    if c is not None:
        names.update(c.client_ids, c.replica_ids, c.leader_ids, c.acceptor_ids)
    for _t, kind, a, b, _payload, _extra in run.trace:
        if kind in ("send", "dup", "drop", "lost"):
            names.add(node(a))
            names.add(node(b))
        elif kind in ("crash", "recover", "state"):
            names.add(a)
    return sorted(names, key=lane_key)


def leaders(run: Run) -> list[str]:
    """Leader ids in ballot order: a ballot is (round, leader id) compared
    as a tuple, so leader ids compare as strings (PMMC section 3.2)."""
    names = set(run.config.leader_ids) if run.config is not None else set()
    for rec in run.trace:
        if rec[1] == "state":
            names.add(rec[2])
    return sorted(names)


# -- intervals: crashes and partitions -------------------------------------

def down_intervals(run: Run, until: float | None = None) -> list[tuple]:
    """``(pid, start, end, open)`` for every period a process was down up to
    ``until``; ``open`` is True if it had not recovered by then."""
    until = run.now if until is None else until
    out, since = [], {}
    for t, kind, a, _b, _payload, _extra in run.trace:
        if t > until:
            break
        if kind == "crash":
            since[a] = t
        elif kind == "recover" and a in since:
            out.append((a, since.pop(a), t, False))
    out.extend((pid, t0, until, True) for pid, t0 in since.items())
    return sorted(out, key=lambda iv: (iv[1], lane_key(iv[0])))


def describe_fault(action: dict) -> str:
    """A short label for a fault-plan action (the trace's ``fault`` record)."""
    kind = action.get("action")
    if kind in ("crash", "recover"):
        return f"{kind} {action['process']}"
    if kind == "partition":
        return "partition " + " | ".join(" ".join(g) for g in action["groups"])
    if kind == "block":
        return f"block {' '.join(action['src'])} → {' '.join(action['dst'])}"
    if kind == "set":
        parts = [f"{k}={action[k]:g}" for k in ("loss", "dup", "delay_min", "delay_max")
                 if k in action]
        where = f" on {action['link'][0]}→{action['link'][1]}" if "link" in action else ""
        return "set " + " ".join(parts) + where
    if kind == "reconfigure":
        return f"reconfigure leaders {' '.join(action['leaders'])}"
    return str(kind)


def faults(run: Run, until: float | None = None) -> list[tuple]:
    """``(time, action dict)`` for every fault applied up to ``until``."""
    until = run.now if until is None else until
    return [(t, payload) for t, kind, a, b, payload, extra in run.trace
            if kind == "fault" and t <= until]


def cut_intervals(run: Run, until: float | None = None) -> list[tuple]:
    """``(start, end, label, open)`` for each partition or one-way block,
    ending at the next heal (or ``until`` if none came)."""
    until = run.now if until is None else until
    out, live = [], []
    for t, action in faults(run, until):
        kind = action["action"]
        if kind in ("partition", "block"):
            live.append((t, describe_fault(action)))
        elif kind == "heal":
            out.extend((t0, t, label, False) for t0, label in live)
            live = []
    out.extend((t0, until, label, True) for t0, label in live)
    return sorted(out)


# -- ballots -----------------------------------------------------------------

def ballot_series(run: Run, until: float | None = None) -> dict:
    """Per leader, its observed ``(time, ballot, active)`` changes, with a
    ``(time, None, False)`` entry where it crashed (a gap in its line)."""
    until = run.now if until is None else until
    out = {lid: [] for lid in leaders(run)}
    for t, kind, a, _b, payload, _extra in run.trace:
        if t > until:
            break
        if kind == "state":
            ballot, active = payload
            out.setdefault(a, []).append((t, ballot, active))
        elif kind == "crash" and a in out:
            out[a].append((t, None, False))
    return out


def scout_events(run: Run, until: float | None = None) -> dict:
    """Scouts and their verdicts: ``started`` (time, scout, ballot),
    ``adopted`` (time, scout, ballot) and ``preempted`` (time, child,
    its ballot or None, the preempting ballot).  Preemptions come from scouts
    and from commanders (PMMC Figs. 6 and 7)."""
    until = run.now if until is None else until
    ballot_of, started, adopted, preempted = {}, [], [], []
    for t, kind, a, _b, payload, _extra in run.trace:
        if t > until:
            break
        if kind != "send":
            continue
        cls = type(payload)
        if cls is P1a:
            if a not in ballot_of:
                ballot_of[a] = payload.ballot
                started.append((t, a, payload.ballot))
        elif cls is P2a:
            ballot_of.setdefault(a, payload.pvalue.ballot)
        elif cls is Adopted:
            adopted.append((t, a, payload.ballot))
        elif cls is Preempted:
            preempted.append((t, a, ballot_of.get(a), payload.ballot))
    return {"started": started, "adopted": adopted, "preempted": preempted}


def active_leaders(run: Run, until: float | None = None) -> list[tuple]:
    """``(leader, ballot)`` for each leader that is up and active at ``until``."""
    out = []
    for lid, series in ballot_series(run, until).items():
        if series and series[-1][1] is not None and series[-1][2]:
            out.append((lid, series[-1][1]))
    return out


# -- messages ----------------------------------------------------------------

#: Fates of a message between two processes, as the message chart styles them.
FATES = ("delivered", "in flight", "duplicate", "dropped", "lost")


def _lost_keys(trace) -> set:
    return {(t, a, b, payload) for t, kind, a, b, payload, extra in trace if kind == "lost"}


def network_messages(run: Run, until: float | None = None) -> list[dict]:
    """Every message sent between two different top-level processes by
    ``until``, in send order, as dicts with ``t`` (sent), ``arrive``
    (delivery time, None if dropped), ``src``, ``dst``, ``msg``, ``type``,
    ``group`` and ``fate``:

    - ``delivered``: reached a live process by ``until``;
    - ``in flight``: still on the wire at ``until``;
    - ``duplicate``: the network's extra copy (a ``dup`` record);
    - ``dropped``: lost by the network (``reason`` loss or partition);
    - ``lost``: arrived at a process that had crashed or exited.

    Messages between a leader and its own scouts and commanders never cross
    the network (the simulator delivers them at once) and are left out."""
    until = run.now if until is None else until
    trace = run.trace
    lost = _lost_keys(trace)
    out = []
    for t, kind, a, b, payload, extra in trace:
        if t > until:
            break
        if kind not in ("send", "dup", "drop"):
            continue
        na, nb = node(a), node(b)
        if na == nb:
            continue
        cls = type(payload)
        m = {"t": t, "src": a, "dst": b, "src_node": na, "dst_node": nb, "msg": payload,
             "type": cls.__name__, "group": GROUP_OF.get(cls, "other")}
        if kind == "drop":
            m["arrive"] = None
            m["fate"] = "dropped"
            m["reason"] = extra
        else:
            m["arrive"] = extra
            if (extra, a, b, payload) in lost and extra <= until:
                m["fate"] = "lost"
            elif kind == "dup":
                m["fate"] = "duplicate"
            elif extra > until:
                m["fate"] = "in flight"
            else:
                m["fate"] = "delivered"
        out.append(m)
    return out


def describe_message(m: dict) -> str:
    """A one-line hover text for a message dict from ``network_messages``."""
    msg = m["msg"]
    cls = type(msg)
    detail = ""
    if cls in (P1a, P1b, Preempted, Adopted, Ping, Pong):
        detail = f" ballot {msg.ballot}"
    if cls is P2a:
        detail = f" {msg.pvalue.ballot} slot {msg.pvalue.slot} {msg.pvalue.command}"
    elif cls is P2b:
        detail = f" {msg.ballot} slot {msg.slot}"
    elif cls in (Propose, Decision):
        detail = f" slot {msg.slot} {msg.command}"
    elif cls in (Request, Response):
        detail = f" {msg.command}"
    when = f"t={m['t']:.2f}"
    if m["arrive"] is not None:
        when += f"→{m['arrive']:.2f}"
    fate = m["fate"] + (f" ({m['reason']})" if m.get("reason") else "")
    return f"{m['type']} {m['src']}→{m['dst']}{detail}<br>{when} {fate}"


# -- decisions ----------------------------------------------------------------

def replica_ids(run: Run) -> list[str]:
    if run.config is not None:
        return list(run.config.replica_ids)
    names = set()
    for _t, kind, _a, b, payload, _extra in run.trace:
        if kind == "send" and type(payload) is Decision:
            names.add(b)
    return sorted(names, key=lane_key)


def replica_decisions(run: Run, until: float | None = None) -> dict:
    """What each replica knows is decided at ``until``: replica -> {slot:
    (command, time learned)}.  A replica keeps the first decision it gets
    for a slot; its decisions are volatile, so a crash forgets them (it
    relearns them after recovering, through the stall retries)."""
    until = run.now if until is None else until
    trace = run.trace
    reps = replica_ids(run)
    lost = _lost_keys(trace)
    events = []  # (time, order, kind, replica, slot, command)
    for i, (t, kind, a, b, payload, extra) in enumerate(trace):
        if t > until:
            break
        if kind in ("send", "dup") and type(payload) is Decision and b in reps:
            if extra <= until and (extra, a, b, payload) not in lost:
                events.append((extra, i, 1, b, payload.slot, payload.command))
        elif kind in ("crash", "recover") and a in reps:
            events.append((t, i, 0, a, None, None))
    events.sort(key=lambda e: (e[0], e[1]))
    out = {r: {} for r in reps}
    for t, _i, kind, r, slot, command in events:
        if kind == 0:
            out[r] = {}
        elif slot not in out[r]:
            out[r][slot] = (command, t)
    return out


def duplicate_slots(decisions: dict) -> set:
    """``(replica, slot)`` cells whose command is also decided in another
    slot at that replica (the original PMMC driver's defect: a command sent
    twice lands in two slots).  No-ops do not count."""
    out = set()
    for r, slots in decisions.items():
        where: dict = {}
        for s, (c, _t) in slots.items():
            if c != NOOP and not is_reconfig(c):
                where.setdefault(c, []).append(s)
        for ss in where.values():
            if len(ss) > 1:
                out.update((r, s) for s in ss)
    return out


def first_gap(slots: dict) -> int:
    """The smallest slot not decided: where the replica's slot_out stands
    (it performs decided slots in order; invariant R2)."""
    s = 1
    while s in slots:
        s += 1
    return s


# -- history ------------------------------------------------------------------

def latencies(history: dict) -> list[float]:
    """Return - call for every answered operation of a history dict."""
    return [op["return"] - op["call"] for op in history["ops"] if op["return"] is not None]
