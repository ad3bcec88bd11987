"""Feedback HTML for one student after another, with one HTML exporter per worker.

nbgrader's `generate_feedback` builds a new GenerateFeedback converter, and with it a new HTML
exporter, for every call; each new exporter compiles nbconvert's Jinja templates again. Profiled on
two cores, that compilation was a third of the feedback's cost, and feedback was most of a grading
worker's own CPU per notebook (docs/benchmarks.md). `FeedbackWriter` is nbgrader's converter, kept
for the worker's lifetime: the same configuration, preprocessors (GetGrades, the CSS header,
ClearHiddenTests from the course's config) and template, so the HTML is nbgrader's; only the
exporter (and its compiled templates) is reused between students.
"""
from __future__ import annotations

import os


def feedback_converter_class():
    from nbconvert.writers import FilesWriter
    from nbgrader.converters import GenerateFeedback

    class KeptExporterFeedback(GenerateFeedback):
        """GenerateFeedback whose `start` keeps the exporter it made the first time."""

        def start(self) -> None:
            self.init_notebooks()
            self.writer = FilesWriter(parent=self, config=self.config)
            if getattr(self, "kept_exporter", None) is None:
                self.kept_exporter = self.exporter_class(parent=self, config=self.config)
                for pp in self.preprocessors:
                    self.kept_exporter.register_preprocessor(pp)
            self.exporter = self.kept_exporter
            here = os.getcwd()
            os.chdir(self.coursedir.root)
            try:
                self.convert_notebooks()
            finally:
                os.chdir(here)

    return KeptExporterFeedback


class FeedbackWriter:
    """`write(module, student)` does what `api.generate_feedback(module, student, force=True)` does."""

    def __init__(self, api):
        from traitlets.config import Config

        self.api = api
        self.converter = feedback_converter_class()(coursedir=api.coursedir, parent=api)
        config = Config()
        config.HTMLExporter.template_name = "feedback"     # as nbgrader's API sets it
        self.converter.update_config(config)
        self.converter.force = True

    def write(self, module: str, student: str) -> dict:
        from nbgrader.utils import capture_log, temp_attrs

        with temp_attrs(self.api.coursedir, assignment_id=module, student_id=student):
            return capture_log(self.converter)
