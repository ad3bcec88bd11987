# %% [markdown]
# # 07 · Training
#
# You have every piece: tensors, layers, losses, autograd, optimizers. Training is the loop that
# strings them together, repeated for every mini-batch of every epoch:
#
# $$\text{zero\_grad} \;\to\; \hat y = f_\theta(x) \;\to\; L(\hat y, y) \;\to\; \nabla_\theta L
#   \;\to\; \text{clip} \;\to\; \theta \leftarrow \text{step}(\theta, \nabla_\theta L)$$
#
# plus the chores around it: a learning-rate schedule, evaluation on held-out data (in eval mode and
# without building a graph), a history to plot, and checkpoints. This module builds
# `clip_grad_norm_`, `CosineAnnealingLR` and a small `Trainer`.

# %%
#| default_exp training
#| export
import math

import numpy as np
from tqdm import tqdm

from tinytorch_lib.tensor import Tensor
from tinytorch_lib.autograd import no_grad
from tinytorch_lib.losses import BCEWithLogitsLoss

# %% [markdown]
# ## Gradient clipping
#
# One unlucky batch can produce a huge gradient (deep nets and RNNs especially) and a single step
# then throws the weights far away. Clipping by the **global norm** caps the length of the whole
# gradient vector, treating all parameters as one long vector, and keeps its direction:
#
# $$\lVert g\rVert = \sqrt{\textstyle\sum_{p}\sum_i g_{p,i}^2}, \qquad
#   \text{if } \lVert g\rVert > c:\quad g_p \leftarrow g_p \cdot \frac{c}{\lVert g\rVert + 10^{-6}}
#   \text{ for every } p.$$
#
# Clipping each parameter separately would change the direction; PyTorch's `clip_grad_norm_`
# (the trailing `_` means "in place") scales all gradients by the same factor and returns the norm
# measured *before* clipping, which is worth logging.

# %% solution id="clip-grad-norm"
#| export
def clip_grad_norm_(parameters, max_norm):
    """Scale all gradients together so that their global L2 norm is at most `max_norm`.

    TODO: compute the total norm over every gradient; if it exceeds max_norm, multiply every
          gradient by max_norm / (total + 1e-6). Return the total norm (before clipping).
    APPROACH: 1) total = sqrt(sum of g.data**2 over all grads), computed in float64
              2) coef = max_norm / (total + 1e-6)
              3) if coef < 1: g.data = g.data * coef for every g (keep each gradient's dtype)
    EXAMPLE: grads [3, 0] and [0, 4] (norm 5), max_norm=1  ->  about [0.6, 0] and [0, 0.8]; returns 5.0
    HINTS: one norm for all parameters, not one per parameter. Assign a new array to g.data
           rather than scaling in place: two gradients may share one array.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    ### BEGIN SOLUTION
    total = np.sqrt(sum(np.sum(np.square(g.data, dtype=np.float64)) for g in grads))
    coef = float(max_norm) / (float(total) + 1e-6)
    if coef < 1:
        for g in grads:
            g.data = (g.data * coef).astype(g.data.dtype, copy=False)
    return np.float64(total)
    ### END SOLUTION


# %% test id="test-clip-grad-norm" points=2
a = Tensor(np.array([3.0, 0.0]), requires_grad=True)
b = Tensor(np.array([[0.0], [4.0]]), requires_grad=True)
a.grad, b.grad = Tensor(np.array([3.0, 0.0])), Tensor(np.array([[0.0], [4.0]]))
norm = clip_grad_norm_([a, b], max_norm=1.0)
assert np.isclose(float(norm), 5.0), f"total norm of [3, 0] and [0, 4] is 5, got {norm}"
assert np.allclose(a.grad.data, [0.6, 0.0], atol=1e-6) and np.allclose(b.grad.data, [[0.0], [0.8]], atol=1e-6), (
    f"both gradients are scaled by 1/5: expected [0.6, 0] and [[0], [0.8]], got {a.grad.data} and {b.grad.data.tolist()}")

a.grad, b.grad = Tensor(np.array([3.0, 0.0])), Tensor(np.array([[0.0], [4.0]]))
norm = clip_grad_norm_([a, b], max_norm=10.0)
assert np.isclose(float(norm), 5.0) and np.array_equal(a.grad.data, [3.0, 0.0]), \
    "a norm below max_norm must leave the gradients untouched (and still return the norm)"

### BEGIN HIDDEN TESTS
# one global factor (not one per parameter), exactly max_norm / (total + 1e-6)
a.grad, b.grad = Tensor(np.array([3.0, 0.0])), Tensor(np.array([[0.0], [4.0]]))
clip_grad_norm_([a, b], max_norm=2.0)
coef = 2.0 / (5.0 + 1e-6)
assert np.allclose(a.grad.data, [3 * coef, 0], rtol=1e-12) and np.allclose(b.grad.data, [[0], [4 * coef]], rtol=1e-12)
# params without grad are skipped, a generator works, a single Tensor works, dtype is kept
c = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
c.grad = Tensor(np.full(3, 2.0, dtype=np.float32))
expected = np.sqrt(np.sum(a.grad.data ** 2) + 12.0)
norm = clip_grad_norm_((p for p in [a, c, Tensor(np.zeros(2), requires_grad=True)]), max_norm=0.5)
assert np.isclose(float(norm), expected), f"expected total norm {expected}, got {norm}"
assert c.grad.dtype == np.float32 and np.isclose(np.linalg.norm(np.concatenate([a.grad.data, c.grad.data])), 0.5, rtol=1e-5)
d = Tensor(np.zeros(2), requires_grad=True); d.grad = Tensor(np.array([0.0, 10.0]))
assert np.isclose(float(clip_grad_norm_(d, 1.0)), 10.0) and np.allclose(d.grad.data, [0.0, 1.0], atol=1e-6)
# a gradient array shared by two tensors is scaled once
shared = Tensor(np.array([6.0, 8.0]))
e, f = Tensor(np.zeros(2), requires_grad=True), Tensor(np.zeros(2), requires_grad=True)
e.grad, f.grad = shared, shared.detach()  # two tensors, one ndarray
clip_grad_norm_([e, f], 1.0)
assert np.allclose(e.grad.data, np.array([6.0, 8.0]) / (np.sqrt(200) + 1e-6)), "shared gradient scaled twice"
### END HIDDEN TESTS

# %% [markdown]
# ## Cosine learning-rate schedule
#
# A large learning rate makes fast progress early; a small one settles into a minimum late.
# Cosine annealing (Loshchilov & Hutter, 2017) glides from the base rate $\eta_{\max}$ down to
# $\eta_{\min}$ over $T_{\max}$ epochs along half a cosine:
#
# $$\eta_t = \eta_{\min} + \tfrac12(\eta_{\max} - \eta_{\min})\left(1 + \cos\frac{\pi t}{T_{\max}}\right).$$
#
# As in PyTorch, the scheduler remembers the optimizer's learning rate when it is created ($t = 0$),
# and each `step()` (once per epoch, after the optimizer steps) advances $t$ by one and writes the
# new rate into `optimizer.lr`. `get_last_lr()` returns it in a list (PyTorch has one rate per
# parameter group). Past $T_{\max}$ the closed form climbs back up, like PyTorch's.

# %% solution id="cosine-lr"
#| export
class CosineAnnealingLR:
    """Cosine learning-rate schedule from optimizer.lr down to eta_min over T_max steps."""

    def __init__(self, optimizer, T_max, eta_min=0.0):
        if T_max <= 0:
            raise ValueError(f"T_max must be positive, got {T_max}")
        self.optimizer = optimizer
        self.T_max = T_max
        self.eta_min = eta_min
        self.base_lr = optimizer.lr
        self.last_epoch = 0
        self._last_lr = [optimizer.lr]

    def lr_at(self, epoch):
        """The learning rate after `epoch` scheduler steps (closed form).

        TODO: return eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2.
        APPROACH: one line with math.cos and math.pi.
        EXAMPLE: base_lr=1, eta_min=0, T_max=4: lr_at(0)=1, lr_at(2)=0.5, lr_at(4)=0
        HINTS: epoch counts scheduler steps, starting from 0.
        """
        ### BEGIN SOLUTION
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
        ### END SOLUTION

    def step(self):
        """Advance one epoch and set the optimizer's learning rate."""
        self.last_epoch += 1
        lr = self.lr_at(self.last_epoch)
        self.optimizer.lr = lr
        self._last_lr = [lr]

    def get_last_lr(self):
        """The learning rate set by the last step, as a one-element list (like PyTorch)."""
        return list(self._last_lr)


# %%
from tinytorch_lib.optim import SGD, Adam

# %% test id="test-cosine-lr" points=2
opt = SGD([Tensor(np.zeros(1), requires_grad=True)], lr=1.0)
sched = CosineAnnealingLR(opt, T_max=4)
assert sched.get_last_lr() == [1.0], f"before any step the rate is the base rate [1.0], got {sched.get_last_lr()}"
got = []
for _ in range(4):
    sched.step()
    got.append(opt.lr)
expected = [(1 + np.cos(np.pi / 4)) / 2, 0.5, (1 - np.cos(np.pi / 4)) / 2, 0.0]  # 0.8536, 0.5, 0.1464, 0
assert np.allclose(got, expected), f"optimizer.lr after each step: expected {np.round(expected, 4)}, got {np.round(got, 4)}"
assert sched.get_last_lr() == [opt.lr], f"get_last_lr() should be [optimizer.lr], got {sched.get_last_lr()}"

### BEGIN HIDDEN TESTS
opt = SGD([Tensor(np.zeros(1), requires_grad=True)], lr=0.1)
sched = CosineAnnealingLR(opt, T_max=10, eta_min=0.01)
lrs = []
for _ in range(12):
    sched.step(); lrs.append(sched.get_last_lr()[0])
ref = [0.01 + 0.09 * (1 + np.cos(np.pi * t / 10)) / 2 for t in range(1, 13)]
assert np.allclose(lrs, ref, rtol=1e-12), f"eta_min / past T_max: expected {ref}, got {lrs}"
assert np.isclose(lrs[9], 0.01) and lrs[11] > lrs[10] > lrs[9], "closed form climbs back after T_max"
assert isinstance(sched.get_last_lr(), list) and sched.last_epoch == 12
assert np.isclose(opt.lr, ref[-1])
### END HIDDEN TESTS

# %% [markdown]
# ## The Trainer
#
# A *loader* is anything you can iterate over, again every epoch, to get `(x, y)` mini-batches: a
# list of pairs, or the `DataLoader` of module 08. The Trainer's pieces:
#
# * `train_step(x, y)`: the loop body above, for one batch. Returns the loss as a float and the
#   model's output array (for accuracy).
# * `eval_step(x, y)`: forward and loss only, inside `no_grad()` so that no graph is recorded
#   (evaluation then needs no memory for the backward pass).
# * `fit(train_loader, epochs, val_loader=None)`: per epoch, `model.train()`, one pass of
#   `train_step` over the data, one scheduler step, then `evaluate(val_loader)`.
# * `evaluate(loader)`: `model.eval()` (Dropout off), one pass of `eval_step`; returns the tuple
#   `(mean loss, accuracy)`.
#
# Losses are averaged over samples (each batch weighted by its size). Accuracy compares the
# arg-max over classes with the integer target; a model with a single output is thresholded at
# 0.5 (at 0 when the loss is `BCEWithLogitsLoss`, whose inputs are logits). `fit` returns the
# history `{"train_loss", "train_acc", "val_loss", "val_acc", "lr"}`, one entry per epoch (the val
# lists stay empty without a `val_loader`; `lr` is the rate used during the epoch). It shows a
# tqdm progress bar on stderr; pass `progress=False` to silence it.

# %%
#| export
def _as_tensor(v):
    return v if isinstance(v, Tensor) else Tensor(np.asarray(v))


def _count_correct(out, target, threshold):
    """(number of correct predictions, number of predictions) for one batch."""
    out, target = np.asarray(out), np.asarray(target)
    if out.ndim >= 2 and out.shape[-1] > 1:          # class scores: arg-max over the last axis
        pred = out.argmax(axis=-1)
        if target.shape == out.shape:                 # one-hot or probability targets
            target = target.argmax(axis=-1)
    else:                                             # one output: threshold it
        pred = out.reshape(-1) > threshold
        target = target.reshape(-1) > 0.5
    return int(np.sum(pred == target.reshape(pred.shape))), int(pred.size)


# %% solution id="trainer"
#| export
class Trainer:
    """Fit a model with a loss, an optimizer and an optional per-epoch scheduler."""

    def __init__(self, model, loss_fn, optimizer, scheduler=None, max_grad_norm=None):
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.max_grad_norm = max_grad_norm
        self.threshold = 0.0 if isinstance(loss_fn, BCEWithLogitsLoss) else 0.5
        self.epoch = 0
        self.history = {"train_loss": [], "train_acc": [], "val_loss": [], "val_acc": [], "lr": []}

    def train_step(self, x, y):
        """One optimisation step on the batch (x, y). Returns (loss as a float, output ndarray).

        TODO: clear the gradients, run the model and the loss, backpropagate, clip the gradients to
              self.max_grad_norm if it is not None, and let the optimizer step.
        APPROACH: optimizer.zero_grad(); out = model(x); loss = loss_fn(out, y); loss.backward();
                  clip_grad_norm_(optimizer.params, max_grad_norm) if set; optimizer.step()
        EXAMPLE: loss, out = trainer.train_step(Tensor(X), Tensor(y))  ->  (0.69..., array of shape (N, C))
        HINTS: zero the gradients first: backward accumulates into .grad.
        """
        ### BEGIN SOLUTION
        self.optimizer.zero_grad()
        out = self.model(x)
        loss = self.loss_fn(out, y)
        loss.backward()
        if self.max_grad_norm is not None:
            clip_grad_norm_(self.optimizer.params, self.max_grad_norm)
        self.optimizer.step()
        ### END SOLUTION
        return loss.item(), out.data

    def eval_step(self, x, y):
        """Loss and output on the batch (x, y) without recording a graph.

        TODO: run the model and the loss inside `with no_grad():`; return (loss.item(), out.data).
        APPROACH: three lines.
        EXAMPLE: the returned output comes from tensors with requires_grad=False.
        HINTS: do not touch the optimizer or the gradients here.
        """
        ### BEGIN SOLUTION
        with no_grad():
            out = self.model(x)
            loss = self.loss_fn(out, y)
        return loss.item(), out.data
        ### END SOLUTION

    def _run(self, loader, step_fn):
        """One pass over `loader` with `step_fn`; returns (mean loss per sample, accuracy)."""
        total_loss, n_samples, correct, n_preds = 0.0, 0, 0, 0
        for x, y in loader:
            x, y = _as_tensor(x), _as_tensor(y)
            loss, out = step_fn(x, y)
            batch = x.shape[0] if x.ndim else 1
            total_loss += loss * batch
            n_samples += batch
            c, n = _count_correct(out, y.data, self.threshold)
            correct, n_preds = correct + c, n_preds + n
        if n_samples == 0:
            raise ValueError("the loader yielded no batches (a generator is used up after one pass: "
                             "pass a list of (x, y) batches or a DataLoader)")
        return total_loss / n_samples, correct / max(n_preds, 1)

    def evaluate(self, loader):
        """(mean loss, accuracy) over `loader`, with the model in eval mode and no graph."""
        self.model.eval()
        return self._run(loader, self.eval_step)

    def fit(self, train_loader, epochs, val_loader=None, progress=True):
        """Train for `epochs` epochs; returns the history dict (also kept in self.history).

        TODO: for each epoch, put the model in training mode, make one pass of train_step over
              train_loader, step the scheduler (if any), then evaluate on val_loader (if any).
        APPROACH: model.train(); train_loss, train_acc = self._run(train_loader, self.train_step);
                  scheduler.step(); val_loss, val_acc = self.evaluate(val_loader)
        EXAMPLE: history = trainer.fit(batches, epochs=3, progress=False); len(history["train_loss"]) -> 3
        HINTS: leave val_loss and val_acc as None without a val_loader; the given code records them.
        """
        bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not progress)
        for _ in bar:
            lr = self.optimizer.lr
            val_loss = val_acc = None
            ### BEGIN SOLUTION
            self.model.train()
            train_loss, train_acc = self._run(train_loader, self.train_step)
            if self.scheduler is not None:
                self.scheduler.step()
            if val_loader is not None:
                val_loss, val_acc = self.evaluate(val_loader)
            ### END SOLUTION
            self.epoch += 1
            self.history["lr"].append(lr)
            self.history["train_loss"].append(train_loss)
            self.history["train_acc"].append(train_acc)
            if val_loss is not None:
                self.history["val_loss"].append(val_loss)
                self.history["val_acc"].append(val_acc)
            bar.set_postfix(loss=f"{train_loss:.4f}", acc=f"{train_acc:.3f}")
        bar.close()
        return self.history

    def save(self, path):
        """Write a checkpoint: the model's state_dict, plus lr and epoch counters, as .npz at `path`."""
        arrays = dict(self.model.state_dict())
        arrays["__lr__"] = np.array(self.optimizer.lr, dtype=np.float64)
        arrays["__epoch__"] = np.array(self.epoch)
        if self.scheduler is not None:
            arrays["__scheduler_epoch__"] = np.array(self.scheduler.last_epoch)
        with open(path, "wb") as f:        # np.savez(path) would append ".npz" to the name
            np.savez(f, **arrays)

    def load(self, path):
        """Restore a checkpoint written by `save` (weights exactly, lr and epoch counters)."""
        with np.load(path) as data:
            self.model.load_state_dict({k: data[k] for k in data.files if not k.startswith("__")})
            if "__lr__" in data.files:
                self.optimizer.lr = float(data["__lr__"])
            if "__epoch__" in data.files:
                self.epoch = int(data["__epoch__"])
            if self.scheduler is not None and "__scheduler_epoch__" in data.files:
                self.scheduler.last_epoch = int(data["__scheduler_epoch__"])
                self.scheduler._last_lr = [self.optimizer.lr]


# %% [markdown]
# The tests train on a tiny, separable 2-D problem. Batches are plain lists of `(x, y)` pairs.

# %%
from tinytorch_lib.tensor import manual_seed, is_grad_enabled
from tinytorch_lib.layers import Module, Linear, Sequential
from tinytorch_lib.activations import Tanh, ReLU
from tinytorch_lib.losses import CrossEntropyLoss, MSELoss


def toy_batches(n=64, batch_size=16, seed=0):
    """n points in 2-D, class 1 when x0 + x1 > 0; a list of (x, y) batches."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return [(Tensor(x[i:i + batch_size]), Tensor(y[i:i + batch_size])) for i in range(0, n, batch_size)]


class Spy(Module):
    """Wraps a model and logs (training mode, grad enabled, output requires_grad) at every forward."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.log = []

    def forward(self, x):
        out = self.inner(x)
        self.log.append((self.training, is_grad_enabled(), out.requires_grad))
        return out


# %% test id="test-trainer-train-step" points=2
manual_seed(0)
model = Sequential(Linear(2, 8), Tanh(), Linear(8, 2))
manual_seed(0)
twin = Sequential(Linear(2, 8), Tanh(), Linear(8, 2))
trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.5))
twin_opt = SGD(twin.parameters(), lr=0.5)
for x, y in toy_batches()[:2]:
    loss, out = trainer.train_step(x, y)
    twin_opt.zero_grad()
    twin_loss = CrossEntropyLoss()(twin(x), y)
    twin_loss.backward()
    twin_opt.step()
    assert np.isclose(loss, twin_loss.item()) and out.shape == (16, 2), \
        f"train_step returns (loss, output): expected ({twin_loss.item():.4f}, shape (16, 2)), got ({loss}, {np.shape(out)})"
for (name, p), q in zip(model.named_parameters(), twin.parameters()):
    assert np.allclose(p.data, q.data, atol=1e-6), \
        f"after two train_steps {name} differs from zero_grad/forward/backward/step by hand (forgot zero_grad?)"

### BEGIN HIDDEN TESTS
x, y = toy_batches()[0]
manual_seed(1); m1 = Linear(2, 2)
manual_seed(1); m2 = Linear(2, 2)
t1 = Trainer(m1, CrossEntropyLoss(), SGD(m1.parameters(), lr=1.0), max_grad_norm=1e-3)
o2 = SGD(m2.parameters(), lr=1.0)
t1.train_step(x, y)
o2.zero_grad(); CrossEntropyLoss()(m2(x), y).backward(); clip_grad_norm_(m2.parameters(), 1e-3); o2.step()
assert all(np.allclose(p.data, q.data, atol=1e-7) for p, q in zip(m1.parameters(), m2.parameters())), \
    "train_step must clip to max_grad_norm before the optimizer step"
### END HIDDEN TESTS

# %% test id="test-trainer-eval-step" points=1
manual_seed(0)
model = Sequential(Linear(2, 8), Tanh(), Linear(8, 2))
trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.5))
x, y = toy_batches()[0]
before = [p.data.copy() for p in model.parameters()]
loss, out = trainer.eval_step(x, y)
expected = CrossEntropyLoss()(model(x), y).item()
assert isinstance(loss, float) and np.isclose(loss, expected), f"eval_step loss: expected {expected:.4f}, got {loss}"
assert all(np.array_equal(b, p.data) for b, p in zip(before, model.parameters())), "eval_step must not update the weights"

### BEGIN HIDDEN TESTS
assert all(p.grad is None for p in model.parameters()), "eval_step must not compute gradients"
spy = Spy(Linear(2, 2))
Trainer(spy, CrossEntropyLoss(), SGD(spy.parameters(), lr=0.1)).eval_step(x, y)
assert spy.log[-1][1:] == (False, False), f"eval_step must run under no_grad(), log {spy.log[-1]}"
assert is_grad_enabled(), "no_grad must be restored after eval_step"
### END HIDDEN TESTS

# %% test id="test-trainer-fit" points=3
manual_seed(0)
model = Sequential(Linear(2, 8), Tanh(), Linear(8, 2))
opt = Adam(model.parameters(), lr=0.05)
trainer = Trainer(model, CrossEntropyLoss(), opt)
train, val = toy_batches(64, seed=0), toy_batches(32, seed=1)
history = trainer.fit(train, epochs=15, val_loader=val, progress=False)
assert set(history) >= {"train_loss", "train_acc", "val_loss", "val_acc"}, f"history keys: {sorted(history)}"
assert all(len(history[k]) == 15 for k in ["train_loss", "train_acc", "val_loss", "val_acc"]), \
    f"one entry per epoch expected, got lengths { {k: len(v) for k, v in history.items()} }"
first, last = history["train_loss"][0], history["train_loss"][-1]
assert last < 0.5 * first, f"training loss should at least halve in 15 epochs: {first:.4f} -> {last:.4f}"
assert history["val_acc"][-1] >= 0.9, f"validation accuracy should reach 0.9, got {history['val_acc'][-1]}"
val_loss, val_acc = trainer.evaluate(val)
assert np.isclose(val_loss, history["val_loss"][-1]) and model.training is False, \
    "evaluate returns (loss, acc) and leaves the model in eval mode"

### BEGIN HIDDEN TESTS
# same seed, same run; loss is the per-sample mean over the epoch
manual_seed(0)
m2 = Sequential(Linear(2, 8), Tanh(), Linear(8, 2))
h2 = Trainer(m2, CrossEntropyLoss(), Adam(m2.parameters(), lr=0.05)).fit(train, 15, val, progress=False)
assert h2["train_loss"] == history["train_loss"]
uneven = toy_batches(40, batch_size=32, seed=3)
t3 = Trainer(m2, CrossEntropyLoss(), SGD(m2.parameters(), lr=0.0))
loss3, acc3 = t3.evaluate(uneven)
ref = (CrossEntropyLoss()(m2(uneven[0][0]), uneven[0][1]).item() * 32 + CrossEntropyLoss()(m2(uneven[1][0]), uneven[1][1]).item() * 8) / 40
assert np.isclose(loss3, ref, rtol=1e-6), f"batch losses must be weighted by batch size: {loss3} vs {ref}"
xs = np.concatenate([b[0].data for b in uneven]); ys = np.concatenate([b[1].data for b in uneven])
assert np.isclose(acc3, np.mean(m2(Tensor(xs)).data.argmax(1) == ys))

# train mode and grad during fit, eval mode and no grad during validation; scheduler once per epoch
spy = Spy(Linear(2, 2))
opt = SGD(spy.parameters(), lr=0.1)
sched = CosineAnnealingLR(opt, T_max=4)
t = Trainer(spy, CrossEntropyLoss(), opt, scheduler=sched)
h = t.fit(train[:1], epochs=3, val_loader=val[:1], progress=False)
assert spy.log == [(True, True, True), (False, False, False)] * 3, f"modes seen by forward: {spy.log}"
assert np.allclose(h["lr"], [sched.lr_at(0), sched.lr_at(1), sched.lr_at(2)]) and np.isclose(opt.lr, sched.lr_at(3))
assert h["val_loss"] and len(h["train_loss"]) == 3 and t.epoch == 3
h = Trainer(spy, CrossEntropyLoss(), SGD(spy.parameters(), lr=0.1)).fit(train[:1], 2, progress=False)
assert h["val_loss"] == [] and len(h["train_acc"]) == 2

# one-output accuracy: threshold 0.5 (probabilities) or 0 (logits)
from tinytorch_lib.losses import BCEWithLogitsLoss as _BCEL
lin = Linear(1, 1); lin.weight.data[...] = 1.0; lin.bias.data[...] = 0.0
xb, yb = Tensor(np.array([[-1.0], [0.3], [0.7], [2.0]])), Tensor(np.array([[0.0], [1.0], [1.0], [1.0]]))
assert np.isclose(Trainer(lin, MSELoss(), SGD(lin.parameters(), lr=0.0)).evaluate([(xb, yb)])[1], 0.75)
assert np.isclose(Trainer(lin, _BCEL(), SGD(lin.parameters(), lr=0.0)).evaluate([(xb, yb)])[1], 1.0)
### END HIDDEN TESTS

# %% [markdown]
# ## Checkpoints
#
# A checkpoint lets a long run survive a crash and lets you ship the weights. `save` writes the
# model's `state_dict()` into one `.npz` file (NumPy's zip of arrays), plus the learning rate and
# epoch counters under names starting with `__`; `load` puts everything back. Adam's moment
# buffers are not saved, so a resumed Adam run restarts its averages.

# %% test id="test-trainer-checkpoint" points=1
import os
import tempfile

manual_seed(3)
model = Sequential(Linear(2, 4), ReLU(), Linear(4, 2))
opt = SGD(model.parameters(), lr=0.25)
trainer = Trainer(model, CrossEntropyLoss(), opt)
trainer.fit(toy_batches(), epochs=2, progress=False)
saved = {k: v.copy() for k, v in model.state_dict().items()}
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "ckpt.npz")
    trainer.save(path)
    trainer.fit(toy_batches(), epochs=1, progress=False)
    opt.lr = 123.0
    trainer.load(path)
for k, v in model.state_dict().items():
    assert np.array_equal(v, saved[k]) and v.dtype == saved[k].dtype, f"{k} not restored exactly after load"
assert opt.lr == 0.25 and trainer.epoch == 2, f"lr and epoch restored: got lr={opt.lr}, epoch={trainer.epoch}"

# %% [markdown]
# ## Training a classifier on two moons
#
# Two interleaved half-circles: not linearly separable, so the hidden layer has to bend the
# boundary. Mini-batches are reshuffled every epoch (module 08 will turn this into a `DataLoader`).
# Adam with a cosine schedule, 60 epochs.

# %%
import time

import matplotlib.pyplot as plt

from tinytorch_lib.tensor import get_generator


def two_moons(n, noise=0.15, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    x = np.where(label[:, None] == 0, np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    return (x + rng.normal(scale=noise, size=x.shape)).astype(np.float32), label.astype(np.int64)


class Batches:
    """Re-iterable mini-batches over arrays, reshuffled on every pass."""

    def __init__(self, x, y, batch_size, shuffle=True):
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle

    def __iter__(self):
        order = get_generator().permutation(len(self.x)) if self.shuffle else np.arange(len(self.x))
        for i in range(0, len(order), self.batch_size):
            idx = order[i:i + self.batch_size]
            yield Tensor(self.x[idx]), Tensor(self.y[idx])


x_train, y_train = two_moons(512, seed=0)
x_val, y_val = two_moons(256, seed=1)
manual_seed(0)
model = Sequential(Linear(2, 32), ReLU(), Linear(32, 32), ReLU(), Linear(32, 2))
opt = Adam(model.parameters(), lr=0.02)
trainer = Trainer(model, CrossEntropyLoss(), opt, scheduler=CosineAnnealingLR(opt, T_max=60))
history = trainer.fit(Batches(x_train, y_train, 32), epochs=60,
                      val_loader=Batches(x_val, y_val, 256, shuffle=False), progress=False)
print(f"final: train loss {history['train_loss'][-1]:.4f}, val loss {history['val_loss'][-1]:.4f}, "
      f"val accuracy {history['val_acc'][-1]:.3f}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
epochs = np.arange(1, 61)
ax1.plot(epochs, history["train_loss"], label="train")
ax1.plot(epochs, history["val_loss"], label="validation")
ax1.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="loss")
ax1.legend(loc="upper center")
ax1b = ax1.twinx()
ax1b.plot(epochs, history["lr"], "k:", lw=1)
ax1b.set_ylabel("learning rate (dotted)")
gx, gy = np.meshgrid(np.linspace(-1.5, 2.5, 200), np.linspace(-1.0, 1.5, 200))
with no_grad():
    logits = model(Tensor(np.c_[gx.ravel(), gy.ravel()].astype(np.float32))).data
ax2.contourf(gx, gy, ((logits[:, 1] - logits[:, 0]) > 0).reshape(gx.shape).astype(float), alpha=0.25, cmap="coolwarm")
ax2.scatter(x_val[:, 0], x_val[:, 1], c=y_val, s=8, cmap="coolwarm")
ax2.set(title=f"decision boundary, val accuracy {history['val_acc'][-1]:.3f}", xlabel="x0", ylabel="x1")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Systems note: batch size and time per epoch
#
# An epoch always processes every sample once, but each step also pays a fixed cost: Python
# dispatch of every op, the graph, the optimizer loop over parameters. Small batches pay it many
# times. Larger batches amortise it (and on a GPU also fill the hardware), at the price of fewer
# updates per epoch. Measured on 4096 moons with the model above:

# %%
x_big, y_big = two_moons(4096, seed=2)
for batch_size in [8, 32, 128, 512]:
    manual_seed(0)
    m = Sequential(Linear(2, 32), ReLU(), Linear(32, 32), ReLU(), Linear(32, 2))
    t = Trainer(m, CrossEntropyLoss(), Adam(m.parameters(), lr=0.01))
    times = []
    for _ in range(3):  # best of 3 epochs
        start = time.perf_counter()
        t.fit(Batches(x_big, y_big, batch_size), epochs=1, progress=False)
        times.append(time.perf_counter() - start)
    sec = min(times)
    print(f"batch {batch_size:4d}: {len(x_big) // batch_size:4d} steps, {sec * 1000:7.1f} ms/epoch, "
          f"{len(x_big) / sec:9.0f} samples/s, loss after 1 epoch {t.history['train_loss'][0]:.3f}")
