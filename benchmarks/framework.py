"""Framework benchmark: the reference tinytorch_lib against PyTorch on the CPU.

    pip install torch==2.13.0                 # the CPU build (exactly this command)
    python benchmarks/framework.py            # prints a table, updates docs/benchmarks.md
    python benchmarks/framework.py --no-write # print only

Measured in one process, same data, float32 in both:

* an MLP training step 784-256-10 (ReLU, cross-entropy, SGD lr=0.01), batch 128: forward,
  backward and optimizer step, with tinytorch's initial weights copied into the torch model (the
  two must agree on the loss and on the updated weights before anything is timed);
* primitives: elementwise add and mul, and matmul, at the MLP's own sizes and at 1024x1024.

Everything is measured twice: with each library's default threading (NumPy's BLAS and torch's
intra-op pool both use every core) and with one thread each (threadpoolctl, torch.set_num_threads),
which shows the framework overhead without the threading.

Timing is timeit's: each case runs in blocks long enough for the clock (at least 0.2 s), the
block is repeated and the fastest block's mean is reported (the least disturbed by other
processes); the median block is printed alongside. The target is a training step within 2x of
PyTorch. A cProfile of tinytorch's training step shows where its time goes.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.report import DOC, write_section  # noqa: E402

SECTION = "Framework: tinytorch_lib vs PyTorch (CPU)"
TARGET_RATIO = 2.0
BATCH, D_IN, D_HIDDEN, D_OUT, LR = 128, 784, 256, 10, 0.01


# ---- timing --------------------------------------------------------------------------------------

def measure(fn, repeat=7, min_block=0.2):
    """(best, median) seconds per call of `fn`, timeit-style: blocks of n calls, `repeat` blocks."""
    for _ in range(3):
        fn()                                    # warm-up
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        took = time.perf_counter() - start
        if took >= min_block:
            break
        n = max(n * 2, int(n * min_block / max(took, 1e-9) * 1.1))
    blocks = [took / n]
    for _ in range(repeat - 1):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        blocks.append((time.perf_counter() - start) / n)
    return min(blocks), statistics.median(blocks)


def fmt_time(seconds):
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


# ---- the machine ---------------------------------------------------------------------------------

def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_name():
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy: no mode="dicts"
        return "unknown BLAS"


# ---- the cases -----------------------------------------------------------------------------------

def mlp_step_cases(tt, torch):
    """Two zero-argument training-step functions (tinytorch, torch), checked to agree first."""
    from tinytorch_lib.activations import ReLU
    from tinytorch_lib.layers import Linear, Sequential
    from tinytorch_lib.losses import CrossEntropyLoss
    from tinytorch_lib.optim import SGD
    from tinytorch_lib.tensor import Tensor, manual_seed

    data = np.random.default_rng(0)
    x_np = data.standard_normal((BATCH, D_IN)).astype(np.float32)
    y_np = data.integers(0, D_OUT, size=BATCH).astype(np.int64)

    manual_seed(0)
    model = Sequential(Linear(D_IN, D_HIDDEN), ReLU(), Linear(D_HIDDEN, D_OUT))
    loss_fn = CrossEntropyLoss()
    opt = SGD(model.parameters(), lr=LR)
    x, y = Tensor(x_np), y_np

    t_model = torch.nn.Sequential(torch.nn.Linear(D_IN, D_HIDDEN), torch.nn.ReLU(),
                                  torch.nn.Linear(D_HIDDEN, D_OUT))
    with torch.no_grad():
        for p_tt, p_torch in zip(model.parameters(), t_model.parameters()):
            p_torch.copy_(torch.from_numpy(p_tt.data.copy()))
    t_loss_fn = torch.nn.CrossEntropyLoss()
    t_opt = torch.optim.SGD(t_model.parameters(), lr=LR)
    tx, ty = torch.from_numpy(x_np.copy()), torch.from_numpy(y_np.copy())

    def tt_step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    def torch_step():
        t_opt.zero_grad()
        loss = t_loss_fn(t_model(tx), ty)
        loss.backward()
        t_opt.step()
        return loss

    # Same init, same data: the first steps must give the same losses and the same weights.
    for _ in range(3):
        l_tt, l_torch = tt_step().item(), torch_step().item()
        if abs(l_tt - l_torch) > 1e-4 * max(1.0, abs(l_torch)):
            raise SystemExit(f"tinytorch and torch disagree on the loss: {l_tt} vs {l_torch}")
    for (name, p_tt), p_torch in zip(model.named_parameters(), t_model.parameters()):
        if not np.allclose(p_tt.data, p_torch.detach().numpy(), rtol=1e-4, atol=1e-5):
            raise SystemExit(f"tinytorch and torch disagree on {name} after 3 SGD steps")
    return tt_step, torch_step


def phase_split(tt):
    """Seconds per phase (forward, backward, step) of the tinytorch training step."""
    from tinytorch_lib.activations import ReLU
    from tinytorch_lib.layers import Linear, Sequential
    from tinytorch_lib.losses import CrossEntropyLoss
    from tinytorch_lib.optim import SGD
    from tinytorch_lib.tensor import Tensor, manual_seed

    data = np.random.default_rng(0)
    x = Tensor(data.standard_normal((BATCH, D_IN)).astype(np.float32))
    y = data.integers(0, D_OUT, size=BATCH).astype(np.int64)
    manual_seed(0)
    model = Sequential(Linear(D_IN, D_HIDDEN), ReLU(), Linear(D_HIDDEN, D_OUT))
    loss_fn, opt = CrossEntropyLoss(), SGD(model.parameters(), lr=LR)
    totals = {"forward (incl. loss)": [], "backward": [], "SGD step + zero_grad": []}
    for i in range(230):
        t0 = time.perf_counter()
        loss = loss_fn(model(x), y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        opt.zero_grad()
        t3 = time.perf_counter()
        if i >= 30:
            totals["forward (incl. loss)"].append(t1 - t0)
            totals["backward"].append(t2 - t1)
            totals["SGD step + zero_grad"].append(t3 - t2)
    return {k: statistics.median(v) for k, v in totals.items()}


def profile_step(step, n=200, top=12):
    """The top functions (by own time) over `n` tinytorch training steps, as text lines."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        step()
    prof.disable()
    stats = pstats.Stats(prof)
    total = stats.total_tt
    rows = []
    for (filename, line, func), (cc, nc, tt_own, ct, _) in stats.stats.items():
        where = Path(filename).name if filename != "~" else ""
        label = f"{where}:{line}({func})" if where else func
        rows.append((tt_own, ct, nc, label))
    rows.sort(reverse=True)
    lines = [f"{'own time':>9} {'share':>6} {'cumulative':>11} {'calls/step':>10}  function"]
    for tt_own, ct, nc, label in rows[:top]:
        lines.append(f"{tt_own / n * 1e6:7.1f}µs {tt_own / total:6.1%} {ct / n * 1e6:9.1f}µs "
                     f"{nc / n:10.1f}  {label}")
    return lines


def primitive_cases(tt, torch):
    from tinytorch_lib.tensor import Tensor

    rng = np.random.default_rng(1)
    cases = []
    for op in ("add", "mul"):
        for shape in [(BATCH, D_HIDDEN), (1024, 1024)]:
            a, b = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
            ta, tb = Tensor(a), Tensor(b)
            pa, pb = torch.from_numpy(a.copy()), torch.from_numpy(b.copy())
            if op == "add":
                cases.append((f"add {shape[0]}x{shape[1]}", lambda ta=ta, tb=tb: ta + tb,
                              lambda pa=pa, pb=pb: pa + pb))
            else:
                cases.append((f"mul {shape[0]}x{shape[1]}", lambda ta=ta, tb=tb: ta * tb,
                              lambda pa=pa, pb=pb: pa * pb))
    for m, k, n in [(BATCH, D_IN, D_HIDDEN), (1024, 1024, 1024)]:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        ta, tb = Tensor(a), Tensor(b)
        pa, pb = torch.from_numpy(a.copy()), torch.from_numpy(b.copy())
        cases.append((f"matmul {m}x{k} @ {k}x{n}", lambda ta=ta, tb=tb: ta @ tb,
                      lambda pa=pa, pb=pb: pa @ pb))
    return cases


# ---- report --------------------------------------------------------------------------------------

def render_table(rows):
    out = ["| case | tinytorch_lib | PyTorch | ratio |", "|---|---:|---:|---:|"]
    for name, (tt_best, tt_med), (pt_best, pt_med) in rows:
        out.append(f"| {name} | {fmt_time(tt_best)} ({fmt_time(tt_med)}) | "
                   f"{fmt_time(pt_best)} ({fmt_time(pt_med)}) | {tt_best / pt_best:.2f}x |")
    return out


def render_section(meta, tables, phases, profile_lines, verdict):
    """The body of the section (write_section adds the `## ` title)."""
    out = [f"Measured {meta['date']} with `python benchmarks/framework.py` (one run; the method is in "
           "the script's docstring).", "",
           "| machine | |", "|---|---|",
           f"| CPU | {meta['cpu']}, {meta['cores']} cores |",
           f"| Python | {meta['python']} |",
           f"| NumPy | {meta['numpy']} ({meta['blas']}) |",
           f"| PyTorch | {meta['torch']} |",
           f"| load average at start (1/5/15 min) | {meta['load']} |", "",
           "Times per call: best block mean (median block mean in brackets). Ratio = tinytorch / "
           "PyTorch on the best times; below 1 means tinytorch is faster.", "",
           verdict, ""]
    for title, rows in tables:
        out += [f"### {title}", "", *render_table(rows), ""]
    out += ["### Where tinytorch's training step spends its time", "",
            "Median per phase, library-default threads:", "",
            "| phase | time |", "|---|---:|"]
    out += [f"| {k} | {fmt_time(v)} |" for k, v in phases.items()]
    out += ["", "Top functions by own time (cProfile over 200 steps, one BLAS thread so that the "
            "numbers are steady; profiling inflates the Python-level costs):", "",
            "```", *profile_lines, "```"]
    return "\n".join(out) + "\n"


def run_cases(cases):
    rows = []
    print(f"{'case':<34} {'tinytorch_lib':>22} {'PyTorch':>22} {'ratio':>7}")
    for name, f_tt, f_torch in cases:
        # measured twice, alternating, so that a burst of load from elsewhere hits both
        tt_t, pt_t = measure(f_tt), measure(f_torch)
        tt_t, pt_t = min(tt_t, measure(f_tt)), min(pt_t, measure(f_torch))
        rows.append((name, tt_t, pt_t))
        print(f"{name:<34} {fmt_time(tt_t[0]):>10} ({fmt_time(tt_t[1]):>9}) "
              f"{fmt_time(pt_t[0]):>10} ({fmt_time(pt_t[1]):>9}) {tt_t[0] / pt_t[0]:6.2f}x", flush=True)
    return rows


def bench_parser(doc: str) -> argparse.ArgumentParser:
    """The options every PyTorch-comparison benchmark takes."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--lib", default=str(REPO),
                        help="folder containing the tinytorch_lib to measure (default: the reference)")
    parser.add_argument("--no-write", action="store_true", help=f"do not update {DOC.relative_to(REPO)}")
    return parser


def load_torch_and_lib(lib: str):
    """(torch, tinytorch_lib from `lib`, the machine's description), or None after saying that
    PyTorch is missing."""
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: run `pip install torch==2.13.0` (the CPU build; exactly "
              "this command)", file=sys.stderr)
        return None
    sys.path.insert(0, str(Path(lib).resolve()))
    import tinytorch_lib as tt

    meta = {
        "date": dt.date.today().isoformat(), "cpu": cpu_model(), "cores": os.cpu_count(),
        "python": platform.python_version(), "numpy": np.__version__, "blas": blas_name(),
        "torch": torch.__version__, "load": " / ".join(f"{v:.2f}" for v in os.getloadavg()),
    }
    print(f"tinytorch_lib from {Path(tt.__file__).parent}; {meta['cpu']}, {meta['cores']} cores; "
          f"numpy {meta['numpy']} ({meta['blas']}); torch {meta['torch']}; load {meta['load']}")
    return torch, tt, meta


def main(argv=None):
    args = bench_parser(__doc__).parse_args(argv)
    loaded = load_torch_and_lib(args.lib)
    if loaded is None:
        return 2
    torch, tt, meta = loaded
    from threadpoolctl import threadpool_limits   # comes with scikit-learn

    default_threads = torch.get_num_threads()

    tt_step, torch_step = mlp_step_cases(tt, torch)
    step_name = f"MLP train step {D_IN}-{D_HIDDEN}-{D_OUT}, batch {BATCH}"
    cases = [(step_name, tt_step, torch_step), *primitive_cases(tt, torch)]
    tables = []
    title = f"Library defaults: {default_threads} threads (NumPy's BLAS and torch intra-op)"
    print(f"\n{title}")
    tables.append((title, run_cases(cases)))
    phases = phase_split(tt)
    title = "One thread each (BLAS limited with threadpoolctl, torch.set_num_threads(1))"
    print(f"\n{title}")
    with threadpool_limits(limits=1):
        torch.set_num_threads(1)
        try:
            tables.append((title, run_cases(cases)))
            profile_lines = profile_step(tt_step)
        finally:
            torch.set_num_threads(default_threads)

    ratios = [rows[0][1][0] / rows[0][2][0] for _, rows in tables]
    met = ratios[0] <= TARGET_RATIO
    verdict = (f"**Target: a training step within {TARGET_RATIO:.0f}x of PyTorch (library defaults) "
               f"- {'met' if met else 'MISSED'}**: {ratios[0]:.2f}x with {default_threads} threads, "
               f"{ratios[1]:.2f}x with one thread.")
    print("\n" + verdict.replace("**", ""))
    print("tinytorch step by phase: " + ", ".join(f"{k} {fmt_time(v)}" for k, v in phases.items()))
    print("\n".join(profile_lines))
    if not args.no_write:
        write_section(SECTION, render_section(meta, tables, phases, profile_lines, verdict))
        print(f"\nwrote the section {SECTION!r} of {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
