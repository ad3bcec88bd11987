# %% [markdown]
# # 16 · Acceleration
#
# Module 15 counted the work; this one makes it take less time or memory, **measured** on your
# machine (your numbers will differ). Each fast path must equal its slow twin to 1e-5:
# **blocking** (a matrix product over cache-sized tiles, the idea inside BLAS); **direct convolution**
# against module 09's im2col (fewer copies against one big product); **fusion** (`Linear` then
# `GELU` as one graph node with fewer temporaries and a hand-written backward).

# %%
#| default_exp acceleration
#| export
import math
import tracemalloc

import numpy as np

from tinytorch_lib.activations import GELU
from tinytorch_lib.autograd import VJP
from tinytorch_lib.layers import Linear, Module, Sequential
from tinytorch_lib.spatial import conv_output_size
from tinytorch_lib.tensor import Tensor, _make, as_tensor

# %%
import matplotlib.pyplot as plt
from tinytorch_lib.activations import ReLU
from tinytorch_lib.autograd import topological_order
from tinytorch_lib.profiling import measure_latency
from tinytorch_lib.spatial import conv2d
from tinytorch_lib.tensor import manual_seed

# %% [markdown]
# ## Matrix products: loops, tiles, BLAS
#
# $C_{ij} = \sum_k A_{ik} B_{kj}$ as three Python loops costs an interpreter round trip per
# multiply-add. **Blocking** accumulates $b \times b$ tile products $C_{IJ} \mathrel{+}= A_{IK} B_{KJ}$:
# a tile is used $b$ times while in cache, each product one fast call. BLAS does the same several
# levels deep (registers, L1, L2). NumPy slicing clips the smaller edge tiles for you.

# %% solution id="matmul"
#| export
def matmul_naive(a, b):
    """a @ b for 2-D ndarrays (M, K) and (K, N) by three Python loops, one multiply-add at a time.
    Returns a new (M, N) ndarray of np.result_type(a, b); ValueError naming both shapes unless
    a.shape[1] == b.shape[0]. Slow: small sizes only.
    EXAMPLE: matmul_naive(np.array([[1., 2.]]), np.array([[3.], [4.]])) -> [[11.]]
    """
    ### BEGIN SOLUTION
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"cannot multiply matrices of shapes {a.shape} and {b.shape}")
    M, K = a.shape
    N = b.shape[1]
    out = np.zeros((M, N), dtype=np.result_type(a, b))
    for i in range(M):
        for j in range(N):
            acc = 0.0
            for k in range(K):
                acc += a[i, k] * b[k, j]
            out[i, j] = acc
    return out
    ### END SOLUTION

def matmul_blocked(a, b, block=64):
    """a @ b for 2-D ndarrays by (block x block) tiles: for every tile of the output, the sum over
    k-tiles of (tile of a) @ (tile of b). Any shapes (edge tiles are smaller), any block >= 1.
    Returns a new (M, N) ndarray of np.result_type(a, b); a and b are not modified; ValueError
    naming both shapes if they do not fit.
    EXAMPLE: matmul_blocked(np.arange(6.).reshape(2, 3), np.ones((3, 2)), block=2) -> [[3., 3.], [12., 12.]]
    HINT: `range(start, stop, step)`; a slice of `out` is a view, and `+=` on a view writes into `out`.
    """
    ### BEGIN SOLUTION
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul_blocked: shapes {a.shape} and {b.shape} do not fit")
    M, K = a.shape
    N = b.shape[1]
    result = np.zeros((M, N), dtype=np.result_type(a, b))
    for i in range(0, M, block):
        for j in range(0, N, block):
            tile = result[i:i + block, j:j + block]
            for k in range(0, K, block):
                tile += a[i:i + block, k:k + block] @ b[k:k + block, j:j + block]
    return result
    ### END SOLUTION

# %% helper
import numpy as np

def raises(fn, exc):
    """Call fn(); return the message of the `exc` it must raise (AssertionError if it does not)."""
    try:
        fn()
    except exc as e:
        return str(e)
    raise AssertionError(f"expected {exc.__name__} to be raised")

def assert_close(got, expected, what, atol=1e-5):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, f"{what}: expected shape {expected.shape}, got {got.shape}"
    assert np.allclose(got, expected, rtol=1e-5, atol=atol), f"{what}: expected\n{expected}\ngot\n{got}"

# %% test id="test-matmul" points=3
a, b = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[5.0, 6.0, 7.0], [8.0, 9.0, 10.0]])
exp = [[21.0, 24.0, 27.0], [47.0, 54.0, 61.0]]   # row (1, 2) . column (5, 8) = 21, ...
assert_close(matmul_naive(a, b), exp, "matmul_naive of (2, 2) @ (2, 3)")
assert_close(matmul_blocked(a, b, block=1), exp, "matmul_blocked with block=1")
rng = np.random.default_rng(0)
a, b = rng.standard_normal((13, 17)), rng.standard_normal((17, 9))
assert_close(matmul_blocked(a, b, block=4), a @ b, "matmul_blocked (13, 17) @ (17, 9) in 4x4 tiles (edge tiles smaller)")
### BEGIN HIDDEN TESTS
assert_close(matmul_naive(a[:5, :6], b[:6, :4]), a[:5, :6] @ b[:6, :4], "matmul_naive (5, 6) @ (6, 4)")
for shape_a, shape_b, block in [((70, 65), (65, 67), 64), ((3, 130), (130, 2), 64), ((9, 5), (5, 11), 3), ((4, 4), (4, 4), 100)]:
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    a0, b0 = a.copy(), b.copy()
    assert_close(matmul_blocked(a, b, block), a @ b, f"matmul_blocked {shape_a} @ {shape_b}, block {block}")
    assert np.array_equal(a, a0) and np.array_equal(b, b0), "expected the inputs unchanged"
assert_close(matmul_blocked(a, b), a @ b, "matmul_blocked with the default block")
got = (matmul_blocked(a.astype(np.float32), b.astype(np.float32), 3).dtype, matmul_naive(a[:2].astype(np.float32), b[:, :2].astype(np.float32)).dtype)
assert got == (np.float32, np.float32), f"expected float32 in, float32 out, got {got}"
for fn in (matmul_naive, matmul_blocked):
    msg = raises(lambda: fn(np.ones((2, 3)), np.ones((2, 3))), ValueError)
    assert "(2, 3)" in msg, f"expected a ValueError naming the shapes (2, 3), got {msg!r}"
### END HIDDEN TESTS

# %% [markdown]
# ### Measured: loops, tiles of every size, BLAS
# The triple loop runs on a small matrix only (it is that slow); the tile sweep shows the cost of
# a Python call per tile (small tiles) against cache misses (tiles too big for cache).

# %%
def gflops(fn, a, b, *extra, repeats=3):
    return 2 * a.shape[0] * a.shape[1] * b.shape[1] / measure_latency(fn, a, b, *extra, warmup=1, repeats=repeats)["min_ms"] / 1e6

rng = np.random.default_rng(0)
small = rng.standard_normal((48, 48)), rng.standard_normal((48, 48))
A, B = rng.standard_normal((256, 256)).astype(np.float32), rng.standard_normal((256, 256)).astype(np.float32)
blocks = [8, 16, 32, 64, 128, 256]
rates, blas = [gflops(matmul_blocked, A, B, blk) for blk in blocks], gflops(np.matmul, A, B, repeats=10)
print(f"48x48 float64, triple loop: {gflops(matmul_naive, *small, repeats=1):.4f} GFLOP/s")
print(f"256x256 float32: blocked {min(rates):.2f} .. {max(rates):.2f} GFLOP/s, BLAS {blas:.2f} GFLOP/s")
plt.figure(figsize=(6, 3.5))
plt.semilogx(blocks, rates, marker="o", base=2, label="matmul_blocked")
plt.axhline(blas, color="k", ls="--", label="BLAS (np.matmul)")
plt.gca().set(xlabel="block size", ylabel="GFLOP/s", title="256x256 matrix product, measured")
plt.legend(), plt.show()

# %% [markdown]
# ## Direct convolution
#
# Module 09's im2col copies every window into a column matrix ($k_hk_w/s^2$ times the input), then
# runs one product. A **direct** convolution reads windows in place: per output position $(i, j)$ it
# contracts $x^{pad}_{:, :, is:is+k_h, js:js+k_w}$ with all filters over $(C, k_h, k_w)$, an
# $(N \times Ck_hk_w)(Ck_hk_w \times O)$ product: no column matrix, but $H_oW_o$ small products.
#
# Turned around, per **filter offset** $(u, v)$ the pixels $x^{pad}_{:, :, is+u, js+v}$ of all output
# positions are one strided slice $(N, C, H_o, W_o)$, multiplied by the $(O, C)$ matrix $w_{:, :, u, v}$:
# $k_hk_w$ large products, im2col's speed without its column matrix ("implicit GEMM").

# %% solution id="conv-direct"
#| export
def conv2d_naive(x, weight, bias=None, stride=1, padding=0):
    """Direct convolution on ndarrays: x (N, C, H, W), weight (O, C, kh, kw), bias (O,) or None,
    int stride and zero padding on all four sides. Returns a new (N, O, H_out, W_out) ndarray of
    np.result_type(x, weight), equal to module 09's conv2d; one loop over output positions, no
    column matrix. ValueError naming both shapes unless x and weight are 4-D with the same C.
    EXAMPLE: conv2d_naive(np.arange(9.).reshape(1, 1, 3, 3), np.ones((1, 1, 2, 2))) -> [[[[8., 12.], [20., 24.]]]]
    HINT: `np.pad`, `conv_output_size`; `np.tensordot(window, weight, axes=...)` contracts 3 axes at once.
    """
    ### BEGIN SOLUTION
    if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d_naive expects x (N, C, H, W) and weight (O, C, kh, kw), got {x.shape} and {weight.shape}")
    N, _, H, W = x.shape
    O, _, kh, kw = weight.shape
    OH, OW = conv_output_size(H, kh, stride, padding), conv_output_size(W, kw, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.empty((N, O, OH, OW), dtype=np.result_type(x, weight))
    for i in range(OH):
        for j in range(OW):
            window = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(window, weight, axes=([1, 2, 3], [1, 2, 3]))
    if bias is not None:
        out += bias.reshape(1, O, 1, 1)
    return out
    ### END SOLUTION

def conv2d_direct(x, weight, bias=None, stride=1, padding=0):
    """The same convolution as conv2d_naive (same arguments, result values, shape and dtype), by
    one loop over the kh * kw filter offsets: each adds the product of one strided slice of the
    padded input with weight[:, :, u, v]. Memory: the padded input and a few output-sized arrays,
    never a column matrix. The result may be a transposed view.
    HINT: `np.tensordot(a, b, axes=([1], [1]))` contracts the channel axis of both; accumulate in
    (N, H_out, W_out, O) order, then `transpose`.
    """
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    O, _, kh, kw = weight.shape
    OH, OW = conv_output_size(H, kh, stride, padding), conv_output_size(W, kw, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    acc = np.zeros((N, OH, OW, O), dtype=np.result_type(x, weight))
    for u in range(kh):
        for v in range(kw):
            pixels = xp[:, :, u:u + stride * OH:stride, v:v + stride * OW:stride]
            acc += np.tensordot(pixels, weight[:, :, u, v], axes=([1], [1]))
    if bias is not None:
        acc += bias
    return acc.transpose(0, 3, 1, 2)
    ### END SOLUTION

# %% test id="test-conv-direct" points=3
got = conv2d_naive(np.arange(9.0).reshape(1, 1, 3, 3), np.ones((1, 1, 2, 2)))
assert_close(got, [[[[8, 12], [20, 24]]]], "2x2 box filter on 0..8 (each output sums a 2x2 window)")
rng = np.random.default_rng(1)
xr, wr, br = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
exp = conv2d(Tensor(xr), Tensor(wr), Tensor(br), 1, 1).data
assert_close(conv2d_naive(xr, wr, br, 1, 1), exp, "conv2d_naive, x (2, 3, 6, 5), 3x3, padding 1, bias: module 09's conv2d")
assert_close(conv2d_direct(xr, wr, br, 1, 1), exp, "conv2d_direct, x (2, 3, 6, 5), 3x3, padding 1, bias: module 09's conv2d")
### BEGIN HIDDEN TESTS
for shape, wshape, s, p in [((2, 3, 7, 6), (5, 3, 2, 3), 2, 0), ((1, 2, 6, 5), (3, 2, 3, 3), 2, 1), ((2, 1, 4, 4), (2, 1, 1, 1), 3, 2), ((1, 2, 5, 9), (2, 2, 5, 2), 1, 0)]:
    xr, wr, br = rng.standard_normal(shape), rng.standard_normal(wshape), rng.standard_normal(wshape[0])
    x0 = xr.copy()
    assert_close(conv2d_naive(xr, wr, br, stride=s, padding=p), conv2d(Tensor(xr), Tensor(wr), Tensor(br), s, p).data, f"x {shape}, w {wshape}, stride {s}, padding {p}")
    assert_close(conv2d_naive(xr, wr, stride=s, padding=p), conv2d(Tensor(xr), Tensor(wr), None, s, p).data, f"no bias, x {shape}, w {wshape}, stride {s}, padding {p}")
    assert_close(conv2d_direct(xr, wr, br, stride=s, padding=p), conv2d(Tensor(xr), Tensor(wr), Tensor(br), s, p).data, f"conv2d_direct, x {shape}, w {wshape}, stride {s}, padding {p}")
    assert_close(conv2d_direct(xr, wr, None, s, p), conv2d(Tensor(xr), Tensor(wr), None, s, p).data, f"conv2d_direct without bias, x {shape}, w {wshape}, stride {s}, padding {p}")
    assert np.array_equal(xr, x0), "expected x unchanged"
got = (conv2d_naive(xr.astype(np.float32), wr.astype(np.float32), br.astype(np.float32), 1, 1).dtype, conv2d_direct(xr.astype(np.float32), wr.astype(np.float32), br.astype(np.float32), 1, 1).dtype)
assert got == (np.float32, np.float32), f"expected float32 in, float32 out, got {got}"
msg = raises(lambda: conv2d_naive(np.ones((1, 2, 4, 4)), np.ones((3, 1, 2, 2))), ValueError)
assert "(1, 2, 4, 4)" in msg and "(3, 1, 2, 2)" in msg, f"expected a ValueError naming both shapes, got {msg!r}"
### END HIDDEN TESTS

# %% [markdown]
# ### Measuring memory
# `tracemalloc` follows every Python and NumPy allocation once started; `get_traced_memory()` gives
# (current, peak) bytes. The peak decides whether a call fits in memory and counts its temporaries.

# %% solution id="peak-memory"
#| export
def peak_memory(fn, *args):
    """Bytes (an int): the most memory fn(*args) had allocated at once, counted from its start
    (arrays that existed before do not count; what it returns does, while it exists).
    Tracing is off again afterwards, also when fn raises (the exception propagates).
    EXAMPLE: peak_memory(np.ones, 1000) -> about 8000 (one float64 array)
    """
    ### BEGIN SOLUTION
    tracemalloc.start()
    try:
        fn(*args)
        return int(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()
    ### END SOLUTION

# %% test id="test-peak-memory" points=2
np.ones(1000), np.zeros((100, 100))     # first calls may allocate NumPy's own caches: not the array
got = peak_memory(np.ones, 1000)
assert 8000 <= got < 12000, f"np.ones(1000): expected about 8000 bytes (1000 float64), got {got}"
### BEGIN HIDDEN TESTS
got = peak_memory(np.zeros, (100, 100))
assert 80000 <= got < 84000, f"np.zeros((100, 100)): expected about 80000 bytes, got {got}"
raises(lambda: peak_memory(np.ones, "bad"), Exception)
got = peak_memory(np.arange, 10)
assert got < 1000, f"expected tracing restarted from zero after a failed call, got {got} bytes"
xr, wr = np.random.default_rng(5).standard_normal((2, 4, 16, 16)), np.random.default_rng(6).standard_normal((8, 4, 5, 5))
cols_bytes = 2 * (4 * 5 * 5) * (16 * 16) * 8
got = peak_memory(conv2d_direct, xr, wr, None, 1, 2)
assert got < 0.5 * cols_bytes, f"conv2d_direct must not build a column matrix ({cols_bytes} bytes), peak {got} bytes"
### END HIDDEN TESTS

# %% [markdown]
# ### Measured: three convolutions, time and peak memory

# %%
xs, ws = rng.standard_normal((8, 16, 32, 32)).astype(np.float32), rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
convs = {"per pixel (conv2d_naive)": conv2d_naive, "per offset (conv2d_direct)": conv2d_direct,
         "im2col (module 09)": lambda x, w, b, s, p: conv2d(Tensor(x), Tensor(w), b, s, p).data}
for name, fn in convs.items():
    ms = measure_latency(fn, xs, ws, None, 1, 1, warmup=1, repeats=3)["median_ms"]
    print(f"{name:28s} {ms:8.1f} ms   peak {peak_memory(fn, xs, ws, None, 1, 1) / 2**20:6.2f} MiB   (input {xs.nbytes / 2**20:.2f} MiB)")

# %% [markdown]
# ## Fusion: Linear + GELU in one pass
#
# `GELU()(Linear(x))` records three graph nodes (matmul, add, gelu), and every step of
# $\text{GELU}(z) = \tfrac12 z\,(1 + \tanh(\sqrt{2/\pi}\,(z + 0.044715\,z^3)))$ allocates an array that
# is written and read back: for elementwise work memory traffic, not arithmetic, is the cost.
#
# **Fused**, every step writes into one buffer (ufuncs take `out=`; `a *= b` is in place). The
# layer records **one** node, `"linear_gelu"`, keeping only the pre-activation
# $z = xW^\top + b$; its backward recomputes what it needs from $z$ (recomputation for memory):
#
# $$\bar z = \bar y \odot \text{GELU}'(z), \qquad \bar x = \bar z W, \qquad \bar W = \bar z^\top x, \qquad \bar b = \textstyle\sum_{\text{rows}} \bar z,$$
#
# with the leading axes of $x$ flattened into rows, and, with $u = \sqrt{2/\pi}\,(z + 0.044715\,z^3)$,
# $\text{GELU}'(z) = \tfrac12(1 + \tanh u) + \tfrac12 z\,(1 - \tanh^2 u)\,\sqrt{2/\pi}\,(1 + 3 \cdot 0.044715\,z^2)$.

# %% solution id="fused-gelu"
#| export
def fused_gelu(z):
    """GELU (tanh approximation, as module 02) of the ndarray z, allocating one array: the result.
    z is not modified; the result has z's shape and dtype (float32 stays float32) and equals
    GELU()(Tensor(z)).data to 1e-6.
    EXAMPLE: fused_gelu(np.array([-1., 0., 1.])) -> [-0.1588, 0., 0.8412]
    HINT: allocate the result once (`np.multiply` of z with itself is a fine start), then only
    in-place updates (`*=`, `+=`; `np.tanh` takes `out=` too). Constants as Python floats.
    """
    ### BEGIN SOLUTION
    buf = np.multiply(z, z)
    buf *= 0.044715
    buf += 1.0
    buf *= z
    buf *= math.sqrt(2.0 / math.pi)
    np.tanh(buf, out=buf)
    buf += 1.0
    buf *= z
    buf *= 0.5
    return buf
    ### END SOLUTION

# %% test id="test-fused-gelu" points=2
z = np.array([-1.0, 0.0, 1.0])
assert_close(fused_gelu(z), [-0.158808, 0.0, 0.841192], "fused_gelu([-1, 0, 1])")
zr = np.random.default_rng(2).standard_normal((4, 5)) * 3
assert_close(fused_gelu(zr), GELU()(Tensor(zr)).data, "fused_gelu against module 02's GELU", atol=1e-6)
### BEGIN HIDDEN TESTS
z0 = zr.copy()
got = fused_gelu(zr)
assert np.array_equal(zr, z0), "expected z unchanged (write into a new buffer, not into z)"
z32 = np.linspace(-12, 12, 49, dtype=np.float32).reshape(7, 7)
got = fused_gelu(z32)
assert got.dtype == np.float32 and got.shape == (7, 7), f"expected float32 (7, 7), got {got.dtype} {got.shape}"
assert_close(got, GELU()(Tensor(z32)).data, "fused_gelu of float32 in [-12, 12]", atol=1e-6)
big = np.random.default_rng(7).standard_normal((100, 100))
got = (peak_memory(fused_gelu, big) / big.nbytes, peak_memory(GELU(), Tensor(big)) / big.nbytes)
assert got[0] < 1.3 and got[1] > 2, f"peak memory in arrays of z's size: expected under 1.3 fused (the result only), over 2 unfused, got {got}"
### END HIDDEN TESTS

# %% solution id="fused-linear"
#| export
def linear_gelu(x, weight, bias=None):
    """GELU(x @ weight.T + bias) for Tensors x (..., in), weight (out, in), bias (out,) or None,
    recorded as ONE op "linear_gelu" with parents (x, weight) or (x, weight, bias) and ctx z (the
    pre-activation ndarray). Returns a Tensor (..., out) in NumPy's result dtype.
    EXAMPLE: linear_gelu(Tensor([[1., 2.]]), Tensor([[1., 0.], [0., -1.]]), Tensor([0., 1.])).data
             -> [[0.8412, -0.1588]]   (GELU of z = [1, -1])
    """
    ### BEGIN SOLUTION
    x, weight = as_tensor(x), as_tensor(weight)
    z = x.data @ weight.data.T
    parents = (x, weight)
    if bias is not None:
        bias = as_tensor(bias)
        z += bias.data
        parents = (x, weight, bias)
    return _make(fused_gelu(z), parents, "linear_gelu", z=z)
    ### END SOLUTION

def _linear_gelu_vjp(grad, out, x, weight, bias=None, z=None):
    """Gradients (grad_x, grad_weight[, grad_bias]) of linear_gelu, ndarrays of the parents' shapes."""
    ### BEGIN SOLUTION
    c = math.sqrt(2.0 / math.pi)
    z2 = z * z
    t = np.tanh(c * z * (1.0 + 0.044715 * z2))
    slope = 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * c * (1.0 + 3 * 0.044715 * z2)
    gz = grad * slope
    rows = gz.reshape(-1, gz.shape[-1])
    grad_x = gz @ weight.data
    grad_w = rows.T @ x.data.reshape(-1, x.shape[-1])
    if bias is None:
        return grad_x, grad_w
    return grad_x, grad_w, rows.sum(axis=0)
    ### END SOLUTION

VJP["linear_gelu"] = _linear_gelu_vjp

class FusedLinearGELU(Module):
    def __init__(self, in_features, out_features, bias=True):
        """The parameters of Linear(in_features, out_features, bias), drawn exactly as Linear draws
        them (so, after the same manual_seed, the same numbers), kept as `weight` and `bias`,
        with `in_features` and `out_features`. HINT: a Linear made here can hand over its Tensors."""
        super().__init__()
        ### BEGIN SOLUTION
        linear = Linear(in_features, out_features, bias)
        self.in_features, self.out_features = in_features, out_features
        self.weight, self.bias = linear.weight, linear.bias
        ### END SOLUTION

    @classmethod
    def from_linear(cls, linear):
        """A FusedLinearGELU holding `linear`'s own weight and bias Tensors (shared, not copied),
        made without drawing any random number. HINT: `cls.__new__(cls)`, then Module.__init__."""
        ### BEGIN SOLUTION
        layer = cls.__new__(cls)
        Module.__init__(layer)
        layer.in_features, layer.out_features = linear.in_features, linear.out_features
        layer.weight, layer.bias = linear.weight, linear.bias
        return layer
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return linear_gelu(x, self.weight, self.bias)
        ### END SOLUTION

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

    def flops(self, in_shape, out_shape):
        """The matrix product's FLOPs, for module 15's layer_flops: 2 * (output elements) * in."""
        ### BEGIN SOLUTION
        return 2 * int(np.prod(out_shape)) * self.in_features
        ### END SOLUTION

def fuse_linear_gelu(seq):
    """A fusion pass: a new Sequential with the layers of the Sequential `seq`, where each Linear
    directly followed by a GELU becomes one FusedLinearGELU.from_linear of that Linear (the GELU
    dropped), each Sequential inside is fused the same way (a new one), and every other layer is
    kept as the same object. `seq` itself is not modified.
    EXAMPLE: Sequential(Linear(4, 8), GELU(), Linear(8, 2), GELU(), ReLU())
             -> Sequential(FusedLinearGELU, FusedLinearGELU, ReLU)
    """
    ### BEGIN SOLUTION
    items, layers, i = list(seq), [], 0
    while i < len(items):
        layer = items[i]
        if isinstance(layer, Linear) and i + 1 < len(items) and isinstance(items[i + 1], GELU):
            layers.append(FusedLinearGELU.from_linear(layer))
            i += 2
            continue
        layers.append(fuse_linear_gelu(layer) if isinstance(layer, Sequential) else layer)
        i += 1
    return Sequential(*layers)
    ### END SOLUTION

# %% helper
import numpy as np

def grad_check(fn, *arrays):
    """fn(*float64 leaf Tensors) -> Tensor: its backward against central differences, every input."""
    leaves = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    R = np.random.default_rng(0).standard_normal(fn(*leaves).shape)
    (fn(*leaves) * Tensor(R)).sum().backward()
    for k, leaf in enumerate(leaves):
        num = np.zeros_like(leaf.data)
        for i in np.ndindex(leaf.shape):
            old, leaf.data[i] = leaf.data[i], leaf.data[i] + 1e-6
            plus = np.sum(R * fn(*leaves).data)
            leaf.data[i] = old - 1e-6
            num[i], leaf.data[i] = (plus - np.sum(R * fn(*leaves).data)) / 2e-6, old
        got = None if leaf.grad is None else leaf.grad.data
        assert got is not None and np.allclose(got, num, rtol=1e-5, atol=1e-6), \
            f"gradient of input {k}: expected (finite differences)\n{np.round(num, 5)}\ngot\n{got}"

# %% test id="test-fused-linear" points=4
got = linear_gelu(Tensor([[1.0, 2.0]]), Tensor([[1.0, 0.0], [0.0, -1.0]]), Tensor([0.0, 1.0]))
assert_close(got.data, [[0.841192, -0.158808]], "GELU of z = [1, -1]")
rng = np.random.default_rng(3)
grad_check(lambda a, w, b: linear_gelu(a, w, b), rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2))
manual_seed(0)
fused = FusedLinearGELU(4, 3)
manual_seed(0)
lin = Linear(4, 3)
xr = rng.standard_normal((5, 4)).astype(np.float32)
assert_close(fused(Tensor(xr)).data, GELU()(lin(Tensor(xr))).data, "FusedLinearGELU(4, 3) against GELU(Linear(4, 3)) after the same seed")
### BEGIN HIDDEN TESTS
y = linear_gelu(Tensor(np.ones((2, 3)), requires_grad=True), Tensor(np.ones((4, 3)), requires_grad=True), Tensor(np.zeros(4), requires_grad=True))
assert y._op == "linear_gelu" and len(y._parents) == 3 and np.allclose(y._ctx["z"], 3.0), f"expected one op 'linear_gelu' with 3 parents and ctx z, got {y._op!r}"
zz, gg = np.array([[-1.0, 0.0, 2.0]]), np.array([[1.0, 2.0, -1.0]])
got = _linear_gelu_vjp(gg, None, Tensor(np.ones((1, 2))), Tensor(np.ones((3, 2))), None, z=zz)
exp_gz = gg * np.array([[-0.082964, 0.5, 1.086099]])   # GELU'(-1), GELU'(0), GELU'(2)
assert len(got) == 2 and np.allclose(got[0], exp_gz @ np.ones((3, 2)), atol=1e-5) and np.allclose(got[1], exp_gz.T @ np.ones((1, 2)), atol=1e-5), f"_linear_gelu_vjp without bias: expected (grad_x, grad_weight) from GELU' = [-0.0830, 0.5, 1.0861], got {got}"
grad_check(lambda a, w: linear_gelu(a, w), rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)))
grad_check(lambda a, w, b: linear_gelu(a, w, b), rng.standard_normal(3) * 2, rng.standard_normal((2, 3)), rng.standard_normal(2))
xt, xu = Tensor(xr, requires_grad=True), Tensor(xr, requires_grad=True)
fused(xt).sum().backward()
GELU()(lin(xu)).sum().backward()
for what, got, exp in [("weight", fused.weight.grad, lin.weight.grad), ("bias", fused.bias.grad, lin.bias.grad), ("input", xt.grad, xu.grad)]:
    assert_close(got.data, exp.data, f"{what} gradient, fused against Linear + GELU")
nb = FusedLinearGELU(3, 2, bias=False)
got = (nb.bias, nb.weight.shape, nb.weight.dtype, nb.in_features, nb.out_features, len(list(nb.parameters())))
assert got == (None, (2, 3), np.float32, 3, 2, 1), f"bias=False: expected (None, (2, 3), float32, 3, 2, 1), got {got}"
assert fused(Tensor(xr)).dtype == np.float32, "expected float32 in, float32 out"
got = (fused.flops((5, 4), (5, 3)), nb.flops((2, 6, 3), (2, 6, 2)))
assert got == (120, 144), f"flops: expected 2*15*4 = 120 and 2*24*3 = 144, got {got}"
relu, tail = ReLU(), Linear(2, 2)
seq = Sequential(Linear(3, 4), GELU(), Sequential(Linear(4, 2), GELU(), relu), Linear(2, 2), ReLU(), tail, GELU())
out = fuse_linear_gelu(seq)
got = [repr(m).split("(")[0] for m in out] + [repr(m).split("(")[0] for m in out[1]] + [len(seq)]
assert got == ["FusedLinearGELU", "Sequential", "Linear", "ReLU", "FusedLinearGELU", "FusedLinearGELU", "ReLU", 7], f"fusion of nested pairs: got {got}"
assert out[0].weight is seq[0].weight and out[1][1] is relu and out[2] is seq[3] and out[4].bias is tail.bias and out[1] is not seq[2], "expected the Linears' own Tensors, other layers kept, nested Sequentials new"
xs = Tensor(rng.standard_normal((2, 3)))
assert_close(out(xs).data, seq(xs).data, "the fused model computes what the original does")
got = [repr(m).split("(")[0] for m in fuse_linear_gelu(Sequential(GELU(), Linear(2, 2)))]
assert got == ["GELU", "Linear"], f"a Linear at the end has no GELU after it: expected ['GELU', 'Linear'], got {got}"
### END HIDDEN TESTS
# %% [markdown]
# A fusion pass rewrites a model without retraining it. Module 13's transformer block has a
# `Linear`, `GELU`, `Linear` MLP; fused, it computes the same numbers:

# %%
from tinytorch_lib.transformer import TransformerBlock
blk = TransformerBlock(16, 2)
xt = Tensor(np.random.default_rng(5).standard_normal((2, 8, 16)).astype(np.float32))
before, blk.mlp = blk(xt).data, fuse_linear_gelu(blk.mlp)
print(blk.mlp, f"\nlargest difference after fusion: {np.abs(blk(xt).data - before).max():.2e}")

# %% [markdown]
# ## Systems note: what fusion saves, measured
# A (256, 512) batch through 512 -> 1024 units both ways: time, graph nodes, peak memory (the graph
# keeps every node's array alive). The product dominates time; fusion saves the elementwise arrays.

# %%
manual_seed(0)
fused, lin = FusedLinearGELU(512, 1024), Linear(512, 1024)
lin.weight.data, lin.bias.data = fused.weight.data, fused.bias.data
xb = Tensor(np.random.default_rng(4).standard_normal((256, 512)).astype(np.float32), requires_grad=True)
z = xb.data @ lin.weight.data.T
paths = {"unfused": (lambda x: GELU()(lin(x)), lambda z: GELU()(Tensor(z))), "fused": (fused, fused_gelu)}
results = {}
for name, (layer, act) in paths.items():
    step = measure_latency(lambda: layer(xb).sum().backward(), repeats=5)["median_ms"]
    gelu_ms = measure_latency(act, z, repeats=10)["median_ms"]
    results[name] = (step, gelu_ms, peak_memory(layer, xb) / z.nbytes, peak_memory(act, z) / z.nbytes)
    print(f"{name:8s} forward+backward {step:7.1f} ms (GELU alone {gelu_ms:5.2f} ms), {len(topological_order(layer(xb)))} graph nodes, "
          f"peak: layer {results[name][2]:.1f}, GELU {results[name][3]:.1f} arrays of (256, 1024)")
fig, axes = plt.subplots(1, 3, figsize=(12, 2.5))
for ax, k, label in zip(axes, (0, 1, 2), ("ms, forward + backward", "ms, GELU alone", "peak, in (256, 1024) arrays")):
    ax.barh(list(results), [r[k] for r in results.values()])
    ax.set(xlabel=label)
plt.tight_layout(), plt.show()
