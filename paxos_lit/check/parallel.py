"""The breadth-first explorer on several processes (Linux, ``fork``).

``explore_parallel(model, workers=N)`` finds the same states as
``explore(model, fingerprints=True)`` (:mod:`paxos_lit.check.explore`), with
the successors computed by N worker processes. It is the same search,
level by level:

* each worker holds part of the current level (the states it found new)
  and expands it in chunks; for each successor it sends the main process
  three small things: the state's 64-bit fingerprint, its parent's, and the
  violations it breaks (almost always none). States themselves never cross
  a process boundary;
* the main process holds the one visited set (fingerprint -> parent
  fingerprint) and answers each chunk with the successors that are new;
  the worker keeps those for the next level and drops the rest;
* the main process takes the workers' chunks in a fixed round-robin order,
  so which states are new, which worker keeps them, the first violation and
  the counterexample are the same in every run (and the counts are those
  of the one-process search; when ``max_states`` cuts it, ``transitions``
  also counts the rest of the chunk where it stopped).

The counterexample is rebuilt in the main process as ``explore`` rebuilds
it, by re-running the model's successors along the chain of fingerprints.
A model here must give the same fingerprint for one state in every
process: its keys must not hash by object identity (the Multi-Paxos model's
interned role schemas hash by class name and fields for this reason).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from typing import Any

from .explore import ExploreResult, Model, Progress, Violation, _path_by_hashes, explore

__all__ = ["explore_parallel"]

#: States a worker expands before it reports (a few tenths of a second).
CHUNK = 2_000


def explore_parallel(
    model: Model[Any],
    *,
    workers: int = 2,
    max_depth: int | None = None,
    max_states: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    progress_every: int = 10_000,
    stop_on_violation: bool = True,
) -> ExploreResult:
    """Like ``explore(model, fingerprints=True, ...)``, on ``workers``
    processes; ``workers=1`` is exactly that call."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if workers == 1 or "fork" not in multiprocessing.get_all_start_methods():
        return explore(model, max_depth=max_depth, max_states=max_states, progress=progress,
                       progress_every=progress_every, stop_on_violation=stop_on_violation,
                       fingerprints=True)
    t0 = time.perf_counter()
    canon = getattr(model, "canonical", None)

    def fp(state) -> int:
        return hash(state if canon is None else canon(state))

    limit = max_states if max_states is not None else -1
    parent: dict[int, int | None] = {}
    found = _Found(parent, limit, stop_on_violation)
    transitions = 0
    depth = 0

    # Initial states, in the main process, dealt to the workers in turn.
    shares: list[list[tuple[int, Any]]] = [[] for _ in range(workers)]
    for s in model.initial_states():
        h = fp(s)
        if found.claim(h, None, model.check(s) if h not in parent else None):
            shares[(len(parent) - 1) % workers].append((h, s))
        if found.cut:
            break
    n_initial = len(parent)

    ctx = multiprocessing.get_context("fork")
    conns, procs = [], []
    try:
        for share in shares:
            mine, theirs = ctx.Pipe()
            p = ctx.Process(target=_worker, args=(theirs, model, fp, share), daemon=True)
            p.start()
            theirs.close()
            conns.append(mine)
            procs.append(p)
        shares = []
        next_report = max(1, progress_every)
        level_size = n_initial
        while level_size and not found.cut:
            if max_depth is not None and depth >= max_depth:
                found.cut = _any_new_parallel(conns, parent)
                break
            for c in conns:
                c.send(("level",))
            active = list(range(workers))
            sizes = [0] * workers
            while active:
                still = []
                for i in active:
                    msg = conns[i].recv()
                    if msg[0] == "done":
                        continue
                    _, n, succ = msg
                    transitions += n
                    keep = []
                    for h, ph, bad in succ:
                        if found.cut:
                            break
                        if found.claim(h, ph, bad):
                            keep.append(h)
                    sizes[i] += len(keep)
                    conns[i].send(("stop",) if found.cut else ("keep", keep))
                    still.append(i)
                    if progress is not None and len(parent) >= next_report:
                        next_report = len(parent) + max(1, progress_every)
                        progress(Progress(len(parent), transitions, depth, sum(sizes),
                                          time.perf_counter() - t0))
                active = still
            level_size = sum(sizes)
            if level_size:
                depth += 1
    finally:
        for c in conns:
            try:
                c.send(("exit",))
            except (BrokenPipeError, OSError):
                pass
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()

    counterexample: list[Any] = []
    trace: list[Any] = []
    if found.first_bad is not None:
        counterexample, trace = _path_by_hashes(found.first_bad, parent, model, fp)
    wall_s = time.perf_counter() - t0
    if progress is not None:
        progress(Progress(len(parent), transitions, depth, 0, wall_s, done=True))
    return ExploreResult(states=len(parent), transitions=transitions, complete=not found.cut,
                         violations=found.violations, counterexample=counterexample, depth=depth,
                         wall_s=wall_s, initial_states=n_initial, trace=trace, fingerprints=True)


class _Found:
    """The main process's visited set and what the search has found."""

    def __init__(self, parent: dict, limit: int, stop_on_violation: bool):
        self.parent = parent
        self.limit = limit
        self.stop = stop_on_violation
        self.violations: list[Violation] = []
        self.first_bad: int | None = None
        self.cut = False  # a bound or a violation ended the search

    def claim(self, h: int, ph: int | None, bad) -> bool:
        """Record state ``h`` (child of ``ph``) unless seen; True if new."""
        if h in self.parent:
            return False
        if len(self.parent) == self.limit:
            self.cut = True
            return False
        self.parent[h] = ph
        if bad:
            self.violations.extend(bad)
            if self.first_bad is None:
                self.first_bad = h
            if self.stop:
                self.cut = True
        return True


def _any_new_parallel(conns, parent) -> bool:
    """At the depth bound: does some state of the last level have a
    successor not yet visited? (The workers send the fingerprints.)"""
    for c in conns:
        c.send(("peek",))
    new = False
    for c in conns:
        hashes = c.recv()
        new = new or any(h not in parent for h in hashes)
    return new


def _worker(conn, model, fp, frontier: list) -> None:
    """A worker's loop: expand its part of each level in chunks, report
    (fingerprint, parent fingerprint, violations) for every successor, and
    keep for the next level the states the main process says are new."""
    successors = model.successors
    check = model.check
    nxt_level: list = []
    while True:
        cmd = conn.recv()
        if cmd[0] == "exit":
            return
        if cmd[0] == "peek":
            conn.send([fp(n) for _, s in frontier for _, n in successors(s)])
            continue
        # "level": expand the frontier, chunk by chunk.
        nxt_level = []
        stopped = False
        for start in range(0, len(frontier), CHUNK):
            n = 0
            found = []
            states = {}
            for ph, state in frontier[start:start + CHUNK]:
                for _label, nxt in successors(state):
                    n += 1
                    h = fp(nxt)
                    if h in states:
                        continue
                    states[h] = nxt
                    found.append((h, ph, check(nxt) or None))
            conn.send(("chunk", n, found))
            reply = conn.recv()
            if reply[0] == "stop":
                stopped = True
                break
            nxt_level.extend((h, states[h]) for h in reply[1])
        conn.send(("done",))
        frontier = [] if stopped else nxt_level
        nxt_level = []
