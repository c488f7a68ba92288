"""`paxos-lit check` and `paxos-lit mutants` (DESIGN section 6): the JSON
keys other tools rely on, exit statuses (0 nothing violated, 1 a violation,
2 bad input with one line naming it), and counterexamples that replay."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from paxos_lit.check.model import ModelConfig, Step
from paxos_lit.check.mutants import MUTANTS
from paxos_lit.check.replay import replay
from paxos_lit.cli import main

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"states", "transitions", "complete", "violations", "counterexample", "wall_s"}


def run(capsys, *args):
    """``paxos-lit ARGS`` in this process: (exit status, stdout, stderr)."""
    try:
        code = main(list(args))
    except SystemExit as e:  # argparse's own errors
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_json_no_violation(capsys):
    """A configuration explored completely: exit 0, complete, no violation,
    an empty counterexample, no `replayed` key."""
    code, out, _ = run(capsys, "check", "--leaders", "1", "--commands", "2", "--json")
    assert code == 0
    d = json.loads(out)
    assert KEYS <= set(d)
    assert d["complete"] is True and d["violations"] == [] and d["counterexample"] == []
    assert d["states"] > 100 and d["transitions"] > d["states"] and d["wall_s"] > 0
    assert d["reduced"] is True
    assert "replayed" not in d
    assert d["config"]["leaders"] == 1 and d["config"]["acceptors"] == 3


def test_check_default_is_the_standard_configuration_bounded(capsys):
    """With no model option, `check` explores the standard configuration; a
    bound stops it and it says so (complete: false), exit 0."""
    code, out, _ = run(capsys, "check", "--max-states", "3000", "--json", "--quiet")
    assert code == 0
    d = json.loads(out)
    assert d["config"] == ModelConfig().to_json()
    assert d["states"] == 3000 and d["complete"] is False and d["violations"] == []


@pytest.mark.parametrize("name", ["commander_decides_after_one_reply",
                                  "acceptor_accepts_below_ballot"])
def test_check_mutant_json(capsys, name):
    """`check --mutant NAME`: exit 1, the expected invariant, a list of steps,
    `replayed: true`; the printed steps, read back, replay in the simulator."""
    code, out, _ = run(capsys, "check", "--mutant", name, "--json")
    assert code == 1
    d = json.loads(out)
    assert KEYS | {"replayed"} <= set(d)
    assert d["violations"][0]["invariant"] == MUTANTS[name].expected[0]
    assert d["caught"] is True and d["replayed"] is True and d["complete"] is False
    steps = [Step.from_json(s) for s in d["counterexample"]]
    assert steps and all({"step", "process", "text"} <= set(s) for s in d["counterexample"])
    r = replay(steps, ModelConfig.from_json(d["config"]), MUTANTS[name].roles)
    assert r.states_match and r.reproduces(d["violations"][0]["invariant"])


def test_check_mutant_with_overridden_option(capsys):
    """An option given with --mutant overrides the mutant's configuration."""
    code, out, _ = run(capsys, "check", "--mutant", "commander_decides_after_one_reply",
                       "--acceptors", "5", "--json")
    d = json.loads(out)
    assert code == 1 and d["config"]["acceptors"] == 5 and d["replayed"] is True


def test_check_sweep_mutant_json(capsys):
    """A mutant caught by a seeded sweep reports the seed and replays by
    running that seed again."""
    code, out, _ = run(capsys, "check", "--mutant", "replica_ignores_window", "--json")
    assert code == 1
    d = json.loads(out)
    assert KEYS | {"replayed", "seed", "method"} <= set(d)
    assert d["method"] == "sweep" and d["counterexample"] == []
    assert d["violations"][0]["invariant"] == "R5" and d["replayed"] is True


def test_check_text_output(capsys):
    code, out, _ = run(capsys, "check", "--mutant", "acceptor_forgets_on_recovery")
    assert code == 1
    assert "violated: A1" in out and "crash a" in out
    assert "replayed in the simulator: yes" in out


def test_check_progress_goes_to_stderr(capsys):
    """Long runs show progress on stderr (every 10,000 states); stdout stays
    one JSON object; --quiet silences it."""
    code, out, err = run(capsys, "check", "--leaders", "1", "--commands", "2", "--json",
                         "--no-reduce")
    assert code == 0 and json.loads(out)["complete"] is True
    reports = re.findall(r"\r  ([\d,]+) states, [\d,]+ transitions", err)
    assert len(reports) >= 2 and err.endswith("(done)\n")
    assert int(reports[0].replace(",", "")) >= 10_000  # the first after 10,000 states
    code, out, err = run(capsys, "check", "--leaders", "1", "--commands", "2", "--json",
                         "--quiet")
    assert code == 0 and err == ""
    code, out, err = run(capsys, "check", "--leaders", "1", "--commands", "1", "--json")
    assert err == ""  # too short to report


def test_mutants_lists_names(capsys):
    code, out, _ = run(capsys, "mutants", "--json")
    assert code == 0 and json.loads(out) == list(MUTANTS)
    code, out, _ = run(capsys, "mutants", "--json", "--details")
    details = json.loads(out)
    assert [d["name"] for d in details] == list(MUTANTS)
    assert all({"role", "expected", "method", "description"} <= set(d) for d in details)
    code, out, _ = run(capsys, "mutants")
    assert code == 0 and all(name in out for name in MUTANTS)


BAD = [
    (["--leaders", "0"], "leaders"),
    (["--acceptors", "x"], "--acceptors"),
    (["--max-ballot", "-1"], "max_ballot"),
    (["--spread", "some"], "spread"),
    (["--leader-policy", "eager"], "leader_policy"),
    (["--dups", "-1"], "dups"),
    (["--mutant", "nope"], "mutant"),
    (["--max-states", "-5"], "--max-states"),
    (["--max-depth", "-1"], "--max-depth"),
    (["--workers", "0"], "--workers"),
    (["--workers", "2", "--exact"], "--workers"),
]


@pytest.mark.parametrize("args,name", BAD, ids=lambda x: " ".join(x) if isinstance(x, list)
                         else x)
def test_check_bad_option(capsys, args, name):
    """A bad option: exit 2, one line on stderr naming it, nothing on stdout."""
    code, out, err = run(capsys, "check", *args, "--json")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and name in err


def test_check_as_a_process():
    """`python -m paxos_lit check`: exit statuses 0, 1 and 2 as a real
    process, JSON on stdout."""
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "paxos_lit", *args], capture_output=True,
                              text=True, cwd=ROOT, timeout=300)

    ok = cli("check", "--leaders", "1", "--commands", "1", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["complete"] is True
    bad = cli("check", "--mutant", "commander_decides_after_one_reply", "--json")
    assert bad.returncode == 1 and json.loads(bad.stdout)["replayed"] is True
    err = cli("check", "--replicas", "0")
    assert err.returncode == 2 and err.stdout == "" and "replicas" in err.stderr
    assert "Traceback" not in err.stderr and len(err.stderr.strip().splitlines()) == 1


def test_check_workers_and_exact_agree(capsys):
    """One process with an exact visited set, one with fingerprints, two
    worker processes: the same counts; the JSON says which visited set."""
    args = ("check", "--leaders", "2", "--commands", "1", "--max-ballot", "0", "--json",
            "--quiet")
    outs = []
    for extra in (("--workers", "1", "--exact"), ("--workers", "1"), ("--workers", "2")):
        code, out, _ = run(capsys, *args, *extra)
        assert code == 0
        outs.append(json.loads(out))
    assert len({(d["states"], d["transitions"], d["depth"]) for d in outs}) == 1
    assert [d["fingerprints"] for d in outs] == [False, True, True]
    assert outs[0]["collision_probability"] == 0 < outs[2]["collision_probability"] < 1e-9
    assert all(d["complete"] and d["violations"] == [] for d in outs)
