"""The whole student path for every module: fill the release notebook with the solution cells, run it
in a fresh kernel in the workspace (importing the student's own earlier exports), export it, go on;
then run the milestones on the package the 'student' built."""
import nbformat
import pytest

from autograder.build.kernel import execute, graded_cell_results
from autograder.demo.sample_class import fill
from helpers import COURSE, REPO, tito
from test_milestones import RUNNABLE
from test_student import release_nb, source_nb


@pytest.fixture(scope="module")
def student_package(tmp_path_factory):
    ws = tmp_path_factory.mktemp("chain") / "ws"
    tito("student", "init", str(ws), "--release", str(REPO / "release"), cwd=ws.parent)
    for module in COURSE.modules():
        nb = fill(release_nb(module.name), source_nb(module.name))
        ran = execute(nb, ws, pythonpath=REPO)   # the reference on PYTHONPATH must not be used
        results = graded_cell_results(ran)
        failed = [f"{r.grade_id}: {r.error}" for r in results if r.error]
        assert results and not failed, f"{module.name}: {failed}"
        nbformat.write(nb, ws / module.notebook_name)
        proc = tito("export", module.name, "--no-tests", cwd=ws)
        assert "unfinished" not in proc.stderr, proc.stderr
    return ws


def test_every_module_exported_without_stubs(student_package):
    lib = student_package / "tinytorch_lib"
    for path in lib.glob("*.py"):
        assert "is not implemented yet" not in path.read_text(), path.name
    assert len(list(lib.glob("*.py"))) == len(COURSE.modules()) + 1


@pytest.mark.parametrize("milestone", RUNNABLE)
def test_milestones_pass_on_the_students_package(student_package, milestone):
    if not (REPO / "milestones" / f"{milestone}.py").exists():
        pytest.fail(f"milestones/{milestone}.py is missing")
    proc = tito("milestone", milestone, "--quick", cwd=student_package, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert str(student_package / "tinytorch_lib") in proc.stdout + proc.stderr
