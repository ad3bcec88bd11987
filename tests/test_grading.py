"""`tito grade`: every fault costs one student, with a recorded score and reason.

One sample class is graded once (module-scoped fixture) and each fault is its own test.
Expected scores are exact: a fault that breaks the first solution cell must score what a student
who left that cell unfinished scores (`partial`).
"""
import csv
import html
import json
import shutil
import zipfile
from pathlib import Path

import jsonschema
import nbformat
import pytest

from autograder.grading.reports import RESULTS_SCHEMA
from autograder.grading.pipeline import GradeOptions, grade
from autograder.sandbox.limits import Limits
from autograder.sandbox.launcher import bubblewrap_works
from autograder.demo.sample_class import fill, solution_ids, graded_cell_ids
from autograder.course.lesson import BEGIN_HIDDEN, END_HIDDEN, read_cells
from helpers import COURSE, REPO, region_lines, tito

MODULE = "02_activations"
LIMITS = Limits(cell_timeout=10, notebook_timeout=120, memory_mb=3072)


def source_nb(module=MODULE):
    from autograder.course.lesson import parse_course
    from autograder.build.notebooks import build_notebook

    parsed = next(p for p in parse_course(COURSE) if p.module.name == module)
    return build_notebook(parsed.module, parsed.cells)


RELEASE = nbformat.read(REPO / "release" / MODULE / f"{MODULE}.ipynb", as_version=4)
SOURCE = source_nb()
FIRST = solution_ids(RELEASE)[0]
MAX = sum(c.metadata["nbgrader"]["points"] for c in RELEASE.cells if c.metadata["nbgrader"].get("grade"))


def break_first(prefix):
    return lambda gid, code: prefix + "\n" + code if gid == FIRST else code


def with_tests(nb, change):
    nb = nbformat.from_dict(nb)
    for cell in list(nb.cells):
        if cell.metadata.get("nbgrader", {}).get("grade"):
            change(nb, cell)
    return nb


def edit_tests(nb, cell):
    cell.source = "pass"


def delete_tests(nb, cell):
    nb.cells.remove(cell)


def inflate_points(nb, cell):
    cell.metadata["nbgrader"]["points"] = 1000


def sandbox_probe(out: Path) -> str:
    return (f"import socket\n"
            f"for _path in [{str(COURSE.source_dir / '01_tensor' / '01_tensor.py')!r}, {str(out / 'gradebook.db')!r}]:\n"
            f"    try:\n        open(_path).read(10); print('READ-OK', _path)\n"
            f"    except OSError as _e:\n        print('READ-DENIED', type(_e).__name__)\n"
            f"for _path in [{str(out / 'planted.txt')!r}, '/usr/planted.txt', '/tmp/planted.txt']:\n"
            f"    try:\n        open(_path, 'w').write('x'); print('WRITE-OK', _path)\n"
            f"    except OSError as _e:\n        print('WRITE-DENIED', type(_e).__name__)\n"
            f"try:\n    socket.create_connection(('192.0.2.1', 80), timeout=2); print('NET-OK')\n"
            f"except OSError as _e:\n    print('NET-DENIED', type(_e).__name__)\n")


def with_cell_at_top(nb, code):
    """The notebook with a cell the student added right under the setup cell."""
    nb = nbformat.from_dict(nb)
    nb.cells.insert(1, nbformat.v4.new_code_cell(code))
    return nb


def reorder_and_delete(nb):
    """Every lesson text and given-code cell and every other test cell deleted, the rest reversed."""
    nb = nbformat.from_dict(nb)
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    keep = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") or c in tests[::2]]
    nb.cells = keep[::-1]
    return nb


FREE_MARKS = ("ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
              "ip._showtraceback = lambda *a, **k: None")
FORGED_REPLY = ("ip = get_ipython()\n_real = ip.run_cell\n"
                "ip.run_cell = lambda cell, *a, **k: _real('None', *a, **k)")
REBOUND_NUMPY = ("import numpy, numpy.testing\nnumpy.allclose = lambda *a, **k: True\n"
                 "numpy.array_equal = lambda *a, **k: True\nnumpy.testing.assert_allclose = lambda *a, **k: None")
STUBBORN = "while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n        pass"
LAST = solution_ids(RELEASE)[-1]


def sample_class(out: Path) -> dict:
    complete = fill(RELEASE, SOURCE)
    nbformat_v3 = json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []})
    return {
        "complete": complete,
        "stubs": RELEASE,
        "partial": fill(RELEASE, SOURCE, only=set(solution_ids(RELEASE)[1:])),
        "infinite_loop": fill(RELEASE, SOURCE, edit=break_first("while True:\n    pass")),
        "kernel_death": fill(RELEASE, SOURCE, edit=break_first("import os\nos._exit(1)")),
        "memory_hog": fill(RELEASE, SOURCE, edit=break_first("import numpy as np\n_hog = np.ones(50 * 2**30 // 8)")),
        "output_flood": fill(RELEASE, SOURCE, edit=lambda g, c: c + "\nfor _ in range(100000):\n    print('spam ' * 40)" if g == FIRST else c),
        "edited_tests": with_tests(complete, edit_tests),
        "deleted_tests": with_tests(complete, delete_tests),
        "inflated_points": with_tests(complete, inflate_points),
        "renamed": ("my work (1).ipynb", complete),
        "malformed": '{"cells": [ not json',
        "empty": "",
        "wrong_nbformat": nbformat_v3,
        "zipped": ("zip", complete),
        "sandbox_probe": fill(RELEASE, SOURCE, edit=break_first(sandbox_probe(out))),
        # issue 7: what a student can do to the grader from inside the notebook
        "free_marks": with_cell_at_top(RELEASE, FREE_MARKS),
        "forged_reply": with_cell_at_top(RELEASE, FORGED_REPLY),
        "rebound_numpy": with_cell_at_top(RELEASE, REBOUND_NUMPY),
        "honest_rebinder": with_cell_at_top(complete, REBOUND_NUMPY),
        "reordered_and_deleted": reorder_and_delete(complete),
        "partial_reordered": reorder_and_delete(fill(RELEASE, SOURCE, only=set(solution_ids(RELEASE)[1:]))),
        "all_but_last": fill(RELEASE, SOURCE, only=set(solution_ids(RELEASE)[:-1])),
        "stubborn_last": fill(RELEASE, SOURCE, edit=lambda g, c: STUBBORN + "\n" + c if g == LAST else c),
    }


def write_class(folder: Path, students: dict) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for sid, nb in students.items():
        name = f"{MODULE}.ipynb"
        if isinstance(nb, tuple):
            name, nb = nb
        text = nb if isinstance(nb, str) else nbformat.writes(nb)
        if name == "zip":
            with zipfile.ZipFile(folder / f"{sid}.zip", "w") as z:
                z.writestr(f"{sid}/{MODULE}.ipynb", text)
            continue
        (folder / sid).mkdir()
        (folder / sid / name).write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    out = root / "out"
    write_class(root / "subs", sample_class(out))
    results, healthy = grade(COURSE, MODULE, GradeOptions(root / "subs", out, workers=2, limits=LIMITS, progress=False))
    assert healthy
    return {r.student.id: r for r in results}, out, root


def test_complete_scores_full_marks_and_stubs_zero(graded):
    results, _, _ = graded
    assert results["complete"].score == MAX and results["complete"].status == "ok"
    assert results["stubs"].score == 0 and results["stubs"].status == "ok"
    assert 0 < results["partial"].score < MAX


def test_infinite_loop(graded):
    results, _, _ = graded
    r = results["infinite_loop"]
    assert r.score == results["partial"].score
    assert r.status == "cell_timeout" and f"stopped after {LIMITS.cell_timeout} s" in r.reason


@pytest.mark.parametrize("sid", ["free_marks", "forged_reply", "rebound_numpy"])
def test_unanswered_notebook_scores_zero_whatever_it_does_to_the_kernel(graded, sid):
    r = graded[0][sid]
    assert r.score == 0, r.tests
    assert r.status == "review" and "flagged for review" in r.reason


def test_rebinding_numpy_neither_helps_nor_hurts_a_right_answer(graded):
    r = graded[0]["honest_rebinder"]
    assert r.score == MAX and r.status == "review"


def test_deleted_and_moved_cells_never_cost_a_grade(graded):
    results = graded[0]
    assert results["reordered_and_deleted"].score == MAX
    assert "moved cells put back in order" in results["reordered_and_deleted"].reason
    assert "deleted cell" in results["reordered_and_deleted"].reason
    assert results["partial_reordered"].score == results["partial"].score


def test_a_loop_that_ignores_interrupts_costs_only_its_own_cells(graded):
    results = graded[0]
    r = results["stubborn_last"]
    assert r.score == results["all_but_last"].score > 0
    assert r.status == "cell_timeout" and "kernel was killed" in r.reason


def test_kernel_death(graded):
    r = graded[0]["kernel_death"]
    assert r.score == 0 and r.status == "kernel_died" and "kernel died" in r.reason


def test_memory_blow_up_is_stopped(graded):
    results, _, _ = graded
    r = results["memory_hog"]
    assert r.score == results["partial"].score
    assert r.status == "memory" and "memory limit" in r.reason


def test_output_flood_is_truncated(graded):
    results, out, _ = graded
    r = results["output_flood"]
    assert r.score == MAX and "truncated" in r.reason
    autograded = out / "autograded" / "output_flood" / MODULE / f"{MODULE}.ipynb"
    assert autograded.stat().st_size < 2_000_000


@pytest.mark.parametrize("sid, words", [("edited_tests", "edited cell"), ("deleted_tests", "deleted cell"),
                                        ("inflated_points", "points of")])
def test_tampering_is_undone(graded, sid, words):
    r = graded[0][sid]
    assert r.score == MAX and r.max_score == MAX
    assert words in r.reason


def test_renamed_and_zipped_notebooks_are_accepted(graded):
    results, _, _ = graded
    assert results["renamed"].score == MAX and "'my work (1).ipynb' accepted" in results["renamed"].reason
    assert results["zipped"].score == MAX


@pytest.mark.parametrize("sid, words", [("malformed", "not valid notebook JSON"), ("empty", "empty file"),
                                        ("wrong_nbformat", "nbformat 3")])
def test_unreadable_notebooks_score_zero_with_reason(graded, sid, words):
    r = graded[0][sid]
    assert r.score == 0 and r.status == "rejected" and words in r.reason


def test_csv_and_results_json(graded):
    results, out, _ = graded
    rows = list(csv.DictReader((out / "reports" / MODULE / "grades.csv").open()))
    assert list(rows[0])[:11] == ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                                  "email", "raw_score", "late_submission_penalty", "score", "max_score"]
    assert {r["student_id"] for r in rows} == set(results)
    for row in rows:
        assert float(row["score"]) == results[row["student_id"]].score
        assert row["sandbox"] in ("bubblewrap", "none")
    for sid in results:
        payload = json.loads((out / "reports" / MODULE / sid / "results.json").read_text())
        jsonschema.validate(payload, RESULTS_SCHEMA)
        hidden = [c.metadata["nbgrader"]["grade_id"] for c in SOURCE.cells
                  if c.metadata["nbgrader"].get("grade") and BEGIN_HIDDEN in c.source]
        assert hidden, "the module has hidden tests"
        assert len(payload["tests"]) == len(graded_cell_ids(RELEASE)) + len(hidden)
        by_name = {t["name"]: t for t in payload["tests"]}
        for gid in hidden:       # hidden tests: a separate entry with the points, shown after publishing
            assert by_name[f"{gid} (hidden tests)"]["visibility"] == "after_published"
            assert by_name[f"{gid} (visible tests)"]["visibility"] == "visible"
            assert by_name[f"{gid} (visible tests)"]["max_score"] == 0
        assert sum(t["max_score"] for t in payload["tests"]) == MAX
        assert sum(t["score"] for t in payload["tests"]) == results[sid].score


def test_gradebook_holds_the_scores(graded):
    from nbgrader.api import Gradebook

    results, out, _ = graded
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", course_id="tinytorch") as gb:
        assert gb.find_submission(MODULE, "complete").score == MAX
        assert gb.find_submission(MODULE, "partial").score == results["partial"].score


def test_feedback_has_no_hidden_test_line(graded):
    results, out, _ = graded
    hidden = set()
    for cell in read_cells(COURSE.source_dir / MODULE / f"{MODULE}.py"):
        hidden |= {l for l in region_lines(cell.source, BEGIN_HIDDEN, END_HIDDEN) if len(l) >= 12}
    assert hidden
    for sid in ("complete", "stubs", "partial"):
        page = html.unescape((out / "feedback" / sid / MODULE / f"{MODULE}.html").read_text())
        leaked = [l for l in hidden if l in page]
        assert not leaked, f"feedback of {sid} shows hidden tests: {leaked[:2]}"


def test_sandbox_denies_reads_writes_and_network(graded):
    if not bubblewrap_works():
        pytest.skip("bubblewrap cannot create namespaces on this machine (install Debian's bubblewrap as root)")
    results, out, _ = graded
    assert results["sandbox_probe"].sandbox == "bubblewrap"
    nb = nbformat.read(out / "autograded" / "sandbox_probe" / MODULE / f"{MODULE}.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert printed.count("READ-DENIED") == 2 and "READ-OK" not in printed
    assert printed.count("WRITE-DENIED") == 3 and "WRITE-OK" not in printed
    assert not (out / "planted.txt").exists(), "a write escaped the sandbox"
    assert "NET-DENIED" in printed and "NET-OK" not in printed


def test_two_workers_give_the_same_grades_as_one_and_regrade_is_idempotent(graded, tmp_path):
    results, _, root = graded
    subset = ("complete", "partial", "kernel_death", "malformed")
    subs = tmp_path / "subs"
    subs.mkdir()
    for sid in subset:
        src = root / "subs" / sid
        shutil.copytree(src, subs / sid)
    one, _ = grade(COURSE, MODULE, GradeOptions(subs, tmp_path / "out", workers=1, limits=LIMITS, progress=False))
    again, _ = grade(COURSE, MODULE, GradeOptions(subs, tmp_path / "out", workers=1, limits=LIMITS, progress=False))
    for run in (one, again):
        assert {r.student.id: r.score for r in run} == {sid: results[sid].score for sid in subset}


def test_failed_regrade_never_leaves_a_stale_score(tmp_path):
    from nbgrader.api import Gradebook

    subs = tmp_path / "subs"
    write_class(subs, {"sam": fill(RELEASE, SOURCE)})
    first, _ = grade(COURSE, MODULE, GradeOptions(subs, tmp_path / "out", limits=LIMITS, progress=False))
    assert first[0].score == MAX
    (subs / "sam" / f"{MODULE}.ipynb").write_text("{ broken")
    second, _ = grade(COURSE, MODULE, GradeOptions(subs, tmp_path / "out", limits=LIMITS, progress=False))
    assert second[0].score == 0 and second[0].status == "rejected"
    with Gradebook(f"sqlite:///{tmp_path / 'out' / 'gradebook.db'}", course_id="tinytorch") as gb:
        assert gb.find_submission(MODULE, "sam").score == 0


def test_cli_exit_codes_and_roster(tmp_path):
    subs = tmp_path / "subs"
    write_class(subs, {"ann": RELEASE, "bob": "not a notebook"})
    roster = tmp_path / "roster.csv"
    roster.write_text("id,first_name,last_name,email\nann,Ann,Lee,ann@example.org\nbob,Bob,Ray,\ncat,Cat,Kim,\n")
    proc = tito("grade", MODULE, "--submissions", str(subs), "--roster", str(roster), "--out", str(tmp_path / "g"),
                "--workers", "1", cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "no submission" in proc.stdout            # cat is on the roster but submitted nothing
    rows = {r["student_id"]: r for r in csv.DictReader((tmp_path / "g" / "reports" / MODULE / "grades.csv").open())}
    assert rows["ann"]["last_name"] == "Lee" and rows["cat"]["score"] == "0.0"
    (subs / "stray.txt").write_text("oops")
    proc = tito("grade", MODULE, "--submissions", str(subs), "--out", str(tmp_path / "g"), cwd=REPO, check=False)
    assert proc.returncode == 2 and "stray.txt" in proc.stderr


def test_sandbox_required_fails_loudly_without_bubblewrap(tmp_path, monkeypatch):
    from autograder.sandbox import launcher as sandbox
    from autograder.course.layout import CourseError

    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    sandbox.bubblewrap_works.cache_clear()
    try:
        with pytest.raises(CourseError, match="bubblewrap"):
            sandbox.resolve_mode("required")
        assert sandbox.resolve_mode("auto") == "none"
    finally:
        sandbox.bubblewrap_works.cache_clear()


def test_a_crashed_worker_is_a_pipeline_error_with_its_log_shown(tmp_path, capsys):
    from autograder.course.layout import resolve_module
    from autograder.grading.pipeline import run_workers

    module = resolve_module(COURSE.modules(), MODULE)
    (tmp_path / "out" / "gradebook.db").mkdir(parents=True)   # the worker cannot open its gradebook: it crashes
    settings = {"mode": "none", "package_dir": str(tmp_path), "hide": [],
                "cell_timeout": 5, "notebook_timeout": 10, "memory_mb": 1024}
    reports = run_workers(COURSE, module, tmp_path / "out", ["ann"], settings, workers=1, progress=False)
    assert reports == {}, "a crashed worker reports nobody (its students become pipeline errors)"
    err = capsys.readouterr().err
    assert "grading worker 0 exited 1" in err and "unable to open database file" in err, err


def test_stages_pass_state_without_side_files(graded):
    """Intake's reasons travel in the worker's job, execution reports in nbgrader's resources, results
    on the worker's stdout: nothing but nbgrader's own folders and tito's reports is written."""
    _, out, _ = graded
    assert not (out / ".status").exists()
    strays = [p for p in out.rglob("*.json") if p.name not in ("results.json", "grading.json")]
    assert not strays, strays
    assert graded[0]["malformed"].status == "rejected" and graded[0]["complete"].status == "ok"
