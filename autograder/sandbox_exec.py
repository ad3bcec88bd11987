"""Execute one notebook in a fresh kernel; runs INSIDE the grading sandbox.

Self-contained on purpose (only nbformat and nbclient): the sandbox hides the course, so this file
is bind-mounted on its own. The executed notebook goes to the original stdout, which the kernel
cannot reach (stdout is re-pointed at /dev/null before the kernel starts). Every way a notebook
can go wrong ends as error outputs in the cells concerned plus a reason in
`metadata.tinytorch_execution`, never as a missing result.
"""
import argparse
import json
import os
import sys
import time

# Same reason as in autograder/__init__.py: skip a 1 s optional import of jsonschema's.
sys.modules.setdefault("rfc3987_syntax", None)

SEVERITY = ["ok", "cell_timeout", "memory", "timeout", "kernel_died"]
KERNEL_ARGS = ["--InteractiveShell.xmode=Minimal", "--HistoryManager.hist_file=:memory:",
               "--IPKernelApp.log_level=ERROR"]


def error_output(ename, reason):
    from nbformat import from_dict

    return from_dict({"output_type": "error", "ename": ename, "evalue": reason, "traceback": [f"{ename}: {reason}"]})


def mark(cells, ename, reason):
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs.append(error_output(ename, reason))


def capped_client_class(output_chars):
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """Drops output past `output_chars` per cell, so a flood cannot exhaust memory."""

        sizes = {}
        truncated = set()

        def output(self, outs, msg, display_id, cell_index):
            if msg["msg_type"] == "error":
                return super().output(outs, msg, display_id, cell_index)
            size = self.sizes.get(cell_index, 0)
            if size > output_chars:
                return None
            self.sizes[cell_index] = size + len(json.dumps(msg.get("content", {})))
            if self.sizes[cell_index] > output_chars:
                self.truncated.add(cell_index)
                note = {"output_type": "stream", "name": "stdout",
                        "text": f"\n[output truncated: more than {output_chars} characters]\n"}
                from nbformat import from_dict
                outs.append(from_dict(note))
                return None
            return super().output(outs, msg, display_id, cell_index)

    return CappedClient


def run(nb, cell_timeout, notebook_timeout, output_chars):
    from nbclient.exceptions import DeadKernelError

    problems = []   # (status, reason), in the order they happened
    client = capped_client_class(output_chars)(
        nb, timeout=cell_timeout, interrupt_on_timeout=True, allow_errors=True,
        kernel_name="python3", extra_arguments=KERNEL_ARGS, record_timing=False,
        resources={"metadata": {"path": os.getcwd()}})
    deadline = time.monotonic() + notebook_timeout
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            name = cell.get("id", index)
            if time.monotonic() > deadline:
                reason = f"notebook ran longer than {notebook_timeout} s; cells from {name} on not run"
                problems.append(("timeout", reason))
                mark(nb.cells[index:], "NotebookTimeout", reason)
                break
            started = time.monotonic()
            try:
                client.execute_cell(cell, index)
            except DeadKernelError:
                reason = f"kernel died in cell {name} (crash, os._exit or memory)"
                problems.append(("kernel_died", reason))
                mark(nb.cells[index:], "KernelDied", reason)
                break
            if time.monotonic() - started >= cell_timeout:
                problems.append(("cell_timeout", f"cell {name} was stopped after {cell_timeout} s"))
            if any(o.get("ename") == "MemoryError" for o in cell.get("outputs", [])):
                problems.append(("memory", f"cell {name} exceeded the memory limit"))
            if index in client.truncated:
                problems.append(("ok", f"output of cell {name} truncated at {output_chars} characters"))
    status = max((s for s, _ in problems), key=SEVERITY.index, default="ok")
    return {"status": status, "reason": "; ".join(reason for _, reason in problems)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("notebook")
    parser.add_argument("--cell-timeout", type=int, default=30)
    parser.add_argument("--notebook-timeout", type=int, default=300)
    parser.add_argument("--output-chars", type=int, default=100_000)
    args = parser.parse_args()

    result = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)   # the kernel inherits fd 1; it must not be able to forge our result

    import nbformat

    nb = nbformat.read(args.notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    try:
        report = run(nb, args.cell_timeout, args.notebook_timeout, args.output_chars)
    except Exception as exc:  # the kernel could not even start: record it, do not crash
        report = {"status": "error", "reason": f"execution failed: {type(exc).__name__}: {exc}"[:500]}
        mark([c for c in nb.cells if not c.get("outputs")], "ExecutionFailed", report["reason"])
    nb.metadata["tinytorch_execution"] = report
    result.write(nbformat.writes(nb))
    result.close()


if __name__ == "__main__":
    sys.exit(main())
