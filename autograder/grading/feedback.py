"""Feedback HTML for one student after another, with one HTML exporter per worker.

nbgrader's `generate_feedback` builds a new GenerateFeedback converter, and with it a new HTML
exporter, for every call; each new exporter compiles nbconvert's Jinja templates again. Profiled on
two cores, that compilation was a third of the feedback's cost, and feedback was most of a grading
worker's own CPU per notebook (docs/benchmarks.md). `FeedbackWriter` is nbgrader's converter, kept
for the worker's lifetime: the same configuration, preprocessors (GetGrades, the CSS header,
ClearHiddenTests from the course's config) and template, so the HTML is nbgrader's; only the
exporter (and its compiled templates) is reused between students.

The exporter is nbconvert's HTMLExporter without its last pass. That pass parses the whole rendered
page with BeautifulSoup, adds alt text to images without any and tabindex to JupyterLab-template
cells, and serialises the page again: after the template compilation it was the largest part of a
worker's own CPU per notebook. With nbgrader's feedback template (classic, no JupyterLab cells)
the pass only adds the alt text, which `LeanHTMLExporter` adds to the `<img>` tags directly; the
page parses to exactly the document nbgrader writes (tests/test_instructor.py checks it).
"""
from __future__ import annotations

import os
import re

ALT_TEXT = "No description has been provided for this image"     # nbconvert's words
HIGHLIGHTS_KEPT = 4096     # highlighted cells a worker remembers (a few MB)
IMG_WITHOUT_ALT = re.compile(r"<img\b(?![^>]*\balt\s*=)([^>]*?)(\s*/?)>", re.IGNORECASE)


def with_alt_text(html: str) -> tuple[str, int]:
    """Every `<img>` without an alt attribute gets nbconvert's alt text; and how many did."""
    return IMG_WITHOUT_ALT.subn(lambda m: f'<img{m.group(1)} alt="{ALT_TEXT}"{m.group(2)}>', html)


def lean_exporter_class():
    from nbconvert.exporters import HTMLExporter, TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class RememberedHighlight(Highlight2HTML):
        """Highlight2HTML remembering what it highlighted: most cells of a class's notebooks (lesson
        code, tests) are the same for every student, and Pygments was half of a feedback page's CPU.
        The exporter makes a new filter for each notebook, so the memory is the class's."""

        seen: dict = {}

        def __call__(self, source, language=None, metadata=None):
            language = language or self.pygments_lexer
            key = (source, language, (metadata or {}).get("magics_language"))
            if key not in self.seen:
                if len(self.seen) >= HIGHLIGHTS_KEPT:
                    self.seen.clear()
                self.seen[key] = super().__call__(source, language, metadata)
            return self.seen[key]

    class LeanHTMLExporter(HTMLExporter):
        """HTMLExporter.from_notebook_node (nbconvert 7) with the alt text added by `with_alt_text`
        instead of the BeautifulSoup round trip; for templates without JupyterLab cells only."""

        def from_notebook_node(self, nb, resources=None, **kw):
            info = nb.metadata.get("language_info", {})
            lexer = info.get("pygments_lexer", info.get("name", None))
            self.register_filter("highlight_code", self.filters.get(
                "highlight_code", RememberedHighlight(pygments_lexer=lexer, parent=self)))
            resources = self._init_resources(resources)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            if "jp-Cell-inputWrapper" in html:   # a JupyterLab template: the pass does more than alt text
                raise RuntimeError("LeanHTMLExporter serves nbgrader's classic feedback template only")
            html, missing = with_alt_text(html)
            if missing:
                self.log.warning("Alternative text is missing on %s image(s).", missing)
            return html, resources

    return LeanHTMLExporter


def feedback_converter_class():
    from nbconvert.writers import FilesWriter
    from nbgrader.converters import GenerateFeedback

    class KeptExporterFeedback(GenerateFeedback):
        """GenerateFeedback whose `start` keeps the exporter it made the first time."""

        def start(self) -> None:
            self.init_notebooks()
            self.writer = FilesWriter(parent=self, config=self.config)
            if getattr(self, "kept_exporter", None) is None:
                self.kept_exporter = lean_exporter_class()(parent=self, config=self.config)
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
    """`write(module, student)` does what `api.generate_feedback(module, student, force=True)` does,
    with the same HTML once parsed."""

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
