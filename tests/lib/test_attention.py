"""tinytorch_lib.attention (module 12): values worked out by hand (masks included), PyTorch's mask
semantics (boolean, additive, is_causal top-left, fully masked rows give 0), gradients by central
differences in float64, multi-head attention against a head-by-head NumPy reference."""
import numpy as np
import pytest

from checks import numeric_grad, strict
from tinytorch_lib.attention import MultiHeadAttention, masked_softmax, scaled_dot_product_attention
from tinytorch_lib.tensor import Tensor

Q = Tensor(np.array([[2.0, 0, 0, 0]]))
K = Tensor(np.array([[np.log(3), 0, 0, 0], [0, 0, 0, 0]]))
V = Tensor(np.array([[4.0, 0], [0, 8]]))


def test_by_hand_with_masks():
    assert np.allclose(scaled_dot_product_attention(Q, K, V).data, [[3, 2]])
    assert np.allclose(scaled_dot_product_attention(Q, K, V, attn_mask=np.array([[False, True]])).data, [[0, 8]])
    assert np.allclose(scaled_dot_product_attention(Q, K, V, attn_mask=np.array([[0.0, np.log(3)]])).data, [[2, 4]])
    z = Tensor(np.zeros((2, 4)))
    assert np.allclose(scaled_dot_product_attention(z, z, V, is_causal=True).data, [[4, 0], [2, 4]])
    v3 = Tensor(np.array([[1.0], [2.0], [4.0]]))
    assert np.allclose(scaled_dot_product_attention(Tensor(np.zeros((2, 3))), Tensor(np.zeros((3, 3))), v3,
                                                    is_causal=True).data, [[1], [1.5]])


def test_fully_masked_rows_are_zero_like_pytorch():
    z = Tensor(np.zeros((2, 4)), requires_grad=True)
    with strict():
        out = scaled_dot_product_attention(z, z, V, attn_mask=np.array([[True, True], [False, False]]))
        out.sum().backward()
    assert np.allclose(out.data, [[2, 4], [0, 0]])
    assert np.all(np.isfinite(z.grad.data))
    s = masked_softmax(Tensor(np.array([[-np.inf, -np.inf], [1e4, -1e4]])))
    assert np.array_equal(s.data, [[0, 0], [1, 0]])


def test_mask_and_causal_together_raise():
    with pytest.raises(RuntimeError):
        scaled_dot_product_attention(Q, K, V, attn_mask=np.array([[True, True]]), is_causal=True)


@pytest.mark.parametrize("kind", ["none", "bool", "float", "causal"])
def test_gradients_by_finite_differences(kind):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 2))]
    mask = rng.random((4, 4)) > 0.4
    mask[:, 0] = True
    kwargs = {"none": {}, "bool": {"attn_mask": mask}, "float": {"attn_mask": rng.standard_normal((4, 4))},
              "causal": {"is_causal": True}}[kind]
    R = rng.standard_normal((2, 4, 2))
    leaves = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    (scaled_dot_product_attention(*leaves, **kwargs) * Tensor(R)).sum().backward()
    for i, leaf in enumerate(leaves):
        def f(a, i=i):
            args = [Tensor(x) for x in arrays]
            args[i] = Tensor(a)
            return float(np.sum(R * scaled_dot_product_attention(*args, **kwargs).data))
        assert np.allclose(leaf.grad.data, numeric_grad(f, arrays[i].copy()), atol=1e-6), (kind, i)


def reference_mha(m, x, causal):
    lin = lambda layer, a: a @ layer.weight.data.T + layer.bias.data
    q, k, v = lin(m.q_proj, x), lin(m.k_proj, x), lin(m.v_proj, x)
    T, D, heads = x.shape[1], m.head_dim, []
    for h in range(m.num_heads):
        sl = slice(h * D, (h + 1) * D)
        s = q[..., sl] @ k[..., sl].transpose(0, 2, 1) / np.sqrt(D)
        if causal:
            s = np.where(np.tril(np.ones((T, T), dtype=bool)), s, -np.inf)
        w = np.exp(s - s.max(-1, keepdims=True))
        heads.append(w / w.sum(-1, keepdims=True) @ v[..., sl])
    return lin(m.out_proj, np.concatenate(heads, axis=-1))


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention(causal):
    m = MultiHeadAttention(8, 2, causal=causal)
    x = np.random.default_rng(2).standard_normal((3, 5, 8)).astype(np.float32)
    out = m(Tensor(x))
    assert out.shape == (3, 5, 8) and np.allclose(out.data, reference_mha(m, x, causal), atol=1e-5)
    with pytest.raises(ValueError):
        MultiHeadAttention(10, 3)
