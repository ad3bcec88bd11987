"""The student's side: workspace, export, status, and that nothing a student gets holds a solution."""
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.build.kernel import execute, graded_cell_results
from autograder.demo.sample_class import fill
from helpers import COURSE, REPO, forbidden_lines, tito

SIGNATURE = "student-own-tensor-7f3a"


def source_nb(module: str) -> nbformat.NotebookNode:
    """The nbgrader source notebook (solutions + hidden tests), as the build makes it."""
    from autograder.course.lesson import parse_course
    from autograder.build.notebooks import build_notebook

    parsed = next(p for p in parse_course(COURSE) if p.module.name == module)
    return build_notebook(parsed.module, parsed.cells)


def release_nb(module: str) -> nbformat.NotebookNode:
    return nbformat.read(REPO / "release" / module / f"{module}.ipynb", as_version=4)


@pytest.fixture()
def workspace(tmp_path) -> Path:
    ws = tmp_path / "ws"
    tito("student", "init", str(ws), "--release", str(REPO / "release"), cwd=tmp_path)
    return ws


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    # PYTHONPATH points at the repository, as if the reference package were installed: the
    # workspace's own package must still win.
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=120)


def test_workspace_has_every_notebook_and_an_importable_stub_package(workspace):
    names = sorted(p.name for p in workspace.glob("*.ipynb"))
    assert names == [f"{m.name}.ipynb" for m in COURSE.modules()]
    proc = run_python("import tinytorch_lib, sys; print(tinytorch_lib.__file__)", workspace)
    assert proc.returncode == 0, proc.stderr
    assert str(workspace) in proc.stdout


def test_unfinished_stub_names_the_module_to_finish(workspace):
    proc = run_python("from tinytorch_lib import Tensor; Tensor([1.0]) + Tensor([2.0])", workspace)
    assert proc.returncode != 0
    assert "NotImplementedError" in proc.stderr and "01_tensor" in proc.stderr
    assert "tito export 01_tensor" in proc.stderr


def test_nothing_in_the_workspace_holds_a_solution_line(workspace):
    secrets = set().union(*forbidden_lines().values())
    for path in workspace.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".ipynb"):
            text = path.read_text(encoding="utf-8")
            lines = {l.strip() for l in text.splitlines()}
            if path.suffix == ".ipynb":
                lines = {l.strip() for c in nbformat.reads(text, as_version=4).cells for l in c.source.splitlines()}
            assert not secrets & lines, f"{path} leaks {sorted(secrets & lines)[:2]}"


def test_installed_tool_holds_no_course_content(tmp_path):
    """The wheel a student installs to get `tito`: no source/, solutions/ or reference package."""
    import shutil

    tree = tmp_path / "checkout"   # a clean tree: no stale setuptools build/ folder
    tree.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, tree / name)
    for name in ("autograder", "milestones"):
        shutil.copytree(REPO / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(tree), "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), "-q"], check=True, capture_output=True, timeout=600)
    (wheel,) = tmp_path.glob("*.whl")
    secrets = set().union(*forbidden_lines().values())
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert not [n for n in names if n.startswith(("source/", "solutions/", "tinytorch_lib/", "release/"))]
        # every subpackage ships, with the executor's files that run inside the sandbox
        for package in sorted(REPO.glob("autograder/**/__init__.py")):
            assert str(package.relative_to(REPO)) in names, f"the wheel lacks {package.parent.name}/"
        for path in sorted((REPO / "autograder" / "sandbox" / "executor").glob("*.py")):
            assert str(path.relative_to(REPO)) in names, f"the wheel lacks the executor's {path.name}"
        assert "autograder/milestone_scripts/perceptron.py" in names   # milestones work from a wheel
        for name in names:
            lines = {l.strip() for l in z.read(name).decode("utf-8", "replace").splitlines()}
            assert not secrets & lines, f"{name} leaks {sorted(secrets & lines)[:2]}"


def sign_tensor(grade_id: str, code: str) -> str:
    """The student's own, observably different, implementation: a module-level name of their own
    in every answer cell (the exported ones carry it into tensor.py)."""
    return code + f"\n\n_student_signature = {SIGNATURE!r}"


def test_student_chain_uses_the_students_own_export(workspace):
    nb01 = fill(release_nb("01_tensor"), source_nb("01_tensor"), edit=sign_tensor)
    nbformat.write(nb01, workspace / "01_tensor.ipynb")
    proc = tito("export", "01_tensor", cwd=workspace)
    assert "exported 01_tensor.ipynb" in proc.stdout
    assert "unfinished" not in proc.stderr
    assert SIGNATURE in (workspace / "tinytorch_lib" / "tensor.py").read_text()

    nb02 = fill(release_nb("02_activations"), source_nb("02_activations"))
    probe = nbformat.v4.new_code_cell(
        "import tinytorch_lib.tensor as _t\nprint(_t.__file__)\nprint(_t._student_signature)")
    nb02.cells.append(probe)
    # A fresh kernel in the workspace, with the reference package on PYTHONPATH as if installed.
    ran = execute(nb02, workspace, pythonpath=REPO)
    results = graded_cell_results(ran)
    assert results and all(r.error is None for r in results), [r for r in results if r.error]
    printed = "".join(o.get("text", "") for o in ran.cells[-1].outputs)
    assert str(workspace / "tinytorch_lib" / "tensor.py") in printed
    assert SIGNATURE in printed


def test_export_of_unfinished_notebook_warns_with_function_names(workspace):
    proc = tito("export", "02_activations", cwd=workspace)
    assert "warning: 02_activations still has unfinished functions" in proc.stderr
    assert "ReLU.forward" in proc.stderr


def test_export_that_would_not_import_keeps_the_previous_file(workspace):
    lib_file = workspace / "tinytorch_lib" / "tensor.py"
    before = lib_file.read_bytes()
    nb = release_nb("01_tensor")
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "#| export\nraise RuntimeError('boom at import')"
            break
    nbformat.write(nb, workspace / "01_tensor.ipynb")
    proc = tito("export", "01_tensor", cwd=workspace, check=False)
    assert proc.returncode == 2
    assert "does not import" in proc.stderr and "boom at import" in proc.stderr
    assert lib_file.read_bytes() == before


def test_status_reports_export_and_tests(workspace):
    nbformat.write(fill(release_nb("01_tensor"), source_nb("01_tensor")), workspace / "01_tensor.ipynb")
    tito("export", "01_tensor", cwd=workspace)
    for extra in list(workspace.glob("*.ipynb")):
        if not extra.name.startswith(("01_", "02_")):
            extra.unlink()
    out = tito("status", cwd=workspace).stdout
    line01 = next(l for l in out.splitlines() if l.startswith("01_tensor"))
    line02 = next(l for l in out.splitlines() if l.startswith("02_activations"))
    n01 = len([c for c in release_nb("01_tensor").cells if c.metadata.get("nbgrader", {}).get("grade")])
    assert "exported" in line01 and "stub" not in line01 and f"{n01}/{n01} passing" in line01
    assert "stub(s) left" in line02 and " 0/" in line02


def test_init_again_keeps_the_students_work(workspace, tmp_path):
    mine = workspace / "01_tensor.ipynb"
    nb = nbformat.read(mine, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("my notes"))
    nbformat.write(nb, mine)
    before = mine.read_bytes()
    proc = tito("student", "init", str(workspace), "--release", str(REPO / "release"), cwd=tmp_path)
    assert "kept 01_tensor.ipynb" in proc.stdout
    assert mine.read_bytes() == before
