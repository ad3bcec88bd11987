"""One grading worker: autogrades and writes feedback for its share of the students.

Started by `tito grade` as a subprocess (`python -m autograder.grading.worker job.json`), so a fault
in one worker never takes down the command, and workers share nbgrader's gradebook through SQLite.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
import warnings
from pathlib import Path

from autograder.grading.nbgrader_glue import make_api


def autograde_preprocessors():
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern,
                                        LimitOutput, SaveAutoGrades)

    from autograder.grading.preprocessor import SandboxedExecute

    return [SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
            AssignLatePenalties, CheckCellMetadata]


def grade_one(api, gradebook, job: dict, student: str) -> dict:
    from nbgrader.api import MissingEntry

    module, root, status_dir = job["module"], Path(job["root"]), Path(job["status_dir"])
    # A regrade starts from nothing, so a failure can never leave an old score looking current.
    try:
        gradebook.remove_submission(module, student)
    except MissingEntry:
        pass
    for step in ("autograded", "feedback"):
        shutil.rmtree(root / step / student / module, ignore_errors=True)
    (status_dir / f"{student}.exec.json").unlink(missing_ok=True)
    started = time.perf_counter()
    result = api.autograde(module, student, force=True, create=True)
    graded = time.perf_counter()
    if not result.get("success"):
        tail = ((result.get("error") or "") + (result.get("log") or "")).strip().splitlines()[-3:]
        return {"status": "pipeline_error", "reason": "nbgrader autograde failed: " + " | ".join(tail)[:500],
                "sandbox": job["mode"]}
    report = json.loads((status_dir / f"{student}.exec.json").read_text())
    feedback = api.generate_feedback(module, student, force=True)
    report["seconds"] = {"autograde": round(graded - started, 2), "feedback": round(time.perf_counter() - graded, 2)}
    if not feedback.get("success"):
        report["reason"] = (report["reason"] + "; " if report["reason"] else "") + "feedback not generated"
    return report


def main(job_file: str) -> int:
    warnings.filterwarnings("ignore")
    job = json.loads(Path(job_file).read_text())
    settings = job["settings"]
    api = make_api(Path(job["config_file"]), Path(job["root"]), **{
        "Autograde.autograde_preprocessors": autograde_preprocessors(),
        "CourseDirectory.db_url": job["db_url"],
        **{f"SandboxedExecute.{k}": v for k, v in settings.items()},
    })
    from nbgrader.api import Gradebook

    status_dir = Path(job["status_dir"])
    with Gradebook(job["db_url"], course_id="tinytorch") as gradebook:
        for student in job["students"]:
            try:
                report = grade_one(api, gradebook, job, student)
            except Exception as exc:   # one student's failure must not stop the others
                report = {"status": "pipeline_error", "reason": f"{type(exc).__name__}: {exc}"[:500],
                          "sandbox": job["mode"]}
            (status_dir / f"{student}.json").write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
