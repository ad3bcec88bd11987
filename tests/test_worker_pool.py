"""Local grading workers take one student at a time (pool.py), start before the canary and touch
nothing until handed a student; new gradebooks are created as nbgrader creates them, without its
`alembic` subprocess (gradebook.ensure_tables)."""
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from autograder.grading.pool import WorkerPool

# A stand-in worker: the pool's protocol (student ids in on stdin, one JSON line out per student)
# with a cost chosen by the student's name, and a crash on demand.
STAND_IN = '''
import json, os, sys, time
for line in sys.stdin:
    student = line.strip()
    if student == "crash":
        os._exit(1)
    time.sleep(1.5 if student.startswith("slow") else 0.05)
    print(json.dumps({"student": student, "status": "ok", "reason": "", "pid": os.getpid()}), flush=True)
'''


def stand_in(tmp_path: Path) -> list[str]:
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)
    return [sys.executable, str(script)]


def test_the_next_student_goes_to_the_first_free_worker(tmp_path):
    """One slow notebook does not hold back the students behind it: with two workers, the other worker
    grades all of them meanwhile (a fixed share per worker would give the slow one half the class)."""
    students = ["slow-1", *[f"s{i}" for i in range(8)]]
    pool = WorkerPool({}, 2, command=stand_in(tmp_path))
    started = time.perf_counter()
    reports = pool.grade(students, progress=False)
    elapsed = time.perf_counter() - started
    assert sorted(reports) == sorted(students), f"expected every student reported, got {sorted(reports)}"
    slow_pid = reports["slow-1"]["pid"]
    others = {reports[s]["pid"] for s in students[1:]}
    assert slow_pid not in others, \
        f"expected the fast students all on the other worker, got pids {others} (slow one: {slow_pid})"
    assert elapsed < 4, f"expected about the slow notebook's 1.5 s in all, took {elapsed:.1f} s"


def test_a_worker_that_dies_costs_only_the_student_in_its_hands(tmp_path, capsys):
    students = ["a", "crash", "b", "c", "d", "e", "f"]
    reports = WorkerPool({}, 2, command=stand_in(tmp_path)).grade(students, progress=False)
    assert sorted(reports) == ["a", "b", "c", "d", "e", "f"], \
        f"expected everyone but the crashed worker's student reported, got {sorted(reports)}"
    assert "grading worker" in capsys.readouterr().err, "the dead worker must be reported"


def test_a_pool_cancelled_before_its_first_student_writes_nothing(tmp_path):
    """tito grade starts the real workers while the canary runs; a failed canary cancels them, and
    the grading folder (its gradebook) must not even exist then."""
    out = tmp_path / "never"
    job = {"module": "02_activations", "root": str(out), "config_file": str(tmp_path / "none.py"),
           "db_url": f"sqlite:///{out / 'gradebook.db'}", "students": [], "mode": "none", "settings": {},
           "rejected": {}, "late_policy": "none"}
    pool = WorkerPool(job, 2)
    time.sleep(1)
    pool.cancel()
    assert [proc.returncode for proc, _, _ in pool.workers] == [0, 0], "workers must exit cleanly"
    assert not out.exists(), "a cancelled pool must leave no grading folder behind"


def schema(path: Path) -> tuple[list, list]:
    with sqlite3.connect(path) as conn:
        tables = sorted(conn.execute("select type, name, sql from sqlite_master where name not like 'sqlite_%'"))
        version = conn.execute("select version_num from alembic_version").fetchall()
    return tables, version


def test_a_new_gradebook_is_the_one_nbgrader_creates(tmp_path):
    """Same tables, indexes and alembic stamp as nbgrader's own Gradebook makes (which runs
    `alembic heads` in a subprocess for the stamp); and it keeps a write-ahead log."""
    ours, theirs = tmp_path / "ours.db", tmp_path / "theirs.db"
    code = ("import sys; from autograder.grading.gradebook import ensure_tables, open_gradebook\n"
            "ensure_tables(sys.argv[1])\nwith open_gradebook(sys.argv[1]): pass\n")
    subprocess.run([sys.executable, "-c", code, f"sqlite:///{ours}"], check=True)
    subprocess.run([sys.executable, "-c", "import sys; from nbgrader.api import Gradebook\n"
                    "with Gradebook(sys.argv[1]): pass", f"sqlite:///{theirs}"], check=True)
    expected, got = schema(theirs), schema(ours)
    assert got == expected, f"expected nbgrader's schema and stamp {expected[1]}, got a different one: {got[1]}"
    with sqlite3.connect(ours) as conn:
        mode = conn.execute("pragma journal_mode").fetchone()[0]
    assert mode == "wal", f"expected the write-ahead log, got journal_mode={mode}"
    assert json.dumps(got[1]) != "[]", "the alembic stamp must be there"


def test_the_compiled_metadata_check_gives_nbgraders_verdicts():
    """Workers check nbgrader metadata with the schema compiled once (preprocessor.py); on valid,
    malformed, too old and too new metadata, and against nbgrader's own rules (grade ids, points,
    unique ids, markdown cells), it must do exactly what nbgrader's CheckCellMetadata does."""
    import copy

    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
    from nbgrader.preprocessors import CheckCellMetadata

    from autograder.grading.preprocessor import CheckCellMetadataCompiled

    good = {"grade": True, "grade_id": "t", "locked": True, "points": 2, "schema_version": 3, "solution": False}
    other = {**good, "grade_id": "u"}
    without = lambda key: {k: v for k, v in good.items() if k != key}   # noqa: E731
    cases = {"valid": [good, other], "points not a number": [{**good, "points": "two"}],
             "no grade id": [without("grade_id")], "no points": [without("points")],
             "duplicate grade ids": [good, good], "too old": [{**good, "schema_version": 1}],
             "too new": [{**good, "schema_version": 4}], "markdown grade cell, not a solution": [("md", good)]}
    for name, metas in cases.items():
        verdicts = []
        for check in (CheckCellMetadata(), CheckCellMetadataCompiled()):
            cells = [new_code_cell("x = 1")]
            for meta in metas:
                make, meta = (new_markdown_cell, meta[1]) if isinstance(meta, tuple) else (new_code_cell, meta)
                cells.append(make("assert x", metadata={"nbgrader": copy.deepcopy(meta)}))
            try:
                check.preprocess(new_notebook(cells=cells), {})
                verdicts.append("accepted")
            except Exception as exc:   # the exception's type is the verdict
                verdicts.append(type(exc).__name__)
        assert verdicts[0] == verdicts[1], f"{name}: nbgrader says {verdicts[0]}, the compiled check {verdicts[1]}"
        assert (verdicts[0] == "accepted") == (name == "valid"), f"{name}: {verdicts[0]}"
