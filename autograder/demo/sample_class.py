"""Simulated student notebooks: a release notebook with some or all solution cells filled in.

Used by `tito demo` and by the tests: a 'student' is the release notebook a student received, with
the author's solution code typed into its editable cells (markers removed), plus optional sabotage.
"""
from __future__ import annotations

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
