"""Shared pytest fixtures.  Keep this file small: fixtures only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_dir() -> Path:
    """The shared folder beside the repository, or $PAXOS_LIT_SHARED (the
    linearizability histories live in its data/lincheck/)."""
    env = os.environ.get("PAXOS_LIT_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


class RecordingEnv:
    """A tiny ``Env`` (paxos_lit.process) that records every effect instead
    of causing it, so a role can be driven one message at a time in a unit
    test.  ``rand()`` returns the fixed ``rand_value``; ``now`` is settable."""

    def __init__(self, owner: str = "p", rand_value: float = 0.5, now: float = 0.0):
        self.owner = owner            # the id of the process using this env
        self.rand_value = rand_value  # what rand() returns
        self.now = now                # virtual time, read by clients only
        self.sends: list = []         # (dst, msg) in order
        self.spawns: list = []        # (cls, args, pid) in order
        self.timers: list = []        # (delay, tag) in order
        self.exits = 0                # how many times exit() was called

    def send(self, dst, msg) -> None:
        self.sends.append((dst, msg))

    def spawn(self, cls, *args):
        pid = f"{self.owner}.{cls.id_prefix}{len(self.spawns) + 1}"
        self.spawns.append((cls, args, pid))
        return pid

    def set_timer(self, delay, tag) -> None:
        self.timers.append((delay, tag))

    def rand(self) -> float:
        return self.rand_value

    def exit(self) -> None:
        self.exits += 1

    def take(self) -> list:
        """The sends so far, and forget them (to look at one step's effects)."""
        out, self.sends = self.sends, []
        return out


@pytest.fixture
def make_env():
    """A factory: ``make_env(owner, rand_value=0.5, now=0.0)`` -> RecordingEnv."""
    return RecordingEnv
