"""nbgrader preprocessor replacing `Execute`: runs the submission through `sandbox.execute_untrusted`.

nbgrader's autograde pipeline stays as it is (restore locked cells, execute, save grades); only the
execution step moves into the sandbox, with limits, and records why a run went wrong.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer, List, Unicode

import nbformat

from autograder.sandbox.executor.report import ExecStatus
from autograder.sandbox.launcher import Limits, TrustedCells, execute_untrusted, failed_copy


class SandboxedExecute(NbGraderPreprocessor):
    mode = Unicode("none", help="bubblewrap or none").tag(config=True)
    package_dir = Unicode(help="folder holding the reference tinytorch_lib for earlier modules").tag(config=True)
    status_dir = Unicode(help="where each student's execution report is written").tag(config=True)
    hide = List(Unicode(), help="folders the submission must not see").tag(config=True)
    reference_notebook = Unicode(help="the module's nbgrader source notebook: where the test and helper "
                                      "cells that the grader runs itself are read from").tag(config=True)
    cell_timeout = Integer(30).tag(config=True)
    notebook_timeout = Integer(300).tag(config=True)
    memory_mb = Integer(4096).tag(config=True)

    def preprocess(self, nb, resources):
        student = resources["nbgrader"]["student"]
        status_dir = Path(self.status_dir)
        forced = status_dir / f"{student}.forced.json"
        if forced.exists():   # intake found the submission unusable: grade it as failed, run nothing
            reason = json.loads(forced.read_text())["reason"]
            execution = failed_copy(nb, ExecStatus.REJECTED, reason)
        else:
            limits = Limits(self.cell_timeout, self.notebook_timeout, self.memory_mb)
            trusted = TrustedCells.from_reference(nbformat.read(self.reference_notebook, as_version=4))
            with tempfile.TemporaryDirectory(prefix=f"tito-grade-{student}-") as work:
                execution = execute_untrusted(nb, trusted, Path(work) / "work", Path(self.package_dir), self.mode,
                                              limits, [Path(h) for h in self.hide])
        report = {"status": execution.status.value, "reason": execution.reason, "sandbox": self.mode}
        (status_dir / f"{student}.exec.json").write_text(json.dumps(report))
        return execution.notebook, resources
