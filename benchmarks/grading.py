"""Grading throughput: `tito grade` against plain serial `nbgrader autograde`, same 40 submissions;
with --dask, local worker processes against a Dask LocalCluster of as many workers.

Run on demand (not part of the test run):
    python benchmarks/grading.py [--students 40] [--workers N] [--runs 3]   # "Grading throughput"
    python benchmarks/grading.py --dask [--students 20]             # "Grading at scale: Dask ..."
Writes the result into that section of docs/benchmarks.md. Needs the committed
release/ and tinytorch_lib/ (a fresh clone has them); the nbgrader source notebook it builds itself
from source/, so `tito build` need not have run.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.build.export import copy_modules  # noqa: E402
from autograder.build.notebooks import build_notebook, dumps  # noqa: E402
from autograder.cli.grading import DEFAULT_WORKERS  # noqa: E402
from autograder.course.layout import Course, Module, resolve_module  # noqa: E402
from autograder.course.lesson import parse_module  # noqa: E402
from autograder.demo.sample_class import fill, solution_ids  # noqa: E402
from benchmarks.report import machine, write_section  # noqa: E402

MODULE = "02_activations"
DASK_SECTION = "Grading at scale: Dask and the throughput model"


def module() -> Module:
    course = Course(REPO)
    found = resolve_module(course.modules(), MODULE)
    needed = [course.release_dir / MODULE / found.notebook_name, course.lib_dir / "__init__.py"]
    if missing := [str(p.relative_to(REPO)) for p in needed if not p.exists()]:
        sys.exit(f"benchmarks/grading.py: {', '.join(missing)} missing: run `python3 -m autograder build` first")
    return found


def source_notebook() -> nbformat.NotebookNode:
    """The module's nbgrader source notebook (solutions and hidden tests), built from source/."""
    parsed = parse_module(module())
    return nbformat.reads(dumps(build_notebook(parsed.module, parsed.cells)), as_version=4)


def sample_submissions(folder: Path, count: int) -> None:
    """A realistic mix: complete, partial and untouched notebooks."""
    course = Course(REPO)
    release = nbformat.read(course.release_dir / MODULE / f"{MODULE}.ipynb", as_version=4)
    source = source_notebook()
    ids = solution_ids(release)
    kinds = [fill(release, source), fill(release, source, only=set(ids[: len(ids) // 2])), release]
    for i in range(count):
        (folder / f"s{i:03d}").mkdir(parents=True)
        nbformat.write(kinds[i % 3], folder / f"s{i:03d}" / f"{MODULE}.ipynb")


def time_tito(subs: Path, out: Path, workers: int, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder", "grade", MODULE, "--submissions", str(subs),
                    "--out", str(out), "--workers", str(workers), *extra], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def time_canary(subs: Path, out: Path) -> float:
    """One student graded alone: the fixed cost of a run (start-up, canary, reports), to subtract."""
    one = subs.parent / "one"
    shutil.copytree(next(iter(sorted(subs.iterdir()))), one / "s000")
    return time_tito(one, out, 1)


def dask_section(n: int) -> str:
    """Local worker processes against a Dask LocalCluster, 1 and 2 workers, one run; the model."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sample_submissions(tmp / "subs", n)
        fixed = time_canary(tmp / "subs", tmp / "fixed")
        for workers in (1, 2):
            local = time_tito(tmp / "subs", tmp / f"local{workers}", workers)
            dask = time_tito(tmp / "subs", tmp / f"dask{workers}", workers, "--cluster", f"local:{workers}")
            rows.append((workers, local, dask))
    load = os.getloadavg()
    table = ["| workers | local --workers: s (per notebook) | Dask --cluster local:N: s (per notebook) | Dask overhead |",
             "|---:|---:|---:|---:|"]
    for w, local, dask in rows:
        table.append(f"| {w} | {local:.1f} ({local / n:.2f}) | {dask:.1f} ({dask / n:.2f}) | {100 * (dask / local - 1):+.1f}% |")
    per_notebook = (rows[0][1] - fixed) / (n - 1)      # one worker: seconds of one core per notebook
    rate_1 = 3600 / per_notebook
    notebooks = 1000 * 20
    model = ["| workers (one core each) | notebooks / hour | 1,000 students x 20 modules |", "|---:|---:|---:|"]
    for w in (1, 2, 8, 32, 128):
        rate = rate_1 * w
        model.append(f"| {w} | {rate:,.0f} | {notebooks / rate:.1f} h |")
    worst = max(dask / local - 1 for _, local, dask in rows)
    return (f"{machine()} Load average at the end: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}.\n\n"
            f"{n} submissions of `{MODULE}` (a third complete, a third half done, a third untouched), graded "
            f"by `tito grade` with the sandbox and feedback on, each configuration in this one run.\n\n"
            + "\n".join(table) +
            f"\n\n**Target: Dask within 15% of local grading on one machine - "
            f"{'met' if worst <= 0.15 else 'MISSED'}** (worst: {100 * worst:+.1f}%). The Dask path packs the "
            "course template once per run and broadcasts it; each task carries one notebook and returns "
            "its grading as data, which this process writes into the gradebook.\n\n"
            f"### Throughput model\n\nA run has a fixed cost (start-up, the canary, reports): {fixed:.1f} s "
            f"here, measured by grading one student. The rest is per notebook: {per_notebook:.2f} s of one "
            f"worker for `{MODULE}` (kernel start, the notebook's cells, autograde bookkeeping, feedback "
            "HTML). A worker is one process on one core, so throughput scales with cores until the "
            "gradebook writer (this process, tens of milliseconds per notebook) becomes the limit, near "
            "a hundred workers:\n\n" + "\n".join(model) +
            "\n\nHeavier modules (training loops in 07, the GPT of 13-14) cost several times more per "
            "notebook; scale the hours by the module's per-notebook time from `tito report --html` "
            "(slowest cells).\n")


def time_nbgrader(subs: Path, course_dir: Path) -> float:
    """The plain nbgrader way: one CLI call, serial, reference package on PYTHONPATH, no sandbox."""
    course = Course(REPO)
    src = course_dir / "source" / MODULE
    src.mkdir(parents=True)
    (src / f"{MODULE}.ipynb").write_text(dumps(source_notebook()), encoding="utf-8")
    # the configuration reads the course's constants from autograder/ beside it
    shutil.copy(REPO / "nbgrader_config.py", course_dir / "nbgrader_config.py")
    with (course_dir / "nbgrader_config.py").open("a") as config:   # the course refuses plain autograde:
        config.write("\nfrom nbgrader.converters import Autograde as _A\n"   # time nbgrader's own, as shipped
                     "c.Autograde.autograde_preprocessors = _A.class_traits()['autograde_preprocessors'].make_dynamic_default()\n")
    shutil.copytree(REPO / "autograder" / "course", course_dir / "autograder" / "course",
                    ignore=shutil.ignore_patterns("__pycache__"))
    copy_modules(course.lib_dir, course_dir / "pkg" / "tinytorch_lib", below=module().number)
    for student in subs.iterdir():
        dst = course_dir / "submitted" / student.name / MODULE
        dst.mkdir(parents=True)
        shutil.copy(student / f"{MODULE}.ipynb", dst)
    env = dict(os.environ, PYTHONPATH=str(course_dir / "pkg"))
    args = ["--CourseDirectory.root=" + str(course_dir)]
    subprocess.run(["nbgrader", "generate_assignment", MODULE, *args], cwd=course_dir, env=env, check=True,
                   capture_output=True)
    start = time.perf_counter()
    subprocess.run(["nbgrader", "autograde", MODULE, *args], cwd=course_dir, env=env, check=True,
                   capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--dask", action="store_true", help="local workers against a Dask LocalCluster")
    parser.add_argument("--runs", type=int, default=3,
                        help="nbgrader and tito in turn, this many times each; the ratio quoted is the median "
                             "of the runs' ratios (a shared machine's speed drifts between runs)")
    args = parser.parse_args()
    module()     # say what to run, rather than die with a traceback, if the course is not built
    if args.dask:
        text = dask_section(args.students)
        print(text)
        write_section(DASK_SECTION, text)
        return
    n, pairs = args.students, []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sample_submissions(tmp / "subs", n)
        for run in tqdm(range(args.runs), desc="nbgrader, then tito", unit="run"):
            plain = time_nbgrader(tmp / "subs", tmp / f"nbgrader{run}")
            tito = time_tito(tmp / "subs", tmp / f"tito{run}", args.workers)
            pairs.append((plain, tito))
    table = ["| run | nbgrader autograde (serial, no sandbox): s | per minute "
             f"| tito grade --workers {args.workers} (sandboxed, feedback + reports): s | per minute | ratio |",
             "|---:|---:|---:|---:|---:|---:|"]
    table += [f"| {i + 1} | {plain:.1f} | {60 * n / plain:.1f} | {tito:.1f} | {60 * n / tito:.1f} | {plain / tito:.2f}x |"
              for i, (plain, tito) in enumerate(pairs)]
    ratio = statistics.median(plain / tito for plain, tito in pairs)
    text = (f"{machine()}\n\n{n} submissions of `{MODULE}` (a third complete, a third half done, a third "
            f"untouched), graded by serial `nbgrader autograde` and by `tito grade`, in turn, {args.runs} times.\n\n"
            + "\n".join(table) +
            f"\n\nRatio (tito / nbgrader throughput), median of the runs: **{ratio:.2f}x** (target: 1.8x). "
            "tito's time includes the canary, per-student sandbox start-up, feedback HTML and results.json, "
            "which plain autograde does not produce.\n")
    print(text)
    write_section("Grading throughput", text)


if __name__ == "__main__":
    main()
