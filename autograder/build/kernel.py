"""Running a notebook in a fresh kernel (build, status, tests). Grading uses the sandbox (autograder/sandbox/)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

from autograder.course.constants import KERNEL_ARGS



def kernel_env(pythonpath: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "PYTHONPATH")}
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    return env


def execute(nb: nbformat.NotebookNode, cwd: Path, pythonpath: Path | None = None,
            timeout: int = 120, deadline: float | None = None) -> nbformat.NotebookNode:
    """Execute every cell (errors are recorded as outputs, execution goes on).

    `timeout` bounds each cell; `deadline` (a `time.monotonic()` value) bounds the whole notebook:
    a cell running past either raises nbclient's CellTimeoutError.
    """
    def time_left(cell) -> int:
        return max(1, min(timeout, int(deadline - time.monotonic())))

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            timeout_func=time_left if deadline is not None else None,
                            extra_arguments=KERNEL_ARGS, resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute(env=kernel_env(pythonpath), cwd=str(cwd))
    except (CellExecutionError, DeadKernelError) as exc:
        nb.metadata.setdefault("tinytorch", {})["execution_error"] = str(exc)[:2000]
    return nb


@dataclass
class CellResult:
    grade_id: str
    points: float
    error: str | None     # None when the cell ran cleanly


def graded_cell_results(nb: nbformat.NotebookNode) -> list[CellResult]:
    """One result per graded (test) cell: its error text, or None if it passed.

    Like nbgrader, any stderr output counts as a failure.
    """
    results = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade"):
            continue
        error = None
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                error = f"{out.get('ename')}: {out.get('evalue')}"
            elif out.get("output_type") == "stream" and out.get("name") == "stderr" and error is None:
                error = "wrote to stderr: " + "".join(out.get("text", ""))[:300]
        if not cell.get("outputs") and cell.get("execution_count") is None:
            error = error or "not executed"
        results.append(CellResult(meta.get("grade_id", "?"), float(meta.get("points", 0)), error))
    return results
