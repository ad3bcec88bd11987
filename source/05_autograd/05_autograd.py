# %% [markdown]
# # 05 · Autograd
#
# Training means following the gradient of a loss with respect to every parameter. Since module 01
# every operation on a `Tensor` has been recording itself: `z._parents`, `z._op`, `z._ctx`. That
# record is a graph, and this module turns it into gradients with **reverse-mode automatic
# differentiation**, the algorithm inside `loss.backward()`.
#
# Two pieces:
#
# 1. **Local rules.** For each op, a *vector-Jacobian product* (VJP): given $\bar z = \partial L/\partial z$
#    (called `grad`), return $\bar x = \partial L/\partial x$ for each input $x$. By the chain rule
#    $$ \bar x_i = \sum_j \bar z_j \,\frac{\partial z_j}{\partial x_i}, $$
#    but we never build the Jacobian: for $z = x \odot y$ the VJP is just $\bar x = \bar z \odot y$.
# 2. **The engine.** Visit the graph from the loss back to the leaves, each node after everything
#    that uses it, apply the rules, and add up the gradients arriving at a node along several paths.

# %%
#| default_exp autograd
#| export
import contextlib
import math

import numpy as np

from tinytorch_lib.tensor import Tensor, is_grad_enabled, set_grad_enabled, register_backward_engine

# %%
from tinytorch_lib.tensor import _make

# %% [markdown]
# ## Checking a derivative: central differences
#
# Every rule you write is checked against the definition of the derivative. For a scalar function
# $L(x)$, the central difference
# $$ \frac{\partial L}{\partial x_i} \approx \frac{L(x + \varepsilon e_i) - L(x - \varepsilon e_i)}{2\varepsilon} $$
# has error $O(\varepsilon^2)$. In float64 with $\varepsilon = 10^{-6}$ it agrees with a correct
# gradient to about 8 digits; in float32 rounding would swamp it, so all checks use float64.
#
# To check a VJP of an op with output $z$ we pick a fixed random $R$ of $z$'s shape and differentiate
# $L = \sum R \odot z$, whose gradient with respect to $z$ is exactly $R$.

# %%
def numerical_grad(f, x, eps=1e-6):
    """Central-difference gradient of the scalar function f() with respect to the ndarray x.

    x is perturbed in place (one entry at a time) and restored.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        plus = f()
        x[i] = old - eps
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def check_rule(rule, fn, *arrays, rtol=1e-5, atol=1e-6):
    """Check a VJP rule against central differences.

    fn(*tensors) must be ONE op whose parents are exactly those tensors; the rule is called as
    rule(R, out, *parents, **ctx) and each returned gradient is compared with numerical_grad.
    """
    inputs = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = fn(*inputs)
    assert out._parents == tuple(inputs), "fn must apply one op to exactly the given inputs"
    R = np.random.default_rng(0).standard_normal(out.shape)
    got = rule(R, out, *out._parents, **out._ctx)
    assert isinstance(got, tuple) and len(got) == len(inputs), \
        f"{rule.__name__} must return a tuple with one gradient per parent, got {type(got).__name__}"
    for k, x in enumerate(inputs):
        expected = numerical_grad(lambda: float(np.sum(R * fn(*inputs).data)), x.data)
        g = np.asarray(got[k])
        assert g.shape == x.shape, f"{rule.__name__}: gradient {k} has shape {g.shape}, input has {x.shape}"
        assert np.allclose(g, expected, rtol=rtol, atol=atol), \
            f"{rule.__name__}: gradient {k}\nexpected (finite differences) {expected}\ngot {g}"
    return True


rng = np.random.default_rng(42)

# %% [markdown]
# ## Broadcasting, backwards
#
# If `b` of shape `(3,)` was broadcast to `(2, 3)` in `a + b`, each entry of `b` was used twice, so its
# gradient is the **sum** of the two rows of the incoming gradient. In general: sum over the leading
# axes the input did not have, then over every axis where the input had size 1 (keeping that axis).
# Forgetting this is the classic autograd bug: the shapes silently come out wrong.

# %% solution id="unbroadcast"
#| export
def unbroadcast(grad, shape):
    """Sum `grad` down to `shape`, undoing NumPy broadcasting.

    TODO: return an ndarray of exactly `shape`.
    APPROACH: 1) while grad has more dims than shape, sum over axis 0
              2) for every axis i where shape[i] == 1 but grad.shape[i] != 1, sum it with keepdims=True.
    EXAMPLE: unbroadcast(np.ones((4, 2, 3)), (2, 1)) -> array([[12.], [12.]])
    HINTS: works for shape == () too (step 1 sums everything).
    """
    grad = np.asarray(grad)
    ### BEGIN SOLUTION
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for i, n in enumerate(shape):
        if n == 1 and grad.shape[i] != 1:
            grad = grad.sum(axis=i, keepdims=True)
    return grad
    ### END SOLUTION

# %% test id="test-unbroadcast" points=1
got = unbroadcast(np.ones((4, 2, 3)), (2, 1))
assert got.shape == (2, 1) and np.allclose(got, 12), f"expected [[12], [12]], got {got}"
got = unbroadcast(np.arange(6.0).reshape(2, 3), (3,))
assert np.allclose(got, [3, 5, 7]), f"(2, 3) -> (3,) sums the rows: expected [3, 5, 7], got {got}"
### BEGIN HIDDEN TESTS
assert unbroadcast(np.ones((2, 3)), ()).shape == () and unbroadcast(np.ones((2, 3)), ()) == 6
assert unbroadcast(np.ones((2, 3)), (2, 3)).shape == (2, 3)
assert np.allclose(unbroadcast(np.ones((5, 2, 3)), (1, 3)), 10) and unbroadcast(np.ones((5, 2, 3)), (1, 3)).shape == (1, 3)
assert unbroadcast(np.ones((2, 1, 3)), (1, 1, 1)).shape == (1, 1, 1)
### END HIDDEN TESTS

# %% [markdown]
# ## The local rules
#
# Every rule has the signature `rule(grad, out, *parents, **ctx)` and returns a **tuple** with one
# ndarray per parent. `grad` is $\bar z$ (shape of `out`), `out` is the output Tensor (handy when the
# derivative is best written with the output, like $\frac{d}{dx}e^x = e^x$), `parents` are the input
# Tensors and `ctx` the dict recorded in module 01. Return gradients in the *broadcast* shape; the
# engine calls `unbroadcast`.
#
# | op | $z$ | $\bar x$ (and $\bar y$) |
# |---|---|---|
# | add, sub | $x \pm y$ | $\bar z$, $\pm\bar z$ |
# | mul | $x y$ | $\bar z\, y$, $\bar z\, x$ |
# | div | $x / y$ | $\bar z / y$, $-\bar z\, x / y^2$ |
# | neg, pow | $-x$, $x^p$ | $-\bar z$, $\bar z\, p\, x^{p-1}$ |

# %% solution id="vjp-arithmetic"
#| export
def _add_vjp(grad, out, a, b):
    """z = a + b. TODO: return (grad_a, grad_b). HINTS: the gradient flows through unchanged."""
    ### BEGIN SOLUTION
    return grad, grad
    ### END SOLUTION


def _sub_vjp(grad, out, a, b):
    """z = a - b. TODO: return (grad_a, grad_b)."""
    ### BEGIN SOLUTION
    return grad, -grad
    ### END SOLUTION


def _mul_vjp(grad, out, a, b):
    """z = a * b. TODO: return (grad * b, grad * a) using the .data arrays."""
    ### BEGIN SOLUTION
    return grad * b.data, grad * a.data
    ### END SOLUTION


def _div_vjp(grad, out, a, b):
    """z = a / b. TODO: return (grad / b, -grad * a / b**2)."""
    ### BEGIN SOLUTION
    return grad / b.data, -grad * a.data / b.data ** 2
    ### END SOLUTION


def _neg_vjp(grad, out, a):
    """z = -a. TODO: return a 1-tuple (note the comma: (g,))."""
    ### BEGIN SOLUTION
    return (-grad,)
    ### END SOLUTION


def _pow_vjp(grad, out, a, exponent):
    """z = a ** exponent (a Python number from ctx). TODO: return (grad * p * a**(p-1),)."""
    ### BEGIN SOLUTION
    return (grad * exponent * a.data ** (exponent - 1),)
    ### END SOLUTION

# %% test id="test-vjp-arithmetic" points=2
x, y = rng.standard_normal((2, 3)), rng.uniform(0.5, 2.0, (2, 3))
check_rule(_mul_vjp, lambda a, b: a * b, x, y)
check_rule(_add_vjp, lambda a, b: a + b, x, y)
### BEGIN HIDDEN TESTS
check_rule(_sub_vjp, lambda a, b: a - b, x, y)
check_rule(_div_vjp, lambda a, b: a / b, x, y)
check_rule(_neg_vjp, lambda a: -a, x)
check_rule(_pow_vjp, lambda a: a ** 3, x)
check_rule(_pow_vjp, lambda a: a ** -0.5, y)
check_rule(_pow_vjp, lambda a: a ** 2, x)
### END HIDDEN TESTS

# %% [markdown]
# ### Matrix multiplication
#
# For $C = AB$ with $\bar C$ given, $\bar A = \bar C B^\top$ and $\bar B = A^\top \bar C$: the same shapes
# as $A$ and $B$, and each is one more matmul, so **backward costs twice the forward**. With batch
# dimensions transpose only the last two axes (`np.swapaxes(M, -1, -2)`). A 1-D operand is treated as
# a one-row (or one-column) matrix; that bookkeeping is given.

# %% solution id="vjp-matmul"
#| export
def _matmul_vjp(grad, out, a, b):
    """z = a @ b (batched). TODO: grad_a = grad @ b^T and grad_b = a^T @ grad (last two axes),
    each only when that parent requires grad (else None): a layer's input batch needs no gradient,
    and skipping it saves one of the three large matmuls of a training step."""
    A, B, G = a.data, b.data, np.asarray(grad)
    if B.ndim == 1:                       # (k,) -> (k, 1); the output lost that column axis
        B, G = B[:, None], np.expand_dims(G, -1)
    if A.ndim == 1:                       # (k,) -> (1, k); the output lost that row axis
        A, G = A[None, :], np.expand_dims(G, -2)
    ### BEGIN SOLUTION
    grad_a = G @ np.swapaxes(B, -1, -2) if a.requires_grad else None
    grad_b = np.swapaxes(A, -1, -2) @ G if b.requires_grad else None
    ### END SOLUTION
    if a.ndim == 1 and grad_a is not None:
        grad_a = grad_a[..., 0, :]
    if b.ndim == 1 and grad_b is not None:
        grad_b = grad_b[..., 0]
    return grad_a, grad_b

# %% test id="test-vjp-matmul" points=2
check_rule(_matmul_vjp, lambda a, b: a @ b, rng.standard_normal((2, 3)), rng.standard_normal((3, 4)))
### BEGIN HIDDEN TESTS
check_rule(_matmul_vjp, lambda a, b: a @ b, rng.standard_normal((2, 2, 3)), rng.standard_normal((2, 3, 4)))
check_rule(_matmul_vjp, lambda a, b: a @ b, rng.standard_normal(3), rng.standard_normal((3, 4)))
check_rule(_matmul_vjp, lambda a, b: a @ b, rng.standard_normal((2, 3)), rng.standard_normal(3))
check_rule(_matmul_vjp, lambda a, b: a @ b, rng.standard_normal(3), rng.standard_normal(3))
_x, _w = Tensor(rng.standard_normal((4, 3))), Tensor(rng.standard_normal((3, 2)), requires_grad=True)
_gx, _gw = _matmul_vjp(np.ones((4, 2)), _x @ _w, _x, _w)
assert _gx is None and _gw.shape == (3, 2), "no gradient (None) for a parent that does not require grad"
### END HIDDEN TESTS

# %% [markdown]
# ### Elementwise functions
#
# $\frac{d}{dx} e^x = e^x$ (that is `out`), $\frac{d}{dx}\log x = 1/x$, $\frac{d}{dx}\sqrt{x} = \frac{1}{2\sqrt x}$.

# %% solution id="vjp-elementwise"
#| export
def _exp_vjp(grad, out, a):
    """z = exp(a). TODO: return (grad * exp(a),) reusing out.data."""
    ### BEGIN SOLUTION
    return (grad * out.data,)
    ### END SOLUTION


def _log_vjp(grad, out, a):
    """z = log(a). TODO: return (grad / a,)."""
    ### BEGIN SOLUTION
    return (grad / a.data,)
    ### END SOLUTION


def _sqrt_vjp(grad, out, a):
    """z = sqrt(a). TODO: return (grad / (2 sqrt(a)),) reusing out.data."""
    ### BEGIN SOLUTION
    return (grad / (2 * out.data),)
    ### END SOLUTION

# %% test id="test-vjp-elementwise" points=1
pos = rng.uniform(0.5, 2.0, (3, 2))
check_rule(_exp_vjp, lambda a: a.exp(), pos)
check_rule(_log_vjp, lambda a: a.log(), pos)
check_rule(_sqrt_vjp, lambda a: a.sqrt(), pos)

# %% [markdown]
# ### Reductions
#
# `sum` copies $\bar z$ back to every summed element: re-insert the reduced axes (`np.expand_dims`,
# unless `keepdims` kept them) and `np.broadcast_to` the input's shape. `mean` does the same and
# divides by the number of averaged elements. `max` sends $\bar z$ only to the positions that hold the
# maximum, split evenly between ties (like `torch.amax`):
# $$ \bar x_i = \bar z \,\frac{[x_i = \max]}{\#\{j : x_j = \max\}}. $$

# %%
#| export
def _expand(grad, shape, axis, keepdims):
    """Re-insert the axes a reduction removed, then broadcast to `shape`."""
    if axis is not None and not keepdims:
        grad = np.expand_dims(grad, axis)
    return np.broadcast_to(grad, shape)

# %% solution id="vjp-reductions"
#| export
def _sum_vjp(grad, out, a, axis, keepdims):
    """z = a.sum(axis, keepdims). TODO: return (grad copied back to a's shape,). HINTS: _expand."""
    ### BEGIN SOLUTION
    return (_expand(grad, a.shape, axis, keepdims),)
    ### END SOLUTION


def _mean_vjp(grad, out, a, axis, keepdims):
    """z = a.mean(axis, keepdims). TODO: like sum, divided by the count a.size / out.size."""
    ### BEGIN SOLUTION
    return (_expand(grad, a.shape, axis, keepdims) * (out.data.size / a.data.size),)
    ### END SOLUTION


def _max_vjp(grad, out, a, axis, keepdims):
    """z = a.max(axis, keepdims): gradient to the arg-max positions, split between ties.

    APPROACH: 1) mask = (a == out expanded to a's shape)  2) count = mask.sum(axis, keepdims=True)
              3) return (mask * grad expanded / count,)
    EXAMPLE: a = [1, 3, 3], z = 3, grad = 1 -> ([0, 0.5, 0.5],)
    """
    ### BEGIN SOLUTION
    mask = a.data == _expand(out.data, a.shape, axis, keepdims)
    count = mask.sum(axis=axis, keepdims=True)
    return (mask * _expand(grad, a.shape, axis, keepdims) / count,)
    ### END SOLUTION

# %% test id="test-vjp-reductions" points=2
m = rng.standard_normal((3, 4))
check_rule(_sum_vjp, lambda a: a.sum(axis=0), m)
check_rule(_mean_vjp, lambda a: a.mean(axis=1), m)
check_rule(_max_vjp, lambda a: a.max(axis=1), m)
### BEGIN HIDDEN TESTS
m3 = rng.standard_normal((2, 3, 4))
for axis, keep in [(None, False), (None, True), (-1, False), ((0, 2), False), (1, True), ((0, -1), True)]:
    check_rule(_sum_vjp, lambda a: a.sum(axis=axis, keepdims=keep), m3)
    check_rule(_mean_vjp, lambda a: a.mean(axis=axis, keepdims=keep), m3)
    check_rule(_max_vjp, lambda a: a.max(axis=axis, keepdims=keep), m3)
tie = Tensor(np.array([1.0, 3.0, 3.0]))
(g_tie,) = _max_vjp(np.array(1.0), tie.max(), tie, axis=None, keepdims=False)
assert np.allclose(g_tie, [0, 0.5, 0.5]), f"ties share the gradient evenly: expected [0, .5, .5], got {g_tie}"
### END HIDDEN TESTS

# %% [markdown]
# ### Shape operations and indexing
#
# Moving numbers around is undone by moving the gradient back: `reshape` to the input's shape, swap the
# same two axes again, apply the inverse permutation (`np.argsort(dims)`). For `x[index]`, scatter
# $\bar z$ into zeros of `x`'s shape. With an integer array an element can be picked **twice**, so its
# gradient must be added twice: `np.add.at(g, index, grad)` does that (`g[index] += grad` does not).

# %% solution id="vjp-shape"
#| export
def _reshape_vjp(grad, out, a):
    """z = a.reshape(...). TODO: return (grad reshaped to a.shape,)."""
    ### BEGIN SOLUTION
    return (np.reshape(grad, a.shape),)
    ### END SOLUTION


def _transpose_vjp(grad, out, a, dim0, dim1):
    """z = a.transpose(dim0, dim1). TODO: swap the same axes back."""
    ### BEGIN SOLUTION
    return (np.swapaxes(grad, dim0, dim1),)
    ### END SOLUTION


def _permute_vjp(grad, out, a, dims):
    """z = a.permute(*dims). TODO: apply the inverse permutation. HINTS: np.argsort of dims (made non-negative)."""
    ### BEGIN SOLUTION
    inverse = np.argsort([d % a.ndim for d in dims])
    return (np.transpose(grad, inverse),)
    ### END SOLUTION


def _getitem_vjp(grad, out, a, index):
    """z = a[index]. TODO: scatter-add grad into zeros of a's shape and dtype with np.add.at."""
    ### BEGIN SOLUTION
    g = np.zeros(a.shape, dtype=np.result_type(a.data, grad))
    np.add.at(g, index, grad)
    return (g,)
    ### END SOLUTION

# %% test id="test-vjp-shape" points=2
s = rng.standard_normal((2, 3, 4))
check_rule(_reshape_vjp, lambda a: a.reshape(4, 6), s)
check_rule(_transpose_vjp, lambda a: a.transpose(0, 2), s)
check_rule(_permute_vjp, lambda a: a.permute(2, 0, 1), s)
check_rule(_getitem_vjp, lambda a: a[1, :, 2:], s)
### BEGIN HIDDEN TESTS
check_rule(_permute_vjp, lambda a: a.permute(1, 2, 0), s)
check_rule(_permute_vjp, lambda a: a.permute(-1, 0, 1), s)
check_rule(_transpose_vjp, lambda a: a.transpose(-1, 1), s)
check_rule(_getitem_vjp, lambda a: a[np.array([0, 1, 1]), np.array([2, 0, 0])], s)
v = Tensor(np.array([1.0, 2.0, 3.0]))
(g_rep,) = _getitem_vjp(np.ones(3), v[[0, 0, 2]], v, index=[0, 0, 2])
assert np.allclose(g_rep, [2, 0, 1]), f"a repeated index collects its gradient twice: expected [2, 0, 1], got {g_rep}"
### END HIDDEN TESTS

# %% [markdown]
# ### Activations (module 02) and binary cross-entropy (module 04)
#
# Those modules record their ops with `_make`; the rules live here. With $s = \sigma(x)$ and
# $t = \tanh(x)$ (both are `out`): $\sigma' = s(1-s)$, $\tanh' = 1 - t^2$, $\mathrm{relu}' = [x > 0]$.
# GELU (tanh form) is $y = \tfrac12 x(1 + \tanh u)$ with $u = c(x + 0.044715x^3)$, $c = \sqrt{2/\pi}$:
# $$ y' = \tfrac12(1 + \tanh u) + \tfrac12 x\,(1 - \tanh^2 u)\, c\,(1 + 3\cdot 0.044715\,x^2). $$
# For $s = \mathrm{softmax}(x)$ along `dim`: $\bar x = s \odot (\bar s - \sum_{\text{dim}} \bar s \odot s)$; for
# $\ell = \mathrm{log\_softmax}(x)$: $\bar x = \bar\ell - e^{\ell} \sum_{\text{dim}} \bar\ell$.
#
# Binary cross-entropy of a probability $p$ and target $y$, $-(y \log p + (1-y)\log(1-p))$, has
# $\partial/\partial p = (p - y) / (p(1-p))$ (PyTorch clamps the denominator at $10^{-12}$); with logits,
# $\partial/\partial x = \sigma(x) - y$. Module 04 may record the loss per element or already averaged
# (a 0-d `out`); the given line `scale` covers both.

# %%
#| export
_GELU_C = math.sqrt(2.0 / math.pi)


def _bce_scale(out, p):
    """1 if the loss was recorded per element, 1/N if module 04 recorded the mean."""
    return 1.0 if out.shape == p.shape else out.data.size / p.data.size

# %% solution id="vjp-activations"
#| export
def _relu_vjp(grad, out, x):
    """z = relu(x). TODO: return (grad where x > 0, else 0,)."""
    ### BEGIN SOLUTION
    return (grad * (x.data > 0),)
    ### END SOLUTION


def _sigmoid_vjp(grad, out, x):
    """z = sigmoid(x). TODO: return (grad * s * (1 - s),) with s = out.data."""
    ### BEGIN SOLUTION
    s = out.data
    return (grad * s * (1 - s),)
    ### END SOLUTION


def _tanh_vjp(grad, out, x):
    """z = tanh(x). TODO: return (grad * (1 - t**2),) with t = out.data."""
    ### BEGIN SOLUTION
    return (grad * (1 - out.data ** 2),)
    ### END SOLUTION


def _gelu_vjp(grad, out, x):
    """z = gelu(x), tanh approximation. TODO: the formula above; _GELU_C is sqrt(2/pi)."""
    ### BEGIN SOLUTION
    xd = x.data
    t = np.tanh(_GELU_C * (xd + 0.044715 * xd ** 3))
    dy = 0.5 * (1 + t) + 0.5 * xd * (1 - t ** 2) * _GELU_C * (1 + 3 * 0.044715 * xd ** 2)
    return (grad * dy,)
    ### END SOLUTION


def _softmax_vjp(grad, out, x, dim):
    """z = softmax(x, dim). TODO: return (s * (grad - sum(grad * s, dim, keepdims=True)),)."""
    ### BEGIN SOLUTION
    s = out.data
    return (s * (grad - np.sum(grad * s, axis=dim, keepdims=True)),)
    ### END SOLUTION


def _log_softmax_vjp(grad, out, x, dim):
    """z = log_softmax(x, dim). TODO: return (grad - exp(z) * sum(grad, dim, keepdims=True),)."""
    ### BEGIN SOLUTION
    return (grad - np.exp(out.data) * np.sum(grad, axis=dim, keepdims=True),)
    ### END SOLUTION


def _bce_vjp(grad, out, p, target):
    """z = BCE(p, target). TODO: return (grad * scale * (p - y) / max(p (1 - p), 1e-12),)."""
    scale = _bce_scale(out, p)
    ### BEGIN SOLUTION
    pd = p.data
    return (grad * scale * (pd - target) / np.maximum(pd * (1 - pd), 1e-12),)
    ### END SOLUTION


def _bce_with_logits_vjp(grad, out, x, target):
    """z = BCEWithLogits(x, target). TODO: return (grad * scale * (sigmoid(x) - y),), sigmoid computed stably."""
    scale = _bce_scale(out, x)
    ### BEGIN SOLUTION
    e = np.exp(-np.abs(x.data))
    sig = np.where(x.data >= 0, 1 / (1 + e), e / (1 + e))
    return (grad * scale * (sig - target),)
    ### END SOLUTION

# %% [markdown]
# The tests build these ops directly with `_make` and a NumPy forward, so this module needs only 01.

# %%
def _np_sigmoid(v):
    return 0.5 * (1 + np.tanh(0.5 * v))


def _np_log_softmax(v, dim):
    m = v.max(axis=dim, keepdims=True)
    return v - m - np.log(np.exp(v - m).sum(axis=dim, keepdims=True))


def _np_bce(p, y):
    return -(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log(1 - p), -100))


def _np_bce_logits(v, y):
    return np.maximum(v, 0) - v * y + np.log1p(np.exp(-np.abs(v)))


FORWARD = {
    "relu": lambda v: np.maximum(v, 0),
    "sigmoid": _np_sigmoid,
    "tanh": np.tanh,
    "gelu": lambda v: 0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3))),
}


def recorded(op, **ctx):
    """fn(x) applying `op` with a NumPy forward, recorded through _make like module 02/04 do."""
    if op in FORWARD:
        return lambda x: _make(FORWARD[op](x.data), (x,), op)
    if op == "softmax":
        return lambda x: _make(np.exp(_np_log_softmax(x.data, ctx["dim"])), (x,), op, **ctx)
    if op == "log_softmax":
        return lambda x: _make(_np_log_softmax(x.data, ctx["dim"]), (x,), op, **ctx)
    if op == "bce":
        return lambda p: _make(_np_bce(p.data, ctx["target"]), (p,), op, **ctx)
    return lambda x: _make(_np_bce_logits(x.data, ctx["target"]), (x,), op, **ctx)

# %% test id="test-vjp-activations" points=3
acts = rng.standard_normal((3, 4)) * 2
acts[np.abs(acts) < 0.05] = 0.5          # keep relu's kink away from the finite differences
check_rule(_relu_vjp, recorded("relu"), acts)
check_rule(_sigmoid_vjp, recorded("sigmoid"), acts)
check_rule(_softmax_vjp, recorded("softmax", dim=-1), acts)
### BEGIN HIDDEN TESTS
check_rule(_tanh_vjp, recorded("tanh"), acts)
check_rule(_gelu_vjp, recorded("gelu"), acts)
check_rule(_softmax_vjp, recorded("softmax", dim=0), acts)
check_rule(_log_softmax_vjp, recorded("log_softmax", dim=-1), acts)
check_rule(_log_softmax_vjp, recorded("log_softmax", dim=0), acts)
probs, target = rng.uniform(0.1, 0.9, (4, 3)), (rng.uniform(size=(4, 3)) > 0.5).astype(np.float64)
check_rule(_bce_vjp, recorded("bce", target=target), probs)
check_rule(_bce_with_logits_vjp, recorded("bce_with_logits", target=target), acts.T)
mean_bce = lambda p: _make(_np_bce(p.data, target).mean(), (p,), "bce", target=target)
check_rule(_bce_vjp, mean_bce, probs)
big = Tensor(np.array([-800.0, 800.0]))
(g_big,) = _bce_with_logits_vjp(np.ones(2), big, big, target=np.array([0.0, 1.0]))
assert np.allclose(g_big, 0), f"sigmoid(+-800) - target must be 0 without overflow, got {g_big}"
### END HIDDEN TESTS

# %% [markdown]
# ## The table
#
# One dict maps each op name recorded anywhere in the course to its rule. A later module that adds an
# op adds its rule here (its own lesson checks it).

# %%
#| export
VJP = {
    "add": _add_vjp, "sub": _sub_vjp, "mul": _mul_vjp, "div": _div_vjp, "neg": _neg_vjp, "pow": _pow_vjp,
    "matmul": _matmul_vjp, "exp": _exp_vjp, "log": _log_vjp, "sqrt": _sqrt_vjp,
    "sum": _sum_vjp, "mean": _mean_vjp, "max": _max_vjp,
    "reshape": _reshape_vjp, "transpose": _transpose_vjp, "permute": _permute_vjp, "getitem": _getitem_vjp,
    "relu": _relu_vjp, "sigmoid": _sigmoid_vjp, "tanh": _tanh_vjp, "gelu": _gelu_vjp,
    "softmax": _softmax_vjp, "log_softmax": _log_softmax_vjp,
    "bce": _bce_vjp, "bce_with_logits": _bce_with_logits_vjp,
}

# %% [markdown]
# ## The engine
#
# A node's gradient is complete only when every node that *uses* it has sent its share. So we visit the
# graph in **reverse topological order**: the loss first, every node after all of its users. A
# topological order (each node after its parents) comes from a depth-first search that appends a node
# once all its parents are appended.
#
# Write it with an explicit stack rather than recursion: a graph built by a Python loop can be
# thousands of ops deep, beyond Python's recursion limit (about 1000 frames).

# %% solution id="topological-order"
#| export
def topological_order(tensor):
    """Every tensor `tensor` depends on (itself included), each after all of its _parents, each once.

    APPROACH: stack of (node, parents_done) pairs, start with (tensor, False). Pop one:
              if parents_done, append node to the order; else if not seen yet, mark it seen and push
              (node, True) followed by (parent, False) for each parent.
    EXAMPLE: z = x * y + x  ->  [x, y, x*y, z] (x and y may come in either order)
    HINTS: track seen nodes by id(node).
    """
    ### BEGIN SOLUTION
    order, seen = [], set()
    stack = [(tensor, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node._parents if id(p) not in seen)
    return order
    ### END SOLUTION

# %% test id="test-topological-order" points=2
tx, ty = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
txy = tx * ty
tz = txy + tx
order = topological_order(tz)
pos = {id(t): i for i, t in enumerate(order)}
assert len(order) == 4 and len(pos) == 4, f"expected 4 distinct nodes (x, y, x*y, z), got {len(order)} entries"
assert order[-1] is tz and pos[id(tx)] < pos[id(txy)] and pos[id(ty)] < pos[id(txy)], \
    "every node must come after its parents, the output last"
### BEGIN HIDDEN TESTS
node = Tensor([1.0], requires_grad=True)
top = node
for _ in range(3000):
    top = top * 1.0
assert len(topological_order(top)) == 3000 * 2 + 1, "a 3000-op chain (explicit stack, no recursion)"
d0 = Tensor([1.0], requires_grad=True)
d1, d2 = d0 * 2, d0 * 3
d3 = d1 + d2
d4 = d3 * d1
o = topological_order(d4)
p = {id(t): i for i, t in enumerate(o)}
assert len(o) == len(p) == 7, f"d0, d1, d2, d3, d4 and the constants 2 and 3: 7 nodes, got {len(o)}"
for t in o:
    for par in t._parents:
        assert p[id(par)] < p[id(t)], "a node appears before one of its parents"
### END HIDDEN TESTS

# %% [markdown]
# The engine itself: seed the output's gradient, then for each node in reverse topological order take
# its accumulated gradient, and either store it (a leaf) or apply the node's rule and pass the results
# to the parents, **adding** to whatever they already received.

# %%
#| export
def _accumulate_grad(leaf, grad):
    """Add `grad` into leaf.grad (a Tensor of the leaf's shape and dtype)."""
    if grad.shape != leaf.shape:
        raise RuntimeError(f"gradient of shape {grad.shape} reached a leaf of shape {leaf.shape}: "
                           "a VJP rule or unbroadcast returned the wrong shape")
    grad = np.asarray(grad, dtype=leaf.dtype)
    if leaf.grad is None:
        leaf.grad = Tensor(grad)
    else:
        leaf.grad.data = leaf.grad.data + grad


def _rule(op):
    """The VJP rule of `op`, with a clear error for an op nobody taught module 05."""
    if op not in VJP:
        raise RuntimeError(f"no VJP rule for op {op!r}: add one to tinytorch_lib.autograd.VJP")
    return VJP[op]

# %% solution id="engine"
#| export
def backward(tensor, gradient=None):
    """Accumulate d(tensor)/d(leaf) into leaf.grad for every leaf with requires_grad=True.

    TODO: walk the graph in reverse topological order, applying the VJP rules.
    APPROACH: grads = {id(tensor): gradient}; for node in reversed(topological_order(tensor)):
              g = grads.pop(id(node), None); skip if None.
              leaf (node._op is None): _accumulate_grad(node, g) when node.requires_grad.
              else: parent_grads = _rule(node._op)(g, node, *node._parents, **node._ctx); for each
              parent that requires grad and got a gradient (not None): unbroadcast it to the
              parent's shape and ADD it to grads[id(parent)].
    EXAMPLE: y = x * 3; backward(y * 2 + y * 5) gives x.grad == 21
    HINTS: a tensor used twice receives two contributions: add, never overwrite.
    """
    if not tensor.requires_grad:
        raise RuntimeError("backward() on a tensor that does not require grad (no leaf with requires_grad=True "
                           "led to it, or it was computed under no_grad)")
    if gradient is None:
        if tensor.numel() != 1:
            raise RuntimeError(f"backward() on a non-scalar tensor of shape {tensor.shape} needs `gradient` "
                               f"of that shape (gradient can be implied only for one-element outputs)")
        gradient = np.ones_like(tensor.data)
    gradient = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient, dtype=tensor.dtype)
    if gradient.shape != tensor.shape:
        raise ValueError(f"gradient of shape {gradient.shape} does not match tensor of shape {tensor.shape}")
    ### BEGIN SOLUTION
    grads = {id(tensor): gradient}
    for node in reversed(topological_order(tensor)):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        if node._op is None:
            if node.requires_grad:
                _accumulate_grad(node, g)
            continue
        parent_grads = _rule(node._op)(g, node, *node._parents, **node._ctx)
        for parent, pg in zip(node._parents, parent_grads):
            if pg is None or not parent.requires_grad:
                continue
            pg = unbroadcast(pg, parent.shape)
            grads[id(parent)] = grads[id(parent)] + pg if id(parent) in grads else pg
    ### END SOLUTION

# %% test id="test-engine" points=3
x = Tensor(np.array(2.0), requires_grad=True)
y = x * 3
backward(y * 2 + y * 5)
assert x.grad is not None and np.isclose(x.grad.item(), 21.0), \
    f"y = 3x is used twice: d(2y + 5y)/dx = 21, got {None if x.grad is None else x.grad.item()}"
a = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
b = Tensor(rng.standard_normal(3), requires_grad=True)
backward((a * b).sum())
assert b.grad.shape == (3,), f"b of shape (3,) was broadcast to (2, 3); its grad must be (3,), got {b.grad.shape}"
assert np.allclose(b.grad.data, a.data.sum(axis=0)) and np.allclose(a.grad.data, np.broadcast_to(b.data, (2, 3)))
### BEGIN HIDDEN TESTS
# a composite function against finite differences
W0, x0, c0 = rng.standard_normal((3, 2)), rng.standard_normal((4, 3)), rng.standard_normal((1, 2))
W, X, C = (Tensor(v.copy(), requires_grad=True) for v in (W0, x0, c0))
f = lambda: ((X @ W + C).exp().mean(axis=0) * (X[:, :2] ** 2).sum(axis=0)).sum() / ((W.T @ W) ** 2 + 1).sqrt().sum()
backward(f())
for t in (W, X, C):
    num = numerical_grad(lambda: f().item(), t.data)
    assert np.allclose(t.grad.data, num, rtol=1e-5, atol=1e-6), f"composite gradient wrong:\n{t.grad.data}\nvs\n{num}"
# gradients accumulate across backward calls
acc = Tensor(np.array([1.0, 2.0]), requires_grad=True)
backward((acc * acc).sum())
backward((acc * acc).sum())
assert np.allclose(acc.grad.data, [4, 8]), f"two backward calls accumulate: expected [4, 8], got {acc.grad.data}"
# constants and non-leaves get no grad
const = Tensor(np.array([1.0, 2.0]))
mid = acc * 2
backward((mid * const).sum())
assert const.grad is None and mid.grad is None, "only leaves with requires_grad=True get .grad"
# non-scalar without gradient raises and names the shape; gradient may be a Tensor or an ndarray
vec = Tensor(np.ones((2, 3)), requires_grad=True)
try:
    backward(vec * 2)
    raise AssertionError("backward on a (2, 3) output without gradient must raise")
except RuntimeError as e:
    assert "(2, 3)" in str(e), f"the error must name the shape (2, 3), got {e}"
backward(vec * 2, np.ones((2, 3)))
backward(vec * 2, Tensor(np.ones((2, 3))))
assert np.allclose(vec.grad.data, 4) and vec.grad.dtype == np.float64
# float32 graphs give float32 grads
f32 = Tensor([1.0, 2.0], requires_grad=True)
backward((f32 * 0.5).sum())
assert f32.grad.dtype == np.float32 and np.allclose(f32.grad.data, 0.5)
# long chains do not hit the recursion limit
chain = Tensor(np.array(1.0), requires_grad=True)
out = chain
for _ in range(2000):
    out = out * 1.0
backward(out)
assert chain.grad.item() == 1.0
# broadcasting through a (1,) and a () tensor, and a matmul with batched broadcast
s0 = Tensor(np.array(2.0), requires_grad=True)
s1 = Tensor(np.array([3.0]), requires_grad=True)
backward((Tensor(np.ones((2, 3))) * s0 + s1).sum())
assert s0.grad.shape == () and s0.grad.item() == 6 and s1.grad.shape == (1,) and s1.grad.item() == 6
wb = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
backward((Tensor(rng.standard_normal((5, 4, 3))) @ wb).sum())
assert wb.grad.shape == (3, 2)
### END HIDDEN TESTS

# %% [markdown]
# ## Plugging in, and switching off
#
# Registering the engine makes `t.backward()` work for every Tensor (this cell is part of the package, so
# `import tinytorch_lib` does it). `no_grad()` turns recording off for evaluation and for optimizer
# updates: nothing is recorded, no graph is kept alive.

# %%
#| export
register_backward_engine(backward)


@contextlib.contextmanager
def no_grad():
    """Context manager (and decorator): operations inside record no graph."""
    previous = set_grad_enabled(False)
    try:
        yield
    finally:
        set_grad_enabled(previous)

# %% test id="test-backward-method" points=2
w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
loss = (w * w * 3).sum()
loss.backward()
assert np.allclose(w.grad.data, [6, -12]), f"d(3 w^2)/dw = 6w = [6, -12], got {w.grad}"
### BEGIN HIDDEN TESTS
with no_grad():
    frozen = w * 2
    assert not is_grad_enabled()
assert is_grad_enabled(), "no_grad restores recording on exit"
assert frozen._op is None and not frozen.requires_grad and frozen._parents == (), "no_grad records nothing"
try:
    with no_grad():
        raise KeyError("boom")
except KeyError:
    pass
assert is_grad_enabled(), "no_grad restores recording even after an exception"
w.grad = None
(w * w).sum().backward()
assert np.allclose(w.grad.data, [2, -4])
### END HIDDEN TESTS

# %% [markdown]
# ## Gradient descent, with the engine
#
# A function of two parameters, its gradient from `backward()`, and a hundred steps downhill
# $w \leftarrow w - \eta\,\nabla f(w)$. The steps are large across the steep valley and short along it.

# %%
import matplotlib.pyplot as plt


def bowl(w):
    return (w[0] - 1) ** 2 + 8 * (w[1] + 0.5) ** 2 + 0.5 * w[0] * w[1]


w = Tensor(np.array([-1.5, 1.2]), requires_grad=True)
path = [w.data.copy()]
for step in range(100):
    w.grad = None
    bowl(w).backward()
    w.data = w.data - 0.05 * w.grad.data      # update the numbers; no graph involved
    path.append(w.data.copy())
path = np.array(path)

g0, g1 = np.meshgrid(np.linspace(-2, 2, 200), np.linspace(-1.5, 1.5, 200))
plt.figure(figsize=(5.5, 4))
plt.contour(g0, g1, bowl([g0, g1]), levels=30, cmap="viridis")
plt.plot(path[:, 0], path[:, 1], "o-", color="crimson", markersize=3, label="gradient descent")
plt.xlabel("$w_0$")
plt.ylabel("$w_1$")
plt.legend()
plt.title("100 steps of w -= 0.05 * w.grad")
plt.show()

# %% [markdown]
# ## Systems note: what backward costs
#
# Backward of a matmul is two matmuls (one per input), so a network's backward pass costs about
# **twice** its forward pass. Only twice because `_matmul_vjp` skips the gradient of the constant
# input `xb` (it returns `None`): computing it would add a third matmul that the engine then drops.
# Other rules still compute a gradient for every parent, cheap for elementwise ops. And the graph
# keeps every intermediate result alive until backward is done. That memory grows with the batch size
# (the parameters do not), and it is what limits the batch size when training.

# %%
import time


def best_time(fn, repeat=5):
    """Fastest of `repeat` runs of fn(), in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


xb = Tensor(rng.standard_normal((256, 784)).astype(np.float32))
W1 = Tensor(rng.standard_normal((784, 512)).astype(np.float32) * 0.03, requires_grad=True)
W2 = Tensor(rng.standard_normal((512, 10)).astype(np.float32) * 0.03, requires_grad=True)


def forward():
    return (((xb @ W1) ** 2) @ W2).mean()


loss = forward()
t_forward = best_time(forward)
t_backward = best_time(loss.backward)
graph_bytes = sum(t.data.nbytes for t in topological_order(loss) if t._op is not None)
param_bytes = W1.data.nbytes + W2.data.nbytes
print(f"forward {t_forward * 1e3:.2f} ms, backward {t_backward * 1e3:.2f} ms (ratio {t_backward / t_forward:.1f})")
print(f"intermediates kept by the graph: {graph_bytes / 2**20:.2f} MiB, parameters {param_bytes / 2**20:.2f} MiB")
