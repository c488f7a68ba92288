"""Throughput of the real TCP cluster against a bare asyncio ceiling.

What it runs (all on loopback, in one go):

1. the ceiling: a bare asyncio TCP server (another OS process) that echoes
   length-prefixed JSON frames (decoding and re-encoding each), driven by a
   client with 32 frames in flight; its messages per second divided by 12
   (about 12 messages per decided command: request, propose, 3 p2a, 3 p2b,
   2 decisions, response, plus acknowledgements) is what a cluster whose
   only cost was moving JSON frames could reach;
2. the cluster: 3 acceptors, 1 leader, 2 replicas as OS processes
   (``paxos-lit node``), closed-loop clients (each waits for its answer
   before the next command), counting decided (answered) commands per
   second over a measurement window, for each setting asked for.

``ratio`` = decided commands/s / ceiling; the issue's target is >= 0.25.
Settings (``--settings``): ``durability`` ``per-change`` (one SQLite
transaction, with its fsync, per acceptor state change: the default) or
``group`` (one per loop turn); ``batch``/``nobatch`` for ``batch_writes``
(frames to one peer in one loop turn leave in one write, or one write each);
``@DIR`` puts the SQLite files under DIR (``/dev/shm``: tmpfs, so fsync is
nearly free) instead of the default temp dir (disk).  The first setting is the
headline (the default configuration).  On a shared machine the numbers move
with the load, so each round measures the echo and then every setting once,
and the report gives medians over the rounds (and each round's figure).

    .venv/bin/python bench/bench_runtime.py --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time

from paxos_lit.runtime.client import ClientHost, probe_all
from paxos_lit.runtime.cluster import LocalCluster, free_ports, local_config

ECHO_SERVER = r"""
import asyncio, json, struct, sys
H = struct.Struct(">I")
class Echo(asyncio.Protocol):
    def connection_made(self, t):
        self.t = t; self.buf = bytearray()
    def data_received(self, data):
        buf = self.buf; buf += data; pos = 0; out = []
        while len(buf) - pos >= 4:
            (n,) = H.unpack_from(buf, pos)
            if len(buf) - pos - 4 < n: break
            obj = json.loads(bytes(buf[pos + 4:pos + 4 + n]))
            body = json.dumps(obj, separators=(",", ":")).encode()
            out.append(H.pack(len(body)) + body); pos += 4 + n
        del buf[:pos]
        if out: self.t.write(b"".join(out))
async def main():
    srv = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    await srv.serve_forever()
asyncio.run(main())
"""

#: A typical protocol frame's payload (a p2a), so the echo moves similar bytes.
SAMPLE = {"v": 1, "kind": "msg", "to": "a1", "seq": 12345,
          "msg": {"type": "P2a", "src": "l1.c17@9f3a21",
                  "pvalue": [[3, "l1"], 1234, ["k1a2b3c4d5e6", 77, ["put", "k3", "v77"]]]}}


async def echo_rate(port: int, in_flight: int, seconds: float) -> float:
    import struct

    h = struct.Struct(">I")
    body = json.dumps(SAMPLE, separators=(",", ":")).encode()
    frame = h.pack(len(body)) + body
    done = 0
    finished = asyncio.get_running_loop().create_future()
    deadline = [float("inf")]

    class Client(asyncio.Protocol):
        def connection_made(self, t):
            self.t = t
            self.buf = bytearray()
            t.write(frame * in_flight)

        def data_received(self, data):
            nonlocal done
            buf = self.buf
            buf += data
            pos, n_out = 0, 0
            while len(buf) - pos >= 4:
                (n,) = h.unpack_from(buf, pos)
                if len(buf) - pos - 4 < n:
                    break
                json.loads(bytes(buf[pos + 4:pos + 4 + n]))
                pos += 4 + n
                n_out += 1
            del buf[:pos]
            done += n_out
            if time.perf_counter() < deadline[0]:
                out = [json.dumps(SAMPLE, separators=(",", ":")).encode() for _ in range(n_out)]
                self.t.write(b"".join(h.pack(len(b)) + b for b in out))
            elif not finished.done():
                finished.set_result(None)

    loop = asyncio.get_running_loop()
    t, _ = await loop.create_connection(Client, "127.0.0.1", port)
    await asyncio.sleep(0.3)               # warm up
    start_done, t0 = done, time.perf_counter()
    deadline[0] = t0 + seconds
    await finished
    rate = (done - start_done) / (time.perf_counter() - t0)
    t.close()
    return rate


def measure_echo(in_flight: int, seconds: float) -> float:
    port = free_ports(1)[0]
    srv = subprocess.Popen([sys.executable, "-c", ECHO_SERVER, str(port)],
                           stdout=subprocess.PIPE, text=True)
    try:
        srv.stdout.readline()
        return asyncio.run(echo_rate(port, in_flight, seconds))
    finally:
        srv.kill()
        srv.wait()


async def _slot_out(config) -> int:
    """The highest slot_out among the replicas (slots decided and performed)."""
    statuses = await probe_all(config, 5.0)
    return max(info["slot_out"] for st in statuses.values() if st
               for info in st["roles"].values() if info["kind"] == "replica")


async def drive(config, clients: int, warmup: float, seconds: float, keys: int) -> dict:
    host = ClientHost(config)
    rng = random.Random(1)
    try:
        cs = []
        for i in range(clients):
            ops = []
            for j in range(100_000):
                k = f"k{rng.randrange(keys)}"
                ops.append(("put", k, str(j)) if j % 2 == 0 else ("get", k))
            cs.append(host.add_client(f"{host.id}c{i}", ops, first=i))
        await asyncio.sleep(warmup)
        s0 = await _slot_out(config)
        t0 = time.monotonic() - host.t0
        await asyncio.sleep(seconds)
        t1 = time.monotonic() - host.t0
        s1 = await _slot_out(config)
        done = sum(1 for c in cs for r in c.history
                   if r["return"] is not None and t0 <= r["return"] < t1)
        lat = sorted(r["return"] - r["call"] for c in cs for r in c.history
                     if r["return"] is not None and t0 <= r["return"] < t1)
        return {"decided": done, "seconds": t1 - t0, "cmds_per_s": done / (t1 - t0),
                "slots_decided": s1 - s0,
                "latency_ms_p50": round(1000 * lat[len(lat) // 2], 3) if lat else None,
                "latency_ms_p99": round(1000 * lat[int(len(lat) * 0.99)], 3) if lat else None}
    finally:
        host.close()


DEFAULT_SETTINGS = "per-change/batch,per-change/nobatch,group/batch,per-change/batch@/dev/shm"


def measure_cluster(durability: str, batch: bool, clients: int, warmup: float, seconds: float,
                    window: int, key: bool, data_dir: str | None) -> dict:
    if data_dir and not os.path.isdir(data_dir):
        data_dir = None
    with tempfile.TemporaryDirectory(dir=data_dir) as d:
        config = local_config(d, acceptors=3, leaders=1, replicas=2,
                              key="generate" if key else None, durability=durability,
                              batch_writes=batch, window=window)
        cluster = LocalCluster(config)
        try:
            cluster.start_all()
            ready = asyncio.run(cluster.wait_ready(timeout=20))
            if any(v is None for v in ready.values()):
                raise RuntimeError(f"nodes did not start: {ready}")
            out = asyncio.run(drive(config, clients, warmup, seconds, keys=16))
            return out
        finally:
            cluster.stop_all()


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--seconds", type=float, default=4.0, help="measurement window per run")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--window", type=int, default=5, help="the replicas' WINDOW")
    ap.add_argument("--rounds", type=int, default=2,
                    help="rounds; each measures the echo, then every setting once")
    ap.add_argument("--no-key", action="store_true", help="no HMAC on frames")
    ap.add_argument("--settings", default=DEFAULT_SETTINGS,
                    help="comma-separated DURABILITY/batch|nobatch[@DATA_PARENT_DIR]; the "
                         "first is the headline (the default configuration)")
    args = ap.parse_args(argv)

    settings = [x.strip() for x in args.settings.split(",") if x.strip()]
    echoes, runs = [], {s: [] for s in settings}
    for _ in range(args.rounds):
        echoes.append(measure_echo(32, args.seconds))
        for setting in settings:
            spec, _, where = setting.partition("@")
            dur, _, b = spec.partition("/")
            runs[setting].append(measure_cluster(dur, b != "nobatch", args.clients, args.warmup,
                                                 args.seconds, args.window, not args.no_key,
                                                 where or None))
    echo = _median(echoes)
    ceiling = echo / 12
    summary = {}
    for setting, rs in runs.items():
        rate = _median([r["cmds_per_s"] for r in rs])
        summary[setting] = {
            "cmds_per_s": round(rate, 1), "ratio": round(rate / ceiling, 4),
            "each_cmds_per_s": [round(r["cmds_per_s"], 1) for r in rs],
            "latency_ms_p50": round(_median([r["latency_ms_p50"] for r in rs]), 2),
            "latency_ms_p99": round(_median([r["latency_ms_p99"] for r in rs]), 2),
            "slots_per_s": round(_median([r["slots_decided"] for r in rs]) / args.seconds, 1)
            if all("slots_decided" in r for r in rs) else None}
    head = summary[settings[0]]
    best = max(summary, key=lambda k: summary[k]["cmds_per_s"])
    out = {"bench": "runtime", "echo_msgs_per_s": round(echo, 1),
           "echo_each": [round(e, 1) for e in echoes], "ceiling_cmds_per_s": round(ceiling, 1),
           "clients": args.clients, "window": args.window, "hmac": not args.no_key,
           "seconds": args.seconds, "rounds": args.rounds,
           "setting": settings[0], "cmds_per_s": head["cmds_per_s"], "ratio": head["ratio"],
           "target_ratio": 0.25, "best_setting": best, "best_ratio": summary[best]["ratio"],
           "runs": summary, "cpus": os.cpu_count(),
           "loadavg_1m": round(os.getloadavg()[0], 2)}
    print(json.dumps(out) if args.json else json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
