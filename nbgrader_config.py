"""nbgrader configuration of the TinyTorch course.

`tito` loads this file for every nbgrader step (with CourseDirectory.root pointed at the folder it
works in); plain `nbgrader` commands run from the repository root use it too and then work in
build/nbgrader, never on the jupytext lesson sources in source/.
"""
import warnings

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades
from sqlalchemy.exc import SAWarning

# nbgrader 0.9 + SQLAlchemy 2 print a harmless SAWarning from its api module.
warnings.filterwarnings("ignore", category=SAWarning)

c = get_config()  # noqa: F821 (provided by traitlets when this file is loaded)

c.CourseDirectory.course_id = "tinytorch"
c.CourseDirectory.root = "build/nbgrader"
# Lesson sources are jupytext .py files: never copy one into a release.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.py"]

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Per-cell timeout when nbgrader executes a notebook (tito adds a per-notebook limit on top).
c.Execute.timeout = 60
c.Execute.extra_arguments = ["--InteractiveShell.xmode=Minimal", "--HistoryManager.hist_file=:memory:"]

# Deleted test cells come back when grading; edited ones are restored from the gradebook.
c.OverwriteCells.add_missing_cells = True

# Feedback never shows hidden tests (nbgrader keeps them in autograded notebooks by design).
c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, ClearHiddenTests]
