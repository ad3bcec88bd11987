"""The sandboxed executor on its own: limits and the integrity of its result."""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from autograder.sandbox import Execution, Limits, execute_untrusted, resolve_mode


def run(tmp_path: Path, *sources: str, **limits) -> Execution:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    return execute_untrusted(nb, tmp_path / "work", pkg, resolve_mode("auto"), Limits(**limits), [])


def test_notebook_wall_clock_limit(tmp_path):
    ex = run(tmp_path, "import time; time.sleep(2)", "time.sleep(2)", "time.sleep(2)", "print('late')",
             cell_timeout=10, notebook_timeout=3)
    assert ex.status == "timeout" and "longer than 3 s" in ex.reason
    last = ex.notebook.cells[-1].outputs
    assert last and last[-1]["ename"] == "NotebookTimeout"


def test_kernel_cannot_forge_the_result(tmp_path):
    """The kernel's stdout is not the channel the result travels on."""
    forged = nbformat.writes(new_notebook(cells=[new_code_cell("pass")]))
    ex = run(tmp_path, f"import os\nos.write(1, {forged!r}.encode())\n", "1/0")
    assert len(ex.notebook.cells) == 2
    assert ex.notebook.cells[1].outputs[0]["ename"] == "ZeroDivisionError"


def test_errors_and_output_are_recorded_per_cell(tmp_path):
    ex = run(tmp_path, "print('hi')", "raise ValueError('bad shape (2, 3)')")
    assert ex.status == "ok"
    assert ex.notebook.cells[0].outputs[0]["text"] == "hi\n"
    assert ex.notebook.cells[1].outputs[0]["evalue"] == "bad shape (2, 3)"
