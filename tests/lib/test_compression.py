"""tinytorch_lib.compression (module 18): magnitude pruning (global and per layer) whose masks survive
optimizer steps, structured pruning of whole neurons, low rank by truncated SVD, Hinton's distillation
loss (the T^2 factor, KL(teacher || student) averaged per sample) with its gradient checked by central
differences in float64, and the sparsity of a model."""
import copy

import numpy as np
import pytest

from checks import numeric_grad, strict
from tinytorch_lib.activations import ReLU
from tinytorch_lib.compression import distillation_loss, low_rank, magnitude_prune, sparsity, structured_prune
from tinytorch_lib.layers import Linear, Sequential
from tinytorch_lib.optim import SGD, Adam, AdamW
from tinytorch_lib.spatial import Conv2d
from tinytorch_lib.tensor import Tensor, manual_seed


def two_layers():
    net = Sequential(Linear(2, 1, bias=False), Linear(3, 1))
    net[0].weight.data = np.array([[1.0, -4.0]], np.float32)
    net[1].weight.data = np.array([[2.0, 3.0, -0.5]], np.float32)
    return net


def test_global_and_layer_scope_by_hand():
    # |w| = [1, 4] and [2, 3, 0.5]; 40% of 5 = 2: global prunes 0.5 and 1
    g = magnitude_prune(two_layers(), 0.4)
    assert g[0].weight_mask.tolist() == [[False, True]] and g[1].weight_mask.tolist() == [[True, True, False]]
    assert g[0].weight.data.tolist() == [[0.0, -4.0]] and np.isclose(sparsity(g), 0.4)
    # per layer: round(0.8) = 1 of the first, round(1.2) = 1 of the second
    lay = magnitude_prune(two_layers(), 0.4, scope="layer")
    assert lay[1].weight.data.tolist() == [[2.0, 3.0, 0.0]] and lay[0].weight.data.tolist() == [[0.0, -4.0]]
    with pytest.raises(ValueError):
        magnitude_prune(two_layers(), 0.5, scope="rows")
    with pytest.raises(ValueError):
        magnitude_prune(two_layers(), -0.1)


def test_sparsity_counts_linear_and_conv_weights_only():
    m = Sequential(Conv2d(1, 2, 2), Linear(2, 2))
    m[0].weight.data[:] = 0                      # 8 zeros
    m[1].weight.data = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
    assert np.isclose(sparsity(m), 9 / 12)
    assert sparsity(Sequential(ReLU())) == 0.0


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda ps: Adam(ps, lr=0.05),
    lambda ps: AdamW(ps, lr=0.05, weight_decay=0.1),
])
def test_masks_survive_optimizer_steps(make):
    manual_seed(0)
    model = Sequential(Linear(6, 8), ReLU(), Linear(8, 3))
    magnitude_prune(model, 0.6)
    masks = [model[0].weight_mask.copy(), model[2].weight_mask.copy()]
    opt = make(list(model.parameters()))
    x = Tensor(np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32))
    for _ in range(5):
        opt.zero_grad()
        (model(x) ** 2).sum().backward()
        opt.step()
        for layer, mask in zip((model[0], model[2]), masks):
            assert np.all(layer.weight.data[~mask] == 0)
            assert np.all(layer.weight.grad.data[~mask] == 0)
    assert np.isclose(sparsity(model), round(0.6 * 72) / 72)


def test_mask_survives_a_deepcopy_and_a_stale_optimizer():
    manual_seed(1)
    lin = Linear(4, 4)
    opt = SGD(list(lin.parameters()), lr=0.1, momentum=0.9)
    x = Tensor(np.ones((2, 4), np.float32))
    opt.zero_grad()
    lin(x).sum().backward()
    opt.step()                                   # momentum everywhere
    magnitude_prune(lin, 0.5)
    opt.zero_grad()
    lin(x).sum().backward()
    opt.step()                                   # the stale momentum moves pruned weights ...
    y = lin(x)                                   # ... the next forward zeroes them again
    assert np.all(lin.weight.data[~lin.weight_mask] == 0)
    assert np.allclose(y.data, x.data @ (lin.weight.data * lin.weight_mask).T + lin.bias.data)
    twin = copy.deepcopy(lin)
    twin.weight.data = np.ones((4, 4), np.float32)
    twin(x)
    assert np.all(twin.weight.data[~lin.weight_mask] == 0) and np.all(lin.weight.data != 1)


def test_pruned_conv_matches_masked_weights():
    manual_seed(2)
    conv = Conv2d(2, 3, 3, stride=2, padding=1)
    ref = copy.deepcopy(conv)
    magnitude_prune(conv, 0.7, scope="layer")
    ref.weight.data = conv.weight.data.copy()
    x = Tensor(np.random.default_rng(1).standard_normal((2, 2, 6, 5)).astype(np.float32))
    assert np.allclose(conv(x).data, ref(x).data, atol=1e-6)
    assert np.isclose(sparsity(conv), round(0.7 * 54) / 54)


def test_structured_prune_drops_weak_neurons_and_keeps_the_function():
    manual_seed(3)
    deep = Sequential(Linear(4, 6), ReLU(), Linear(6, 5), ReLU(), Linear(5, 3))
    for i, dead in [(0, [1, 4]), (2, [0, 3])]:
        deep[i].weight.data[dead] = 0
        deep[i].bias.data[dead] = 0
    small = structured_prune(deep, 0.4)          # round(2.4) = 2 of 6, round(2.0) = 2 of 5
    assert [small[i].weight.shape for i in (0, 2, 4)] == [(4, 4), (3, 4), (3, 3)]
    assert deep[0].weight.shape == (6, 4)
    x = Tensor(np.random.default_rng(2).standard_normal((7, 4)).astype(np.float32))
    assert np.allclose(small(x).data, deep(x).data, atol=1e-6)


def test_low_rank():
    manual_seed(4)
    lin = Linear(8, 5)
    x = Tensor(np.random.default_rng(3).standard_normal((4, 8)).astype(np.float32))
    full = low_rank(lin, 5)
    assert [l.weight.shape for l in full] == [(5, 8), (5, 5)] and full[0].bias is None
    assert np.allclose(full(x).data, lin(x).data, atol=1e-5)
    W = lin.weight.data.astype(np.float64)
    S = np.linalg.svd(W, compute_uv=False)
    two = low_rank(lin, 2)
    err = np.linalg.norm(two[1].weight.data.astype(np.float64) @ two[0].weight.data - W)
    assert np.isclose(err, np.sqrt((S[2:] ** 2).sum()), rtol=1e-4)
    with pytest.raises(ValueError):
        low_rank(lin, 6)


def reference(zs, zt, y, T, alpha):
    def log_sm(z):
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    p = np.exp(log_sm(zt / T))
    kl = (p * (log_sm(zt / T) - log_sm(zs / T))).sum(axis=1).mean()     # KL(teacher || student), per sample
    return alpha * T * T * kl + (1 - alpha) * -log_sm(zs)[np.arange(len(y)), y].mean()


def test_distillation_loss_by_hand():
    # two classes, teacher logits [0, 0] -> p = [0.5, 0.5]; student [ln 3, 0] at T = 1 -> q = [0.75, 0.25]
    # KL = 0.5 ln(0.5/0.75) + 0.5 ln(0.5/0.25) = 0.5 ln(4/3) ~ 0.143841; CE(target 0) = -ln 0.75
    zs, zt, y = np.array([[np.log(3.0), 0.0]]), np.zeros((1, 2)), np.array([0])
    got = float(distillation_loss(Tensor(zs), zt, y, temperature=1.0, alpha=0.5).data)
    assert np.isclose(got, 0.5 * 0.5 * np.log(4 / 3) + 0.5 * -np.log(0.75))
    same = distillation_loss(Tensor(zs), zs, y, temperature=3.0, alpha=0.5)
    assert np.isclose(float(same.data), 0.5 * -np.log(0.75))


@pytest.mark.parametrize("T, alpha", [(1.0, 0.5), (4.0, 1.0), (2.0, 0.3), (0.5, 0.0)])
def test_distillation_loss_against_reference_and_finite_differences(T, alpha):
    rng = np.random.default_rng(5)
    zs, zt, y = rng.standard_normal((4, 5)) * 2, rng.standard_normal((4, 5)) * 2, rng.integers(0, 5, 4)
    s = Tensor(zs, requires_grad=True)
    t = Tensor(zt, requires_grad=True)
    with strict():
        loss = distillation_loss(s, t, y, temperature=T, alpha=alpha)
        loss.backward()
    assert loss.shape == () and np.isclose(float(loss.data), reference(zs, zt, y, T, alpha))
    assert t.grad is None                                   # the teacher is a constant
    num = numeric_grad(lambda v: reference(v, zt, y, T, alpha), zs.copy())
    assert np.allclose(s.grad.data, num, rtol=1e-5, atol=1e-7)
