"""`tito build`: from sources to release/, solutions/, tinytorch_lib/ — complete, stable, leak-free."""
from pathlib import Path

import nbformat
import pytest

from autograder.build.export import copy_modules
from autograder.build.kernel import graded_cell_results
from autograder.course.lesson import parse_course
from helpers import COURSE, REPO, copy_course, forbidden_lines, tito

GENERATED = ("release", "solutions", "tinytorch_lib")


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for d in GENERATED for p in sorted((root / d).rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """A newcomer's build: sources only, nothing generated yet."""
    root = tmp_path_factory.mktemp("scratch")
    copy_course(root, with_generated=False)
    tito("build", cwd=root)
    return root


def test_build_from_scratch_produces_the_committed_release_and_package(scratch):
    built, committed = snapshot(scratch), snapshot(REPO)
    assert sorted(built) == sorted(committed)
    for path in built:
        if path.startswith(("release", "tinytorch_lib")):
            assert built[path] == committed[path], f"{path} differs from the committed file: run `tito build`"


def test_solution_notebooks_match_sources_and_ran_cleanly(scratch):
    for module in COURSE.modules():
        new = nbformat.read(scratch / "solutions" / f"{module.name}.ipynb", as_version=4)
        old = nbformat.read(REPO / "solutions" / f"{module.name}.ipynb", as_version=4)
        assert [c.source for c in new.cells] == [c.source for c in old.cells]
        assert new.metadata["tinytorch"] == old.metadata["tinytorch"]
        for cell in old.cells:
            assert not any(o.get("output_type") == "error" for o in cell.get("outputs", [])), cell.id
        results = graded_cell_results(old)
        assert results and all(r.error is None for r in results), module.name


def test_rebuild_changes_nothing(scratch):
    before = snapshot(scratch)
    tito("build", cwd=scratch)
    assert snapshot(scratch) == before


def test_release_holds_one_notebook_per_module_and_no_secret(scratch):
    secrets = forbidden_lines()
    assert secrets and all(secrets.values()), "every module has solution lines to protect"
    for module in COURSE.modules():
        files = sorted(p.name for p in (scratch / "release" / module.name).rglob("*") if p.is_file())
        assert files == [module.notebook_name]
        nb = nbformat.read(scratch / "release" / module.name / module.notebook_name, as_version=4)
        text = "\n".join(c.source for c in nb.cells)
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text
        lines = {l.strip() for l in text.splitlines()}
        leaked = secrets[module.name] & lines
        assert not leaked, f"{module.name} release leaks: {sorted(leaked)[:3]}"


def test_release_notebooks_fail_their_tests_as_shipped(scratch, tmp_path, monkeypatch):
    """nbgrader's validator, inverted: no test cell of an untouched release notebook may pass."""
    from nbgrader.validator import Validator
    from traitlets.config import Config

    for module in COURSE.modules():
        pkg = tmp_path / module.name / "pkg"
        copy_modules(scratch / "tinytorch_lib", pkg / "tinytorch_lib", below=module.number)
        monkeypatch.setenv("PYTHONPATH", str(pkg))
        config = Config()
        config.Validator.invert = True
        config.Execute.timeout = 120
        nb_path = tmp_path / module.name / module.notebook_name
        nb_path.write_bytes((scratch / "release" / module.name / module.notebook_name).read_bytes())
        results = Validator(config=config).validate(str(nb_path))
        assert "changed" not in results and "type_changed" not in results, results
        assert not results.get("passed"), f"{module.name}: tests pass on the stub: {results['passed'][0]['source'][:200]}"


def test_generated_init_imports_every_exported_module_in_course_order(scratch):
    text = (scratch / "tinytorch_lib" / "__init__.py").read_text()
    targets = [line.split()[1][1:] for line in text.splitlines() if line.startswith("from .") and "*" in line]
    assert targets == [p.target for p in parse_course(COURSE) if p.exported_cells()]
