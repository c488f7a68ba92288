"""A simulation's configuration: who runs, what the network does, what the
clients ask.  Validated on construction, so a bad value fails early with a
message naming the field (never deep inside a run)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

from ..errors import ConfigError
from ..leader import POLICIES
from ..types import WINDOW


def check_probability(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or not 0.0 <= value <= 1.0:
        raise ConfigError(name, f"must be a probability in [0, 1], got {value!r}")
    return float(value)


def check_time(name: str, value, *, positive=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or math.isinf(value) or value < 0 or (positive and value == 0):
        need = "a positive" if positive else "a non-negative"
        raise ConfigError(name, f"must be {need} finite time, got {value!r}")
    return float(value)


def check_count(name: str, value, *, minimum=0, maximum=None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum \
            or (maximum is not None and value > maximum):
        rng = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ConfigError(name, f"must be an integer {rng}, got {value!r}")
    return value


@dataclass(frozen=True)
class NetParams:
    """One link's behaviour: a uniform delay in [delay_min, delay_max],
    a loss probability and a duplication probability.  Reordering follows
    from the random delays."""

    delay_min: float = 0.5
    delay_max: float = 1.5
    loss: float = 0.0
    dup: float = 0.0

    def __post_init__(self):
        check_time("delay_min", self.delay_min)
        check_time("delay_max", self.delay_max)
        if self.delay_max < self.delay_min:
            raise ConfigError("delay_max", f"must be >= delay_min ({self.delay_min}), "
                                           f"got {self.delay_max}")
        check_probability("loss", self.loss)
        check_probability("dup", self.dup)


@dataclass(frozen=True)
class SimConfig:
    """Everything but the seed and the fault plan.

    Process ids follow the counts: replicas r1..rN, leaders l1..lN, acceptors
    a1..aN, clients c1..cN.  ``keys`` is how many distinct keys the random
    workload touches (few keys, more contention, more to check)."""

    replicas: int = 2
    leaders: int = 2
    acceptors: int = 3
    clients: int = 3
    commands: int = 10
    window: int = WINDOW
    leader_policy: str = "backoff"
    net: NetParams = field(default_factory=NetParams)
    until: float = 20_000.0
    keys: int = 3

    def __post_init__(self):
        check_count("replicas", self.replicas, minimum=1, maximum=50)
        check_count("leaders", self.leaders, minimum=1, maximum=50)
        check_count("acceptors", self.acceptors, minimum=1, maximum=50)
        check_count("clients", self.clients, minimum=0, maximum=1000)
        check_count("commands", self.commands, minimum=0)
        check_count("window", self.window, minimum=1)
        check_count("keys", self.keys, minimum=1)
        if self.leader_policy not in POLICIES:
            raise ConfigError("leader_policy", f"must be one of {', '.join(POLICIES)}, "
                                               f"got {self.leader_policy!r}")
        if not isinstance(self.net, NetParams):
            raise ConfigError("net", "must be a NetParams")
        check_time("until", self.until, positive=True)

    @property
    def replica_ids(self):
        return tuple(f"r{i}" for i in range(1, self.replicas + 1))

    @property
    def leader_ids(self):
        return tuple(f"l{i}" for i in range(1, self.leaders + 1))

    @property
    def acceptor_ids(self):
        return tuple(f"a{i}" for i in range(1, self.acceptors + 1))

    @property
    def client_ids(self):
        return tuple(f"c{i}" for i in range(1, self.clients + 1))

    @property
    def key_names(self):
        """The workload's keys: x, y, z, then k3, k4, ..."""
        return tuple(chr(ord("x") + i) if i < 3 else f"k{i}" for i in range(self.keys))

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> SimConfig:
        if not isinstance(obj, dict):
            raise ConfigError("config", "must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(obj) - known)
        if unknown:
            raise ConfigError(unknown[0], "unknown configuration field "
                                          f"(known: {', '.join(sorted(known))})")
        data = dict(obj)
        if "net" in data:
            net = data["net"]
            if not isinstance(net, dict):
                raise ConfigError("net", "must be an object")
            bad = sorted(set(net) - {f.name for f in fields(NetParams)})
            if bad:
                raise ConfigError(f"net.{bad[0]}", "unknown network field")
            data["net"] = NetParams(**net)
        return cls(**data)
