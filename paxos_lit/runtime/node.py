"""A node: the paper's roles as one OS process on an asyncio event loop.

The roles are the simulator's classes, unchanged.  What the simulator does
with virtual time and a priority queue, a :class:`Host` does for real, by
implementing the ``Env`` every role is handed (``paxos_lit.process.Env``):

- ``send(dst, msg)``: to a process in this node, a call on the next loop
  turn; to a process elsewhere, a numbered frame on the :class:`Link` to its
  node; to a client (an id the config does not know), a frame on the
  connection that client's requests came in on;
- ``spawn(cls, *args)``: a scout or commander inside this node (PMMC: they
  are part of their leader), named ``<leader>.<s|c><n>@<incarnation>`` so a
  late reply meant for a child of a previous life of the node finds nobody;
- ``set_timer(delay, tag)``: ``loop.call_later(delay * time_unit_s)``: the
  roles' constants are virtual time units, scaled here, not edited;
- ``rand()``: this node's ``random.Random``, seeded from the config's seed
  and the node id;
- ``exit()``: the child is removed and its timers die with it.

Durability (PMMC exercise 7): every handler of an acceptor, leader or replica
runs between ``store.before`` and ``store.after`` (see ``storage``), which
write the state change into an open SQLite transaction.  Outgoing frames are
only buffered while handlers run; the host *commits, then writes* (``flush``),
once per turn of the event loop.  With ``durability: per-change`` (default)
the transaction is committed right after the handler that made the change,
one transaction per change; with ``group`` all changes of one loop turn share
one commit.  Either way no reply leaves the process before the state change
it reports is on disk, which is what makes ``kill -9`` harmless.  If a
write or commit fails, the node stops without sending anything (fail-stop).

What differs from the simulator, and why (all outside the role classes):

- ``RealTimeLeader`` and ``RealTimeReplica`` only override class constants
  (the leader's backoff bounds, the replica's stall period), because on real,
  busy processes a leader change takes longer than in virtual time;
- a p1b leaves a node state-reduced (``reduce_p1b``: PMMC exercise 1 on the
  wire; the acceptor's own durable state keeps every pvalue);
- a restarted leader starts above every ballot its scouts used
  (``storage.LeaderStore``), a restarted replica replays its decision log;
- a link does not queue a message identical to one still waiting for its
  acknowledgement (``transport.Link.send``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import signal
import sys
import time

from .. import messages as M
from ..acceptor import Acceptor
from ..leader import Leader
from ..replica import Replica
from . import frames as F
from .config import ClusterConfig
from .storage import AcceptorStore, LeaderStore, ReplicaStore
from .transport import Conn, Link

log = logging.getLogger("paxos_lit.runtime")


class RealTimeLeader(Leader):
    """The paper's leader, with its ``backoff`` bounds set for real processes.

    Only class constants change (virtual time units, scaled by the config's
    ``time_unit_s``).  In the simulator the 5-unit minimum wait is several
    network delays.  A real leader that has just been adopted spends longer
    than that spawning a commander for every slot it knows (PMMC has no
    garbage collection, so that is every slot so far); a rival that hears no
    pong in time takes over, and the two can take turns for ever.  A wait of
    at least the scouts' retry period keeps that from starting."""

    BACKOFF_MIN = 25.0
    BACKOFF_MAX = 400.0
    BACKOFF_DECREASE = 5.0


class RealTimeReplica(Replica):
    """The paper's replica, with a longer stall period for real processes.

    A replica that sees no progress for a stall period re-proposes the slots
    it waits on, marked ``retry``, and a passive leader that receives such a
    retry stops deferring to the active one.  Right after a leader change the
    new leader re-runs phase 2 for every slot it knows, which on a real
    machine can take longer than the simulator's 40 units; were replicas to
    call that a stall, they would push the other leader to take over, which
    starts the same again.  One second (100 units) leaves room for it."""

    STALL_AFTER = 100.0


def reduce_p1b(msg: M.P1b) -> M.P1b:
    """State reduction on the wire (PMMC section 4, exercise 1): only the
    highest-ballot pvalue of each slot.  A scout's leader uses nothing but
    ``pmax`` of what the acceptors report, and the maximum over the union of
    per-acceptor maxima is the maximum over the union, so adoption proposes
    exactly the same commands.  The acceptor's own (durable) state keeps
    every pvalue (invariant A3); only the message shrinks, from slots x
    ballots pvalues to slots."""
    best: dict = {}
    for p in msg.accepted:
        q = best.get(p.slot)
        if q is None or p.ballot > q.ballot:
            best[p.slot] = p
    if len(best) == len(msg.accepted):
        return msg
    return M.P1b(msg.src, msg.ballot, frozenset(best.values()))


ROLE_CLASSES = {"acceptor": Acceptor, "leader": RealTimeLeader, "replica": RealTimeReplica}
#: Sender incarnations whose frame numbers a host remembers (duplicate filter).
MAX_SENDERS = 10_000
STORE_CLASSES = {"acceptor": AcceptorStore, "leader": LeaderStore, "replica": ReplicaStore}


class ProcEnv:
    """The ``Env`` of one role instance inside a host."""

    __slots__ = ("host", "pid")

    def __init__(self, host, pid):
        self.host = host
        self.pid = pid

    @property
    def now(self) -> float:
        return time.monotonic() - self.host.t0

    def send(self, dst, msg) -> None:
        self.host.send(dst, msg)

    def spawn(self, cls, *args):
        return self.host.spawn(self.pid, cls, args)

    def set_timer(self, delay, tag) -> None:
        self.host.set_timer(self.pid, delay, tag)

    def rand(self) -> float:
        return self.host.rng.random()

    def exit(self) -> None:
        self.host.exit(self.pid)


class Host:
    """Hosts role processes and talks to the cluster's nodes.

    A node is a Host with a server and stores; a client program is a Host
    with client processes and no server (see ``runtime.client``)."""

    role = "node"

    def __init__(self, config: ClusterConfig, host_id: str):
        self.config = config
        self.id = host_id
        self.inc = secrets.token_hex(3)       # changes on every start
        self.key = config.key
        self.max_frame = config.max_frame_bytes
        self.scale = config.time_unit_s
        self.rng = random.Random(f"{config.seed}/{host_id}")
        self.coalesce = config.batch_writes
        self.t0 = time.monotonic()
        self.procs: dict = {}                 # pid -> Process (roles and children)
        self.stores: dict = {}                # pid -> Store (top-level roles only)
        self.kinds: dict = {}                 # pid -> role kind (top-level roles)
        self.observed: dict = {}              # leader pid -> last (ballot, active) logged
        self.children = 0                     # spawn counter
        self.links: dict = {}                 # node id -> Link
        self.routes: dict = {}                # client pid -> Conn it talks on
        self.conns: set = set()
        self.seen: dict = {}                  # (sender, inc) -> highest seq delivered
        self.rejected: dict = {}              # reason -> count
        self.counts = {"delivered": 0, "sent": 0, "dropped": 0, "timers": 0}
        self.stopping = False
        self.failed = False                   # fail-stopped (see ``fail``)
        self.muted = False                    # replaying the decision log
        self._dirty: list = []
        self._flush_scheduled = False
        self._msg_cache = (None, None)        # (msg, json) of the last message encoded
        self.strict = config.durability == "per-change"
        self.reduce_p1b = True
        self.loop = None

    # -- the Env, for every process on this host -------------------------------------
    def send(self, dst, msg) -> None:
        if self.muted:
            return
        self.counts["sent"] += 1
        if type(msg) is M.P1b and self.reduce_p1b:
            msg = reduce_p1b(msg)
        if dst in self.procs:
            self.loop.call_soon(self.deliver, dst, msg)
            return
        root = dst.split(".", 1)[0]
        node = self.config.node_of.get(root)
        if node == self.id:
            self.counts["dropped"] += 1       # a child of ours that has exited
            return
        if node is not None:
            link = self.links.get(node)
            if link is None:
                spec = self.config.node(node)
                link = self.links[node] = Link(self, node, (spec.host, spec.port))
            link.send(dst, msg)
        else:
            conn = self.routes.get(dst)
            if conn is None or conn.closed:
                self.counts["dropped"] += 1   # the client is gone; it will retry
                return
            conn.write(F.pack(F.msg_payload(dst, 0, self.encode(msg)), self.key))

    def encode(self, msg) -> str:
        """JSON of a message; a message sent to several processes in a row
        (a p2a to every acceptor) is encoded once."""
        cached_msg, text = self._msg_cache
        if cached_msg is not msg:
            text = F.encode_message(msg)
            self._msg_cache = (msg, text)
        return text

    def spawn(self, parent, cls, args):
        store = self.stores.get(parent)
        if store is not None:
            store.spawned(cls, args)
        self.children += 1
        pid = f"{parent}.{cls.id_prefix}{self.children}@{self.inc}"
        proc = cls(pid, ProcEnv(self, pid), *args)
        self.procs[pid] = proc
        proc.start()
        return pid

    def set_timer(self, pid, delay, tag) -> None:
        proc = self.procs[pid]
        self.loop.call_later(delay * self.scale, self._fire, pid, proc, tag)

    def exit(self, pid) -> None:
        self.procs.pop(pid, None)

    # -- running handlers -----------------------------------------------------------
    def deliver(self, pid, msg) -> None:
        proc = self.procs.get(pid)
        if proc is None or self.failed:
            self.counts["dropped"] += 1
            return
        self.counts["delivered"] += 1
        self._step(pid, proc, proc.receive, msg)

    def _fire(self, pid, proc, tag) -> None:
        if self.procs.get(pid) is not proc or self.stopping or self.failed:
            return  # the process exited (or this host restarted it)
        self.counts["timers"] += 1
        self._step(pid, proc, proc.on_timer, tag)

    def _step(self, pid, proc, handler, arg) -> None:
        """Run one handler; for a role with a store, write what it changed
        (and, per-change, commit) before anything it sent can leave."""
        store = self.stores.get(pid)
        try:
            if store is None:
                handler(arg)
                return
            msg = arg if handler != proc.on_timer else None
            store.before(proc, msg)
            handler(arg)
            store.after(proc, msg)
            if self.strict:
                store.commit()
        except Exception as e:  # a storage error, or a bug: stop, do not lie
            self.fail(f"{pid} handling {arg!r:.200}", e)
            return
        if pid in self.observed:
            self._observe(pid, proc)

    def fail(self, where: str, exc: BaseException) -> None:
        """Fail-stop: a state change that could not be made durable must not
        be reported, so drop every pending output and stop the host."""
        log.critical("%s failed: %s: %s; stopping", where, type(exc).__name__, exc,
                     exc_info=exc)
        self.failed = True
        self._dirty.clear()
        for conn in list(self.conns):
            conn.close()
        self.stop()

    def stop(self) -> None:
        self.stopping = True

    def _observe(self, pid, proc) -> None:
        """Log a leader's (ballot, active) when it changes."""
        now = proc.observe()
        if now != self.observed[pid]:
            self.observed[pid] = now
            log.info("%s ballot %s %s", pid, now[0], "active" if now[1] else "passive")

    # -- output: commit, then write -------------------------------------------------
    def dirty(self, conn) -> None:
        self._dirty.append(conn)
        if not self._flush_scheduled:
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        self._flush_scheduled = True
        self.loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        if self.failed:
            return
        try:
            for store in self.stores.values():
                store.commit()
        except Exception as e:
            self.fail("commit", e)
            return
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush()

    # -- input -------------------------------------------------------------------------
    def on_frame(self, conn: Conn, fr: tuple) -> None:
        kind = fr[0]
        if kind == "msg":
            if conn.peer is None:
                conn.reject(F.FrameError("protocol", "msg before hello"))
                return
            _, to, seq, raw = fr
            sender, inc, role = conn.peer
            if seq:
                key = (sender, inc)
                last = self.seen.get(key)
                if last is not None and seq <= last:
                    conn.ack_due = max(conn.ack_due, seq)
                    return  # a retransmission that already arrived
                if last is None and len(self.seen) >= MAX_SENDERS:
                    # Every kv command is a new client: forget the oldest
                    # sender (at worst a duplicate, which the roles tolerate).
                    del self.seen[next(iter(self.seen))]
                self.seen[key] = seq
                conn.ack_due = seq
            if to not in self.procs:
                # A late reply to a finished scout or commander (not decoded:
                # nobody would read it), or a process this node does not host.
                root = to.split(".", 1)[0]
                if self.config.node_of.get(root, self.id) != self.id:
                    log.warning("message for %s, which this node does not host, dropped", to)
                self.counts["dropped"] += 1
                return
            try:
                msg = F.decode_message(raw)
            except F.FrameError as e:
                conn.reject(e)
                return
            if not self._plausible(msg.src, sender, role):
                conn.reject(F.FrameError("protocol", f"{role} {sender} cannot speak for "
                                         f"process {msg.src!r}"))
                return
            if role != "node":
                self.routes[msg.src] = conn
            self.deliver(to, msg)
        elif kind == "ack":
            if conn.link is not None:
                conn.link.acked(fr[1])
        elif kind == "hello":
            _, sender, inc, role, to = fr
            if conn.peer is not None:
                conn.reject(F.FrameError("protocol", "second hello on one connection"))
            elif to is not None and to != self.id:
                conn.reject(F.FrameError("protocol",
                                         f"hello meant for {to!r} reached {self.id!r}"))
            elif role == "node" and sender not in {n.id for n in self.config.nodes}:
                conn.reject(F.FrameError("protocol", f"unknown node {sender!r}"))
            else:
                conn.peer = (sender, inc, role)
        elif kind == "status":
            conn.write(F.frame({"v": F.VERSION, "kind": "status_reply",
                                "status": self.status()}, self.key))
        elif kind == "status_reply":
            self.on_status_reply(conn, fr[1])

    def _plausible(self, src: str, sender: str, role: str) -> bool:
        """A node speaks for its own processes, a client for non-config ids."""
        node = self.config.node_of.get(src.split(".", 1)[0])
        return node == sender if role == "node" else node is None

    def on_status_reply(self, conn, status) -> None:
        pass

    def forget(self, conn) -> None:
        """A connection closed: forget the client routes that used it."""
        for pid in [p for p, c in self.routes.items() if c is conn]:
            del self.routes[pid]

    def status(self) -> dict:
        return {"id": self.id, "inc": self.inc, "pid": os.getpid(),
                "uptime_s": round(time.monotonic() - self.t0, 3),
                "counts": dict(self.counts), "rejected": dict(self.rejected),
                "children": len(self.procs) - len(self.kinds),
                "retransmit_queue": sum(len(li.unacked) for li in self.links.values()),
                "links": {n: {"unacked": len(li.unacked), "connected": li.conn is not None,
                              "sent": li.next_seq - 1, "deduplicated": li.deduplicated}
                          for n, li in self.links.items()},
                "deduplicated": sum(li.deduplicated for li in self.links.values()),
                "reconnects": sum(li.reconnects for li in self.links.values())}


class Node(Host):
    """One cluster node: its roles, its stores, its server."""

    def __init__(self, config: ClusterConfig, node_id: str, **kw):
        super().__init__(config, node_id, **kw)
        self.spec = config.node(node_id)
        self.dir = config.node_dir(node_id)
        self.server = None
        self.stopped = None

    def _build(self) -> None:
        cfg = self.config
        os.makedirs(self.dir, exist_ok=True)
        for pid, kind in self.spec.roles.items():
            cls = ROLE_CLASSES[kind]
            if kind == "acceptor":
                proc = cls(pid, ProcEnv(self, pid))
            elif kind == "leader":
                proc = cls(pid, ProcEnv(self, pid), cfg.acceptors, cfg.replicas,
                           cfg.leader_policy)
            else:
                proc = cls(pid, ProcEnv(self, pid), cfg.leaders, cfg.window)
            store = STORE_CLASSES[kind](os.path.join(self.dir, f"{pid}.sqlite"))
            self._restore(kind, proc, store)
            self.procs[pid] = proc
            self.kinds[pid] = kind
            self.stores[pid] = store
            if kind == "leader":
                self.observed[pid] = None

    def _restore(self, kind, proc, store) -> None:
        if kind == "acceptor":
            state = store.load()
            if state is not None:
                proc.restore(state)
                log.info("%s restored: ballot %s, %d accepted pvalues", proc.id,
                         state[0], len(state[1]))
            store.before(proc, None)
        elif kind == "leader":
            store.attach(proc)
            log.info("%s starts at ballot %s", proc.id, proc.ballot_num)
        else:
            log_ = store.load()
            self.muted = True
            try:
                for slot, command in log_:
                    proc.receive(M.Decision("log", slot, command))
            finally:
                self.muted = False
            if log_:
                # Its first stall check, one period from now, re-proposes
                # whatever was decided while it was down (rather than
                # waiting a second period to notice).
                proc.stall_mark = proc.slot_out
                log.info("%s replayed %d logged decisions; slot_out %d", proc.id, len(log_),
                         proc.slot_out)

    async def run(self, ready=None) -> None:
        """Serve until ``stop()`` (or SIGTERM/SIGINT when run by ``main``)."""
        self.loop = asyncio.get_running_loop()
        self.stopped = asyncio.Event()
        self._build()
        self.server = await self.loop.create_server(lambda: Conn(self), self.spec.host,
                                                    self.spec.port, reuse_address=True)
        log.info("node %s (inc %s, pid %d) listening on %s:%d, roles %s", self.id, self.inc,
                 os.getpid(), self.spec.host, self.spec.port,
                 ", ".join(f"{p}={k}" for p, k in self.spec.roles.items()))
        for pid in list(self.kinds):
            proc = self.procs[pid]
            store = self.stores[pid]
            store.before(proc, None)
            proc.start()
            store.after(proc, None)
        self._schedule_flush()
        if ready is not None:
            ready()
        try:
            await self.stopped.wait()
        finally:
            self.stopping = True
            self.server.close()
            self.flush()  # (nothing, after a failure)
            for link in self.links.values():
                link.close()
            for conn in list(self.conns):
                conn.close()
            for store in self.stores.values():
                try:
                    store.close()
                except Exception as e:  # already failing: report, keep closing
                    log.error("closing %s: %s", store.path, e)
            log.info("node %s %s", self.id, "FAILED" if self.failed else "stopped")

    def stop(self) -> None:
        if self.stopped is not None:
            self.stopped.set()
        else:
            self.stopping = True

    def status(self) -> dict:
        out = super().status()
        out["roles"] = roles = {}
        for pid, kind in self.kinds.items():
            p = self.procs[pid]
            if kind == "acceptor":
                roles[pid] = {"kind": kind, "ballot": list(p.ballot_num),
                              "accepted": len(p.accepted),
                              "digest": _digest(p.ballot_num, p.accepted)}
            elif kind == "leader":
                roles[pid] = {"kind": kind, "ballot": list(p.ballot_num), "active": p.active,
                              "proposals": len(p.proposals), "timeout": p.timeout}
            else:
                roles[pid] = {"kind": kind, "slot_in": p.slot_in, "slot_out": p.slot_out,
                              "decisions": len(p.decisions), "requests": len(p.requests)}
        return out


def _digest(ballot, accepted) -> str:
    """A fingerprint of an acceptor's state (to show it did not change)."""
    import hashlib

    h = hashlib.sha256(repr(tuple(ballot)).encode())
    for text in sorted(repr(M.to_plain(p)) for p in accepted):
        h.update(text.encode())
    return h.hexdigest()[:16]


def pid_file(config: ClusterConfig, node_id: str) -> str:
    return os.path.join(config.node_dir(node_id), "node.pid")


def main(config: ClusterConfig, node_id: str) -> int:
    """``paxos-lit node``: run one node in the foreground until SIGTERM."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s {node_id} %(levelname)s %(message)s")
    node = Node(config, node_id)
    pidf = pid_file(config, node_id)

    async def go():
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, node.stop)

        def ready():
            with open(pidf + ".tmp", "w") as f:
                f.write(f"{os.getpid()}\n")
            os.replace(pidf + ".tmp", pidf)

        await node.run(ready)

    os.makedirs(config.node_dir(node_id), exist_ok=True)
    try:
        asyncio.run(go())
    except OSError as e:
        log.error("node %s cannot start: %s", node_id, e)
        return 1
    finally:
        try:
            with open(pidf) as f:
                if f.read().strip() == str(os.getpid()):
                    os.remove(pidf)
        except OSError:
            pass
    return 1 if node.failed else 0
