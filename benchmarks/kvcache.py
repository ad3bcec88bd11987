"""KV-cache benchmark: generation with and without the cache, and a GPT training step against PyTorch.

    pip install torch==2.13.0               # the CPU build (exactly this command)
    python benchmarks/kvcache.py            # prints the tables, updates docs/benchmarks.md
    python benchmarks/kvcache.py --no-write # print only
    python benchmarks/kvcache.py --train-only  # only the training step against PyTorch, print only

Generation (tinytorch_lib only): `generate` of module 14, greedy, 256 new tokens with
`use_cache=True` and with `use_cache=False`, on GPT(vocab 96, d_model 256, 4 heads, 4 layers,
max_len 512) with random weights, after a prompt of 128 tokens (the main case) and of 1 token.
Both runs must produce the same tokens before their times count; the cached run is timed as the
best of two, the uncached one (many times longer) once. Target: at least 10x faster with the cache on the main case.

Training step: the same GPT (vocab 96, d_model 128, 4 heads, 2 layers, context 64) in
tinytorch_lib and in PyTorch, tinytorch's initial weights copied into the torch model, float32,
batch 16 x 64 tokens: forward, cross-entropy, backward, clip to norm 1, AdamW step. The two
must agree on the loss and on the updated weights before anything is timed. The torch model is
written here to match module 13 exactly (pre-norm blocks, GELU tanh, learned positions, separate
q/k/v/out projections). Timing and threading as in benchmarks/framework.py (library defaults,
then one thread each). Target: within 2x of PyTorch.
"""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.framework import bench_parser, fmt_time, load_torch_and_lib, measure  # noqa: E402
from benchmarks.report import DOC, write_section  # noqa: E402

SECTION = "KV-cache: generation with and without the cache; a GPT training step vs PyTorch (CPU)"
TARGET_SPEEDUP, TARGET_RATIO = 10.0, 2.0
GEN = {"vocab": 96, "d": 256, "heads": 4, "layers": 4, "max_len": 512, "new": 256}
TRAIN = {"vocab": 96, "d": 128, "heads": 4, "layers": 2, "block": 64, "batch": 16, "lr": 1e-3}


# ---- generation ----------------------------------------------------------------------------------

def generation_rows():
    from tinytorch_lib.kvcache import generate
    from tinytorch_lib.tensor import manual_seed
    from tinytorch_lib.transformer import GPT

    manual_seed(0)
    model = GPT(GEN["vocab"], GEN["d"], GEN["heads"], GEN["layers"], GEN["max_len"])
    rows = []
    for prompt_len in (128, 1):
        prompt = np.random.default_rng(1).integers(0, GEN["vocab"], size=(1, prompt_len))
        times, outs = {}, {}
        for use_cache in (True, False):
            best = math.inf
            for _ in range(2 if use_cache else 1):
                start = time.perf_counter()
                outs[use_cache] = generate(model, prompt, GEN["new"], temperature=0, use_cache=use_cache)
                best = min(best, time.perf_counter() - start)
            times[use_cache] = best
        if not np.array_equal(outs[True], outs[False]):
            raise SystemExit(f"prompt {prompt_len}: greedy tokens differ with and without the cache")
        rows.append((prompt_len, times[True], times[False]))
        print(f"prompt {prompt_len:3d} + {GEN['new']} new tokens: {times[True]:.2f} s with the cache, "
              f"{times[False]:.2f} s without: {times[False] / times[True]:.1f}x", flush=True)
    return rows


# ---- training step against PyTorch ---------------------------------------------------------------

def torch_gpt(torch, tt_model):
    """A PyTorch GPT with module 13's architecture, holding copies of tt_model's weights."""
    nn, F = torch.nn, torch.nn.functional
    d, heads = tt_model.d_model, tt_model.num_heads

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
            self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

        def forward(self, x):
            B, T, _ = x.shape
            h = self.ln1(x)
            q, k, v = (f(h).view(B, T, heads, d // heads).transpose(1, 2) for f in (self.q, self.k, self.v))
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, d)
            x = x + self.o(a)
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))

    class TorchGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(tt_model.vocab_size, d), nn.Embedding(tt_model.max_len, d)
            self.blocks = nn.ModuleList(Block() for _ in tt_model.blocks)
            self.ln_f, self.head = nn.LayerNorm(d), nn.Linear(d, tt_model.vocab_size)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(torch.arange(idx.shape[1]))
            for b in self.blocks:
                x = b(x)
            return self.head(self.ln_f(x))

    model = TorchGPT()
    pairs = [(model.tok.weight, tt_model.tok_emb.weight), (model.pos.weight, tt_model.pos_emb.weight)]
    for tb, b in zip(model.blocks, tt_model.blocks):
        a = b.attn
        pairs += [(tb.ln1.weight, b.ln1.weight), (tb.ln1.bias, b.ln1.bias), (tb.ln2.weight, b.ln2.weight),
                  (tb.ln2.bias, b.ln2.bias), (tb.fc1.weight, b.mlp[0].weight), (tb.fc1.bias, b.mlp[0].bias),
                  (tb.fc2.weight, b.mlp[2].weight), (tb.fc2.bias, b.mlp[2].bias)]
        for t_lin, lin in ((tb.q, a.q_proj), (tb.k, a.k_proj), (tb.v, a.v_proj), (tb.o, a.out_proj)):
            pairs += [(t_lin.weight, lin.weight), (t_lin.bias, lin.bias)]
    pairs += [(model.ln_f.weight, tt_model.ln_f.weight), (model.ln_f.bias, tt_model.ln_f.bias),
              (model.head.weight, tt_model.head.weight), (model.head.bias, tt_model.head.bias)]
    with torch.no_grad():
        for t_param, param in pairs:
            t_param.copy_(torch.from_numpy(param.data.copy()))
    return model, pairs


def training_cases(torch):
    from tinytorch_lib.optim import AdamW
    from tinytorch_lib.tensor import manual_seed
    from tinytorch_lib.training import clip_grad_norm_
    from tinytorch_lib.transformer import GPT, lm_loss

    manual_seed(0)
    tt_model = GPT(TRAIN["vocab"], TRAIN["d"], TRAIN["heads"], TRAIN["layers"], TRAIN["block"])
    t_model, pairs = torch_gpt(torch, tt_model)
    data = np.random.default_rng(2)
    x = data.integers(0, TRAIN["vocab"], size=(TRAIN["batch"], TRAIN["block"]))
    y = data.integers(0, TRAIN["vocab"], size=(TRAIN["batch"], TRAIN["block"]))
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    tt_opt = AdamW(tt_model.parameters(), lr=TRAIN["lr"], weight_decay=0.01)
    t_opt = torch.optim.AdamW(t_model.parameters(), lr=TRAIN["lr"], weight_decay=0.01)

    def tt_step():
        loss = lm_loss(tt_model(x), y)
        tt_opt.zero_grad()
        loss.backward()
        clip_grad_norm_(tt_model.parameters(), 1.0)
        tt_opt.step()
        return float(loss.data)

    def torch_step():
        logits = t_model(tx)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, TRAIN["vocab"]), ty.reshape(-1))
        t_opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(t_model.parameters(), 1.0)
        t_opt.step()
        return float(loss.detach())

    for step in range(2):
        a, b = tt_step(), torch_step()
        if not np.isclose(a, b, rtol=1e-4):
            raise SystemExit(f"step {step}: tinytorch loss {a} and torch loss {b} disagree")
    worst = max(float(np.abs(tp.detach().numpy() - p.data).max()) for tp, p in pairs)
    if worst > 1e-4:
        raise SystemExit(f"the updated weights disagree: max difference {worst}")
    name = (f"GPT d={TRAIN['d']}, {TRAIN['layers']} layers, batch {TRAIN['batch']} x {TRAIN['block']}: "
            f"forward + backward + clip + AdamW")
    return [(name, tt_step, torch_step)], worst


def run_cases(cases):
    rows = []
    for name, f_tt, f_torch in cases:
        tt_t, pt_t = measure(f_tt, repeat=5), measure(f_torch, repeat=5)
        rows.append((name, tt_t, pt_t))
        print(f"{name:<76} {fmt_time(tt_t[0]):>10} {fmt_time(pt_t[0]):>10} {tt_t[0] / pt_t[0]:6.2f}x", flush=True)
    return rows


def main(argv=None):
    parser = bench_parser(__doc__)
    parser.add_argument("--train-only", action="store_true",
                        help="only the training step against PyTorch (skips generation; implies --no-write)")
    args = parser.parse_args(argv)
    loaded = load_torch_and_lib(args.lib)
    if loaded is None:
        return 2
    torch, tt, meta = loaded
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    if args.train_only:
        args.no_write = True
        gen = [(0, 1.0, 1.0)]
    else:
        print("Generation (library defaults)")
        gen = generation_rows()
    cases, worst = training_cases(torch)
    tables = []
    title = f"Library defaults: {threads} threads"
    print(title)
    tables.append((title, run_cases(cases)))
    title = "One thread each (threadpoolctl, torch.set_num_threads(1))"
    print(title)
    with threadpool_limits(limits=1):
        torch.set_num_threads(1)
        try:
            tables.append((title, run_cases(cases)))
        finally:
            torch.set_num_threads(threads)
    load_end = " / ".join(f"{v:.2f}" for v in os.getloadavg())

    speedup = gen[0][2] / gen[0][1]
    ratios = [rows[0][1][0] / rows[0][2][0] for _, rows in tables]
    verdicts = [f"**Target: generation at least {TARGET_SPEEDUP:.0f}x faster with the cache (prompt {gen[0][0]}, "
                f"{GEN['new']} new tokens) - {'met' if speedup >= TARGET_SPEEDUP else 'MISSED'}**: {speedup:.1f}x.",
                f"**Target: a GPT training step within {TARGET_RATIO:.0f}x of PyTorch (library defaults) - "
                f"{'met' if ratios[0] <= TARGET_RATIO else 'MISSED'}**: {ratios[0]:.2f}x with {threads} threads, "
                f"{ratios[1]:.2f}x with one thread."]
    out = [f"Measured {meta['date']} with `python benchmarks/kvcache.py` (one run; method in the script's docstring).",
           "", "| machine | |", "|---|---|", f"| CPU | {meta['cpu']}, {meta['cores']} cores |",
           f"| Python | {meta['python']} |", f"| NumPy | {meta['numpy']} ({meta['blas']}) |",
           f"| PyTorch | {meta['torch']} |", f"| load average at start / end (1/5/15 min) | {meta['load']} ; {load_end} |", "",
           "The machine was shared with other sessions and loaded while this ran (load averages above, on 2 cores): "
           "absolute times are inflated and noisy; ratios measured back to back are the meaningful numbers. With "
           "more runnable threads than cores, the two-thread rows suffer most (both libraries' thread pools are "
           "oversubscribed); the one-thread rows are the steadier comparison.", "",
           *verdicts, "", f"### Generation: `generate`, greedy, GPT d={GEN['d']}, {GEN['layers']} layers, "
           f"{GEN['heads']} heads, vocab {GEN['vocab']} (cached: best of two runs; uncached: one run)", "",
           "| prompt | new tokens | with cache | without cache | speed-up |", "|---:|---:|---:|---:|---:|"]
    out += [f"| {p} | {GEN['new']} | {a:.2f} s ({a / GEN['new'] * 1e3:.1f} ms/token) | {b:.2f} s "
            f"({b / GEN['new'] * 1e3:.1f} ms/token) | {b / a:.1f}x |" for p, a, b in gen]
    out += ["", "Same tokens with and without the cache in both cases (checked before timing counts).", "",
            f"### Training step vs PyTorch (losses agree, updated weights within {worst:.1e})", "",
            "Times per call: best block mean (median block mean in brackets).", ""]
    for title, rows in tables:
        out += [f"#### {title}", "", "| case | tinytorch_lib | PyTorch | ratio |", "|---|---:|---:|---:|"]
        out += [f"| {n} | {fmt_time(a[0])} ({fmt_time(a[1])}) | {fmt_time(b[0])} ({fmt_time(b[1])}) | {a[0] / b[0]:.2f}x |"
                for n, a, b in rows]
        out.append("")
    for v in verdicts[1:] if args.train_only else verdicts:
        print(v.replace("**", ""))
    if not args.no_write:
        write_section(SECTION, "\n".join(out))
        print(f"wrote the section {SECTION!r} of {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
