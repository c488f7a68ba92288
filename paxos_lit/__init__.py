"""paxos_lit: "Paxos Made Moderately Complex", literate and executable.

The five roles of the paper (replica, leader, acceptor, scout, commander) as
sans-I/O Python classes, a seeded simulator that runs them under faults, the
paper's invariants as live checks, and the tools that check whole runs.

    >>> import paxos_lit as px
    >>> result = px.simulate(px.SimConfig(), seed=7)
    >>> result.completed == result.requested
    True
"""

from .acceptor import Acceptor
from .client import Client
from .commander import Commander
from .errors import ConfigError
from .invariants import InvariantChecker, Violation
from .kvstore import KVStore
from .leader import Leader, pmax
from .replica import Replica
from .scout import Scout
from .sim import (
    Action,
    FaultPlan,
    NetParams,
    RunResult,
    SimConfig,
    Simulator,
    crash,
    heal,
    partition,
    recover,
    simulate,
)
from .sim.sweep import grid, random_fault_plan, summarize, sweep
from .types import BOTTOM, NOOP, WINDOW, Ballot, Command, Config, PValue

__version__ = "0.1.0"

__all__ = ["Acceptor", "Action", "BOTTOM", "Ballot", "Client", "Command", "Commander",
           "Config", "ConfigError", "FaultPlan", "InvariantChecker", "KVStore", "Leader",
           "NOOP", "NetParams", "PValue", "Replica", "RunResult", "Scout", "SimConfig",
           "Simulator", "Violation", "WINDOW", "crash", "heal", "partition", "pmax",
           "recover", "simulate"]
__all__ += ["grid", "random_fault_plan", "summarize", "sweep"]
