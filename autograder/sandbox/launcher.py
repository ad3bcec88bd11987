"""Running untrusted notebooks: resource limits always, bubblewrap isolation when available.

Modes: "bubblewrap" (no network, read-only system, course/gradebook/other students hidden, only
its own work folder writable) or "none" (resource limits only). `--sandbox required` refuses to
grade without bubblewrap.
"""
from __future__ import annotations

import atexit
import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.course.constants import KERNEL_ARGS
from autograder.course.layout import CourseError
from autograder.sandbox.executor.report import ExecReport, ExecStatus
from autograder.sandbox.limits import Limits

EXECUTOR_DIR = Path(__file__).with_name("executor")
INSIDE_WORK, INSIDE_PKG, INSIDE_TOOL = "/tmp/work", "/tmp/pkg", "/tmp/tito/executor"


@functools.cache
def bubblewrap_works() -> bool:
    if not shutil.which("bwrap"):
        return False
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                            "--unshare-net", "--unshare-pid", "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


def resolve_mode(requested: str) -> str:
    if requested == "off":
        return "none"
    if bubblewrap_works():
        return "bubblewrap"
    if requested == "required":
        raise CourseError("--sandbox required, but bubblewrap (bwrap) is missing or cannot create "
                          "namespaces here; install Debian's `bubblewrap` or use --sandbox auto")
    return "none"


def child_limits(limits: Limits):
    def apply() -> None:
        mem = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        size = limits.file_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


@functools.cache
def matplotlib_font_cache() -> Path | None:
    """matplotlib's font list, built once per grading process: a fresh kernel would otherwise spend
    a second or more rebuilding it in every notebook that plots."""
    cache = Path(tempfile.mkdtemp(prefix="tito-mplcache-"))
    atexit.register(shutil.rmtree, cache, True)
    build = subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], capture_output=True,
                           env={**os.environ, "MPLCONFIGDIR": str(cache)}, timeout=120)
    return cache if build.returncode == 0 else None


def seed_matplotlib_cache(home: Path) -> None:
    cache = matplotlib_font_cache()
    if cache is not None:
        shutil.copytree(cache, home / ".matplotlib", dirs_exist_ok=True)


def base_env(home: str, pkg: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "PYTHONPATH": pkg,
           "MPLCONFIGDIR": f"{home}/.matplotlib", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "JUPYTER_PLATFORM_DIRS": "1"}
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "VIRTUAL_ENV"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


# Readable by the grader (often root) but none of a submission's business: its output comes back
# to the student as feedback, so anything it can read it can exfiltrate.
PRIVATE_DIRS = ["/root", "/home", "/etc/ssh", "/var/lib", "/var/log"]
PRIVATE_FILES = ["/etc/shadow", "/etc/gshadow"]


def python_dirs() -> list[Path]:
    """Where this Python and its packages live (kept visible when their parent is hidden)."""
    import site

    dirs = {Path(sys.base_prefix), Path(sys.prefix), *map(Path, site.getsitepackages()),
            Path(sys.executable).parent, Path(sys.executable).resolve().parent}
    user_site = Path(site.getusersitepackages())
    if user_site.is_dir():
        dirs.add(user_site)
    return sorted(d.resolve() for d in dirs if d.is_dir())


def bubblewrap_command(work: Path, pkg: Path, hide: list[Path], env: dict[str, str]) -> list[str]:
    cmd = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    private = [Path(d) for d in PRIVATE_DIRS] + [Path.home()]
    for path in [*private, *hide]:   # home folders, the course, the gradebook, other students' work
        if path.exists():
            cmd += ["--tmpfs", str(path.resolve())]
    for path in PRIVATE_FILES:
        if Path(path).exists():
            cmd += ["--ro-bind", "/dev/null", path]
    masked = [Path("/tmp"), *(p.resolve() for p in [*private, *hide] if p.exists())]
    for path in python_dirs():       # put back, read-only, what the interpreter needs, wherever it lives
        if any(path.is_relative_to(m) for m in masked):
            cmd += ["--ro-bind", str(path), str(path)]
    cmd += ["--bind", str(work), INSIDE_WORK, "--ro-bind", str(pkg), INSIDE_PKG,
            "--ro-bind", str(EXECUTOR_DIR), INSIDE_TOOL]
    # The empty tmpfs mounts become read-only too: the work folder is the only place to write.
    for path in ["/tmp", *private, *hide]:
        if Path(path).exists():
            cmd += ["--remount-ro", str(Path(path).resolve())]
    # No capabilities: the kernel cannot ptrace the executor or read its memory and descriptors.
    cmd += ["--cap-drop", "ALL", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--die-with-parent", "--new-session", "--clearenv", "--chdir", INSIDE_WORK]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return cmd


@dataclass
class Execution:
    notebook: nbformat.NotebookNode
    status: ExecStatus
    reason: str
    cell_seconds: dict = field(default_factory=dict)
    failed_part: dict = field(default_factory=dict)


def failed_copy(nb: nbformat.NotebookNode, status: ExecStatus, reason: str) -> Execution:
    """The notebook with every code cell marked as failed for `reason`."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.from_dict({"output_type": "error", "ename": "NotGraded",
                                                "evalue": reason, "traceback": [f"NotGraded: {reason}"]})]
    return Execution(nb, status, reason)


@dataclass
class TrustedCells:
    """What the executor takes from the reference notebook, never from the submission."""

    roles: dict[str, dict]        # grade_id -> {"role": "test" | "helper", "source": ...}
    given_sources: list[str]      # given and exported code, read for its library imports and constants

    @classmethod
    def from_reference(cls, reference: nbformat.NotebookNode) -> "TrustedCells":
        roles, given = {}, []
        for cell in reference.cells:
            if cell.cell_type != "code":
                continue
            meta = cell.metadata.get("nbgrader", {})
            role = "test" if meta.get("grade") else cell.metadata.get("tinytorch", {}).get("role")
            if role in ("test", "helper"):
                roles[meta["grade_id"]] = {"role": role, "source": cell.source}
            elif not meta.get("solution"):
                given.append(cell.source)
        return cls(roles, given)


def execute_untrusted(nb: nbformat.NotebookNode, trusted: TrustedCells, work: Path, pkg: Path, mode: str,
                      limits: Limits, hide: list[Path]) -> Execution:
    """Run `nb` in `work` (which it may write), importing the package folder `pkg`.

    The job (notebook, trusted cells, limits) goes to the executor on stdin, so nothing of it is a
    file the student's kernel could read; the result comes back on the executor's stdout.
    """
    work.mkdir(parents=True, exist_ok=True)
    seed_matplotlib_cache(work)
    job = {"notebook": nb, "trusted": trusted.roles, "given_sources": trusted.given_sources,
           "limits": limits.to_job(), "kernel_args": KERNEL_ARGS}
    if mode == "bubblewrap":
        env = base_env(INSIDE_WORK, INSIDE_PKG)
        cmd = bubblewrap_command(work, pkg, hide, env) + [sys.executable, "-I", f"{INSIDE_TOOL}/run.py"]
        popen_env = None
    else:
        env = base_env(str(work), str(pkg))
        cmd, popen_env = [sys.executable, "-I", str(EXECUTOR_DIR / "run.py")], env
    wall = limits.notebook_timeout + limits.cell_timeout + 60
    proc = subprocess.Popen(cmd, cwd=work, env=popen_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.PIPE, preexec_fn=child_limits(limits), start_new_session=True)
    try:
        out, err = proc.communicate(json.dumps(job).encode("utf-8"), timeout=wall)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return failed_copy(nb, ExecStatus.TIMEOUT, f"notebook exceeded the wall-clock limit of {wall} s")
    try:
        result = json.loads(out.decode("utf-8"))
        executed = nbformat.from_dict(result["notebook"])
        report = ExecReport.from_json(result["report"])
    except Exception:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-3:]
        return failed_copy(nb, ExecStatus.ERROR, f"executor failed (exit {proc.returncode}): {' | '.join(tail)[:400]}")
    return Execution(executed, report.status, report.reason, report.cell_seconds, report.failed_part)
