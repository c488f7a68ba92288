"""Client histories in the ``paxos-lit-history/1`` format.

A *history* is what the clients saw: for every operation, when it was
invoked (``call``), when its response came back (``return``), what was asked
(``op``) and what was answered (``result``). It is the only input the
linearizability checker needs; it says nothing about replicas, ballots or
slots, so a history recorded from the simulator, from the real-process
runtime or from someone else's system is checked the same way.

On disk a history is one JSON object (DESIGN.md section 6)::

    {"format": "paxos-lit-history/1", "model": "kv",
     "ops": [{"id": 0, "client": "c1", "call": 3.0, "return": 7.5,
              "op": {"kind": "put", "key": "x", "value": "1"},
              "result": {}}]}

The ``kv`` model has four kinds of operation:

=========  ==============================  ======================
kind       op fields (besides kind, key)    result
=========  ==============================  ======================
get        none                            {"value": str or null}
put        value: str                      {}
append     value: str                      {}
cas        expected: str or null,          {"ok": bool}
           value: str
=========  ==============================  ======================

``"return": null`` together with ``"result": null`` records an operation whose
response never arrived (the client crashed or gave up): it may or may not
have taken effect, at any moment after its call. Times are non-negative
numbers; only their order matters. Other top-level keys (such as
``"source"``) are kept, untouched, in ``History.meta``.

Reading is strict on purpose. A checker fed a history with a misspelled key
or a result of the wrong shape would quietly check something else; so every
malformed input raises :class:`HistoryError`, whose message names the file,
the operation (index in ``ops`` and its ``id``) and the field at fault.

In memory the history is immutable: :class:`Operation` and :class:`History`
are frozen dataclasses, and the ``op`` and ``result`` dictionaries become
:class:`FrozenMap` objects, read-only and hashable, which still compare equal
to the plain dicts they came from.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FORMAT",
    "MODELS",
    "KINDS",
    "FrozenMap",
    "HistoryError",
    "Operation",
    "History",
    "parse_history",
    "load_history",
    "history_to_json",
    "dump_history",
]

FORMAT = "paxos-lit-history/1"
MODELS = ("kv",)
KINDS = ("get", "put", "append", "cas")

# The keys each kind of op carries, besides "kind" and "key".
_OP_FIELDS = {
    "get": (),
    "put": ("value",),
    "append": ("value",),
    "cas": ("expected", "value"),
}
_RECORD_KEYS = ("id", "client", "call", "return", "op", "result")


class FrozenMap(Mapping):
    """A read-only, hashable dictionary.

    Used for an operation's ``op`` and ``result`` so that an :class:`Operation`
    can live in a set or serve as a dictionary key, and so that no two
    holders of a history can change it under each other's feet (DESIGN.md
    section 3, rule 5). It compares equal to a ``dict`` with the same items.
    """

    __slots__ = ("_d", "_hash")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._d = dict(*args, **kwargs)
        self._hash: int | None = None

    def __getitem__(self, key: str) -> Any:
        return self._d[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._d.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({self._d!r})"

    def to_dict(self) -> dict:
        """A plain (mutable, JSON-ready) copy."""
        return _thaw(self)


def _is_object(x: Any) -> bool:
    # A plain-dict test first: isinstance against the Mapping ABC is slow,
    # and decoded JSON objects are always plain dicts.
    return type(x) is dict or isinstance(x, Mapping)


def _freeze(value: Any) -> Any:
    """Deep-freeze JSON data: dicts become FrozenMaps, lists become tuples."""
    if type(value) is FrozenMap:
        return value
    if _is_object(value):
        return FrozenMap((k, _freeze(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    """The inverse of :func:`_freeze`: plain dicts and lists for json.dump."""
    if _is_object(value):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    return value


class HistoryError(ValueError):
    """A history that does not follow ``paxos-lit-history/1``.

    The message names where the problem is; the same facts are attributes
    (``path``, ``index``, ``op_id``, ``field``, ``reason``) so that tools can
    point at them without parsing the message.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | None = None,
        index: int | None = None,
        op_id: Any = None,
        field: str | None = None,
    ) -> None:
        self.path = path
        self.index = index
        self.op_id = op_id
        self.field = field
        self.reason = reason
        where = []
        if path is not None:
            where.append(str(path))
        if index is not None:
            where.append(f"ops[{index}]" + (f" (id {op_id!r})" if op_id is not None else ""))
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(": ".join(where + [reason]))


@dataclass(frozen=True, slots=True)
class Operation:
    """One client operation as the client saw it.

    ``ret`` is the return time (``return`` in JSON, a Python keyword), or
    ``None`` if no response was seen; then ``result`` is ``None`` too.
    ``op`` and ``result`` may be given as plain dicts; they are frozen.
    """

    id: int
    client: str
    call: float
    ret: float | None
    op: FrozenMap
    result: FrozenMap | None

    def __post_init__(self) -> None:
        # Accept plain dicts for convenience, store them frozen (hashable).
        object.__setattr__(self, "op", _freeze(self.op))
        if self.result is not None:
            object.__setattr__(self, "result", _freeze(self.result))

    @property
    def kind(self) -> str:
        """``get``, ``put``, ``append`` or ``cas``."""
        return self.op["kind"]

    @property
    def key(self) -> str:
        """The key the operation touches (every kv op touches exactly one)."""
        return self.op["key"]

    @property
    def pending(self) -> bool:
        """True if no response was seen (the op may or may not have happened)."""
        return self.ret is None


@dataclass(frozen=True, slots=True)
class History:
    """A whole history: the model it is checked against and its operations.

    ``meta`` keeps any extra top-level keys of the file (e.g. ``source``).
    """

    model: str
    ops: tuple[Operation, ...]
    meta: FrozenMap = field(default_factory=FrozenMap)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ops", tuple(self.ops))
        object.__setattr__(self, "meta", _freeze(self.meta))

    def __len__(self) -> int:
        return len(self.ops)


# --------------------------------------------------------------------------
# Reading and validating


def _is_int(x: Any) -> bool:
    # bool is a subclass of int in Python; true/false are not ids.
    return isinstance(x, int) and not isinstance(x, bool)


def _is_time(x: Any) -> bool:
    """A finite, non-negative JSON number (true/false are not numbers)."""
    if isinstance(x, bool):
        return False
    if isinstance(x, int):
        return x >= 0  # no isfinite: it overflows on huge ints
    if isinstance(x, float):
        return math.isfinite(x) and x >= 0
    return False


def _jtype(x: Any) -> str:
    """The JSON name of a value's type, for error messages."""
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "boolean"
    if isinstance(x, (int, float)):
        return "number"
    if isinstance(x, str):
        return "string"
    if isinstance(x, (list, tuple)):
        return "array"
    if isinstance(x, Mapping):
        return "object"
    return type(x).__name__


def parse_history(obj: Any, *, path: str | os.PathLike | None = None) -> History:
    """Validate a decoded JSON object and turn it into a :class:`History`.

    ``path`` only serves error messages. Raises :class:`HistoryError` on the
    first problem found.
    """
    path = None if path is None else os.fspath(path)

    def fail(reason: str, **where: Any) -> HistoryError:
        return HistoryError(reason, path=path, **where)

    if not _is_object(obj):
        raise fail(f"a history must be a JSON object, not {_jtype(obj)}")
    for key in ("format", "model", "ops"):
        if key not in obj:
            raise fail("missing", field=key)
    if obj["format"] != FORMAT:
        raise fail(f"expected {FORMAT!r}, got {obj['format']!r}", field="format")
    if obj["model"] not in MODELS:
        raise fail(
            f"unknown model {obj['model']!r} (known: {', '.join(MODELS)})",
            field="model",
        )
    raw_ops = obj["ops"]
    if not isinstance(raw_ops, (list, tuple)):
        raise fail(f"must be an array, not {_jtype(raw_ops)}", field="ops")

    ops = []
    first_index: dict[int, int] = {}  # id -> index where it first appeared
    for index, rec in enumerate(raw_ops):
        op = _parse_record(rec, index, fail)
        if op.id in first_index:
            raise fail(
                f"duplicate id {op.id} (also used by ops[{first_index[op.id]}])",
                index=index,
                op_id=op.id,
                field="id",
            )
        first_index[op.id] = index
        ops.append(op)

    meta = {k: v for k, v in obj.items() if k not in ("format", "model", "ops")}
    return History(obj["model"], tuple(ops), FrozenMap(_freeze(meta)))


def _parse_record(rec: Any, index: int, fail) -> Operation:
    """Validate ``ops[index]`` (one operation record) and build it."""
    if not _is_object(rec):
        raise fail(f"an operation must be an object, not {_jtype(rec)}", index=index)
    op_id = rec.get("id")
    shown_id = op_id if _is_int(op_id) else None

    def bad(reason: str, fieldname: str) -> HistoryError:
        return fail(reason, index=index, op_id=shown_id, field=fieldname)

    for key in _RECORD_KEYS:
        if key not in rec:
            raise bad("missing", key)
    for key in rec:
        if key not in _RECORD_KEYS:
            raise bad(f"unknown key (allowed: {', '.join(_RECORD_KEYS)})", key)

    if not _is_int(op_id) or op_id < 0:
        raise bad(f"must be a non-negative integer, got {op_id!r}", "id")
    client = rec["client"]
    if not isinstance(client, str) or not client:
        raise bad(f"must be a non-empty string, got {client!r}", "client")
    call, ret = rec["call"], rec["return"]
    if not _is_time(call):
        raise bad(f"must be a finite non-negative number, got {call!r}", "call")
    if ret is not None:
        if not _is_time(ret):
            raise bad(
                f"must be null or a finite non-negative number, got {ret!r}", "return"
            )
        if ret < call:
            raise bad(f"{ret!r} is before the call time {call!r}", "return")

    op = _parse_op(rec["op"], bad)
    result = rec["result"]
    if ret is None:
        if result is not None:
            raise bad(
                f"must be null when 'return' is null (no response was seen), "
                f"got {result!r}",
                "result",
            )
    else:
        if result is None:
            raise bad("is null but 'return' is not; a response needs a result", "result")
        _check_result(op["kind"], result, bad)
    return Operation(op_id, client, call, ret, op, result)


def _parse_op(op: Any, bad) -> FrozenMap:
    """Validate an ``op`` object against its kind's fields."""
    if not _is_object(op):
        raise bad(f"must be an object, not {_jtype(op)}", "op")
    if "kind" not in op:
        raise bad("missing", "op.kind")
    kind = op["kind"]
    if kind not in _OP_FIELDS:
        raise bad(f"unknown kind {kind!r} (known: {', '.join(KINDS)})", "op.kind")
    if "key" not in op:
        raise bad("missing", "op.key")
    if not isinstance(op["key"], str):
        raise bad(f"must be a string, got {op['key']!r}", "op.key")
    allowed = ("kind", "key") + _OP_FIELDS[kind]
    for name in _OP_FIELDS[kind]:
        if name not in op:
            raise bad(f"missing ({_a(kind)} needs {', '.join(_OP_FIELDS[kind])})", f"op.{name}")
    for name in op:
        if name not in allowed:
            raise bad(f"unknown key for {_a(kind)} (allowed: {', '.join(allowed)})", f"op.{name}")
    if "value" in op and not isinstance(op["value"], str):
        raise bad(f"must be a string, got {op['value']!r}", "op.value")
    # cas may expect null: "the key is missing" (which also reads as "").
    if "expected" in op and op["expected"] is not None and not isinstance(op["expected"], str):
        raise bad(f"must be a string or null, got {op['expected']!r}", "op.expected")
    return FrozenMap(op)


def _a(kind: str) -> str:
    """'a get', 'an append': for messages."""
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _check_result(kind: str, result: Any, bad) -> None:
    """Check that a (non-null) result has the shape its kind demands."""
    if not _is_object(result):
        raise bad(f"must be an object, not {_jtype(result)}", "result")
    if kind == "get":
        shape, want = ("value",), "{\"value\": string or null}"
    elif kind == "cas":
        shape, want = ("ok",), "{\"ok\": boolean}"
    else:
        shape, want = (), "{}"
    if tuple(sorted(result)) != shape:
        extra = sorted(set(result) - set(shape))
        if extra:
            raise bad(
                f"unexpected key {extra[0]!r}: {_a(kind)} result is {want}",
                f"result.{extra[0]}",
            )
        raise bad(f"missing: {_a(kind)} result is {want}", f"result.{shape[0]}")
    if kind == "get":
        value = result["value"]
        if value is not None and not isinstance(value, str):
            raise bad(f"must be a string or null, got {value!r}", "result.value")
    elif kind == "cas" and not isinstance(result["ok"], bool):
        raise bad(f"must be true or false, got {result['ok']!r}", "result.ok")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicate_keys(pairs: list) -> dict:
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r} in an object")
        obj[key] = value
    return obj


def load_history(path: str | os.PathLike) -> History:
    """Read and validate a history file; raise :class:`HistoryError` if bad."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise HistoryError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    try:
        # Strict JSON: NaN/Infinity and repeated keys would let two readers
        # disagree about what the file says.
        obj = json.loads(
            data,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicate_keys,
        )
    except UnicodeDecodeError as exc:
        raise HistoryError(f"not UTF-8 text: {exc.reason}", path=path) from exc
    except json.JSONDecodeError as exc:
        raise HistoryError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            path=path,
        ) from exc
    except ValueError as exc:
        raise HistoryError(f"not valid JSON: {exc}", path=path) from exc
    return parse_history(obj, path=path)


# --------------------------------------------------------------------------
# Writing


def _record_to_json(op: Operation) -> dict:
    return {
        "id": op.id,
        "client": op.client,
        "call": op.call,
        "return": op.ret,
        "op": _thaw(op.op),
        "result": None if op.result is None else _thaw(op.result),
    }


def history_to_json(history: History) -> dict:
    """The JSON object (plain dicts and lists) for a history."""
    obj: dict[str, Any] = {"format": FORMAT, "model": history.model}
    for key, value in history.meta.items():
        if key not in ("format", "model", "ops"):  # never let meta override
            obj[key] = _thaw(value)
    obj["ops"] = [_record_to_json(op) for op in history.ops]
    return obj


def dump_history(history: History, path: str | os.PathLike) -> None:
    """Write a history file, one operation per line (readable, diffable).

    The history is validated first, so an invalid file is never written.
    """
    path = os.fspath(path)
    obj = history_to_json(history)
    parse_history(obj, path=path)  # raises HistoryError; nothing is written
    ops = obj.pop("ops")
    head = json.dumps(obj, ensure_ascii=False, allow_nan=False)[:-1]  # drop "}"
    lines = [json.dumps(op, ensure_ascii=False, allow_nan=False) for op in ops]
    sep = ", " if obj else ""
    if lines:
        text = head + sep + '"ops": [\n ' + ",\n ".join(lines) + "\n]}\n"
    else:
        text = head + sep + '"ops": []}\n'
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)  # never leave a half-written history behind
