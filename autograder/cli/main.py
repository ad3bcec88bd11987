"""`tito`: the command line of the TinyTorch course."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from autograder.course.layout import CourseError, find_course


def cmd_check(args) -> int:
    from autograder.check.rules import STATS_HEADER, check, course_stats, errors

    if args.mutants:
        from autograder.check.mutants import run_mutants

        return run_mutants(find_course(), args.mutants, jobs=args.jobs, per_region=args.per_region,
                           timeout=args.timeout)
    if args.stats:
        print(STATS_HEADER)
        for row in course_stats(find_course(), args.modules):
            print(row)
        return 0
    problems = check(find_course(), args.modules)
    for problem in problems:
        print(problem)
    failed = errors(problems)
    warnings = len(problems) - len(failed)
    print(f"tito check: {len(failed)} problem(s), {warnings} warning(s)" if problems else "tito check: ok")
    return 1 if failed else 0


def cmd_build(args) -> int:
    from autograder.build.build import build

    start = time.perf_counter()
    build(find_course(), args.modules)
    print(f"tito build: done in {time.perf_counter() - start:.1f} s")
    return 0


def cmd_export(args) -> int:
    from autograder.student.workspace import export_module

    export_module(args.module, notebook=args.notebook, lib=args.lib)
    return 0


def cmd_student_init(args) -> int:
    from autograder.student.workspace import init_workspace

    init_workspace(Path(args.dir), release=Path(args.release) if args.release else None)
    return 0


def cmd_status(args) -> int:
    from autograder.student.workspace import print_status

    return print_status(Path(args.dir), run_tests=not args.no_tests)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tito", description="Build, check, export and grade the TinyTorch course.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser(
        "check", help="lint lesson sources (file:line: message)",
        description="Lint lesson sources: every problem is printed as file:line: message; exit status 1 "
                    "if any is an error (warnings never fail).")
    s.add_argument("modules", nargs="*")
    s.add_argument("--stats", action="store_true",
                   help="per module: total lines, student lines (inside solution regions) and share, "
                        "number of regions and the largest one; then the course total")
    s.add_argument("--mutants", metavar="MODULE",
                   help="plant classic bugs in MODULE's solution regions, run its tests (visible and hidden) "
                        "against each mutant in a fresh kernel, print kill rates and every survivor; "
                        "exit status 0 if at least 90%% are killed, else 1 (docs/authoring.md)")
    s.add_argument("--jobs", type=int, default=None, help="--mutants: parallel kernels (default: all cores)")
    s.add_argument("--per-region", type=int, default=None,
                   help="--mutants: at most this many mutants per solution region (default: 12)")
    s.add_argument("--timeout", type=int, default=None,
                   help="--mutants: seconds one mutant's notebook may run (default: 5x the unmutated run, >= 30)")
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("build", help="sources -> release/, solutions/, tinytorch_lib/")
    s.add_argument("modules", nargs="*")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("export", help="export a completed notebook into tinytorch_lib/<module>.py")
    s.add_argument("module", help="module name, number or export target (01_tensor, 01, tensor)")
    s.add_argument("--notebook", help="notebook to export (default: ./NN_name.ipynb)")
    s.add_argument("--lib", help="package folder to write (default: ./tinytorch_lib)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("student", help="student workspace commands")
    ss = s.add_subparsers(dest="student_command", required=True)
    si = ss.add_parser("init", help="create a workspace with the release notebooks and a stub package")
    si.add_argument("dir")
    si.add_argument("--release", help="release folder (default: the course's release/)")
    si.set_defaults(func=cmd_student_init)

    s = sub.add_parser("status", help="per module: exported? tests passing?")
    s.add_argument("dir", nargs="?", default=".")
    s.add_argument("--no-tests", action="store_true", help="do not run the notebooks' tests")
    s.set_defaults(func=cmd_status)

    from autograder.cli import grading as cli_grading
    cli_grading.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except CourseError as exc:
        print(f"tito {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tito: interrupted", file=sys.stderr)
        return 130
