"""nbgrader configuration of the TinyTorch course.

`tito` loads this file for every nbgrader step (with CourseDirectory.root pointed at the folder it
works in); plain `nbgrader` commands run from the repository root use it too and then work in
build/nbgrader, never on the jupytext lesson sources in source/.
"""
import importlib.util
import sys
import warnings
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades
from sqlalchemy.exc import SAWarning

# nbgrader 0.9 + SQLAlchemy 2 print a harmless SAWarning from its api module.
warnings.filterwarnings("ignore", category=SAWarning)

c = get_config()  # noqa: F821 (provided by traitlets when this file is loaded)


def _tito_constants():
    """The course's markers, stub, course id and kernel arguments: the checkout's own
    autograder/course/constants.py next to this file, else the installed tito's."""
    here = Path(__file__).resolve().parent / "autograder" / "course" / "constants.py"  # noqa: F821
    if here.is_file():
        spec = importlib.util.spec_from_file_location("_tito_course_constants", here)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    from autograder.course import constants
    return constants


tito = _tito_constants()

c.CourseDirectory.course_id = tito.COURSE_ID
c.CourseDirectory.root = "build/nbgrader"
# Lesson sources are jupytext .py files: never copy one into a release.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.py"]

c.ClearSolutions.code_stub = {"python": tito.CODE_STUB}
c.ClearSolutions.text_stub = tito.TEXT_STUB
c.ClearSolutions.begin_solution_delimeter, c.ClearSolutions.end_solution_delimeter = tito.SOLUTION_DELIMITERS
c.ClearHiddenTests.begin_test_delimeter, c.ClearHiddenTests.end_test_delimeter = tito.HIDDEN_TEST_DELIMITERS

# Per-cell timeout when nbgrader executes a notebook (tito adds a per-notebook limit on top).
c.Execute.timeout = 60
c.Execute.extra_arguments = list(tito.KERNEL_ARGS)

# Deleted test cells come back when grading; edited ones are restored from the gradebook.
c.OverwriteCells.add_missing_cells = True

# nbgrader's own Autograde (formgrader's button, `nbgrader autograde`) and `nbgrader validate` would
# grade outside the sandbox and without the reference package: refused, pointing to `tito grade`
# (autograder/grading/refuse.py). tito sets its own autograde preprocessors.
from autograder.grading.refuse import MESSAGE as REFUSAL, RefuseOutsideTito  # noqa: E402

c.Autograde.autograde_preprocessors = [RefuseOutsideTito]
# Validator's preprocessors are not configurable: `nbgrader validate` is refused when it starts.
if sys.argv[1:2] == ["validate"] and Path(sys.argv[0]).name in ("nbgrader", "__main__.py"):
    sys.exit(f"nbgrader validate: refused here: {REFUSAL}")

# Feedback never shows hidden tests (nbgrader keeps them in autograded notebooks by design).
c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, ClearHiddenTests]
