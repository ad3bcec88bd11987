"""The student's journey in a real browser: `tito lab` serves the workspace on loopback, Debian's
Chromium (driven by Playwright) opens 01_tensor.ipynb, the student types one answer, runs the
notebook, sees that cell's test pass, saves; `tito export` and `tito status` then report the module
current and passing. Screenshots go to test-artifacts/browser/ (CI keeps them)."""
import shutil
import socket
import subprocess
import time
import urllib.request

import nbformat
import pytest

from autograder.demo.sample_class import fill, solution_code
from autograder.student.lab import lab_command
from helpers import REPO, tito
from test_student import release_nb, source_nb

ARTIFACTS = REPO / "test-artifacts" / "browser"
MODULE = "01_tensor"
TOKEN = "tinytorch-browser-test"


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("Debian's chromium is not installed here (scripts/setup.sh installs it where apt-get runs)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright for Python is not installed (it is in the test extra: pip install -e '.[test]')")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(port: int, proc: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"JupyterLab exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={TOKEN}", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"JupyterLab did not answer within 120 s:\n{log.read_text()[-3000:]}")


@pytest.fixture()
def lab(tmp_path):
    """A workspace where every answer but the first is already written, served by `tito lab`."""
    browser = chromium()
    ws = tmp_path / "ws"
    tito("student", "init", str(ws), "--release", str(REPO / "release"), cwd=tmp_path)
    release = release_nb(MODULE)
    answers = solution_code(source_nb(MODULE))
    first = next(c.metadata["nbgrader"]["grade_id"] for c in release.cells
                 if c.metadata.get("nbgrader", {}).get("solution"))
    nbformat.write(fill(release, source_nb(MODULE), only=set(answers) - {first}), ws / f"{MODULE}.ipynb")
    port = free_port()
    argv, env = lab_command(ws, port, open_browser=False, token=TOKEN)
    log = tmp_path / "lab.log"
    with log.open("w") as out:
        proc = subprocess.Popen(argv, env=env, cwd=ws, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_server(port, proc, log)
        yield browser, ws, port, first, answers[first]
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def cell_index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def go_to_cell(page, text: str) -> None:
    """Select the cell whose text holds `text`, moving down with the keyboard as a student would
    (JupyterLab draws only the cells on screen, so a cell is found by moving to it)."""
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.keyboard.press("Escape")
    for _ in range(200):
        if text in page.locator(".jp-Notebook .jp-Cell.jp-mod-selected").first.inner_text():
            return
        page.keyboard.press("j")
    raise AssertionError(f"no cell holds {text!r}")


def first_line(source: str) -> str:
    return next(l for l in source.splitlines() if l.strip() and not l.startswith("#|")).strip()


def test_a_student_answers_runs_exports_and_sees_the_module_pass(lab):
    from playwright.sync_api import sync_playwright

    browser_path, ws, port, answer_id, answer = lab
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    release = release_nb(MODULE)
    test_id = next(c.metadata["nbgrader"]["grade_id"] for c in release.cells[cell_index(release, answer_id):]
                   if c.metadata.get("nbgrader", {}).get("grade"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/lab/tree/{MODULE}.ipynb?token={TOKEN}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
        page.wait_for_function("document.querySelector('#jp-main-statusbar')?.innerText.includes('Idle')",
                               timeout=90_000)                          # the kernel is up
        page.screenshot(path=str(ARTIFACTS / "1-opened.png"))

        # A student's JupyterLab: the Validate button, no instructor menu or panels.
        menus = page.locator(".lm-MenuBar").first.inner_text()
        assert "Nbgrader" not in menus and "Formgrader" not in menus, menus
        assert page.get_by_role("button", name="Validate").count() + page.get_by_text("Validate").count() > 0
        assert page.get_by_text("Create Assignment").count() == 0

        # Type the answer into its cell (insert_text: no auto-indent, as if pasted).
        go_to_cell(page, first_line(release.cells[cell_index(release, answer_id)].source))
        page.keyboard.press("Enter")
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(answer)
        page.keyboard.press("Escape")
        page.screenshot(path=str(ARTIFACTS / "2-answered.png"))

        page.get_by_text("Run", exact=True).first.click()
        page.get_by_text("Run All Cells", exact=True).click()
        go_to_cell(page, f"print('passed: {test_id}')")
        output = page.locator(".jp-Cell.jp-mod-selected .jp-OutputArea")
        output.get_by_text(f"passed: {test_id}").wait_for(timeout=120_000)
        assert "Error" not in output.inner_text()
        page.screenshot(path=str(ARTIFACTS / "3-test-passed.png"))

        page.keyboard.press("Control+s")
        deadline = time.monotonic() + 30
        while answer.splitlines()[-1].strip() not in (ws / f"{MODULE}.ipynb").read_text():
            assert time.monotonic() < deadline, "the notebook was not saved"
            time.sleep(0.5)
        browser.close()

    total = sum(1 for c in release.cells if c.metadata.get("nbgrader", {}).get("grade"))
    exported = tito("export", "01", cwd=ws)
    assert f"{total}/{total} tests pass on the exported package" in exported.stdout, exported.stdout
    status = tito("status", "01", cwd=ws)
    (ARTIFACTS / "status.txt").write_text(exported.stdout + status.stdout)
    assert "export: current" in status.stdout and f"{total}/{total} tests pass" in status.stdout, status.stdout
