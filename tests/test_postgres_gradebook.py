"""A PostgreSQL gradebook (issue 15): two graders writing into one gradebook at once, reports and a
regrade from it, formgrader reading it, merge out of it. A real server (Debian's postgresql) is
started on loopback by the fixture, its data in a temporary folder."""
import json
import os
import subprocess
import sys

import pytest

from autograder.grading.gradebook import normalised, open_gradebook
from helpers import REPO, tito
from postgres_server import as_server_user, postgres_server, server_binaries
from scale_class import MAX, MODULE, csv_rows, grade_args, write_class


def why_no_server() -> str | None:
    if server_binaries() is None:
        return "PostgreSQL's server is not installed (Debian package postgresql; scripts/setup.sh installs it)"
    try:
        as_server_user()
    except KeyError:
        return "running as root and there is no `postgres` user to run the server as"
    return None


pytestmark = pytest.mark.skipif(why_no_server() is not None, reason=str(why_no_server()))


@pytest.fixture(scope="module")
def server():
    with postgres_server() as url:
        yield url


def tito_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(REPO)
    return env


def submissions(gb) -> dict[str, float]:
    """Score after the late penalty, by student, as the gradebook holds them."""
    return {s.student.id: s.score - (s.late_submission_penalty or 0) for s in gb.find_assignment(MODULE).submissions}


def test_graders_share_a_postgres_gradebook(server, tmp_path):
    subs = tmp_path / "subs"
    write_class(subs)
    # Two graders at the same time, one shard each, writing into the one gradebook.
    procs = [subprocess.Popen([sys.executable, "-m", "autograder", *grade_args(subs, tmp_path / f"g{k}"),
                               "--shard", f"{k}/2", "--db", server, "--workers", "1"],
                              cwd=REPO, env=tito_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for k in (1, 2)]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(outputs)
    with open_gradebook(normalised(server)) as gb:
        scores = submissions(gb)
    assert sorted(scores) == ["ada", "bo", "cyd", "dov", "eli"], f"the whole class in PostgreSQL, got {scores}"
    assert scores["ada"] == MAX and scores["bo"] == MAX - 3 and scores["dov"] == 0, scores
    for k in (1, 2):
        recorded = json.loads((tmp_path / f"g{k}" / "tito.json").read_text())["db_url"]
        assert recorded == normalised(server), f"g{k} records its gradebook: expected {server}, got {recorded}"
        assert not (tmp_path / f"g{k}" / "gradebook.db").exists(), "no SQLite gradebook beside a PostgreSQL one"

    # Reports come back out of PostgreSQL, and merge reads each shard's gradebook there.
    tito("merge", str(tmp_path / "g1"), str(tmp_path / "g2"), "--out", str(tmp_path / "merged"), cwd=REPO)
    merged = {s: float(r["score"]) for s, r in csv_rows(tmp_path / "merged").items()}
    assert merged == scores, f"merged out of PostgreSQL: expected {scores}, got {merged}"

    # A regrade of one student writes to the same gradebook; bo's late notebook, now on time.
    shard_of_bo = next(k for k in (1, 2) if "bo" in csv_rows(tmp_path / f"g{k}"))
    (subs / "bo" / "timestamp.txt").write_text("2026-12-01 11:59:00.000000 UTC")
    folder = tmp_path / f"g{shard_of_bo}"
    tito(*grade_args(subs, folder), "--shard", f"{shard_of_bo}/2", "--student", "bo", "--workers", "1", cwd=REPO)
    with open_gradebook(normalised(server)) as gb:
        assert submissions(gb)["bo"] == MAX, "the regrade's score is in PostgreSQL"

    # formgrader works on the folder's nbgrader_config.py: it reads (and writes) the PostgreSQL gradebook.
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(folder)).load_config()
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    shown = {s["student"]: s["score"] for s in api.get_submissions(MODULE) if s["autograded"]}
    assert shown["bo"] == MAX, f"formgrader shows bo's regrade: got {shown}"
    with api.gradebook as gb:
        grade = gb.find_submission_notebook(MODULE, MODULE, "bo").grades[0]
        grade.extra_credit = 2.0
        gb.db.commit()
    tito("report", MODULE, "--out", str(folder), "--no-feedback", cwd=REPO)
    assert float(csv_rows(folder)["bo"]["score"]) == MAX + 2, "tito report reads formgrader's extra credit"


def test_database_errors_name_the_database(server, tmp_path):
    subs = tmp_path / "subs"
    write_class(subs)
    proc = tito(*grade_args(subs, tmp_path / "g"), "--db", "postgresql://tito@127.0.0.1:9/nowhere", cwd=REPO,
                check=False)
    assert proc.returncode == 2 and "cannot open the gradebook at postgresql+psycopg://tito@127.0.0.1:9/nowhere" \
        in proc.stderr, proc.stderr
    proc = tito(*grade_args(subs, tmp_path / "g"), "--db", "mysql://x@y/z", cwd=REPO, check=False)
    assert proc.returncode == 2 and "unsupported database 'mysql'" in proc.stderr, proc.stderr
    (tmp_path / "g2").mkdir()
    (tmp_path / "g2" / "tito.json").write_text(json.dumps({"db_url": normalised(server)}))
    proc = tito(*grade_args(subs, tmp_path / "g2"), "--db", server.replace("gradebook", "other"), cwd=REPO,
                check=False)
    assert proc.returncode == 2 and "this grading folder's gradebook is" in proc.stderr, proc.stderr
