"""Driving nbgrader in-process (its CLI costs ~3 s of imports per call).

`NbGraderAPI` does not read `nbgrader_config.py` by itself: we load it with traitlets and point
`CourseDirectory.root` at the folder nbgrader should work in.
"""
from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def quiet_nbgrader() -> Iterator[None]:
    """Silence, for the code inside only, the one known-harmless warning of nbgrader 0.9 with
    SQLAlchemy 2 (an SAWarning from its api module); every other warning still shows."""
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=SAWarning)
        yield


def programs_next_to_interpreter() -> None:
    """nbgrader runs `alembic` by name: find it next to this interpreter (the venv's `bin`, then its
    base Python's), whatever PATH says (a venv used without activating it has its `bin` off PATH)."""
    first = list(dict.fromkeys([str(Path(sys.executable).parent), str(Path(sys.base_prefix) / "bin"),
                                str(Path(sys.executable).resolve().parent)]))
    parts = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    if parts[:len(first)] != first:
        os.environ["PATH"] = os.pathsep.join([*first, *(p for p in parts if p not in first)])


def load_config(config_file: Path, root: Path, **overrides):
    from traitlets.config.loader import PyFileConfigLoader

    with warnings.catch_warnings():   # the configuration's own warning filter stays inside it
        config = PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    for dotted, value in overrides.items():
        section, key = dotted.split(".")
        setattr(getattr(config, section), key, value)
    return config


def make_api(config_file: Path, root: Path, **overrides):
    programs_next_to_interpreter()
    with warnings.catch_warnings():   # importing nbgrader's apps warns about its dependencies
        warnings.simplefilter("ignore")
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

    config = load_config(config_file, root, **overrides)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir, config=config)


class NbgraderFailed(Exception):
    """An nbgrader step reported failure; the message carries its log."""


def checked(result: dict, what: str) -> dict:
    if not result.get("success"):
        detail = (result.get("error") or "") + "\n" + (result.get("log") or "")
        raise NbgraderFailed(f"{what} failed:\n{detail.strip()[-4000:]}")
    return result
