"""TCP connections and reconnecting links (PMMC exercise 4).

The paper's processes talk over reliable FIFO channels.  TCP is one only while
a connection lasts: when a peer crashes or a connection breaks, whatever was
in flight is gone.  A :class:`Link` is one host's sending side towards one
node.  It numbers every frame, keeps the frames the peer has not yet
acknowledged, and when the connection breaks it reconnects (with a growing
pause while the peer is down) and sends them all again.  The receiver
acknowledges what arrived and drops numbers it has already seen from that
sender's incarnation, so a retransmission is not delivered twice (while both
ends live; a restarted receiver may see a message twice, which the roles
tolerate, as the paper's do).

A :class:`Conn` is one TCP connection, in either direction: it decodes and
checks frames (``frames.FrameDecoder``), hands them to its host, and buffers
outgoing bytes until the host flushes (so the frames of one batch leave in
one ``write``, after the batch's state is on disk).
"""

from __future__ import annotations

import asyncio
import collections
import logging

from . import frames as F

log = logging.getLogger("paxos_lit.runtime")

#: Frames (and bytes) kept for retransmission per link; beyond either, the
#: oldest are dropped (the roles retransmit what matters) and counted.
MAX_UNACKED = 100_000
MAX_UNACKED_BYTES = 64 * 1024 * 1024
RECONNECT_MIN = 0.02
RECONNECT_MAX = 0.25


class Conn(asyncio.Protocol):
    """One TCP connection of a host (a node, or a client)."""

    def __init__(self, host, link=None):
        self.host = host
        self.link = link            # the Link this connection serves, if outbound
        self.decoder = F.FrameDecoder(host.key, host.max_frame)
        self.transport = None
        self.peer = None            # (from, inc, role) once the hello has arrived
        self.peername = "?"
        self.out = []               # bytes waiting for the next flush
        self.closed = False
        self.ack_due = 0            # highest numbered frame seen, to acknowledge

    # asyncio callbacks ------------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport
        pn = transport.get_extra_info("peername")
        self.peername = f"{pn[0]}:{pn[1]}" if pn else "?"
        self.host.conns.add(self)
        if self.link is not None:
            self.link.connected(self)

    def data_received(self, data):
        if self.closed:
            return
        try:
            for fr in self.decoder.feed(data):
                self.host.on_frame(self, fr)
                if self.closed:
                    return
        except F.FrameError as e:
            self.reject(e)
            return
        if self.ack_due:
            self.write(F.frame({"v": F.VERSION, "kind": "ack", "seq": self.ack_due},
                               self.host.key))
            self.ack_due = 0

    def eof_received(self):
        try:
            self.decoder.eof()
        except F.FrameError as e:
            self.reject(e)
        return False  # close our side too

    def connection_lost(self, exc):
        self.closed = True
        self.host.conns.discard(self)
        self.host.forget(self)
        if self.link is not None:
            self.link.lost(self)

    # sending --------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.closed:
            return
        if not self.out:
            self.host.dirty(self)
        self.out.append(data)

    def flush(self) -> None:
        if self.out and not self.closed:
            if len(self.out) == 1:
                self.transport.write(self.out[0])
            elif self.host.coalesce:
                self.transport.write(b"".join(self.out))
            else:
                for data in self.out:
                    self.transport.write(data)
        self.out.clear()

    def reject(self, err: F.FrameError) -> None:
        """Refuse a bad frame: log why, count it, close the connection."""
        self.host.rejected[err.reason] = self.host.rejected.get(err.reason, 0) + 1
        who = f"{self.peer[0]}@{self.peername}" if self.peer else self.peername
        log.warning("rejected frame from %s: %s: %s; connection closed",
                    who, err.reason, err.detail)
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.out.clear()
            if self.transport is not None:
                self.transport.abort()


class Link:
    """The retransmitting, reconnecting sender from a host to one node."""

    def __init__(self, host, peer_id: str, address: tuple):
        self.host = host
        self.peer_id = peer_id
        self.address = address
        self.unacked = collections.deque()   # (seq, frame bytes, ident), oldest first
        self.waiting = {}                    # (to, type, msg) of every unacked frame
        self.unacked_bytes = 0
        self.next_seq = 1
        self.conn = None
        self.connecting = None               # the connect task, while one runs
        self.dropped = 0                     # frames dropped for MAX_UNACKED
        self.deduplicated = 0                # identical messages not queued twice
        self.reconnects = 0
        self.failures = 0                    # connections lost since the last ack

    def send(self, to: str, msg) -> bool:
        """Queue ``msg`` for process ``to``; False if an identical message to
        ``to`` is still waiting for its acknowledgement: the link already
        guarantees that one's delivery, so a role's retransmission of it
        (a scout's p1a, a commander's p2a, an acceptor's identical p1b
        answer) would only be a duplicate, and under load a storm of them."""
        ident = (to, type(msg), msg)  # equal fields of two kinds are not equal messages
        if ident in self.waiting:
            self.deduplicated += 1
            return False
        self.waiting[ident] = 1
        seq = self.next_seq
        self.next_seq = seq + 1
        data = F.pack(F.msg_payload(to, seq, self.host.encode(msg)), self.host.key)
        self.unacked.append((seq, data, ident))
        self.unacked_bytes += len(data)
        while len(self.unacked) > MAX_UNACKED or (
                self.unacked_bytes > MAX_UNACKED_BYTES and len(self.unacked) > 1):
            _, old, old_ident = self.unacked.popleft()
            self.unacked_bytes -= len(old)
            self.waiting.pop(old_ident, None)
            self.dropped += 1
        if self.conn is not None:
            self.conn.write(data)
        else:
            self.connect()
        return True

    def acked(self, seq: int) -> None:
        q = self.unacked
        waiting = self.waiting
        self.failures = 0
        while q and q[0][0] <= seq:
            _, data, ident = q.popleft()
            self.unacked_bytes -= len(data)
            waiting.pop(ident, None)

    def connect(self, delay: float = 0.0) -> None:
        if self.connecting is None and not self.host.stopping:
            self.connecting = asyncio.get_running_loop().create_task(self._connect(delay))

    async def _connect(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        pause = RECONNECT_MIN
        try:
            if delay:
                await asyncio.sleep(delay)
            while not self.host.stopping:
                try:
                    await loop.create_connection(lambda: Conn(self.host, self), *self.address)
                    return
                except OSError:
                    await asyncio.sleep(pause)
                    pause = min(RECONNECT_MAX, pause * 2)
        finally:
            self.connecting = None

    def connected(self, conn: Conn) -> None:
        """Say who we are, then send again everything not yet acknowledged."""
        self.conn = conn
        conn.peer = (self.peer_id, "", "node")   # we dialled it: we know who it is
        self.reconnects += 1
        conn.write(F.frame(F.hello(self.host.id, self.host.inc, self.host.role, self.peer_id),
                           self.host.key))
        for _, data, _ in self.unacked:
            conn.write(data)

    def lost(self, conn: Conn) -> None:
        if self.conn is conn:
            self.conn = None
            if self.unacked:
                # A peer that keeps closing on us (say, a wrong key) is not
                # called again and again: the pause doubles, up to 2 s.
                self.failures += 1
                self.connect(min(2.0, RECONNECT_MIN * 2 ** min(self.failures, 10)))

    def close(self) -> None:
        if self.connecting is not None:
            self.connecting.cancel()
        if self.conn is not None:
            self.conn.flush()
            self.conn.transport.close()
