"""Reference-package tests of tinytorch_lib.autograd (module 05_autograd).

Every op of the design table is differentiated by the engine and compared with central finite
differences in float64. Ops of modules 02 and 04 are built directly with `_make` and a NumPy forward,
so these tests depend only on modules 01 and 05; the end-to-end checks through the real activation and
loss classes are skipped when those modules are not built.
"""
import importlib.util
import math
import warnings

import numpy as np
import pytest

import tinytorch_lib  # noqa: F401  (importing the package registers the engine)
from tinytorch_lib.autograd import VJP, backward, no_grad, topological_order, unbroadcast
from tinytorch_lib.tensor import Tensor, _make, is_grad_enabled

DESIGN_OPS = {"add", "sub", "mul", "div", "matmul", "neg", "exp", "log", "sqrt", "pow", "sum", "mean", "max",
              "reshape", "transpose", "permute", "getitem", "relu", "sigmoid", "tanh", "gelu", "softmax",
              "log_softmax", "bce", "bce_with_logits"}


def numerical_grad(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        plus = f()
        x[i] = old - eps
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(fn, *arrays, rtol=1e-5, atol=1e-6, seed=0):
    """Gradients of L = sum(R * fn(*inputs)) from the engine vs central differences, in float64."""
    inputs = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = fn(*inputs)
    R = np.random.default_rng(seed).standard_normal(out.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (out * Tensor(R)).sum().backward()
    for k, x in enumerate(inputs):
        expected = numerical_grad(lambda: float(np.sum(R * fn(*inputs).data)), x.data)
        assert x.grad is not None, f"input {k} got no gradient"
        assert x.grad.shape == x.shape and x.grad.dtype == np.float64
        np.testing.assert_allclose(x.grad.data, expected, rtol=rtol, atol=atol, err_msg=f"input {k}")


rng = np.random.default_rng(1)
X23 = rng.standard_normal((2, 3))
Y23 = rng.uniform(0.5, 2.0, (2, 3))
POS = rng.uniform(0.5, 2.0, (3, 2))
S234 = rng.standard_normal((2, 3, 4))
C = math.sqrt(2 / math.pi)


def np_log_softmax(v, dim):
    m = v.max(axis=dim, keepdims=True)
    return v - m - np.log(np.exp(v - m).sum(axis=dim, keepdims=True))


def test_table_covers_every_design_op():
    assert DESIGN_OPS <= set(VJP), f"missing rules: {DESIGN_OPS - set(VJP)}"


# ---- ops of module 01, with broadcasting -----------------------------------------------------------
@pytest.mark.parametrize("fn, arrays", [
    (lambda a, b: a + b, (X23, Y23)), (lambda a, b: a + b, (X23, Y23[0])), (lambda a, b: a + b, (X23, 2.0)),
    (lambda a, b: a - b, (X23, Y23[:, :1])), (lambda a, b: a * b, (X23, Y23)), (lambda a, b: a * b, (X23[0], Y23)),
    (lambda a, b: a / b, (X23, Y23)), (lambda a, b: a / b, (X23, Y23[0, :1])),
    (lambda a: 3 - a, (X23,)), (lambda a: 2 / a, (Y23,)), (lambda a: -a, (X23,)),
    (lambda a: a ** 3, (X23,)), (lambda a: a ** -1.5, (Y23,)), (lambda a: a ** 0.5, (Y23,)),
    (lambda a: a.exp(), (X23,)), (lambda a: a.log(), (Y23,)), (lambda a: a.sqrt(), (Y23,)),
])
def test_elementwise_ops(fn, arrays):
    gradcheck(fn, *arrays)


@pytest.mark.parametrize("sa, sb", [((2, 3), (3, 4)), ((5, 2, 3), (3, 4)), ((2, 2, 3), (2, 3, 4)),
                                    ((2, 1, 2, 3), (3, 3, 2)), ((3,), (3, 4)), ((2, 3), (3,)), ((3,), (3,)),
                                    ((3,), (2, 3, 4)), ((2, 4, 3), (3,))])
def test_matmul(sa, sb):
    gradcheck(lambda a, b: a @ b, rng.standard_normal(sa), rng.standard_normal(sb))


@pytest.mark.parametrize("name", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis, keepdims", [(None, False), (None, True), (0, False), (-1, True), ((0, 2), False),
                                            ((1, -1), True)])
def test_reductions(name, axis, keepdims):
    gradcheck(lambda a: getattr(a, name)(axis=axis, keepdims=keepdims), S234)


def test_max_splits_ties():
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]]), requires_grad=True)
    x.max().backward()
    assert np.array_equal(x.grad.data, [[0, 0.5, 0.5], [0, 0, 0]])
    x.grad = None
    x.max(axis=1).sum().backward()
    assert np.array_equal(x.grad.data, [[0, 0.5, 0.5], [1, 0, 0]])


@pytest.mark.parametrize("fn", [
    lambda a: a.reshape(4, 6), lambda a: a.reshape(-1), lambda a: a.transpose(0, 2), lambda a: a.transpose(-1, 1),
    lambda a: a.permute(2, 0, 1), lambda a: a.permute(-1, 0, 1), lambda a: a[1], lambda a: a[:, 1:, ::2],
    lambda a: a[..., None, 0], lambda a: a[np.array([0, 1, 1]), np.array([2, 0, 0])],
    lambda a: a[Tensor(np.array([1, 1, 0]))], lambda a: a[a.data > 0], lambda a: a[1, 2, 3],
])
def test_shape_ops_and_indexing(fn):
    gradcheck(fn, S234)


def test_transpose_2d():
    gradcheck(lambda a: a.T, X23)


def test_repeated_index_accumulates():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    assert np.array_equal(x.grad.data, [3, 0, 1])


# ---- ops of modules 02 and 04, recorded with _make ---------------------------------------------------
def recorded(op, forward, **ctx):
    return lambda x: _make(forward(x.data), (x,), op, **ctx)


ACT = rng.standard_normal((3, 4)) * 2
ACT[np.abs(ACT) < 0.05] = 0.5
TARGET = (rng.uniform(size=(3, 4)) > 0.5).astype(np.float64)
PROBS = rng.uniform(0.1, 0.9, (3, 4))


def np_bce(p, y):
    return -(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log(1 - p), -100))


def np_bce_logits(v, y):
    return np.maximum(v, 0) - v * y + np.log1p(np.exp(-np.abs(v)))


@pytest.mark.parametrize("op, forward, ctx", [
    ("relu", lambda v: np.maximum(v, 0), {}),
    ("sigmoid", lambda v: 1 / (1 + np.exp(-v)), {}),
    ("tanh", np.tanh, {}),
    ("gelu", lambda v: 0.5 * v * (1 + np.tanh(C * (v + 0.044715 * v ** 3))), {}),
    ("softmax", lambda v: np.exp(np_log_softmax(v, -1)), {"dim": -1}),
    ("softmax", lambda v: np.exp(np_log_softmax(v, 0)), {"dim": 0}),
    ("log_softmax", lambda v: np_log_softmax(v, 1), {"dim": 1}),
    ("log_softmax", lambda v: np_log_softmax(v, -2), {"dim": -2}),
    ("bce_with_logits", lambda v: np_bce_logits(v, TARGET), {"target": TARGET}),
    ("bce_with_logits", lambda v: np_bce_logits(v, TARGET).mean(), {"target": TARGET}),
])
def test_activation_and_loss_ops(op, forward, ctx):
    gradcheck(recorded(op, forward, **ctx), ACT)


@pytest.mark.parametrize("reduce", [lambda l: l, np.mean])
def test_bce(reduce):
    gradcheck(recorded("bce", lambda p: reduce(np_bce(p, TARGET)), target=TARGET), PROBS)


def test_bce_clamped_like_pytorch():
    p = Tensor(np.array([0.0, 1.0, 0.5]), requires_grad=True)
    t = np.array([1.0, 0.0, 1.0])
    with np.errstate(divide="ignore"):
        loss = _make(np_bce(p.data, t), (p,), "bce", target=t)
    assert np.allclose(loss.data, [100, 100, math.log(2)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss.sum().backward()
    assert np.all(np.isfinite(p.grad.data))
    assert np.allclose(p.grad.data, [-1e12, 1e12, -2])


def test_bce_with_logits_extreme_logits():
    x = Tensor(np.array([-800.0, 800.0, 0.0]), requires_grad=True)
    t = np.array([0.0, 1.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _make(np_bce_logits(x.data, t), (x,), "bce_with_logits", target=t).sum().backward()
    assert np.allclose(x.grad.data, [0, 0, -0.5])


# ---- the engine -------------------------------------------------------------------------------------
def test_tensor_used_twice():
    x = Tensor(2.0, requires_grad=True)
    y = x * 3
    (y * 2 + y * 5).backward()
    assert x.grad.item() == 21


def test_same_tensor_both_operands():
    x = Tensor(np.array([3.0]), requires_grad=True)
    (x * x).backward()
    assert x.grad.item() == 6


def test_broadcast_gradient_reduced():
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    s = Tensor(np.array(2.0), requires_grad=True)
    c = Tensor(np.ones((2, 1)), requires_grad=True)
    (a * b * s + c).sum().backward()
    assert b.grad.shape == (3,) and np.array_equal(b.grad.data, [4, 4, 4])
    assert s.grad.shape == () and s.grad.item() == 12
    assert c.grad.shape == (2, 1) and np.array_equal(c.grad.data, [[3], [3]])


def test_grads_accumulate_across_calls():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * x).sum().backward()
    (x * x).sum().backward()
    assert np.array_equal(x.grad.data, [4, 8])
    g = x.grad
    (x * 1).sum().backward()
    assert x.grad is g and np.array_equal(g.data, [5, 9])


def test_only_leaves_requiring_grad_get_grad():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    c = Tensor(np.array([3.0, 4.0]))
    mid = x * 2
    (mid * c).sum().backward()
    assert c.grad is None and mid.grad is None and np.array_equal(x.grad.data, [6, 8])


def test_non_scalar_needs_gradient():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"\(3,\)"):
        (x * 2).backward(np.ones(3))


@pytest.mark.parametrize("make_grad", [np.ones, lambda s: Tensor(np.ones(s)), lambda s: np.ones(s, np.float32)])
def test_gradient_tensor_or_ndarray(make_grad):
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    (x * 2).backward(make_grad((2, 3)))
    assert np.array_equal(x.grad.data, np.full((2, 3), 2.0)) and x.grad.dtype == np.float64


def test_one_element_non_0d_output():
    x = Tensor(np.array([2.0]), requires_grad=True)
    (x * x).backward()
    assert x.grad.item() == 4


def test_backward_without_graph_raises():
    with pytest.raises(RuntimeError):
        Tensor(1.0).backward()


def test_float32_stays_float32():
    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor(np.array([0.5, 0.5]))          # float64 constant
    ((x * 0.5).exp() @ w).backward()
    assert x.grad.dtype == np.float32


def test_long_chain_no_recursion_error():
    x = Tensor(np.array(1.0), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_topological_order():
    x = Tensor([1.0], requires_grad=True)
    a, b = x * 2, x * 3
    z = a * b + a
    order = topological_order(z)
    pos = {id(t): i for i, t in enumerate(order)}
    assert len(pos) == len(order) and order[-1] is z
    for t in order:
        for p in t._parents:
            assert pos[id(p)] < pos[id(t)]


def test_unbroadcast():
    assert unbroadcast(np.ones((4, 2, 3)), (2, 1)).shape == (2, 1)
    assert np.all(unbroadcast(np.ones((4, 2, 3)), (2, 1)) == 12)
    assert unbroadcast(np.ones((2, 3)), ()) == 6
    assert np.array_equal(unbroadcast(np.arange(6.0).reshape(2, 3), (1, 3)), [[3, 5, 7]])


def test_no_grad():
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        y = x * 2
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert not y.requires_grad and y._op is None and y._parents == ()
    with pytest.raises(KeyError):
        with no_grad():
            raise KeyError
    assert is_grad_enabled()

    @no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad and is_grad_enabled()


def test_unknown_op_names_it():
    x = Tensor([1.0], requires_grad=True)
    y = _make(x.data * 2, (x,), "mystery")
    with pytest.raises(RuntimeError, match="mystery"):
        y.sum().backward()


def test_composite_function():
    def f(W, X, b):
        h = (X @ W + b)
        return ((h.exp().mean(axis=0) * (X[:, :2] ** 2).sum(axis=0)).sum() / ((W.T @ W) ** 2 + 1).sqrt().sum())
    gradcheck(f, rng.standard_normal((3, 2)), rng.standard_normal((4, 3)), rng.standard_normal((1, 2)))


# ---- end to end through the real modules 02 and 04 (when built) ---------------------------------------
needs_02 = pytest.mark.skipif(importlib.util.find_spec("tinytorch_lib.activations") is None, reason="02 not built")
needs_04 = pytest.mark.skipif(importlib.util.find_spec("tinytorch_lib.losses") is None, reason="04 not built")


@needs_02
@pytest.mark.parametrize("name", ["ReLU", "Sigmoid", "Tanh", "GELU", "Softmax"])
def test_activation_modules(name):
    from tinytorch_lib import activations
    act = getattr(activations, name)()
    gradcheck(lambda x: act(x), ACT)


@needs_04
def test_loss_modules():
    from tinytorch_lib import losses
    gradcheck(lambda p: losses.BCELoss()(p, Tensor(TARGET)), PROBS)
    gradcheck(lambda x: losses.BCEWithLogitsLoss()(x, Tensor(TARGET)), ACT)
    gradcheck(lambda x, y: losses.MSELoss()(x, y), X23, Y23)
    labels = np.array([0, 3, 1])
    gradcheck(lambda x: losses.CrossEntropyLoss()(x, labels), ACT)
