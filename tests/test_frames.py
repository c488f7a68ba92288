"""The wire format of the TCP runtime (paxos_lit.runtime.frames) under bad input.

The rule under test: a node checks every frame before any role sees it --
length, HMAC tag, JSON, version, fields, and the protocol message against
the message schema -- and refuses a bad one with a reason, closing the
connection.  PMMC assumes channels that deliver only what was sent
(section 2); over TCP that has to be enforced, and an acceptor that ever
took a malformed p1a or p2a would break the promise invariants A1-A2.

The first part tests the decoder as a pure function; the second runs a real
acceptor node and fuzzes it over TCP with hypothesis: each bad frame must be
rejected with a log line naming why, the connection closed, the node still
serving, and its state (ballot and accepted pvalues) unchanged.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import time

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from paxos_lit import messages as M
from paxos_lit.runtime import frames as F
from paxos_lit.runtime.client import probe
from paxos_lit.runtime.cluster import LocalCluster, local_config, log_path
from paxos_lit.types import BOTTOM, Ballot, Command, PValue

KEY = b"k" * 32

# -- strategies of valid protocol values -----------------------------------------
ids = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
texts = st.text(max_size=12)
ballots = st.builds(Ballot, st.integers(0, 10**6), ids)
ops = st.one_of(
    st.tuples(st.just("get"), texts),
    st.tuples(st.just("put"), texts, texts),
    st.tuples(st.just("append"), texts, texts),
    st.tuples(st.just("cas"), texts, st.none() | texts, texts),
    st.just(("noop",)),
)
commands = st.builds(Command, ids, st.integers(0, 10**6), ops)
slots = st.integers(1, 10**6)
pvalues = st.builds(PValue, ballots, slots, commands)
pvalue_sets = st.frozensets(pvalues, max_size=6)
results = st.none() | texts | st.booleans()
wire_messages = st.one_of(
    st.builds(M.Request, ids, commands),
    st.builds(M.Response, ids, commands, results),
    st.builds(M.Propose, ids, slots, commands, st.booleans()),
    st.builds(M.Decision, ids, slots, commands),
    st.builds(M.P1a, ids, ballots | st.just(BOTTOM)),
    st.builds(M.P1b, ids, ballots, pvalue_sets),
    st.builds(M.P2a, ids, pvalues),
    st.builds(M.P2b, ids, ballots, slots),
    st.builds(M.Ping, ids, ballots),
    st.builds(M.Pong, ids, ballots, st.booleans()),
)


def msg_frame(msg, to="a1", seq=1, key=KEY) -> bytes:
    return F.pack(F.msg_payload(to, seq, F.encode_message(msg)), key)


def reason_of(data: bytes, key=KEY, max_frame=F.DEFAULT_MAX_FRAME, eof=True):
    """The reason the pure decoder refuses ``data`` (None if it accepts)."""
    try:
        F.decode_frames(data, key, max_frame) if eof else list(
            F.FrameDecoder(key, max_frame).feed(data))
    except F.FrameError as e:
        return e.reason
    return None


# -- the pure decoder ---------------------------------------------------------------
@settings(max_examples=200)
@given(wire_messages, st.integers(0, 2**40), st.booleans())
def test_every_wire_message_round_trips(msg, seq, signed):
    """What a node sends, a node accepts unchanged: encode, frame, sign,
    decode and check give back an equal message."""
    key = KEY if signed else None
    (kind, to, got_seq, got), = F.decode_frames(msg_frame(msg, "a1", seq, key), key)
    assert (kind, to, got_seq, got) == ("msg", "a1", seq, msg)
    assert type(got) is type(msg)


@settings(max_examples=100)
@given(wire_messages)
def test_wire_json_is_messages_encode_up_to_set_order(msg):
    """The wire form is ``messages.encode``'s, except that pvalue sets are
    not sorted (the canonical order serves traces, not the wire)."""
    def norm(obj):
        return {k: sorted(map(json.dumps, v)) if k in ("accepted", "pvalues") else v
                for k, v in obj.items()}

    assert norm(json.loads(F.encode_message(msg))) == norm(M.encode(msg))


@settings(max_examples=300)
@given(st.binary(max_size=300), st.booleans())
def test_random_bytes_raise_only_frame_errors(data, signed):
    """Whatever arrives, the decoder answers with frames or a FrameError
    naming a known reason, never another exception."""
    key = KEY if signed else None
    try:
        for fr in F.decode_frames(data, key, 4096):
            assert fr[0] in F.KINDS
    except F.FrameError as e:
        assert e.reason in F.REASONS


@given(wire_messages, st.data())
def test_truncated_frames_are_refused(msg, data):
    """A connection that ends inside a frame (header or body) is refused as
    ``truncated``; nothing of the partial frame is delivered."""
    whole = msg_frame(msg)
    cut = data.draw(st.integers(1, len(whole) - 1))
    assert reason_of(whole[:cut]) == "truncated"


@given(wire_messages, st.data())
def test_any_flipped_bit_of_a_signed_frame_is_refused(msg, data):
    """Changing any bit of a signed frame is detected: in the body by the
    HMAC, in the header by the length it then announces."""
    whole = bytearray(msg_frame(msg))
    i = data.draw(st.integers(0, len(whole) - 1))
    whole[i] ^= 1 << data.draw(st.integers(0, 7))
    assert reason_of(bytes(whole)) in ("bad-signature", "truncated", "oversized", "unsigned")


@given(wire_messages)
def test_wrong_key_and_missing_signature_are_refused(msg):
    """With a cluster key, a frame signed with another key is refused as
    ``bad-signature``, and an unsigned one as well (or as ``unsigned`` when
    it is shorter than a tag)."""
    assert reason_of(msg_frame(msg, key=b"x" * 32)) == "bad-signature"
    assert reason_of(msg_frame(msg, key=None)) in ("bad-signature", "unsigned")


def test_oversized_frame_is_refused_from_its_header_alone():
    """A frame longer than the maximum is refused as soon as its 4-byte
    header is read, without waiting for (or buffering) the body."""
    with pytest.raises(F.FrameError) as e:
        list(F.FrameDecoder(KEY, 1024).feed(struct.pack(">I", 1025)))
    assert e.value.reason == "oversized" and "1025" in e.value.detail


def _signed(obj_or_bytes) -> bytes:
    raw = obj_or_bytes if isinstance(obj_or_bytes, bytes) else json.dumps(obj_or_bytes).encode()
    return F.pack(raw, KEY)


def _msg(message: dict, **over) -> dict:
    return {"v": 1, "kind": "msg", "to": "a1", "seq": 1, "msg": message, **over}


P1A = {"type": "P1a", "src": "l1.s1", "ballot": [3, "l1"]}
P2A = {"type": "P2a", "src": "l1.c1",
       "pvalue": [[3, "l1"], 7, ["c1", 1, ["put", "x", "1"]]]}

NAMED = [
    ("version 2", {**_msg(P1A), "v": 2}, "bad-version"),
    ("no version", {k: v for k, v in _msg(P1A).items() if k != "v"}, "bad-version"),
    ("version true", {**_msg(P1A), "v": True}, "bad-version"),
    ("unknown kind", {"v": 1, "kind": "gossip"}, "bad-frame"),
    ("extra field", {**_msg(P1A), "extra": 1}, "bad-frame"),
    ("missing field", {"v": 1, "kind": "msg", "to": "a1", "msg": P1A}, "bad-frame"),
    ("negative seq", _msg(P1A, seq=-1), "bad-frame"),
    ("boolean seq", _msg(P1A, seq=True), "bad-frame"),
    ("bad recipient", _msg(P1A, to="a 1"), "bad-frame"),
    ("array frame", [1, 2], "bad-frame"),
    ("hello role", {"v": 1, "kind": "hello", "from": "x", "inc": "1", "role": "admin",
                    "to": None}, "bad-frame"),
    ("msg not an object", _msg([1]), "bad-message"),
    ("unknown message", _msg({"type": "P3a", "src": "x"}), "bad-message"),
    ("forged adoption", _msg({"type": "Adopted", "src": "l1.s1", "ballot": [3, "l1"],
                              "pvalues": []}), "forbidden"),
    ("forged preemption", _msg({"type": "Preempted", "src": "l1.c1", "ballot": [9, "l2"]}),
     "forbidden"),
    ("ballot round text", _msg({**P1A, "ballot": ["3", "l1"]}), "bad-message"),
    ("ballot round bool", _msg({**P1A, "ballot": [True, "l1"]}), "bad-message"),
    ("negative ballot", _msg({**P1A, "ballot": [-4, "l1"]}), "bad-message"),
    ("src with a space", _msg({**P1A, "src": "l1 s1"}), "bad-message"),
    ("missing ballot", _msg({"type": "P1a", "src": "l1.s1"}), "bad-message"),
    ("extra message field", _msg({**P1A, "x": 1}), "bad-message"),
    ("unhashable operand", _msg({**P2A, "pvalue": [[3, "l1"], 7, ["c1", 1, ["put", {}, "1"]]]}),
     "bad-message"),
    ("unknown operation", _msg({**P2A, "pvalue": [[3, "l1"], 7, ["c1", 1, ["drop", "x"]]]}),
     "bad-message"),
    ("put arity", _msg({**P2A, "pvalue": [[3, "l1"], 7, ["c1", 1, ["put", "x"]]]}),
     "bad-message"),
    ("slot zero", _msg({**P2A, "pvalue": [[3, "l1"], 0, ["c1", 1, ["put", "x", "1"]]]}),
     "bad-message"),
    ("result object", _msg({"type": "Response", "src": "r1", "command": ["c1", 1, ["get", "x"]],
                            "result": {"a": 1}}), "bad-message"),
    ("pvalue set of text", _msg({"type": "P1b", "src": "a2", "ballot": [1, "l1"],
                                 "accepted": "abc"}), "bad-message"),
]


@pytest.mark.parametrize("name,obj,reason", NAMED, ids=[n for n, _, _ in NAMED])
def test_named_bad_frames(name, obj, reason):
    """Each malformed frame is refused for the reason it deserves."""
    assert reason_of(_signed(obj)) == reason


@pytest.mark.parametrize("payload,reason", [
    (b'{"v": 1, "kind": "ack", "seq": NaN}', "malformed-json"),
    (b'{"v": 1, "kind": "ack", "seq": 1', "malformed-json"),
    (b"\xff\xfe{}", "malformed-json"),
    (b"[" * 100_000 + b"]" * 100_000, "malformed-json"),
    (b"", "malformed-json"),
])
def test_malformed_json_is_refused(payload, reason):
    """Not JSON, not UTF-8, NaN, nested beyond the parser: ``malformed-json``."""
    assert reason_of(_signed(payload), max_frame=1 << 20) == reason


# mutations: (field, values that are wrong for it)
not_text = st.one_of(st.integers(), st.none(), st.booleans(), st.lists(st.integers(), max_size=2),
                     st.dictionaries(texts, st.integers(), max_size=2))
WRONG = {
    "src": not_text | st.sampled_from(["", "a b", "x" * 200, "é"]),
    "slot": st.one_of(st.integers(max_value=0), st.booleans(), st.text(max_size=3), st.none()),
    "ballot": st.one_of(not_text.filter(lambda v: not isinstance(v, list)),
                        st.tuples(st.text(max_size=3), ids).map(list),
                        st.tuples(st.integers(max_value=-2), ids).map(list),
                        st.lists(st.integers(), min_size=3, max_size=3)),
    "command": st.one_of(not_text,
                         st.tuples(ids, st.integers(max_value=-1),
                                   st.just(["get", "x"])).map(list),
                         st.tuples(ids, st.integers(0, 9), st.just(["get", 1])).map(list),
                         st.tuples(ids, st.integers(0, 9), st.just([])).map(list)),
    "retry": st.one_of(st.integers(), st.none(), st.text(max_size=3)),
    "active": st.one_of(st.integers(), st.none(), st.text(max_size=3)),
    "result": st.one_of(st.integers(), st.floats(allow_nan=False), st.lists(st.integers()),
                        st.dictionaries(texts, st.integers(), min_size=1)),
    "pvalue": st.one_of(not_text, st.just([[1, "l1"], 1]), st.just([[1, "l1"], 1, ["c", 1, []]])),
    "accepted": st.one_of(st.integers(), st.just([[[1, "l1"], 0, ["c", 1, ["get", "x"]]]]),
                          st.just([[1, 2, 3]])),
}


@settings(max_examples=200)
@given(wire_messages, st.data())
def test_mutated_messages_are_refused(msg, data):
    """A valid message with one field replaced by a value of the wrong
    shape is refused as ``bad-message`` (never delivered half-checked)."""
    obj = json.loads(F.encode_message(msg))
    fields = [f for f in obj if f in WRONG]
    field = data.draw(st.sampled_from(fields))
    obj[field] = data.draw(WRONG[field])
    frame = F.pack(json.dumps(_msg(obj)).encode(), KEY)
    assert reason_of(frame) == "bad-message"


# -- a live node ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def acceptor_node(tmp_path_factory):
    """One acceptor node (a1) of a keyed cluster, as an OS process, with some
    state: ballot (3,l1) and one accepted pvalue.  Stopped by pid at the end."""
    d = tmp_path_factory.mktemp("fuzz")
    config = local_config(str(d), key="k" * 32, max_frame_bytes=65536)
    cluster = LocalCluster(config)
    try:
        cluster.start("a1")
        assert asyncio.run(cluster.wait_ready(["a1"], timeout=30))["a1"] is not None
        hello = F.frame(F.hello("l1", "t", "node", "a1"), KEY)
        p2a = M.P2a("l1.c1@t", PValue(Ballot(3, "l1"), 1, Command("c1", 1, ("put", "x", "1"))))
        send(config, hello + msg_frame(M.P1a("l1.s1@t", Ballot(3, "l1")), seq=1)
             + msg_frame(p2a, seq=2), expect_close=False)
        deadline = time.monotonic() + 10
        while status(config)["accepted"] != 1:
            assert time.monotonic() < deadline, "the setup p2a was not accepted"
            time.sleep(0.05)
        yield config, cluster
    finally:
        cluster.stop_all()


def status(config) -> dict:
    st_ = asyncio.run(probe(config, "a1", 5.0))
    assert st_ is not None, "a1 stopped serving"
    return {**st_["roles"]["a1"], "rejected": st_["rejected"]}


def send(config, data: bytes, shutdown=False, expect_close=True) -> bool:
    """Send ``data`` to a1; return whether a1 closed the connection."""
    spec = config.node("a1")
    with socket.create_connection((spec.host, spec.port), timeout=5) as s:
        try:
            s.sendall(data)
            if shutdown:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            return True
        if not expect_close:
            time.sleep(0.2)
            return False
        s.settimeout(5)
        try:
            while s.recv(65536):
                pass
        except ConnectionResetError:
            pass
        except TimeoutError:
            return False
        return True


class Log:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.pos = len(f.read())

    def new_lines(self) -> list:
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            text = f.read().decode(errors="replace")
        self.pos += len(text.encode(errors="replace"))
        return text.splitlines()


def hello_frame() -> bytes:
    """A valid hello from a fresh client incarnation (numbered frames are
    deduplicated per sender incarnation, so each connection gets its own)."""
    return F.frame(F.hello("fuzz1", os.urandom(4).hex(), "client", "a1"), KEY)


bad_frames = st.one_of(
    st.tuples(st.just("garbage"), st.binary(max_size=200).map(lambda b: F.pack(b, KEY))),
    st.tuples(st.just("json"), st.recursive(
        st.none() | st.booleans() | st.integers() | texts,
        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
            st.sampled_from(["v", "kind", "to", "seq", "msg", "type", "src", "x"]), kids,
            max_size=5), max_leaves=12).map(lambda o: F.pack(json.dumps(o).encode(), KEY))),
    st.tuples(st.just("unsigned"), wire_messages.map(lambda m: msg_frame(m, key=None))),
    st.tuples(st.just("wrong key"), wire_messages.map(lambda m: msg_frame(m, key=b"y" * 32))),
    st.tuples(st.just("oversized"), st.integers(65537, 2**32 - 1).map(
        lambda n: struct.pack(">I", n))),
    st.tuples(st.just("truncated"), st.tuples(wire_messages, st.floats(0.01, 0.99)).map(
        lambda t: msg_frame(t[0])[:max(1, int(len(msg_frame(t[0])) * t[1]))])),
    st.tuples(st.just("mutated"), st.tuples(wire_messages, st.data()).map(lambda t: t)),
)


@settings(max_examples=100, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(bad=bad_frames, data=st.data())
def test_live_node_rejects_bad_frames_and_keeps_serving(acceptor_node, bad, data):
    """Fuzzing a running acceptor: each bad frame (after a valid hello) is
    refused with a log line naming the reason, the connection is closed, the
    node keeps serving, and its promise and accepted pvalues are unchanged."""
    config, _ = acceptor_node
    category, payload = bad
    if category == "mutated":
        msg, _ = payload
        obj = json.loads(F.encode_message(msg))
        field = data.draw(st.sampled_from([f for f in obj if f in WRONG]))
        obj[field] = data.draw(WRONG[field])
        payload = F.pack(json.dumps(_msg(obj)).encode(), KEY)
    hello = hello_frame()
    expected = reason_of(hello + payload, KEY, 65536)
    assume(expected is not None)  # only frames the decoder refuses go to the node
    before = status(config)
    log = Log(log_path(config, "a1"))
    closed = send(config, hello + payload, shutdown=(category == "truncated"))
    assert closed, f"{category}: the node kept the connection open"
    deadline = time.monotonic() + 5
    lines = []
    while not any("rejected frame" in ln for ln in lines) and time.monotonic() < deadline:
        lines += log.new_lines()
        time.sleep(0.01)
    rejected = [ln for ln in lines if "rejected frame" in ln]
    assert len(rejected) == 1 and f": {expected}: " in rejected[0], (category, expected, lines)
    after = status(config)
    assert (after["ballot"], after["accepted"], after["digest"]) == (
        before["ballot"], before["accepted"], before["digest"])
    assert after["ballot"] == [3, "l1"] and after["accepted"] == 1
    assert sum(after["rejected"].values()) == sum(before["rejected"].values()) + 1


def test_live_node_refuses_a_peer_without_the_key(acceptor_node):
    """With a shared key, a peer that does not sign cannot even say hello:
    its frame is refused (unsigned), and nothing it sends is delivered."""
    config, _ = acceptor_node
    before = status(config)
    log = Log(log_path(config, "a1"))
    unsigned = F.frame(F.hello("l2", "u", "node", "a1"), None) + msg_frame(
        M.P1a("l2.s1@u", Ballot(99, "l2")), key=None)
    assert send(config, unsigned)
    time.sleep(0.1)
    lines = [ln for ln in log.new_lines() if "rejected frame" in ln]
    assert lines and ("unsigned" in lines[0] or "bad-signature" in lines[0])
    assert status(config)["ballot"] == before["ballot"] == [3, "l1"]
