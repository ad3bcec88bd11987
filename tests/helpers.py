"""Shared helpers of the test suite."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from autograder.course.layout import Course
from autograder.course.lesson import BEGIN_HIDDEN, BEGIN_SOLUTION, END_HIDDEN, END_SOLUTION, read_cells

REPO = Path(__file__).resolve().parents[1]
COURSE = Course(REPO)


def tito(*args: str, cwd: Path, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `tito` as a user would, in a subprocess."""
    run_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run_env["PYTHONPATH"] = str(REPO)   # the autograder package, wherever the test runs
    run_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, env=run_env,
                          capture_output=True, text=True, timeout=1200)
    if check and proc.returncode != 0:
        raise AssertionError(f"tito {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def region_lines(source: str, begin: str, end: str, inside_wanted: bool = True) -> list[str]:
    """Stripped lines inside (or, with inside_wanted=False, outside) the begin/end regions."""
    out, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside == inside_wanted:
            out.append(line.strip())
    return out


def forbidden_lines(course: Course = COURSE) -> dict[str, set[str]]:
    """Per module: solution and hidden-test lines that appear nowhere else in the lesson.

    Derived from the sources (not a grep for markers): if any of these reaches a student, a
    solution or a hidden test has leaked. Lines shorter than 20 characters, comments and bare
    no-argument method calls are left out: they carry no solution.
    """
    result, public = {}, set()
    for module in course.modules():
        cells = read_cells(module.source)
        secret = set()
        for cell in cells:
            hidden = region_lines(cell.source, BEGIN_SOLUTION, END_SOLUTION) + \
                region_lines(cell.source, BEGIN_HIDDEN, END_HIDDEN)
            secret |= set(hidden)
            outside = region_lines(cell.source, BEGIN_SOLUTION, END_SOLUTION, inside_wanted=False)
            public |= set(region_lines("\n".join(outside), BEGIN_HIDDEN, END_HIDDEN, inside_wanted=False))
        result[module.name] = secret
    # A line some lesson shows openly (in any module) is no secret anywhere; nor is a bare call of a
    # public method with no arguments (`optimizer.zero_grad()`), which is how the API is used anywhere.
    return {name: {l for l in secret - public if len(l) >= 20 and not l.startswith("#")
                   and not re.fullmatch(r"[A-Za-z_][\w.]*\.[a-z]\w*\(\)", l)}
            for name, secret in result.items()}


def copy_course(dst: Path, with_generated: bool = True) -> Course:
    """A copy of the course checkout (no git, no build/ folder) to build or grade in."""
    import shutil

    names = ["source", "nbgrader_config.py"] + (["release", "solutions", "tinytorch_lib"] if with_generated else [])
    for name in names:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dst / name)
    return Course(dst)
