"""The ``paxos-lit-history/1`` format (DESIGN.md section 6): reading,
writing, and refusing every malformed input with a message that says where."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest
from conftest import shared_dir

from paxos_lit.history import (
    FORMAT,
    FrozenMap,
    History,
    HistoryError,
    Operation,
    dump_history,
    history_to_json,
    load_history,
    parse_history,
)

DATA = shared_dir() / "data" / "lincheck"


def good() -> dict:
    """A small valid history using every kind of op and a pending op."""
    return {
        "format": FORMAT,
        "model": "kv",
        "ops": [
            {"id": 0, "client": "c1", "call": 0, "return": 2,
             "op": {"kind": "put", "key": "x", "value": "1"}, "result": {}},
            {"id": 1, "client": "c2", "call": 1, "return": 3.5,
             "op": {"kind": "get", "key": "x"}, "result": {"value": "1"}},
            {"id": 2, "client": "c1", "call": 4, "return": 5,
             "op": {"kind": "append", "key": "x", "value": "2"}, "result": {}},
            {"id": 3, "client": "c2", "call": 6, "return": 7,
             "op": {"kind": "cas", "key": "x", "expected": "12", "value": "3"},
             "result": {"ok": True}},
            {"id": 4, "client": "c3", "call": 6, "return": None,
             "op": {"kind": "get", "key": "y"}, "result": None},
        ],
    }


# --------------------------------------------------------------------------
# Reading and writing valid histories


def test_parse_valid_history():
    """A valid object becomes a History whose Operations mirror the records,
    with `return` as `ret`."""
    h = parse_history(good())
    assert h.model == "kv"
    assert len(h) == 5
    op = h.ops[1]
    assert (op.id, op.client, op.call, op.ret) == (1, "c2", 1, 3.5)
    assert op.kind == "get" and op.key == "x"
    assert op.result == {"value": "1"}
    assert h.ops[4].pending and h.ops[4].result is None


def test_history_is_immutable_and_hashable():
    """Histories are shared between tools, so nothing in them can change
    (DESIGN.md section 3, rule 5); frozen ops are hashable."""
    h = parse_history(good())
    op = h.ops[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.call = 9  # type: ignore[misc]
    with pytest.raises(TypeError):
        op.op["value"] = "2"  # type: ignore[index]
    assert isinstance(op.op, FrozenMap)
    assert op.op == {"kind": "put", "key": "x", "value": "1"}
    assert len({op, h.ops[0], h.ops[1]}) == 2
    assert hash(h.ops) == hash(parse_history(good()).ops)


def test_operation_accepts_plain_dicts():
    """Code that records a history may pass plain dicts; they are frozen."""
    op = Operation(7, "c", 1.0, None, {"kind": "get", "key": "k"}, None)
    assert isinstance(op.op, FrozenMap) and op.pending
    h = History("kv", [op], {"source": "test"})
    assert isinstance(h.ops, tuple) and h.meta == {"source": "test"}


def test_round_trip(tmp_path):
    """dump_history then load_history gives back an equal history, extra
    top-level keys (metadata) included."""
    obj = good()
    obj["source"] = "hand-written"
    h = parse_history(obj)
    assert h.meta == {"source": "hand-written"}
    assert history_to_json(h) == obj
    path = tmp_path / "h.json"
    dump_history(h, path)
    assert load_history(path) == h
    assert json.loads(path.read_text()) == obj


def test_dump_writes_one_op_per_line(tmp_path):
    """Written histories are diffable: one operation per line."""
    path = tmp_path / "h.json"
    dump_history(parse_history(good()), path)
    lines = path.read_text().splitlines()
    assert len(lines) == 2 + len(good()["ops"])
    assert all(line.lstrip().startswith('{"id"') for line in lines[1:-1])


def test_dump_empty_history(tmp_path):
    """An empty history is valid and round-trips."""
    h = History("kv", ())
    path = tmp_path / "empty.json"
    dump_history(h, path)
    assert load_history(path) == h


def test_dump_refuses_invalid_history(tmp_path):
    """An invalid history is never written: dump validates first."""
    bad = History("kv", [Operation(0, "c", 5, 1, {"kind": "put", "key": "x", "value": "1"}, {})])
    path = tmp_path / "bad.json"
    with pytest.raises(HistoryError, match="'return'"):
        dump_history(bad, path)
    assert not path.exists()


def test_shared_histories_load_and_round_trip(tmp_path):
    """All 108 shared histories are valid and survive a dump/load round trip."""
    expected = json.loads((DATA / "expected.json").read_text())
    assert len(expected) == 108
    for name in expected:
        h = load_history(DATA / f"{name}.json")
        assert h.model == "kv" and h.ops
        out = tmp_path / f"{name}.json"
        dump_history(h, out)
        assert load_history(out) == h


# --------------------------------------------------------------------------
# Refusing malformed input


def mutate(change):
    """A copy of good() after `change(obj)`."""
    obj = copy.deepcopy(good())
    change(obj)
    return obj


def rec(i, **kv):
    """A change that sets keys of ops[i]; the value "<del>" deletes one."""
    def change(obj):
        for k, v in kv.items():
            if v == "<del>":
                del obj["ops"][i][k]
            else:
                obj["ops"][i][k] = v
    return change


def opf(i, **kv):
    """A change that sets keys of ops[i]["op"] ('<del>' deletes)."""
    def change(obj):
        for k, v in kv.items():
            if v == "<del>":
                del obj["ops"][i]["op"][k]
            else:
                obj["ops"][i]["op"][k] = v
    return change


def top(**kv):
    """A change that sets top-level keys; "<del>" deletes one."""

    def change(obj):
        for k, v in kv.items():
            if v == "<del>":
                del obj[k]
            else:
                obj[k] = v
    return change


# (case name, change, field named in the message, index, fragment of reason)
BAD = [
    ("missing format", top(format="<del>"), "format", None, "missing"),
    ("wrong format", top(format="paxos-lit-history/2"), "format", None, "expected"),
    ("unknown model", top(model="queue"), "model", None, "unknown model"),
    ("missing model", top(model="<del>"), "model", None, "missing"),
    ("missing ops", top(ops="<del>"), "ops", None, "missing"),
    ("ops not a list", top(ops={"0": {}}), "ops", None, "array"),
    ("record not an object", lambda o: o["ops"].__setitem__(2, [1, 2]), None, 2, "object"),
    ("missing id", rec(1, id="<del>"), "id", 1, "missing"),
    ("missing client", rec(1, client="<del>"), "client", 1, "missing"),
    ("missing call", rec(1, call="<del>"), "call", 1, "missing"),
    ("missing return", rec(1, **{"return": "<del>"}), "return", 1, "missing"),
    ("missing op", rec(1, op="<del>"), "op", 1, "missing"),
    ("missing result", rec(1, result="<del>"), "result", 1, "missing"),
    ("extra record key", rec(1, returns=4), "returns", 1, "unknown key"),
    ("id a string", rec(1, id="1"), "id", 1, "integer"),
    ("id a boolean", rec(1, id=True), "id", 1, "integer"),
    ("id a float", rec(1, id=1.0), "id", 1, "integer"),
    ("id negative", rec(1, id=-1), "id", 1, "non-negative"),
    ("duplicate id", rec(2, id=0), "id", 2, "duplicate id 0"),
    ("client a number", rec(1, client=2), "client", 1, "string"),
    ("client empty", rec(1, client=""), "client", 1, "non-empty"),
    ("call a string", rec(1, call="1"), "call", 1, "number"),
    ("call null", rec(1, call=None), "call", 1, "number"),
    ("call a boolean", rec(1, call=False), "call", 1, "number"),
    ("call negative", rec(1, call=-1), "call", 1, "non-negative"),
    ("return a string", rec(1, **{"return": "3"}), "return", 1, "number"),
    ("return negative", rec(0, call=0, **{"return": -2}), "return", 0, "non-negative"),
    ("return before call", rec(1, call=3, **{"return": 2}), "return", 1, "before the call"),
    ("op not an object", rec(1, op="get x"), "op", 1, "object"),
    ("op without kind", opf(1, kind="<del>"), "op.kind", 1, "missing"),
    ("unknown kind", opf(1, kind="delete"), "op.kind", 1, "unknown kind"),
    ("op without key", opf(1, key="<del>"), "op.key", 1, "missing"),
    ("key a number", opf(1, key=7), "op.key", 1, "string"),
    ("put without value", opf(0, value="<del>"), "op.value", 0, "missing"),
    ("append without value", opf(2, value="<del>"), "op.value", 2, "missing"),
    ("cas without expected", opf(3, expected="<del>"), "op.expected", 3, "missing"),
    ("cas without value", opf(3, value="<del>"), "op.value", 3, "missing"),
    ("get with a value", opf(1, value="1"), "op.value", 1, "unknown key"),
    ("put with expected", opf(0, expected="1"), "op.expected", 0, "unknown key"),
    ("value a number", opf(0, value=1), "op.value", 0, "string"),
    ("expected a number", opf(3, expected=12), "op.expected", 3, "string or null"),
    ("pending with a result", rec(4, result={"value": None}), "result", 4, "must be null"),
    ("result null but returned", rec(1, result=None), "result", 1, "'return' is not"),
    ("result not an object", rec(1, result=["1"]), "result", 1, "object"),
    ("get result without value", rec(1, result={}), "result.value", 1, "missing"),
    ("get result value a number", rec(1, result={"value": 1}), "result.value", 1, "or null"),
    ("get result with ok", rec(1, result={"value": "1", "ok": 1}), "result.ok", 1, "unexpected"),
    ("put result not empty", rec(0, result={"ok": True}), "result.ok", 0, "unexpected"),
    ("append result not empty", rec(2, result={"value": "12"}), "result.value", 2, "unexpected"),
    ("cas result without ok", rec(3, result={}), "result.ok", 3, "missing"),
    ("cas result ok a string", rec(3, result={"ok": "true"}), "result.ok", 3, "true or false"),
]


@pytest.mark.parametrize("name,change,field,index,fragment", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_naming_the_field(name, change, field, index, fragment):
    """Every malformed history raises HistoryError (a ValueError); the
    message names the op (index and id) and the field at fault."""
    obj = mutate(change)
    with pytest.raises(HistoryError) as info:
        parse_history(obj, path="h.json")
    err = info.value
    msg = str(err)
    assert isinstance(err, ValueError)
    assert msg.startswith("h.json: ")
    assert fragment in msg
    assert err.field == field
    if field is not None:
        assert f"field {field!r}" in msg
    assert err.index == index
    if index is not None:
        assert f"ops[{index}]" in msg
        op_id = obj["ops"][index].get("id") if isinstance(obj["ops"][index], dict) else None
        if isinstance(op_id, int) and not isinstance(op_id, bool) and op_id >= 0:
            assert f"(id {op_id})" in msg


def test_top_level_must_be_an_object():
    """A history is a JSON object, not an array or a string."""
    with pytest.raises(HistoryError, match="must be a JSON object"):
        parse_history([good()])


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
        ('{"format": "paxos-lit-history/1", "ops": [], "ops": []}', "duplicate key"),
        (json.dumps(good()).replace('"call": 1,', '"call": NaN,'), "NaN"),
        (json.dumps(good()).replace('"return": 2,', '"return": Infinity,'), "Infinity"),
    ],
    ids=["truncated", "empty", "duplicate key", "NaN", "Infinity"],
)
def test_invalid_json_names_the_file(tmp_path, text, fragment):
    """A file that is not strict JSON is refused, naming the file."""
    path = tmp_path / "broken.json"
    path.write_text(text)
    with pytest.raises(HistoryError) as info:
        load_history(path)
    assert str(path) in str(info.value)
    assert fragment in str(info.value)
    assert info.value.path == str(path)


def test_not_utf8_names_the_file(tmp_path):
    """Bytes that are not UTF-8 text are refused, naming the file."""
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"format": "\xff"}')
    with pytest.raises(HistoryError, match="latin1.json"):
        load_history(path)


def test_missing_file_names_the_file(tmp_path):
    """A file that cannot be read is a HistoryError naming it."""
    path = tmp_path / "nope.json"
    with pytest.raises(HistoryError, match="nope.json: cannot read"):
        load_history(path)


def test_load_error_names_file_op_and_field(tmp_path):
    """Errors found after decoding carry the file name too."""
    obj = mutate(rec(3, call=9))  # return 7 < call 9
    path = tmp_path / "late.json"
    path.write_text(json.dumps(obj))
    with pytest.raises(HistoryError) as info:
        load_history(path)
    assert str(info.value).startswith(f"{path}: ops[3] (id 3): field 'return': ")


def test_equal_call_and_return_is_allowed():
    """An instantaneous operation (return == call) is valid."""
    h = parse_history(mutate(rec(1, call=3.5)))
    assert h.ops[1].call == h.ops[1].ret == 3.5


def test_cas_may_expect_null():
    """cas may expect null, meaning "the key is missing"."""
    h = parse_history(mutate(opf(3, expected=None)))
    assert h.ops[3].op["expected"] is None


def test_get_may_read_null_or_empty():
    """A get may answer null or "" (both mean a missing key)."""
    for value in (None, ""):
        h = parse_history(mutate(rec(1, result={"value": value})))
        assert h.ops[1].result == {"value": value}
