"""`tito demo`: build the course, make a sample class, grade it, print the table.

The class shows every kind of student the grader must survive: complete, untouched stubs, partial,
an infinite loop, a crash, a tampered notebook, a malformed file and one that tries to hide its
failing tests from the grader.
"""
from __future__ import annotations

from pathlib import Path

import nbformat

from autograder.build.build import build, nbgrader_source_path
from autograder.course.layout import find_course, resolve_module
from autograder.grading.pipeline import GradeOptions, grade, summary
from autograder.sandbox.limits import Limits
from autograder.demo.sample_class import graded_cell_ids, sample_class, write_class

DEMO_MODULE = "02_activations"


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
