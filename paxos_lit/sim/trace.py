"""The trace: what happened in a run, in order, as plain records.

During a run the simulator appends tuples ``(time, kind, a, b, payload,
extra)`` (cheap); afterwards ``records()`` turns them into dicts (JSON-ready,
pandas-free) and ``sha256()`` gives a stable fingerprint: the same
``(config, seed, plan)`` gives the same hash in any process on any machine.

Kinds and their fields:

=============  ==========  ==========  ================  ====================
kind           a           b           payload           extra
=============  ==========  ==========  ================  ====================
send           src         dst         message           delivery time
dup            src         dst         message           delivery time
drop           src         dst         message           "loss"/"partition"
lost           src         dst         message           "down" (dst not up)
spawn          parent      child       role name         None
exit           process     None        None              None
crash          process     None        None              None
recover        process     None        None              None
fault          None        None        action (dict)     None
state          process     None        observed tuple    None
violation      None        None        violation (dict)  event index
=============  ==========  ==========  ================  ====================
"""

from __future__ import annotations

import hashlib

from ..messages import Adopted, P1b, encode, to_plain

KINDS = ("send", "dup", "drop", "lost", "spawn", "exit", "crash", "recover",
         "fault", "state", "violation")
_MESSAGE_KINDS = frozenset(("send", "dup", "drop", "lost"))
_HAS_SETS = (P1b, Adopted)


def _canon(value) -> str:
    # repr is stable for tuples of str/int/float/bool/None; frozensets are
    # not (their order follows per-process string hashing), so sort them.
    if type(value) in _HAS_SETS:
        return repr(to_plain(value))
    return repr(value)


def record_to_dict(i: int, rec: tuple) -> dict:
    t, kind, a, b, payload, extra = rec
    out = {"i": i, "t": t, "kind": kind}
    if a is not None:
        out["src" if kind in _MESSAGE_KINDS else "process"] = a
    if b is not None:
        out["dst" if kind in _MESSAGE_KINDS else "child"] = b
    if kind in _MESSAGE_KINDS:
        out["msg"] = encode(payload)
        if kind in ("send", "dup"):
            out["deliver_at"] = extra
        else:
            out["reason"] = extra
    elif kind == "spawn":
        out["role"] = payload
    elif kind == "fault":
        out["action"] = payload
    elif kind == "state":
        out["state"] = to_plain(payload)
    elif kind == "violation":
        out["violation"] = payload
        out["event"] = extra
    return out


class Trace(list):
    """A list of raw records with conversions."""

    def records(self, start: int = 0, stop: int | None = None) -> list[dict]:
        stop = len(self) if stop is None else stop
        return [record_to_dict(i, self[i]) for i in range(start, stop)]

    def sha256(self) -> str:
        h = hashlib.sha256()
        for t, kind, a, b, payload, extra in self:
            h.update(f"{t!r}|{kind}|{a}|{b}|{_canon(payload)}|{extra!r}\n".encode())
        return h.hexdigest()

    def messages(self) -> list[dict]:
        """Only the message records (send, dup, drop, lost)."""
        return [record_to_dict(i, r) for i, r in enumerate(self) if r[1] in _MESSAGE_KINDS]
