"""Show the package's real source in a notebook (DESIGN section 8).

The book never pastes protocol code: it calls ``show(px.Acceptor.on_P1a)``,
which displays the current source of that object, read with
:func:`inspect.getsource`, as a highlighted Python block with a caption naming
the file and the lines.  Prose and code therefore cannot drift apart: if the
code changes, the next build of the book shows the new code.

``show`` returns a small object that renders itself: as Markdown (a fenced
``python`` block, highlighted by JupyterLab and by Jupyter Book alike) and as
plain text (the bare source, for a terminal).
"""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

__all__ = ["Source", "show"]

#: The packages whose objects ``show`` accepts (it is a teaching aid for them).
PACKAGES = ("paxos_lit", "paxos_widgets")


class Source:
    """The source of one object, ready to display.

    Attributes: ``name`` (dotted name), ``path`` (file, relative to the
    package's parent folder), ``first`` and ``last`` (line numbers), ``code``
    (the source, dedented)."""

    def __init__(self, name: str, path: str, first: int, last: int, code: str):
        self.name = name
        self.path = path
        self.first = first
        self.last = last
        self.code = code

    @property
    def caption(self) -> str:
        return f"{self.name} — {self.path}, lines {self.first}-{self.last}"

    def _repr_markdown_(self) -> str:
        # A fence longer than any backtick run in the code, so it cannot end early.
        longest = max((len(run) for run in re.findall("`+", self.code)), default=0)
        fence = "`" * max(3, longest + 1)
        return (f"*`{self.name}` — `{self.path}`, lines {self.first}-{self.last}*\n\n"
                f"{fence}python\n{self.code}\n{fence}\n")

    def __repr__(self) -> str:
        return f"# {self.caption}\n{self.code}"

    def __str__(self) -> str:
        return self.code


def _qualified_name(obj) -> str:
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if inspect.ismodule(obj):
        return obj.__name__
    if module and qualname:
        return f"{module}.{qualname}"
    raise TypeError(f"show() needs a module, class, function or method, not {obj!r}")


def source_of(obj) -> Source:
    """The :class:`Source` of a module, class, function or method of the
    paxos_lit or paxos_widgets packages."""
    target = obj
    # A property shows its getter; a bound method its function.
    if isinstance(target, property):
        target = target.fget
    target = getattr(target, "__func__", target)
    if not (inspect.ismodule(target) or inspect.isclass(target) or inspect.isfunction(target)):
        raise TypeError(
            f"show() needs a module, class, function or method, not {type(obj).__name__} "
            f"{obj!r}")
    name = _qualified_name(target)
    if name.split(".")[0] not in PACKAGES:
        raise ValueError(f"show() displays paxos_lit and paxos_widgets code only, not {name}")
    lines, first = inspect.getsourcelines(target)
    first = max(first, 1)
    file = Path(inspect.getsourcefile(target)).resolve()
    root = Path(__import__(name.split(".")[0]).__file__).resolve().parent.parent
    try:
        path = file.relative_to(root).as_posix()
    except ValueError:
        path = file.name
    code = textwrap.dedent("".join(lines)).rstrip("\n")
    return Source(name, path, first, first + len(lines) - 1, code)


def show(obj) -> Source:
    """Display the real source of ``obj`` (a paxos_lit or paxos_widgets module,
    class, function or method) in a notebook, highlighted, with its file and
    line numbers.

    >>> import paxos_lit as px
    >>> src = show(px.pmax)
    >>> src.name
    'paxos_lit.leader.pmax'
    """
    return source_of(obj)
