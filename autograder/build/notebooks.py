"""Turning parsed lesson cells into an nbgrader source notebook (complete schema-v3 metadata).

Cell ids and grade ids are derived from the module name and cell position or the author's id, so
the same source always gives the same bytes.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.course.layout import Module
from autograder.course.lesson import Cell

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def nbgrader_metadata(module: Module, cell: Cell) -> dict:
    meta = {"schema_version": 3, "grade": False, "solution": False, "locked": True, "task": False,
            "grade_id": cell.grade_id or f"{module.name}-cell-{cell.index:03d}"}
    if cell.kind == "solution":
        meta.update(solution=True, locked=False)
    elif cell.kind == "test":
        meta.update(grade=True, points=cell.points)
    return meta


def cell_id(module: Module, cell: Cell) -> str:
    return str(cell.grade_id) if cell.grade_id else f"{module.name[:40]}-{cell.index:03d}"


# First cell of every notebook: the kernel starts in the notebook's folder, and that folder's
# tinytorch_lib (the student's own exports) must win over any other copy on PYTHONPATH.
SETUP_CELL = ("# Use the tinytorch_lib next to this notebook (your own exports) before any other copy.\n"
              "import os, sys\n"
              "sys.path.insert(0, os.getcwd())")


def setup_cell(module: Module) -> nbformat.NotebookNode:
    cell = new_code_cell(source=SETUP_CELL, id="tito-setup")
    cell.metadata = {"nbgrader": {"schema_version": 3, "grade": False, "solution": False, "locked": True,
                                  "task": False, "grade_id": f"{module.name}-setup"},
                     "editable": False, "deletable": False}
    return cell


def build_notebook(module: Module, cells: list[Cell]) -> nbformat.NotebookNode:
    nb_cells = [setup_cell(module)]
    for cell in cells:
        make = new_code_cell if cell.cell_type == "code" else new_markdown_cell
        nb_cell = make(source=cell.source, id=cell_id(module, cell))
        nb_cell.metadata = {"nbgrader": nbgrader_metadata(module, cell)}
        if cell.kind == "helper":   # the grader runs these in its own process too (docs/grading.md)
            nb_cell.metadata["tinytorch"] = {"role": "helper"}
        if cell.cell_type == "code":
            nb_cell.metadata["editable"] = cell.kind == "solution"
            nb_cell.metadata["deletable"] = cell.kind == "solution"
        nb_cells.append(nb_cell)
    nb = new_notebook(cells=nb_cells)
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"},
                   "tinytorch": {"module": module.name}}
    return nb


def dumps(nb: nbformat.NotebookNode) -> str:
    """Stable serialisation: sorted keys, one trailing newline."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write_if_changed(path: Path, text: str | bytes) -> bool:
    """Write only when the content differs, so an unchanged rebuild touches nothing."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True
