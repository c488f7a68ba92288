"""The deterministic simulator: a seeded network, faults, and a trace."""

from .config import NetParams, SimConfig
from .faults import Action, FaultPlan, crash, heal, partition, recover
from .simulator import RunResult, Simulator, simulate

__all__ = ["Action", "FaultPlan", "NetParams", "RunResult", "SimConfig", "Simulator",
           "crash", "heal", "partition", "recover", "simulate"]
