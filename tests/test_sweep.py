"""The sweep runner (issue 2, item 8): many seeded runs on any executor, one
table, in input order.

A run is a pure function of ``(config, seed, plan)`` (DESIGN section 5), so
where it runs (this process, a process pool, a Dask cluster) must not change
a single number of its result except the wall-clock time.
"""

from __future__ import annotations

import pickle
import sys
from concurrent.futures import Executor, Future, ProcessPoolExecutor

import pytest

from paxos_lit import (
    ConfigError,
    FaultPlan,
    NetParams,
    SimConfig,
    crash,
    heal,
    partition,
    recover,
    simulate,
)
from paxos_lit.acceptor import Acceptor
from paxos_lit.sim.sweep import (
    SweepError,
    grid,
    load_spec,
    random_fault_plan,
    run_spec,
    summarize,
    sweep,
)

SMALL = SimConfig(clients=2, commands=4)
LOSSY = SimConfig(clients=2, commands=4, net=NetParams(loss=0.1, dup=0.1))
PLAN = FaultPlan((crash(5, "l1"), partition(8, ["a1"], ["a2", "a3"]), heal(30),
                  recover(40, "l1")))


def six_runs():
    """Six small runs with faults: two configs x three seeds."""
    return [(SMALL, 1, None), (SMALL, 2, PLAN), (LOSSY, 3, PLAN),
            (LOSSY, 4, None), (SMALL, 5, random_fault_plan(5, SMALL)),
            (LOSSY, 6, random_fault_plan(6, LOSSY))]


def strip(table):
    """Rows without their wall-clock time, the one field allowed to differ."""
    return [{k: v for k, v in row.items() if k != "wall_s"} for row in table]


@pytest.fixture(scope="module")
def serial_table():
    return sweep(six_runs(), executor="serial", progress=False)


@pytest.fixture(scope="module")
def pool_table():
    return sweep(six_runs(), progress=False, workers=2)


class DeferredExecutor(Executor):
    """Holds every submitted task and runs them all, last submitted first,
    once ``expect`` tasks are in: completion order is the reverse of input
    order, deterministically (no clocks, no threads)."""

    def __init__(self, expect, max_workers=2):
        self.expect = expect
        self._max_workers = max_workers
        self.tasks = []

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        self.tasks.append((future, fn, args, kwargs))
        if len(self.tasks) == self.expect:
            for fut, f, a, kw in reversed(self.tasks):
                fut.set_result(f(*a, **kw))
        return future


class CountingExecutor(Executor):
    """Runs each task at once, counting submissions (to observe chunking)."""

    def __init__(self, max_workers=2):
        self._max_workers = max_workers
        self.submits = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submits += 1
        future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


class RaisingAcceptor(Acceptor):
    """A broken student acceptor: it raises on its first phase 2 message."""

    def on_P2a(self, msg):
        raise RuntimeError("student code crashed")


def test_row_has_config_seed_plan_size_and_result_keys(serial_table):
    """A row is the run's inputs (config fields, the network's flattened,
    seed, plan size) plus every key of RunResult.to_json (DESIGN section 6),
    with the same values a direct simulate() gives."""
    config, seed, plan = six_runs()[2]
    row = serial_table[2]
    direct = simulate(config, seed, plan).to_json()
    for key, value in direct.items():
        assert key in row
        if key != "wall_s":
            assert row[key] == value, key
    for key, value in config.to_json().items():
        if key == "net":
            for k, v in value.items():
                assert row[k] == v
        else:
            assert row[key] == value
    assert row["faults"] == len(plan) == 4
    assert row["seed"] == seed == 3
    assert "history" not in row


def test_process_pool_matches_serial(serial_table, pool_table):
    """Same (config, seed, plan), same result, in whichever process it ran:
    identical rows (trace hash included) apart from wall_s."""
    assert len(pool_table) == 6
    assert strip(pool_table) == strip(serial_table)
    assert [row["seed"] for row in pool_table] == [1, 2, 3, 4, 5, 6]
    # Not a vacuous comparison: the runs differ from one another.
    assert len({row["trace_sha256"] for row in pool_table}) == 6


def test_dask_executor_drops_in(serial_table, pool_table):
    """A dask.distributed cluster's executor (client.get_executor()) runs
    the same sweep and gets the same table as the process pool and a serial
    run (issue 2, item 8)."""
    distributed = pytest.importorskip("distributed")
    # In-process scheduler and worker (inproc:// transport): no port opens.
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                       dashboard_address=None)
    try:
        client = distributed.Client(cluster)
        try:
            table = sweep(six_runs(), executor=client.get_executor(), progress=False)
        finally:
            client.close()
    finally:
        cluster.close()
    assert strip(table) == strip(pool_table) == strip(serial_table)


def test_results_come_back_in_input_order():
    """Chunks that finish in reverse order still fill the table in input
    order."""
    runs = six_runs()
    executor = DeferredExecutor(expect=len(runs))
    table = sweep(runs, executor=executor, chunksize=1, progress=False)
    assert len(executor.tasks) == 6
    assert [row["seed"] for row in table] == [1, 2, 3, 4, 5, 6]
    assert strip(table) == strip(sweep(runs, executor="serial", progress=False))


def test_runs_travel_in_chunks():
    """Small runs are sent several per task (fewer submissions than runs);
    an explicit chunksize is honoured; chunking never changes the table."""
    runs = grid(SimConfig(clients=1, commands=2), range(40))
    auto = CountingExecutor(max_workers=2)
    table = sweep(runs, executor=auto, progress=False)
    assert 1 < auto.submits <= 10
    seven = CountingExecutor()
    assert strip(sweep(runs, executor=seven, chunksize=7, progress=False)) == strip(table)
    assert seven.submits == 6  # ceil(40 / 7)
    assert [row["seed"] for row in table] == list(range(40))


def test_caller_executor_is_left_running():
    """An executor passed in belongs to the caller: the sweep does not shut
    it down."""
    with ProcessPoolExecutor(max_workers=1) as pool:
        first = sweep(six_runs()[:2], executor=pool, progress=False)
        second = sweep(six_runs()[:2], executor=pool, progress=False)
    assert strip(first) == strip(second)


def test_grid_order_and_plan_functions():
    """grid is configs x seeds x plans, configs outermost; a plan may be a
    function of (seed, config), called once per run."""
    a, b = SMALL, LOSSY
    runs = grid([a, b], [1, 2], [None, PLAN])
    assert runs == [(a, 1, None), (a, 1, PLAN), (a, 2, None), (a, 2, PLAN),
                    (b, 1, None), (b, 1, PLAN), (b, 2, None), (b, 2, PLAN)]
    assert grid(a, [3], PLAN) == [(a, 3, PLAN)]
    generated = grid([a, b], [7, 8], random_fault_plan)
    assert [(c, s) for c, s, _ in generated] == [(a, 7), (a, 8), (b, 7), (b, 8)]
    assert generated[1][2] == random_fault_plan(8, a)


def test_history_rows_on_request():
    """history=True adds each run's client history (history format)."""
    table = sweep([(SMALL, 1, None)], executor="serial", progress=False, history=True)
    history = table[0]["history"]
    assert history["format"] == "paxos-lit-history/1"
    assert len(history["ops"]) == SMALL.clients * SMALL.commands


def test_progress_bar_uses_tqdm(capsys):
    """With tqdm installed the sweep shows tqdm's auto bar (a text bar
    outside a notebook, on stderr); progress=False is silent."""
    pytest.importorskip("tqdm")
    sweep(six_runs()[:2], executor="serial", progress=True, desc="paxos-sweep")
    err = capsys.readouterr().err
    assert "paxos-sweep" in err and "2/2" in err
    sweep(six_runs()[:2], executor="serial", progress=False)
    assert capsys.readouterr().err == ""


def test_progress_without_tqdm_is_silent(monkeypatch, capsys):
    """The core needs only the standard library: without tqdm a sweep still
    runs, silently."""
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    table = sweep(six_runs()[:2], executor="serial", progress=True)
    assert len(table) == 2
    assert capsys.readouterr().err == ""


def test_summarize_counts_failures():
    """summarize counts runs with violations (and per invariant), histories
    that are not linearizable, unchecked ones, and runs with unanswered
    commands; `failing` lists their positions."""
    ok = {"clients": 2, "commands": 3, "completed": 6, "violations": [], "linearizable": True,
          "events": 10, "messages_delivered": 8, "virtual_time": 5.0, "wall_s": 0.1}
    table = [ok,
             {**ok, "violations": [{"invariant": "R1"}, {"invariant": "A4"}]},
             {**ok, "linearizable": False},
             {**ok, "completed": 5},
             {**ok, "linearizable": None, "virtual_time": 9.0}]
    s = summarize(table)
    assert s["runs"] == 5
    assert (s["violations"], s["violation_count"]) == (1, 2)
    assert s["invariants"] == {"A4": 1, "R1": 1}
    assert (s["non_linearizable"], s["unchecked"], s["incomplete"]) == (1, 1, 1)
    assert s["failing"] == [1, 2, 3]
    assert s["events"] == 50 and s["virtual_time_max"] == 9.0


def test_summarize_sees_a_stalled_run():
    """With two of three acceptors down for good no majority exists, so no
    command can be decided (PMMC section 3, 2f+1 acceptors tolerate f
    crashes): summarize reports the run as incomplete; the same run without
    the crashes completes."""
    config = SimConfig(clients=1, commands=3, until=500.0)
    stall = FaultPlan((crash(0, "a1"), crash(0, "a2")))
    table = sweep([(config, 0, stall), (config, 0, None)], executor="serial", progress=False)
    s = summarize(table)
    assert s["incomplete"] == 1 and s["failing"] == [0]
    assert table[0]["completed"] == 0 and table[0]["violations"] == []
    assert table[1]["completed"] == 3


def test_run_spec_round_trips():
    """run_spec gives plain JSON that load_spec turns back into the run."""
    import json

    config, seed, plan = six_runs()[4]
    spec = json.loads(json.dumps(run_spec(config, seed, plan)))
    assert load_spec(spec) == (config, seed, plan)
    assert load_spec(run_spec(SMALL, 1))[2] == FaultPlan()
    with pytest.raises(ConfigError) as e:
        load_spec({"config": {}, "seed": 1, "plan": []})
    assert e.value.field == "plan"


def test_bad_runs_name_the_entry():
    """Bad input to a sweep names the run and the field (issue 2, item 7)."""
    with pytest.raises(ConfigError) as e:
        sweep([(SMALL, 1, None), (SMALL, "x", None)], executor="serial", progress=False)
    assert e.value.field == "runs[1].seed"
    with pytest.raises(ConfigError) as e:
        sweep([(SMALL, 1)], executor="serial", progress=False)
    assert e.value.field == "runs[0]"
    with pytest.raises(ConfigError) as e:
        sweep([("config", 1, None)], executor="serial", progress=False)
    assert e.value.field == "runs[0].config"
    with pytest.raises(ConfigError) as e:
        sweep([(SMALL, 1, "plan")], executor="serial", progress=False)
    assert e.value.field == "runs[0].plan"
    with pytest.raises(ConfigError) as e:
        sweep([(SMALL, 1, None)], executor="threads", progress=False)
    assert e.value.field == "executor"
    for name, value in (("workers", 0), ("chunksize", -1)):
        with pytest.raises(ConfigError) as e:
            sweep([(SMALL, 1, None)], progress=False, **{name: value})
        assert e.value.field == name


def test_plan_invalid_for_its_config_names_run_and_field():
    """A plan that does not fit its config (here: crashing a process the
    config does not have) fails in the worker; the error names the run."""
    bad = FaultPlan((crash(1, "l9"),))
    with pytest.raises(ConfigError) as e:
        sweep([(SMALL, 1, None), (SMALL, 2, bad)], progress=False, workers=1)
    assert e.value.field == "runs[1].faults[0].process"
    assert "l9" in str(e.value)


def test_exception_in_a_run_is_a_sweep_error():
    """An exception inside a run (a broken role, not a protocol failure)
    stops the sweep with SweepError carrying the replayable run spec and the
    worker's traceback."""
    with pytest.raises(SweepError) as e:
        sweep([(SMALL, 1, None), (SMALL, 2, None)], executor="serial", progress=False,
              roles={"acceptor": RaisingAcceptor})
    err = e.value
    assert err.index == 0 and err.spec == run_spec(SMALL, 1)
    assert err.kind == "RuntimeError" and "student code crashed" in err.details
    # It survives pickling (e.g. to be re-raised across processes).
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) and again.spec == err.spec


def test_empty_sweep():
    assert sweep([], progress=False) == []
    assert summarize([])["runs"] == 0
