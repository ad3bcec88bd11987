"""tinytorch_lib.transformer (module 13): LayerNorm against its formula and by central differences in
float64, the pre-norm block, GPT causality (changing token t changes no logit before t), the
cache protocol, training helpers."""
import numpy as np
import pytest

from checks import numeric_grad
from tinytorch_lib.tensor import Tensor, manual_seed
from tinytorch_lib.transformer import GPT, LayerNorm, TransformerBlock, get_batch, layer_norm, lm_loss, train_lm


def ref_ln(x, n, eps=1e-5):
    ax = tuple(range(x.ndim - n, x.ndim))
    return (x - x.mean(ax, keepdims=True)) / np.sqrt(x.var(ax, keepdims=True) + eps)


def test_layernorm_by_hand_and_shapes():
    assert np.allclose(LayerNorm(2)(Tensor([[1.0, 3.0]])).data, [[-1, 1]], atol=1e-4)
    x = np.random.default_rng(0).standard_normal((2, 3, 4)) * 4 + 2
    assert np.allclose(LayerNorm((3, 4))(Tensor(x)).data, ref_ln(x, 2), atol=1e-6)
    with pytest.raises(ValueError):
        LayerNorm(4)(Tensor(np.zeros((2, 3))))


@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 4)])
def test_layernorm_gradients_by_finite_differences(shape):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(shape), rng.standard_normal(shape[-1]), rng.standard_normal(shape[-1])]
    R = rng.standard_normal(shape)
    leaves = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    (layer_norm(*leaves) * Tensor(R)).sum().backward()
    for i, leaf in enumerate(leaves):
        def f(a, i=i):
            args = [Tensor(x) for x in arrays]
            args[i] = Tensor(a)
            return float(np.sum(R * layer_norm(*args).data))
        assert np.allclose(leaf.grad.data, numeric_grad(f, arrays[i].copy()), atol=1e-6), i


def test_block_is_pre_norm_residual():
    blk = TransformerBlock(8, 2)
    x = np.random.default_rng(2).standard_normal((2, 5, 8)).astype(np.float32)
    mid = x + blk.attn(blk.ln1(Tensor(x))).data
    assert np.allclose(blk(Tensor(x)).data, mid + blk.mlp(blk.ln2(Tensor(mid))).data, atol=1e-5)


def test_gpt_causality():
    manual_seed(0)
    gpt = GPT(11, 16, 2, 2, 16)
    ids = np.random.default_rng(3).integers(0, 11, size=(2, 9))
    base = gpt(ids).data
    assert base.shape == (2, 9, 11)
    for t in range(9):
        changed = ids.copy()
        changed[:, t] = (changed[:, t] + 1) % 11
        out = gpt(changed).data
        assert np.allclose(out[:, :t], base[:, :t], atol=1e-6), t
        assert not np.allclose(out[:, t], base[:, t]), t
    with pytest.raises(ValueError, match="max_len"):
        gpt(np.zeros((1, 17), dtype=int))


def test_gpt_trains():
    manual_seed(0)
    losses = train_lm(GPT(5, 16, 2, 1, 8), [0, 1, 2, 3, 4] * 20, 60, 6)
    assert losses[-1] < 0.3 * losses[0]
    x, y = get_batch(np.arange(10), 4, 3)
    assert np.array_equal(y, x + 1)
    assert np.isclose(float(lm_loss(Tensor(np.zeros((2, 3, 4))), np.zeros((2, 3), dtype=int)).data), np.log(4))
