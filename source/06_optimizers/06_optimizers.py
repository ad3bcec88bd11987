# %% [markdown]
# # 06 · Optimizers
#
# Autograd (module 05) tells every parameter which way is uphill: after `loss.backward()`,
# `p.grad` holds $\partial L / \partial p$. An **optimizer** decides how far to step the other way.
# It keeps a list of parameters, reads their `.grad`, and overwrites their `.data` in place.
# The update is bookkeeping, not part of the model, so it works on the raw NumPy arrays and
# records no graph.
#
# You will write the three optimizers nearly everyone uses, with exactly the update rules of
# `torch.optim`: **SGD** (with momentum and weight decay), **Adam**, and **AdamW**.

# %%
#| default_exp optim
#| export
import numpy as np

from tinytorch_lib.tensor import Tensor

# %% [markdown]
# ## The base class
#
# Every optimizer holds the parameters (`model.parameters()` is a generator, so it is turned into a
# list once), a learning rate `lr` that a scheduler may change between steps (module 07), and one
# `state` dict per parameter for buffers such as momentum. `zero_grad()` clears the gradients
# before the next backward pass: `backward` *accumulates* into `.grad`, so forgetting it adds up
# the gradients of every batch seen so far. Like PyTorch, it sets them to `None`, and `step()`
# skips any parameter whose `.grad` is `None` (a parameter that took no part in the loss).

# %%
#| export
class Optimizer:
    """Base class: a list of parameters, a learning rate, and per-parameter state."""

    def __init__(self, params, lr):
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors such as model.parameters(), "
                            "got a single Tensor: wrap it in a list")
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if lr < 0:
            raise ValueError(f"invalid learning rate: {lr}")
        self.lr = lr
        self.state = [{} for _ in self.params]  # one dict of buffers per parameter

    def zero_grad(self):
        """Forget the gradients of the last backward pass (sets every `.grad` to None)."""
        for p in self.params:
            p.grad = None

    def step(self):
        """Update every parameter that has a gradient. Subclasses implement the rule."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")


# %% [markdown]
# ## SGD, momentum and weight decay
#
# Plain gradient descent moves against the gradient: $\theta \leftarrow \theta - \eta\, g$.
# Two additions, both as PyTorch defines them:
#
# * **Weight decay** $\lambda$ adds the gradient of $\tfrac{\lambda}{2}\lVert\theta\rVert^2$ to the
#   gradient: $g \leftarrow g + \lambda\theta$ (L2 regularisation; it pulls weights towards 0).
# * **Momentum** $\mu$ keeps a running *velocity* $b$ that remembers past gradients. On the first
#   step the buffer is the gradient itself; afterwards
#
# $$b_1 = g_1, \qquad b_t = \mu\, b_{t-1} + g_t, \qquad \theta \leftarrow \theta - \eta\, b_t .$$
#
# In a long narrow valley the gradient flips sign across the valley (those terms cancel in $b$)
# and keeps its sign along it (those add up), so momentum speeds up exactly where plain SGD crawls.
# With a constant gradient $b_t \to g/(1-\mu)$: $\mu = 0.9$ means steps up to 10 times larger.

# %% solution id="sgd"
#| export
class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and L2 weight decay (= torch.optim.SGD)."""

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        super().__init__(params, lr)
        self.momentum = momentum
        self.weight_decay = weight_decay

    def step(self):
        """Apply one SGD update to every parameter whose `.grad` is not None.

        TODO: for each parameter p (with its dict `state`), compute the gradient g with weight decay,
              run it through the momentum buffer if momentum != 0, then p.data -= lr * g.
        APPROACH: 1) g = p.grad.data, plus weight_decay * p.data if weight_decay != 0
                  2) if momentum != 0: on the first step state["momentum_buffer"] = a COPY of g,
                     afterwards buffer = momentum * buffer + g; then use the buffer as g
                  3) update p.data in place
        EXAMPLE: lr=0.1, momentum=0.9, constant grad 1.0, p starts at 0:
                 p -> -0.1, then -0.29 (buffer 1.9), then -0.561 (buffer 2.71)
        HINTS: never modify p.grad.data in place (write g = g + ..., not g += ...);
               `p.data -= ...` keeps the parameter's dtype and records no graph.
        """
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            ### BEGIN SOLUTION
            g = p.grad.data
            if self.weight_decay != 0:
                g = g + self.weight_decay * p.data
            if self.momentum != 0:
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = np.array(g, copy=True)
                else:
                    state["momentum_buffer"] = self.momentum * state["momentum_buffer"] + g
                g = state["momentum_buffer"]
            p.data -= self.lr * g
            ### END SOLUTION


# %% [markdown]
# The tests feed gradients by hand (`p.grad = Tensor(...)`), so they need nothing but a Tensor.

# %% test id="test-sgd" points=2
p = Tensor(np.array([1.0, -2.0]), requires_grad=True)
opt = SGD([p], lr=0.1)
p.grad = Tensor(np.array([0.5, 1.0]))
opt.step()
assert np.allclose(p.data, [0.95, -2.1]), f"plain SGD: expected [0.95, -2.1], got {p.data}"

p = Tensor(np.array([0.0]), requires_grad=True)
opt = SGD([p], lr=0.1, momentum=0.9)
got = []
for _ in range(3):
    p.grad = Tensor(np.array([1.0]))
    opt.step()
    got.append(float(p.data[0]))
assert np.allclose(got, [-0.1, -0.29, -0.561]), \
    f"momentum 0.9 with constant grad 1: expected p = -0.1, -0.29, -0.561 (buffer 1, 1.9, 2.71), got {got}"

p = Tensor(np.array([2.0]), requires_grad=True)
opt = SGD([p], lr=0.1, weight_decay=0.5)
p.grad = Tensor(np.array([0.0]))
opt.step()
assert np.allclose(p.data, [1.9]), f"weight decay 0.5 on p=2, grad 0: g = 0 + 0.5*2 = 1, expected 1.9, got {p.data}"

### BEGIN HIDDEN TESTS
def _ref_sgd(theta, grad_fn, steps, lr, momentum=0.0, wd=0.0):
    theta, buf, path = theta.copy(), None, []
    for _ in range(steps):
        g = grad_fn(theta) + wd * theta
        if momentum != 0:
            buf = g.copy() if buf is None else momentum * buf + g
            g = buf
        theta = theta - lr * g
        path.append(theta.copy())
    return path

_rng = np.random.default_rng(6)
_A = _rng.normal(size=(3, 3)); _A = _A @ _A.T + np.eye(3); _b = _rng.normal(size=3)
_grad = lambda th: _A @ th + _b
_theta0 = _rng.normal(size=3)
for kw in [dict(lr=0.05), dict(lr=0.05, momentum=0.9), dict(lr=0.03, momentum=0.5, weight_decay=0.1),
           dict(lr=0.1, weight_decay=0.2)]:
    p = Tensor(_theta0.copy(), requires_grad=True)
    opt = SGD([p], **kw)
    ref = _ref_sgd(_theta0, _grad, 6, kw["lr"], kw.get("momentum", 0.0), kw.get("weight_decay", 0.0))
    for t in range(6):
        p.grad = Tensor(_grad(p.data))
        opt.step()
        assert np.allclose(p.data, ref[t], rtol=1e-12, atol=1e-12), f"SGD{kw} step {t+1}: expected {ref[t]}, got {p.data}"

# momentum buffer starts at the first gradient (not (1-momentum)*g, not 0 then damped)
p = Tensor(np.array([1.0]), requires_grad=True)
opt = SGD([p], lr=1.0, momentum=0.9)
p.grad = Tensor(np.array([2.0])); opt.step()
assert np.allclose(p.data, [-1.0]), f"first momentum step must equal a plain SGD step, got {p.data}"
# the buffer must not alias (and then modify) the first gradient
first = p.grad
p.grad = Tensor(np.array([1.0])); opt.step()
assert np.allclose(p.data, [-1.0 - (0.9 * 2.0 + 1.0)]), f"second momentum step: got {p.data}"
assert first.data[0] == 2.0, "the momentum buffer must be a copy of the first gradient, not the same array"

# the gradient is never modified, params without .grad are skipped, lr is read at every step
p, q = Tensor(np.array([1.0, 1.0]), requires_grad=True), Tensor(np.array([5.0]), requires_grad=True)
opt = SGD([p, q], lr=0.1, momentum=0.9, weight_decay=0.1)
p.grad = Tensor(np.array([1.0, -1.0]))
opt.step()
assert np.array_equal(p.grad.data, [1.0, -1.0]), "SGD.step modified p.grad in place"
assert q.data[0] == 5.0 and q.grad is None, "a parameter whose grad is None must not move"
opt.lr = 0.0; before = p.data.copy(); opt.step()
assert np.array_equal(p.data, before), "after opt.lr = 0 a step must not move the parameter"

# float32 parameters stay float32 and keep their identity
p = Tensor(np.ones(4, dtype=np.float32), requires_grad=True)
opt = SGD([p], lr=0.1, momentum=0.9)
p.grad = Tensor(np.ones(4, dtype=np.float32)); opt.step(); opt.step()
assert p.data.dtype == np.float32 and isinstance(p.data, np.ndarray)
opt.zero_grad()
assert p.grad is None
### END HIDDEN TESTS

# %% [markdown]
# ## Adam
#
# SGD uses one step size for every parameter. Adam (Kingma & Ba, 2015) gives each coordinate its
# own: it tracks an exponential moving average of the gradient $m$ (direction, like momentum) and
# of its square $v$ (scale), and divides one by the square root of the other.
#
# $$m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2$$
#
# Both start at $0$, so early averages are biased towards 0 (after one step $m_1 = 0.1\,g_1$).
# Dividing by $1-\beta^t$ removes the bias exactly, with $t$ **counting steps from 1**:
#
# $$\hat m_t = \frac{m_t}{1-\beta_1^t}, \qquad \hat v_t = \frac{v_t}{1-\beta_2^t}, \qquad
#   \theta \leftarrow \theta - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.$$
#
# With a constant gradient $\hat m_t = g$ and $\hat v_t = g^2$, so every step has length
# $\eta$ (up to $\epsilon$), whatever the size of $g$: the learning rate is a step length.
# `torch.optim.Adam`'s `weight_decay` is plain L2, added to the gradient before the moments,
# exactly as in SGD. Each parameter counts its own steps in `state["step"]` (a parameter that had
# no gradient for a while has taken fewer steps).

# %% solution id="adam"
#| export
class Adam(Optimizer):
    """Adam with bias correction and L2 weight decay (= torch.optim.Adam)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        self.betas = tuple(betas)
        self.eps = eps
        self.weight_decay = weight_decay

    def apply_weight_decay(self, p, g):
        """Return the gradient that enters the moments, with L2 weight decay.

        TODO: return g + weight_decay * p.data (or g itself if weight_decay == 0).
        APPROACH: one line; do not modify g or p in place.
        EXAMPLE: weight_decay=0.5, p.data=[2.], g=[1.]  ->  [2.]
        HINTS: AdamW below overrides this method.
        """
        ### BEGIN SOLUTION
        return g + self.weight_decay * p.data if self.weight_decay != 0 else g
        ### END SOLUTION

    def step(self):
        """Apply one Adam update to every parameter whose `.grad` is not None.

        TODO: count the step, update the moments m and v in `state`, bias-correct them, move p.data.
        APPROACH: 1) state["step"] += 1  (so the first update uses t = 1)
                  2) m = b1*m + (1-b1)*g ;  v = b2*v + (1-b2)*g*g   (store them back in state)
                  3) m_hat = m / (1 - b1**t) ;  v_hat = v / (1 - b2**t)
                  4) p.data -= lr * m_hat / (sqrt(v_hat) + eps)
        EXAMPLE: lr=0.1, grad always 3.0: p moves by -0.1 on every step (m_hat = 3, v_hat = 9).
        HINTS: eps goes outside the square root; use np.sqrt on the arrays.
        """
        beta1, beta2 = self.betas
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            g = self.apply_weight_decay(p, p.grad.data)
            if not state:  # first update of this parameter
                state["step"] = 0
                state["exp_avg"] = np.zeros_like(p.data)     # m
                state["exp_avg_sq"] = np.zeros_like(p.data)  # v
            ### BEGIN SOLUTION
            state["step"] += 1
            t = state["step"]
            state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g
            state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
            m_hat = state["exp_avg"] / (1 - beta1 ** t)
            v_hat = state["exp_avg_sq"] / (1 - beta2 ** t)
            p.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
            ### END SOLUTION


# %% test id="test-adam" points=3
p = Tensor(np.array([0.0, 0.0]), requires_grad=True)
opt = Adam([p], lr=0.1)
got = []
for _ in range(3):
    p.grad = Tensor(np.array([3.0, -0.01]))
    opt.step()
    got.append(p.data.copy())
expected = [[-0.1, 0.1], [-0.2, 0.2], [-0.3, 0.3]]
assert np.allclose(got, expected, atol=1e-6), (
    f"with a constant gradient, bias-corrected Adam moves exactly lr per step: expected {expected}, "
    f"got {np.round(got, 6).tolist()} (first step too large: missing bias correction; "
    f"too small or nan: step count must start at 1)")
assert opt.state[0]["step"] == 3, f"state['step'] should count updates, got {opt.state[0]['step']}"

p = Tensor(np.array([2.0]), requires_grad=True)
opt = Adam([p], lr=0.1, weight_decay=0.5)
assert np.allclose(opt.apply_weight_decay(p, np.array([1.0])), [2.0]), "L2: g + 0.5 * 2 should be 2"

### BEGIN HIDDEN TESTS
def _ref_adam(theta, grad_fn, steps, lr, betas=(0.9, 0.999), eps=1e-8, wd=0.0):
    theta = theta.copy(); m = np.zeros_like(theta); v = np.zeros_like(theta); path = []
    for t in range(1, steps + 1):
        g = grad_fn(theta) + wd * theta
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        path.append(theta.copy())
    return path

_rng = np.random.default_rng(7)
_A = _rng.normal(size=(4, 4)); _A = _A @ _A.T + np.eye(4); _b = _rng.normal(size=4)
_grad = lambda th: _A @ th + _b
_theta0 = _rng.normal(size=4)
for kw in [dict(lr=0.05), dict(lr=0.01, betas=(0.8, 0.99), eps=1e-3), dict(lr=0.02, weight_decay=0.3)]:
    p = Tensor(_theta0.copy(), requires_grad=True)
    opt = Adam([p], **kw)
    ref = _ref_adam(_theta0, _grad, 7, kw["lr"], kw.get("betas", (0.9, 0.999)), kw.get("eps", 1e-8),
                    kw.get("weight_decay", 0.0))
    for t in range(7):
        p.grad = Tensor(_grad(p.data))
        opt.step()
        assert np.allclose(p.data, ref[t], rtol=1e-10, atol=1e-12), f"Adam{kw} step {t+1}: expected {ref[t]}, got {p.data}"

# eps sits outside the square root: a tiny gradient with a huge eps takes a tiny step
p = Tensor(np.array([0.0]), requires_grad=True)
opt = Adam([p], lr=1.0, eps=1.0)
p.grad = Tensor(np.array([1e-4])); opt.step()
assert np.allclose(p.data, [-1e-4 / (1e-4 + 1.0)], rtol=1e-9), f"eps placement: got {p.data}"

# each parameter counts its own steps; None grads are skipped; grads untouched
p, q = Tensor(np.array([0.0]), requires_grad=True), Tensor(np.array([0.0]), requires_grad=True)
opt = Adam([p, q], lr=0.1, weight_decay=0.1)
p.grad = Tensor(np.array([2.0]))
opt.step()
assert q.data[0] == 0.0 and np.array_equal(p.grad.data, [2.0]), "Adam must skip None grads and never modify p.grad"
q.grad = Tensor(np.array([5.0])); opt.step()
assert np.allclose(q.data, [-0.1]), f"q's first update must be bias-corrected with its own t=1, got {q.data}"
assert opt.state[0]["step"] == 2 and opt.state[1]["step"] == 1

p = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
opt = Adam([p], lr=0.1)
p.grad = Tensor(np.ones(3, dtype=np.float32)); opt.step()
assert p.data.dtype == np.float32
### END HIDDEN TESTS

# %% [markdown]
# ## AdamW: decoupled weight decay
#
# With Adam, L2 weight decay is divided by $\sqrt{\hat v}$ like any gradient, so weights with large
# gradients are barely regularised. Loshchilov & Hutter (2019) *decouple* it: shrink the weights
# directly, then take the Adam step on the unmodified gradient.
#
# $$\theta \leftarrow \theta\,(1 - \eta\lambda), \qquad \text{then the Adam update with } g_t
#   \text{ (no } \lambda\theta \text{ added).}$$
#
# That is `torch.optim.AdamW` (default $\lambda = 10^{-2}$), the optimizer of almost every
# transformer. Only the weight-decay hook changes.

# %% solution id="adamw"
#| export
class AdamW(Adam):
    """Adam with decoupled weight decay (= torch.optim.AdamW)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)

    def apply_weight_decay(self, p, g):
        """Decoupled weight decay: shrink p itself and leave the gradient alone.

        TODO: multiply p.data in place by (1 - lr * weight_decay), then return g unchanged.
        APPROACH: one in-place multiplication, one return.
        EXAMPLE: lr=0.1, weight_decay=0.5, p.data=[2.]  ->  p.data becomes [1.9]; returns g
        HINTS: this runs before the moments are updated, exactly as in torch.optim.AdamW.
        """
        ### BEGIN SOLUTION
        p.data *= 1 - self.lr * self.weight_decay
        return g
        ### END SOLUTION


# %% test id="test-adamw" points=2
p = Tensor(np.array([2.0, -4.0]), requires_grad=True)
opt = AdamW([p], lr=0.1, weight_decay=0.5)
assert opt.weight_decay == 0.5 and AdamW([p]).weight_decay == 1e-2, "AdamW's default weight_decay is 1e-2"
p.grad = Tensor(np.array([0.0, 0.0]))
opt.step()
assert np.allclose(p.data, [1.9, -3.8]), (
    f"AdamW with zero gradient only shrinks the weights by (1 - lr*wd) = 0.95: expected [1.9, -3.8], got {p.data}")

### BEGIN HIDDEN TESTS
def _ref_adamw(theta, grad_fn, steps, lr, betas=(0.9, 0.999), eps=1e-8, wd=1e-2):
    theta = theta.copy(); m = np.zeros_like(theta); v = np.zeros_like(theta); path = []
    for t in range(1, steps + 1):
        g = grad_fn(theta)
        theta = theta * (1 - lr * wd)
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        path.append(theta.copy())
    return path

_rng = np.random.default_rng(8)
_A = _rng.normal(size=(4, 4)); _A = _A @ _A.T + np.eye(4); _b = _rng.normal(size=4)
_grad = lambda th: _A @ th + _b
_theta0 = _rng.normal(size=4)

# Adam's L2 decay goes through the moments: a zero gradient still gives a full lr-sized step
p = Tensor(np.array([2.0, -4.0]), requires_grad=True)
opt = Adam([p], lr=0.1, weight_decay=0.5)
p.grad = Tensor(np.array([0.0, 0.0])); opt.step()
assert np.allclose(p.data, [1.9, -3.9], atol=1e-6), f"Adam(weight_decay) must be L2 (coupled), got {p.data}"

for kw in [dict(lr=0.05, weight_decay=0.3), dict(lr=0.02), dict(lr=0.01, betas=(0.5, 0.9), eps=1e-4, weight_decay=1.0)]:
    p = Tensor(_theta0.copy(), requires_grad=True)
    opt = AdamW([p], **kw)
    ref = _ref_adamw(_theta0, _grad, 7, kw["lr"], kw.get("betas", (0.9, 0.999)), kw.get("eps", 1e-8),
                     kw.get("weight_decay", 1e-2))
    for t in range(7):
        p.grad = Tensor(_grad(p.data))
        opt.step()
        assert np.allclose(p.data, ref[t], rtol=1e-10, atol=1e-12), f"AdamW{kw} step {t+1}: expected {ref[t]}, got {p.data}"

# decay uses the current lr (a scheduler may change it) and skips params without grad
p, q = Tensor(np.array([1.0]), requires_grad=True), Tensor(np.array([1.0]), requires_grad=True)
opt = AdamW([p, q], lr=0.5, weight_decay=0.2)
opt.lr = 0.25
p.grad = Tensor(np.array([0.0])); opt.step()
assert np.allclose(p.data, [0.95]) and q.data[0] == 1.0
### END HIDDEN TESTS

# %% [markdown]
# ## Three optimizers in a narrow valley
#
# $f(x, y) = \tfrac12(x^2 + 50y^2)$ is 50 times steeper across the valley than along it. SGD's
# learning rate is capped by the steep direction ($\eta < 2/50$), so it crawls along $x$.
# Momentum accumulates speed along the valley; Adam rescales each coordinate and heads almost
# straight for the minimum. The gradients come from your autograd.

# %%
import matplotlib.pyplot as plt

import tinytorch_lib.autograd  # noqa: F401  (registers the backward engine)


def valley(w):
    return 0.5 * (w[0] ** 2 + 50.0 * w[1] ** 2)


def optimize(make_opt, steps=60, start=(-4.0, 1.0)):
    w = Tensor(np.array(start), requires_grad=True)
    opt = make_opt([w])
    path = [w.data.copy()]
    for _ in range(steps):
        opt.zero_grad()
        valley(w).backward()
        opt.step()
        path.append(w.data.copy())
    return np.array(path)


runs = {
    "SGD lr=0.035": optimize(lambda ps: SGD(ps, lr=0.035)),
    "SGD momentum=0.9 lr=0.015": optimize(lambda ps: SGD(ps, lr=0.015, momentum=0.9)),
    "Adam lr=0.4": optimize(lambda ps: Adam(ps, lr=0.4)),
}
xs, ys = np.meshgrid(np.linspace(-4.5, 1.5, 200), np.linspace(-1.5, 1.5, 200))
fig, ax = plt.subplots(figsize=(8, 4))
ax.contour(xs, ys, 0.5 * (xs ** 2 + 50 * ys ** 2), levels=np.geomspace(0.05, 60, 12), cmap="Greys")
for name, path in runs.items():
    ax.plot(path[:, 0], path[:, 1], ".-", ms=3, lw=1, label=f"{name}: f={valley(path[-1]):.3f}")
ax.plot(0, 0, "k*", ms=12)
ax.set(xlabel="x", ylabel="y", title="60 steps on f = (x² + 50 y²) / 2")
ax.legend(loc="lower right", fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Systems note: optimizer state costs memory
#
# Parameters are not the only arrays that live for the whole run. SGD with momentum keeps one
# buffer per parameter; Adam keeps two ($m$ and $v$), so training with Adam holds **three** copies
# of the weights (four counting the gradients). For a 7-billion-parameter model in float32, that is
# 28 GB of weights plus 56 GB of Adam state. Measured on a small MLP:

# %%
from tinytorch_lib.layers import Linear, Sequential
from tinytorch_lib.activations import ReLU

model = Sequential(Linear(784, 256), ReLU(), Linear(256, 10))
param_bytes = sum(p.data.nbytes for p in model.parameters())
for name, make in [("SGD", lambda ps: SGD(ps, lr=0.1)), ("SGD momentum", lambda ps: SGD(ps, lr=0.1, momentum=0.9)),
                   ("Adam", lambda ps: Adam(ps)), ("AdamW", lambda ps: AdamW(ps))]:
    opt = make(model.parameters())
    for p in opt.params:
        p.grad = Tensor(np.zeros_like(p.data))
    opt.step()
    state_bytes = sum(v.nbytes for s in opt.state for v in s.values() if isinstance(v, np.ndarray))
    print(f"{name:13s} params {param_bytes / 1e6:5.2f} MB   state {state_bytes / 1e6:5.2f} MB   "
          f"= {state_bytes / param_bytes:.0f}x the parameters")
