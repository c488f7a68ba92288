"""The vocabulary of "Paxos Made Moderately Complex" (PMMC).

Every name here is a plain immutable value, so it can travel inside a message
without ever being shared mutably between two processes (DESIGN section 3,
rule 5), can be hashed into a set, and can be compared.

- a ``ProcessId`` is a string such as ``"r1"`` (replica), ``"l2"`` (leader),
  ``"a3"`` (acceptor), ``"c1"`` (client); a leader's children are named after
  it: ``"l1.s4"`` is leader l1's fourth scout, ``"l1.c9"`` its ninth commander;
- a ``Slot`` is a positive integer: the position of a command in the log;
- a ``Ballot`` is the pair (round, leader id), ordered lexicographically
  (PMMC section 2: "ballot numbers are totally ordered"); ``BOTTOM`` sorts
  below every real ballot;
- a ``Command`` is (client id, request id, operation) (PMMC section 2);
- a ``PValue`` is (ballot, slot, command) (PMMC section 3.2);
- a ``Config`` is the set of replicas, acceptors and leaders; a command whose
  operation is ``("reconfig", Config)`` changes it (PMMC section 3.4).
"""

from __future__ import annotations

from typing import NamedTuple

ProcessId = str
Slot = int

#: How many slots a replica may propose beyond ``slot_out`` (PMMC section 3.1):
#: a reconfiguration decided at slot s takes effect at slot s + WINDOW.
WINDOW = 5


class Ballot(NamedTuple):
    """A ballot number: ``(round, leader)``, compared round first."""

    round: int
    leader: ProcessId

    def __str__(self) -> str:
        return "⊥" if self.round < 0 else f"({self.round},{self.leader})"


#: The ballot below all others; every acceptor starts with it.
BOTTOM = Ballot(-1, "")


class Command(NamedTuple):
    """A client command: who asked, their request number, and the operation.

    ``op`` is a tuple: ``("get", key)``, ``("put", key, value)``,
    ``("append", key, value)``, ``("cas", key, expected, value)``,
    ``("noop",)`` or ``("reconfig", Config)``.
    """

    client: ProcessId
    req_id: int
    op: tuple

    def __str__(self) -> str:
        return f"{self.client}#{self.req_id}:{' '.join(map(str, self.op))}"


class PValue(NamedTuple):
    """A pvalue ``(ballot, slot, command)``: "this command was proposed for
    this slot at this ballot" (PMMC section 3.2)."""

    ballot: Ballot
    slot: Slot
    command: Command


class Config(NamedTuple):
    """Who plays which role. Tuples, so a Config can sit inside a command."""

    replicas: tuple[ProcessId, ...]
    acceptors: tuple[ProcessId, ...]
    leaders: tuple[ProcessId, ...]


#: The command a replica proposes to fill a gap it has waited on too long.
NOOP = Command("", 0, ("noop",))


def is_reconfig(command: Command) -> bool:
    """True for a reconfiguration command (PMMC section 3.4)."""
    return command.op[0] == "reconfig"
