"""`tito milestone`: prerequisites derived from imports, refusals that name the module, and the
milestones themselves (quick runs here, full runs marked slow) on the reference package."""
import re
import shutil
import time
from pathlib import Path

import pytest

from autograder.student import milestones
from autograder.course.layout import LIB_NAME, CourseError
from autograder.build.export import read_notebook, render, write_init
from helpers import COURSE, REPO, tito

REFERENCE = REPO / LIB_NAME
# Derived from milestones/ and the reference package: the milestones whose prerequisites it has.
RUNNABLE = [n for n in milestones.available() if not milestones.check_prerequisites(milestones.script_path(n), REPO)]
# Seconds a full run may take (default 120); gpt trains a transformer on 465,000 characters.
FULL_RUN_BUDGET = {"gpt": 300}
VERDICT = re.compile(r"^(\w+): (PASSED|FAILED) - (.*)$", re.M)


def verdict(stdout: str, name: str) -> tuple[str, str]:
    found = [m for m in VERDICT.finditer(stdout) if m.group(1) == name]
    assert len(found) == 1, f"expected one verdict line for {name}, got:\n{stdout}"
    return found[0].group(2), found[0].group(3)


def package_copy(dst: Path) -> Path:
    """A copy of the reference package in `dst/tinytorch_lib`; returns `dst`."""
    shutil.copytree(REFERENCE, dst / LIB_NAME, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def stub_module(lib_parent: Path, module: str) -> None:
    """Replace one module of the package by what a student exports before doing any work."""
    exported = render(read_notebook(REPO / "release" / module / f"{module}.ipynb"), module, f"{module}.ipynb")
    assert exported.unfinished, f"the release notebook of {module} has no stub to test with"
    (lib_parent / LIB_NAME / f"{exported.target}.py").write_text(exported.text, encoding="utf-8")


# ---- discovery and prerequisites (no milestone runs) --------------------------------------------

def test_available_lists_the_scripts():
    names = milestones.available()
    assert names == sorted(p.stem for p in (REPO / "milestones").glob("*.py") if not p.name.startswith("_"))
    assert names and not any(n.startswith("_") for n in names)
    assert RUNNABLE, "the reference package runs no milestone"


def test_prerequisites_are_derived_from_imports():
    perceptron, unknown = milestones.needed_modules(milestones.script_path("perceptron"), REFERENCE)
    assert not unknown
    # the script imports these directly; tensor comes in through the package's own imports too
    assert {"tensor", "activations", "layers", "losses", "autograd", "optim"} <= set(perceptron)
    assert "training" not in perceptron
    xor, _ = milestones.needed_modules(milestones.script_path("xor_mlp"), REFERENCE)
    assert "training" in xor
    assert milestones.check_prerequisites(milestones.script_path("xor_mlp"), REPO) == []


def test_root_imports_resolve_to_the_defining_module(tmp_path):
    lib = package_copy(tmp_path)
    script = tmp_path / "m.py"
    script.write_text("from tinytorch_lib import SGD, Tensor\nfrom tinytorch_lib import layers\n"
                      "from tinytorch_lib import NoSuchThing\nimport numpy\n")
    needed, unknown = milestones.needed_modules(script, lib / LIB_NAME)
    assert {"optim", "tensor", "layers"} <= set(needed)
    assert "training" not in needed and "losses" not in needed
    assert unknown == {"NoSuchThing"}
    assert any("'NoSuchThing'" in p for p in milestones.check_prerequisites(script, lib))


def test_default_package_is_the_workspace_else_the_course(tmp_path, monkeypatch):
    (tmp_path / LIB_NAME).mkdir()
    (tmp_path / LIB_NAME / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    assert milestones.resolve_lib(None) == tmp_path.resolve()
    monkeypatch.chdir(REPO / "docs")               # inside the course, no ./tinytorch_lib
    assert milestones.resolve_lib(None) == REPO
    assert milestones.resolve_lib(REFERENCE) == REPO          # --lib may name the package itself
    with pytest.raises(CourseError, match="no tinytorch_lib"):
        milestones.resolve_lib(tmp_path / "nowhere")


def test_stubbed_prerequisite_is_refused_naming_the_module(tmp_path):
    lib = package_copy(tmp_path / "pkg")
    stub_module(lib, "05_autograd")
    run = tito("milestone", "perceptron", "--quick", "--lib", str(lib), cwd=tmp_path, check=False)
    assert run.returncode != 0
    assert "05_autograd" in run.stderr and "tito export 05_autograd" in run.stderr
    assert "unfinished function(s): unbroadcast" in run.stderr
    for other in ("01_tensor", "03_layers", "06_optimizers"):     # finished modules are not blamed
        assert other not in run.stderr
    assert "Milestone 1" not in run.stdout                          # the script never started
    assert not (tmp_path / "milestone_outputs").exists()


def test_missing_prerequisite_is_refused_naming_the_module(tmp_path):
    lib = package_copy(tmp_path / "pkg")
    # A student who has exported up to 06: 07 is missing, and so are the later modules built on it.
    for path in (lib / LIB_NAME).glob("*.py"):
        owner = milestones.module_of_file(path)
        if owner and owner >= "07_training":
            path.unlink()
    # the package's __init__.py still imports it: nothing can run
    run = tito("milestone", "perceptron", "--quick", "--lib", str(lib), cwd=tmp_path, check=False)
    assert run.returncode != 0
    assert "07_training" in run.stderr and "training.py is missing" in run.stderr
    write_init(lib / LIB_NAME)          # what `tito export` leaves: __init__ lists the files present
    ok = tito("milestone", "perceptron", "--quick", "--lib", str(lib), cwd=tmp_path)   # needs no 07
    assert verdict(ok.stdout, "perceptron")[0] == "PASSED"
    assert f"tinytorch_lib from {(lib / LIB_NAME).resolve()}" in ok.stdout    # the package it was given
    run = tito("milestone", "xor_mlp", "--quick", "--lib", str(lib), cwd=tmp_path, check=False)
    assert run.returncode != 0
    assert "07_training" in run.stderr and "training.py is missing" in run.stderr
    assert "tito export 07_training" in run.stderr


def test_fresh_workspace_is_refused_with_every_module_named(tmp_path):
    ws = tmp_path / "ws"
    tito("student", "init", str(ws), "--release", str(REPO / "release"), cwd=tmp_path)
    run = tito("milestone", "perceptron", cwd=ws, check=False)      # default: ./tinytorch_lib
    assert run.returncode != 0
    needed, _ = milestones.needed_modules(milestones.script_path("perceptron"), REFERENCE)
    owners = {milestones.module_of_file(REFERENCE / f"{target}.py") for target in needed}
    for module in COURSE.modules():      # every module the milestone needs is named, and only those
        assert (f"tito export {module.name}" in run.stderr) == (module.name in owners), (module.name, run.stderr)


def test_cnn_refuses_an_unfinished_spatial_module(tmp_path):
    lib = package_copy(tmp_path / "pkg")
    stub_module(lib, "09_spatial")
    run = tito("milestone", "cnn", "--quick", "--lib", str(lib), cwd=tmp_path, check=False)
    assert run.returncode != 0
    assert "tito export 09_spatial" in run.stderr and "unfinished function(s)" in run.stderr
    assert "08_dataloader" not in run.stderr and "Milestone 3" not in run.stdout
    ok = tito("milestone", "perceptron", "--quick", "--lib", str(lib), cwd=tmp_path)   # needs no 09
    assert verdict(ok.stdout, "perceptron")[0] == "PASSED"


def test_gpt_refuses_an_unfinished_kvcache_module(tmp_path):
    lib = package_copy(tmp_path / "pkg")
    stub_module(lib, "14_kvcaching")
    run = tito("milestone", "gpt", "--quick", "--lib", str(lib), cwd=tmp_path, check=False)
    assert run.returncode != 0
    assert "tito export 14_kvcaching" in run.stderr and "unfinished function(s)" in run.stderr
    assert "13_transformers" not in run.stderr and "Milestone 4" not in run.stdout
    needed, _ = milestones.needed_modules(milestones.script_path("gpt"), REFERENCE)
    assert {"tokenization", "embeddings", "transformer", "kvcache"} <= set(needed)


def test_unknown_milestone(tmp_path):
    run = tito("milestone", "no_such_milestone", "--lib", str(REPO), cwd=tmp_path, check=False)
    assert run.returncode == 2
    assert "unknown milestone" in run.stderr and "perceptron" in run.stderr


# ---- the milestones on the reference package ----------------------------------------------------

@pytest.mark.parametrize("name", RUNNABLE)
def test_quick_milestone_passes_on_reference(tmp_path, name):
    run = tito("milestone", name, "--quick", "--lib", str(REPO), cwd=tmp_path)
    status, details = verdict(run.stdout, name)
    assert status == "PASSED", details
    assert f"tinytorch_lib from {REFERENCE}" in run.stdout        # ran on the package it was given
    assert (tmp_path / "milestone_outputs" / name / f"{name}.png").stat().st_size > 10_000


def test_milestone_fails_honestly_when_learning_is_broken(tmp_path):
    lib = package_copy(tmp_path / "pkg")
    optim = lib / LIB_NAME / "optim.py"
    text = optim.read_text()
    assert text.count("p.data -= self.lr * g") == 1
    optim.write_text(text.replace("p.data -= self.lr * g", "p.data -= 0.0 * g"))   # SGD never moves
    run = tito("milestone", "perceptron", "--quick", "--lib", str(lib), cwd=tmp_path, check=False)
    assert run.returncode == 1
    assert verdict(run.stdout, "perceptron")[0] == "FAILED"


def test_quick_xor_mlp_is_reproducible(tmp_path):
    runs = []
    for i in range(2):
        (tmp_path / str(i)).mkdir()
        runs.append(tito("milestone", "xor_mlp", "--quick", "--lib", str(REPO), cwd=tmp_path / str(i)))
    lines = [re.sub(r", [\d.]+ s$", "", verdict(r.stdout, "xor_mlp")[1]) for r in runs]
    assert lines[0] == lines[1]


@pytest.mark.slow
@pytest.mark.parametrize("name", RUNNABLE)
def test_full_milestone_passes_on_reference(tmp_path, name):
    start = time.perf_counter()
    run = tito("milestone", name, "--lib", str(REPO), cwd=tmp_path)
    seconds = time.perf_counter() - start
    status, details = verdict(run.stdout, name)
    assert status == "PASSED", details
    budget = FULL_RUN_BUDGET.get(name, 120)
    assert seconds < budget, f"the full {name} milestone took {seconds} s (budget: {budget} s)"
