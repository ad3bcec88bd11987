"""Grading at scale (issue 15): CI shards that merge into one grading, and a Dask cluster that loses a
worker mid-grade. Both must give exactly what one local run gives."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from autograder.course.layout import CourseError
from autograder.grading.gradebook import db_url, open_gradebook, snapshot
from autograder.grading.shards import check_complete, parse_shard, shard_of
from helpers import REPO, tito
from scale_class import MAX, MODULE, csv_bytes, csv_rows, grade_args, grade_class, write_class


@pytest.fixture(scope="module")
def unsharded(tmp_path_factory):
    root = tmp_path_factory.mktemp("scale")
    subs = root / "subs"
    expected = write_class(subs)
    results = grade_class(subs, root / "whole")
    return subs, root / "whole", expected, results


@pytest.fixture(scope="module")
def shards(unsharded, tmp_path_factory):
    subs = unsharded[0]
    root = tmp_path_factory.mktemp("shards")
    folders = []
    for k in (1, 2, 3):
        grade_class(subs, root / f"shard{k}", shard=f"{k}/3")
        folders.append(root / f"shard{k}")
    return folders


def test_the_class_grades_as_expected(unsharded):
    _, out, expected, results = unsharded
    scores = {s: r.score for s, r in results.items()}
    assert scores["ada"] == MAX and scores["dov"] == 0 and scores["eli"] == 0, scores
    assert 0 < scores["cyd"] < MAX, scores
    assert scores["bo"] == MAX - 3, f"2 h 10 min late at 1 point per started hour: expected {MAX - 3}, got {scores['bo']}"


def test_shard_assignment_is_deterministic_balanced_and_stable():
    ids = [f"student{i:04d}" for i in range(1000)]
    counts = Counter(shard_of(s, 4) for s in ids)
    assert set(counts) == {1, 2, 3, 4}
    assert all(200 <= c <= 300 for c in counts.values()), f"expected about 250 per shard, got {dict(counts)}"
    before = {s: shard_of(s, 4) for s in ids}
    grown = ids + [f"late{i}" for i in range(300)]
    assert all(shard_of(s, 4) == before[s] for s in grown if s in before), "adding students moved someone"
    assert all(shard_of(s, 1) == 1 for s in ids)
    for bad in ("3", "0/2", "3/2", "a/b"):
        with pytest.raises(CourseError, match="--shard"):
            parse_shard(bad)


def test_shards_merge_into_exactly_the_unsharded_grading(unsharded, shards, tmp_path):
    _, whole, _, _ = unsharded
    graded = [json.loads((f / "reports" / MODULE / "shard.json").read_text())["graded"] for f in shards]
    assert sorted(sum(graded, [])) == ["ada", "bo", "cyd", "dov", "eli"], graded
    proc = tito("merge", *map(str, shards), "--out", str(tmp_path / "merged"), cwd=REPO)
    merged = tmp_path / "merged"
    assert csv_bytes(merged) == csv_bytes(whole), "merged grades.csv differs from the unsharded run's"
    for student in csv_rows(whole):
        rel = f"reports/{MODULE}/{student}/results.json"
        assert (merged / rel).read_bytes() == (whole / rel).read_bytes(), f"{rel} differs after merge"
        # feedback shows the notebook's printed timings, so it is compared with the shard that made it
        (shard,) = [f for f, names in zip(shards, graded) if student in names]
        rel = f"feedback/{student}/{MODULE}/{MODULE}.html"
        assert (merged / rel).read_bytes() == (shard / rel).read_bytes(), f"{rel} not copied from {shard.name}"
    with open_gradebook(db_url(whole)) as a, open_gradebook(db_url(merged)) as b:
        for student in csv_rows(whole):
            assert snapshot(a, MODULE, student) == snapshot(b, MODULE, student), student
    assert "5 students merged" in proc.stdout


def test_merge_refuses_a_missing_a_repeated_or_an_overlapping_shard(shards, tmp_path):
    one, two, three = map(str, shards)
    proc = tito("merge", one, three, "--out", str(tmp_path / "m1"), cwd=REPO, check=False)
    assert proc.returncode == 2 and "shard 2/3 missing" in proc.stderr, proc.stderr
    proc = tito("merge", one, two, three, one, "--out", str(tmp_path / "m2"), cwd=REPO, check=False)
    assert proc.returncode == 2 and "shard 1/3 given twice" in proc.stderr, proc.stderr
    assert not (tmp_path / "m1" / "reports").exists() and not (tmp_path / "m2" / "reports").exists()
    record = {"shard": 1, "of": 2, "class": ["a", "b", "c"], "graded": ["a", "b"]}
    with pytest.raises(CourseError, match="b graded in two shards"):
        check_complete(MODULE, [("x", record), ("y", {**record, "shard": 2, "graded": ["b", "c"]})])
    with pytest.raises(CourseError, match="no shard graded c"):
        check_complete(MODULE, [("x", record), ("y", {**record, "shard": 2, "graded": []})])
    with pytest.raises(CourseError, match="different classes"):
        check_complete(MODULE, [("x", record), ("y", {**record, "shard": 2, "class": ["a"]})])


def kill_a_worker_mid_grade(address: str, killed: list, stop: threading.Event) -> None:
    """Watch the cluster; once a student's task has run for two seconds, SIGKILL its worker process."""
    from distributed import Client

    with Client(address, timeout="20s") as client:
        pids = client.run(os.getpid)
        first_seen = {}
        while not stop.is_set() and not killed:
            for worker, keys in client.processing().items():
                for key in keys:
                    if "canary" in str(key):
                        continue
                    first_seen.setdefault(key, time.monotonic())
                    if time.monotonic() - first_seen[key] > 2.0:
                        os.kill(pids[worker], signal.SIGKILL)
                        killed.append((worker, key))
                        return
            time.sleep(0.2)


def test_dask_cluster_grades_like_local_grading_even_when_a_worker_dies(unsharded, tmp_path):
    from distributed import LocalCluster

    subs, whole, _, _ = unsharded
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      memory_limit=0) as cluster:
        killed, stop = [], threading.Event()
        watcher = threading.Thread(target=kill_a_worker_mid_grade, args=(cluster.scheduler_address, killed, stop))
        watcher.start()
        try:
            proc = tito(*grade_args(subs, tmp_path / "dask"), "--scheduler", cluster.scheduler_address, cwd=REPO,
                        check=False)
        finally:
            stop.set()
            watcher.join()
    assert killed, "no worker was killed mid-grade: the test did not test a retry"
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert csv_bytes(tmp_path / "dask") == csv_bytes(whole), (
        f"after killing {killed[0]}, the Dask grading differs from the local one:\n"
        f"{csv_bytes(tmp_path / 'dask').decode()}\nvs\n{csv_bytes(whole).decode()}")
    with open_gradebook(db_url(tmp_path / "dask")) as gb:
        graded = [s.student.id for s in gb.find_assignment(MODULE).submissions]
    assert sorted(graded) == sorted(csv_rows(whole)), f"each student graded once: got {graded}"


def test_cluster_option_errors_are_clear(unsharded, tmp_path):
    subs = unsharded[0]
    proc = tito(*grade_args(subs, tmp_path / "x"), "--cluster", "local:zero", cwd=REPO, check=False)
    assert proc.returncode == 2 and "--cluster 'local:zero': expected local:N" in proc.stderr, proc.stderr
    proc = tito(*grade_args(subs, tmp_path / "x"), "--scheduler", "tcp://127.0.0.1:9", cwd=REPO, check=False)
    assert proc.returncode == 2 and "cannot reach the Dask scheduler" in proc.stderr, proc.stderr
