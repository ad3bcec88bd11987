"""Demo and test support: simulated students, never part of grading itself.

A simulated 'student' is the release notebook a student received, with the author's solution code
typed into its editable cells (markers removed), plus optional sabotage; `sample_class` is the class
`tito demo` grades, with every kind of student the grader must survive.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from autograder.course.lesson import notebook_cells, without_solution_markers


def solution_code(source_nb: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> the solution cell's code as a student would type it (no markers)."""
    return {c.grade_id: without_solution_markers(c.source) for c in notebook_cells(source_nb)
            if c.kind == "solution"}


def fill(release_nb: nbformat.NotebookNode, source_nb: nbformat.NotebookNode,
         only: set[str] | None = None, edit=None) -> nbformat.NotebookNode:
    """Fill the solution cells (all, or those whose grade_id is in `only`); `edit(grade_id, code)`
    may change what the 'student' types."""
    nb = nbformat.from_dict(release_nb)
    answers = solution_code(source_nb)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers and (only is None or gid in only):
            cell.source = answers[gid]
            if edit:
                cell.source = edit(gid, cell.source)
    return nb


def solution_ids(nb: nbformat.NotebookNode) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"]


def graded_cell_ids(nb: nbformat.NotebookNode) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


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
