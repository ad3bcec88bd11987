"""`tito build`: lesson sources -> nbgrader source notebooks -> release/, solutions/, tinytorch_lib/.

Each step writes a file only when its bytes change, and a solution notebook is re-executed only
when its module's source or an earlier module's source changed (its hash is stored in the
notebook), so rebuilding an unchanged course leaves `git status` clean.
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat

from autograder.check.rules import check, errors
from autograder.course.layout import LIB_NAME, Course, CourseError, Module
from autograder.course.lesson import ParsedModule, parse_course
from autograder.build.export import copy_modules, module_of_file, render, write_init, write_module
from autograder.build.kernel import execute, graded_cell_results
from autograder.grading.nbgrader_glue import checked, make_api
from autograder.build.notebooks import build_notebook, cell_id, dumps, write_if_changed

SOLUTION_CELL_TIMEOUT = 300


class BuildFailed(CourseError):
    pass


def source_hashes(notebooks: dict[str, nbformat.NotebookNode]) -> dict[str, str]:
    """Per module, a hash of its notebook and every earlier one (everything its run depends on)."""
    digest, hashes = hashlib.sha256(), {}
    for name, nb in notebooks.items():
        digest.update(dumps(nb).encode("utf-8"))
        hashes[name] = digest.copy().hexdigest()[:16]
    return hashes


def nbgrader_source_path(course: Course, module: str) -> Path:
    return course.nbgrader_root / "source" / module / f"{module}.ipynb"


def generate_release(course: Course, api, module: str) -> None:
    checked(api.generate_assignment(module, force=True, create=True), f"nbgrader generate_assignment {module}")
    produced = course.nbgrader_root / "release" / module
    for path in sorted(produced.rglob("*")):
        if path.is_file():
            if path.suffix != ".ipynb":
                raise BuildFailed(f"{path}: only notebooks may be released")
            write_if_changed(course.release_dir / module / path.name, path.read_bytes())


def failures(nb: nbformat.NotebookNode, where: dict[str, str]) -> list[str]:
    """`source/NN/NN.py:LINE: cell ...: error` for every cell that failed (stderr fails a test too)."""
    problems = []
    for cell in nb.cells:
        place = where.get(cell.get("id"), f"cell {cell.get('id')}")
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                problems.append(f"{place}: {out.get('ename')}: {out.get('evalue')}")
    by_grade_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c.get("id") for c in nb.cells}
    for r in graded_cell_results(nb):
        if r.error:
            problems.append(f"{where.get(by_grade_id.get(r.grade_id), r.grade_id)}: test {r.grade_id}: {r.error}")
    return list(dict.fromkeys(problems))


def cell_places(parsed: ParsedModule) -> dict[str, str]:
    """Notebook cell id -> `source/NN_name/NN_name.py:LINE`, for error messages."""
    rel = f"source/{parsed.module.name}/{parsed.module.source.name}"
    return {cell_id(parsed.module, c): f"{rel}:{c.line}" for c in parsed.cells}


def build_solution(course: Course, module: Module, nb: nbformat.NotebookNode, digest: str,
                   where: dict[str, str]) -> bool:
    """Execute the instructor notebook unless it is up to date; every cell must run cleanly."""
    path = course.solutions_dir / module.notebook_name
    if path.exists():
        old = nbformat.read(path, as_version=4)
        if old.metadata.get("tinytorch", {}).get("source_hash") == digest:
            return False
    with tempfile.TemporaryDirectory(prefix=f"tito-{module.name}-") as tmp:
        # Run against the reference modules *before* this one only, exactly as grading does.
        copy_modules(course.lib_dir, Path(tmp) / "pkg" / LIB_NAME, below=module.number)
        (Path(tmp) / "run").mkdir()
        executed = execute(nbformat.from_dict(nb), Path(tmp) / "run", pythonpath=Path(tmp) / "pkg",
                           timeout=SOLUTION_CELL_TIMEOUT)
    problems = failures(executed, where)
    if problems:
        raise BuildFailed(f"solution of {module.name} does not run cleanly:\n  " + "\n  ".join(problems))
    executed.metadata["tinytorch"] = {"module": module.name, "source_hash": digest}
    write_if_changed(path, dumps(executed))
    return True


def remove_stale(course: Course, modules: set[str]) -> None:
    """Generated files of modules that no longer have a source."""
    for d in course.release_dir.glob("*") if course.release_dir.exists() else []:
        if d.is_dir() and d.name not in modules:
            shutil.rmtree(d)
    for p in course.solutions_dir.glob("*.ipynb") if course.solutions_dir.exists() else []:
        if p.stem not in modules:
            p.unlink()
    for p in course.lib_dir.glob("*.py") if course.lib_dir.exists() else []:
        if (m := module_of_file(p)) and m not in modules:
            p.unlink()


def build(course: Course, names: list[str] | None = None, log: Callable[[str], None] = print) -> None:
    problems = errors(check(course))   # warnings do not stop a build
    if problems:
        raise BuildFailed("tito check found problems:\n" + "\n".join(map(str, problems)))
    parsed = parse_course(course)
    selected = {m.name for m in course.select(names)}
    api = make_api(course.config_file, course.nbgrader_root)
    course.lib_dir.mkdir(exist_ok=True)
    by_name = {p.module.name: p for p in parsed}
    notebooks = {p.module.name: build_notebook(p.module, p.cells) for p in parsed}
    hashes = source_hashes(notebooks)
    for name, nb in notebooks.items():   # cheap, and every later module needs the earlier ones
        if by_name[name].exported_cells():
            write_module(course.lib_dir, render(nb, name, f"source/{name}/{name}.py"))
    for name, nb in notebooks.items():
        if name not in selected:
            continue
        start = time.perf_counter()
        write_if_changed(nbgrader_source_path(course, name), dumps(nb))
        generate_release(course, api, name)
        ran = build_solution(course, by_name[name].module, nb, hashes[name], cell_places(by_name[name]))
        log(f"built {name} ({'executed' if ran else 'solution up to date'}, {time.perf_counter() - start:.1f} s)")
    if not names:
        remove_stale(course, {p.module.name for p in parsed})
    write_init(course.lib_dir)
