"""The book (book/): its chapters, the names they show, the strict build, and
the figures in the built pages.

What is checked here, and where:

- nbval compares every chapter's committed outputs with a fresh execution; it
  runs from ``make test`` (``pytest --nbval ... book/*.ipynb``), not here.
- Here: the table of contents and the chapter files agree; every chapter was
  executed top to bottom with its outputs stored; every chapter follows the
  skeleton (goals, prerequisites, summary, exercises with executed solutions,
  further reading); every simulation passes a seed and prints it; rich outputs
  are marked for nbval; every ``px.X`` / ``paxos_lit.X`` / ``paxos_widgets.X``
  name a chapter shows exists (DESIGN section 8: "a test fails if a chapter
  refers to a name the package lacks"); ``show()`` displays real source; the
  book builds strict (``-W -n --keep-going``) and offline; and two built pages
  draw their plotly figures in headless chromium.

The strict build runs once per session, from the committed outputs (nbval
already executes every chapter), in a copy of book/ so book/_build is left
alone.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
CHROMIUM = Path("/usr/bin/chromium")
STUB_MARK = "Not written yet"
STUB_TITLE = "(not written yet)"
SKELETON = ("Goals", "Prerequisites", "Summary", "Exercises", "Further reading")
RICH_MIME = ("application/vnd.plotly.v1+json", "text/html", "text/markdown", "image/png",
             "image/svg+xml", "application/vnd.jupyter.widget-view+json")
SIM_CALL = re.compile(r"\b(?:px\.)?(?:Simulator|simulate)\(")


# -- reading the book ------------------------------------------------------------

def toc_entries() -> list[dict]:
    """Every file entry of _toc.yml (root first), as dicts with file and title."""
    import yaml

    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    entries = [{"file": toc["root"]}]
    for part in toc.get("parts", []):
        entries.extend(part["chapters"])
    return entries


def chapter_paths() -> list[Path]:
    return sorted(p for p in BOOK.glob("**/*.ipynb")
                  if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts)


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def source(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def stdout_of(cell: dict) -> str:
    out = []
    for o in cell.get("outputs", []):
        if o["output_type"] == "stream":
            text = o["text"]
            out.append(text if isinstance(text, str) else "".join(text))
    return "".join(out)


def is_stub(nb: dict) -> bool:
    return any(STUB_MARK in source(c) for c in nb["cells"] if c["cell_type"] == "markdown")


CHAPTERS = chapter_paths()
IDS = [str(p.relative_to(BOOK)) for p in CHAPTERS]


# -- structure -------------------------------------------------------------------

def test_toc_lists_every_chapter_and_only_existing_ones():
    """Every notebook under book/ is in _toc.yml and every toc entry has a
    notebook: a chapter cannot be silently left out of the book (or of nbval)."""
    in_toc = {e["file"] for e in toc_entries()}
    on_disk = {str(p.relative_to(BOOK).with_suffix("")) for p in CHAPTERS}
    assert in_toc == on_disk


def test_stub_chapters_are_marked_in_the_toc():
    """A chapter that is not written yet says so on its page and in the table
    of contents; a written chapter carries no such mark."""
    titles = {e["file"]: e.get("title", "") for e in toc_entries()}
    for path in CHAPTERS:
        name = str(path.relative_to(BOOK).with_suffix(""))
        assert is_stub(load(path)) == (STUB_TITLE in titles[name]), name


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_chapter_is_executed_in_order_without_errors(path):
    """nbval silently skips a cell that was never executed, so every code cell
    must carry its execution count, counted 1, 2, 3 ... (one top-to-bottom
    run), with no error output and no stored widget state (DESIGN section 7)."""
    nb = load(path)
    counts = [c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code"]
    assert counts == list(range(1, len(counts) + 1)), counts
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", source(cell)
    assert "widgets" not in nb["metadata"]
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_chapter_follows_the_skeleton(path):
    """Every written chapter has goals, prerequisites, a summary, exercises
    with solutions that run code, and further reading; it imports the package
    like a user (``import paxos_lit as px``) (DESIGN section 8)."""
    nb = load(path)
    if is_stub(nb):
        pytest.skip("stub chapter (marked in the toc)")
    markdown = "\n".join(source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    headings = re.findall(r"^## (.+)$", markdown, flags=re.M)
    for heading in SKELETON:
        assert heading in headings, f"{path.name} lacks '## {heading}'"
    assert "```{exercise}" in markdown
    # Each solution is gated (solution-start ... solution-end) around code
    # cells, so the solution's code is executed with the chapter.
    cells = nb["cells"]
    starts = [i for i, c in enumerate(cells) if "{solution-start}" in source(c)]
    assert starts, f"{path.name} has no executed solution"
    for i in starts:
        # The same markdown cell may close the previous solution first.
        after_start = source(cells[i]).rsplit("{solution-start}", 1)[1]
        assert "{solution-end}" not in after_start, f"{path.name}: a solution without code"
        end = next(j for j in range(i + 1, len(cells)) if "{solution-end}" in source(cells[j]))
        assert any(c["cell_type"] == "code" for c in cells[i:end]), \
            f"{path.name}: a solution without code"
    code = "\n".join(source(c) for c in nb["cells"] if c["cell_type"] == "code")
    assert "import paxos_lit as px" in code


def only_definitions(src: str) -> bool:
    """A cell that only imports and defines functions or classes runs nothing."""
    body = ast.parse("\n".join(line for line in src.splitlines()
                               if not line.lstrip().startswith(("%", "!")))).body
    return all(isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))
               for node in body)


def call_text(src: str, start: int) -> str:
    """The text of the call starting at ``start``, up to its closing parenthesis."""
    depth = 0
    for j in range(src.index("(", start), len(src)):
        depth += {"(": 1, ")": -1}.get(src[j], 0)
        if depth == 0:
            return src[start:j + 1]
    return src[start:]


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_simulation_passes_a_seed_and_prints_it(path):
    """Every cell that builds or runs a simulation passes ``seed=`` and its
    stored output names the seed (DESIGN section 3, rule 6: every figure and
    table prints its seed)."""
    for cell in load(path)["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = source(cell)
        calls = [m.start() for m in SIM_CALL.finditer(src)]
        calls = [i for i in calls if not src[max(0, i - 4):i].endswith("def ")]
        if not calls:
            continue
        for i in calls:
            call = call_text(src, i)
            assert "seed" in call, f"{path.name}: simulation without a seed: {call}"
        if only_definitions(src):
            continue  # the simulation runs where the function is called
        assert "seed" in stdout_of(cell), f"{path.name}: seed not printed:\n{src}"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_rich_outputs_are_marked_for_nbval(path):
    """A cell with a rich output (a figure, highlighted source, HTML, a
    widget) is marked ``# NBVAL_IGNORE_OUTPUT``, and only such cells are:
    plain text results stay under nbval's comparison."""
    for cell in load(path)["cells"]:
        if cell["cell_type"] != "code":
            continue
        rich = any(mime in out.get("data", {}) for out in cell["outputs"] for mime in RICH_MIME)
        marked = "# NBVAL_IGNORE_OUTPUT" in source(cell)
        assert rich == marked, f"{path.name}: rich={rich} marked={marked}:\n{source(cell)}"


# -- names the chapters show ---------------------------------------------------------

NAME = re.compile(r"(?<![\w.])(px|paxos_lit|paxos_widgets)((?:\.[A-Za-z_]\w*)+)")
FROM_IMPORT = re.compile(
    r"^[ \t]*from[ \t]+((?:paxos_lit|paxos_widgets)(?:\.\w+)*)[ \t]+import[ \t]+"
    r"(?:\(([^)]*)\)|([\w \t,]+))", re.M)


def resolve(dotted: str) -> bool:
    """Does ``paxos_lit.a.b.c`` (or ``paxos_widgets...``) name something real?
    Attributes are looked up one by one; a missing one may be a submodule not
    yet imported, so that is tried before giving up."""
    parts = dotted.split(".")
    obj = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], 1):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        if not inspect.ismodule(obj):
            return False
        try:
            obj = importlib.import_module(".".join(parts[:i + 1]))
        except ModuleNotFoundError:
            return False
    return True


def names_in(text: str) -> set[str]:
    names = set()
    for prefix, rest in NAME.findall(text):
        base = "paxos_lit" if prefix == "px" else prefix
        names.add(base + rest)
    for module, grouped, plain in FROM_IMPORT.findall(text):
        names.add(module)
        for item in (grouped or plain).split(","):
            words = item.split()  # "name" or "name as alias"
            if words:
                names.add(f"{module}.{words[0]}")
    return names


def test_name_resolver_tells_real_names_from_missing_ones():
    """The check below can fail: made-up names are reported missing."""
    assert resolve("paxos_lit.Leader.on_Preempted")
    assert resolve("paxos_lit.check.explore.explore")
    assert not resolve("paxos_lit.Leader.on_Nothing")
    assert not resolve("paxos_lit.no_such_module.thing")
    assert names_in("x = px.Acceptor.on_P1a(y)") == {"paxos_lit.Acceptor.on_P1a"}
    assert names_in("from paxos_lit.synod import INVARIANTS, Synod as S\nx = 1") == {
        "paxos_lit.synod", "paxos_lit.synod.INVARIANTS", "paxos_lit.synod.Synod"}
    assert names_in("from paxos_lit.sim.sweep import (\n    grid,\n    sweep,\n)") == {
        "paxos_lit.sim.sweep", "paxos_lit.sim.sweep.grid", "paxos_lit.sim.sweep.sweep"}


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_package_name_a_chapter_shows_exists(path):
    """Every ``px.X``, ``paxos_lit.X`` and ``paxos_widgets.X`` named in a
    chapter's code or prose, and every name it imports from them, exists in
    the package (DESIGN section 8)."""
    text = "\n".join(source(c) for c in load(path)["cells"])
    missing = sorted(n for n in names_in(text) if not resolve(n))
    assert not missing, f"{path.name} names what the package lacks: {missing}"


# -- show() ----------------------------------------------------------------------------

def test_show_displays_the_real_source_with_file_and_lines():
    """``show`` reads the package's current source (never a pasted copy) and
    renders it as a highlighted Markdown block naming the file and lines."""
    from paxos_widgets.show import show

    import paxos_lit as px

    src = show(px.Acceptor.on_P1a)
    lines, first = inspect.getsourcelines(px.Acceptor.on_P1a)
    assert src.code.splitlines()[0] == lines[0].strip()
    assert (src.path, src.first, src.last) == ("paxos_lit/acceptor.py", first,
                                               first + len(lines) - 1)
    md = src._repr_markdown_()
    assert md.count("```python") == 1 and "def on_P1a" in md


def test_show_fence_survives_backticks_in_the_source():
    """A docstring with a run of backticks cannot close the code fence early."""
    from paxos_widgets.show import Source

    md = Source("paxos_lit.x", "paxos_lit/x.py", 1, 1, 'x = "```"')._repr_markdown_()
    assert md.splitlines()[2] == "````python"


def test_show_rejects_what_it_cannot_show():
    """Bad input gets a clear error: a value that is not code, or code from
    outside the two packages."""
    from paxos_widgets.show import show

    with pytest.raises(TypeError, match="module, class, function or method"):
        show(42)
    with pytest.raises(ValueError, match="paxos_lit and paxos_widgets code only"):
        show(json.dumps)


# -- the plotly hook ---------------------------------------------------------------------

def test_figure_html_keeps_figure_json_inert():
    """A figure's JSON goes into a ``<script type="application/json">`` that a
    string inside the figure cannot close early."""
    sys.path.insert(0, str(BOOK / "_ext"))
    try:
        from plotly_offline import figure_html
    finally:
        sys.path.remove(str(BOOK / "_ext"))
    html = figure_html({"data": [{"name": "</script><b>x"}], "layout": {"height": 300}}, "k")
    assert html.count("</script>") == 1
    assert 'style="width:100%;height:300px"' in html
    spec = html.split('data-for="paxos-plotly-k">', 1)[1].split("</script>")[0]
    assert json.loads(spec)["data"][0]["name"] == "</script><b>x"


def test_widget_state_is_not_embedded_in_pages():
    """The state nbclient records for a live widget (megabytes, useless in a
    static page) is dropped from what myst-nb would add to the page."""
    from types import SimpleNamespace

    sys.path.insert(0, str(BOOK / "_ext"))
    try:
        from plotly_offline import _drop_widget_state
    finally:
        sys.path.remove(str(BOOK / "_ext"))
    js = {"ipywidgets_state": (None, {"body": "{...}"}), "paxos_plotly_lib": ("p.js", {})}
    env = SimpleNamespace(docname="failure", nb_metadata={"failure": {"js_files": js}})
    _drop_widget_state(SimpleNamespace(env=env), None)
    assert list(js) == ["paxos_plotly_lib"]


# -- the strict build and the browser ----------------------------------------------------

@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """Build a copy of book/ strictly (-W -n --keep-going) from its committed
    outputs, once per session; yields (returncode, log, html folder)."""
    import yaml

    src = tmp_path_factory.mktemp("book") / "book"
    shutil.copytree(BOOK, src, ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints"))
    config = yaml.safe_load((src / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    (src / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    exe = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run([str(exe), "build", "-W", "-n", "--keep-going", str(src)],
                          capture_output=True, text=True, timeout=580)
    yield proc.returncode, proc.stdout + proc.stderr, src / "_build" / "html"


@pytest.mark.notebook
def test_book_builds_strict_and_offline(built_book):
    """The book builds with warnings as errors and nitpicky references, and no
    page loads a script or stylesheet from the network (DESIGN section 7:
    plotly.js is served from _static/)."""
    code, log, html = built_book
    assert code == 0, log[-4000:]
    assert "build succeeded" in log
    assert (html / "_static" / "plotly.min.js").stat().st_size > 1_000_000
    for page in html.glob("*.html"):
        text = page.read_text()
        remote = re.findall(r'<(?:script[^>]*\ssrc|link[^>]*\shref)="(https?://[^"]+)"', text)
        assert not remote, f"{page.name} loads {remote}"
    # A figure is plotly JSON next to an empty div, never a 4.8 MB inline copy.
    page = (html / "why_paxos.html").read_text()
    assert "paxos-plotly-spec" in page and len(page) < 1_000_000


@pytest.mark.browser
@pytest.mark.notebook
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (make chromium)")
@pytest.mark.parametrize("page", ["why_paxos.html", "leaders.html"])
def test_built_page_draws_its_figures(built_book, page):
    """Opened in headless chromium (from disk, no network), every plotly
    figure of the page is drawn: an SVG with at least one trace, of real
    size, and the page raises no script error."""
    from playwright.sync_api import sync_playwright

    code, log, html = built_book
    assert code == 0, log[-4000:]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            tab = browser.new_page(viewport={"width": 1300, "height": 900})
            errors, remote = [], []
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.on("request", lambda r: None if r.url.startswith(("file:", "data:"))
                   else remote.append(r.url))
            tab.goto((html / page).as_uri())
            plots = tab.locator("div.paxos-plotly")
            n = plots.count()
            assert n >= 1
            tab.wait_for_function(
                f"document.querySelectorAll('div.paxos-plotly[data-drawn=\"yes\"]').length == {n}",
                timeout=30_000)
            for i in range(n):
                plot = plots.nth(i)
                assert plot.locator(".main-svg").count() >= 1
                assert plot.locator(".trace").count() >= 1
                box = plot.bounding_box()
                assert box["width"] > 300 and box["height"] > 200
            assert not errors, errors
            assert not remote, remote
        finally:
            browser.close()
