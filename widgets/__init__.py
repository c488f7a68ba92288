"""paxos_widgets: the Jupyter layer of paxos_lit (ipywidgets + plotly).

Installed from the folder ``widgets/`` as the package ``paxos_widgets``.
It imports ``paxos_lit``; ``paxos_lit`` never imports it.
"""

__all__ = []
