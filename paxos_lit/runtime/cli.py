"""Subcommands of the real cluster: ``cluster``, ``node`` and ``kv``.

``register`` adds them to the main parser (see ``paxos_lit.cli``)."""


def register(sub) -> None:
    """Add the runtime subcommands to ``sub`` (filled by the runtime)."""
