"""Convolution benchmark: the reference tinytorch_lib's Conv2d (im2col) against PyTorch on the CPU.

    pip install torch==2.13.0            # the CPU build (exactly this command)
    python benchmarks/conv.py            # prints a table, updates docs/benchmarks.md
    python benchmarks/conv.py --no-write # print only

One process, same data and weights, float32: Conv2d(3, 16, kernel 3, padding 1) on a batch of
32 images of 3x32x32, forward + backward (gradients of input, weight and bias, from the sum of
the outputs times a fixed random tensor). The two libraries must agree on the output and on every
gradient before anything is timed. Also timed: tinytorch's forward alone, and the lesson's direct
four-loop convolution (module 09's first exercise), forward only, once, since it takes seconds.
Timing and threading as in benchmarks/framework.py (library defaults, then one thread each).
Target: forward + backward within 3x of PyTorch.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.framework import bench_parser, fmt_time, load_torch_and_lib, measure  # noqa: E402
from benchmarks.report import DOC, write_section  # noqa: E402

SECTION = "Convolution: Conv2d vs PyTorch (CPU)"
TARGET_RATIO = 3.0
N, C_IN, C_OUT, SIZE, K, PAD = 32, 3, 16, 32, 3, 1


def conv2d_loops(x, weight, bias=None, stride=1, padding=0):
    """The lesson's direct convolution: four Python loops around one window product."""
    n_img, _, h, w = x.shape
    n_out, _, kh, kw = weight.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    out = np.zeros((n_img, n_out, oh, ow), dtype=x.dtype)
    for n in range(n_img):
        for o in range(n_out):
            for i in range(oh):
                for j in range(ow):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, o, i, j] = np.sum(window * weight[o]) + (0 if bias is None else bias[o])
    return out


def cases(torch):
    from tinytorch_lib.spatial import Conv2d
    from tinytorch_lib.tensor import Tensor, manual_seed

    data = np.random.default_rng(0)
    x_np = data.standard_normal((N, C_IN, SIZE, SIZE)).astype(np.float32)
    r_np = data.standard_normal((N, C_OUT, SIZE, SIZE)).astype(np.float32)
    manual_seed(0)
    conv = Conv2d(C_IN, C_OUT, K, padding=PAD)
    x, r = Tensor(x_np, requires_grad=True), Tensor(r_np)
    t_conv = torch.nn.Conv2d(C_IN, C_OUT, K, padding=PAD)
    with torch.no_grad():
        t_conv.weight.copy_(torch.from_numpy(conv.weight.data.copy()))
        t_conv.bias.copy_(torch.from_numpy(conv.bias.data.copy()))
    tx, tr = torch.from_numpy(x_np.copy()).requires_grad_(True), torch.from_numpy(r_np.copy())

    def tt_step():
        x.grad = conv.weight.grad = conv.bias.grad = None
        out = conv(x)
        (out * r).sum().backward()
        return out

    def torch_step():
        tx.grad = t_conv.weight.grad = t_conv.bias.grad = None
        out = t_conv(tx)
        (out * tr).sum().backward()
        return out

    out_tt, out_t = tt_step(), torch_step()
    pairs = [("output", out_tt.data, out_t), ("input grad", x.grad.data, tx.grad),
             ("weight grad", conv.weight.grad.data, t_conv.weight.grad), ("bias grad", conv.bias.grad.data, t_conv.bias.grad)]
    for name, a, b in pairs:
        b = b.detach().numpy()
        if not np.allclose(a, b, rtol=1e-4, atol=1e-3 * max(1.0, float(np.abs(b).max()))):
            raise SystemExit(f"tinytorch and torch disagree on the {name}: max diff {np.abs(a - b).max()}")
    step_name = f"Conv2d({C_IN}, {C_OUT}, {K}, padding={PAD}) forward + backward, x ({N}, {C_IN}, {SIZE}, {SIZE})"
    fwd_tt = lambda: conv(Tensor(x_np))

    def fwd_torch():
        with torch.no_grad():
            return t_conv(tx)
    loops = lambda: conv2d_loops(x_np, conv.weight.data, conv.bias.data, padding=PAD)
    if not np.allclose(loops(), out_tt.data, atol=1e-4):
        raise SystemExit("the direct loops disagree with Conv2d")
    return [(step_name, tt_step, torch_step), ("forward only (no graph)", fwd_tt, fwd_torch)], loops


def run_cases(rows_in):
    rows = []
    for name, f_tt, f_torch in rows_in:
        tt_t, pt_t = measure(f_tt), measure(f_torch)
        tt_t, pt_t = min(tt_t, measure(f_tt)), min(pt_t, measure(f_torch))
        rows.append((name, tt_t, pt_t))
        print(f"{name:<76} {fmt_time(tt_t[0]):>10} {fmt_time(pt_t[0]):>10} {tt_t[0] / pt_t[0]:6.2f}x", flush=True)
    return rows


def main(argv=None):
    parser = bench_parser(__doc__)
    args = parser.parse_args(argv)
    loaded = load_torch_and_lib(args.lib)
    if loaded is None:
        return 2
    torch, tt, meta = loaded
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    timed, loops = cases(torch)
    tables = []
    title = f"Library defaults: {threads} threads"
    print(title)
    tables.append((title, run_cases(timed)))
    title = "One thread each (threadpoolctl, torch.set_num_threads(1))"
    print(title)
    with threadpool_limits(limits=1):
        torch.set_num_threads(1)
        try:
            tables.append((title, run_cases(timed)))
        finally:
            torch.set_num_threads(threads)
    start = time.perf_counter()
    loops()
    t_loops = time.perf_counter() - start
    fwd = tables[0][1][1][1][0]
    print(f"direct loops, forward only: {t_loops:.2f} s ({t_loops / fwd:.0f}x the im2col forward)")

    ratios = [rows[0][1][0] / rows[0][2][0] for _, rows in tables]
    met = ratios[0] <= TARGET_RATIO
    verdict = (f"**Target: Conv2d forward + backward within {TARGET_RATIO:.0f}x of PyTorch (library defaults) - "
               f"{'met' if met else 'MISSED'}**: {ratios[0]:.2f}x with {threads} threads, {ratios[1]:.2f}x with one thread.")
    out = [f"Measured {meta['date']} with `python benchmarks/conv.py` (one run; method in the script's docstring).", "",
           "| machine | |", "|---|---|", f"| CPU | {meta['cpu']}, {meta['cores']} cores |",
           f"| Python | {meta['python']} |", f"| NumPy | {meta['numpy']} ({meta['blas']}) |",
           f"| PyTorch | {meta['torch']} |", f"| load average at start (1/5/15 min) | {meta['load']} |", "",
           "Times per call: best block mean (median block mean in brackets).", "", verdict, ""]
    for title, rows in tables:
        out += [f"### {title}", "", "| case | tinytorch_lib | PyTorch | ratio |", "|---|---:|---:|---:|"]
        out += [f"| {n} | {fmt_time(a[0])} ({fmt_time(a[1])}) | {fmt_time(b[0])} ({fmt_time(b[1])}) | {a[0] / b[0]:.2f}x |"
                for n, a, b in rows]
        out.append("")
    out += [f"The lesson's direct loops (module 09, four Python loops over images, filters and output pixels), "
            f"forward only, one run: **{t_loops:.2f} s**, {t_loops / fwd:.0f}x the im2col forward above."]
    print("\n" + verdict.replace("**", ""))
    if not args.no_write:
        write_section(SECTION, "\n".join(out))
        print(f"wrote the section {SECTION!r} of {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
