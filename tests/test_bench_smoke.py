"""Smoke tests of the benchmark scripts (issue 2, item 9) and of the
simulator's speed tricks that could change behaviour.

The benchmarks' speed targets are never asserted here (the rule: no
wall-clock assertions in tests); only that the scripts run, print the JSON
keys they promise with positive values, and reject bad options.  The speed
tricks (the cyclic garbage collector paused during ``run``, one event loop
shared by ``run`` and ``process``) are checked for what they must not
change.
"""

from __future__ import annotations

import gc
import heapq
import json
import subprocess
import sys
from pathlib import Path

import pytest

from paxos_lit.acceptor import Acceptor
from paxos_lit.sim.config import NetParams, SimConfig
from paxos_lit.sim.faults import FaultPlan
from paxos_lit.sim.simulator import Simulator

BENCH = Path(__file__).resolve().parent.parent / "bench"


def bench(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH / script), *args],
                          capture_output=True, text=True, timeout=60)


def test_bench_sim_quick_prints_its_keys():
    """bench_sim.py --quick --json prints the simulator's and the bare loop's
    message rates and their ratio, all positive, measured with loss and
    duplication active and the trace on."""
    out = bench("bench_sim.py", "--quick", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    for key in ("sim_msgs_per_s", "baseline_msgs_per_s", "ratio", "sim_untraced_msgs_per_s",
                "ratio_cpu"):
        assert result[key] > 0, key
    assert result["loss"] > 0 and result["dup"] > 0 and result["trace"] is True
    assert result["sim_messages"] == result["baseline_messages"] == 5000


def test_bench_paxos_quick_prints_its_keys():
    """bench_paxos.py --quick --json prints decided commands per second with
    invariant checks off and on (and trace on/off), all positive, for runs
    in which every command completed."""
    out = bench("bench_paxos.py", "--quick", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    for key in ("cmds_per_s", "cmds_per_s_checked", "cmds_per_s_traced",
                "cmds_per_s_checked_traced", "trace_sha256_s"):
        assert result[key] > 0, key
    assert result["commands"] == 100 and result["decided_slots"] >= 100


@pytest.mark.parametrize("script", ["bench_sim.py", "bench_paxos.py"])
def test_bench_rejects_a_bad_repeat(script):
    """A bad option value is one clear line naming the option, exit status 2."""
    out = bench(script, "--repeat", "0")
    assert out.returncode == 2
    assert "--repeat" in out.stderr and "Traceback" not in out.stderr


class GcProbe(Acceptor):
    """An acceptor that notes whether the cyclic garbage collector is on
    whenever it handles a p2a."""

    seen: list = []

    def on_P2a(self, msg):
        GcProbe.seen.append(gc.isenabled())
        super().on_P2a(msg)


@pytest.mark.parametrize("enabled", [True, False])
def test_run_pauses_the_garbage_collector_only_while_it_runs(enabled):
    """run() pauses Python's cyclic garbage collector during its loop (a speed
    trick) and leaves it as it found it: on if it was on, off if it was off."""
    GcProbe.seen = []
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        Simulator(SimConfig(commands=2), 3, roles={"acceptor": GcProbe}).run()
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()
    assert GcProbe.seen and not any(GcProbe.seen)


def test_stepping_with_process_is_the_same_run():
    """process(entry) handles exactly the one event given (events grows by
    one, nothing else is taken off the queue), so stepping a run event by
    event gives the same trace, hash and result as run() (DESIGN section 5:
    a run is a pure function of config, seed and plan)."""
    cfg = SimConfig(commands=6, net=NetParams(loss=0.1, dup=0.1))
    plan = FaultPlan.from_json([{"at": 20, "action": "crash", "process": "l1"},
                                {"at": 60, "action": "recover", "process": "l1"}])
    whole = Simulator(cfg, 11, plan).run()
    stepped = Simulator(cfg, 11, plan)
    while stepped.heap and not stepped.finished:
        before = stepped.events
        entry = heapq.heappop(stepped.heap)
        stepped.process(entry)
        assert stepped.events == before + 1
        assert stepped.now == entry[0]
    assert stepped.events == whole.events and stepped.delivered == whole.delivered
    assert list(stepped.trace) == list(whole.trace)
    assert stepped.trace.sha256() == whole.trace.sha256()
    assert stepped.result().to_json() == whole.result().to_json()
