"""Every solutions notebook, autograded as a submission by `tito grade`, scores exactly the module's
maximum (and its release notebook scores zero: see test_build for the validator check)."""
import shutil

import nbformat
import pytest

from autograder.grading.pipeline import GradeOptions, grade
from autograder.sandbox.limits import Limits
from helpers import COURSE, REPO


@pytest.mark.parametrize("module", [m.name for m in COURSE.modules()])
def test_solution_scores_full_marks(module, tmp_path):
    subs = tmp_path / "subs"
    (subs / "reference").mkdir(parents=True)
    (subs / "untouched").mkdir(parents=True)
    shutil.copy(REPO / "solutions" / f"{module}.ipynb", subs / "reference" / f"{module}.ipynb")
    shutil.copy(REPO / "release" / module / f"{module}.ipynb", subs / "untouched" / f"{module}.ipynb")
    results, healthy = grade(COURSE, module, GradeOptions(subs, tmp_path / "out", workers=2,
                                                          limits=Limits(cell_timeout=120), progress=False))
    assert healthy
    by_id = {r.student.id: r for r in results}
    release = nbformat.read(REPO / "release" / module / f"{module}.ipynb", as_version=4)
    maximum = sum(c.metadata["nbgrader"]["points"] for c in release.cells if c.metadata["nbgrader"].get("grade"))
    assert maximum > 0
    assert by_id["reference"].max_score == maximum
    assert by_id["reference"].score == maximum, [t for t in by_id["reference"].tests if t["status"] != "passed"]
    assert by_id["untouched"].score == 0
