"""Benchmark: the simulator's message rate against a bare event loop.

    python bench/bench_sim.py [--json] [--repeat N] [--messages N] [--quick]

Both sides move the same number of messages between a few processes that
bounce every message straight back, so what is measured is the cost of
moving a message, not of Paxos.

- The **baseline** is the least a discrete-event loop can do: a heap of
  ``(time, seq, message)`` (``heapq`` pop and push), one method call per
  message that returns the reply, a ``@dataclass`` message, and a delay
  drawn from a seeded ``random.Random``.
- The **simulator** side is the real ``Simulator``: its run loop and
  ``process``, the processes' handler tables, ``_Env.send`` with loss and
  duplication probabilities above zero (0.01 each, so both paths are taken
  and draw random numbers), and the trace on.  Its processes are trivial
  ``Process`` subclasses put in every role through ``roles=``: each answers
  a ``Ping`` with a ``Pong`` and a ``Pong`` with a ``Ping``.  Invariant
  checks are off (they would look for acceptors and replicas that are not
  there).

``ratio`` is the simulator's messages per second over the baseline's: the
median, over ``--repeat`` rounds, of the ratio within a round (each round
runs the baseline, the simulator, and the simulator without its trace, one
after the other).  Target: >= 0.5.  The rates are medians over the rounds.
Both sides are measured in this run, on this machine, so the ratio is
comparable across machines while the absolute rates are not.  On a busy
machine wall time is noisy; ``ratio_cpu`` (the same from CPU time) is the
steadier number.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paxos_lit.messages import Ping, Pong  # noqa: E402
from paxos_lit.process import Process  # noqa: E402
from paxos_lit.sim.config import NetParams, SimConfig  # noqa: E402
from paxos_lit.sim.simulator import Simulator  # noqa: E402
from paxos_lit.types import Ballot  # noqa: E402

#: Messages each starter puts in flight to each bouncer at the start.
IN_FLIGHT = 4
LOSS = DUP = 0.01
DELAY_MIN, DELAY_MAX = 0.5, 1.5


# -- the baseline ----------------------------------------------------------------
@dataclass
class Msg:
    src: int
    dst: int
    hops: int


class Node:
    def __init__(self, pid):
        self.pid = pid

    def on_msg(self, msg: Msg) -> Msg:
        return Msg(self.pid, msg.src, msg.hops + 1)


def baseline(n_procs: int, n_messages: int, seed: int) -> int:
    """Deliver ``n_messages`` messages in a bare loop; return how many."""
    rng = random.Random(seed)
    rnd = rng.random
    span = DELAY_MAX - DELAY_MIN
    nodes = [Node(i) for i in range(n_procs)]
    heap: list = []
    seq = 0
    for src in range(n_procs):
        for dst in range(n_procs):
            if src != dst:
                for _ in range(IN_FLIGHT):
                    seq += 1
                    heapq.heappush(heap, (DELAY_MIN + span * rnd(), seq, Msg(src, dst, 0)))
    pop, push = heapq.heappop, heapq.heappush
    delivered = 0
    while heap and delivered < n_messages:
        now, _, msg = pop(heap)
        delivered += 1
        reply = nodes[msg.dst].on_msg(msg)
        seq += 1
        push(heap, (now + DELAY_MIN + span * rnd(), seq, reply))
    return delivered


# -- the simulator side ----------------------------------------------------------
class Bouncer(Process):
    """Starts by sending IN_FLIGHT pings to every other process, then answers
    a Ping with a Pong and a Pong with a Ping, to its sender.

    It stands in for every role; the simulator hands it that role's
    constructor arguments, which it ignores."""

    peers: tuple = ()  # every process id (set before the simulator is built)
    done = False       # the simulator asks clients whether they are finished

    def __init__(self, pid, env, *role_args):
        super().__init__(pid, env)

    def start(self) -> None:
        ballot = Ballot(0, self.id)
        for dst in self.peers:
            if dst != self.id:
                for _ in range(IN_FLIGHT):
                    self.env.send(dst, Ping(self.id, ballot))

    def on_Ping(self, msg: Ping) -> None:
        self.env.send(msg.src, Pong(self.id, msg.ballot, True))

    def on_Pong(self, msg: Pong) -> None:
        self.env.send(msg.src, Ping(self.id, msg.ballot))

    def history_ops(self) -> list:
        return []


def simulator(n_messages: int, seed: int, trace: bool = True) -> int:
    """Deliver about ``n_messages`` messages through the real Simulator."""
    cfg = SimConfig(replicas=2, leaders=1, acceptors=3, clients=2, commands=1,
                    net=NetParams(DELAY_MIN, DELAY_MAX, loss=LOSS, dup=DUP), until=1e12)
    # 8 processes, as in the baseline, each starting IN_FLIGHT pings to each other.
    Bouncer.peers = tuple(cfg.replica_ids) + tuple(cfg.leader_ids) + tuple(cfg.acceptor_ids) \
        + tuple(cfg.client_ids)
    sim = Simulator(cfg, seed, check=False, trace=trace,
                    roles=dict.fromkeys(("acceptor", "leader", "replica", "client"), Bouncer))
    sim.run(max_events=n_messages, stop_when_finished=False)
    return sim.delivered


def timed(fn, *args) -> tuple[float, float, int]:
    """Wall and CPU seconds of ``fn(*args)``, and what it returns."""
    gc.collect()  # the previous run's garbage is not this run's cost
    c0, t0 = time.process_time(), time.perf_counter()
    n = fn(*args)
    return time.perf_counter() - t0, time.process_time() - c0, n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--repeat", type=int, default=9, help="rounds (median kept)")
    ap.add_argument("--messages", type=int, default=100_000, help="messages per run")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="a smoke run: 5,000 messages, once")
    args = ap.parse_args(argv)
    if args.quick:
        args.messages, args.repeat = 5_000, 1
    if args.repeat < 1 or args.messages < 1:
        ap.error("--repeat and --messages must be >= 1")

    rates: dict[str, list[float]] = {"sim": [], "base": [], "untraced": []}
    cpu_rates: dict[str, list[float]] = {"sim": [], "base": [], "untraced": []}
    ratios, cpu_ratios = [], []
    counts = {}
    for _ in range(args.repeat):
        # Interleaved, and the ratio taken within each round: the machine is
        # shared, and a burst of load elsewhere then hits both sides alike.
        for name, fn, fargs in (("base", baseline, (8, args.messages, args.seed)),
                                ("sim", simulator, (args.messages, args.seed)),
                                ("untraced", simulator, (args.messages, args.seed, False))):
            wall, cpu, n = timed(fn, *fargs)
            rates[name].append(n / wall)
            cpu_rates[name].append(n / cpu)
            counts[name] = n
        ratios.append(rates["sim"][-1] / rates["base"][-1])
        cpu_ratios.append(cpu_rates["sim"][-1] / cpu_rates["base"][-1])

    out = {
        "sim_msgs_per_s": round(statistics.median(rates["sim"]), 1),
        "baseline_msgs_per_s": round(statistics.median(rates["base"]), 1),
        "ratio": round(statistics.median(ratios), 3),
        "sim_untraced_msgs_per_s": round(statistics.median(rates["untraced"]), 1),
        # The same from the best round of each side, and from CPU time (less
        # disturbed by other processes on a busy machine than wall time is).
        "ratio_best": round(max(rates["sim"]) / max(rates["base"]), 3),
        "ratio_cpu": round(statistics.median(cpu_ratios), 3),
        "ratios": [round(r, 3) for r in ratios],
        "sim_messages": counts["sim"],
        "baseline_messages": counts["base"],
        "loss": LOSS,
        "dup": DUP,
        "trace": True,
        "target_ratio": 0.5,
        "repeat": args.repeat,
    }
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:>24}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
