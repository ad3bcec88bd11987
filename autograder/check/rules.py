"""`tito check`: lint lesson sources, reporting `file:line: message` for every defect found.

Each rule is one small function taking the parsed module and yielding (line, message); the course
wide rules (unique ids, export targets, import order) look at all modules at once. Lesson-quality
rules (issue 9): no solution line may stand in the student notebook, every test assert explains
itself, and a module whose largest task is small gets a warning. `--stats` counts the student's
share of each lesson (`module_stats`); `--mutants` lives in autograder/check/mutants.py; the parse model in autograder/course/lesson.py.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from autograder.course.constants import BEGIN_HIDDEN, BEGIN_SOLUTION, END_HIDDEN, END_SOLUTION, LIB_NAME
from autograder.course.layout import Course
from autograder.course.lesson import (DIRECTIVE, Cell, ParsedModule, lib_imports, line_of, parse_course, parse_or_none,
                                      solution_regions, student_lines, top_level_names)

VALID_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
GIVEAWAY_MIN_CHARS = 12   # a shorter solution line (`return out`) gives nothing away
MIN_LARGEST_REGION = 8    # every module needs one task the student designs, not transcribes
WARNING = "warning: "     # messages starting with this are warnings: they never fail `tito check`


@dataclass
class Problem:
    path: Path
    line: int
    message: str

    @property
    def is_warning(self) -> bool:
        return self.message.startswith(WARNING)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def squeeze(text: str) -> str:
    """`text` without any whitespace, so re-indented or re-spaced copies still match."""
    return "".join(text.split())


# --- rules on one cell -----------------------------------------------------------------------

def marker_balance(cell: Cell, begin: str, end: str) -> Iterator[tuple[int, str]]:
    open_at = None
    for i, line in enumerate(cell.source.splitlines()):
        if begin in line:
            if open_at is not None:
                yield line_of(cell, i), f"`{begin}` inside a region already opened on line {line_of(cell, open_at)}"
            open_at = i
        elif end in line:
            if open_at is None:
                yield line_of(cell, i), f"`{end}` without a matching `{begin}`"
            open_at = None
    if open_at is not None:
        yield line_of(cell, open_at), f"`{begin}` is never closed by `{end}`"


def has_marker(cell: Cell, *markers: str) -> int | None:
    for i, line in enumerate(cell.source.splitlines()):
        if any(m in line for m in markers):
            return i
    return None


def stray_directives(cell: Cell) -> Iterator[tuple[int, str]]:
    """`#| export` and the other directives count only as the cell's first lines; one further down (a
    blank line above it, say) is silently ignored, and the cell's code silently leaves the package."""
    leading = True
    for i, line in enumerate(cell.source.splitlines()):
        if leading and line.startswith(DIRECTIVE):
            continue
        leading = False
        if line.strip().startswith(DIRECTIVE):
            yield line_of(cell, i), (f"`{line.strip()}` is not among the cell's first lines, so it is ignored "
                                     "(move it to the top of the cell)")


def check_cell(cell: Cell) -> Iterator[tuple[int, str]]:
    if cell.header_error:
        yield cell.line, cell.header_error
    if cell.cell_type != "code":
        return
    yield from stray_directives(cell)
    yield from marker_balance(cell, BEGIN_SOLUTION, END_SOLUTION)
    yield from marker_balance(cell, BEGIN_HIDDEN, END_HIDDEN)
    hidden = has_marker(cell, BEGIN_HIDDEN, END_HIDDEN)
    if hidden is not None and cell.kind != "test":
        yield line_of(cell, hidden), "hidden-test markers outside a `test` cell"
    solution = has_marker(cell, BEGIN_SOLUTION, END_SOLUTION)
    if solution is not None and cell.kind != "solution":
        yield line_of(cell, solution), "solution markers outside a `solution` cell"
    if cell.kind == "solution" and solution is None:
        yield cell.line, "a `solution` cell without a `### BEGIN SOLUTION` region"
    if cell.kind in ("solution", "test"):
        if not cell.grade_id:
            yield cell.line, f"`{cell.kind}` cell without an id (add id=\"...\")"
        elif not VALID_ID.match(str(cell.grade_id)):
            yield cell.line, f"id {cell.grade_id!r} must be 1-64 letters, digits, '-' or '_'"
    if cell.kind == "test" and not (isinstance(cell.points, (int, float)) and cell.points > 0):
        yield cell.line, "`test` cell without points (add points=N, N > 0)"
    tree = None
    try:   # a lint rule: the syntax of one cell, reported at its line
        tree = ast.parse(cell.source)
    except SyntaxError as exc:
        yield line_of(cell, (exc.lineno or 1) - 1), f"syntax error: {exc.msg}"
    if tree is not None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "input":
                yield line_of(cell, node.lineno - 1), "`input()` would block the autograder"
            if cell.kind == "test" and isinstance(node, ast.Assert) and node.msg is None:
                yield (line_of(cell, node.lineno - 1),
                       "assert without a message (say what was expected and what came out)")


# --- rules on one module ---------------------------------------------------------------------

def check_module(parsed: ParsedModule) -> Iterator[tuple[int, str]]:
    for cell in parsed.cells:
        yield from check_cell(cell)
    defaults = [c for c in parsed.cells if "default_exp" in c.directives]
    for extra in defaults[1:]:
        yield extra.directive_line("default_exp"), "a second `#| default_exp` (one per module)"
    for cell in parsed.cells:
        if "default_exp" in cell.directives and not cell.directives["default_exp"]:
            yield cell.directive_line("default_exp"), "`#| default_exp` needs a module name"
        if cell.exported and not parsed.target:
            yield cell.directive_line("export"), "`#| export` cell but the module has no `#| default_exp NAME` target"
    yield from untested_solutions(parsed)
    yield from stubs_outside_functions(parsed)
    yield from giveaways(parsed)
    yield from small_largest_region(parsed)


def stubs_outside_functions(parsed: ParsedModule) -> Iterator[tuple[int, str]]:
    """An exported region must sit inside a function body: its stub raises where the region was, and
    at module or class level that is at import, so the student's whole package would not import."""
    for cell in parsed.exported_cells():
        tree = parse_or_none(cell.source)
        if tree is None:
            continue
        bodies = [(n.lineno + 1, n.end_lineno) for n in ast.walk(tree)
                  if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for begin, _ in solution_regions(cell):
            if not any(first <= begin + 1 <= last for first, last in bodies):
                yield (line_of(cell, begin), "solution region outside a function body: its stub would raise "
                                             "when tinytorch_lib is imported; keep `def`/`class` lines outside "
                                             "the region, one region per function body")


def giveaways(parsed: ParsedModule) -> Iterator[tuple[int, str]]:
    """A solution line that stands verbatim in the student notebook hands the student the answer.

    Comment lines are left out (a comment repeating the lesson text gives no code away).
    """
    shown = [(line_of(c, i), squeeze(line)) for c in parsed.cells for i, line in student_lines(c)]
    for cell in parsed.cells:
        lines = cell.source.splitlines()
        for begin, end in solution_regions(cell):
            for i in range(begin + 1, end):
                code = squeeze(lines[i])
                if len(code) < GIVEAWAY_MIN_CHARS or code.startswith("#"):
                    continue
                where = next((at for at, text in shown if code in text), None)
                if where is not None:
                    yield (line_of(cell, i), f"solution line gives the answer away: "
                           f"`{lines[i].strip()}` also stands in the student notebook at line {where}")


def small_largest_region(parsed: ParsedModule) -> Iterator[tuple[int, str]]:
    regions = [(end - begin - 1, line_of(c, begin)) for c in parsed.cells for begin, end in solution_regions(c)]
    size, line = max(regions, default=(0, 1))
    if size < MIN_LARGEST_REGION:
        yield line, (f"{WARNING}the largest solution region has {size} lines; give the student one task "
                     f"of at least {MIN_LARGEST_REGION} lines to design (an algorithm, not a formula)")


def untested_solutions(parsed: ParsedModule) -> Iterator[tuple[int, str]]:
    tests = "\n".join(c.source for c in parsed.cells if c.kind == "test")
    for cell in parsed.cells:
        if cell.kind == "solution" and (tree := parse_or_none(cell.source)):
            for name in sorted(top_level_names(tree)):
                if not re.search(rf"\b{re.escape(name)}\b", tests):
                    yield cell.line, f"`{name}` is defined here but no test cell mentions it"


# --- rules across the course -----------------------------------------------------------------

def check_course(parsed: list[ParsedModule]) -> Iterator[tuple[Path, int, str]]:
    seen_ids: dict[str, tuple[Path, int]] = {}
    owner_of_target: dict[str, ParsedModule] = {}
    for p in parsed:
        for cell in p.cells:
            if cell.grade_id and cell.kind in ("solution", "test"):
                if cell.grade_id in seen_ids:
                    where = "%s:%d" % seen_ids[cell.grade_id]
                    yield p.module.source, cell.line, f"duplicate id {cell.grade_id!r} (first used at {where})"
                else:
                    seen_ids[cell.grade_id] = (p.module.source, cell.line)
        if p.target:
            if p.target in owner_of_target:
                other = owner_of_target[p.target].module.name
                line = next(c.directive_line("default_exp") for c in p.cells
                            if c.directives.get("default_exp") == p.target)
                yield p.module.source, line, f"export target {p.target!r} collides with module {other}"
            else:
                owner_of_target[p.target] = p
    number_of_target = {t: p.module.number for t, p in owner_of_target.items()}
    number_of_name = {n: p.module.number for p in parsed for n in p.exported_names()}
    for p in parsed:
        for cell in p.cells:
            tree = parse_or_none(cell.source)
            for imp in lib_imports(tree) if tree else []:
                offset, submodule, names = imp.line - 1, imp.submodule, list(imp.names)
                root = submodule.split(".")[0]
                owners = [number_of_target.get(root)] if root else [
                    number_of_target.get(n, number_of_name.get(n)) for n in names]
                for n in owners:
                    if n is not None and n >= p.module.number:
                        what = f"{LIB_NAME}.{submodule}" if root else f"{', '.join(names)} from {LIB_NAME}"
                        yield (p.module.source, line_of(cell, offset),
                               f"imports {what}, which belongs to this or a later module")
                        break


def check(course: Course, names: list[str] | None = None) -> list[Problem]:
    """All problems of the selected modules (course-wide rules see every module)."""
    parsed = parse_course(course)
    selected = {m.name for m in course.select(names)}
    problems = []
    for p in parsed:
        if p.module.name in selected:
            problems += [Problem(p.module.source, line, msg) for line, msg in check_module(p)]
    problems += [Problem(path, line, msg) for path, line, msg in check_course(parsed)
                 if path.parent.name in selected]
    return sorted(problems, key=lambda pr: (str(pr.path), pr.line))


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if not p.is_warning]


# --- `tito check --stats` --------------------------------------------------------------------

@dataclass
class Stats:
    name: str
    total: int      # lines of the lesson source
    student: int    # lines inside solution regions (between the markers)
    regions: int
    largest: int

    @property
    def share(self) -> float:
        return self.student / self.total if self.total else 0.0

    def __str__(self) -> str:
        return (f"{self.name:<22} {self.total:>6} {self.student:>8} {self.share:>6.1%} "
                f"{self.regions:>8} {self.largest:>8}")


STATS_HEADER = f"{'module':<22} {'lines':>6} {'student':>8} {'share':>6} {'regions':>8} {'largest':>8}"


def module_stats(parsed: ParsedModule) -> Stats:
    sizes = [end - begin - 1 for c in parsed.cells for begin, end in solution_regions(c)]
    total = len(parsed.module.source.read_text(encoding="utf-8").splitlines())
    return Stats(parsed.module.name, total, sum(sizes), len(sizes), max(sizes, default=0))


def course_stats(course: Course, names: list[str] | None = None) -> list[Stats]:
    """One row per selected module, then a course total row."""
    selected = {m.name for m in course.select(names)}
    rows = [module_stats(p) for p in parse_course(course) if p.module.name in selected]
    total = Stats("total", sum(r.total for r in rows), sum(r.student for r in rows),
                  sum(r.regions for r in rows), max((r.largest for r in rows), default=0))
    return rows + [total]
