"""`tito lab [DIR]`: JupyterLab on a student workspace, showing what a student needs.

nbgrader installs its instructor tools (Create Assignment, Formgrader, Course List) into every
JupyterLab. A workspace gets its own Jupyter configuration folder, `.tito/jupyter/`, put first on
`JUPYTER_CONFIG_PATH` for this server only: it disables those lab plugins and server extensions and
keeps the assignment's Validate button. The student's own Jupyter settings are left alone.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from autograder.build.notebooks import write_if_changed
from autograder.course.layout import CourseError
from autograder.student.modules import STATE_DIR, find_workspace

INSTRUCTOR_LAB_PLUGINS = ("@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:course-list",
                          "@jupyter/nbgrader:menu", "@jupyter/nbgrader:assignment-list")
INSTRUCTOR_SERVER_EXTENSIONS = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list",
                                "nbgrader.server_extensions.assignment_list")


def write_student_config(workspace: Path) -> Path:
    """`.tito/jupyter/`: the Jupyter configuration folder of a student's JupyterLab."""
    folder = workspace / STATE_DIR / "jupyter"
    page = {"disabledExtensions": {name: True for name in INSTRUCTOR_LAB_PLUGINS}}
    server = {"ServerApp": {"jpserver_extensions": {name: False for name in INSTRUCTOR_SERVER_EXTENSIONS}}}
    write_if_changed(folder / "labconfig" / "page_config.json", json.dumps(page, indent=1) + "\n")
    write_if_changed(folder / "jupyter_server_config.json", json.dumps(server, indent=1) + "\n")
    return folder


def lab_command(workspace: Path, port: int, open_browser: bool = True,
                token: str | None = None) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of the student's JupyterLab on `workspace`."""
    folder = write_student_config(workspace)
    env = dict(os.environ)
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, [str(folder), env.get("JUPYTER_CONFIG_PATH")]))
    env.pop("PYTHONPATH", None)   # the workspace's own tinytorch_lib, not one on the path
    argv = [sys.executable, "-m", "jupyter", "lab", f"--port={port}", "--ip=127.0.0.1",
            f"--ServerApp.root_dir={workspace}", f"--ServerApp.open_browser={open_browser}"]
    if os.geteuid() == 0:         # containers and CI machines often run as root
        argv.append("--allow-root")
    if token is not None:
        argv.append(f"--IdentityProvider.token={token}")
    return argv, env


def run_lab(directory: Path, port: int = 8888, open_browser: bool = True) -> int:
    workspace = find_workspace(directory)
    if not any(workspace.glob("[0-9][0-9]_*.ipynb")):
        raise CourseError(f"{workspace}: no module notebooks to open")
    argv, env = lab_command(workspace, port, open_browser)
    print(f"JupyterLab on {workspace} (stop it with Ctrl-C)")
    return subprocess.call(argv, env=env, cwd=workspace)
