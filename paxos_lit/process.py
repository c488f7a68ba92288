"""What every role shares: an id, an environment, and message dispatch.

Roles are *sans-I/O* (DESIGN section 3, rule 1).  A role never touches a
socket, a clock, a thread or a random generator.  It is handed an ``Env`` and
reacts to one message or timer at a time by calling it.  The simulator, the
model checker, the TCP runtime and a student's unit test each supply their own
``Env``; the role cannot tell them apart, which is the point.
"""

from __future__ import annotations

from typing import Protocol

from .types import ProcessId


class Env(Protocol):
    """The effects a role may cause.  Everything else is the driver's business."""

    def send(self, dst: ProcessId, msg) -> None:
        """Send ``msg`` to ``dst`` (it may be lost, delayed or duplicated)."""

    def spawn(self, cls: type, *args) -> ProcessId:
        """Start a child process (a scout or commander) and return its id."""

    def set_timer(self, delay: float, tag: str) -> None:
        """Call ``on_timer(tag)`` after ``delay`` units of (virtual) time."""

    def rand(self) -> float:
        """A number in [0, 1) from the driver's seeded generator (for jitter)."""

    def exit(self) -> None:
        """This process is done (PMMC's ``exit()`` of scouts and commanders)."""


class Process:
    """Base class of every role.

    A subclass handles message type ``T`` by defining ``on_T(self, msg)``; the
    table from message type to handler is built once per class, so a mutant
    that overrides one handler replaces exactly that rule.
    """

    #: Children are named ``parent.<id_prefix><n>``.
    id_prefix = "p"
    #: Filled by ``__init_subclass__``: message class -> handler function.
    _handlers: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        from . import messages

        cls._handlers = {
            msg_cls: getattr(cls, "on_" + name)
            for name, msg_cls in messages.MESSAGE_TYPES.items()
            if hasattr(cls, "on_" + name)
        }

    def __init__(self, pid: ProcessId, env: Env):
        self.id = pid      # this process's address
        self.env = env     # the only way out: send, spawn, timers, exit

    def start(self) -> None:
        """Called once, when the process starts (or restarts after a crash)."""

    def receive(self, msg) -> None:
        """Handle one message; a message kind this role does not know is
        ignored, as a real process would ignore a stray datagram."""
        handler = self._handlers.get(type(msg))
        if handler is not None:
            handler(self, msg)

    def on_timer(self, tag: str) -> None:
        """A timer set with ``env.set_timer(delay, tag)`` fired."""

    # Crash and recovery (DESIGN section 5) ---------------------------------
    def durable_state(self):
        """What survives a crash (None: nothing, the default)."""
        return None

    def restore(self, state) -> None:
        """Reload what ``durable_state`` saved, before ``start`` is called."""
