"""`tito demo`: build the course, make a sample class, grade it, print the table.

The class shows every kind of student the grader must survive: complete, untouched stubs, partial,
an infinite loop, a crash, a tampered notebook, a malformed file and one that tries to hide its
failing tests from the grader.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from autograder.build.build import build, nbgrader_source_path
from autograder.course.layout import find_course, resolve_module
from autograder.grading.pipeline import GradeOptions, grade, summary
from autograder.sandbox.limits import Limits
from autograder.demo.sample_class import fill, solution_ids, graded_cell_ids

DEMO_MODULE = "02_activations"


# The attack of issue 7: hide every failing test's traceback. Test verdicts are not read from the
# student's kernel, so it scores what the untouched stubs score, and is flagged for review.
FREE_MARKS = "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\nip._showtraceback = lambda *a, **k: None"


def with_first_cell(nb: nbformat.NotebookNode, code: str) -> nbformat.NotebookNode:
    nb.cells.insert(1, nbformat.v4.new_code_cell(code))
    return nb


def sample_class(release: nbformat.NotebookNode, source: nbformat.NotebookNode) -> dict[str, str | nbformat.NotebookNode]:
    ids = solution_ids(release)
    first = ids[0]

    def tamper(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                cell.source = "pass  # tests? what tests"
                meta["points"] = 100
        return nb

    return {
        "ada_complete": fill(release, source),
        "ben_stubs": nbformat.from_dict(release),
        "cy_partial": fill(release, source, only=set(ids[: max(1, len(ids) // 2)])),
        "dee_infinite_loop": fill(release, source, edit=lambda g, c: "while True:\n    pass\n" + c if g == first else c),
        "eve_crash": fill(release, source, edit=lambda g, c: "import os\nos._exit(1)\n" + c if g == first else c),
        "fay_tampered": tamper(nbformat.from_dict(release)),
        "gus_malformed": '{"cells": [ this is not json',
        "hal_free_marks": with_first_cell(nbformat.from_dict(release), FREE_MARKS),
    }


def write_class(folder: Path, module: str, students: dict) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    for student, nb in students.items():
        (folder / student).mkdir(parents=True)
        text = nb if isinstance(nb, str) else nbformat.writes(nb)
        (folder / student / f"{module}.ipynb").write_text(text, encoding="utf-8")


def run_demo(out: Path, workers: int = 2) -> int:
    course = find_course()
    print("building the course (solutions are re-executed only when their sources changed)...")
    build(course)
    module = resolve_module(course.modules(), DEMO_MODULE)
    release = nbformat.read(course.release_dir / module.name / module.notebook_name, as_version=4)
    source = nbformat.read(nbgrader_source_path(course, module.name), as_version=4)
    print(f"sample class for {module.name}: {len(graded_cell_ids(release))} graded test cells")
    submissions = out / "submissions"
    write_class(submissions, module.name, sample_class(release, source))
    results, healthy = grade(course, module.name, GradeOptions(
        submissions=submissions, out=out / "grading", workers=workers,
        limits=Limits(cell_timeout=10, notebook_timeout=120)))
    print(summary(results))
    print(f"\ngradebook, grades.csv, feedback and results.json are in {out / 'grading'}")
    return 0 if healthy else 1
