"""The small class the grading-at-scale tests grade (issue 15): known answers, a deadline, one late
student, one malformed notebook, so that every column of grades.csv carries something."""
from __future__ import annotations

import csv
from pathlib import Path

import nbformat

from autograder.demo.sample_class import fill, solution_ids
from autograder.grading.pipeline import GradeOptions, grade
from autograder.sandbox.limits import Limits
from helpers import COURSE, REPO
from test_student import source_nb

MODULE = "01_tensor"
RELEASE = nbformat.read(REPO / "release" / MODULE / f"{MODULE}.ipynb", as_version=4)
MAX = sum(c.metadata["nbgrader"]["points"] for c in RELEASE.cells if c.metadata["nbgrader"].get("grade"))
DUE = "2026-12-01 12:00:00 UTC"
LATE_POLICY = "per-hour:1"


def write_class(subs: Path) -> dict[str, float]:
    """Writes the class; each student's expected score."""
    full = fill(RELEASE, source_nb(MODULE))
    half = fill(RELEASE, source_nb(MODULE), only=set(solution_ids(RELEASE)[:5]))
    notebooks = {"ada": (full, "2026-12-01 11:00:00.000000 UTC"), "bo": (full, "2026-12-01 14:10:00.000000 UTC"),
                 "cyd": (half, None), "dov": (RELEASE, None), "eli": ("{not a notebook", None)}
    for student, (nb, stamp) in notebooks.items():
        (subs / student).mkdir(parents=True, exist_ok=True)
        text = nb if isinstance(nb, str) else nbformat.writes(nb)
        (subs / student / f"{MODULE}.ipynb").write_text(text, encoding="utf-8")
        if stamp:
            (subs / student / "timestamp.txt").write_text(stamp)
    return {"ada": MAX, "bo": MAX - 3, "cyd": None, "dov": 0.0, "eli": 0.0}


def grade_class(subs: Path, out: Path, **options) -> dict:
    results, healthy = grade(COURSE, MODULE, GradeOptions(subs, out, workers=2, progress=False, due=DUE,
                                                          late_policy=LATE_POLICY, limits=Limits(cell_timeout=60),
                                                          **options))
    assert healthy, [(r.student.id, r.status, r.reason) for r in results]
    return {r.student.id: r for r in results}


def grade_args(subs: Path, out: Path) -> list[str]:
    """The same grading as `grade_class`, as `tito grade` arguments."""
    return ["grade", MODULE, "--submissions", str(subs), "--out", str(out), "--due", DUE,
            "--late-policy", LATE_POLICY, "--cell-timeout", "60"]


def csv_rows(out: Path) -> dict[str, dict]:
    with (out / "reports" / MODULE / "grades.csv").open() as f:
        return {r["student_id"]: r for r in csv.DictReader(f)}


def csv_bytes(out: Path) -> bytes:
    return (out / "reports" / MODULE / "grades.csv").read_bytes()
