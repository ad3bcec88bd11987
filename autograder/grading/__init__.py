"""`tito grade`: intake -> pipeline -> workers -> nbgrader preprocessor (SandboxedExecute) -> reports."""
