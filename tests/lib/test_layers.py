"""Reference-package tests of tinytorch_lib.layers (module 03_layers).

Module semantics follow torch.nn.Module (parameter order and names, train/eval, state dicts); values
are worked out by hand or with NumPy. Gradient checks through the layers need module 05 and are
skipped until `tinytorch_lib.autograd` exists.
"""
import warnings

import numpy as np
import pytest

from tinytorch_lib.activations import ReLU, Sigmoid
from tinytorch_lib.layers import Dropout, Flatten, Linear, Module, Sequential
from tinytorch_lib.tensor import Tensor, get_generator, manual_seed
from checks import numeric_grad


class Scale(Module):
    def __init__(self, n=3):
        super().__init__()
        self.w = Tensor(np.ones(n), requires_grad=True)
        self.const = Tensor(np.zeros(n))          # not a parameter

    def forward(self, x):
        return x * self.w


class Net(Module):
    def __init__(self):
        super().__init__()
        self.body = Sequential(Linear(4, 3), ReLU(), Dropout(0.5))
        self.gain = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
        self.head = Linear(3, 2)
        self.blocks = [Scale(2), Scale(2)]

    def forward(self, x):
        return self.head(self.body(x) * self.gain)


# ---- Module ---------------------------------------------------------------------------------------

def test_parameter_order_and_names_follow_pytorch():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    # torch: a module's own parameters first, then each child depth first
    assert names == ["gain", "body.0.weight", "body.0.bias", "head.weight", "head.bias",
                     "blocks.0.w", "blocks.1.w"]
    params = list(net.parameters())
    expected = [net.gain, net.body[0].weight, net.body[0].bias, net.head.weight, net.head.bias,
                net.blocks[0].w, net.blocks[1].w]
    assert len(params) == len(expected) and all(p is q for p, q in zip(params, expected))
    assert all(p.requires_grad for p in params)


def test_parameters_is_a_generator_over_live_tensors():
    lin = Linear(2, 2)
    gen = lin.parameters()
    assert next(gen) is lin.weight and next(gen) is lin.bias
    with pytest.raises(StopIteration):
        next(gen)


def test_shared_modules_and_tensors_counted_once():
    shared = Linear(2, 2)
    seq = Sequential(shared, ReLU(), shared)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    a, b = Scale(), Scale()
    b.w = a.w
    pair = Sequential(a, b)
    assert [n for n, _ in pair.named_parameters()] == ["0.w"]


def test_non_module_children_are_skipped():
    seq = Sequential(ReLU(), Sigmoid())
    assert list(seq.parameters()) == []
    assert [n for n, _ in seq.named_children()] == []
    seq.eval()
    assert not seq.training


def test_train_eval_recursive():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    assert not net.body[2].training and not net.blocks[1].training
    assert net.train() is net and all(m.training for m in net.modules())
    net.train(False)
    assert not net.head.training


def test_modules_and_children():
    net = Net()
    names = [n for n, _ in net.named_modules()]
    assert names == ["", "body", "body.0", "body.2", "head", "blocks.0", "blocks.1"]
    assert [n for n, _ in net.named_children()] == ["body", "head", "blocks.0", "blocks.1"]


def test_zero_grad_sets_none():
    lin = Linear(2, 2)
    lin.weight.grad = Tensor(np.ones((2, 2), np.float32))
    lin.bias.grad = Tensor(np.ones(2, np.float32))
    lin.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None


def test_state_dict_roundtrip_copies():
    manual_seed(0)
    a = Net()
    b = Net()
    sd = a.state_dict()
    assert list(sd) == [n for n, _ in a.named_parameters()]
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    sd["head.weight"][0, 0] = 123.0
    assert a.head.weight.data[0, 0] != 123.0, "state_dict holds copies"
    b.load_state_dict(a.state_dict())
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert np.array_equal(p.data, q.data) and p.data is not q.data and q.dtype == p.dtype
    src = a.state_dict()
    b.load_state_dict(src)
    src["gain"][:] = 5.0
    assert not np.allclose(b.gain.data, 5.0), "load_state_dict copies"
    b.load_state_dict({k: v.astype(np.float64) for k, v in a.state_dict().items()})
    assert b.head.weight.dtype == np.float32, "load keeps the parameter's dtype"


def test_load_state_dict_errors():
    lin = Linear(3, 2)
    with pytest.raises(KeyError, match="bias"):
        lin.load_state_dict({"weight": np.zeros((2, 3))})
    with pytest.raises(KeyError, match="extra"):
        lin.load_state_dict({"weight": np.zeros((2, 3)), "bias": np.zeros(2), "extra": np.zeros(1)})
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        lin.load_state_dict({"weight": np.zeros((3, 2)), "bias": np.zeros(2)})


def test_base_forward_raises_and_repr():
    with pytest.raises(NotImplementedError):
        Module()(1)
    text = repr(Sequential(Linear(2, 3), ReLU(), Dropout(0.1), Flatten()))
    assert "(0): Linear(in_features=2, out_features=3, bias=True)" in text
    assert "(1): ReLU()" in text and "(2): Dropout(p=0.1)" in text


def test_subclass_without_super_init_still_trains():
    class Bare(Module):
        def forward(self, x):
            return x
    m = Bare()
    assert m.training
    m.eval()
    assert not m.training


# ---- Linear ---------------------------------------------------------------------------------------

def test_linear_init_is_pytorch_uniform_from_the_generator():
    manual_seed(42)
    lin = Linear(5, 3)
    g = manual_seed(42)
    bound = 1 / np.sqrt(5)
    w = g.uniform(-bound, bound, size=(3, 5)).astype(np.float32)
    b = g.uniform(-bound, bound, size=(3,)).astype(np.float32)
    assert np.array_equal(lin.weight.data, w) and np.array_equal(lin.bias.data, b)
    assert lin.weight.dtype == np.float32 and lin.weight.requires_grad and lin.bias.requires_grad


def test_linear_init_statistics():
    manual_seed(1)
    lin = Linear(100, 1000)
    w = lin.weight.data
    assert w.shape == (1000, 100) and lin.bias.shape == (1000,)
    assert np.abs(w).max() <= 0.1 and np.abs(w).max() > 0.0999
    assert abs(w.mean()) < 1e-3 and abs(w.std() - 0.1 / np.sqrt(3)) < 5e-4
    assert np.abs(lin.bias.data).max() <= 0.1


def test_linear_forward_values():
    lin = Linear(3, 2)
    lin.weight.data = np.array([[1, 0, -1], [2, 1, 0]], dtype=np.float32)
    lin.bias.data = np.array([0.5, -1.0], dtype=np.float32)
    y = lin(Tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))
    assert np.allclose(y.data, [[-1.5, 3.0], [0.5, -1.0]]) and y.dtype == np.float32
    assert lin(Tensor(np.ones((4, 5, 3), np.float32))).shape == (4, 5, 2)
    nb = Linear(3, 2, bias=False)
    assert nb.bias is None and [n for n, _ in nb.named_parameters()] == ["weight"]
    nb.weight.data = lin.weight.data.copy()
    assert np.allclose(nb(Tensor([[1.0, 2.0, 3.0]])).data, [[-2.0, 4.0]])


def test_linear_rejects_wrong_width():
    with pytest.raises(ValueError):
        Linear(3, 2)(Tensor(np.ones((1, 4))))


# ---- Sequential, Flatten, Dropout -----------------------------------------------------------------

def test_sequential():
    l0, l2 = Linear(2, 3), Linear(3, 1)
    seq = Sequential(l0, ReLU(), l2)
    x = Tensor([[1.0, -2.0], [0.5, 0.5]])
    assert np.allclose(seq(x).data, l2(ReLU()(l0(x))).data)
    assert len(seq) == 3 and seq[0] is l0 and seq[-1] is l2 and list(seq)[1].__class__ is ReLU
    with pytest.raises(IndexError):
        seq[3]
    assert Sequential()(x) is x
    outer = Sequential(seq, Linear(1, 1))
    assert [n for n, _ in outer.named_parameters()] == ["0.0.weight", "0.0.bias", "0.2.weight",
                                                        "0.2.bias", "1.weight", "1.bias"]


@pytest.mark.parametrize("shape,args,out", [((2, 3, 4, 5), (), (2, 60)), ((2, 3, 4), (0,), (24,)),
                                            ((2, 3, 4, 5), (1, 2), (2, 12, 5)),
                                            ((2, 3, 4, 5), (-3, -2), (2, 12, 5)),
                                            ((2, 3), (), (2, 3)), ((7,), (0,), (7,))])
def test_flatten_shapes(shape, args, out):
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    y = Flatten(*args)(Tensor(x))
    assert y.shape == out and np.array_equal(y.data.ravel(), x.ravel())


def test_dropout_training_statistics():
    manual_seed(0)
    x = Tensor(np.full((400, 500), 3.0, dtype=np.float32))
    y = Dropout(0.25)(x).data
    assert y.dtype == np.float32
    assert set(np.unique(y)) == {0.0, np.float32(4.0)}
    assert abs((y == 0).mean() - 0.25) < 0.01
    assert abs(y.mean() - 3.0) < 0.03


def test_dropout_reproducible_and_fresh_masks():
    manual_seed(5)
    a = Dropout(0.5)(Tensor(np.ones(64))).data
    b = Dropout(0.5)(Tensor(np.ones(64))).data
    manual_seed(5)
    a2 = Dropout(0.5)(Tensor(np.ones(64))).data
    assert np.array_equal(a, a2) and not np.array_equal(a, b)


def test_dropout_eval_and_edge_cases():
    x = Tensor(np.ones((3, 3)))
    d = Dropout(0.9).eval()
    assert d(x) is x
    assert Dropout(0.0)(x) is x
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(Dropout(1.0)(x).data, np.zeros((3, 3)))
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError):
            Dropout(bad)
    net = Sequential(Linear(3, 3), Sequential(Dropout(0.5)))
    net.eval()
    state = get_generator().bit_generator.state
    net(x)
    assert get_generator().bit_generator.state == state, "eval-mode dropout draws no random numbers"


# ---- gradients (need module 05) -------------------------------------------------------------------



def as_float64(module):
    for p in module.parameters():
        p.data = p.data.astype(np.float64)
    return module


def test_linear_gradients_finite_differences():
    pytest.importorskip("tinytorch_lib.autograd")
    manual_seed(0)
    lin = as_float64(Linear(4, 3))
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((5, 4))
    up = rng.standard_normal((5, 3))
    x = Tensor(x0.copy(), requires_grad=True)
    (lin(x) * up).sum().backward()
    w0, b0 = lin.weight.data.copy(), lin.bias.data.copy()
    f_x = lambda v: float(((v @ w0.T + b0) * up).sum())
    f_w = lambda v: float(((x0 @ v.T + b0) * up).sum())
    f_b = lambda v: float(((x0 @ w0.T + v) * up).sum())
    assert np.allclose(x.grad.data, numeric_grad(f_x, x0), atol=1e-7)
    assert np.allclose(lin.weight.grad.data, numeric_grad(f_w, w0), atol=1e-7)
    assert np.allclose(lin.bias.grad.data, numeric_grad(f_b, b0), atol=1e-7)
    assert np.allclose(lin.weight.grad.data, up.T @ x0) and np.allclose(lin.bias.grad.data, up.sum(0))
    lin.zero_grad()
    assert lin.weight.grad is None


def test_mlp_gradients_finite_differences():
    pytest.importorskip("tinytorch_lib.autograd")
    manual_seed(1)
    net = as_float64(Sequential(Flatten(), Linear(6, 5), Sigmoid(), Linear(5, 2)))
    x0 = np.random.default_rng(1).standard_normal((3, 2, 3))
    (net(Tensor(x0)) ** 2).sum().backward()
    for p in net.parameters():
        base = p.data.copy()

        def f(v, p=p):
            p.data = v
            out = float((net(Tensor(x0)).data ** 2).sum())
            p.data = base
            return out
        assert np.allclose(p.grad.data, numeric_grad(f, base), rtol=1e-5, atol=1e-7)


def test_dropout_gradient_is_the_mask():
    pytest.importorskip("tinytorch_lib.autograd")
    manual_seed(3)
    x = Tensor(np.ones((4, 6)), requires_grad=True)
    y = Dropout(0.5)(x)
    y.sum().backward()
    assert np.array_equal(x.grad.data, y.data), "d(sum(mask * x))/dx = mask = y for x = 1"
