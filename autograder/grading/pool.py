"""Local grading workers that take one student at a time.

Each worker is a subprocess (`python -m autograder.grading.worker job.json`, worker.py). It imports
nbgrader as soon as it starts, then reads student ids on its stdin, one per line, and answers each
with one JSON line on its stdout. The pool hands the next student to whichever worker answers
first, so notebooks of very different cost (a complete one runs every cell, an untouched one stops
at the first stub) never leave one worker with the whole tail while the others idle, and a worker
that dies costs the student it was grading, not a fixed share of the class.

The pool can be started before the grading folder exists (`tito grade` starts it while the canary
runs): a worker opens the gradebook only when its first student arrives, and a pool cancelled before
that leaves nothing behind.
"""
from __future__ import annotations

import contextlib
import json
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import deque
from pathlib import Path

from autograder.course.layout import Course, Module
from autograder.grading.gradebook import db_url


def worker_job(course: Course, module: Module, out: Path, settings: dict, rejected: dict[str, str],
               late_policy: str) -> dict:
    """What every worker needs besides the students (worker.py reads it)."""
    return {"module": module.name, "root": str(out.resolve()), "config_file": str(course.config_file),
            "db_url": db_url(out), "students": [], "mode": settings["mode"], "settings": settings,
            "rejected": rejected, "late_policy": late_policy}


class WorkerPool:
    """`size` worker processes for one grading folder; `grade(students)` once, or `cancel()`.
    `command`: the worker program (tests put a stand-in there), given the job file's path."""

    def __init__(self, job: dict, size: int, command: list[str] | None = None):
        self.jobs_dir = Path(tempfile.mkdtemp(prefix="tito-jobs-"))
        path = self.jobs_dir / "job.json"
        path.write_text(json.dumps(job))
        self.events: queue.Queue = queue.Queue()     # (worker index, report or None when it ended)
        self.workers = []
        for i in range(max(1, size)):
            log = open(self.jobs_dir / f"worker{i}.log", "w")
            proc = subprocess.Popen([*(command or [sys.executable, "-m", "autograder.grading.worker"]), str(path)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                    cwd=self.jobs_dir, text=True)
            other: list[str] = []
            threading.Thread(target=self._read, args=(i, proc, other), daemon=True).start()
            self.workers.append((proc, log, other))

    def _read(self, index: int, proc: subprocess.Popen, other: list[str]) -> None:
        """A worker's stdout: one JSON line per graded student; anything else is kept for its log."""
        for line in proc.stdout:
            try:
                report = json.loads(line)
            except json.JSONDecodeError:
                report = None
            if isinstance(report, dict) and "student" in report:
                self.events.put((index, report))
            else:
                other.append(line)
        self.events.put((index, None))

    def _give(self, index: int, pending: deque) -> None:
        """The next pending student to worker `index`; with none left, close its stdin (it exits)."""
        stdin = self.workers[index][0].stdin
        if not pending:
            with contextlib.suppress(OSError):
                stdin.close()
            return
        student = pending.popleft()
        try:
            stdin.write(student + "\n")
            stdin.flush()
        except OSError:     # it died: its end-of-output event follows; the student waits for another worker
            pending.appendleft(student)

    def grade(self, students: list[str], progress: bool = True, desc: str = "grading") -> dict[str, dict]:
        """Each student's report (status, reason, sandbox, ...) by id, as the workers sent them back; a
        student missing here was never reported (its worker died while grading it, or every worker did)."""
        from tqdm import tqdm

        pending, found = deque(students), {}
        for i in range(len(self.workers)):
            self._give(i, pending)
        running = set(range(len(self.workers)))
        bar = tqdm(total=len(students), desc=desc, unit="student", disable=None if progress else True, mininterval=1)
        while running:
            index, report = self.events.get()
            if report is None:
                running.discard(index)
                continue
            found[report.pop("student")] = report
            bar.update(1)
            self._give(index, pending)
        bar.close()
        self._finish()
        return found

    def cancel(self) -> None:
        """Stop the workers before they grade anyone (they exit when their stdin closes)."""
        for proc, _, _ in self.workers:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        self._finish(quiet=True)

    def _finish(self, quiet: bool = False) -> None:
        for i, (proc, log, other) in enumerate(self.workers):
            proc.wait()
            log.close()
            if proc.returncode != 0 and not quiet:   # its student is reported as a pipeline error; say why
                text = "".join(other) + (self.jobs_dir / f"worker{i}.log").read_text(errors="replace")
                tail = text.strip().splitlines()[-15:]
                print(f"grading worker {i} exited {proc.returncode}:\n  " + "\n  ".join(tail), file=sys.stderr)
        shutil.rmtree(self.jobs_dir, ignore_errors=True)
