"""Turning parsed lesson cells into an nbgrader source notebook (complete schema-v3 metadata).

Cell ids and grade ids are derived from the module name and cell position or the author's id, so
the same source always gives the same bytes.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.course.layout import MODULE_DIR, Module
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


# Under the title of every notebook (collapsed: plumbing, not lesson): the kernel starts in the
# notebook's folder, and that folder's tinytorch_lib (the student's own exports) must win over any
# other copy on PYTHONPATH.
SETUP_CELL = ("# Use the tinytorch_lib next to this notebook (your own exports) before any other copy.\n"
              "import os, sys\n"
              "sys.path.insert(0, os.getcwd())")


def setup_cell(module: Module) -> nbformat.NotebookNode:
    cell = new_code_cell(source=SETUP_CELL, id="tito-setup")
    cell.metadata = {"nbgrader": {"schema_version": 3, "grade": False, "solution": False, "locked": True,
                                  "task": False, "grade_id": f"{module.name}-setup"},
                     "editable": False, "deletable": False, "jupyter": {"source_hidden": True}}
    return cell


def confirm_passed(source: str, grade_id: str) -> str:
    """A test cell that says so when it passes (reached only if no assert above it failed)."""
    return f"{source.rstrip()}\nprint({f'passed: {grade_id}'!r})"


def what_next_cell(module: Module, next_module: str | None) -> nbformat.NotebookNode:
    """The last cell of every notebook: how the student's work reaches the package, and what then."""
    number = f"{module.number:02d}"
    then = (f"3. Go on with `{next_module}.ipynb`. If its kernel is already running, restart it "
            f"(Kernel > Restart Kernel): a running kernel keeps the package it imported before your export."
            if next_module else "3. This is the last module: run the milestones (`tito milestone --help`).")
    cell = new_markdown_cell(id="tito-what-next", source=(
        "## What next\n\n"
        f"1. When the tests above pass, open a terminal in this folder and run `tito export {number}`: it "
        "writes your `#| export` cells into `tinytorch_lib/`, which later notebooks import, and runs this "
        "notebook's tests against the exported code.\n"
        f"2. `tito status {number}` tells you whether the export is current and passing, and names the first "
        "failing test.\n" + then))
    cell.metadata = {"nbgrader": {"schema_version": 3, "grade": False, "solution": False, "locked": True,
                                  "task": False, "grade_id": f"{module.name}-what-next"},
                     "editable": False, "deletable": False}
    return cell


def next_module_name(module: Module) -> str | None:
    """The module after `module` in its course (from the folders beside its source), if any."""
    folders = module.source.parent.parent
    later = sorted(d.name for d in folders.iterdir() if MODULE_DIR.match(d.name) and d.name > module.name
                   and (d / f"{d.name}.py").is_file()) if folders.is_dir() else []
    return later[0] if later else None


def build_notebook(module: Module, cells: list[Cell]) -> nbformat.NotebookNode:
    nb_cells = []
    for cell in cells:
        make = new_code_cell if cell.cell_type == "code" else new_markdown_cell
        source = confirm_passed(cell.source, cell_id(module, cell)) if cell.kind == "test" else cell.source
        nb_cell = make(source=source, id=cell_id(module, cell))
        nb_cell.metadata = {"nbgrader": nbgrader_metadata(module, cell)}
        if cell.kind == "helper":   # the grader runs these in its own process too (docs/grading.md)
            nb_cell.metadata["tinytorch"] = {"role": "helper"}
        if cell.cell_type == "code":
            nb_cell.metadata["editable"] = cell.kind == "solution"
            nb_cell.metadata["deletable"] = cell.kind == "solution"
        nb_cells.append(nb_cell)
    title = 1 if cells and cells[0].cell_type == "markdown" else 0
    nb_cells.insert(title, setup_cell(module))
    nb_cells.append(what_next_cell(module, next_module_name(module)))
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
