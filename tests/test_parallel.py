"""The parallel explorer (paxos_lit.check.parallel): the same search as the
one-process explorer with fingerprints, on several worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paxos_lit.check.explore import explore
from paxos_lit.check.model import ModelConfig, PaxosModel, check_model
from paxos_lit.check.mutants import MUTANTS
from paxos_lit.check.parallel import explore_parallel
from paxos_lit.synod import Synod
from tests.test_explore import Grid

ROOT = Path(__file__).resolve().parent.parent


def _counts(r):
    return (r.states, r.transitions, r.depth, r.complete, r.initial_states)


@pytest.mark.parametrize("make", [lambda: Grid(12), Synod.tiny,
                                  lambda: PaxosModel(ModelConfig(commands=1), reduce=True),
                                  lambda: PaxosModel(ModelConfig(leaders=1, commands=2))],
                         ids=["grid", "synod", "paxos-reduced", "paxos-full"])
def test_parallel_counts_are_the_one_process_counts(make):
    """Two and three workers find exactly the states, transitions and depth
    of the one-process search (the Paxos models create role schemas inside
    the workers, after the fork: their fingerprints still agree)."""
    one = explore(make(), fingerprints=True)
    for workers in (2, 3):
        par = explore_parallel(make(), workers=workers)
        assert _counts(par) == _counts(one), workers
        assert par.fingerprints and par.ok


def test_parallel_counterexample_is_the_same_and_replays():
    """A mutant: the same first violation and the same shortest
    counterexample as the one-process search, in every run."""
    m = MUTANTS["leader_ignores_pmax"]
    one = explore(PaxosModel(m.model, m.roles, reduce=True), fingerprints=True)
    runs = [explore_parallel(PaxosModel(m.model, m.roles, reduce=True), workers=2)
            for _ in range(2)]
    for par in runs:
        assert par.violations[:1] == one.violations[:1]
        assert par.counterexample == one.counterexample
        assert not par.complete
    r = check_model(m.model, m.roles, reduce=True, workers=2)
    assert r.result.violations[0].invariant in m.expected and r.steps


def test_parallel_bounds():
    """max_states and max_depth cut the search as in the one-process one
    (cut by max_states, the transitions count all of the last chunk)."""
    for kw in ({"max_depth": 5}, {"max_depth": 24}):
        one = explore(Grid(12), fingerprints=True, **kw)
        par = explore_parallel(Grid(12), workers=2, **kw)
        assert _counts(par) == _counts(one), kw
    one = explore(Grid(12), fingerprints=True, max_states=50)
    par = explore_parallel(Grid(12), workers=2, max_states=50)
    assert (par.states, par.depth, par.complete) == (one.states, one.depth, False)
    assert par.transitions >= one.transitions


def test_parallel_progress_and_bad_workers():
    seen = []
    r = explore_parallel(Grid(40), workers=2, progress=seen.append, progress_every=200)
    assert seen[-1].done and seen[-1].states == r.states == 41 * 41
    assert len(seen) > 3
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError):
            explore_parallel(Grid(3), workers=bad)
    assert _counts(explore_parallel(Grid(5), workers=1)) == _counts(explore(Grid(5)))


@pytest.mark.parametrize("chunk", [1, 7, 100])
def test_parallel_small_blocks_give_the_same_search(monkeypatch, chunk):
    """Blocks smaller than a level, blocks that straddle two levels, and one
    state a block: still the one-process counts, violation and
    counterexample, with two and three workers."""
    import paxos_lit.check.parallel as par_mod

    monkeypatch.setattr(par_mod, "CHUNK", chunk)
    one = explore(PaxosModel(ModelConfig(leaders=2, commands=1, max_ballot=0), reduce=True),
                  fingerprints=True)
    m = MUTANTS["leader_ignores_pmax"]
    bad = explore(PaxosModel(m.model, m.roles, reduce=True), fingerprints=True)
    for workers in (2, 3):
        par = explore_parallel(PaxosModel(ModelConfig(leaders=2, commands=1, max_ballot=0),
                                          reduce=True), workers=workers)
        assert _counts(par) == _counts(one)
        pbad = explore_parallel(PaxosModel(m.model, m.roles, reduce=True), workers=workers)
        assert pbad.violations[:1] == bad.violations[:1]
        assert pbad.counterexample == bad.counterexample


def _children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(d))
    return out


def test_workers_do_not_outlive_a_killed_main_process():
    """Kill the main process of a long search with SIGKILL (no cleanup can
    run): its workers notice and exit by themselves, instead of holding
    their share of the states' memory forever."""
    code = ("from paxos_lit.check.model import PaxosModel, STANDARD;"
            "from paxos_lit.check.parallel import explore_parallel;"
            "explore_parallel(PaxosModel(STANDARD, reduce=True), workers=2)")
    main = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 60
        workers = []
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            workers = _children(main.pid)
        assert len(workers) >= 2, "the search never started its workers"
        time.sleep(1.0)  # let them get to work
    finally:
        main.kill()
        main.wait()
    deadline = time.monotonic() + 30
    alive = workers
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in workers if os.path.exists(f"/proc/{p}")
                 and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"]
    for p in alive:
        os.kill(p, signal.SIGKILL)  # do not leave them behind if the test fails
    assert not alive, f"workers {alive} outlived their main process"
