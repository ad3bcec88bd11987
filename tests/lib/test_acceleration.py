"""tinytorch_lib.acceleration (module 16): every fast path equals its slow twin to 1e-5 and the fused
layer's gradients pass central differences in float64 and equal those of Linear + GELU."""
import numpy as np
import pytest

from checks import numeric_grad
from tinytorch_lib.acceleration import (FusedLinearGELU, conv2d_direct, conv2d_naive, fused_gelu, linear_gelu,
                                        matmul_blocked, matmul_naive, peak_memory)
from tinytorch_lib.activations import GELU
from tinytorch_lib.layers import Linear
from tinytorch_lib.profiling import count_flops
from tinytorch_lib.spatial import conv2d
from tinytorch_lib.tensor import Tensor, manual_seed

rng = np.random.default_rng(0)


@pytest.mark.parametrize("m,k,n,block", [(13, 17, 9, 4), (70, 65, 67, 64), (3, 130, 2, 64), (5, 5, 5, 100)])
def test_matmul_blocked_equals_blas(m, k, n, block):
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    assert np.allclose(matmul_blocked(a, b, block), a @ b, atol=1e-5)
    assert np.allclose(matmul_naive(a[:6, :7], b[:7, :5]), a[:6, :7] @ b[:7, :5], atol=1e-5)


def test_matmul_shape_errors_name_the_shapes():
    for fn in (matmul_naive, matmul_blocked):
        with pytest.raises(ValueError, match=r"\(2, 3\)"):
            fn(np.ones((2, 3)), np.ones((2, 3)))


@pytest.mark.parametrize("shape,wshape,stride,padding", [((2, 3, 7, 6), (5, 3, 2, 3), 2, 0),
                                                          ((1, 2, 6, 5), (3, 2, 3, 3), 2, 1),
                                                          ((2, 1, 4, 4), (2, 1, 1, 1), 3, 2)])
def test_direct_convolutions_equal_im2col(shape, wshape, stride, padding):
    x, w, b = rng.standard_normal(shape), rng.standard_normal(wshape), rng.standard_normal(wshape[0])
    ref = conv2d(Tensor(x), Tensor(w), Tensor(b), stride, padding).data
    assert np.allclose(conv2d_naive(x, w, b, stride, padding), ref, atol=1e-5)
    assert np.allclose(conv2d_direct(x, w, b, stride, padding), ref, atol=1e-5)


def test_fused_gelu_values_dtype_and_memory():
    z = np.linspace(-12, 12, 10_000).reshape(100, 100)
    assert np.allclose(fused_gelu(z), GELU()(Tensor(z)).data, atol=1e-6)
    assert fused_gelu(z.astype(np.float32)).dtype == np.float32
    assert peak_memory(fused_gelu, z) < 1.3 * z.nbytes < peak_memory(GELU(), Tensor(z))


def test_fused_layer_equals_linear_gelu_values_and_gradients():
    manual_seed(0)
    fused = FusedLinearGELU(4, 3)
    manual_seed(0)
    lin = Linear(4, 3)
    x = rng.standard_normal((2, 5, 4)).astype(np.float32)
    xf, xu = Tensor(x, requires_grad=True), Tensor(x, requires_grad=True)
    yf, yu = fused(xf), GELU()(lin(xu))
    assert yf._op == "linear_gelu" and np.allclose(yf.data, yu.data, atol=1e-5)
    yf.sum().backward()
    yu.sum().backward()
    for a, b in [(xf, xu), (fused.weight, lin.weight), (fused.bias, lin.bias)]:
        assert np.allclose(a.grad.data, b.grad.data, atol=1e-5)
    assert count_flops(fused, (2, 5, 4)) == count_flops(lin, (2, 5, 4)) == 2 * 30 * 4


def test_linear_gelu_gradients_against_central_differences():
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2)
    R = rng.standard_normal((3, 2))
    leaves = [Tensor(a.copy(), requires_grad=True) for a in (x, w, b)]
    (linear_gelu(*leaves) * Tensor(R)).sum().backward()
    for i, leaf in enumerate(leaves):
        def f(v, i=i):
            args = [x, w, b]
            args[i] = v
            return float(np.sum(R * linear_gelu(*(Tensor(a) for a in args)).data))
        assert np.allclose(leaf.grad.data, numeric_grad(f, leaf.data.copy()), rtol=1e-5, atol=1e-7)
