"""The replicated application: a small key-value store.

PMMC replicates any deterministic state machine; this is ours.  ``apply``
takes an operation tuple and returns a result, and nothing else may change
the store, so every replica that applies the same commands in the same order
holds the same data (invariant R3).

Operations and results:

- ``("get", k)`` -> the value, or None for a missing key;
- ``("put", k, v)`` -> None;
- ``("append", k, v)`` -> None (a missing key counts as "");
- ``("cas", k, expected, v)`` -> True and set v if the value equals
  ``expected`` (None matches a missing key), else False.
"""

from __future__ import annotations

OPERATIONS = ("get", "put", "append", "cas")


class KVStore:
    def __init__(self):
        # data: key -> value (strings).
        self.data: dict[str, str] = {}

    def apply(self, op: tuple):
        kind = op[0]
        if kind == "get":
            return self.data.get(op[1])
        if kind == "put":
            self.data[op[1]] = op[2]
            return None
        if kind == "append":
            self.data[op[1]] = self.data.get(op[1], "") + op[2]
            return None
        if kind == "cas":
            if self.data.get(op[1]) == op[2]:
                self.data[op[1]] = op[3]
                return True
            return False
        raise ValueError(f"unknown operation {kind!r}")

    def __eq__(self, other):
        return isinstance(other, KVStore) and self.data == other.data

    def __repr__(self):
        return f"KVStore({self.data!r})"


def op_to_json(op: tuple) -> dict:
    """An operation tuple in the history format (DESIGN section 6)."""
    kind = op[0]
    if kind == "get":
        return {"kind": "get", "key": op[1]}
    if kind in ("put", "append"):
        return {"kind": kind, "key": op[1], "value": op[2]}
    if kind == "cas":
        return {"kind": "cas", "key": op[1], "expected": op[2], "value": op[3]}
    raise ValueError(f"operation {kind!r} has no history form")


def result_to_json(op: tuple, result) -> dict:
    """A result in the history format: get {"value"}, cas {"ok"}, else {}."""
    kind = op[0]
    if kind == "get":
        return {"value": result}
    if kind == "cas":
        return {"ok": bool(result)}
    return {}
