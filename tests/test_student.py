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
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(tree), "--no-deps",
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


def test_export_of_unfinished_notebook_names_the_functions_and_fails_its_tests(workspace):
    proc = tito("export", "02_activations", cwd=workspace, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr        # exported, but its tests fail
    assert "still unfinished in 02_activations" in proc.stdout and "ReLU.forward" in proc.stdout
    assert "tests pass on the exported package; first failure:" in proc.stdout


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
    assert "kept the previous tensor.py" in proc.stderr
    assert lib_file.read_bytes() == before


def answered(module: str, edit=None) -> nbformat.NotebookNode:
    return fill(release_nb(module), source_nb(module), edit=edit)


def status_block(out: str, module: str) -> str:
    """The two lines `tito status` prints for one module."""
    lines = out.splitlines()
    i = next(i for i, l in enumerate(lines) if l.startswith(module))
    return "\n".join(lines[i:i + 2])


def test_export_runs_the_tests_on_the_export_and_status_says_current(workspace):
    nbformat.write(answered("01_tensor"), workspace / "01_tensor.ipynb")
    proc = tito("export", "01", cwd=workspace)
    n01 = len(release_graded_ids("01_tensor"))
    assert f"{n01}/{n01} tests pass on the exported package" in proc.stdout
    again = tito("export", "tensor", cwd=workspace)          # unchanged output: a second export is a no-op
    assert again.returncode == 0
    status = tito("status", "01_tensor.ipynb", cwd=workspace)
    block = status_block(status.stdout, "01_tensor")
    assert "export: current" in block and f"{n01}/{n01} tests pass" in block, block
    assert status.returncode == 0
    # A change to an exported cell makes the export out of date, by content (not by file time).
    nb = nbformat.read(workspace / "01_tensor.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and "#| export" in c.source)
    cell.source += "\n# a comment"
    nbformat.write(nb, workspace / "01_tensor.ipynb")
    block = status_block(tito("status", "1", "--no-tests", cwd=workspace, check=False).stdout, "01_tensor")
    assert "export: out of date" in block and "tito export 01" in block, block


def release_graded_ids(module: str) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in release_nb(module).cells
            if c.metadata.get("nbgrader", {}).get("grade")]


def test_fresh_workspace_status_says_not_exported_and_names_the_first_failure(workspace):
    proc = tito("status", "01", cwd=workspace, check=False)
    block = status_block(proc.stdout, "01_tensor")
    assert proc.returncode == 1
    assert "export: not exported" in block, block
    first = release_graded_ids("01_tensor")[0]
    assert f"0/{len(release_graded_ids('01_tensor'))} tests pass" in block and f"first failure: {first}" in block


def test_syntax_error_names_the_cell_and_the_students_line(workspace):
    nb = release_nb("01_tensor")
    index, cell = next((i, c) for i, c in enumerate(nb.cells, start=1)
                       if c.metadata.get("nbgrader", {}).get("solution") and "#| export" in c.source)
    cell.source = cell.source.replace("raise NotImplementedError()", "return 1 +")
    nbformat.write(nb, workspace / "01_tensor.ipynb")
    proc = tito("export", "01", cwd=workspace, check=False)
    assert proc.returncode == 2
    assert f"01_tensor.ipynb: cell {index} (the one starting" in proc.stderr, proc.stderr
    assert "`return 1 +`" in proc.stderr and "nothing was exported" in proc.stderr
    assert '\\n' not in proc.stderr                                 # no line of the notebook's JSON


def test_duplicates_and_backups_are_never_taken_for_the_module(workspace, tmp_path):
    nbformat.write(answered("01_tensor"), workspace / "01_tensor.ipynb")
    (workspace / "01_tensor-Copy1.ipynb").write_text("not even json")
    (workspace / "01_tensor.old.ipynb").write_text("{}")
    proc = tito("export", "01", cwd=workspace)
    assert "exported 01_tensor.ipynb" in proc.stdout
    status = tito("status", "--no-tests", cwd=workspace, check=False).stdout
    assert "Copy1" not in status and ".old" not in status
    # Outside a workspace, status refuses instead of running whatever notebooks lie around.
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "01_tensor.bak.ipynb").write_text("{}")
    out = tito("status", cwd=stray, check=False)
    assert out.returncode == 2 and "not a TinyTorch workspace" in out.stderr


def test_a_deleted_test_cell_still_counts(workspace):
    nb = answered("01_tensor")
    graded = release_graded_ids("01_tensor")
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != graded[-1]]
    nbformat.write(nb, workspace / "01_tensor.ipynb")
    tito("export", "01", cwd=workspace)
    block = status_block(tito("status", "01", cwd=workspace).stdout, "01_tensor")
    assert f"{len(graded)}/{len(graded)} tests pass" in block
    assert f"deleted from your notebook (still run here): {graded[-1]}" in block, block


def test_status_tests_the_exported_package_not_the_notebook(workspace):
    """A helper defined in a cell without `#| export` works in the notebook, not in the package."""
    def use_private_helper(grade_id, code):
        return code.replace("def _init_tensor", "def _init_tensor_real", 1) if "def _init_tensor" in code else code

    nb = answered("01_tensor", edit=use_private_helper)
    cell = next(c for c in nb.cells if "def _init_tensor_real" in c.source)
    i = nb.cells.index(cell)
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell(
        "def _init_tensor(*args, **kwargs):\n    return _init_tensor_real(*args, **kwargs)"))
    # the notebook itself passes: the helper exists in the kernel
    ran = execute(nbformat.from_dict(nb), workspace)
    assert all(r.error is None for r in graded_cell_results(ran))
    nbformat.write(nb, workspace / "01_tensor.ipynb")
    proc = tito("export", "01", cwd=workspace, check=False)
    assert proc.returncode == 1 and "NameError" in proc.stdout, proc.stdout
    block = status_block(tito("status", "01", cwd=workspace, check=False).stdout, "01_tensor")
    assert "first failure:" in block and "NameError" in block and "_init_tensor" in block, block


def test_init_again_keeps_the_students_work(workspace, tmp_path):
    mine = workspace / "01_tensor.ipynb"
    nb = nbformat.read(mine, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("my notes"))
    nbformat.write(nb, mine)
    before = mine.read_bytes()
    proc = tito("student", "init", str(workspace), "--release", str(REPO / "release"), cwd=tmp_path)
    assert "kept 01_tensor.ipynb" in proc.stdout
    assert mine.read_bytes() == before


def test_init_again_restores_a_deleted_package(workspace, tmp_path):
    import shutil

    nbformat.write(answered("01_tensor", edit=sign_tensor), workspace / "01_tensor.ipynb")
    shutil.rmtree(workspace / "tinytorch_lib")
    proc = tito("student", "init", str(workspace), "--release", str(REPO / "release"), cwd=tmp_path)
    assert "restored tinytorch_lib/tensor.py from your 01_tensor.ipynb" in proc.stdout
    lib = workspace / "tinytorch_lib"
    assert len(list(lib.glob("*.py"))) == len(COURSE.modules()) + 1
    assert SIGNATURE in (lib / "tensor.py").read_text()
    assert run_python("import tinytorch_lib", workspace).returncode == 0


@pytest.mark.parametrize("name", ["optim", "6", "06", "06_optimizers", "optimizers", "06_optimizers.ipynb",
                                  "./06_optimizers.ipynb"])
def test_every_name_a_student_types_finds_the_module(workspace, name):
    proc = tito("export", name, "--no-tests", cwd=workspace)
    assert "exported 06_optimizers.ipynb -> tinytorch_lib/optim.py" in proc.stdout


def test_an_unknown_module_lists_the_valid_names(workspace):
    proc = tito("export", "optimiser", cwd=workspace, check=False)
    assert proc.returncode == 2
    assert "unknown module 'optimiser'" in proc.stderr and "06_optimizers (06, optimizers, optim)" in proc.stderr


@pytest.mark.parametrize("layout", ["flat", "one module"])
def test_init_from_a_flat_folder_or_one_module(tmp_path, layout):
    import shutil

    handed_out = tmp_path / "handed_out"
    handed_out.mkdir()
    modules = [m.name for m in COURSE.modules()] if layout == "flat" else ["01_tensor"]
    for m in modules:
        shutil.copy(REPO / "release" / m / f"{m}.ipynb", handed_out / f"{m}.ipynb")
    # flat: every notebook in one folder; one module: that module's own release folder, as built
    release = handed_out if layout == "flat" else REPO / "release" / "01_tensor"
    proc = tito("student", "init", str(tmp_path / "ws"), "--release", str(release), cwd=tmp_path)
    assert "workspace ready" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "ws").glob("*.ipynb")) == [f"{m}.ipynb" for m in modules]
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = tito("student", "init", str(tmp_path / "ws2"), "--release", str(empty), cwd=tmp_path, check=False)
    assert bad.returncode == 2 and "no module notebooks" in bad.stderr and "tito build" not in bad.stderr


def test_student_commands_outside_a_course_speak_to_a_student(tmp_path):
    proc = tito("student", "init", "ws", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "--release" in proc.stderr
    assert "source/" not in proc.stderr and "nbgrader_config" not in proc.stderr
    proc = tito("milestone", "perceptron", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "workspace" in proc.stderr
    assert "source/" not in proc.stderr and "nbgrader_config" not in proc.stderr


def test_help_lists_the_students_commands_first():
    out = tito("--help", cwd=REPO).stdout
    order = [out.index(f"    {c} ") for c in ("student", "lab", "export", "status", "check", "build", "grade")]
    assert order == sorted(order), out


def test_notebooks_say_what_next_and_confirm_passing_tests():
    for module in COURSE.modules():
        nb = release_nb(module.name)
        assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")   # the title first
        assert nb.cells[1].metadata.get("jupyter", {}).get("source_hidden") is True          # setup, collapsed
        last = nb.cells[-1].source
        assert "What next" in last and f"tito export {module.name[:2]}" in last
        assert "Restart" in last or module == COURSE.modules()[-1]
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade"):
                assert cell.source.rstrip().endswith(f"print('passed: {cell.metadata['nbgrader']['grade_id']}')")
