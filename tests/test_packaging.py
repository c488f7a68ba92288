"""Packaging rules: what the project declares, and what the core may import.

- The core ``paxos_lit`` declares no runtime dependency and imports nothing but
  the standard library, so it runs wherever Python runs (a kernel, CI, a
  browser kernel).
- pyproject.toml and environment.yml name the same dependency set, so pip and
  conda users get the same tools.
- The README's quick start is exactly the two commands that set everything up.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = "paxos_lit"
PROJECT = "paxos-lit"

# Names that are not dependencies in environment.yml: the interpreter and the
# installer themselves.
CONDA_TOOLING = {"python", "pip"}
# conda-forge name -> PyPI name, where the two differ.
CONDA_TO_PYPI: dict[str, str] = {}
# Extras that stand for a separately named package (dask[distributed] is the
# package `distributed`; conda lists it on its own line).
EXTRA_PACKAGES = {("dask", "distributed"): "distributed"}

_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def normalise(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirement(spec: str) -> tuple[str, set[str]]:
    """Return (normalised name, normalised extras) of a requirement or conda spec."""
    m = _REQ.match(spec)
    assert m, f"cannot parse requirement {spec!r}"
    extras = {normalise(e.strip()) for e in (m.group(2) or "").split(",") if e.strip()}
    return normalise(m.group(1)), extras


def names_of(specs: list[str]) -> set[str]:
    """The packages a list of requirements names, extras that are packages included."""
    out = set()
    for spec in specs:
        name, extras = parse_requirement(spec)
        out.add(name)
        for extra in extras:
            if (name, extra) in EXTRA_PACKAGES:
                out.add(normalise(EXTRA_PACKAGES[(name, extra)]))
    return out


def load_pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def expanded_extras(project: dict) -> dict[str, list[str]]:
    """Optional dependencies with self-references (paxos-lit[a,b]) expanded."""
    raw = project.get("optional-dependencies", {})

    def expand(extra: str, seen: frozenset[str]) -> list[str]:
        out = []
        for spec in raw[extra]:
            name, extras = parse_requirement(spec)
            if name == normalise(project["name"]):
                for sub in sorted(extras):
                    assert sub not in seen, f"extra cycle through {sub!r}"
                    out.extend(expand(sub, seen | {sub}))
            else:
                out.append(spec)
        return out

    return {extra: expand(extra, frozenset({extra})) for extra in raw}


def parse_environment_yml(text: str) -> tuple[list[str], list[str]]:
    """A tiny parser for environment.yml: (conda dependencies, pip dependencies).

    Understands exactly the shape conda uses: a top-level ``dependencies:``
    block of ``- item`` lines, one of which may be ``- pip:`` followed by a
    more deeply indented list.
    """
    conda: list[str] = []
    pip: list[str] = []
    in_deps = False
    pip_indent: int | None = None
    for raw_line in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw_line).rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        stripped = line.strip()
        if indent == 0:
            in_deps = stripped == "dependencies:"
            pip_indent = None
            continue
        if not in_deps or not stripped.startswith("- "):
            continue
        item = stripped[2:].strip().strip("'\"")
        if pip_indent is not None and indent > pip_indent:
            pip.append(item)
            continue
        pip_indent = None
        if item == "pip:":
            pip_indent = indent
        else:
            conda.append(item)
    return conda, pip


def test_core_declares_no_runtime_dependency():
    """The core is standard library only (DESIGN section 2): no install_requires."""
    project = load_pyproject()["project"]
    assert project.get("dependencies", []) == []


def test_console_script_and_packages():
    """`paxos-lit` is the CLI; widgets/ installs as paxos_widgets, not `widgets`."""
    data = load_pyproject()
    assert data["project"]["scripts"] == {PROJECT: "paxos_lit.cli:main"}
    setuptools = data["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"paxos_widgets": "widgets"}
    listed = set(setuptools["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / CORE).rglob("__init__.py")
    } | {
        ".".join(("paxos_widgets", *p.parent.relative_to(ROOT / "widgets").parts))
        for p in (ROOT / "widgets").rglob("__init__.py")
    }
    for name in ("paxos_lit.sim", "paxos_lit.check", "paxos_lit.runtime", "paxos_widgets"):
        assert name in listed
    assert on_disk <= listed, f"package folders missing from pyproject: {on_disk - listed}"


def test_all_extra_is_every_extra():
    """`all` installs exactly what widgets, book and dev install together."""
    extras = expanded_extras(load_pyproject()["project"])
    assert {"widgets", "book", "dev", "all"} <= extras.keys()
    union = set().union(*(names_of(v) for k, v in extras.items() if k != "all"))
    assert names_of(extras["all"]) == union
    # the book executes the widget chapters, so it needs the widget stack too
    assert names_of(extras["widgets"]) <= names_of(extras["book"])


def test_environment_yml_names_the_same_dependencies():
    """conda users get the same dependency set as `pip install -e '.[all]'`."""
    conda, pip = parse_environment_yml((ROOT / "environment.yml").read_text())
    assert {"python", "pip"} <= {parse_requirement(s)[0] for s in conda}
    assert any(s.replace(" ", "") in ("-e.", "-e./", ".") for s in pip), (
        "environment.yml should install the project itself (pip: - -e .)"
    )
    env_names = {
        normalise(CONDA_TO_PYPI.get(n, n)) for n in names_of(conda) if n not in CONDA_TOOLING
    } | names_of([s for s in pip if not s.startswith(("-", "."))])
    all_names = names_of(expanded_extras(load_pyproject()["project"])["all"])
    assert env_names == all_names, (
        f"only in environment.yml: {sorted(env_names - all_names)}; "
        f"only in pyproject.toml: {sorted(all_names - env_names)}"
    )


def test_jupyter_book_stays_below_2_everywhere():
    """Jupyter Book 2 downloads its theme at build time and fails offline (DESIGN 7)."""
    extras = expanded_extras(load_pyproject()["project"])
    conda, _ = parse_environment_yml((ROOT / "environment.yml").read_text())
    for specs in (extras["book"], conda):
        (spec,) = [s for s in specs if parse_requirement(s)[0] == "jupyter-book"]
        assert "<2" in spec.replace(" ", ""), spec


def test_environment_parser_reads_nested_pip_lists():
    text = (
        "name: x  # a comment\n"
        "channels:\n  - conda-forge\n"
        "dependencies:\n"
        "  - python>=3.11\n"
        "  # a comment line\n"
        "  - dask\n"
        "  - pip:\n"
        "      - -e .\n"
        "      - 'foo[bar]>=1'\n"
        "  - ruff\n"
        "variables:\n  - notadep\n"
    )
    assert parse_environment_yml(text) == (
        ["python>=3.11", "dask", "ruff"],
        ["-e .", "foo[bar]>=1"],
    )


def _core_files() -> list[Path]:
    return sorted((ROOT / CORE).rglob("*.py"))


def _imported_top_levels(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def test_core_imports_only_the_standard_library():
    """Every import in paxos_lit/**/*.py is stdlib or paxos_lit itself (DESIGN 2).

    In particular the core never imports paxos_widgets: dependencies point
    one way, book -> widgets -> paxos_lit.
    """
    files = _core_files()
    assert files, "paxos_lit has no Python files"
    allowed = set(sys.stdlib_module_names) | {CORE}
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: import {name}"
        for path in files
        for line, name in _imported_top_levels(path)
        if name not in allowed
    ]
    assert not offenders, "third-party imports in the core:\n" + "\n".join(offenders)


def test_import_checker_catches_third_party(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom . import x\nimport plotly.graph_objects as go\n")
    names = [n for _, n in _imported_top_levels(bad)]
    assert names == ["os", "plotly"]


def quick_start_commands(readme: str) -> list[str]:
    """The commands in the fenced code blocks of the README's Quick start section."""
    m = re.search(r"^##\s+Quick start\s*$(.*?)(?=^##\s|\Z)", readme, re.M | re.S | re.I)
    assert m, "README has no '## Quick start' section"
    commands = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", m.group(1), re.M | re.S):
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                commands.append(line.removeprefix("$ ").strip())
    return commands


def test_readme_quick_start_is_exactly_two_commands():
    """A fresh clone needs two commands: the Makefile builds .venv on first use."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert quick_start_commands(readme) == ["make lab", "make test"]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci
    assert re.search(r"^\s*(status=0;\s*)?make test\b", ci, re.M), ".ci/run must run `make test`"


@pytest.mark.skipif(
    importlib.util.find_spec("paxos_widgets") is None, reason="project not installed"
)
def test_widgets_folder_installs_as_paxos_widgets():
    spec = importlib.util.find_spec("paxos_widgets")
    assert spec is not None and spec.origin is not None
    assert Path(spec.origin).resolve() == (ROOT / "widgets" / "__init__.py").resolve()
