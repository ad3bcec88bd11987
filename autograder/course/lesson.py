"""Reading a lesson source: a jupytext percent file becomes a list of typed cells.

The author writes short headers (`# %% solution id="x"`, `# %% test id="t" points=2`); this module
reads them into `Cell` objects that remember their line in the file, so every later error can say
`file:line`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import jupytext

from autograder.course.constants import BEGIN_HIDDEN, BEGIN_SOLUTION, END_HIDDEN, END_SOLUTION  # noqa: F401
from autograder.course.layout import CourseError

CELL_MARKER = re.compile(r"^# %%")
KINDS = {"solution", "test", "helper"}


@dataclass
class Cell:
    index: int
    line: int              # 1-based line of the `# %%` header in the source file
    cell_type: str         # "code" or "markdown"
    kind: str              # "text", "given", "solution", "test" or "helper" (a test helper: runs in the grader too)
    source: str
    grade_id: str | None = None
    points: float | None = None
    directives: dict[str, str] = field(default_factory=dict)   # "export" -> "", "default_exp" -> "tensor"
    header_error: str | None = None

    @property
    def exported(self) -> bool:
        return "export" in self.directives

    def body(self) -> str:
        """The code without its `#|` directive lines."""
        lines = self.source.splitlines()
        return "\n".join(l for l in lines if not l.startswith("#|")).strip("\n")


def parse_directives(source: str) -> dict[str, str]:
    directives = {}
    for line in source.splitlines():
        if not line.startswith("#|"):
            break
        word, _, arg = line[2:].strip().partition(" ")
        directives[word] = arg.strip()
    return directives


def read_cells(path: Path) -> list[Cell]:
    try:
        text = path.read_text(encoding="utf-8")
        nb = jupytext.reads(text, fmt="py:percent")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CourseError(f"{path}: cannot read lesson source: {exc}") from exc
    header_lines = [i + 1 for i, l in enumerate(text.splitlines()) if CELL_MARKER.match(l)]
    cells = []
    for i, nb_cell in enumerate(nb.cells):
        line = header_lines[i] if len(header_lines) == len(nb.cells) else 1
        meta = dict(nb_cell.metadata)
        title = str(meta.pop("title", "")).strip()
        cell = Cell(index=i, line=line, cell_type=nb_cell.cell_type, kind="text", source=nb_cell.source)
        if nb_cell.cell_type == "code":
            cell.kind = title if title in KINDS else "given"
            cell.directives = parse_directives(nb_cell.source)
            if title and title not in KINDS:
                cell.header_error = f"unknown cell kind {title!r} (use `solution`, `test` or `helper`)"
        cell.grade_id = meta.get("id")
        cell.points = meta.get("points")
        cells.append(cell)
    return cells
