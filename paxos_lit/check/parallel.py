"""The breadth-first explorer on several processes (Linux, ``fork``).

``explore_parallel(model, workers=N)`` finds the same states as
``explore(model, fingerprints=True)`` (:mod:`paxos_lit.check.explore`), with
the successors computed by N worker processes. It is the same search,
level by level:

* every state found gets a sequence number, in the order the main process
  takes it; the states of a level are expanded in blocks of ``CHUNK``
  consecutive numbers, each block by the worker that found its first state
  (the others of the block found by another worker are passed to it,
  pickled, through its inbox queue);
* for each successor a worker sends the main process three small things:
  the state's 64-bit fingerprint, its parent's, and the violations it
  breaks (almost always none);
* the main process holds the one visited set (fingerprint -> parent
  fingerprint), takes the blocks' results in block order, and answers each
  with the successors that are new and who keeps them.

Taking blocks in order is taking states in the order of the one-process
search, so the same state of each class of symmetric states is the one
expanded (the model's persistent sets depend on which), and the counts, the
first violation and the counterexample are those of ``explore``, in every
run (when ``max_states`` cuts the search, ``transitions`` also counts the
rest of the block where it stopped). While the main process reads one
block's results, the other workers are expanding theirs.

A worker checks, whenever it waits, that its main process is still there,
and exits if not: killing a search (even with SIGKILL) leaves no worker
holding its share of the states.

The counterexample is rebuilt in the main process as ``explore`` rebuilds
it, by re-running the model's successors along the chain of fingerprints.
A model here must give the same fingerprint for one state in every
process, and its states must pickle: its keys must not hash by object
identity (the Multi-Paxos model's interned role schemas hash by class name
and fields, and unpickle as the receiving process's own), and role classes
must be importable by name.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
from collections.abc import Callable
from typing import Any

from .explore import ExploreResult, Model, Progress, Violation, _path_by_hashes, explore

__all__ = ["explore_parallel"]

#: States a worker expands before it reports (a few tenths of a second).
CHUNK = 2_000
#: How often (seconds) an idle worker checks that the main process lives.
POLL_S = 0.5


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

    # Every state found gets a sequence number in the order the main process
    # takes it. States are expanded in blocks of CHUNK consecutive numbers,
    # block k by worker k % workers, and the main process takes the blocks'
    # successors in block order: the order of the one-process search, so
    # the same state of each symmetry class is the one expanded and the
    # results are the same.
    shares: list[list[tuple[int, int, Any]]] = [[] for _ in range(workers)]
    owners: dict[int, int] = {}  # block -> the worker that expands it
    seq = 0
    for s in model.initial_states():
        h = fp(s)
        if found.claim(h, None, model.check(s) if h not in parent else None):
            owner = owners.setdefault(seq // CHUNK, (seq // CHUNK) % workers)
            shares[owner].append((seq, h, s))
            seq += 1
        if found.cut:
            break
    n_initial = len(parent)

    ctx = multiprocessing.get_context("fork")
    conns, procs = [], []
    inboxes = [ctx.Queue() for _ in range(workers)]
    try:
        for me, share in enumerate(shares):
            mine, theirs = ctx.Pipe()
            p = ctx.Process(target=_worker, args=(theirs, model, fp, share, me, inboxes),
                            daemon=True)
            p.start()
            theirs.close()
            conns.append(mine)
            procs.append(p)
        shares = []
        next_report = max(1, progress_every)
        lo, hi = 0, seq  # the sequence numbers of the current level
        incoming = [0] * workers
        while hi > lo and not found.cut:
            if max_depth is not None and depth >= max_depth:
                for i, c in enumerate(conns):
                    c.send(("peek", incoming[i]))
                found.cut = any(h not in parent for c in conns for h in c.recv())
                break
            for i, c in enumerate(conns):
                c.send(("level", incoming[i]))
            incoming = [0] * workers
            ahead = [0] * workers  # blocks of the next level each worker has
            if seq % CHUNK:
                ahead[owners[seq // CHUNK]] += 1  # the block this level ends in
            blocks = range(lo // CHUNK, (hi - 1) // CHUNK + 1)
            for k, block in enumerate(blocks):
                i = owners[block]
                _, n, succ = conns[i].recv()
                transitions += n
                keep = []
                for h, ph, bad in succ:
                    if found.claim(h, ph, bad):
                        owner = owners.get(seq // CHUNK)
                        if owner is None:
                            # A new block goes to the worker that found its
                            # first state (most of a block comes from one
                            # block before it, so most states stay where they
                            # were made and keep sharing structure with their
                            # siblings), unless it has more blocks of the
                            # next level than another: then to the least busy.
                            least = min(range(workers), key=ahead.__getitem__)
                            owner = i if ahead[i] == ahead[least] else least
                            owners[seq // CHUNK] = owner
                            ahead[owner] += 1
                        keep.append((h, seq, owner))
                        if owner != i:
                            incoming[owner] += 1
                        seq += 1
                    if found.cut:
                        break
                conns[i].send(("stop",) if found.cut else ("keep", keep))
                if found.cut:
                    # Every other worker with a block left has one on the way.
                    for j in {owners[b] for b in blocks[k + 1:]} - {i}:
                        conns[j].recv()
                        conns[j].send(("stop",))
                    break
                if progress is not None and len(parent) >= next_report:
                    next_report = len(parent) + max(1, progress_every)
                    progress(Progress(len(parent), transitions, depth, seq - hi,
                                      time.perf_counter() - t0))
            lo, hi = hi, seq
            for block in [b for b in owners if b < lo // CHUNK]:
                del owners[block]  # done (the one this level ended in goes on)
            if hi > lo:
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
        for q in inboxes:
            q.cancel_join_thread()
            q.close()

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


def _worker(conn, model, fp, frontier: list, me: int, inboxes: list) -> None:
    """A worker's loop: take the states other workers found for it, expand
    its blocks of each level, report (fingerprint, parent
    fingerprint, violations) for every successor, keep the new ones the main
    process deals to it and pass the others on to their workers."""
    successors = model.successors
    check = model.check
    inbox = inboxes[me]
    parent = os.getppid()
    level = 0  # the level this worker expands next
    early: dict = {}  # level -> states for that later level that came in already
    try:
        while True:
            cmd = _recv(conn, parent)
            if cmd is None or cmd[0] == "exit":
                return
            # Take what the other workers found for this one, in the main
            # process's order. With three workers or more, two of them put
            # into one inbox, and one may already be passing on states of the
            # next level while the other's of this level are still on their
            # way: each state comes tagged with its level.
            taken = early.pop(level, [])
            while len(taken) < cmd[1]:
                item = _get(inbox, parent)
                if item is None:
                    return
                if item[0] == level:
                    taken.append(item[1:])
                else:
                    early.setdefault(item[0], []).append(item[1:])
            frontier.extend(taken)
            frontier.sort(key=_first)
            if cmd[0] == "peek":
                conn.send([fp(n) for _, _, s in frontier for _, n in successors(s)])
                continue
            # "level": expand the frontier, block by block.
            nxt_level: list = []
            blocks: dict = {}
            for entry in frontier:
                blocks.setdefault(entry[0] // CHUNK, []).append(entry)
            # Let each expanded block go at once: the memory a worker needs is
            # then about one level's states, not two.
            frontier = None
            for block in sorted(blocks):
                n = 0
                found = []
                states = {}
                for _, ph, state in blocks.pop(block):
                    for _label, nxt in successors(state):
                        n += 1
                        h = fp(nxt)
                        if h in states:
                            continue
                        states[h] = nxt
                        found.append((h, ph, check(nxt) or None))
                conn.send(("chunk", n, found))
                reply = _recv(conn, parent)
                if reply is None:
                    return
                if reply[0] == "stop":
                    nxt_level = []
                    break
                for h, seq, owner in reply[1]:
                    if owner == me:
                        nxt_level.append((seq, h, states[h]))
                    else:
                        inboxes[owner].put((level + 1, seq, h, states[h]))
            frontier = nxt_level
            level += 1
    finally:
        for q in inboxes:
            q.cancel_join_thread()


def _recv(conn, parent: int):
    """The main process's next command, or None once the main process has
    gone (killed, say): a worker must not outlive it. The pipe alone does
    not tell, since the other workers hold copies of its main end."""
    while not conn.poll(POLL_S):
        if os.getppid() != parent:
            return None
    try:
        return conn.recv()
    except EOFError:
        return None


def _get(inbox, parent: int):
    """The next state another worker passed on, or None if the main
    process has gone (see :func:`_recv`)."""
    while True:
        try:
            return inbox.get(timeout=POLL_S)
        except queue.Empty:
            if os.getppid() != parent:
                return None


def _first(x):
    return x[0]
