"""Benchmark: the dashboard's click-to-figures latency, and building each figure.

    python bench/bench_dashboard.py [--json] [--repeat N] [--messages N]

1. ``click``: a dashboard (headless: FigureWidgets without a browser) whose
   session has 1,000 events of history; one click crashes the active leader
   and runs 50 events, and the four figures are brought up to date in place.
   Median milliseconds over ``--repeat`` clicks (each from the same state,
   reached by replay and not timed).  Target <= 100 ms.  Measured for 5
   server processes (1 replica, 2 leaders, 2 acceptors) and for the default
   configuration (2 replicas, 2 leaders, 3 acceptors).  Two baselines from
   the same run: the simulator alone doing the same work, and the naive way
   to show the new state (build the four figures again as validated
   ``go.Figure`` objects); ``ratio`` is click / naive rebuild.
2. ``figures``: each ``figure_*`` function on a trace of at least
   ``--messages`` (10,000) message records, median seconds; target <= 1 s
   each (the message chart draws a window; see its docstring).  Baseline:
   converting the same trace to plain records (``trace.records()``), a
   single pass over it; ``ratio`` is figure / baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paxos_widgets import figures as F  # noqa: E402
from paxos_widgets.dashboard import Dashboard  # noqa: E402
from paxos_widgets.session import Session  # noqa: E402

import paxos_lit as px  # noqa: E402

MESSAGE_KINDS = ("send", "dup", "drop", "lost")


def _median_ms(samples):
    return round(statistics.median(samples) * 1000, 2)


def bench_click(config: px.SimConfig, seed: int, history: int, run_n: int, repeat: int) -> dict:
    d = Dashboard(config, seed=seed, background=False)
    s = d.session
    s.run(history)
    d.refresh()
    assert s.events == history and not s.finished, "the workload must outlast the history"

    def reset():
        with d.quiet():
            s.go_to(history)
            s.fork()
        d.refresh()

    def click():
        leader = s.active_leaders()[0]
        d.act("crash and run", lambda: (s.crash(leader), s.run(run_n)))

    clicks, two_clicks, sim_only, rebuild = [], [], [], []
    for _ in range(repeat):
        reset()
        t0 = time.perf_counter()
        click()
        clicks.append(time.perf_counter() - t0)
        assert not d.status.broken
        # The same as two clicks (crash button, then "run N"): two refreshes.
        reset()
        d.run_panel.n.value = run_n
        leader = s.active_leaders()[0]
        t0 = time.perf_counter()
        d.process_panel.crash_buttons[leader].click()
        d.run_panel.run_button.click()
        two_clicks.append(time.perf_counter() - t0)
        # Baselines: the simulator alone; and the simulator plus four
        # validated figures built from scratch.
        sess = Session(config, seed)
        sess.run(history)
        leader = sess.active_leaders()[0]
        t0 = time.perf_counter()
        sess.crash(leader)
        sess.run(run_n)
        sim_only.append(time.perf_counter() - t0)
        sess = Session(config, seed)
        sess.run(history)
        leader = sess.active_leaders()[0]
        t0 = time.perf_counter()
        sess.crash(leader)
        sess.run(run_n)
        for f in (F.figure_ballots, F.figure_slots, F.figure_messages, F.figure_history):
            f(sess)
        rebuild.append(time.perf_counter() - t0)
    servers = config.replicas + config.leaders + config.acceptors
    return {"servers": servers, "replicas": config.replicas, "leaders": config.leaders,
            "acceptors": config.acceptors, "clients": config.clients, "seed": seed,
            "history_events": history, "run_events": run_n,
            "click_ms": _median_ms(clicks), "click_ms_min": round(min(clicks) * 1000, 2),
            "two_clicks_ms": _median_ms(two_clicks),
            "baseline_sim_ms": _median_ms(sim_only),
            "baseline_rebuild_ms": _median_ms(rebuild),
            "ratio": round(statistics.median(clicks) / statistics.median(rebuild), 3),
            "target_ms": 100, "ok": statistics.median(clicks) <= 0.100}


def big_trace(messages: int, seed: int) -> px.Simulator:
    config = px.SimConfig(clients=4, commands=1000,
                          net=px.NetParams(loss=0.02, dup=0.02))
    plan = px.FaultPlan((px.crash(150, "l1"), px.recover(400, "l1"),
                         px.partition(600, ["a1", "l2"], ["a2", "a3", "l1", "r1", "r2"]),
                         px.heal(700)))
    sim = px.Simulator(config, seed, plan)
    while sum(1 for r in sim.trace if r[1] in MESSAGE_KINDS) < messages:
        before = sim.events
        sim.run(max_events=sim.events + 2000)
        if sim.events == before:
            break
    return sim


def bench_figures(messages: int, seed: int, repeat: int) -> dict:
    sim = big_trace(messages, seed)
    n_msgs = sum(1 for r in sim.trace if r[1] in MESSAGE_KINDS)
    base = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        sim.trace.records()
        base.append(time.perf_counter() - t0)
    baseline = statistics.median(base)
    out = {"trace_records": len(sim.trace), "message_records": n_msgs,
           "events": sim.events, "virtual_time": round(sim.now, 3),
           "baseline_records_s": round(baseline, 4), "target_s": 1.0, "figures": {}}
    runs = F.run_sweep(px.SimConfig(commands=5), losses=(0.0, 0.1, 0.2), seeds=(1, 2, 3))
    cases = {
        "ballots": lambda s: F.figure_ballots(s, slider=s_),
        "slots": lambda s: F.figure_slots(s, slider=s_),
        "messages": lambda s: F.figure_messages(s, slider=s_),
        "history": lambda s: F.figure_history(s, slider=s_),
        "sweep": lambda s: F.figure_sweep(runs, slider=s_),
    }
    for name, build in cases.items():
        row = {}
        for s_ in (0, 10):
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                build(sim)
                times.append(time.perf_counter() - t0)
            key = "s" if s_ == 0 else "slider10_s"
            row[key] = round(statistics.median(times), 4)
        row["ratio"] = round(row["s"] / baseline, 3)
        row["ok"] = row["s"] <= 1.0 and row["slider10_s"] <= 1.0
        out["figures"][name] = row
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--repeat", type=int, default=11, help="clicks measured (median kept)")
    ap.add_argument("--messages", type=int, default=10_000,
                    help="message records in the trace the figures draw")
    args = ap.parse_args(argv)
    five = px.SimConfig(replicas=1, leaders=2, acceptors=2, clients=3, commands=400)
    seven = px.SimConfig(clients=3, commands=400)
    out = {
        "click": [bench_click(five, 1, 1000, 50, args.repeat),
                  bench_click(seven, 1, 1000, 50, args.repeat)],
        "figures": bench_figures(args.messages, 1, max(3, args.repeat // 3)),
    }
    out["ok"] = all(c["ok"] for c in out["click"]) and all(
        f["ok"] for f in out["figures"]["figures"].values())
    if args.json:
        print(json.dumps(out))
    else:
        print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
