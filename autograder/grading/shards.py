"""CI fan-out: `tito grade --shard K/N` grades one part of a class, `tito merge` joins the parts.

A student's shard depends on their id alone (a hash), so the split is deterministic, the same on
every CI runner, balanced on average, and stable when students are added: nobody moves to another
shard because a classmate joined. Each sharded run records in `reports/<module>/shard.json` which
shard it is and the whole class it was cut from; `merge` refuses a missing, repeated or
overlapping shard, naming it, and otherwise copies every student's grading (gradebook rows, files,
records) into one grading folder and rebuilds the class's reports there.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from autograder.course.layout import Course, CourseError, resolve_module

SHARD_RECORD = "shard.json"


def parse_shard(text: str) -> tuple[int, int]:
    """"K/N" -> (K, N), 1 <= K <= N."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise CourseError(f"--shard {text!r}: expected K/N, e.g. 2/4") from None
    if not 1 <= k <= n:
        raise CourseError(f"--shard {text!r}: K must be between 1 and N")
    return k, n


def shard_of(student: str, count: int) -> int:
    """The shard (1..count) of `student`: a hash of the id only, so adding students moves nobody."""
    digest = hashlib.sha256(student.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def write_shard_record(out: Path, module: str, shard: tuple[int, int], everyone: list[str], graded: list[str]) -> None:
    folder = out / "reports" / module
    folder.mkdir(parents=True, exist_ok=True)
    record = {"module": module, "shard": shard[0], "of": shard[1], "class": sorted(everyone), "graded": sorted(graded)}
    (folder / SHARD_RECORD).write_text(json.dumps(record, indent=1) + "\n")


def read_shards(folders: list[Path]) -> dict[str, list[tuple[Path, dict]]]:
    """By module, (folder, shard record) of every sharded grading in `folders`."""
    found: dict[str, list[tuple[Path, dict]]] = {}
    for folder in folders:
        records = sorted((folder / "reports").glob(f"*/{SHARD_RECORD}"))
        if not records:
            raise CourseError(f"{folder}: no sharded grading here (grade with `tito grade MODULE --shard K/N --out "
                              f"{folder}`)")
        for path in records:
            record = json.loads(path.read_text())
            found.setdefault(record["module"], []).append((folder, record))
    return found


def check_complete(module: str, shards: list[tuple[Path, dict]]) -> None:
    """Exactly shards 1..N of one class, each once, no student in two of them."""
    counts = {r["of"] for _, r in shards}
    if len(counts) > 1:
        given = ", ".join(f"{r['shard']}/{r['of']} in {f}" for f, r in shards)
        raise CourseError(f"{module}: shards of different splits ({given})")
    (n,) = counts
    classes = {tuple(r["class"]) for _, r in shards}
    if len(classes) > 1:
        raise CourseError(f"{module}: the shards were cut from different classes (the submissions changed between "
                          "runs): grade every shard from the same submissions")
    by_index: dict[int, Path] = {}
    for folder, r in shards:
        if r["shard"] in by_index:
            raise CourseError(f"{module}: shard {r['shard']}/{n} given twice: {by_index[r['shard']]} and {folder}")
        by_index[r["shard"]] = folder
    missing = [k for k in range(1, n + 1) if k not in by_index]
    if missing:
        raise CourseError(f"{module}: shard {', '.join(f'{k}/{n}' for k in missing)} missing "
                          f"(given: {', '.join(f'{k}/{n} in {by_index[k]}' for k in sorted(by_index))})")
    seen: dict[str, Path] = {}
    for folder, r in shards:
        for student in r["graded"]:
            if student in seen:
                raise CourseError(f"{module}: {student} graded in two shards: {seen[student]} and {folder}")
            seen[student] = folder
    ungraded = sorted(set(shards[0][1]["class"]) - set(seen))
    if ungraded:
        raise CourseError(f"{module}: no shard graded {', '.join(ungraded[:10])}")


STUDENT_FILES = ("submitted/{s}/{m}", "autograded/{s}/{m}", "feedback/{s}/{m}", "reports/{m}/{s}", "manual/{m}/{s}.json")


def copy_student_files(src: Path, dst: Path, module: str, student: str) -> None:
    for pattern in STUDENT_FILES:
        rel = pattern.format(s=student, m=module)
        source, target = src / rel, dst / rel
        if source.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def merge(course: Course, folders: list[Path], out: Path, db: str | None = None) -> dict[str, list]:
    """Join shard grading folders into `out`; by module, the class's results as merged."""
    from autograder.grading.gradebook import db_url, open_gradebook, snapshot, use_database, write_snapshot
    from autograder.grading.nbgrader_glue import quiet_nbgrader
    from autograder.grading.pipeline import class_results, prepare_assignment, write_grading_config
    from autograder.grading.reports import write_reports
    from nbgrader.api import MissingEntry

    folders = [f.resolve() for f in folders]
    out = out.resolve()
    if out in folders:
        raise CourseError(f"--out {out} is one of the shards: merge into a new folder")
    shards = read_shards(folders)
    for module_name, parts in shards.items():
        check_complete(module_name, parts)
        if (out / "reports" / module_name).exists():
            raise CourseError(f"{out} already holds a grading of {module_name}: merge into an empty folder")
    use_database(out, db)
    write_grading_config(course, out)
    merged = {}
    for module_name, parts in sorted(shards.items()):
        module = resolve_module(course.modules(), module_name)
        prepare_assignment(course, module, out)
        with quiet_nbgrader(), open_gradebook(db_url(out)) as target:
            for folder, record in sorted(parts, key=lambda p: p[1]["shard"]):
                with open_gradebook(db_url(folder)) as source:
                    assignment = source.find_assignment(module_name)
                    target.update_or_create_assignment(module_name, duedate=assignment.duedate)
                    for student in record["graded"]:
                        person = source.find_student(student)
                        target.update_or_create_student(student, first_name=person.first_name,
                                                        last_name=person.last_name, email=person.email)
                        try:   # a student whose grading failed in the shard has no submission there
                            write_snapshot(target, module_name, student, snapshot(source, module_name, student))
                        except MissingEntry:
                            pass
                        copy_student_files(folder, out, module_name, student)
        results = class_results(out, module)
        write_reports(out, module, results)
        merged[module_name] = results
    return merged
