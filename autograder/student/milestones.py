"""`tito milestone NAME`: run a historical milestone on a student's package (or the course's).

A milestone is a plain script, `milestones/<name>.py`, that trains something real with
`tinytorch_lib` (Rosenblatt's perceptron, an MLP on XOR and digits, ...). tito never imports
`tinytorch_lib` itself: it runs the script in a subprocess whose PYTHONPATH starts with the folder
that holds the chosen package, in an output folder of its own (`./milestone_outputs/<name>/`).

Prerequisites are derived, never written down: the `tinytorch_lib` imports of the script are read
with `ast`, followed through the package's own imports, and every module reached must be exported
into the chosen package with no unfinished stub left (an exported stub raises an error whose text
contains "is not implemented yet"). Otherwise the milestone is refused, naming the module(s).

The script runs headless (MPLBACKEND=Agg) with one BLAS thread unless the caller's environment
says otherwise; `--quick` is passed through, and the script's exit code is tito's.
"""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from autograder.build.export import STUB_MARK, module_of_file
from autograder.course.layout import LIB_NAME, Course, CourseError, find_course
from autograder.course.lesson import lib_imports, parse_course, public_names

OUTPUT_DIR = "milestone_outputs"
_STUB_WHERE = re.compile(r"['\"]([\w.]+) " + re.escape(STUB_MARK))


# ---- where things are --------------------------------------------------------------------------

def _course_root() -> Path | None:
    try:
        return find_course().root
    except CourseError:
        return None


def milestones_dir() -> Path:
    """`milestones/` of the course around the current directory, else the one shipped with tito
    (installed as `autograder/milestone_scripts/` by a wheel, beside `autograder/` in a checkout)."""
    candidates = []
    if (root := _course_root()) is not None:
        candidates.append(root / "milestones")
    package = Path(__file__).resolve().parents[1]      # autograder/
    candidates += [package / "milestone_scripts", package.parent / "milestones"]
    for d in candidates:
        if d.is_dir():
            return d
    raise CourseError("no milestones/ folder found (looked in "
                      + ", ".join(str(d) for d in candidates) + ")")


def available() -> list[str]:
    """Names of the milestones (the scripts `milestones/<name>.py`; helpers start with `_`)."""
    try:
        folder = milestones_dir()
    except CourseError:
        return []
    return sorted(p.stem for p in folder.glob("*.py") if not p.name.startswith("_"))


def script_path(name: str) -> Path:
    path = milestones_dir() / f"{name}.py"
    if name.startswith("_") or "/" in name or not path.is_file():
        known = ", ".join(available()) or "none"
        raise CourseError(f"unknown milestone {name!r} (milestones: {known})")
    return path


def resolve_lib(lib: Path | None) -> Path:
    """The folder that contains the `tinytorch_lib` package to run the milestone on."""
    if lib is not None:
        lib = lib.resolve()
        if (lib / LIB_NAME / "__init__.py").is_file():
            return lib
        if lib.name == LIB_NAME and (lib / "__init__.py").is_file():   # --lib pointed at the package
            return lib.parent
        raise CourseError(f"--lib {lib}: no {LIB_NAME}/__init__.py there "
                          f"(give the folder that contains {LIB_NAME}/)")
    here = Path.cwd().resolve()
    for folder in [here, *here.parents]:                                  # a student workspace
        if (folder / LIB_NAME / "__init__.py").is_file() and not (folder / "source").is_dir():
            return folder
    try:
        course = find_course()                                            # the reference package
    except CourseError:
        raise CourseError(f"no {LIB_NAME} here: run `tito milestone NAME` in your workspace (the folder "
                          f"`tito student init` made) or pass --lib FOLDER") from None
    if not (course.lib_dir / "__init__.py").is_file():
        raise CourseError(f"{course.lib_dir}: no reference package (run `tito build` first)")
    return course.root


# ---- prerequisites -----------------------------------------------------------------------------

def _defined_names(path: Path) -> set[str]:
    """Public top-level names a package module defines (what `from tinytorch_lib import X` may mean)."""
    try:
        return set(public_names(ast.parse(path.read_text(encoding="utf-8"))))
    except (SyntaxError, UnicodeDecodeError, OSError):
        return set()


def _package_modules(pkg: Path) -> list[str]:
    return sorted(p.stem for p in pkg.glob("*.py") if p.stem != "__init__")


def imported_targets(tree: ast.AST, pkg: Path, inside_package: bool = False) -> tuple[set[str], set[str]]:
    """(package modules, unknown names) that the code of `tree` imports from `tinytorch_lib`.

    `import tinytorch_lib.x`, `from tinytorch_lib.x import y` and (inside the package)
    `from .x import y` name module `x`; `from tinytorch_lib import y` names the module `y` if there
    is one, else the module that defines `y`; a bare `import tinytorch_lib` needs every module.
    """
    modules, unknown = set(), set()
    for imp in lib_imports(tree, inside_package):
        if imp.submodule:
            modules.add(imp.submodule.split(".")[0])
        elif not imp.names:                      # `import tinytorch_lib`: every module
            modules.update(_package_modules(pkg))
        for name in imp.names:
            if name == "*":
                modules.update(_package_modules(pkg))
            elif (pkg / f"{name}.py").is_file():
                modules.add(name)
            elif owners := [m for m in _package_modules(pkg) if name in _defined_names(pkg / f"{m}.py")]:
                modules.add(owners[0])
            else:
                unknown.add(name)
    return modules, unknown


def needed_modules(script: Path, pkg: Path) -> tuple[list[str], set[str]]:
    """Every package module the script needs (its imports, followed through the package's own
    imports), plus the names it imports from the package root that no module defines."""
    tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    todo, unknown = imported_targets(tree, pkg)
    todo = sorted(todo)
    seen: list[str] = []
    while todo:
        target = todo.pop(0)
        if target in seen:
            continue
        seen.append(target)
        path = pkg / f"{target}.py"
        if path.is_file():
            try:
                sub = ast.parse(path.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError):
                continue          # reported as broken by check_prerequisites
            more, _ = imported_targets(sub, pkg, inside_package=True)
            todo += sorted(more - set(seen))
    return seen, unknown


def _module_for_target(target: str) -> str | None:
    """The course module ("05_autograd") that exports `tinytorch_lib/<target>.py`."""
    root = _course_root() or Path(__file__).resolve().parents[2]
    ref = root / LIB_NAME / f"{target}.py"
    if ref.is_file() and (name := module_of_file(ref)):
        return name
    try:
        return next((p.module.name for p in parse_course(Course(root)) if p.target == target), None)
    except CourseError:     # an unreadable lesson source: name no module
        return None


def check_prerequisites(script: Path, lib_parent: Path) -> list[str]:
    """Problems that stop the milestone from running on this package (empty list: go)."""
    pkg = lib_parent / LIB_NAME
    targets, unknown = needed_modules(script, pkg)
    problems: list[tuple[str, str]] = []        # (module, what is wrong)
    for target in targets:
        path = pkg / f"{target}.py"
        rel = f"{LIB_NAME}/{target}.py"
        if not path.is_file():
            module = _module_for_target(target) or f"the module that exports {LIB_NAME}.{target}"
            problems.append((module, f"{rel} is missing"))
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        module = module_of_file(path) or _module_for_target(target) or f"the module that exports {rel}"
        try:
            ast.parse(text)
        except SyntaxError as exc:
            problems.append((module, f"{rel} does not parse (line {exc.lineno}: {exc.msg})"))
            continue
        if STUB_MARK in text:
            where = list(dict.fromkeys(_STUB_WHERE.findall(text)))
            shown = ", ".join(where[:5]) + (", ..." if len(where) > 5 else "")
            problems.append((module, f"{rel} has {len(where) or 'some'} unfinished function(s)"
                                     + (f": {shown}" if shown else "")))
    # Importing any module runs the package's __init__.py, which imports every module it lists:
    # those need not be finished (a stub only fails when called), but their files must exist.
    try:
        init_tree = ast.parse((pkg / "__init__.py").read_text(encoding="utf-8"))
    except SyntaxError as exc:
        return [f"{LIB_NAME}/__init__.py does not parse (line {exc.lineno}: {exc.msg}); "
                f"re-export any module with `tito export NN_name` to regenerate it"]
    listed, _ = imported_targets(init_tree, pkg, inside_package=True)
    for target in sorted(listed - set(targets)):
        if not (pkg / f"{target}.py").is_file():
            module = _module_for_target(target) or f"the module that exports {LIB_NAME}.{target}"
            problems.append((module, f"{LIB_NAME}/{target}.py is missing ({LIB_NAME}/__init__.py imports it)"))
    lines = [f"{module}: {what}" for module, what in sorted(problems)]
    for name in sorted(unknown):
        lines.append(f"no module of {LIB_NAME} defines {name!r}, which the milestone imports "
                     f"(is every module exported?)")
    if problems:
        modules = list(dict.fromkeys(m for m, _ in sorted(problems)))
        lines.append("to do, in this order:")
        lines += [f"  finish {m} and run `tito export {m}`" for m in modules]
    return lines


# ---- running -----------------------------------------------------------------------------------

def run(name: str, lib: Path | None = None, quick: bool = False) -> int:
    """Run milestone `name` on the chosen package; its exit code (refusals raise CourseError)."""
    script = script_path(name)
    lib_parent = resolve_lib(lib)
    problems = check_prerequisites(script, lib_parent)
    if problems:
        raise CourseError(f"milestone {name} needs modules that {lib_parent / LIB_NAME} has not finished:\n  "
                          + "\n  ".join(problems))
    out = Path.cwd() / OUTPUT_DIR / name
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(lib_parent), *filter(None, [env.get("PYTHONPATH")])])
    env["MPLBACKEND"] = "Agg"
    # The milestones' matrices are small: one BLAS thread is faster than two, and far steadier on
    # a busy machine (2-3x slower and erratic otherwise). Set the variables yourself to override.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    cmd = [sys.executable, str(script), *(["--quick"] if quick else [])]
    print(f"tito milestone {name}{' --quick' if quick else ''}: package {lib_parent / LIB_NAME}, "
          f"outputs in {out}", flush=True)
    return subprocess.run(cmd, cwd=out, env=env).returncode
