"""The wire format: length-prefixed, versioned JSON frames, optionally signed.

A frame on a TCP stream is::

    4 bytes   N, the length of the rest, big-endian unsigned
    N bytes   [32-byte HMAC-SHA256 tag, when the cluster has a key] + JSON

The JSON is one object with a version field ``"v": 1`` and a ``"kind"``:

``hello``   ``{"v", "kind", "from", "inc", "role", "to"}``: the first frame on
            every connection; ``from`` is the sender (a node id, or a client's
            id), ``inc`` a token that changes every time the sender restarts,
            ``role`` one of ``node``, ``client``, ``probe``, and ``to`` the node
            the sender believes it reached (or null).
``msg``     ``{"v", "kind", "to", "seq", "msg"}``: one protocol message
            (``paxos_lit.messages.encode`` form) for process ``to``.
            ``seq`` > 0 numbers the frames of a retransmitting link (the
            receiver acknowledges and drops duplicates); 0 means unnumbered.
``ack``     ``{"v", "kind", "seq"}``: every numbered frame up to ``seq`` arrived.
``status``  ``{"v", "kind"}``: ask a node how it is;
``status_reply`` ``{"v", "kind", "status"}``: its answer (a JSON object).

Everything is checked on receipt, before any role sees it: the length
against a maximum, the tag (with a constant-time compare), the JSON, the
version, the exact set of fields of each kind and their types, the message
type, and then, for a message that will be delivered, the message against
the message schema (``decode_message``: ``messages.decode`` plus the deeper
checks below: operations, results, ids, numbers).  A numbered frame already
delivered, or one for a scout or commander that has finished, is dropped
without decoding its message: nobody reads it.  A frame that fails raises
:class:`FrameError`, whose ``reason`` is one word from ``REASONS``; the node
logs it and closes the connection.  Nothing is ever unpickled.

Two message kinds never cross the network: ``Adopted`` and ``Preempted`` go
from a scout or commander to its own leader, inside one node.  A frame
carrying one is refused, so nobody can forge an adoption.
"""

from __future__ import annotations

import hmac
import json
import re
import struct

from .. import messages as M
from ..types import Ballot, Command, Config, PValue

VERSION = 1
HEADER = struct.Struct(">I")
MAC_LEN = 32
#: Default upper bound of N (the frame's length after the header).  P1b
#: frames carry every accepted pvalue, so this must leave room for them.
DEFAULT_MAX_FRAME = 32 * 1024 * 1024

#: Why a frame was refused (``FrameError.reason``).
REASONS = (
    "truncated",       # the connection ended in the middle of a frame
    "oversized",       # the announced length exceeds the maximum
    "unsigned",        # shorter than the tag the cluster's key requires
    "bad-signature",   # the tag does not match the body
    "malformed-json",  # not UTF-8 JSON (or NaN/Infinity, or nested too deep)
    "bad-version",     # "v" missing or not VERSION
    "bad-frame",       # unknown kind, missing/extra field, wrong field type
    "bad-message",     # the protocol message fails the schema
    "forbidden",       # a message kind that never crosses the network
    "protocol",        # valid frame in the wrong place (e.g. no hello first)
)

KINDS = ("hello", "msg", "ack", "status", "status_reply")
ROLES = ("node", "client", "probe")
_FIELDS = {
    "hello": frozenset({"v", "kind", "from", "inc", "role", "to"}),
    "msg": frozenset({"v", "kind", "to", "seq", "msg"}),
    "ack": frozenset({"v", "kind", "seq"}),
    "status": frozenset({"v", "kind"}),
    "status_reply": frozenset({"v", "kind", "status"}),
}
#: Process ids: config ids, clients' ids, and children ``l1.c7@9f3a``.
ID_RE = re.compile(r"[A-Za-z0-9_.@-]{1,128}\Z")
MAX_STRING = 1 << 20     # longest key, value or id inside a message
WIRE_MESSAGES = frozenset(M.MESSAGE_TYPES) - {"Adopted", "Preempted"}


class FrameError(ValueError):
    """A frame was refused; ``reason`` is one of ``REASONS``."""

    def __init__(self, reason: str, detail: str):
        assert reason in REASONS, reason
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


# -- writing -------------------------------------------------------------------
def sign(payload: bytes, key: bytes | None) -> bytes:
    """The frame body for ``payload``: the tag first when there is a key."""
    if key is None:
        return payload
    return hmac.digest(key, payload, "sha256") + payload


def pack(payload: bytes, key: bytes | None = None) -> bytes:
    """A whole frame (header + body) around JSON bytes."""
    body = sign(payload, key)
    return HEADER.pack(len(body)) + body


def frame(obj: dict, key: bytes | None = None) -> bytes:
    """A whole frame for a JSON object."""
    return pack(json.dumps(obj, separators=(",", ":")).encode(), key)


def msg_payload(to: str, seq: int, msg_json: str) -> bytes:
    """The JSON of a ``msg`` frame, built around an already encoded message
    (a message sent to three acceptors is encoded once)."""
    return b'{"v":1,"kind":"msg","to":%s,"seq":%d,"msg":%s}' % (
        json.dumps(to).encode(), seq, msg_json.encode())


def hello(sender: str, inc: str, role: str, to: str | None) -> dict:
    return {"v": VERSION, "kind": "hello", "from": sender, "inc": inc, "role": role, "to": to}


# -- reading ---------------------------------------------------------------------
def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def parse_body(body: bytes, key: bytes | None) -> dict:
    """Check the tag and the JSON of one frame body; return the object."""
    if key is not None:
        if len(body) < MAC_LEN:
            raise FrameError("unsigned", f"{len(body)}-byte body is shorter than a "
                             f"{MAC_LEN}-byte signature")
        tag, payload = body[:MAC_LEN], body[MAC_LEN:]
        if not hmac.compare_digest(tag, hmac.digest(key, payload, "sha256")):
            raise FrameError("bad-signature", "HMAC-SHA256 tag does not match the body")
    else:
        payload = body
    try:
        obj = json.loads(payload.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise FrameError("malformed-json", f"{type(e).__name__}: {str(e)[:120]}") from None
    return obj


def check_frame(obj) -> tuple:
    """Validate a frame object; return ``(kind, ...)`` with decoded fields:

    ``("hello", from, inc, role, to)``, ``("msg", to, seq, raw message)``,
    ``("ack", seq)``, ``("status",)``, ``("status_reply", dict)``."""
    if not isinstance(obj, dict):
        raise FrameError("bad-frame", f"a frame must be a JSON object, not {type(obj).__name__}")
    v = obj.get("v")
    if v != VERSION or isinstance(v, bool):
        raise FrameError("bad-version", f"version {v!r} (this node speaks {VERSION})")
    kind = obj.get("kind")
    fields = _FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        raise FrameError("bad-frame", f"unknown kind {kind!r}")
    if obj.keys() != fields:
        missing = sorted(fields - obj.keys())
        extra = sorted(obj.keys() - fields)
        raise FrameError("bad-frame", f"{kind}: missing {missing}, unexpected {extra}")
    if kind == "msg":
        to = _id(obj["to"], "msg.to")
        seq = _count(obj["seq"], "msg.seq")
        raw = obj["msg"]
        if not isinstance(raw, dict):
            raise FrameError("bad-message", "msg must be a JSON object")
        name = raw.get("type")
        if name not in WIRE_MESSAGES:
            if name in M.MESSAGE_TYPES:
                raise FrameError("forbidden", f"{name} never crosses the network")
            raise FrameError("bad-message", f"unknown message type {str(name)[:40]!r}")
        return ("msg", to, seq, raw)
    if kind == "ack":
        return ("ack", _count(obj["seq"], "ack.seq"))
    if kind == "hello":
        role = obj["role"]
        if role not in ROLES:
            raise FrameError("bad-frame", f"hello.role must be one of {ROLES}, not {role!r}")
        to = obj["to"]
        if to is not None:
            to = _id(to, "hello.to")
        inc = obj["inc"]
        if not isinstance(inc, str) or not 0 < len(inc) <= 64:
            raise FrameError("bad-frame", f"hello.inc must be a short string, not {inc!r}")
        return ("hello", _id(obj["from"], "hello.from"), inc, role, to)
    if kind == "status":
        return ("status",)
    status = obj["status"]
    if not isinstance(status, dict):
        raise FrameError("bad-frame", "status_reply.status must be an object")
    return ("status_reply", status)


def _id(v, where):
    if not isinstance(v, str) or not ID_RE.match(v):
        raise FrameError("bad-frame", f"{where} must be a process id "
                         f"([A-Za-z0-9_.@-], 1-128 chars), not {str(v)[:40]!r}")
    return v


def _count(v, where):
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise FrameError("bad-frame", f"{where} must be an integer >= 0, not {v!r}")
    return v


# -- the message schema, beyond messages.decode ----------------------------------
def decode_message(raw: dict):
    """A ``msg`` frame's message: ``messages.decode`` (which checks fields and
    their basic types) plus ``check_message``; raises ``bad-message``.

    The host calls it only for a frame whose recipient exists: a late reply
    to a scout or commander that has finished is dropped without decoding
    (it is still checked as a frame: tag, JSON, version, fields, type)."""
    try:
        message = M.decode(raw)
        check_message(message)
    except (ValueError, TypeError, KeyError) as e:
        raise FrameError("bad-message", str(e)[:200]) from None
    return message


def encode_message(msg) -> str:
    """A message as compact JSON: the form of ``messages.encode`` (named
    tuples as arrays), except that sets are not sorted.  A canonical order is
    for traces and hashes; the wire does not need one, and sorting a p1b
    that carries thousands of pvalues costs more than sending it."""
    out = {"type": type(msg).__name__}
    for name, value in zip(msg._fields, msg):
        out[name] = list(value) if isinstance(value, frozenset) else value
    return json.dumps(out, separators=(",", ":"))



def _int(v, what, low):
    if not isinstance(v, int) or isinstance(v, bool) or v < low:
        raise ValueError(f"{what} must be an integer >= {low}, not {v!r}")


def _text(v, what):
    if not isinstance(v, str) or len(v) > MAX_STRING:
        raise ValueError(f"{what} must be a string (at most {MAX_STRING} chars)")


def _pid(v, what):
    if not isinstance(v, str) or not ID_RE.match(v):
        raise ValueError(f"{what} must be a process id, not {str(v)[:40]!r}")


def check_ballot(b: Ballot) -> None:
    if b == (-1, ""):
        return
    _int(b.round, "ballot round", 0)
    _pid(b.leader, "ballot leader")


def check_op(op: tuple) -> None:
    """An operation the key-value store (or the protocol) knows, with string
    arguments of the right number: nothing unhashable, nothing unknown."""
    kind = op[0]
    if kind == "noop":
        if len(op) != 1:
            raise ValueError("noop takes no argument")
        return
    if kind == "reconfig":
        cfg = op[1]
        if not isinstance(cfg, Config):
            raise ValueError("bad reconfiguration")
        for group in cfg:
            for pid in group:
                _pid(pid, "reconfiguration member")
        return
    arity = {"get": 2, "put": 3, "append": 3, "cas": 4}.get(kind)
    if arity is None:
        raise ValueError(f"unknown operation {kind!r}")
    if len(op) != arity:
        raise ValueError(f"{kind} takes {arity - 1} argument(s), got {len(op) - 1}")
    for i, arg in enumerate(op[1:], 1):
        if kind == "cas" and i == 2 and arg is None:
            continue  # cas on a missing key
        _text(arg, f"{kind} argument {i}")


def check_command(c: Command) -> None:
    if c.client != "":  # NOOP's client is ""
        _pid(c.client, "command client")
    _int(c.req_id, "command req_id", 0)
    check_op(c.op)


def check_pvalue(p: PValue) -> None:
    check_ballot(p.ballot)
    _int(p.slot, "slot", 1)
    check_command(p.command)


def check_message(msg) -> None:
    """Deep checks of a decoded message: every id, number, operation and
    result has the shape the roles rely on (so a role never meets, say, a
    dict inside a command it puts in a set)."""
    _pid(msg.src, "src")
    for name, value in zip(msg._fields, msg):
        if name == "command":
            check_command(value)
        elif name == "ballot":
            check_ballot(value)
        elif name == "slot":
            _int(value, "slot", 1)
        elif name == "pvalue":
            check_pvalue(value)
        elif name in ("accepted", "pvalues"):
            # A p1b repeats each command under several ballots: check each
            # distinct ballot and command once.
            ballots, commands = set(), set()
            for p in value:
                if p.ballot not in ballots:
                    check_ballot(p.ballot)
                    ballots.add(p.ballot)
                _int(p.slot, "slot", 1)
                if p.command not in commands:
                    check_command(p.command)
                    commands.add(p.command)
        elif name == "result":
            if value is not None and not isinstance(value, (str, bool)):
                raise ValueError(f"result must be a string, a boolean or null, not {value!r}")
            if isinstance(value, str):
                _text(value, "result")


class FrameDecoder:
    """Splits a byte stream into checked frames.

    ``feed(data)`` yields each complete frame's ``check_frame`` tuple in
    order and raises :class:`FrameError` at the first bad one (the caller then
    closes the connection; the decoder must not be fed again).  ``eof()``
    raises ``truncated`` if the stream ended inside a frame."""

    def __init__(self, key: bytes | None = None, max_frame: int = DEFAULT_MAX_FRAME):
        self.key = key
        self.max_frame = max_frame
        self.buf = bytearray()
        self.need = None  # length of the frame being read, once its header is in

    def feed(self, data: bytes):
        buf = self.buf
        buf += data
        pos = 0
        try:
            while True:
                if self.need is None:
                    if len(buf) - pos < 4:
                        break
                    (n,) = HEADER.unpack_from(buf, pos)
                    if n > self.max_frame:
                        raise FrameError("oversized", f"frame of {n} bytes exceeds the "
                                         f"{self.max_frame}-byte maximum")
                    pos += 4
                    self.need = n
                n = self.need
                if len(buf) - pos < n:
                    break
                body = bytes(buf[pos:pos + n])
                pos += n
                self.need = None
                yield check_frame(parse_body(body, self.key))
        finally:
            del buf[:pos]

    def eof(self) -> None:
        if self.buf or self.need is not None:
            need = f"{self.need}-byte frame" if self.need is not None else "4-byte header"
            raise FrameError("truncated", f"connection ended with {len(self.buf)} byte(s) "
                             f"of a {need}")


def decode_frames(data: bytes, key: bytes | None = None,
                  max_frame: int = DEFAULT_MAX_FRAME) -> list:
    """Every frame in ``data`` (which must end on a frame boundary), with
    each ``msg`` frame's message decoded: what a node would accept."""
    d = FrameDecoder(key, max_frame)
    out = []
    for fr in d.feed(data):
        if fr[0] == "msg":
            fr = fr[:3] + (decode_message(fr[3]),)
        out.append(fr)
    d.eof()
    return out
