"""Sweeps: many seeded runs at once, as a table.

A run is a pure function of ``(config, seed, plan)`` (DESIGN section 5), so a
sweep is embarrassingly parallel: hand the runs to any
:class:`concurrent.futures.Executor` and put the answers back in input order::

    import paxos_lit as px
    runs = px.grid([px.SimConfig()], range(100), px.random_fault_plan)
    table = px.sweep(runs)               # a list of dicts, one per run
    px.summarize(table)["failing"]       # positions of the runs that failed

- :func:`sweep` runs the table: in a process pool by default, in this
  process with ``executor="serial"`` (a browser kernel has no processes), or
  on any executor you pass, such as a ``dask.distributed`` cluster's
  ``client.get_executor()``.  Runs travel in chunks, so hundreds of small
  runs cost little overhead.  A progress bar appears when tqdm is installed
  (``tqdm.auto``: a widget in a notebook, text in a terminal); without tqdm
  the sweep is silent.
- :func:`grid` builds the list of runs (every config x every seed x every
  plan; a plan may be a function of ``(seed, config)``).
- :func:`random_fault_plan` draws a fault plan from a seed: loss,
  duplication, delays, crashes and recoveries, partitions and one-way blocks
  (and, on request, reconfigurations), all over by a known time after which
  everything is up and healed; :func:`random_config` draws a small
  deployment.
- :func:`summarize` counts what went wrong in a table;
  :func:`run_spec` / :func:`load_spec` turn one run into JSON and back, so a
  failing run can be stored and replayed.

Standard library only, like the rest of the core.
"""

from __future__ import annotations

import importlib
import math
import os
import random
import traceback
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import Executor, as_completed
from itertools import product

from ..errors import ConfigError
from .config import NetParams, SimConfig
from .faults import Action, FaultPlan
from .simulator import simulate

__all__ = ["SweepError", "calm_time", "grid", "load_spec", "random_config", "random_fault_plan",
           "run_spec", "summarize", "sweep"]


class SweepError(RuntimeError):
    """A run of a sweep raised an exception (not a protocol failure, which is
    data in the table: a crash of the simulator or of a student's role).

    ``index`` is the run's position in the input, ``spec`` its
    :func:`run_spec` (replayable JSON), ``details`` the worker's traceback."""

    def __init__(self, index: int, spec: dict, kind: str, message: str, details: str):
        self.index = index
        self.spec = spec
        self.kind = kind
        self.message = message
        self.details = details
        super().__init__(f"run {index} (seed {spec.get('seed')}) raised {kind}: {message}")

    def __reduce__(self):
        return (type(self), (self.index, self.spec, self.kind, self.message, self.details))


# -- describing runs ------------------------------------------------------------
def run_spec(config: SimConfig, seed: int, plan: FaultPlan | None = None) -> dict:
    """One run as plain JSON: ``{"config": ..., "seed": ..., "faults": [...]}``.

    Saved to a file, it is also a valid ``--faults`` file for ``paxos-lit
    simulate`` (which reads its ``faults`` key; pass the config's values as
    options)."""
    plan = plan if plan is not None else FaultPlan()
    return {"config": config.to_json(), "seed": seed, "faults": plan.to_json()}


def load_spec(obj: dict) -> tuple:
    """The inverse of :func:`run_spec`: ``(config, seed, plan)``."""
    if not isinstance(obj, dict):
        raise ConfigError("run", "must be an object with config, seed and faults")
    unknown = sorted(set(obj) - {"config", "seed", "faults"})
    if unknown:
        raise ConfigError(unknown[0], "is not a field of a run (fields: config, faults, seed)")
    config = SimConfig.from_json(obj.get("config", {}))
    seed = obj.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError("seed", f"must be an integer, got {seed!r}")
    return config, seed, FaultPlan.from_json(obj.get("faults", []))


def _normalize(i: int, run) -> tuple:
    """Check one entry of ``runs`` and turn JSON forms into objects."""
    where = f"runs[{i}]"
    if not isinstance(run, (tuple, list)) or len(run) != 3:
        raise ConfigError(where, "must be a (config, seed, plan) triple")
    config, seed, plan = run
    if isinstance(config, dict):
        config = SimConfig.from_json(config)
    elif not isinstance(config, SimConfig):
        raise ConfigError(f"{where}.config", f"must be a SimConfig, got {type(config).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"{where}.seed", f"must be an integer, got {seed!r}")
    if plan is None:
        plan = FaultPlan()
    elif isinstance(plan, (list, dict)):
        plan = FaultPlan.from_json(plan)
    elif not isinstance(plan, FaultPlan):
        raise ConfigError(f"{where}.plan",
                          f"must be a FaultPlan or None, got {type(plan).__name__}")
    return config, seed, plan


def grid(configs, seeds: Iterable[int], plans=(None,)) -> list[tuple]:
    """Every combination ``(config, seed, plan)``, configs outermost.

    ``configs`` is a SimConfig or an iterable of them; ``plans`` is a
    FaultPlan, None, an iterable of those, or a function ``plan(seed,
    config)`` (such as :func:`random_fault_plan`) called once per run."""
    if isinstance(configs, SimConfig):
        configs = [configs]
    configs = list(configs)
    seeds = list(seeds)
    if callable(plans):
        return [(c, s, plans(s, c)) for c, s in product(configs, seeds)]
    if plans is None or isinstance(plans, FaultPlan):
        plans = [plans]
    plans = list(plans)
    return [(c, s, p) for c, s, p in product(configs, seeds, plans)]


# -- running ------------------------------------------------------------------------
def _row(config: SimConfig, seed: int, plan: FaultPlan, result, history: bool) -> dict:
    """One table row: the run's inputs (config fields flat, the network's
    too), the plan's size, then the result's JSON keys (DESIGN section 6)."""
    row = {"seed": seed}
    for key, value in config.to_json().items():
        if key == "net":
            row.update(value)
        else:
            row[key] = value
    row["faults"] = len(plan)
    row.update(result.to_json())
    if history:
        row["history"] = result.history
    return row


def _run_chunk(chunk: list, options: dict) -> list:
    """Worker side: run each ``(index, config, seed, plan)``; return
    ``(index, "ok", row)``, ``(index, "config", (field, problem))`` or
    ``(index, "error", (type, message, traceback))`` per run.  Errors travel
    as plain data: not every exception survives pickling (ConfigError does
    not)."""
    history = options.get("history", False)
    kw = {k: options[k] for k in ("check", "trace", "linearizability", "roles") if k in options}
    out = []
    for index, config, seed, plan in chunk:
        try:
            result = simulate(config, seed, plan, **kw)
        except ConfigError as e:
            out.append((index, "config", (e.field, e.problem)))
        except Exception as e:  # reported to the caller as a SweepError
            out.append((index, "error", (type(e).__name__, str(e), traceback.format_exc())))
        else:
            out.append((index, "ok", _row(config, seed, plan, result, history)))
    return out


def _progress_bar(total: int, enabled: bool, desc: str):
    if not enabled:
        return None
    try:
        # Optional, so imported by name at run time: the core needs only the
        # standard library (tests/test_packaging.py checks its imports).
        tqdm = importlib.import_module("tqdm.auto").tqdm
    except Exception:
        return None
    return tqdm(total=total, desc=desc, unit="run")


def _workers_of(executor) -> int:
    n = getattr(executor, "_max_workers", None)
    return n if isinstance(n, int) and n > 0 else (os.cpu_count() or 1)


def sweep(runs: Iterable, *, executor: Executor | str | None = None, workers: int | None = None,
          chunksize: int | None = None, progress: bool = True, check: bool = True,
          trace: bool = True, linearizability: bool = True, history: bool = False,
          roles: dict | None = None, desc: str = "sweep") -> list[dict]:
    """Run every ``(config, seed, plan)`` of ``runs`` and return a table: one
    plain dict per run, in input order (whatever order they finish in).

    ``executor``: None for a fresh process pool of ``workers`` processes
    (default: one per CPU) that is shut down afterwards; ``"serial"`` to run
    here, one after another; or any :class:`concurrent.futures.Executor`
    (left running: it is yours), e.g. ``dask.distributed``'s
    ``client.get_executor()``.  Runs are sent in chunks of ``chunksize``
    (default: about four chunks per worker, at most 64 runs each; with an
    executor of your own, ``workers`` only sizes the chunks).

    ``check``, ``trace``, ``linearizability`` and ``roles`` are passed to
    :func:`~paxos_lit.sim.simulate`; role classes travel to the workers by
    reference, so define them in a module they can import.  ``history=True``
    adds each run's client history to its row.  A protocol failure is data
    in the row (``violations``, ``linearizable``, ``completed``); an
    exception inside a run stops the sweep with :class:`SweepError` (or
    ConfigError, naming ``runs[i]``, for bad input)."""
    items = [(i,) + _normalize(i, run) for i, run in enumerate(runs)]
    n = len(items)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ConfigError("workers", f"must be a positive integer, got {workers!r}")
    if chunksize is not None and (isinstance(chunksize, bool) or not isinstance(chunksize, int)
                                  or chunksize < 1):
        raise ConfigError("chunksize", f"must be a positive integer, got {chunksize!r}")
    if not (executor is None or executor == "serial" or isinstance(executor, Executor)):
        raise ConfigError("executor", "must be None, 'serial' or a concurrent.futures.Executor")
    options = {"check": check, "trace": trace, "linearizability": linearizability,
               "history": history, "roles": roles}
    rows: list = [None] * n
    bar = _progress_bar(n, progress and n > 0, desc)
    owned = None
    try:
        if n == 0:
            return []
        if executor == "serial":
            for item in items:
                _collect(_run_chunk([item], options), rows, items)
                if bar is not None:
                    bar.update(1)
            return rows
        if executor is None:
            # Imported here: a browser kernel (Pyodide) has no processes, and
            # importing the sweep module must still work there ("serial").
            from concurrent.futures import ProcessPoolExecutor

            owned = executor = ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1)
        per = 4 * (workers or _workers_of(executor))
        size = chunksize or max(1, min(64, math.ceil(n / per)))
        futures = [executor.submit(_run_chunk, items[k:k + size], options)
                   for k in range(0, n, size)]
        try:
            for future in as_completed(futures):
                done = future.result()
                _collect(done, rows, items)
                if bar is not None:
                    bar.update(len(done))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        return rows
    finally:
        if bar is not None:
            bar.close()
        if owned is not None:
            owned.shutdown(wait=True, cancel_futures=True)


def _collect(done: list, rows: list, items: list) -> None:
    for index, status, payload in done:
        if status == "ok":
            rows[index] = payload
            continue
        _, config, seed, plan = items[index]
        if status == "config":
            field, problem = payload
            raise ConfigError(f"runs[{index}].{field}", problem)
        kind, message, details = payload
        raise SweepError(index, run_spec(config, seed, plan), kind, message, details)


def summarize(table: list[dict]) -> dict:
    """What went wrong in a sweep's table, counted.

    ``violations``: runs with at least one violated invariant
    (``violation_count`` in total, ``invariants`` per name);
    ``non_linearizable``: runs whose history is not linearizable
    (``unchecked``: runs not checked); ``incomplete``: runs in which some
    client command was never answered; ``failing``: the positions (in the
    table, which is the input order) of every run with any of these."""
    invariants: Counter = Counter()
    out = {"runs": len(table), "violations": 0, "violation_count": 0, "non_linearizable": 0,
           "unchecked": 0, "incomplete": 0, "failing": [], "events": 0,
           "messages_delivered": 0, "virtual_time_max": 0.0, "wall_s": 0.0}
    for i, row in enumerate(table):
        bad = False
        if row["violations"]:
            out["violations"] += 1
            out["violation_count"] += len(row["violations"])
            invariants.update(v["invariant"] for v in row["violations"])
            bad = True
        if row["linearizable"] is False:
            out["non_linearizable"] += 1
            bad = True
        elif row["linearizable"] is None:
            out["unchecked"] += 1
        if row["completed"] < row["clients"] * row["commands"]:
            out["incomplete"] += 1
            bad = True
        if bad:
            out["failing"].append(i)
        out["events"] += row["events"]
        out["messages_delivered"] += row["messages_delivered"]
        out["virtual_time_max"] = max(out["virtual_time_max"], row["virtual_time"])
        out["wall_s"] += row["wall_s"]
    out["invariants"] = dict(sorted(invariants.items()))
    out["wall_s"] = round(out["wall_s"], 6)
    return out


# -- random fault plans ---------------------------------------------------------------
#: Relative weights of the kinds of fault episode :func:`random_fault_plan` draws.
EPISODES = (("crash", 4), ("partition", 2), ("block", 2), ("net", 2), ("link", 2),
            ("heal", 1))


def calm_time(plan: FaultPlan) -> float:
    """When the last action of ``plan`` happens (0 for an empty plan).  For a
    plan from :func:`random_fault_plan` everything is up and healed, with the
    config's network, from then on."""
    return max((a.at for a in plan), default=0.0)


def random_fault_plan(seed: int, config: SimConfig | None = None, *,
                      calm_at: float | None = None, episodes: int | None = None,
                      max_episodes: int = 12, max_loss: float = 0.3, max_dup: float = 0.3,
                      max_delay: float = 8.0, reconfigure: bool = False) -> FaultPlan:
    """A random but valid fault plan for ``config``, a pure function of its
    arguments (its own generator: the simulator's stream is untouched).

    The plan has a *fault period* ``[0, calm_at)``; ``calm_at`` is drawn
    from [50, 400] unless given (the workload of the default config needs
    about 60 time units on a calm network, so faults hit it mid-run).  In it,
    ``episodes`` fault episodes (default: 1 to ``max_episodes``) at uniform
    times, each of one kind drawn with the weights of ``EPISODES``:

    - ``crash``: a replica, leader or acceptor crashes and recovers later
      (at ``calm_at`` at the latest); a process's down periods never overlap,
      so every crash hits a live process and every recovery a dead one.
    - ``partition``: every process, clients included, is shuffled into 2 or
      3 non-empty groups (some may stay outside every group, keeping all
      their links); links between groups are cut both ways.
    - ``block``: a one-way partition from a random set of processes to
      another.
    - ``net``: the whole network's loss (up to ``max_loss``), duplication (up
      to ``max_dup``) and delay range (within [0, ``max_delay``]) change.
    - ``link``: the same for one directed link; a third of the time the link
      loses everything (loss 1).
    - ``heal``: every partition and block is lifted.
    - ``reconfigure`` (only with ``reconfigure=True``): 1 or 2 new leaders
      and 3 new acceptors take over (PMMC section 3.4); later episodes may
      crash, partition or block them too.

    At ``calm_at`` the plan ends every fault, in this order: ``heal``; the
    whole network and every link it changed back to ``config.net``; every
    process still down recovers.  From then on a majority of acceptors, a
    leader and a replica are up on a fair network, so every client command
    must complete (PMMC section 3.6): that is what the randomized sweep
    asserts, with :func:`calm_time` giving ``calm_at`` back from the plan."""
    config = config if config is not None else SimConfig()
    if not isinstance(config, SimConfig):
        raise ConfigError("config", f"must be a SimConfig, got {type(config).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError("seed", f"must be an integer, got {seed!r}")
    rng = random.Random(f"paxos_lit.random_fault_plan:{seed}")
    if calm_at is None:
        calm_at = round(rng.uniform(50.0, 400.0), 3)
    elif isinstance(calm_at, bool) or not isinstance(calm_at, (int, float)) \
            or not 0 < calm_at < math.inf:
        raise ConfigError("calm_at", f"must be a positive finite time, got {calm_at!r}")
    if episodes is None:
        if isinstance(max_episodes, bool) or not isinstance(max_episodes, int) \
                or max_episodes < 0:
            raise ConfigError("max_episodes", f"must be an integer >= 0, got {max_episodes!r}")
        episodes = rng.randint(min(1, max_episodes), max_episodes)
    elif isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 0:
        raise ConfigError("episodes", f"must be an integer >= 0, got {episodes!r}")
    for name, value in (("max_loss", max_loss), ("max_dup", max_dup)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not 0.0 <= value <= 1.0:
            raise ConfigError(name, f"must be a probability in [0, 1], got {value!r}")
    if isinstance(max_delay, bool) or not isinstance(max_delay, (int, float)) \
            or not 0 <= max_delay < math.inf:
        raise ConfigError("max_delay", f"must be a non-negative finite time, got {max_delay!r}")

    # Who exists so far: episodes are drawn in time order, so a process a
    # reconfiguration creates is only named after it exists.
    crashable = list(config.replica_ids + config.leader_ids + config.acceptor_ids)
    everyone = crashable + list(config.client_ids)
    next_leader, next_acceptor = config.leaders + 1, config.acceptors + 1
    kinds = [k for k, _ in EPISODES] + (["reconfigure"] if reconfigure else [])
    weights = [w for _, w in EPISODES] + ([1] if reconfigure else [])

    def net_fields(loss_cap: float) -> dict:
        lo = round(rng.uniform(0.0, max_delay), 3)
        return {"loss": round(rng.uniform(0.0, loss_cap), 3),
                "dup": round(rng.uniform(0.0, max_dup), 3),
                "delay_min": lo, "delay_max": round(rng.uniform(lo, max_delay), 3)}

    # Times strictly inside the fault period, rounded so the JSON stays short.
    times = sorted(min(round(rng.uniform(0.0, calm_at), 3), math.nextafter(calm_at, 0.0))
                   for _ in range(episodes))
    actions: list[Action] = []
    down: dict = {}                                # pid -> [(crash at, recover at)]
    links: list = []                               # links the plan changed, in order
    for at in times:
        kind = rng.choices(kinds, weights)[0]
        if kind == "crash":
            pid = rng.choice(crashable)
            back = calm_at if rng.random() < 0.2 else round(rng.uniform(at, calm_at), 3)
            if back <= at:
                continue
            # Disjoint from this process's other down periods, with room in
            # between, so the crash and the recovery are both valid.
            if any(not (back < s or at > e) for s, e in down.get(pid, ())):
                continue
            down.setdefault(pid, []).append((at, back))
            actions.append(Action(at=at, action="crash", process=pid))
            if back < calm_at:
                actions.append(Action(at=back, action="recover", process=pid))
        elif kind == "partition":
            pids = list(everyone)
            rng.shuffle(pids)
            k = rng.randint(2, 3) if len(pids) >= 3 else 2
            inside = rng.randint(k, len(pids))
            cuts = sorted(rng.sample(range(1, inside), k - 1))
            groups = [pids[a:b] for a, b in zip([0] + cuts, cuts + [inside])]
            actions.append(Action(at=at, action="partition",
                                  groups=tuple(tuple(sorted(g)) for g in groups)))
        elif kind == "block":
            half = max(1, len(everyone) // 2)
            src = tuple(sorted(rng.sample(everyone, rng.randint(1, half))))
            dst = tuple(sorted(rng.sample(everyone, rng.randint(1, half))))
            actions.append(Action(at=at, action="block", src=src, dst=dst))
        elif kind == "net":
            actions.append(Action(at=at, action="set", **net_fields(max_loss)))
        elif kind == "link":
            src, dst = rng.sample(everyone, 2)
            fields = net_fields(max_loss)
            if rng.random() < 1 / 3:
                fields["loss"] = 1.0
            actions.append(Action(at=at, action="set", link=(src, dst), **fields))
            if (src, dst) not in links:
                links.append((src, dst))
        elif kind == "reconfigure":
            n = rng.randint(1, 2)
            leaders = tuple(f"l{i}" for i in range(next_leader, next_leader + n))
            acceptors = tuple(f"a{i}" for i in range(next_acceptor, next_acceptor + 3))
            next_leader += n
            next_acceptor += 3
            actions.append(Action(at=at, action="reconfigure", leaders=leaders,
                                  acceptors=acceptors))
            crashable += leaders + acceptors
            everyone += leaders + acceptors
        else:
            actions.append(Action(at=at, action="heal"))
    # Stable sort: a recovery drawn at the same time as another action keeps
    # its place in the list, which is the order the simulator applies them in.
    actions.sort(key=lambda a: a.at)

    # The calm: everything back to normal at calm_at.
    base = config.net
    reset = {"loss": base.loss, "dup": base.dup, "delay_min": base.delay_min,
             "delay_max": base.delay_max}
    actions.append(Action(at=calm_at, action="heal"))
    actions.append(Action(at=calm_at, action="set", **reset))
    for link in links:
        actions.append(Action(at=calm_at, action="set", link=link, **reset))
    for pid in crashable:
        if any(e == calm_at for _, e in down.get(pid, ())):
            actions.append(Action(at=calm_at, action="recover", process=pid))
    return FaultPlan(tuple(actions))


def random_config(seed: int) -> SimConfig:
    """A small random deployment for sweeps, a pure function of ``seed``:
    1-3 replicas, 1-3 leaders, 3 or 5 acceptors, 1-4 clients with 3-12
    commands each, WINDOW 1-5, 1-3 keys, and a base network that is reliable
    two times in three, else lossy or duplicating (up to 10 %).  The leader
    policy stays ``backoff``: ``naive`` leaders may duel forever by design
    (PMMC section 3.6), so a liveness assertion would not hold for them."""
    rng = random.Random(f"paxos_lit.random_config:{seed}")
    net = NetParams(delay_min=0.5, delay_max=round(rng.uniform(0.5, 3.0), 3),
                    loss=round(rng.choice((0.0, 0.0, rng.uniform(0.0, 0.1))), 3),
                    dup=round(rng.choice((0.0, 0.0, rng.uniform(0.0, 0.1))), 3))
    return SimConfig(replicas=rng.randint(1, 3), leaders=rng.randint(1, 3),
                     acceptors=rng.choice((3, 3, 5)), clients=rng.randint(1, 4),
                     commands=rng.randint(3, 12), window=rng.randint(1, 5),
                     keys=rng.randint(1, 3), net=net)
