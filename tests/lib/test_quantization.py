"""tinytorch_lib.quantization (module 17): affine int8 with the formula of torch.quantize_per_tensor
(qint8) and the qparams of PyTorch's MinMaxObserver, transcribed (PyTorch is not needed); numbers
worked out by hand, round half to even, round-trip bounds, per channel, int32 accumulation."""
import numpy as np
import pytest

from checks import strict
from tinytorch_lib.activations import ReLU
from tinytorch_lib.data import DataLoader, TensorDataset
from tinytorch_lib.layers import Flatten, Linear, Sequential
from tinytorch_lib.quantization import (QuantizedConv2d, QuantizedLinear, choose_qparams, dequantize_int8,
                                        model_size_bytes, quantize_int8, quantize_model)
from tinytorch_lib.spatial import Conv2d
from tinytorch_lib.tensor import Tensor, manual_seed

EPS = np.finfo(np.float32).eps


def torch_qint8(x, scale, zero_point):
    """torch.quantize_per_tensor(x, scale, zero_point, torch.qint8).int_repr(), transcribed from its
    C++ kernel: zero_point + nearbyint(x * (1 / scale)), clamped to [-128, 127] (float32 arithmetic)."""
    inv = np.float32(1.0) / np.float32(scale)
    return np.clip(zero_point + np.rint(np.asarray(x, np.float32) * inv), -128, 127).astype(np.int8)


def test_hand_worked_example():
    # x = [-1, 0, 0.5, 2]: range [-1, 2], s = 3/255 = 1/85, z = -128 - round(-1 * 85) = -43
    # q: -1 -> -43 - 85 = -128; 0 -> -43; 0.5 -> -43 + round(42.5) = -43 + 42 = -1 (tie to even); 2 -> -43 + 170 = 127
    x = np.array([-1.0, 0.0, 0.5, 2.0])
    s, z = choose_qparams(x)
    assert isinstance(s, float) and isinstance(z, int)
    assert np.isclose(s, 3 / 255) and z == -43
    q = quantize_int8(x, s, z)
    assert q.dtype == np.int8 and q.tolist() == [-128, -43, -1, 127]
    assert np.array_equal(q, torch_qint8(x, s, z))
    # back: (q - z) * s = [-85, 0, 42, 170] / 85
    assert np.allclose(dequantize_int8(q, s, z), [-1.0, 0.0, 42 / 85, 2.0])


@pytest.mark.parametrize("x, s, z, expected", [
    ([2.5, 3.5, -2.5, 0.5, -0.5], 1.0, 0, [2, 4, -2, 0, 0]),   # half to even, never away from zero
    ([0.0, 1.5, -0.5], 0.5, 3, [3, 6, 2]),                      # 3 + round([0, 3, -1])
    ([0.5, 1.5], 1.0, 1, [1, 3]),                               # torch rounds x / s, then adds z: 1 + 0, 1 + 2
    ([500.0, -500.0, 127.5, -128.5], 1.0, 0, [127, -128, 127, -128]),   # clamp to [-128, 127], not +-127
])
def test_rounding_and_clamping(x, s, z, expected):
    got = quantize_int8(np.array(x), s, z)
    assert got.tolist() == expected
    assert np.array_equal(got, torch_qint8(x, s, z))


@pytest.mark.parametrize("x, expected", [
    ([1.0, 2.0], (2 / 255, -128)),       # widened to [0, 2]: 0.0 is the lowest code
    ([-3.0, -1.0], (3 / 255, 127)),      # widened to [-3, 0]: -128 + 255
    ([-2.0, 0.0, 6.0], (8 / 255, -64)),  # -128 - round(-2 / (8/255)) = -128 + round(63.75) = -64
])
def test_affine_qparams_contain_zero(x, expected):
    s, z = choose_qparams(np.array(x))
    assert np.isclose(s, expected[0]) and z == expected[1]
    assert dequantize_int8(quantize_int8(np.zeros(1), s, z), s, z)[0] == 0.0


def test_symmetric_qparams_and_constant_tensors():
    s, z = choose_qparams(np.array([-2.0, 0.5, 1.0]), symmetric=True)
    assert np.isclose(s, 2 / 127.5) and z == 0
    with strict():
        assert choose_qparams(np.zeros((3, 2))) == (EPS, -128)
        assert choose_qparams(np.zeros(4), symmetric=True) == (EPS, 0)
        s, z = choose_qparams(np.full(5, 3.0))          # [0, 3]
        assert np.isclose(s, 3 / 255) and z == -128
        assert np.array_equal(quantize_int8(np.zeros(3), EPS, -128), [-128] * 3)


def test_round_trip_error_is_at_most_half_a_step_inside_the_range():
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.uniform(-rng.uniform(0, 5), rng.uniform(0, 5), size=200)
        s, z = choose_qparams(x)
        err = np.abs(dequantize_int8(quantize_int8(x, s, z), s, z) - x)
        assert err.max() <= s / 2 * (1 + 1e-5)
        assert np.array_equal(quantize_int8(x, s, z), torch_qint8(x, s, z)) or \
            np.abs(quantize_int8(x, s, z).astype(int) - torch_qint8(x, s, z)).max() <= 1   # float32 vs float64 at a tie


def test_per_channel():
    w = np.array([[1.0, -4.0], [2.0, 0.0]])
    s, z = choose_qparams(w, axis=0)               # rows [-4, 1] and [0, 2]
    assert np.allclose(s, [5 / 255, 2 / 255]) and z.tolist() == [76, -128]
    s, z = choose_qparams(w, axis=-1)              # columns [0, 2] and [-4, 0]
    assert np.allclose(s, [2 / 255, 4 / 255]) and z.tolist() == [-128, 127]
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 3, 2)) * np.array([0.01, 1, 10, 0.1])[:, None, None]
    s, z = choose_qparams(w, axis=0, symmetric=True)
    assert np.allclose(s, np.abs(w).reshape(4, -1).max(axis=1) / 127.5) and np.all(z == 0)
    q = quantize_int8(w, s, z, axis=0)
    for o in range(4):   # the largest |w| sits exactly on a tie (127.5): float32 and float64 may round it apart
        differ = q[o] != torch_qint8(w[o], s[o], 0)
        assert np.all(np.abs(w[o][differ]) == np.abs(w[o]).max())
    assert np.all(np.abs(dequantize_int8(q, s, z, axis=0) - w) <= s[:, None, None] / 2 + np.abs(w) * 2e-7)   # + float32 output


def test_quantized_linear_by_hand_and_int32_accumulation():
    lin = Linear(2, 2)
    lin.weight.data = np.array([[1.0, -0.5], [0.25, 0.0]], np.float32)
    lin.bias.data = np.array([0.1, -0.2], np.float32)
    ql = QuantizedLinear.from_float(lin, np.array([[-1.0, 2.0]]))
    # weight rows / (max|row| / 127.5): [127.5, -63.75] -> [127 (128 clamped), -64]; [127.5, 0] -> [127, 0]
    assert ql.weight_q.dtype == np.int8 and ql.weight_q.tolist() == [[127, -64], [127, 0]]
    assert (ql.input_scale, ql.input_zero_point) == (3 / 255, -43)
    # x = [-1, 2] -> codes [-128, 127] -> centered [-85, 170]; acc = [-85*127 - 170*64, -85*127]
    acc = ql.accumulate(np.array([[-128, 127]], np.int8))
    assert acc.dtype == np.int32 and acc.tolist() == [[-21675, -10795]]
    y = ql(Tensor(np.array([[-1.0, 2.0]], np.float32)))
    assert y.dtype == np.float32
    assert np.allclose(y.data, acc * (3 / 255) * np.array([1, 0.25]) / 127.5 + [0.1, -0.2], atol=1e-6)
    big = Linear(256, 2)
    big.weight.data = np.full((2, 256), 0.5, np.float32)
    qb = QuantizedLinear.from_float(big, [np.zeros(1), np.ones(1)])
    assert np.all(qb.accumulate(np.full((1, 256), 127, np.int8)) == 256 * 255 * 127)   # > 2**23, < 2**31


def test_quantized_conv_pads_with_the_zero_point():
    manual_seed(0)
    conv = Conv2d(2, 3, 3, padding=1)
    x = np.random.default_rng(2).uniform(0.5, 1.0, size=(2, 2, 5, 5)).astype(np.float32)
    qc = QuantizedConv2d.from_float(conv, x)
    assert qc.input_zero_point == -128 and qc.weight_q.shape == (3, 2, 3, 3)
    assert np.abs(qc(Tensor(x)).data - conv(Tensor(x)).data).max() < 0.03


def test_quantize_model_walks_the_tree_and_shrinks_it_about_four_times():
    manual_seed(0)
    net = Sequential(Linear(64, 128), ReLU(), Linear(128, 10))
    x = np.random.default_rng(3).uniform(0, 1, size=(64, 64)).astype(np.float32)
    loader = DataLoader(TensorDataset(Tensor(x), Tensor(np.zeros(64, np.int64))), batch_size=16)
    q = quantize_model(net, loader)
    assert isinstance(q[0], QuantizedLinear) and isinstance(q[2], QuantizedLinear) and isinstance(net[0], Linear)
    assert np.abs(q(Tensor(x)).data - net(Tensor(x)).data).max() < 0.05
    float_bytes = (64 * 128 + 128 + 128 * 10 + 10) * 4
    assert model_size_bytes(net) == float_bytes
    assert model_size_bytes(q) == 64 * 128 + 128 * 10 + (128 + 10) * 8    # int8 weights, float32 scales and biases
    assert 3.5 < float_bytes / model_size_bytes(q) < 4.0


class _Branchy(Linear.__mro__[1]):   # a Module with a conv, and Linears in a list and in a Sequential
    def __init__(self):
        super().__init__()
        self.conv = Conv2d(1, 2, 3, padding=1)
        self.heads = [Flatten(), Sequential(Linear(32, 3))]

    def forward(self, x):
        return self.heads[1](self.heads[0](self.conv(x)))


def test_quantize_model_keeps_the_original_and_finds_nested_layers():
    manual_seed(1)
    model = _Branchy()
    x = np.random.default_rng(5).uniform(0, 1, size=(8, 1, 4, 4)).astype(np.float32)
    q = quantize_model(model, [(Tensor(x), None)])
    assert isinstance(q.conv, QuantizedConv2d) and isinstance(q.heads[1][0], QuantizedLinear)
    assert isinstance(model.conv, Conv2d) and model.training and not q.training
    assert "forward" not in vars(model.conv) and "forward" not in vars(q.heads[1])
    assert np.abs(q(Tensor(x)).data - model(Tensor(x)).data).max() < 0.05


def test_model_size_sparse():
    sp = Linear(8, 4, bias=False)
    sp.weight.data[:, :6] = 0
    assert model_size_bytes(sp) == 128
    assert model_size_bytes(sp, sparse=True) == 8 * 4 + 4          # 8 nonzeros + a 32-bit bitmap
    assert model_size_bytes(Linear(8, 4), sparse=True) == 144       # never more than dense
