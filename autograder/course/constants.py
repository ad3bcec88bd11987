"""The course's fixed vocabulary, in one place: markers, stub, course id, kernel arguments.

Standard library only: `nbgrader_config.py` loads this file itself (so nbgrader's `ClearSolutions`
writes exactly the stub that export and stub detection look for), and every part of tito imports
it from here. Change a value here, never a copy of it.
"""
from __future__ import annotations

COURSE_ID = "tinytorch"
LIB_NAME = "tinytorch_lib"

# Solution and hidden-test delimiters: what nbgrader's `ClearSolutions` and `ClearHiddenTests`
# look for (anywhere in a line; nbgrader_config.py sets them from here), and the markers an author
# writes, which tito's check, export and grading look for.
SOLUTION_DELIMITERS = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_TEST_DELIMITERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
BEGIN_SOLUTION, END_SOLUTION = (f"### {d}" for d in SOLUTION_DELIMITERS)
BEGIN_HIDDEN, END_HIDDEN = (f"### {d}" for d in HIDDEN_TEST_DELIMITERS)

# What `ClearSolutions` puts in place of a solution region; export recognises an unfinished stub
# by these two lines.
STUB_COMMENT = "# YOUR CODE HERE"
STUB_RAISE = "raise NotImplementedError()"
CODE_STUB = f"{STUB_COMMENT}\n{STUB_RAISE}"
TEXT_STUB = "YOUR ANSWER HERE"

# Every kernel tito or nbgrader starts: short tracebacks (IPython's long ones print the source
# lines around the failure, hidden tests included), no history file, a quiet kernel log.
KERNEL_ARGS = ["--InteractiveShell.xmode=Minimal", "--HistoryManager.hist_file=:memory:",
               "--IPKernelApp.log_level=ERROR"]
