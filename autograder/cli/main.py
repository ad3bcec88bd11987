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
    from autograder.student.modules import find_workspace
    from autograder.student.workspace import export_module

    return export_module(args.module, workspace=find_workspace(Path(args.workspace) if args.workspace else None),
                         run_tests=not args.no_tests)


def cmd_student_init(args) -> int:
    from autograder.student.workspace import init_workspace

    init_workspace(Path(args.dir), release=Path(args.release) if args.release else None)
    return 0


def cmd_status(args) -> int:
    from autograder.student.modules import find_workspace
    from autograder.student.status import print_status

    workspace = find_workspace(Path(args.workspace) if args.workspace else None)
    return print_status(workspace, args.module, run_tests=not args.no_tests)


def cmd_lab(args) -> int:
    from autograder.student.lab import run_lab

    return run_lab(Path(args.dir), port=args.port, open_browser=not args.no_browser)


STUDENT_HELP = """student commands (in your workspace):
  student init DIR --release FOLDER   make a workspace from the notebooks your course gave you
  lab [DIR]                           open the workspace in JupyterLab
  export MODULE                       notebook -> tinytorch_lib/, then run its tests on the export
  status [MODULE]                     is each export current, and do its tests pass?
  milestone NAME                      run a milestone on your own package

course commands (instructors): check, build, grade, report, gradescope, demo"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tito", description="The TinyTorch course tool.",
                                usage="tito COMMAND ...", epilog=STUDENT_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_student_commands(sub)
    from autograder.cli import grading as cli_grading
    cli_grading.add_milestone_command(sub)
    add_course_commands(sub)
    cli_grading.add_commands(sub)
    return p


MODULE_NAMES = "a module by number, name, export target or notebook file: 6, 06, 06_optimizers, optimizers, optim"


def add_student_commands(sub) -> None:
    s = sub.add_parser("student", help="make a workspace: `tito student init DIR --release FOLDER`")
    ss = s.add_subparsers(dest="student_command", required=True)
    si = ss.add_parser("init", help="create a workspace with the course's notebooks and a stub package",
                       description="Create (or repair) a workspace: the module notebooks, a tinytorch_lib "
                                   "with a stub of every module, and .tito/ (what status checks against). "
                                   "Your notebooks are never overwritten; a deleted package module is restored.")
    si.add_argument("dir")
    si.add_argument("--release", help="the folder of notebooks your course handed out (flat, or one folder "
                                      "per module)")
    si.set_defaults(func=cmd_student_init)

    s = sub.add_parser("lab", help="open the workspace in JupyterLab (the student's view)")
    s.add_argument("dir", nargs="?", default=".")
    s.add_argument("--port", type=int, default=8888)
    s.add_argument("--no-browser", action="store_true")
    s.set_defaults(func=cmd_lab)

    s = sub.add_parser("export", help="export a notebook into tinytorch_lib/ and run its tests on the export",
                       epilog="exit status: 0 exported and its tests pass; 1 exported, some test fails; "
                              "2 nothing exported (the message says why)")
    s.add_argument("module", help=MODULE_NAMES)
    s.add_argument("--no-tests", action="store_true", help="export only, do not run the tests")
    s.add_argument("--workspace", help="the workspace folder (default: the one around the current folder)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("status", help="per module: export current? tests passing on the exported package?",
                       epilog="exit status: 0 everything shown is exported, current and passing; 1 otherwise")
    s.add_argument("module", nargs="?", help=f"one module only ({MODULE_NAMES}); default: all")
    s.add_argument("--no-tests", action="store_true", help="export state only, do not run the tests")
    s.add_argument("--workspace", help="the workspace folder (default: the one around the current folder)")
    s.set_defaults(func=cmd_status)


def add_course_commands(sub) -> None:
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
