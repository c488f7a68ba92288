"""Subcommands of the real cluster: ``cluster``, ``node`` and ``kv``.

``register`` adds them to the main parser (see ``paxos_lit.cli``)::

    paxos-lit cluster init [--config FILE] [--base-port N] [--no-key] [--force]
    paxos-lit cluster up [--config FILE]       # every node as a child process
    paxos-lit cluster status [--config FILE] [--json]
    paxos-lit cluster down [--config FILE]
    paxos-lit node --config FILE --id ID       # one node, in the foreground
    paxos-lit kv get KEY | put KEY VALUE | append KEY VALUE
    paxos-lit kv cas KEY VALUE [--expected OLD]   # no --expected: KEY must be missing

Without ``--config``, the cluster file is ``$PAXOS_LIT_CONFIG`` or
``./paxos-cluster.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

from ..errors import ConfigError


def _positive(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return v


def _port(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= v <= 65535 - 16:
        raise argparse.ArgumentTypeError(f"port must be in [1, 65519], got {v}")
    return v


def _load(args):
    from .config import load_config, resolve_config_path

    return load_config(resolve_config_path(args.config))


def _config_arg(p, required=False):
    p.add_argument("--config", metavar="FILE", required=required,
                   help="cluster file (default: $PAXOS_LIT_CONFIG or ./paxos-cluster.json)")


def register(sub) -> None:
    """Add the runtime subcommands to ``sub``."""
    c = sub.add_parser("cluster", help="a real cluster on this machine: init, up, status, down")
    csub = c.add_subparsers(dest="cluster_command", required=True, parser_class=type(c))

    p = csub.add_parser("init", help="write a cluster file (3 acceptors, 2 leaders, 2 replicas)")
    p.add_argument("--config", metavar="FILE", default="paxos-cluster.json")
    p.add_argument("--base-port", type=_port, default=7401,
                   help="first TCP port; the nodes use consecutive ports")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--data-dir", default="paxos-data")
    p.add_argument("--no-key", action="store_true", help="no shared key (frames unsigned)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_init)

    p = csub.add_parser("up", help="start every node as a background process")
    _config_arg(p)
    p.add_argument("--timeout", type=_positive, default=20.0, help="seconds to wait for nodes")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_up)

    p = csub.add_parser("status", help="which nodes answer, and what their roles report")
    _config_arg(p)
    p.add_argument("--timeout", type=_positive, default=2.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_status)

    p = csub.add_parser("down", help="stop the nodes recorded for this cluster")
    _config_arg(p)
    p.add_argument("--timeout", type=_positive, default=5.0,
                   help="seconds after SIGTERM before SIGKILL")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_down)

    p = sub.add_parser("node", help="run one node of a cluster in the foreground")
    _config_arg(p, required=True)
    p.add_argument("--id", required=True, help="the node's id in the cluster file")
    p.set_defaults(func=_node)

    k = sub.add_parser("kv", help="get/put/append/cas on a running cluster")
    ksub = k.add_subparsers(dest="kv_command", required=True, parser_class=type(k))
    for name, params, text in (("get", ("key",), "read a key"),
                               ("put", ("key", "value"), "set a key"),
                               ("append", ("key", "value"), "append to a key's value"),
                               ("cas", ("key", "value"), "compare and set")):
        p = ksub.add_parser(name, help=text)
        for param in params:
            p.add_argument(param)
        if name == "cas":
            p.add_argument("--expected", default=None,
                           help="the value KEY must hold (omit: KEY must be missing)")
        _config_arg(p)
        p.add_argument("--timeout", type=_positive, default=10.0,
                       help="seconds to keep retrying before giving up")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=_kv, kv_kind=name)


# -- handlers ----------------------------------------------------------------------
def _init(args) -> int:
    from .config import parse_config, template

    if os.path.exists(args.config) and not args.force:
        raise ConfigError("--config", f"{args.config} exists (use --force to overwrite)")
    obj = template(args.base_port, args.host, None if args.no_key else "generate",
                   data_dir=args.data_dir)
    parse_config(obj, args.config)  # the template must be valid
    with open(args.config, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    if args.no_key is False:
        os.chmod(args.config, 0o600)  # it holds the shared key
    out = {"config": os.path.abspath(args.config), "nodes": len(obj["nodes"]),
           "ports": [n["port"] for n in obj["nodes"]], "key": obj["key"] is not None}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"wrote {args.config}: {len(obj['nodes'])} nodes on {args.host} ports "
              f"{out['ports'][0]}-{out['ports'][-1]}"
              + (", shared key" if out["key"] else ", no key"))
        print(f"next: paxos-lit cluster up --config {args.config}")
    return 0


def _up(args) -> int:
    from .cluster import LocalCluster, log_path, running

    config = _load(args)
    live = running(config)
    if live:
        raise ConfigError("cluster", "already running: " + ", ".join(
            f"{n} (pid {p})" for n, p in sorted(live.items())) + "; run paxos-lit cluster down")
    cluster = LocalCluster(config, detach=True)
    cluster.start_all()
    got = asyncio.run(cluster.wait_ready(timeout=args.timeout))
    failed = [n for n, st in got.items() if st is None]
    rows = [{"id": n.id, "address": f"{n.host}:{n.port}", "pid": cluster.procs[n.id].pid,
             "roles": n.roles, "log": log_path(config, n.id), "serving": got[n.id] is not None}
            for n in config.nodes]
    if failed:
        for nid in failed:
            print(f"node {nid} did not come up; last lines of {log_path(config, nid)}:",
                  file=sys.stderr)
            try:
                with open(log_path(config, nid), errors="replace") as f:
                    for line in f.readlines()[-5:]:
                        print("  " + line.rstrip(), file=sys.stderr)
            except OSError:
                pass
        cluster.stop_all()
        print("cluster up failed: every node started was stopped", file=sys.stderr)
    if args.json:
        print(json.dumps({"config": config.path, "data_dir": config.data_dir,
                          "up": not failed, "nodes": rows}))
    elif not failed:
        for r in rows:
            print(f"{r['id']:8s} {r['address']:22s} pid {r['pid']:<8d} "
                  f"{','.join(f'{p}={k}' for p, k in r['roles'].items())}")
        print(f"cluster up: {len(rows)} nodes; logs in {config.data_dir}/<id>/node.log")
    return 1 if failed else 0


def _status(args) -> int:
    from .cluster import status

    config = _load(args)
    rows = status(config, args.timeout)
    if args.json:
        print(json.dumps({"config": config.path, "nodes": rows}))
    else:
        for r in rows:
            st = r["status"]
            if st is None:
                state = "DOWN" if r["pid"] is None else f"NOT ANSWERING (pid {r['pid']})"
                print(f"{r['id']:8s} {r['address']:22s} {state}")
                continue
            parts = []
            for pid, info in st["roles"].items():
                if info["kind"] == "acceptor":
                    parts.append(f"{pid}: ballot {tuple(info['ballot'])}, "
                                 f"{info['accepted']} accepted")
                elif info["kind"] == "leader":
                    parts.append(f"{pid}: ballot {tuple(info['ballot'])}, "
                                 f"{'active' if info['active'] else 'passive'}")
                else:
                    parts.append(f"{pid}: slot_out {info['slot_out']}")
            print(f"{r['id']:8s} {r['address']:22s} up pid {st['pid']:<7d} "
                  f"{st['uptime_s']:8.1f}s  {'; '.join(parts)}")
    return 0 if all(r["serving"] for r in rows) else 1


def _down(args) -> int:
    from .cluster import stop_recorded

    config = _load(args)
    stopped = stop_recorded(config, args.timeout)
    if args.json:
        print(json.dumps({"stopped": {n: {"pid": p, "signal": s}
                                      for n, (p, s) in stopped.items()}}))
    elif stopped:
        for n, (p, s) in sorted(stopped.items()):
            print(f"{n:8s} pid {p:<8d} stopped ({s})")
    else:
        print("no running node recorded for this cluster")
    return 0


def _node(args) -> int:
    from .config import load_config
    from .node import main

    config = load_config(args.config)
    config.node(args.id)  # ConfigError naming --id if unknown
    return main(config, args.id)


def _kv(args) -> int:
    from ..kvstore import op_to_json, result_to_json
    from .client import run_ops

    kind = args.kv_kind
    if kind == "get":
        op = ("get", args.key)
    elif kind == "cas":
        op = ("cas", args.key, args.expected, args.value)
    else:
        op = (kind, args.key, args.value)
    config = _load(args)
    t0 = time.perf_counter()
    records, ok = asyncio.run(run_ops(config, [op], args.timeout))
    wall = time.perf_counter() - t0
    if not ok:
        print(f"paxos-lit kv {kind}: no answer within {args.timeout:g} s (is the cluster up? "
              "the operation may still take effect)", file=sys.stderr)
        return 1
    result = records[0]["result"]
    if args.json:
        print(json.dumps({"op": op_to_json(op), "result": result_to_json(op, result),
                          "latency_s": round(wall, 6)}))
    elif kind == "get":
        print("(missing)" if result is None else result)
    elif kind == "cas":
        print("ok" if result else "failed: value differs")
    else:
        print("ok")
    return 0 if (kind != "cas" or result) else 1
