"""Which modules a student workspace holds, and every name a student may call one by.

`tito student init` records the workspace's modules in `.tito/workspace.json` (name, export target,
the release notebook's test cells) and keeps a pristine copy of each release notebook in
`.tito/release/`: status runs those tests, so a test cell deleted or edited in the student's copy
cannot make a module look finished. A workspace made without the record falls back to its notebooks.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from autograder.build.export import notebook_module_name, read_notebook
from autograder.build.notebooks import write_if_changed
from autograder.course.constants import LIB_NAME
from autograder.course.layout import CourseError
from autograder.course.lesson import parse_notebook

# Only a module's own notebook counts: "01_tensor.ipynb", never JupyterLab's "01_tensor-Copy1.ipynb"
# or a backup such as "01_tensor.old.ipynb".
MODULE_NOTEBOOK = re.compile(r"^(\d\d)_([a-z0-9_]+)\.ipynb$")
STATE_DIR = ".tito"
MANIFEST = "workspace.json"


@dataclass(frozen=True)
class WorkspaceModule:
    name: str                 # "06_optimizers"
    target: str | None        # "optim": the tinytorch_lib module its exports go to
    tests: tuple[str, ...]    # grade ids of the release notebook's test cells

    @property
    def number(self) -> int:
        return int(self.name[:2])

    @property
    def short(self) -> str:
        return self.name.split("_", 1)[1]

    @property
    def notebook_name(self) -> str:
        return f"{self.name}.ipynb"

    def aliases(self) -> set[str]:
        names = {self.name, self.short, f"{self.number:02d}", str(self.number), self.notebook_name}
        return names | ({self.target} if self.target else set())

    def describe(self) -> str:
        extra = [f"{self.number:02d}", self.short] + ([self.target] if self.target not in (None, self.short) else [])
        return f"{self.name} ({', '.join(extra)})"


def is_module_notebook(path: Path) -> bool:
    return bool(MODULE_NOTEBOOK.match(path.name))


def module_from_notebook(nb: nbformat.NotebookNode, path: Path) -> WorkspaceModule:
    lesson = parse_notebook(nb, notebook_module_name(nb, path), path)
    tests = tuple(c.grade_id for c in lesson.cells if c.kind == "test" and c.grade_id)
    return WorkspaceModule(lesson.module.name, lesson.target, tests)


def release_copy(workspace: Path, module: str) -> Path:
    return workspace / STATE_DIR / "release" / f"{module}.ipynb"


def write_manifest(workspace: Path, modules: list[WorkspaceModule]) -> None:
    data = {"modules": [asdict(m) for m in sorted(modules, key=lambda m: m.name)]}
    write_if_changed(workspace / STATE_DIR / MANIFEST, json.dumps(data, indent=1) + "\n")


def workspace_modules(workspace: Path) -> list[WorkspaceModule]:
    """The modules of a workspace: its record, else its module notebooks."""
    record = workspace / STATE_DIR / MANIFEST
    if record.is_file():
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
            return [WorkspaceModule(m["name"], m["target"], tuple(m["tests"])) for m in data["modules"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise CourseError(f"{record}: damaged ({exc}); run `tito student init {workspace}` again "
                              f"(your notebooks are kept)") from exc
    found = []
    for path in sorted(workspace.glob("*.ipynb")):
        if is_module_notebook(path):
            found.append(module_from_notebook(read_notebook(path), path))
    return found


def find_workspace(start: Path | None = None) -> Path:
    """The student workspace at or above `start`: a folder with `tinytorch_lib/` or `.tito/`."""
    here = (start or Path.cwd()).resolve()
    for d in [here, *here.parents]:
        if (d / STATE_DIR / MANIFEST).is_file() or (d / LIB_NAME / "__init__.py").is_file():
            return d
    raise CourseError(f"{here} is not a TinyTorch workspace (no {LIB_NAME}/ here or above): run this in "
                      f"the folder `tito student init` made, or make one with `tito student init DIR "
                      f"--release FOLDER_OF_NOTEBOOKS`")


def resolve(modules: list[WorkspaceModule], text: str) -> WorkspaceModule:
    """The module a student means by `text`: 6, 06, 06_optimizers, optimizers, optim, 06_optimizers.ipynb."""
    key = Path(text.strip()).name
    for m in modules:
        if key in m.aliases() or key.removesuffix(".ipynb") in m.aliases():
            return m
    valid = "\n  ".join(m.describe() for m in modules) or "(none: this workspace has no module notebooks)"
    raise CourseError(f"unknown module {text!r}. Modules in this workspace (any of these names works):\n  {valid}")
