"""Detection, where prevention ends: student code that reaches for the grader's machinery.

The verdict of every test is decided outside the student's kernel (docs/grading.md), so these
patterns cannot change a score; they are flagged because a student who writes them is either
exploring or attacking, and a human should look. The scan reads only the code the student
controls (answer cells and cells they added).
"""
from __future__ import annotations

import re

import nbformat

PATTERNS = {
    "IPython's internals": r"\bget_ipython\b|\bIPython\b|\bipykernel\b|showtraceback|\brun_cell\b|\bdisplayhook\b",
    "the grading harness": r"_tito|tito-harness",
    "the import system": r"\bsys\.modules\b|\bimportlib\b|__import__",
    "built-ins": r"\bbuiltins\b|__builtins__",
    "raw memory or frames": r"\bctypes\b|\bgc\.get_|\bsys\._getframe\b|\bsys\.settrace\b|\bsys\.setprofile\b|\bf_locals\b|\bf_globals\b",
    "other processes": r"\bos\.kill\b|\bos\.getppid\b|/proc/|\bsignal\.signal\b",
    "library functions rebound": r"\b(np|numpy|math)\.(\w+\.)*\w+\s*=[^=]|setattr\(\s*(np|numpy|math)\b",
}


def review_flags(nb: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[str]:
    """What the student's own code touches that no solution of this course needs."""
    locked = {c.metadata.get("nbgrader", {}).get("grade_id") for c in release.cells
              if not c.metadata.get("nbgrader", {}).get("solution")}
    found = []
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code" or (gid in locked and gid is not None):
            continue
        for what, pattern in PATTERNS.items():
            if re.search(pattern, cell.source) and what not in found:
                found.append(what)
    return found
