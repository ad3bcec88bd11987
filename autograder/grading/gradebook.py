"""Where a grading folder's gradebook lives, and one student's grading as data.

SQLite in the grading folder (`gradebook.db`) is the default. `--db postgresql://…` (nbgrader's
`db_url`) puts the gradebook on a server, where several graders can write at once. The folder
records its gradebook in `tito.json`, so `tito report`, regrades and formgrader (through the folder's
`nbgrader_config.py`) all find the same one; a different `--db` for the same folder is refused.

`snapshot` / `write_snapshot` turn one student's grading of a module into plain data and back: the
Dask path sends it from a worker's private gradebook to the class gradebook, and `tito merge` copies
it from each shard's gradebook into the merged one.
"""
from __future__ import annotations

import contextlib
import functools
import json
from pathlib import Path
from urllib.parse import urlsplit

from autograder.course.constants import COURSE_ID
from autograder.course.layout import CourseError

FOLDER_RECORD = "tito.json"
SUPPORTED = ("sqlite", "postgresql")


def default_db_url(out: Path) -> str:
    # A generous busy timeout: several worker processes write to the one SQLite file.
    return f"sqlite:///{out.resolve() / 'gradebook.db'}?timeout=120"


def recorded_db_url(out: Path) -> str | None:
    path = out / FOLDER_RECORD
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("db_url")


def db_url(out: Path) -> str:
    """The gradebook of the grading folder `out`."""
    return recorded_db_url(out) or default_db_url(out)


def shown(url: str) -> str:
    """`url` with any password replaced, for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def normalised(url: str) -> str:
    """`url` checked, with PostgreSQL's driver made explicit (psycopg 3, a tito dependency), whatever
    SQLAlchemy's default driver is."""
    scheme = urlsplit(url).scheme
    if scheme.split("+")[0] not in SUPPORTED:
        raise CourseError(f"--db {shown(url)}: unsupported database {scheme!r} (use sqlite:///FILE or "
                          "postgresql://USER@HOST:PORT/DATABASE)")
    if scheme == "postgresql":
        return "postgresql+psycopg" + url[len("postgresql"):]
    return url


def check_reachable(url: str) -> None:
    """Connect once, so that a wrong address fails before anything is graded, naming the database."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except (SQLAlchemyError, ImportError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CourseError(f"cannot open the gradebook at {shown(url)}: {first}") from None


@contextlib.contextmanager
def exclusive(url: str, shared: bool = False):
    """Hold a PostgreSQL advisory lock on the gradebook while inside. (Re)generating the assignment
    holds it alone: nbgrader deletes and recreates an assignment's notebook rows while it has no
    submissions, which races with another grader creating its tables or generating it too (a
    foreign-key violation) and with a grader recording a student's first submission (a deadlock).
    Recording a student's grading holds it `shared`, so graders record at the same time but never
    while the assignment is being regenerated. SQLite: one process writes at a time anyway."""
    if url.startswith("sqlite"):
        yield
        return
    from sqlalchemy import create_engine, text

    how = "_shared" if shared else ""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f"select pg_advisory_lock{how}(7436)"))
            try:
                yield
            finally:
                conn.execute(text(f"select pg_advisory_unlock{how}(7436)"))
    finally:
        engine.dispose()


@functools.cache
def alembic_head() -> str:
    """The schema revision nbgrader stamps a new gradebook with. nbgrader asks for it by running
    `alembic heads` in a subprocess (most of a second of CPU, seconds on a busy machine, for every
    new gradebook: the canary's, the class's, Dask's template); the same answer, read in-process."""
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    return ScriptDirectory(ALEMBIC_DIR).get_current_head()


_COMMITS_TUNED = False


def quick_sqlite_commits() -> None:
    """Every SQLite connection this process opens (nbgrader's included) commits without waiting for
    the disk: `synchronous=NORMAL`, which with the write-ahead log that `ensure_tables` gives new
    gradebooks keeps the file consistent through crashes and loses at most the last commits on a
    power cut. nbgrader's default waits for three disk flushes per commit: preparing an assignment
    commits about a hundred times, grading a student dozens, and on a busy machine those flushes took
    most of the wall time of preparing (docs/benchmarks.md)."""
    global _COMMITS_TUNED
    if _COMMITS_TUNED:
        return
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _no_flush_per_commit(dbapi_connection, _record):
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    _COMMITS_TUNED = True


def ensure_tables(url: str) -> None:
    """nbgrader's tables and its alembic stamp in a database that has no tables yet, exactly as
    nbgrader's Gradebook creates them (which then finds them and skips its subprocess); a new SQLite
    gradebook keeps a write-ahead log (so a grading folder belongs on a local disk, not NFS)."""
    from nbgrader.api import Base
    from sqlalchemy import create_engine, inspect, text

    quick_sqlite_commits()
    engine = create_engine(url)
    try:
        if inspect(engine).get_table_names():
            return
        if url.startswith("sqlite"):
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        Base.metadata.create_all(bind=engine)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL);"))
            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v);"), {"v": alembic_head()})
    finally:
        engine.dispose()


def create_tables(url: str) -> None:
    from autograder.grading.nbgrader_glue import quiet_nbgrader

    with exclusive(url), quiet_nbgrader():
        ensure_tables(url)
        with open_gradebook(url):
            pass


def use_database(out: Path, requested: str | None) -> str:
    """The gradebook for a grading run in `out`: `requested`, or the one the folder already uses.
    Records a non-default choice in the folder."""
    recorded = recorded_db_url(out)
    requested = normalised(requested) if requested else None
    if requested and recorded and requested != recorded:
        raise CourseError(f"{out}: this grading folder's gradebook is {shown(recorded)}; pass the same --db, "
                          "or grade into another --out")
    url = requested or recorded or default_db_url(out)
    if not url.startswith("sqlite"):
        check_reachable(url)
        create_tables(url)
    if requested and not recorded:
        out.mkdir(parents=True, exist_ok=True)
        (out / FOLDER_RECORD).write_text(json.dumps({"db_url": url}, indent=1) + "\n")
    return url


def has_gradebook(out: Path) -> bool:
    return recorded_db_url(out) is not None or (out / "gradebook.db").is_file()


# ---- one student's grading as data ------------------------------------------------------------------

def snapshot(gb, module: str, student: str) -> dict:
    """Everything the gradebook holds about `student`'s submission of `module` (raises MissingEntry)."""
    submission = gb.find_submission(module, student)
    nb = gb.find_submission_notebook(module, module, student)
    return {
        "timestamp": submission.timestamp.isoformat() if submission.timestamp else None,
        "extension_seconds": submission.extension.total_seconds() if submission.extension else None,
        "flagged": bool(nb.flagged),
        "late_submission_penalty": nb.late_submission_penalty,
        "grades": {g.name: {"auto_score": g.auto_score, "manual_score": g.manual_score,
                            "extra_credit": g.extra_credit, "needs_manual_grade": bool(g.needs_manual_grade)}
                   for g in nb.grades},
        "comments": {c.name: {"auto_comment": c.auto_comment, "manual_comment": c.manual_comment}
                     for c in nb.comments},
    }


def write_snapshot(gb, module: str, student: str, snap: dict) -> None:
    """Make `student`'s submission of `module` exactly `snap` (an earlier submission is replaced).
    The student must exist in `gb`; cells `snap` does not know keep nbgrader's defaults."""
    import datetime as dt

    from nbgrader.api import MissingEntry

    try:
        gb.remove_submission(module, student)
    except MissingEntry:
        pass
    extra = {}
    if snap["timestamp"]:
        extra["timestamp"] = snap["timestamp"]
    if snap["extension_seconds"] is not None:
        extra["extension"] = dt.timedelta(seconds=snap["extension_seconds"])
    gb.add_submission(module, student, **extra)
    nb = gb.find_submission_notebook(module, module, student)
    nb.flagged = snap["flagged"]
    nb.late_submission_penalty = snap["late_submission_penalty"]
    for grade in nb.grades:
        for key, value in snap["grades"].get(grade.name, {}).items():
            setattr(grade, key, value)
    for comment in nb.comments:
        for key, value in snap["comments"].get(comment.name, {}).items():
            setattr(comment, key, value)
    gb.db.commit()


def open_gradebook(url: str):
    from nbgrader.api import Gradebook

    quick_sqlite_commits()
    return Gradebook(url, course_id=COURSE_ID)
