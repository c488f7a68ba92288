"""The dashboard: crash a leader with a button and watch the ballots react.

``Dashboard`` is one ipywidgets box made of parts, each usable on its own
(they all talk to one :class:`~paxos_widgets.session.Session`):

=====================  =====================================================
``ConfigPanel``        configuration and seed; "new run"
``ProcessPanel``       per replica, leader and acceptor: its state, a crash
                       and a recover button
``NetworkPanel``       loss, duplication and delay sliders (bounded)
``PartitionPanel``     a partition builder (groups), one-way blocks, heal
``RunPanel``           step, run N, run until decided, pause, step back, go
                       to step N, fork
``InvariantStatus``    green while R1-R5, A1-A5, C1-C2 hold; red, naming the
                       broken invariant, once one fails
``PlanPanel``          the recorded fault plan as JSON; a button that writes
                       the replay code (with the trace hash to check)
``FigurePanel``        the figures of ``paxos_widgets.figures`` as plotly
                       ``FigureWidget``\\ s, updated in place
=====================  =====================================================

Every click goes through :meth:`Dashboard.act`: a request the simulator
cannot honour (crash a process that is down, a partition with an empty
group) shows a one-line message under the controls, never a traceback, and
changes nothing.  Every fault clicked is recorded as a fault-plan action, so
the session replays exactly (see ``session.py``).
"""

from __future__ import annotations

import asyncio
import html
import time

import ipywidgets as w
import plotly.graph_objects as go

from paxos_lit.errors import ConfigError
from paxos_lit.invariants import NAMES
from paxos_lit.leader import POLICIES
from paxos_lit.sim import FaultPlan, SimConfig

from . import figures as F
from .session import Session

__all__ = ["Dashboard", "ConfigPanel", "ProcessPanel", "NetworkPanel", "PartitionPanel",
           "RunPanel", "InvariantStatus", "PlanPanel", "FigurePanel", "MessageBar",
           "FIGURES"]

#: Figure name -> (function, keyword arguments the dashboard passes).
FIGURES = {
    "ballots": (F.spec_ballots, {}),
    "slots": (F.spec_slots, {"max_slots": 40}),
    "messages": (F.spec_messages, {"max_arrows": 150}),
    "history": (F.spec_history, {"timeout_s": 2.0}),
}

_SMALL = {"description_width": "initial"}


class MessageBar(w.HTML):
    """One line of feedback: what the last click did, or why it could not."""

    def ok(self, text: str) -> None:
        self.value = f"<span style='color:#2a7a2a'>{html.escape(text)}</span>"

    def error(self, text: str) -> None:
        self.value = ("<div style='color:#a00;background:#fdecea;padding:2px 6px;"
                      f"border-radius:3px'>⚠ {html.escape(text)}</div>")

    @property
    def text(self) -> str:
        """The message without markup (for tests)."""
        import re
        return html.unescape(re.sub(r"<[^>]+>", "", self.value))


class _Part(w.VBox):
    """A dashboard part: a box that knows its dashboard and can refresh."""

    def __init__(self, dash: Dashboard, **kw):
        super().__init__(**kw)
        self.dash = dash

    @property
    def session(self) -> Session:
        return self.dash.session

    def refresh(self) -> None:  # pragma: no cover - overridden
        pass


class ConfigPanel(_Part):
    """The configuration (process counts, leader policy) and seed; "new run"
    starts over with them (and forgets the recorded plan)."""

    def __init__(self, dash):
        super().__init__(dash)
        c = dash.session.config
        box = {"layout": w.Layout(width="125px"), "style": _SMALL}
        self.replicas = w.BoundedIntText(c.replicas, min=1, max=9, description="replicas", **box)
        self.leaders = w.BoundedIntText(c.leaders, min=1, max=9, description="leaders", **box)
        self.acceptors = w.BoundedIntText(c.acceptors, min=1, max=9, description="acceptors",
                                          **box)
        self.clients = w.BoundedIntText(c.clients, min=0, max=20, description="clients", **box)
        self.commands = w.BoundedIntText(c.commands, min=0, max=1000, description="commands",
                                         **box)
        self.policy = w.Dropdown(options=list(POLICIES), value=c.leader_policy,
                                 description="policy", layout=w.Layout(width="160px"),
                                 style=_SMALL)
        self.seed = w.BoundedIntText(dash.session.seed, min=0, max=2**31 - 1, description="seed",
                                     layout=w.Layout(width="150px"), style=_SMALL)
        self.new = w.Button(description="new run", icon="refresh",
                            tooltip="start again with this configuration and seed")
        self.new.on_click(lambda b: dash.act("new run", self.new_run))
        self.children = [w.HBox([self.replicas, self.leaders, self.acceptors, self.clients,
                                 self.commands, self.policy, self.seed, self.new],
                                layout=w.Layout(flex_flow="row wrap"))]

    def config(self) -> SimConfig:
        old = self.session.config
        return SimConfig(replicas=self.replicas.value, leaders=self.leaders.value,
                         acceptors=self.acceptors.value, clients=self.clients.value,
                         commands=self.commands.value, window=old.window,
                         leader_policy=self.policy.value, net=old.net, until=old.until,
                         keys=old.keys)

    def new_run(self) -> str:
        self.session.reset(self.config(), self.seed.value)
        return f"new run: seed {self.seed.value}"

    def refresh(self) -> None:
        c = self.session.config
        for name in ("replicas", "leaders", "acceptors", "clients", "commands"):
            getattr(self, name).value = getattr(c, name)
        self.policy.value = c.leader_policy
        self.seed.value = self.session.seed


class ProcessPanel(_Part):
    """One row per replica, leader and acceptor: its state and a crash and a
    recover button (``crash l1``, ``recover l1``)."""

    def __init__(self, dash):
        super().__init__(dash)
        self.rows: dict = {}
        self.crash_buttons: dict = {}
        self.recover_buttons: dict = {}
        self._build()

    def _build(self):
        self.rows, self.crash_buttons, self.recover_buttons = {}, {}, {}
        rows = [w.HTML("<b>processes</b>")]
        for pid in self.session.crashable:
            label = w.HTML(layout=w.Layout(width="150px"))
            crash = w.Button(description=f"crash {pid}", button_style="danger",
                             layout=w.Layout(width="88px"), tooltip=f"crash {pid} now")
            recover = w.Button(description=f"recover {pid}", button_style="success",
                               layout=w.Layout(width="100px"), tooltip=f"recover {pid} now")
            crash.on_click(lambda b, p=pid: self.dash.act(f"crash {p}", self.session.crash, p))
            recover.on_click(lambda b, p=pid: self.dash.act(f"recover {p}",
                                                            self.session.recover, p))
            self.rows[pid] = label
            self.crash_buttons[pid] = crash
            self.recover_buttons[pid] = recover
            rows.append(w.HBox([label, crash, recover]))
        self.children = rows

    def refresh(self) -> None:
        if list(self.rows) != self.session.crashable:
            self._build()
        s = self.session
        for pid, label in self.rows.items():
            if s.is_down(pid):
                text = f"<span style='color:#a00'>✗ {pid} down</span>"
            else:
                st = s.leader_state(pid)
                if st is not None:
                    ballot, active = st
                    state = "<b>active</b>" if active else "passive"
                    text = f"● {pid} {state} {html.escape(str(ballot))}"
                else:
                    text = f"● {pid} up"
            label.value = text


class NetworkPanel(_Part):
    """Loss and duplication probabilities and the delay range of the whole
    network.  The sliders are bounded (probabilities in [0, 1], delays in
    [0, 20]); each change made by hand is a recorded ``set`` action."""

    def __init__(self, dash):
        super().__init__(dash)
        net = dash.session.net
        opts = {"continuous_update": False, "style": _SMALL, "layout": w.Layout(width="300px")}
        self.loss = w.FloatSlider(net.loss, min=0.0, max=1.0, step=0.01, description="loss",
                                  readout_format=".2f", **opts)
        self.dup = w.FloatSlider(net.dup, min=0.0, max=1.0, step=0.01, description="dup",
                                 readout_format=".2f", **opts)
        self.delay = w.FloatRangeSlider(value=(net.delay_min, net.delay_max), min=0.0,
                                        max=20.0, step=0.1, description="delay",
                                        readout_format=".1f", **opts)
        self._syncing = False
        self.loss.observe(lambda ch: self._changed(loss=ch["new"]), names="value")
        self.dup.observe(lambda ch: self._changed(dup=ch["new"]), names="value")
        self.delay.observe(lambda ch: self._changed(delay_min=ch["new"][0],
                                                    delay_max=ch["new"][1]), names="value")
        self.children = [w.HTML("<b>network</b>"), self.loss, self.dup, self.delay]

    def _changed(self, **kw):
        if self._syncing:
            return
        if self.dash.act("network", self.session.set_network, **kw) is None:
            self.refresh()  # refused: show the values in force again

    def refresh(self) -> None:
        net = self.session.net
        self._syncing = True
        try:
            self.loss.value = net.loss
            self.dup.value = net.dup
            self.delay.value = (net.delay_min, net.delay_max)
        finally:
            self._syncing = False


class PartitionPanel(_Part):
    """Build a partition: pick the processes of each group (at least two
    groups, none empty); or block links one way, from the ``from`` processes
    to the ``to`` processes; "heal" restores every link."""

    def __init__(self, dash):
        super().__init__(dash)
        self.groups: list = []
        self.add_group = w.Button(description="+ group", layout=w.Layout(width="80px"))
        self.remove_group = w.Button(description="− group", layout=w.Layout(width="80px"))
        self.cut = w.Button(description="partition", button_style="warning",
                            layout=w.Layout(width="90px"))
        self.src = self._select("from")
        self.dst = self._select("to")
        self.block_button = w.Button(description="block from → to", button_style="warning",
                                     layout=w.Layout(width="130px"))
        self.heal_button = w.Button(description="heal", button_style="info",
                                    layout=w.Layout(width="70px"))
        self.add_group.on_click(lambda b: self._add_group())
        self.remove_group.on_click(lambda b: self._remove_group())
        self.cut.on_click(lambda b: dash.act("partition", self.partition))
        self.block_button.on_click(lambda b: dash.act("block", self.block))
        self.heal_button.on_click(lambda b: dash.act("heal", self.session.heal))
        self.group_box = w.HBox()
        self._add_group()
        self._add_group()
        self.children = [
            w.HTML("<b>partition</b> (ctrl/shift-click to pick several)"),
            w.HBox([w.VBox([self.group_box,
                            w.HBox([self.add_group, self.remove_group, self.cut])]),
                    w.VBox([w.HBox([self.src, self.dst]),
                            w.HBox([self.block_button, self.heal_button])])],
                   layout=w.Layout(flex_flow="row wrap")),
        ]

    def _select(self, title):
        return w.SelectMultiple(options=self.session.known, rows=5, description=title,
                                style=_SMALL, layout=w.Layout(width="105px"))

    def _add_group(self):
        if len(self.groups) >= 6:
            self.dash.message.error("partition: at most 6 groups")
            return
        self.groups.append(self._select(f"group {len(self.groups) + 1}"))
        self.group_box.children = list(self.groups)

    def _remove_group(self):
        if len(self.groups) > 2:
            self.groups.pop()
            self.group_box.children = list(self.groups)

    def partition(self):
        groups = [list(g.value) for g in self.groups]
        for i, g in enumerate(groups):
            if not g:
                raise ConfigError(f"group {i + 1}", "is empty: pick at least one process")
        return self.session.partition(groups)

    def block(self):
        if not self.src.value:
            raise ConfigError("from", "is empty: pick the senders whose links to cut")
        if not self.dst.value:
            raise ConfigError("to", "is empty: pick the receivers")
        return self.session.block(list(self.src.value), list(self.dst.value))

    def refresh(self) -> None:
        known = self.session.known
        for sel in self.groups + [self.src, self.dst]:
            if list(sel.options) != known:
                sel.options = known


class RunPanel(_Part):
    """Step, run N events, run until every client is answered (in chunks,
    so pause can stop it), step back, go to step N, fork."""

    CHUNK = 200
    REDRAW_S = 0.5

    def __init__(self, dash, run_n: int = 50):
        super().__init__(dash)
        self.step_button = w.Button(description="step", icon="step-forward",
                                    layout=w.Layout(width="80px"))
        self.n = w.BoundedIntText(run_n, min=1, max=100_000, layout=w.Layout(width="80px"))
        self.run_button = w.Button(description="run N", icon="play",
                                   layout=w.Layout(width="85px"))
        self.until_button = w.Button(description="run until decided", icon="fast-forward",
                                     layout=w.Layout(width="150px"))
        self.pause_button = w.Button(description="pause", icon="pause",
                                     layout=w.Layout(width="80px"))
        self.back_button = w.Button(description="step back", icon="step-backward",
                                    layout=w.Layout(width="100px"))
        self.target = w.BoundedIntText(0, min=0, max=10**9, layout=w.Layout(width="90px"))
        self.goto_button = w.Button(description="go to step", layout=w.Layout(width="95px"))
        self.fork_button = w.Button(description="fork here", icon="code-fork",
                                    tooltip="drop the recorded faults after this step",
                                    layout=w.Layout(width="95px"))
        self.info = w.HTML()
        s = lambda: self.session  # noqa: E731  (the session may be replaced)
        self.step_button.on_click(lambda b: dash.act("step", lambda: s().step()))
        self.run_button.on_click(lambda b: dash.act(f"run {self.n.value}",
                                                    lambda: s().run(self.n.value)))
        self.until_button.on_click(lambda b: self.run_until_decided())
        self.pause_button.on_click(lambda b: self.pause())
        self.back_button.on_click(lambda b: dash.act("step back", lambda: s().step_back()))
        self.goto_button.on_click(lambda b: dash.act(f"go to step {self.target.value}",
                                                     lambda: s().go_to(self.target.value)))
        self.fork_button.on_click(lambda b: dash.act("fork", self._fork))
        self._paused = False
        self.running = None
        self.children = [w.HBox([self.step_button, self.n, self.run_button, self.until_button,
                                 self.pause_button, self.back_button, self.target,
                                 self.goto_button, self.fork_button],
                                layout=w.Layout(flex_flow="row wrap")), self.info]

    def _fork(self):
        n = self.session.fork()
        return f"forked at event {self.session.events}: dropped {n} later recorded action(s)"

    def run_until_decided(self) -> None:
        """Run in chunks; inside a running event loop (a Jupyter kernel) the
        chunks run as a task so a click on pause is seen between two."""
        self._paused = False
        if self.dash.background:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                if self.running is not None and not self.running.done():
                    self.dash.message.error("already running")
                    return
                self.running = loop.create_task(self._run_async())
                return
        self.dash.act("run until decided", self._run_sync)

    def _run_sync(self):
        n0 = self.session.events
        for _ in self.session.run_until_decided(chunk=self.CHUNK):
            if self._paused:
                return f"paused at event {self.session.events}"
        return f"ran {self.session.events - n0} events"

    async def _run_async(self):
        """Chunks of CHUNK events; between two, the kernel may handle a
        click (pause).  The figures are redrawn at most every REDRAW_S
        seconds, so the browser is not flooded with updates."""
        n0 = self.session.events
        with self.dash.quiet():
            chunks = self.session.run_until_decided(chunk=self.CHUNK)
        last = time.perf_counter()
        done = False
        while not done:
            with self.dash.quiet():
                try:
                    next(chunks)
                except StopIteration:
                    done = True
                except Exception as e:  # noqa: BLE001 - shown, never raised in a kernel
                    self.dash.message.error(f"run until decided: {type(e).__name__}: {e}")
                    done = True
            if self._paused:
                self.dash.refresh()
                self.dash.message.ok(f"paused at event {self.session.events}")
                return
            if done or time.perf_counter() - last >= self.REDRAW_S:
                self.dash.refresh()
                last = time.perf_counter()
            await asyncio.sleep(0.005)
        self.dash.message.ok(f"run until decided: ran {self.session.events - n0} events")

    def pause(self) -> None:
        if self.running is None or self.running.done():
            self.dash.message.ok(f"pause: nothing is running (event {self.session.events})")
            return
        self._paused = True
        self.dash.message.ok(f"pause requested at event {self.session.events}")

    def refresh(self) -> None:
        s = self.session
        hist = s.history()["ops"]
        answered = sum(1 for op in hist if op["return"] is not None)
        requested = s.config.clients * s.config.commands
        future = len(s.future)
        extra = f" · {future} recorded fault(s) ahead (fork to drop)" if future else ""
        self.info.value = (f"event <b>{s.events}</b> · t={s.now:.2f} · answered "
                           f"{answered}/{requested}{' · all decided' if s.finished else ''}"
                           f"{extra}")


class InvariantStatus(w.HTML):
    """Green while every checked invariant holds; red, naming the first
    broken one (PMMC's R1-R5, A1-A5, C1-C2), once one fails."""

    def __init__(self, dash):
        super().__init__()
        self.dash = dash

    def refresh(self) -> None:
        s = self.dash.session
        if not s.check:
            self.value = "<div style='color:#777'>invariant checks are off</div>"
            return
        vs = s.violations
        if not vs:
            self.value = ("<div style='background:#e8f5e9;color:#1b5e20;padding:4px 8px;"
                          "border-radius:4px'>✓ invariants hold (R1–R5, A1–A5, C1–C2) after "
                          f"{s.events} events</div>")
            return
        v = vs[0]
        more = f" (+{len(vs) - 1} more)" if len(vs) > 1 else ""
        self.value = ("<div style='background:#c62828;color:white;padding:4px 8px;"
                      f"border-radius:4px'>✗ <b>{html.escape(v.invariant)}</b> broken: "
                      f"{html.escape(NAMES.get(v.invariant, ''))} — {html.escape(v.detail)} "
                      f"(event {v.event}, t={v.time:.2f}){more}</div>")

    @property
    def broken(self) -> list[str]:
        return [v.invariant for v in self.dash.session.violations]


class PlanPanel(_Part):
    """The recorded fault plan as JSON, and the code that replays it."""

    def __init__(self, dash):
        super().__init__(dash)
        self.json = w.Textarea(layout=w.Layout(width="100%", height="140px"))
        self.replay_button = w.Button(description="write replay cell", icon="clipboard",
                                      tooltip="show the code that replays this session")
        self.code = w.Textarea(layout=w.Layout(width="100%", height="190px"))
        self.hash = w.HTML()
        self.replay_button.on_click(lambda b: dash.act("replay cell", self.write_replay))
        self.children = [w.HTML("<b>fault plan</b> (every click, replayable)"), self.json,
                         w.HBox([self.replay_button, self.hash]), self.code]

    def write_replay(self) -> str:
        """Put the replay code in the text box below (copy it into a cell).
        ``Dashboard.write_replay_cell()``, run from a cell, inserts it as the
        next cell instead."""
        self.code.value = self.session.replay_code()
        return "replay code written below: run it in a cell to get the same trace hash"

    def refresh(self) -> None:
        self.json.value = self.session.plan_json()
        # (the trace hash is in the replay code: hashing the whole trace on
        # every click would cost more than drawing it)
        self.hash.value = f"<code>{len(self.session.plan)} action(s) · " \
                          f"{self.session.events} events</code>"


def _has_frontend() -> bool:
    """True inside a Jupyter kernel (a frontend may render the widgets)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


class FigurePanel(_Part):
    """The figures, as ``FigureWidget``\\ s updated in place.

    A FigureWidget's browser side (plotly's anywidget module, loaded
    asynchronously) drops update messages that arrive before it is ready,
    and those are only deltas.  So in a kernel an update is held back until
    the figure has been drawn once (its first ``_js2py_traceDeltas``
    message), and then sent; outside a kernel (tests, scripts) every update
    is applied at once."""

    def __init__(self, dash, names=("ballots", "slots", "messages", "history"),
                 options: dict | None = None):
        super().__init__(dash)
        unknown = [n for n in names if n not in FIGURES]
        if unknown:
            raise ConfigError("figures", f"unknown figure {unknown[0]!r} "
                                         f"(figures: {', '.join(FIGURES)})")
        self.options = {n: {**FIGURES[n][1], **(options or {}).get(n, {})} for n in names}
        self.headless = not _has_frontend()
        self.widgets = {n: go.FigureWidget(self._initial(n)) for n in names}
        self.live = {n: self.headless for n in names}
        self.stale = {n: False for n in names}
        for name, fw in self.widgets.items():
            # After its first draw the browser sends the trace deltas (plotly's
            # layout delta never arrives: its JS sets a misspelt trait).
            fw.observe(lambda change, n=name: self._drawn(n),
                       names=["_js2py_traceDeltas", "_js2py_layoutDelta"])
        # One column: plotly sizes a figure to its box when first drawn, and
        # a grid's cells have no width yet at that moment.
        self.children = list(self.widgets.values())

    def _initial(self, name: str) -> dict:
        spec = self.spec(name)
        spec.pop("frames", None)
        return spec

    def spec(self, name: str) -> dict:
        """The figure ``name`` of the session now, as a plain dict."""
        func, _ = FIGURES[name]
        return func(self.session, **self.options[name])

    def figure(self, name: str) -> go.Figure:
        """The figure ``name`` of the session now, as a validated Figure."""
        return go.Figure(self.spec(name))

    def _drawn(self, name: str) -> None:
        if self.live[name]:
            return
        self.live[name] = True
        # Not from inside this handler: it runs while ipywidgets applies the
        # browser's state to this very widget, and an update sent then is
        # lost.  Right after it, on the kernel's event loop.
        try:
            asyncio.get_running_loop().call_soon(self._catch_up, name)
        except RuntimeError:
            self._catch_up(name)

    def _catch_up(self, name: str) -> None:
        if self.stale[name]:
            self.stale[name] = False
            F.update_widget(self.widgets[name], self.spec(name))

    def refresh(self) -> None:
        if not hasattr(self, "widgets"):
            return
        for name, fw in self.widgets.items():
            if self.live[name]:
                F.update_widget(fw, self.spec(name))
            else:
                self.stale[name] = True


class Dashboard(w.VBox):
    """Drive one simulated deployment by clicking, and watch it.

    ``Dashboard(config, seed, plan=None, *, roles=None, check=True,
    figures=("ballots", "slots", "messages", "history"),
    figure_options=None, run_n=50, background=True)``

    ``config``/``seed``/``plan``/``roles``/``check`` start the session
    (``plan`` is a fault plan to start from; the clicks are added to it).
    ``figures`` picks which charts to show; ``figure_options`` maps a figure
    name to keyword arguments for its function (e.g. ``{"messages":
    {"max_arrows": 300}}``).  With ``background``, "run until decided"
    runs as a task in the kernel's event loop so that "pause" works.

    The parts are attributes: ``config_panel``, ``process_panel``,
    ``network_panel``, ``partition_panel``, ``run_panel``, ``status``,
    ``plan_panel``, ``figure_panel``, ``message``; the model is ``session``.
    """

    def __init__(self, config: SimConfig | None = None, seed: int = 0,
                 plan: FaultPlan | None = None, *, roles: dict | None = None,
                 check: bool = True, figures=("ballots", "slots", "messages", "history"),
                 figure_options: dict | None = None, run_n: int = 50,
                 background: bool = True):
        super().__init__(layout=w.Layout(width="100%"))
        if config is not None and not isinstance(config, SimConfig):
            raise ConfigError("config", f"must be a SimConfig, got {type(config).__name__}")
        self.session = Session(config, seed, plan, roles=roles, check=check)
        self.background = background
        self._quiet = 0
        self._dirty = False
        self.title = w.HTML()
        self.message = MessageBar()
        self.config_panel = ConfigPanel(self)
        self.process_panel = ProcessPanel(self)
        self.network_panel = NetworkPanel(self)
        self.partition_panel = PartitionPanel(self)
        self.run_panel = RunPanel(self, run_n)
        self.status = InvariantStatus(self)
        self.plan_panel = PlanPanel(self)
        self.figure_panel = FigurePanel(self, figures, figure_options)
        box = {"border": "1px solid #ddd", "padding": "4px", "margin": "2px"}
        controls = w.HBox([
            w.VBox([self.process_panel], layout=w.Layout(**box)),
            w.VBox([self.network_panel], layout=w.Layout(**box)),
            w.VBox([self.partition_panel], layout=w.Layout(**box)),
        ], layout=w.Layout(flex_flow="row wrap"))
        plan_box = w.Accordion(children=[self.plan_panel], titles=("fault plan and replay",))
        self.children = [self.title, self.config_panel, controls, self.run_panel,
                         self.message, self.status, self.figure_panel, plan_box]
        self.session.listeners.append(self._on_change)
        self.refresh()

    # -- the one door every click goes through ----------------------------------
    def act(self, label: str, fn, *args, **kw):
        """Call ``fn(*args, **kw)`` for a click labelled ``label``; refresh
        once afterwards.  A ConfigError (an impossible request) or any other
        error becomes a message; nothing is raised into the notebook.
        Returns ``fn``'s result, or None if it failed."""
        with self.quiet():
            try:
                result = fn(*args, **kw)
            except ConfigError as e:
                self.message.error(f"{label}: {e}")
                return None
            except Exception as e:  # noqa: BLE001 - a click must never print a traceback
                self.message.error(f"{label}: {type(e).__name__}: {e}")
                return None
        self.refresh()
        if isinstance(result, str):
            self.message.ok(result)
        elif hasattr(result, "describe"):
            self.message.ok(f"{label}: recorded {result.describe()}")
        else:
            self.message.ok(f"{label}: now at event {self.session.events}, "
                            f"t={self.session.now:.2f}")
        return result if result is not None else True

    def quiet(self):
        """A context in which session changes do not refresh the widgets
        (they refresh once when it ends, if anything changed)."""
        dash = self

        class _Quiet:
            def __enter__(self):
                dash._quiet += 1

            def __exit__(self, *exc):
                dash._quiet -= 1
                return False

        return _Quiet()

    def _on_change(self, session, what) -> None:
        if self._quiet:
            self._dirty = True
        else:
            self.refresh()

    def refresh(self) -> None:
        """Bring every part up to date with the session."""
        self._dirty = False
        s = self.session
        c = s.config
        self.title.value = (f"<h3 style='margin:2px 0'>Multi-Paxos dashboard · seed {s.seed}"
                            f" · {c.replicas} replicas, {c.leaders} leaders, {c.acceptors} "
                            f"acceptors, {c.clients} clients · {c.leader_policy}</h3>")
        for part in (self.config_panel, self.process_panel, self.network_panel,
                     self.partition_panel, self.run_panel, self.status, self.plan_panel,
                     self.figure_panel):
            part.refresh()

    # -- conveniences for a notebook -----------------------------------------------
    def run(self, n: int) -> None:
        """Run ``n`` events (as the "run N" button does)."""
        self.act(f"run {n}", self.session.run, n)

    def crash_active_leader(self):
        """Crash the (first) active leader, as a click on its crash button."""
        active = self.session.active_leaders()
        if not active:
            self.message.error("crash active leader: no leader is active")
            return None
        self.process_panel.crash_buttons[active[0]].click()
        return active[0]

    def write_replay_cell(self) -> str:
        """Run from a notebook cell: insert the replay code as the next cell
        (IPython's ``set_next_input``) and return it."""
        code = self.session.replay_code()
        try:
            from IPython import get_ipython
            ip = get_ipython()
            if ip is not None:
                ip.set_next_input(code, replace=False)
        except ImportError:  # pragma: no cover - IPython comes with ipywidgets
            pass
        return code
