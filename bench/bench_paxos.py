"""Benchmark: decided commands per second of wall time, whole protocol.

    python bench/bench_paxos.py [--json] [--repeat N] [--quick]

One leader, three acceptors, two replicas, WINDOW 5, a reliable network
(delays in [0.5, 1.5], no loss, no duplication) and closed-loop clients
(10 x 200 = 2,000 commands by default), run by the real ``Simulator``: every
message goes through its queue and the roles' handlers.  Four variants run
interleaved, ``--repeat`` times each, and the median of each is reported:

- ``cmds_per_s``: invariant checks off, trace off (the target: >= 13,000/s);
- ``cmds_per_s_checked``: R1-R5, A1-A5, C1-C2 checked after every event;
- ``cmds_per_s_traced``: checks off, every event recorded in the trace;
- ``cmds_per_s_checked_traced``: both, as the CLI and the tests run.

``trace_sha256_s`` is the time to hash the trace once the run is over (the
CLI's ``trace_sha256``; not in the rates above).

A command counts once its client has its answer (so it was decided and
performed); the wall time covers building the simulator and running it to
the last answer.  For scale, the original PMMC code decides about 2,570
commands/s on this setup at best (one leader, thread queues, its sleeps
removed): ``vs_original_pmmc`` divides by that fixed number, which was
measured once on the project's 2-core machines, not in this run.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paxos_lit.sim.config import NetParams, SimConfig  # noqa: E402
from paxos_lit.sim.simulator import Simulator  # noqa: E402

#: Decided commands per second of the original PMMC code, sleeps removed
#: (measured once; see the module docstring).
ORIGINAL_PMMC_CMDS_PER_S = 2570.0

VARIANTS = {  # name -> (check, trace)
    "cmds_per_s": (False, False),
    "cmds_per_s_checked": (True, False),
    "cmds_per_s_traced": (False, True),
    "cmds_per_s_checked_traced": (True, True),
}


def config(clients: int, commands: int) -> SimConfig:
    return SimConfig(replicas=2, leaders=1, acceptors=3, clients=clients, commands=commands,
                     window=5, net=NetParams(loss=0.0, dup=0.0), until=1e9)


def one_run(cfg: SimConfig, seed: int, check: bool, trace: bool) -> tuple[float, dict]:
    """Wall seconds to build and run one simulation to its last answer, and
    its summary.  The previous run's garbage is collected first, so that one
    run's leftovers do not slow the next one's garbage collections."""
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    sim = Simulator(cfg, seed, check=check, trace=trace)
    sim.run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = sim.result().to_json()  # (computes the trace's hash, outside the timing)
    out["cpu_s"] = cpu
    if trace:
        t0 = time.perf_counter()
        sim.trace.sha256()
        out["sha256_s"] = time.perf_counter() - t0
        out["trace_records"] = len(sim.trace)
    return wall, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each variant (median kept)")
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--commands", type=int, default=200, help="commands per client")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: 2 x 50 commands, one run each")
    args = ap.parse_args(argv)
    if args.quick:
        args.clients, args.commands, args.repeat = 2, 50, 1
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")

    cfg = config(args.clients, args.commands)
    requested = args.clients * args.commands
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    cpu_times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    hashing: list[float] = []
    for _ in range(args.repeat):
        # Interleaved, so a burst of load elsewhere hits every variant alike.
        for name, (check, trace) in VARIANTS.items():
            wall, result = one_run(cfg, args.seed, check, trace)
            if result["completed"] != requested or result["violations"]:
                raise SystemExit(f"{name}: {result['completed']}/{requested} commands "
                                 f"completed, {len(result['violations'])} violations")
            times[name].append(wall)
            cpu_times[name].append(result["cpu_s"])
            if "sha256_s" in result:
                hashing.append(result["sha256_s"])
                records = result["trace_records"]

    out: dict = {name: round(requested / statistics.median(ts), 1) for name, ts in times.items()}
    out.update({
        "commands": requested,
        "decided_slots": result["decided_slots"],
        "events": result["events"],
        "messages_delivered": result["messages_delivered"],
        "virtual_time": result["virtual_time"],
        "wall_s": {name: round(statistics.median(ts), 4) for name, ts in times.items()},
        # The first rate from CPU time: steadier than wall time on a busy machine.
        "cmds_per_cpu_s": round(requested / statistics.median(cpu_times["cmds_per_s"]), 1),
        "check_cost": round(statistics.median(times["cmds_per_s_checked"])
                            / statistics.median(times["cmds_per_s"]), 3),
        "trace_cost": round(statistics.median(times["cmds_per_s_traced"])
                            / statistics.median(times["cmds_per_s"]), 3),
        "trace_records": records,
        "trace_sha256_s": round(statistics.median(hashing), 4),
        "vs_original_pmmc": round(out["cmds_per_s"] / ORIGINAL_PMMC_CMDS_PER_S, 2),
        "target_cmds_per_s": 13000,
        "repeat": args.repeat,
    })
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:>26}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
