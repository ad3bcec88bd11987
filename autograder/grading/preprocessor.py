"""nbgrader preprocessor replacing `Execute`: runs the submission through `sandbox.launcher.execute_untrusted`.

nbgrader's autograde pipeline stays as it is (restore locked cells, execute, save grades); only the
execution step moves into the sandbox, with limits. The execution report (`ExecReport`) goes into
nbgrader's `resources` (`resources["tito"]["execution"]`) and to the worker's `on_report` callback;
nothing is written beside the notebook.
"""
from __future__ import annotations

import functools
import tempfile
import types
from dataclasses import fields
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Callable, Dict, List, Unicode

from autograder.sandbox.executor.report import ExecReport, ExecStatus
from autograder.sandbox.launcher import TrustedCells, execute_untrusted, failed_copy
from autograder.sandbox.limits import Limits, limit_traits

# One configurable trait per field of `Limits` (cell_timeout, notebook_timeout, memory_mb, ...).
LimitTraits = types.new_class("LimitTraits", (NbGraderPreprocessor,),
                              exec_body=lambda ns: ns.update(limit_traits()))


@functools.lru_cache(maxsize=4)
def trusted_cells(reference_notebook: str, mtime_ns: int) -> TrustedCells:
    """The reference notebook's trusted cells, read once per worker (and again if the file changes)."""
    return TrustedCells.from_reference(nbformat.read(reference_notebook, as_version=4))


class SandboxedExecute(LimitTraits):
    mode = Unicode("none", help="bubblewrap or none").tag(config=True)
    package_dir = Unicode(help="folder holding the reference tinytorch_lib for earlier modules").tag(config=True)
    hide = List(Unicode(), help="folders the submission must not see").tag(config=True)
    reference_notebook = Unicode(help="the module's nbgrader source notebook: where the test and helper "
                                      "cells that the grader runs itself are read from").tag(config=True)
    rejected = Dict(value_trait=Unicode(), help="student id -> why intake refused the submission (from the "
                                                "worker's job): graded as failed, nothing run").tag(config=True)
    on_report = Callable(None, allow_none=True, help="called with (student id, ExecReport) after each "
                                                     "notebook (the grading worker collects them)").tag(config=True)

    def limits(self) -> Limits:
        return Limits(**{f.name: getattr(self, f.name) for f in fields(Limits)})

    def preprocess(self, nb, resources):
        student = resources["nbgrader"]["student"]
        if student in self.rejected:   # intake found the submission unusable: grade it as failed, run nothing
            execution = failed_copy(nb, ExecStatus.REJECTED, self.rejected[student])
        else:
            trusted = trusted_cells(self.reference_notebook, Path(self.reference_notebook).stat().st_mtime_ns)
            with tempfile.TemporaryDirectory(prefix=f"tito-grade-{student}-") as work:
                execution = execute_untrusted(nb, trusted, Path(work) / "work", Path(self.package_dir), self.mode,
                                              self.limits(), [Path(h) for h in self.hide])
        report = ExecReport(execution.status, execution.reason, execution.cell_seconds, execution.failed_part)
        resources.setdefault("tito", {})["execution"] = report
        if self.on_report is not None:
            self.on_report(student, report)
        return execution.notebook, resources


@functools.cache
def compiled_metadata_validator():
    """nbgrader's metadata validator (version 3: its schema and its own rules: grade ids, points, unique
    ids...) whose JSON-schema step uses the schema compiled once. nbgrader's calls `jsonschema.validate`,
    which checks the schema itself again for every cell: a sixth of a grading worker's CPU per notebook."""
    import jsonschema
    from nbgrader.nbgraderformat.common import BaseMetadataValidator, SchemaTooNewError, SchemaTooOldError
    from nbgrader.nbgraderformat.v3 import MetadataValidatorV3

    class CompiledSchemaStep(BaseMetadataValidator):
        def validate_cell(self, cell) -> None:   # BaseMetadataValidator.validate_cell, schema compiled
            if "nbgrader" not in cell.metadata:
                return
            version, expected = cell.metadata["nbgrader"].get("schema_version", 0), self.schema_version
            if version < expected:
                raise SchemaTooOldError(f"Outdated schema version: {version} (expected {expected})", version, expected)
            if version > expected:
                raise SchemaTooNewError(f"Schema version is too new: {version} (expected {expected})", version, expected)
            self.compiled.validate(cell.metadata["nbgrader"])

    # MetadataValidatorV3's own rules run first; its call to the base class's step lands in CompiledSchemaStep.
    class CompiledMetadataValidator(MetadataValidatorV3, CompiledSchemaStep):
        def __init__(self):
            super().__init__()
            validator_class = jsonschema.validators.validator_for(self.schema)
            validator_class.check_schema(self.schema)
            self.compiled = validator_class(self.schema)

    return CompiledMetadataValidator()


class CheckCellMetadataCompiled(NbGraderPreprocessor):
    """nbgrader's CheckCellMetadata (the last step of autograde's sanitising pass), with the
    validator built once per process."""

    def preprocess(self, nb, resources):
        from nbgrader.nbgraderformat import ValidationError

        try:
            compiled_metadata_validator().validate_nb(nb)
        except ValidationError as exc:
            self.log.error("%s", exc)
            raise ValidationError("Notebook failed to validate; the nbgrader metadata may be corrupted.")
        return nb, resources


def with_compiled_metadata_check(converter, trait: str) -> list:
    """nbgrader's preprocessor list `trait` of `converter` as it ships, with CheckCellMetadataCompiled
    in place of each CheckCellMetadata (configure it as `{converter.__name__}.{trait}`)."""
    from nbgrader.preprocessors import CheckCellMetadata

    shipped = converter.class_traits()[trait].make_dynamic_default()
    return [CheckCellMetadataCompiled if p is CheckCellMetadata else p for p in shipped]
