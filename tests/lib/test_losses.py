"""Reference-package tests of tinytorch_lib.losses (module 04_losses).

Every expected value is PyTorch's formula (mean reduction) written out by hand or in float64 NumPy.
Gradient checks need module 05 and are skipped until `tinytorch_lib.autograd` exists.
"""
import math

import numpy as np
import pytest

from tinytorch_lib.layers import Module
from tinytorch_lib.losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from tinytorch_lib.tensor import Tensor
from checks import strict, numeric_grad




def test_losses_are_modules():
    for cls in (MSELoss, CrossEntropyLoss, BCELoss, BCEWithLogitsLoss):
        assert isinstance(cls(), Module) and list(cls().parameters()) == []


# ---- MSE ------------------------------------------------------------------------------------------

def test_mse_values():
    loss = MSELoss()(Tensor([1.0, 2.0, 3.0]), Tensor([1.0, 0.0, 0.0]))
    assert loss.shape == () and np.isclose(loss.item(), 13 / 3) and loss.dtype == np.float32
    pred = np.array([[1.0, -1.0], [0.5, 2.0]])
    target = np.array([[0.0, 1.0], [0.5, 0.0]])
    assert MSELoss()(Tensor(pred), target).item() == pytest.approx(9 / 4, rel=1e-15)


def test_mse_shape_mismatch_warns_and_broadcasts():
    with pytest.warns(UserWarning, match="shape"):
        loss = MSELoss()(Tensor(np.array([[1.0], [2.0]])), np.array([1.0, 2.0]))
    assert loss.item() == pytest.approx((0 + 1 + 1 + 0) / 4)


# ---- cross-entropy --------------------------------------------------------------------------------

def test_cross_entropy_values():
    assert CrossEntropyLoss()(Tensor([[0.0, 0.0, 0.0]]), np.array([1])).item() == pytest.approx(math.log(3))
    lse = math.log(math.e + math.e**2 + math.e**3)
    loss = CrossEntropyLoss()(Tensor(np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])), np.array([2, 0]))
    assert loss.item() == pytest.approx(((lse - 3) + (lse - 1)) / 2, rel=1e-14)
    assert loss.shape == () and loss.dtype == np.float64


def test_cross_entropy_random_against_numpy():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((7, 5)) * 3
    t = rng.integers(0, 5, size=7)
    ref = np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(7), t])
    assert CrossEntropyLoss()(Tensor(z), t).item() == pytest.approx(ref, rel=1e-13)


@pytest.mark.parametrize("big", [1e4, 1e30])
def test_cross_entropy_stable_for_huge_logits(big):
    z = np.array([[big, 0.0], [0.0, big], [-big, big]])
    with strict():
        loss = CrossEntropyLoss()(Tensor(z), np.array([0, 0, 1]))
    assert loss.item() == pytest.approx(big / 3, rel=1e-12)
    with strict():
        loss32 = CrossEntropyLoss()(Tensor([[1e4, -1e4]]), np.array([1]))
    assert loss32.dtype == np.float32 and loss32.item() == pytest.approx(2e4)


def test_cross_entropy_target_kinds():
    z = Tensor(np.array([[0.5, -1.0, 2.0], [3.0, 0.0, 0.0]]))
    ref = CrossEntropyLoss()(z, np.array([2, 0])).item()
    for t in (Tensor(np.array([2, 0])), [2, 0], np.array([2, 0], dtype=np.int32),
              Tensor([2.0, 0.0]), np.array([2.0, 0.0])):
        assert CrossEntropyLoss()(z, t).item() == pytest.approx(ref, rel=1e-15)
    # one unbatched example: logits (C,) and a scalar target
    one = CrossEntropyLoss()(Tensor(np.array([0.5, -1.0, 2.0])), 2).item()
    assert one == pytest.approx(CrossEntropyLoss()(z[0:1], np.array([2])).item())


def test_cross_entropy_errors():
    z = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        CrossEntropyLoss()(z, np.array([0, 1, 2]))
    with pytest.raises(ValueError):
        CrossEntropyLoss()(z, np.array([0.5, 1.0]))
    with pytest.raises(IndexError, match="3"):
        CrossEntropyLoss()(z, np.array([0, 3]))
    with pytest.raises(IndexError):
        CrossEntropyLoss()(z, np.array([-1, 0]))


# ---- BCE ------------------------------------------------------------------------------------------

def test_bce_values():
    loss = BCELoss()(Tensor([0.5, 0.8]), Tensor([1.0, 0.0]))
    assert loss.item() == pytest.approx((math.log(2) + math.log(5)) / 2, rel=1e-6)
    assert loss.dtype == np.float32 and loss.shape == ()
    p = np.array([[0.1, 0.9], [0.3, 1e-30]])
    y = np.array([[0.0, 1.0], [0.25, 1.0]])
    ref = -np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))
    assert BCELoss()(Tensor(p), y).item() == pytest.approx(ref, rel=1e-14)


def test_bce_log_clamped_at_minus_100():
    with strict():
        assert BCELoss()(Tensor([0.0, 1.0]), Tensor([1.0, 0.0])).item() == pytest.approx(100.0)
        assert BCELoss()(Tensor([0.0, 1.0]), Tensor([0.0, 1.0])).item() == 0.0
        half = BCELoss()(Tensor(np.array([0.0])), np.array([0.5])).item()
    assert half == pytest.approx(50.0)                 # 0.5 * 100 + 0.5 * log(1) = 50
    tiny = BCELoss()(Tensor(np.array([1e-50])), np.array([1.0])).item()
    assert tiny == pytest.approx(100.0)                # log(1e-50) = -115 -> clamped


def test_bce_errors():
    with pytest.raises(ValueError, match="between 0 and 1"):
        BCELoss()(Tensor([1.5]), Tensor([1.0]))
    with pytest.raises(ValueError, match="shape"):
        BCELoss()(Tensor([0.5, 0.5]), Tensor([1.0]))


def test_bce_with_logits_values():
    x = np.array([-3.0, -0.5, 0.0, 0.7, 5.0])
    y = np.array([1.0, 0.0, 0.5, 1.0, 0.0])
    s = 1 / (1 + np.exp(-x))
    ref = -np.mean(y * np.log(s) + (1 - y) * np.log(1 - s))
    assert BCEWithLogitsLoss()(Tensor(x), y).item() == pytest.approx(ref, rel=1e-14)
    assert BCEWithLogitsLoss()(Tensor([0.0]), Tensor([1.0])).item() == pytest.approx(math.log(2))
    assert BCEWithLogitsLoss()(Tensor([0.5]), np.array([1])).dtype == np.float32


@pytest.mark.parametrize("big", [40.0, 1e4, 1e30])
def test_bce_with_logits_stable(big):
    with strict():
        wrong = BCEWithLogitsLoss()(Tensor(np.array([big, -big])), np.array([0.0, 1.0])).item()
        right = BCEWithLogitsLoss()(Tensor(np.array([big, -big])), np.array([1.0, 0.0])).item()
    assert wrong == pytest.approx(big, rel=1e-12), "no clamp at 100 for logits"
    assert right == pytest.approx(0.0, abs=1e-17)
    with pytest.raises(ValueError, match="shape"):
        BCEWithLogitsLoss()(Tensor([0.0, 1.0]), np.array([[1.0, 0.0]]))


def test_bce_records_elementwise_ops():
    p = Tensor(np.array([[0.2, 0.6]]), requires_grad=True)
    y = np.array([[1.0, 0.0]])
    for cls, op in ((BCELoss, "bce"), (BCEWithLogitsLoss, "bce_with_logits")):
        loss = cls()(p, y)
        assert loss._op == "mean"
        per = loss._parents[0]
        assert per._op == op and per._parents == (p,) and per.shape == (1, 2)
        assert isinstance(per._ctx["target"], np.ndarray) and np.array_equal(per._ctx["target"], y)


# ---- gradients (need module 05) -------------------------------------------------------------------



rng = np.random.default_rng(42)
CASES = [
    (MSELoss, rng.standard_normal((3, 4)), rng.standard_normal((3, 4))),
    (CrossEntropyLoss, rng.standard_normal((5, 4)) * 2, rng.integers(0, 4, size=5)),
    (BCELoss, rng.uniform(0.05, 0.95, (4, 3)), (rng.uniform(size=(4, 3)) > 0.5).astype(float)),
    (BCELoss, rng.uniform(0.05, 0.95, 6), rng.uniform(size=6)),
    (BCEWithLogitsLoss, rng.standard_normal((4, 3)) * 3, rng.uniform(size=(4, 3))),
]


@pytest.mark.parametrize("cls,x0,target", CASES, ids=[c[0].__name__ for c in CASES])
def test_loss_gradients_finite_differences(cls, x0, target):
    pytest.importorskip("tinytorch_lib.autograd")
    x = Tensor(x0.copy(), requires_grad=True)
    cls()(x, target).backward()
    num = numeric_grad(lambda v: cls()(Tensor(v), target).item(), x0)
    assert np.allclose(x.grad.data, num, rtol=1e-5, atol=1e-8)


def test_closed_form_gradients():
    pytest.importorskip("tinytorch_lib.autograd")
    z0 = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    t = np.array([2, 0])
    z = Tensor(z0.copy(), requires_grad=True)
    CrossEntropyLoss()(z, t).backward()
    soft = np.exp(z0) / np.exp(z0).sum(axis=1, keepdims=True)
    assert np.allclose(z.grad.data, (soft - np.eye(3)[t]) / 2), "dCE/dz = (softmax - onehot) / N"
    x0 = np.array([-1e4, 0.0, 2.0, 1e4])
    y = np.array([1.0, 0.0, 1.0, 1.0])
    x = Tensor(x0.copy(), requires_grad=True)
    with strict():
        BCEWithLogitsLoss()(x, y).backward()
    sig = np.array([0.0, 0.5, 1 / (1 + np.exp(-2.0)), 1.0])
    assert np.allclose(x.grad.data, (sig - y) / 4), "dBCE/dx = (sigmoid(x) - y) / N, even for huge x"
