"""Making Paxos moderately fast: the paper's optimizations as tested variants.

PMMC section 4 ("Paxos Made Pragmatic") lists what turns the paper's clear
but impractical protocol into one that can run for a long time and serve
reads cheaply.  Each module here builds one of them as subclasses of the
paper's roles, explains it in its docstring (what the paper says, in our
words; why it is safe; what we measured), and offers a ``compare(seed=...)``
that runs it against the paper's roles in the simulator and returns plain
data:

- :mod:`.state_reduction` — an acceptor keeps one pvalue per slot (and the
  original code's two state-reduction defects, for teaching);
- :mod:`.garbage_collection` — acceptors and leaders forget the slots every
  replica has performed, and p1b says how far;
- :mod:`.read_only` — reads answered after one round trip to a majority of
  acceptors, without a slot;
- :mod:`.leases` — reads answered on the leader's word while it holds a
  lease, with timers and a drift margin instead of clocks;
- :mod:`.harness` — the invariant checker with A3 relaxed exactly as the
  paper allows, the simulator that uses it, and the measuring runs.

Pass a module's ``ROLES`` to :func:`run` (or to
:class:`VariantSimulator`) to run the variant with every invariant checked::

    from paxos_lit.variants import run, summary, state_reduction
    sim = run(state_reduction.ROLES, seed=3)
    summary(sim)["violations"]      # []

Importing this package registers the variants' new message types (see
``paxos_lit.messages.register``).
"""

from . import garbage_collection, leases, read_only, state_reduction
from .harness import (
    RelaxedChecker,
    VariantSimulator,
    churn_plan,
    memory_run,
    read_run,
    run,
    safety_sweep,
    summary,
)

#: Every variant's roles, by name (the names the comparisons use).
VARIANTS = {
    "state_reduction": state_reduction.ROLES,
    "garbage_collection": garbage_collection.ROLES,
    "state_reduction+garbage_collection": garbage_collection.ROLES_WITH_STATE_REDUCTION,
    "quorum_read": read_only.ROLES,
    "lease": leases.ROLES,
}

__all__ = ["RelaxedChecker", "VARIANTS", "VariantSimulator", "churn_plan", "garbage_collection",
           "leases", "memory_run", "read_only", "read_run", "run", "safety_sweep",
           "state_reduction", "summary"]
