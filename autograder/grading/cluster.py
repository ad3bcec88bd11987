"""Grading on a Dask cluster: `tito grade --cluster local:N` or `--scheduler tcp://HOST:PORT`.

Each submission is one Dask task. What a task needs travels with it, so workers need no shared file
system: a template (the course's nbgrader configuration, the assignment's source and release
notebooks, a SQLite gradebook holding the assignment, the reference package of the earlier modules)
is packed once per run and broadcast to the workers; each task carries the student's staged notebook.
A worker unpacks the template once into a private grading folder and grades there exactly as a local
worker does (worker.grade_students: the same sandbox, limits, preprocessors and feedback), one
student at a time. The task returns the student's grading as data (gradebook rows, autograded
notebook, feedback, report); only this process writes the class gradebook, once per student, as
results arrive. A worker that dies mid-task costs a retry: the scheduler reruns the task elsewhere
and its one result is what gets recorded.
"""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import io
import json
import logging
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from autograder.course.layout import Course, CourseError, Module

# ---- the client side ---------------------------------------------------------------------------------


@contextlib.contextmanager
def cluster_client(spec: str | None) -> Iterator[object | None]:
    """A Dask client for `spec` ("local:N" starts N worker processes here; otherwise the address of a
    running scheduler), or None to grade with local worker processes."""
    if spec is None:
        yield None
        return
    from distributed import Client, LocalCluster

    if spec.startswith("local:"):
        try:
            n = int(spec.split(":", 1)[1])
        except ValueError:
            raise CourseError(f"--cluster {spec!r}: expected local:N, e.g. local:2") from None
        if n < 1:
            raise CourseError(f"--cluster {spec!r}: N must be at least 1")
        # One thread per worker: a worker grades one notebook at a time (the kernel is the work);
        # no Dask memory limit: the sandbox limits each notebook, and Dask would count only the worker.
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                          memory_limit=0, silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(spec, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise CourseError(f"--scheduler {spec}: cannot reach the Dask scheduler ({exc})") from None
    with client:
        yield client


def warm_up(client) -> list:
    """Each worker imports what grading needs (worker.preload) now, while the canary runs, rather than
    in its first task. Keep the futures until the run ends: a released future is cancelled."""
    from autograder.grading.worker import preload

    return [client.submit(preload, pure=False, workers=[address], allow_other_workers=False)
            for address in client.scheduler_info()["workers"]]


def pack_template(course: Course, module: Module, out: Path, package_dir: Path) -> bytes:
    """The per-run template every worker unpacks (see the module docstring)."""
    from autograder.grading.gradebook import db_url, open_gradebook
    from autograder.grading.nbgrader_glue import quiet_nbgrader
    from autograder.grading.pipeline import prepare_assignment

    with tempfile.TemporaryDirectory(prefix="tito-template-") as tmp:
        folder = Path(tmp)
        prepare_assignment(course, module, folder)
        with quiet_nbgrader(), open_gradebook(db_url(out)) as gb, open_gradebook(db_url(folder)) as template:
            template.update_or_create_assignment(module.name, duedate=gb.find_assignment(module.name).duedate)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(course.config_file, arcname="nbgrader_config.py")
            for name in ("source", "release", "gradebook.db"):
                tar.add(folder / name, arcname=name)
            tar.add(package_dir, arcname="package")
        return buffer.getvalue()


def task_for(out: Path, module: Module, student: str, settings: dict, sandbox: str, rejected: str | None,
             late_policy: str) -> dict:
    """One student's task: the staged notebook (pipeline.stage wrote it) and how to grade it."""
    staged = out / "submitted" / student / module.name
    stamp = staged / "timestamp.txt"
    return {"module": module.name, "notebook_name": module.notebook_name, "student": student,
            "notebook": (staged / module.notebook_name).read_text(encoding="utf-8"),
            "timestamp": stamp.read_text(encoding="utf-8") if stamp.is_file() else None,
            "rejected": rejected, "late_policy": late_policy, "sandbox": sandbox,
            "limits": {k: v for k, v in settings.items()
                       if k not in ("mode", "package_dir", "hide", "reference_notebook")}}


def import_result(gradebook, out: Path, module: Module, student: str, result: dict) -> dict:
    """Record one task's result in the class's grading folder; the student's report."""
    from nbgrader.api import MissingEntry

    from autograder.grading import overrides
    from autograder.grading.gradebook import write_snapshot

    report = result["report"]
    manual = overrides.set_aside(gradebook, out, module.name, student)
    for step in ("autograded", "feedback"):
        shutil.rmtree(out / step / student / module.name, ignore_errors=True)
    for rel, data in result["files"].items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    if result["snapshot"] is None:      # grading failed on the worker: no stale score stays behind
        with contextlib.suppress(MissingEntry):
            gradebook.remove_submission(module.name, student)
        return report
    write_snapshot(gradebook, module.name, student, result["snapshot"])
    overrides.put_back(gradebook, module.name, student, manual, report)
    return report


def run_on_cluster(client, course: Course, module: Module, out: Path, students: list[str], settings: dict,
                   sandbox: str, progress: bool, rejected: dict[str, str], late_policy: str) -> dict[str, dict]:
    """Like pipeline.run_workers, with each student a task on the Dask cluster of `client`."""
    from distributed import as_completed
    from tqdm import tqdm

    from autograder.grading.gradebook import db_url, exclusive, open_gradebook
    from autograder.grading.nbgrader_glue import quiet_nbgrader
    from autograder.grading.worker import failure

    template = client.scatter(pack_template(course, module, out, Path(settings["package_dir"])), broadcast=True)
    futures = {}
    for student in students:
        task = task_for(out, module, student, settings, sandbox, rejected.get(student), late_policy)
        futures[client.submit(grade_task, template, task, pure=False, key=f"tito-{module.name}-{student}-"
                              f"{hashlib.sha1(task['notebook'].encode()).hexdigest()[:8]}-{id(task):x}")] = student
    found = {}
    bar = tqdm(total=len(students), desc=f"grading {module.name} on Dask", unit="student",
               disable=None if progress else True, mininterval=1)
    with quiet_nbgrader(), open_gradebook(db_url(out)) as gradebook:
        for future in as_completed(futures):
            student = futures[future]
            try:
                result = future.result()
            except Exception as exc:    # e.g. KilledWorker: its workers died too often; the rest go on
                found[student] = failure({"mode": "dask"}, f"Dask task failed: {type(exc).__name__}: {exc}")
            else:
                with exclusive(db_url(out), shared=True):
                    found[student] = import_result(gradebook, out, module, student, result)
            bar.update(1)
    bar.close()
    return found


# ---- the worker side -------------------------------------------------------------------------------

_ONE_AT_A_TIME = threading.Lock()     # a worker's grading folder serves one task at a time
_FOLDERS: dict[str, Path] = {}
_SESSIONS: dict[str, object] = {}     # worker.Session by folder and settings: built once per run


def unpacked(template: bytes) -> Path:
    """This process's private grading folder for `template` (unpacked on first use)."""
    digest = hashlib.sha256(template).hexdigest()[:16]
    if digest not in _FOLDERS:
        folder = Path(tempfile.mkdtemp(prefix=f"tito-dask-{digest}-"))
        with tarfile.open(fileobj=io.BytesIO(template), mode="r:gz") as tar:
            tar.extractall(folder, filter="data")
        atexit.register(shutil.rmtree, folder, True)
        _FOLDERS[digest] = folder
    return _FOLDERS[digest]


def worker_scratch() -> list[str]:
    """The Dask worker's own folder (spilled data may sit there): hidden from submissions too."""
    try:
        from distributed import get_worker

        return [get_worker().local_directory]
    except (ImportError, ValueError):
        return []


def grade_task(template: bytes, task: dict) -> dict:
    """Runs on a Dask worker: grade one student in this process's grading folder; the grading as data."""
    from autograder.grading.worker import failure

    with _ONE_AT_A_TIME:
        folder = unpacked(template)
        try:
            return grade_in_folder(folder, task)
        except Exception as exc:     # reported as this student's pipeline error, never retried blindly
            return {"report": failure({"mode": task["sandbox"]}, f"on the Dask worker: {type(exc).__name__}: {exc}"),
                    "snapshot": None, "files": {}}
        finally:
            for step in ("submitted", "autograded", "feedback"):
                shutil.rmtree(folder / step / task["student"], ignore_errors=True)


def grade_in_folder(folder: Path, task: dict) -> dict:
    from nbgrader.api import MissingEntry

    from autograder.grading.gradebook import default_db_url, open_gradebook, snapshot
    from autograder.grading.nbgrader_glue import quiet_nbgrader
    from autograder.grading.worker import Session, grade_students
    from autograder.sandbox.launcher import resolve_mode

    module, student, name = task["module"], task["student"], task["notebook_name"]
    staged = folder / "submitted" / student / module
    staged.mkdir(parents=True, exist_ok=True)
    (staged / name).write_text(task["notebook"], encoding="utf-8")
    if task["timestamp"]:
        (staged / "timestamp.txt").write_text(task["timestamp"], encoding="utf-8")
    mode = resolve_mode(task["sandbox"])
    settings = {**task["limits"], "mode": mode, "package_dir": str(folder / "package"),
                "hide": [str(folder), *worker_scratch()], "reference_notebook": str(folder / "source" / module / name)}
    url = default_db_url(folder)
    job = {"module": module, "root": str(folder), "config_file": str(folder / "nbgrader_config.py"), "db_url": url,
           "students": [student], "mode": mode, "settings": settings,
           "rejected": {student: task["rejected"]} if task["rejected"] else {}, "late_policy": task["late_policy"]}
    with quiet_nbgrader(), open_gradebook(url) as gradebook:
        gradebook.update_or_create_student(student)
        key = json.dumps([str(folder), settings, task["late_policy"]], sort_keys=True)
        if key not in _SESSIONS:
            _SESSIONS[key] = Session(job)
        ((_, report),) = list(grade_students(job, gradebook, _SESSIONS[key]))
        try:
            snap = snapshot(gradebook, module, student)
            gradebook.remove_submission(module, student)
        except MissingEntry:
            snap = None
    files = {}
    for step in ("autograded", "feedback"):
        for path in sorted((folder / step / student / module).rglob("*")):
            if path.is_file():
                files[str(path.relative_to(folder))] = path.read_bytes()
    return {"report": report, "snapshot": snap, "files": files}
