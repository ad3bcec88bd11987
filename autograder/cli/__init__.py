"""`tito`: the command line (main.py: course commands; grading.py: grade, demo, milestone)."""
from autograder.cli.main import main

__all__ = ["main"]
