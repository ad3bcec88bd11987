"""Milestone 4: a small GPT writes English (Radford et al., 2018).

Radford, Narasimhan, Salimans and Sutskever (2018) trained a decoder-only transformer to predict
the next token of ordinary text, and that one objective taught it a great deal about language.
This milestone trains a character-level GPT built from your tinytorch_lib (modules 01-14) on a
real English text that ships with Python itself: the help topics of `pydoc_data.topics` (the
text of `help("FOR")` and its siblings, joined in sorted key order, about 465,000 characters),
split 90% train / 10% validation. `CharTokenizer` of module 10, the bigram baseline `bigram_nll`
of module 11, `GPT`, `get_batch`, `lm_loss` and `estimate_loss` of module 13, `AdamW` of module 06,
`clip_grad_norm_` and `CosineAnnealingLR` of module 07, and `generate` with the KV-cache of
module 14 for the samples.

    tito milestone gpt            # full: target validation loss >= 20% below the bigram model's
    tito milestone gpt --quick    # CI: learn to reverse 6-digit sequences; target >= 95% token accuracy

The loss curve goes to gpt.png in the current folder. Everything is seeded with manual_seed
(default 0): the same seed prints the same numbers. Exit code 0 if the target is met, 1 if not.
"""
import argparse
import sys
import time

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from tinytorch_lib.embeddings import bigram_nll  # noqa: E402
from tinytorch_lib.kvcache import generate  # noqa: E402
from tinytorch_lib.optim import AdamW  # noqa: E402
from tinytorch_lib.tensor import get_generator, manual_seed  # noqa: E402
from tinytorch_lib.tokenization import CharTokenizer  # noqa: E402
from tinytorch_lib.training import CosineAnnealingLR, clip_grad_norm_  # noqa: E402
from tinytorch_lib.transformer import GPT, estimate_loss, get_batch, lm_loss  # noqa: E402

PLOT = "gpt.png"
FULL = {"d_model": 128, "num_heads": 4, "num_layers": 2, "block": 64, "batch": 16, "steps": 800,
        "lr": 2e-3, "eval_iters": 40, "target": 0.20}
QUICK = {"d_model": 48, "num_heads": 4, "num_layers": 2, "digits": 6, "batch": 32, "steps": 250,
         "lr": 5e-3, "target": 0.95}
PROMPTS = ["The for statement", "A class definition"]


def train(model, next_batch, steps, lr, desc):
    """AdamW (weight decay 0.01), gradients clipped to 1, cosine schedule to lr/10; loss per step."""
    weights = [*model.parameters()]
    optimizer = AdamW(weights, lr=lr, weight_decay=0.01)
    schedule = CosineAnnealingLR(optimizer, T_max=steps, eta_min=lr / 10)
    model.train()
    losses = []
    bar = tqdm(range(steps), desc=desc, unit="step", mininterval=1.0)
    for _ in bar:
        inputs, targets = next_batch()
        loss = lm_loss(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.data.item())
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}", refresh=False)
    return losses


def plot(losses, title, path, reference=None):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(losses, alpha=0.35, label="training batch")
    smooth = np.convolve(losses, np.ones(25) / 25, mode="valid")
    ax.plot(np.arange(24, len(losses)), smooth, label="training (25-step mean)")
    for value, label in reference or []:
        ax.axhline(value, ls="--", color="gray" if "bigram" in label else "tab:red", label=label)
    ax.set(xlabel="step", ylabel="cross-entropy (nats per token)", title=title)
    ax.legend()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def quick(cfg, start):
    """Sequence reversal: `d1 .. dn |` -> `dn .. d1`; accuracy of greedy, cached generation."""
    n, sep = cfg["digits"], 10

    def batch(size):
        digits = get_generator().integers(0, 10, size=(size, n))
        seq = np.concatenate([digits, np.full((size, 1), sep), digits[:, ::-1]], axis=1)
        return seq[:, :-1], seq[:, 1:]

    model = GPT(11, cfg["d_model"], cfg["num_heads"], cfg["num_layers"], 2 * n + 1)
    print(f"reverse {n} digits: GPT d={cfg['d_model']}, {cfg['num_layers']} layers, "
          f"{sum(p.numel() for p in model.parameters())} parameters; {cfg['steps']} steps of batch {cfg['batch']}")
    losses = train(model, lambda: batch(cfg["batch"]), cfg["steps"], cfg["lr"], "gpt --quick")
    x, _ = batch(500)
    prompts, want = x[:, :n + 1], x[:, :n][:, ::-1]
    got = generate(model, prompts, n, temperature=0)[:, n + 1:]
    acc = float(np.mean(got == want))
    print(f"example: {' '.join(map(str, prompts[0, :n]))} | -> {' '.join(map(str, got[0]))}")
    plot(losses, "GPT learning to reverse digits", PLOT)
    ok = acc >= cfg["target"]
    print(f"gpt: {'PASSED' if ok else 'FAILED'} - token accuracy {acc:.1%} on 500 reversals of {n} digits "
          f"(target >= {cfg['target']:.0%}), loss {np.mean(losses[:20]):.3f} -> {np.mean(losses[-20:]):.3f}; "
          f"plot {PLOT}, {time.perf_counter() - start:.1f} s")
    return ok


def full(cfg, start):
    from pydoc_data.topics import topics

    text = "".join(topics[key] for key in sorted(topics))
    tok = CharTokenizer(text)
    ids = np.array(tok.encode(text), dtype=np.int64)
    cut = int(0.9 * len(ids))
    train_ids, val_ids = ids[:cut], ids[cut:]
    bigram = bigram_nll(train_ids, val_ids, tok.vocab_size)
    model = GPT(tok.vocab_size, cfg["d_model"], cfg["num_heads"], cfg["num_layers"], cfg["block"])
    print(f"pydoc_data.topics: {len(text)} characters, {tok.vocab_size} tokens (characters); "
          f"{len(train_ids)} train / {len(val_ids)} validation")
    print(f"GPT d={cfg['d_model']}, {cfg['num_heads']} heads, {cfg['num_layers']} layers, context {cfg['block']}: "
          f"{sum(p.numel() for p in model.parameters())} parameters; {cfg['steps']} AdamW steps of "
          f"{cfg['batch']} x {cfg['block']} tokens")
    print(f"bigram model (add-one counts on the training split): validation loss {bigram:.4f} nats")
    losses = train(model, lambda: get_batch(train_ids, cfg["block"], cfg["batch"]), cfg["steps"], cfg["lr"], "gpt")
    val = estimate_loss(model, val_ids, cfg["block"], batch_size=cfg["batch"], iters=cfg["eval_iters"])
    train_loss = estimate_loss(model, train_ids, cfg["block"], batch_size=cfg["batch"], iters=cfg["eval_iters"])
    print(f"GPT: train loss {train_loss:.4f}, validation loss {val:.4f} nats ({1 - val / bigram:.1%} below the bigram)")
    for prompt in PROMPTS:
        out = generate(model, [tok.encode(prompt)], cfg["block"] - len(prompt), temperature=0.8, top_k=20)
        print(f"--- sample (KV-cache, temperature 0.8, top-k 20) from {prompt!r}:\n{tok.decode(out[0].tolist())}")
    plot(losses, "character-level GPT on pydoc_data.topics", PLOT,
         [(bigram, f"bigram, validation ({bigram:.3f})"), (val, f"GPT, validation ({val:.3f})")])
    ok = val <= (1 - cfg["target"]) * bigram
    print(f"gpt: {'PASSED' if ok else 'FAILED'} - validation loss {val:.4f} vs bigram {bigram:.4f} nats "
          f"({1 - val / bigram:.1%} below, target >= {cfg['target']:.0%}); plot {PLOT}, "
          f"{time.perf_counter() - start:.1f} s")
    return ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="sequence reversal for CI (a few seconds)")
    parser.add_argument("--seed", type=int, default=0, help="seed for manual_seed (default 0)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    print(f"Milestone 4: a small GPT{' [quick]' if args.quick else ''}")
    print(f"tinytorch_lib from {sys.modules['tinytorch_lib'].__path__[0]}")
    manual_seed(args.seed)
    ok = quick(QUICK, start) if args.quick else full(FULL, start)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
