"""THE parse model of a lesson: check, build, export, status, grading and milestones read lessons
only through this module (tests/test_parse_model.py fails if a second parser appears).

A lesson is either its jupytext source (`read_cells`: the author's short headers,
`# %% solution id="x"`, `# %% test id="t" points=2`, become `Cell` objects that remember their
line, so every later error can say `file:line`) or a notebook built from it, a release notebook or
a student's copy (`notebook_cells`). Either way it becomes a `ParsedModule`: its cells, their
`#|` directives, the export target (`#| default_exp NAME`), the exported code and the names it
defines. The AST helpers (`top_level_names`, `lib_imports`) serve the package files too.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat

from autograder.course.constants import (BEGIN_HIDDEN, BEGIN_SOLUTION, END_HIDDEN, END_SOLUTION,  # noqa: F401
                                         LIB_NAME)
from autograder.course.layout import Course, CourseError, Module

CELL_MARKER = re.compile(r"^# %%")
DIRECTIVE = "#|"
KINDS = {"solution", "test", "helper"}


@dataclass
class Cell:
    index: int
    line: int              # 1-based line of the `# %%` header in the source file (1 for a notebook's cells)
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
        return "\n".join(l for l in lines if not l.startswith(DIRECTIVE)).strip("\n")

    def line_of(self, offset: int) -> int:
        """File line of the `offset`-th (0-based) line of the cell's source."""
        return self.line + 1 + offset

    def directive_line(self, word: str) -> int:
        for i, line in enumerate(self.source.splitlines()):
            if line.startswith(DIRECTIVE) and line[len(DIRECTIVE):].split()[:1] == [word]:
                return self.line_of(i)
        return self.line


def line_of(cell: Cell, offset: int) -> int:
    return cell.line_of(offset)


def parse_directives(source: str) -> dict[str, str]:
    directives = {}
    for line in source.splitlines():
        if not line.startswith(DIRECTIVE):
            break
        word, _, arg = line[len(DIRECTIVE):].strip().partition(" ")
        directives[word] = arg.strip()
    return directives


def read_cells(path: Path) -> list[Cell]:
    """The cells of a jupytext lesson source."""
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


def notebook_cells(nb: nbformat.NotebookNode) -> list[Cell]:
    """The cells of a notebook tito built (nbgrader metadata says each cell's kind)."""
    cells = []
    for i, nb_cell in enumerate(nb.cells):
        meta = nb_cell.get("metadata", {}).get("nbgrader", {})
        kind = "text"
        if nb_cell.cell_type == "code":
            kind = ("solution" if meta.get("solution") else "test" if meta.get("grade") else
                    "helper" if nb_cell.get("metadata", {}).get("tinytorch", {}).get("role") == "helper" else "given")
        cells.append(Cell(index=i, line=1, cell_type=nb_cell.cell_type, kind=kind, source=nb_cell.source,
                          grade_id=meta.get("grade_id"), points=meta.get("points"),
                          directives=parse_directives(nb_cell.source) if nb_cell.cell_type == "code" else {}))
    return cells


# --- markers -----------------------------------------------------------------------------------

def solution_regions(cell: Cell) -> list[tuple[int, int]]:
    """(begin, end) line offsets of the solution markers of a cell; the region is between them."""
    regions, begin = [], None
    for i, line in enumerate(cell.source.splitlines()):
        if BEGIN_SOLUTION in line:
            begin = i
        elif END_SOLUTION in line and begin is not None:
            regions.append((begin, i))
            begin = None
    return regions


def student_lines(cell: Cell) -> Iterator[tuple[int, str]]:
    """(offset, line) of what the student notebook shows of a cell: no solution, no hidden test."""
    secret = False
    for i, line in enumerate(cell.source.splitlines()):
        if BEGIN_SOLUTION in line or BEGIN_HIDDEN in line:
            secret = True
        elif END_SOLUTION in line or END_HIDDEN in line:
            secret = False
        elif not secret:
            yield i, line


def without_solution_markers(code: str) -> str:
    """The code with its solution marker lines dropped (the solution as a student would type it)."""
    return "\n".join(l for l in code.splitlines() if BEGIN_SOLUTION not in l and END_SOLUTION not in l)


# --- AST helpers -------------------------------------------------------------------------------

def parse_or_none(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except SyntaxError:
        return None


def top_level_names(tree: ast.Module) -> list[str]:
    """Top-level classes, functions and assigned variables, in order, each once."""
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return list(dict.fromkeys(names))


def public_names(tree: ast.Module) -> list[str]:
    """What a module exports: its top-level names that do not start with `_`."""
    return [n for n in top_level_names(tree) if not n.startswith("_")]


@dataclass(frozen=True)
class LibImport:
    line: int               # 1-based line in the parsed code
    submodule: str          # "tensor" (or "tensor.x"); "" for the package root
    names: tuple[str, ...]  # names imported from the package root; () for `import tinytorch_lib`


def lib_imports(tree: ast.AST, inside_package: bool = False) -> Iterator[LibImport]:
    """Every `tinytorch_lib` import of `tree` (inside the package, `from .x import y` counts too)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == LIB_NAME or alias.name.startswith(LIB_NAME + "."):
                    yield LibImport(node.lineno, alias.name[len(LIB_NAME) + 1:], ())
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and (node.module == LIB_NAME or node.module.startswith(LIB_NAME + ".")):
                submodule = node.module[len(LIB_NAME) + 1:]
            elif node.level == 1 and inside_package:
                submodule = node.module or ""
            else:
                continue
            yield LibImport(node.lineno, submodule, () if submodule else tuple(a.name for a in node.names))


# --- a whole lesson ------------------------------------------------------------------------------

@dataclass
class ParsedModule:
    module: Module
    cells: list[Cell]

    @property
    def target(self) -> str | None:
        """The module of `tinytorch_lib` its exports go to (`#| default_exp NAME`)."""
        targets = [c.directives["default_exp"] for c in self.cells if "default_exp" in c.directives]
        return targets[0] if targets else None

    def exported_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.cell_type == "code" and c.exported]

    def exported_code(self) -> str:
        """The `#| export` cells' code, directives and solution markers dropped."""
        return without_solution_markers("\n\n\n".join(c.body() for c in self.exported_cells()))

    def exported_names(self) -> set[str]:
        names = set()
        for cell in self.exported_cells():
            if tree := parse_or_none(cell.body()):
                names |= set(top_level_names(tree))
        return names


def parse_module(module: Module) -> ParsedModule:
    return ParsedModule(module, read_cells(module.source))


def parse_course(course: Course) -> list[ParsedModule]:
    return [parse_module(m) for m in course.modules()]


def parse_notebook(nb: nbformat.NotebookNode, name: str, path: Path | None = None) -> ParsedModule:
    """A notebook of module `name` ("01_tensor"): a built, released or student notebook."""
    return ParsedModule(Module.named(name, path or Path(f"{name}.ipynb")), notebook_cells(nb))
