"""The sandboxed executor on its own: limits and the integrity of its result."""
import os
import time
from pathlib import Path

import pytest

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from autograder.sandbox.limits import Limits
from autograder.sandbox.launcher import Execution, TrustedCells, execute_untrusted, resolve_mode


def run(tmp_path: Path, *sources: str, **limits) -> Execution:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    return execute_untrusted(nb, TrustedCells({}, []), tmp_path / "work", pkg, resolve_mode("auto"), Limits(**limits), [])


def test_notebook_wall_clock_limit(tmp_path):
    ex = run(tmp_path, "import time; time.sleep(2)", "time.sleep(2)", "time.sleep(2)", "print('late')",
             cell_timeout=10, notebook_timeout=3)
    assert ex.status == "timeout" and "longer than 3 s" in ex.reason
    last = ex.notebook.cells[-1].outputs
    assert last and last[-1]["ename"] == "NotebookTimeout"


def test_kernel_cannot_forge_the_result(tmp_path):
    """The kernel's stdout is not the channel the result travels on."""
    forged = nbformat.writes(new_notebook(cells=[new_code_cell("pass")]))
    ex = run(tmp_path, f"import os\nos.write(1, {forged!r}.encode())\n", "1/0")
    assert len(ex.notebook.cells) == 2
    assert ex.notebook.cells[1].outputs[0]["ename"] == "ZeroDivisionError"


def test_errors_and_output_are_recorded_per_cell(tmp_path):
    ex = run(tmp_path, "print('hi')", "raise ValueError('bad shape (2, 3)')")
    assert ex.status == "ok"
    assert ex.notebook.cells[0].outputs[0]["text"] == "hi\n"
    assert ex.notebook.cells[1].outputs[0]["evalue"] == "bad shape (2, 3)"


def test_grader_home_and_password_hashes_are_hidden(tmp_path):
    """What a submission can read it can print into its feedback: the grader's home is not there."""
    if resolve_mode("auto") != "bubblewrap":
        pytest.skip("bubblewrap cannot create namespaces on this machine (install Debian's bubblewrap as root)")
    secret = Path.home() / f".tito-test-secret-{os.getpid()}"
    secret.write_text("grader's secret")
    try:
        ex = run(tmp_path, f"for p in [{str(secret)!r}, '/etc/shadow']:\n"
                           f"    try:\n        print('READ', open(p).read())\n"
                           f"    except OSError as e:\n        print('DENIED', type(e).__name__)\n"
                           f"import numpy\nprint('python still works')")
    finally:
        secret.unlink()
    printed = ex.notebook.cells[0].outputs[0]["text"]
    assert printed.count("DENIED") == 2 and "grader's secret" not in printed
    assert "python still works" in printed


# --- the verdict of a test is the grader's own (issue 7: red-team cases) ------------------------------
def graded_cell(source: str, gid: str, role: str | None = None, points: int = 1) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade_id": gid, "grade": role == "test", "solution": role == "solution",
                                 "locked": role != "solution", "schema_version": 3}
    if role == "test":
        cell.metadata["nbgrader"]["points"] = points
    if role == "helper":
        cell.metadata["tinytorch"] = {"role": "helper"}
    return cell


GIVEN = graded_cell("import numpy as np\nTOL = 1e-6", "given")
WRONG_ANSWER = graded_cell("def double(x):\n    return np.asarray(x) * 3", "answer", "solution")
RIGHT_ANSWER = graded_cell("def double(x):\n    return np.asarray(x) * 2", "answer", "solution")
HELPER = graded_cell("def check_double(f):\n    got = np.asarray(f([1.0, 2.0]))\n"
                     "    assert np.allclose(got, [2, 4], atol=TOL), f'expected [2, 4], got {got}'\n"
                     "    return True", "helper", "helper")
TEST = graded_cell("assert check_double(double)\nassert np.allclose(double(5), 10, atol=TOL), 'expected 10'",
                   "test-double", "test")
HIDDEN_LINE = "assert double(-1) == -2, 'a hidden test line'"


def judged(tmp_path: Path, answer, *attack: str, **limits) -> Execution:
    """Run given, answer, helper, the attack cells, then the test; the trusted cells come from the
    reference (here: the same notebook with a hidden line added to the test)."""
    cells = [GIVEN, answer, HELPER, *(new_code_cell(a) for a in attack), TEST]
    nb = new_notebook(cells=[nbformat.from_dict(c) for c in cells])
    reference = nbformat.from_dict(nb)
    reference.cells[-1].source += "\n" + HIDDEN_LINE
    pkg = tmp_path / "pkg"
    pkg.mkdir(exist_ok=True)
    return execute_untrusted(nb, TrustedCells.from_reference(reference), tmp_path / "work", pkg,
                             resolve_mode("auto"), Limits(**{"cell_timeout": 10, **limits}), [])


def verdict(ex: Execution) -> str:
    errors = [o for o in ex.notebook.cells[-1].outputs if o["output_type"] == "error"]
    return f"{errors[0]['ename']}: {errors[0]['evalue']}" if errors else "passed"


def test_right_answer_passes_wrong_answer_fails(tmp_path):
    assert verdict(judged(tmp_path, RIGHT_ANSWER)) == "passed"
    assert verdict(judged(tmp_path, WRONG_ANSWER)).startswith("AssertionError: expected [2, 4]")


ATTACKS = {
    "showtraceback silenced": "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
                              "ip._showtraceback = lambda *a, **k: None",
    "run_cell forges success": "ip = get_ipython()\n_real = ip.run_cell\n"
                               "ip.run_cell = lambda cell, *a, **k: _real('None', *a, **k)",
    "numpy judges rebound": "import numpy, numpy.testing\nnumpy.allclose = lambda *a, **k: True\n"
                            "numpy.testing.assert_allclose = lambda *a, **k: None\nnp.allclose = numpy.allclose",
    "helper rebound": "check_double = lambda f: True",
    "tolerance loosened": "TOL = 1e9",
    "assert disabled": "import builtins\nbuiltins.AssertionError = type('Nothing', (Exception,), {})",
    "harness replaced": "import sys, types\nsys.modules['_tito_student_side'] = types.SimpleNamespace(serve=lambda p: None)",
    "answer lies about equality": "class Liar:\n    def __eq__(self, other): return True\n    __array__ = None\n"
                                  "double = lambda x: Liar()",
    "result forged on stdout": "import os, json\nos.write(1, json.dumps({'notebook': {}, 'report': {}}).encode())",
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_wrong_answer_cannot_make_its_test_pass(tmp_path, attack):
    assert verdict(judged(tmp_path, WRONG_ANSWER, ATTACKS[attack])) != "passed"


def test_the_attacks_do_not_hurt_a_right_answer(tmp_path):
    harmless = [a for k, a in ATTACKS.items() if k in ("showtraceback silenced", "numpy judges rebound",
                                                         "helper rebound", "tolerance loosened")]
    assert verdict(judged(tmp_path, RIGHT_ANSWER, *harmless)) == "passed"


def test_hidden_tests_are_out_of_the_kernels_reach(tmp_path):
    search = ("import os\nfound = []\nfor top in [os.getcwd(), '/tmp', os.environ.get('HOME', '/')]:\n"
              "    for root, _, files in os.walk(top):\n        for f in files:\n"
              "            try:\n                found.append(open(os.path.join(root, f), errors='ignore').read())\n"
              "            except OSError:\n                pass\n"
              "print('\\n'.join(found)[:50000])")
    ex = judged(tmp_path, RIGHT_ANSWER, search)
    printed = "".join(o.get("text", "") for c in ex.notebook.cells for o in c.get("outputs", []))
    assert HIDDEN_LINE not in printed and "hidden test line" not in printed
    assert verdict(ex) == "passed"


def test_killing_the_grader_costs_only_this_notebook(tmp_path):
    ex = judged(tmp_path, RIGHT_ANSWER, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)")
    assert ex.status == "error" and "executor failed" in ex.reason
    assert verdict(ex) != "passed"


def test_grader_memory_and_descriptors_are_out_of_reach(tmp_path):
    if resolve_mode("auto") != "bubblewrap":
        pytest.skip("bubblewrap cannot create namespaces on this machine (install Debian's bubblewrap as root)")
    probe = ("import os\nfor p in [f'/proc/{os.getppid()}/mem', f'/proc/{os.getppid()}/fd/1']:\n"
             "    try:\n        open(p, 'rb' if p.endswith('mem') else 'wb'); print('OPENED', p)\n"
             "    except OSError as e:\n        print('DENIED', type(e).__name__)")
    ex = judged(tmp_path, RIGHT_ANSWER, probe)
    printed = ex.notebook.cells[3].outputs[0]["text"]
    assert printed.count("DENIED") == 2, printed


def test_a_stubborn_loop_costs_seconds_and_earlier_cells_keep_their_results(tmp_path):
    stubborn = "while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n        pass"
    started = time.monotonic()
    ex = run(tmp_path, "print('before')", stubborn, "print('after')", cell_timeout=3, notebook_timeout=300)
    assert time.monotonic() - started < 3 + 15
    assert ex.status == "cell_timeout" and "kernel was killed" in ex.reason
    assert ex.notebook.cells[0].outputs[0]["text"] == "before\n"
    assert ex.notebook.cells[1].outputs[-1]["ename"] == "CellTimeout"
    assert ex.notebook.cells[2].outputs[-1]["ename"] == "NotRun"


def test_values_cross_the_harness_unchanged(tmp_path):
    """0-d, strided, integer and complex arrays, numpy scalars and dtypes reach the test as they are."""
    answer = graded_cell("import numpy as np\ndef values():\n    a = np.arange(12.0).reshape(3, 4)\n"
                         "    return (np.array(2.5), a.T, a[:, ::2], np.arange(3, dtype=np.int8), np.array([1 + 2j]),\n"
                         "            np.float32(0.25), np.dtype('float16'), [1, (2.0, 'x')], {'k': None})",
                         "answer", "solution")
    check = ("z, t, s, i8, c, f, d, nested, mapping = values()\n"
             "a = np.arange(12.0).reshape(3, 4)\n"
             "for got, want in [(z, np.array(2.5)), (t, a.T), (s, a[:, ::2]), (i8, np.arange(3, dtype=np.int8)),\n"
             "                  (c, np.array([1 + 2j]))]:\n"
             "    got = np.asarray(got)\n"
             "    assert got.shape == want.shape and got.dtype == want.dtype and np.array_equal(got, want), (got, want)\n"
             "assert type(f) is np.float32 and f == 0.25 and d == np.dtype('float16'), (f, d)\n"
             "assert nested == [1, (2.0, 'x')] and mapping == {'k': None}, (nested, mapping)")
    nb = new_notebook(cells=[graded_cell("import numpy as np", "given"), answer, graded_cell(check, "t", "test")])
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    ex = execute_untrusted(nb, TrustedCells.from_reference(nb), tmp_path / "work", pkg, resolve_mode("auto"),
                           Limits(cell_timeout=30), [])
    assert verdict(ex) == "passed"


def test_outputs_are_valid_notebook_outputs_and_a_malformed_one_costs_only_itself(tmp_path):
    """The executor builds outputs without nbformat: what it returns must still validate, and a
    display message that breaks nbformat's schema (a kernel can publish anything) is replaced by a
    note, not a crashed executor."""
    import sys

    ex = run(tmp_path, "import sys\nprint(sys.executable)",
             "from IPython.display import display, HTML\ndisplay(HTML('<b>x</b>'))\n3 * 7",
             "from IPython.display import publish_display_data\npublish_display_data({'text/plain': 5})\n"
             "publish_display_data({'application/json': {'a': [1, 2]}})",
             "import sys\nsys.stderr.write('warned\\n')\nraise KeyError('k')")
    assert ex.status == "ok", ex.reason
    nbformat.validate(ex.notebook)
    printed, shown, published, failed = (c.outputs for c in ex.notebook.cells)
    assert printed[0]["text"].strip() == sys.executable, "the kernel must be the grader's own Python"
    assert [o["output_type"] for o in shown] == ["display_data", "execute_result"]
    assert shown[1]["data"]["text/plain"] == "21" and shown[1]["execution_count"] == 2
    assert published[0] == {"output_type": "stream", "name": "stderr",
                            "text": "[a malformed display_data output was dropped]\n"}, published
    assert published[1]["data"]["application/json"] == {"a": [1, 2]}
    assert failed[0]["name"] == "stderr" and failed[-1]["ename"] == "KeyError"


@pytest.mark.parametrize("kind, content, well_formed", [
    ("stream", {"name": "stdout", "text": "hi"}, True),
    ("stream", {"name": "stdout", "text": 5}, False),
    ("error", {"ename": "E", "evalue": "v", "traceback": ["a", "b"]}, True),
    ("error", {"ename": "E", "evalue": "v", "traceback": "a"}, False),
    ("display_data", {"data": {"text/plain": ["a", "b"]}, "metadata": {}}, True),
    ("display_data", {"data": {"image/png": None}, "metadata": {}}, False),
    ("display_data", {"data": {"application/vnd.x+json": 3}, "metadata": {}}, True),
    ("execute_result", {"data": {}, "metadata": [], "execution_count": 1}, False),
])
def test_output_messages_are_checked_against_nbformats_schema(kind, content, well_formed):
    """The executor's own check agrees with nbformat's output schema, case by case."""
    from autograder.sandbox.executor.kernel_session import output_from_msg

    def notebook_with(output):
        nb = new_notebook(cells=[new_code_cell("x")])
        nb.cells[0].outputs = [nbformat.from_dict(output)]
        return nb

    output = output_from_msg(kind, content)
    dropped = output == {"output_type": "stream", "name": "stderr", "text": f"[a malformed {kind} output was dropped]\n"}
    assert dropped != well_formed, output
    nbformat.validate(notebook_with(output))
    raw = notebook_with({"output_type": kind, **content})
    if well_formed:
        nbformat.validate(raw)
    else:
        with pytest.raises(nbformat.ValidationError):
            nbformat.validate(raw)


def test_a_kernel_slow_to_start_is_waited_for(tmp_path):
    """Requests sent while the kernel starts queue up; the executor must take the answer to any of
    them (a kernel that took over a second to start once was never seen as ready)."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "sitecustomize.py").write_text("import time\ntime.sleep(3.5)\n")   # the kernel starts 3.5 s late
    nb = new_notebook(cells=[new_code_cell("print('ran')")])
    ex = execute_untrusted(nb, TrustedCells({}, []), tmp_path / "work", pkg, resolve_mode("auto"), Limits(), [])
    assert ex.status == "ok", ex.reason
    assert ex.notebook.cells[0].outputs[0]["text"] == "ran\n"


def test_garbage_frames_on_the_kernels_channel_cost_nothing(tmp_path):
    """Student code can send raw frames on the kernel's IOPub socket; the executor drops what it
    cannot read or verify and goes on (a bare delimiter once crashed the message reader)."""
    ex = run(tmp_path, "k = get_ipython().kernel\n"
                       "for frames in ([b'<IDS|MSG>'], [b'x'], [b'<IDS|MSG>', b'sig', b'[' * 100000, b'{}', b'{}', b'{}']):\n"
                       "    k.iopub_socket.send_multipart(frames)\n"
                       "print('sent')", "print('after')")
    assert ex.status == "ok", ex.reason
    assert [c.outputs[-1]["text"] for c in ex.notebook.cells] == ["sent\n", "after\n"]
