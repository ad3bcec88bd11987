"""What grading hands out: statuses, grades.csv, Gradescope's results.json, the terminal summary.

A student's status is an `ExecStatus` (how the notebook's run ended, autograder/sandbox/executor/report.py)
or a `GradeStatus` (what grading decided beyond the run).
"""
from __future__ import annotations

import csv
import enum
import functools
import json
from dataclasses import dataclass
from pathlib import Path

from autograder.course.layout import Module
from autograder.grading.intake import Student
from autograder.sandbox.executor.report import ExecStatus


class GradeStatus(str, enum.Enum):
    REVIEW = "review"                  # ran cleanly, but the code touches the grader's machinery: a human looks
    PIPELINE_ERROR = "pipeline_error"  # the grading pipeline failed for this student (not the student's fault)


Status = ExecStatus | GradeStatus


def parse_status(value: str) -> Status:
    """The status named `value` (as written in a worker's report or grades.csv)."""
    for kind in (ExecStatus, GradeStatus):
        try:
            return kind(value)
        except ValueError:
            pass
    raise ValueError(f"unknown grading status {value!r}")


@dataclass
class StudentResult:
    student: Student
    score: float
    max_score: float
    status: Status
    reason: str
    sandbox: str
    tests: list[dict]
    raw_score: float | None = None      # before the late penalty (None: same as score)
    penalty: float = 0.0
    timestamp: str = ""                 # when the student submitted (from the LMS export), if known
    duedate: str = ""


CSV_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
               "raw_score", "late_submission_penalty", "score", "max_score", "status", "reason", "sandbox"]

# Gradescope's results.json schema (the subset tito writes), checked before every write.
RESULTS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["score", "output", "tests"],
    "properties": {
        "score": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "score", "max_score", "status", "output", "visibility"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "score": {"type": "number", "minimum": 0},
                    "max_score": {"type": "number", "minimum": 0},
                    "status": {"enum": ["passed", "failed"]},
                    "output": {"type": "string"},
                    "visibility": {"enum": ["visible", "hidden", "after_due_date", "after_published"]},
                },
                "additionalProperties": False,
            },
        },
    },
}


@functools.cache
def results_validator():
    """Built once: `jsonschema.validate` checks the schema itself again on every call (30 ms each)."""
    import jsonschema

    validator = jsonschema.validators.validator_for(RESULTS_SCHEMA)
    validator.check_schema(RESULTS_SCHEMA)
    return validator(RESULTS_SCHEMA)


def validate_results(payload: dict) -> None:
    results_validator().validate(payload)


HIDDEN_VISIBILITY = "after_published"


def gradescope_tests(tests: list[dict], hidden_visibility: str = HIDDEN_VISIBILITY) -> list[dict]:
    """results.json's test entries: a test cell with hidden tests becomes two entries, its visible
    tests (shown at once, no points: the student already sees them in the notebook) and its hidden
    tests (the cell's points, shown as `hidden_visibility` says). Failure output of a hidden part is
    never shown with the visible entry."""
    entries = []
    for t in tests:
        base = {"name": t["name"], "score": t["score"], "max_score": t["max_score"], "status": t["status"],
                "output": t["output"], "visibility": "visible"}
        if not t.get("has_hidden"):
            entries.append(base)
            continue
        visible_failed = t["status"] == "failed" and t.get("failed_part") != "hidden"
        entries.append({**base, "name": f"{t['name']} (visible tests)", "score": 0.0, "max_score": 0.0,
                        "status": "failed" if visible_failed else "passed",
                        "output": t["output"] if visible_failed else ""})
        entries.append({**base, "name": f"{t['name']} (hidden tests)", "visibility": hidden_visibility,
                        "output": "not run: the visible tests above them failed" if visible_failed else t["output"]})
    return entries


def write_reports(out: Path, module: Module, results: list[StudentResult],
                  hidden_visibility: str = HIDDEN_VISIBILITY) -> Path:
    folder = out / "reports" / module.name
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "grades.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, CSV_COLUMNS)
        writer.writeheader()
        for r in results:
            writer.writerow({"assignment": module.name, "duedate": r.duedate, "timestamp": r.timestamp,
                             "student_id": r.student.id, "last_name": r.student.last_name,
                             "first_name": r.student.first_name, "email": r.student.email,
                             "raw_score": r.score if r.raw_score is None else r.raw_score,
                             "late_submission_penalty": r.penalty, "score": r.score,
                             "max_score": r.max_score, "status": r.status.value, "reason": r.reason,
                             "sandbox": r.sandbox})
    for r in results:
        output = r.reason or "graded"
        if r.penalty:
            output += f"; late penalty: -{r.penalty:g} point(s)"
        payload = {"score": r.score, "output": output, "tests": gradescope_tests(r.tests, hidden_visibility)}
        validate_results(payload)
        (folder / r.student.id).mkdir(exist_ok=True)
        (folder / r.student.id / "results.json").write_text(json.dumps(payload, indent=1) + "\n")
    return folder


def summary(results: list[StudentResult]) -> str:
    width = max([7, *(len(r.student.id) for r in results)])
    rows = [f"{'student':<{width}} {'score':>11}  {'status':<14} {'sandbox':<10} reason"]
    for r in results:
        rows.append(f"{r.student.id:<{width}} {r.score:>5g}/{r.max_score:<5g}  {r.status.value:<14} {r.sandbox:<10} "
                    f"{r.reason[:100]}")
    return "\n".join(rows)
