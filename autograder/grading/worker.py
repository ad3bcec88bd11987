"""One grading worker: autogrades and writes feedback for its share of the students.

Started by `tito grade` as a subprocess (`python -m autograder.grading.worker job.json`, pool.py), so
a fault in one worker never takes down the command, and workers share nbgrader's gradebook. The job
holds what the worker needs (settings, intake's rejection reasons); the students arrive on stdin, one
id per line, as the pool hands them out; each student's result goes back as one JSON line on stdout
(which also drives the progress bar). nbgrader's own log goes to stderr.
"""
from __future__ import annotations

import importlib
import itertools
import json
import shutil
import sys
import time
from pathlib import Path

from autograder.grading import overrides
from autograder.grading.gradebook import exclusive
from autograder.grading.late import parse_late_policy
from autograder.grading.nbgrader_glue import make_api, quiet_nbgrader
from autograder.grading.reports import GradeStatus
from autograder.sandbox.executor.report import ExecReport


def autograde_preprocessors():
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import AssignLatePenalties, IgnorePattern, LimitOutput, SaveAutoGrades

    from autograder.grading.preprocessor import SandboxedExecute

    # nbgrader's default list ends with CheckCellMetadata, a second JSON-schema validation of every
    # cell (its sanitising step validates them before execution; nothing after it changes nbgrader's
    # metadata): it cost a tenth of a worker's CPU per notebook, so it is left out.
    return [SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
            AssignLatePenalties]


def sanitize_preprocessors():
    """nbgrader's sanitising pass as it ships, its metadata check with the schema compiled once."""
    from nbgrader.converters import Autograde

    from autograder.grading.preprocessor import with_compiled_metadata_check

    return with_compiled_metadata_check(Autograde, "sanitize_preprocessors")


def failure(job: dict, reason: str) -> dict:
    return {"status": GradeStatus.PIPELINE_ERROR.value, "reason": reason[:500], "sandbox": job["mode"]}


def grade_one(api, gradebook, job: dict, student: str, executions: dict[str, ExecReport], feedback=None) -> dict:
    from nbgrader.api import MissingEntry

    module, root = job["module"], Path(job["root"])
    # A regrade starts from nothing, so a failure can never leave an old score looking current;
    # manual grades are kept aside first and put back after (overrides.py).
    manual = overrides.set_aside(gradebook, root, module, student)
    try:
        gradebook.remove_submission(module, student)
    except MissingEntry:
        pass
    for step in ("autograded", "feedback"):
        shutil.rmtree(root / step / student / module, ignore_errors=True)
    executions.pop(student, None)
    started = time.perf_counter()
    with exclusive(job["db_url"], shared=True):
        result = api.autograde(module, student, force=True, create=True)
    graded = time.perf_counter()
    if not result.get("success"):
        tail = ((result.get("error") or "") + (result.get("log") or "")).strip().splitlines()[-3:]
        return failure(job, "nbgrader autograde failed: " + " | ".join(tail))
    if student not in executions:
        return failure(job, "the notebook was not executed (SandboxedExecute did not report)")
    report = {**executions[student].to_json(), "sandbox": job["mode"]}
    overrides.put_back(gradebook, module, student, manual, report)
    feedback = feedback.write(module, student) if feedback else api.generate_feedback(module, student, force=True)
    report["seconds"] = {"autograde": round(graded - started, 2), "feedback": round(time.perf_counter() - graded, 2)}
    if not feedback.get("success"):
        report["reason"] = (report["reason"] + "; " if report["reason"] else "") + "feedback not generated"
    return report


def worker_api(job: dict, executions: dict[str, ExecReport]):
    """nbgrader's API for the job's grading folder, autograding with SandboxedExecute; each
    execution's report lands in `executions` by student."""
    def on_report(student: str, report: ExecReport) -> None:
        executions[student] = report

    return make_api(Path(job["config_file"]), Path(job["root"]), **{
        "Autograde.autograde_preprocessors": autograde_preprocessors(),
        "Autograde.sanitize_preprocessors": sanitize_preprocessors(),
        # nbconvert validates the whole notebook after every preprocessor; once at the end of each
        # pass is enough to refuse a broken notebook (a tenth of the bookkeeping's CPU)
        "Exporter.optimistic_validation": True,
        "CourseDirectory.db_url": job["db_url"],
        **{f"SandboxedExecute.{k}": v for k, v in job["settings"].items()},
        "SandboxedExecute.rejected": job["rejected"],
        "SandboxedExecute.on_report": on_report,
        **parse_late_policy(job.get("late_policy", "none")).nbgrader_config(),
    })


class Session:
    """nbgrader's API, the feedback writer and the executions' reports for one grading folder and
    one set of settings: built once, used for student after student (building them costs more than
    a small notebook's autograde bookkeeping)."""

    def __init__(self, job: dict):
        from autograder.grading.feedback import FeedbackWriter

        self.executions: dict[str, ExecReport] = {}
        self.api = worker_api(job, self.executions)
        self.feedback = FeedbackWriter(self.api)

    def reject(self, rejected: dict[str, str]) -> None:
        """Intake's reasons for this batch (read by SandboxedExecute when autograde starts)."""
        self.api.config.SandboxedExecute.rejected = rejected


def grade_students(job: dict, gradebook, session: Session | None = None, students=None):
    """(student, report) for each of `students` (default: the job's), in order; one student's
    failure never stops the others."""
    session = session or Session(job)
    session.reject(job["rejected"])
    for student in job["students"] if students is None else students:
        try:
            report = grade_one(session.api, gradebook, job, student, session.executions, session.feedback)
        except Exception as exc:
            report = failure(job, f"{type(exc).__name__}: {exc}")
        yield student, report


PRELOADED = ("nbconvert.exporters.html", "nbgrader.converters", "nbgrader.api", "autograder.grading.feedback",
             "autograder.grading.preprocessor")


def preload() -> None:
    """Import what grading needs while waiting for the first student (the pool starts workers early)."""
    for name in PRELOADED:
        importlib.import_module(name)


def students_on_stdin():
    for line in sys.stdin:
        if line.strip():
            yield line.strip()


def main(job_file: str) -> int:
    job = json.loads(Path(job_file).read_text())
    with quiet_nbgrader():
        preload()
    students = students_on_stdin()
    first = next(students, None)
    if first is None:       # cancelled before any student: nothing opened, nothing written
        return 0
    from autograder.grading.gradebook import open_gradebook

    with quiet_nbgrader(), open_gradebook(job["db_url"]) as gradebook:
        for student, report in grade_students(job, gradebook, students=itertools.chain([first], students)):
            print(json.dumps({"student": student, **report}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
