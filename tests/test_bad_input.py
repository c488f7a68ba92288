"""Bad input (issue 2, item 7): every invalid config field and every
malformed fault plan raises ConfigError naming the field; through the CLI it
is one line on stderr naming the field, exit status 2, no traceback and
nothing on stdout.  Fault plans round-trip through JSON (DESIGN section 5).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from paxos_lit import Action, ConfigError, FaultPlan, NetParams, SimConfig, Simulator
from paxos_lit.sim.faults import crash, heal, partition, recover

NAN, INF = math.nan, math.inf

# -- the configuration ---------------------------------------------------------------
BAD_CONFIGS = [
    # (keyword arguments of SimConfig, the field the error must name)
    ({"acceptors": 0}, "acceptors"),
    ({"acceptors": -3}, "acceptors"),
    ({"replicas": 0}, "replicas"),
    ({"replicas": -1}, "replicas"),
    ({"leaders": 0}, "leaders"),
    ({"leaders": -2}, "leaders"),
    ({"clients": -1}, "clients"),
    ({"commands": -1}, "commands"),
    ({"window": 0}, "window"),
    ({"keys": 0}, "keys"),
    ({"acceptors": 2.5}, "acceptors"),
    ({"replicas": True}, "replicas"),
    ({"leader_policy": "random"}, "leader_policy"),
    ({"leader_policy": None}, "leader_policy"),
    ({"until": -5.0}, "until"),
    ({"until": 0.0}, "until"),
    ({"until": INF}, "until"),
    ({"until": NAN}, "until"),
    ({"until": "10"}, "until"),
    ({"net": {"loss": 0.1}}, "net"),
]
BAD_NETS = [
    ({"loss": 1.5}, "loss"),
    ({"loss": -0.1}, "loss"),
    ({"loss": NAN}, "loss"),
    ({"loss": INF}, "loss"),
    ({"dup": 2.0}, "dup"),
    ({"dup": -1e-9}, "dup"),
    ({"dup": NAN}, "dup"),
    ({"dup": "0.1"}, "dup"),
    ({"delay_min": -1.0}, "delay_min"),
    ({"delay_min": NAN}, "delay_min"),
    ({"delay_max": INF}, "delay_max"),
    ({"delay_min": 2.0, "delay_max": 1.0}, "delay_max"),
]


@pytest.mark.parametrize("kwargs,field", BAD_CONFIGS, ids=lambda x: str(x))
def test_bad_config_field_is_named(kwargs, field):
    """A config with an impossible value fails at construction, naming the
    field (PMMC: 2f+1 acceptors, so at least one; counts are non-negative;
    times are finite and non-negative)."""
    with pytest.raises(ConfigError) as e:
        SimConfig(**kwargs)
    assert e.value.field == field
    assert str(e.value).startswith(f"{field}: ")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("kwargs,field", BAD_NETS, ids=lambda x: str(x))
def test_bad_network_field_is_named(kwargs, field):
    """Probabilities lie in [0, 1] (NaN is not one); delays are finite,
    non-negative, and delay_max >= delay_min."""
    with pytest.raises(ConfigError) as e:
        NetParams(**kwargs)
    assert e.value.field == field
    assert "\n" not in str(e.value)


def test_bad_config_json_is_named():
    """SimConfig.from_json names unknown fields, in the network too."""
    cases = [([], "config"), ({"acceptor": 3}, "acceptor"), ({"net": 5}, "net"),
             ({"net": {"latency": 1}}, "net.latency"), ({"acceptors": 0}, "acceptors"),
             ({"net": {"loss": 7}}, "loss")]
    for obj, field in cases:
        with pytest.raises(ConfigError) as e:
            SimConfig.from_json(obj)
        assert e.value.field == field, obj


def test_bad_seed_is_named():
    for seed in ("7", 1.5, None, True):
        with pytest.raises(ConfigError) as e:
            Simulator(SimConfig(), seed)
        assert e.value.field == "seed"


# -- fault plans ---------------------------------------------------------------------
def A(**kw):
    """One action as JSON, ``at`` 1 unless given."""
    return {"at": 1, **kw}


BAD_PLANS = [
    # (plan text, the field the error must name)
    ("[{", "faults"),                                               # not JSON
    ("", "faults"),
    ('{"at": 1, "action": "heal"}', "faults"),                      # not a list
    ('"crash l1"', "faults"),
    ("[5]", "faults[0]"),                                           # not an object
    ([A(action="explode")], "faults[0].action"),                    # unknown action
    ([{"at": 1}], "faults[0].action"),
    ([{"action": "heal"}], "faults[0].at"),                         # missing at
    ([A(at=-1, action="heal")], "faults[0].at"),                    # negative at
    ("[{\"at\": NaN, \"action\": \"heal\"}]", "faults[0].at"),
    ("[{\"at\": Infinity, \"action\": \"heal\"}]", "faults[0].at"),
    ([A(at="5", action="heal")], "faults[0].at"),
    ([A(at=True, action="heal")], "faults[0].at"),
    ([A(action="heal", process="l1")], "faults[0].process"),        # unknown field
    ([A(action="crash", process="l1", color="red")], "faults[0].color"),
    ([A(action="crash")], "faults[0].process"),                     # missing field
    ([A(action="crash", process=5)], "faults[0].process"),
    ([A(action="crash", process="")], "faults[0].process"),
    ([A(action="partition", groups=[["a1", "a1"], ["a2"]])], "faults[0].groups[0]"),
    ([A(action="partition", groups=[["a1"], ["a1", "a2"]])], "faults[0].groups"),
    ([A(action="partition", groups=[[], ["a2"]])], "faults[0].groups[0]"),      # empty
    ([A(action="partition", groups=[["a1", "a2"]])], "faults[0].groups"),       # one only
    ([A(action="partition", groups="a1")], "faults[0].groups"),
    ([A(action="partition", groups=[["a1"], "a2"])], "faults[0].groups[1]"),
    ([A(action="block", src=[], dst=["a1"])], "faults[0].src"),
    ([A(action="block", src=["a1", "a1"], dst=["a2"])], "faults[0].src"),
    ([A(action="block", src=["a1"])], "faults[0].dst"),
    ([A(action="set")], "faults[0]"),
    ([A(action="set", loss=1.5)], "faults[0].loss"),
    ("[{\"at\": 1, \"action\": \"set\", \"dup\": NaN}]", "faults[0].dup"),
    ([A(action="set", loss="0.1")], "faults[0].loss"),
    ([A(action="set", delay_min=-1)], "faults[0].delay_min"),
    ([A(action="set", link=["a1", "a2", "a3"], loss=0.1)], "faults[0].link"),
    ([A(action="set", link=["a1", "a1"], loss=0.1)], "faults[0].link"),
    ([A(action="reconfigure", leaders=["l9"])], "faults[0].acceptors"),
    ([A(action="reconfigure", leaders=[], acceptors=["a9"])], "faults[0].leaders"),
]

BAD_FOR_CONFIG = [
    # (plan, field): well-formed, but impossible for the default config
    ([A(action="crash", process="l9")], "faults[0].process"),                   # unknown id
    ([A(action="recover", process="x")], "faults[0].process"),
    ([A(action="partition", groups=[["a1"], ["zz"]])], "faults[0].groups[1]"),
    ([A(action="block", src=["a1"], dst=["q"])], "faults[0].dst"),
    ([A(action="set", link=["a1", "zz"], loss=0.1)], "faults[0].link"),
    ([A(action="crash", process="l1"), A(at=2, action="crash", process="l1")],
     "faults[1].process"),                                                       # already down
    ([A(action="recover", process="l1")], "faults[0].process"),                 # is up
    ([A(action="crash", process="a1"), A(at=3, action="recover", process="a1"),
      A(at=5, action="recover", process="a1")], "faults[2].process"),
    ([A(action="crash", process="c1")], "faults[0].process"),                   # a client
    ([A(action="reconfigure", leaders=["l1"], acceptors=["a9"])], "faults[0].leaders"),
    ([A(action="reconfigure", leaders=["l9"], acceptors=["a2"])], "faults[0].acceptors"),
    ([A(action="reconfigure", leaders=["l9"], acceptors=["a9"]),
      A(at=2, action="reconfigure", leaders=["l9"], acceptors=["a8"])], "faults[1].leaders"),
    ([A(action="set", delay_min=3, delay_max=2)], "faults[0].delay_max"),
]


def plan_text(plan) -> str:
    return plan if isinstance(plan, str) else json.dumps(plan)


@pytest.mark.parametrize("plan,field", BAD_PLANS, ids=lambda x: plan_text(x)[:60])
def test_malformed_plan_names_the_field(plan, field):
    """A malformed fault plan is rejected while it is read, naming the action
    and its field."""
    with pytest.raises(ConfigError) as e:
        FaultPlan.loads(plan_text(plan))
    assert e.value.field == field
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("plan,field", BAD_FOR_CONFIG, ids=lambda x: plan_text(x)[:60])
def test_plan_impossible_for_the_config_names_the_field(plan, field):
    """A plan naming processes the config lacks, crashing a process that is
    down or a client, recovering one that is up, or reconfiguring to ids
    that exist (PMMC section 3.4: a new configuration's processes are new)
    is rejected before the run starts."""
    parsed = FaultPlan.loads(plan_text(plan))
    with pytest.raises(ConfigError) as e:
        Simulator(SimConfig(), 0, parsed)
    assert e.value.field == field
    assert "\n" not in str(e.value)


def test_plan_order_is_by_time_not_by_list_position():
    """Validity follows virtual time: a recovery listed before its crash but
    timed after it is fine."""
    plan = FaultPlan.loads(json.dumps([A(at=5, action="recover", process="l1"),
                                       A(at=1, action="crash", process="l1")]))
    Simulator(SimConfig(), 0, plan).run()


# -- round trips ---------------------------------------------------------------------
EVERY_KIND = FaultPlan((
    crash(1, "l1"),
    recover(2.5, "l1"),
    partition(3, ["a1", "r1"], ["a2", "a3", "c1"], ["l2"]),
    Action(at=4.0, action="block", src=("a1", "a2"), dst=("l1",)),
    heal(5),
    Action(at=6.0, action="set", loss=0.25, dup=0.5, delay_min=0.0, delay_max=3.0),
    Action(at=7.0, action="set", link=("r1", "c1"), loss=1.0),
    Action(at=7.5, action="set", delay_max=2.0),
    Action(at=8.0, action="reconfigure", leaders=("l7", "l8"), acceptors=("a7", "a8", "a9")),
))


def test_every_action_kind_round_trips():
    """from_json(to_json()) == plan for every action kind, through JSON text
    too (DESIGN section 5: plans are data that can be stored and replayed)."""
    assert {a.action for a in EVERY_KIND} == {"crash", "recover", "partition", "block", "heal",
                                              "set", "reconfigure"}
    assert FaultPlan.from_json(EVERY_KIND.to_json()) == EVERY_KIND
    assert FaultPlan.from_json(json.loads(json.dumps(EVERY_KIND.to_json()))) == EVERY_KIND
    assert FaultPlan.loads(EVERY_KIND.dumps()) == EVERY_KIND
    for action in EVERY_KIND:
        one = FaultPlan((action,))
        assert FaultPlan.from_json(one.to_json()) == one, action
    # A plan file may also be an object with a "faults" list.
    assert FaultPlan.from_json({"faults": EVERY_KIND.to_json()}) == EVERY_KIND
    # And the plan is valid for the default config, so it runs.
    Simulator(SimConfig(), 0, EVERY_KIND)


def test_plan_file_round_trips(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(EVERY_KIND.dumps(), encoding="utf-8")
    assert FaultPlan.load(path) == EVERY_KIND
    with pytest.raises(ConfigError) as e:
        FaultPlan.load(tmp_path / "missing.json")
    assert e.value.field == "faults"


# -- the command line ----------------------------------------------------------------
def cli(*args, cwd=None):
    """Run ``python -m paxos_lit ARGS`` as a real subprocess."""
    proc = subprocess.run([sys.executable, "-m", "paxos_lit", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def cli_inprocess(capsys, *args):
    """The same through ``paxos_lit.cli.main`` in this process (much cheaper;
    argparse's own errors exit through SystemExit)."""
    from paxos_lit.cli import main

    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(result, *names):
    """Exit status 2, nothing on stdout, one line on stderr naming each of
    ``names``, and no traceback."""
    code, out, err = result
    assert code == 2, (code, out, err)
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    for name in names:
        assert name in lines[0], (name, lines[0])


CLI_BAD = [
    (["--acceptors", "0"], "acceptors"),
    (["--replicas", "-1"], "replicas"),
    (["--leaders", "-1"], "leaders"),
    (["--clients", "-1"], "clients"),
    (["--commands", "-2"], "commands"),
    (["--window", "0"], "window"),
    (["--keys", "0"], "keys"),
    (["--loss", "1.5"], "loss"),
    (["--loss", "-0.5"], "loss"),
    (["--dup", "nan"], "dup"),
    (["--loss", "abc"], "--loss"),
    (["--until", "-5"], "until"),
    (["--until", "inf"], "until"),
    (["--delay", "-1", "1"], "delay_min"),
    (["--delay", "2", "1"], "delay_max"),
    (["--leader-policy", "random"], "--leader-policy"),
    (["--seed", "x"], "--seed"),
    (["--crash", "c1@5"], "process"),
    (["--crash", "l9@5"], "process"),
    (["--crash", "l1@5", "--crash", "l1@6"], "process"),
    (["--recover", "l1@5"], "process"),
    (["--crash", "l1@-3"], "--crash"),
    (["--crash", "l1"], "--crash"),
]
#: The cases that also run as real subprocesses: one of each kind.
CLI_SUBPROCESS = [0, 9, 12, 14, 15, 17, 20]


def _id(x):
    return " ".join(x) if isinstance(x, list) else str(x)


@pytest.mark.parametrize("args,name", CLI_BAD, ids=_id)
def test_cli_simulate_bad_option(capsys, args, name):
    """`paxos-lit simulate` with a bad option: one line naming it, exit 2."""
    assert_one_line_error(cli_inprocess(capsys, "simulate", *args, "--json"), name)


@pytest.mark.parametrize("args,name", [CLI_BAD[i] for i in CLI_SUBPROCESS], ids=_id)
def test_cli_simulate_bad_option_subprocess(args, name):
    """The same as a real `python -m paxos_lit simulate` process: exit
    status 2, one stderr line naming the option, no traceback, no stdout."""
    assert_one_line_error(cli("simulate", *args, "--json"), name)


@pytest.mark.parametrize("plan,field", BAD_PLANS + BAD_FOR_CONFIG,
                         ids=lambda x: plan_text(x)[:40])
def test_cli_simulate_bad_fault_plan(tmp_path, capsys, plan, field):
    """`paxos-lit simulate --faults FILE` with a malformed plan: one line
    naming the field, exit 2."""
    path = tmp_path / "plan.json"
    path.write_text(plan_text(plan), encoding="utf-8")
    assert_one_line_error(cli_inprocess(capsys, "simulate", "--faults", str(path), "--json"),
                          field)


@pytest.mark.parametrize("plan,field", [BAD_PLANS[0], BAD_PLANS[8], BAD_PLANS[21],
                                        BAD_FOR_CONFIG[5], BAD_FOR_CONFIG[9]],
                         ids=lambda x: plan_text(x)[:40])
def test_cli_simulate_bad_fault_plan_subprocess(tmp_path, plan, field):
    """The same through a real process (not JSON, negative at, a partition
    with one group, a crash of a process already down, a reconfiguration to
    an existing id)."""
    path = tmp_path / "plan.json"
    path.write_text(plan_text(plan), encoding="utf-8")
    assert_one_line_error(cli("simulate", "--faults", str(path), "--json"), field)


def test_cli_simulate_missing_fault_plan(tmp_path):
    assert_one_line_error(cli("simulate", "--faults", str(tmp_path / "nope.json")),
                          "faults", "nope.json")


def test_cli_good_plan_still_runs(tmp_path):
    """The control: the same command with a valid plan prints one JSON object
    and exits 0, so the failures above are about the input."""
    path = tmp_path / "plan.json"
    path.write_text(FaultPlan((crash(5, "l1"), recover(50, "l1"))).dumps(), encoding="utf-8")
    code, out, err = cli("simulate", "--faults", str(path), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["violations"] == [] and result["completed"] == result["requested"] == 30


LINCHECK_BAD = [None, "{", "[]", '{"format": "paxos-lit-history/1"}',
                '{"format": "paxos-lit-history/1", "model": "kv", "ops": [{"id": 0}]}']
LINCHECK_IDS = ["missing", "not-json", "not-object", "no-ops", "bad-op"]


@pytest.mark.parametrize("content", LINCHECK_BAD, ids=LINCHECK_IDS)
def test_cli_lincheck_bad_file(tmp_path, capsys, content):
    """`paxos-lit lincheck FILE` with a missing or malformed history: one
    line naming the file, exit 2."""
    path = tmp_path / "history.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert_one_line_error(cli_inprocess(capsys, "lincheck", str(path), "--json"),
                          "history.json")


@pytest.mark.parametrize("content", [LINCHECK_BAD[0], LINCHECK_BAD[1]], ids=LINCHECK_IDS[:2])
def test_cli_lincheck_bad_file_subprocess(tmp_path, content):
    path = tmp_path / "history.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert_one_line_error(cli("lincheck", str(path), "--json"), "history.json")
