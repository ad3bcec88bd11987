"""Reference-package tests of tinytorch_lib.optim (module 06_optimizers).

Trajectories are checked against the torch.optim update rules written out step by step in float64
NumPy; gradients are fed by hand (p.grad = Tensor(...)) so these tests need no autograd, except the
last ones, which train through the whole stack.
"""
import numpy as np
import pytest

from tinytorch_lib.tensor import Tensor
from tinytorch_lib.optim import SGD, Adam, AdamW, Optimizer


# ---- float64 NumPy references (torch.optim semantics) -------------------------------------------

def ref_sgd(theta, grad_fn, steps, lr, momentum=0.0, weight_decay=0.0):
    theta, buf, path = theta.copy(), None, []
    for _ in range(steps):
        g = grad_fn(theta) + weight_decay * theta
        if momentum != 0:
            buf = g.copy() if buf is None else momentum * buf + g
            g = buf
        theta = theta - lr * g
        path.append(theta.copy())
    return path


def ref_adam(theta, grad_fn, steps, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    theta = theta.copy()
    m, v, path = np.zeros_like(theta), np.zeros_like(theta), []
    for t in range(1, steps + 1):
        g = grad_fn(theta)
        if decoupled:
            theta = theta * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * theta
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        # torch's form: step_size = lr / bc1, denom = sqrt(v) / sqrt(bc2) + eps
        bc1, bc2 = 1 - betas[0] ** t, 1 - betas[1] ** t
        theta = theta - (lr / bc1) * m / (np.sqrt(v) / np.sqrt(bc2) + eps)
        path.append(theta.copy())
    return path


def quadratic(seed, n):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    a = a @ a.T + np.eye(n)
    b = rng.normal(size=n)
    return (lambda th: a @ th + b), rng.normal(size=n)


def run(opt_cls, theta0, grad_fn, steps, **kw):
    p = Tensor(theta0.copy(), requires_grad=True)
    opt = opt_cls([p], **kw)
    path = []
    for _ in range(steps):
        p.grad = Tensor(grad_fn(p.data))
        opt.step()
        path.append(p.data.copy())
    return path


# ---- trajectories ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [
    dict(lr=0.05),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.02, momentum=0.5, weight_decay=0.1),
    dict(lr=0.1, weight_decay=0.3),
])
def test_sgd_trajectory_matches_torch_rule(kw):
    grad_fn, theta0 = quadratic(0, 5)
    got = run(SGD, theta0, grad_fn, 10, **kw)
    ref = ref_sgd(theta0, grad_fn, 10, kw["lr"], kw.get("momentum", 0.0), kw.get("weight_decay", 0.0))
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kw", [
    dict(lr=0.05),
    dict(lr=0.01, betas=(0.8, 0.99), eps=1e-3),
    dict(lr=0.02, weight_decay=0.3),
])
def test_adam_trajectory_matches_torch_rule(kw):
    grad_fn, theta0 = quadratic(1, 4)
    got = run(Adam, theta0, grad_fn, 10, **kw)
    ref = ref_adam(theta0, grad_fn, 10, kw["lr"], kw.get("betas", (0.9, 0.999)), kw.get("eps", 1e-8),
                   kw.get("weight_decay", 0.0))
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("kw", [
    dict(lr=0.05, weight_decay=0.3),
    dict(lr=0.02),
    dict(lr=0.01, betas=(0.5, 0.9), eps=1e-4, weight_decay=1.0),
])
def test_adamw_trajectory_matches_torch_rule(kw):
    grad_fn, theta0 = quadratic(2, 4)
    got = run(AdamW, theta0, grad_fn, 10, **kw)
    ref = ref_adam(theta0, grad_fn, 10, kw["lr"], kw.get("betas", (0.9, 0.999)), kw.get("eps", 1e-8),
                   kw.get("weight_decay", 1e-2), decoupled=True)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-14)


# ---- hand-worked values and classic mistakes -------------------------------------------------------

def test_sgd_momentum_constant_gradient_by_hand():
    p = Tensor(np.array([0.0]), requires_grad=True)
    opt = SGD([p], lr=0.1, momentum=0.9)
    got = []
    for _ in range(3):
        p.grad = Tensor(np.array([1.0]))
        opt.step()
        got.append(p.data[0])
    np.testing.assert_allclose(got, [-0.1, -0.29, -0.561])  # buffer 1, 1.9, 2.71


def test_sgd_nesterov_by_hand_and_needs_momentum():
    p = Tensor(np.array([0.0]), requires_grad=True)
    opt = SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    got = []
    for _ in range(3):
        p.grad = Tensor(np.array([1.0]))
        opt.step()
        got.append(p.data[0])
    np.testing.assert_allclose(got, [-0.19, -0.461, -0.8049])  # steps along g + 0.9 * buffer
    with pytest.raises(ValueError):
        SGD([p], lr=0.1, nesterov=True)


def test_sgd_momentum_buffer_starts_at_first_gradient_and_is_a_copy():
    p = Tensor(np.array([1.0]), requires_grad=True)
    opt = SGD([p], lr=1.0, momentum=0.9)
    p.grad = Tensor(np.array([2.0]))
    first = p.grad
    opt.step()
    assert p.data[0] == -1.0  # first step = plain SGD (not (1 - momentum) * g)
    p.grad = Tensor(np.array([1.0]))
    opt.step()
    assert np.isclose(p.data[0], -1.0 - (0.9 * 2.0 + 1.0))
    assert first.data[0] == 2.0


def test_sgd_weight_decay_by_hand():
    p = Tensor(np.array([2.0]), requires_grad=True)
    opt = SGD([p], lr=0.1, weight_decay=0.5)
    p.grad = Tensor(np.array([0.0]))
    opt.step()
    np.testing.assert_allclose(p.data, [1.9])


def test_adam_constant_gradient_moves_lr_per_step():
    # bias correction with t starting at 1 makes m_hat = g and v_hat = g^2 exactly
    p = Tensor(np.array([0.0, 0.0]), requires_grad=True)
    opt = Adam([p], lr=0.1)
    for t in range(1, 4):
        p.grad = Tensor(np.array([3.0, -0.01]))
        opt.step()
        np.testing.assert_allclose(p.data, [-0.1 * t, 0.1 * t], atol=1e-6)
    assert opt.state[0]["step"] == 3


def test_adam_eps_outside_sqrt():
    p = Tensor(np.array([0.0]), requires_grad=True)
    opt = Adam([p], lr=1.0, eps=1.0)
    p.grad = Tensor(np.array([1e-4]))
    opt.step()
    np.testing.assert_allclose(p.data, [-1e-4 / (1e-4 + 1.0)], rtol=1e-9)


def test_adam_weight_decay_is_l2_and_adamw_is_decoupled():
    # zero gradient: Adam's L2 term goes through the moments (full lr step towards 0),
    # AdamW only shrinks the weights by (1 - lr * wd)
    p = Tensor(np.array([2.0, -4.0]), requires_grad=True)
    opt = Adam([p], lr=0.1, weight_decay=0.5)
    p.grad = Tensor(np.zeros(2))
    opt.step()
    np.testing.assert_allclose(p.data, [1.9, -3.9], atol=1e-6)

    p = Tensor(np.array([2.0, -4.0]), requires_grad=True)
    opt = AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = Tensor(np.zeros(2))
    opt.step()
    np.testing.assert_allclose(p.data, [1.9, -3.8], rtol=1e-12)


def test_defaults_match_torch():
    p = Tensor(np.zeros(1), requires_grad=True)
    adam, adamw, sgd = Adam([p]), AdamW([p]), SGD([p], lr=0.1)
    assert adam.lr == 1e-3 and adam.betas == (0.9, 0.999) and adam.eps == 1e-8 and adam.weight_decay == 0
    assert adamw.lr == 1e-3 and adamw.weight_decay == 1e-2
    assert sgd.momentum == 0 and sgd.weight_decay == 0
    assert isinstance(adamw, Adam) and isinstance(sgd, Optimizer)


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda ps: Adam(ps, lr=0.1, weight_decay=0.1),
    lambda ps: AdamW(ps, lr=0.1, weight_decay=0.1),
])
def test_skips_none_grads_and_never_touches_grads(make):
    p, q = Tensor(np.array([1.0, 1.0]), requires_grad=True), Tensor(np.array([5.0]), requires_grad=True)
    opt = make([p, q])
    p.grad = Tensor(np.array([1.0, -1.0]))
    opt.step()
    assert q.data[0] == 5.0 and q.grad is None
    np.testing.assert_array_equal(p.grad.data, [1.0, -1.0])
    opt.zero_grad()
    assert p.grad is None and q.grad is None


@pytest.mark.parametrize("cls", [SGD, Adam, AdamW])
def test_float32_params_stay_float32_and_keep_identity(cls):
    p = Tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    opt = cls([p], lr=0.1)
    for _ in range(2):
        p.grad = Tensor(np.ones(4, dtype=np.float32))
        opt.step()
    assert p.data.dtype == np.float32 and opt.params[0] is p
    assert not np.allclose(p.data, 1.0)


def test_adam_step_count_is_per_parameter():
    p, q = Tensor(np.array([0.0]), requires_grad=True), Tensor(np.array([0.0]), requires_grad=True)
    opt = Adam([p, q], lr=0.1)
    p.grad = Tensor(np.array([2.0]))
    opt.step()
    q.grad = Tensor(np.array([5.0]))
    opt.step()
    np.testing.assert_allclose(q.data, [-0.1])  # bias-corrected with its own t = 1
    assert opt.state[0]["step"] == 2 and opt.state[1]["step"] == 1


@pytest.mark.parametrize("cls", [SGD, Adam, AdamW])
def test_lr_is_read_at_every_step(cls):
    p = Tensor(np.array([1.0]), requires_grad=True)
    opt = cls([p], lr=0.1)
    p.grad = Tensor(np.array([1.0]))
    opt.step()
    opt.lr = 0.0
    before = p.data.copy()
    opt.step()
    np.testing.assert_array_equal(p.data, before)


def test_bad_arguments_raise():
    p = Tensor(np.zeros(1), requires_grad=True)
    with pytest.raises(ValueError):
        SGD([], lr=0.1)
    with pytest.raises(TypeError):
        SGD(p, lr=0.1)
    with pytest.raises(ValueError):
        Adam([p], lr=-1.0)


def test_accepts_a_generator_of_parameters():
    from tinytorch_lib.layers import Linear
    layer = Linear(3, 2)
    opt = SGD(layer.parameters(), lr=0.1)
    assert len(opt.params) == 2 and opt.params[0] is layer.weight


# ---- through the whole stack (autograd, layers, losses) ------------------------------------------

@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: Adam(ps, lr=0.05),
    lambda ps: AdamW(ps, lr=0.05, weight_decay=1e-4),
])
def test_optimizers_fit_linear_regression(make):
    import tinytorch_lib.autograd  # noqa: F401  (registers the engine)
    from tinytorch_lib.layers import Linear
    from tinytorch_lib.losses import MSELoss
    from tinytorch_lib.tensor import manual_seed

    manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    w_true = np.array([[1.5, -2.0, 0.5]])
    y = x @ w_true.T + 0.3
    layer = Linear(3, 1)
    opt = make(layer.parameters())
    loss_fn = MSELoss()
    for _ in range(300):
        opt.zero_grad()
        loss = loss_fn(layer(Tensor(x)), Tensor(y))
        loss.backward()
        opt.step()
    assert loss.item() < 1e-3
    np.testing.assert_allclose(layer.weight.data, w_true, atol=0.05)
    np.testing.assert_allclose(layer.bias.data, [0.3], atol=0.05)
