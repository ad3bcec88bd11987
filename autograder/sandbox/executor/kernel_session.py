"""The student's kernel, driven over the Jupyter protocol with hard time limits.

A cell that outlives its timeout is interrupted; if it is still running `grace` seconds later (a loop
that catches KeyboardInterrupt, say), the kernel is killed. Either way the caller learns it from the
`CellRun` and the kernel's later cells are not run.
"""
from __future__ import annotations

import json
import queue
import time
from dataclasses import dataclass, field

from jupyter_client import KernelManager
from nbformat import from_dict
from nbformat.v4 import output_from_msg

OUTPUT_MESSAGES = {"stream", "display_data", "execute_result", "error"}


@dataclass
class CellRun:
    outputs: list = field(default_factory=list)
    execution_count: int | None = None
    timed_out: bool = False       # interrupted at the cell timeout
    killed: bool = False          # still running after the grace period: the kernel was killed
    died: bool = False            # the kernel died on its own
    truncated: bool = False


class KernelSession:
    def __init__(self, cwd: str, env: dict, output_chars: int, kernel_args: list[str], grace: float = 3.0):
        """`kernel_args` come in the job (autograder/course/constants.py: this folder imports nothing of tito)."""
        self.output_chars, self.grace = output_chars, grace
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=cwd, env=env, extra_arguments=list(kernel_args))
        self.kc = self.km.blocking_client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.alive = True

    def start(self, code: str, silent: bool = False) -> str:
        return self.kc.execute(code, silent=silent, store_history=not silent, allow_stdin=False)

    def run(self, code: str, timeout: float, silent: bool = False) -> CellRun:
        return self.wait(self.start(code, silent), time.monotonic() + timeout)

    def wait(self, msg_id: str, deadline: float) -> CellRun:
        """Collect a request's outputs until the kernel is idle again, enforcing `deadline`."""
        run, size, interrupted_at = CellRun(), 0, None
        while True:
            now = time.monotonic()
            if interrupted_at is None and now >= deadline:
                run.timed_out, interrupted_at = True, now
                self.km.interrupt_kernel()
            if interrupted_at is not None and now >= interrupted_at + self.grace:
                run.killed = True
                self.kill()
                return run
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                if not self.km.is_alive():
                    run.died, self.alive = True, False
                    return run
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                return run
            if kind == "execute_input":
                run.execution_count = content.get("execution_count")
            elif kind == "clear_output":
                run.outputs.clear()
            elif kind in OUTPUT_MESSAGES:
                size += len(json.dumps(content))
                if size > self.output_chars:
                    if not run.truncated:
                        run.truncated = True
                        run.outputs.append(from_dict({"output_type": "stream", "name": "stdout",
                                                      "text": f"\n[output truncated: more than {self.output_chars} characters]\n"}))
                    if kind != "error":
                        continue
                run.outputs.append(output_from_msg(msg))

    def kill(self) -> None:
        self.alive = False
        try:
            self.km.shutdown_kernel(now=True)
        except Exception:   # already gone
            pass

    def close(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            if self.alive:
                self.kill()
