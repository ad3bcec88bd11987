"""`tito check` rejects each defect, reporting file:line: message (one small bad source per defect);
`--stats` counts the student's share; `--mutants` measures how many planted bugs the tests catch."""
import textwrap
from pathlib import Path

import pytest

from autograder.check.rules import check, course_stats, errors
from autograder.course.layout import Course

GOOD_01 = textwrap.dedent('''\
    # %% [markdown]
    # # 01 Scale

    # %%
    #| default_exp scale
    #| export
    import numpy as np

    # %% solution id="scale"
    #| export
    def scale(x, factor):
        """Multiply x by factor."""
        ### BEGIN SOLUTION
        return np.asarray(x, dtype=float) * factor
        ### END SOLUTION

    # %% test id="test-scale" points=1
    assert list(scale([1], 2)) == [2.0], f"expected [2.0], got {scale([1], 2)}"
    ### BEGIN HIDDEN TESTS
    assert scale([], 2).shape == (0,), "an empty input gives an empty output"
    ### END HIDDEN TESTS
    ''')

GOOD_02 = textwrap.dedent('''\
    # %%
    #| default_exp double
    #| export
    from tinytorch_lib.scale import scale

    # %% solution id="double"
    #| export
    def double(x):
        """Twice x."""
        ### BEGIN SOLUTION
        return scale(x, 2)
        ### END SOLUTION

    # %% test id="test-double" points=2
    assert list(double([1])) == [2.0], f"expected [2.0], got {double([1])}"
    ''')


def make_course(root: Path, first: str = GOOD_01, second: str = GOOD_02) -> Course:
    for name, text in (("01_scale", first), ("02_double", second)):
        (root / "source" / name).mkdir(parents=True)
        (root / "source" / name / f"{name}.py").write_text(text)
    (root / "nbgrader_config.py").write_text("c = get_config()\n")
    return Course(root)


def test_good_course_passes(tmp_path):
    # Its one-line regions are too small for a real lesson: warnings only, no error.
    problems = check(make_course(tmp_path))
    assert errors(problems) == [] and all(p.is_warning for p in problems), problems


DEFECTS = {
    "missing id": (GOOD_01.replace('solution id="scale"', "solution"), 9, "without an id"),
    "duplicate id": (GOOD_01.replace('id="test-scale"', 'id="scale"'), 17, "duplicate id 'scale'"),
    "unbalanced markers": (GOOD_01.replace("    ### END SOLUTION\n", ""), 13, "never closed"),
    "hidden markers outside test": (
        GOOD_01.replace("import numpy as np", "import numpy as np\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS"),
        8, "hidden-test markers outside a `test` cell"),
    "untested solution name": (
        GOOD_01.replace("    ### END SOLUTION\n", "    ### END SOLUTION\n\n\ndef helper():\n    return 1\n"),
        9, "`helper` is defined here but no test cell mentions it"),
    "test without points": (GOOD_01.replace(" points=1", ""), 17, "without points"),
    "input() in student code": (
        GOOD_01.replace("return np.asarray", "factor = input()\n    return np.asarray"), 14,
        "`input()` would block"),
    "import of a later module": (
        GOOD_01.replace("import numpy as np", "import numpy as np\nfrom tinytorch_lib.double import double"),
        8, "imports tinytorch_lib.double, which belongs to this or a later module"),
    "export without target": (GOOD_01.replace("#| default_exp scale\n", ""), 5,
                              "no `#| default_exp NAME` target"),
    "giveaway in the lesson text": (
        GOOD_01.replace("# # 01 Scale\n", "# # 01 Scale\n# Write `return np.asarray(x, dtype=float)*factor`.\n"),
        15, "gives the answer away: `return np.asarray(x, dtype=float) * factor` also stands in the student "
            "notebook at line 3"),
    "giveaway in a docstring": (
        GOOD_01.replace('"""Multiply x by factor."""', '"""Multiply x by factor:\n    return np.asarray(x, dtype=float) * factor\n    """'),
        16, "also stands in the student notebook at line 13"),
    "giveaway in given code": (
        GOOD_01.replace("import numpy as np", "import numpy as np\n# old: return np.asarray(x,  dtype=float) * factor"),
        15, "also stands in the student notebook at line 8"),
    "giveaway in a visible test": (
        GOOD_01.replace("### BEGIN HIDDEN", "assert 1, 'return np.asarray(x, dtype=float) * factor'\n### BEGIN HIDDEN"),
        14, "also stands in the student notebook at line 19"),
    "visible assert without a message": (
        GOOD_01.replace(', f"expected [2.0], got {scale([1], 2)}"', ""), 18, "assert without a message"),
    "hidden assert without a message": (
        GOOD_01.replace(', "an empty input gives an empty output"', ""), 20, "assert without a message"),
    "region around a whole function (its stub raises at import)": (
        GOOD_01.replace('def scale(x, factor):\n    """Multiply x by factor."""\n    ### BEGIN SOLUTION\n',
                        '### BEGIN SOLUTION\ndef scale(x, factor):\n    """Multiply x by factor."""\n'), 11,
        "solution region outside a function body"),
    "region in a class body": (
        GOOD_01.replace('def scale(x, factor):\n    """Multiply x by factor."""\n    ### BEGIN SOLUTION\n',
                        'class Scaler:\n    ### BEGIN SOLUTION\n    def scale(self, x, factor):\n        return x\n'
                        '    ### END SOLUTION\n\n\ndef scale(x, factor):\n    ### BEGIN SOLUTION\n'), 12,
        "solution region outside a function body"),
    "export directive below the cell's first lines (the cell would leave the package)": (
        GOOD_01.replace('# %% solution id="scale"\n#| export\n', '# %% solution id="scale"\n# the task\n#| export\n'),
        11, "is not among the cell's first lines, so it is ignored"),
    "assert without a message inside a test function": (
        GOOD_01.replace("### BEGIN HIDDEN TESTS", "def check_it():\n    assert scale([1], 1)[0] == 1\ncheck_it()\n"
                        "### BEGIN HIDDEN TESTS"), 20, "assert without a message"),
}


@pytest.mark.parametrize("defect", DEFECTS)
def test_each_defect_is_reported_with_file_and_line(tmp_path, defect):
    text, line, message = DEFECTS[defect]
    problems = check(make_course(tmp_path, first=text))
    rendered = [str(p) for p in problems]
    source = tmp_path / "source" / "01_scale" / "01_scale.py"
    assert any(message in r for r in rendered), rendered
    assert any(r.startswith(f"{source}:{line}: ") and message in r for r in rendered), rendered


def test_no_false_giveaways(tmp_path):
    """Hidden tests, other solution regions, comments and short lines may repeat a solution line."""
    first = GOOD_01.replace("    return np.asarray(x, dtype=float) * factor\n",
                            "    # multiply elementwise by the factor\n    y = x\n"
                            "    return np.asarray(x, dtype=float) * factor\n").replace(
        "### END HIDDEN TESTS", "assert (scale([1], 2) == np.asarray([1], dtype=float) * 2).all(), 'hidden'\n"
                                "x, factor = [1], 2\nassert 1, 'return np.asarray(x, dtype=float) * factor'\n"
                                "### END HIDDEN TESTS").replace(
        "# # 01 Scale", "# # 01 Scale\n# multiply elementwise by the factor; y = x")
    assert errors(check(make_course(tmp_path, first=first))) == []


# An eight-line region: a task the student designs, so no warning.
BIG_REGION = GOOD_01.replace("    return np.asarray(x, dtype=float) * factor\n", """\
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    flat_in = x.reshape(-1)
    flat_out = out.reshape(-1)
    for i in range(flat_in.size):
        flat_out[i] = flat_in[i] * factor
    assert out.shape == x.shape
    return out
""")


def test_small_largest_region_is_a_warning_at_its_marker(tmp_path):
    course = make_course(tmp_path, first=BIG_REGION)
    problems = [str(p) for p in check(course)]
    first, second = (tmp_path / "source" / n / f"{n}.py" for n in ("01_scale", "02_double"))
    assert not any(str(first) in p for p in problems), problems
    assert problems == [f"{second}:10: warning: the largest solution region has 1 lines; give the student "
                        "one task of at least 8 lines to design (an algorithm, not a formula)"], problems


def test_warnings_do_not_fail_the_cli(tmp_path):
    from helpers import tito

    make_course(tmp_path)
    proc = tito("check", cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "01_scale.py:13: warning: the largest solution region has 1 lines" in proc.stdout
    assert "0 problem(s), 2 warning(s)" in proc.stdout


def test_stats_count_the_student_lines(tmp_path):
    course = make_course(tmp_path, first=BIG_REGION)
    rows = {r.name: r for r in course_stats(course)}
    assert (rows["01_scale"].total, rows["01_scale"].student, rows["01_scale"].regions,
            rows["01_scale"].largest) == (28, 8, 1, 8), rows
    assert (rows["02_double"].total, rows["02_double"].student, rows["02_double"].largest) == (15, 1, 1), rows
    assert (rows["total"].total, rows["total"].student, rows["total"].regions) == (43, 9, 2), rows
    assert f"{rows['total'].share:.1%}" == "20.9%"


def test_stats_cli_prints_a_row_per_module_and_a_total(tmp_path):
    from helpers import tito

    make_course(tmp_path, first=BIG_REGION)
    lines = tito("check", "--stats", cwd=tmp_path).stdout.splitlines()
    assert lines[0].split() == ["module", "lines", "student", "share", "regions", "largest"]
    assert lines[1].split() == ["01_scale", "28", "8", "28.6%", "1", "8"], lines
    assert lines[-1].split() == ["total", "43", "9", "20.9%", "2", "8"], lines


def test_export_target_collision(tmp_path):
    second = GOOD_02.replace("default_exp double", "default_exp scale").replace(
        "from tinytorch_lib.scale import scale", "import numpy as np")
    problems = [str(p) for p in check(make_course(tmp_path, second=second))]
    assert any("export target 'scale' collides with module 01_scale" in p and ":2: " in p for p in problems), problems


def test_duplicate_id_across_modules(tmp_path):
    second = GOOD_02.replace('id="double"', 'id="scale"')
    problems = [str(p) for p in check(make_course(tmp_path, second=second))]
    assert any("02_double.py:6: duplicate id 'scale'" in p for p in problems), problems


def test_cli_exit_code_and_format(tmp_path):
    from helpers import tito

    make_course(tmp_path, first=GOOD_01.replace(" points=1", ""))
    proc = tito("check", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "01_scale.py:17: `test` cell without points" in proc.stdout


def test_real_course_is_clean():
    """Depends on the lessons rewritten for issue 9: the lessons written before it give answers away
    and have asserts without messages, so on those this fails until the rewrites land."""
    from helpers import COURSE

    assert [str(p) for p in errors(check(COURSE))] == []


def test_build_names_the_failing_cell_by_file_and_line(tmp_path):
    from helpers import tito

    broken = GOOD_01.replace("return np.asarray(x, dtype=float) * factor", "return np.asarray(x) * factor + 1")
    make_course(tmp_path, first=broken)
    proc = tito("build", "01_scale", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert "source/01_scale/01_scale.py:17: AssertionError" in proc.stderr, proc.stderr
    assert not (tmp_path / "solutions" / "01_scale.ipynb").exists()


# --- tito check --mutants ------------------------------------------------------------------------

MUTABLE = textwrap.dedent('''\
    # %%
    #| default_exp ops
    #| export
    import numpy as np

    # %% solution id="ops"
    #| export
    def ops(x, w, lr, state, n):
        """All the classic bugs have somewhere to go."""
        outside = x + 1
        ### BEGIN SOLUTION
        y = x @ w.T
        s = np.sum(y, axis=1, keepdims=True)
        state["v"] += lr * s
        t = s.copy()
        t = t * lr
        state["w"][...] = t
        for i in range(len(y)):
            y = y[1:n]
        if lr > 0.5:
            return -s
        return np.transpose(y) * 2
        ### END SOLUTION

    # %% test id="test-ops" points=1
    assert ops is not None, "ops is defined"
    ''')

EXPECTED_MUTANTS = {
    12: ["x @ w.T -> x * w.T", "w.T -> w"],
    13: ["axis=1 -> axis=2",
         "np.sum(y, axis=1, keepdims=True) -> np.sum(y, keepdims=True)",          # axis forgotten
         "np.sum(y, axis=1, keepdims=True) -> np.sum(y, keepdims=True, axis=0)",  # wrong axis
         "np.sum(y, axis=1, keepdims=True) -> np.sum(y, axis=1)"],                # keepdims forgotten
    14: ["state[\"v\"] += lr * s -> state['v'] -= lr * s",
         "state[\"v\"] += lr * s -> state['v'] = state['v'] + lr * s"],          # in place -> copy
    15: ["s.copy() -> s"],
    16: ["t = t * lr -> t *= lr", "t * lr -> t / lr"],                            # copy -> in place
    17: ["state[\"w\"][...] = t -> state['w'] = t"],
    18: ["range(len(y)) -> range(len(y) - 1)"],
    19: ["y[1:n] -> y[1:n - 1]", "y[1:n] -> y[2:n]"],
    20: ["lr > 0.5 -> lr >= 0.5", "lr > 0.5 -> lr > 1.5"],
    21: ["-s -> s", "return -s -> return x"],
    22: ["np.transpose(y) -> y", "np.transpose(y) * 2 -> np.transpose(y) * 3", "np.transpose(y) * 2 -> np.transpose(y) / 2",
         "return np.transpose(y) * 2 -> return -(np.transpose(y) * 2)"],
}


def fixture_module(tmp_path, text: str, name: str = "01_ops"):
    from autograder.course.lesson import ParsedModule
    from autograder.course.layout import Module
    from autograder.course.lesson import read_cells

    path = tmp_path / f"{name}.py"
    path.write_text(text)
    return ParsedModule(Module(1, name, path), read_cells(path))


def test_each_classic_bug_is_planted_at_its_line(tmp_path):
    from autograder.check.mutants import module_mutants

    mutants = module_mutants(fixture_module(tmp_path, MUTABLE), per_region=1000)
    found = {(m.line, str(m)) for m in mutants}
    for line, expected in EXPECTED_MUTANTS.items():
        for text in expected:
            assert (line, text) in found, f"expected mutant {text!r} at line {line}, got {sorted(found)}"
    assert all(12 <= m.line <= 22 for m in mutants), "only the solution region is mutated"
    assert len({m.source for m in mutants}) == len(mutants), "each mutant is a different program"
    for m in mutants:
        compile(m.source, "mutant", "exec")   # every mutant is valid Python


def test_mutants_are_capped_per_region_deterministically(tmp_path):
    from autograder.check.mutants import module_mutants

    parsed = fixture_module(tmp_path, MUTABLE)
    capped = module_mutants(parsed, per_region=5)
    assert len(capped) == 5
    assert [str(m) for m in capped] == [str(m) for m in module_mutants(parsed, per_region=5)]
    assert capped[0].line == 12 and capped[-1].line >= 20, "the sample spans the whole region"


def test_kill_rate_threshold_sets_the_exit_status(tmp_path, capsys):
    from autograder.check.mutants import Outcome, module_mutants, report

    parsed = fixture_module(tmp_path, MUTABLE)
    mutants = module_mutants(parsed, per_region=10)
    nine = [Outcome(["test-ops"])] * 9 + [Outcome([])]
    assert report(parsed, "source/01_ops/01_ops.py", mutants, nine) == 0
    eight = [Outcome(["test-ops"])] * 8 + [Outcome([]), Outcome([], "CellTimeoutError")]
    eight_survivors = [Outcome(["test-ops"])] * 8 + [Outcome([])] * 2
    assert report(parsed, "source/01_ops/01_ops.py", mutants, eight) == 0, "a timeout kills"
    assert report(parsed, "source/01_ops/01_ops.py", mutants, eight_survivors) == 1
    out = capsys.readouterr().out
    assert "test test-ops: kills 8 of 10 mutants above it (80%)" in out
    assert f"source/01_ops/01_ops.py:{mutants[-1].line}: {mutants[-1]}" in out.splitlines()


# Module 02 of a two-module course: its tests cannot tell `scale(x, 2)` from `scale(x, 3)`.
WEAKLY_TESTED = textwrap.dedent('''\
    # %%
    #| default_exp affine
    #| export
    from tinytorch_lib.scale import scale

    # %% solution id="affine"
    #| export
    def affine(x):
        """2 x + 1, elementwise, as floats."""
        ### BEGIN SOLUTION
        return scale(x, 2) + 1
        ### END SOLUTION

    # %% test id="test-affine" points=1
    import numpy as np
    got = affine([0.0])
    assert np.allclose(got, [1.0]), f"expected [1.], got {got}"
    ''')


def test_mutants_cli_reports_kill_rate_and_the_planted_survivor(tmp_path):
    """Five mutants of `return scale(x, 2) + 1`: `- 1`, `-(...)`, `return x` and `1 -> 2` are caught
    by affine([0]) == [1]; `2 -> 3` is not. The test also runs module 02 against module 01's export."""
    from helpers import tito

    make_course(tmp_path, second=WEAKLY_TESTED)
    proc = tito("check", "--mutants", "02", "--timeout", "120", cwd=tmp_path, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "02_double: killed 4 of 5 mutants (80.0%; target 90%)" in proc.stdout, proc.stdout
    survivors = [l for l in proc.stdout.splitlines() if " -> " in l]
    assert survivors == ["source/02_double/02_double.py:11: scale(x, 2) -> scale(x, 3)"], proc.stdout
    assert "02_double.py:14: test test-affine: kills 4 of 5 mutants above it (80%)" in proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("module", [m.name for m in Course(Path(__file__).resolve().parents[1]).modules()])
def test_real_module_kills_90_percent_of_mutants(module):
    """Minutes per module. Depends on the lessons rewritten for issue 9 (the target is theirs)."""
    from helpers import REPO, tito

    proc = tito("check", "--mutants", module, cwd=REPO, check=False)
    assert "mutants (" in proc.stdout, proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout


def authoring_example(root: Path) -> Course:
    """The worked example of docs/authoring.md, as module 01 of a course in `root`."""
    from helpers import REPO

    doc = (REPO / "docs" / "authoring.md").read_text()
    section = doc.split("## One complete worked example", 1)[1]
    code = section.split("```python\n", 1)[1].split("```\n", 1)[0]
    (root / "source" / "01_kmeans").mkdir(parents=True)
    (root / "source" / "01_kmeans" / "01_kmeans.py").write_text(code)
    (root / "nbgrader_config.py").write_text("c = get_config()\n")
    return Course(root)


def test_authoring_example_passes_check_without_warnings(tmp_path):
    assert [str(p) for p in check(authoring_example(tmp_path))] == []


@pytest.mark.slow
def test_authoring_example_kills_90_percent_of_mutants(tmp_path):
    from helpers import tito

    authoring_example(tmp_path)
    proc = tito("check", "--mutants", "01", cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "01_kmeans: killed 11 of 12 mutants" in proc.stdout, proc.stdout
