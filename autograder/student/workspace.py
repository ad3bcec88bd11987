"""The student's side: a workspace of release notebooks plus their own `tinytorch_lib`.

A workspace is a flat folder: `01_tensor.ipynb`, `02_activations.ipynb`, ... and `tinytorch_lib/`.
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

from autograder.course.layout import LIB_NAME, CourseError, find_course
from autograder.build.export import STUB_MARK, module_of_file, notebook_module_name, read_notebook, render, write_init
from autograder.build.kernel import execute, graded_cell_results
from autograder.build.notebooks import write_if_changed
from autograder.course.lesson import parse_notebook


def release_notebooks(release: Path) -> list[Path]:
    notebooks = sorted(release.glob("*/*.ipynb"))
    if not notebooks:
        raise CourseError(f"{release}: no release notebooks (run `tito build` first?)")
    return notebooks


def init_workspace(workspace: Path, release: Path | None = None) -> None:
    release = release or find_course().release_dir
    workspace.mkdir(parents=True, exist_ok=True)
    lib = workspace / LIB_NAME
    for src in release_notebooks(release):
        dst = workspace / src.name
        if dst.exists():
            print(f"kept {dst.name} (already in the workspace)")
            continue
        shutil.copyfile(src, dst)
        exported = render(read_notebook(dst), notebook_module_name(read_notebook(dst), dst), dst.name)
        lib.mkdir(exist_ok=True)
        write_if_changed(lib / f"{exported.target}.py", exported.text)
    write_init(lib)
    print(f"workspace ready: {workspace} (open it in JupyterLab; after finishing a module run "
          f"`tito export NN_name` there)")


def find_notebook(folder: Path, module: str) -> Path:
    for path in sorted(folder.glob("*.ipynb")):
        if module in (path.stem, path.stem[:2], path.stem.split("_", 1)[-1]):
            return path
    raise CourseError(f"no notebook for module {module!r} in {folder}")


def import_error(lib: Path) -> str | None:
    """Import the package in a subprocess (tito itself never imports it); the error, if any."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", f"import {LIB_NAME}"], cwd=lib.parent, env=env,
                         capture_output=True, text=True, timeout=120)
    if run.returncode == 0:
        return None
    lines = run.stderr.strip().splitlines()
    return lines[-1] if lines else f"import failed (exit {run.returncode})"


def export_module(module: str, notebook: str | None = None, lib: str | None = None) -> Path:
    nb_path = Path(notebook) if notebook else find_notebook(Path.cwd(), module)
    lib_dir = Path(lib) if lib else nb_path.parent / LIB_NAME
    nb = read_notebook(nb_path)
    exported = render(nb, notebook_module_name(nb, nb_path), nb_path.name)
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
        raise CourseError(f"{nb_path}: the exported {exported.target}.py does not import ({error}); "
                          f"kept the previous {target}")
    print(f"exported {nb_path.name} -> {target}")
    if exported.unfinished:
        print(f"warning: {exported.module} still has unfinished functions: {', '.join(exported.unfinished)} "
              f"(calling one raises NotImplementedError)", file=sys.stderr)
    return target


def module_state(lib: Path, nb_path: Path, nb: nbformat.NotebookNode) -> str:
    target = parse_notebook(nb, notebook_module_name(nb, nb_path), nb_path).target
    if not target:
        return "nothing to export"
    path = lib / f"{target}.py"
    if not path.exists() or module_of_file(path) != notebook_module_name(nb, nb_path):
        return "not exported"
    stubs = path.read_text(encoding="utf-8").count(STUB_MARK)
    if stubs:
        return f"exported, {stubs} stub(s) left"
    if nb_path.stat().st_mtime > path.stat().st_mtime:
        return "exported (notebook changed since)"
    return "exported"


def print_status(workspace: Path, run_tests: bool = True) -> int:
    lib = workspace / LIB_NAME
    notebooks = sorted(p for p in workspace.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise CourseError(f"{workspace}: no module notebooks here (create a workspace with `tito student init`)")
    print(f"{'module':<20} {'package':<34} tests")
    for path in notebooks:
        nb = read_notebook(path)
        tests = "-"
        if run_tests:
            results = graded_cell_results(execute(nb, workspace.resolve(), timeout=120))
            passed = sum(r.error is None for r in results)
            tests = f"{passed}/{len(results)} passing"
        print(f"{path.stem:<20} {module_state(lib, path, read_notebook(path)):<34} {tests}")
    return 0
