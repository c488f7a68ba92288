"""Benchmark the linearizability checker on the 108 shared histories.

    python bench/bench_lincheck.py            # a short table
    python bench/bench_lincheck.py --json     # one JSON object on stdout

Every history in ``shared/data/lincheck`` is checked and its verdict compared
with ``expected.json``. Each pass checks all files; with ``--repeat N`` the
best of N passes is reported (the machine is shared, so the minimum is the
stable number); ``total_s`` is wall-clock time, ``total_cpu_s`` the process's
CPU time, which a busy machine disturbs less. Loading the files is timed
separately (``load_s``).

As a baseline measured in the same run, the files are also checked with a
plain Wing & Gong / Lowe search (below: the same algorithm without the
checker's shortcuts); ``speedup`` is its time over ours. ``--no-baseline``
skips it.

The shared folder is ``../shared`` beside the repository, or the folder named
by the environment variable ``PAXOS_LIT_SHARED``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from paxos_lit.check.linearizability import check, partition_by_key  # noqa: E402
from paxos_lit.history import History, load_history  # noqa: E402


def data_dir() -> Path:
    shared = os.environ.get("PAXOS_LIT_SHARED")
    base = Path(shared) if shared else Path(__file__).resolve().parents[2] / "shared"
    return base / "data" / "lincheck"


MEMO_CAP = 3_000_000  # configurations; about 0.5 GB


def plain_lowe(history: History) -> bool | None:
    """The baseline: Lowe's search per key with the memo, nothing more.

    Pending ops return at infinity and are optional; none of the checker's
    shortcuts (pending-op pruning, twins, reads first, taking turns). Kept
    deliberately simple; it reaches the same verdicts. None if it gives up.
    """
    parts = partition_by_key(history)
    for key in sorted(parts, key=lambda k: (len(parts[k]), k)):
        ops = parts[key]
        # Pending gets change nothing, and pending ops called after the last
        # return can go last: both are dropped, or the memo would hold every
        # subset of them.
        last = max((op.ret for op in ops if op.ret is not None), default=-1)
        ops = [op for op in ops if op.ret is not None
               or (op.op["kind"] != "get" and op.call <= last)]
        required = sum(op.ret is not None for op in ops)
        events = sorted(
            [(op.call, 0, i) for i, op in enumerate(ops)]
            + [(math.inf if op.ret is None else op.ret, 1, i) for i, op in enumerate(ops)]
        )
        size = len(events) + 2
        nxt = list(range(1, size + 1))
        prv = list(range(-1, size - 1))
        op_at = [-1] * size
        match = [0] * size
        where = {}
        for pos, (_, is_return, i) in enumerate(events, start=1):
            if is_return:
                match[where[i]] = pos
            else:
                op_at[pos] = i
                where[i] = pos
        # Plain tuples, not the ops' FrozenMaps: a fair baseline does not pay
        # for a Python-level __getitem__ in its inner loop.
        steps = []
        for op in ops:
            o, r = op.op, op.result
            steps.append((
                o["kind"],
                o.get("value", ""),
                o.get("expected") or "",
                None if r is None else (r.get("value") or "", r.get("ok")),
                1 if op.ret is not None else 0,
            ))
        state, bits, done, stack, memo = "", 0, 0, [], set()
        p = nxt[0]
        while done < required:
            i = op_at[p]
            if i < 0:
                if not stack:
                    return False
                p, state, bits, done = stack.pop()
                q = match[p]
                nxt[prv[q]] = q
                prv[nxt[q]] = q
                nxt[prv[p]] = p
                prv[nxt[p]] = p
                p = nxt[p]
                continue
            kind, value, expected, r, returned = steps[i]
            if kind == "get":
                ok, new = r is None or r[0] == state, state
            elif kind == "put":
                ok, new = True, value
            elif kind == "append":
                ok, new = True, state + value
            else:
                hit = state == expected
                ok = r is None or r[1] == hit
                new = value if hit else state
            if ok and (bits | 1 << i, new) not in memo:
                if len(memo) > MEMO_CAP:
                    return None  # give up rather than eat the shared machine
                memo.add((bits | 1 << i, new))
                stack.append((p, state, bits, done))
                state, bits = new, bits | 1 << i
                done += returned
                q = match[p]
                nxt[prv[p]] = nxt[p]
                prv[nxt[p]] = prv[p]
                nxt[prv[q]] = nxt[q]
                prv[nxt[q]] = prv[q]
                p = nxt[0]
            else:
                p = nxt[p]
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeat", type=int, default=3, help="passes; the best is kept")
    parser.add_argument("--timeout", type=float, default=None, help="per-file timeout_s")
    parser.add_argument("--no-baseline", action="store_true", help="skip the plain search")
    parser.add_argument("--data", type=Path, default=None, help="folder of histories")
    args = parser.parse_args(argv)

    folder = args.data or data_dir()
    expected = json.loads((folder / "expected.json").read_text())
    start = time.perf_counter()
    histories = {name: load_history(folder / f"{name}.json") for name in sorted(expected)}
    load_s = time.perf_counter() - start

    best_total = best_cpu = best_base = math.inf
    per_file = {name: math.inf for name in histories}
    correct = timed_out = base_correct = 0
    for _ in range(max(1, args.repeat)):
        total = 0.0
        correct = timed_out = 0
        cpu0 = time.process_time()
        for name, history in histories.items():
            t0 = time.perf_counter()
            result = check(history, timeout_s=args.timeout)
            wall = time.perf_counter() - t0
            total += wall
            per_file[name] = min(per_file[name], wall)
            correct += result.linearizable == expected[name] and not result.timed_out
            timed_out += result.timed_out
        best_total = min(best_total, total)
        best_cpu = min(best_cpu, time.process_time() - cpu0)
        if not args.no_baseline:
            # Measured in the same passes, so both see the same machine.
            t0 = time.perf_counter()
            gc.disable()  # as check() does, so the comparison is fair
            try:
                base_correct = sum(plain_lowe(h) == expected[n] for n, h in histories.items())
            finally:
                gc.enable()
            best_base = min(best_base, time.perf_counter() - t0)
    slowest = max(per_file, key=per_file.get)

    out = {
        "files": len(histories),
        "correct": correct,
        "total_s": round(best_total, 4),
        "total_cpu_s": round(best_cpu, 4),
        "max_file_s": round(per_file[slowest], 4),
        "slowest_file": slowest,
        "timed_out": timed_out,
        "load_s": round(load_s, 4),
        "repeat": max(1, args.repeat),
        "python": platform.python_version(),
    }
    if not args.no_baseline:
        out["baseline"] = {
            "name": "plain Lowe search (memo only)",
            "correct": base_correct,
            "total_s": round(best_base, 4),
        }
        out["speedup"] = round(best_base / best_total, 2)

    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key:>14}: {value}")
    return 0 if correct == len(histories) else 1


if __name__ == "__main__":
    sys.exit(main())
