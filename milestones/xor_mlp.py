"""Milestone 2: the multi-layer perceptron solves XOR, then reads handwritten digits.

Minsky and Papert (1969) showed that a single-layer perceptron cannot compute XOR; the answer,
popularised by Rumelhart, Hinton and Williams (1986), is a hidden layer trained with
backpropagation. This milestone trains, with your tinytorch_lib (modules 01-07):

1. XOR: a 2-layer MLP, Linear(2, 4) -> Tanh -> Linear(4, 1), BCEWithLogitsLoss, SGD with momentum,
   on the four XOR points. Target: all 4 points right (100%).
2. Digits: scikit-learn's bundled 8x8 handwritten digits (1797 images, no download), 80/20
   train/test split, standardised pixels, an MLP trained with the Trainer of module 07 (Adam or
   AdamW, cosine learning-rate schedule, mini-batches of 32).

    tito milestone xor_mlp            # full: digits MLP 64-256-10 with Dropout(0.2), 40 epochs;
                                      #       target >= 95% test accuracy
    tito milestone xor_mlp --quick    # CI:   digits MLP 64-64-10, 10 epochs (about a second);
                                      #       target >= 90% test accuracy (usually ~96%)

XOR is trained the same way in both (500 steps; it takes well under a second). The plot (XOR
decision regions, digits loss and accuracy curves) goes to xor_mlp.png in the current folder.
Everything is seeded with manual_seed (default 0): the same seed prints the same numbers.
Exit code 0 if every target is met, 1 if not.
"""
import argparse
import sys
import time

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from tinytorch_lib.activations import ReLU, Tanh  # noqa: E402
from tinytorch_lib.autograd import no_grad  # noqa: E402
from tinytorch_lib.layers import Dropout, Linear, Sequential  # noqa: E402
from tinytorch_lib.losses import BCEWithLogitsLoss, CrossEntropyLoss  # noqa: E402
from tinytorch_lib.optim import SGD, Adam, AdamW  # noqa: E402
from tinytorch_lib.tensor import Tensor, get_generator, manual_seed  # noqa: E402
from tinytorch_lib.training import CosineAnnealingLR, Trainer  # noqa: E402

PLOT = "xor_mlp.png"
XOR_STEPS = 500
TARGET_DIGITS = {"full": 0.95, "quick": 0.90}


class Batches:
    """Mini-batches of (x, y) Tensors, reshuffled on every pass from the global generator.

    (A stand-in for module 08's DataLoader, which this milestone does not need yet.)
    """

    def __init__(self, x, y, batch_size, shuffle):
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle

    def __iter__(self):
        n = len(self.x)
        order = np.arange(n)
        if self.shuffle:
            get_generator().shuffle(order)
        for i in range(0, n, self.batch_size):
            idx = order[i:i + self.batch_size]
            yield Tensor(self.x[idx]), Tensor(self.y[idx])


def solve_xor():
    """Train the 2-layer MLP on XOR; (model, accuracy, first loss, last loss)."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    model = Sequential(Linear(2, 4), Tanh(), Linear(4, 1))
    trainer = Trainer(model, BCEWithLogitsLoss(), SGD(model.parameters(), lr=0.5, momentum=0.9))
    history = trainer.fit([(Tensor(x), Tensor(y))], epochs=XOR_STEPS)
    _, acc = trainer.evaluate([(Tensor(x), Tensor(y))])
    with no_grad():
        logits = model(Tensor(x)).data.ravel()
    for point, target, logit in zip(x, y.ravel(), logits):
        print(f"  XOR{tuple(int(v) for v in point)} = {int(target)}: "
              f"p = {1 / (1 + np.exp(-logit)):.3f} {'ok' if (logit > 0) == (target > 0.5) else 'WRONG'}")
    return model, acc, history["train_loss"][0], history["train_loss"][-1]


def digits_data():
    """(x_train, y_train, x_test, y_test): 80/20 split drawn from the global generator."""
    digits = load_digits()
    x, y = digits.data.astype(np.float32), digits.target.astype(np.int64)
    order = get_generator().permutation(len(x))
    n_test = len(x) // 5
    test, train = order[:n_test], order[n_test:]
    mean, std = x[train].mean(axis=0), x[train].std(axis=0) + 1.0   # +1: some pixels are always 0
    x = (x - mean) / std
    return x[train], y[train], x[test], y[test]


def train_digits(quick):
    x_train, y_train, x_test, y_test = digits_data()
    if quick:
        model = Sequential(Linear(64, 64), ReLU(), Linear(64, 10))
        optimizer, epochs = Adam(model.parameters(), lr=3e-3), 10
    else:
        model = Sequential(Linear(64, 256), ReLU(), Dropout(0.2), Linear(256, 10))
        optimizer, epochs = AdamW(model.parameters(), lr=2e-3, weight_decay=1e-2), 40
    sizes = [64] + [m.out_features for m in model if isinstance(m, Linear)]
    print(f"digits: {len(x_train)} train / {len(x_test)} test images of 8x8 pixels, "
          f"MLP {'-'.join(map(str, sizes))}, "
          f"{type(optimizer).__name__} + cosine schedule, {epochs} epochs")
    trainer = Trainer(model, CrossEntropyLoss(), optimizer, CosineAnnealingLR(optimizer, T_max=epochs))
    train_loader = Batches(x_train, y_train, batch_size=32, shuffle=True)
    test_loader = Batches(x_test, y_test, batch_size=len(x_test), shuffle=False)
    history = trainer.fit(train_loader, epochs, val_loader=test_loader)
    _, test_acc = trainer.evaluate(test_loader)
    return history, test_acc


def plot(xor_model, history, path):
    fig, (ax_xor, ax_loss, ax_acc) = plt.subplots(1, 3, figsize=(15, 4.5))
    xx, yy = np.meshgrid(np.linspace(-0.5, 1.5, 150), np.linspace(-0.5, 1.5, 150))
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32)
    with no_grad():
        p = 1 / (1 + np.exp(-xor_model(Tensor(grid)).data.reshape(xx.shape)))
    ax_xor.contourf(xx, yy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.5)
    ax_xor.contour(xx, yy, p, levels=[0.5], colors="k")
    ax_xor.scatter([0, 1], [1, 0], c="darkred", s=120, label="XOR = 1", edgecolors="k")
    ax_xor.scatter([0, 1], [0, 1], c="navy", s=120, label="XOR = 0", edgecolors="k")
    ax_xor.set_title("XOR: decision regions of the 2-layer MLP")
    ax_xor.legend(loc="center")
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    ax_loss.plot(epochs, history["train_loss"], label="train")
    ax_loss.plot(epochs, history["val_loss"], label="test")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy")
    ax_loss.set_title("Digits: loss")
    ax_loss.legend()
    ax_acc.plot(epochs, history["train_acc"], label="train")
    ax_acc.plot(epochs, history["val_acc"], label="test")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_title("Digits: accuracy")
    ax_acc.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller digits run for CI (lower target)")
    parser.add_argument("--seed", type=int, default=0, help="seed for manual_seed (default 0)")
    args = parser.parse_args(argv)
    target = TARGET_DIGITS["quick" if args.quick else "full"]

    start = time.perf_counter()
    print(f"Milestone 2: multi-layer perceptron, XOR and digits{' [quick]' if args.quick else ''}")
    print(f"tinytorch_lib from {sys.modules['tinytorch_lib'].__path__[0]}")
    manual_seed(args.seed)
    print(f"XOR: MLP 2 -> 4 (tanh) -> 1, BCEWithLogitsLoss, SGD(lr=0.5, momentum=0.9), {XOR_STEPS} steps")
    xor_model, xor_acc, xor_loss0, xor_loss1 = solve_xor()
    history, test_acc = train_digits(args.quick)
    plot(xor_model, history, PLOT)

    ok = xor_acc == 1.0 and test_acc >= target
    print(f"xor_mlp: {'PASSED' if ok else 'FAILED'} - XOR {round(xor_acc * 4)}/4 ({xor_acc:.0%}, target 100%), "
          f"loss {xor_loss0:.4f} -> {xor_loss1:.4f}; digits test accuracy {test_acc:.1%} "
          f"(target >= {target:.0%}), train loss {history['train_loss'][0]:.4f} -> {history['train_loss'][-1]:.4f}; "
          f"plot {PLOT}, {time.perf_counter() - start:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
