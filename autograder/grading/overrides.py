"""Manual grades survive a regrade (nbgrader's semantics, kept through tito's clean-slate regrade).

A regrade removes the student's submission from the gradebook first, so a failed regrade can never
leave an old score looking current. What an instructor typed in formgrader (manual scores, extra
credit, comments) is captured before that and put back after the new autograde; a cell whose
autograded result changed under a manual score is flagged `needs_manual_grade` for review. The
capture is also written to `manual/<module>/<student>.json` in the grading folder, so a regrade that
fails in between loses nothing: the next one restores from the file.
"""
from __future__ import annotations

import json
from pathlib import Path


def overrides_file(root: Path, module: str, student: str) -> Path:
    return root / "manual" / module / f"{student}.json"


def capture(gradebook, module: str, student: str) -> dict | None:
    """Manual scores, extra credit and comments of the student's submission (None if it has none)."""
    from nbgrader.api import MissingEntry

    try:
        nb = gradebook.find_submission_notebook(module, module, student)
    except MissingEntry:
        return None
    grades = {g.name: {"manual_score": g.manual_score, "extra_credit": g.extra_credit, "auto_score": g.auto_score}
              for g in nb.grades if g.manual_score is not None or g.extra_credit}
    comments = {c.name: c.manual_comment for c in nb.comments if c.manual_comment}
    return {"grades": grades, "comments": comments} if grades or comments else None


def save(root: Path, module: str, student: str, captured: dict | None) -> dict | None:
    """Record the capture; with nothing captured, return what an earlier (failed) regrade recorded."""
    path = overrides_file(root, module, student)
    if captured is None:
        return json.loads(path.read_text()) if path.is_file() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(captured, indent=1, sort_keys=True) + "\n")
    return captured


def restore(gradebook, module: str, student: str, captured: dict | None) -> list[str]:
    """Put the manual grades back; the cells flagged for review (autograded result changed)."""
    if not captured:
        return []
    gradebook.db.expire_all()   # autograde wrote through its own session
    nb = gradebook.find_submission_notebook(module, module, student)
    grades = {g.name: g for g in nb.grades}
    comments = {c.name: c for c in nb.comments}
    review = []
    for name, old in captured["grades"].items():
        grade = grades.get(name)
        if grade is None:
            continue
        grade.manual_score, grade.extra_credit = old["manual_score"], old["extra_credit"]
        if old["auto_score"] != grade.auto_score and old["manual_score"] is not None:
            grade.needs_manual_grade = True
            review.append(name)
    for name, text in captured["comments"].items():
        if name in comments:
            comments[name].manual_comment = text
    gradebook.db.commit()
    return review


def set_aside(gradebook, root: Path, module: str, student: str) -> dict | None:
    """Before a regrade replaces the submission: capture (and record) its manual grades."""
    return save(root, module, student, capture(gradebook, module, student))


def put_back(gradebook, module: str, student: str, manual: dict | None, report: dict) -> None:
    """After the new autograde: restore what `set_aside` kept and note it in the student's report."""
    if manual:
        report["review_cells"] = restore(gradebook, module, student, manual)
        report["manual"] = len(manual["grades"]) + len(manual["comments"])
