"""Subcommands of the verification layer: ``check`` and ``mutants``.

``register`` adds them to the main parser (see ``paxos_lit.cli``)."""


def register(sub) -> None:
    """Add the verification subcommands to ``sub`` (filled by the checker)."""
