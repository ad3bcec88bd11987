"""Where things live in a course checkout, and which modules it has.

The module list is never written down: it is the sorted list of `source/NN_name/NN_name.py` files.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from autograder.course.constants import LIB_NAME

MODULE_DIR = re.compile(r"^(\d\d)_([a-z0-9_]+)$")


class CourseError(Exception):
    """A problem with the course layout or a command's arguments; the message says what to fix."""


@dataclass(frozen=True)
class Module:
    number: int
    name: str          # "01_tensor": the nbgrader assignment and notebook name
    source: Path       # source/01_tensor/01_tensor.py

    @property
    def notebook_name(self) -> str:
        return f"{self.name}.ipynb"

    @classmethod
    def named(cls, name: str, source: Path) -> "Module":
        """The module called `name`; its number is 0 if the name has none ("01_tensor" -> 1)."""
        return cls(module_number(name) or 0, name, source)


def module_number(name: str) -> int | None:
    """1 for "01_tensor"; None for a name that is not a module's."""
    m = MODULE_DIR.match(name)
    return int(m.group(1)) if m else None


@dataclass(frozen=True)
class Course:
    root: Path

    @property
    def source_dir(self) -> Path:
        return self.root / "source"

    @property
    def release_dir(self) -> Path:
        return self.root / "release"

    @property
    def solutions_dir(self) -> Path:
        return self.root / "solutions"

    @property
    def lib_dir(self) -> Path:
        return self.root / LIB_NAME

    @property
    def nbgrader_root(self) -> Path:
        """nbgrader's own course folder (source notebooks, gradebook): generated, never committed."""
        return self.root / "build" / "nbgrader"

    @property
    def config_file(self) -> Path:
        return self.root / "nbgrader_config.py"

    def modules(self) -> list[Module]:
        found = []
        if self.source_dir.is_dir():
            for d in sorted(self.source_dir.iterdir()):
                m = MODULE_DIR.match(d.name)
                if m and (d / f"{d.name}.py").is_file():
                    found.append(Module(int(m.group(1)), d.name, d / f"{d.name}.py"))
        return found

    def select(self, names: list[str] | None) -> list[Module]:
        """Modules named on the command line ("01_tensor", "01" or "tensor"), in course order."""
        modules = self.modules()
        if not names:
            return modules
        chosen = {resolve_module(modules, n).name for n in names}
        return [m for m in modules if m.name in chosen]


def resolve_module(modules: list[Module], name: str) -> Module:
    for m in modules:
        if name in (m.name, f"{m.number:02d}", m.name.split("_", 1)[1]):
            return m
    known = ", ".join(m.name for m in modules) or "none"
    raise CourseError(f"unknown module {name!r} (modules: {known})")


def find_course(start: Path | None = None) -> Course:
    """The course whose root holds `source/` and `nbgrader_config.py`, searching upwards."""
    here = (start or Path.cwd()).resolve()
    for d in [here, *here.parents]:
        if (d / "source").is_dir() and (d / "nbgrader_config.py").is_file():
            return Course(d)
    raise CourseError(f"no course found at or above {here} (looking for source/ and nbgrader_config.py)")
