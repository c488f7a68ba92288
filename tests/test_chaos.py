"""Chaos: the real cluster keeps its promises while nodes are killed with -9.

Three acceptors, two leaders and two replicas run as OS processes on
loopback.  Four closed-loop clients run appends, puts, gets and compare-and-
sets for 20 seconds; every second a node picked by a seeded generator gets
``kill -9`` and is started again at once.  Then the clients finish what they
have in flight and read back, through each replica separately.

The rules under test (PMMC section 3: safety under crashes; durable acceptors
turn a crash into a slow process, exercise 7):

- no acknowledged write is lost: every acknowledged append's token and every
  acknowledged put's value is in the final reads, and no command is applied
  twice;
- the recorded client history is linearizable (the history format of
  DESIGN.md section 6, checked by ``paxos_lit.check.linearizability``);
- every node is still serving at the end: each answers a status probe and
  each replica answers reads on its own.

The run is bounded (about 30 s) and stops itself; every process is stopped
by pid in a ``finally``.  ``kill -9`` loses nothing that reached the page
cache, so the nodes' SQLite files go to tmpfs (/dev/shm) when there is one:
the durability code path is the same (one transaction per state change,
committed before the reply), only the fsyncs are cheap.
``PAXOS_LIT_CHAOS_SEED`` picks another kill schedule.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile

from paxos_lit.runtime.chaos import audit, chaos_run
from paxos_lit.runtime.cluster import LocalCluster, local_config

SEED = int(os.environ.get("PAXOS_LIT_CHAOS_SEED", "1"))


def _scratch(tmp_path) -> str:
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        return tempfile.mkdtemp(prefix="paxos-lit-chaos-", dir=shm)
    return str(tmp_path / "cluster")


def test_kill_9_every_second_loses_nothing_and_stays_linearizable(tmp_path):
    """kill -9 of a random node every second for 20 s: zero acknowledged
    writes lost, a linearizable history, every node serving at the end."""
    where = _scratch(tmp_path)
    config = local_config(where)
    cluster = LocalCluster(config)
    lines = []
    try:
        result = asyncio.run(chaos_run(cluster, duration=20.0, kill_every=1.0, seed=SEED,
                                       clients=4, rate=100.0, log=lines.append))
    finally:
        cluster.stop_all()
        logs = {}
        for n in config.nodes:
            with open(os.path.join(config.node_dir(n.id), "node.log"), errors="replace") as f:
                logs[n.id] = f.read()
        if where.startswith("/dev/shm"):
            shutil.rmtree(where, ignore_errors=True)
    summary = result.to_json()
    (tmp_path / "chaos.json").write_text(json.dumps(result.to_json(history=True)))
    why = "\n".join(lines) + "\n" + json.dumps({k: v for k, v in summary.items()
                                                if k != "kills"}, indent=1)
    assert len(result.kills) == 19, why
    assert result.acknowledged > 0 and result.acknowledged_writes > 0, why
    assert result.lost == [], why
    assert result.duplicated == [], why
    assert result.unanswered == 0, why
    assert result.linearizable is True, why
    assert result.not_serving == [], why + json.dumps({k: v[-3000:] for k, v in logs.items()})
    assert result.final_reads >= 2 * 4, why
    for node, text in logs.items():  # no node crashed on its own or hit a bug
        assert "Traceback" not in text and "CRITICAL" not in text, (node, text[-5000:])


def test_audit_finds_lost_and_duplicated_writes():
    """The end-of-run audit flags an acknowledged append missing from a
    replica's read, an acknowledged put overwritten, and a token applied
    twice; unacknowledged writes may or may not be there."""
    writes = [(("append", "k0", "c0.1;"), True), (("append", "k0", "c1.1;"), True),
              (("append", "k0", "c2.1;"), False), (("put", "p.c0.2", "2"), True),
              (("put", "p.c1.2", "2"), False)]
    good = {"r1": {"k0": "c1.1;c0.1;", "p.c0.2": "2", "p.c1.2": None}}
    assert audit(writes, good) == ([], [])
    lost, dup = audit(writes, {"r1": {"k0": "c1.1;c2.1;c2.1;", "p.c0.2": None}})
    assert lost == ["r1: append k0 'c0.1;' acknowledged, missing from the final read",
                    "r1: put p.c0.2='2' acknowledged, read ''"]
    assert dup == ["r1: 'c2.1;' appears 2 times in k0"]
