"""Execute one submission; runs INSIDE the grading sandbox as `python -I run.py < job.json`.

Two processes judge a notebook. The student's kernel runs every cell the student could change
(solutions, given code, exports). This process, which no student code ever runs in, runs the test
and helper cells (their sources come from the reference notebook in the job, never from the
submission) and decides each test's verdict itself (`trusted.py`). The job arrives on stdin and the
result leaves on the original stdout, which the kernel cannot reach: fd 1 is pointed at /dev/null
before the kernel starts, and this process is made non-dumpable so that its memory and file
descriptors are out of reach of another process of the same user without CAP_SYS_PTRACE.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

sys.modules.setdefault("rfc3987_syntax", None)   # skip a 1 s optional import of jsonschema's
sys.path.insert(0, str(Path(__file__).resolve().parent))   # run with -I: only the library and these files

from kernel_session import KernelSession  # noqa: E402
from report import ExecReport, ExecStatus  # noqa: E402
from trusted import (CellTimeout, Channel, HarnessBroken, Session, failing_line, load_student_side,  # noqa: E402
                     new_namespace, prebind_trusted_names, run_cell)

PR_SET_DUMPABLE = 4
SOCKET_NAME = ".tito-harness.sock"


def make_undumpable() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):   # not Linux: nothing to harden
        pass


def error_output(ename: str, evalue: str) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]}


def line_is_hidden(source: str, line: int) -> bool:
    """Whether line `line` of a test cell lies between the hidden-test markers (the markers of
    autograder/course/constants.py, spelled out: this file runs without the tito package)."""
    hidden = False
    for number, text in enumerate(source.splitlines(), start=1):
        if "BEGIN HIDDEN TESTS" in text:
            hidden = True
        elif "END HIDDEN TESTS" in text:
            hidden = False
        elif number == line:
            return hidden
    return False


def visible_text(source: str, line: int) -> str:
    """`: <the line's code>` if that line of a test is a visible one; hidden tests stay unquoted."""
    lines = source.splitlines()
    if line_is_hidden(source, line) or not 0 < line <= len(lines):
        return ""
    return f": {lines[line - 1].strip()[:160]}"


def mark(cells, ename: str, reason: str) -> None:
    for cell in cells:
        if cell["cell_type"] == "code":
            cell["outputs"].append(error_output(ename, reason))


def cell_name(cell, index: int) -> str:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or cell.get("id") or f"#{index}"


class Alarm:
    """Raises CellTimeout in this process's own code at `deadline` (remote waits time out by themselves)."""

    def __init__(self, deadline: float):
        self.deadline = deadline

    def __enter__(self):
        def expire(signum, frame):
            raise CellTimeout()
        signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, max(0.01, self.deadline - time.monotonic()))

    def __exit__(self, *exc):
        signal.setitimer(signal.ITIMER_REAL, 0)


class Runner:
    def __init__(self, job: dict):
        limits = job["limits"]
        self.cell_timeout = float(limits["cell_timeout"])
        self.notebook_timeout = float(limits["notebook_timeout"])
        self.deadline = time.monotonic() + self.notebook_timeout
        self.trusted = job["trusted"]
        self.report = ExecReport()
        self.stop_reason = ""       # why the kernel is gone, for the cells that could not run
        self.namespace = new_namespace()
        prebind_trusted_names(self.namespace, job.get("given_sources", []))
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.socket_path = str(Path.cwd() / SOCKET_NAME)
        Path(self.socket_path).unlink(missing_ok=True)
        self.listener.bind(self.socket_path)
        self.listener.listen(1)
        self.kernel = KernelSession(os.getcwd(), dict(os.environ), int(limits["output_chars"]), job["kernel_args"])
        bootstrap = ("import sys as _s, types as _t\n_m = _t.ModuleType('_tito_student_side')\n"
                     f"exec({load_student_side()!r}, _m.__dict__)\n_s.modules['_tito_student_side'] = _m\n"
                     "del _s, _t, _m")
        started = self.kernel.run(bootstrap, timeout=60, silent=True)
        if any(o.get("output_type") == "error" for o in started.outputs) or not self.kernel.alive:
            raise RuntimeError("the grading harness could not start in the kernel")

    def run(self, nb) -> None:
        cells = nb["cells"]
        for index, cell in enumerate(cells):
            if cell["cell_type"] != "code":
                continue
            name = cell_name(cell, index)
            if time.monotonic() >= self.deadline:
                reason = f"the notebook ran longer than {self.notebook_timeout:g} s; cells from {name} on not run"
                self.report.add(ExecStatus.TIMEOUT, reason)
                mark(cells[index:], "NotebookTimeout", reason)
                return
            role = self.trusted.get(name, {}).get("role")
            started = time.monotonic()
            alive = self.run_in_kernel(cell, name) if role != "test" else True
            if alive and role in ("test", "helper"):
                alive = self.run_trusted(cell, name, role)
            self.report.cell_seconds[name] = round(time.monotonic() - started, 3)
            if not alive:
                mark(cells[index + 1:], "NotRun", self.stop_reason)
                return

    def cell_deadline(self) -> float:
        return min(time.monotonic() + self.cell_timeout, self.deadline)

    def run_in_kernel(self, cell, name: str) -> bool:
        """Run a cell in the student's kernel; False if the kernel is gone afterwards."""
        result = self.kernel.wait(self.kernel.start(cell["source"]), self.cell_deadline())
        cell["outputs"], cell["execution_count"] = result.outputs, result.execution_count
        return self.judge_kernel_run(cell, name, result)

    def judge_kernel_run(self, cell, name: str, result) -> bool:
        if result.truncated:
            self.report.add(ExecStatus.OK, f"output of cell {name} truncated")
        if any(o.get("ename") == "MemoryError" for o in cell["outputs"]):
            self.report.add(ExecStatus.MEMORY, f"cell {name} exceeded the memory limit")
        if result.killed:
            reason = (f"cell {name} was stopped after {self.cell_timeout:g} s but ignored the interrupt, so "
                      f"its kernel was killed {self.kernel.grace:g} s later; later cells not run")
            self.report.add(ExecStatus.CELL_TIMEOUT, reason)
            cell["outputs"].append(error_output("CellTimeout", reason))
            self.stop_reason = reason
            return False
        if result.died:
            reason = f"kernel died in cell {name} (crash, os._exit or memory); later cells not run"
            self.report.add(ExecStatus.KERNEL_DIED, reason)
            cell["outputs"].append(error_output("KernelDied", reason))
            self.stop_reason = reason
            return False
        if result.timed_out:
            self.report.add(ExecStatus.CELL_TIMEOUT, f"cell {name} was stopped after {self.cell_timeout:g} s")
        return True

    def run_trusted(self, cell, name: str, role: str) -> bool:
        """Run a test or helper cell here, talking to the kernel; the verdict is this process's."""
        source, label = self.trusted[name]["source"], f"<{role} {name}>"
        deadline = self.cell_deadline()
        msg_id = self.kernel.start(f"import _tito_student_side as _s; _s.serve({self.socket_path!r})", silent=True)
        verdict, printed = None, ""
        try:
            self.listener.settimeout(max(0.1, min(10.0, deadline - time.monotonic())))
            conn, _ = self.listener.accept()
        except (socket.timeout, OSError):
            conn, verdict = None, error_output("HarnessError", "the notebook's kernel did not answer the grader "
                                                             "(was the kernel busy, or the harness removed?)")
        if conn is not None:
            verdict, printed, line = self.judge(conn, source, label, deadline)
            if verdict is not None:   # a failure at a hidden line means the visible tests above it passed
                self.report.failed_part[name] = "hidden" if line and line_is_hidden(source, line) else "visible"
        student = self.kernel.wait(msg_id, max(deadline, time.monotonic() + 0.5))
        outputs = [o for o in student.outputs if o.get("output_type") != "error"]
        if printed:
            outputs.append({"output_type": "stream", "name": "stdout", "text": printed})
        if verdict is not None:
            outputs.append(verdict)
        cell["outputs"], cell["execution_count"] = outputs, None
        if verdict is not None and verdict["ename"] == "CellTimeout":
            self.report.add(ExecStatus.CELL_TIMEOUT, f"test {name} was stopped after {self.cell_timeout:g} s")
        return self.judge_kernel_run(cell, name, student) if (student.killed or student.died) else True

    def judge(self, conn, source: str, label: str, deadline: float):
        channel = Channel(conn, deadline)
        Session.channel = channel
        printed, verdict, line = "", None, None
        try:
            with Alarm(deadline):
                printed = run_cell(source, self.namespace, label)
        except CellTimeout:
            verdict = error_output("CellTimeout", f"the test did not finish within {self.cell_timeout:g} s")
        except HarnessBroken as exc:
            verdict = error_output("HarnessError", str(exc))
        except BaseException as exc:   # the test failed: say how, and where
            line = failing_line(exc, label)
            where = f" (test line {line}{visible_text(source, line)})" if line else ""
            message = str(exc) or "(assert without a message)"
            verdict = error_output(type(exc).__name__, f"{message}{where}")
        finally:
            Session.channel = None
            try:
                channel.deadline = time.monotonic() + 1
                channel.done()
            except Exception:
                pass
            conn.close()
        return verdict, printed, line


def main() -> int:
    make_undumpable()
    result = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)   # the kernel inherits fd 1; it must not be able to forge our result
    job = json.loads(sys.stdin.read())
    nb = job["notebook"]
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    runner = None
    try:
        runner = Runner(job)
        runner.run(nb)
        report = runner.report
    except Exception as exc:   # the kernel could not even start: record it, do not crash
        report = ExecReport(ExecStatus.ERROR, f"execution failed: {type(exc).__name__}: {exc}"[:500])
        mark([c for c in nb["cells"] if not c.get("outputs")], "ExecutionFailed", report.reason)
    finally:
        if runner is not None:
            runner.kernel.close()
    result.write(json.dumps({"notebook": nb, "report": report.to_json()}))
    result.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
