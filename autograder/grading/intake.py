"""Intake: a folder of student submissions (one folder or zip per student) -> one notebook each.

Every problem that is the student's (no notebook, several notebooks, malformed JSON, empty file,
wrong nbformat) is recorded against that student; only a layout problem of the folder itself
(a stray file) stops the command, with the path named.
"""
from __future__ import annotations

import csv
import json
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

from autograder.course.layout import CourseError

IGNORED = {".DS_Store", "__MACOSX", ".ipynb_checkpoints", "Thumbs.db"}
MAX_UNZIPPED = 200 * 1024 * 1024    # bytes unpacked per student
MAX_MEMBER = 50 * 1024 * 1024       # bytes per unpacked file
MAX_ENTRIES = 2000


@dataclass
class Student:
    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    timestamp: str = ""     # submission time from the roster (an LMS export), if it has that column


@dataclass
class Submission:
    student: Student
    notebook: nbformat.NotebookNode | None = None
    problem: str | None = None        # set when the submission cannot be graded
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)    # what review_flags found in the student's code
    timestamp: str | None = None      # when it was submitted: its timestamp.txt, else the roster's column


def read_roster(path: Path) -> list[Student]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise CourseError(f"{path}: cannot read roster ({exc})") from exc
    students = []
    for line, row in enumerate(rows, start=2):
        sid = (row.get("id") or row.get("student_id") or "").strip()
        if not sid:
            raise CourseError(f"{path}:{line}: roster row without an `id` (or `student_id`) column value")
        stamp = (row.get("timestamp") or "").strip()
        if stamp and not readable_time(stamp):
            raise CourseError(f"{path}:{line}: timestamp {stamp!r} is not a date and time (e.g. 2026-12-01 23:59:00 UTC)")
        students.append(Student(sid, (row.get("first_name") or "").strip(), (row.get("last_name") or "").strip(),
                                (row.get("email") or "").strip(), stamp))
    return students


def readable_time(text: str):
    """The UTC datetime nbgrader reads from `text`, or None."""
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(text)
    except (ValueError, TypeError, OverflowError):
        return None


def submission_time(folder: Path, student: Student) -> tuple[str | None, str | None]:
    """(timestamp, note): the folder's timestamp.txt (as nbgrader writes it), else the roster's."""
    stamp = folder / "timestamp.txt"
    if stamp.is_file():
        text = stamp.read_text(encoding="utf-8", errors="replace").strip()[:100]
        if readable_time(text):
            return text, None
        return student.timestamp or None, f"timestamp.txt unreadable ({text!r}), ignored"
    return student.timestamp or None, None


def load_notebook(path: Path) -> tuple[nbformat.NotebookNode | None, str | None]:
    """(notebook, None) or (None, reason)."""
    raw = path.read_bytes()
    if not raw.strip():
        return None, f"{path.name} is an empty file"
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{path.name} is not valid notebook JSON ({exc})"
    if not isinstance(data, dict) or ("cells" not in data and "nbformat" not in data):
        return None, f"{path.name} is JSON but not a notebook (no cells)"
    if data.get("nbformat") != 4:
        return None, f"{path.name} has nbformat {data.get('nbformat')!r}; expected 4 (save it with JupyterLab)"
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
        nbformat.validate(nb)
    except Exception as exc:
        return None, f"{path.name} is not a valid notebook ({type(exc).__name__}: {str(exc)[:200]})"
    return nb, None


def choose_notebook(folder: Path, module: str) -> tuple[Path | None, list[str], str | None]:
    """(notebook, notes, problem) for one student's folder."""
    notebooks = sorted(p for p in folder.rglob("*.ipynb")
                       if not any(part in IGNORED for part in p.relative_to(folder).parts))
    expected = f"{module}.ipynb"
    exact = [p for p in notebooks if p.name == expected]
    if exact:
        return exact[0], [], None
    if len(notebooks) == 1:
        return notebooks[0], [f"notebook {notebooks[0].name!r} accepted as {expected}"], None
    if not notebooks:
        return None, [], f"no notebook submitted (expected {expected})"
    return None, [], f"{len(notebooks)} notebooks and none named {expected}: {', '.join(p.name for p in notebooks)}"


def unsafe_entry(info: zipfile.ZipInfo) -> str | None:
    """Why a zip entry may not be unpacked, or None. Checked on the entry's own name and mode,
    before anything is written, so no path can point outside the student's folder."""
    name = info.filename.replace("\\", "/")
    if "\x00" in name:
        return "a NUL byte in its name"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "a path that climbs out of the folder (..)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link"
    if info.file_size > MAX_MEMBER:
        return f"{info.file_size // 2**20} MB unpacked (limit {MAX_MEMBER // 2**20} MB per file)"
    return None


def unpack(z: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int) -> int:
    """Write one entry, counting real bytes (a zip can lie about sizes); returns bytes written."""
    written = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with z.open(info) as src, target.open("wb") as dst:
        while chunk := src.read(1 << 20):
            written += len(chunk)
            if written > min(MAX_MEMBER, budget):
                raise ValueError(f"entry {info.filename!r} unpacks to more than its limit")
            dst.write(chunk)
    return written


def safe_extract(archive: Path, dest: Path) -> str | None:
    """Unpack a student's zip into `dest`, or return why it was refused (and leave nothing)."""
    try:
        with zipfile.ZipFile(archive) as z:
            infos = z.infolist()
            if len(infos) > MAX_ENTRIES:
                return f"{archive.name} has {len(infos)} entries (limit {MAX_ENTRIES})"
            seen = set()
            for info in infos:
                problem = unsafe_entry(info)
                key = PurePosixPath(info.filename.replace("\\", "/")).as_posix().rstrip("/").lower()
                if problem is None and key in seen:
                    problem = "a duplicate name"
                if problem:
                    return f"{archive.name}: entry {info.filename!r} refused: {problem}"
                seen.add(key)
            dest.mkdir(parents=True, exist_ok=True)
            root, budget = dest.resolve(), MAX_UNZIPPED
            for info in infos:
                target = (root / info.filename.replace("\\", "/")).resolve()
                if not target.is_relative_to(root):    # belt and braces after unsafe_entry
                    raise ValueError(f"entry {info.filename!r} resolves outside the folder")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                else:
                    budget -= unpack(z, info, target, budget)
    except ValueError as too_big:
        shutil.rmtree(dest, ignore_errors=True)
        return f"{archive.name}: {too_big} (limit {MAX_UNZIPPED // 2**20} MB in all, {MAX_MEMBER // 2**20} MB per file)"
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        return f"{archive.name} is not a valid zip file ({type(exc).__name__}: {exc})"
    return None


def student_entries(submissions: Path) -> dict[str, Path]:
    if not submissions.is_dir():
        raise CourseError(f"{submissions}: not a folder of submissions")
    entries = {}
    for path in sorted(submissions.iterdir()):
        if path.name in IGNORED or path.name.startswith("."):
            continue
        if path.is_dir():
            entries[path.name] = path
        elif path.suffix == ".zip":
            entries[path.stem] = path
        else:
            raise CourseError(f"{path}: expected one folder (or .zip) per student in {submissions}, "
                              f"found a {path.suffix or 'plain'} file")
    return entries


def collect(submissions: Path, module: str, roster: list[Student] | None) -> list[Submission]:
    entries = student_entries(submissions)
    students = roster if roster is not None else [Student(sid) for sid in entries]
    result = []
    with tempfile.TemporaryDirectory(prefix="tito-intake-") as tmp:
        for student in students:
            sub = Submission(student)
            entry = entries.get(student.id)
            if entry is None:
                sub.problem = "no submission"
            else:
                folder = entry
                if entry.suffix == ".zip" and entry.is_file():
                    folder = Path(tmp) / student.id
                    sub.problem = safe_extract(entry, folder)
                if not sub.problem:
                    sub.timestamp, note = submission_time(folder, student)
                    path, sub.notes, sub.problem = choose_notebook(folder, module)
                    sub.notes += [note] if note else []
                    if path:
                        sub.notebook, sub.problem = load_notebook(path)
            result.append(sub)
    if roster is not None:
        known = {s.id for s in roster}
        for sid in sorted(set(entries) - known):
            print(f"warning: {entries[sid]} is not on the roster; not graded")
    return result
