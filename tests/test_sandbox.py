"""The sandboxed executor on its own: limits and the integrity of its result."""
import os
from pathlib import Path

import pytest

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


def test_grader_home_and_password_hashes_are_hidden(tmp_path):
    """What a submission can read it can print into its feedback: the grader's home is not there."""
    if resolve_mode("auto") != "bubblewrap":
        pytest.skip("bubblewrap cannot create namespaces on this machine (install Debian's bubblewrap as root)")
    secret = Path.home() / f".tito-test-secret-{os.getpid()}"
    secret.write_text("grader's secret")
    try:
        ex = run(tmp_path, f"for p in [{str(secret)!r}, '/etc/shadow']:\n"
                           f"    try:\n        print('READ', open(p).read())\n"
                           f"    except OSError as e:\n        print('DENIED', type(e).__name__)\n"
                           f"import numpy\nprint('python still works')")
    finally:
        secret.unlink()
    printed = ex.notebook.cells[0].outputs[0]["text"]
    assert printed.count("DENIED") == 2 and "grader's secret" not in printed
    assert "python still works" in printed
