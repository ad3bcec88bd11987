"""Grading, demo and milestone commands of `tito` (registered by cli.py)."""
from __future__ import annotations


def add_commands(sub) -> None:
    pass
