"""The cluster file: which node runs which roles, where, and how.

A cluster file is one JSON object (``paxos-lit cluster init`` writes one)::

    {
      "format": "paxos-lit-cluster/1",
      "data_dir": "paxos-data",
      "key": "4f1c...",
      "nodes": [
        {"id": "a1", "host": "127.0.0.1", "port": 7401, "roles": {"a1": "acceptor"}},
        {"id": "l1", "port": 7404, "roles": {"l1": "leader"}},
        {"id": "r1", "port": 7406, "roles": {"r1": "replica"}}
      ]
    }

Each node is one OS process listening on ``host:port`` (``host`` defaults to
127.0.0.1) and hosting the roles named in ``roles`` (process id -> role kind:
``acceptor``, ``leader`` or ``replica``).  A node may host several roles; a
leader's scouts and commanders always live in its node.

Optional keys: ``key`` (a shared secret: every frame then carries an
HMAC-SHA256 tag and unsigned frames are refused; or ``key_file``, a file
holding it), ``data_dir`` (default ``paxos-data``; relative paths are taken
from the cluster file's folder), ``time_unit_s`` (seconds per unit of the
roles' virtual time, default 0.01: a scout retries after 25 units = 0.25 s),
``leader_policy`` (``backoff`` or ``naive``), ``window`` (the replicas'
WINDOW), ``durability`` (``per-change``: one SQLite transaction per acceptor
state change, the default; ``group``: one per batch of messages read
together, still committed before any reply leaves), ``seed`` (for the nodes'
random generators), ``max_frame_bytes`` and ``batch_writes`` (default true:
the frames a node sends to one peer in one loop turn leave in one write).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass, field

from ..errors import ConfigError
from ..types import WINDOW
from . import frames

FORMAT = "paxos-lit-cluster/1"
ROLE_KINDS = ("acceptor", "leader", "replica")
DURABILITY = ("per-change", "group")
DEFAULT_CONFIG = "paxos-cluster.json"
ENV_VAR = "PAXOS_LIT_CONFIG"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_KEYS = {"format", "data_dir", "key", "key_file", "time_unit_s", "leader_policy", "window",
         "durability", "seed", "max_frame_bytes", "batch_writes", "nodes", "description"}
_NODE_KEYS = {"id", "host", "port", "roles"}


@dataclass(frozen=True)
class NodeSpec:
    id: str
    host: str
    port: int
    roles: dict  # process id -> kind

    def to_json(self) -> dict:
        return {"id": self.id, "host": self.host, "port": self.port, "roles": dict(self.roles)}


@dataclass(frozen=True)
class ClusterConfig:
    nodes: tuple
    data_dir: str                  # absolute
    key: bytes | None = None
    time_unit_s: float = 0.01
    leader_policy: str = "backoff"
    window: int = WINDOW
    durability: str = "per-change"
    seed: int = 0
    max_frame_bytes: int = frames.DEFAULT_MAX_FRAME
    batch_writes: bool = True
    path: str | None = None
    node_of: dict = field(default_factory=dict)  # process id -> node id

    def node(self, node_id: str) -> NodeSpec:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise ConfigError("--id", f"no node {node_id!r} in {self.path or 'the config'} "
                          f"(nodes: {', '.join(n.id for n in self.nodes)})")

    def ids(self, kind: str) -> tuple:
        """Process ids of one role kind, in file order."""
        return tuple(pid for n in self.nodes for pid, k in n.roles.items() if k == kind)

    @property
    def acceptors(self):
        return self.ids("acceptor")

    @property
    def leaders(self):
        return self.ids("leader")

    @property
    def replicas(self):
        return self.ids("replica")

    def node_dir(self, node_id: str) -> str:
        return os.path.join(self.data_dir, node_id)

    def to_json(self) -> dict:
        return {"format": FORMAT, "data_dir": self.data_dir,
                "key": self.key.decode() if self.key else None,
                "time_unit_s": self.time_unit_s, "leader_policy": self.leader_policy,
                "window": self.window, "durability": self.durability, "seed": self.seed,
                "max_frame_bytes": self.max_frame_bytes, "batch_writes": self.batch_writes,
                "nodes": [n.to_json() for n in self.nodes]}


def _need(cond, field_name, problem):
    if not cond:
        raise ConfigError(field_name, problem)


def parse_config(obj, path: str | None = None) -> ClusterConfig:
    """Validate a decoded cluster file; every error names the field."""
    _need(isinstance(obj, dict), "config", "must be a JSON object")
    extra = set(obj) - _KEYS
    _need(not extra, "config", f"unknown key(s) {sorted(extra)} (known: {sorted(_KEYS)})")
    _need(obj.get("format", FORMAT) == FORMAT, "format",
          f"expected {FORMAT!r}, got {obj.get('format')!r}")
    base = os.path.dirname(os.path.abspath(path)) if path else os.getcwd()

    data_dir = obj.get("data_dir", "paxos-data")
    _need(isinstance(data_dir, str) and data_dir, "data_dir", "must be a non-empty string")
    data_dir = os.path.normpath(os.path.join(base, data_dir))

    _need(not ("key" in obj and "key_file" in obj), "key", "give key or key_file, not both")
    key = obj.get("key")
    if "key_file" in obj:
        kf = obj["key_file"]
        _need(isinstance(kf, str) and kf, "key_file", "must be a file name")
        try:
            with open(os.path.join(base, kf), encoding="utf-8") as f:
                key = f.read().strip()
        except OSError as e:
            raise ConfigError("key_file", f"cannot read {kf!r}: {e.strerror}") from None
    if key is not None:
        _need(isinstance(key, str) and len(key) >= 16, "key" if "key" in obj else "key_file",
              "the shared key must be a string of at least 16 characters (or null)")
        key = key.encode()

    tu = obj.get("time_unit_s", 0.01)
    _need(isinstance(tu, (int, float)) and not isinstance(tu, bool) and 0.0001 <= tu <= 10,
          "time_unit_s", f"must be a number of seconds in [0.0001, 10], not {tu!r}")
    policy = obj.get("leader_policy", "backoff")
    _need(policy in ("backoff", "naive"), "leader_policy",
          f"must be 'backoff' or 'naive', not {policy!r}")
    window = obj.get("window", WINDOW)
    _need(isinstance(window, int) and not isinstance(window, bool) and 1 <= window <= 10000,
          "window", f"must be an integer in [1, 10000], not {window!r}")
    durability = obj.get("durability", "per-change")
    _need(durability in DURABILITY, "durability",
          f"must be one of {DURABILITY}, not {durability!r}")
    seed = obj.get("seed", 0)
    _need(isinstance(seed, int) and not isinstance(seed, bool), "seed", "must be an integer")
    mfb = obj.get("max_frame_bytes", frames.DEFAULT_MAX_FRAME)
    _need(isinstance(mfb, int) and not isinstance(mfb, bool) and 1024 <= mfb <= 1 << 31,
          "max_frame_bytes", f"must be an integer in [1024, 2^31], not {mfb!r}")
    batch = obj.get("batch_writes", True)
    _need(isinstance(batch, bool), "batch_writes", f"must be true or false, not {batch!r}")

    raw_nodes = obj.get("nodes")
    _need(isinstance(raw_nodes, list) and raw_nodes, "nodes", "must be a non-empty list")
    nodes, node_of, addresses = [], {}, {}
    for i, n in enumerate(raw_nodes):
        where = f"nodes[{i}]"
        _need(isinstance(n, dict), where, "must be an object")
        extra = set(n) - _NODE_KEYS
        _need(not extra, where, f"unknown key(s) {sorted(extra)} (known: {sorted(_NODE_KEYS)})")
        nid = n.get("id")
        _need(isinstance(nid, str) and _NAME.match(nid), f"{where}.id",
              f"must be a name of letters, digits, '_' or '-', not {nid!r}")
        _need(all(m.id != nid for m in nodes), f"{where}.id", f"duplicate node id {nid!r}")
        host = n.get("host", "127.0.0.1")
        _need(isinstance(host, str) and host, f"{where}.host", "must be a host name or address")
        port = n.get("port")
        _need(isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535,
              f"{where}.port", f"must be a TCP port in [1, 65535], not {port!r}")
        _need((host, port) not in addresses, f"{where}.port",
              f"{host}:{port} is also node {addresses.get((host, port))!r}'s address")
        addresses[(host, port)] = nid
        roles = n.get("roles")
        _need(isinstance(roles, dict) and roles, f"{where}.roles",
              "must be an object mapping process ids to role kinds, e.g. {\"a1\": \"acceptor\"}")
        for pid, kind in roles.items():
            _need(_NAME.match(pid), f"{where}.roles",
                  f"process id {pid!r} must be letters, digits, '_' or '-'")
            _need(kind in ROLE_KINDS, f"{where}.roles.{pid}",
                  f"role must be one of {ROLE_KINDS}, not {kind!r}")
            _need(pid not in node_of, f"{where}.roles.{pid}",
                  f"process {pid!r} is also on node {node_of.get(pid)!r}")
            node_of[pid] = nid
        nodes.append(NodeSpec(nid, host, port, dict(roles)))
    cfg = ClusterConfig(nodes=tuple(nodes), data_dir=data_dir, key=key, time_unit_s=float(tu),
                        leader_policy=policy, window=window, durability=durability, seed=seed,
                        max_frame_bytes=mfb, batch_writes=batch,
                        path=os.path.abspath(path) if path else None, node_of=node_of)
    for kind in ROLE_KINDS:
        _need(cfg.ids(kind), "nodes", f"no {kind}: a cluster needs at least one")
    return cfg


def load_config(path: str) -> ClusterConfig:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError("--config", f"cannot read {path!r}: {e.strerror}") from None
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise ConfigError("--config", f"{path} is not JSON: {e}") from None
    return parse_config(obj, path)


def resolve_config_path(path: str | None) -> str:
    """``--config`` if given, else ``$PAXOS_LIT_CONFIG``, else ./paxos-cluster.json."""
    if path:
        return path
    env = os.environ.get(ENV_VAR)
    if env:
        return env
    if os.path.exists(DEFAULT_CONFIG):
        return DEFAULT_CONFIG
    raise ConfigError("--config", f"no --config given, ${ENV_VAR} is unset and there is no "
                      f"./{DEFAULT_CONFIG} (write one with: paxos-lit cluster init)")


def template(base_port: int = 7401, host: str = "127.0.0.1", key: str | None = "generate",
             acceptors: int = 3, leaders: int = 2, replicas: int = 2,
             data_dir: str = "paxos-data", **extra) -> dict:
    """A cluster file: one node per role process (a1.., l1.., r1..)."""
    if key == "generate":
        key = secrets.token_hex(32)
    nodes, port = [], base_port
    for prefix, kind, count in (("a", "acceptor", acceptors), ("l", "leader", leaders),
                                ("r", "replica", replicas)):
        for i in range(1, count + 1):
            pid = f"{prefix}{i}"
            nodes.append({"id": pid, "host": host, "port": port, "roles": {pid: kind}})
            port += 1
    out = {"format": FORMAT, "data_dir": data_dir, "key": key}
    out.update(extra)
    out["nodes"] = nodes
    return out
