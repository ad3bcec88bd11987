"""The grading contract: one status vocabulary (enums), one execution report (a dataclass) that
crosses the sandbox boundary intact, one definition of the limits, one place for the constants."""
import ast
import json
import sys
from dataclasses import fields
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.course import constants
from autograder.grading.reports import GradeStatus, parse_status
from autograder.sandbox.executor.report import ExecReport, ExecStatus
from autograder.sandbox.launcher import EXECUTOR_DIR, TrustedCells, execute_untrusted
from autograder.sandbox.limits import Limits
from helpers import REPO


@pytest.mark.parametrize("status", list(ExecStatus), ids=lambda s: s.value)
def test_every_exec_status_round_trips_through_the_report_json(status):
    report = ExecReport(status, f"why {status.value}")
    back = ExecReport.from_json(json.loads(json.dumps(report.to_json())))
    assert back == report and back.status is status


@pytest.mark.parametrize("status", [*ExecStatus, *GradeStatus], ids=lambda s: s.value)
def test_every_grading_status_is_parsed_back_from_its_value(status):
    assert parse_status(status.value) is status


def test_status_values_are_unique_across_the_two_enums():
    values = [s.value for s in [*ExecStatus, *GradeStatus]]
    assert len(values) == len(set(values))


def tiny(*sources: str) -> nbformat.NotebookNode:
    return new_notebook(cells=[new_code_cell(s) for s in sources])


@pytest.mark.parametrize("code, status", [("x = 1", ExecStatus.OK), ("while True:\n    pass", ExecStatus.CELL_TIMEOUT)])
def test_the_status_round_trips_through_a_real_executor_run(tmp_path, code, status):
    ex = execute_untrusted(tiny(code), TrustedCells({}, []), tmp_path / "work", tmp_path, "none",
                           Limits(cell_timeout=3, notebook_timeout=60), [])
    assert ex.status is status, ex.reason


def test_limits_have_one_definition_for_options_traits_and_job():
    from autograder.cli.main import parser
    from autograder.grading.preprocessor import SandboxedExecute

    args = parser().parse_args(["grade", "02_activations", "--submissions", "s"])
    assert Limits.from_options(args) == Limits()
    traits = SandboxedExecute.class_traits(config=True)
    for f in fields(Limits):
        assert traits[f.name].default_value == f.default and traits[f.name].help, f.name
    assert set(Limits().to_job()) == {f.name for f in fields(Limits)}
    custom = parser().parse_args(["grade", "m", "--submissions", "s", "--cell-timeout", "7", "--memory-mb", "99"])
    assert (Limits.from_options(custom).cell_timeout, Limits.from_options(custom).memory_mb) == (7, 99)


def test_nbgrader_config_takes_stub_markers_course_id_and_kernel_args_from_the_constants(tmp_path):
    from autograder.build.export import rewrite_stubs
    from autograder.grading.nbgrader_glue import load_config

    config = load_config(REPO / "nbgrader_config.py", tmp_path)
    assert config.ClearSolutions.code_stub == {"python": constants.CODE_STUB}
    assert (config.ClearSolutions.begin_solution_delimeter, config.ClearSolutions.end_solution_delimeter) == \
        constants.SOLUTION_DELIMITERS
    assert (config.ClearHiddenTests.begin_test_delimeter, config.ClearHiddenTests.end_test_delimeter) == \
        constants.HIDDEN_TEST_DELIMITERS
    assert config.CourseDirectory.course_id == constants.COURSE_ID
    assert list(config.Execute.extra_arguments) == constants.KERNEL_ARGS
    # what ClearSolutions writes is what export recognises as unfinished
    _, unfinished = rewrite_stubs("def f():\n    " + constants.CODE_STUB.replace("\n", "\n    "), "01_x")
    assert unfinished == ["f"]


def test_loading_the_config_leaves_the_callers_warning_filters_alone(tmp_path):
    import warnings

    from autograder.grading.nbgrader_glue import load_config

    before = list(warnings.filters)
    load_config(REPO / "nbgrader_config.py", tmp_path)
    assert warnings.filters == before


def test_the_executor_folder_imports_only_itself_and_its_allowed_libraries():
    """It is bind-mounted alone into the sandbox and run as `python -I run.py`."""
    allowed = set(sys.stdlib_module_names) | {"numpy", "zmq"}
    own = {p.stem for p in EXECUTOR_DIR.glob("*.py")}
    for path in EXECUTOR_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for name in names:
                top = name.split(".")[0]
                assert top in allowed | own and top != "autograder", f"{path.name} imports {name}"
