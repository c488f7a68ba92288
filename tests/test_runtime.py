"""The TCP runtime (paxos_lit.runtime): config, durable state, links, nodes, CLI.

Rules under test, with PMMC's exercises where they come from:

- a cluster file is checked field by field, and every error names the field;
- an acceptor's promise (``ballot_num``) and accepted pvalues are on disk, in
  one SQLite transaction per state change (WAL, synchronous=FULL), committed
  before the reply that reports them leaves the process, so ``kill -9``
  keeps every promise (exercise 7: crash-safe stable storage);
- a leader restarts above every ballot its scouts used (a ballot never
  serves twice, invariants C1/A4); a replica replays its decision log;
- links number frames, retransmit after reconnecting, and receivers drop
  numbers they have seen (exercise 4: reconnecting TCP transport);
- state reduction on the wire (exercise 1) leaves ``pmax`` unchanged;
- the ``paxos-lit cluster/kv`` commands work end to end on loopback.

Every process a test starts is stopped by pid in a ``finally``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paxos_lit import messages as M
from paxos_lit.acceptor import Acceptor
from paxos_lit.errors import ConfigError
from paxos_lit.leader import pmax
from paxos_lit.replica import Replica
from paxos_lit.runtime import frames as F
from paxos_lit.runtime.client import ClientHost, probe
from paxos_lit.runtime.cluster import LocalCluster, free_ports, local_config
from paxos_lit.runtime.config import parse_config, resolve_config_path, template
from paxos_lit.runtime.node import Node, reduce_p1b
from paxos_lit.runtime.storage import AcceptorStore, LeaderStore, ReplicaStore
from paxos_lit.scout import Scout
from paxos_lit.types import Ballot, Command, PValue

B = Ballot
CMD = Command("c1", 1, ("put", "x", "1"))


class FakeEnv:
    """An Env that records what a role sends (for store tests)."""

    def __init__(self):
        self.sent = []

    def send(self, dst, msg):
        self.sent.append((dst, msg))

    def spawn(self, cls, *args):
        return "child"

    def set_timer(self, delay, tag):
        pass

    def rand(self):
        return 0.5

    def exit(self):
        pass


# -- the cluster file --------------------------------------------------------------
def _good():
    return template(7401, key="k" * 32)


def _broken(change):
    obj = _good()
    change(obj)
    return obj


BAD_CONFIGS = [
    ("format", lambda o: o.update(format="paxos-lit-cluster/9")),
    ("config", lambda o: o.update(colour="blue")),
    ("nodes", lambda o: o.update(nodes=[])),
    ("nodes[1].port", lambda o: o["nodes"][1].update(port=70000)),
    ("nodes[1].port", lambda o: o["nodes"][1].update(port=7401)),
    ("nodes[2].id", lambda o: o["nodes"][2].update(id="a1")),
    ("nodes[3].id", lambda o: o["nodes"][3].update(id="l 1")),
    ("nodes[0].roles.a1", lambda o: o["nodes"][0].update(roles={"a1": "learner"})),
    ("nodes[1].roles.a1", lambda o: o["nodes"][1].update(roles={"a1": "acceptor"})),
    ("nodes[0].roles", lambda o: o["nodes"][0].update(roles={})),
    ("nodes", lambda o: o.update(nodes=[n for n in o["nodes"] if n["id"][0] != "l"])),
    ("key", lambda o: o.update(key="short")),
    ("time_unit_s", lambda o: o.update(time_unit_s=0)),
    ("leader_policy", lambda o: o.update(leader_policy="eager")),
    ("durability", lambda o: o.update(durability="never")),
    ("window", lambda o: o.update(window=0)),
    ("batch_writes", lambda o: o.update(batch_writes="yes")),
    ("nodes[0]", lambda o: o["nodes"][0].update(address="x")),
]


@pytest.mark.parametrize("field,change", BAD_CONFIGS, ids=[f"{f}-{i}" for i, (f, _) in
                                                            enumerate(BAD_CONFIGS)])
def test_bad_cluster_file_names_the_field(field, change):
    """Every invalid cluster file raises ConfigError naming the bad field."""
    with pytest.raises(ConfigError) as e:
        parse_config(_broken(change), "/tmp/cluster.json")
    assert e.value.field == field


def test_good_cluster_file_defaults(tmp_path):
    """The template is valid; hosts default to 127.0.0.1 and a relative
    data_dir is taken from the cluster file's folder."""
    obj = _good()
    del obj["nodes"][0]["host"]
    cfg = parse_config(obj, str(tmp_path / "c.json"))
    assert cfg.nodes[0].host == "127.0.0.1"
    assert cfg.data_dir == str(tmp_path / "paxos-data")
    assert (cfg.acceptors, cfg.leaders, cfg.replicas) == (("a1", "a2", "a3"), ("l1", "l2"),
                                                         ("r1", "r2"))
    assert cfg.durability == "per-change" and cfg.key == b"k" * 32


def test_missing_config_names_the_option(tmp_path, monkeypatch):
    """Without --config, $PAXOS_LIT_CONFIG or ./paxos-cluster.json, the error
    names --config and says how to make one."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAXOS_LIT_CONFIG", raising=False)
    with pytest.raises(ConfigError) as e:
        resolve_config_path(None)
    assert e.value.field == "--config" and "cluster init" in str(e.value)


# -- durable state ------------------------------------------------------------------
def test_acceptor_store_keeps_promises_and_pvalues(tmp_path):
    """Each state change of an acceptor is written in its own transaction;
    reopening the file restores exactly ``durable_state()`` (PMMC ex. 7)."""
    path = str(tmp_path / "a1.sqlite")
    store = AcceptorStore(path)
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    a = Acceptor("a1", FakeEnv())
    store.attach(a)
    steps = [M.P1a("l1.s1", B(2, "l1")), M.P2a("l1.c1", PValue(B(2, "l1"), 1, CMD)),
             M.P1a("l2.s1", B(1, "l2")),                               # lower: no change
             M.P2a("l2.c1", PValue(B(1, "l2"), 2, CMD)),               # refused: no change
             M.P1a("l2.s2", B(3, "l2")), M.P2a("l2.c2", PValue(B(3, "l2"), 1, CMD))]
    commits = []
    for msg in steps:
        store.before(a, msg)
        a.receive(msg)
        store.after(a, msg)
        before = store.commits
        store.commit()
        commits.append(store.commits - before)
    assert commits == [1, 1, 0, 0, 1, 1]
    store.close()
    again = AcceptorStore(path)
    assert again.load() == a.durable_state()
    again.close()


def test_leader_restarts_above_every_ballot_its_scouts_used(tmp_path):
    """A leader's restarted life begins at a round above every ballot one of
    its scouts used, so no ballot ever carries two different proposals."""
    path = str(tmp_path / "l1.sqlite")
    store = LeaderStore(path)
    store.spawned(Scout, ("l1", ("a1",), B(4, "l1")))
    store.spawned(Scout, ("l1", ("a1",), B(2, "l1")))
    store.commit()
    store.close()
    from paxos_lit.leader import Leader

    leader = Leader("l1", FakeEnv(), ("a1",), ("r1",))
    LeaderStore(path).attach(leader)
    assert leader.ballot_num == B(5, "l1")
    fresh = Leader("l2", FakeEnv(), ("a1",), ("r1",))
    LeaderStore(str(tmp_path / "l2.sqlite")).attach(fresh)
    assert fresh.ballot_num == B(0, "l2")


def test_replica_log_replays_to_the_same_state(tmp_path):
    """A replica's logged decisions, replayed in a fresh replica, rebuild
    the same application state and slot_out (R3)."""
    path = str(tmp_path / "r1.sqlite")
    store = ReplicaStore(path)
    r = Replica("r1", FakeEnv(), ("l1",))
    decisions = [(2, Command("c1", 2, ("append", "x", "b"))),
                 (1, Command("c1", 1, ("append", "x", "a"))),
                 (3, Command("c2", 1, ("put", "y", "z")))]
    for slot, c in decisions + decisions[:1]:
        msg = M.Decision("l1.c1", slot, c)
        store.before(r, msg)
        r.receive(msg)
        store.after(r, msg)
        store.commit()
    assert store.commits == 3  # the repeated decision wrote nothing
    fresh = Replica("r1", FakeEnv(), ("l1",))
    for slot, c in ReplicaStore(path).load():
        fresh.receive(M.Decision("log", slot, c))
    assert fresh.state == r.state and fresh.slot_out == r.slot_out == 4


# At most one command per (ballot, slot) (invariant A4), as in any real run.
pvalue_st = st.builds(lambda b, s: PValue(b, s, Command(f"c{b.round}{b.leader}", s, ("get", "x"))),
                      st.builds(B, st.integers(0, 4), st.sampled_from(["l1", "l2"])),
                      st.integers(1, 5))


@given(st.lists(st.frozensets(pvalue_st, max_size=12), min_size=1, max_size=3))
def test_state_reduction_on_the_wire_keeps_pmax(reports):
    """Sending only each slot's highest-ballot pvalue in a p1b (PMMC ex. 1)
    gives the leader the same pmax as the full sets would."""
    reduced = [reduce_p1b(M.P1b("a", B(9, "l1"), acc)).accepted for acc in reports]
    assert pmax(frozenset().union(*reduced)) == pmax(frozenset().union(*reports))
    for r, full in zip(reduced, reports):
        assert r <= full and len(r) == len({p.slot for p in full})


# -- a node in this process -------------------------------------------------------------
async def _connect(cfg, node="a1", sender="t1", inc="i1", role="client"):
    spec = cfg.node(node)
    reader, writer = await asyncio.open_connection(spec.host, spec.port)
    writer.write(F.frame(F.hello(sender, inc, role, node), cfg.key))
    return reader, writer


async def _replies(reader, key, n, timeout=5.0):
    dec, out = F.FrameDecoder(key), []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        data = await asyncio.wait_for(reader.read(65536), deadline - time.monotonic())
        if not data:
            break
        for fr in dec.feed(data):
            if fr[0] == "msg":
                out.append(F.decode_message(fr[3]))
    return out


@pytest.mark.parametrize("durability", ["per-change", "group"])
def test_no_reply_leaves_before_its_state_change_is_committed(tmp_path, monkeypatch, durability):
    """Commit, then write: a p1b or p2b reporting a new promise or an accepted
    pvalue is written to the socket only after the SQLite transaction holding
    that change has committed (PMMC ex. 7), in both durability modes."""
    from paxos_lit.runtime import transport

    cfg = local_config(str(tmp_path), durability=durability)
    events = []
    flush = transport.Conn.flush

    def recording_flush(self):
        if self.out and not self.closed:
            events.append(("write", b"".join(self.out)))
        flush(self)

    monkeypatch.setattr(transport.Conn, "flush", recording_flush)

    async def main():
        node = Node(cfg, "a1")
        started = asyncio.Event()
        task = asyncio.create_task(node.run(started.set))
        await started.wait()
        store = node.stores["a1"]
        commit = store.commit

        def recording_commit():
            if store.in_txn:
                events.append(("commit", None))
            commit()

        store.commit = recording_commit
        reader, writer = await _connect(cfg)
        pv = PValue(B(1, "l1"), 1, CMD)
        for msg, seq in ((M.P1a("t1", B(1, "l1")), 1), (M.P2a("t1", pv), 2)):
            writer.write(F.pack(F.msg_payload("a1", seq, F.encode_message(msg)), cfg.key))
        replies = await _replies(reader, cfg.key, 2)
        writer.close()
        node.stop()
        await task
        return replies, node

    replies, node = asyncio.run(main())
    assert [type(m).__name__ for m in replies] == ["P1b", "P2b"]
    assert node.procs["a1"].ballot_num == B(1, "l1")
    first_commit = events.index(("commit", None))
    reply_writes = [i for i, (kind, data) in enumerate(events)
                    if kind == "write" and b'"P1b"' in data]
    assert reply_writes and first_commit < reply_writes[0]
    commits = sum(1 for kind, _ in events if kind == "commit")
    if durability == "per-change":
        assert commits == 2  # one transaction per state change: the promise, the pvalue
    else:
        assert 1 <= commits <= 2


def test_a_storage_failure_stops_the_node_without_replying(tmp_path):
    """Fail-stop: if the state change cannot be committed, the node sends no
    reply (it would report a promise it may not keep) and stops."""
    cfg = local_config(str(tmp_path))

    async def main():
        node = Node(cfg, "a1")
        started = asyncio.Event()
        task = asyncio.create_task(node.run(started.set))
        await started.wait()

        def broken_commit():
            raise sqlite3.OperationalError("disk I/O error")

        node.stores["a1"].commit = broken_commit
        reader, writer = await _connect(cfg)
        writer.write(F.pack(F.msg_payload("a1", 1, F.encode_message(
            M.P1a("t1", B(7, "l1")))), cfg.key))
        replies = await _replies(reader, cfg.key, 1, timeout=3)
        await asyncio.wait_for(task, 5)
        return replies, node

    replies, node = asyncio.run(main())
    assert replies == [] and node.failed


def test_receiver_drops_retransmitted_frame_numbers(tmp_path):
    """A numbered frame that arrives again from the same sender incarnation
    (a link's retransmission after a reconnect) is acknowledged but not
    delivered twice (PMMC ex. 4)."""
    cfg = local_config(str(tmp_path))

    async def main():
        node = Node(cfg, "a1")
        started = asyncio.Event()
        task = asyncio.create_task(node.run(started.set))
        await started.wait()
        frame = F.pack(F.msg_payload("a1", 1, F.encode_message(M.P1a("t1", B(1, "l1")))),
                       cfg.key)
        acks = []
        for i in range(2):  # two connections, same incarnation, same number
            reader, writer = await _connect(cfg, inc="same")
            writer.write(frame)
            dec = F.FrameDecoder(cfg.key)
            while len(acks) < i + 1:
                for fr in dec.feed(await asyncio.wait_for(reader.read(65536), 5)):
                    if fr[0] == "ack":
                        acks.append(fr[1])
            writer.close()
        delivered = node.counts["delivered"]
        node.stop()
        await task
        return acks, delivered

    acks, delivered = asyncio.run(main())
    assert acks == [1, 1] and delivered == 1


def test_link_delivers_what_was_sent_while_the_peer_was_down(tmp_path):
    """A link keeps frames while its peer is down, reconnects when it comes
    up, and sends them; a role's identical retransmission of a frame still
    waiting for its acknowledgement is not queued twice (PMMC ex. 4)."""
    cfg = local_config(str(tmp_path))

    async def main():
        host = ClientHost(cfg)
        host.loop = asyncio.get_running_loop()
        host.procs["t1"] = Acceptor("t1", FakeEnv())  # a stand-in that receives
        p1a = M.P1a("t1", B(4, "l1"))
        host.send("a1", p1a)
        host.send("a1", p1a)          # a retransmission while unacknowledged
        link = host.links["a1"]
        assert len(link.unacked) == 1 and link.deduplicated == 1
        await asyncio.sleep(0.3)      # a1 is not listening yet
        node = Node(cfg, "a1")
        started = asyncio.Event()
        task = asyncio.create_task(node.run(started.set))
        await started.wait()
        deadline = time.monotonic() + 10
        while link.unacked and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        ballot = node.procs["a1"].ballot_num
        host.close()
        node.stop()
        await task
        return ballot, link

    ballot, link = asyncio.run(main())
    assert ballot == B(4, "l1") and not link.unacked


# -- real processes -------------------------------------------------------------------------
def test_kill_9_keeps_the_acceptors_promise(tmp_path):
    """An acceptor answers a p1a only once its promise is on disk: after
    ``kill -9`` and a restart it still refuses a lower ballot and still
    reports the pvalue it accepted (PMMC ex. 7; invariants A1, A3)."""
    cfg = local_config(str(tmp_path))
    cluster = LocalCluster(cfg)

    async def ask(msgs, n):
        reader, writer = await _connect(cfg, inc=os.urandom(3).hex())
        for seq, m in enumerate(msgs, 1):
            writer.write(F.pack(F.msg_payload("a1", seq, F.encode_message(m)), cfg.key))
        out = await _replies(reader, cfg.key, n)
        writer.close()
        return out

    try:
        cluster.start("a1")
        assert asyncio.run(cluster.wait_ready(["a1"], 30))["a1"]
        pv = PValue(B(5, "l1"), 1, CMD)
        got = asyncio.run(ask([M.P1a("t1", B(5, "l1")), M.P2a("t1", pv)], 2))
        assert got[0].ballot == B(5, "l1") and got[1] == M.P2b("a1", B(5, "l1"), 1)
        cluster.kill("a1", signal.SIGKILL)   # right after the replies, no clean exit
        cluster.start("a1")
        assert asyncio.run(cluster.wait_ready(["a1"], 30))["a1"]
        (p1b,) = asyncio.run(ask([M.P1a("t2", B(2, "l2"))], 1))
        assert p1b.ballot == B(5, "l1") and p1b.accepted == frozenset({pv})
    finally:
        cluster.stop_all()


def _cli(*args, cwd, timeout=60, env=None):
    return subprocess.run([sys.executable, "-m", "paxos_lit", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def _free_run(n=7):
    """A base port with n free consecutive ports after it."""
    for _ in range(50):
        base = free_ports(1)[0]
        if base + n > 65500:
            continue
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    pytest.skip("no run of free ports")


def test_cli_cluster_up_kv_status_down(tmp_path):
    """The README's session: ``cluster init``, ``cluster up``, ``kv put x 1``,
    ``kv get x`` (and append, cas), ``cluster status``, ``cluster down``;
    a second ``up`` is refused while the cluster runs; ``down`` stops every
    node it recorded."""
    base = _free_run()
    pids = []
    try:
        r = _cli("cluster", "init", "--base-port", str(base), cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        cfg = json.loads((tmp_path / "paxos-cluster.json").read_text())
        assert cfg["key"] and all(n["host"] == "127.0.0.1" for n in cfg["nodes"])
        r = _cli("cluster", "up", "--config", "paxos-cluster.json", "--json", cwd=tmp_path)
        assert r.returncode == 0, r.stderr + r.stdout
        up = json.loads(r.stdout)
        pids = [n["pid"] for n in up["nodes"]]
        assert up["up"] and len(pids) == 7
        assert _cli("kv", "put", "x", "1", cwd=tmp_path).stdout == "ok\n"
        assert _cli("kv", "get", "x", cwd=tmp_path).stdout == "1\n"
        assert _cli("kv", "append", "x", "2", cwd=tmp_path).returncode == 0
        got = json.loads(_cli("kv", "get", "x", "--json", cwd=tmp_path).stdout)
        assert got["result"] == {"value": "12"}
        assert _cli("kv", "cas", "x", "9", "--expected", "12", cwd=tmp_path).stdout == "ok\n"
        r = _cli("kv", "cas", "x", "7", "--expected", "12", cwd=tmp_path)
        assert r.returncode == 1 and "failed" in r.stdout
        assert _cli("kv", "get", "nothing", cwd=tmp_path).stdout == "(missing)\n"
        r = _cli("cluster", "status", "--json", cwd=tmp_path)
        status = json.loads(r.stdout)
        assert r.returncode == 0 and all(n["serving"] for n in status["nodes"])
        replicas = [n["status"]["roles"] for n in status["nodes"] if n["id"][0] == "r"]
        assert all(info["slot_out"] >= 6 for roles in replicas for info in roles.values())
        r = _cli("cluster", "up", cwd=tmp_path)
        assert r.returncode == 2 and "already running" in r.stderr
        r = _cli("cluster", "down", "--json", cwd=tmp_path)
        assert r.returncode == 0
        assert sorted(v["pid"] for v in json.loads(r.stdout)["stopped"].values()) == sorted(pids)
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.05)
        r = _cli("kv", "get", "x", "--timeout", "1", cwd=tmp_path)
        assert r.returncode == 1 and "no answer within 1 s" in r.stderr
    finally:
        _cli("cluster", "down", cwd=tmp_path)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.parametrize("args,field", [
    (["node", "--config", "paxos-cluster.json", "--id", "zz"], "--id"),
    (["kv", "get", "x", "--config", "nope.json"], "--config"),
    (["cluster", "init"], "--config"),
    (["cluster", "status", "--config", "bad.json"], "nodes[0].port"),
])
def test_cli_bad_input_is_one_line_naming_the_field(tmp_path, args, field):
    """Bad input exits with status 2 and one line on stderr naming the field."""
    (tmp_path / "paxos-cluster.json").write_text(json.dumps(_good()))
    bad = _good()
    bad["nodes"][0]["port"] = "7401"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    r = _cli(*args, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and field in r.stderr, r.stderr


def test_status_probe_of_a_stopped_node_is_none(tmp_path):
    """A node that is not running answers no probe (``cluster status`` shows
    it down) rather than hanging."""
    cfg = local_config(str(tmp_path))
    assert asyncio.run(probe(cfg, "a1", 1.0)) is None
