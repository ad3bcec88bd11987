"""`tito check` rejects each defect, reporting file:line: message (one small bad source per defect)."""
import textwrap
from pathlib import Path

import pytest

from autograder.check import check
from autograder.course import Course

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
    assert list(scale([1], 2)) == [2.0]
    ### BEGIN HIDDEN TESTS
    assert scale([], 2).shape == (0,)
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
    assert list(double([1])) == [2.0]
    ''')


def make_course(root: Path, first: str = GOOD_01, second: str = GOOD_02) -> Course:
    for name, text in (("01_scale", first), ("02_double", second)):
        (root / "source" / name).mkdir(parents=True)
        (root / "source" / name / f"{name}.py").write_text(text)
    (root / "nbgrader_config.py").write_text("c = get_config()\n")
    return Course(root)


def test_good_course_passes(tmp_path):
    assert check(make_course(tmp_path)) == []


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
}


@pytest.mark.parametrize("defect", DEFECTS)
def test_each_defect_is_reported_with_file_and_line(tmp_path, defect):
    text, line, message = DEFECTS[defect]
    problems = check(make_course(tmp_path, first=text))
    rendered = [str(p) for p in problems]
    source = tmp_path / "source" / "01_scale" / "01_scale.py"
    assert any(message in r for r in rendered), rendered
    assert any(r.startswith(f"{source}:{line}: ") and message in r for r in rendered), rendered


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
    from helpers import COURSE

    assert [str(p) for p in check(COURSE)] == []


def test_build_names_the_failing_cell_by_file_and_line(tmp_path):
    from helpers import tito

    broken = GOOD_01.replace("return np.asarray(x, dtype=float) * factor", "return np.asarray(x) * factor + 1")
    make_course(tmp_path, first=broken)
    proc = tito("build", "01_scale", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert "source/01_scale/01_scale.py:17: AssertionError" in proc.stderr, proc.stderr
    assert not (tmp_path / "solutions" / "01_scale.ipynb").exists()
