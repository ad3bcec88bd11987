"""tito: the machinery of the TinyTorch course (build, check, export, grade, milestones).

Nothing in this package imports `tinytorch_lib`: the framework a student exports runs only in
kernels and subprocesses, so a broken export can break that student's run, never the tool.
"""
import sys

__version__ = "0.1.0"

# jsonschema (via nbformat) optionally imports rfc3987_syntax, which compiles a grammar on import:
# ~1 s per process, paid by every tito command, grading worker and sandbox executor. tito never
# validates IRI formats, so tell jsonschema it is absent (it handles the ImportError itself).
sys.modules.setdefault("rfc3987_syntax", None)
