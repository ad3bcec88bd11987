# %% [markdown]
# # 06 · Optimizers
#
# After `loss.backward()`, `p.grad` holds $\partial L / \partial p$. An **optimizer** keeps the
# parameters, reads their `.grad` and overwrites their `.data` in place (raw NumPy, no graph): you
# write **SGD**, **Adam** and **AdamW** with exactly the rules of `torch.optim`, and the loop.

# %%
#| default_exp optim
#| export
import numpy as np
from tinytorch_lib.tensor import Tensor

# %% helper
def expect_error(exc, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc:
        return
    raise AssertionError(f"{getattr(fn, '__name__', fn)}(*{args}, **{kwargs}): expected {exc.__name__}, got no error")

def quadratic(seed, n):
    """(A, c, theta0) of the convex quadratic with gradient A @ theta + c."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    return a @ a.T + np.eye(n), rng.normal(size=n), rng.normal(size=n)

# %% [markdown]
# ## The base class
# An optimizer holds its own list of parameters (`model.parameters()` is a one-pass generator), `lr` (a
# scheduler may change it) and one `state` dict per parameter. `backward` **accumulates** into `.grad`, so
# `zero_grad()` resets every `.grad` to `None`; `step()` skips a parameter whose `.grad` is `None`.

# %% solution id="optimizer-base"
#| export
class Optimizer:
    """Base class: a list of parameters, a learning rate, and per-parameter state."""
    def __init__(self, params, lr):
        """Store the parameters and the learning rate; create one empty state dict per parameter.

        params: an iterable of Tensors (a list, or the generator `model.parameters()`); lr: a float >= 0.
        Sets `self.params` (a list holding the same Tensor objects, in order), `self.lr`, and
        `self.state`: a list with one separate, empty dict per parameter.
        Raises TypeError if `params` is a single Tensor (`SGD(w, lr=0.1)` instead of `SGD([w], ...)`),
        ValueError if it holds no parameter or if lr < 0; each message says what was received.
        EXAMPLE: Optimizer(layer.parameters(), lr=0.1).params -> [layer.weight, layer.bias]
        HINT: a list made by repeating one dict (`*`) holds the same dict n times.
        """
        ### BEGIN SOLUTION
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors such as model.parameters(), "
                            "got a single Tensor: wrap it in a list")
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if lr < 0:
            raise ValueError(f"invalid learning rate: {lr}")
        self.lr = lr
        self.state = [{} for _ in self.params]
        ### END SOLUTION

    def zero_grad(self):
        """Forget the gradients of the last backward pass: every parameter's `.grad` becomes None."""
        ### BEGIN SOLUTION
        for p in self.params:
            p.grad = None
        ### END SOLUTION

    def step(self):
        """Update every parameter that has a gradient. Subclasses implement the rule."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

# %% test id="test-optimizer-base" points=1
w, b = Tensor(np.zeros(3), requires_grad=True), Tensor(np.zeros(1), requires_grad=True)
opt = Optimizer((t for t in [w, b]), lr=0.1)
assert isinstance(opt.params, list) and len(opt.params) == 2 and opt.params[0] is w and opt.params[1] is b, f"expected params == [w, b] (a list of the same objects), got {opt.params!r}"
assert opt.lr == 0.1 and opt.state == [{}, {}], f"expected lr 0.1 and state [{{}}, {{}}], got {opt.lr}, {opt.state}"
opt.state[0]["x"] = 1
assert opt.state[1] == {}, f"each parameter needs its own state dict: writing state[0] changed state[1] to {opt.state[1]}"
w.grad, b.grad = Tensor(np.ones(3)), Tensor(np.ones(1)); opt.zero_grad()
assert w.grad is None and b.grad is None, f"zero_grad sets .grad to None, got {w.grad!r} and {b.grad!r}"
expect_error(TypeError, Optimizer, w, lr=0.1); expect_error(ValueError, Optimizer, [], lr=0.1)
### BEGIN HIDDEN TESTS
expect_error(ValueError, Optimizer, [w], lr=-1.0)
assert Optimizer([w], lr=0.0).lr == 0.0, "lr = 0 is allowed, expected no error"
### END HIDDEN TESTS

# %% [markdown]
# ## SGD, momentum and weight decay
# Gradient descent moves against the gradient, $\theta \leftarrow \theta - \eta\, g$. `torch.optim.SGD` adds
# **weight decay** $\lambda$, the gradient of $\tfrac{\lambda}{2}\lVert\theta\rVert^2$: $g \leftarrow g + \lambda\theta$
# (L2, pulling weights towards 0), and **momentum** $\mu$: a *velocity* buffer $b$ per parameter that
# starts as the first gradient itself (not zero, not damped):
# $$b_1 = g_1, \qquad b_t = \mu\, b_{t-1} + g_t, \qquad \theta \leftarrow \theta - \eta\, b_t .$$
# Across a narrow valley the gradient flips sign (cancels in $b$), along it it adds up: with a constant
# gradient $b_t \to g/(1-\mu)$, 10 times longer steps for $\mu = 0.9$. **Nesterov** momentum
# (Sutskever et al., 2013) looks ahead: it moves along $g_t + \mu b_t$ ($\mu > 0$ required).

# %% solution id="sgd"
#| export
class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and L2 weight decay (= torch.optim.SGD)."""
    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
        """Store the parameters (base class) and the hyperparameters as attributes of the same names.

        Raises ValueError, naming the value, if momentum < 0 or weight_decay < 0, and if nesterov
        is asked for without momentum (as PyTorch does).
        """
        ### BEGIN SOLUTION
        super().__init__(params, lr)
        if momentum < 0:
            raise ValueError(f"invalid momentum value: {momentum}")
        if weight_decay < 0:
            raise ValueError(f"invalid weight_decay value: {weight_decay}")
        if nesterov and momentum <= 0:
            raise ValueError(f"nesterov momentum requires a momentum > 0, got {momentum}")
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.nesterov = nesterov
        ### END SOLUTION

    def step(self):
        """Apply one SGD update, in place, to every parameter whose `.grad` is not None.

        Per parameter p: g is p's gradient, plus weight_decay * p when weight_decay != 0. With
        momentum != 0, g goes through the buffer `self.state[i]["momentum_buffer"]` (b_1 = g_1, then
        b_t = momentum * b_{t-1} + g_t), the step direction (with nesterov: g_t + momentum * b_t);
        p.data moves by -lr * direction. Never modify `p.grad` (the buffer must not be its array:
        copy), keep p.data's dtype, read `self.lr`.
        EXAMPLE: lr=0.1, momentum=0.9, p = 0, gradient 1.0 at every step:
                 p -> -0.1, -0.29, -0.561 (buffer 1, 1.9, 2.71); nesterov: p -> -0.19, -0.461, -0.8049
        HINT: `a -= x` writes into a's own array; `a = a - x` makes a new one.
        """
        ### BEGIN SOLUTION
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            g = p.grad.data
            if self.weight_decay != 0:
                g = g + self.weight_decay * p.data
            if self.momentum != 0:
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = np.array(g, copy=True)
                else:
                    state["momentum_buffer"] = self.momentum * state["momentum_buffer"] + g
                if self.nesterov:
                    g = g + self.momentum * state["momentum_buffer"]
                else:
                    g = state["momentum_buffer"]
            p.data -= self.lr * g
        ### END SOLUTION

# %% test id="test-sgd" points=3
p = Tensor(np.array([1.0, -2.0]), requires_grad=True)
p.grad = Tensor(np.array([0.5, 1.0])); SGD([p], lr=0.1).step()
assert np.allclose(p.data, [0.95, -2.1]), f"plain SGD: expected [0.95, -2.1], got {p.data}"
for nesterov, expected in [(False, [-0.1, -0.29, -0.561]), (True, [-0.19, -0.461, -0.8049])]:
    p, got = Tensor(np.array([0.0]), requires_grad=True), []
    opt = SGD([p], lr=0.1, momentum=0.9, nesterov=nesterov)
    for _ in range(3):
        p.grad = Tensor(np.array([1.0])); opt.step(); got.append(float(p.data[0]))
    assert np.allclose(got, expected), f"momentum 0.9, nesterov {nesterov}, grad 1 (buffer 1, 1.9, 2.71): expected p = {expected}, got {got}"
p = Tensor(np.array([2.0]), requires_grad=True); opt = SGD([p], lr=0.1, weight_decay=0.5)
p.grad = Tensor(np.array([0.0])); opt.step()
assert np.allclose(p.data, [1.9]), f"weight decay 0.5, p=2, grad 0: g = 1, expected [1.9], got {p.data}"
assert (opt.momentum, opt.weight_decay) == (0.0, 0.5), f"expected (0.0, 0.5), got {opt.momentum}, {opt.weight_decay}"
### BEGIN HIDDEN TESTS
A, c, theta0 = quadratic(6, 3)
for lr, mom, wd, nes in [(0.05, 0.0, 0.0, False), (0.05, 0.9, 0.0, False), (0.03, 0.5, 0.1, False), (0.05, 0.0, 1.0, False), (0.02, 0.7, 0.2, True)]:
    p = Tensor(theta0.copy(), requires_grad=True); opt, th, buf = SGD([p], lr=lr, momentum=mom, weight_decay=wd, nesterov=nes), theta0.copy(), None
    for t in range(6):
        p.grad = Tensor(A @ p.data + c); opt.step()
        g = A @ th + c + wd * th
        buf = g if buf is None or mom == 0 else mom * buf + g
        th = th - lr * (g + mom * buf if nes else buf)
        assert np.allclose(p.data, th, rtol=1e-12, atol=1e-12), f"SGD lr={lr} m={mom} wd={wd} nesterov={nes} step {t+1}: expected {th}, got {p.data}"
p, q = Tensor(np.array([1.0, 1.0]), requires_grad=True), Tensor(np.array([5.0]), requires_grad=True)
opt = SGD([p, q], lr=1.0, momentum=0.9, weight_decay=0.1)
first = Tensor(np.array([2.0, -1.0])); p.grad = first; opt.step()
assert np.array_equal(first.data, [2.0, -1.0]), f"SGD.step modified p.grad: {first.data}"
assert q.data[0] == 5.0 and q.grad is None, f"a parameter whose grad is None must not move, got {q.data}"
p.grad = Tensor(np.array([2.0, -1.0])); opt.step()
assert np.array_equal(first.data, [2.0, -1.0]), f"the momentum buffer aliases the first gradient: {first.data}"
opt.lr = 0.0; before = p.data.copy(); opt.step()
assert np.array_equal(p.data, before), f"after opt.lr = 0 a step must not move p: expected {before}, got {p.data}"
p = Tensor(np.ones(4, dtype=np.float32), requires_grad=True); opt = SGD([p], lr=0.1, momentum=0.9)
p.grad = Tensor(np.ones(4, dtype=np.float32)); opt.step(); opt.step()
assert p.data.dtype == np.float32 and np.allclose(p.data, 1 - 0.1 - 0.19), f"float32 momentum: got {p.data}"
expect_error(ValueError, SGD, [p], lr=0.1, momentum=-0.1); expect_error(ValueError, SGD, [p], lr=0.1, weight_decay=-1.0)
expect_error(ValueError, SGD, [p], lr=0.1, nesterov=True); assert SGD([p], lr=0.1).nesterov is False, "nesterov defaults to False"
class InPlace:  # lives in the student's kernel: is p.data still the same array object?
    def __init__(self, p): self.p, self.array = p, p.data
    def same(self): return self.p.data is self.array
p = Tensor(np.zeros(2), requires_grad=True); opt, watch = SGD([p], lr=0.5, momentum=0.9, nesterov=True), InPlace(p)
first = Tensor(np.array([1.0, -1.0])); p.grad = first; opt.step(); opt.step()
assert np.array_equal(first.data, [1.0, -1.0]) and watch.same(), f"nesterov without decay: p.grad untouched ({first.data}), p.data updated in place ({watch.same()})"
### END HIDDEN TESTS

# %% [markdown]
# ## RMSprop: a step size per coordinate
# An EMA of the **squared** gradient, $v_t = \alpha v_{t-1} + (1-\alpha) g_t^2$ ($v_0 = 0$), measures each
# coordinate's typical gradient size; RMSprop (Hinton, 2012; `torch.optim.RMSprop`, no bias correction)
# divides by its root, $\theta \leftarrow \theta - \eta\, g_t / (\sqrt{v_t} + \epsilon)$: steep and flat coordinates take similar steps.

# %% solution id="rmsprop"
class RMSprop(Optimizer):
    """RMSprop (= torch.optim.RMSprop without momentum or centering)."""
    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8):
        """Store the parameters (base class) and `self.alpha`, `self.eps`."""
        ### BEGIN SOLUTION
        super(RMSprop, self).__init__(params, lr)
        self.alpha = alpha
        self.eps = eps
        ### END SOLUTION

    def step(self):
        """Apply one RMSprop update, in place, to every parameter whose `.grad` is not None.
        The state dict of a parameter holds "square_avg" (v, shaped like p, zeros before the first
        update). Never modify `p.grad`; keep p.data's dtype; read `self.lr` at every step.
        EXAMPLE: lr=0.1, alpha=0.99, p = 0, gradient 1.0 at every step:
                 v = 0.01, 0.0199; p -> -1.0, -1.7089 (steps 0.1/0.1 and 0.1/0.1411)
        HINT: eps is added after the square root.
        """
        ### BEGIN SOLUTION
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            g = p.grad.data
            if "square_avg" not in state:
                state["square_avg"] = np.zeros_like(p.data)
            v = self.alpha * state["square_avg"] + (1 - self.alpha) * g * g
            state["square_avg"] = v
            p.data -= self.lr * g / (np.sqrt(v) + self.eps)
        ### END SOLUTION

# %% test id="test-rmsprop" points=2
p = Tensor(np.array([0.0]), requires_grad=True); opt, got = RMSprop([p], lr=0.1), []
for _ in range(2):
    p.grad = Tensor(np.array([1.0])); opt.step(); got.append(float(p.data[0]))
assert np.allclose(got, [-1.0, -1.0 - 0.1 / np.sqrt(0.0199)]), f"expected p = -1.0, -1.7089, got {got}"
### BEGIN HIDDEN TESTS
A, c, theta0 = quadratic(9, 3)
p = Tensor(theta0.copy(), requires_grad=True); opt, th, v = RMSprop([p], lr=0.02, alpha=0.9, eps=1e-3), theta0.copy(), 0.0
for t in range(6):
    p.grad = Tensor(A @ p.data + c); opt.step()
    g = A @ th + c
    v = 0.9 * v + 0.1 * g * g
    th = th - 0.02 * g / (np.sqrt(v) + 1e-3)
    assert np.allclose(p.data, th, rtol=1e-10, atol=1e-12), f"RMSprop step {t + 1}: expected {th}, got {p.data}"
assert np.allclose(opt.state[0]["square_avg"], v), f"state['square_avg']: expected {v}, got {opt.state[0]['square_avg']}"
p, q = Tensor(np.ones(2, dtype=np.float32), requires_grad=True), Tensor(np.array([5.0]), requires_grad=True)
opt = RMSprop([p, q], lr=0.1)
first = Tensor(np.array([2.0, -1.0], dtype=np.float32)); p.grad = first; opt.step()
assert np.array_equal(first.data, [2.0, -1.0]) and q.data[0] == 5.0, f"grad untouched, None grad skipped: got {first.data}, {q.data}"
assert p.data.dtype == np.float32, f"expected float32 parameters to stay float32, got {p.data.dtype}"
watch = InPlace(p); opt.step()
assert watch.same(), "RMSprop must update p.data in place (the same array)"
### END HIDDEN TESTS

# %% [markdown]
# ## Adam
# Adam (Kingma & Ba, 2015) is momentum plus RMSprop, both bias-corrected: an EMA $m$ of the gradient
# (direction) divided by the root of an EMA $v$ of its square (scale):
# $$m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2,$$
# $$\hat m_t = \frac{m_t}{1-\beta_1^t}, \qquad \hat v_t = \frac{v_t}{1-\beta_2^t}, \qquad \theta \leftarrow \theta - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.$$
# An EMA started at 0 is biased towards 0: its weights sum to $1-\beta^t$, not 1; dividing by that ($t$
# **counting from 1**) removes the bias (a constant 2 with $\beta = 0.5$ gives $m = 1, 1.5, 1.75$, corrected
# $2, 2, 2$). With a constant gradient every step has length $\eta$ whatever $g$: $\eta$ is a step *length*.

# %% solution id="adam"
#| export
class Adam(Optimizer):
    """Adam with bias correction and L2 weight decay (= torch.optim.Adam). Each parameter counts its
    own steps."""
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        """Store the parameters (base class) and the hyperparameters; `self.betas` is a tuple.

        Raises ValueError, naming the value, unless 0 <= beta < 1 for both betas, eps >= 0 and
        weight_decay >= 0 (as PyTorch does).
        """
        ### BEGIN SOLUTION
        super().__init__(params, lr)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"invalid beta parameter at index {i}: {beta}")
        if eps < 0:
            raise ValueError(f"invalid epsilon value: {eps}")
        if weight_decay < 0:
            raise ValueError(f"invalid weight_decay value: {weight_decay}")
        self.betas = tuple(betas)
        self.eps = eps
        self.weight_decay = weight_decay
        ### END SOLUTION

    def step(self):
        """Apply one Adam update, in place, to every parameter whose `.grad` is not None.

        Per parameter: g is p's gradient, plus weight_decay * p.data (L2) when weight_decay != 0; the state dict
        holds "step" (updates so far, an int), "exp_avg" (m) and "exp_avg_sq" (v), created at its
        first update (zeros shaped like p); the first update uses t = 1. Then as the formulas above.
        Never modify `p.grad`; keep p.data's dtype; read `self.lr` at every step.
        EXAMPLE: lr=0.1, gradient 3.0 at every step: p moves by exactly -0.1 per step
                 (m_hat = 3, v_hat = 9); after 3 steps state["step"] == 3.
        HINT: eps is added after the square root.
        """
        ### BEGIN SOLUTION
        beta1, beta2 = self.betas
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            g = p.grad.data
            if self.weight_decay != 0:
                g = g + self.weight_decay * p.data
            if not state:
                state["step"] = 0
                state["exp_avg"] = np.zeros_like(p.data)
                state["exp_avg_sq"] = np.zeros_like(p.data)
            state["step"] += 1
            t = state["step"]
            m = beta1 * state["exp_avg"] + (1 - beta1) * g
            v = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
            state["exp_avg"], state["exp_avg_sq"] = m, v
            m_hat = m / (1 - beta1 ** t)
            v_hat = v / (1 - beta2 ** t)
            p.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        ### END SOLUTION

# %% test id="test-adam" points=3
p, got = Tensor(np.array([0.0, 0.0]), requires_grad=True), []
opt = Adam([p], lr=0.1)
for _ in range(3):
    p.grad = Tensor(np.array([3.0, -0.01])); opt.step(); got.append(p.data.tolist())
expected = [[-0.1, 0.1], [-0.2, 0.2], [-0.3, 0.3]]
assert np.allclose(got, expected, atol=1e-6), (f"constant gradient: bias-corrected Adam moves exactly lr per step: "
    f"expected {expected}, got {np.round(got, 6).tolist()} (first step too large: no bias correction; nan: t must start at 1)")
assert opt.state[0]["step"] == 3, f"state['step'] counts updates: expected 3, got {opt.state[0].get('step')}"
p = Tensor(np.array([2.0]), requires_grad=True); opt = Adam([p], lr=0.1, weight_decay=0.5)
p.grad = Tensor(np.array([-0.5])); opt.step()
assert np.allclose(p.data, [1.9]), f"L2: g = -0.5 + 0.5 * 2 = 0.5 > 0, so p moves down by lr: expected [1.9], got {p.data}"
### BEGIN HIDDEN TESTS
A, c, theta0 = quadratic(7, 4)
for lr, (b1, b2), eps, wd in [(0.05, (0.9, 0.999), 1e-8, 0.0), (0.01, (0.8, 0.99), 1e-3, 0.0),
                              (0.02, (0.9, 0.999), 1e-8, 0.3), (0.02, (0.9, 0.999), 1e-8, 1.0)]:
    p = Tensor(theta0.copy(), requires_grad=True); opt, th, m, v = Adam([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd), theta0.copy(), 0.0, 0.0
    for t in range(1, 8):
        p.grad = Tensor(A @ p.data + c); opt.step()
        g = A @ th + c + wd * th
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        th = th - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        assert np.allclose(p.data, th, rtol=1e-10, atol=1e-12), f"Adam lr={lr} betas={(b1, b2)} wd={wd} step {t}: expected {th}, got {p.data}"
assert np.allclose(opt.state[0]["exp_avg"], m) and np.allclose(opt.state[0]["exp_avg_sq"], v), f"state: expected exp_avg {m}, exp_avg_sq {v}, got {opt.state[0]}"
p = Tensor(np.array([0.0]), requires_grad=True); opt = Adam([p], lr=1.0, eps=1.0)
p.grad = Tensor(np.array([1e-4])); opt.step()
assert np.allclose(p.data, [-1e-4 / (1e-4 + 1.0)], rtol=1e-9), f"eps after the sqrt: expected {-1e-4 / (1e-4 + 1.0)}, got {p.data}"
p, q = Tensor(np.array([0.0]), requires_grad=True), Tensor(np.array([0.0]), requires_grad=True)
opt = Adam([p, q], lr=0.1, weight_decay=0.1); p.grad = Tensor(np.array([2.0])); opt.step()
assert q.data[0] == 0.0 and np.array_equal(p.grad.data, [2.0]), f"skip None grads, never modify p.grad: got {q.data}, {p.grad.data}"
q.grad = Tensor(np.array([5.0])); opt.step()
assert np.allclose(q.data, [-0.1]), f"q's first update uses its own t=1: expected [-0.1], got {q.data}"
assert opt.state[0]["step"] == 2 and opt.state[1]["step"] == 1, f"expected steps 2 and 1, got {opt.state}"
opt.lr = 0.0; before = p.data.copy(); opt.step()
assert np.array_equal(p.data, before), f"after opt.lr = 0 a step must not move p: expected {before}, got {p.data}"
p = Tensor(np.ones(3, dtype=np.float32), requires_grad=True); opt = Adam([p], lr=0.1)
p.grad = Tensor(np.ones(3, dtype=np.float32)); opt.step()
assert p.data.dtype == np.float32 and opt.state[0]["exp_avg"].shape == (3,), f"float32: got {p.data.dtype}, {opt.state[0]['exp_avg'].shape}"
opt = Adam([p], lr=0.1, betas=[0.0, 0.5], eps=0.0, weight_decay=0.0)
assert (opt.betas, opt.eps, opt.weight_decay) == ((0.0, 0.5), 0.0, 0.0), f"expected ((0.0, 0.5), 0.0, 0.0), got {opt.betas}, {opt.eps}, {opt.weight_decay}"
for kw in [dict(betas=(1.0, 0.9)), dict(betas=(0.9, 1.0)), dict(betas=(-0.1, 0.9)), dict(eps=-1e-8), dict(weight_decay=-0.1)]:
    expect_error(ValueError, Adam, [p], **kw)
### END HIDDEN TESTS

# %% [markdown]
# ## AdamW: decoupled weight decay
# In Adam, L2 decay is divided by $\sqrt{\hat v}$ like any gradient, so a steep coordinate is decayed less.
# Loshchilov & Hutter (2019) *decouple* it: shrink the weights, $\theta \leftarrow \theta\,(1 - \eta\lambda)$,
# then take the Adam step on $g_t$ itself (`torch.optim.AdamW`, default $\lambda = 10^{-2}$).

# %% solution id="adamw"
#| export
class AdamW(Adam):
    """Adam with decoupled weight decay (= torch.optim.AdamW)."""
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        ### BEGIN SOLUTION
        super().__init__(params, lr, betas, eps, weight_decay)
        ### END SOLUTION

    def step(self):
        """Apply one AdamW update, in place, to every parameter whose `.grad` is not None: first
        shrink p.data by the factor (1 - lr * weight_decay), then the Adam update (same state keys)
        on the gradient itself, with no L2 term. Never modify `p.grad`; keep p.data's dtype.
        EXAMPLE: lr=0.1, weight_decay=0.5, p = [2.], gradient [0.]  ->  p = [1.9] (m = 0: shrink only)
        """
        ### BEGIN SOLUTION
        beta1, beta2 = self.betas
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            p.data *= 1 - self.lr * self.weight_decay
            g = p.grad.data
            if not state:
                state["step"] = 0
                state["exp_avg"] = np.zeros_like(p.data)
                state["exp_avg_sq"] = np.zeros_like(p.data)
            state["step"] += 1
            t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
            m *= beta1                           # in place, like torch: no new arrays per step
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            denom = np.sqrt(v / (1 - beta2 ** t)) + self.eps
            p.data -= (self.lr / (1 - beta1 ** t)) * m / denom
        ### END SOLUTION

# %% test id="test-adamw" points=2
p = Tensor(np.array([2.0, -4.0]), requires_grad=True); opt = AdamW([p], lr=0.1, weight_decay=0.5)
p.grad = Tensor(np.array([0.0, 0.0])); opt.step()
assert np.allclose(p.data, [1.9, -3.8]), f"zero gradient: AdamW only shrinks by (1 - lr*wd) = 0.95: expected [1.9, -3.8], got {p.data}"
### BEGIN HIDDEN TESTS
A, c, theta0 = quadratic(8, 4)
for lr, wd in [(0.05, 0.3), (0.01, 1.0)]:
    p = Tensor(theta0.copy(), requires_grad=True); opt, th, m, v = AdamW([p], lr=lr, weight_decay=wd), theta0.copy(), 0.0, 0.0
    for t in range(1, 8):
        p.grad = Tensor(A @ p.data + c); opt.step()
        g, th = A @ th + c, th * (1 - lr * wd)
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        th = th - lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        assert np.allclose(p.data, th, rtol=1e-10, atol=1e-12), f"AdamW lr={lr} wd={wd} step {t}: expected {th}, got {p.data}"
p, q = Tensor(np.array([1.0]), requires_grad=True), Tensor(np.array([1.0]), requires_grad=True)
opt = AdamW([p, q], lr=0.5, weight_decay=0.2)
opt.lr = 0.25
p.grad = Tensor(np.array([0.0])); opt.step()
assert np.allclose(p.data, [0.95]) and q.data[0] == 1.0, f"decay uses the current lr, skips q: expected [0.95], [1.], got {p.data}, {q.data}"
assert AdamW([p]).weight_decay == 1e-2, f"AdamW's default weight_decay: expected 0.01, got {AdamW([p]).weight_decay}"
p = Tensor(np.array([0.0]), requires_grad=True); opt = AdamW([p], lr=1.0, eps=1.0, weight_decay=0.0)
p.grad = Tensor(np.array([1e-4])); opt.step(); opt.step()
assert opt.state[0]["step"] == 2 and np.allclose(opt.state[0]["exp_avg"], 0.19e-4), f"state: expected step 2, exp_avg 1.9e-5, got {opt.state[0]}"
assert np.allclose(p.data, [-2e-4 / (1e-4 + 1.0)], rtol=1e-9), f"eps after the sqrt: expected {-2e-4 / (1e-4 + 1.0)}, got {p.data}"
opt.weight_decay, watch = 0.1, InPlace(p); opt.step()
assert watch.same(), "AdamW must shrink and update p.data in place (the same array)"
### END HIDDEN TESTS

# %% [markdown]
# ## The optimization loop
# Every use of an optimizer repeats four lines (clear the gradients, loss, backward, step): write them once.

# %%
import time
import matplotlib.pyplot as plt
import tinytorch_lib.autograd  # noqa: F401  (registers the backward engine)
from tinytorch_lib.activations import ReLU
from tinytorch_lib.layers import Linear, Sequential

# %% solution id="minimize"
def minimize(f, start, make_optimizer, steps):
    """Minimise f from `start` with the optimizer that `make_optimizer` builds; return the path.
    f: a function from a Tensor w to a scalar Tensor; start: the initial point, a sequence of floats
    (w is a float64 Tensor with requires_grad=True); make_optimizer([w]) is called once.
    Returns a float64 array of shape (steps + 1, len(start)): w before the first step, then w
    after each of the `steps` updates.
    EXAMPLE: minimize(lambda w: (w * w).sum(), [1.0], lambda ps: SGD(ps, lr=0.25), 2)
             -> array([[1.], [0.5], [0.25]])   (gradient 2w, so w <- w - 0.5 w)
    HINT: `.data` is updated in place, so a row you record must be a copy.
    """
    ### BEGIN SOLUTION
    w = Tensor(np.array(start, dtype=np.float64), requires_grad=True)
    optimizer = make_optimizer([w])
    path = [w.data.copy()]
    for _ in range(steps):
        optimizer.zero_grad()
        f(w).backward()
        optimizer.step()
        path.append(w.data.copy())
    return np.array(path)
    ### END SOLUTION

# %% test id="test-minimize" points=2
got = minimize(lambda w: (w * w).sum(), [1.0, -2.0], lambda ps: SGD(ps, lr=0.25), 3)
expected = np.array([[1.0, -2.0], [0.5, -1.0], [0.25, -0.5], [0.125, -0.25]])
assert got.shape == (4, 2) and np.allclose(got, expected), f"SGD lr=0.25 on sum(w^2) halves w every step: expected {expected.tolist()}, got {np.asarray(got).tolist()}"
### BEGIN HIDDEN TESTS
got = minimize(lambda w: (w * w * w).sum(), [1.0], lambda ps: SGD(ps, lr=0.1), 2)
assert np.allclose(got, [[1.0], [0.7], [0.7 - 0.1 * 3 * 0.49]]), f"gradients must not accumulate across steps: {got}"
got0 = minimize(lambda w: w.sum(), [1.0, 2.0], lambda ps: SGD(ps, lr=1.0), 0)
assert got.dtype == np.float64 and got0.shape == (1, 2), f"expected float64 and shape (1, 2) for 0 steps, got {got.dtype}, {got0.shape}"
### END HIDDEN TESTS

# %% [markdown]
# ## How large may a step be?
# On $f(w) = \tfrac{a}{2} w^2$ an SGD step multiplies $w$ by $1 - \eta a$: it shrinks only while
# $\eta < 2/a$. A learning rate is limited by the **steepest** direction. Find that limit by trying.

# %% solution id="stable-lr"
def largest_stable_lr(f, start, make_optimizer, lrs, steps=50):
    """The largest learning rate in `lrs` whose run ends with f lower than at the start.
    f, start, steps: as for `minimize`. make_optimizer(params, lr) builds an Optimizer.
    lrs: a sequence of floats, in any order. A run is stable when f at the last point of its
    path is finite and smaller than f(start). Returns that lr as a float, or None if no run is.
    EXAMPLE: f(w) = 5 w^2 (a = 10, so SGD diverges above lr 0.2):
             largest_stable_lr(f, [1.0], lambda ps, lr: SGD(ps, lr=lr), [0.1, 0.19, 0.21]) -> 0.19
    HINT: `minimize` gives the path; wrap its last row in a Tensor to evaluate f; `np.isfinite`.
    """
    ### BEGIN SOLUTION
    f0 = float(f(Tensor(np.array(start, dtype=np.float64))).data)
    stable = []
    for lr in lrs:
        path = minimize(f, start, lambda ps: make_optimizer(ps, lr), steps)
        end = float(f(Tensor(path[-1])).data)
        if np.isfinite(end) and end < f0:
            stable.append(lr)
    return max(stable) if stable else None
    ### END SOLUTION

# %% test id="test-stable-lr" points=2
quad = lambda w: (5.0 * w * w).sum()
got = largest_stable_lr(quad, [1.0], lambda ps, lr: SGD(ps, lr=lr), [0.1, 0.19, 0.21])
assert got == 0.19, f"f = 5 w^2 has curvature 10, stable below lr 0.2: expected 0.19, got {got}"
### BEGIN HIDDEN TESTS
got = largest_stable_lr(quad, [1.0, -1.0], lambda ps, lr: SGD(ps, lr=lr), [0.3, 0.15, 0.05, 0.25], steps=5)
assert got == 0.15, f"lrs in any order: expected 0.15, got {got}"
got = largest_stable_lr(quad, [1.0], lambda ps, lr: SGD(ps, lr=lr), [0.2, 0.3])
assert got is None, f"lr 0.2 only oscillates (f unchanged) and 0.3 diverges: expected None, got {got}"
got = largest_stable_lr(quad, [2.0], lambda ps, lr: SGD(ps, lr=lr), [0.1], steps=1)
assert got == 0.1, f"one step of lr 0.1 lands at w = 0: expected 0.1, got {got}"
got = largest_stable_lr(lambda w: 5.0 * w[0] ** 2 + 0.5 * w[1] ** 2, [0.1, 3.0], lambda ps, lr: SGD(ps, lr=lr), [0.1, 0.21])
assert got == 0.1, f"lr 0.21 lowers f at first (y shrinks) but x grows 1.1x per step: judge by the LAST point: expected 0.1, got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## A narrow valley
# $f = \tfrac12(x^2 + 50y^2)$ is 50 times steeper across the valley than along it: SGD's $\eta$ is capped near
# $2/50$, so it crawls along $x$; momentum builds up speed, Adam rescales each coordinate. Race them.

# %% solution id="steps-to-reach"
def steps_to_reach(f, start, make_optimizer, tol, max_steps=1000):
    """How many optimizer steps from `start` until f(w) < tol: an int, or None if not within max_steps.
    f, start, make_optimizer: as for `minimize`. Counts the steps taken before f first drops below
    tol: 0 when f(start) < tol already; checks after every step, up to and including step max_steps.
    EXAMPLE: f = sum(w^2), start [1.0], SGD lr 0.25 (w halves, f quarters per step), tol 0.01
             -> 4   (f = 1, 0.25, 0.0625, 0.0156, 0.0039)
    HINT: stop as soon as you know: a `return` inside the loop.
    """
    ### BEGIN SOLUTION
    w = Tensor(np.array(start, dtype=np.float64), requires_grad=True)
    optimizer = make_optimizer([w])
    for t in range(max_steps + 1):
        value = f(w)
        if float(value.data) < tol:
            return t
        if t < max_steps:
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
    return None
    ### END SOLUTION

# %% test id="test-steps-to-reach" points=1
got = steps_to_reach(lambda w: (w * w).sum(), [1.0], lambda ps: SGD(ps, lr=0.25), 0.01)
assert got == 4, f"f quarters every step from 1: expected 4 steps to go below 0.01, got {got}"
### BEGIN HIDDEN TESTS
sq = lambda w: (w * w).sum()
got = [steps_to_reach(sq, [0.05], lambda ps: SGD(ps, lr=0.25), 0.01), steps_to_reach(sq, [1.0], lambda ps: SGD(ps, lr=0.25), 0.01, max_steps=3),
       steps_to_reach(sq, [1.0], lambda ps: SGD(ps, lr=0.25), 0.01, max_steps=4), steps_to_reach(sq, [1.0], lambda ps: SGD(ps, lr=0.25), 0.25)]
assert got == [0, None, 4, 2], f"start below tol, max_steps 3 and 4, tol 0.25 (f must drop below, not reach): expected [0, None, 4, 2], got {got}"
got = steps_to_reach(lambda w: (w * w * w * w).sum(), [1.0, -1.0], lambda ps: SGD(ps, lr=0.1), 0.1)
assert got == 3, f"f = sum(w^4) from [1, -1], lr 0.1, tol 0.1 (gradients must not accumulate): expected 3, got {got}"
### END HIDDEN TESTS

# %%
valley = lambda w: 0.5 * (w[0] ** 2 + 50.0 * w[1] ** 2)
print("largest stable SGD lr:", largest_stable_lr(valley, [-4.0, 1.0], lambda ps, lr: SGD(ps, lr=lr), np.arange(0.030, 0.0451, 0.0025)))
makers = {"SGD lr=0.035": lambda ps: SGD(ps, lr=0.035), "SGD momentum=0.9 lr=0.015": lambda ps: SGD(ps, lr=0.015, momentum=0.9),
          "SGD nesterov=0.9 lr=0.015": lambda ps: SGD(ps, lr=0.015, momentum=0.9, nesterov=True), "Adam lr=0.4": lambda ps: Adam(ps, lr=0.4)}
for name, make in makers.items():
    print(f"{name:26s} steps until f < 1e-3: {steps_to_reach(valley, [-4.0, 1.0], make, 1e-3)}")
runs = {name: minimize(valley, [-4.0, 1.0], make, 60) for name, make in makers.items()}
fig, ax2 = plt.subplots(figsize=(6, 3.6), dpi=72)
xs, ys = np.meshgrid(np.linspace(-4.5, 1.5, 200), np.linspace(-1.5, 1.5, 200))
ax2.contour(xs, ys, 0.5 * (xs ** 2 + 50 * ys ** 2), levels=np.geomspace(0.05, 60, 12), cmap="Greys")
for name, path in runs.items():
    ax2.plot(path[:, 0], path[:, 1], ".-", ms=3, lw=1, label=f"{name}: f={0.5 * (path[-1, 0] ** 2 + 50 * path[-1, 1] ** 2):.3f}")
ax2.plot(0, 0, "k*", ms=12); ax2.legend(loc="lower right", fontsize=8)
ax2.set(xlabel="x", ylabel="y", title="60 steps on f = (x² + 50 y²) / 2"); plt.show()

# %% [markdown]
# ## Systems note: optimizer state costs memory and time
# SGD with momentum keeps one buffer per parameter, Adam two ($m$, $v$): a 7-billion-parameter
# model in float32 needs 28 GB of weights plus 56 GB of Adam state, all read and written each step.

# %% solution id="optimizer-cost"
def optimizer_cost(optimizer, steps=20):
    """Measure an optimizer: (bytes of state per byte of parameters, milliseconds per step()).
    Gives every parameter a zero gradient (shape and dtype of the parameter), times `steps` calls of
    step() with time.perf_counter, then divides the `.nbytes` of every ndarray in the state dicts
    (not Adam's step counter) by the parameters' total `.nbytes`. Returns (ratio, ms), two floats.
    EXAMPLE: optimizer_cost(SGD(model.parameters(), lr=0.1, momentum=0.9)) -> (1.0, 0.2...)
    """
    ### BEGIN SOLUTION
    for p in optimizer.params:
        p.grad = Tensor(np.zeros_like(p.data))
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.step()
    ms = (time.perf_counter() - start) / steps * 1000
    state_bytes = sum(v.nbytes for s in optimizer.state for v in s.values() if isinstance(v, np.ndarray))
    param_bytes = sum(p.data.nbytes for p in optimizer.params)
    return state_bytes / param_bytes, ms
    ### END SOLUTION

# %% test id="test-optimizer-cost" points=1
lin = Linear(30, 20)
ratios = [optimizer_cost(make(lin.parameters()), steps=3)[0] for make in
          [lambda ps: SGD(ps, lr=0.1), lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps)]]
assert np.allclose(ratios, [0.0, 1.0, 2.0]), f"state / parameter bytes for SGD, SGD momentum, Adam: expected [0, 1, 2], got {ratios}"
### BEGIN HIDDEN TESTS
class SleepyOptimizer(Optimizer):
    step = lambda self: time.sleep(0.01)
ratio, ms = optimizer_cost(SleepyOptimizer(Linear(3, 2).parameters(), lr=0.1), steps=3)
assert 9.5 < ms < 40 and ratio == 0.0, f"a step that sleeps 10 ms: expected about 10 ms per step and ratio 0, got {ms}, {ratio}"
opt = Adam(Linear(3, 2).parameters(), lr=0.1)
ratio, ms = optimizer_cost(opt, steps=4)
assert opt.state[0]["step"] == 4 and isinstance(ratio, float), f"expected 4 steps and a float ratio, got {opt.state[0]['step']}, {ratio!r}"
### END HIDDEN TESTS

# %%
model = Sequential(Linear(784, 256), ReLU(), Linear(256, 10))
megabytes = sum(p.data.nbytes for p in model.parameters()) / 1e6
for name, make in [("SGD", lambda ps: SGD(ps, lr=0.1)), ("SGD momentum", lambda ps: SGD(ps, lr=0.1, momentum=0.9)),
                   ("Adam", lambda ps: Adam(ps)), ("AdamW", lambda ps: AdamW(ps))]:
    ratio, ms = optimizer_cost(make(model.parameters()))
    print(f"{name:13s} params {megabytes:5.2f} MB   state {ratio * megabytes:5.2f} MB ({ratio:.0f}x)   {ms:6.2f} ms per step")
