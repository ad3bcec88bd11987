"""Grading, demo and milestone commands of `tito` (registered by cli.py)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from autograder.sandbox.limits import Limits, add_limit_options

DEFAULT_WORKERS = (os.cpu_count() or 1) + 1
DB_HELP = ("the gradebook: a database URL as nbgrader's db_url, e.g. postgresql://USER@HOST:5432/DB (several "
           "graders can write at once; the password from PGPASSWORD or ~/.pgpass). Default: gradebook.db in --out. "
           "The folder remembers it (tito.json) for later runs, `tito report` and formgrader")


def cmd_grade(args) -> int:
    from autograder.course.layout import find_course
    from autograder.grading.pipeline import (EXIT_GRADED, EXIT_GRADER_BROKEN, EXIT_PIPELINE_ERROR, GradeOptions,
                                    GraderBroken, grade, summary)
    from autograder.grading.intake import read_roster
    opts = GradeOptions(
        submissions=Path(args.submissions), out=Path(args.out),
        roster=read_roster(Path(args.roster)) if args.roster else None,
        workers=args.workers, sandbox=args.sandbox,
        limits=Limits.from_options(args), due=args.due, late_policy=args.late_policy, student=args.student,
        db=args.db, shard=args.shard, cluster=args.cluster or args.scheduler)
    try:
        results, healthy = grade(find_course(), args.module, opts)
    except GraderBroken as exc:
        print(f"tito grade: {exc}", file=sys.stderr)
        return EXIT_GRADER_BROKEN
    print(summary(results))
    print(f"reports: {Path(args.out) / 'reports'}; feedback: {Path(args.out) / 'feedback'}")
    if not healthy:
        print("tito grade: the grading pipeline failed for some students (status pipeline_error)")
    return EXIT_GRADED if healthy else EXIT_PIPELINE_ERROR


def cmd_report(args) -> int:
    from autograder.course.layout import find_course
    from autograder.grading.gradebook import db_url, shown
    from autograder.grading.pipeline import rebuild_reports, summary

    results = rebuild_reports(find_course(), args.module, Path(args.out), feedback=not args.no_feedback,
                              html=args.html)
    print(summary(results))
    print(f"rebuilt from {shown(db_url(Path(args.out)))}: {Path(args.out) / 'reports' / args.module}")
    return 0


def cmd_merge(args) -> int:
    from autograder.course.layout import find_course
    from autograder.grading.pipeline import summary
    from autograder.grading.shards import merge

    merged = merge(find_course(), [Path(f) for f in args.shards], Path(args.out), db=args.db)
    for module, results in merged.items():
        print(f"{module}: {len(results)} students merged")
        print(summary(results))
    print(f"reports: {Path(args.out) / 'reports'}; feedback: {Path(args.out) / 'feedback'}")
    return 0


def cmd_gradescope(args) -> int:
    from autograder.course.layout import find_course
    from autograder.grading.gradescope import write_autograder_zip

    path = write_autograder_zip(find_course(), args.module, Path(args.out), args.hidden_visibility)
    print(f"Gradescope autograder: {path} (upload it as the assignment's autograder; each submission's "
          f"notebook is graded by tito in Gradescope's container)")
    return 0


def cmd_demo(args) -> int:
    from autograder.demo.command import run_demo
    from autograder.grading.pipeline import EXIT_GRADER_BROKEN, GraderBroken

    try:
        return run_demo(Path(args.out), workers=args.workers)
    except GraderBroken as exc:
        print(f"tito demo: {exc}", file=sys.stderr)
        return EXIT_GRADER_BROKEN


def cmd_milestone(args) -> int:
    from autograder.student.milestones import run

    return run(args.name, lib=Path(args.lib) if args.lib else None, quick=args.quick)


def add_commands(sub) -> None:
    s = sub.add_parser("grade", help="grade a folder of submissions (one folder or zip per student)",
                       epilog="exit status: 0 graded (whatever the scores); 1 the pipeline failed for some "
                              "students (status pipeline_error) or for all of them the same way; 2 bad input "
                              "(no course, unknown module, a stray file); 3 the grader is broken here: the "
                              "module's own reference solution did not score full marks (nothing graded)")
    s.add_argument("module")
    s.add_argument("--submissions", required=True, help="folder with one sub-folder (or .zip) per student")
    s.add_argument("--roster", help="CSV with an id column (and first_name, last_name, email)")
    s.add_argument("--out", default="grades", help="grading folder: gradebook.db, reports/, feedback/ (default: grades)")
    s.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                   help=f"students graded at once (default: cores + 1 = {DEFAULT_WORKERS}; a grading "
                        "run waits on kernel start-up, so one more than the cores keeps them busy)")
    s.add_argument("--sandbox", choices=["auto", "required", "off"], default="auto")
    s.add_argument("--due", help="due date of the module, e.g. '2026-12-01 23:59:00 UTC' (submission times come "
                                 "from each student's timestamp.txt, as an LMS export or nbgrader writes it, or "
                                 "from a `timestamp` column of the roster)")
    s.add_argument("--late-policy", default="none",
                   help="none (default), zero, per-hour:POINTS or per-day:POINTS (per started hour/day late)")
    s.add_argument("--student", help="regrade this student only (the class's reports are rebuilt)")
    s.add_argument("--db", help=DB_HELP)
    s.add_argument("--shard", metavar="K/N",
                   help="grade only the K-th of N parts of the class (by a hash of the student id: deterministic, "
                        "balanced, stable when students are added); join the parts with `tito merge`")
    where = s.add_mutually_exclusive_group()
    where.add_argument("--cluster", metavar="local:N",
                       help="grade on a Dask LocalCluster of N worker processes started here")
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="grade on a running Dask cluster (workers need tito installed, not the course "
                            "files: each task carries its submission and the reference package)")
    add_limit_options(s)
    s.set_defaults(func=cmd_grade)

    s = sub.add_parser("merge", help="join the grading folders of `tito grade --shard K/N` runs into one",
                       epilog="refuses a missing, repeated or overlapping shard, naming it")
    s.add_argument("shards", nargs="+", metavar="OUT", help="the shards' grading folders (--out of each run)")
    s.add_argument("--out", required=True, help="the merged grading folder (new or without these modules)")
    s.add_argument("--db", help=DB_HELP)
    s.set_defaults(func=cmd_merge)

    s = sub.add_parser("report", help="rebuild grades.csv, results.json and feedback from the gradebook "
                                      "(manual grades from formgrader included)")
    s.add_argument("module")
    s.add_argument("--out", default="grades", help="the grading folder of `tito grade` (default: grades)")
    s.add_argument("--no-feedback", action="store_true", help="reports only, do not regenerate feedback")
    s.add_argument("--html", action="store_true",
                   help="also write reports/MODULE/class_report.html: score histogram, pass rate per test cell, "
                        "most common failures, slowest cells, similar answers (copydetect), per-student table")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("gradescope", help="write a Gradescope autograder zip for a module")
    s.add_argument("module")
    s.add_argument("--out", default="gradescope_autograder.zip", help="the zip to write")
    s.add_argument("--hidden-visibility", default="after_published",
                   help="when students see their hidden tests' results: visible, hidden, after_due_date or "
                        "after_published (default)")
    s.set_defaults(func=cmd_gradescope)

    s = sub.add_parser("demo", help="build the course, grade a sample class, print the table")
    s.add_argument("--out", default="demo")
    s.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    s.set_defaults(func=cmd_demo)


def add_milestone_command(sub) -> None:
    s = sub.add_parser("milestone", help="run a milestone on your package (or the course's reference)")
    s.add_argument("name", help="milestone name: perceptron, xor_mlp, cnn, gpt, optimize")
    s.add_argument("--lib", help="folder containing tinytorch_lib (default: your workspace around the current folder)")
    s.add_argument("--quick", action="store_true", help="reduced run (what CI uses)")
    s.set_defaults(func=cmd_milestone)
