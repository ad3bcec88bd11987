"""tito: the machinery of the TinyTorch course (build, check, export, grade, milestones).

Nothing in this package imports `tinytorch_lib`: the framework a student exports runs only in
kernels and subprocesses, so a broken export can break that student's run, never the tool.
"""
__version__ = "0.1.0"
