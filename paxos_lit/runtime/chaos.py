"""Chaos: clients keep working while nodes are killed with SIGKILL and restarted.

``chaos_run`` drives a :class:`~paxos_lit.runtime.cluster.LocalCluster`:

1. every node starts; closed-loop clients (the ``Client`` role over TCP) run a
   seeded mix of operations: ``append`` of a unique token to a few shared
   keys, ``put`` to a fresh key nobody else writes, ``get`` of a shared key,
   and ``cas`` on a key of its own kind;
2. every ``kill_every`` seconds a node chosen by the seeded generator gets
   ``kill -9`` and is started again at once (acceptors come back from
   SQLite, leaders above their last ballot, replicas from their decision log);
3. at ``duration`` the clients stop issuing new operations and finish the
   one they have in flight; then, through *each* replica on its own, clients
   read every shared key and every key that an acknowledged ``put`` wrote.

What it reports (``ChaosResult``), and what the chaos test asserts:

- ``lost``: acknowledged writes missing from the final reads (an append's
  token absent from the key's value, a put's key not holding its value):
  must be empty;
- ``duplicated``: tokens that appear more than once (a command applied
  twice): must be empty;
- ``linearizable``: the verdict of ``paxos_lit.check.linearizability.check``
  on the whole recorded history, final reads included;
- ``unanswered``: operations still without an answer after ``drain_timeout``
  (the clients retry until answered): must be 0;
- ``not_serving``: nodes that do not answer a status probe at the end, or
  replicas that did not answer their reads: must be empty.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import asdict, dataclass, field

from ..history import FORMAT
from ..kvstore import op_to_json, result_to_json
from .client import ClientHost, probe_all
from .cluster import LocalCluster

SHARED = ("k0", "k1", "k2")
CAS_KEY = "cas"


@dataclass
class ChaosResult:
    seed: int
    duration_s: float
    kills: list = field(default_factory=list)          # [time, node, old pid, new pid]
    ops: int = 0                                        # client operations issued
    acknowledged: int = 0
    unanswered: int = 0
    acknowledged_writes: int = 0
    final_reads: int = 0
    lost: list = field(default_factory=list)
    duplicated: list = field(default_factory=list)
    linearizable: bool | None = None
    lincheck_s: float = 0.0
    not_serving: list = field(default_factory=list)
    decided_slots: int = 0
    wall_s: float = 0.0
    history: dict | None = None

    @property
    def ok(self) -> bool:
        return (not self.lost and not self.duplicated and self.linearizable is True
                and not self.not_serving and self.unanswered == 0)

    def to_json(self, history: bool = False) -> dict:
        d = asdict(self)
        if not history:
            d.pop("history")
        d["ok"] = self.ok
        return d


def operations(rng: random.Random, pid: str):
    """A client's endless, seeded stream of operations (see the module doc)."""
    j = 0
    while True:
        j += 1
        x = rng.random()
        if x < 0.45:
            yield ("append", rng.choice(SHARED), f"{pid}.{j};")
        elif x < 0.55:
            yield ("put", f"p.{pid}.{j}", str(j))
        elif x < 0.85:
            yield ("get", rng.choice(SHARED))
        else:
            yield ("cas", CAS_KEY, rng.choice((None, "0", "1", "2")), str(rng.randrange(3)))


def _records(clients, t0) -> list:
    out = []
    for c in clients:
        for rec in c.history:
            op = rec["op"]
            answered = rec["return"] is not None
            out.append({"client": c.id, "call": round(rec["call"], 6),
                        "return": round(rec["return"], 6) if answered else None,
                        "op": op_to_json(op),
                        "result": result_to_json(op, rec["result"]) if answered else None,
                        "_op": op, "_result": rec["result"]})
    return out


def audit(writes, reads: dict) -> tuple:
    """Lost and duplicated writes.

    ``writes``: ``(op, acknowledged)`` for every put and append issued;
    ``reads``: replica -> key -> the value a final read returned.  An
    acknowledged append whose (unique) token is missing from a read of its
    key, or an acknowledged put whose key reads otherwise, is *lost*; a token
    found more than once was applied twice (*duplicated*)."""
    lost, duplicated = [], []
    for replica, seen in sorted(reads.items()):
        for op, acked in writes:
            kind, key, value = op
            if key not in seen:
                continue  # a put key read through the other replica
            got = seen[key] or ""
            if kind == "append":
                count = got.count(value)
                if acked and count == 0:
                    lost.append(f"{replica}: append {key} {value!r} acknowledged, "
                                "missing from the final read")
                if count > 1:
                    duplicated.append(f"{replica}: {value!r} appears {count} times in {key}")
            elif acked and got != value:
                lost.append(f"{replica}: put {key}={value!r} acknowledged, read {got!r}")
    return lost, duplicated


async def chaos_run(cluster: LocalCluster, *, duration: float = 20.0, kill_every: float = 1.0,
                    seed: int = 0, clients: int = 4, rate: float = 100.0,
                    drain_timeout: float = 30.0,
                    lincheck_timeout: float = 60.0, log=None) -> ChaosResult:
    """Run the scenario above on a started-or-not cluster; see the module doc."""
    from ..check.linearizability import check
    from ..history import parse_history

    t_start = time.monotonic()
    say = (lambda m: log(f"[{time.monotonic() - t_start:6.2f}] {m}")) if log else (lambda m: None)
    config = cluster.config
    rng = random.Random(seed)
    res = ChaosResult(seed=seed, duration_s=duration)
    wall0 = time.perf_counter()
    for n in config.nodes:
        if not cluster.alive(n.id):
            cluster.start(n.id)
    ready = await cluster.wait_ready(timeout=30)
    if any(v is None for v in ready.values()):
        raise RuntimeError(f"nodes did not start: {[k for k, v in ready.items() if v is None]}")

    t0 = time.monotonic()
    host = ClientHost(config)
    host.t0 = t0
    workers = [host.add_client(f"{host.id}-{i}", (), first=i) for i in range(clients)]
    plans = [operations(random.Random(f"{seed}/{i}"), f"c{i}") for i in range(clients)]
    say(f"chaos: {clients} clients, at most {rate:g} ops/s, {duration:g} s, "
        f"a kill every {kill_every:g} s")

    async def pace():
        # Closed loop (one operation in flight per client), at most `rate`
        # operations per second in all: PMMC keeps every slot for ever, so
        # each leader change costs work in proportion to the slots so far.
        issued = 0
        while True:
            allowed = int(rate * (time.monotonic() - t0)) + clients
            issued = max(issued, allowed - 2 * clients)  # no bursts after a stall
            for c, plan in zip(workers, plans):
                if issued < allowed and c.pending is None:
                    c.submit(next(plan))
                    issued += 1
            await asyncio.sleep(0.01)

    pacer = asyncio.get_running_loop().create_task(pace())

    # -- kill -9 and restart, every kill_every seconds ---------------------------
    node_ids = [n.id for n in config.nodes]
    end = t0 + duration
    next_kill = t0 + kill_every
    while True:
        now = time.monotonic()
        if next_kill >= end:
            await asyncio.sleep(max(0.0, end - now))
            break
        await asyncio.sleep(max(0.0, next_kill - now))
        victim = rng.choice(node_ids)
        old = cluster.procs[victim].pid
        await asyncio.get_running_loop().run_in_executor(None, cluster.kill, victim)
        new = cluster.start(victim).pid
        res.kills.append([round(time.monotonic() - t0, 3), victim, old, new])
        say(f"  t={time.monotonic() - t0:5.2f}s kill -9 {victim} (pid {old}) -> pid {new}")
        next_kill += kill_every

    # -- stop issuing; let the operations in flight finish -------------------------
    pacer.cancel()
    drained = await host.wait(workers, drain_timeout)
    say(f"chaos: clients drained: {drained}")
    statuses = await cluster.wait_ready(timeout=20)
    say("chaos: every node answers a status probe")

    # -- final reads, through each replica on its own --------------------------------
    records = _records(workers, t0)
    res.ops = len(records)
    res.acknowledged = sum(r["return"] is not None for r in records)
    res.unanswered = res.ops - res.acknowledged
    put_keys = sorted({r["_op"][1] for r in records
                       if r["_op"][0] == "put" and r["return"] is not None})
    readers = []
    for ri, replica in enumerate(config.replicas):
        keys = list(SHARED) + [CAS_KEY] + put_keys[ri::len(config.replicas)]
        per = max(1, (len(keys) + 3) // 4)
        for j in range(0, len(keys), per):
            readers.append((replica, host.add_client(
                f"{host.id}-read-{replica}-{j}", [("get", k) for k in keys[j:j + per]],
                replicas=(replica,))))
    read_ok = await host.wait([c for _, c in readers], drain_timeout)
    say(f"chaos: final reads all answered: {read_ok}")
    host.close()
    final = _records([c for _, c in readers], t0)
    records += final
    res.final_reads = len(final)

    # -- the verdicts ------------------------------------------------------------------
    values: dict = {}   # replica -> key -> value read
    unanswered_reads: dict = {}
    for replica, c in readers:
        for rec in c.history:
            if rec["return"] is not None:
                values.setdefault(replica, {})[rec["op"][1]] = rec["result"]
            else:
                unanswered_reads[replica] = unanswered_reads.get(replica, 0) + 1
    for replica, n in sorted(unanswered_reads.items()):
        res.not_serving.append(f"{replica}: {n} final read(s) unanswered")
    final_statuses = await probe_all(config, 2.0)
    for nid, st in final_statuses.items():
        if st is None or statuses.get(nid) is None:
            res.not_serving.append(f"{nid}: no status answer")
    res.decided_slots = max((info["slot_out"] - 1 for st in final_statuses.values() if st
                             for info in st["roles"].values() if info["kind"] == "replica"),
                            default=0)

    writes = [(r["_op"], r["return"] is not None) for r in records[:res.ops]
              if r["_op"][0] in ("put", "append")]
    res.acknowledged_writes = sum(acked for _, acked in writes)
    res.lost, res.duplicated = audit(writes, values)

    history = {"format": FORMAT, "model": "kv", "source": "paxos-lit chaos",
               "ops": [{"id": i, **{k: v for k, v in r.items() if not k.startswith("_")}}
                       for i, r in enumerate(records)]}
    res.history = history
    t = time.perf_counter()
    verdict = check(parse_history(history), timeout_s=lincheck_timeout)
    res.lincheck_s = round(time.perf_counter() - t, 3)
    res.linearizable = None if verdict.timed_out else verdict.linearizable
    res.wall_s = round(time.perf_counter() - wall0, 3)
    say(f"chaos: {res.ops} ops ({res.acknowledged} answered), {len(res.kills)} kills, "
        f"lost {len(res.lost)}, linearizable {res.linearizable}, ok {res.ok}")
    return res


def main(argv=None) -> int:
    """``python -m paxos_lit.runtime.chaos``: repeat the chaos run, one JSON
    line per run (the history is written with ``--history-dir``)."""
    import argparse
    import json
    import os
    import tempfile

    from .cluster import local_config

    ap = argparse.ArgumentParser(description="kill -9 chaos against a local cluster")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1, help="seed of the first run")
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--kill-every", type=float, default=1.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--durability", choices=("per-change", "group"), default="per-change")
    ap.add_argument("--data-dir", default=None, help="parent folder (default: the temp dir)")
    ap.add_argument("--history-dir", default=None)
    args = ap.parse_args(argv)
    failures = 0
    for i in range(args.runs):
        seed = args.seed + i
        with tempfile.TemporaryDirectory(dir=args.data_dir) as d:
            config = local_config(d, durability=args.durability)
            cluster = LocalCluster(config)
            try:
                res = asyncio.run(chaos_run(cluster, duration=args.duration,
                                            kill_every=args.kill_every, seed=seed,
                                            clients=args.clients, rate=args.rate))
            finally:
                cluster.stop_all()
        out = res.to_json()
        out["kills"] = len(res.kills)
        out["durability"] = args.durability
        if args.history_dir:
            os.makedirs(args.history_dir, exist_ok=True)
            with open(os.path.join(args.history_dir, f"chaos-{seed}.json"), "w") as f:
                json.dump(res.history, f)
        print(json.dumps(out), flush=True)
        failures += not res.ok
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
