"""paxos_widgets: the Jupyter layer of paxos_lit (ipywidgets + plotly).

Installed from the folder ``widgets/`` as the package ``paxos_widgets``.
It imports ``paxos_lit``; ``paxos_lit`` never imports it.

- :mod:`paxos_widgets.figures`: pure chart functions, trace in, plotly
  ``Figure`` out (``figure_ballots``, ``figure_slots``, ``figure_messages``,
  ``figure_history``, ``figure_sweep``; ``run_sweep``; ``update_widget``).
- :mod:`paxos_widgets.session`: ``Session``, a simulator driven by clicks
  whose every fault is recorded into a replayable fault plan.
- :mod:`paxos_widgets.dashboard`: ``Dashboard``, the widget, made of
  composable parts.
- :mod:`paxos_widgets.tracemodel`: what the charts read out of a trace
  (plain Python, no plotting).

The dashboard module (ipywidgets) is imported on first use, so the figures
work where only plotly is installed.
"""

from .figures import (
    figure_ballots,
    figure_history,
    figure_messages,
    figure_slots,
    figure_sweep,
    run_sweep,
    update_widget,
)
from .session import Session

__all__ = ["Dashboard", "Session", "figure_ballots", "figure_history", "figure_messages",
           "figure_slots", "figure_sweep", "run_sweep", "update_widget"]


def __getattr__(name):
    if name == "Dashboard":
        from .dashboard import Dashboard
        return Dashboard
    raise AttributeError(f"module 'paxos_widgets' has no attribute {name!r}")
