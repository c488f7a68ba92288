"""Render plotly figures in the static book, offline, with one shared plotly.js.

A notebook cell that displays a ``plotly.graph_objects.Figure`` stores the
figure as the mime type ``application/vnd.plotly.v1+json``.  JupyterLab draws
it natively; Jupyter Book 1 (myst-nb) does not know the type and skips it with
a warning.  The usual remedy, ``PLOTLY_RENDERER=notebook``, embeds all of
plotly.js (about 4.8 MB) in every page.  This extension instead:

1. registers a myst-nb mime render plugin that turns each plotly output into
   an empty ``<div class="paxos-plotly">`` plus its figure JSON in a
   ``<script type="application/json">`` tag (inert data, never executed);
2. adds, on pages that have such a figure only, two deferred scripts:
   ``plotly.min.js`` and ``paxos-plotly.js`` (``book/_ext/static/``), which
   draws every figure on the page;
3. copies ``plotly.min.js`` from the installed plotly wheel, and the loader,
   into the built site's ``_static/``, so the book never fetches anything from
   a CDN and the plotly.js version always matches the Python package that made
   the figures.

(The loader does not live in ``book/_static/``: Jupyter Book adds every .js
file there to every page, and it belongs only on pages with a figure.)

Slider and animation frames are kept (``frames``), so a figure can be
scrubbed in the static page without a kernel.

Two more small jobs for the static pages:

- the ``# NBVAL_IGNORE_OUTPUT`` marker lines that tell nbval not to compare a
  cell's rich output are meant for the test run, not for readers, so they are
  dropped from the code shown in HTML (the .ipynb files keep them);
- when the build executes a chapter that displays a live widget (the
  dashboard), nbclient records the widgets' state in the notebook, and
  myst-nb embeds it in the page: about 20 MB for the dashboard, useless
  without a kernel (and without the widget manager, which would come from a
  CDN).  It is dropped; the chapters show static figures instead.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from docutils import nodes

PLOTLY_MIME = "application/vnd.plotly.v1+json"
#: The file name of plotly.js in the built site's _static/ folder.
PLOTLY_JS = "plotly.min.js"
#: Our loader, shipped next to this module in static/.
LOADER_JS = "paxos-plotly.js"
LOADER_PATH = Path(__file__).parent / "static" / LOADER_JS
#: Height used when a figure does not set one (plotly's own default).
DEFAULT_HEIGHT = 450


def plotly_js_path() -> Path:
    """The plotly.min.js bundled in the installed plotly wheel."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / PLOTLY_JS
    if not path.is_file():
        raise FileNotFoundError(f"plotly.min.js not found in the plotly package at {path}")
    return path


def figure_html(figure: dict, key: str) -> str:
    """The HTML for one figure: a sized, empty div and its JSON as inert data."""
    layout = figure.get("layout") or {}
    height = layout.get("height") or DEFAULT_HEIGHT
    spec = json.dumps(
        {k: figure[k] for k in ("data", "layout", "frames", "config") if k in figure},
        separators=(",", ":"),
        sort_keys=True,
    )
    # "</" inside a <script> element would end it early; "<\/" is the same JSON.
    spec = spec.replace("</", "<\\/")
    div_id = f"paxos-plotly-{key}"
    return (
        f'<div class="paxos-plotly" id="{div_id}" style="width:100%;height:{int(height)}px">'
        f"</div>\n"
        f'<script type="application/json" class="paxos-plotly-spec" data-for="{div_id}">'
        f"{spec}</script>\n"
    )


class PlotlyMimeRenderer:
    """A myst-nb mime render plugin (myst_nb.core.render.MimeRenderPlugin)."""

    # Prefer the plotly figure over any other representation in HTML output
    # (lower numbers win; text/html is 30).
    mime_priority_overrides = [
        ("html", PLOTLY_MIME, 5),
        ("dirhtml", PLOTLY_MIME, 5),
        ("singlehtml", PLOTLY_MIME, 5),
    ]

    @staticmethod
    def handle_mime(renderer, data, inline):
        if data.mime_type != PLOTLY_MIME or inline:
            return None
        figure = data.content
        if isinstance(figure, (str, bytes)):
            figure = json.loads(figure)
        docname = renderer.renderer.sphinx_env.docname
        digest = hashlib.sha1(
            f"{docname}:{data.cell_index}:{data.output_index}".encode()
        ).hexdigest()[:12]
        renderer.add_js_file("paxos_plotly_lib", PLOTLY_JS, {"defer": "defer"})
        renderer.add_js_file("paxos_plotly_loader", LOADER_JS, {"defer": "defer"})
        node = nodes.raw("", figure_html(figure, digest), format="html")
        container = nodes.container("", node, classes=["output", "paxos-plotly-output"])
        return [container]


def _register_plugin() -> None:
    # myst-nb discovers mime render plugins through the entry-point group
    # "myst_nb.mime_renderers" and caches the list it found.  A book is not an
    # installed distribution, so we add our plugin to that cached list.  If a
    # future myst-nb changes this, the build fails loudly ("skipping unknown
    # output mime type" is a warning, and the book builds with -W).
    from myst_nb.core import render

    plugins = render.load_mime_renders()
    if not any(p is PlotlyMimeRenderer for p in plugins):
        plugins.insert(0, PlotlyMimeRenderer)


def _copy_scripts(app, exception) -> None:
    if exception is not None or app.builder is None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    for source in (plotly_js_path(), LOADER_PATH):
        target = static / source.name
        if not target.exists() or target.read_bytes() != source.read_bytes():
            shutil.copyfile(source, target)


NBVAL_MARKERS = ("# NBVAL_IGNORE_OUTPUT", "# NBVAL_SKIP", "# NBVAL_CHECK_OUTPUT")


def _drop_nbval_markers(app, doctree) -> None:
    """Remove nbval marker comment lines from the code cells shown."""
    for block in doctree.findall(nodes.literal_block):
        text = block.astext()
        if not any(marker in text for marker in NBVAL_MARKERS):
            continue
        kept = [line for line in text.split("\n") if line.strip() not in NBVAL_MARKERS]
        block.children = [nodes.Text("\n".join(kept))]
        block.rawsource = "\n".join(kept)


def _drop_widget_state(app, doctree) -> None:
    """Forget the ipywidgets state myst-nb collected for this page."""
    metadata = getattr(app.env, "nb_metadata", None)
    if metadata is not None:
        metadata.get(app.env.docname, {}).get("js_files", {}).pop("ipywidgets_state", None)


def setup(app):
    _register_plugin()
    app.connect("doctree-read", _drop_nbval_markers)
    app.connect("doctree-read", _drop_widget_state)
    app.connect("build-finished", _copy_scripts)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
