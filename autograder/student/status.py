"""`tito status [MODULE]`: is each module's export current, does the package import, and do the
module's tests pass against the *exported package* (the code later notebooks import)?

The tests run are the release notebook's (from `.tito/release/`), so a test cell the student deleted
or edited still counts. The notebook that runs is the release notebook with every `#| export` cell
replaced by an import of the student's exported module and every other answer cell taken from the
student's notebook: what passes here is what later notebooks and milestones will get.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.build.export import STUB_MARK, module_of_file, notebook_module_name, read_notebook, render
from autograder.build.kernel import execute, graded_cell_results
from autograder.course.constants import LIB_NAME
from autograder.course.layout import CourseError
from autograder.course.lesson import parse_directives
from autograder.student.modules import WorkspaceModule, release_copy, resolve, workspace_modules

CELL_TIMEOUT = 120

# Replaces the first `#| export` cell: the names of the student's exported module, as the notebook's
# own cells would have defined them (private helpers included, dunders excluded).
IMPORT_EXPORTED = ("import importlib as _tito_importlib\n"
                   "_tito_module = _tito_importlib.import_module({module!r})\n"
                   "globals().update({{k: v for k, v in vars(_tito_module).items() if not k.startswith('__')}})")


class ExportState(enum.Enum):
    CURRENT = "current"
    OUT_OF_DATE = "out of date"           # the notebook's exported cells changed since the last export
    UNFINISHED = "unfinished"             # exported, but some functions are still stubs
    NOT_EXPORTED = "not exported"
    NOT_COMPILING = "does not compile"    # an exported cell has a syntax error
    NO_NOTEBOOK = "notebook missing"
    NOTHING_TO_EXPORT = "nothing to export"


@dataclass
class TestReport:
    module: WorkspaceModule
    passed: int = 0
    total: int = 0
    first_failure: str | None = None
    deleted_tests: list[str] = field(default_factory=list)
    error: str | None = None              # the run itself failed (the package does not import, ...)

    @property
    def all_passed(self) -> bool:
        return self.error is None and self.total > 0 and self.passed == self.total


def export_state(workspace: Path, module: WorkspaceModule) -> tuple[ExportState, str]:
    """The module's export state, and a detail for the student (empty if none)."""
    nb_path = workspace / module.notebook_name
    if not nb_path.is_file():
        return ExportState.NO_NOTEBOOK, f"restore it with `tito student init {workspace}`"
    if not module.target:
        return ExportState.NOTHING_TO_EXPORT, ""
    from autograder.student.workspace import syntax_error_in_cells

    nb = read_notebook(nb_path)
    if problem := syntax_error_in_cells(nb, nb_path):
        return ExportState.NOT_COMPILING, problem
    path = workspace / LIB_NAME / f"{module.target}.py"
    if not path.is_file() or module_of_file(path) != module.name:
        return ExportState.NOT_EXPORTED, f"run `tito export {module.number:02d}`"
    text = path.read_text(encoding="utf-8")
    pristine = release_copy(workspace, module.name)
    if pristine.is_file() and text == render(read_notebook(pristine), module.name, nb_path.name).text:
        return ExportState.NOT_EXPORTED, f"run `tito export {module.number:02d}` when its tests pass"
    try:
        mine = render(nb, notebook_module_name(nb, nb_path), nb_path.name).text
    except CourseError as exc:
        return ExportState.NOT_COMPILING, str(exc)
    if mine != text:
        return ExportState.OUT_OF_DATE, f"the notebook changed since: run `tito export {module.number:02d}`"
    if stubs := text.count(STUB_MARK):
        return ExportState.UNFINISHED, f"{stubs} function(s) still raise NotImplementedError"
    return ExportState.CURRENT, ""


def package_view(student: nbformat.NotebookNode, release: nbformat.NotebookNode,
                 target: str | None) -> nbformat.NotebookNode:
    """The release notebook run against the exported package (see the module docstring)."""
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in student.cells
               if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    view = nbformat.from_dict(release)
    imported = False
    for cell in view.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        if "export" in parse_directives(cell.source) and target:
            cell.source = "" if imported else IMPORT_EXPORTED.format(module=f"{LIB_NAME}.{target}")
            imported = True
        elif meta.get("solution"):
            cell.source = answers.get(meta.get("grade_id"), cell.source)
        cell.outputs, cell.execution_count = [], None
    return view


def run_package_tests(workspace: Path, module: WorkspaceModule) -> TestReport:
    """Run the module's tests against the exported package in a fresh kernel in the workspace."""
    report = TestReport(module)
    nb_path = workspace / module.notebook_name
    if not nb_path.is_file():
        report.error = f"{module.notebook_name} is missing"
        return report
    student = read_notebook(nb_path)
    pristine = release_copy(workspace, module.name)
    release = read_notebook(pristine) if pristine.is_file() else student
    present = {c.metadata.get("nbgrader", {}).get("grade_id") for c in student.cells}
    report.deleted_tests = [t for t in module.tests if t not in present]
    ran = execute(package_view(student, release, module.target), workspace.resolve(), timeout=CELL_TIMEOUT)
    crash = ran.metadata.get("tinytorch", {}).get("execution_error")
    results = graded_cell_results(ran)
    report.total = len(results)
    report.passed = sum(r.error is None for r in results)
    failing = next((r for r in results if r.error), None)
    if failing:
        report.first_failure = f"{failing.grade_id}: {failing.error}"
    if crash and not failing:
        report.error = crash.strip().splitlines()[-1][:300] if crash.strip() else "the kernel failed"
    return report


def tests_line(report: TestReport) -> str:
    if report.error:
        return f"tests could not run: {report.error}"
    line = f"{report.passed}/{report.total} tests pass on the exported package"
    if report.first_failure:
        line += f"; first failure: {report.first_failure}"
    if report.deleted_tests:
        line += (f"; deleted from your notebook (still run here): {', '.join(report.deleted_tests)}")
    return line


def print_test_summary(report: TestReport) -> None:
    print(f"{report.module.name}: {tests_line(report)}")


def print_status(workspace: Path, module: str | None = None, run_tests: bool = True) -> int:
    """Print per module: export state, tests on the package. Exit 0 if everything shown passes."""
    from tqdm import tqdm

    from autograder.student.workspace import import_error

    modules = workspace_modules(workspace)
    if not modules:
        raise CourseError(f"{workspace}: no module notebooks (files named like 01_tensor.ipynb) here")
    chosen = [resolve(modules, module)] if module else modules
    problem = import_error(workspace / LIB_NAME) if (workspace / LIB_NAME / "__init__.py").is_file() else \
        f"no {LIB_NAME}/ here"
    rows, ok = [], problem is None
    for m in tqdm(chosen, desc="tito status", unit="module", disable=len(chosen) == 1, leave=False):
        state, detail = export_state(workspace, m)
        tests = "-"
        if run_tests and problem is None and state is not ExportState.NO_NOTEBOOK:
            report = run_package_tests(workspace, m)
            tests = tests_line(report)
            ok = ok and report.all_passed
        ok = ok and state is ExportState.CURRENT
        rows.append((m.name, state.value + (f" ({detail})" if detail else ""), tests))
    if problem:
        print(f"{LIB_NAME} does not import: {problem}\n  (the module named in the error needs fixing "
              f"and `tito export` again)")
    for name, state, tests in rows:
        print(f"{name:<18} export: {state}\n{'':<18} tests:  {tests}")
    return 0 if ok else 1
