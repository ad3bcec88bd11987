"""`tito check --mutants MODULE`: would the module's tests notice a classic bug in a solution?

A mutant is the module with ONE small change planted in one solution region, the kind of mistake a
student makes: a swapped operator, a sign flip, an off-by-one, a wrong or missing `axis`/`keepdims`,
a dropped transpose, a changed constant, `return` of an input, an in-place update made out of place
or the reverse. Each mutant's nbgrader source notebook (solutions, visible and hidden tests) runs in
a fresh kernel, with the earlier modules' package on the path as `tito build` runs solutions. A
mutant is killed when any test cell fails (an error, stderr output or a timeout counts); the tests
are good enough when they kill at least KILL_TARGET of the mutants.

Mutants are found with `ast` (so only real code is changed, never comments or strings) and applied
as a text edit of the node's exact span, so the rest of the cell keeps its formatting.
"""
from __future__ import annotations

import ast
import copy
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat

from autograder.course.lesson import ParsedModule, line_of, parse_course, solution_regions
from autograder.course.layout import LIB_NAME, Course, CourseError, resolve_module
from autograder.build.export import render, write_init, write_module
from autograder.build.kernel import execute, graded_cell_results
from autograder.build.notebooks import build_notebook

KILL_TARGET = 0.90
PER_REGION = 12          # mutants per solution region at most (evenly spaced over the region)
MIN_TIMEOUT = 30         # seconds; a mutant may take this long, or 5x the unmutated run if longer

AXIS_WORDS = {"axis", "dim"}
REDUCTIONS = {"sum", "mean", "max", "min", "prod", "std", "var", "amax", "amin", "all", "any",
              "argmax", "argmin", "logsumexp", "norm"}
TRANSPOSES = {"transpose", "swapaxes", "permute"}
SWAP_BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
              ast.FloorDiv: ast.Div, ast.Pow: ast.Mult, ast.MatMult: ast.Mult, ast.Mod: ast.FloorDiv}
SWAP_COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
                ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}


@dataclass(frozen=True)
class Mutant:
    cell: int        # index of the mutated cell in the parsed module
    line: int        # file line of the change
    before: str
    after: str
    source: str      # the whole mutated cell

    def __str__(self) -> str:
        return f"{self.before} -> {self.after}"


# --- the classic bugs: each yields (node, replacement node) ----------------------------------

def is_int(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def plus(node: ast.expr, k: int) -> ast.expr:
    return ast.BinOp(node, ast.Add() if k > 0 else ast.Sub(), ast.Constant(abs(k)))


def swapped_operators(node: ast.AST) -> Iterator[ast.AST]:
    if isinstance(node, ast.BinOp) and type(node.op) in SWAP_BINOP:
        yield ast.BinOp(node.left, SWAP_BINOP[type(node.op)](), node.right)
    elif isinstance(node, ast.AugAssign) and type(node.op) in SWAP_BINOP:
        yield ast.AugAssign(node.target, SWAP_BINOP[type(node.op)](), node.value)
    elif isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in SWAP_COMPARE:
                ops = list(node.ops)
                ops[i] = SWAP_COMPARE[type(op)]()
                yield ast.Compare(node.left, ops, node.comparators)


def sign_flips(node: ast.AST) -> Iterator[ast.AST]:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield node.operand
    elif isinstance(node, ast.Return) and node.value is not None:
        # Negate what is returned when it is arithmetic (alone or as an element of a tuple).
        values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
        for i, value in enumerate(values):
            if isinstance(value, ast.BinOp):
                flipped = copy.copy(node.value) if isinstance(node.value, ast.Tuple) else None
                negated = ast.UnaryOp(ast.USub(), value)
                if flipped is None:
                    yield ast.Return(negated)
                else:
                    flipped.elts = values[:i] + [negated] + values[i + 1:]
                    yield ast.Return(flipped)


def off_by_ones(node: ast.AST) -> Iterator[ast.AST]:
    """Integer constants, slice bounds and `range` bounds, one step off."""
    if is_int(node):
        yield ast.Constant(node.value + 1)
    elif isinstance(node, ast.Slice):
        if node.lower is None:
            yield ast.Slice(ast.Constant(1), node.upper, node.step)
        elif not is_int(node.lower):
            yield ast.Slice(plus(node.lower, 1), node.upper, node.step)
        if node.upper is not None and not is_int(node.upper):
            yield ast.Slice(node.lower, plus(node.upper, -1), node.step)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        args = node.args
        if args and not is_int(args[-1] if len(args) < 3 else args[1]):
            stop = 0 if len(args) == 1 else 1
            yield ast.Call(node.func, args[:stop] + [plus(args[stop], -1)] + args[stop + 1:], node.keywords)
        if len(args) >= 2 and not is_int(args[0]):
            yield ast.Call(node.func, [plus(args[0], 1)] + args[1:], node.keywords)


def call_name(node: ast.Call) -> str | None:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def axis_keepdims(node: ast.AST) -> Iterator[ast.AST]:
    """A reduction over the wrong axis, over all axes, or with keepdims wrong."""
    if not isinstance(node, ast.Call):
        return
    words = {k.arg: k for k in node.keywords if k.arg}
    for word in ("axis", "dim", "keepdims", "keepdim"):
        if word in words:
            others = [k for k in node.keywords if k is not words[word]]
            value = words[word].value
            if word in AXIS_WORDS:
                yield ast.Call(node.func, node.args, others)          # the axis forgotten
                wrong = ast.Constant(1 if is_int(value) and value.value == 0 else 0)
                yield ast.Call(node.func, node.args, others + [ast.keyword(word, wrong)])
            elif isinstance(value, ast.Constant) and value.value is False:
                yield ast.Call(node.func, node.args, others + [ast.keyword(word, ast.Constant(True))])
            else:
                yield ast.Call(node.func, node.args, others)          # keepdims forgotten
    if words.keys() & AXIS_WORDS and not words.keys() & {"keepdims", "keepdim"} and call_name(node) in REDUCTIONS:
        yield ast.Call(node.func, node.args, node.keywords + [ast.keyword("keepdims", ast.Constant(True))])


def dropped_transposes(node: ast.AST) -> Iterator[ast.AST]:
    if isinstance(node, ast.Attribute) and node.attr in ("T", "mT") and isinstance(node.ctx, ast.Load):
        yield node.value
    elif isinstance(node, ast.Call) and call_name(node) in TRANSPOSES:
        if isinstance(node.func, ast.Attribute) and not (isinstance(node.func.value, ast.Name)
                                                         and node.func.value.id in ("np", "numpy")):
            yield node.func.value                      # x.transpose(...) -> x
        elif node.args:
            yield node.args[0]                         # np.transpose(x, ...) -> x


def changed_floats(node: ast.AST) -> Iterator[ast.AST]:
    if isinstance(node, ast.Constant) and type(node.value) is float:
        yield ast.Constant(node.value + 1.0)


def returned_inputs(node: ast.AST, function: ast.FunctionDef | None) -> Iterator[ast.AST]:
    """`return <expr>` -> `return <first argument>` (the student handed back what came in)."""
    if not (isinstance(node, ast.Return) and node.value is not None and function is not None):
        return
    names = [a.arg for a in function.args.posonlyargs + function.args.args]
    inputs = [n for n in names if n not in ("self", "cls")] or names[:1]
    if inputs and not (isinstance(node.value, ast.Name) and node.value.id == inputs[0]):
        yield ast.Return(ast.Name(inputs[0], ast.Load()))


def in_place_swaps(node: ast.AST) -> Iterator[ast.AST]:
    """`x += e` <-> `x = x + e`, `x[...] = e` -> `x = e` and `x.copy()` -> `x`: the aliasing bugs."""
    if isinstance(node, ast.Call) and call_name(node) == "copy" and isinstance(node.func, ast.Attribute):
        if not node.args and not node.keywords:
            yield node.func.value                      # x.copy() -> x
        elif len(node.args) == 1 and isinstance(node.func.value, ast.Name) and node.func.value.id in ("np", "numpy"):
            yield node.args[0]                         # np.copy(x) -> x
    elif isinstance(node, ast.AugAssign):
        yield ast.Assign([node.target], ast.BinOp(node.target, node.op, node.value))
    elif isinstance(node, ast.Assign) and len(node.targets) == 1:
        target, value = node.targets[0], node.value
        if isinstance(value, ast.BinOp) and ast.unparse(value.left) == ast.unparse(target):
            yield ast.AugAssign(target, value.op, value.right)
        if isinstance(target, ast.Subscript) and ast.unparse(target.slice) in ("...", ":"):
            yield ast.Assign([target.value], value)


def replacements(node: ast.AST, function: ast.FunctionDef | None) -> Iterator[ast.AST]:
    yield from swapped_operators(node)
    yield from sign_flips(node)
    yield from off_by_ones(node)
    yield from axis_keepdims(node)
    yield from dropped_transposes(node)
    yield from changed_floats(node)
    yield from returned_inputs(node, function)
    yield from in_place_swaps(node)


# --- planting a bug in the text of a cell ----------------------------------------------------

def enclosing_functions(tree: ast.AST) -> dict[ast.AST, ast.FunctionDef]:
    """Node -> innermost function around it (ast.walk is breadth first, so inner ones win)."""
    owner = {}
    for func in ast.walk(tree):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(func):
                owner[node] = func
    return owner


def inside_fstrings(tree: ast.AST) -> set[ast.AST]:
    """Nodes in f-strings: Python 3.11 gives them unreliable positions, and a bug there is cosmetic."""
    return {n for s in ast.walk(tree) if isinstance(s, ast.JoinedStr) for n in ast.walk(s)}


def one_line(text: str) -> str:
    return " ".join(text.split())


def replace_span(source: str, node: ast.AST, text: str) -> str:
    """`source` with the exact span of `node` replaced by `text` (ast columns count UTF-8 bytes)."""
    lines = source.splitlines(keepends=True)
    first = lines[node.lineno - 1].encode("utf-8")
    last = lines[node.end_lineno - 1].encode("utf-8")
    joined = (first[:node.col_offset] + text.encode("utf-8") + last[node.end_col_offset:]).decode("utf-8")
    return "".join(lines[:node.lineno - 1] + [joined] + lines[node.end_lineno:])


TINY = (ast.Constant, ast.Slice, ast.Tuple, ast.Name)


def is_tiny(node: ast.AST) -> bool:
    return isinstance(node, TINY) or (isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant))


def readable_contexts(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    """Tiny node -> the nearest ancestor worth showing: `2 -> 3` says less than `x ** 2 -> x ** 3`."""
    parent = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    context = {}
    for node in parent:
        up = node
        while is_tiny(up) and up in parent and hasattr(parent[up], "lineno"):
            up = parent[up]
        context[node] = up
    return context


def shown_change(source: str, shown: ast.AST, node: ast.AST, after: str) -> tuple[str, str]:
    """(before, after) text of `shown` with `node` replaced by `after`, each on one line."""
    if shown is node or shown.lineno != shown.end_lineno:
        return one_line(ast.get_source_segment(source, node) or ast.unparse(node)), one_line(after)
    line = source.splitlines()[shown.lineno - 1].encode("utf-8")
    before = line[shown.col_offset:shown.end_col_offset].decode("utf-8")
    changed = (line[shown.col_offset:node.col_offset] + after.encode("utf-8")
               + line[node.end_col_offset:shown.end_col_offset]).decode("utf-8")
    return one_line(before), one_line(changed)


def mutants_of_region(cell_index: int, source: str, tree: ast.AST, begin: int, end: int,
                      first_line: int) -> list[Mutant]:
    """Every mutant of the nodes between the marker lines `begin` and `end` (0-based offsets)."""
    owner, skip, context = enclosing_functions(tree), inside_fstrings(tree), readable_contexts(tree)
    found: dict[str, Mutant | None] = {ast.dump(tree): None}   # keyed by the mutated tree: no duplicates
    nodes = [n for n in ast.walk(tree) if hasattr(n, "lineno") and n not in skip
             and begin + 2 <= n.lineno and n.end_lineno <= end]
    for node in sorted(nodes, key=lambda n: (n.lineno, n.col_offset)):
        for new in replacements(node, owner.get(node)):
            after = ast.unparse(ast.fix_missing_locations(new))
            # Statements and slices stand alone; any other expression is parenthesised so the
            # surrounding operators keep their meaning.
            bare = isinstance(node, (ast.stmt, ast.Slice))
            mutated = replace_span(source, node, after if bare else f"({after})")
            try:
                key = ast.dump(ast.parse(mutated))
            except SyntaxError:
                continue
            if key not in found:
                before, shown = shown_change(source, context.get(node, node), node, after)
                found[key] = Mutant(cell_index, first_line + node.lineno - 1, before, shown, mutated)
    return [m for m in found.values() if m is not None]


def sample(mutants: list[Mutant], limit: int) -> list[Mutant]:
    """At most `limit` mutants, evenly spaced over the region (deterministic: same source, same set)."""
    if len(mutants) <= limit:
        return mutants
    return [mutants[i * len(mutants) // limit] for i in range(limit)]


def module_mutants(parsed: ParsedModule, per_region: int = PER_REGION) -> list[Mutant]:
    result = []
    for index, cell in enumerate(parsed.cells):
        if cell.kind != "solution":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue          # `tito check` reports it
        for begin, end in solution_regions(cell):
            region = mutants_of_region(index, cell.source, tree, begin, end, line_of(cell, 0))
            result += sample(region, per_region)
    return result


# --- running -----------------------------------------------------------------------------------

@dataclass
class Outcome:
    failed: list[str]          # grade ids of the test cells that failed
    note: str = ""             # the exception that stopped the run (a timeout), if any


def run_notebook(nb: dict, pkg: str, budget: float) -> Outcome:
    """Execute one notebook in a fresh kernel and its own folder (runs in a pool worker)."""
    notebook = nbformat.from_dict(nb)
    note = ""
    with tempfile.TemporaryDirectory(prefix="tito-mutant-") as run:
        try:
            execute(notebook, Path(run), pythonpath=Path(pkg), timeout=int(budget),
                    deadline=time.monotonic() + budget)
        except Exception as exc:  # a timeout or a dead kernel kills the mutant, whatever its kind
            note = f"{type(exc).__name__}"
    failed = [r.grade_id for r in graded_cell_results(notebook) if r.error]
    return Outcome(failed, note)


def reference_package(parsed: list[ParsedModule], below: int, root: Path) -> Path:
    """The exports of the modules before `below`, rendered from their current sources."""
    lib = root / LIB_NAME
    lib.mkdir(parents=True)
    for p in parsed:
        if p.module.number < below and p.exported_cells():
            nb = build_notebook(p.module, p.cells)
            write_module(lib, render(nb, p.module.name, f"source/{p.module.name}/{p.module.source.name}"))
    write_init(lib)
    return root


def notebook_with(parsed: ParsedModule, mutant: Mutant | None) -> dict:
    """The module's source notebook with the mutant planted, cut after its last test cell (what
    follows tests nothing, and plots and demos there only cost time)."""
    last_test = max((i for i, c in enumerate(parsed.cells) if c.kind == "test"), default=-1)
    cells = list(parsed.cells[:max(last_test, mutant.cell if mutant else -1) + 1])
    if mutant is not None:
        cells[mutant.cell] = replace(cells[mutant.cell], source=mutant.source)
    return build_notebook(parsed.module, cells)


def run_mutants(course: Course, name: str, jobs: int | None = None, per_region: int | None = None,
                timeout: float | None = None) -> int:
    """Print kill rates and survivors; 0 if at least KILL_TARGET of the mutants are killed, else 1."""
    parsed = parse_course(course)
    module = resolve_module([p.module for p in parsed], name)
    target = next(p for p in parsed if p.module == module)
    rel = f"source/{module.name}/{module.source.name}"
    mutants = module_mutants(target, per_region or PER_REGION)
    with tempfile.TemporaryDirectory(prefix="tito-mutants-") as tmp:
        pkg = str(reference_package(parsed, module.number, Path(tmp)))
        # Spawned workers: no kernel client state is inherited from this process.
        with ProcessPoolExecutor(jobs or os.cpu_count(), mp_context=multiprocessing.get_context("spawn")) as pool:
            start = time.monotonic()
            baseline = pool.submit(run_notebook, notebook_with(target, None), pkg, 600).result()
            if baseline.failed or baseline.note:
                raise CourseError(f"{rel}: the unmutated solution fails {baseline.failed or baseline.note}; "
                                  "fix it first (tito build shows why)")
            budget = timeout or max(MIN_TIMEOUT, 5 * (time.monotonic() - start))
            print(f"{module.name}: {len(mutants)} mutants, {jobs or os.cpu_count()} kernels at a time, "
                  f"{budget:.0f} s each at most")
            outcomes = []
            for outcome in pool.map(run_notebook, [notebook_with(target, m) for m in mutants],
                                    [pkg] * len(mutants), [budget] * len(mutants)):
                outcomes.append(outcome)
                if sys.stderr.isatty():   # a few minutes without a sign of life is too long
                    print(f"\r{len(outcomes)}/{len(mutants)} mutants run", end="", file=sys.stderr, flush=True)
            if sys.stderr.isatty():
                print(file=sys.stderr)
    return report(target, rel, mutants, outcomes)


def killed(outcome: Outcome) -> bool:
    return bool(outcome.failed or outcome.note)


def report(parsed: ParsedModule, rel: str, mutants: list[Mutant], outcomes: list[Outcome]) -> int:
    """Per test cell: how many of the mutants above it it kills; then overall; then survivors."""
    for index, cell in enumerate(parsed.cells):
        if cell.kind == "test":
            above = [o for m, o in zip(mutants, outcomes) if m.cell < index]
            hits = sum(cell.grade_id in o.failed for o in above)
            rate = f"{hits / len(above):.0%}" if above else "-"
            print(f"{rel}:{cell.line}: test {cell.grade_id}: kills {hits} of {len(above)} mutants above it ({rate})")
    total = sum(map(killed, outcomes))
    rate = total / len(mutants) if mutants else 1.0
    print(f"{parsed.module.name}: killed {total} of {len(mutants)} mutants ({rate:.1%}; "
          f"target {KILL_TARGET:.0%})")
    for m, o in zip(mutants, outcomes):
        if not killed(o):
            print(f"{rel}:{m.line}: {m}")
    return 0 if rate >= KILL_TARGET else 1
