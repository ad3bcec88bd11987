"""The student's side: a workspace of release notebooks plus their own `tinytorch_lib`.

A workspace is a flat folder: `01_tensor.ipynb`, `02_activations.ipynb`, ..., `tinytorch_lib/`, and
`.tito/` (the record of its modules and pristine copies of the release notebooks, see modules.py).
Kernels start in that folder, so `import tinytorch_lib` always finds the student's own package
first, whatever else is installed.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from autograder.build.export import ExportedModule, notebook_module_name, read_notebook, render, write_init
from autograder.build.notebooks import write_if_changed
from autograder.course.layout import LIB_NAME, CourseError, find_course
from autograder.course.lesson import parse_directives
from autograder.student.modules import (STATE_DIR, is_module_notebook, module_from_notebook, release_copy,
                                        resolve, workspace_modules, write_manifest)


def release_notebooks(release: Path) -> list[Path]:
    """The module notebooks of a release folder: `NN_name/NN_name.ipynb`, or flat `NN_name.ipynb`."""
    if not release.is_dir():
        raise CourseError(f"{release}: no such folder (give the folder of notebooks your course handed out)")
    found = {}
    for path in sorted(release.glob("*.ipynb")) + sorted(release.glob("*/*.ipynb")):
        if is_module_notebook(path) and path.name not in found:
            found[path.name] = path
    if not found:
        raise CourseError(f"{release}: no module notebooks here or one folder down "
                          f"(files named like 01_tensor.ipynb)")
    return sorted(found.values(), key=lambda p: p.name)


def default_release() -> Path:
    try:
        return find_course().release_dir
    except CourseError:
        raise CourseError("which notebooks? Give the folder of notebooks your course handed out: "
                          "`tito student init DIR --release FOLDER`") from None


def init_workspace(workspace: Path, release: Path | None = None) -> None:
    sources = release_notebooks(release or default_release())
    workspace.mkdir(parents=True, exist_ok=True)
    lib = workspace / LIB_NAME
    lib.mkdir(exist_ok=True)
    modules = []
    for src in sources:
        pristine = read_notebook(src)
        modules.append(module_from_notebook(pristine, src))
        write_if_changed(release_copy(workspace, src.stem), src.read_bytes())
        dst = workspace / src.name
        if dst.exists():
            print(f"kept {dst.name} (already in the workspace)")
        else:
            shutil.copyfile(src, dst)
        restore_package_module(lib, dst, pristine)
    write_manifest(workspace, modules)
    write_init(lib)
    first = modules[0].name if modules else "01_tensor"
    print(f"workspace ready: {workspace}\n"
          f"  open it in JupyterLab (`tito lab {workspace}`), start with {first}.ipynb;\n"
          f"  when a notebook's tests pass, run `tito export {first[:2]}` in that folder, and "
          f"`tito status` to see where you are.")


def restore_package_module(lib: Path, notebook: Path, pristine: nbformat.NotebookNode) -> None:
    """Make sure `lib` has the notebook's module: the student's own export if it compiles, else the stub."""
    exported = render(pristine, notebook_module_name(pristine, notebook), notebook.name)
    target = lib / f"{exported.target}.py"
    if target.exists():
        return
    try:
        mine = render(read_notebook(notebook), exported.module, notebook.name)
    except CourseError:
        mine = None
    if mine is not None and mine.text != exported.text:
        write_if_changed(target, mine.text)
        print(f"restored {LIB_NAME}/{target.name} from your {notebook.name}")
    else:
        write_if_changed(target, exported.text)


def import_error(lib: Path) -> str | None:
    """Import the package in a subprocess (tito itself never imports it); the error, if any."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", f"import {LIB_NAME}"], cwd=lib.parent, env=env,
                         capture_output=True, text=True, timeout=120)
    if run.returncode == 0:
        return None
    lines = run.stderr.strip().splitlines()
    return lines[-1] if lines else f"import failed (exit {run.returncode})"


def syntax_error_in_cells(nb: nbformat.NotebookNode, nb_path: Path) -> str | None:
    """The first exported cell that does not compile, named as the student sees it, or None."""
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code" or "export" not in parse_directives(cell.source):
            continue
        try:
            compile(cell.source, f"{nb_path.name} cell {number}", "exec")
        except SyntaxError as exc:
            first = next((l.strip() for l in cell.source.splitlines()
                          if l.strip() and not parse_directives(l)), "")
            lines = cell.source.splitlines()
            bad = lines[exc.lineno - 1].strip() if exc.lineno and 0 < exc.lineno <= len(lines) else ""
            return (f"{nb_path.name}: cell {number} (the one starting `{first[:60]}`), line {exc.lineno}: "
                    f"{exc.msg}: `{bad}`")
    return None


def render_student_notebook(nb_path: Path) -> ExportedModule:
    nb = read_notebook(nb_path)
    if problem := syntax_error_in_cells(nb, nb_path):
        raise CourseError(f"{problem} -- fix it in the notebook, nothing was exported")
    return render(nb, notebook_module_name(nb, nb_path), nb_path.name)


def write_export(lib_dir: Path, exported: ExportedModule, nb_path: Path) -> Path:
    """Write the module and the package's `__init__`; if the package then fails to import, undo."""
    lib_dir.mkdir(parents=True, exist_ok=True)
    target = lib_dir / f"{exported.target}.py"
    previous = {p: p.read_bytes() for p in (target, lib_dir / "__init__.py") if p.exists()}
    write_if_changed(target, exported.text)
    write_init(lib_dir)
    if error := import_error(lib_dir):
        for p in (target, lib_dir / "__init__.py"):   # nothing is lost: put the old files back
            if p in previous:
                p.write_bytes(previous[p])
            elif p.exists():
                p.unlink()
        kept = f"kept the previous {target.name}" if target in previous else "nothing was written"
        raise CourseError(f"{nb_path.name}: the exported {LIB_NAME}/{target.name} does not import "
                          f"({error}); {kept}. A name your exported code uses must be defined in an "
                          f"`#| export` cell.")
    return target


def export_module(module: str, workspace: Path | None = None, run_tests: bool = True) -> int:
    """`tito export MODULE`: write the package module, then run the notebook's tests against it.

    Exit status 0 if the export happened and its tests pass, 1 if some test fails (the export is
    kept: later notebooks import it), 2 (CourseError) if nothing was exported.
    """
    from autograder.student.status import print_test_summary, run_package_tests

    workspace = workspace or Path.cwd()
    chosen = resolve(workspace_modules(workspace), module)
    nb_path = workspace / chosen.notebook_name
    if not nb_path.is_file():
        raise CourseError(f"{nb_path}: not found (restore it with `tito student init {workspace}`)")
    exported = render_student_notebook(nb_path)
    target = write_export(workspace / LIB_NAME, exported, nb_path)
    print(f"exported {nb_path.name} -> {LIB_NAME}/{target.name}")
    if exported.unfinished:
        print(f"still unfinished in {exported.module}: {', '.join(exported.unfinished)} "
              f"(calling one raises NotImplementedError)")
    if not run_tests:
        return 0
    report = run_package_tests(workspace, chosen)
    print_test_summary(report)
    return 0 if report.all_passed else 1
