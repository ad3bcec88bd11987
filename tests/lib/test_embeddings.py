"""tinytorch_lib.embeddings (module 11): lookup, accumulated gradients of repeated ids (hand values and
central differences), N(0, 1) init, sinusoidal table by hand, the shift rotation, the bigram baseline."""
import numpy as np
import pytest

from checks import numeric_grad, strict
from tinytorch_lib.embeddings import Embedding, PositionalEncoding, bigram_nll, shift_rotation, sinusoidal_table
from tinytorch_lib.tensor import Tensor, get_generator, manual_seed


def test_lookup_and_repeated_ids_accumulate():
    emb = Embedding(3, 2)
    emb.weight.data = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], dtype=np.float32)
    out = emb(np.array([[2, 0], [2, 2]]))
    assert out.shape == (2, 2, 2) and np.array_equal(out.data[0, 0], [4, 5])
    with strict():
        out.sum().backward()
    assert np.array_equal(emb.weight.grad.data, [[1, 1], [0, 0], [3, 3]])


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    emb = Embedding(5, 3)
    emb.weight.data = rng.standard_normal((5, 3))
    idx = np.array([[1, 4, 1], [0, 1, 1]])
    R = rng.standard_normal((2, 3, 3))
    (emb(idx) * Tensor(R)).sum().backward()

    def f(w):
        return float(np.sum(R * w[idx]))
    assert np.allclose(emb.weight.grad.data, numeric_grad(f, emb.weight.data.copy()), atol=1e-7)


def test_init_and_errors():
    manual_seed(0)
    emb = Embedding(10, 4)
    manual_seed(0)
    assert np.allclose(emb.weight.data, get_generator().standard_normal((10, 4)))
    assert emb.weight.dtype == np.float32 and emb.weight.requires_grad
    with pytest.raises(IndexError, match="10"):
        emb([10])
    with pytest.raises(IndexError):
        emb([-1])
    with pytest.raises(TypeError):
        emb(np.array([1.0]))


def test_sinusoidal_table_by_hand():
    pe = sinusoidal_table(2, 4)
    assert pe.dtype == np.float32
    assert np.allclose(pe, [[0, 1, 0, 1], [np.sin(1), np.cos(1), np.sin(0.01), np.cos(0.01)]])
    assert np.allclose(sinusoidal_table(1, 3), [[0, 1, 0]])
    table = sinusoidal_table(64, 16).astype(np.float64)
    assert np.allclose(table[:50] @ shift_rotation(14, 16), table[14:], atol=1e-5)


def test_positional_encoding_adds_and_checks_length():
    pos = PositionalEncoding(6, 4)
    x = Tensor(np.zeros((2, 5, 4)), requires_grad=True)
    y = pos(x)
    assert np.allclose(y.data[1], sinusoidal_table(6, 4)[:5]) and y.dtype == np.float64
    y.sum().backward()
    assert np.array_equal(x.grad.data, np.ones((2, 5, 4)))
    with pytest.raises(ValueError, match="max_len"):
        pos(Tensor(np.zeros((1, 7, 4))))


def test_bigram_nll_by_hand():
    assert np.isclose(bigram_nll([0, 1, 0, 1], [0, 1], 2), -np.log(0.75))
