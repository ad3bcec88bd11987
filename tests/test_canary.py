"""A broken grader never grades a class (issue 7): the canary, and interpreters the sandbox must see.

Before the first student, `tito grade` grades the module's own reference solution in the same
sandbox with the same limits. If that does not score full marks, it exits 3 with one line naming
the cause and writes nothing to the gradebook.
"""
import csv
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.grading.pipeline import GradeOptions, GraderBroken, grade
from autograder.sandbox.limits import Limits
from autograder.sandbox.launcher import bubblewrap_works
from helpers import COURSE, REPO, copy_course, tito

MODULE = "02_activations"
LIMITS = ["--cell-timeout", "30", "--workers", "1"]

needs_bubblewrap = pytest.mark.skipif(not bubblewrap_works(), reason="bubblewrap cannot create namespaces on "
                                      "this machine (install Debian's bubblewrap as root)")


def one_student(folder: Path, nb_path: Path, sid: str = "ann") -> Path:
    (folder / sid).mkdir(parents=True)
    shutil.copy(nb_path, folder / sid / f"{MODULE}.ipynb")
    return folder


def broken_bwrap(folder: Path) -> dict:
    """A `bwrap` first on PATH that passes the availability probe but cannot start the executor,
    like a sandbox that hides the interpreter."""
    folder.mkdir()
    script = folder / "bwrap"
    script.write_text('#!/bin/sh\nfor last; do :; done\nif [ "$last" = true ]; then exec /usr/bin/bwrap "$@"; fi\n'
                      f'echo "bwrap: execvp {sys.executable}: No such file or directory" >&2\nexit 1\n')
    script.chmod(0o755)
    return {"PATH": f"{folder}:/usr/bin:/bin"}


@needs_bubblewrap
def test_broken_sandbox_stops_grading_before_any_student(tmp_path):
    subs = one_student(tmp_path / "subs", REPO / "solutions" / f"{MODULE}.ipynb")
    proc = tito("grade", MODULE, "--submissions", str(subs), "--out", str(tmp_path / "g"), *LIMITS,
                cwd=REPO, check=False, env=broken_bwrap(tmp_path / "fakebin"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.startswith("tito grade:")]
    assert len(lines) == 1 and "reference solution" in lines[0] and sys.executable in lines[0], proc.stderr
    assert not (tmp_path / "g" / "gradebook.db").exists(), "the gradebook must stay untouched"


@needs_bubblewrap
def test_broken_sandbox_stops_the_demo(tmp_path):
    proc = tito("demo", "--out", str(tmp_path / "demo"), "--workers", "2", cwd=REPO, check=False,
                env=broken_bwrap(tmp_path / "fakebin"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert any(l.startswith("tito demo:") and "execvp" in l for l in proc.stderr.splitlines()), proc.stderr
    assert not (tmp_path / "demo" / "grading" / "gradebook.db").exists()


def test_broken_reference_package_names_the_failing_test(tmp_path):
    course = copy_course(tmp_path / "course")
    tensor = course.lib_dir / "tensor.py"
    tensor.write_text(tensor.read_text() + "\nraise ImportError('reference package damaged')\n")
    subs = one_student(tmp_path / "subs", REPO / "solutions" / f"{MODULE}.ipynb")
    with pytest.raises(GraderBroken, match=r"scored \d+/\d+ .* test cell test-\S+ failed"):
        grade(course, MODULE, GradeOptions(subs, tmp_path / "out", workers=1, limits=Limits(cell_timeout=30),
                                           progress=False))
    assert not (tmp_path / "out" / "gradebook.db").exists()


@needs_bubblewrap
def test_python_under_tmp_without_its_bin_on_path_grades_correctly(tmp_path):
    """A venv made under /tmp (masked by the sandbox's empty /tmp) and not activated."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subs = one_student(tmp_path / "subs", REPO / "solutions" / f"{MODULE}.ipynb")
    shutil.copytree(subs / "ann", subs / "bob")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([str(python), "-m", "autograder", "grade", MODULE, "--submissions", str(subs),
                           "--out", str(tmp_path / "g"), *LIMITS], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = list(csv.DictReader((tmp_path / "g" / "reports" / MODULE / "grades.csv").open()))
    release = nbformat.read(REPO / "release" / MODULE / f"{MODULE}.ipynb", as_version=4)
    maximum = sum(c.metadata["nbgrader"]["points"] for c in release.cells if c.metadata["nbgrader"].get("grade"))
    assert [float(r["score"]) for r in rows] == [maximum, maximum]
    assert {r["sandbox"] for r in rows} == {"bubblewrap"}
