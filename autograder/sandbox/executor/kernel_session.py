"""The student's kernel, driven over the Jupyter protocol with hard time limits.

A cell that outlives its timeout is interrupted; if it is still running `grace` seconds later (a loop
that catches KeyboardInterrupt, say), the kernel is killed. Either way the caller learns it from the
`CellRun` and the kernel's later cells are not run.
"""
from __future__ import annotations

import json
import queue
import sys
import time
from dataclasses import dataclass, field

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

OUTPUT_MESSAGES = {"stream", "display_data", "execute_result", "error"}


class ThisPythonsKernel(KernelSpecManager):
    """The kernel is always this interpreter's ipykernel, whatever kernel specs are installed: the
    grader's own Python, the one the canary proved. (Looking specs up on disk would also import
    IPython into this process: a third of its CPU per notebook.)"""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                          display_name="Python 3 (ipykernel)", language="python", name=kernel_name)


def _strings(value) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _well_formed(kind: str, content: dict) -> bool:
    """Whether an output message has the fields and types nbformat's output schema requires."""
    if kind == "stream":
        return isinstance(content.get("name"), str) and _strings(content.get("text"))
    if kind == "error":
        return (isinstance(content.get("ename"), str) and isinstance(content.get("evalue"), str)
                and isinstance(content.get("traceback"), list) and _strings(content["traceback"]))
    data, metadata = content.get("data"), content.get("metadata", {})
    json_type = lambda mime: mime == "application/json" or (mime.startswith("application/") and mime.endswith("+json"))
    return (isinstance(data, dict) and isinstance(metadata, dict) and all(
        isinstance(mime, str) and (json_type(mime) or _strings(value)) for mime, value in data.items()))


def output_from_msg(kind: str, content: dict) -> dict:
    """The notebook output (nbformat 4) for an IOPub output message, as a plain dict; a malformed one
    (a kernel can publish anything) becomes a stream saying so, never a notebook nbformat rejects."""
    if not _well_formed(kind, content):
        return {"output_type": "stream", "name": "stderr", "text": f"[a malformed {kind} output was dropped]\n"}
    if kind == "stream":
        return {"output_type": "stream", "name": content["name"], "text": content["text"]}
    if kind == "error":
        return {"output_type": "error", "ename": content["ename"], "evalue": content["evalue"],
                "traceback": content["traceback"]}
    output = {"output_type": kind, "data": content["data"], "metadata": content.get("metadata", {})}
    if kind == "execute_result":
        count = content.get("execution_count")
        output["execution_count"] = count if isinstance(count, int) else None
    return output


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
        self.km = KernelManager(kernel_name="python3", kernel_spec_manager=ThisPythonsKernel())
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
                        run.outputs.append({"output_type": "stream", "name": "stdout",
                                            "text": f"\n[output truncated: more than {self.output_chars} characters]\n"})
                    if kind != "error":
                        continue
                run.outputs.append(output_from_msg(kind, content))

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
