"""The same roles as real OS processes over TCP, with durable acceptor state.

The role classes the simulator runs (``paxos_lit.acceptor`` ... ``replica``)
run here unchanged, each node an asyncio process that implements their
``Env`` for real.  Modules:

- ``frames``     the wire format: length-prefixed, versioned JSON frames,
                 optional HMAC-SHA256 tag, checked on receipt;
- ``transport``  TCP connections and reconnecting, retransmitting links
                 (PMMC exercise 4);
- ``storage``    SQLite state: acceptors' promises and pvalues (exercise 7),
                 leaders' ballots, replicas' decision logs;
- ``node``       a node: hosts roles, commits state before replying;
- ``config``     the cluster file; ``cluster`` starts and stops nodes;
- ``client``     the key-value client and the status probe;
- ``chaos``      kill -9 chaos with an end-of-run audit
                 (``python -m paxos_lit.runtime.chaos``);
- ``cli``        ``paxos-lit cluster init|up|status|down``, ``node``, ``kv``.
"""
