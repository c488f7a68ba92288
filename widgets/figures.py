"""Charts of a run's internals: pure functions, trace in, plotly figure out.

Every ``figure_*`` function takes a *source* (a ``Simulator``, a dashboard
``Session``, or a bare trace with ``seed=``), returns a
``plotly.graph_objects.Figure`` and never displays it, so the same function
serves a test, the live dashboard (which copies the result into a
``FigureWidget`` with :func:`update_widget`) and the static book.  None of
them needs numpy or pandas (the book also runs in JupyterLite).

Each accepts ``slider=N``: the static variant, with N plotly animation frames
and a slider, so a reader of the published HTML book can scrub through the
run without a kernel.  Every title prints the seed.

=========================  ===================================================
``figure_ballots``         each leader's ballot over time; scouts started,
                           adopted, preempted; active periods; crash and
                           partition bands
``figure_slots``           slot x replica, coloured by client command; gaps,
                           no-ops, reconfigurations, duplicate-slot markers
``figure_messages``        a lane per process, an arrow per message; dropped,
                           duplicated, lost and in-flight styled apart; faults
                           marked; a window when there are too many to read
``figure_history``         client operations as bars; the linearizability
                           verdict; the failing operations in red
``figure_sweep``           throughput and latency against a parameter (loss),
                           one line per group (``naive`` vs ``backoff``)
=========================  ===================================================
"""

from __future__ import annotations

import dataclasses
import statistics

import plotly.graph_objects as go
from plotly.basedatatypes import Undefined

from paxos_lit.errors import ConfigError
from paxos_lit.sim import SimConfig, simulate
from paxos_lit.types import NOOP, is_reconfig

from . import tracemodel as tm

__all__ = ["figure_ballots", "figure_slots", "figure_messages", "figure_history",
           "figure_sweep", "run_sweep", "update_widget", "spec_ballots", "spec_slots",
           "spec_messages", "spec_history", "spec_sweep", "PALETTE"]

#: Qualitative colours (plotly's default sequence), one per leader/client.
PALETTE = ("#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692",
           "#B6E880", "#FF97FF", "#FECB52")
GROUP_COLOURS = {"client": "#7f7f7f", "replica-leader": "#1f77b4", "phase 1": "#9467bd",
                 "phase 2": "#2ca02c", "failure detector": "#bcbd22"}
FATE_STYLE = {  # fate -> (colour, dash, end symbol)
    "in flight": ("#aaaaaa", "dot", "arrow"),
    "duplicate": ("#ff7f0e", "dash", "arrow"),
    "dropped": ("#d62728", "solid", "x"),
    "lost": ("#8c564b", "dot", "x"),
}
DOWN_FILL = {"l": "rgba(214,39,40,0.13)", "a": "rgba(127,127,127,0.13)",
             "r": "rgba(31,119,180,0.10)"}
CUT_FILL = "rgba(148,103,189,0.12)"


# -- shared helpers -------------------------------------------------------------

def _check_slider(slider) -> int:
    if isinstance(slider, bool) or not isinstance(slider, int) or not 0 <= slider <= 200:
        raise ConfigError("slider", f"must be an integer in [0, 200] (frames), got {slider!r}")
    return slider


def _title(name: str, run: tm.Run, verdict: str = "") -> dict:
    text = f"{name} · seed {run.seed} · t={run.now:.1f}"
    if run.sim is not None:
        text += f" · {run.sim.events} events"
    if verdict:
        text += f" · {verdict}"
    return {"text": text, "x": 0.01, "xanchor": "left", "font": {"size": 14}}


def _colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _times(now: float, n: int) -> list[float]:
    """n evenly spaced cut times ending at now."""
    return [now * (k + 1) / n for k in range(n)]


def _add_slider(spec: dict, frames: list[tuple], prefix: str) -> dict:
    """Attach plotly frames ``(name, label, data, layout)`` with a slider and
    play/pause buttons; the slider starts at the last frame (the whole run)."""
    spec["frames"] = [{"name": name, "data": data, "layout": layout}
                      for name, label, data, layout in frames]
    steps = [{"method": "animate", "label": label,
              "args": [[name], {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
                                "transition": {"duration": 0}}]}
             for name, label, data, layout in frames]
    spec["layout"].update(
        sliders=[{"active": len(steps) - 1, "currentvalue": {"prefix": prefix},
                  "pad": {"t": 45, "l": 60}, "steps": steps}],
        updatemenus=[{"type": "buttons", "showactive": False, "direction": "left",
                      "x": 0, "y": 0, "xanchor": "left", "yanchor": "top",
                      "pad": {"t": 55},
                      "buttons": [
                          {"label": "▶", "method": "animate",
                           "args": [[f[0] for f in frames],
                                    {"frame": {"duration": 350, "redraw": True},
                                     "transition": {"duration": 0}, "mode": "immediate"}]},
                          {"label": "❚❚", "method": "animate",
                           "args": [[None], {"frame": {"duration": 0, "redraw": False},
                                             "mode": "immediate"}]}]}])
    spec["layout"]["margin"] = {**spec["layout"].get("margin", {}), "b": 110}
    return spec


def _vline(x, xref, yref, colour="#555", dash="dash") -> dict:
    return {"type": "line", "x0": x, "x1": x, "y0": 0, "y1": 1, "xref": xref, "yref": yref,
            "line": {"color": colour, "width": 1, "dash": dash}, "layer": "below"}


def _band(x0, x1, fill, xref="x", yref="paper", y0=0, y1=1) -> dict:
    return {"type": "rect", "x0": x0, "x1": x1, "y0": y0, "y1": y1, "xref": xref,
            "yref": yref, "fillcolor": fill, "line": {"width": 0}, "layer": "below"}


def _label(x, y, text, xref="x", yref="paper", colour="#444", **kw) -> dict:
    out = {"x": x, "y": y, "xref": xref, "yref": yref, "text": text, "showarrow": False,
           "font": {"size": 10, "color": colour}, "xanchor": "left", "yanchor": "top"}
    out.update(kw)
    return out


def _fault_marks(run: tm.Run, until: float, xref: str, yref: str, t_min=None):
    """Shapes and labels for the run's faults: a dashed line at each fault,
    a band for each down period and each partition."""
    shapes, notes = [], []
    for pid, t0, t1, _is_open in tm.down_intervals(run, until):
        if t_min is not None and t1 < t_min:
            continue
        fill = DOWN_FILL.get(pid[0], DOWN_FILL["a"])
        shapes.append(_band(t0, t1, fill, xref, yref))
        notes.append(_label(t0, 1, f"{pid} down", xref, yref, colour="#a33"))
    for t0, t1, text, _is_open in tm.cut_intervals(run, until):
        if t_min is not None and t1 < t_min:
            continue
        shapes.append(_band(t0, t1, CUT_FILL, xref, yref))
        notes.append(_label(t0, 0.06, text, xref, yref, colour="#639"))
    for t, action in tm.faults(run, until):
        if t_min is not None and t < t_min:
            continue
        if action["action"] not in ("crash", "partition", "block"):
            shapes.append(_vline(t, xref, yref))
            notes.append(_label(t, 0.93, tm.describe_fault(action), xref, yref))
    return shapes, notes


# -- ballot timeline ----------------------------------------------------------

def _ballot_parts(run: tm.Run, until: float, lids: list[str]):
    n = max(1, len(lids))
    rank = {lid: i for i, lid in enumerate(lids)}

    def y(b):
        # Ballots order as (round, leader id): this keeps that order on one axis.
        return b.round + rank.get(b.leader, 0) / n

    series = tm.ballot_series(run, until)
    traces, top = [], 0
    for i, lid in enumerate(lids):
        colour = _colour(i)
        xs, ys, text = [], [], []
        ax, ay = [], []
        last, start = None, None
        for t, ballot, active in series.get(lid, []):
            if last is not None:
                xs.append(t)
                ys.append(y(last))
                text.append(f"{lid} {last}")
            if start is not None and not (ballot is not None and active and ballot == last):
                ax += [start, t, None]
                ay += [y(last), y(last), None]
                start = None
            if ballot is None:  # crashed: a gap in the line
                xs.append(t)
                ys.append(None)
                text.append("")
                last = None
                continue
            top = max(top, ballot.round)
            xs.append(t)
            ys.append(y(ballot))
            text.append(f"{lid} ballot {ballot} {'active' if active else 'passive'} t={t:.2f}")
            if active and start is None:
                start = t
            last = ballot
        if last is not None:
            xs.append(until)
            ys.append(y(last))
            text.append(f"{lid} {last}")
            if start is not None:
                ax += [start, until, None]
                ay += [y(last), y(last), None]
        traces.append({"type": "scatter", "name": f"{lid} ballot", "legendgroup": lid,
                       "x": xs, "y": ys, "text": text, "hoverinfo": "text",
                       "mode": "lines", "line": {"color": colour, "width": 1.5, "shape": "hv"},
                       "connectgaps": False, "showlegend": True})
        traces.append({"type": "scatter", "name": f"{lid} active", "legendgroup": lid,
                       "x": ax, "y": ay, "hoverinfo": "skip", "mode": "lines",
                       "line": {"color": colour, "width": 7}, "opacity": 0.55,
                       "showlegend": True})
    ev = tm.scout_events(run, until)

    def markers(name, items, symbol, colour, size, texts):
        return {"type": "scatter", "name": name, "mode": "markers",
                "x": [it[0] for it in items], "y": [v for v in (it[1] for it in items)],
                "text": texts, "hoverinfo": "text",
                "marker": {"symbol": symbol, "color": colour, "size": size,
                           "line": {"width": 1, "color": colour}}}

    started = [(t, y(b)) for t, s, b in ev["started"]]
    adopted = [(t, y(b)) for t, s, b in ev["adopted"]]
    pre = [(t, y(own) if own is not None else y(by)) for t, s, own, by in ev["preempted"]]
    traces.append(markers("scout started", started, "circle-open", "#555", 7,
                          [f"{s} started, ballot {b}, t={t:.2f}" for t, s, b in ev["started"]]))
    traces.append(markers("adopted", adopted, "triangle-up", "#2ca02c", 11,
                          [f"{s}: ballot {b} adopted by a majority, t={t:.2f}"
                           for t, s, b in ev["adopted"]]))
    traces.append(markers("preempted", pre, "x", "#d62728", 10,
                          [f"{s} preempted by {by}, t={t:.2f}"
                           for t, s, own, by in ev["preempted"]]))
    shapes, notes = _fault_marks(run, until, "x", "paper")
    active = tm.active_leaders(run, until)
    text = ("active leader: " + ", ".join(f"{lid} {b}" for lid, b in active)) if active \
        else "no active leader"
    notes.append({"x": 1, "y": 1.0, "xref": "paper", "yref": "paper", "text": text,
                  "showarrow": False, "xanchor": "right", "yanchor": "bottom",
                  "font": {"size": 12, "color": "#2ca02c" if active else "#a33"}})
    return traces, shapes, notes, top


def spec_ballots(source, *, seed=None, slider: int = 0) -> dict:
    """:func:`figure_ballots` as a plain dict (no plotly validation: what the
    dashboard pushes into its FigureWidgets)."""
    slider = _check_slider(slider)
    run = tm.as_run(source, seed)
    lids = tm.leaders(run)
    traces, shapes, notes, top = _ballot_parts(run, run.now, lids)
    layout = {
        "title": _title("Ballots", run), "height": 380,
        "margin": {"l": 60, "r": 20, "t": 70, "b": 45},
        "xaxis": {"title": {"text": "virtual time"}, "range": [0, max(run.now, 1e-9)],
                  "zeroline": False},
        "yaxis": {"title": {"text": "ballot (round, leader)"}, "tickvals": list(range(top + 2)),
                  "ticktext": [f"round {r}" for r in range(top + 2)],
                  "range": [-0.5, top + 1.2], "zeroline": False},
        "shapes": shapes, "annotations": notes, "legend": {"font": {"size": 10}},
        "plot_bgcolor": "white", "hovermode": "closest", "autosize": True,
    }
    fig = {"data": traces, "layout": layout}
    if slider:
        frames = []
        for k, t in enumerate(_times(run.now, slider)):
            d, s, a, _ = _ballot_parts(run, t, lids)
            a.append(_label(t, 1, "▏now", "x", "paper", colour="#000", xanchor="center"))
            frames.append((f"f{k}", f"{t:.0f}", d, {"shapes": s + [_vline(t, "x", "paper",
                                                                         "#000", "solid")],
                                                    "annotations": a}))
        _add_slider(fig, frames, "virtual time ")
    return fig



def figure_ballots(source, *, seed=None, slider: int = 0) -> go.Figure:
    """Each leader's ballot over virtual time (PMMC section 3.3).

    A thin step line per leader follows its ``ballot_num``; a thick band
    over it marks when it was *active* (a majority adopted its ballot, so it
    may run phase 2).  Markers show scouts starting (open circles), ballots
    adopted by a majority (green triangles) and preemptions (red x: a scout
    or commander met a higher ballot).  Shaded bands mark when a process was
    down (red for leaders) and when links were cut (purple); other faults
    are dashed lines.  The y axis orders ballots as the protocol does: by
    round, then leader id.  The top-right note names the active leader(s)
    at the end.

    ``slider=N`` adds N frames cutting the run at N even times.
    """
    return go.Figure(spec_ballots(source, seed=seed, slider=slider))


# -- slot grid ------------------------------------------------------------------

def _slot_parts(run: tm.Run, until: float, reps: list[str], clients: list[str],
                max_slots: int):
    decisions = tm.replica_decisions(run, until)
    top = max((s for slots in decisions.values() for s in slots), default=0)
    lo = max(1, top - max_slots + 1)
    row = {r: i for i, r in enumerate(reps)}
    dup = tm.duplicate_slots(decisions)
    shown = top - lo + 1 if top else 0
    label_cells = 0 < shown <= 40
    size = max(5, min(20, int(620 / max(shown, 1))))
    per_client = {c: ([], [], [], []) for c in clients}
    special = {"no-op": ([], [], [], []), "reconfiguration": ([], [], [], []),
               "undecided": ([], [], [], []), "duplicate slot": ([], [], [], []),
               "slot_out": ([], [], [], [])}
    for r in reps:
        slots = decisions.get(r, {})
        for s in range(lo, top + 1):
            y = row[r]
            if s not in slots:
                bucket = special["undecided"]
                bucket[0].append(s)
                bucket[1].append(y)
                bucket[2].append(f"{r} slot {s}: undecided")
                bucket[3].append("")
                continue
            c, t = slots[s]
            if c == NOOP:
                bucket = special["no-op"]
            elif is_reconfig(c):
                bucket = special["reconfiguration"]
            else:
                bucket = per_client.setdefault(c.client, ([], [], [], []))
            bucket[0].append(s)
            bucket[1].append(y)
            bucket[2].append(f"{r} slot {s}: {c} (learned t={t:.2f})")
            bucket[3].append(f"{c.client}#{c.req_id}" if c.client and label_cells else "")
            if (r, s) in dup:
                d = special["duplicate slot"]
                d[0].append(s)
                d[1].append(y)
                d[2].append(f"{r} slot {s}: {c} is decided in another slot too")
                d[3].append("")
        gap = tm.first_gap(slots)
        if top and lo <= gap <= top + 1:
            so = special["slot_out"]
            so[0].append(gap - 0.5)
            so[1].append(row[r])
            so[2].append(f"{r}: slot_out = {gap}")
            so[3].append("")
    traces = []
    for i, c in enumerate(per_client):
        xs, ys, hover, text = per_client[c]
        traces.append({"type": "scatter", "name": f"{c}", "mode": "markers+text",
                       "x": xs, "y": ys, "hovertext": hover, "hoverinfo": "text", "text": text,
                       "textfont": {"size": 8, "color": "white"},
                       "marker": {"symbol": "square", "size": size, "color": _colour(i)}})
    styles = {"no-op": ("square", "#c7c7c7", size, "markers"),
              "reconfiguration": ("star", "#000000", size, "markers"),
              "undecided": ("square-open", "#bbbbbb", size, "markers"),
              "duplicate slot": ("x-thin-open", "#d62728", size, "markers"),
              "slot_out": ("triangle-right", "#000000", max(6, size // 2), "markers")}
    for name, (symbol, colour, sz, _mode) in styles.items():
        xs, ys, hover, text = special[name]
        traces.append({"type": "scatter", "name": name, "mode": "markers+text", "x": xs,
                       "y": ys, "hovertext": hover, "hoverinfo": "text", "text": text,
                       "textfont": {"size": 8, "color": "white"},
                       "marker": {"symbol": symbol, "size": sz, "color": colour,
                                  "line": {"width": 2, "color": colour}}})
    notes = []
    if lo > 1:
        notes.append({"x": 0, "y": 1.0, "xref": "paper", "yref": "paper", "showarrow": False,
                      "xanchor": "left", "yanchor": "bottom", "font": {"size": 10},
                      "text": f"showing slots {lo}-{top} of {top}"})
    return traces, notes, (lo - 0.5, top + 0.5 if top else 1.5)


def _clients(run: tm.Run) -> list[str]:
    if run.config is not None:
        return list(run.config.client_ids)
    names = set()
    for _t, kind, a, _b, _payload, _extra in run.trace:
        if kind == "send" and a[0] == "c" and a[1:].isdigit():
            names.add(a)
    return sorted(names, key=tm.lane_key)


def spec_slots(source, *, seed=None, slider: int = 0, max_slots: int = 60) -> dict:
    """:func:`figure_slots` as a plain dict (no plotly validation: what the
    dashboard pushes into its FigureWidgets)."""
    slider = _check_slider(slider)
    if isinstance(max_slots, bool) or not isinstance(max_slots, int) or max_slots < 1:
        raise ConfigError("max_slots", f"must be a positive integer, got {max_slots!r}")
    run = tm.as_run(source, seed)
    reps = tm.replica_ids(run)
    clients = _clients(run)
    traces, notes, xr = _slot_parts(run, run.now, reps, clients, max_slots)
    layout = {
        "title": _title("Slots", run), "height": 160 + 42 * len(reps),
        "margin": {"l": 60, "r": 20, "t": 60, "b": 45},
        "xaxis": {"title": {"text": "slot"}, "range": list(xr), "zeroline": False,
                  "showgrid": False},
        "yaxis": {"tickvals": list(range(len(reps))), "ticktext": reps,
                  "range": [-0.6, len(reps) - 0.4], "zeroline": False, "showgrid": False},
        "annotations": notes, "legend": {"font": {"size": 10}}, "plot_bgcolor": "white",
        "hovermode": "closest", "autosize": True,
    }
    fig = {"data": traces, "layout": layout}
    if slider:
        frames = []
        for k, t in enumerate(_times(run.now, slider)):
            d, a, r = _slot_parts(run, t, reps, clients, max_slots)
            frames.append((f"f{k}", f"{t:.0f}", d, {"annotations": a,
                                                    "xaxis": {"range": list(r)}}))
        _add_slider(fig, frames, "virtual time ")
    return fig



def figure_slots(source, *, seed=None, slider: int = 0, max_slots: int = 60) -> go.Figure:
    """The replicated log: one row per replica, one column per slot (PMMC
    section 3.1).

    A cell is filled once the replica has learned the slot's decision,
    coloured by the client whose command it is (labelled ``c1#3``, client
    and request number, when few slots are shown).  Grey squares are no-ops
    (a replica filling a gap), black stars reconfigurations, open squares
    undecided slots below the highest decided one, red crosses a command
    decided in two slots (the duplicate-slot defect), and a small black
    triangle each replica's ``slot_out`` (its first undecided slot; R2).
    A replica forgets its decisions when it crashes and relearns them.

    Beyond ``max_slots`` slots only the last ``max_slots`` are drawn.
    ``slider=N`` adds N frames cutting the run at N even times.
    """
    return go.Figure(spec_slots(source, seed=seed, slider=slider, max_slots=max_slots))


# -- message sequence diagram -------------------------------------------------------

_DIAGRAM_KEYS = [("delivered", g) for g in tm.GROUPS] + [(f, None) for f in
                                                        ("in flight", "duplicate", "dropped",
                                                         "lost")]


def _message_parts(run: tm.Run, msgs: list[dict], lanes: list[str], window, max_arrows: int):
    lane = {p: i for i, p in enumerate(lanes)}
    t0, t1 = window
    chosen = [m for m in msgs if t0 <= m["t"] <= t1]
    total = len(chosen)
    if total > max_arrows:
        chosen = chosen[-max_arrows:]
    delays = [m["arrive"] - m["t"] for m in chosen if m["arrive"] is not None]
    stub = (sum(delays) / len(delays) if delays else 1.0) / 2
    buckets = {key: ([], [], [], []) for key in _DIAGRAM_KEYS}
    for m in chosen:
        ys, yd = lane[m["src_node"]], lane[m["dst_node"]]
        if m["fate"] == "delivered":
            key = ("delivered", m["group"])
        else:
            key = (m["fate"], None)
        if m["fate"] == "dropped":
            xe, ye = m["t"] + stub, (ys + yd) / 2
        else:
            xe, ye = m["arrive"], yd
        xs, yv, hover, size = buckets[key]
        text = tm.describe_message(m)
        xs += [m["t"], xe, None]
        yv += [ys, ye, None]
        hover += [text, text, ""]
        size += [0, 9, 0]
    traces = []
    for (fate, group) in _DIAGRAM_KEYS:
        xs, ys, hover, size = buckets[(fate, group)]
        if fate == "delivered":
            colour, dash, symbol, name = GROUP_COLOURS[group], "solid", "arrow", group
        else:
            (colour, dash, symbol), name = FATE_STYLE[fate], fate
        traces.append({"type": "scatter", "name": name, "mode": "lines+markers",
                       "x": xs, "y": ys, "xaxis": "x2", "yaxis": "y2",
                       "hovertext": hover, "hoverinfo": "text",
                       "line": {"color": colour, "width": 1, "dash": dash},
                       "marker": {"symbol": symbol, "size": size, "color": colour,
                                  "angleref": "previous", "line": {"width": 1.5,
                                                                   "color": colour}}})
    shapes, notes = [], []
    # faults: bands on the lane of a crashed process, bands for cut links, lines.
    for pid, d0, d1, _is_open in tm.down_intervals(run, t1):
        if d1 < t0 or pid not in lane:
            continue
        y = lane[pid]
        shapes.append(_band(max(d0, t0), d1, DOWN_FILL.get(pid[0], DOWN_FILL["a"]), "x2", "y2",
                            y - 0.35, y + 0.35))
        notes.append(_label(max(d0, t0), y + 0.45, f"{pid} down", "x2", "y2", colour="#a33",
                            yanchor="bottom"))
    for c0, c1, text, _is_open in tm.cut_intervals(run, t1):
        if c1 < t0:
            continue
        shapes.append(_band(max(c0, t0), c1, CUT_FILL, "x2", "y2 domain"))
        notes.append(_label(max(c0, t0), 1.0, text, "x2", "y2 domain", colour="#639",
                            yanchor="bottom"))
    for t, action in tm.faults(run, t1):
        if t >= t0:
            shapes.append(_vline(t, "x2", "y2 domain"))
            if action["action"] not in ("crash", "partition", "block"):
                notes.append(_label(t, 1.0, tm.describe_fault(action), "x2", "y2 domain",
                                    yanchor="bottom"))
    if total > len(chosen) or t0 > 0:
        notes.append({"x": 1, "y": 1.0, "xref": "paper", "yref": "paper", "showarrow": False,
                      "xanchor": "right", "yanchor": "bottom", "font": {"size": 10},
                      "text": f"window t∈[{t0:.1f}, {t1:.1f}]: {len(chosen)} of {len(msgs)} "
                              f"messages drawn"})
    shapes.append(_band(t0, t1, "rgba(0,0,0,0.08)", "x", "y domain"))
    ends = [m["arrive"] for m in chosen if m["arrive"] is not None] + [t1]
    xr = [t0 - 0.01 * max(t1 - t0, 1), max(ends) + 0.01 * max(t1 - t0, 1)]
    return traces, shapes, notes, xr


def _overview(msgs: list[dict], now: float, buckets: int = 80) -> dict:
    width = max(now, 1e-9) / buckets
    counts = [0] * buckets
    for m in msgs:
        counts[min(buckets - 1, int(m["t"] / width))] += 1
    return {"type": "bar", "name": "messages sent", "x": [width * (i + 0.5) for i in
                                                          range(buckets)],
            "y": counts, "width": [width] * buckets, "marker": {"color": "#888"},
            "xaxis": "x", "yaxis": "y", "showlegend": False,
            "hovertemplate": "t≈%{x:.1f}: %{y} messages<extra></extra>"}


def _check_window(window):
    if window is None:
        return None
    ok = (isinstance(window, (tuple, list)) and len(window) == 2
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in window)
          and window[0] <= window[1])
    if not ok:
        raise ConfigError("window", f"must be (t0, t1) with t0 <= t1, got {window!r}")
    return float(window[0]), float(window[1])


def spec_messages(source, *, seed=None, window=None, max_arrows: int = 300,
                    slider: int = 0) -> dict:
    """:func:`figure_messages` as a plain dict (no plotly validation: what the
    dashboard pushes into its FigureWidgets)."""
    slider = _check_slider(slider)
    window = _check_window(window)
    if isinstance(max_arrows, bool) or not isinstance(max_arrows, int) or max_arrows < 1:
        raise ConfigError("max_arrows", f"must be a positive integer, got {max_arrows!r}")
    run = tm.as_run(source, seed)
    lanes = tm.processes(run)
    msgs = tm.network_messages(run)
    if window is None:
        start = msgs[-max_arrows]["t"] if len(msgs) > max_arrows else 0.0
        window = (start, run.now)
    traces, shapes, notes, xr = _message_parts(run, msgs, lanes, window, max_arrows)
    data = [_overview(msgs, run.now)] + traces
    layout = {
        "title": _title("Messages", run), "height": 190 + 34 * len(lanes),
        "margin": {"l": 60, "r": 20, "t": 60, "b": 45},
        "xaxis": {"domain": [0, 1], "anchor": "y", "range": [0, max(run.now, 1e-9)],
                  "showticklabels": False, "fixedrange": True},
        "yaxis": {"domain": [0.84, 1], "anchor": "x", "title": {"text": "msgs"},
                  "fixedrange": True, "tickfont": {"size": 9}},
        "xaxis2": {"domain": [0, 1], "anchor": "y2", "title": {"text": "virtual time"},
                   "range": xr, "zeroline": False},
        "yaxis2": {"domain": [0, 0.76], "anchor": "x2", "tickvals": list(range(len(lanes))),
                   "ticktext": lanes, "range": [len(lanes) - 0.5, -0.5], "zeroline": False,
                   "gridcolor": "#eee"},
        "shapes": shapes, "annotations": notes, "legend": {"font": {"size": 10}},
        "plot_bgcolor": "white", "hovermode": "closest", "autosize": True, "bargap": 0,
    }
    fig = {"data": data, "layout": layout}
    if slider:
        frames, edges = [], [0.0] + _times(run.now, slider)
        for k in range(slider):
            w = (edges[k], edges[k + 1])
            d, s, a, r = _message_parts(run, msgs, lanes, w, max_arrows)
            frames.append((f"f{k}", f"{w[0]:.0f}-{w[1]:.0f}", [data[0]] + d,
                           {"shapes": s, "annotations": a, "xaxis2": {"range": r}}))
        _add_slider(fig, frames, "window ")
    return fig



def figure_messages(source, *, seed=None, window=None, max_arrows: int = 300,
                    slider: int = 0) -> go.Figure:
    """The message sequence diagram: a lane per process (clients, replicas,
    leaders, acceptors), an arrow per message from its send time on the
    sender's lane to its delivery time on the receiver's.

    Delivered messages are coloured by protocol part (client, replica-leader,
    phase 1, phase 2, failure detector); the network's duplicate copies are
    orange dashes, dropped messages (loss or partition) red stubs ending in
    an x, messages that reached a crashed or exited process brown dots ending
    in an x, messages still in flight grey dots.  A scout or commander sends
    from its leader's lane; its exchanges with its own leader never cross
    the network and are not drawn.  Crashes shade the process's lane,
    partitions the whole diagram, other faults are dashed lines.

    A person cannot read thousands of arrows, so at most ``max_arrows`` are
    drawn: by default the latest ones, or the latest within ``window=(t0,
    t1)``.  The strip on top counts every message of the run over time and
    shades the window drawn below.  ``slider=N`` cuts the run into N
    consecutive windows, one frame each.
    """
    return go.Figure(spec_messages(source, seed=seed, window=window, max_arrows=max_arrows,
                                   slider=slider))


# -- client history ----------------------------------------------------------------

_HISTORY_KEYS = ("get", "put", "append", "cas", "pending", "failing")
_HISTORY_STYLE = {"get": "#17becf", "put": "#1f77b4", "append": "#9467bd", "cas": "#ff7f0e",
                  "pending": "#bbbbbb", "failing": "#d62728"}


def _op_text(op: dict) -> str:
    o = op["op"]
    args = " ".join(str(o[k]) for k in ("key", "expected", "value") if k in o)
    res = "no answer" if op["return"] is None else \
        ", ".join(f"{k}={v}" for k, v in (op["result"] or {}).items()) or "ok"
    ret = "—" if op["return"] is None else f"{op['return']:.2f}"
    return f"#{op['id']} {op['client']} {o['kind']} {args} → {res}<br>[{op['call']:.2f}, {ret}]"


def _history_parts(ops: list[dict], clients: list[str], until: float, failing: set):
    lane = {c: i for i, c in enumerate(clients)}
    buckets = {k: ([], [], [], []) for k in _HISTORY_KEYS}
    for op in ops:
        if op["call"] > until:
            continue
        answered = op["return"] is not None and op["return"] <= until
        if op["id"] in failing:
            key = "failing"
        elif not answered:
            key = "pending"
        else:
            key = op["op"]["kind"]
        end = op["return"] if answered else until
        b = buckets[key]
        b[0].append(max(end - op["call"], 1e-3))
        b[1].append(lane[op["client"]])
        b[2].append(op["call"])
        b[3].append(_op_text(op))
    traces = []
    for k in _HISTORY_KEYS:
        dx, ys, base, text = buckets[k]
        traces.append({"type": "bar", "orientation": "h", "name": k, "x": dx, "y": ys,
                       "base": base, "hovertext": text, "hoverinfo": "text", "width": 0.6,
                       "marker": {"color": _HISTORY_STYLE[k],
                                  "line": {"width": 1, "color": "#ffffff"},
                                  "pattern": {"shape": "/" if k == "pending" else ""}}})
    return traces


def spec_history(source, *, seed=None, history=None, slider: int = 0,
                   timeout_s: float | None = 10.0) -> dict:
    """:func:`figure_history` as a plain dict (no plotly validation: what the
    dashboard pushes into its FigureWidgets)."""
    from paxos_lit.check.linearizability import check
    from paxos_lit.history import HistoryError, parse_history

    slider = _check_slider(slider)
    run = tm.as_run(source, seed)
    if history is None:
        if run.sim is None:
            raise ConfigError("history", "is required when the source is a bare trace")
        history = run.sim.history()
    try:
        parsed = parse_history(history)
    except HistoryError as e:
        raise ConfigError("history", str(e)) from None
    verdict = check(parsed, timeout_s=timeout_s)
    if verdict.timed_out:
        text = "linearizability: unknown (timed out)"
    elif verdict.linearizable:
        text = "linearizable ✓"
    else:
        text = f"NOT linearizable ✗ (key {verdict.failing_key!r})"
    failing = set(verdict.failing_ops)
    ops = list(history["ops"])
    clients = sorted({op["client"] for op in ops} | set(_clients(run)), key=tm.lane_key)
    end = max([run.now] + [op["return"] or op["call"] for op in ops])
    traces = _history_parts(ops, clients, end, failing)
    shapes, notes = _fault_marks(run, end, "x", "paper")
    layout = {
        "title": _title("Client history", run, text), "height": 170 + 40 * max(1, len(clients)),
        "margin": {"l": 60, "r": 20, "t": 60, "b": 45}, "barmode": "overlay",
        "xaxis": {"title": {"text": "virtual time"}, "range": [0, max(end, 1e-9)],
                  "zeroline": False},
        "yaxis": {"tickvals": list(range(len(clients))), "ticktext": clients,
                  "range": [-0.6, len(clients) - 0.4], "zeroline": False},
        "shapes": shapes, "annotations": notes, "legend": {"font": {"size": 10}},
        "plot_bgcolor": "white", "hovermode": "closest", "autosize": True,
    }
    fig = {"data": traces, "layout": layout}
    layout["meta"] = {"linearizable": verdict.linearizable, "timed_out": verdict.timed_out,
                      "failing_key": verdict.failing_key,
                      "failing_ops": list(verdict.failing_ops)}
    if slider:
        frames = []
        for k, t in enumerate(_times(end, slider)):
            d = _history_parts(ops, clients, t, failing)
            s, a = _fault_marks(run, t, "x", "paper")
            frames.append((f"f{k}", f"{t:.0f}", d,
                           {"shapes": s + [_vline(t, "x", "paper", "#000", "solid")],
                            "annotations": a}))
        _add_slider(fig, frames, "virtual time ")
    return fig



def figure_history(source, *, seed=None, history=None, slider: int = 0,
                   timeout_s: float | None = 10.0) -> go.Figure:
    """What the clients saw: one lane per client, one bar per operation from
    its call to its return (pending operations, never answered, hatched up to
    the end), coloured by kind.

    The title gives the verdict of ``paxos_lit.check.linearizability.check``
    on the history (Herlihy and Wing's linearizability, checked key by key);
    when it fails, every operation of the smallest failing key is red.
    Faults are marked as in the other charts.

    ``source`` is a Simulator or Session (its ``history()`` is drawn), or a
    trace with ``seed=`` and ``history=`` (a ``paxos-lit-history/1`` dict).
    ``slider=N`` adds N frames cutting the run at N even times (the verdict
    stays that of the whole run).
    """
    return go.Figure(spec_history(source, seed=seed, history=history, slider=slider,
                                  timeout_s=timeout_s))


# -- parameter sweeps -----------------------------------------------------------------

def _percentile(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))
    return xs[k]


def run_sweep(config: SimConfig | None = None, *, losses=(0.0, 0.05, 0.1, 0.2),
              policies=("naive", "backoff"), seeds=(1, 2, 3), until: float | None = None,
              progress=None) -> list[dict]:
    """Simulate every (leader policy, loss rate, seed) and return one plain
    dict per run, ready for :func:`figure_sweep` (or ``json.dumps``): the
    run's ``RunResult.to_json()`` keys plus ``loss``, ``leader_policy``,
    ``throughput`` (decided slots per unit of virtual time) and
    ``latency_mean``/``latency_p50``/``latency_p95`` (call to return, over
    answered operations).  ``progress`` may wrap the iterable (e.g. tqdm)."""
    config = config if config is not None else SimConfig()
    jobs = [(p, loss, s) for p in policies for loss in losses for s in seeds]
    runs = []
    for policy, loss, seed in (progress(jobs) if progress else jobs):
        net = dataclasses.replace(config.net, loss=loss)
        cfg = dataclasses.replace(config, leader_policy=policy, net=net)
        res = simulate(cfg, seed, linearizability=False, until=until)
        lat = tm.latencies(res.history)
        row = res.to_json()
        row.update({"loss": loss, "leader_policy": policy,
                    "throughput": res.decided_slots / res.virtual_time if res.virtual_time
                    else 0.0,
                    "latency_mean": statistics.fmean(lat) if lat else None,
                    "latency_p50": _percentile(lat, 0.5), "latency_p95": _percentile(lat, 0.95)})
        runs.append(row)
    return runs


_METRIC_TITLES = {"throughput": "decided slots per unit of virtual time",
                  "latency_mean": "mean latency (virtual time)",
                  "latency_p50": "median latency", "latency_p95": "95th percentile latency",
                  "completed": "commands answered", "decided_slots": "decided slots",
                  "virtual_time": "virtual time to finish"}


def _sweep_traces(runs, x, metrics, group, groups, error_bars: bool):
    traces = []
    for m_i, metric in enumerate(metrics):
        axis = "" if m_i == 0 else str(m_i + 1)
        for g_i, g in enumerate(groups):
            pts: dict = {}
            for r in runs:
                if r.get(group) == g and r.get(metric) is not None:
                    pts.setdefault(r[x], []).append(r[metric])
            xs = sorted(pts)
            means = [statistics.fmean(pts[v]) for v in xs]
            trace = {"type": "scatter", "mode": "lines+markers", "name": str(g),
                     "legendgroup": str(g), "showlegend": m_i == 0, "x": xs, "y": means,
                     "xaxis": f"x{axis}", "yaxis": f"y{axis}",
                     "line": {"color": _colour(g_i)}, "marker": {"size": 7},
                     "hovertemplate": f"{g}: {x}=%{{x}}<br>{metric}=%{{y:.3g}}<extra></extra>"}
            trace["error_y"] = {"type": "data", "symmetric": False, "visible": error_bars,
                                "array": [max(pts[v]) - mu for v, mu in zip(xs, means)],
                                "arrayminus": [mu - min(pts[v]) for v, mu in zip(xs, means)]}
            traces.append(trace)
    return traces


def spec_sweep(runs: list[dict], *, x: str = "loss",
                 metrics=("throughput", "latency_mean"), group: str = "leader_policy",
                 slider: bool | int = 0) -> dict:
    """:func:`figure_sweep` as a plain dict (no plotly validation: what the
    dashboard pushes into its FigureWidgets)."""
    if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) for r in runs):
        raise ConfigError("runs", "must be a non-empty list of run dicts")
    if isinstance(metrics, str):
        metrics = (metrics,)
    for name in (x, group, "seed", *metrics):
        missing = [i for i, r in enumerate(runs) if name not in r]
        if missing:
            raise ConfigError(f"runs[{missing[0]}].{name}", "is missing")
    groups = sorted({r[group] for r in runs}, key=str)
    seeds = sorted({r["seed"] for r in runs})
    seed_text = ", ".join(str(s) for s in seeds) if len(seeds) <= 6 else \
        f"{seeds[0]}…{seeds[-1]} ({len(seeds)} seeds)"
    n = len(metrics)
    gap = 0.08
    w = (1 - gap * (n - 1)) / n
    layout = {
        "title": {"text": f"Sweep over {x} · seeds {seed_text} · {len(runs)} runs", "x": 0.01,
                  "xanchor": "left", "font": {"size": 14}},
        "height": 380, "margin": {"l": 60, "r": 20, "t": 70, "b": 50},
        "plot_bgcolor": "white", "legend": {"title": {"text": group}}, "autosize": True,
    }
    for i, metric in enumerate(metrics):
        axis = "" if i == 0 else str(i + 1)
        layout[f"xaxis{axis}"] = {"domain": [i * (w + gap), i * (w + gap) + w],
                                  "anchor": f"y{axis}", "title": {"text": x},
                                  "gridcolor": "#eee"}
        layout[f"yaxis{axis}"] = {"anchor": f"x{axis}", "gridcolor": "#eee",
                                  "title": {"text": _METRIC_TITLES.get(metric, metric)}}
    fig = {"data": _sweep_traces(runs, x, metrics, group, groups, True), "layout": layout}
    if slider:
        frames = [(f"s{s}", f"seed {s}",
                   _sweep_traces([r for r in runs if r["seed"] == s], x, metrics, group, groups,
                                 False), {})
                  for s in seeds]
        frames.append(("mean", "mean", _sweep_traces(runs, x, metrics, group, groups, True), {}))
        _add_slider(fig, frames, "")
    return fig



def figure_sweep(runs: list[dict], *, x: str = "loss",
                 metrics=("throughput", "latency_mean"), group: str = "leader_policy",
                 slider: bool | int = 0) -> go.Figure:
    """Compare runs side by side: one panel per metric against ``x``, one
    line per value of ``group`` (by default: throughput and mean latency
    against the loss rate, ``naive`` against ``backoff`` leaders).  Points
    are means over seeds; error bars span the smallest to the largest seed.
    The title lists the seeds.

    ``runs`` is a list of dicts as :func:`run_sweep` returns (any dicts with
    ``seed``, ``x``, ``group`` and the metrics will do).  ``slider`` (any
    non-zero value) adds one frame per seed plus one for the mean, so a
    static page can show each seed's run.
    """
    return go.Figure(spec_sweep(runs, x=x, metrics=metrics, group=group, slider=slider))


# -- live updates ---------------------------------------------------------------------

def update_widget(widget: go.FigureWidget, fig) -> None:
    """Make ``widget`` show ``fig`` (a Figure or a ``spec_*`` dict), in place.

    When both have the same traces (the usual case: each figure function
    draws a fixed set of traces, only their points change), only what
    changed is sent, as one ``plotly_update`` (one message, one redraw in
    the browser; values come from this module's own specs, so plotly's
    per-property validation is skipped).  Otherwise the traces are replaced
    inside a ``batch_update``.  Frames and sliders (the static variant) are
    not copied: a live widget has no use for them."""
    spec = fig if isinstance(fig, dict) else fig.to_plotly_json()
    data = spec.get("data", [])
    layout = {k: v for k, v in spec.get("layout", {}).items()
              if k not in ("template", "sliders", "updatemenus")}
    same = len(widget.data) == len(data) and all(
        t.type == d.get("type", "scatter") for t, d in zip(widget.data, data))
    if not same:
        with widget.batch_update():
            widget.data = ()
            widget.add_traces(list(data))
            widget.layout.update(layout, overwrite=True)
        return
    # The widget keeps its state as plain JSON (``_data``, ``_layout``):
    # comparing with it is cheap next to what sending costs.
    changes = {}
    for i, (old, d) in enumerate(zip(widget._data, data)):
        delta = {k: v for k, v in d.items() if k != "type" and old.get(k) != v}
        if delta:
            changes[i] = delta
    relayout = {k: v for k, v in layout.items() if widget._layout.get(k) != v}
    if not changes and not relayout:
        return
    indexes = sorted(changes)
    keys = sorted({k for delta in changes.values() for k in delta})
    restyle = {k: [changes[i].get(k, Undefined) for i in indexes] for k in keys}
    widget.plotly_update(restyle_data=restyle or None, relayout_data=relayout or None,
                         trace_indexes=indexes or None)
    # plotly_update writes the JSON state; drop the object views plotly
    # cached over it (``fig.layout.annotations`` would keep its old length).
    for k in relayout:
        widget.layout._compound_props.pop(k, None)
        widget.layout._compound_array_props.pop(k, None)
    for i, delta in changes.items():
        for k in delta:
            widget.data[i]._compound_props.pop(k, None)
