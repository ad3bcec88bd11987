"""tinytorch_lib.spatial (module 09): Conv2d and pooling, forward against an independent reference,
backward against central differences in float64, PyTorch's init and tie rule, no per-pixel loop."""
import sys

import numpy as np
import pytest

from checks import numeric_grad, strict
from tinytorch_lib.layers import Flatten, Linear, Sequential
from tinytorch_lib.spatial import AvgPool2d, Conv2d, MaxPool2d
from tinytorch_lib.tensor import Tensor, get_generator, manual_seed

rng = np.random.default_rng(0)


def reference_conv(x, w, b, stride, padding):
    xp = np.pad(x, [(0, 0), (0, 0), (padding, padding), (padding, padding)])
    win = np.lib.stride_tricks.sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("nchwuv,ocuv->nohw", win, w) + (0 if b is None else b[None, :, None, None])


def windows(x, k, s):
    return np.lib.stride_tricks.sliding_window_view(x, k, axis=(2, 3))[:, :, ::s[0], ::s[1]]


def check_grads(module, x):
    """Backward of sum(R * module(x)) against central differences, for x and every parameter."""
    for p in module.parameters():
        p.data = p.data.astype(np.float64)
    xt = Tensor(x, requires_grad=True)
    out = module(xt)
    R = rng.standard_normal(out.shape)
    with strict():
        (out * Tensor(R)).sum().backward()
    f = lambda: float(np.sum(R * module(Tensor(xt.data)).data))

    def wrt(t):
        def g(v):
            old, t.data = t.data, v
            try:
                return f()
            finally:
                t.data = old
        return g

    for t in [xt, *module.parameters()]:
        assert np.allclose(t.grad.data, numeric_grad(wrt(t), t.data.copy()), rtol=1e-5, atol=1e-7), t.shape


CONV_CASES = [  # (x shape, in, out, kernel, stride, padding, bias)
    ((2, 3, 5, 4), 3, 4, 3, 1, 1, True),
    ((2, 2, 7, 6), 2, 3, 3, 2, 1, True),       # stride 2, padding, non-square input
    ((1, 2, 6, 9), 2, 2, (2, 3), 2, 0, False),  # non-square kernel, no bias
    ((1, 1, 5, 5), 1, 2, 5, 1, 2, True),
    ((3, 2, 4, 4), 2, 1, 1, 3, 0, True),
]


@pytest.mark.parametrize("shape, cin, cout, k, s, p, bias", CONV_CASES)
def test_conv_forward_matches_the_reference(shape, cin, cout, k, s, p, bias):
    conv = Conv2d(cin, cout, k, stride=s, padding=p, bias=bias)
    x = rng.standard_normal(shape).astype(np.float32)
    out = conv(Tensor(x))
    ref = reference_conv(x, conv.weight.data, None if conv.bias is None else conv.bias.data, s, p)
    assert out.shape == ref.shape and out.dtype == np.float32
    assert np.allclose(out.data, ref, atol=1e-5)


@pytest.mark.parametrize("shape, cin, cout, k, s, p, bias", CONV_CASES)
def test_conv_backward_by_finite_differences(shape, cin, cout, k, s, p, bias):
    check_grads(Conv2d(cin, cout, k, stride=s, padding=p, bias=bias), rng.standard_normal(shape))


@pytest.mark.parametrize("pool, k, s, shape", [
    (MaxPool2d, 2, None, (2, 3, 4, 6)), (MaxPool2d, 3, 2, (1, 2, 7, 5)), (MaxPool2d, (2, 3), 1, (2, 1, 5, 4)),
    (AvgPool2d, 2, None, (2, 3, 4, 6)), (AvgPool2d, 3, 2, (1, 2, 7, 5)), (AvgPool2d, (2, 3), 1, (2, 1, 5, 4)),
])
def test_pools_forward_and_backward(pool, k, s, shape):
    x = rng.standard_normal(shape)
    kk = (k, k) if isinstance(k, int) else k
    ss = kk if s is None else (s, s)
    reduce = np.max if pool is MaxPool2d else np.mean
    assert np.allclose(pool(k, s)(Tensor(x)).data, reduce(windows(x, kk, ss), axis=(-2, -1)))
    check_grads(pool(k, s), x)


def test_max_pool_gradient_goes_to_the_first_max_only():
    x = Tensor(np.array([[[[2.0, 2.0, 1.0, 0.0], [2.0, 0.0, 3.0, 3.0]]]]), requires_grad=True)
    MaxPool2d(2)(x).sum().backward()
    assert x.grad.data.tolist() == [[[[1, 0, 0, 0], [0, 0, 1, 0]]]]      # PyTorch's rule: first in row-major order
    x.grad = None
    MaxPool2d((1, 2), stride=1)(x).sum().backward()                        # overlapping windows add up
    assert x.grad.data.tolist() == [[[[1, 1, 1, 0], [1, 0, 2, 0]]]]


def test_conv_init_like_pytorch():
    manual_seed(7)
    conv = Conv2d(3, 16, 3)
    manual_seed(7)
    bound = 1 / np.sqrt(27)
    w = get_generator().uniform(-bound, bound, (16, 3, 3, 3))
    b = get_generator().uniform(-bound, bound, 16)
    assert conv.weight.dtype == np.float32 and np.allclose(conv.weight.data, w) and np.allclose(conv.bias.data, b)
    assert [n for n, _ in conv.named_parameters()] == ["weight", "bias"]
    assert Conv2d(2, 4, (1, 5), bias=False).bias is None


def test_no_python_work_per_output_pixel():
    """Python-level calls of a forward + backward must not grow with the number of output pixels."""
    def calls(size):
        conv = Conv2d(2, 3, 3, padding=1)
        x = Tensor(np.ones((1, 2, size, size), np.float32), requires_grad=True)
        count = 0

        def prof(frame, event, arg):
            nonlocal count
            count += event in ("call", "c_call")
        sys.setprofile(prof)
        try:
            MaxPool2d(2)(conv(x)).sum().backward()
        finally:
            sys.setprofile(None)
        return count
    assert calls(64) == calls(8)


def test_a_small_cnn_learns():
    manual_seed(0)
    x = rng.standard_normal((32, 1, 6, 6)).astype(np.float32)
    y = (x[:, 0, :3].sum(axis=(1, 2)) > x[:, 0, 3:].sum(axis=(1, 2))).astype(np.int64)   # top half brighter?
    from tinytorch_lib.activations import ReLU
    from tinytorch_lib.losses import CrossEntropyLoss
    from tinytorch_lib.optim import Adam
    model = Sequential(Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(), Linear(36, 2))
    opt = Adam(model.parameters(), lr=0.02)
    for _ in range(60):
        opt.zero_grad()
        loss = CrossEntropyLoss()(model(Tensor(x)), y)
        loss.backward()
        opt.step()
    assert np.mean(model(Tensor(x)).data.argmax(1) == y) > 0.95
