# %% [markdown]
# # 17 · Quantization
#
# A float32 weight costs 4 bytes, an **int8** 1. Affine quantization maps reals onto $-128 \dots 127$ with a
# **scale** $s$ (real units per step) and a **zero point** $z$ (the code of the real 0.0):
# $$q = \operatorname{clamp}\big(z + \operatorname{round}(x / s),\; -128,\; 127\big), \qquad \hat x = (q - z)\, s ,$$
# as `torch.quantize_per_tensor(x, s, z, torch.qint8)`, `round` **half to even** (`np.round`: 2.5 -> 2,
# 3.5 -> 4, -2.5 -> -2); half away from zero would bias every tie one way.
#
# **Choosing $s$ and $z$** (PyTorch's `MinMaxObserver`): widen the range to contain 0, then
# $$s = \frac{\max(x_{max}, 0) - \min(x_{min}, 0)}{255}, \qquad z = -128 - \operatorname{round}\!\big(\min(x_{min}, 0) / s\big),$$
# so 0.0 is exactly the code $z$ (padding, ReLU zeros stay exact); $s \ge$ float32's epsilon. **Symmetric**
# (weights): $z = 0$, $s = \max|x| / 127.5$. **Per channel**: each weight row its own $s$, $z$ (no row blurs another).

# %%
#| default_exp quantization
#| export
import copy
import math
import time

import numpy as np

from tinytorch_lib.layers import Linear, Module
from tinytorch_lib.spatial import Conv2d, conv_output_size, im2col
from tinytorch_lib.tensor import Tensor

QMIN, QMAX = -128, 127
EPS = float(np.finfo(np.float32).eps)   # PyTorch's floor for a scale

# %% [markdown]
# ## Choosing scale and zero point
# By hand: $x = [-1, 0, 0.5, 2]$ gives $s = 3/255 = 1/85$, $z = -128 + 85 = -43$; then $-1 \to -128$,
# $0 \to -43$, $0.5 \to -43 + \operatorname{round}(42.5) = -1$ (a tie, to the even 42), $2 \to 127$.

# %% solution id="choose-qparams"
#| export
def choose_qparams(x, axis=None, symmetric=False):
    """Scale and zero point of int8 quantization for the values of x (ndarray or Tensor).

    axis=None: one pair for the whole tensor, returned as (float, int).
    axis=k: one pair per index along axis k (min and max over all OTHER axes), returned as
    (float64 ndarray (C,), int64 ndarray (C,)) with C = x.shape[k]; negative k counts from the end.
    Affine: the range [min(x_min, 0), max(x_max, 0)] over 255 steps, zero point from the formula
    above, clamped to [-128, 127]. symmetric=True: zero point 0, scale max|x| / 127.5.
    Every scale is at least EPS, so an all-zero tensor works (no division by zero, no warning).
    EXAMPLE: choose_qparams(np.array([-1., 0., 0.5, 2.])) -> (0.011764..., -43)
             choose_qparams(np.array([[1., -4.], [2., 0.]]), axis=0) -> ([5/255, 2/255], [76, -128])
    HINT: a reduction accepts a tuple of axes; `np.minimum` / `np.maximum` against 0.
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    if axis is None:
        lo, hi = x.min(), x.max()
    else:
        axis = axis % x.ndim
        others = tuple(i for i in range(x.ndim) if i != axis)
        lo, hi = x.min(axis=others), x.max(axis=others)
    lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
    if symmetric:
        scale = np.maximum(np.maximum(-lo, hi) / 127.5, EPS)
        zero_point = np.zeros_like(scale, dtype=np.int64)
    else:
        scale = np.maximum((hi - lo) / (QMAX - QMIN), EPS)
        zero_point = np.clip(QMIN - np.round(lo / scale), QMIN, QMAX).astype(np.int64)
    if axis is None:
        return float(scale), int(zero_point)
    return scale, zero_point
    ### END SOLUTION

# %% helper
import numpy as np

def assert_close(got, expected, what, atol=1e-9):
    """Compare as plain arrays (a pair of arrays is stacked) and say what was expected and what came out."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    assert got.shape == expected.shape, f"{what}: expected shape {expected.shape}, got {got.shape}"
    assert np.allclose(got, expected, rtol=1e-6, atol=atol), f"{what}: expected {expected.tolist()}, got {got.tolist()}"

def own_forward_removed(m):
    """True if m had an instance attribute `forward` (now deleted): a spy left behind."""
    try:
        delattr(m, "forward")
        return True
    except AttributeError:
        return False

# %% test id="test-choose-qparams" points=3
assert_close(choose_qparams(np.array([-1.0, 0.0, 0.5, 2.0])), (3 / 255, -43), "(scale, zero point) of [-1, 2]: (3 / 255, -128 - round(-1 / s))")
assert_close(choose_qparams(np.array([1.0, 2.0])), (2 / 255, -128), "(scale, zero point) of [1, 2]: the range widened to [0, 2], 0.0 the lowest code")
### BEGIN HIDDEN TESTS
assert_close(choose_qparams(np.array([-3.0, -1.0])), (3 / 255, 127), "[-3, -1] widened to [-3, 0]: z = -128 + 255")
assert_close(choose_qparams(np.array([-2.0, 0.5, 1.0]), symmetric=True), (2 / 127.5, 0), "symmetric: (max|x| / 127.5, 0)")
s, z = choose_qparams(np.zeros((2, 3)))
assert isinstance(z, int) and isinstance(s, float) and (s, z) == (np.finfo(np.float32).eps, -128), f"all zeros: expected (EPS, -128) as (float, int), got {(s, z)!r}"
m = np.array([[1.0, -4.0], [2.0, 0.0]])
assert_close(choose_qparams(m, axis=0), ([5 / 255, 2 / 255], [-128 + 204, -128]), "per row (axis=0): rows [-4, 1] and [0, 2]")
assert_close(choose_qparams(m, axis=-1), ([2 / 255, 4 / 255], [-128, 127]), "per column (axis=-1): columns [0, 2] and [-4, 0]")
s, z = choose_qparams(np.array([[[0.5, -1.0]], [[3.0, 2.0]], [[0.0, 0.0]]]), axis=0, symmetric=True)
assert_close(s, [1 / 127.5, 3 / 127.5, np.finfo(np.float32).eps], "per-channel symmetric scales of a 3-D weight", atol=0)
assert np.asarray(z).dtype == np.int64 and np.all(np.asarray(z) == 0), f"symmetric zero points: expected int64 zeros, got {z}"
### END HIDDEN TESTS

# %% [markdown]
# ## Quantize and dequantize
# Inside the range rounding moves a value at most half a step, $|\hat x - x| \le s/2$; outside, the clamp cuts.

# %% solution id="quantize"
#| export
def _broadcastable(v, ndim, axis):
    """v (C,) reshaped to broadcast along `axis` (may be negative) of an ndim-dimensional array;
    axis=None: v as it is. EXAMPLE: _broadcastable(np.array([1., 2.]), 3, 1).shape -> (1, 2, 1)"""
    ### BEGIN SOLUTION
    if axis is None:
        return v
    shape = [1] * ndim
    shape[axis] = -1
    return np.asarray(v).reshape(shape)
    ### END SOLUTION

def quantize_int8(x, scale, zero_point, axis=None):
    """int8 codes of x (ndarray or Tensor): clamp(zero_point + round_half_even(x / scale), -128, 127).

    Returns an int8 ndarray of x's shape. axis=k: scale and zero_point are (C,) arrays along axis k.
    EXAMPLE: quantize_int8(np.array([-1., 0., 0.5, 2.]), 3 / 255, -43) -> [-128, -43, -1, 127]
             quantize_int8(np.array([2.5, 3.5, -2.5, 200.]), 1.0, 0) -> [2, 4, -2, 127]
    HINT: `np.round` rounds half to even; `_broadcastable` lines a (C,) array up with axis k.
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    s = _broadcastable(scale, x.ndim, axis)
    z = _broadcastable(zero_point, x.ndim, axis)
    q = z + np.round(x / s)
    return np.clip(q, QMIN, QMAX).astype(np.int8)
    ### END SOLUTION

def dequantize_int8(q, scale, zero_point, axis=None):
    """(q - zero_point) * scale of int8 codes q, float32 of q's shape (int8 - int8 overflows).
    EXAMPLE: dequantize_int8(np.array([-128, -43, 127], np.int8), 3 / 255, -43) -> [-1., 0., 2.]"""
    ### BEGIN SOLUTION
    q = np.asarray(q).astype(np.int64)
    z = _broadcastable(zero_point, q.ndim, axis)
    s = _broadcastable(scale, q.ndim, axis)
    return ((q - z) * s).astype(np.float32)
    ### END SOLUTION

# %% test id="test-quantize" points=4
got = _broadcastable(np.array([1.0, 2.0]), 3, 1).shape, _broadcastable(np.arange(3), 2, -1).shape, _broadcastable(0.5, 2, None)
assert got == ((1, 2, 1), (1, 3), 0.5), f"expected shapes (1, 2, 1), (1, 3) and 0.5 as it is, got {got}"
for x, s, z, exp, what in [([-1.0, 0.0, 0.5, 2.0], 3 / 255, -43, [-128, -43, -1, 127], "s = 3/255, z = -43"), ([2.5, 3.5, -2.5, 0.5], 1.0, 0, [2, 4, -2, 0], "round half to even")]:
    q = quantize_int8(np.array(x), s, z)
    assert q.dtype == np.int8 and q.tolist() == exp, f"{what}: expected int8 {exp}, got {q.dtype} {q.tolist()}"
x = dequantize_int8(np.array([-128, -43, 127], np.int8), 3 / 255, -43)
assert x.dtype == np.float32 and np.allclose(x, [-1, 0, 2]), f"expected float32 [-1, 0, 2], got {x.dtype} {x.tolist()}"
### BEGIN HIDDEN TESTS
got = quantize_int8(np.array([500.0, -500.0, 126.6, -127.5]), 1.0, 0).tolist(), quantize_int8(np.array([0.0, 1.5, -0.5]), 0.5, 3).tolist()
assert got == ([127, -128, 127, -128], [3, 6, 2]), f"clamp to [-128, 127], and z + round(x / s) for s 0.5, z 3: expected ([127, -128, 127, -128], [3, 6, 2]), got {got}"
x = dequantize_int8(np.array([127, -128, 5], np.int8), 0.25, -3)   # int8 127 - (-3) overflows in int8
assert np.allclose(x, [32.5, -31.25, 2.0]), f"(q - z) * s for z = -3: expected [32.5, -31.25, 2.0], got {x.tolist()}"
rng = np.random.default_rng(0)
xr = rng.uniform(-3, 5, size=(50, 7))
s, z = choose_qparams(xr)
err = np.abs(dequantize_int8(quantize_int8(xr, s, z), s, z) - xr).max()
assert err <= s / 2 + 1e-6, f"round-trip error inside the range: expected at most s/2 = {s / 2:.5f}, got {err:.5f}"
assert dequantize_int8(quantize_int8(np.array([0.0]), s, z), s, z)[0] == 0.0, "0.0 must come back exactly 0.0"
w = rng.standard_normal((4, 6)) * np.array([[0.01], [1.0], [10.0], [0.1]])
s, z = choose_qparams(w, axis=0)
q = quantize_int8(w, s, z, axis=0)
assert np.all(np.abs(dequantize_int8(q, s, z, axis=0) - w) <= s[:, None] / 2 + 1e-6), "per-row round trip: error at most each row's s/2"
assert int(q[0].max()) - int(q[0].min()) >= 200, f"per-channel: the small row must use most of the codes, got range {q[0].min()}..{q[0].max()}"
s, z = choose_qparams(w.T, axis=1)
assert np.array_equal(quantize_int8(w.T, s, z, axis=1), q.T), "axis=1 of the transpose is axis=0 of the matrix"
t = quantize_int8(Tensor(np.array([[0.2, 0.4]], np.float32)), np.array([0.1]), np.array([1]), axis=0)
assert t.tolist() == [[3, 5]], f"a Tensor input with per-channel arrays: expected [[3, 5]], got {t.tolist()}"
### END HIDDEN TESTS

# %% [markdown]
# ## A quantized Linear layer
# With per-output-channel symmetric weights ($W \approx s_w[o]\,Q_w$, $z_w = 0$) and a per-tensor
# affine input ($x \approx s_x (q_x - z_x)$), one output of a Linear layer is
# $$y_{n,o} = s_x\, s_w[o] \sum_k (q_{x,nk} - z_x)\, Q_{w,ok} + b_o :$$
# pure **integer** arithmetic, int8 times int8 accumulated in **int32** (hundreds of $255 \cdot 128$ products overflow
# int16), then one float multiply per output, as fbgemm/QNNPACK do. `from_float` fixes $s_x, z_x$ by **calibration**.

# %% solution id="quantized-linear"
#| export
class QuantizedLinear(Module):
    """A Linear with int8 weights (per output channel, symmetric), int32 accumulation, float32 output."""

    def __init__(self, weight_q, weight_scale, bias, input_scale, input_zero_point):
        """Keep the five arguments as attributes of the same names: weight_q (int8, the float weight's
        shape), weight_scale (float32 (out,)), bias (float32 or None), input_scale, input_zero_point."""
        super().__init__()
        ### BEGIN SOLUTION
        self.weight_q, self.weight_scale, self.bias = weight_q, weight_scale, bias
        self.input_scale, self.input_zero_point = input_scale, input_zero_point
        ### END SOLUTION

    @classmethod
    def from_float(cls, linear, calibration_inputs):
        """A new cls(...) from a float layer (Linear, or Conv2d for the subclass), not modifying it.

        Weight: symmetric int8, one scale per output channel (axis 0), stored as float32.
        Input: per-tensor affine qparams of all calibration inputs (a Tensor, an ndarray, or a list
        of them, of any shapes). Bias: a float32 copy, or None.
        EXAMPLE: QuantizedLinear.from_float(Linear(4, 3), np.ones((2, 4))).weight_q.dtype -> int8
        """
        ### BEGIN SOLUTION
        w = linear.weight.data
        w_scale, _ = choose_qparams(w, axis=0, symmetric=True)
        w_q = quantize_int8(w, w_scale, np.zeros(len(w_scale), np.int64), axis=0)
        batches = calibration_inputs if isinstance(calibration_inputs, (list, tuple)) else [calibration_inputs]
        seen = np.concatenate([np.ravel(b.data if isinstance(b, Tensor) else b) for b in batches])
        x_scale, x_zero = choose_qparams(seen)
        bias = None if linear.bias is None else np.array(linear.bias.data, dtype=np.float32)
        return cls(w_q, w_scale.astype(np.float32), bias, x_scale, x_zero)
        ### END SOLUTION

    def accumulate(self, q_x):
        """int8 input codes q_x (N, in) -> int32 (N, out): sum over k of (q_x - z_x) * Q_w[o, k]
        (int8 @ int8 wraps around silently). EXAMPLE: z_x = -1, q_x = [[1, 3]], Q_w = [[2, -1]] -> [[0]]"""
        ### BEGIN SOLUTION
        centered = q_x.astype(np.int32) - np.int32(self.input_zero_point)
        return centered @ self.weight_q.astype(np.int32).T
        ### END SOLUTION

    def forward(self, x):
        """Tensor x -> float32 Tensor: quantize x with the input qparams, accumulate, then rescale by
        s_x * s_w (per output channel, on axis 1 of the accumulator) and add the bias (on axis 1).
        No graph is recorded (inference only). Works for the Conv2d subclass, whose accumulator is
        (N, out, H_out, W_out): line the (out,) vectors up with axis 1 (`_broadcastable`).
        """
        ### BEGIN SOLUTION
        q_x = quantize_int8(x.data if isinstance(x, Tensor) else x, self.input_scale, self.input_zero_point)
        acc = self.accumulate(q_x)
        rescale = _broadcastable(self.input_scale * self.weight_scale.astype(np.float64), acc.ndim, 1)
        y = acc * rescale
        if self.bias is not None:
            y = y + _broadcastable(self.bias, acc.ndim, 1)
        return Tensor(y.astype(np.float32))
        ### END SOLUTION

class QuantizedConv2d(QuantizedLinear):
    """Conv2d with int8 weights (O, C, kh, kw) per output channel; stride and padding of the float layer."""

    @classmethod
    def from_float(cls, conv, calibration_inputs):
        """QuantizedLinear.from_float's result for this class, plus the conv's stride and padding."""
        ### BEGIN SOLUTION
        q = super().from_float(conv, calibration_inputs)
        q.stride, q.padding = conv.stride, conv.padding
        return q
        ### END SOLUTION

    def accumulate(self, q_x):
        """int8 codes (N, C, H, W) -> int32 (N, O, H_out, W_out): the convolution of (q_x - z_x)
        with Q_w. The padding must stand for the real value 0.0, which is the code z_x, not 0.
        HINT: subtract z_x before im2col (module 09), whose padding then adds true zeros.
        """
        ### BEGIN SOLUTION
        N, _, H, W = q_x.shape
        O, _, kh, kw = self.weight_q.shape
        centered = q_x.astype(np.int32) - np.int32(self.input_zero_point)
        cols = im2col(centered, kh, kw, self.stride, self.padding)
        acc = self.weight_q.reshape(O, -1).astype(np.int32) @ cols
        OH = conv_output_size(H, kh, self.stride, self.padding)
        OW = conv_output_size(W, kw, self.stride, self.padding)
        return acc.reshape(N, O, OH, OW)
        ### END SOLUTION

# %% test id="test-quantized-linear" points=4
lin = Linear(2, 2)
lin.weight.data = np.array([[1.0, -0.5], [0.25, 0.0]], np.float32)
lin.bias.data = np.array([0.1, -0.2], np.float32)
ql = QuantizedLinear.from_float(lin, np.array([[-1.0, 2.0]]))
assert ql.weight_q.dtype == np.int8 and ql.weight_q.tolist() == [[127, -64], [127, 0]], f"rows scaled by max|w| / 127.5: expected [[127, -64], [127, 0]], got {ql.weight_q.tolist()}"
assert np.allclose(ql.weight_scale, [1 / 127.5, 0.25 / 127.5]) and (ql.input_scale, ql.input_zero_point) == (3 / 255, -43), f"expected weight scales [1/127.5, 0.25/127.5] and input qparams (3/255, -43), got {ql.weight_scale}, {(ql.input_scale, ql.input_zero_point)}"
acc = ql.accumulate(np.array([[-128, 127]], np.int8))   # centered: [-85, 170]
assert acc.dtype == np.int32 and acc.tolist() == [[-85 * 127 - 170 * 64, -85 * 127]], f"expected int32 [[-21675, -10795]], got {acc.dtype} {acc.tolist()}"
y = ql(Tensor(np.array([[-1.0, 2.0]], np.float32)))
assert y.dtype == np.float32 and np.allclose(y.data, [[-1.9, -0.45]], atol=0.02), f"expected about [[-1.9, -0.45]] (the float layer), got {y.data.tolist()}"
### BEGIN HIDDEN TESTS
exp = acc * (3 / 255) * np.array([1 / 127.5, 0.25 / 127.5]) + [0.1, -0.2]
assert np.allclose(y.data, exp, atol=1e-6), f"expected s_x * s_w * acc + b = {exp.tolist()}, got {y.data.tolist()}"
big, rng = Linear(64, 3), np.random.default_rng(1)
big.weight.data = np.full((3, 64), 0.5, np.float32)
acc = QuantizedLinear.from_float(big, [np.zeros((1, 64)), np.ones((1, 64))]).accumulate(np.full((2, 64), 127, np.int8))
assert acc.dtype == np.int32 and np.all(acc == 64 * 255 * 127), f"int32 accumulation: expected 64 * 255 * 127 = {64 * 255 * 127}, got {acc.tolist()}"
nb = Linear(5, 4, bias=False)
nb.weight.data = rng.standard_normal((4, 5)).astype(np.float32) * np.array([[0.01], [1], [5], [0.2]], np.float32)
xc = rng.uniform(-2, 3, size=(6, 5))
qn = QuantizedLinear.from_float(nb, Tensor(xc))
assert qn.bias is None and qn.weight_scale.dtype == np.float32, "bias=False stays None; weight scales float32"
x_hat = dequantize_int8(quantize_int8(xc, qn.input_scale, qn.input_zero_point), qn.input_scale, qn.input_zero_point)
w_hat = qn.weight_q * qn.weight_scale[:, None].astype(np.float64)
got = qn(Tensor(xc)).data
assert np.allclose(got, x_hat @ w_hat.T, rtol=1e-5, atol=1e-6), f"expected dequantized x @ dequantized W.T\n{x_hat @ w_hat.T}\ngot\n{got}"
assert np.abs(w_hat[0] - nb.weight.data[0]).max() <= 1.0001 * np.abs(nb.weight.data[0]).max() / 255, "per-channel: the small row keeps its resolution (error at most its own s/2)"
assert np.allclose(nb.weight.data, w_hat, atol=0.05) and lin.weight.data[0, 1] == -0.5, "the float layer is not modified"
### END HIDDEN TESTS

# %%
from tinytorch_lib.activations import ReLU
from tinytorch_lib.data import DataLoader, TensorDataset
from tinytorch_lib.layers import Flatten, Sequential
from tinytorch_lib.tensor import manual_seed

# %% test id="test-quantized-conv" points=3
manual_seed(0)
conv = Conv2d(2, 3, 3, stride=1, padding=1)
xc = np.random.default_rng(2).uniform(0.5, 1.0, size=(2, 2, 5, 5)).astype(np.float32)
qc = QuantizedConv2d.from_float(conv, xc)
got, exp = qc(Tensor(xc)).data, conv(Tensor(xc)).data
assert got.shape == (2, 3, 5, 5) and np.allclose(got, exp, atol=0.03), f"int8 conv close to the float conv (max error {np.abs(got - exp).max():.4f}), shape {got.shape}"
### BEGIN HIDDEN TESTS
assert qc.weight_q.shape == (3, 2, 3, 3) and qc.input_zero_point == -128, f"weight (3, 2, 3, 3), inputs >= 0 give z_x = -128; got {qc.weight_q.shape}, {qc.input_zero_point}"
acc, edge = qc.accumulate(quantize_int8(xc, qc.input_scale, qc.input_zero_point)), np.abs(got[:, :, 0] - exp[:, :, 0]).max()
assert edge < 0.03 and acc.dtype == np.int32 and acc.shape == (2, 3, 5, 5), f"padding must be the real 0.0 (the code z_x): border error {edge:.3f}; accumulator int32 (2, 3, 5, 5): got {acc.dtype} {acc.shape}"
c2, x2 = Conv2d(1, 2, (2, 3), stride=2, padding=0, bias=False), np.random.default_rng(3).uniform(-1, 1, size=(1, 1, 6, 7))
got2, exp2 = QuantizedConv2d.from_float(c2, x2)(Tensor(x2)).data, c2(Tensor(x2)).data
assert got2.shape == (1, 2, 3, 3) and np.allclose(got2, exp2, atol=0.03), f"kernel (2, 3), stride 2, no bias: expected shape (1, 2, 3, 3), got {got2.shape}"
### END HIDDEN TESTS

# %% [markdown]
# ## Quantizing a whole model
# Calibration needs the range of what each layer *receives*. To listen without changing a class: an instance
# attribute `forward` shadows the class's method (module 03's `__call__` looks up `self.forward`); `del` uncovers it.

# %% solution id="observe-inputs"
#| export
def observe_inputs(model, batches, types=(Linear, Conv2d)):
    """{path: [min, max]} (Python floats) of everything each module of model that is one of `types`
    received while model(x) ran for every x in batches ([inf, -inf] if it received nothing); path
    is the module's name in model.named_modules() ("" for the model itself, "0", "heads.1.0", ...).
    Afterwards every layer's forward is what it was before, even if the model raised (an instance
    `forward` a layer already had, as module 18 gives pruned layers, is kept).
    EXAMPLE: observe_inputs(Sequential(lin), [Tensor([[1., -3.]]), Tensor([[2., 0.]])]) -> {"0": [-3.0, 2.0]}
    HINT: `m.__dict__.get("forward")` is an instance forward (or None); a default argument
    freezes the value of a loop variable inside a nested function; try/finally.
    """
    ### BEGIN SOLUTION
    ranges, saved = {}, {}
    for path, m in model.named_modules():
        if isinstance(m, types):
            ranges[path], saved[path] = [math.inf, -math.inf], m.__dict__.get("forward")
            def spy(x, r=ranges[path], inner=m.forward):
                v = np.asarray(x.data if isinstance(x, Tensor) else x)
                r[0], r[1] = min(r[0], float(v.min())), max(r[1], float(v.max()))
                return inner(x)
            m.forward = spy
    try:
        for x in batches:
            model(x)
    finally:
        for path, m in model.named_modules():
            if path in saved:
                del m.forward
                if saved[path] is not None:
                    m.forward = saved[path]
    return ranges
    ### END SOLUTION

# %% test id="test-observe-inputs" points=2
manual_seed(0)
seq = Sequential(Linear(2, 3), ReLU(), Linear(3, 1))
obs = observe_inputs(seq, [Tensor([[1.0, -3.0]]), Tensor([[0.5, 2.0]])])
h = np.maximum(np.array([[1.0, -3.0], [0.5, 2.0]]) @ seq[0].weight.data.T + seq[0].bias.data, 0)
got = (obs["0"], obs["2"])
assert len(obs) == 2 and got[0] == [-3.0, 2.0] and np.allclose(got[1], [0, h.max()]), f"expected the Linears to see [-3.0, 2.0] (both batches) and [0, {h.max():.4f}] (ReLU outputs), got {got}"
seq(Tensor([[100.0, 100.0]]))
assert not own_forward_removed(seq[0]) and not own_forward_removed(seq[2]), "afterwards no spy is left on the layers"
### BEGIN HIDDEN TESTS
seq[2].forward = seq[1]            # an instance forward (here: a ReLU), set before observing
obs = observe_inputs(seq, [Tensor(np.ones((1, 2), np.float32))], types=(Linear,))
got = seq(Tensor(np.ones((1, 2), np.float32))).shape
assert got == (1, 3) and isinstance(obs["0"][0], float), f"an instance forward set before observation must be kept: expected output (1, 3), got {got}"
try:
    observe_inputs(seq, [Tensor(np.ones((1, 5), np.float32))])
except Exception:
    pass
assert not own_forward_removed(seq[0]), "after an error inside the model no spy is left (try/finally)"
assert seq(Tensor(np.ones((1, 2), np.float32))).shape == (1, 3), "after an error the instance forward is restored"
del seq[2].forward
got = observe_inputs(seq, [], types=(Sequential,))
assert got == {"": [np.inf, -np.inf]}, f"types chooses the observed modules; nothing seen gives [inf, -inf]: got {got}"
### END HIDDEN TESTS

# %% solution id="quantize-model"
#| export
def quantize_model(model, calibration_loader):
    """A new model: a deep copy of `model` (in eval mode) in which every Linear and Conv2d, at any
    depth, is replaced by QuantizedLinear / QuantizedConv2d calibrated on the inputs that layer
    received while the copy ran on every x of calibration_loader (batches (x, y)). model is not modified.
    EXAMPLE: quantize_model(Sequential(Linear(4, 3), ReLU()), loader)[0] -> a QuantizedLinear
    HINT: `vars(module)` lists the attributes; `setattr` replaces one; lists are changed by index;
    the walk knows each layer's path as named_modules() spells it (observe_inputs' keys).
    """
    ### BEGIN SOLUTION
    new = copy.deepcopy(model).eval()
    ranges = observe_inputs(new, (x for x, _ in calibration_loader))

    def convert(layer, path):
        if isinstance(layer, Conv2d):
            return QuantizedConv2d.from_float(layer, np.array(ranges[path]))
        if isinstance(layer, Linear):
            return QuantizedLinear.from_float(layer, np.array(ranges[path]))
        if isinstance(layer, Module):
            for name, value in list(vars(layer).items()):
                sub = f"{path}.{name}" if path else name
                if isinstance(value, list):
                    value[:] = [convert(v, f"{sub}.{i}") for i, v in enumerate(value)]
                elif isinstance(value, Module):
                    setattr(layer, name, convert(value, sub))
        return layer

    return convert(new, "")
    ### END SOLUTION

def model_size_bytes(model, sparse=False):
    """Bytes of every ndarray and Tensor attribute of every module of model (each array once).

    sparse=True: an array is stored as its nonzero entries plus a bitmap of one bit per entry
    (nonzeros * itemsize + ceil(size / 8) bytes) when that is smaller; boolean arrays (pruning
    masks) are then not stored at all, the bitmap is the mask.
    EXAMPLE: model_size_bytes(Linear(64, 10)) -> (640 + 10) * 4 = 2600
    HINT: `.nbytes`, `.itemsize`, `np.count_nonzero`; remember id()s of arrays already counted.
    """
    ### BEGIN SOLUTION
    total, counted = 0, set()
    for module in model.modules():
        for value in vars(module).values():
            arr = value.data if isinstance(value, Tensor) else value
            if not isinstance(arr, np.ndarray) or id(arr) in counted:
                continue
            counted.add(id(arr))
            if not sparse:
                total += arr.nbytes
            elif arr.dtype != np.bool_:
                total += min(arr.nbytes, np.count_nonzero(arr) * arr.itemsize + math.ceil(arr.size / 8))
    return total
    ### END SOLUTION

# %% test id="test-quantize-model" points=4
manual_seed(0)
net = Sequential(Linear(16, 32), ReLU(), Linear(32, 4))
xq = np.random.default_rng(4).uniform(-1, 1, size=(40, 16)).astype(np.float32)
loader = DataLoader(TensorDataset(Tensor(xq), Tensor(np.zeros(40, np.int64))), batch_size=16)
qnet = quantize_model(net, loader)
assert isinstance(qnet[0], QuantizedLinear) and isinstance(qnet[2], QuantizedLinear) and isinstance(net[0], Linear), f"expected Linears replaced in the copy only, got {type(qnet[0]).__name__}, original {type(net[0]).__name__}"
assert np.allclose(qnet(Tensor(xq)).data, net(Tensor(xq)).data, atol=0.05), "the int8 model computes about what the float model does"
sizes = (model_size_bytes(net), model_size_bytes(qnet))
assert sizes[0] == (16 * 32 + 32 + 32 * 4 + 4) * 4, f"float32 size: expected {(16 * 32 + 32 + 32 * 4 + 4) * 4} bytes, got {sizes[0]}"
assert sizes[1] == 16 * 32 + 32 * 4 + (32 + 4) * 8, f"int8 size: weights 1 byte, scales and biases 4: expected {16 * 32 + 32 * 4 + 36 * 8}, got {sizes[1]}"
### BEGIN HIDDEN TESTS
hidden_in = np.maximum(xq @ net[0].weight.data.T + net[0].bias.data, 0)
assert qnet[2].input_zero_point == -128 and np.isclose(qnet[2].input_scale, hidden_in.max() / 255), f"layer 2 is calibrated on ReLU outputs of all 40 rows: expected ({hidden_in.max() / 255:.5f}, -128), got ({qnet[2].input_scale:.5f}, {qnet[2].input_zero_point})"
assert np.isclose(qnet[0].input_scale, (xq.max() - xq.min()) / 255), "layer 0 is calibrated on every batch"
class TwoBranch(Module):
    def __init__(self):
        super().__init__()
        self.conv = Conv2d(1, 2, 3, padding=1)
        self.heads = [Flatten(), Sequential(Linear(32, 3)), Linear(3, 2)]
    def forward(self, x):
        return self.heads[2](self.heads[1](self.heads[0](self.conv(x))))
manual_seed(1)
tb = TwoBranch().train()
xi = np.random.default_rng(5).uniform(0, 1, size=(8, 1, 4, 4)).astype(np.float32)
qtb = quantize_model(tb, [(Tensor(xi), None)])
assert isinstance(qtb.conv, QuantizedConv2d) and isinstance(qtb.heads[1][0], QuantizedLinear) and isinstance(qtb.heads[2], QuantizedLinear), "the conv, the Linear in a Sequential in a list and the Linear in a list must be quantized"
assert isinstance(tb.conv, Conv2d) and isinstance(tb.heads[1][0], Linear) and tb.training and not qtb.training, "original untouched (and still training), the copy in eval mode"
assert np.allclose(qtb(Tensor(xi)).data, tb(Tensor(xi)).data, atol=0.05), "quantized two-branch model close to the float one"
assert not own_forward_removed(tb.conv) and not own_forward_removed(qtb.heads[1]), "calibration leaves no spy behind"
sp, dense, odd = Linear(8, 4, bias=False), Linear(8, 4), Linear(9, 2, bias=False)
odd.weight.data[:] = np.eye(1, 18).reshape(2, 9)
sp.weight.data[:, :6] = 0
sp.mask = np.ones((4, 8), bool)
got = (model_size_bytes(sp), model_size_bytes(sp, sparse=True))
assert got == (128 + 32, 8 * 4 + 4), f"8 nonzeros of 32 float32: expected dense 160 (with a 32-byte mask), sparse 8*4 + 4 = 36, got {got}"
got = (model_size_bytes(Linear(64, 10)), model_size_bytes(dense, sparse=True), model_size_bytes(Sequential(dense, dense)), model_size_bytes(odd, sparse=True))
assert got == (2600, 144, 144, 7), f"Linear(64, 10); a dense layer, sparse=True, never larger than dense; a layer used twice counts once; 1 nonzero of 18 = 4 + ceil(18 / 8) bytes: expected (2600, 144, 144, 7), got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## Systems note: size, accuracy and time, measured
# A digits MLP (64 -> 128 -> 10) calibrated on its training images: just under 4x fewer bytes, no
# speed-up (NumPy has no int8 BLAS; that needs VNNI-like instructions). How few bits? Round to $b$ bits:

# %% solution id="fake-quantize"
def fake_quantize(w, bits, per_channel=True):
    """w (ndarray (out, ...)) rounded to a symmetric per-row grid of `bits` bits and mapped back to
    floats: codes -2^(bits-1) .. 2^(bits-1) - 1, scale max|row| / (2^(bits-1) - 0.5) (at least EPS),
    as choose_qparams(..., symmetric=True) does for 8 bits; per_channel=False: one scale. float32, w's shape.
    EXAMPLE: fake_quantize(np.array([[1.0, 0.3, -0.6]]), 2) -> [[0.6667, 0.0, -0.6667]] (scale 1/1.5)
    """
    ### BEGIN SOLUTION
    half = 2 ** (bits - 1)
    rows = w.reshape(len(w) if per_channel else 1, -1)
    step = np.maximum(np.abs(rows).max(axis=1, keepdims=True) / (half - 0.5), EPS)
    codes = np.clip(np.round(rows / step), -half, half - 1)
    return (codes * step).reshape(w.shape).astype(np.float32)
    ### END SOLUTION

# %% test id="test-fake-quantize" points=1
got = fake_quantize(np.array([[1.0, 0.3, -0.6]]), 2)
assert got.dtype == np.float32 and np.allclose(got, [[2 / 3, 0, -2 / 3]]), f"expected [[0.6667, 0, -0.6667]], got {got.tolist()}"
### BEGIN HIDDEN TESTS
w8 = np.random.default_rng(6).standard_normal((3, 2, 4)) * np.array([0.1, 1, 10])[:, None, None]
s8, _ = choose_qparams(w8, axis=0, symmetric=True)
exp = dequantize_int8(quantize_int8(w8, s8, np.zeros(3, int), axis=0), s8, np.zeros(3, int), axis=0)
assert np.allclose(fake_quantize(w8, 8), exp, atol=1e-6), "8 bits per row is symmetric int8 per channel"
got = fake_quantize(np.array([[4.0, -4.0, 0.1], [0.0, 0.0, 0.0]]), 3)   # step 4/3.5, codes 3, -4, 0
assert np.allclose(got, [[3 * 4 / 3.5, -4 * 4 / 3.5, 0], [0, 0, 0]]), f"3 bits: codes -4..3, expected [[3.43, -4.57, 0], [0, 0, 0]], got {got.tolist()}"
got = fake_quantize(np.array([[[1.0, 0.3]], [[-0.2, 0.1]]]), 2, per_channel=False)
assert np.allclose(got, [[[2 / 3, 0]], [[0, 0]]]), f"per_channel=False: one scale 1/1.5 for all rows, expected [[[0.667, 0]], [[0, 0]]], got {got.tolist()}"
### END HIDDEN TESTS

# %% solution id="measure-quantized"
def measure(model, X, y, repeats=5):
    """{"bytes": model_size_bytes(model), "accuracy": fraction of rows of X (a Tensor) whose arg-max
    output is the label y (a Tensor of ints), "ms": the MEDIAN time of one model(X) call in
    milliseconds over `repeats` timed calls, after one untimed warm-up call}. Floats and an int.
    HINT: `time.perf_counter()`; `np.median`.
    """
    ### BEGIN SOLUTION
    correct = float(np.mean(model(X).data.argmax(axis=1) == y.data))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(X)
        times.append((time.perf_counter() - start) * 1e3)
    return {"bytes": model_size_bytes(model), "accuracy": correct, "ms": float(np.median(times))}
    ### END SOLUTION

# %% test id="test-measure-quantized" points=1
lin3 = Linear(3, 2, bias=False)
lin3.weight.data = np.array([[1.0, 0, 0], [0, 1.0, 0]], np.float32)
got = measure(lin3, Tensor(np.array([[2.0, 1, 0], [0, 1, 0], [5, 0, 0]], np.float32)), Tensor(np.array([0, 0, 0])))
assert got["bytes"] == 24 and np.isclose(got["accuracy"], 2 / 3) and 0 < got["ms"] < 100, f"expected bytes 24, accuracy 2/3, a small positive time, got {got}"
### BEGIN HIDDEN TESTS
class Slow(Module):
    calls = 0
    def forward(self, x):
        type(self).calls += 1
        time.sleep(0.04 if type(self).calls in (1, 3, 4, 6) else 0.0)
        return x
got = measure(Slow(), Tensor(np.eye(2, dtype=np.float32)), Tensor(np.array([0, 1])), repeats=5)
assert Slow.calls == 6 and got["accuracy"] == 1.0 and got["bytes"] == 0, f"one warm-up plus 5 timed calls: expected 6 calls, got {Slow.calls}"
assert 30 < got["ms"] < 60, f"timed calls take 0, 40, 40, 0, 40 ms: the median is 40 ms (the mean 24, the min 0), got {got['ms']:.2f}"
### END HIDDEN TESTS

# %% [markdown]
# The **SQNR** $10 \log_{10}\big(\sum w^2 / \sum (w - \hat w)^2\big)$ gains about 6 dB per bit.

# %% solution id="accuracy-at-bits"
def sqnr_db(w, bits, per_channel=True):
    """The SQNR in dB (a float) of w against fake_quantize(w, bits, per_channel); math.inf if exact.
    EXAMPLE: sqnr_db(np.array([[1.0, 0.3]]), 2) -> 7.34 (w_hat [[0.667, 0]])"""
    ### BEGIN SOLUTION
    w = np.asarray(w, dtype=np.float64)
    noise = np.sum((fake_quantize(w, bits, per_channel) - w) ** 2)
    if noise == 0:
        return math.inf
    return float(10 * np.log10(np.sum(w ** 2) / noise))
    ### END SOLUTION

def accuracy_at_bits(model, X, y, bits, per_channel=True):
    """[the accuracy (as `measure` reports it) on X, y of a copy of model in which every Linear and
    Conv2d weight, at any depth, is replaced by fake_quantize(weight, b, per_channel), for each b in
    bits]. Biases stay float; model is not modified.
    EXAMPLE: accuracy_at_bits(mlp, Xt, Yt, [8, 2]) -> [0.96, 0.41] (a list of floats)
    """
    ### BEGIN SOLUTION
    accs = []
    for b in bits:
        m = copy.deepcopy(model)
        for layer in m.modules():
            if isinstance(layer, (Linear, Conv2d)):
                layer.weight.data = fake_quantize(layer.weight.data, b, per_channel)
        accs.append(measure(m, X, y)["accuracy"])
    return accs
    ### END SOLUTION

# %% test id="test-accuracy-at-bits" points=2
got = (sqnr_db(np.array([[1.0, 0.3]]), 2), sqnr_db(np.array([[1.0, -1.0]]), 1), sqnr_db(np.zeros((1, 2)), 3))
assert np.isclose(got[0], 10 * np.log10(1.09 / (1 / 9 + 0.09)), rtol=1e-5) and got[1:] == (0.0, math.inf), f"expected (7.34, 0.0, inf) (noise (1/3)^2 + 0.3^2; all codes 0; exact), got {got}"
lin2 = Linear(2, 2, bias=False)
lin2.weight.data = np.array([[1.0, 0.3], [0.6, 1.0]], np.float32)
got = accuracy_at_bits(lin2, Tensor(np.eye(2, dtype=np.float32)), Tensor(np.array([0, 1])), [8, 1])
assert got == [1.0, 0.5], f"8 bits keeps both answers; 1 bit rounds every weight to 0 (all outputs tie, arg-max 0): expected [1.0, 0.5], got {got}"
assert lin2.weight.data.tolist() == [[1.0, 0.30000001192092896], [0.6000000238418579, 1.0]], "the model passed in is not modified"
### BEGIN HIDDEN TESTS
deep = Sequential(Sequential(Conv2d(1, 2, 1, bias=False)), Flatten())
deep[0][0].weight.data = np.array([1.0, -1.0], np.float32).reshape(2, 1, 1, 1)
got = accuracy_at_bits(deep, Tensor(np.array([1.0, -1.0], np.float32).reshape(2, 1, 1, 1)), Tensor(np.array([0, 1])), [1, 8, 1])
assert got == [0.5, 1.0, 0.5], f"a Conv2d inside a Sequential inside a Sequential is quantized too, each b on a fresh copy: expected [0.5, 1.0, 0.5], got {got}"
lin2.weight.data, args = np.array([[0.0, 9.0], [0.3, 0.1]], np.float32), (Tensor(np.eye(2, dtype=np.float32)), Tensor(np.array([1, 0])), [2])
got = accuracy_at_bits(lin2, *args, per_channel=False), accuracy_at_bits(lin2, *args)
assert got == ([0.5], [1.0]), f"per_channel is passed on (one scale for both rows wipes out the small row): expected ([0.5], [1.0]), got {got}"
w = np.random.default_rng(7).standard_normal((8, 16)) * np.logspace(-2, 0, 8)[:, None]
got = [sqnr_db(w, b) for b in (4, 5, 6)] + [sqnr_db(w, 6, per_channel=False)]
assert 5 < got[1] - got[0] < 7 and 5 < got[2] - got[1] < 7 and got[3] < got[2] - 3, f"about 6 dB per bit; per-tensor worse than per-row: got {np.round(got, 2).tolist()}"
### END HIDDEN TESTS

# %%
import matplotlib.pyplot as plt
from tinytorch_lib.data import load_digits, random_split
from tinytorch_lib.losses import CrossEntropyLoss
from tinytorch_lib.optim import Adam
from tinytorch_lib.training import Trainer

manual_seed(0)
X, Y = load_digits(flatten=True)
train_set, test_set = random_split(TensorDataset(X, Y), [1397, 400])
mlp = Sequential(Linear(64, 128), ReLU(), Linear(128, 10))
Trainer(mlp, CrossEntropyLoss(), Adam(mlp.parameters(), lr=3e-3)).fit(DataLoader(train_set, batch_size=64, shuffle=True), 8, progress=False)
Xt, Yt = next(iter(DataLoader(test_set, batch_size=400)))
q_mlp = quantize_model(mlp, DataLoader(train_set, batch_size=256))
for name, m in [("float32", mlp), ("int8", q_mlp)]:
    print(name, measure(m, Xt, Yt))
print(f"int8 is {model_size_bytes(mlp) / model_size_bytes(q_mlp):.2f}x smaller")
bits = [8, 6, 5, 4, 3, 2]
print("SQNR of layer 0 (dB):", [round(sqnr_db(mlp[0].weight.data, b), 1) for b in bits])
plt.figure(figsize=(5, 3))
for pc in (True, False):
    plt.plot(bits, accuracy_at_bits(mlp, Xt, Yt, bits, pc), "o-", label=f"b bits, {'per row' if pc else 'per tensor'}")
plt.gca().invert_xaxis()
plt.xlabel("bits per weight"), plt.ylabel("test accuracy"), plt.legend(), plt.title("digits MLP"), plt.show()
