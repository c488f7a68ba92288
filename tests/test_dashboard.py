"""The dashboard's logic, driven as a person would: set values, click.

The rules under test:

- a run is a function of ``(config, seed, fault plan)`` (DESIGN section 3,
  rule 6), so every click is recorded as a plan action and replaying the
  recorded plan reproduces the session's trace, hash for hash, whatever was
  clicked, stepped back or forked;
- bounded widgets make out-of-range values impossible, and an impossible
  request (crash a process that is down, a partition with an empty group)
  shows a message, never raises, and changes nothing;
- the invariant banner turns red and names the invariant a run breaks (PMMC
  section 3.3's A1 here, with an acceptor that adopts any ballot);
- the figures are the same FigureWidget objects, updated in place.
"""

from __future__ import annotations

import asyncio

import pytest
from paxos_widgets import figures as F
from paxos_widgets.dashboard import Dashboard
from paxos_widgets.session import Session, time_between

import paxos_lit as px
from paxos_lit.errors import ConfigError
from paxos_lit.messages import P1b


def make(seed=7, **kw):
    return Dashboard(px.SimConfig(**kw), seed=seed, background=False)


def replayed(session) -> str:
    sim = px.Simulator(session.config, session.seed, session.plan)
    sim.run(max_events=session.events, stop_when_finished=False)
    return sim.trace.sha256()


def click_session(d: Dashboard):
    """A session of clicks touching every kind of fault the dashboard records."""
    d.run_panel.n.value = 120
    d.run_panel.run_button.click()
    leader = d.session.active_leaders()[0]
    d.process_panel.crash_buttons[leader].click()
    d.run_panel.step_button.click()
    d.network_panel.loss.value = 0.1
    d.network_panel.dup.value = 0.05
    d.network_panel.delay.value = (0.3, 2.0)
    d.run_panel.n.value = 80
    d.run_panel.run_button.click()
    g = d.partition_panel.groups
    g[0].value = ("a1", "l1")
    g[1].value = ("a2", "a3", "r1")
    d.partition_panel.cut.click()
    d.partition_panel.src.value = ("l2",)
    d.partition_panel.dst.value = ("a1", "a2")
    d.partition_panel.block_button.click()
    d.run_panel.run_button.click()
    d.partition_panel.heal_button.click()
    d.process_panel.recover_buttons[leader].click()
    d.process_panel.crash_buttons["a3"].click()
    d.run_panel.until_button.click()
    return leader


def test_a_click_session_replays_exactly():
    """Every click becomes a plan action; Simulator(config, seed, plan)
    replays the session to the same trace hash, and the replay code the
    dashboard writes runs and checks that hash itself."""
    d = make()
    leader = click_session(d)
    kinds = [a.action for a in d.session.plan]
    assert kinds == ["crash", "set", "set", "set", "partition", "block", "heal", "recover",
                     "crash"]
    assert d.session.plan.actions[0].process == leader
    assert d.session.finished
    assert replayed(d.session) == d.session.trace_sha256()
    # The JSON shown round-trips to the same plan.
    assert px.FaultPlan.loads(d.plan_panel.json.value) == d.session.plan
    d.plan_panel.replay_button.click()
    code = d.plan_panel.code.value
    assert d.session.trace_sha256() in code
    scope: dict = {}
    exec(compile(code, "<replay cell>", "exec"), scope)  # asserts the hash itself
    assert scope["sim"].events == d.session.events


def test_step_back_go_to_and_fork_replay_exactly():
    """Stepping back replays to the earlier event with later clicks still
    scheduled (so stepping forward meets them again); a fork drops them; a
    new click after going back forks by itself."""
    d = make(seed=3)
    click_session(d)
    s = d.session
    end, end_hash, plan = s.events, s.trace_sha256(), s.plan
    d.run_panel.back_button.click()
    assert s.events == end - 1
    d.run_panel.target.value = 150
    d.run_panel.goto_button.click()
    assert s.events == 150 and len(s.future) > 0
    s.go_to(end)
    assert s.trace_sha256() == end_hash and s.plan == plan
    s.go_to(150)
    dropped = len(s.future)
    d.run_panel.fork_button.click()
    assert f"dropped {dropped} later" in d.message.text
    assert not s.future and len(s.plan) == len(plan) - dropped
    s.go_to(100)
    assert s.future and all(100 < r.event <= 150 for r in s.future)
    kept = len(s.plan) - len(s.future)
    d.process_panel.crash_buttons["l1"].click()      # forks by itself
    assert len(s.plan) == kept + 1 and not s.future
    d.run_panel.until_button.click()
    assert replayed(s) == s.trace_sha256()


def test_fault_times_fall_between_events():
    """A clicked fault happens after the current instant's events and before
    the next one, at a short decimal time."""
    assert time_between(12.34567, 12.9) == 12.4
    assert time_between(3.0, 3.0001) == 3.00001
    assert time_between(5.5, float("inf")) == 6.0
    s = Session(px.SimConfig(), seed=1)
    s.run(57)
    nxt = s.sim.pending()[0][0]
    a = s.crash("l1")
    assert s.sim.now == a.at and a.at < nxt
    assert s.recorded[-1].event == s.events


def test_a_fault_before_anything_ran_is_at_time_zero():
    s = Session(px.SimConfig(), seed=1)
    a = s.crash("a1")
    assert a.at == 0.0 and s.events == 1
    s.run_until_decided()
    assert replayed(s) == s.trace_sha256()


def test_starting_plan_is_kept_and_clashes_are_refused():
    """A plan given at the start stays in the replayed plan; a click that
    contradicts one of its later actions is refused, naming it."""
    plan = px.FaultPlan((px.crash(15, "a1"),))
    d = Dashboard(px.SimConfig(), seed=2, plan=plan, background=False)
    d.run(20)
    before = d.session.trace_sha256()
    d.process_panel.crash_buttons["a2"].click()
    d.run_panel.until_button.click()
    assert d.session.plan.actions[0] == plan.actions[0]
    assert replayed(d.session) == d.session.trace_sha256()
    d2 = Dashboard(px.SimConfig(), seed=2, plan=plan, background=False)
    d2.run(5)
    before = d2.session.trace_sha256()
    d2.process_panel.crash_buttons["a1"].click()
    assert "clashes with the starting plan's action 't=15 crash process=a1'" in d2.message.text
    assert d2.session.trace_sha256() == before and len(d2.session.plan) == 1


# -- bad input ------------------------------------------------------------------------

def snapshot(d):
    s = d.session
    return (s.events, len(s.trace), s.trace_sha256(), s.plan, s.net)


@pytest.mark.parametrize("what,expect", [
    ("crash a process that is down", "crash l1: process: l1 is already down"),
    ("recover a process that is up", "recover a2: process: a2 is not down"),
    ("partition with an empty group", "partition: group 2: is empty"),
    ("partition with a process in two groups", "a process is in two groups"),
    ("block with nobody to block", "block: from: is empty"),
    ("step back from event 0", "step back: step: already at the start"),
])
def test_impossible_requests_show_a_message_and_change_nothing(what, expect):
    d = make()
    if what == "step back from event 0":
        d.run_panel.back_button.click()
        assert expect in d.message.text and d.session.events == 0
        return
    d.run(40)
    d.process_panel.crash_buttons["l1"].click()
    before = snapshot(d)
    if what.startswith("crash"):
        d.process_panel.crash_buttons["l1"].click()
    elif what.startswith("recover"):
        d.process_panel.recover_buttons["a2"].click()
    elif what == "partition with an empty group":
        d.partition_panel.groups[0].value = ("a1",)
        d.partition_panel.cut.click()
    elif what == "partition with a process in two groups":
        d.partition_panel.groups[0].value = ("a1", "l2")
        d.partition_panel.groups[1].value = ("a1", "r1")
        d.partition_panel.cut.click()
    else:
        d.partition_panel.block_button.click()
    assert expect in d.message.text, d.message.text
    assert "Traceback" not in d.message.value and "⚠" in d.message.value
    assert snapshot(d) == before


def test_session_errors_name_the_field():
    s = Session(px.SimConfig(), seed=1)
    with pytest.raises(ConfigError) as e:
        s.crash("c1")
    assert e.value.field == "process" and "cannot crash" in e.value.problem
    with pytest.raises(ConfigError) as e:
        s.crash("zz")
    assert e.value.field == "process" and "unknown process" in e.value.problem
    with pytest.raises(ConfigError) as e:
        s.set_network(delay_min=3.0)
    assert e.value.field == "delay_max"
    with pytest.raises(ConfigError) as e:
        s.set_network(loss=1.5)
    assert e.value.field == "action.loss"
    with pytest.raises(ConfigError) as e:
        s.go_to(-1)
    assert e.value.field == "step"
    assert s.events == 0 and not s.recorded


def test_bounded_widgets_clamp_out_of_range_values():
    """Out-of-range values cannot be entered: the widgets clamp them, and
    what reaches the plan is in range."""
    d = make()
    d.network_panel.loss.value = 7
    assert d.network_panel.loss.value == 1.0
    assert d.session.plan.actions[-1].loss == 1.0
    d.network_panel.dup.value = -3
    assert d.network_panel.dup.value == 0.0
    d.run_panel.n.value = 10**12
    assert d.run_panel.n.value == 100_000
    d.config_panel.seed.value = -5
    assert d.config_panel.seed.value == 0
    d.config_panel.acceptors.value = 0
    assert d.config_panel.acceptors.value == 1


def test_a_refused_slider_change_snaps_back():
    """A delay range the network cannot take (here: the run has hit its time
    limit) leaves the sliders showing what is in force."""
    d = Dashboard(px.SimConfig(until=5.0), seed=1, background=False)
    d.run_panel.until_button.click()
    d.network_panel.loss.value = 0.2      # at t=5: still within the limit
    assert d.session.now == 5.0
    before = snapshot(d)
    d.network_panel.delay.value = (2.0, 3.0)
    assert "time limit" in d.message.text
    assert d.network_panel.delay.value == (0.5, 1.5)
    assert snapshot(d) == before


# -- what the dashboard shows ----------------------------------------------------------------

class AdoptsAnyBallot(px.Acceptor):
    """Seeded bug: adopts every ballot it is sent, even a lower one."""

    def on_P1a(self, msg):
        self.ballot_num = msg.ballot
        self.env.send(msg.src, P1b(self.id, self.ballot_num, frozenset(self.accepted)))


def test_invariant_banner_names_the_broken_invariant():
    """Green while R1-R5, A1-A5, C1-C2 hold; red, naming A1 (an acceptor
    adopts only strictly increasing ballots, PMMC section 3.3), once the
    buggy acceptor breaks it."""
    good = make()
    good.run(100)
    assert "✓ invariants hold" in good.status.value and not good.status.broken
    d = Dashboard(px.SimConfig(), seed=0, roles={"acceptor": AdoptsAnyBallot},
                  background=False)
    assert "✓" in d.status.value
    d.run(10)
    assert d.status.broken[0] == "A1"
    assert "✗ <b>A1</b> broken: an acceptor adopts only strictly increasing ballots" \
        in d.status.value
    assert "#c62828" in d.status.value
    assert "pass the same roles=" in d.session.replay_code()


def test_process_rows_follow_the_simulation():
    d = make()
    assert list(d.process_panel.rows) == ["l1", "l2", "a1", "a2", "a3", "r1", "r2"]
    d.run(300)
    (active,) = d.session.active_leaders()
    assert "<b>active</b>" in d.process_panel.rows[active].value
    d.process_panel.crash_buttons[active].click()
    assert f"✗ {active} down" in d.process_panel.rows[active].value
    assert d.message.text.startswith(f"crash {active}: recorded t=")


def test_figures_update_in_place():
    """The FigureWidgets stay the same objects; after a click they hold
    exactly the figure functions' output for the new state."""
    d = make()
    widgets = dict(d.figure_panel.widgets)
    d.run(300)
    (active,) = d.session.active_leaders()
    d.process_panel.crash_buttons[active].click()
    d.run_panel.until_button.click()
    assert d.figure_panel.widgets == widgets
    for name, fw in widgets.items():
        spec = d.figure_panel.spec(name)
        got = fw.to_plotly_json()
        assert [{k: v for k, v in t.items() if k != "uid"} for t in got["data"]] == spec["data"]
        assert got["layout"]["title"] == spec["layout"]["title"]
    ballots = widgets["ballots"].to_plotly_json()["layout"]
    notes = [a["text"] for a in ballots["annotations"]]
    assert f"{active} down" in notes
    assert notes[-1].startswith("active leader: ") and active not in notes[-1]
    assert f"{d.session.events} events" in ballots["title"]["text"]


def test_new_run_resets_with_the_chosen_seed_and_config():
    d = make()
    click_session(d)
    d.config_panel.seed.value = 11
    d.config_panel.leaders.value = 3
    d.config_panel.policy.value = "naive"
    d.config_panel.new.click()
    s = d.session
    assert (s.seed, s.events, len(s.plan), s.config.leaders, s.config.leader_policy) == \
        (11, 0, 0, 3, "naive")
    assert "crash l3" in [b.description for b in d.process_panel.crash_buttons.values()]
    assert "seed 11" in d.figure_panel.widgets["ballots"].layout.title.text


def test_pause_stops_a_background_run():
    """In a kernel, "run until decided" runs in chunks on the event loop, so
    a click on pause is seen between two chunks."""
    d = Dashboard(px.SimConfig(commands=60), seed=1, background=True)
    d.run_panel.pause_button.click()
    assert d.message.text == "pause: nothing is running (event 0)"

    async def session():
        d.run_panel.until_button.click()
        await asyncio.sleep(0)          # the first chunk runs
        d.run_panel.pause_button.click()
        await d.run_panel.running

    asyncio.run(session())
    assert not d.session.finished
    assert d.session.events == 2 * d.run_panel.CHUNK
    assert d.message.text == f"paused at event {d.session.events}"
    d.run_panel.until_button.click()    # no running loop here: runs to the end
    assert d.session.finished


def test_figure_panel_options_and_bad_names():
    d = Dashboard(px.SimConfig(), seed=1, figures=("messages",),
                  figure_options={"messages": {"max_arrows": 10}}, background=False)
    d.run(200)
    fw = d.figure_panel.widgets["messages"]
    assert sum(len(t.x) // 3 for t in fw.data[1:]) == 10
    assert list(d.figure_panel.widgets) == ["messages"]
    with pytest.raises(ConfigError) as e:
        Dashboard(px.SimConfig(), figures=("nope",))
    assert e.value.field == "figures"
    assert F.figure_messages(d.session).layout.title.text.startswith("Messages · seed 1")
