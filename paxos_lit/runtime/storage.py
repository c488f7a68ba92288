"""State on disk: SQLite files that let a node survive ``kill -9``.

PMMC's exercise 7 asks for crash-safe stable storage for acceptors: an
acceptor that forgets a promise after a crash can let two different commands
be chosen for one slot.  ``AcceptorStore`` keeps ``ballot_num`` and every
accepted pvalue in SQLite in WAL mode with ``synchronous=FULL``.  The node
writes each state change inside a transaction and commits it *before* any
reply caused by that change leaves the process (see ``node.Node``), so the
promise made in a p1b or p2b is on disk before anyone hears of it.

Two smaller stores are not needed for safety but make restarts behave:

- ``LeaderStore`` remembers the highest ballot round a leader's scouts used,
  so after a restart it starts above it and never reuses a ballot of its past
  life;
- ``ReplicaStore`` logs the decisions a replica has learned (``synchronous=
  NORMAL``: WAL keeps committed data across a process crash, and anything lost
  is learned again from the leaders), so a restarted replica replays them
  instead of re-learning every slot one stall period at a time.

Each store watches its role from outside: ``before(proc, msg)`` and
``after(proc, msg)`` bracket one handler and write what changed; the role
classes are the same ones the simulator runs, untouched.
"""

from __future__ import annotations

import json
import os
import sqlite3

from .. import messages as M
from ..scout import Scout
from ..types import Ballot


def _connect(path: str, synchronous: str) -> sqlite3.Connection:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise RuntimeError(f"{path}: SQLite refused WAL mode ({mode})")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


def _command_json(command) -> str:
    return json.dumps(M.to_plain(command), separators=(",", ":"))


def _command(text: str):
    return M.decode({"type": "Decision", "src": "disk", "slot": 1,
                     "command": json.loads(text)}).command


class Store:
    """A SQLite file and an optional open transaction."""

    synchronous = "FULL"

    def __init__(self, path: str):
        self.path = path
        self.conn = _connect(path, self.synchronous)
        self.in_txn = False
        self.commits = 0
        self.conn.executescript(self.SCHEMA)

    def _write(self, sql: str, args=()) -> None:
        if not self.in_txn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.in_txn = True
        self.conn.execute(sql, args)

    def commit(self) -> None:
        """Make every write since the last commit durable (one transaction)."""
        if self.in_txn:
            self.conn.execute("COMMIT")
            self.in_txn = False
            self.commits += 1

    def close(self) -> None:
        self.commit()
        self.conn.close()

    def attach(self, proc) -> None:
        pass

    def spawned(self, cls, args) -> None:
        """``proc`` spawned a child ``cls(*args)`` (in the current step)."""

    def before(self, proc, msg) -> None:
        pass

    def after(self, proc, msg) -> None:
        pass


class AcceptorStore(Store):
    """``ballot_num`` and ``accepted`` of one acceptor (PMMC exercise 7)."""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS ballot (
        id INTEGER PRIMARY KEY CHECK (id = 0), round INTEGER NOT NULL, leader TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS accepted (
        round INTEGER NOT NULL, leader TEXT NOT NULL, slot INTEGER NOT NULL,
        command TEXT NOT NULL, PRIMARY KEY (round, leader, slot)) WITHOUT ROWID;
    """

    def __init__(self, path: str):
        super().__init__(path)
        self._ballot = None
        self._count = 0

    def load(self):
        """The durable state in ``Acceptor.durable_state()`` form, or None."""
        row = self.conn.execute("SELECT round, leader FROM ballot").fetchone()
        pvalues = frozenset(
            M.PValue(Ballot(r, leader), slot, _command(cmd))
            for r, leader, slot, cmd in self.conn.execute(
                "SELECT round, leader, slot, command FROM accepted"))
        if row is None and not pvalues:
            return None
        ballot = Ballot(*row) if row else Ballot(-1, "")
        return (ballot, pvalues)

    def attach(self, proc) -> None:
        self._ballot = proc.ballot_num
        self._count = len(proc.accepted)

    def before(self, proc, msg) -> None:
        self._ballot = proc.ballot_num
        self._count = len(proc.accepted)

    def after(self, proc, msg) -> None:
        if proc.ballot_num != self._ballot:
            b = proc.ballot_num
            self._write("INSERT OR REPLACE INTO ballot (id, round, leader) VALUES (0, ?, ?)",
                        (b.round, b.leader))
        if len(proc.accepted) != self._count:
            if type(msg) is M.P2a and len(proc.accepted) == self._count + 1:
                added = (msg.pvalue,)
            else:  # not expected from the paper's acceptor; stay correct anyway
                stored = {(r, ld, s) for r, ld, s in self.conn.execute(
                    "SELECT round, leader, slot FROM accepted")}
                added = [p for p in proc.accepted
                         if (p.ballot.round, p.ballot.leader, p.slot) not in stored]
            for p in added:
                self._write("INSERT OR REPLACE INTO accepted VALUES (?, ?, ?, ?)",
                            (p.ballot.round, p.ballot.leader, p.slot, _command_json(p.command)))


class LeaderStore(Store):
    """The highest ballot round a leader's scouts have used.

    A ballot must never serve twice with different proposals (C1, A4), so a
    restarted leader must not reuse one of its past life.  Every ballot a
    leader ever runs phase 2 with was first the ballot of one of its scouts,
    so recording each scout's ballot before its p1a leaves is enough: the
    leader restarts at the next round up.  (Recording ``ballot_num`` itself
    would also count the ballot a passive leader merely plans to use, and
    restart it needlessly high, above the active leader's.)"""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS leader (
        id INTEGER PRIMARY KEY CHECK (id = 0), round INTEGER NOT NULL);
    """

    def __init__(self, path: str):
        super().__init__(path)
        self._round = -1

    def load(self):
        row = self.conn.execute("SELECT round FROM leader").fetchone()
        return None if row is None else row[0]

    def attach(self, proc) -> None:
        saved = self.load()
        if saved is not None:
            # Start above every ballot of a past life (never reuse a ballot).
            proc.ballot_num = Ballot(saved + 1, proc.id)
            self._round = saved

    def spawned(self, cls, args) -> None:
        if issubclass(cls, Scout):
            ballot = args[2]  # Scout(pid, env, leader, acceptors, ballot)
            if ballot.round > self._round:
                self._round = ballot.round
                self._write("INSERT OR REPLACE INTO leader (id, round) VALUES (0, ?)",
                            (ballot.round,))


class ReplicaStore(Store):
    """The decisions a replica has learned: slot -> command."""

    synchronous = "NORMAL"
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS decision (
        slot INTEGER PRIMARY KEY, command TEXT NOT NULL);
    """

    def __init__(self, path: str):
        super().__init__(path)
        self._new = False

    def load(self) -> list:
        return [(slot, _command(cmd)) for slot, cmd in self.conn.execute(
            "SELECT slot, command FROM decision ORDER BY slot")]

    def before(self, proc, msg) -> None:
        self._new = type(msg) is M.Decision and msg.slot not in proc.decisions

    def after(self, proc, msg) -> None:
        if self._new and msg.slot in proc.decisions:
            self._write("INSERT OR REPLACE INTO decision VALUES (?, ?)",
                        (msg.slot, _command_json(proc.decisions[msg.slot])))
