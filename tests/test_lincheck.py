"""The linearizability checker for the kv model (paxos_lit.check.linearizability).

A history is linearizable if some total order of its operations respects
real time (an op that returned before another was called comes first) and
replays on a single sequential key-value store with the same results
(Herlihy and Wing 1990). Pending ops (``"return": null``) may take effect at
any time after their call, or never.
"""

from __future__ import annotations

import json

import pytest
from conftest import shared_dir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paxos_lit.check.linearizability import (
    LinResult,
    brute_force,
    check,
    partition_by_key,
)
from paxos_lit.history import History, Operation, load_history

DATA = shared_dir() / "data" / "lincheck"
MISSING = "<shared data missing>"


def expected_verdicts() -> dict[str, bool]:
    try:
        return json.loads((DATA / "expected.json").read_text())
    except FileNotFoundError:
        return {MISSING: False}


EXPECTED = expected_verdicts()


# --------------------------------------------------------------------------
# Building small histories by hand


class Builder:
    """h = Builder(); h.put("c1", 0, 1, "x", "1"); ...; h.history()"""

    def __init__(self):
        self.ops: list[Operation] = []

    def _add(self, client, call, ret, op, result):
        op_id = len(self.ops)
        self.ops.append(Operation(op_id, client, call, ret, op, None if ret is None else result))
        return op_id

    def get(self, c, call, ret, key, value):
        return self._add(c, call, ret, {"kind": "get", "key": key}, {"value": value})

    def put(self, c, call, ret, key, value):
        return self._add(c, call, ret, {"kind": "put", "key": key, "value": value}, {})

    def append(self, c, call, ret, key, value):
        return self._add(c, call, ret, {"kind": "append", "key": key, "value": value}, {})

    def cas(self, c, call, ret, key, expected, value, ok):
        op = {"kind": "cas", "key": key, "expected": expected, "value": value}
        return self._add(c, call, ret, op, {"ok": ok})

    def history(self) -> History:
        return History("kv", tuple(self.ops))


def verdict(b: Builder) -> bool:
    """The checker's verdict, asserted equal to the brute-force one."""
    h = b.history()
    result = check(h)
    assert not result.timed_out
    if len(h.ops) <= 7:
        assert result.linearizable == brute_force(h), "checker and definition disagree"
    return result.linearizable


# --------------------------------------------------------------------------
# The 108 shared histories


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shared_history_verdict(name):
    """Each shared history (Jepsen etcd logs and Porcupine kv logs) gets its
    known verdict from expected.json; a failure report points into the
    failing key's operations."""
    if name == MISSING:
        pytest.fail(f"shared data not found at {DATA}; set PAXOS_LIT_SHARED")
    history = load_history(DATA / f"{name}.json")
    result = check(history, timeout_s=60)
    assert not result.timed_out
    assert result.linearizable is EXPECTED[name]
    if result.linearizable:
        assert result.failing_key is None and result.failing_ops == ()
    else:
        part = partition_by_key(history)[result.failing_key]
        assert sorted(result.failing_ops) == sorted(op.id for op in part)
        assert set(result.longest_prefix) <= set(result.failing_ops)
        assert len(result.longest_prefix) < len(result.failing_ops)
        assert_legal_prefix(history, result.longest_prefix)


def test_shared_data_is_complete():
    """All 108 histories named in expected.json are present."""
    assert len(EXPECTED) == 108, f"expected 108 verdicts in {DATA}"
    assert all((DATA / f"{name}.json").is_file() for name in EXPECTED)


def test_partitions_are_keys():
    """The kv_c50 histories touch 10 keys, so are checked as 10 parts."""
    result = check(load_history(DATA / "kv_c50-ok.json"))
    assert result.linearizable and result.partitions == 10


def test_zero_timeout_gives_unknown():
    """When time runs out before any key is decided, the verdict is unknown:
    timed_out is set, linearizable is False and no key is blamed."""
    result = check(load_history(DATA / "kv_c50-ok.json"), timeout_s=0)
    assert result.timed_out and not result.linearizable
    assert result.failing_key is None and result.failing_ops == ()


# --------------------------------------------------------------------------
# The rules, one by one


def test_empty_history_is_linearizable():
    """No operations: trivially linearizable, with no parts."""
    result = check(History("kv", ()))
    assert result == LinResult(True, 0, wall_s=result.wall_s)


def test_read_after_write():
    """A read that starts after a write returned sees that write."""
    b = Builder()
    b.put("c1", 0, 1, "x", "1")
    b.get("c2", 2, 3, "x", "1")
    assert verdict(b)


def test_stale_read_is_caught():
    """A read that starts after a write returned must not see the old value;
    the report blames that key and gives the prefix that could be placed."""
    b = Builder()
    w = b.put("c1", 0, 1, "x", "1")
    r = b.get("c2", 2, 3, "x", None)
    assert not verdict(b)
    result = check(b.history())
    assert result.failing_key == "x"
    assert result.failing_ops == (w, r)
    assert result.longest_prefix == (w,)


def test_concurrent_read_sees_old_or_new():
    """A read concurrent with a write may see either value."""
    for seen in (None, "1"):
        b = Builder()
        b.put("c1", 0, 4, "x", "1")
        b.get("c2", 1, 2, "x", seen)
        assert verdict(b)


def test_missing_key_reads_null_or_empty():
    """A missing key reads as null; an empty string is accepted too."""
    for seen in (None, ""):
        b = Builder()
        b.get("c1", 0, 1, "x", seen)
        assert verdict(b)
    b = Builder()
    b.get("c1", 0, 1, "x", "0")
    assert not verdict(b)


def test_empty_string_matches_null():
    """null and "" are the same value for reads: a key put to "" may read
    null (DESIGN.md: the empty string counts as matching null)."""
    b = Builder()
    b.put("c1", 0, 1, "x", "")
    b.get("c1", 2, 3, "x", None)
    assert verdict(b)


def test_append_builds_in_order():
    """append adds to the end, starting from "" for a missing key; the
    reads must agree with one order of the appends."""
    b = Builder()
    b.append("c1", 0, 1, "x", "a")
    b.append("c2", 2, 3, "x", "b")
    b.get("c3", 4, 5, "x", "ab")
    assert verdict(b)
    b = Builder()
    b.append("c1", 0, 1, "x", "a")
    b.append("c2", 2, 3, "x", "b")
    b.get("c3", 4, 5, "x", "ba")
    assert not verdict(b)


def test_concurrent_appends_either_order_but_one_order():
    """Two concurrent appends may land in either order, but all readers
    must agree on the same order."""
    b = Builder()
    b.append("c1", 0, 3, "x", "a")
    b.append("c2", 0, 3, "x", "b")
    b.get("c3", 4, 5, "x", "ba")
    assert verdict(b)
    b.get("c4", 4, 5, "x", "ab")
    assert not verdict(b)


def test_cas_semantics():
    """cas succeeds exactly when the current value equals `expected`, and
    then writes `value`; a failed cas changes nothing."""
    b = Builder()
    b.put("c1", 0, 1, "x", "1")
    b.cas("c1", 2, 3, "x", "1", "2", True)
    b.cas("c1", 4, 5, "x", "1", "3", False)
    b.get("c1", 6, 7, "x", "2")
    assert verdict(b)
    b = Builder()
    b.put("c1", 0, 1, "x", "1")
    b.cas("c1", 2, 3, "x", "0", "2", True)
    assert not verdict(b)
    b = Builder()
    b.put("c1", 0, 1, "x", "1")
    b.cas("c1", 2, 3, "x", "1", "2", False)
    assert not verdict(b)


def test_cas_expecting_null_matches_missing_key():
    """cas with expected null (or "") succeeds on a missing key."""
    for expected in (None, ""):
        b = Builder()
        b.cas("c1", 0, 1, "x", expected, "1", True)
        b.get("c1", 2, 3, "x", "1")
        assert verdict(b)


def test_pending_write_may_take_effect_or_not():
    """A write with no response may have taken effect (a later read sees it)
    or not (a later read does not)."""
    for seen in ("1", None):
        b = Builder()
        b.put("c1", 0, None, "x", "1")
        b.get("c2", 2, 3, "x", seen)
        assert verdict(b)


def test_pending_write_cannot_act_before_its_call():
    """A pending op takes effect after its call, never before."""
    b = Builder()
    b.get("c2", 0, 1, "x", "1")
    b.put("c1", 2, None, "x", "1")
    assert not verdict(b)


def test_pending_write_acts_at_most_once():
    """A pending append takes effect once at most: "aa" needs two appends."""
    b = Builder()
    b.append("c1", 0, None, "x", "a")
    b.get("c2", 1, 2, "x", "a")
    b.get("c2", 3, 4, "x", "aa")
    assert not verdict(b)


def test_identical_pending_writes_can_all_act():
    """Two identical pending puts are two chances: x can read 1, then 2,
    then 1 again (the checker prefers the earlier of two identical pending
    ops; this is the case where both are needed)."""
    b = Builder()
    b.put("c1", 0, None, "x", "1")
    b.put("c2", 0, None, "x", "1")
    b.get("c3", 1, 2, "x", "1")
    b.put("c3", 3, 4, "x", "2")
    b.get("c3", 5, 6, "x", "2")
    b.get("c3", 7, 8, "x", "1")
    assert verdict(b)
    b.get("c3", 9, 10, "x", "2")
    b.get("c3", 11, 12, "x", "1")
    assert not verdict(b)  # a third "1" after a "2" needs a third put


def test_pending_cas_may_act():
    """A pending cas whose expected value matches may have swapped."""
    b = Builder()
    b.put("c1", 0, 1, "x", "1")
    b.cas("c2", 2, None, "x", "1", "2", None)
    b.get("c3", 3, 4, "x", "2")
    assert verdict(b)


def test_equal_times_are_concurrent():
    """An op that returned at t and one called at t overlap (the permissive
    reading of equal timestamps), so either may come first."""
    b = Builder()
    b.put("c1", 0, 5, "x", "1")
    b.get("c2", 5, 6, "x", None)
    assert verdict(b)
    b = Builder()
    b.put("c1", 0, 5, "x", "1")
    b.get("c2", 5.5, 6, "x", None)
    assert not verdict(b)


def test_keys_are_independent():
    """Locality: each key is checked on its own; a history is linearizable
    when every key's sub-history is (Herlihy and Wing)."""
    b = Builder()
    b.put("c1", 0, 1, "x", "1")
    b.put("c1", 2, 3, "y", "2")
    b.get("c2", 4, 5, "x", "1")
    b.get("c2", 6, 7, "y", "2")
    result = check(b.history())
    assert result.linearizable and result.partitions == 2


def test_smallest_failing_key_is_reported():
    """When several keys fail, the report names the smallest failing part."""
    b = Builder()
    for i in range(4):
        b.put("c1", 10 * i, 10 * i + 1, "big", str(i))
    b.get("c2", 50, 51, "big", "0")  # stale: "3" was written last
    b.put("c1", 0, 1, "small", "1")
    b.get("c2", 2, 3, "small", "0")
    b.get("c3", 0, 1, "fine", None)
    result = check(b.history())
    assert not result.linearizable and result.partitions == 3
    assert result.failing_key == "small"
    assert result.failing_ops == (5, 6)


def test_result_as_dict_is_json():
    """LinResult.as_dict() is plain JSON for `paxos-lit lincheck --json`."""
    b = Builder()
    b.put("c1", 0, 1, "x", "1")
    b.get("c2", 2, 3, "x", None)
    d = check(b.history()).as_dict()
    assert json.loads(json.dumps(d)) == d
    assert set(d) == {
        "linearizable", "partitions", "failing_key", "failing_ops",
        "longest_prefix", "timed_out", "wall_s",
    }


def test_other_models_are_refused():
    """Only the kv model has a sequential specification here."""
    with pytest.raises(ValueError):
        check(History("queue", ()))
    with pytest.raises(ValueError):
        brute_force(History("queue", ()))


def test_brute_force_is_for_small_histories():
    """brute_force tries n! orders, so it refuses long histories."""
    b = Builder()
    for i in range(9):
        b.get("c", i, i, "x", None)
    with pytest.raises(ValueError):
        brute_force(b.history())


# --------------------------------------------------------------------------
# Properties: against a sequential model and against the definition

KEYS = ("x", "y")
VALUES = ("", "a", "b")


def apply(store: dict, op: dict) -> dict:
    """The sequential kv store (written separately from both checkers)."""
    key, kind = op["key"], op["kind"]
    current = store.get(key)
    if kind == "get":
        return {"value": current}
    if kind == "put":
        store[key] = op["value"]
        return {}
    if kind == "append":
        store[key] = (current or "") + op["value"]
        return {}
    hit = current == op["expected"] or (not current and not op["expected"])
    if hit:
        store[key] = op["value"]
    return {"ok": hit}


def assert_legal_prefix(history: History, ids) -> None:
    """The reported prefix is itself a legal start of a linearization:
    it respects real time and replays with the recorded results."""
    by_id = {op.id: op for op in history.ops}
    order = [by_id[i] for i in ids]
    store: dict = {}
    for j, op in enumerate(order):
        for earlier in order[:j]:
            assert op.ret is None or not op.ret < earlier.call
        got = apply(store, dict(op.op))
        if op.result is not None:
            if op.kind == "get":
                assert (got["value"] or "") == (op.result["value"] or "")
            else:
                assert got == dict(op.result)


@st.composite
def ops_and_times(draw, max_ops, keys=KEYS):
    """Random ops with random intervals; some pending."""
    n = draw(st.integers(0, max_ops))
    drawn = []
    for _ in range(n):
        kind = draw(st.sampled_from(("get", "put", "append", "cas")))
        op = {"kind": kind, "key": draw(st.sampled_from(keys))}
        if kind == "cas":
            op["expected"] = draw(st.sampled_from((None,) + VALUES))
        if kind != "get":
            op["value"] = draw(st.sampled_from(VALUES))
        call = draw(st.integers(0, 12))
        point = call + draw(st.integers(0, 4))  # when it takes effect
        pending = draw(st.integers(0, 5)) == 0
        ret = None if pending else point + draw(st.integers(0, 4))
        drawn.append((op, call, point, ret))
    return drawn


@st.composite
def linearizable_histories(draw, max_ops=7, keys=KEYS):
    """Histories made by running ops on the sequential store, each at one
    instant inside its interval: linearizable by construction. A pending op
    takes effect, or not, at a random instant after its call."""
    drawn = draw(ops_and_times(max_ops, keys))
    store: dict = {}
    results: list = [None] * len(drawn)
    for i in sorted(range(len(drawn)), key=lambda i: (drawn[i][2], i)):
        op, _, _, ret = drawn[i]
        if ret is None and draw(st.booleans()):
            continue  # this pending op never took effect
        result = apply(store, op)
        if op["kind"] == "get" and result["value"] is None and draw(st.booleans()):
            result = {"value": ""}  # a missing key may read as ""
        results[i] = result
    order = draw(st.permutations(range(len(drawn))))
    ops = []
    for i in order:
        op, call, _, ret = drawn[i]
        ops.append(Operation(i, f"c{i}", call, ret, op, None if ret is None else results[i]))
    return History("kv", tuple(ops))


def mutated(history: History, data) -> History:
    """Change one result: a get's value, a cas's outcome, or swap two
    results of the same kind."""
    ops = list(history.ops)
    done = [i for i, op in enumerate(ops) if op.result is not None]
    if not done:
        return history
    i = data.draw(st.sampled_from(done))
    op = ops[i]
    how = data.draw(st.sampled_from(("change", "swap")))
    if how == "swap":
        same = [j for j in done if j != i and ops[j].kind == op.kind]
        if same:
            j = data.draw(st.sampled_from(same))
            ops[i], ops[j] = (
                Operation(op.id, op.client, op.call, op.ret, op.op, ops[j].result),
                Operation(ops[j].id, ops[j].client, ops[j].call, ops[j].ret, ops[j].op, op.result),
            )
            return History("kv", tuple(ops))
    if op.kind == "get":
        result = {"value": data.draw(st.sampled_from((None, "", "a", "b", "ab", "ba")))}
    elif op.kind == "cas":
        result = {"ok": not op.result["ok"]}
    else:
        return history
    ops[i] = Operation(op.id, op.client, op.call, op.ret, op.op, result)
    return History("kv", tuple(ops))


SMALL = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SMALL
@given(linearizable_histories())
def test_generated_histories_are_linearizable(history):
    """Histories produced by a sequential store with random concurrency are
    accepted, by the checker and by the definition."""
    assert brute_force(history)
    assert check(history).linearizable


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(linearizable_histories(max_ops=60, keys=("x", "y", "z")))
def test_larger_generated_histories_are_linearizable(history):
    """The same, with longer histories (too long for brute force)."""
    result = check(history, timeout_s=30)
    assert result.linearizable, result


@SMALL
@given(linearizable_histories(max_ops=6), st.data())
def test_mutated_histories_agree_with_brute_force(history, data):
    """After changing one result, the checker's verdict equals the one
    obtained by trying every order; a failure report's prefix is legal."""
    history = mutated(history, data)
    result = check(history)
    assert result.linearizable == brute_force(history)
    if not result.linearizable:
        assert_legal_prefix(history, result.longest_prefix)


@SMALL
@given(ops_and_times(max_ops=6, keys=("x",)), st.data())
def test_random_histories_agree_with_brute_force(drawn, data):
    """With results drawn at random (mostly not linearizable), the checker
    still agrees with the definition."""
    ops = []
    for i, (op, call, _, ret) in enumerate(drawn):
        result = None
        if ret is not None:
            if op["kind"] == "get":
                result = {"value": data.draw(st.sampled_from((None, "", "a", "b", "ab")))}
            elif op["kind"] == "cas":
                result = {"ok": data.draw(st.booleans())}
            else:
                result = {}
        ops.append(Operation(i, f"c{i}", call, ret, op, result))
    history = History("kv", tuple(ops))
    result = check(history)
    assert result.linearizable == brute_force(history)
    if not result.linearizable:
        assert_legal_prefix(history, result.longest_prefix)
