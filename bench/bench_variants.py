"""Benchmark: the paper's optimizations against the paper's roles, in the simulator.

    python bench/bench_variants.py [--seed N] [--commands N] [--safety-seeds N] [--quick]

Everything is virtual time and message counts, so the numbers are the same
on every machine for a given seed (only ``wall_s`` varies).  Each variant
and its baseline (the paper's roles) run in this same invocation, on the
same configuration, seed and fault plan; every ``ratio`` is variant over
baseline.

- ``memory``: a long run (2 replicas, 2 leaders, 3 acceptors, 3 clients x
  ``--commands``) in which the leaders crash in turn, so ballots change and
  each new leader adopts again: the largest acceptor state (pvalues held),
  p1b sizes (pvalues carried), p2a messages sent, for the paper's acceptor,
  state reduction, garbage collection, and both
  (``paxos_lit.variants.garbage_collection.compare``); and with one replica
  down for a while, which stops collection (``garbage_collection.stall``).
- ``growth``: the largest acceptor state and p1b against the run's length,
  paper against state reduction + garbage collection.
- ``reads``: a workload of 90 % reads, and one of reads only: messages per
  operation, read latency in virtual time, slots decided, for reads through
  consensus, quorum reads and leased reads
  (``paxos_lit.variants.leases.compare``), plus the leases' own messages.
- ``failover``: the active leader crashes mid-run: the longest read with
  quorum reads and with leases (``leases.failover``).
- ``defects``: the original code's two state-reduction defects and an
  overconfident lease, caught by the checkers.
- ``safety``: every variant on ``--safety-seeds`` random deployments under
  random faults (with reconfigurations): violations, non-linearizable and
  incomplete runs (all must be 0).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paxos_lit.variants import VARIANTS, leases, safety_sweep, state_reduction  # noqa: E402  # noqa: E402
from paxos_lit.variants import garbage_collection as gc  # noqa: E402


def ratio(a, b):
    return None if not b else round(a / b, 3)


def memory(seed: int, commands: int) -> dict:
    r = gc.compare(seed, commands=commands)
    base = r["paper"]
    out = {"seed": seed, "commands": 3 * commands, "faults": len(r["faults"])}
    for name in ("paper", "state_reduction", "garbage_collection", "both"):
        m = r[name]
        out[name] = {"pvalues_held_end": m["pvalues_held_end"],
                     "pvalues_held_peak": m["pvalues_held_peak"],
                     "p1b_pvalues_mean": m["p1b"]["pvalues_mean"],
                     "p1b_pvalues_max": m["p1b"]["pvalues_max"],
                     "p1b_count": m["p1b"]["count"], "p2a_sent": m["p2a_sent"],
                     "adoptions": m["adoptions"],
                     "leader_proposals_end": m["leader_proposals_end"],
                     "messages_delivered": m["messages_delivered"],
                     "completed": m["completed"], "violations": m["violations"],
                     "linearizable": m["linearizable"]}
        if name != "paper":
            out[name]["ratio_pvalues_held_peak"] = ratio(m["pvalues_held_peak"],
                                                         base["pvalues_held_peak"])
            out[name]["ratio_p1b_pvalues_max"] = ratio(m["p1b"]["pvalues_max"],
                                                       base["p1b"]["pvalues_max"])
            out[name]["ratio_messages"] = ratio(m["messages_delivered"],
                                                base["messages_delivered"])
    stall = gc.stall(seed, commands=commands)["both"]
    out["gc_replica_down"] = {"faults": "r2 down from 100 to 300",
                              "pvalues_held_peak": stall["pvalues_held_peak"],
                              "pvalues_held_end": stall["pvalues_held_end"],
                              "series": stall["series"], "violations": stall["violations"]}
    return out


def reads(seed: int, commands: int) -> dict:
    out = {}
    for label, fraction in (("reads_90pct", 0.9), ("reads_only", 1.0)):
        r = leases.compare(seed, read_fraction=fraction, commands=commands)
        base = r["paper"]
        row = {"lease_messages": r["lease_messages"],
               "lease_messages_per_time": r["lease_messages_per_time"]}
        for name in ("paper", "quorum_read", "lease"):
            m = r[name]
            row[name] = {"messages_per_op": m["messages_per_op"],
                         "read_latency_mean": m["read_latency"]["mean"],
                         "read_latency_max": m["read_latency"]["max"],
                         "write_latency_mean": m["write_latency"]["mean"],
                         "decided_slots": m["decided_slots"], "reads": m["reads"],
                         "writes": m["writes"], "violations": m["violations"],
                         "linearizable": m["linearizable"]}
            if name != "paper":
                row[name]["ratio_messages_per_op"] = ratio(m["messages_per_op"],
                                                           base["messages_per_op"])
                row[name]["ratio_read_latency_mean"] = ratio(m["read_latency"]["mean"],
                                                             base["read_latency"]["mean"])
        out[label] = row
    return out


def failover(seed: int, commands: int) -> dict:
    r = leases.failover(seed, commands=commands)
    return {name: {"crashed": r[name]["crashed"],
                   "read_latency_max": r[name]["read_latency"]["max"],
                   "read_latency_mean": r[name]["read_latency"]["mean"],
                   "write_latency_max": r[name]["write_latency"]["max"],
                   "violations": r[name]["violations"], "linearizable": r[name]["linearizable"]}
            for name in ("quorum_read", "lease")}


def defects(seeds: int) -> dict:
    d = state_reduction.defects(range(seeds))
    out = {name: {"runs": v["runs"], "runs_with_violations": len(v["runs_with_violations"]),
                  "invariants": v["invariants"]} for name, v in d.items()}
    m = leases.margin_demo(range(seeds))
    out["overconfident lease"] = {
        "runs": m["overconfident"]["runs"],
        "not_linearizable": len(m["overconfident"]["not_linearizable"]),
        "correct_lease_not_linearizable": len(m["lease"]["not_linearizable"])}
    return out


def safety(seeds: int) -> dict:
    out = {}
    for name, roles in VARIANTS.items():
        s = safety_sweep(roles, range(seeds), reconfigure=True)
        out[name] = {k: s[k] for k in ("runs", "violations", "non_linearizable", "incomplete",
                                       "failing_seeds")}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--commands", type=int, default=100,
                    help="commands per client in the long run (default 100)")
    ap.add_argument("--safety-seeds", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="smaller runs (for a smoke test)")
    args = ap.parse_args(argv)
    commands = 30 if args.quick else args.commands
    safety_seeds = 20 if args.quick else args.safety_seeds
    t0 = time.perf_counter()
    out = {"bench": "variants", "seed": args.seed,
           "memory": memory(args.seed, commands),
           "growth": gc.growth(args.seed, (10, 20) if args.quick else (25, 50, 100, 200)),
           "reads": reads(args.seed, 20 if args.quick else 40),
           "failover": failover(args.seed, 20 if args.quick else 40),
           "defects": defects(10 if args.quick else 40),
           "safety": safety(safety_seeds)}
    out["wall_s"] = round(time.perf_counter() - t0, 3)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
