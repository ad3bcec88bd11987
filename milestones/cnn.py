"""Milestone 3: a convolutional network reads handwritten digits (LeNet, 1998).

LeCun, Bottou, Bengio and Haffner (1998) read bank cheques with LeNet-5: convolutions that share
their weights across the image, pooling that makes them tolerant to small shifts, and a small
classifier on top, all trained end to end by backpropagation. This milestone trains a LeNet-style
network built from your tinytorch_lib (modules 01-09) on scikit-learn's bundled 8x8 digits
(1797 images, no download): `load_digits`, `random_split` (80% train / 20% held out) and
`DataLoader` of module 08, `Conv2d` and `MaxPool2d` of module 09, the Trainer of module 07.

    conv 1->16 (3x3, pad 1) - ReLU - maxpool 2 - conv 16->32 (3x3, pad 1) - ReLU - maxpool 2
    - flatten (32*2*2) - linear 128->64 - ReLU - linear 64->10

    tito milestone cnn            # full: 30 epochs, Adam + cosine schedule; target >= 97% held-out
    tito milestone cnn --quick    # CI: 8 channels, 4 epochs (a few seconds); target >= 90%

The plot (learned first-layer filters, the confusion matrix on the held-out digits, the loss
curves) goes to cnn.png in the current folder. Everything is seeded with manual_seed (default 0):
the same seed prints the same numbers. Exit code 0 if the target is met, 1 if not.
"""
import argparse
import sys
import time

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tinytorch_lib.activations import ReLU  # noqa: E402
from tinytorch_lib.autograd import no_grad  # noqa: E402
from tinytorch_lib.data import DataLoader, load_digits, random_split, TensorDataset  # noqa: E402
from tinytorch_lib.layers import Flatten, Linear, Sequential  # noqa: E402
from tinytorch_lib.losses import CrossEntropyLoss  # noqa: E402
from tinytorch_lib.optim import Adam  # noqa: E402
from tinytorch_lib.spatial import Conv2d, MaxPool2d  # noqa: E402
from tinytorch_lib.tensor import Tensor, manual_seed  # noqa: E402
from tinytorch_lib.training import CosineAnnealingLR, Trainer  # noqa: E402

PLOT = "cnn.png"
SETTINGS = {"full": {"channels": (16, 32), "epochs": 30, "lr": 3e-3, "target": 0.97},
            "quick": {"channels": (8, 16), "epochs": 4, "lr": 5e-3, "target": 0.90}}


def lenet(c1, c2):
    return Sequential(Conv2d(1, c1, 3, padding=1), ReLU(), MaxPool2d(2),
                      Conv2d(c1, c2, 3, padding=1), ReLU(), MaxPool2d(2),
                      Flatten(), Linear(c2 * 2 * 2, 64), ReLU(), Linear(64, 10))


def predictions(model, loader):
    """(predicted classes, true classes) over a loader, in eval mode without a graph."""
    model.eval()
    pred, true = [], []
    with no_grad():
        for x, y in loader:
            pred.append(model(x).data.argmax(axis=1))
            true.append(y.data)
    return np.concatenate(pred), np.concatenate(true)


def plot(model, history, pred, true, path):
    fig = plt.figure(figsize=(15, 4.8))
    grid = fig.add_gridspec(1, 3, width_ratios=[1.1, 1, 1])
    filters = model[0].weight.data[:, 0]                      # (c1, 3, 3)
    inner = grid[0].subgridspec(int(np.ceil(len(filters) / 4)), 4, wspace=0.1, hspace=0.1)
    lim = np.abs(filters).max()
    for k, f in enumerate(filters):
        ax = fig.add_subplot(inner[k // 4, k % 4])
        ax.imshow(f, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.text(0.17, 0.95, "learned first-layer filters (3x3)", ha="center")
    conf = np.zeros((10, 10), dtype=int)
    np.add.at(conf, (true, pred), 1)
    ax = fig.add_subplot(grid[1])
    ax.imshow(conf, cmap="Blues")
    for i in range(10):
        for j in range(10):
            if conf[i, j]:
                ax.text(j, i, conf[i, j], ha="center", va="center", fontsize=7,
                        color="white" if conf[i, j] > conf.max() / 2 else "black")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true",
           title=f"held-out confusion matrix ({np.mean(pred == true):.1%})")
    ax = fig.add_subplot(grid[2])
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    ax.plot(epochs, history["train_loss"], label="train")
    ax.plot(epochs, history["val_loss"], label="held-out")
    ax.set(yscale="log", xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax.legend()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller, shorter run for CI (lower target)")
    parser.add_argument("--seed", type=int, default=0, help="seed for manual_seed (default 0)")
    args = parser.parse_args(argv)
    cfg = SETTINGS["quick" if args.quick else "full"]

    start = time.perf_counter()
    print(f"Milestone 3: LeNet-style CNN on 8x8 digits{' [quick]' if args.quick else ''}")
    print(f"tinytorch_lib from {sys.modules['tinytorch_lib'].__path__[0]}")
    manual_seed(args.seed)
    X, y = load_digits()
    train_set, test_set = random_split(TensorDataset(X, y), [0.8, 0.2])
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=len(test_set))
    model = lenet(*cfg["channels"])
    n_params = sum(p.numel() for p in model.parameters())
    print(f"digits: {len(train_set)} train / {len(test_set)} held-out images (1, 8, 8); LeNet "
          f"{cfg['channels'][0]}-{cfg['channels'][1]} conv channels, {n_params} parameters; "
          f"Adam(lr={cfg['lr']}) + cosine schedule, {cfg['epochs']} epochs of batch 32")
    optimizer = Adam(model.parameters(), lr=cfg["lr"])
    trainer = Trainer(model, CrossEntropyLoss(), optimizer, CosineAnnealingLR(optimizer, T_max=cfg["epochs"]))
    history = trainer.fit(train_loader, cfg["epochs"], val_loader=test_loader)
    pred, true = predictions(model, test_loader)
    acc = float(np.mean(pred == true))
    plot(model, history, pred, true, PLOT)

    ok = acc >= cfg["target"]
    print(f"cnn: {'PASSED' if ok else 'FAILED'} - held-out accuracy {acc:.1%} ({int(np.sum(pred == true))}/"
          f"{len(true)}, target >= {cfg['target']:.0%}), train loss {history['train_loss'][0]:.4f} -> "
          f"{history['train_loss'][-1]:.4f}; plot {PLOT}, {time.perf_counter() - start:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
