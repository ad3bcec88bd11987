"""Reference-package tests of tinytorch_lib.activations (module 02_activations).

Expected values are worked out by hand or with plain float64 NumPy formulas. The last tests check the
gradients of every activation against central finite differences in float64; they need module 05
and are skipped until `tinytorch_lib.autograd` exists.
"""
import math

import numpy as np
import pytest

from tinytorch_lib.activations import GELU, ReLU, Sigmoid, Softmax, Tanh, log_softmax
from tinytorch_lib.tensor import Tensor
from checks import strict, numeric_grad

X = np.array([-3.0, -1.0, -0.25, 0.0, 0.25, 1.0, 3.0])
ALL = [ReLU, Sigmoid, Tanh, GELU, Softmax]




# ---- values -------------------------------------------------------------------------------------

def test_relu_values():
    assert np.array_equal(ReLU()(Tensor(X)).data, [0, 0, 0, 0, 0.25, 1, 3])


def test_sigmoid_values():
    ref = 1 / (1 + np.exp(-X))
    assert np.allclose(Sigmoid()(Tensor(X)).data, ref, rtol=1e-14, atol=0)
    assert Sigmoid()(Tensor([0.0])).data[0] == 0.5


def test_tanh_values():
    assert np.allclose(Tanh()(Tensor(X)).data, np.tanh(X), rtol=1e-15)


def test_gelu_tanh_approximation():
    c = math.sqrt(2 / math.pi)
    ref = 0.5 * X * (1 + np.tanh(c * (X + 0.044715 * X**3)))
    out = GELU()(Tensor(X)).data
    assert np.allclose(out, ref, rtol=1e-14, atol=1e-16)
    # torch.nn.GELU(approximate="tanh") at -1, 1, 3
    assert np.allclose(GELU()(Tensor([-1.0, 1.0, 3.0])).data, [-0.1588080, 0.8411920, 2.9963627], atol=1e-6)
    exact = np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in X])
    assert 0 < np.abs(out - exact).max() < 1e-3


def test_softmax_values_and_dims():
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    e = np.exp(x)
    assert np.allclose(Softmax()(Tensor(x)).data, e / e.sum(axis=1, keepdims=True), rtol=1e-14)
    assert np.allclose(Softmax(dim=0)(Tensor(x)).data, e / e.sum(axis=0, keepdims=True), rtol=1e-14)
    x3 = np.random.default_rng(0).standard_normal((2, 3, 4))
    for dim in (0, 1, 2, -1, -2, -3):
        p = Softmax(dim=dim)(Tensor(x3)).data
        assert p.shape == x3.shape
        assert np.allclose(p.sum(axis=dim), 1)
        e3 = np.exp(x3)
        assert np.allclose(p, e3 / e3.sum(axis=dim, keepdims=True))


def test_log_softmax_values():
    x = np.random.default_rng(1).standard_normal((3, 5))
    for dim in (0, 1, -1):
        ref = x - np.log(np.exp(x).sum(axis=dim, keepdims=True))
        assert np.allclose(log_softmax(Tensor(x), dim=dim).data, ref, rtol=1e-13)
    assert np.allclose(log_softmax(Tensor([0.0, 0.0])).data, [-math.log(2)] * 2)
    assert np.allclose(log_softmax(np.array([1.0, 1.0, 1.0])).data, -math.log(3)), "accepts ndarrays"


# ---- numerical stability ------------------------------------------------------------------------

@pytest.mark.parametrize("big", [1e4, 1e6])
def test_sigmoid_stable(big):
    with strict():
        out = Sigmoid()(Tensor(np.array([-big, -50.0, 50.0, big]))).data
    assert np.array_equal(out[[0, 3]], [0.0, 1.0])
    assert np.isclose(out[1], math.exp(-50) / (1 + math.exp(-50)), rtol=1e-13)
    with strict():
        out32 = Sigmoid()(Tensor([-big, big])).data
    assert out32.dtype == np.float32 and np.array_equal(out32, [0, 1])


def test_sigmoid_small_tail_precise():
    # 1 - sigmoid(30) would lose every digit; z / (1 + z) keeps them
    out = Sigmoid()(Tensor(np.array([-30.0, -700.0]))).data
    assert np.isclose(out[0], 9.357622968839299e-14, rtol=1e-12)
    assert out[1] > 0


@pytest.mark.parametrize("big", [1e4, 1e6])
def test_softmax_stable(big):
    x = np.array([[big, 0.0, -big], [big, big - 1, big - 2], [-big, -big - 1, -big - 2]])
    ref_row = np.exp([0.0, -1.0, -2.0]) / np.exp([0.0, -1.0, -2.0]).sum()
    with strict():
        p = Softmax()(Tensor(x)).data
        lp = log_softmax(Tensor(x)).data
        p0 = Softmax(dim=0)(Tensor(x)).data
    assert np.allclose(p, [[1, 0, 0], ref_row, ref_row], rtol=1e-12, atol=0)
    assert np.allclose(lp[1:], np.log([ref_row, ref_row]), rtol=1e-12)
    assert np.allclose(lp[0], [0.0, -big, -2 * big], rtol=1e-12)
    assert np.isfinite(lp).all()
    assert np.allclose(p0.sum(axis=0), 1)
    with strict():
        p32 = Softmax()(Tensor([[big, -big]])).data
    assert p32.dtype == np.float32 and np.array_equal(p32, [[1, 0]])


# ---- dtypes, shapes, recording ------------------------------------------------------------------

@pytest.mark.parametrize("cls", ALL)
def test_dtype_and_shape_kept(cls):
    for dtype in (np.float32, np.float64):
        x = Tensor(np.linspace(-2, 2, 12).reshape(3, 4).astype(dtype))
        y = cls()(x)
        assert isinstance(y, Tensor) and y.shape == (3, 4) and y.dtype == dtype
    assert log_softmax(Tensor(np.zeros((2, 2), np.float32))).dtype == np.float32


@pytest.mark.parametrize("cls,op", [(ReLU, "relu"), (Sigmoid, "sigmoid"), (Tanh, "tanh"), (GELU, "gelu")])
def test_records_elementwise_op(cls, op):
    x = Tensor(X.copy(), requires_grad=True)
    y = cls()(x)
    assert y.requires_grad and y._op == op and y._parents == (x,) and y._ctx == {}
    assert np.array_equal(x.data, X), "the input must not be modified"
    plain = cls()(Tensor(X.copy()))
    assert not plain.requires_grad and plain._op is None


def test_softmax_records_dim():
    x = Tensor(np.zeros((2, 3)), requires_grad=True)
    for dim in (0, -1):
        s = Softmax(dim=dim)(x)
        assert s._op == "softmax" and s._ctx == {"dim": dim} and s._parents == (x,)
        ls = log_softmax(x, dim=dim)
        assert ls._op == "log_softmax" and ls._ctx == {"dim": dim} and ls._parents == (x,)
    assert Softmax().dim == -1


def test_callable_accepts_arrays_and_repr():
    assert np.array_equal(ReLU()(np.array([-1.0, 2.0])).data, [0, 2])
    assert ReLU()([-1.0, 2.0]).dtype == np.float32
    assert repr(ReLU()) == "ReLU()" and repr(Softmax(dim=0)) == "Softmax(dim=0)"


# ---- gradients (need module 05) -----------------------------------------------------------------



@pytest.mark.parametrize("make", [ReLU, Sigmoid, Tanh, GELU, Softmax, lambda: Softmax(dim=0),
                                  lambda: (lambda t: log_softmax(t, dim=-1)),
                                  lambda: (lambda t: log_softmax(t, dim=0))])
def test_gradients_finite_differences(make):
    pytest.importorskip("tinytorch_lib.autograd")
    rng = np.random.default_rng(3)
    x0 = rng.standard_normal((3, 4)) * 2
    x0[np.abs(x0) < 0.05] = 0.5                  # keep away from ReLU's kink
    w = rng.standard_normal((3, 4))              # a random upstream gradient
    act = make()
    x = Tensor(x0.copy(), requires_grad=True)
    (act(x) * w).sum().backward()
    num = numeric_grad(lambda v: float((act(Tensor(v)).data * w).sum()), x0)
    assert x.grad is not None and x.grad.shape == x0.shape
    assert np.allclose(x.grad.data, num, rtol=1e-5, atol=1e-7)
