"""The protocol's messages, one immutable type each, named as in PMMC.

Each message is a ``NamedTuple``: immutable (rule 5 of DESIGN section 3: no
mutable payload is ever shared between two processes), hashable, and the
cheapest immutable record Python offers (DESIGN measured a NamedTuple message
at 1.88 M events/s against 1.35 M for a frozen slotted dataclass).  Sets of
pvalues travel as ``frozenset``.  Every message starts with ``src``, the
sender, because PMMC's messages carry their sender (``<p1a, λ, b>``).

Because two NamedTuples with equal fields compare equal whatever their class,
code that mixes message kinds in one collection keys them by
``(type(msg).__name__, msg)``; ``encode`` does that for JSON.
"""

from __future__ import annotations

from typing import NamedTuple

from .types import Ballot, Command, Config, ProcessId, PValue, Slot


# Client <-> replica -------------------------------------------------------
class Request(NamedTuple):
    """<request, c>: a client asks a replica to perform command c."""

    src: ProcessId
    command: Command


class Response(NamedTuple):
    """<response, cid, result>: a replica answers a client (the original PMMC
    code never did; clients here wait for it)."""

    src: ProcessId
    command: Command
    result: object


# Replica <-> leader -------------------------------------------------------
class Propose(NamedTuple):
    """<propose, s, c>: a replica proposes command c for slot s.

    ``retry`` marks a re-proposal sent because the replica waited too long for
    slot s; a leader then re-sends its own command for s (see Leader)."""

    src: ProcessId
    slot: Slot
    command: Command
    retry: bool = False


class Decision(NamedTuple):
    """<decision, s, c>: command c is decided for slot s."""

    src: ProcessId
    slot: Slot
    command: Command


# Scout <-> acceptor (phase 1) ----------------------------------------------
class P1a(NamedTuple):
    """<p1a, λ, b>: a scout asks an acceptor to adopt ballot b."""

    src: ProcessId
    ballot: Ballot


class P1b(NamedTuple):
    """<p1b, α, ballot_num, accepted>: an acceptor's current ballot and every
    pvalue it has accepted."""

    src: ProcessId
    ballot: Ballot
    accepted: frozenset


# Commander <-> acceptor (phase 2) ------------------------------------------
class P2a(NamedTuple):
    """<p2a, λ, <b, s, c>>: a commander asks an acceptor to accept a pvalue."""

    src: ProcessId
    pvalue: PValue


class P2b(NamedTuple):
    """<p2b, α, ballot_num, s>: an acceptor's current ballot after a p2a."""

    src: ProcessId
    ballot: Ballot
    slot: Slot


# Scout / commander -> leader ------------------------------------------------
class Adopted(NamedTuple):
    """<adopted, b, pvalues>: a majority of acceptors adopted ballot b."""

    src: ProcessId
    ballot: Ballot
    pvalues: frozenset


class Preempted(NamedTuple):
    """<preempted, b'>: some acceptor has adopted the higher ballot b'."""

    src: ProcessId
    ballot: Ballot


# Leader <-> leader (the ``backoff`` policy's failure detector) ---------------
class Ping(NamedTuple):
    """Are you alive, and are you active?  Sent by a passive leader to the
    leader whose ballot preempted it (PMMC section 3.6, failure detection)."""

    src: ProcessId
    ballot: Ballot


class Pong(NamedTuple):
    """The answer to a Ping: the sender's ballot and whether it is active."""

    src: ProcessId
    ballot: Ballot
    active: bool


MESSAGE_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (Request, Response, Propose, Decision, P1a, P1b, P2a, P2b,
                Adopted, Preempted, Ping, Pong)
}


# Plain data ---------------------------------------------------------------
def to_plain(value):
    """A JSON-ready, canonical form of any protocol value.

    Named tuples become lists of their fields, frozensets become sorted lists
    (so the form does not depend on Python's per-process string hashing), and
    a Config or Ballot keeps its field order."""
    if isinstance(value, (frozenset, set)):
        return sorted((to_plain(v) for v in value), key=repr)
    if isinstance(value, tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))}
    return value


def encode(msg) -> dict:
    """A message as ``{"type": name, field: plain value, ...}``."""
    out = {"type": type(msg).__name__}
    for name, value in zip(msg._fields, msg):
        out[name] = to_plain(value)
    return out


def _ballot(v) -> Ballot:
    round_, leader = v
    if not isinstance(round_, int) or not isinstance(leader, str):
        raise ValueError(f"bad ballot {v!r}")
    return Ballot(round_, leader)


def _op(v) -> tuple:
    if not isinstance(v, list) or not v or not isinstance(v[0], str):
        raise ValueError(f"bad operation {v!r}")
    if v[0] == "reconfig":
        if len(v) != 2 or not isinstance(v[1], list) or len(v[1]) != 3:
            raise ValueError(f"bad reconfiguration {v!r}")
        return ("reconfig", Config(*(tuple(_str(p) for p in group) for group in v[1])))
    return tuple(v)


def _str(v) -> str:
    if not isinstance(v, str):
        raise ValueError(f"expected a string, got {v!r}")
    return v


def _command(v) -> Command:
    client, req_id, op = v
    if not isinstance(client, str) or not isinstance(req_id, int):
        raise ValueError(f"bad command {v!r}")
    return Command(client, req_id, _op(op))


def _pvalue(v) -> PValue:
    b, s, c = v
    if not isinstance(s, int):
        raise ValueError(f"bad slot {s!r}")
    return PValue(_ballot(b), s, _command(c))


def _result(v):
    return tuple(v) if isinstance(v, list) else v


_DECODERS = {
    "src": _str,
    "command": _command,
    "result": _result,
    "slot": lambda v: v if isinstance(v, int) and not isinstance(v, bool) else _bad("slot", v),
    "retry": lambda v: v if isinstance(v, bool) else _bad("retry", v),
    "active": lambda v: v if isinstance(v, bool) else _bad("active", v),
    "ballot": _ballot,
    "pvalue": _pvalue,
    "accepted": lambda v: frozenset(_pvalue(p) for p in v),
    "pvalues": lambda v: frozenset(_pvalue(p) for p in v),
}


def _bad(field, v):
    raise ValueError(f"bad {field} {v!r}")


def register(cls, **decoders):
    """Add a new message class to ``MESSAGE_TYPES`` (so to ``encode`` /
    ``decode``) and return it.  Used by the optimization variants
    (``paxos_lit.variants``), which need messages the paper's core has not.

    ``cls`` is a NamedTuple whose first field is ``src``; ``decoders`` give
    a validating decoder (plain JSON value -> field value, ValueError if
    bad) for each field name not known yet.  Role classes build their
    dispatch table when they are defined (``paxos_lit.process``), so
    register a message *before* defining the roles that handle it.
    Registering the same class again (or a module reloaded) replaces it."""
    name = getattr(cls, "__name__", repr(cls))
    fields = getattr(cls, "_fields", None)
    if not (isinstance(cls, type) and issubclass(cls, tuple) and fields and fields[0] == "src"):
        raise ValueError(f"{name}: a message must be a NamedTuple whose first field is 'src'")
    known = MESSAGE_TYPES.get(name)
    if known is not None and (known.__module__, known.__qualname__) != (cls.__module__,
                                                                        cls.__qualname__):
        raise ValueError(f"message type {name!r} is already registered by {known.__module__}")
    missing = [f for f in fields if f not in _DECODERS and f not in decoders]
    if missing:
        raise ValueError(f"{name}: no decoder for field(s) {missing}")
    for f, decoder in decoders.items():
        if f not in fields:
            raise ValueError(f"{name}: decoder for unknown field {f!r}")
        old = _DECODERS.get(f, decoder)
        if (old.__module__, old.__qualname__) != (decoder.__module__, decoder.__qualname__):
            raise ValueError(f"{name}: field {f!r} already has another decoder")
        _DECODERS[f] = decoder
    MESSAGE_TYPES[name] = cls
    return cls


def decode(obj: dict):
    """The inverse of ``encode``; raises ValueError naming what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("a message must be a JSON object")
    cls = MESSAGE_TYPES.get(obj.get("type"))
    if cls is None:
        raise ValueError(f"unknown message type {obj.get('type')!r}")
    extra = set(obj) - {"type", *cls._fields}
    if extra:
        raise ValueError(f"{cls.__name__}: unexpected field(s) {sorted(extra)}")
    args = []
    for name in cls._fields:
        if name not in obj:
            if name in cls._field_defaults:
                args.append(cls._field_defaults[name])
                continue
            raise ValueError(f"{cls.__name__}: missing field {name!r}")
        try:
            args.append(_DECODERS[name](obj[name]))
        except (TypeError, ValueError) as e:
            raise ValueError(f"{cls.__name__}.{name}: {e}") from None
    return cls(*args)
