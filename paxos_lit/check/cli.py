"""Subcommands of the verification layer: ``check`` and ``mutants``.

``register`` adds them to the main parser (see ``paxos_lit.cli``).

``paxos-lit check`` explores a configuration breadth-first (the standard one
by default: 2 leaders, 3 acceptors, 1 replica, 2 commands, 2 ballot rounds,
no loss; with the model's reductions it has 1,126,209 states, explored
completely in minutes; a search that reaches 5,000,000 states stops there
and says ``complete: false``; it keeps 64-bit fingerprints of the states it
has seen unless ``--exact``, and runs on one worker process per CPU unless
``--workers``),
or, with
``--mutant NAME``,
catches a seeded bug the way the catalogue says (the explorer on the
mutant's configuration, any option given overriding it; or the mutant's
seeded simulator sweep). A counterexample is replayed in the simulator and
``replayed`` says whether it reproduced the violation exactly. Exit status:
0 when nothing is violated, 1 when something is, 2 for bad options.

``paxos-lit mutants`` lists the catalogue.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

from ..errors import ConfigError

#: The default bound on distinct states: a safety net for larger
#: configurations, well above what the standard one needs (1,126,209 states
#: with the model's reductions, complete in minutes on 2 CPUs; see
#: ``paxos_lit.check.model``). A configuration one size up (3 commands, say)
#: can have many times more, and the search's memory and time grow with it;
#: at the bound it stops and reports ``complete: false``.
#: ``--max-states 0`` removes the bound.
DEFAULT_MAX_STATES = 5_000_000
#: The default number of worker processes is one per CPU, up to this.
MAX_WORKERS = 8
#: Progress on stderr every this many states (about a second of search).
PROGRESS_EVERY = 10_000

#: Model options: (flag, ModelConfig field, type, help).
_MODEL_OPTIONS = (
    ("--leaders", "leaders", int, "leaders (default 2)"),
    ("--acceptors", "acceptors", int, "acceptors (default 3)"),
    ("--replicas", "replicas", int, "replicas (default 1)"),
    ("--commands", "commands", int, "client commands handed to the replicas (default 2)"),
    ("--max-ballot", "max_ballot", int,
     "highest ballot round a leader may scout with (default 1: rounds 0 and 1)"),
    ("--window", "window", int, "the replicas' WINDOW (default 5)"),
    ("--leader-policy", "leader_policy", str, "naive (default) or backoff"),
    ("--crashes", "crashes", int, "crash steps allowed per path (default 0)"),
    ("--drops", "drops", int, "message drops allowed per path (default 0)"),
    ("--dups", "dups", int, "message duplications allowed per path (default 0)"),
    ("--timers", "timers", int, "timer firings allowed per path (default 0: timers off)"),
    ("--spread", "spread", str, "one (command i to replica i mod R, default) or all"),
)


def register(sub) -> None:
    """Add the verification subcommands to ``sub``."""
    p = sub.add_parser("check", help="explore a small configuration exhaustively",
                       description=__doc__.split("\n\n")[2])
    for flag, dest, typ, text in _MODEL_OPTIONS:
        p.add_argument(flag, dest=dest, type=typ, default=None, help=text)
    p.add_argument("--upfront-proposals", dest="upfront_proposals", action="store_true",
                   default=None, help="deliver the replicas' first proposals before exploring")
    p.add_argument("--mutant", metavar="NAME", help="check a seeded bug (see `mutants`)")
    p.add_argument("--max-states", type=int, default=DEFAULT_MAX_STATES,
                   help=f"stop after this many states (default {DEFAULT_MAX_STATES:,}; "
                        "0: no bound)")
    p.add_argument("--workers", type=int, default=None,
                   help="processes that compute successors (default: one per CPU, at most "
                        f"{MAX_WORKERS}; 1: search in this process)")
    p.add_argument("--exact", action="store_true",
                   help="keep every state seen, not a 64-bit fingerprint of it (no chance "
                        "of a collision; about 50 times the memory)")
    p.add_argument("--max-depth", type=int, default=None, help="do not expand beyond this depth")
    p.add_argument("--no-reduce", action="store_true",
                   help="explore every state: no dead-message, merged-step, acceptor-symmetry, "
                        "persistent-set, last-word or blind-value reduction")
    p.add_argument("--no-replay", action="store_true", help="do not replay a counterexample")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_check)

    q = sub.add_parser("mutants", help="list the catalogue of seeded bugs")
    q.add_argument("--details", action="store_true",
                   help="with --json: objects (name, role, expected, method, ...), not names")
    q.add_argument("--json", action="store_true", help="print a JSON list of names")
    q.set_defaults(func=_mutants)


def _positive(name: str, value, minimum: int = 0):
    if value is not None and value < minimum:
        raise ConfigError(name, f"must be an integer >= {minimum}, got {value}")
    return value


def _config(args, base):
    from .model import ModelConfig

    changes = {dest: getattr(args, dest) for _, dest, _, _ in _MODEL_OPTIONS
               if getattr(args, dest) is not None}
    if args.upfront_proposals:
        changes["upfront_proposals"] = True
    base = base if base is not None else ModelConfig()
    return dataclasses.replace(base, **changes), bool(changes)


def _progress(quiet: bool):
    """A progress line on stderr every ``PROGRESS_EVERY`` states (rewritten
    in place), ended by a newline when the search ends."""
    if quiet:
        return None
    shown = []

    def report(p):
        if p.done and not shown:
            return
        shown.append(p)
        print(f"\r  {p.states:,} states, {p.transitions:,} transitions, depth {p.depth}, "
              f"{p.wall_s:.1f} s" + (" (done)" if p.done else ""), end="\n" if p.done else "",
              file=sys.stderr, flush=True)

    return report


def _check(args) -> int:
    from . import mutants as catalogue

    _positive("--max-states", args.max_states, 0)
    _positive("--max-depth", args.max_depth, 0)
    if args.workers is not None:
        _positive("--workers", args.workers, 1)
    if args.exact and args.workers not in (None, 1):
        raise ConfigError("--workers", "the parallel search keeps fingerprints; --exact needs "
                                       "--workers 1")
    mutant = catalogue.get(args.mutant) if args.mutant else None
    config, changed = _config(args, mutant.model if mutant is not None else None)
    if mutant is not None and mutant.method == "sweep" and not changed:
        out = _sweep(mutant)
    else:
        out = _explore(args, config, mutant)
    _output(out, args.json)
    return 1 if out["violations"] else 0


def _explore(args, config, mutant) -> dict:
    from .model import check_model
    from .replay import replay

    roles = mutant.roles if mutant is not None else None
    r = check_model(config, roles, max_states=args.max_states or None, max_depth=args.max_depth,
                    progress=_progress(args.quiet), progress_every=PROGRESS_EVERY,
                    reduce=not args.no_reduce, fingerprints=not args.exact,
                    workers=_workers(args))
    out = {"method": "explore", "mutant": mutant.name if mutant else None,
           "config": config.to_json(), "reduced": not args.no_reduce, **r.to_dict()}
    if r.result.violations and not args.no_replay:
        rep = replay(r.steps, model=r.model)
        first = r.result.violations[0].invariant
        out["replayed"] = bool(rep.states_match and rep.reproduces(first))
        out["replay"] = rep.to_json()
    if mutant is not None:
        found = [v["invariant"] for v in out["violations"]]
        out["expected"] = list(mutant.expected)
        out["caught"] = bool(found) and found[0] in mutant.expected
    return out


def _workers(args) -> int:
    if args.workers is not None:
        return args.workers
    if args.exact:
        return 1
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


def _sweep(mutant) -> dict:
    from .mutants import _verdict, run_sweep_seed, sweep_mutant

    c = sweep_mutant(mutant)
    out = {"method": "sweep", "mutant": mutant.name, "config": mutant.sweep.config.to_json(),
           "faults": mutant.sweep.plan.to_json(), "states": 0, "transitions": 0,
           "complete": False,
           "violations": [] if not c.caught else [{"invariant": c.invariant, "detail": c.detail}],
           "counterexample": [], "wall_s": round(c.wall_s, 6), "seed": c.seed, "runs": c.runs,
           "expected": list(mutant.expected), "caught": c.caught}
    if c.caught:
        # A seeded run replays by running it again: same trace, same verdict.
        again = run_sweep_seed(mutant, c.seed)
        out["replayed"] = (again.trace.sha256() == c.result.trace.sha256()
                           and _verdict(mutant, again) == (c.invariant, c.detail))
    return out


def _output(out: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(out))
        return
    if out["method"] == "sweep":
        verdict = (f"caught: {out['violations'][0]['invariant']} at seed {out['seed']} "
                   f"({out['runs']} runs)" if out["violations"] else
                   f"not caught in {out['runs']} runs")
        print(f"mutant {out['mutant']} (seeded sweep): {verdict}, {out['wall_s']:.2f} s")
        if out["violations"]:
            print(f"  {out['violations'][0]['detail']}")
            print(f"  replayed: {out.get('replayed')}")
        return
    scope = "complete" if out["complete"] else "INCOMPLETE (a bound stopped the search)"
    head = f"mutant {out['mutant']}: " if out.get("mutant") else ""
    print(f"{head}{out['states']:,} states, {out['transitions']:,} transitions, depth "
          f"{out['depth']}, {scope}, {out['wall_s']:.2f} s")
    if out.get("fingerprints"):
        print(f"visited set: 64-bit fingerprints (chance of a collision about "
              f"{out['collision_probability']:.1e}; --exact keeps whole states)")
    if not out["violations"]:
        print("no invariant violated" + ("" if out["complete"] else " in the states visited"))
        return
    v = out["violations"][0]
    print(f"violated: {v['invariant']}: {v['detail']}")
    print(f"counterexample ({len(out['counterexample'])} steps):")
    for i, step in enumerate(out["counterexample"], 1):
        print(f"  {i:3d}. {step['text']}")
    if "replayed" in out:
        print(f"replayed in the simulator: {'yes' if out['replayed'] else 'NO'}"
              + ("" if out["replayed"] else f" ({out['replay']['mismatch']})"))


def _mutants(args) -> int:
    from .mutants import MUTANTS

    if args.json:
        if args.details:
            print(json.dumps([m.to_json() for m in MUTANTS.values()]))
        else:
            print(json.dumps(list(MUTANTS)))
        return 0
    for m in MUTANTS.values():
        print(f"{m.name:36s} {m.role:9s} breaks {'/'.join(m.expected):16s} ({m.method})")
        print(f"    {m.description}")
    return 0

