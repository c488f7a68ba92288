"""The command line: ``paxos-lit`` and ``python -m paxos_lit``.

Subcommands (each with ``--json``, printing one JSON object on stdout):

- ``simulate``  one seeded run, with faults, invariants and a verdict;
- ``lincheck``  check history files for linearizability;
- ``check``, ``mutants``  the model checker and the seeded-bug catalogue;
- ``cluster``, ``node``, ``kv``  the real TCP cluster.

Bad input (an option out of range, a malformed fault plan, a missing file)
prints one line naming what is wrong on stderr and exits with status 2; a
run that finds a violated invariant exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from .errors import ConfigError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, not a usage dump."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _float(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _at(option):
    """Parse ID@TIME, as in ``--crash l1@50``."""

    def parse(text):
        pid, sep, when = text.partition("@")
        if not sep or not pid:
            raise argparse.ArgumentTypeError(f"{option} wants ID@TIME, got {text!r}")
        try:
            t = float(when)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{option} {text}: time {when!r} is not a number") from None
        return pid, t

    return parse


def _print(obj, as_json):
    if as_json:
        print(json.dumps(obj, sort_keys=False))
    else:
        for k, v in obj.items():
            print(f"{k:20s} {v}")


# -- simulate ------------------------------------------------------------------
def _add_simulate(sub):
    p = sub.add_parser("simulate", help="run one seeded simulation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--replicas", type=int, default=2)
    p.add_argument("--leaders", type=int, default=2)
    p.add_argument("--acceptors", type=int, default=3)
    p.add_argument("--clients", type=int, default=3)
    p.add_argument("--commands", type=int, default=10, help="commands per client")
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--keys", type=int, default=3)
    p.add_argument("--loss", type=_float, default=0.0, help="message loss probability")
    p.add_argument("--dup", type=_float, default=0.0, help="message duplication probability")
    p.add_argument("--delay", type=_float, nargs=2, metavar=("MIN", "MAX"), default=(0.5, 1.5))
    p.add_argument("--crash", type=_at("--crash"), action="append", default=[], metavar="ID@TIME")
    p.add_argument("--recover", type=_at("--recover"), action="append", default=[],
                   metavar="ID@TIME")
    p.add_argument("--faults", metavar="PLAN.json", help="a fault plan (JSON list of actions)")
    p.add_argument("--until", type=_float, default=20_000.0, help="virtual-time limit")
    p.add_argument("--leader-policy", choices=("naive", "backoff"), default="backoff")
    p.add_argument("--no-check", action="store_true", help="skip the invariant checks")
    p.add_argument("--history", metavar="FILE", help="write the client history here")
    p.add_argument("--trace", metavar="FILE", help="write the trace (JSON lines) here")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_simulate)


def _simulate(args) -> int:
    from .sim import FaultPlan, NetParams, SimConfig
    from .sim.faults import crash, recover

    net = NetParams(delay_min=args.delay[0], delay_max=args.delay[1], loss=args.loss, dup=args.dup)
    config = SimConfig(replicas=args.replicas, leaders=args.leaders, acceptors=args.acceptors,
                       clients=args.clients, commands=args.commands, window=args.window,
                       leader_policy=args.leader_policy, net=net, until=args.until, keys=args.keys)
    plan = FaultPlan.load(args.faults) if args.faults else FaultPlan()
    extra = [crash(t, pid) for pid, t in args.crash] + [recover(t, pid) for pid, t in args.recover]
    for (pid, t) in args.crash + args.recover:
        if t < 0:
            raise ConfigError("--crash/--recover", f"time must be >= 0, got {pid}@{t:g}")
    if extra:
        plan = plan.plus(*sorted(extra, key=lambda a: a.at))
    from .sim import Simulator

    t0 = time.perf_counter()
    sim = Simulator(config, args.seed, plan, check=not args.no_check)
    sim.run()
    wall = time.perf_counter() - t0
    from .sim.simulator import check_linearizable

    history = sim.history()
    result = sim.result(wall_s=wall, linearizable=check_linearizable(history))
    if args.history:
        with open(args.history, "w", encoding="utf-8") as f:
            json.dump(history, f, indent=1)
    if args.trace:
        with open(args.trace, "w", encoding="utf-8") as f:
            for rec in sim.trace.records():
                f.write(json.dumps(rec) + "\n")
    out = result.to_json()
    _print(out, args.json)
    return 1 if result.violations or result.linearizable is False else 0


# -- lincheck --------------------------------------------------------------------
def _add_lincheck(sub):
    p = sub.add_parser("lincheck", help="check histories for linearizability")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--timeout", type=_float, default=60.0,
                   help="give up on a file after this many seconds (verdict unknown); default 60")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_lincheck)


def _lincheck(args) -> int:
    from .check.linearizability import check
    from .history import HistoryError, load_history

    status = 0
    for path in args.files:
        try:
            history = load_history(path)
        except HistoryError as e:
            raise ConfigError("", str(e)) from None  # it names the file and field
        r = check(history, timeout_s=args.timeout)
        out = {"file": path, "linearizable": r.linearizable, "wall_s": round(r.wall_s, 6),
               "ops": len(history.ops), "timed_out": r.timed_out}
        if not r.linearizable:
            out["failing_key"] = r.failing_key
            out["failing_ops"] = list(r.failing_ops)
            status = 1
        if args.json:
            print(json.dumps(out))
        else:
            if r.linearizable:
                verdict = "linearizable"
            elif r.timed_out:
                verdict = "unknown (timed out)"
            else:
                verdict = f"NOT linearizable (key {r.failing_key!r})"
            print(f"{path}: {verdict} [{r.wall_s:.3f}s]")
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="paxos-lit", description="Paxos Made Moderately Complex, literate.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_simulate(sub)
    _add_lincheck(sub)
    # The verification and runtime layers register their own subcommands.
    from .check import cli as check_cli
    from .runtime import cli as runtime_cli

    check_cli.register(sub)
    runtime_cli.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"paxos-lit {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
