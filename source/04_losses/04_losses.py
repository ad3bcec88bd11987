# %% [markdown]
# # 04 · Losses
#
# Training needs one number that says how wrong the network is: the **loss**, small for good
# predictions and differentiable (module 05). The four losses of the course, with PyTorch's formulas:
#
# | loss | prediction | target | per-element loss |
# |---|---|---|---|
# | `MSELoss` | any real $\hat y$ | real $y$ | $(\hat y - y)^2$ |
# | `CrossEntropyLoss` | logits $z \in \mathbb R^{N\times C}$ | class index $c_n$ | $-\log\mathrm{softmax}(z_n)_{c_n}$ |
# | `BCELoss` | probability $p \in [0, 1]$ | $y \in [0, 1]$ | $-\bigl(y\log p + (1-y)\log(1-p)\bigr)$ |
# | `BCEWithLogitsLoss` | logit $x$ | $y \in [0, 1]$ | $-\bigl(y\log\sigma(x) + (1-y)\log(1-\sigma(x))\bigr)$ |
#
# A loss is a `Module` (module 03), called as `loss_fn(prediction, target)`.

# %%
#| default_exp losses
#| export
import warnings

import numpy as np

from tinytorch_lib.activations import log_softmax
from tinytorch_lib.layers import Module
from tinytorch_lib.tensor import Tensor, _make, as_tensor

# %% [markdown]
# Two pieces of plumbing: a target is data (an ndarray in the prediction's dtype and shape), and a
# loss **reduces** its per-element values: `"mean"` (the default), `"sum"` or `"none"` (keep all).

# %% solution id="plumbing"
#| export
def _target_array(target, like):
    """target (Tensor, ndarray or list) as an ndarray of the Tensor `like`'s dtype; ValueError naming
    both shapes when they differ. EXAMPLE: _target_array([1, 0], Tensor([0.5, 0.5])) -> array([1., 0.],
    dtype=float32).  HINT: `np.asarray` takes a dtype."""
    ### BEGIN SOLUTION
    t = np.asarray(target.data if isinstance(target, Tensor) else target, dtype=like.data.dtype)
    if t.shape != like.shape:
        raise ValueError(f"target shape {t.shape} must equal the input shape {like.shape}")
    return t
    ### END SOLUTION


def _reduce(loss, reduction="mean"):
    """"mean" -> 0-d mean, "sum" -> 0-d sum, "none" -> loss itself, with Tensor operations; ValueError
    naming any other value. EXAMPLE: _reduce(Tensor([1., 3.]), "sum") -> Tensor(4.)"""
    ### BEGIN SOLUTION
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    ### END SOLUTION

# %% helper
def arr(t):
    """The values of a Tensor as a plain ndarray (for judging)."""
    return np.asarray(t.data)

def raised(call):
    """The exception call() raises (None if it returns)."""
    try:
        call()
    except Exception as e:
        return e

# %% test id="test-plumbing" points=1
got = np.asarray(_target_array(Tensor(np.array([1.0, 0.0])), Tensor([0.5, 0.5])))
assert got.dtype == np.float32 and got.tolist() == [1.0, 0.0], f"expected float32 [1, 0], got {got.dtype} {got}"
got = [float(_reduce(Tensor([1.0, 3.0]), r).item()) for r in ("mean", "sum")]
assert got == [2.0, 4.0], f"mean and sum of [1, 3]: expected [2.0, 4.0], got {got}"
### BEGIN HIDDEN TESTS
got = [arr(_reduce(Tensor(np.array([[1.0, 3.0]])), "none")).tolist(), tuple(_reduce(Tensor(np.ones((2, 2))), "sum").shape),
       np.asarray(_target_array([[1, 0]], Tensor(np.zeros((1, 2))))).dtype]
assert got == [[[1.0, 3.0]], (), np.float64], f"'none' keeps all, 'sum' is 0-d, float64 list target: expected [[[1, 3]], (), float64], got {got}"
for bad, call in [("(3,)", lambda: _target_array(np.ones(3), Tensor([0.5, 0.5]))), ("'max'", lambda: _reduce(Tensor([1.0]), "max"))]:
    e = raised(call)
    assert isinstance(e, ValueError) and bad in str(e), f"expected a ValueError mentioning {bad}, got {e!r}"
### END HIDDEN TESTS

# %% [markdown]
# ## Mean squared error
# $\mathrm{MSE}(\hat y, y) = \frac1n \sum_{i=1}^{n} (\hat y_i - y_i)^2$ over *all* elements, from Tensor operations. Like
# PyTorch, a target of another shape is broadcast with a warning: (N, 1) against (N,) becomes (N, N).

# %% solution id="mse"
#| export
class MSELoss(Module):
    """Mean squared difference (0-d Tensor) of a Tensor and a Tensor or array-like target; dtype by
    NumPy promotion; shapes differ -> `warnings.warn` naming both, then broadcast.
    EXAMPLE: MSELoss()(Tensor([1., 2., 3.]), Tensor([1., 0., 0.])) -> Tensor(4.3333)  (= 13/3)
    HINT: `as_tensor` makes the target a Tensor; squaring by a product keeps float32 float32."""
    def forward(self, input, target):
        ### BEGIN SOLUTION
        target = as_tensor(target)
        if target.shape != input.shape:
            warnings.warn(f"MSELoss: target shape {target.shape} differs from input shape {input.shape}; "
                          "they will be broadcast, which is probably not what you want", stacklevel=2)
        diff = input - target
        return _reduce(diff * diff)
        ### END SOLUTION

# %% test id="test-mse" points=1
loss = MSELoss()(Tensor([1.0, 2.0, 3.0]), Tensor([1.0, 0.0, 0.0]))
assert tuple(loss.shape) == (), f"expected a 0-d Tensor, got shape {tuple(loss.shape)}"
assert np.isclose(float(loss.item()), 13 / 3), f"expected (0 + 4 + 9) / 3 = 4.3333, got {loss.item()}"
### BEGIN HIDDEN TESTS
loss = MSELoss()(Tensor(np.array([[1.0, -1.0], [0.5, 2.0]]), requires_grad=True), np.array([[0.0, 1.0], [0.5, 0.0]]))
assert bool(loss.requires_grad) and loss._op is not None, f"build the loss from Tensor operations: expected an op, got {loss._op}"
got = [float(loss.item()), float(MSELoss()(Tensor([0.0, 0.0]), Tensor([3.0, -3.0])).item()),
       float(MSELoss()(Tensor([2.0, 5.0]), [1.0, 5.0]).item()), arr(MSELoss()(Tensor([2.0]), Tensor([1.0]))).dtype]
assert np.allclose(got[:3], [2.25, 9.0, 0.5]) and got[3] == np.float32, f"all 4 elements, square not abs, list target, float32: expected [2.25, 9, 0.5, float32], got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## Cross-entropy from logits
# The loss is the negative log-probability of the correct class $c_n$, averaged over the batch:
# $\ \mathcal L = -\frac1N\sum_{n} \log\mathrm{softmax}(z_n)_{c_n} = \frac1N\sum_{n} \bigl(\log\sum_j e^{z_{nj}} - z_{n c_n}\bigr)$.
# `log_softmax` (module 02) is stable for any logit. Picking one entry per row is **integer-array
# indexing**: two index arrays of length $N$ give $N$ entries; a slice and one array give an $N\times N$
# matrix, a classic bug. A wrong target must fail loudly, not index the wrong class.

# %% solution id="cross-entropy"
#| export
class CrossEntropyLoss(Module):
    """Mean over the batch of -log softmax(input)[n, target[n]], a 0-d Tensor in the logits' dtype.

    input: logits (N, C), or (C,) with a 0-d target; target: class indices (ndarray, Tensor or list,
    whole-number floats allowed). ValueError naming both shapes unless (N, C) with (N,); ValueError
    for a non-whole target; IndexError "<t> is out of bounds for <C> classes" for a target < 0 or
    >= C (the largest offender if one is >= C, else the smallest). Stable up to |z| = 1e4.
    EXAMPLE: CrossEntropyLoss()(Tensor([[0., 0., 0.]]), np.array([1])) -> Tensor(1.0986)  (= log 3)
    HINT: reshape a single example to a batch of one; np.round tells whole numbers apart."""
    def forward(self, input, target):
        ### BEGIN SOLUTION
        if input.ndim == 1:
            input = input.reshape(1, -1)
        t = target.data if isinstance(target, Tensor) else np.asarray(target)
        if t.ndim == 0:
            t = t.reshape(-1)
        if input.ndim != 2 or t.shape != (input.shape[0],):
            raise ValueError(f"CrossEntropyLoss expects logits (N, C) and targets (N,), "
                             f"got {input.shape} and {t.shape}")
        if not np.issubdtype(t.dtype, np.integer):
            if not np.array_equal(t, np.round(t)):
                raise ValueError(f"targets must be class indices, got {t}")
            t = t.astype(np.int64)
        if t.size and t.max() >= input.shape[1]:
            raise IndexError(f"target {t.max()} is out of bounds for {input.shape[1]} classes")
        if t.size and t.min() < 0:
            raise IndexError(f"target {t.min()} is out of bounds for {input.shape[1]} classes")
        logp = log_softmax(input, dim=-1)
        return _reduce(-logp[np.arange(len(t)), t])
        ### END SOLUTION

# %% test id="test-cross-entropy" points=3
lse = np.log(np.exp(1) + np.exp(2) + np.exp(3))
got = [float(CrossEntropyLoss()(Tensor([[0.0, 0.0, 0.0]]), np.array([1])).item()),
       float(CrossEntropyLoss()(Tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]), np.array([2, 0])).item())]
exp = [np.log(3), ((lse - 3) + (lse - 1)) / 2]
assert np.allclose(got, exp), f"uniform logits -> log 3; mean(lse - z[target]): expected {exp}, got {got}"
### BEGIN HIDDEN TESTS
huge = float(CrossEntropyLoss()(Tensor([[1e4, 0.0], [0.0, 1e4], [-1e4, 1e4]]), np.array([0, 0, 1])).item())
assert np.isclose(huge, 1e4 / 3), f"losses 0, 1e4 and 0 average to 3333.33; got {huge}"
v, t = np.array([[0.5, -1.0, 2.0, 0.0], [3.0, 0.0, 0.0, -2.0], [0.0, 1.0, 0.0, 1.0]]), np.array([3, 0, 1])
ref = np.mean([np.log(np.exp(v[i]).sum()) - v[i, t[i]] for i in range(3)])
z = Tensor(v, requires_grad=True)
loss = CrossEntropyLoss()(z, t)
got = (tuple(loss.shape), bool(loss.requires_grad), arr(loss).dtype)
assert got == ((), True, np.float64), f"a recorded 0-d float64 Tensor: expected ((), True, float64), got {got}"
for kind, tt in [("ndarray", t), ("int Tensor", Tensor(t)), ("list", [3, 0, 1]), ("whole floats", np.array([3.0, 0.0, 1.0]))]:
    got = float(CrossEntropyLoss()(z, tt).item())
    assert np.isclose(got, ref, rtol=1e-12), f"{kind} targets (one entry per row): expected {ref}, got {got}"
got = [float(CrossEntropyLoss()(Tensor(v[1]), 0).item()), arr(CrossEntropyLoss()(Tensor([[1.0, 2.0]]), np.array([1]))).dtype]
exp = [np.log(np.exp(v[1]).sum()) - 3.0, np.float32]
assert np.isclose(got[0], exp[0]) and got[1] == exp[1], f"one (C,) example with a 0-d target; float32 stays: expected {exp}, got {got}"
for bad, err, word in [([0, 1, 2], ValueError, "(2, 3)"), ([0.5, 1.0], ValueError, ""), ([0, 3], IndexError, "3 is out of bounds for 3"),
                       ([4, -1], IndexError, "4 is out of bounds for 3 classes"), ([-1, 0], IndexError, "-1 is out of bounds for 3")]:
    e = raised(lambda: CrossEntropyLoss()(Tensor(np.zeros((2, 3))), np.array(bad)))
    assert isinstance(e, err) and word in str(e), f"targets {bad}: expected {err.__name__} mentioning {word!r}, got {e!r}"
### END HIDDEN TESTS

# %% [markdown]
# ## Binary cross-entropy, on probabilities and on logits
# A probability of exactly 0 or 1 makes a log infinite; PyTorch clamps each log at $-100$ (worst loss
# 100). Take the logs inside `np.errstate(divide="ignore")` (silent $\log 0 = -\infty$) and $\log(1-p)$
# with `np.log1p`, exact for tiny $p$. For a logit $x$, $\sigma(x)$ rounds to 1.0 at $x = 40$ and
# ruins the loss; since $\log\sigma(x) = -\log(1+e^{-x})$ and $\log(1-\sigma(x)) = -x - \log(1+e^{-x})$,
# $$\ell(x, y) = (1-y)\,x + \log(1+e^{-x}) = \max(x, 0) - x\,y + \log\bigl(1 + e^{-|x|}\bigr),$$
# the second form never exponentiating a positive number. Both compute in NumPy and record an
# **elementwise** op for module 05 (ctx: the float target `t`), reduced by `_reduce` on top.

# %% solution id="bce"
#| export
class BCELoss(Module):
    """Mean BCE of probabilities `input` (Tensor) against same-shape targets in [0, 1] (soft allowed).

    ValueError ("... between 0 and 1 ...") for an input outside [0, 1]; each log clamped at -100.
    Records the per-element losses as op "bce" (parent input, ctx target=t), returns their Tensor mean
    in the input's dtype. EXAMPLE: BCELoss()(Tensor([0.5, 0.8]), Tensor([1., 0.])) -> Tensor(1.1513)
    HINT: `_target_array` checks the shape; np.maximum applies a clamp elementwise."""
    def forward(self, input, target):
        ### BEGIN SOLUTION
        t = _target_array(target, input)
        p = input.data
        if np.any((p < 0) | (p > 1)):
            raise ValueError("BCELoss: all elements of input should be between 0 and 1 "
                             "(use BCEWithLogitsLoss for logits)")
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100)
            log_1mp = np.maximum(np.log1p(-p), -100)
        loss = -(t * log_p + (1 - t) * log_1mp)
        return _reduce(_make(loss, (input,), "bce", target=t))
        ### END SOLUTION


class BCEWithLogitsLoss(Module):
    """BCELoss of sigmoid(input) from logits: no overflow, no clamp (logit 1e4, target 0 costs 1e4).
    Op "bce_with_logits" (ctx target=t), Tensor mean, input's dtype.
    EXAMPLE: BCEWithLogitsLoss()(Tensor([0.]), Tensor([1.])) -> Tensor(0.6931)  (= log 2)
    HINT: the last formula above; np.log1p is accurate where its argument is tiny."""
    def forward(self, input, target):
        ### BEGIN SOLUTION
        t = _target_array(target, input)
        x = input.data
        loss = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
        return _reduce(_make(loss, (input,), "bce_with_logits", target=t))
        ### END SOLUTION

# %% test id="test-bce" points=3
got = [float(BCELoss()(Tensor([0.5, 0.8]), Tensor([1.0, 0.0])).item()), float(BCEWithLogitsLoss()(Tensor([0.0, 2.0]), Tensor([1.0, 0.0])).item())]
exp = [(np.log(2) + np.log(5)) / 2, (np.log(2) + 2 + np.log1p(np.exp(-2))) / 2]
assert np.allclose(got, exp), f"BCE -(log 0.5 + log 0.2) / 2 and BCEWithLogits: expected {exp}, got {got}"
### BEGIN HIDDEN TESTS
for what, p_in, y_in, exp in [("a certain wrong answer (log clamped at -100)", [0.0, 1.0], [1.0, 0.0], 100.0),
                              ("a certain right answer", [0.0, 1.0], [0.0, 1.0], 0.0),
                              ("0.5 * 100 + 0.5 * log(1)", np.array([0.0]), np.array([0.5]), 50.0),
                              ("log(1e-50) = -115 clamped to -100", np.array([1e-50]), np.array([1.0]), 100.0)]:
    got = float(BCELoss()(Tensor(p_in), Tensor(y_in)).item())
    assert np.isclose(got, exp, atol=0), f"{what}: expected {exp}, got {got}"
got = [float(BCEWithLogitsLoss()(Tensor([1e4, -1e4, 40.0]), Tensor([0.0, 1.0, 0.0])).item()),
       float(BCEWithLogitsLoss()(Tensor(np.array([1e4, -1e4])), np.array([1.0, 0.0])).item())]
assert np.isclose(got[0], (1e4 + 1e4 + 40) / 3, rtol=1e-6) and got[1] == 0.0, f"logits, no clamp: expected [6680, 0], got {got}"
pv, y = np.array([[0.1, 0.9], [0.3, 1e-30]]), np.array([[0.0, 1.0], [0.25, 1.0]])
xv, yt = np.array([-3.0, -0.5, 0.0, 0.7, 5.0]), np.array([1.0, 0.0, 0.5, 1.0, 0.0])
sx = 1 / (1 + np.exp(-xv))
for fn, x_in, t_in, op, per_ref in [(BCELoss, pv, y, "bce", -(y * np.log(pv) + (1 - y) * np.log1p(-pv))),
                                    (BCEWithLogitsLoss, xv, yt, "bce_with_logits", -(yt * np.log(sx) + (1 - yt) * np.log(1 - sx)))]:
    loss = fn()(Tensor(x_in, requires_grad=True), t_in)
    assert np.isclose(float(loss.item()), per_ref.mean(), rtol=1e-12), f"{op} soft targets: expected {per_ref.mean()}, got {loss.item()}"
    per = loss._parents[0]
    got = (str(per._op), np.asarray(per._ctx["target"]).tolist(), arr(per._parents[0]).tolist())
    assert got == (op, t_in.tolist(), x_in.tolist()), f"record op {op!r}, parent input, ctx target=t: expected {(op, t_in.tolist(), x_in.tolist())}, got {got}"
    assert np.allclose(arr(per), per_ref), f"{op} per-element losses: expected {per_ref}, got {arr(per)}"
got = [arr(loss_fn()(Tensor([0.5]), np.array([1]))).dtype for loss_fn in (BCELoss, BCEWithLogitsLoss)]
assert got == [np.float32, np.float32], f"both keep float32, got {got}"
for bad in ([1.5], [-0.1]):
    e = raised(lambda: BCELoss()(Tensor(bad), Tensor([1.0])))
    assert isinstance(e, ValueError) and "between 0 and 1" in str(e), f"BCELoss of {bad}: expected a ValueError saying 'between 0 and 1', got {e!r}"
### END HIDDEN TESTS

# %% [markdown]
# ## The gradient of cross-entropy, fused with the loss
# With $s = \mathrm{softmax}(z_n)$, the gradient of the loss is $(s_j - [j = c_n]) / N$: prediction
# minus one-hot, largest for the most wrong row, no log needed. Module 05 gets it from the graph; a
# **fused** kernel computes loss and gradient in one pass, a block of rows at a time, with no graph.

# %% solution id="fused-cross-entropy"
def fused_cross_entropy(logits, targets, chunk=1024):
    """(loss, grad): the mean cross-entropy (Python float) of float `logits` (N, C, not modified) against
    int `targets` (N,), and a new (N, C) d loss / d logits in the logits' dtype. `chunk` rows at a time
    (need not divide N): no temporary beyond (chunk, C); float64 inside; no overflow for |z| <= 1e4.
    EXAMPLE: fused_cross_entropy(np.array([[0., 0., 0.]]), np.array([1])) -> (1.0986, [[1/3, -2/3, 1/3]])
    HINT: the log-sum-exp trick per row; np.arange(len(t)) with t picks one entry per row."""
    ### BEGIN SOLUTION
    n = len(targets)
    grad = np.empty(logits.shape, dtype=logits.dtype)
    total = 0.0
    for start in range(0, n, chunk):
        z = logits[start:start + chunk].astype(np.float64)
        t = targets[start:start + chunk]
        rows = np.arange(len(t))
        m = z.max(axis=1, keepdims=True)
        e = np.exp(z - m)
        s = e.sum(axis=1, keepdims=True)
        total += float(np.sum(np.log(s[:, 0]) + m[:, 0] - z[rows, t]))
        e /= s
        e[rows, t] -= 1.0
        grad[start:start + chunk] = e / n
    return total / n, grad
    ### END SOLUTION

# %% helper
def numerical_grad(f, x, eps=1e-6):
    """Central differences of the scalar f(x) with respect to every entry of the float64 ndarray x."""
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        grad[i] = (f(up) - f(down)) / (2 * eps)
    return grad

# %% test id="test-fused-cross-entropy" points=3
loss, grad = fused_cross_entropy(np.array([[0.0, 0.0, 0.0]]), np.array([1]))
got, exp = [float(loss)] + np.asarray(grad)[0].tolist(), [np.log(3), 1 / 3, -2 / 3, 1 / 3]
assert np.allclose(got, exp), f"uniform logits: loss log 3, softmax minus one-hot: expected {exp}, got {got}"
### BEGIN HIDDEN TESTS
z, t = np.random.default_rng(4).standard_normal((5, 4)) * 3, np.array([3, 0, 1, 1, 2])
keep, ce = z.copy(), lambda v: float(np.mean(np.log(np.exp(v).sum(axis=1)) - v[np.arange(5), t]))
num = numerical_grad(ce, z)
for chunk in (1, 2, 5, 100):
    loss, grad = fused_cross_entropy(z, t, chunk)
    assert np.isclose(float(loss), ce(z), rtol=1e-12), f"chunk={chunk}: expected loss {ce(z)}, got {loss}"
    assert np.shape(grad) == (5, 4) and np.allclose(np.asarray(grad), num, rtol=1e-6, atol=1e-8), f"chunk={chunk}: expected (central differences)\n{num}\ngot\n{np.asarray(grad)}"
assert np.array_equal(z, keep), f"the logits must not be modified: expected\n{keep}\ngot\n{z}"
big = np.array([[1e4, 0.0], [0.0, 1e4], [-1e4, 1e4], [-1e4, -1e4 - 1.0]], dtype=np.float32)
loss, grad = fused_cross_entropy(big, np.array([0, 0, 1, 0]), 2)        # each row needs its own maximum
q = 1 / (1 + np.e)
exp = [[0.0, 0.0], [-0.25, 0.25], [0.0, 0.0], [-q / 4, q / 4]]
assert np.isclose(float(loss), (1e4 + np.log1p(np.exp(-1.0))) / 4) and np.allclose(np.asarray(grad), exp, atol=1e-6), \
    f"|z| = 1e4: expected {(1e4 + np.log1p(np.exp(-1.0))) / 4} and {exp}, got {loss}, {np.asarray(grad)}"
assert np.asarray(grad).dtype == np.float32, f"float32 logits give a float32 gradient, got {np.asarray(grad).dtype}"
### END HIDDEN TESTS

# %% [markdown]
# ## PyTorch's options: class weights, ignored targets, label smoothing
# `torch.nn.CrossEntropyLoss` takes three options that real training uses. A **weight** $w_c$ per class
# (rare classes count more) scales example $n$'s loss by $w_{c_n}$, and the mean becomes a weighted
# mean, divided by $W = \sum_n w_{c_n}$, not by $N$. A target equal to **ignore_index** (a padding token)
# leaves the sum and $W$ alike. **Label smoothing** $\varepsilon$ trains against the target distribution
# $(1-\varepsilon)\,\text{one-hot}(c_n) + \varepsilon / C$: with $\ell_{nj} = -\log\mathrm{softmax}(z_n)_j$,
# $$\mathcal L = \frac1W \sum_{n\ \text{kept}} \Bigl[(1-\varepsilon)\, w_{c_n} \ell_{n c_n} + \frac{\varepsilon}{C} \sum_j w_j\, \ell_{nj}\Bigr].$$
# Its gradient follows from $\partial \ell_{nj} / \partial z_{nk} = \mathrm{softmax}(z_n)_k - [j = k]$.

# %% solution id="cross-entropy-options"
def cross_entropy_options(logits, targets, weight=None, ignore_index=-100, label_smoothing=0.0):
    """(loss, grad) of torch.nn.functional.cross_entropy(logits, targets, weight, ignore_index=...,
    label_smoothing=...) with mean reduction: loss a Python float, grad = d loss / d logits, a new
    float64 (N, C) ndarray (0 in ignored rows). logits: float (N, C), not modified; targets: ints (N,)
    (ndarray or list); weight: C floats or None (all 1). Every target ignored: loss nan, grad all 0,
    no warning. No overflow for |z| <= 1e4.
    EXAMPLE: cross_entropy_options(np.array([[2., 0, 0], [0, 1, 0]]), [0, 1], weight=[3., 1, 1])
             -> (0.3175, ...)  (= (3 l_0 + l_1) / 4 with l_n = -log softmax(z_n)[c_n])
    HINT: a boolean mask selects the kept rows; the log-sum-exp trick gives every l_nj at once.
    """
    ### BEGIN SOLUTION
    z = np.asarray(logits, dtype=np.float64)
    t = np.asarray(targets)
    C, eps = z.shape[1], label_smoothing
    w = np.ones(C) if weight is None else np.asarray(weight, dtype=np.float64)
    keep = t != ignore_index
    grad = np.zeros(z.shape)
    if not keep.any():
        return float("nan"), grad
    zk, tk = z[keep], t[keep]
    rows, wt = np.arange(len(tk)), w[tk]
    m = zk.max(axis=1, keepdims=True)
    e = np.exp(zk - m)
    total = e.sum(axis=1, keepdims=True)
    nlogp = m + np.log(total) - zk
    p = e / total
    loss = (1 - eps) * np.sum(wt * nlogp[rows, tk]) + eps / C * np.sum(nlogp * w)
    g = (1 - eps) * wt[:, None] * p + eps / C * (w.sum() * p - w)
    g[rows, tk] -= (1 - eps) * wt
    grad[keep] = g / wt.sum()
    return float(loss / wt.sum()), grad
    ### END SOLUTION

# %% test id="test-cross-entropy-options" points=3
ls = lambda row, c: np.log(np.exp(row).sum()) - row[c]
loss, grad = cross_entropy_options(np.array([[2.0, 0, 0], [0, 1, 0]]), [0, 1], weight=[3.0, 1, 1])
exp = (3 * ls(np.array([2.0, 0, 0]), 0) + ls(np.array([0.0, 1, 0]), 1)) / 4
assert np.isclose(loss, exp), f"weighted mean (3 l_0 + l_1) / (3 + 1): expected {exp}, got {loss}"
loss, grad = cross_entropy_options(np.zeros((1, 3)), [1], label_smoothing=0.3)
exp = [np.log(3), 0.7 / 3, 0.7 / 3 - 0.7, 0.7 / 3]
assert np.allclose([loss] + np.asarray(grad)[0].tolist(), exp), f"uniform logits, eps 0.3: loss log 3, gradient 0.7 (softmax - one-hot): expected {exp}, got {loss}, {grad}"
### BEGIN HIDDEN TESTS
Z, wts = np.array([[0.5, -1.0, 2.0, 0.0], [3.0, 0.0, 0.0, -2.0], [0.0, 1.0, 0.0, 1.0], [1.0, 1.0, -1.0, 0.5]]), [1.0, 2.0, 0.5, 3.0]
for kw, torch_loss in [(dict(), 1.1506734362485556), (dict(weight=wts), 1.5242263605376074), (dict(label_smoothing=0.2), 1.3506734362485555),
                       (dict(weight=wts, label_smoothing=0.1), 1.571545941179042), (dict(ignore_index=3), 0.554835363177922),
                       (dict(ignore_index=0, weight=[1.0, 2, 3, 4], label_smoothing=0.5), 1.7199288657654455)]:
    T, keep = np.array([3, 0, kw.get("ignore_index", -100), 1]), Z.copy()
    loss, grad = cross_entropy_options(Z, T, **kw)
    num = numerical_grad(lambda v: cross_entropy_options(v, T, **kw)[0], Z)
    assert np.isclose(loss, torch_loss, rtol=1e-12), f"targets {T.tolist()}, {kw}: expected PyTorch's {torch_loss}, got {loss}"
    assert np.shape(grad) == (4, 4) and np.asarray(grad).dtype == np.float64 and np.allclose(grad, num, rtol=1e-6, atol=1e-8), f"{kw}: expected (central differences)\n{num}\ngot\n{grad}"
    assert np.array_equal(Z, keep), "the logits must not be modified"
with np.errstate(over="raise", invalid="raise", divide="raise"):
    got = [cross_entropy_options(np.array([[1e4, 0.0], [0.0, 1e4]], dtype=np.float32), np.array([0, 0]), label_smoothing=0.5)[0],
           cross_entropy_options(np.ones((2, 3)), [-100, -100])]
assert np.isclose(got[0], (0.5 * 1e4 + 0.25 * 2e4) / 2) and np.isnan(got[1][0]) and np.array_equal(got[1][1], np.zeros((2, 3))), f"|z| = 1e4 -> 5000; all ignored -> (nan, zeros): got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## The picture: how hard each loss pushes
# For a positive example ($y = 1$), cross-entropy $-\log p$ grows without bound as the prediction
# becomes confidently wrong; the squared error $(1-p)^2$ never exceeds 1. Training feels the gradient
# in the *logit* $x$, $p = \sigma(x)$ ($\sigma' = \sigma(1 - \sigma)$): BCE's, $\sigma(x) - y$, is largest when
# most wrong; MSE's, $2(\sigma(x) - y)\,\sigma(x)(1 - \sigma(x))$, vanishes exactly there.

# %% solution id="logit-gradients"
def logit_gradients(x, y):
    """(g_bce, g_mse): float64 ndarrays of x's shape, d/dx of BCEWithLogits(x, y) and of (sigmoid(x) - y)^2
    per element, for logits x and targets y of one shape. No warning or nan for |x| up to 1e4.
    EXAMPLE: logit_gradients(np.array([0.]), np.array([1.])) -> (array([-0.5]), array([-0.25]))
    HINT: compute sigmoid without ever exponentiating a positive number (module 02)."""
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    p = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    g_bce = p - y
    g_mse = 2 * (p - y) * p * (1 - p)
    return g_bce, g_mse
    ### END SOLUTION

# %% test id="test-logit-gradients" points=2
g_bce, g_mse = logit_gradients(np.array([0.0, 2.0]), np.array([1.0, 0.0]))
s2 = 1 / (1 + np.exp(-2.0))
exp = [[-0.5, s2], [-0.25, 2 * s2 * s2 * (1 - s2)]]
assert np.allclose([np.asarray(g_bce), np.asarray(g_mse)], exp), f"expected {exp}, got {[g_bce, g_mse]}"
### BEGIN HIDDEN TESTS
xv, yv = np.array([[-3.0, -0.5], [0.7, 5.0]]), np.array([[1.0, 0.25], [1.0, 0.0]])
sig = lambda v: 0.5 * (1 + np.tanh(0.5 * v))
for k, f in enumerate([lambda v: float(np.sum(np.maximum(v, 0) - v * yv + np.log1p(np.exp(-np.abs(v))))),
                       lambda v: float(np.sum((sig(v) - yv) ** 2))]):
    got, num = np.asarray(logit_gradients(xv, yv)[k]), numerical_grad(f, xv.copy())
    assert got.shape == (2, 2) and np.allclose(got, num, rtol=1e-6, atol=1e-9), f"{['g_bce', 'g_mse'][k]}: expected {num}, got {got}"
g_bce, g_mse = logit_gradients(np.array([-1e4, 1e4, -40.0]), np.array([1.0, 1.0, 0.0]))
exp = [[-1.0, 0.0, 1 / (1 + np.exp(40.0))], [0.0, 0.0, 2 * np.exp(-80.0)]]
assert np.allclose([np.asarray(g_bce), np.asarray(g_mse)], exp, rtol=1e-6, atol=0), f"|x| = 1e4: expected {exp}, got {[g_bce, g_mse]}"
assert np.asarray(logit_gradients(np.array([1.0], dtype=np.float32), np.array([1.0]))[1]).dtype == np.float64, "float64 results"
### END HIDDEN TESTS

# %%
import matplotlib.pyplot as plt
ps, xs = np.linspace(1e-3, 1 - 1e-3, 400), np.linspace(-8, 8, 161)
fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.2))
a.plot(ps, -np.log(ps), label="BCE  $-\\log p$"); a.plot(ps, (1 - ps) ** 2, label="MSE  $(1-p)^2$")
a.set(xlabel="predicted probability p (target y = 1)", ylabel="loss", ylim=(0, 5))
b.plot(xs, np.transpose(logit_gradients(xs, np.ones_like(xs))), label=["BCE with logits", "MSE of sigmoid"])
b.set(xlabel="logit x", ylabel="dloss / dx")
for ax in (a, b):
    ax.grid(alpha=0.3); ax.legend()
plt.tight_layout(); plt.show()

# %% [markdown]
# ## Systems note: the cost of a large vocabulary
# A language model has one class per vocabulary token: the logits are $N \times C$ numbers, and the
# Tensor path keeps a few more arrays of that size for backward. Measured for 512 tokens and 32 000
# classes, against the fused kernel (which also returns the gradient):

# %%
import time
import tracemalloc

N, C = 512, 32_000
logits = Tensor(np.random.default_rng(0).standard_normal((N, C)).astype(np.float32))
targets = np.random.default_rng(1).integers(0, C, size=N)
for name, run in [("Tensor path (loss only)", lambda: CrossEntropyLoss()(logits, targets).item()),
                  ("fused, chunk 32 (+ gradient)", lambda: fused_cross_entropy(logits.data, targets, 32)[0])]:
    run()                                          # warm-up
    tracemalloc.start(); t0 = time.perf_counter()
    loss = run()
    ms, peak = (time.perf_counter() - t0) * 1e3, tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{name:29s} loss {loss:.4f}  {ms:6.1f} ms  peak {peak / 2**20:6.1f} MiB")
print(f"logits: {logits.data.nbytes / 2**20:.1f} MiB (log C = {np.log(C):.3f}); GPT-2 sized batch (8 x 1024 tokens, "
      f"50 257 classes): {8 * 1024 * 50257 * 4 / 2**30:.2f} GiB per float32 copy of the logits")

# %% [markdown]
# A uniform guess costs exactly $\log C$. For big vocabularies the logits and their softmax are among
# the largest tensors of the model, which is why production code fuses the loss and chunks it.
