"""The student's kernel, driven over the Jupyter messaging protocol with hard time limits.

A cell that outlives its timeout is interrupted; if it is still running `grace` seconds later (a loop
that catches KeyboardInterrupt, say), the kernel is killed. Either way the caller learns it from the
`CellRun` and the kernel's later cells are not run.

The client is the protocol's small core, spoken directly over ZeroMQ (messages signed with
HMAC-SHA256; a shell socket for requests, an IOPub socket for outputs), as jupyter_client does it:
the kernel is launched, interrupted and killed as jupyter_client's local provisioner does. Importing
jupyter_client (and, through its kernel-spec lookup, IPython) cost this process more CPU than
everything else it does for a notebook.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import zmq

OUTPUT_MESSAGES = {"stream", "display_data", "execute_result", "error"}
DELIMITER = b"<IDS|MSG>"
PROTOCOL_VERSION = "5.3"
CHANNELS = ("shell", "iopub", "stdin", "control", "hb")


@dataclass
class CellRun:
    outputs: list = field(default_factory=list)
    execution_count: int | None = None
    timed_out: bool = False       # interrupted at the cell timeout
    killed: bool = False          # still running after the grace period: the kernel was killed
    died: bool = False            # the kernel died on its own
    truncated: bool = False


def _strings(value) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _json_type(mime: str) -> bool:
    return mime == "application/json" or (mime.startswith("application/") and mime.endswith("+json"))


def _well_formed(kind: str, content: dict) -> bool:
    """Whether an output message has the fields and types nbformat's output schema requires."""
    if kind == "stream":
        return isinstance(content.get("name"), str) and _strings(content.get("text"))
    if kind == "error":
        return (isinstance(content.get("ename"), str) and isinstance(content.get("evalue"), str)
                and isinstance(content.get("traceback"), list) and _strings(content["traceback"]))
    data, metadata = content.get("data"), content.get("metadata", {})
    return (isinstance(data, dict) and isinstance(metadata, dict) and all(
        isinstance(mime, str) and (_json_type(mime) or _strings(value)) for mime, value in data.items()))


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


def free_ports(count: int) -> list[int]:
    """Loopback ports free right now (jupyter_client picks its kernels' ports the same way)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Wire:
    """Signed Jupyter messages: serialising, signing, and checking what comes back."""

    def __init__(self):
        self.key = secrets.token_hex(32).encode("ascii")
        self.session = uuid.uuid4().hex

    def sign(self, parts: list[bytes]) -> bytes:
        mac = hmac.new(self.key, digestmod=hashlib.sha256)
        for part in parts:
            mac.update(part)
        return mac.hexdigest().encode("ascii")

    def send(self, sock: zmq.Socket, msg_type: str, content: dict) -> str:
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": msg_type, "session": self.session, "username": "tito",
                  "date": datetime.now(timezone.utc).isoformat(), "version": PROTOCOL_VERSION}
        parts = [json.dumps(p).encode("utf-8") for p in (header, {}, {}, content)]
        sock.send_multipart([DELIMITER, self.sign(parts), *parts])
        return msg_id

    def receive(self, sock: zmq.Socket) -> dict | None:
        """The next message on `sock` (which has one waiting), or None if it is unsigned or unreadable."""
        frames = sock.recv_multipart()
        try:
            at = frames.index(DELIMITER)
            signature, parts = frames[at + 1], frames[at + 2:at + 6]
            if len(parts) < 4 or not hmac.compare_digest(signature, self.sign(parts)):
                return None
            header, parent, _, content = (json.loads(p) for p in parts)
        except (ValueError, IndexError, RecursionError):   # the kernel runs student code: frames can be anything
            return None
        if not (isinstance(header, dict) and isinstance(parent, dict) and isinstance(content, dict)):
            return None
        return {"msg_type": header.get("msg_type"), "parent_id": parent.get("msg_id"), "content": content}


class KernelSession:
    def __init__(self, cwd: str, env: dict, output_chars: int, kernel_args: list[str], grace: float = 3.0):
        """`kernel_args` come in the job (autograder/course/constants.py: this folder imports nothing of tito)."""
        self.output_chars, self.grace = output_chars, grace
        self.wire = Wire()
        ports = dict(zip(CHANNELS, free_ports(len(CHANNELS))))
        self.connection_file = Path(cwd) / f".tito-kernel-{uuid.uuid4().hex[:8]}.json"
        self.connection_file.write_text(json.dumps({
            **{f"{name}_port": port for name, port in ports.items()}, "ip": "127.0.0.1", "transport": "tcp",
            "key": self.wire.key.decode("ascii"), "signature_scheme": "hmac-sha256", "kernel_name": "python3"}))
        # This interpreter's ipykernel, whatever kernel specs are installed: the grader's own Python,
        # the one the canary proved. Its own session, so that an interrupt reaches the kernel and
        # its children and never this process; JPY_PARENT_PID makes it exit if this process dies.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ipykernel_launcher", "-f", str(self.connection_file), *kernel_args],
            cwd=cwd, env={**env, "JPY_PARENT_PID": str(os.getpid())}, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, start_new_session=True)
        self.alive = True
        self.context = zmq.Context()
        self.shell = self._connect(zmq.DEALER, ports["shell"])
        self.iopub = self._connect(zmq.SUB, ports["iopub"])
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self._wait_for_ready(time.monotonic() + 60)

    def _connect(self, kind: int, port: int) -> zmq.Socket:
        sock = self.context.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(f"tcp://127.0.0.1:{port}")
        return sock

    def _wait_for_ready(self, deadline: float) -> None:
        """Until the kernel answers kernel_info on the shell socket AND its IOPub messages reach us
        (a subscription takes a moment to start; outputs sent before that would be lost)."""
        asked = set()     # requests queue up while the kernel starts: a reply to any of them will do
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the kernel exited at start (exit {self.process.returncode})")
            asked.add(self.wire.send(self.shell, "kernel_info_request", {}))
            answered = False
            while self.shell.poll(1000 if not answered else 0):
                reply = self.wire.receive(self.shell)
                answered = answered or (reply is not None and reply["parent_id"] in asked)
            if answered and self.iopub.poll(200):
                while self.iopub.poll(0):     # what the kernel said before we listened
                    self.iopub.recv_multipart()
                return
        raise RuntimeError("the kernel did not become ready within 60 s")

    def start(self, code: str, silent: bool = False) -> str:
        return self.wire.send(self.shell, "execute_request", {
            "code": code, "silent": silent, "store_history": not silent, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True})

    def run(self, code: str, timeout: float, silent: bool = False) -> CellRun:
        return self.wait(self.start(code, silent), time.monotonic() + timeout)

    def is_alive(self) -> bool:
        return self.process.poll() is None

    def interrupt(self) -> None:
        self._signal(signal.SIGINT)

    def wait(self, msg_id: str, deadline: float) -> CellRun:
        """Collect a request's outputs until the kernel is idle again, enforcing `deadline`."""
        run, size, interrupted_at = CellRun(), 0, None
        try:
            while True:
                now = time.monotonic()
                if interrupted_at is None and now >= deadline:
                    run.timed_out, interrupted_at = True, now
                    self.interrupt()
                if interrupted_at is not None and now >= interrupted_at + self.grace:
                    run.killed = True
                    self.kill()
                    return run
                if not self.iopub.poll(200):
                    if not self.is_alive():
                        run.died, self.alive = True, False
                        return run
                    continue
                msg = self.wire.receive(self.iopub)
                if msg is None or msg["parent_id"] != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "status" and content.get("execution_state") == "idle":
                    return run
                if kind == "execute_input":
                    count = content.get("execution_count")
                    run.execution_count = count if isinstance(count, int) else None
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
        finally:
            self._drop_replies()

    def _drop_replies(self) -> None:
        """Shell replies are not needed (IOPub carries the outputs and the idle status): discard them."""
        while self.alive and self.shell.poll(0):
            self.shell.recv_multipart()

    def _signal(self, signum: int) -> None:
        try:
            os.killpg(self.process.pid, signum)   # the kernel's session: the kernel and its children
        except (ProcessLookupError, PermissionError):
            pass

    def kill(self) -> None:
        self.alive = False
        self._signal(signal.SIGKILL)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        try:
            self.context.destroy(linger=0)
        finally:
            if self.alive:
                self.kill()
            self.connection_file.unlink(missing_ok=True)
