"""Milestone 5: make the digits model small and fast, and prove it with numbers (Deep Compression, 2016).

Han, Mao and Dally (2016) shrank AlexNet 35x without losing accuracy by pruning the smallest
weights, fine-tuning the survivors and quantizing what was left. This milestone does the same to the
digits MLP of milestone 2, entirely with your tinytorch_lib: trained with the Trainer of module 07
on scikit-learn's bundled 8x8 digits (`load_digits`, 80% train / 20% held out, module 08), then run
through your capstone pipeline (module 20): `magnitude_prune` to 50% sparsity (module 18),
fine-tuning, `quantize_model` to int8 (module 17), every step measured with the harness of module 19
(held-out accuracy, stored size with `model_size_bytes(..., sparse=True)`, single-stream latency).

    tito milestone optimize          # full: MLP 64-256-10, 30 epochs, then prune, fine-tune 3 epochs, int8
    tito milestone optimize --quick  # CI: MLP 64-128-10, 8 epochs, fine-tune 2 epochs (seconds)

Targets (both runs): the int8 model at least 4x smaller than the float32 one, at most 1 point of
held-out accuracy lost. Latency before and after is measured and printed, not judged: int8 saves
memory, but NumPy's integer matmul has no BLAS behind it. The plot (accuracy, size and latency after
every step, and the trade-off) goes to optimize.png in the current folder. Everything is seeded with
manual_seed (default 0). Exit code 0 if every target is met, 1 if not.
"""
import argparse
import sys
import time

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tinytorch_lib.activations import ReLU  # noqa: E402
from tinytorch_lib.capstone import optimize_pipeline  # noqa: E402
from tinytorch_lib.data import DataLoader, TensorDataset, load_digits, random_split  # noqa: E402
from tinytorch_lib.layers import Linear, Sequential  # noqa: E402
from tinytorch_lib.losses import CrossEntropyLoss  # noqa: E402
from tinytorch_lib.optim import Adam  # noqa: E402
from tinytorch_lib.quantization import model_size_bytes  # noqa: E402
from tinytorch_lib.tensor import manual_seed  # noqa: E402
from tinytorch_lib.training import CosineAnnealingLR, Trainer  # noqa: E402

PLOT = "optimize.png"
SETTINGS = {"full": {"hidden": 256, "epochs": 30, "finetune": 3, "repeats": 50},
            "quick": {"hidden": 128, "epochs": 8, "finetune": 2, "repeats": 20}}
MIN_RATIO, MAX_DROP = 4.0, 0.01


def plot(report, dense_bytes, path):
    names = ["float32"] + [s["name"] for s in report["steps"]]
    rows = [report["baseline"], *report["steps"]]
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    colors = ["tab:gray"] + ["tab:blue"] * len(report["steps"])
    for ax, key, scale, title in zip(axes, ("accuracy", "size_bytes", "latency_ms"), (100, 1 / 1024, 1),
                                     ("held-out accuracy (%)", "stored size (KiB)", "single-stream latency (ms, median)")):
        values = [r[key] * scale for r in rows]
        ax.bar(names, values, color=colors)
        for i, v in enumerate(values):
            ax.text(i, v, f"{v:.1f}" if key != "latency_ms" else f"{v:.3f}", ha="center", va="bottom", fontsize=8)
        ax.set_title(title)
    axes[0].set_ylim(min(r["accuracy"] for r in rows) * 100 - 5, 100)
    axes[1].axhline(dense_bytes / 1024 / MIN_RATIO, color="tab:red", ls="--", label=f"target: float32 / {MIN_RATIO:.0f}")
    axes[1].legend(fontsize=8)
    ax = axes[3]
    ax.plot([r["size_bytes"] / 1024 for r in rows], [100 * r["accuracy"] for r in rows], "o-")
    for name, r in zip(names, rows):
        ax.annotate(name, (r["size_bytes"] / 1024, 100 * r["accuracy"]), fontsize=8, xytext=(4, 4), textcoords="offset points")
    ax.set(xscale="log", xlabel="stored size (KiB)", ylabel="accuracy (%)", title="the trade-off")
    fig.suptitle(f"{report['model']}: " + " -> ".join(names))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller, shorter run for CI")
    parser.add_argument("--seed", type=int, default=0, help="seed for manual_seed (default 0)")
    args = parser.parse_args(argv)
    cfg = SETTINGS["quick" if args.quick else "full"]

    start = time.perf_counter()
    print(f"Milestone 5: prune + fine-tune + int8 on the digits MLP{' [quick]' if args.quick else ''}")
    print(f"tinytorch_lib from {sys.modules['tinytorch_lib'].__path__[0]}")
    manual_seed(args.seed)
    X, y = load_digits(flatten=True)
    train_set, test_set = random_split(TensorDataset(X, y), [0.8, 0.2])
    train = DataLoader(train_set, batch_size=32, shuffle=True)
    test = DataLoader(test_set, batch_size=128)
    h = cfg["hidden"]
    model = Sequential(Linear(64, h), ReLU(), Linear(h, 10))
    print(f"digits: {len(train_set)} train / {len(test_set)} held-out images; MLP 64-{h}-10 "
          f"({sum(p.numel() for p in model.parameters())} parameters), Adam + cosine, {cfg['epochs']} epochs")
    optimizer = Adam(model.parameters(), lr=3e-3)
    Trainer(model, CrossEntropyLoss(), optimizer, CosineAnnealingLR(optimizer, T_max=cfg["epochs"])).fit(train, cfg["epochs"])

    dense = model_size_bytes(model)
    print("pipeline: prune 50% (global magnitude) -> fine-tune -> int8, measured after every step")
    _, report = optimize_pipeline(model, train, test, steps=("prune", "finetune", "quantize"), sparsity=0.5,
                                  epochs=cfg["finetune"], lr=1e-3, repeats=cfg["repeats"], seed=args.seed,
                                  name=f"digits MLP 64-{h}-10")
    base, final = report["baseline"], report["final"]
    for name, r in [("float32", base)] + [(s["name"], s) for s in report["steps"]]:
        print(f"  {name:>9}: accuracy {r['accuracy']:.1%}, stored {r['size_bytes']:>6} B, "
              f"single-stream latency {r['latency_ms']:.3f} ms (median of {cfg['repeats']})")
    plot(report, dense, PLOT)

    ratio = dense / final["size_bytes"]
    drop = base["accuracy"] - final["accuracy"]
    ok = ratio >= MIN_RATIO and drop <= MAX_DROP + 1e-12
    print(f"optimize: {'PASSED' if ok else 'FAILED'} - size {dense} B -> {final['size_bytes']} B ({ratio:.2f}x smaller, "
          f"target >= {MIN_RATIO:.0f}x), held-out accuracy {base['accuracy']:.1%} -> {final['accuracy']:.1%} "
          f"({100 * -drop:+.1f} pt, target >= -{100 * MAX_DROP:.0f} pt), latency {base['latency_ms']:.3f} -> "
          f"{final['latency_ms']:.3f} ms; plot {PLOT}, {time.perf_counter() - start:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
