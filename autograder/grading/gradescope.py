"""Gradescope: `tito gradescope MODULE` writes an autograder zip; inside Gradescope's container its
`run_autograder` grades the one submission with `tito grade` (same sandbox, limits, reference
package, canary) and writes `/autograder/results/results.json`.

Gradescope unpacks the zip into `/autograder/source`, runs `setup.sh` once when the image is built,
and for every submission puts the student's files in `/autograder/submission` and runs
`run_autograder`. The zip holds: the tito wheel, a one-module course (the lesson source, the
course's nbgrader configuration, the reference modules before this one), `gradescope.json` (the
module, the visibility of hidden tests) and the two scripts. `AUTOGRADER_ROOT` replaces
`/autograder` (how the tests run it in a temporary folder).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from autograder.build.export import copy_modules
from autograder.course.layout import Course, CourseError, resolve_module

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image.
set -euo pipefail
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-pip bubblewrap >/dev/null
python3 -m pip install -q --break-system-packages /autograder/source/wheels/*.whl || \\
  python3 -m pip install -q /autograder/source/wheels/*.whl
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission: grade it, write results/results.json.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
exec python3 -m autograder.grading.gradescope "$ROOT"
"""


def build_wheel(repo: Path, dest: Path) -> Path:
    """The tito wheel of this checkout (the tool only: no lessons, solutions or reference package)."""
    dest.mkdir(parents=True, exist_ok=True)
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", str(repo), "--no-deps",
                          "-q", "-w", str(dest)], capture_output=True, text=True, timeout=900)
    if run.returncode != 0:
        raise CourseError(f"could not build the tito wheel: {run.stderr.strip()[-500:]}")
    (wheel,) = dest.glob("*.whl")
    return wheel


def write_autograder_zip(course: Course, module_name: str, out: Path,
                         hidden_visibility: str = "after_published") -> Path:
    module = resolve_module(course.modules(), module_name)
    if hidden_visibility not in VISIBILITIES:
        raise CourseError(f"--hidden-visibility {hidden_visibility!r}: one of {', '.join(VISIBILITIES)}")
    if not (course.lib_dir / "__init__.py").is_file():
        raise CourseError(f"{course.lib_dir}: no reference package (run `tito build` first)")
    with tempfile.TemporaryDirectory(prefix="tito-gradescope-") as tmp:
        stage = Path(tmp) / "source"
        lesson = stage / "course" / "source" / module.name
        lesson.mkdir(parents=True)
        shutil.copy(module.source, lesson / module.source.name)
        shutil.copy(course.config_file, stage / "course" / "nbgrader_config.py")
        copy_modules(course.lib_dir, stage / "course" / "tinytorch_lib", below=module.number)
        build_wheel(course.root, stage / "wheels")
        (stage / "gradescope.json").write_text(json.dumps({"module": module.name,
                                                           "hidden_visibility": hidden_visibility}) + "\n")
        (stage / "setup.sh").write_text(SETUP_SH)
        (stage / "run_autograder").write_text(RUN_AUTOGRADER)
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(stage.rglob("*")):
                if path.is_file():
                    info = zipfile.ZipInfo(str(path.relative_to(stage)), date_time=(2020, 1, 1, 0, 0, 0))
                    info.external_attr = (0o755 if path.name in ("setup.sh", "run_autograder") else 0o644) << 16
                    z.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return out


def run_autograder(root: Path) -> int:
    """Grade `root/submission` as one student; write `root/results/results.json`."""
    from autograder.grading.pipeline import GradeOptions, GraderBroken, grade

    settings = json.loads((root / "source" / "gradescope.json").read_text())
    course = Course(root / "source" / "course")
    module = settings["module"]
    with tempfile.TemporaryDirectory(prefix="tito-gradescope-run-") as tmp:
        subs = Path(tmp) / "submissions" / "student"
        shutil.copytree(root / "submission", subs)
        out = Path(tmp) / "out"
        try:
            grade(course, module, GradeOptions(subs.parent, out, workers=1, progress=False))
        except GraderBroken as exc:    # fail loudly: Gradescope then shows an autograder error, not a 0
            print(f"tito: the grader is broken here, nothing graded: {exc}", file=sys.stderr)
            return 3
        payload = json.loads((out / "reports" / module / "student" / "results.json").read_text())
    for test in payload["tests"]:
        if test["name"].endswith(" (hidden tests)"):
            test["visibility"] = settings["hidden_visibility"]
    (root / "results").mkdir(parents=True, exist_ok=True)
    (root / "results" / "results.json").write_text(json.dumps(payload, indent=1) + "\n")
    print(f"graded {module}: {payload['score']:g} points")
    return 0


if __name__ == "__main__":
    sys.exit(run_autograder(Path(sys.argv[1])))
