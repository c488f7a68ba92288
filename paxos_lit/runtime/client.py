"""Talking to a running cluster: the key-value client and the status probe.

The client is the simulator's ``paxos_lit.client.Client`` role, unchanged,
hosted by a :class:`ClientHost`: a host with no server that sends to the
replicas' nodes over retransmitting links and receives their responses on
the same connections.  The role retransmits the pending command to every
replica until one answers, so ``run_ops`` only has to wait, up to a timeout.

Each ClientHost draws a fresh random client id (``k`` + 12 hex digits):
replicas recognise a command by (client, request number, operation), so two
runs of ``paxos-lit kv append x a`` must not look like one retransmission.
"""

from __future__ import annotations

import asyncio
import secrets
import time

from ..client import Client
from . import frames as F
from .config import ClusterConfig
from .node import Host, ProcEnv


class ClientHost(Host):
    role = "client"

    def __init__(self, config: ClusterConfig, host_id: str | None = None, **kw):
        super().__init__(config, host_id or f"k{secrets.token_hex(6)}", **kw)
        self.answered = asyncio.Event()

    def add_client(self, pid: str, ops=(), replicas=None, first: int = 0) -> Client:
        """Start one Client role (call from inside the running loop)."""
        self.loop = asyncio.get_running_loop()
        replicas = tuple(replicas or self.config.replicas)
        client = Client(pid, ProcEnv(self, pid), replicas, list(ops), first)
        self.procs[pid] = client
        client.start()
        return client

    def deliver(self, pid, msg) -> None:
        super().deliver(pid, msg)
        self.answered.set()

    def close(self) -> None:
        self.stopping = True
        self.procs.clear()
        self.flush()
        for link in self.links.values():
            link.close()
        for conn in list(self.conns):
            conn.close()

    async def wait(self, clients, timeout: float) -> bool:
        """Wait until every client in ``clients`` is done; False on timeout."""
        deadline = time.monotonic() + timeout
        while not all(c.done for c in clients):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.answered.clear()
            try:
                await asyncio.wait_for(self.answered.wait(), min(left, 0.5))
            except TimeoutError:
                pass
        return True


async def run_ops(config: ClusterConfig, ops, timeout: float = 10.0, replicas=None):
    """Run operations one after another through one fresh client.

    Returns ``(records, answered)``: the client's history records (call and
    return in seconds since the client started; result None if unanswered)
    and whether all were answered within ``timeout`` seconds."""
    host = ClientHost(config)
    try:
        first = secrets.randbelow(len(replicas or config.replicas))
        client = host.add_client(host.id, ops, replicas, first)
        ok = await host.wait([client], timeout)
        return client.history, ok
    finally:
        host.close()


async def probe(config: ClusterConfig, node_id: str, timeout: float = 2.0):
    """A node's ``status`` (a dict), or None if it does not answer in time."""
    spec = config.node(node_id)
    try:
        return await asyncio.wait_for(_probe(config, spec), timeout)
    except (TimeoutError, OSError, F.FrameError, ConnectionError):
        return None


async def _probe(config, spec):
    reader, writer = await asyncio.open_connection(spec.host, spec.port)
    try:
        writer.write(F.frame(F.hello(f"probe{secrets.token_hex(4)}", "p", "probe", spec.id),
                             config.key))
        writer.write(F.frame({"v": F.VERSION, "kind": "status"}, config.key))
        await writer.drain()
        dec = F.FrameDecoder(config.key, config.max_frame_bytes)
        while True:
            data = await reader.read(65536)
            if not data:
                return None
            for fr in dec.feed(data):
                if fr[0] == "status_reply":
                    return fr[1]
    finally:
        writer.close()


async def probe_all(config: ClusterConfig, timeout: float = 2.0) -> dict:
    """node id -> status (or None) for every node, probed concurrently."""
    ids = [n.id for n in config.nodes]
    results = await asyncio.gather(*(probe(config, i, timeout) for i in ids))
    return dict(zip(ids, results))
