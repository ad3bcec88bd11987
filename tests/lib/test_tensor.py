"""Reference-package tests of tinytorch_lib.tensor (module 01_tensor).

Forward values are worked out by hand; the graph each op records (`_op`, `_parents`, `_ctx`) is the
contract with module 05. Gradients of every op are checked against finite differences in
test_autograd.py (they need module 05).
"""
import numpy as np
import pytest

import tinytorch_lib.tensor as tensor_mod
from tinytorch_lib.tensor import (Tensor, _make, as_tensor, get_generator, is_grad_enabled, manual_seed, ones,
                                  randn, register_backward_engine, set_grad_enabled, zeros)


# ---- construction and dtypes --------------------------------------------------------------------
@pytest.mark.parametrize("data, dtype", [
    (3, np.float32), (2.5, np.float32), (True, np.float32), ([1, 2, 3], np.float32), ([[1.5], [2.0]], np.float32),
    (np.zeros(3), np.float64), (np.zeros(3, dtype=np.float32), np.float32), (np.arange(3), np.int64),
    (np.float64(1.0), np.float64), (np.array([True, False]), np.bool_),
])
def test_dtype_rule(data, dtype):
    t = Tensor(data)
    assert isinstance(t.data, np.ndarray)
    assert t.dtype == dtype


def test_properties():
    t = Tensor([[1, 2, 3], [4, 5, 6]])
    assert t.shape == (2, 3) and t.ndim == 2 and t.numel() == 6 and len(t) == 2
    assert t.requires_grad is False and t.grad is None
    assert t.numpy() is t.data
    assert Tensor(7).item() == 7.0 and isinstance(Tensor(7).item(), float)
    assert Tensor([4.0]).item() == 4.0


def test_truth_value_like_pytorch():
    assert bool(Tensor(1.0)) and not bool(Tensor([0.0]))
    with pytest.raises(RuntimeError, match=r"\(2,\)"):
        bool(Tensor([1.0, 2.0]))


def test_item_of_many_elements_names_shape():
    with pytest.raises(ValueError, match=r"\(2,\)"):
        Tensor([1, 2]).item()


def test_constructor_copies_and_as_tensor_shares():
    src = np.ones(3)
    t = Tensor(src)
    src[0] = 5
    assert t.data[0] == 1
    shared = as_tensor(src)
    assert shared.data is src
    assert as_tensor(t) is t
    assert Tensor(t).data is not t.data and Tensor(t).dtype == np.float64


def test_int_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError, match="int64"):
        Tensor(np.arange(3), requires_grad=True)


def test_data_may_be_assigned():
    t = Tensor([1.0, 2.0])
    t.data = np.array([3.0, 4.0])
    assert np.array_equal((t * 2).data, [6.0, 8.0])


def test_detach():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2).detach()
    assert not y.requires_grad and y._op is None and y._parents == ()
    assert np.array_equal(y.data, [2, 4])


def test_repr():
    assert repr(Tensor([1, 2])) == "Tensor([1., 2.])"
    assert repr(Tensor([1.0], requires_grad=True)) == "Tensor([1.], requires_grad=True)"
    assert repr(Tensor(np.array([1.0]))) == "Tensor([1.], dtype=float64)"
    x = Tensor([1.0], requires_grad=True)
    assert repr(x * 2) == "Tensor([2.], grad_fn=<mul>)"
    assert "\n" in repr(Tensor(np.eye(2, dtype=np.float32)))


# ---- arithmetic -----------------------------------------------------------------------------------
A = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
B = np.array([10.0, 20.0], dtype=np.float32)


def test_arithmetic_values():
    a, b = Tensor(A), Tensor(B)
    assert np.array_equal((a + b).data, [[11, 22], [13, 24]])
    assert np.array_equal((a - b).data, [[-9, -18], [-7, -16]])
    assert np.array_equal((a * b).data, [[10, 40], [30, 80]])
    assert np.allclose((a / b).data, [[0.1, 0.1], [0.3, 0.2]])
    assert np.array_equal((-a).data, -A)
    assert np.array_equal((a ** 2).data, [[1, 4], [9, 16]])
    assert np.allclose((a ** 0.5).data, np.sqrt(A))


def test_reflected_forms():
    a = Tensor(A)
    assert np.array_equal((1 + a).data, A + 1)
    assert np.array_equal((1 - a).data, 1 - A)
    assert np.array_equal((2 * a).data, 2 * A)
    assert np.allclose((2 / a).data, 2 / A)
    assert np.array_equal((np.ones(2) - a).data, 1 - A)
    assert np.array_equal((np.float64(3.0) * a).data, 3 * A)
    assert np.array_equal((np.eye(2) @ a).data, A)
    r = 1 - Tensor([2.0], requires_grad=True)
    assert r._op == "sub" and r._parents[0].item() == 1.0


def test_broadcasting_shapes():
    assert (Tensor(np.ones((2, 1, 3))) + Tensor(np.ones((4, 1)))).shape == (2, 4, 3)
    assert (Tensor(np.ones((3,))) * Tensor(5.0)).shape == (3,)


def test_broadcast_error_names_both_shapes():
    with pytest.raises(ValueError) as err:
        Tensor(np.ones((2, 3))) + Tensor(np.ones(4))
    msg = str(err.value).replace(" ", "")
    assert "(2,3)" in msg and "(4,)" in msg


@pytest.mark.parametrize("other", [2, 0.1, np.float64(0.1), np.float32(2.0)])
def test_scalars_keep_the_tensor_float_dtype(other):
    for dt in (np.float32, np.float64):
        x = Tensor(np.ones(2, dtype=dt))
        for r in (x + other, other * x, x / other, other - x):
            assert r.dtype == dt


def test_float64_scalar_is_not_rounded_to_float32():
    x = Tensor(np.array([1.0]))
    assert (x * 0.1).item() == 0.1


def test_mixed_dtypes_promote_like_numpy():
    assert (Tensor(np.ones(2, np.float32)) + Tensor(np.ones(2))).dtype == np.float64
    assert (Tensor(np.ones(2, np.float32)) * np.ones(2)).dtype == np.float64
    assert (Tensor(np.arange(3)) + 1).dtype == np.int64


def test_pow_needs_a_number():
    with pytest.raises(TypeError):
        Tensor([1.0]) ** Tensor([2.0])


# ---- matmul -------------------------------------------------------------------------------------
def test_matmul_values():
    a = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    b = Tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert np.array_equal((a @ b).data, [[4, 5], [10, 11]])
    assert np.array_equal((a @ Tensor([1.0, 1.0, 1.0])).data, [6, 15])
    assert np.array_equal((Tensor([1.0, 1.0]) @ a).data, [5, 7, 9])
    assert (Tensor([1.0, 2.0]) @ Tensor([3.0, 4.0])).item() == 11


def test_matmul_batched():
    out = Tensor(np.ones((5, 2, 3))) @ Tensor(np.ones((3, 4)))
    assert out.shape == (5, 2, 4) and np.all(out.data == 3)
    out = Tensor(np.ones((2, 1, 2, 3))) @ Tensor(np.ones((4, 3, 5)))
    assert out.shape == (2, 4, 2, 5)


@pytest.mark.parametrize("sa, sb", [((2, 3), (2, 3)), ((3,), (4,)), ((2, 3), (4,)), ((2, 2, 3), (3, 3, 1)), ((), (3,))])
def test_matmul_error_names_both_shapes(sa, sb):
    with pytest.raises(ValueError) as err:
        Tensor(np.ones(sa)) @ Tensor(np.ones(sb))
    assert str(sa) in str(err.value) and str(sb) in str(err.value)


# ---- reductions ---------------------------------------------------------------------------------
M = np.array([[1.0, 5.0, 3.0], [7.0, 2.0, 0.0]])


def test_reductions_values():
    m = Tensor(M)
    assert np.array_equal(m.sum(axis=0).data, [8, 7, 3])
    assert np.array_equal(m.sum(axis=-1).data, [9, 9])
    assert np.array_equal(m.mean(axis=1).data, [3, 3])
    assert np.array_equal(m.max(axis=1).data, [5, 7])
    assert np.array_equal(m.max(axis=0).data, [7, 5, 3])
    assert m.sum(axis=(0, 1)).item() == 18


def test_full_reductions_are_0d():
    m = Tensor(M)
    for r, v in ((m.sum(), 18), (m.mean(), 3), (m.max(), 7)):
        assert r.shape == () and isinstance(r.data, np.ndarray) and r.item() == v


def test_keepdims():
    m = Tensor(M)
    assert m.sum(axis=1, keepdims=True).shape == (2, 1)
    assert m.mean(keepdims=True).shape == (1, 1)
    assert m.max(axis=0, keepdims=True).shape == (1, 3)


def test_reduction_dtypes():
    assert Tensor([1, 2]).sum().dtype == np.float32
    assert Tensor([1, 2]).mean().dtype == np.float32
    assert Tensor(np.array([1.0, 2.0])).mean().dtype == np.float64


# ---- shapes and indexing -------------------------------------------------------------------------
def test_shape_ops():
    x = Tensor(np.arange(24.0))
    y = x.reshape(2, 3, 4)
    assert y.shape == (2, 3, 4) and x.reshape((4, -1)).shape == (4, 6)
    assert np.array_equal(y.transpose(0, 2).data, np.swapaxes(y.data, 0, 2))
    assert np.array_equal(y.transpose(-1, 0).data, np.swapaxes(y.data, -1, 0))
    assert np.array_equal(y.permute(2, 0, 1).data, np.transpose(y.data, (2, 0, 1)))
    assert np.array_equal(y.permute((1, 0, 2)).data, np.transpose(y.data, (1, 0, 2)))
    assert np.array_equal(Tensor(M).T.data, M.T)
    v = Tensor([1.0, 2.0])
    assert v.T is v


def test_getitem():
    g = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert np.array_equal(g[1].data, [4, 5, 6])
    assert np.array_equal(g[:, 1:].data, [[2, 3], [5, 6]])
    assert g[0, 2].shape == () and g[0, 2].item() == 3
    assert np.array_equal(g[np.array([0, 1]), np.array([2, 0])].data, [3, 4])
    assert np.array_equal(g[Tensor(np.array([1, 1]))].data, [[4, 5, 6], [4, 5, 6]])
    assert np.array_equal(g[[0, 0]].data, [[1, 2, 3], [1, 2, 3]])
    assert np.array_equal(g[..., None].shape, (2, 3, 1))
    assert np.array_equal(g[g.data > 3].data, [4, 5, 6])


def test_iteration_by_rows():
    rows = list(Tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert len(rows) == 2 and np.array_equal(rows[1].data, [3, 4])


def test_elementwise_functions():
    e = Tensor([0.0, 1.0, 4.0])
    assert np.allclose(e.exp().data, np.exp([0, 1, 4]))
    assert np.allclose(Tensor([1.0, np.e]).log().data, [0, 1])
    assert np.array_equal(e.sqrt().data, [0, 1, 2])
    assert e.exp().dtype == np.float32


def test_numpy_interop():
    t = Tensor([1.0, 2.0])
    assert np.allclose(t, [1.0, 2.0])
    assert np.asarray(t) is t.data


# ---- the graph ------------------------------------------------------------------------------------
def _leaf(shape=(2, 3)):
    return Tensor(np.ones(shape), requires_grad=True)


@pytest.mark.parametrize("fn, op, ctx", [
    (lambda x: x + 1, "add", {}), (lambda x: x - 1, "sub", {}), (lambda x: x * 2, "mul", {}),
    (lambda x: x / 2, "div", {}), (lambda x: -x, "neg", {}), (lambda x: x ** 3, "pow", {"exponent": 3}),
    (lambda x: x @ np.ones((3, 2)), "matmul", {}), (lambda x: x.exp(), "exp", {}), (lambda x: x.log(), "log", {}),
    (lambda x: x.sqrt(), "sqrt", {}), (lambda x: x.sum(), "sum", {"axis": None, "keepdims": False}),
    (lambda x: x.mean(axis=1, keepdims=True), "mean", {"axis": 1, "keepdims": True}),
    (lambda x: x.max(axis=0), "max", {"axis": 0, "keepdims": False}),
    (lambda x: x.reshape(3, 2), "reshape", {}), (lambda x: x.transpose(0, 1), "transpose", {"dim0": 0, "dim1": 1}),
    (lambda x: x.permute(1, 0), "permute", {"dims": (1, 0)}), (lambda x: x.T, "permute", {"dims": (1, 0)}),
    (lambda x: x[0, 1:], "getitem", {"index": (0, slice(1, None))}),
])
def test_ops_record_graph(fn, op, ctx):
    x = _leaf()
    y = fn(x)
    assert y.requires_grad and y._op == op and y._parents[0] is x and y._ctx == ctx
    assert y.grad is None


def test_binary_parents_in_order():
    x, w = _leaf(), _leaf((3, 2))
    y = x @ w
    assert y._parents == (x, w)
    z = 2 * x
    assert len(z._parents) == 2 and z._parents[1] is x and not z._parents[0].requires_grad


def test_getitem_records_plain_index():
    x = _leaf()
    y = x[Tensor(np.array([1, 0])), (Tensor(np.array([2, 2])))]
    idx = y._ctx["index"]
    assert all(isinstance(i, np.ndarray) for i in idx)


def test_no_recording_without_requires_grad():
    y = Tensor(np.ones(3)) * 2
    assert not y.requires_grad and y._op is None and y._parents == () and y._ctx == {}


def test_grad_switch():
    x = _leaf()
    assert is_grad_enabled()
    prev = set_grad_enabled(False)
    try:
        assert prev is True and not is_grad_enabled()
        y = x * 2
        assert not y.requires_grad and y._op is None
    finally:
        set_grad_enabled(prev)
    assert is_grad_enabled() and (x * 2).requires_grad


def test_make_directly():
    x = _leaf((2,))
    y = _make(np.tanh(x.data), (x,), "tanh")
    assert y._op == "tanh" and y._parents == (x,) and y.requires_grad
    z = _make(np.float64(3.0), (x,), "sum", axis=None, keepdims=False)
    assert isinstance(z.data, np.ndarray) and z.shape == ()


# ---- backward hook --------------------------------------------------------------------------------
def test_backward_delegates_to_registered_engine():
    saved = tensor_mod._BACKWARD_ENGINE
    calls = []
    try:
        register_backward_engine(lambda t, g: calls.append((t, g)))
        loss = (_leaf() * 2).sum()
        loss.backward()
        loss.backward(np.array(2.0))
        assert calls[0] == (loss, None) and calls[1][1] == 2.0
        register_backward_engine(None)
        with pytest.raises(RuntimeError, match="05_autograd"):
            loss.backward()
    finally:
        register_backward_engine(saved)


# ---- factories and randomness ----------------------------------------------------------------------
def test_factories():
    assert zeros(2, 3).shape == (2, 3) and zeros((2, 3)).dtype == np.float32 and not zeros(4).data.any()
    assert np.all(ones(2, 2).data == 1) and ones((3,)).dtype == np.float32
    assert randn(3, 4).shape == (3, 4) and randn((2,)).dtype == np.float32
    assert zeros(2, requires_grad=True).requires_grad and randn(2, requires_grad=True).requires_grad


def test_manual_seed_reproducible():
    manual_seed(123)
    a = randn(5)
    manual_seed(123)
    b = randn(5)
    assert np.array_equal(a.data, b.data)
    assert not np.array_equal(randn(5).data, b.data)


def test_manual_seed_reseeds_in_place():
    gen = get_generator()
    manual_seed(7)
    first = gen.random(3)
    assert manual_seed(7) is gen and get_generator() is gen
    assert np.array_equal(gen.random(3), first)
    manual_seed(7)
    expected = gen.standard_normal(4, dtype=np.float32)
    manual_seed(7)
    assert np.array_equal(randn(4).data, expected), "randn draws from get_generator()"


def test_randn_statistics():
    manual_seed(0)
    r = randn(20000).data
    assert abs(r.mean()) < 0.05 and abs(r.std() - 1) < 0.05
