"""The instructor's workflow around `tito grade` (issue 14): manual grades from formgrader survive a
regrade and appear in rebuilt reports, due dates and late penalties, one student regraded alone,
failure messages that name the test's line."""
import csv
import json

import nbformat
import pytest

from autograder.demo.sample_class import fill, graded_cell_ids, solution_ids
from autograder.grading.pipeline import GradeOptions, grade
from autograder.sandbox.limits import Limits
from helpers import COURSE, REPO, tito
from test_student import source_nb

MODULE = "01_tensor"
RELEASE = nbformat.read(REPO / "release" / MODULE / f"{MODULE}.ipynb", as_version=4)
POINTS = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
          for c in RELEASE.cells if c.metadata["nbgrader"].get("grade")}
MAX = sum(POINTS.values())
DUE = "2026-12-01 12:00:00 UTC"


def submit(folder, student, nb, timestamp=None):
    (folder / student).mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / student / f"{MODULE}.ipynb")
    if timestamp:
        (folder / student / "timestamp.txt").write_text(timestamp)


def rows(out):
    with (out / "reports" / MODULE / "grades.csv").open() as f:
        return {r["student_id"]: r for r in csv.DictReader(f)}


def run(subs, out, **kw):
    results, healthy = grade(COURSE, MODULE, GradeOptions(subs, out, workers=2, progress=False,
                                                          limits=Limits(cell_timeout=60), **kw))
    assert healthy
    return {r.student.id: r for r in results}


def set_manual(out, student, cell, score=None, comment=None):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", course_id="tinytorch") as gb:
        nb = gb.find_submission_notebook(MODULE, MODULE, student)
        if score is not None:
            next(g for g in nb.grades if g.name == cell).manual_score = score
        if comment is not None:
            next(c for c in nb.comments if c.name == cell).manual_comment = comment
        gb.db.commit()


def grade_row(out, student, cell):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", course_id="tinytorch") as gb:
        g = next(g for g in gb.find_submission_notebook(MODULE, MODULE, student).grades if g.name == cell)
        return g.auto_score, g.manual_score, g.needs_manual_grade


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A class of three, due at noon: `late` submits 2 h 10 min late, `ontime` before, `blank` hands
    in the release notebook."""
    root = tmp_path_factory.mktemp("class")
    subs, out = root / "subs", root / "out"
    full = fill(RELEASE, source_nb(MODULE))
    submit(subs, "late", full, "2026-12-01 14:10:00.000000 UTC")
    submit(subs, "ontime", full, "2026-12-01 11:00:00.000000 UTC")
    submit(subs, "blank", RELEASE, "2026-12-01 10:00:00.000000 UTC")
    results = run(subs, out, due=DUE, late_policy="per-hour:1")
    return subs, out, results


def test_late_submissions_lose_the_configured_points(graded):
    _, out, results = graded
    table = rows(out)
    assert results["late"].raw_score == MAX and results["late"].penalty == 3   # 3 started hours late
    assert float(table["late"]["late_submission_penalty"]) == 3 and float(table["late"]["score"]) == MAX - 3
    assert float(table["ontime"]["score"]) == MAX and float(table["ontime"]["late_submission_penalty"]) == 0
    assert table["late"]["duedate"].startswith("2026-12-01 12:00") and table["late"]["timestamp"].startswith("2026-12-01 14:10")
    payload = json.loads((out / "reports" / MODULE / "late" / "results.json").read_text())
    assert payload["score"] == MAX - 3


def test_class_report_numbers_for_a_class_with_known_answers(graded):
    _, out, _ = graded
    proc = tito("report", MODULE, "--out", str(out), "--html", "--no-feedback", cwd=REPO)
    assert "similar answers: late and ontime (100%)" in proc.stdout, proc.stdout
    page = (out / "reports" / MODULE / "class_report.html").read_text()
    for cell in POINTS:                                   # two of three students pass every test cell
        assert f"<td>{cell}</td><td>67%</td>" in page
    assert page.count("<td>blank</td>") == 1 and "data:image/png;base64," in page
    assert "<td>late</td><td>ontime</td><td>100%</td>" in page
    assert "blank</td><td>ontime" not in page and "blank</td><td>late" not in page   # the untouched stub is no copy
    slowest = page.split("<h2>Slowest cells</h2>")[1].split("<h2>")[0]
    assert slowest.count("<tr>") > 3                        # cells were timed


def test_similarity_flags_copies_not_independent_work():
    from autograder.grading.class_report import similar_pairs

    mine = ("def norm(v):\n    total = 0.0\n    for x in v:\n        total += x * x\n    return total ** 0.5\n\n"
            "def mean(v):\n    return sum(v) / len(v)\n\ndef clip(v, lo, hi):\n"
            "    return [min(max(x, lo), hi) for x in v]\n")
    renamed = mine.replace("total", "acc").replace("v)", "values)").replace("in v", "in values")
    other = ("import numpy as np\n\ndef norm(a):\n    return float(np.sqrt(np.dot(a, a)))\n\n"
             "def mean(a):\n    return float(np.asarray(a).mean())\n\ndef clip(a, low, high):\n"
             "    return np.clip(a, low, high).tolist()\n")
    pairs = similar_pairs({"ann": mine, "bob": renamed, "cy": other, "dee": "# YOUR CODE HERE"}, "# YOUR CODE HERE")
    assert [(p.first, p.second) for p in pairs] == [("ann", "bob")], pairs


def test_failure_messages_name_the_visible_line(graded):
    _, out, results = graded
    failed = [t for t in results["blank"].tests if t["status"] == "failed"]
    assert failed and all("(test line " in t["output"] for t in failed), [t["output"] for t in failed]
    first_cell = graded_cell_ids(RELEASE)[0]
    first_line = next(c for c in RELEASE.cells if c.metadata["nbgrader"].get("grade_id") == first_cell).source
    quoted = next(t for t in failed if t["name"] == first_cell)["output"]
    assert any(line.strip() and line.strip()[:40] in quoted for line in first_line.splitlines()), quoted


def test_a_manual_grade_appears_in_rebuilt_reports_and_survives_a_regrade(graded):
    subs, out, _ = graded
    cell = graded_cell_ids(RELEASE)[0]
    answer = solution_ids(RELEASE)[0]
    set_manual(out, "blank", cell, score=POINTS[cell])          # the instructor gives the marks by hand
    set_manual(out, "blank", answer, comment="see me about dtypes")
    tito("report", MODULE, "--out", str(out), cwd=REPO)
    assert float(rows(out)["blank"]["score"]) == POINTS[cell]
    payload = json.loads((out / "reports" / MODULE / "blank" / "results.json").read_text())
    assert payload["score"] == POINTS[cell]
    feedback = (out / "feedback" / "blank" / MODULE / f"{MODULE}.html").read_text()
    assert "see me about dtypes" in feedback

    # Regrade that student alone: the manual grade and the comment stay, the class's rows stay.
    results = run(subs, out, due=DUE, late_policy="per-hour:1", student="blank")
    assert list(results) == ["blank"] and results["blank"].score == POINTS[cell]
    table = rows(out)
    assert set(table) == {"late", "ontime", "blank"} and float(table["late"]["score"]) == MAX - 3
    assert grade_row(out, "blank", cell) == (0.0, POINTS[cell], False)       # unchanged result: no review

    # The student's resubmission now passes that cell: the autograded result changed under the manual
    # grade, so the cell is flagged for review and the student's status says so.
    submit(subs, "blank", fill(RELEASE, source_nb(MODULE)), "2026-12-01 10:30:00.000000 UTC")
    results = run(subs, out, due=DUE, late_policy="per-hour:1", student="blank")
    auto, manual, review = grade_row(out, "blank", cell)
    assert (auto, manual, review) == (POINTS[cell], POINTS[cell], True)
    assert results["blank"].status.value == "review" and cell in results["blank"].reason


def test_bad_deadline_options_are_refused(graded, tmp_path):
    subs, _, _ = graded
    for args, message in [(["--due", "next tuesday"], "not a date"), (["--late-policy", "per-week:3"], "per-hour"),
                          (["--student", "nobody"], "no such student")]:
        proc = tito("grade", MODULE, "--submissions", str(subs), "--out", str(tmp_path / "o"), *args,
                    cwd=REPO, check=False)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_nbgraders_own_autograde_is_refused_and_changes_no_grade(graded):
    """formgrader's Autograde button (its HTTP endpoint, on a jupyter server on loopback) and the
    `nbgrader autograde` command, run in the grading folder, refuse and point to `tito grade`."""
    import subprocess
    import sys
    import time
    import urllib.request

    from test_browser import free_port

    _, out, _ = graded
    before = rows(out)["ontime"]["score"]
    port, token = free_port(), "formgrader-test"
    log = (out.parent / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "jupyter", "server", f"--port={port}", "--ip=127.0.0.1",
                               f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
                               "--allow-root"], cwd=out, stdout=log, stderr=subprocess.STDOUT)
    try:
        headers = {"Authorization": f"token {token}"}
        for _ in range(120):
            try:
                urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/api/status", headers=headers))
                break
            except OSError:
                time.sleep(0.5)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/formgrader/api/submission/{MODULE}/ontime/autograde",
                                         data=b"", method="POST", headers=headers)
        answer = json.loads(urllib.request.urlopen(request, timeout=300).read())
    finally:
        server.terminate()
        server.wait(20)
        log.close()
    assert answer["success"] is False
    assert "tito grade" in (answer.get("error") or "") + (answer.get("log") or ""), answer
    cli = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", MODULE, "--student", "ontime", "--force"],
                         cwd=out, capture_output=True, text=True, timeout=300)
    assert cli.returncode != 0 and "tito grade" in cli.stdout + cli.stderr
    tito("report", MODULE, "--out", str(out), "--no-feedback", cwd=REPO)
    assert rows(out)["ontime"]["score"] == before


def test_nbgrader_validate_in_the_course_is_refused(tmp_path):
    import shutil
    import subprocess
    import sys

    nb = tmp_path / f"{MODULE}.ipynb"
    shutil.copy(REPO / "solutions" / f"{MODULE}.ipynb", nb)
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(nb)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert "tito grade" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_gradescope_autograder_zip_round_trip(tmp_path):
    """`tito gradescope` writes the zip; its run_autograder, in a folder laid out like Gradescope's
    container, scores a submission exactly as `tito grade` does."""
    import os
    import subprocess
    import zipfile

    zip_path = tmp_path / "autograder.zip"
    tito("gradescope", MODULE, "--out", str(zip_path), cwd=REPO)
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as z:
        names = z.namelist()
        z.extractall(root / "source")
    assert {"setup.sh", "run_autograder", "gradescope.json"} <= set(names)
    assert any(n.startswith("wheels/") and n.endswith(".whl") for n in names)
    assert not [n for n in names if n.startswith("course/tinytorch_lib/") and "tensor" in n]   # no answer inside
    assert subprocess.run(["bash", "-n", str(root / "source" / "setup.sh")]).returncode == 0
    # A student who answered the first half of the cells.
    answers = solution_ids(RELEASE)
    partial = fill(RELEASE, source_nb(MODULE), only=set(answers[: len(answers) // 2]))
    (root / "submission").mkdir()
    nbformat.write(partial, root / "submission" / f"{MODULE}.ipynb")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"AUTOGRADER_ROOT": str(root),
                                                                       "PYTHONPATH": str(REPO)}
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    payload = json.loads((root / "results" / "results.json").read_text())
    subs = tmp_path / "subs"
    submit(subs, "student", partial)
    results, _ = grade(COURSE, MODULE, GradeOptions(subs, tmp_path / "out", workers=1, progress=False))
    assert 0 < payload["score"] == results[0].score < MAX
    assert [t["name"] for t in payload["tests"] if t["visibility"] == "after_published"] == \
        [t["name"] for t in payload["tests"] if t["name"].endswith("(hidden tests)")]


def test_feedback_with_a_kept_lean_exporter_is_nbgraders_document(graded):
    """Workers keep one HTML exporter for all their students and skip nbconvert's BeautifulSoup
    round trip (feedback.py); the page must parse to exactly the document nbgrader's own
    generate_feedback writes (its bytes are that parse, serialised), for every student after the
    first too, images' alt text included."""
    from bs4 import BeautifulSoup

    from autograder.grading.feedback import FeedbackWriter
    from autograder.grading.gradebook import db_url
    from autograder.grading.nbgrader_glue import make_api, quiet_nbgrader

    _, out, _ = graded
    html = lambda s: (out / "feedback" / s / MODULE / f"{MODULE}.html").read_bytes()  # noqa: E731
    with quiet_nbgrader():
        api = make_api(COURSE.config_file, out, **{"CourseDirectory.db_url": db_url(out)})
        expected = {}
        for student in ("late", "blank"):
            assert api.generate_feedback(MODULE, student, force=True)["success"]
            expected[student] = html(student)
        writer = FeedbackWriter(api)
        for student in ("blank", "late", "blank"):
            assert writer.write(MODULE, student)["success"]
            ours = html(student).decode("utf-8")
            assert ours != expected[student].decode("utf-8"), "the round trip was skipped: bytes differ"
            assert str(BeautifulSoup(ours, features="html.parser")) == expected[student].decode("utf-8"), \
                f"{student}: feedback differs from nbgrader's"
            assert ours.count("<img") == ours.count('alt="'), f"{student}: an image lacks alt text"
    assert b"<img" in expected["late"], "the test needs a page with an image (the lesson's plot)"
