"""`tito grade`: a folder of submissions -> gradebook, grades.csv, feedback, results.json, summary.

Steps: intake (one notebook per student, problems recorded), a grading course folder with nbgrader's
gradebook and the assignment generated from the lesson source, workers that autograde in the
sandbox, then reports read back from the gradebook.
"""
from __future__ import annotations

import compileall
import functools
import json
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from autograder.course.layout import Course, CourseError, Module, resolve_module
from autograder.course.lesson import parse_module
from autograder.build.export import copy_modules, module_of_file
from autograder.course.constants import BEGIN_HIDDEN, COURSE_ID
from autograder.grading.reports import (GradeStatus, StudentResult, parse_status, summary,  # noqa: F401
                                        write_reports)
from autograder.grading.intake import Student, Submission, collect, readable_time
from autograder.grading.nbgrader_glue import checked, make_api, programs_next_to_interpreter, quiet_nbgrader
from autograder.build.notebooks import build_notebook, dumps, write_if_changed
from autograder.grading.gradebook import db_url, ensure_tables, exclusive, has_gradebook, use_database
from autograder.grading.late import parse_late_policy
from autograder.grading.review_flags import review_flags
from autograder.grading.shards import parse_shard, shard_of, write_shard_record
from autograder.grading.cluster import cluster_client, warm_up
from autograder.grading.pool import WorkerPool, worker_job
from autograder.sandbox.limits import Limits
from autograder.sandbox.executor.report import ExecStatus
from autograder.sandbox.launcher import resolve_mode

@dataclass
class GradeOptions:
    submissions: Path
    out: Path
    roster: list[Student] | None = None
    workers: int = 1
    sandbox: str = "auto"
    limits: Limits = field(default_factory=Limits)
    progress: bool = True
    due: str | None = None            # the module's due date ("2026-12-01 23:59:00 UTC"); None keeps the gradebook's
    late_policy: str = "none"         # late.py: none, zero, per-hour:N, per-day:N
    student: str | None = None        # regrade this student only (the reports still cover the class)
    db: str | None = None             # gradebook URL (postgresql://...); None: the folder's own (SQLite)
    shard: str | None = None          # "K/N": grade the K-th of N deterministic parts of the class
    cluster: str | None = None        # Dask: "local:N" or a scheduler address "tcp://HOST:PORT"


def reference_notebook(module: Module) -> nbformat.NotebookNode:
    """The module's nbgrader source notebook (solutions and hidden tests), built from its lesson."""
    return nbformat.reads(_reference_text(module, module.source.stat().st_mtime_ns), as_version=4)


@functools.lru_cache(maxsize=4)
def _reference_text(module: Module, mtime_ns: int) -> str:
    """Built once per run (the canary and the class both need it), again if the lesson changes."""
    return dumps(build_notebook(module, parse_module(module).cells))


def prepare_assignment(course: Course, module: Module, out: Path):
    """The grading folder's nbgrader source notebook and gradebook entry for `module`."""
    nb = reference_notebook(module)
    write_if_changed(out / "source" / module.name / module.notebook_name, dumps(nb))
    from nbgrader.converters import GenerateAssignment

    from autograder.grading.preprocessor import with_compiled_metadata_check

    api = make_api(course.config_file, out, **{
        "CourseDirectory.db_url": db_url(out),
        "GenerateAssignment.preprocessors": with_compiled_metadata_check(GenerateAssignment, "preprocessors")})
    with exclusive(db_url(out)), quiet_nbgrader():
        ensure_tables(db_url(out))
        checked(api.generate_assignment(module.name, force=True, create=True), f"preparing {module.name}")
    return nb


def package_dir(module: Module, out: Path) -> Path:
    """Where the grading folder keeps the reference package of the modules before `module`."""
    return out / ".reference" / module.name


def grading_settings(module: Module, out: Path, mode: str, hide: list[str], limits: Limits) -> dict:
    """SandboxedExecute's traits for grading in `out` (one per field of Limits, and where the
    reference package and the reference notebook will be)."""
    return {"mode": mode, "package_dir": str(package_dir(module, out)), "hide": hide,
            "reference_notebook": str(out / "source" / module.name / module.notebook_name), **limits.to_job()}


def reference_package(course: Course, module: Module, out: Path) -> Path:
    """Reference modules before `module` only: a submission cannot import the answer it must write."""
    missing = [m.name for m in course.modules() if m.number < module.number and not any(
        module_of_file(p) == m.name for p in course.lib_dir.glob("*.py"))]
    if missing:
        raise CourseError(f"the reference package lacks {', '.join(missing)}: run `tito build` first")
    pkg = package_dir(module, out)
    shutil.rmtree(pkg, ignore_errors=True)
    copy_modules(course.lib_dir, pkg / "tinytorch_lib", below=module.number)
    # Compiled here, once: the sandbox mounts the package read-only, so each kernel would compile it again.
    compileall.compile_dir(pkg, quiet=1)
    return pkg


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _student_added(cell) -> nbformat.NotebookNode:
    """A cell the student added, kept as plain code or text: it can never pose as a graded cell."""
    cell = nbformat.from_dict(cell)
    cell.metadata.pop("nbgrader", None)
    return cell


def rebuild_from_release(nb: nbformat.NotebookNode, release: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[str]]:
    """The release notebook with the student's answers put in, and what had to be restored.

    Lesson text, given code and tests always come from the release, in the release's order, so a
    deleted, moved or edited cell never changes a grade (nbgrader restores only some of these).
    Each solution cell is the student's (the first one with its id); cells the student added stay,
    after the cell they followed, with no nbgrader metadata.
    """
    release_ids = [_grade_id(c) for c in release.cells]
    solution_ids = {_grade_id(c) for c in release.cells if c.metadata.get("nbgrader", {}).get("solution")}
    answers, added, seen_order = {}, {}, []
    previous = release_ids[0] if release_ids else None
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid in release_ids and gid not in seen_order:
            seen_order.append(gid)
            if gid in solution_ids:
                answers[gid] = cell
            previous = gid
        else:
            added.setdefault(previous, []).append(_student_added(cell))
    notes, cells = [], []
    theirs = {_grade_id(c): c for c in nb.cells if _grade_id(c)}
    for cell in release.cells:
        gid = _grade_id(cell)
        restored = nbformat.from_dict(cell)
        if gid in solution_ids and gid in answers:
            restored.source = answers[gid].source
        elif gid in solution_ids:
            notes.append(f"answer cell {gid} missing (graded as unanswered)")
        elif cell.cell_type == "code" and gid not in theirs:
            notes.append(f"deleted cell {gid} restored")
        elif cell.cell_type == "code" and theirs[gid].source != cell.source:
            notes.append(f"edited cell {gid} restored")
        elif cell.cell_type == "code" and theirs[gid].get("metadata", {}).get("nbgrader", {}).get("points") != \
                cell.metadata.get("nbgrader", {}).get("points"):
            notes.append(f"points of {gid} reset")
        cells.append(restored)
        cells.extend(added.get(gid, []))
    in_release_order = [g for g in release_ids if g in seen_order]
    if seen_order != in_release_order:
        notes.append("moved cells put back in order")
    rebuilt = nbformat.from_dict(release)
    rebuilt.cells = cells
    used = set()
    for cell in rebuilt.cells:           # ids stay unique even if the student copied cells
        if cell.get("id") in used:
            cell["id"] = f"{cell['id'][:50]}-{len(used)}"
        used.add(cell.get("id"))
    return rebuilt, notes


def stage(sub: Submission, module: Module, out: Path, release: nbformat.NotebookNode) -> None:
    """Put one submission where nbgrader expects it (the release notebook if it is unusable: the
    worker's job then carries intake's reason, and nothing of it is run)."""
    folder = out / "submitted" / sub.student.id / module.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    nb = release
    if not sub.problem:
        nb, notes = rebuild_from_release(sub.notebook, release)
        sub.notes += notes
        sub.flags = review_flags(nb, release)
    (folder / module.notebook_name).write_text(nbformat.writes(nb), encoding="utf-8")
    if sub.timestamp:      # nbgrader reads it from here and records it in the gradebook
        (folder / "timestamp.txt").write_text(sub.timestamp + "\n", encoding="utf-8")


def set_due_date(out: Path, module: Module, due: str | None) -> None:
    from nbgrader.api import Gradebook

    if due is None:
        return
    when = readable_time(due)
    if when is None:
        raise CourseError(f"--due {due!r}: not a date and time (e.g. '2026-12-01 23:59:00 UTC')")
    with quiet_nbgrader(), Gradebook(db_url(out), course_id=COURSE_ID) as gb:
        gb.update_or_create_assignment(module.name, duedate=when)


GRADING_CONFIG = """\
# Written by `tito grade`: formgrader and nbgrader commands run in this grading folder read it.
# The course's configuration (markers, feedback without hidden tests, and nbgrader's own Autograde
# and Validate refused in favour of `tito grade`), pointed at this folder and its gradebook.
c = get_config()  # noqa: F821
load_subconfig("nbgrader_config.py", path={course!r})  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_url = {db!r}
"""


def write_grading_config(course: Course, out: Path) -> None:
    """So that formgrader opened on the grading folder grades manually, never by plain nbgrader."""
    write_if_changed(out / "nbgrader_config.py", GRADING_CONFIG.format(
        course=str(course.root.resolve()), root=str(out), db=db_url(out)))


def register_students(out: Path, students: list[Student]) -> None:
    from nbgrader.api import Gradebook

    with quiet_nbgrader(), Gradebook(db_url(out), course_id=COURSE_ID) as gb:
        for s in students:
            gb.update_or_create_student(s.id, first_name=s.first_name or None, last_name=s.last_name or None,
                                        email=s.email or None)


def run_workers(course: Course, module: Module, out: Path, students: list[str], settings: dict,
                workers: int, progress: bool, rejected: dict[str, str] | None = None,
                late_policy: str = "none", pool: WorkerPool | None = None) -> dict[str, dict]:
    """Grade `students` in `workers` subprocesses (or the already started `pool`); each student's
    report (status, reason, sandbox), by student id, as the workers sent them back (a student
    missing here was never reported)."""
    if pool is None:
        job = worker_job(course, module, out, settings, rejected or {}, late_policy)
        pool = WorkerPool(job, min(workers, len(students)))
    return pool.grade(students, progress, desc=f"grading {module.name}")


def cell_outputs(out: Path, student: str, module: Module) -> dict[str, str]:
    path = out / "autograded" / student / module.name / module.notebook_name
    if not path.exists():
        return {}
    nb = nbformat.read(path, as_version=4)
    texts = {}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid and cell.cell_type == "code":
            parts = [f"{o.get('ename')}: {o.get('evalue')}" if o.get("output_type") == "error"
                     else "".join(o.get("text", "")) for o in cell.get("outputs", [])
                     if o.get("output_type") in ("error", "stream")]
            texts[gid] = "\n".join(parts)[-2000:]
    return texts


def record_path(out: Path, module: Module, student: str) -> Path:
    return out / "reports" / module.name / student / "grading.json"


def write_records(out: Path, module: Module, subs: list[Submission], reports: dict[str, dict]) -> None:
    """What the gradebook does not hold, per student: how the run ended, why, and each test's output."""
    for sub in subs:
        sid = sub.student.id
        report = reports.get(sid) or {"status": GradeStatus.PIPELINE_ERROR.value, "reason": "worker did not report",
                                      "sandbox": "?"}
        status = ExecStatus.REJECTED if sub.problem else parse_status(report["status"])
        flagged = f"flagged for review: the notebook's code touches {', '.join(sub.flags)}" if sub.flags else ""
        if flagged and status is ExecStatus.OK:
            status = GradeStatus.REVIEW
        kept = (f"manual grades kept ({report['manual']})" if report.get("manual") else "")
        changed = (f"autograded result changed under a manual grade: {', '.join(report['review_cells'])}"
                   if report.get("review_cells") else "")
        if changed and status is ExecStatus.OK:
            status = GradeStatus.REVIEW
        reason = "; ".join(dict.fromkeys(r for r in [sub.problem, flagged, *sub.notes, report.get("reason", ""),
                                                      kept, changed] if r))
        record = {"student": asdict(sub.student), "status": status.value, "reason": reason,
                  "sandbox": report.get("sandbox", "?"), "outputs": cell_outputs(out, sid, module),
                  "cell_seconds": report.get("cell_seconds", {}), "failed_part": report.get("failed_part", {})}
        path = record_path(out, module, sid)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def results_from_gradebook(out: Path, module: Module, test_cells: list[tuple[str, float, bool]],
                           students: list[str] | None = None) -> list[StudentResult]:
    """Every graded student's result as the gradebook stands now (manual grades and late penalties
    included), with the grading records beside it. `students`: these only, in this order."""
    from nbgrader.api import Gradebook, MissingEntry

    folder = out / "reports" / module.name
    ids = students if students is not None else sorted(p.parent.name for p in folder.glob("*/grading.json"))
    max_score = sum(p for _, p, _ in test_cells)
    results = []
    with quiet_nbgrader(), Gradebook(db_url(out), course_id=COURSE_ID) as gb:
        for sid in ids:
            record = json.loads(record_path(out, module, sid).read_text())
            scores, timestamp, duedate, penalty = {}, None, None, 0.0
            try:
                submission = gb.find_submission(module.name, sid)
                nb = gb.find_submission_notebook(module.name, module.name, sid)
                scores = {g.name: g.score or 0.0 for g in nb.grades}   # nbgrader's score includes extra credit
                timestamp, duedate = submission.timestamp, submission.duedate
                penalty = float(submission.late_submission_penalty or 0.0)
            except MissingEntry:
                pass
            outputs = record["outputs"]
            failed_part = record.get("failed_part", {})
            tests = [{"name": gid, "score": float(scores.get(gid, 0.0)), "max_score": pts,
                      "status": "passed" if scores.get(gid, 0.0) >= pts else "failed",
                      "output": outputs.get(gid, ""), "visibility": "visible",
                      "has_hidden": hidden, "failed_part": failed_part.get(gid)} for gid, pts, hidden in test_cells]
            raw = sum(t["score"] for t in tests)
            results.append(StudentResult(Student(**record["student"]), max(raw - penalty, 0.0), max_score,
                                         parse_status(record["status"]), record["reason"], record["sandbox"],
                                         tests, raw_score=raw, penalty=penalty,
                                         timestamp=str(timestamp or ""), duedate=str(duedate or "")))
    return results


def class_results(out: Path, module: Module) -> list[StudentResult]:
    """Everyone graded so far in this grading folder, as the gradebook stands."""
    source = nbformat.read(out / "source" / module.name / module.notebook_name, as_version=4)
    return results_from_gradebook(out, module, test_cells_of(source))


def write_html_report(out: Path, module: Module, results: list[StudentResult]) -> Path:
    """reports/<module>/class_report.html (class_report.py), similarity over the submitted answers."""
    from autograder.grading.class_report import similar_pairs, solution_code, write_class_report

    records = {r.student.id: json.loads(record_path(out, module, r.student.id).read_text()) for r in results}
    answers = {}
    for r in results:
        path = out / "submitted" / r.student.id / module.name / module.notebook_name
        if path.is_file() and r.status is not ExecStatus.REJECTED:
            answers[r.student.id] = solution_code(path)
    stub = solution_code(out / "release" / module.name / module.notebook_name)
    pairs = similar_pairs(answers, stub)
    for p in pairs:
        print(f"similar answers: {p.first} and {p.second} ({p.similarity:.0%}): look at them")
    return write_class_report(out / "reports" / module.name / "class_report.html", module.name, results, records, pairs)


def rebuild_reports(course: Course, module_name: str, out: Path, feedback: bool = True,
                    html: bool = False) -> list[StudentResult]:
    """`tito report`: grades.csv, results.json and (optionally) feedback from the gradebook as it stands,
    manual grades included, without running anything."""
    module = resolve_module(course.modules(), module_name)
    out = out.resolve()
    if not has_gradebook(out) or not (out / "reports" / module.name).is_dir():
        raise CourseError(f"{out}: no grading of {module.name} here (run `tito grade {module.name} --out {out}` first)")
    results = class_results(out, module)
    write_reports(out, module, results)
    if html:
        print(f"class report: {write_html_report(out, module, results)}")
    if feedback:
        from autograder.grading.feedback import FeedbackWriter

        writer = FeedbackWriter(make_api(course.config_file, out, **{"CourseDirectory.db_url": db_url(out)}))
        for r in results:
            if (out / "autograded" / r.student.id / module.name).is_dir():
                with quiet_nbgrader():
                    checked(writer.write(module.name, r.student.id), f"feedback for {r.student.id}")
    return results


def test_cells_of(nb: nbformat.NotebookNode) -> list[tuple[str, float, bool]]:
    """(grade id, points, has hidden tests) of every test cell of the reference notebook."""
    return [(c.metadata["nbgrader"]["grade_id"], float(c.metadata["nbgrader"]["points"]), BEGIN_HIDDEN in c.source)
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def collect_results(out: Path, module: Module, subs: list[Submission], reports: dict[str, dict],
                    source_nb: nbformat.NotebookNode) -> list[StudentResult]:
    write_records(out, module, subs, reports)
    return results_from_gradebook(out, module, test_cells_of(source_nb), [s.student.id for s in subs])


class GraderBroken(Exception):
    """The grader cannot grade correctly here (the canary failed): nothing was graded."""


EXIT_GRADED, EXIT_PIPELINE_ERROR, EXIT_BAD_INPUT, EXIT_GRADER_BROKEN = 0, 1, 2, 3


def grade_batch(course: Course, module: Module, subs: list[Submission], out: Path, opts: GradeOptions,
                mode: str, hide: list[str], client=None, pool: WorkerPool | None = None) -> list[StudentResult]:
    """Grade `subs` into the grading folder `out` (gradebook, reports, feedback): in local worker
    processes (`pool`, if already started), or as tasks on the Dask cluster of `client`."""
    try:
        source_nb = prepare_assignment(course, module, out)
        set_due_date(out, module, opts.due)
        release = nbformat.read(out / "release" / module.name / module.notebook_name, as_version=4)
        reference_package(course, module, out)
        for sub in subs:
            stage(sub, module, out, release)
        register_students(out, [s.student for s in subs])
    except BaseException:
        if pool is not None:      # its workers wait for students that will not come
            pool.cancel()
        raise
    settings = grading_settings(module, out, mode, hide, opts.limits)
    rejected = {s.student.id: s.problem for s in subs if s.problem}
    if client is not None:
        from autograder.grading.cluster import run_on_cluster

        reports = run_on_cluster(client, course, module, out, [s.student.id for s in subs], settings,
                                 opts.sandbox, opts.progress, rejected, opts.late_policy)
    else:
        reports = run_workers(course, module, out, [s.student.id for s in subs], settings, opts.workers,
                              opts.progress, rejected, opts.late_policy, pool)
    return collect_results(out, module, subs, reports, source_nb)


CANARY = "tito-canary"


def run_canary(course: Course, module: Module, opts: GradeOptions, mode: str, hide: list[str], client=None) -> None:
    """Grade the module's own reference solution first, in the same sandbox with the same limits, in a
    grading folder of its own. Anything short of full marks means the grader, not a student, is
    broken: raise GraderBroken naming the cause, before any student is graded."""
    with tempfile.TemporaryDirectory(prefix="tito-canary-") as tmp:
        out = Path(tmp)
        canary = Submission(Student(CANARY), notebook=reference_notebook(module))
        quiet = GradeOptions(opts.submissions, out, workers=1, sandbox=opts.sandbox, limits=opts.limits,
                             progress=False)
        # its worker starts now, so that its imports overlap preparing the assignment
        pool = start_pool(course, module, [canary], out, quiet, mode, hide) if client is None else None
        (result,) = grade_batch(course, module, [canary], out, quiet, mode, hide, client, pool)
    if result.score >= result.max_score and result.status in (ExecStatus.OK, GradeStatus.REVIEW):
        return
    failed = [t for t in result.tests if t["status"] != "passed"]
    if result.reason.startswith("executor failed") or result.status is ExecStatus.ERROR:
        cause = (f"the sandbox ({mode}) cannot run the grader's Python {sys.executable}: {result.reason}")
    elif failed:
        first = failed[0]
        cause = f"test cell {first['name']} failed: {first['output'].strip().splitlines()[-1] if first['output'].strip() else 'no output'}"
    else:
        cause = f"{result.status.value}: {result.reason}"
    raise GraderBroken(f"the reference solution of {module.name} scored {result.score:g}/{result.max_score:g} "
                       f"under the grader, so nothing was graded: {cause}"[:1000])


def start_pool(course: Course, module: Module, subs: list[Submission], out: Path, opts: GradeOptions,
               mode: str, hide: list[str]) -> WorkerPool:
    """The class's local workers, started before the canary so that their start-up (imports) overlaps
    it; they touch nothing until the first student is handed to them, after the canary passed."""
    job = worker_job(course, module, out, grading_settings(module, out, mode, hide, opts.limits),
                     {s.student.id: s.problem for s in subs if s.problem}, opts.late_policy)
    return WorkerPool(job, min(opts.workers, len(subs)))


def same_failure_everywhere(results: list[StudentResult]) -> str | None:
    """A class in which every student failed the same way is a broken pipeline, not a column of zeros."""
    if len(results) < 2:
        return None
    reasons = {r.reason for r in results}
    statuses = {r.status for r in results}
    if len(reasons) == 1 and statuses <= {ExecStatus.ERROR, GradeStatus.PIPELINE_ERROR}:
        return reasons.pop()
    return None


def grade(course: Course, module_name: str, opts: GradeOptions) -> tuple[list[StudentResult], bool]:
    """Grade every submission; returns the results and whether the pipeline itself stayed healthy.

    Raises GraderBroken (before writing anything to the gradebook) when the canary fails.
    """
    programs_next_to_interpreter()
    module = resolve_module(course.modules(), module_name)
    mode = resolve_mode(opts.sandbox)
    out = opts.out.resolve()
    parse_late_policy(opts.late_policy)
    if opts.due is not None and readable_time(opts.due) is None:
        raise CourseError(f"--due {opts.due!r}: not a date and time (e.g. '2026-12-01 23:59:00 UTC')")
    subs = collect(opts.submissions, module.name, opts.roster)
    if not subs:
        raise CourseError(f"{opts.submissions}: no student submissions found")
    everyone = [s.student.id for s in subs]
    shard = parse_shard(opts.shard) if opts.shard else None
    if shard:
        subs = [s for s in subs if shard_of(s.student.id, shard[1]) == shard[0]]
    if opts.student is not None:
        subs = [s for s in subs if s.student.id == opts.student]
        if not subs:
            raise CourseError(f"--student {opts.student}: no such student in {opts.submissions}"
                              + (f" (or not in shard {opts.shard})" if shard else ""))
    use_database(out, opts.db)
    hide = sorted({str(course.root.resolve()), str(out), str(opts.submissions.resolve())})
    with cluster_client(opts.cluster) as client:
        # A remote cluster must prove it grades correctly; a LocalCluster runs on this machine, in this
        # sandbox, so the canary runs here as in local grading and spares the cluster a second template.
        on_this_machine = opts.cluster is None or opts.cluster.startswith("local:")
        pool = None if client is not None else start_pool(course, module, subs, out, opts, mode, hide)
        warming = warm_up(client) if client is not None else []     # held until the batch is graded
        try:
            run_canary(course, module, opts, mode, hide, None if on_this_machine else client)
        except BaseException:
            if pool is not None:
                pool.cancel()
            raise
        out.mkdir(parents=True, exist_ok=True)
        write_grading_config(course, out)
        results = grade_batch(course, module, subs, out, opts, mode, hide, client, pool)
        del warming
    if shard:
        write_shard_record(out, module.name, shard, everyone, [s.student.id for s in subs])
    write_reports(out, module, class_results(out, module))
    broken = same_failure_everywhere(results)
    if broken:
        print(f"tito grade: every student failed the same way, so the grader is at fault: {broken}",
              file=sys.stderr)
    healthy = broken is None and all(r.status is not GradeStatus.PIPELINE_ERROR for r in results)
    return results, healthy
