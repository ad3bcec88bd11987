# %% [markdown]
# # 05 · Autograd
# Every operation on a `Tensor` records itself (`z._parents`, `z._op`, `z._ctx`, module 01). This module turns that graph
# into gradients with **reverse-mode automatic differentiation**, the algorithm behind `loss.backward()`. You write both
# parts. **Local rules**: for each op a *vector-Jacobian product* (VJP) that turns $\bar z = \partial L/\partial z$ (called `grad`)
# into $\bar x_i = \sum_j \bar z_j\, \partial z_j/\partial x_i$ for each input $x$, never building the Jacobian. **The engine**: visit
# the graph from the loss back to the leaves, apply the rules, add up the gradients reaching a tensor along several paths.

# %%
#| default_exp autograd
#| export
import contextlib
import math
import numpy as np
from tinytorch_lib.tensor import Tensor, _make, is_grad_enabled, set_grad_enabled, register_backward_engine

# %% [markdown]
# **How every rule is checked.** The central difference $\big(L(x + \varepsilon e_i) - L(x - \varepsilon e_i)\big)/2\varepsilon$
# approximates $\partial L/\partial x_i$ with error $O(\varepsilon^2)$: about 8 correct digits in float64 with $\varepsilon = 10^{-6}$,
# while float32 rounding ($\sim 10^{-7}|L|/\varepsilon$) would swamp it. For an op with output $z$ the tests draw a random
# $R$ of $z$'s shape and differentiate $L = \sum R \odot z$ (its gradient with respect to $z$ is $R$) with NumPy forwards.

# %% helper
rng = np.random.default_rng(42)

def numerical_grad(f, x, eps=1e-6):
    """Central differences of the scalar f() with respect to the float64 ndarray x (perturbed in place)."""
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        old, x[i] = x[i], x[i] + eps
        plus = f()
        x[i] = old - eps
        grad[i], x[i] = (plus - f()) / (2 * eps), old
    return grad

def check_rule(rule, forward, *arrays, **ctx):
    """rule(R, out, *parents, **ctx) for out = forward(*arrays) (NumPy) against central differences."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    parents = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    R = np.random.default_rng(0).standard_normal(np.shape(forward(*arrays)))
    got = rule(R, _make(forward(*arrays), parents, "checked", **ctx), *parents, **ctx)
    assert isinstance(got, tuple) and len(got) == len(arrays), \
        f"{rule.__name__}: expected a tuple of {len(arrays)} gradient(s), one per parent, got {got!r}"
    for k, x in enumerate(arrays):
        expected = numerical_grad(lambda: float(np.sum(R * forward(*arrays))), x)
        g = np.asarray(got[k], dtype=np.float64)
        assert g.shape == x.shape and np.allclose(g, expected, rtol=1e-5, atol=1e-6), \
            f"{rule.__name__}, gradient {k}: expected (central differences)\n{expected}\ngot\n{g}"

def check_backward(f, *arrays):
    """backward() of sum(R * f(*tensors)) against central differences of f (on ndarrays and Tensors alike)."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    tensors = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    R = np.random.default_rng(1).standard_normal(np.shape(f(*arrays)))
    backward((f(*tensors) * Tensor(R)).sum())
    for k, x in enumerate(arrays):
        expected = numerical_grad(lambda: float(np.sum(R * f(*arrays))), x)
        got = None if tensors[k].grad is None else np.asarray(tensors[k].grad.data)
        assert got is not None and got.shape == x.shape and np.allclose(got, expected, rtol=1e-5, atol=1e-6), \
            f"input {k}: expected (central differences)\n{expected}\ngot\n{got}"

np_log_softmax = lambda v, dim: v - v.max(dim, keepdims=True) - np.log(np.exp(v - v.max(dim, keepdims=True)).sum(dim, keepdims=True))
np_gelu = lambda v: 0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))
np_bce = lambda p, y: -(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log(1 - p), -100))
np_bce_logits = lambda v, y: np.maximum(v, 0) - v * y + np.log1p(np.exp(-np.abs(v)))

# %% [markdown]
# ## Broadcasting, backwards
# If `b` of shape `(3,)` was broadcast to `(2, 3)` in `a + b`, each entry of `b` was used twice, so its gradient is the
# **sum** of the two rows of the incoming gradient. Broadcasting prepends axes an input never had and repeats its axes
# of size 1; undoing it sums over exactly those axes (forgetting it is the classic autograd bug). Rules return
# gradients in the broadcast shape; the engine unbroadcasts them.

# %% solution id="unbroadcast"
#| export
def unbroadcast(grad, shape):
    """Sum `grad` down to `shape`, undoing NumPy broadcasting.

    grad: array-like, `shape` broadcast against other operands; shape: tuple of ints, possibly () for a 0-d
    input. Returns an ndarray of exactly `shape`, grad's dtype.
    Example: unbroadcast(np.ones((4, 2, 3)), (2, 1)) -> array([[12.], [12.]])
    Hint: leading axes are summed away; a size-1 axis of `shape` is summed but kept (keepdims).
    """
    ### BEGIN SOLUTION
    grad = np.asarray(grad)
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for i, n in enumerate(shape):
        if n == 1 and grad.shape[i] != 1:
            grad = grad.sum(axis=i, keepdims=True)
    return grad
    ### END SOLUTION
# %% test id="test-unbroadcast" points=1
got = unbroadcast(np.ones((4, 2, 3)), (2, 1))
assert got.shape == (2, 1) and np.allclose(got, 12), f"expected [[12], [12]] of shape (2, 1), got {got}"
got = unbroadcast(np.arange(6.0).reshape(2, 3), (3,))
assert np.allclose(got, [3, 5, 7]), f"(2, 3) -> (3,) sums the rows: expected [3, 5, 7], got {got}"
### BEGIN HIDDEN TESTS
for g, shape, exp in [(np.ones((2, 3)), (), 6), (six := np.arange(6.0).reshape(2, 3), (2, 3), six), (six, (2, 1), [[3], [12]]),
                      (np.arange(30.0).reshape(5, 2, 3), (1, 3), [[135, 145, 155]]), (np.ones((3, 1, 4)), (1, 1, 1), 12),
                      ([[1.0, 2.0], [3.0, 4.0]], (2,), [4, 6]), (np.ones((2, 0)), (2, 1), [[0], [0]])]:
    got = unbroadcast(g, shape)
    assert np.shape(got) == shape and np.allclose(got, exp), f"{np.shape(g)} -> {shape}: expected {exp}, got {got}"
got = unbroadcast(np.ones((2, 3), dtype=np.float32), (3,))
assert got.dtype == np.float32, f"expected grad's dtype float32 to be kept, got {got.dtype}"
### END HIDDEN TESTS

# %% [markdown]
# ## The local rules
# A rule `rule(grad, out, *parents, **ctx)` returns a **tuple** with one ndarray per parent: `grad` is $\bar z$ (shape
# of `out`), `out` the output Tensor, `parents` the input Tensors (read `.data`), `ctx` what module 01 recorded.
# For an elementwise op $z_j$ depends only on $x_j$, so the chain-rule sum keeps only $i = j$ and
# $\bar x = \bar z \odot \partial z/\partial x$, the local derivative entry by entry. The derivatives:
# $\partial(x \pm y)/\partial x = 1$, $\partial(x \pm y)/\partial y = \pm 1$; $\partial(xy)/\partial x = y$; $\partial(x/y)/\partial x = 1/y$,
# $\partial(x/y)/\partial y = -x/y^2$; $\partial(-x)/\partial x = -1$; $\partial x^p/\partial x = p\,x^{p-1}$ for a constant $p$;
# $(e^x)' = e^x$ (that is `out`), $(\log x)' = 1/x$, $(\sqrt x)' = 1/(2\sqrt x)$ (`out` again saves recomputing it).

# %% solution id="vjp-elementwise"
#| export
# Nine rules `_<op>_vjp(grad, out, *parents, **ctx)`, each returning a tuple of one gradient per parent:
#   _add_vjp(grad, out, a, b), _sub_vjp(grad, out, a, b), _mul_vjp(grad, out, a, b), _div_vjp(grad, out, a, b),
#   _neg_vjp(grad, out, a), _pow_vjp(grad, out, a, exponent) (a Python number), _exp_vjp(grad, out, a),
#   _log_vjp(grad, out, a) (a > 0), _sqrt_vjp(grad, out, a) (a > 0).
# Example: _div_vjp(np.array([1.]), out, Tensor([6.]), Tensor([2.])) -> (array([0.5]), array([-1.5]));
#          _neg_vjp(np.array([1., -2.]), out, a) -> (array([-1., 2.]),)   (a 1-tuple for one parent)
def _add_vjp(grad, out, a, b):
    ### BEGIN SOLUTION
    return grad, grad
    ### END SOLUTION
def _sub_vjp(grad, out, a, b):
    ### BEGIN SOLUTION
    return grad, -grad
    ### END SOLUTION
def _mul_vjp(grad, out, a, b):
    ### BEGIN SOLUTION
    return grad * b.data, grad * a.data
    ### END SOLUTION
def _div_vjp(grad, out, a, b):
    ### BEGIN SOLUTION
    return grad / b.data, -grad * a.data / b.data ** 2
    ### END SOLUTION
def _neg_vjp(grad, out, a):
    ### BEGIN SOLUTION
    return (-grad,)
    ### END SOLUTION
def _pow_vjp(grad, out, a, exponent):
    ### BEGIN SOLUTION
    return (grad * exponent * a.data ** (exponent - 1),)
    ### END SOLUTION
def _exp_vjp(grad, out, a):
    ### BEGIN SOLUTION
    return (grad * out.data,)
    ### END SOLUTION
def _log_vjp(grad, out, a):
    ### BEGIN SOLUTION
    return (grad / a.data,)
    ### END SOLUTION
def _sqrt_vjp(grad, out, a):
    ### BEGIN SOLUTION
    return (grad / (2 * out.data),)
    ### END SOLUTION
# %% test id="test-vjp-elementwise" points=2
x, y = rng.standard_normal((2, 3)), rng.uniform(0.5, 2.0, (2, 3))
for rule, f, args in [(_add_vjp, np.add, (x, y)), (_sub_vjp, np.subtract, (x, y)), (_mul_vjp, np.multiply, (x, y)),
                      (_div_vjp, np.divide, (x, y)), (_neg_vjp, np.negative, (x,)), (_exp_vjp, np.exp, (x,)),
                      (_log_vjp, np.log, (y,)), (_sqrt_vjp, np.sqrt, (y,))]:
    check_rule(rule, f, *args)
check_rule(_pow_vjp, lambda a: a ** 3, x, exponent=3)
### BEGIN HIDDEN TESTS
check_rule(_div_vjp, lambda a, b: a / b, y, -x - 3)
for p, v in [(-0.5, y), (2, x)]: check_rule(_pow_vjp, lambda a: a ** p, v, exponent=p)
### END HIDDEN TESTS

# %% [markdown]
# ### Matrix multiplication
# $C_{ij} = \sum_l A_{il} B_{lj}$ gives $\bar A_{il} = \sum_j \bar C_{ij} B_{lj} = (\bar C B^\top)_{il}$ and likewise $\bar B = A^\top \bar C$: one
# more matmul each, so **backward costs twice the forward**. With batch dimensions the transposes swap only the
# last two axes. A 1-D operand is a one-row matrix on the left or a one-column matrix on the right whose axis
# NumPy drops from the result (and so from `grad`): restore it, apply the formulas, drop it again. A parent
# that does not require grad (a layer's input batch) gets `None` instead of a wasted matmul. Module 03's `Linear`
# is ONE op, "linear", $Y = XW^\top + b$ on rows $X$: $\bar X = \bar Y W$, $\bar W = \bar Y^\top X$, $\bar b = \sum_n \bar Y_n$ (a broadcast undone).

# %% solution id="vjp-matmul"
#| export
def _matmul_vjp(grad, out, a, b):
    """z = a @ b with np.matmul semantics (1-D operands, batch dimensions).

    grad: ndarray of out's shape. Returns (grad_a, grad_b) of a's and b's shapes, possibly with extra leading
    (broadcast batch) axes; either is None, computing nothing, when that parent has requires_grad False.
    Example: a (2, 3), b (3, 4), grad (2, 4) -> shapes (2, 3), (3, 4); a (3,), b (2, 3, 4) -> (2, 3), (2, 3, 4)
    Hint: np.swapaxes for the last two axes; np.expand_dims to restore a dropped axis.
    """
    ### BEGIN SOLUTION
    A, B, G = a.data, b.data, np.asarray(grad)
    if B.ndim == 1:
        B, G = B[:, None], np.expand_dims(G, -1)
    if A.ndim == 1:
        A, G = A[None, :], np.expand_dims(G, -2)
    if A.ndim > 2 and B.ndim == 2:        # a batch of rows times one matrix: one big 2-D matmul each
        A, G = A.reshape(-1, A.shape[-1]), G.reshape(-1, G.shape[-1])
    grad_a = G @ np.swapaxes(B, -1, -2) if a.requires_grad else None
    grad_b = np.swapaxes(A, -1, -2) @ G if b.requires_grad else None
    if grad_a is not None and grad_a.ndim < a.ndim:
        grad_a = grad_a.reshape(a.shape)
    if a.ndim == 1 and grad_a is not None:
        grad_a = grad_a[..., 0, :]
    if b.ndim == 1 and grad_b is not None:
        grad_b = grad_b[..., 0]
    return grad_a, grad_b
    ### END SOLUTION
# %% test id="test-vjp-matmul" points=2
check_rule(_matmul_vjp, np.matmul, rng.standard_normal((2, 3)), rng.standard_normal((3, 4)))
check_rule(_matmul_vjp, np.matmul, rng.standard_normal((2, 2, 3)), rng.standard_normal((2, 3, 4)))
check_rule(_matmul_vjp, np.matmul, rng.standard_normal(3), rng.standard_normal((3, 4)))
### BEGIN HIDDEN TESTS
check_rule(_matmul_vjp, np.matmul, rng.standard_normal((2, 3)), rng.standard_normal(3))
check_rule(_matmul_vjp, np.matmul, rng.standard_normal(3), rng.standard_normal(3))
for shape_b in [(3, 2), (3,)]: check_rule(_matmul_vjp, np.matmul, rng.standard_normal((2, 4, 3)), rng.standard_normal(shape_b))
xm, wm = Tensor(rng.standard_normal((4, 3))), Tensor(rng.standard_normal((3, 2)), requires_grad=True)
ga, gb = _matmul_vjp(np.ones((4, 2)), xm @ wm, xm, wm)
assert ga is None and np.allclose(gb, np.asarray(xm.data).sum(axis=0)[:, None] * np.ones(2)), \
    f"a parent without requires_grad: expected None and x^T @ 1, got {ga}, {gb}"
### END HIDDEN TESTS

# %% solution id="vjp-linear"
#| export
def _linear_vjp(grad, out, x, weight, bias=None):
    """z = x @ weight.T (+ bias), module 03's Linear: x (..., in), weight (out, in), bias (out,) or None.

    grad: ndarray (..., out). Returns (grad_x, grad_weight), or (grad_x, grad_weight, grad_bias) with a bias,
    each of its parent's exact shape; None, computing nothing, for a parent whose requires_grad is False.
    Example: x [[1., 2.]], weight [[3., 4.]], bias [0.], grad [[2.]] -> ([[6., 8.]], [[2., 4.]], [2.])
    Hint: reshape to 2-D matrices of rows, one matmul each; a broadcast add's gradient is a sum over rows.
    """
    ### BEGIN SOLUTION
    G = np.asarray(grad).reshape(-1, weight.shape[0])
    grad_x = (G @ weight.data).reshape(x.shape) if x.requires_grad else None
    grad_w = G.T @ x.data.reshape(-1, weight.shape[1]) if weight.requires_grad else None
    if bias is None:
        return grad_x, grad_w
    return grad_x, grad_w, (G.sum(axis=0) if bias.requires_grad else None)
    ### END SOLUTION
# %% test id="test-vjp-linear" points=2
np_linear = lambda v, w, b: v @ w.T + b
check_rule(_linear_vjp, np_linear, rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2))
### BEGIN HIDDEN TESTS
for shape in [(2, 4, 3), (3,)]: check_rule(_linear_vjp, np_linear, rng.standard_normal(shape), rng.standard_normal((2, 3)), rng.standard_normal(2))
check_rule(_linear_vjp, lambda v, w: v @ w.T, rng.standard_normal((5, 3)), rng.standard_normal((2, 3)))
xl, wl, bl = Tensor(rng.standard_normal((4, 3))), Tensor(rng.standard_normal((2, 3)), requires_grad=True), Tensor(np.ones(2))
gx, gw, gb = _linear_vjp(np.ones((4, 2)), None, xl, wl, bl)
assert gx is None and gb is None and np.allclose(gw, np.ones((2, 1)) * np.asarray(xl.data).sum(axis=0)), \
    f"x and bias without requires_grad: expected None, 1^T X, None; got {gx}, {gw}, {gb}"
### END HIDDEN TESTS

# %% [markdown]
# ### Reductions, shape operations and indexing
# `sum` uses each summed element once with weight 1, so $\bar x$ is $\bar z$ copied back to every element it summed;
# `mean` divides that copy by the number $N$ of averaged elements; `max` sends $\bar z$ to the maximal elements,
# ties splitting it evenly (as `torch.amax`): $\bar x_i = \bar z\,[x_i = \max]\,/\,\#\{j : x_j = \max\}$. Unless `keepdims` kept
# them, the reduced axes must be re-inserted before broadcasting back, else NumPy aligns the wrong axes.
# Ops that only move numbers are undone by moving the gradient back: reshape it, swap the same two axes, or
# apply the *inverse* permutation (`np.argsort` of a permutation). For `x[index]`, $\bar x$ is zero except where an
# element was picked, and an element picked **twice** receives both contributions (`np.add.at` adds them all).

# %% solution id="vjp-reductions"
#| export
def _sum_vjp(grad, out, a, axis, keepdims):
    """z = a.sum(axis, keepdims), axis None, an int or a tuple (possibly negative). Returns a 1-tuple of a's
    shape (a read-only broadcast view is fine). Example: a (2, 3), axis 1, grad [1., 2.] -> ([[1., 1., 1.], [2., 2., 2.]],)"""
    ### BEGIN SOLUTION
    if axis is not None and not keepdims:
        grad = np.expand_dims(grad, axis)
    return (np.broadcast_to(grad, a.shape),)
    ### END SOLUTION
def _mean_vjp(grad, out, a, axis, keepdims):
    """z = a.mean(axis, keepdims). Returns a 1-tuple of a's shape. Ex: a (2, 3), axis 1, grad [3., 6.]
    -> ([[1., 1., 1.], [2., 2., 2.]],)"""
    ### BEGIN SOLUTION
    if axis is not None and not keepdims:
        grad = np.expand_dims(grad, axis)
    return (np.broadcast_to(grad, a.shape) * (out.data.size / a.data.size),)
    ### END SOLUTION
def _max_vjp(grad, out, a, axis, keepdims):
    """z = a.max(axis, keepdims). Returns a 1-tuple of a's shape, ties sharing the gradient evenly.
    Example: a [1., 3., 3.], axis None, grad 1. -> ([0., 0.5, 0.5],)"""
    ### BEGIN SOLUTION
    peak = out.data
    if axis is not None and not keepdims:
        grad, peak = np.expand_dims(grad, axis), np.expand_dims(peak, axis)
    mask = a.data == peak
    count = mask.sum(axis=axis, keepdims=True)
    return (mask * np.broadcast_to(grad, a.shape) / count,)
    ### END SOLUTION
# Shape ops and indexing, each returning a 1-tuple of a's shape:
#   _reshape_vjp(grad, out, a) for a.reshape(...); _transpose_vjp(grad, out, a, dim0, dim1) (dims possibly negative);
#   _permute_vjp(grad, out, a, dims) (every axis once, some possibly negative);
#   _getitem_vjp(grad, out, a, index) for a[index], any NumPy index (ints, slices, None, Ellipsis, integer or
#   boolean arrays): zeros of a's shape (dtype of a.data and grad combined) plus grad wherever the index
#   picked, repeats adding up. Example: a [1., 2., 3.], index [0, 0, 2], grad [1., 1., 1.] -> ([2., 0., 1.],)
def _reshape_vjp(grad, out, a):
    ### BEGIN SOLUTION
    return (np.reshape(grad, a.shape),)
    ### END SOLUTION
def _transpose_vjp(grad, out, a, dim0, dim1):
    ### BEGIN SOLUTION
    return (np.swapaxes(grad, dim0, dim1),)
    ### END SOLUTION
def _permute_vjp(grad, out, a, dims):
    ### BEGIN SOLUTION
    inverse = np.argsort([d % a.ndim for d in dims])
    return (np.transpose(grad, inverse),)
    ### END SOLUTION
def _getitem_vjp(grad, out, a, index):
    ### BEGIN SOLUTION
    g = np.zeros(a.shape, dtype=np.result_type(a.data, grad))
    np.add.at(g, index, grad)
    return (g,)
    ### END SOLUTION
# %% test id="test-vjp-reductions" points=3
m, s = rng.standard_normal((3, 4)), rng.standard_normal((2, 3, 4))
check_rule(_sum_vjp, lambda a: a.sum(axis=0), m, axis=0, keepdims=False)
check_rule(_mean_vjp, lambda a: a.mean(axis=1), m, axis=1, keepdims=False)
check_rule(_max_vjp, lambda a: a.max(axis=1), m, axis=1, keepdims=False)
tie = Tensor(np.array([1.0, 3.0, 3.0]))
(got,) = _max_vjp(np.array(1.0), tie.max(), tie, axis=None, keepdims=False)
assert np.allclose(got, [0, 0.5, 0.5]), f"ties share the gradient evenly: expected [0, .5, .5], got {got}"
check_rule(_reshape_vjp, lambda a: a.reshape(4, 6), s), check_rule(_transpose_vjp, lambda a: np.swapaxes(a, 0, 2), s, dim0=0, dim1=2)
check_rule(_permute_vjp, lambda a: np.transpose(a, (2, 0, 1)), s, dims=(2, 0, 1))
check_rule(_getitem_vjp, lambda a: a[1, :, 2:], s, index=(1, slice(None), slice(2, None)))
### BEGIN HIDDEN TESTS
for axis, keep in [(None, False), (None, True), (-1, False), ((0, 2), False), (1, True), ((0, -1), True)]:
    check_rule(_sum_vjp, lambda a: a.sum(axis=axis, keepdims=keep), s, axis=axis, keepdims=keep)
    check_rule(_mean_vjp, lambda a: a.mean(axis=axis, keepdims=keep), s, axis=axis, keepdims=keep)
    check_rule(_max_vjp, lambda a: a.max(axis=axis, keepdims=keep), s, axis=axis, keepdims=keep)
for dims in [(1, 2, 0), (-1, 0, 1)]: check_rule(_permute_vjp, lambda a: np.transpose(a, dims), s, dims=dims)
check_rule(_transpose_vjp, lambda a: np.swapaxes(a, -1, 1), s, dim0=-1, dim1=1)
fancy = (np.array([0, 1, 1]), np.array([2, 0, 0]))
check_rule(_getitem_vjp, lambda a: a[fancy], s, index=fancy)
v = Tensor(np.array([1.0, 2.0, 3.0]))
(got,) = _getitem_vjp(np.ones(4), v[[0, 0, 2, 0]], v, index=[0, 0, 2, 0])
assert np.allclose(got, [3, 0, 1]), f"a repeated index collects its gradient each time: expected [3, 0, 1], got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ### Activations (module 02) and binary cross-entropy (module 04)
# With $s = \sigma(x)$, $t = \tanh(x)$ (both `out`): $\sigma' = s(1-s)$, $\tanh' = 1 - t^2$, $\mathrm{relu}'(x) = [x > 0]$. GELU is
# $y = \tfrac12 x(1 + \tanh u)$ with $u = c(x + 0.044715\,x^3)$, $c = \sqrt{2/\pi}$, so by the product and chain rules
# $y' = s + 2x\,s(1-s)\,c\,(1 + 3\cdot 0.044715\,x^2)$ with $s = \tfrac12(1+\tanh u) = y/x$ (as $1 - \tanh^2 u = 4s(1-s)$): read from `out`,
# no tanh recomputed; $s = \tfrac12$ where $x$ is (almost) 0. In place, it allocates two arrays, not six. **Softmax** along `dim` is not
# elementwise: $\partial s_i/\partial x_j = s_i(\delta_{ij} - s_j)$, so $\bar x_j = \sum_i \bar s_i s_i (\delta_{ij} - s_j) = s_j\big(\bar s_j - \sum_i \bar s_i s_i\big)$,
# summing along `dim`. Log-softmax $\ell_i = x_i - \log\sum_k e^{x_k}$ has $\partial \ell_i/\partial x_j = \delta_{ij} - s_j$, $s = e^{\ell}$: $\bar x_j = \bar\ell_j - s_j \sum_i \bar\ell_i$.
# Binary cross-entropy $-(y \log p + (1-y)\log(1-p))$ has $\partial/\partial p = (p - y)/(p(1-p))$, the denominator
# clamped at $10^{-12}$ like PyTorch; with a logit $x$, $p = \sigma(x)$, it becomes $\sigma(x) - y$, finite even for
# $|x| = 800$. Module 04 records the loss per element (`out` of $p$'s shape) or its mean (0-d `out`: shares $1/N$).

# %% solution id="vjp-activations"
#| export
# Six rules, each returning a 1-tuple of x's shape: _relu_vjp(grad, out, x) (slope 0 at 0, like PyTorch),
#   _sigmoid_vjp(grad, out, x), _tanh_vjp(grad, out, x), _gelu_vjp(grad, out, x) (tanh form, from out),
#   _softmax_vjp(grad, out, x, dim), _log_softmax_vjp(grad, out, x, dim).
# Example: _softmax_vjp(np.array([1., 0.]), out, x, dim=-1) with x [0., 0.] -> (array([0.25, -0.25]),)
def _relu_vjp(grad, out, x):
    ### BEGIN SOLUTION
    return (grad * (x.data > 0),)
    ### END SOLUTION
def _sigmoid_vjp(grad, out, x):
    ### BEGIN SOLUTION
    s = out.data
    return (grad * s * (1 - s),)
    ### END SOLUTION
def _tanh_vjp(grad, out, x):
    ### BEGIN SOLUTION
    return (grad * (1 - out.data ** 2),)
    ### END SOLUTION
def _gelu_vjp(grad, out, x):
    ### BEGIN SOLUTION
    xd, y = x.data, out.data
    tmp = np.abs(xd)
    s = np.full_like(y, 0.5)                     # s = y / x, its limit 1/2 where x is (almost) 0
    np.divide(y, xd, out=s, where=tmp > 1e-30)
    np.multiply(xd, xd, out=tmp); tmp *= 3 * 0.044715; tmp += 1; tmp *= xd; tmp *= 2 * math.sqrt(2 / math.pi)
    tmp *= s; np.subtract(1, tmp, out=tmp)       # 1 - u, u = 2cx(1 + 3kx^2) s: in place, no new arrays
    np.subtract(1, s, out=s); s *= tmp; np.subtract(1, s, out=s)     # s + u(1 - s) = 1 - (1 - s)(1 - u)
    s *= grad
    return (s,)
    ### END SOLUTION
def _softmax_vjp(grad, out, x, dim):
    ### BEGIN SOLUTION
    s = out.data
    return (s * (grad - np.sum(grad * s, axis=dim, keepdims=True)),)
    ### END SOLUTION
def _log_softmax_vjp(grad, out, x, dim):
    ### BEGIN SOLUTION
    return (grad - np.exp(out.data) * np.sum(grad, axis=dim, keepdims=True),)
    ### END SOLUTION
def _bce_vjp(grad, out, p, target):
    """z = BCE(p, target) per element or averaged (0-d out); target an ndarray of p's shape. Returns a
    1-tuple of p's shape. Example: p [0.5, 0.5], target [1., 0.], out their mean, grad 1. -> ([-1., 1.],)"""
    ### BEGIN SOLUTION
    scale = 1.0 if out.shape == p.shape else out.data.size / p.data.size
    pd = p.data
    return (grad * scale * (pd - target) / np.maximum(pd * (1 - pd), 1e-12),)
    ### END SOLUTION
def _bce_with_logits_vjp(grad, out, x, target):
    """z = BCEWithLogits(x, target), per element or averaged. Returns a 1-tuple of x's shape, finite and
    warning-free for any logit. Example: x [-800., 800.], target [0., 1.], grad [1., 1.] -> ([0., 0.],)
    Hint: exp of a non-positive number never overflows."""
    ### BEGIN SOLUTION
    scale = 1.0 if out.shape == x.shape else out.data.size / x.data.size
    e = np.exp(-np.abs(x.data))
    sig = np.where(x.data >= 0, 1 / (1 + e), e / (1 + e))
    return (grad * scale * (sig - target),)
    ### END SOLUTION
# %% test id="test-vjp-activations" points=3
acts = rng.standard_normal((3, 4)) * 2
acts[np.abs(acts) < 0.05] = 0.5          # keep relu's kink away from the finite differences
target = (rng.uniform(size=(3, 4)) > 0.5).astype(np.float64)
for rule, f in [(_relu_vjp, lambda v: np.maximum(v, 0)), (_sigmoid_vjp, lambda v: 0.5 * (1 + np.tanh(0.5 * v))),
                (_tanh_vjp, np.tanh), (_gelu_vjp, np_gelu)]:
    check_rule(rule, f, acts)
check_rule(_softmax_vjp, lambda v: np.exp(np_log_softmax(v, -1)), acts, dim=-1)
check_rule(_log_softmax_vjp, lambda v: np_log_softmax(v, -1), acts, dim=-1)
check_rule(_bce_vjp, lambda p: np_bce(p, target), rng.uniform(0.1, 0.9, (3, 4)), target=target)
check_rule(_bce_with_logits_vjp, lambda v: np_bce_logits(v, target), acts, target=target)
### BEGIN HIDDEN TESTS
check_rule(_softmax_vjp, lambda v: np.exp(np_log_softmax(v, 0)), acts, dim=0)
check_rule(_log_softmax_vjp, lambda v: np_log_softmax(v, 0), acts, dim=0)
check_rule(_bce_vjp, lambda p: np_bce(p, target).mean(), rng.uniform(0.1, 0.9, (3, 4)), target=target)
check_rule(_bce_with_logits_vjp, lambda v: np_bce_logits(v, target).mean(), acts, target=target)
(got,) = _relu_vjp(np.ones(3), big := Tensor(np.array([-2.0, 0.0, 2.0])), big)
assert np.allclose(got, [0, 0, 1]), f"relu'(0) is 0 like PyTorch: expected [0, 0, 1], got {got}"
(got,), exp = _gelu_vjp(np.ones(3), Tensor(np_gelu(big.data)), big), [-0.0860993, 0.5, 1.0860993]
assert np.allclose(got, exp, atol=1e-6), f"GELU'(x) at x = -2, 0 (the limit 1/2), 2: expected {exp}, got {got}"
(got,) = _bce_with_logits_vjp(np.ones(3), big := Tensor(np.array([-800.0, 800.0, 0.0])), big, target=np.array([0.0, 1.0, 1.0]))
assert np.allclose(got, [0, 0, -0.5]), f"sigmoid(x) - target without overflow: expected [0, 0, -0.5], got {got}"
(got,) = _bce_vjp(np.ones(3), edge := Tensor(np.array([0.0, 1.0, 0.5])), edge, target=np.array([1.0, 0.0, 1.0]))
assert np.allclose(got, [-1e12, 1e12, -2]), f"denominator clamped at 1e-12: expected [-1e12, 1e12, -2], got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## The engine
# A tensor's gradient is complete only when every tensor that *uses* it has sent its share ($y = 3x$, $L = 2y + 5y$:
# `y` collects $2 + 5$ before anything flows on to `x`). So the engine visits the graph in **reverse topological
# order**, holding each tensor's gradient so far: a leaf the user asked about stores it, any other tensor hands it
# to its op's rule, whose results go, unbroadcast, to the parents. Gradients **add up**, along several paths and
# across passes (until module 06's `zero_grad`); the graph is kept, so `backward` may run twice. A topological order
# comes from a depth-first search; loop-built graphs can be deeper than Python's recursion limit (~1000 frames).

# %% solution id="topological-order"
#| export
def topological_order(tensor):
    """Every tensor that `tensor` depends on through `_parents` (itself included), each exactly once, each
    after all of its parents, `tensor` last. The graph has no cycles but may reach a tensor along many
    paths (x in x * y + x). Returns a list of Tensors; chains thousands of ops deep must work.
    Example: z = x * y + x  ->  [x, y, x*y, z] or [y, x, x*y, z]
    Hint: Tensors compare elementwise and are not hashable: remember visited ones by id().
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
tx, ty = Tensor(np.array([2.0]), requires_grad=True), Tensor(np.array([3.0]), requires_grad=True)
values = [t.data.item() for t in topological_order(tx * ty + tx)]      # x 2, y 3, x*y 6, z 8
assert sorted(values) == [2, 3, 6, 8] and values[-1] == 8 and values.index(6) > max(values.index(2), values.index(3)), \
    f"expected x (2), y (3), then x*y (6), then z (8), each once, got {values}"
### BEGIN HIDDEN TESTS
top = Tensor(np.array([1.0]), requires_grad=True)
for _ in range(3000): top = top * 1.0
n = len(topological_order(top))
assert n == 6001, f"a 3000-op chain: expected 6001 nodes (with the constants), got {n}"
o = topological_order(Tensor(np.array([4.0])))
assert [t.data.item() for t in o] == [4.0], f"a leaf alone: expected [leaf], got {len(o)} nodes"
### END HIDDEN TESTS

# %% solution id="engine"
#| export
def backward(tensor, gradient=None):
    """Accumulate d(tensor)/d(leaf) into leaf.grad for every leaf of tensor's graph with requires_grad.

    gradient: dL/d(tensor), array-like or Tensor of tensor's shape, cast to tensor's dtype; None means ones,
    allowed for a one-element tensor only. Raised before any work: RuntimeError if tensor.requires_grad is
    False; RuntimeError naming tensor's shape if gradient is None for several elements; ValueError naming
    the shape of a gradient of the wrong shape. Each tensor receives the sum of what its users send; a
    recorded tensor passes it through the rule VJP[op] (no rule: RuntimeError naming the op), each result
    going, unbroadcast, to its parent, except None results and parents without requires_grad; a leaf with
    requires_grad accumulates it: a None .grad becomes a new Tensor holding it in the leaf's dtype, else the
    same .grad Tensor gets the sum as a NEW .data array (an optimizer may still hold the old one); a gradient
    of the wrong shape reaching a leaf -> RuntimeError naming both shapes. Other tensors never get .grad, and
    their gradients are dropped as soon as passed on. Graphs thousands of ops deep work. Returns None.
    Example: x = Tensor(2.0, requires_grad=True); y = x * 3; backward(y * 2 + y * 5) -> x.grad == 21
    """
    ### BEGIN SOLUTION
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
    grads = {id(tensor): gradient}
    for node in reversed(topological_order(tensor)):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        if node._op is None:
            if g.shape != node.shape:
                raise RuntimeError(f"gradient of shape {g.shape} reached a leaf of shape {node.shape}: "
                                   "a VJP rule or unbroadcast returned the wrong shape")
            g = np.asarray(g, dtype=node.dtype)
            if node.grad is None:
                node.grad = Tensor(g)
            else:
                node.grad.data = node.grad.data + g
            continue
        if node._op not in VJP:
            raise RuntimeError(f"no VJP rule for op {node._op!r}: add one to tinytorch_lib.autograd.VJP")
        parent_grads = VJP[node._op](g, node, *node._parents, **node._ctx)
        for parent, pg in zip(node._parents, parent_grads):
            if pg is None or not parent.requires_grad:
                continue
            pg = unbroadcast(pg, parent.shape)
            grads[id(parent)] = grads[id(parent)] + pg if id(parent) in grads else pg
    ### END SOLUTION

# %%
#| export
VJP = {"add": _add_vjp, "sub": _sub_vjp, "mul": _mul_vjp, "div": _div_vjp, "neg": _neg_vjp, "pow": _pow_vjp,
       "exp": _exp_vjp, "log": _log_vjp, "sqrt": _sqrt_vjp, "matmul": _matmul_vjp, "linear": _linear_vjp,
       "sum": _sum_vjp, "mean": _mean_vjp, "max": _max_vjp, "reshape": _reshape_vjp, "transpose": _transpose_vjp,
       "permute": _permute_vjp, "getitem": _getitem_vjp, "relu": _relu_vjp, "sigmoid": _sigmoid_vjp,
       "tanh": _tanh_vjp, "gelu": _gelu_vjp, "softmax": _softmax_vjp, "log_softmax": _log_softmax_vjp,
       "bce": _bce_vjp, "bce_with_logits": _bce_with_logits_vjp}
register_backward_engine(backward)

# %% test id="test-engine" points=3
x = Tensor(np.array(2.0), requires_grad=True)
backward((y := x * 3) * 2 + y * 5)
got = None if x.grad is None else float(x.grad.data)
assert got == 21.0, f"y = 3x is used twice: d(2y + 5y)/dx = 21 expected, got {got}"
a, b = Tensor(np.ones((2, 3)), requires_grad=True), Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
backward((a * b).sum())
got = None if b.grad is None else np.asarray(b.grad.data)
assert got is not None and got.shape == (3,) and np.allclose(got, 2), f"b (3,) used in 2 rows: expected [2, 2, 2], got {got}"
check_backward(lambda W, X, C: ((((X @ W + C) ** 2).mean(axis=0) * (X[:, :2] ** 2).sum(axis=0)).sum() / (((W.T @ W) ** 2 + 1) ** 0.5).sum()),
               rng.standard_normal((3, 2)), rng.standard_normal((4, 3)), rng.standard_normal((1, 2)))
### BEGIN HIDDEN TESTS
acc = Tensor(np.array([1.0, 2.0]), requires_grad=True)
backward((acc * acc).sum())
held_grad, held_data = acc.grad, acc.grad.data
backward((acc * acc).sum())
assert np.allclose(held_grad.data, [4, 8]) and np.allclose(held_data, [2, 4]), \
    f"expected the same .grad Tensor updated to [4, 8] and the old array untouched [2, 4], got {held_grad.data}, {held_data}"
const, mid = Tensor(np.array([1.0, 2.0])), acc * 2
backward((mid * const).sum() + const @ mid)
assert const.grad is None and mid.grad is None, "expected .grad only on leaves with requires_grad=True"
vec = Tensor(np.ones((2, 3)), requires_grad=True)
for bad_call, err, text in [(lambda: backward(vec * 2), RuntimeError, "(2, 3)"),
                            (lambda: backward(vec * 2, np.ones(3)), ValueError, "(3,)"),
                            (lambda: backward(Tensor(np.ones(1))), RuntimeError, ""),
                            (lambda: backward(_make(vec.data, (vec,), "mystery").sum()), RuntimeError, "mystery")]:
    try:
        bad_call()
        raise AssertionError(f"expected {err.__name__} mentioning {text!r}, got no error")
    except err as e:
        assert text in str(e), f"expected {err.__name__} mentioning {text!r}, got {e}"
for gradient in [np.ones((2, 3), dtype=np.float32), Tensor(np.ones((2, 3))), [[0.5] * 3] * 2]: backward(vec * 2, gradient)
assert vec.grad.dtype == np.float64 and np.allclose(vec.grad.data, 5), f"expected float64 5s, got {vec.grad.data}"
f32, one = Tensor([1.0, 2.0], requires_grad=True), Tensor(np.array([2.0]), requires_grad=True)
backward((f32 * Tensor(np.array([0.5, 0.5]))).sum())          # a float64 constant: float64 gradients reach f32
backward(one * one)
assert f32.grad.dtype == np.float32 and np.allclose(one.grad.data, 4), f"expected a float32 grad and 4, got {f32.grad}, {one.grad}"
chain = out = Tensor(np.array(1.0), requires_grad=True)
for _ in range(3000): out = out * 1.0
backward(out)
assert float(chain.grad.data) == 1.0, f"a 3000-op chain: expected 1, got {chain.grad.data}"
### END HIDDEN TESTS

# %% [markdown]
# ## Switching off
# `no_grad()` turns recording off (evaluation, optimizer updates) and restores the previous mode, even on an error.

# %% solution id="no-grad"
#| export
@contextlib.contextmanager
def no_grad():
    """Context manager (and decorator): operations inside record no graph; the mode active before is
    restored afterwards, also after an exception. Hint: set_grad_enabled returns the old mode."""
    ### BEGIN SOLUTION
    previous = set_grad_enabled(False)
    try:
        yield
    finally:
        set_grad_enabled(previous)
    ### END SOLUTION
# %% test id="test-no-grad" points=2
w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
(w * w * 3).sum().backward()
assert np.allclose(w.grad.data, [6, -12]), f"d(3 w^2)/dw = 6w: expected [6, -12], got {w.grad.data}"
with no_grad():
    frozen, inside = w * 2, is_grad_enabled()
assert not inside and is_grad_enabled(), f"expected recording off inside, on after: got {inside}, {is_grad_enabled()}"
assert frozen._op is None and not frozen.requires_grad, f"expected nothing recorded, got op {frozen._op}"
### BEGIN HIDDEN TESTS
with contextlib.suppress(KeyError), no_grad():
    raise KeyError("an error inside no_grad")
with no_grad():
    with no_grad(): pass
    still_off = is_grad_enabled()
assert is_grad_enabled() and not still_off, "expected the previous mode restored, after an exception and when nested"
### END HIDDEN TESTS

# %% [markdown]
# ## Systems note: what backward costs
# Backward of a matmul is two matmuls: about **twice** the forward if nothing unneeded is computed (`None` for the input
# batch). The graph keeps every intermediate alive until backward is done: memory that grows with the batch (`no_grad`!).

# %%
import matplotlib.pyplot as plt, timeit
from threadpoolctl import threadpool_limits       # one BLAS thread: steadier timings on a shared machine
gen = np.random.default_rng(0)
W1, W2 = (Tensor(gen.standard_normal(shape).astype(np.float32) * 0.03, requires_grad=True) for shape in [(784, 512), (512, 10)])
best = lambda fn: min(timeit.repeat(fn, number=1, repeat=5)) * 1e3       # milliseconds
def measure(batch):
    xb = Tensor(gen.standard_normal((batch, 784)).astype(np.float32))
    forward = lambda: (((xb @ W1) ** 2) @ W2).mean()
    loss = forward()
    return batch, best(forward), best(loss.backward), sum(t.data.nbytes for t in topological_order(loss) if t._op is not None) / 2**20

with threadpool_limits(1):
    n, t_forward, t_backward, graph_mib = np.array([measure(batch) for batch in (32, 64, 128, 256, 512)]).T
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
ax1.plot(n, t_forward, "o-", n, t_backward, "o-"), ax1.legend(["forward", "backward"]), ax1.set(xlabel="batch size", ylabel="ms (best of 5)", title="time")
ax2.plot(n, graph_mib, "o-", label="intermediates kept by the graph")
ax2.axhline((W1.data.nbytes + W2.data.nbytes) / 2**20, color="gray", label="parameters")
ax2.set(xlabel="batch size", ylabel="MiB", title="memory"), ax2.legend(), plt.show()
print(f"batch 512: forward {t_forward[-1]:.1f} ms, backward {t_backward[-1]:.1f} ms, graph {graph_mib[-1]:.1f} MiB")
