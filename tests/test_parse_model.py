"""One parse model of a lesson (autograder/course/lesson.py): nothing else in the package reads a
lesson source, parses `#|` directives, looks for `default_exp` with its own regex, walks
`tinytorch_lib` imports, lists a module's names or takes a module number from a name's first two
characters. A second parser would drift from the first; this test fails the day one appears."""
import ast
import re
from pathlib import Path

import pytest

from helpers import REPO

PACKAGE = REPO / "autograder"
MODEL = PACKAGE / "course" / "lesson.py"
# What only the model may define: readers of lessons and notebooks, and the AST helpers.
MODEL_FUNCTIONS = {"read_cells", "notebook_cells", "parse_directives", "parse_course", "parse_module",
                   "parse_notebook", "top_level_names", "public_names", "defined_names", "lib_imports",
                   "imported_lib_modules", "export_cells", "solution_regions", "student_lines",
                   "without_solution_markers"}
FORBIDDEN = {
    "reads a lesson with jupytext": re.compile(r"\bjupytext\b"),
    "parses `#|` directives": re.compile(r"""["']#\|"""),
    "looks for default_exp with a regex": re.compile(r"re\.\w+\(.*default_exp|default_exp.*re\.(search|match|compile)"),
    "takes a module number from a name's first characters": re.compile(r"int\(\w+\[:2\]\)"),
    "strips solution markers itself": re.compile(r"(BEGIN|END)_SOLUTION not in"),
}


def package_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p != MODEL and "executor" not in p.parts)


def test_the_model_is_where_the_test_looks():
    source = MODEL.read_text(encoding="utf-8")
    assert "jupytext" in source and "def read_cells" in source and "def lib_imports" in source


@pytest.mark.parametrize("path", package_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_second_parser_of_lessons(path):
    text = path.read_text(encoding="utf-8")
    for what, pattern in FORBIDDEN.items():
        for number, line in enumerate(text.splitlines(), start=1):
            assert not pattern.search(line), f"{path.relative_to(REPO)}:{number} {what}: use autograder/course/lesson.py"
    tree = ast.parse(text)
    defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assert not defined & MODEL_FUNCTIONS, f"{path.relative_to(REPO)} defines {sorted(defined & MODEL_FUNCTIONS)}"
    walks_imports = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "ImportFrom"]
    assert not walks_imports, (f"{path.relative_to(REPO)}:{walks_imports[0]} walks imports itself: "
                               f"use lesson.lib_imports")


def test_check_build_export_status_and_milestones_read_lessons_through_the_model(monkeypatch, tmp_path):
    """Observed, not only scanned: each command's lesson reading goes through the model's readers."""
    import nbformat

    from autograder.build import export
    from autograder.check import rules
    from autograder.course import lesson
    from autograder.student import milestones, modules
    from helpers import COURSE

    calls = []
    for name in ("read_cells", "notebook_cells"):
        real = getattr(lesson, name)
        monkeypatch.setattr(lesson, name, lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a))
    rules.check(COURSE)
    assert calls.count("read_cells") == len(COURSE.modules()), "check reads each lesson once, through the model"
    target = lesson.parse_module(COURSE.modules()[0]).target
    calls.clear()
    monkeypatch.setattr(milestones, "module_of_file", lambda path: None)   # no reference file: ask the lessons
    assert milestones._module_for_target(target) == COURSE.modules()[0].name
    assert set(calls) == {"read_cells"}, calls
    calls.clear()
    release = REPO / "release" / COURSE.modules()[0].name / COURSE.modules()[0].notebook_name
    nb = nbformat.read(release, as_version=4)
    assert export.render(nb, COURSE.modules()[0].name, "x").target == target and calls == ["notebook_cells"]
    calls.clear()
    assert modules.module_from_notebook(nb, release).target == target and calls == ["notebook_cells"]
