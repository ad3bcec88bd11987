"""Milestone 1: Rosenblatt's perceptron (1957), rebuilt with your tinytorch_lib.

Frank Rosenblatt's Mark I Perceptron learned to separate two classes with a single layer of
adjustable weights. Here the same idea is built from the pieces of modules 01-06: a `Linear(2, 1)`
followed by a `Sigmoid` (a differentiable perceptron: logistic regression), trained with `BCELoss`,
autograd and `SGD` on two-dimensional points that a straight line separates.

    tito milestone perceptron            # full run: 1000 points, 40 epochs
    tito milestone perceptron --quick    # CI run:    200 points, 25 epochs (a second or two)

Both runs have the same targets: accuracy >= 99% on the training points, and a loss that
decreases (final loss below half the loss of the untrained model). The plot of the learned
decision boundary and of the loss goes to perceptron.png in the current folder.
Exit code 0 if the targets are met, 1 if not.
"""
import argparse
import sys
import time

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from tinytorch_lib.activations import Sigmoid  # noqa: E402
from tinytorch_lib.autograd import no_grad  # noqa: E402
from tinytorch_lib.layers import Linear, Sequential  # noqa: E402
from tinytorch_lib.losses import BCELoss  # noqa: E402
from tinytorch_lib.optim import SGD  # noqa: E402
from tinytorch_lib.tensor import Tensor, get_generator, manual_seed  # noqa: E402

TARGET_ACCURACY = 0.99
PLOT = "perceptron.png"
HIDDEN_NORMAL = np.array([1.0, -0.6]) / np.linalg.norm([1.0, -0.6])   # the line that labels the data:
HIDDEN_OFFSET = 0.2                                                    # normal . x + offset = 0


def make_data(n, margin=0.1):
    """`n` points in [-2, 2]^2 labelled by a hidden line, none closer to it than `margin`."""
    g = get_generator()
    normal, offset = HIDDEN_NORMAL, HIDDEN_OFFSET
    points = np.empty((0, 2))
    while len(points) < n:
        x = g.uniform(-2.0, 2.0, size=(2 * n, 2))
        points = np.concatenate([points, x[np.abs(x @ normal + offset) > margin]])
    x = points[:n].astype(np.float32)
    y = (x @ normal + offset > 0).astype(np.float32).reshape(-1, 1)
    return x, y


def accuracy(model, x, y):
    with no_grad():
        p = model(Tensor(x)).data
    return float(np.mean((p > 0.5) == (y > 0.5)))


def plot(model, x, y, losses, path):
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.5))
    xx, yy = np.meshgrid(np.linspace(-2.2, 2.2, 200), np.linspace(-2.2, 2.2, 200))
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32)
    with no_grad():
        p = model(Tensor(grid)).data.reshape(xx.shape)
    ax.contourf(xx, yy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.35)
    ax.contour(xx, yy, p, levels=[0.5], colors="k", linewidths=2)
    ax.scatter(x[:, 0], x[:, 1], c=y.ravel(), cmap="RdBu_r", s=10, edgecolors="none")
    line_x = np.array([-2.2, 2.2])      # the hidden line n0 x1 + n1 x2 + offset = 0, dashed
    ax.plot(line_x, -(HIDDEN_NORMAL[0] * line_x + HIDDEN_OFFSET) / HIDDEN_NORMAL[1], "g--", lw=1,
            label="hidden line")
    ax.set_xlim(-2.2, 2.2)
    ax.set_ylim(-2.2, 2.2)
    ax.legend(loc="lower right")
    ax.set_title("Learned decision boundary (black: p = 0.5)")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax_loss.plot(np.arange(len(losses)), losses, marker=".")
    ax_loss.set_xlabel("epoch (0 = untrained)")
    ax_loss.set_ylabel("binary cross-entropy")
    ax_loss.set_yscale("log")
    ax_loss.set_title("Training loss")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run for CI (same targets)")
    parser.add_argument("--seed", type=int, default=0, help="seed for manual_seed (default 0)")
    args = parser.parse_args(argv)
    n, epochs, batch_size, lr = (200, 25, 20, 1.0) if args.quick else (1000, 40, 50, 1.0)

    start = time.perf_counter()
    print(f"Milestone 1: Rosenblatt's perceptron (1957){' [quick]' if args.quick else ''}")
    print(f"tinytorch_lib from {sys.modules['tinytorch_lib'].__path__[0]}")
    manual_seed(args.seed)
    x, y = make_data(n)
    model = Sequential(Linear(2, 1), Sigmoid())
    loss_fn = BCELoss()
    optimizer = SGD(model.parameters(), lr=lr)
    print(f"{n} points in 2-D ({int(y.sum())} of class 1), model Linear(2, 1) -> Sigmoid, "
          f"BCELoss, SGD(lr={lr}), {epochs} epochs of batches of {batch_size}")

    with no_grad():
        losses = [loss_fn(model(Tensor(x)), y).item()]
    g = get_generator()
    bar = tqdm(range(epochs), desc="perceptron", unit="epoch")
    for _ in bar:
        order = g.permutation(n)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(Tensor(x[idx])), y[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        losses.append(total / n)
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    bar.close()

    acc = accuracy(model, x, y)
    plot(model, x, y, losses, PLOT)
    w, b = model[0].weight.data.ravel(), model[0].bias.data
    cos = float(w @ HIDDEN_NORMAL / np.linalg.norm(w))
    print(f"learned boundary: {w[0]:+.3f} x1 {w[1]:+.3f} x2 {b[0]:+.3f} = 0, "
          f"{np.degrees(np.arccos(min(cos, 1.0))):.1f} degrees from the hidden line")
    ok_acc = acc >= TARGET_ACCURACY
    ok_loss = losses[-1] < 0.5 * losses[0]
    verdict = "PASSED" if ok_acc and ok_loss else "FAILED"
    print(f"perceptron: {verdict} - accuracy {acc:.1%} (target >= {TARGET_ACCURACY:.0%}), "
          f"loss {losses[0]:.4f} -> {losses[-1]:.4f} ({'decreasing' if ok_loss else 'NOT decreasing enough'}), "
          f"plot {PLOT}, {time.perf_counter() - start:.1f} s")
    return 0 if verdict == "PASSED" else 1


if __name__ == "__main__":
    sys.exit(main())
