"""Benchmark: the explorer against a bare BFS over the same successors.

    python bench/bench_check.py [--json] [--repeat N] [--model tiny|small]

Then the Multi-Paxos model (``paxos_lit.check.model``, the real role
classes): the standard configuration (2 leaders, 3 acceptors, 1 replica, 2
commands, 2 ballot rounds; target complete in <= 30 s, which it misses: it
has 1.1 million states even reduced, minutes of search) explored completely
with the reductions and a fingerprint visited set on one process per CPU, as
``paxos-lit check`` does (``--multipaxos-states N`` stops it at N states);
and smaller configurations explored completely, with and without the
reductions.
``--skip-multipaxos`` leaves them all out.

Both searches run on the Synod model (``Synod.tiny()`` by default, TLC's
MCPaxosTiny: 3,921 states). The baseline is the least a BFS can do: a deque,
a set, and the model's ``successors``; no invariant checks, no parent
pointers, no bounds, no counterexample. ``ratio`` is the explorer's states/s
over the baseline's, best of ``--repeat`` interleaved runs each (target >= 0.5). Both
are measured in this run, on this machine, so the ratio is comparable across
machines while the absolute rates are not.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paxos_lit.check.explore import explore  # noqa: E402
from paxos_lit.check.model import STANDARD, ModelConfig, check_model  # noqa: E402
from paxos_lit.synod import Synod  # noqa: E402


def bare_bfs(model: Synod) -> tuple[int, int]:
    """Distinct states and transitions, with nothing but a deque and a set."""
    successors = model.successors
    init = list(model.initial_states())
    seen = set(init)
    queue = deque(init)
    transitions = 0
    while queue:
        state = queue.popleft()
        for _label, nxt in successors(state):
            transitions += 1
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return len(seen), transitions


def multipaxos(config: ModelConfig, max_states: int | None, reduce: bool = False,
               fingerprints: bool = False, workers: int = 1) -> dict:
    """One exploration of the Multi-Paxos model; the counts, time and memory
    (the peak resident size of this process so far, so only the first, the
    largest, search's figure is its own)."""
    r = check_model(config, max_states=max_states, reduce=reduce,
                    fingerprints=fingerprints, workers=workers).result
    return {"config": config.to_json(), "reduce": reduce, "states": r.states,
            "transitions": r.transitions,
            "depth": r.depth, "complete": r.complete, "violations": len(r.violations),
            "wall_s": round(r.wall_s, 3), "states_per_s": round(r.states / r.wall_s, 1),
            "max_states": max_states, "fingerprints": r.fingerprints, "workers": workers,
            "collision_probability": r.collision_probability, "peak_rss_mb": _peak_mb(),
            "peak_worker_rss_mb": _peak_mb(children=True)}


def _peak_mb(children: bool = False) -> int:
    """Peak resident size of this process, or of the largest worker process
    that has ended, in MB."""
    import resource
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss // 1024


def best_of_interleaved(repeat: int, *fns):
    """Best wall time of each function, running them in turn ``repeat``
    times, so that a burst of load elsewhere hits both alike."""
    best = [float("inf")] * len(fns)
    outs = [None] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            outs[i] = fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best, outs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--repeat", type=int, default=7, help="runs of each, best kept")
    ap.add_argument("--model", choices=("tiny", "small"), default="tiny")
    ap.add_argument("--multipaxos-states", type=int, default=0,
                    help="bound on the standard Multi-Paxos configuration's search "
                         "(default 0: none, a complete search)")
    ap.add_argument("--skip-multipaxos", action="store_true")
    ap.add_argument("--workers", type=int, default=max(1, min(8, os.cpu_count() or 1)),
                    help="processes for the standard configuration (default: one per CPU)")
    args = ap.parse_args(argv)

    # A fresh model per run, so neither search profits from the other's
    # interning caches.
    make = Synod.tiny if args.model == "tiny" else Synod.small
    (t_base, t_exp), ((b_states, b_trans), res) = best_of_interleaved(
        args.repeat, lambda: bare_bfs(make()), lambda: explore(make())
    )
    assert res.states == b_states and res.transitions == b_trans, (res, b_states, b_trans)

    out = {
        "model": f"Synod.{args.model}()",
        "states": res.states,
        "transitions": res.transitions,
        "complete": res.complete,
        "states_per_s": round(res.states / t_exp, 1),
        "baseline_states_per_s": round(b_states / t_base, 1),
        "ratio": round(t_base / t_exp, 3),
        "explore_s": round(t_exp, 4),
        "baseline_s": round(t_base, 4),
        "repeat": args.repeat,
    }
    if not args.skip_multipaxos:
        one = ModelConfig(leaders=2, acceptors=3, replicas=1, commands=1, max_ballot=0)
        out["multipaxos_standard"] = multipaxos(STANDARD, args.multipaxos_states or None,
                                                reduce=True, fingerprints=True,
                                                workers=args.workers)
        out["multipaxos_one_round_reduced"] = multipaxos(
            dataclasses.replace(STANDARD, max_ballot=0), None, reduce=True)
        out["multipaxos_complete"] = multipaxos(one, None)
        out["multipaxos_complete_reduced"] = multipaxos(one, None, reduce=True)
        out["multipaxos_two_rounds_reduced"] = multipaxos(
            dataclasses.replace(STANDARD, commands=1), None, reduce=True)
        out["multipaxos_target_s"] = 30.0
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:>22}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
