"""Starting and stopping a cluster's nodes as local OS processes.

``LocalCluster`` is what ``paxos-lit cluster up`` uses, and what the chaos
test and the benchmark use to start, ``kill -9`` and restart nodes.  Each
node is ``python -m paxos_lit node --config FILE --id ID`` with its output
appended to ``<data_dir>/<id>/node.log``.  A node writes its own pid to
``<data_dir>/<id>/node.pid`` once it listens; ``cluster up`` also records
every pid it started in ``<data_dir>/cluster.pids`` at once, so ``cluster
down`` can stop a node even if it died before writing its own file.  Before
signalling a recorded pid, ``stop_recorded`` checks (on Linux, through
``/proc``) that the process is still that node, not a stranger that reused
the number.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

from .client import probe, probe_all
from .config import ClusterConfig
from .node import pid_file

PIDS = "cluster.pids"


def node_command(config: ClusterConfig, node_id: str) -> list:
    return [sys.executable, "-m", "paxos_lit", "node", "--config", config.path, "--id", node_id]


def log_path(config: ClusterConfig, node_id: str) -> str:
    return os.path.join(config.node_dir(node_id), "node.log")


class LocalCluster:
    """The nodes of one config as child processes of this Python process."""

    def __init__(self, config: ClusterConfig, detach: bool = False):
        if config.path is None:
            raise ValueError("LocalCluster needs a config loaded from a file (config.path)")
        self.config = config
        self.detach = detach           # survive this process (cluster up)
        self.procs: dict = {}          # node id -> Popen
        self.starts: dict = {}         # node id -> number of starts

    def start(self, node_id: str) -> subprocess.Popen:
        os.makedirs(self.config.node_dir(node_id), exist_ok=True)
        with open(log_path(self.config, node_id), "ab") as logf:
            proc = subprocess.Popen(node_command(self.config, node_id), stdin=subprocess.DEVNULL,
                                    stdout=logf, stderr=subprocess.STDOUT,
                                    start_new_session=self.detach)
        self.procs[node_id] = proc
        self.starts[node_id] = self.starts.get(node_id, 0) + 1
        return proc

    def start_all(self) -> None:
        for n in self.config.nodes:
            self.start(n.id)
        self.record()

    def record(self) -> None:
        path = os.path.join(self.config.data_dir, PIDS)
        os.makedirs(self.config.data_dir, exist_ok=True)
        with open(path + ".tmp", "w") as f:
            json.dump({nid: p.pid for nid, p in self.procs.items()}, f)
        os.replace(path + ".tmp", path)

    def kill(self, node_id: str, sig=signal.SIGKILL, timeout: float = 10.0) -> None:
        proc = self.procs.get(node_id)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def alive(self, node_id: str) -> bool:
        p = self.procs.get(node_id)
        return p is not None and p.poll() is None

    def stop_all(self, timeout: float = 5.0) -> None:
        """SIGTERM every node, then SIGKILL whatever is still up after timeout."""
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in self.procs.values():
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    async def wait_ready(self, node_ids=None, timeout: float = 20.0) -> dict:
        """Probe until every node answers; returns the statuses (None: never answered)."""
        ids = list(node_ids or (n.id for n in self.config.nodes))
        got: dict = {i: None for i in ids}
        deadline = time.monotonic() + timeout
        while True:
            missing = [i for i in ids if got[i] is None]
            if not missing or time.monotonic() > deadline:
                return got
            for i, st in zip(missing, await asyncio.gather(
                    *(probe(self.config, i, 1.0) for i in missing))):
                if st is not None and (i not in self.procs or st["pid"] == self.procs[i].pid):
                    got[i] = st
            if any(got[i] is None for i in ids):
                await asyncio.sleep(0.05)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop_all()


# -- pids recorded on disk, for `cluster down` and `cluster status` ---------------
def recorded_pids(config: ClusterConfig) -> dict:
    """node id -> set of pids recorded for it (cluster.pids and node.pid files)."""
    out = {n.id: set() for n in config.nodes}
    try:
        with open(os.path.join(config.data_dir, PIDS)) as f:
            for nid, pid in json.load(f).items():
                if nid in out and isinstance(pid, int):
                    out[nid].add(pid)
    except (OSError, ValueError):
        pass
    for nid in out:
        try:
            with open(pid_file(config, nid)) as f:
                out[nid].add(int(f.read().strip()))
        except (OSError, ValueError):
            pass
    return out


def is_node_process(pid: int, config: ClusterConfig, node_id: str) -> bool:
    """Is ``pid`` alive and (where /proc tells) this config's node ``node_id``?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False  # a zombie: already dead
    except OSError:
        return not os.path.isdir("/proc")  # no /proc: trust the record
    return ("node" in argv and node_id in argv and "--id" in argv
            and config.path is not None and config.path in argv)


def running(config: ClusterConfig) -> dict:
    """node id -> pid of its live node process (absent if none)."""
    out = {}
    for nid, pids in recorded_pids(config).items():
        for pid in sorted(pids):
            if is_node_process(pid, config, nid):
                out[nid] = pid
    return out


def stop_recorded(config: ClusterConfig, timeout: float = 5.0) -> dict:
    """Stop every recorded live node: SIGTERM, then SIGKILL after ``timeout``.
    Returns node id -> (pid, how) for the nodes it stopped."""
    live = running(config)
    stopped = {}
    for nid, pid in live.items():
        try:
            os.kill(pid, signal.SIGTERM)
            stopped[nid] = (pid, "SIGTERM")
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(
            is_node_process(pid, config, nid) for nid, (pid, _) in stopped.items()):
        time.sleep(0.05)
    for nid, (pid, _) in stopped.items():
        if is_node_process(pid, config, nid):
            try:
                os.kill(pid, signal.SIGKILL)
                stopped[nid] = (pid, "SIGKILL")
            except ProcessLookupError:
                pass
    for nid in stopped:
        try:
            os.remove(pid_file(config, nid))
        except OSError:
            pass
    try:
        os.remove(os.path.join(config.data_dir, PIDS))
    except OSError:
        pass
    return stopped


def status(config: ClusterConfig, timeout: float = 2.0) -> list:
    """One row per node: id, address, roles, pid, up, and its status if it answered."""
    answers = asyncio.run(probe_all(config, timeout))
    live = running(config)
    rows = []
    for n in config.nodes:
        st = answers[n.id]
        rows.append({"id": n.id, "address": f"{n.host}:{n.port}", "roles": n.roles,
                     "pid": st["pid"] if st else live.get(n.id), "serving": st is not None,
                     "status": st})
    return rows


def free_ports(n: int, host: str = "127.0.0.1") -> list:
    """``n`` TCP ports the kernel says are free right now (for tests and benches)."""
    import socket

    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def local_config(directory: str, acceptors: int = 3, leaders: int = 2, replicas: int = 2,
                 key: str | None = "generate", **options) -> ClusterConfig:
    """Write ``directory/cluster.json`` (loopback, free ports, data in
    ``directory/data``) and load it."""
    from .config import load_config, template

    ports = free_ports(acceptors + leaders + replicas)
    obj = template(0, key=key, acceptors=acceptors, leaders=leaders, replicas=replicas,
                   data_dir="data", **options)
    for node, port in zip(obj["nodes"], ports):
        node["port"] = port
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "cluster.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1)
    return load_config(path)
