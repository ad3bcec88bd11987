# %% [markdown]
# # 04 · Losses
#
# Training needs one number that says how wrong the network is: the **loss**. It must be small when
# the predictions are good, and (module 05) differentiable, so its gradient can point the weights
# somewhere better. This module writes the four losses of the course, each with `mean` reduction and
# PyTorch's exact formulas:
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
# Two pieces of plumbing every loss uses. A target is data: take its ndarray (from a Tensor, an
# ndarray or a list) in the prediction's dtype and insist on the prediction's shape. And a loss
# **reduces** its per-element values: `"mean"` (the default, and the only one the losses below use),
# `"sum"` (gradients grow with the batch) or `"none"` (one loss per element, for weighting them).

# %% solution id="plumbing"
#| export
def _target_array(target, like):
    """The target as a new-or-borrowed float ndarray of `like`'s dtype and shape.

    target: Tensor, ndarray or list; like: the prediction Tensor. ValueError naming both shapes
    when they differ (no broadcasting). EXAMPLE: _target_array([1, 0], Tensor([0.5, 0.5])) ->
    array([1., 0.], dtype=float32).  HINT: `np.asarray` takes a dtype.
    """
    ### BEGIN SOLUTION
    t = np.asarray(target.data if isinstance(target, Tensor) else target, dtype=like.data.dtype)
    if t.shape != like.shape:
        raise ValueError(f"target shape {t.shape} must equal the input shape {like.shape}")
    return t
    ### END SOLUTION


def _reduce(loss, reduction="mean"):
    """Reduce a Tensor of per-element losses: "mean" -> 0-d mean, "sum" -> 0-d sum, "none" -> loss itself.

    Tensor operations only (so module 05 differentiates). ValueError naming the bad value otherwise.
    EXAMPLE: _reduce(Tensor([1., 3.]), "sum") -> Tensor(4.)
    """
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

# %% test id="test-plumbing" points=1
got = np.asarray(_target_array(Tensor(np.array([1.0, 0.0])), Tensor([0.5, 0.5])))
assert got.dtype == np.float32 and got.tolist() == [1.0, 0.0], f"expected float32 [1, 0], got {got.dtype} {got}"
got = [float(_reduce(Tensor([1.0, 3.0]), r).item()) for r in ("mean", "sum")]
assert got == [2.0, 4.0], f"mean and sum of [1, 3]: expected [2.0, 4.0], got {got}"
### BEGIN HIDDEN TESTS
got = arr(_reduce(Tensor(np.array([[1.0, 3.0]])), "none"))
assert got.tolist() == [[1.0, 3.0]], f"'none' keeps every element, got {got}"
assert tuple(_reduce(Tensor(np.ones((2, 2))), "sum").shape) == (), "'sum' gives a 0-d Tensor"
got = np.asarray(_target_array([[1, 0]], Tensor(np.zeros((1, 2)))))
assert got.dtype == np.float64 and got.shape == (1, 2), f"list target in float64: got {got.dtype} {got.shape}"
for bad, call in [("(3,)", lambda: _target_array(np.ones(3), Tensor([0.5, 0.5]))), ("'max'", lambda: _reduce(Tensor([1.0]), "max"))]:
    try:
        call()
        raise AssertionError(f"expected ValueError mentioning {bad}, nothing raised")
    except ValueError as e:
        assert bad in str(e), f"the ValueError must mention {bad}, got {e}"
### END HIDDEN TESTS

# %% [markdown]
# ## Mean squared error
#
# $$\mathrm{MSE}(\hat y, y) = \frac1n \sum_{i=1}^{n} (\hat y_i - y_i)^2$$
#
# over *all* elements, from Tensor operations (differentiable for free). Like PyTorch, a target of
# another shape is broadcast with a warning: (N, 1) against (N,) silently becomes (N, N).

# %% solution id="mse"
#| export
class MSELoss(Module):
    """Mean of the squared differences over every element, as a 0-d Tensor.

    input: a Tensor; target: a Tensor or array-like. Built from Tensor operations (so it is
    differentiable); the dtype follows NumPy's promotion of the two. When the shapes differ,
    warn (`warnings.warn`, message naming both shapes) and broadcast anyway, as PyTorch does.
    EXAMPLE: MSELoss()(Tensor([1., 2., 3.]), Tensor([1., 0., 0.])) -> Tensor(4.3333)  (= 13/3)
    HINT: `as_tensor` turns the target into a Tensor; squaring by a product keeps float32 float32.
    """
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
pred = Tensor(np.array([[1.0, -1.0], [0.5, 2.0]]), requires_grad=True)
loss = MSELoss()(pred, np.array([[0.0, 1.0], [0.5, 0.0]]))
assert np.isclose(float(loss.item()), (1 + 4 + 0 + 4) / 4), f"mean over all 4 elements: expected 2.25, got {loss.item()}"
assert bool(loss.requires_grad) and loss._op is not None, "build the loss from Tensor operations"
got = float(MSELoss()(Tensor([0.0, 0.0]), Tensor([3.0, -3.0])).item())
assert np.isclose(got, 9.0), f"square, not abs: expected 9, got {got}"
got = float(MSELoss()(Tensor([2.0, 5.0]), [1.0, 5.0]).item())
assert np.isclose(got, 0.5), f"list targets: expected 0.5, got {got}"
assert arr(MSELoss()(Tensor([2.0]), Tensor([1.0]))).dtype == np.float32, "float32 in, float32 out"
### END HIDDEN TESTS

# %% [markdown]
# ## Cross-entropy from logits
#
# A classifier outputs $C$ logits per example. Softmax turns them into probabilities, and the loss is
# the negative log-probability of the correct class $c_n$, averaged over the batch:
#
# $$\mathcal L = -\frac1N\sum_{n=1}^{N} \log\mathrm{softmax}(z_n)_{c_n}
#             = \frac1N\sum_{n} \Bigl(\log\sum_j e^{z_{nj}} - z_{n c_n}\Bigr).$$
#
# `log_softmax` from module 02 is stable for any logit. Picking one entry per row is
# **integer-array indexing**: two index arrays `rows` and `cols` of length $N$ give the $N$ entries at
# $(\text{rows}_n, \text{cols}_n)$; a slice and one array give an $N\times N$ matrix, a classic bug.
# Both steps are recorded Tensor operations, so module 05 can differentiate. The targets arrive in
# many forms, and a wrong target must fail loudly, not index the wrong class.

# %% solution id="cross-entropy"
#| export
class CrossEntropyLoss(Module):
    """Mean over the batch of -log softmax(input)[n, target[n]], as a 0-d Tensor.

    input: logits, a Tensor (N, C), or (C,) for one example (then target is a single index).
    target: class indices as an ndarray, Tensor or list, shape (N,) (or 0-d for a (C,) input);
    float values are accepted if they are whole numbers. Errors:
      ValueError naming both shapes when input is not (N, C) with target (N,);
      ValueError when a target is not a whole number;
      IndexError naming the offending index and C ("... 3 ... 3 classes") when a target is
      < 0 or >= C (the largest offender when one is >= C, else the smallest).
    Keeps the dtype of the logits; stable for logits up to |z| = 1e4.
    EXAMPLE: CrossEntropyLoss()(Tensor([[0., 0., 0.]]), np.array([1])) -> Tensor(1.0986)  (= log 3)
    HINT: reshape a single example to a batch of one; np.round tells whole numbers apart.
    """
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
loss = CrossEntropyLoss()(Tensor([[0.0, 0.0, 0.0]]), np.array([1]))
assert np.isclose(float(loss.item()), np.log(3)), f"uniform logits over 3 classes: expected log 3 = 1.0986, got {loss.item()}"
lse = np.log(np.exp(1) + np.exp(2) + np.exp(3))
loss = CrossEntropyLoss()(Tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]), np.array([2, 0]))
exp = ((lse - 3) + (lse - 1)) / 2
assert np.isclose(float(loss.item()), exp), f"expected mean(lse - z[target]) = {exp:.6f}, got {loss.item()}"
### BEGIN HIDDEN TESTS
huge = float(CrossEntropyLoss()(Tensor([[1e4, 0.0], [0.0, 1e4], [-1e4, 1e4]]), np.array([0, 0, 1])).item())
assert np.isclose(huge, 1e4 / 3), f"losses 0, 1e4 and 0 average to 3333.33; got {huge}"
v = np.array([[0.5, -1.0, 2.0, 0.0], [3.0, 0.0, 0.0, -2.0], [0.0, 1.0, 0.0, 1.0]])
t = np.array([3, 0, 1])
ref = np.mean([np.log(np.exp(v[i]).sum()) - v[i, t[i]] for i in range(3)])
z = Tensor(v, requires_grad=True)
loss = CrossEntropyLoss()(z, t)
assert np.isclose(float(loss.item()), ref, rtol=1e-12), f"expected {ref}, got {loss.item()} (one entry per row)"
assert tuple(loss.shape) == () and bool(loss.requires_grad), "a 0-d Tensor recorded from Tensor operations"
assert arr(loss).dtype == np.float64, f"float64 logits give a float64 loss, got {arr(loss).dtype}"
for kind, tt in [("int Tensor", Tensor(t)), ("list", [3, 0, 1]), ("whole floats", np.array([3.0, 0.0, 1.0]))]:
    got = float(CrossEntropyLoss()(z, tt).item())
    assert np.isclose(got, ref, rtol=1e-12), f"{kind} targets: expected {ref}, got {got}"
got = float(CrossEntropyLoss()(Tensor(v[1]), 0).item())
assert np.isclose(got, np.log(np.exp(v[1]).sum()) - 3.0), f"one example (C,) with a 0-d target: got {got}"
assert arr(CrossEntropyLoss()(Tensor([[1.0, 2.0]]), np.array([1]))).dtype == np.float32, "float32 stays float32"
for bad, err, word in [((Tensor(np.zeros((2, 3))), np.array([0, 1, 2])), ValueError, "(2, 3)"),
                       ((Tensor(np.zeros((2, 3))), np.array([0.5, 1.0])), ValueError, ""),
                       ((Tensor(np.zeros((2, 3))), np.array([0, 3])), IndexError, "3 is out of bounds for 3 classes"),
                       ((Tensor(np.zeros((2, 3))), np.array([4, -1])), IndexError, "4 is out of bounds for 3 classes"),
                       ((Tensor(np.zeros((2, 3))), np.array([-1, 0])), IndexError, "-1 is out of bounds for 3 classes")]:
    try:
        CrossEntropyLoss()(*bad)
        raise AssertionError(f"expected {err.__name__}, nothing raised")
    except err as e:
        assert word in str(e), f"the {err.__name__} must mention {word!r}, got {e}"
### END HIDDEN TESTS

# %% [markdown]
# ## Binary cross-entropy, on probabilities and on logits
#
# For a yes/no target $y$ and a predicted probability $p$:
# $\ \ell(p, y) = -\bigl(y \log p + (1-y)\log(1-p)\bigr)$. A probability of exactly 0 or 1 makes a log
# infinite; PyTorch clamps each log at $-100$, so the worst loss per element is 100. Compute the logs
# inside `np.errstate(divide="ignore")` so that $\log 0 = -\infty$ is silent before the clamp, and
# compute $\log(1-p)$ with `np.log1p`, exact for tiny $p$.
#
# If the network outputs a logit $x$ and $p = \sigma(x)$, a sigmoid that rounds to exactly 1.0 ruins
# the loss (for $x = 40$, $1 - \sigma(x)$ is 0 in float64). Work in logits instead: since
# $\log\sigma(x) = -\log(1+e^{-x})$ and $\log(1-\sigma(x)) = -x - \log(1+e^{-x})$,
#
# $$\ell(x, y) = (1-y)\,x + \log(1+e^{-x}) = \max(x, 0) - x\,y + \log\bigl(1 + e^{-|x|}\bigr),$$
#
# where the second form never exponentiates a positive number.
#
# Both compute in NumPy and record an **elementwise** op for module 05 (ctx: the float target `t`),
# reduced by `_reduce` on top.

# %% solution id="bce"
#| export
class BCELoss(Module):
    """Mean binary cross-entropy of probabilities `input` against targets in [0, 1].

    input: a Tensor of probabilities; target: same shape, Tensor or array-like (soft targets
    allowed). ValueError ("... between 0 and 1 ...") if any input is outside [0, 1]. Each log is
    clamped at -100 before use. Records the per-element losses as op "bce" (parent input,
    ctx target=t) and returns their Tensor mean; keeps the input's dtype.
    EXAMPLE: BCELoss()(Tensor([0.5, 0.8]), Tensor([1., 0.])) -> Tensor(1.1513)  (= (log 2 + log 5) / 2)
    HINT: `_target_array` (above) checks the shape; np.maximum applies a clamp elementwise.
    """
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
    """Mean binary cross-entropy of sigmoid(input) against targets, computed from the logits.

    Same inputs as BCELoss but `input` holds logits (any real number). No overflow and no clamp:
    a logit of 1e4 with target 0 costs exactly 1e4. Records the per-element losses as op
    "bce_with_logits" (ctx target=t) and returns their Tensor mean; keeps the input's dtype.
    EXAMPLE: BCEWithLogitsLoss()(Tensor([0.]), Tensor([1.])) -> Tensor(0.6931)  (= log 2)
    HINT: the last formula above; np.log1p is accurate where its argument is tiny.
    """
    def forward(self, input, target):
        ### BEGIN SOLUTION
        t = _target_array(target, input)
        x = input.data
        loss = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
        return _reduce(_make(loss, (input,), "bce_with_logits", target=t))
        ### END SOLUTION

# %% test id="test-bce" points=3
loss = BCELoss()(Tensor([0.5, 0.8]), Tensor([1.0, 0.0]))
exp = (np.log(2) + np.log(5)) / 2
assert np.isclose(float(loss.item()), exp), f"expected -(log 0.5 + log 0.2) / 2 = {exp:.6f}, got {loss.item()}"
loss = BCEWithLogitsLoss()(Tensor([0.0, 2.0]), Tensor([1.0, 0.0]))
exp = (np.log(2) + 2 + np.log1p(np.exp(-2))) / 2
assert np.isclose(float(loss.item()), exp), f"expected {exp:.6f}, got {loss.item()}"
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
pv = np.array([[0.1, 0.9], [0.3, 1e-30]])
y = np.array([[0.0, 1.0], [0.25, 1.0]])
p = Tensor(pv, requires_grad=True)
loss = BCELoss()(p, y)
ref = -np.mean(y * np.log(pv) + (1 - y) * np.log1p(-pv))
assert np.isclose(float(loss.item()), ref, rtol=1e-12), f"soft targets: expected {ref}, got {loss.item()}"
per = loss._parents[0]
assert str(per._op) == "bce" and tuple(per.shape) == (2, 2), f"record the elementwise op 'bce', got {per._op!r}"
assert np.array_equal(arr(per._parents[0]), pv) and np.array_equal(np.asarray(per._ctx["target"]), y), "ctx target=t"
xv = np.array([-3.0, -0.5, 0.0, 0.7, 5.0])
yt = np.array([1.0, 0.0, 0.5, 1.0, 0.0])
loss = BCEWithLogitsLoss()(Tensor(xv, requires_grad=True), yt)
s = 1 / (1 + np.exp(-xv))
ref = -np.mean(yt * np.log(s) + (1 - yt) * np.log(1 - s))
assert np.isclose(float(loss.item()), ref, rtol=1e-12), f"expected {ref}, got {loss.item()}"
per = loss._parents[0]
assert str(per._op) == "bce_with_logits" and np.array_equal(np.asarray(per._ctx["target"]), yt), "record op and target"
assert np.allclose(arr(per), np.log1p(np.exp(-np.abs(xv))) + np.maximum(xv, 0) - xv * yt), "per-element losses"
got = [arr(loss_fn()(Tensor([0.5]), np.array([1]))).dtype for loss_fn in (BCELoss, BCEWithLogitsLoss)]
assert got == [np.float32, np.float32], f"both keep float32, got {got}"
for bad in ([1.5], [-0.1]):
    try:
        BCELoss()(Tensor(bad), Tensor([1.0]))
        raise AssertionError(f"BCELoss of probability {bad}: expected ValueError, nothing raised")
    except ValueError as e:
        assert "between 0 and 1" in str(e), f"the message must say 'between 0 and 1', got {e}"
### END HIDDEN TESTS

# %% [markdown]
# ## The gradient of cross-entropy, fused with the loss
#
# With $s = \mathrm{softmax}(z_n)$, $\partial/\partial z_{nj}$ of $\log\sum_k e^{z_{nk}} - z_{n c_n}$ is
# $s_j - [j = c_n]$: the predicted distribution minus the one-hot target, divided by $N$ for the mean.
# The gradient is largest for the most wrong prediction and never needs a log. Module 05 will get it
# from the graph (log-softmax, indexing, mean); a **fused** kernel computes loss and gradient in one
# pass over the logits, a block of rows at a time, with no graph at all (production frameworks do this
# for large vocabularies).

# %% solution id="fused-cross-entropy"
def fused_cross_entropy(logits, targets, chunk=1024):
    """The mean cross-entropy of `logits` (N, C) against class indices `targets` (N,) AND its gradient.

    logits: float ndarray, not modified; targets: int ndarray of values in 0..C-1; chunk: int >= 1,
    rows processed at a time (need not divide N). Returns (loss, grad): loss a Python float, equal to
    CrossEntropyLoss()(Tensor(logits), targets); grad a new ndarray (N, C) in the logits' dtype,
    d loss / d logits. Work in float64 inside; no overflow for |logits| up to 1e4; apart from grad,
    no temporary larger than (chunk, C).
    EXAMPLE: fused_cross_entropy(np.array([[0., 0., 0.]]), np.array([1]))
             -> (1.0986, array([[ 0.3333, -0.6667,  0.3333]]))
    HINT: the log-sum-exp trick per row; np.arange(len(t)) with t picks one entry per row.
    """
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

def np_cross_entropy(z, t):
    """Reference mean cross-entropy of logits z (N, C) against class indices t, in NumPy."""
    top = np.max(z, axis=1)
    return float(np.mean(np.log(np.exp(z - top[:, None]).sum(axis=1)) + top - z[np.arange(len(t)), t]))

# %% test id="test-fused-cross-entropy" points=3
loss, grad = fused_cross_entropy(np.array([[0.0, 0.0, 0.0]]), np.array([1]))
exp = [[1 / 3, -2 / 3, 1 / 3]]
assert np.isclose(float(loss), np.log(3)), f"uniform logits: expected loss log 3 = 1.0986, got {loss}"
assert np.allclose(np.asarray(grad), exp), f"softmax minus one-hot: expected {exp}, got {np.asarray(grad)}"
### BEGIN HIDDEN TESTS
z = np.random.default_rng(4).standard_normal((5, 4)) * 3
t = np.array([3, 0, 1, 1, 2])
keep = z.copy()
num = numerical_grad(lambda v: np_cross_entropy(v, t), z)
for chunk in (1, 2, 5, 100):
    loss, grad = fused_cross_entropy(z, t, chunk)
    grad = np.asarray(grad)
    assert np.isclose(float(loss), np_cross_entropy(z, t), rtol=1e-12), f"chunk={chunk}: expected loss {np_cross_entropy(z, t)}, got {loss}"
    assert grad.shape == (5, 4) and np.allclose(grad, num, rtol=1e-6, atol=1e-8), f"chunk={chunk}: expected (central differences)\n{num}\ngot\n{grad}"
assert np.array_equal(z, keep), "fused_cross_entropy must not modify the logits"
big = np.array([[1e4, 0.0], [0.0, 1e4], [-1e4, 1e4], [-1e4, -1e4 - 1.0]], dtype=np.float32)
loss, grad = fused_cross_entropy(big, np.array([0, 0, 1, 0]), 2)        # each row needs its own maximum
q = 1 / (1 + np.e)
exp = [[0.0, 0.0], [-0.25, 0.25], [0.0, 0.0], [-q / 4, q / 4]]
assert np.isclose(float(loss), (1e4 + np.log1p(np.exp(-1.0))) / 4) and np.allclose(np.asarray(grad), exp, atol=1e-6), \
    f"|z| = 1e4: expected {(1e4 + np.log1p(np.exp(-1.0))) / 4} and {exp}, got {loss}, {np.asarray(grad)}"
assert np.asarray(grad).dtype == np.float32, f"float32 logits give a float32 gradient, got {np.asarray(grad).dtype}"
### END HIDDEN TESTS

# %% [markdown]
# ## The picture: how hard each loss pushes
#
# For a positive example ($y = 1$) as a function of the predicted probability $p$: cross-entropy
# $-\log p$ grows without bound as the prediction becomes confidently wrong, while the squared error
# $(1-p)^2$ never exceeds 1. What training feels is the gradient with respect to the *logit* $x$,
# $p = \sigma(x)$: by the chain rule through $\sigma' = \sigma(1 - \sigma)$, BCE's is $\sigma(x) - y$,
# largest when most wrong, while MSE's, $2(\sigma(x) - y)\,\sigma(x)(1 - \sigma(x))$, vanishes exactly there.

# %% solution id="logit-gradients"
def logit_gradients(x, y):
    """Per element, d/dx of BCE-with-logits and of the squared error of a sigmoid, at logits x.

    x: float ndarray of logits, any shape; y: targets in [0, 1], x's shape. Returns (g_bce, g_mse),
    float64 ndarrays of x's shape: the derivatives of BCEWithLogits(x, y) and of (sigmoid(x) - y)^2
    with respect to each x. No overflow warning and no nan for |x| up to 1e4.
    EXAMPLE: logit_gradients(np.array([0.]), np.array([1.])) -> (array([-0.5]), array([-0.25]))
    HINT: compute sigmoid without ever exponentiating a positive number (module 02).
    """
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

ps = np.linspace(1e-3, 1 - 1e-3, 400)
ones = np.ones(1)
bce = [BCELoss()(Tensor(np.array([p])), ones).item() for p in ps]
mse = [MSELoss()(Tensor(np.array([p])), ones).item() for p in ps]
xs = np.linspace(-8, 8, 161)
d_bce, d_mse = logit_gradients(xs, np.ones_like(xs))
fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.2))
a.plot(ps, bce, label="BCE  $-\\log p$"); a.plot(ps, mse, label="MSE  $(1-p)^2$")
a.set_xlabel("predicted probability p (target y = 1)"); a.set_ylabel("loss"); a.set_ylim(0, 5); a.legend()
b.plot(xs, d_bce, label="BCE with logits"); b.plot(xs, d_mse, label="MSE of sigmoid")
b.set_xlabel("logit x"); b.set_ylabel("dloss / dx"); b.legend()
for ax in (a, b):
    ax.grid(alpha=0.3)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Systems note: the cost of a large vocabulary
#
# A language model's cross-entropy has one class per token of its vocabulary. The logits alone are
# $N \times C$ numbers; the Tensor path makes a few more arrays of that size (shifted logits, their
# exponentials, the log-probabilities) and keeps them for backward. Measured for 512 tokens and a
# 32 000-token vocabulary, against the fused kernel (which also returns the gradient):

# %%
import time
import tracemalloc

N, C = 512, 32_000
logits = Tensor(np.random.default_rng(0).standard_normal((N, C)).astype(np.float32))
targets = np.random.default_rng(1).integers(0, C, size=N)
for name, run in [("Tensor path (loss only)", lambda: CrossEntropyLoss()(logits, targets).item()),
                  ("fused, chunk 32 (+ gradient)", lambda: fused_cross_entropy(logits.data, targets, 32)[0])]:
    run()                                          # warm-up
    tracemalloc.start()
    t0 = time.perf_counter()
    loss = run()
    ms = (time.perf_counter() - t0) * 1e3
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{name:29s} loss {loss:.4f}  {ms:6.1f} ms  peak {peak / 2**20:6.1f} MiB")
print(f"logits: {logits.data.nbytes / 2**20:.1f} MiB (log C = {np.log(C):.3f}); GPT-2 sized batch (8 x 1024 tokens, "
      f"50 257 classes): {8 * 1024 * 50257 * 4 / 2**30:.2f} GiB per float32 copy of the logits")

# %% [markdown]
# A uniform guess would cost exactly $\log C$; random logits cost a little more. For big
# vocabularies the logits and their softmax are among the largest tensors of the whole model, which
# is why production code fuses `log_softmax` with the loss and computes it in chunks.
