"""The chart functions of paxos_widgets.figures, headless.

Every count a chart shows is derived here again, independently, from the raw
trace (or from the processes' final state) and compared: a lane per process,
an arrow per network message and per fate, a bar per client operation, a
marker per scout verdict, a cell per decision a replica holds.  The protocol
facts the charts draw are PMMC's: ballots ordered as (round, leader) and a
leader active once a majority adopted its ballot (section 3.3), replicas
holding decisions slot by slot (section 3.1, R1-R2), reconfiguration as a
decided command (section 3.4).
"""

from __future__ import annotations

import ast
from pathlib import Path

import plotly.graph_objects as go
import pytest
from paxos_widgets import figures as F
from paxos_widgets import tracemodel as tm

import paxos_lit as px
from paxos_lit.errors import ConfigError
from paxos_lit.messages import Adopted, Preempted
from paxos_lit.types import NOOP, is_reconfig

ROOT = Path(__file__).resolve().parent.parent
FIGURES = (F.figure_ballots, F.figure_slots, F.figure_messages, F.figure_history)


def run(config=None, seed=1, plan=None, max_events=None, **kw):
    sim = px.Simulator(config or px.SimConfig(), seed, plan, **kw)
    sim.run(max_events=max_events)
    return sim


@pytest.fixture(scope="module")
def faulty():
    """A run with loss, duplication, a leader crash and recovery and a
    partition: every style of every chart has something to draw."""
    plan = px.FaultPlan((px.crash(20, "l2"), px.recover(60, "l2"),
                         px.partition(80, ["a1", "l1"], ["a2", "a3", "l2", "r1", "r2"]),
                         px.heal(100)))
    return run(px.SimConfig(net=px.NetParams(loss=0.05, dup=0.05)), seed=3, plan=plan)


@pytest.fixture(scope="module")
def calm():
    return run(px.SimConfig(), seed=7)


def by_name(fig, name):
    (trace,) = [t for t in fig.data if t.name == name]
    return trace


def segments(trace) -> int:
    """Arrows drawn in a message-chart trace: (start, end, gap) triples."""
    xs = list(trace.x or ())
    assert len(xs) % 3 == 0 and all(x is None for x in xs[2::3])
    return len(xs) // 3


# -- every figure ------------------------------------------------------------

@pytest.mark.parametrize("func", FIGURES, ids=lambda f: f.__name__)
def test_every_figure_prints_its_seed_and_is_a_plain_figure(func, faulty):
    """DESIGN section 3, rule 6: every figure prints its seed."""
    fig = func(faulty)
    assert isinstance(fig, go.Figure) and not isinstance(fig, go.FigureWidget)
    assert f"seed {faulty.seed}" in fig.layout.title.text


@pytest.mark.parametrize("func", FIGURES, ids=lambda f: f.__name__)
def test_static_variant_has_slider_frames(func, faulty):
    """The static variant scrubs through the run without a kernel: N frames,
    a slider with N steps, each frame redrawing every trace."""
    fig = func(faulty, slider=6)
    assert len(fig.frames) == 6
    (slider,) = fig.layout.sliders
    assert [s.args[0][0] for s in slider.steps] == [f.name for f in fig.frames]
    assert slider.active == 5
    for frame in fig.frames:
        assert len(frame.data) == len(fig.data)
    assert not func(faulty).frames


def test_bare_trace_needs_a_seed(calm):
    """A bare trace carries no seed, and a figure must print one."""
    with pytest.raises(ConfigError) as e:
        F.figure_ballots(list(calm.trace))
    assert e.value.field == "seed"
    fig = F.figure_ballots(list(calm.trace), seed=99)
    assert "seed 99" in fig.layout.title.text


@pytest.mark.parametrize("kw,field", [({"slider": -1}, "slider"), ({"slider": 1.5}, "slider"),
                                      ({"window": (5, 1)}, "window"),
                                      ({"max_arrows": 0}, "max_arrows")])
def test_bad_arguments_name_the_field(calm, kw, field):
    with pytest.raises(ConfigError) as e:
        F.figure_messages(calm, **kw)
    assert e.value.field == field


def test_no_numpy_or_pandas_in_the_widgets_package():
    """The book also runs in JupyterLite (DESIGN section 7): pure Python only."""
    for path in (ROOT / "widgets").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in ("numpy", "pandas"), (path.name, name)


# -- ballots ---------------------------------------------------------------------

def test_ballot_timeline_counts(faulty):
    """A line and an active band per leader; a marker per scout started, per
    ballot adopted and per preemption, as many as the trace has (PMMC Figs.
    6-8)."""
    fig = F.figure_ballots(faulty)
    leaders = faulty.config.leader_ids
    for lid in leaders:
        by_name(fig, f"{lid} ballot")
        by_name(fig, f"{lid} active")
    sends = [r for r in faulty.trace if r[1] == "send"]
    scouts = {r[3] for r in faulty.trace if r[1] == "spawn" and r[4] == "Scout"}
    assert len(by_name(fig, "scout started").x) == len(scouts)
    assert len(by_name(fig, "adopted").x) == sum(type(r[4]) is Adopted for r in sends)
    assert len(by_name(fig, "preempted").x) == sum(type(r[4]) is Preempted for r in sends)
    assert len(fig.data) == 2 * len(leaders) + 3


def test_ballot_timeline_orders_ballots_and_marks_activity(faulty):
    """y follows the ballot order (round, then leader id), and each active
    band sits where the trace's state records say the leader was active."""
    fig = F.figure_ballots(faulty)
    states = [(r[0], r[2], r[4]) for r in faulty.trace if r[1] == "state"]
    for lid in faulty.config.leader_ids:
        line = by_name(fig, f"{lid} ballot")
        pts = [(x, y) for x, y in zip(line.x, line.y) if y is not None]
        ballots = [b for t, p, (b, a) in states if p == lid]
        assert {round(y, 9) for x, y in pts} == {round(b.round + faulty.config.leader_ids.index(
            b.leader) / len(faulty.config.leader_ids), 9) for b in ballots}
        band = by_name(fig, f"{lid} active")
        starts = [band.x[i] for i in range(0, len(band.x), 3)]
        became_active = [t for t, p, (b, a) in states if p == lid and a]
        assert starts == became_active


def test_ballot_timeline_crash_and_partition_bands(faulty):
    """A band per down period (crash to recover) and per partition (to the
    heal), labelled; the note names the leader(s) active at the end."""
    fig = F.figure_ballots(faulty)
    notes = [a.text for a in fig.layout.annotations]
    crashes = [r for r in faulty.trace if r[1] == "crash"]
    assert sum(n.endswith(" down") for n in notes) == len(crashes) == 1
    assert any(n.startswith("partition a1 l1 |") for n in notes)
    bands = [s for s in fig.layout.shapes if s.type == "rect"]
    assert [(b.x0, b.x1) for b in bands] == [(20.0, 60.0), (80.0, 100.0)]
    active = sorted(p for p, st in faulty.observed.items() if st is not None and st[1])
    assert notes[-1] == "active leader: " + ", ".join(
        f"{p} {faulty.observed[p][0]}" for p in active)


def test_takeover_after_crashing_the_active_leader(calm):
    """Crash the leader that is active: another leader's scout gets a higher
    ballot adopted and it becomes active (PMMC section 3.3)."""
    sim = run(px.SimConfig(), seed=7, max_events=300)
    (victim,) = tm.active_leaders(tm.as_run(sim))
    plan = px.FaultPlan((px.crash(sim.now + 0.001, victim[0]),))
    sim = run(px.SimConfig(), seed=7, plan=plan)
    fig = F.figure_ballots(sim)
    note = fig.layout.annotations[-1].text
    assert note.startswith("active leader: ") and victim[0] not in note
    heir = note.split()[2]
    assert sim.observed[heir][0] > victim[1]


# -- slots ------------------------------------------------------------------------

def cells(fig, name):
    t = by_name(fig, name)
    return list(zip(t.x, t.y))


def test_slot_grid_matches_the_replicas_decisions(faulty):
    """A filled cell per (replica, slot) the replica has learned, coloured
    by client; undecided cells fill the gaps below the highest slot; a
    slot_out marker per replica at its first undecided slot (R2)."""
    fig = F.figure_slots(faulty, max_slots=1000)
    reps = faulty.config.replica_ids
    expected = {}
    for i, r in enumerate(reps):
        for s, c in faulty.procs[r].decisions.items():
            key = "no-op" if c == NOOP else "reconfiguration" if is_reconfig(c) else c.client
            expected.setdefault(key, set()).add((s, i))
    for key, want in expected.items():
        assert set(cells(fig, key)) == want
    top = max(s for r in reps for s in faulty.procs[r].decisions)
    decided = sum(len(faulty.procs[r].decisions) for r in reps)
    assert len(cells(fig, "undecided")) == len(reps) * top - decided
    assert sorted(cells(fig, "slot_out")) == sorted(
        (faulty.procs[r].slot_out - 0.5, i) for i, r in enumerate(reps))


def test_slot_grid_marks_commands_decided_in_two_slots(faulty):
    """The duplicate-slot defect (a command in two slots) is marked on
    every such cell; the replica performs it once."""
    fig = F.figure_slots(faulty, max_slots=1000)
    want = set()
    for i, r in enumerate(faulty.config.replica_ids):
        where = {}
        for s, c in faulty.procs[r].decisions.items():
            if c != NOOP:
                where.setdefault(c, []).append(s)
        want |= {(s, i) for ss in where.values() if len(ss) > 1 for s in ss}
    assert want, "this seed was chosen because it shows the defect"
    assert set(cells(fig, "duplicate slot")) == want


def test_slot_grid_marks_reconfiguration():
    """A reconfiguration is a command decided in a slot (PMMC section 3.4):
    one star per replica that holds it."""
    plan = px.FaultPlan.from_json([{"at": 10, "action": "reconfigure", "leaders": ["l3"],
                                    "acceptors": ["a4", "a5", "a6"]}])
    sim = run(px.SimConfig(), seed=2, plan=plan)
    fig = F.figure_slots(sim)
    stars = cells(fig, "reconfiguration")
    held = [(s, i) for i, r in enumerate(sim.config.replica_ids)
            for s, c in sim.procs[r].decisions.items() if is_reconfig(c)]
    assert sorted(stars) == sorted(held) and len(held) == 2


def test_slot_grid_windows_long_logs(faulty):
    fig = F.figure_slots(faulty, max_slots=5)
    top = max(s for r in faulty.config.replica_ids for s in faulty.procs[r].decisions)
    xs = [x for t in fig.data for x in t.x if t.name != "slot_out"]
    assert min(xs) == top - 4 and max(xs) == top
    assert fig.layout.annotations[0].text == f"showing slots {top - 4}-{top} of {top}"


def test_a_crashed_replica_forgets_its_decisions():
    """Replica state is volatile: while r1 is down its row is empty."""
    sim = run(px.SimConfig(), seed=4, plan=px.FaultPlan((px.crash(30, "r1"),)), max_events=2000)
    fig = F.figure_slots(sim)
    rows = {y for t in fig.data if t.name not in ("undecided", "slot_out") for y in t.y}
    assert rows == {1}


# -- messages ---------------------------------------------------------------------------

def raw_fates(sim):
    """Network messages by fate, counted from the raw trace."""
    lost = {(r[0], r[2], r[3], r[4]) for r in sim.trace if r[1] == "lost"}
    counts = {"delivered": 0, "in flight": 0, "duplicate": 0, "dropped": 0, "lost": 0}
    for _t, kind, a, b, payload, extra in sim.trace:
        if kind not in ("send", "dup", "drop") or a.split(".")[0] == b.split(".")[0]:
            continue
        if kind == "drop":
            counts["dropped"] += 1
        elif (extra, a, b, payload) in lost:
            counts["lost"] += 1
        elif kind == "dup":
            counts["duplicate"] += 1
        elif extra > sim.now:
            counts["in flight"] += 1
        else:
            counts["delivered"] += 1
    return counts


def test_message_chart_draws_an_arrow_per_message(faulty):
    """A lane per process; an arrow per message between two processes,
    styled by fate; dropped ones are stubs ending halfway between lanes."""
    fig = F.figure_messages(faulty, max_arrows=10**6)
    lanes = list(fig.layout.yaxis2.ticktext)
    c = faulty.config
    assert lanes == [*c.client_ids, *c.replica_ids, *c.leader_ids, *c.acceptor_ids]
    counts = raw_fates(faulty)
    delivered = sum(segments(by_name(fig, g)) for g in tm.GROUPS)
    assert delivered == counts["delivered"] > 0
    for fate in ("duplicate", "dropped", "lost"):
        assert segments(by_name(fig, fate)) == counts[fate] > 0, fate
    stubs = by_name(fig, "dropped")
    lane = {p: i for i, p in enumerate(lanes)}
    halfway = [(lane[a.split(".")[0]] + lane[b.split(".")[0]]) / 2
               for t, kind, a, b, payload, extra in faulty.trace
               if kind == "drop" and a.split(".")[0] != b.split(".")[0]]
    assert list(stubs.y[1::3]) == halfway
    assert sum(fig.data[0].y) == sum(counts.values())   # the overview counts all


def test_message_chart_in_flight_and_faults():
    """A run cut short has messages on the wire; a crash shades its lane and
    a network change is a labelled line."""
    plan = px.FaultPlan((px.crash(5, "a1"), px.Action(at=6.0, action="set", loss=0.1)))
    sim = run(px.SimConfig(), seed=5, plan=plan, max_events=150)
    fig = F.figure_messages(sim)
    assert segments(by_name(fig, "in flight")) == raw_fates(sim)["in flight"] > 0
    notes = [a.text for a in fig.layout.annotations]
    assert "a1 down" in notes and "set loss=0.1" in notes


def test_message_chart_windows_what_nobody_can_read(faulty):
    """Beyond max_arrows only the latest are drawn, and the chart says so;
    an explicit window draws exactly its messages."""
    fig = F.figure_messages(faulty, max_arrows=40)
    drawn = sum(segments(t) for t in fig.data[1:])
    total = sum(raw_fates(faulty).values())
    assert drawn == 40
    assert fig.layout.annotations[-1].text.endswith(f"40 of {total} messages drawn")
    fig = F.figure_messages(faulty, window=(10.0, 30.0), max_arrows=10**6)
    msgs = [m for m in tm.network_messages(tm.as_run(faulty)) if 10 <= m["t"] <= 30]
    assert sum(segments(t) for t in fig.data[1:]) == len(msgs)
    sends = [x for t in fig.data[1:] for x in t.x[0::3]]
    assert min(sends) >= 10 and max(sends) <= 30


def test_message_chart_slider_windows_cover_the_run(faulty):
    """The static variant's frames are consecutive windows: together they
    draw every message once (each under max_arrows)."""
    fig = F.figure_messages(faulty, slider=30, max_arrows=10**6)
    per_frame = [sum(segments(go.Scatter(t)) for t in f.data[1:]) for f in fig.frames]
    assert sum(per_frame) == sum(raw_fates(faulty).values())


# -- history -----------------------------------------------------------------------------

def test_history_chart_a_bar_per_operation(faulty):
    """One lane per client, one bar per operation, pending ones apart; the
    title carries the checker's verdict."""
    fig = F.figure_history(faulty)
    ops = faulty.history()["ops"]
    assert sum(len(t.x) for t in fig.data) == len(ops)
    answered = [op for op in ops if op["return"] is not None]
    assert sum(len(by_name(fig, k).x) for k in ("get", "put", "append", "cas")) == len(answered)
    assert list(fig.layout.yaxis.ticktext) == list(faulty.config.client_ids)
    assert fig.layout.title.text.endswith("linearizable ✓")
    assert fig.layout.meta["linearizable"] is True


def test_history_chart_highlights_the_failing_operations(calm):
    """A read of a value nobody wrote cannot be linearized (Herlihy and
    Wing): the failing key's operations are red and the title says so."""
    hist = {"format": "paxos-lit-history/1", "model": "kv", "ops": [
        {"id": 0, "client": "c1", "call": 1.0, "return": 2.0,
         "op": {"kind": "put", "key": "x", "value": "1"}, "result": {}},
        {"id": 1, "client": "c2", "call": 3.0, "return": 4.0,
         "op": {"kind": "get", "key": "x"}, "result": {"value": "2"}},
        {"id": 2, "client": "c3", "call": 3.0, "return": 5.0,
         "op": {"kind": "put", "key": "y", "value": "7"}, "result": {}},
        {"id": 3, "client": "c1", "call": 6.0, "return": None,
         "op": {"kind": "append", "key": "y", "value": "8"}, "result": None}]}
    fig = F.figure_history(list(calm.trace), seed=7, history=hist)
    assert "NOT linearizable ✗ (key 'x')" in fig.layout.title.text
    failing = by_name(fig, "failing")
    assert sorted(failing.base) == [1.0, 3.0]
    assert len(by_name(fig, "pending").x) == 1
    assert fig.layout.meta["failing_ops"] == [0, 1]


def test_history_needs_a_history_with_a_bare_trace(calm):
    with pytest.raises(ConfigError) as e:
        F.figure_history(list(calm.trace), seed=7)
    assert e.value.field == "history"
    with pytest.raises(ConfigError) as e:
        F.figure_history(list(calm.trace), seed=7, history={"format": "x"})
    assert e.value.field == "history"


# -- sweeps -------------------------------------------------------------------------------

def test_sweep_chart_lines_points_and_seeds():
    """One line per policy in each panel, one point per loss rate, the mean
    over seeds with the min-max spread as error bars; the title lists the
    seeds."""
    runs = F.run_sweep(px.SimConfig(commands=3), losses=(0.0, 0.1), seeds=(1, 2))
    assert len(runs) == 2 * 2 * 2
    for r in runs:
        assert r["throughput"] == pytest.approx(r["decided_slots"] / r["virtual_time"])
    fig = F.figure_sweep(runs)
    assert "seeds 1, 2" in fig.layout.title.text
    assert len(fig.data) == 2 * 2
    for t in fig.data:
        assert list(t.x) == [0.0, 0.1]
        rows = [r for r in runs if r["leader_policy"] == t.name]
        metric = "throughput" if t.xaxis == "x" else "latency_mean"
        for x, y, up, down in zip(t.x, t.y, t.error_y.array, t.error_y.arrayminus):
            vals = [r[metric] for r in rows if r["loss"] == x]
            assert y == pytest.approx(sum(vals) / len(vals))
            assert y + up == pytest.approx(max(vals)) and y - down == pytest.approx(min(vals))
    fig = F.figure_sweep(runs, slider=1)
    assert [f.name for f in fig.frames] == ["s1", "s2", "mean"]


def test_sweep_bad_runs_name_the_field():
    with pytest.raises(ConfigError) as e:
        F.figure_sweep([])
    assert e.value.field == "runs"
    with pytest.raises(ConfigError) as e:
        F.figure_sweep([{"seed": 1, "loss": 0, "leader_policy": "naive", "throughput": 1}])
    assert e.value.field == "runs[0].latency_mean"


# -- live update --------------------------------------------------------------------------

def test_update_widget_in_place(calm):
    """update_widget keeps the widget (and its traces) and ends with exactly
    the new figure's data and layout."""
    early = run(px.SimConfig(), seed=7, max_events=100)
    fw = go.FigureWidget(F.figure_messages(early))
    traces = list(fw.data)
    new = F.spec_messages(calm)
    F.update_widget(fw, new)
    assert list(fw.data) == traces
    got = fw.to_plotly_json()
    for a, b in zip(got["data"], new["data"]):
        assert {k: v for k, v in a.items() if k != "uid"} == b
    for key in ("title", "shapes", "annotations", "xaxis2"):
        assert got["layout"][key] == new["layout"][key], key
    assert len(fw.layout.annotations) == len(new["layout"]["annotations"])
    # a figure with other traces replaces them
    F.update_widget(fw, F.spec_ballots(calm))
    assert [t.name for t in fw.data] == [t["name"] for t in F.spec_ballots(calm)["data"]]
