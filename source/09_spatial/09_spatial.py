# %% [markdown]
# # 09 · Convolutions
#
# An MLP sees an image as 64 unrelated numbers. A **convolution** slides one small filter over the
# whole image, so the same few weights detect the same stroke wherever it is (LeCun et al., 1998).
# For $x$ of shape $(N, C, H, W)$, weight $w$ $(O, C, k_h, k_w)$, stride $s$ and zero padding $p$:
# $$y_{n,o,i,j} = b_o + \sum_{c}\sum_{u<k_h}\sum_{v<k_w} w_{o,c,u,v}\; x^{\text{pad}}_{n,\,c,\,is+u,\,js+v},
#   \qquad H_{out} = \left\lfloor \frac{H + 2p - k_h}{s} \right\rfloor + 1 .$$
# You write it first as the direct loops of the formula, then as one matrix product over an **im2col**
# column matrix, and backwards (col2im); pooling reuses the same columns.

# %%
#| default_exp spatial
#| export
import numpy as np
from tinytorch_lib.autograd import VJP
from tinytorch_lib.layers import Module
from tinytorch_lib.tensor import Tensor, _make, as_tensor, get_generator

def _pair(v):
    return (int(v), int(v)) if np.isscalar(v) else tuple(int(k) for k in v)

# %% solution id="conv-naive"
def conv2d_naive(x, weight, bias=None, stride=1, padding=0):
    """Direct convolution on ndarrays: x (N, C, H, W), weight (O, C, kh, kw), bias (O,) or None.
    Returns (N, O, H_out, W_out) in x's dtype, sizes from the formula above (square stride and
    padding given as ints). Pads with zeros on all four sides.
    EXAMPLE: x = np.arange(9.).reshape(1, 1, 3, 3), weight = np.ones((1, 1, 2, 2))
             conv2d_naive(x, weight) -> [[[[ 8., 12.], [20., 24.]]]]
    HINT: np.pad; one window is a slice of 3 axes (channels, rows, columns).
    """
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    O, _, kh, kw = weight.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    OH, OW = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    out = np.zeros((N, O, OH, OW), dtype=x.dtype)
    for n in range(N):
        for o in range(O):
            for i in range(OH):
                for j in range(OW):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, o, i, j] = np.sum(window * weight[o]) + (0 if bias is None else bias[o])
    return out
    ### END SOLUTION

# %% helper
def reference_conv(x, w, b, stride, padding):
    """Convolution by einsum over sliding windows (the judge, independent of your code)."""
    xp = np.pad(x, [(0, 0), (0, 0), (padding, padding), (padding, padding)])
    win = np.lib.stride_tricks.sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("nchwuv,ocuv->nohw", win, w) + (0 if b is None else b[None, :, None, None])

def grad_check(fn, *arrays):
    """fn(*float64 leaf Tensors) -> Tensor: its backward against central differences, every input."""
    leaves = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = fn(*leaves)
    R = np.random.default_rng(0).standard_normal(out.shape)
    (out * Tensor(R)).sum().backward()
    for k, leaf in enumerate(leaves):
        num = np.zeros_like(leaf.data)
        for i in np.ndindex(leaf.shape):
            old = leaf.data[i]
            leaf.data[i] = old + 1e-6
            plus = np.sum(R * fn(*leaves).data)
            leaf.data[i] = old - 1e-6
            num[i] = (plus - np.sum(R * fn(*leaves).data)) / 2e-6
            leaf.data[i] = old
        got = None if leaf.grad is None else leaf.grad.data
        assert got is not None and np.allclose(got, num, rtol=1e-5, atol=1e-7), f"gradient of input {k}: expected (finite differences)\n{np.round(num, 5)}\ngot\n{got}"

# %% test id="test-conv-naive" points=2
x0, w0 = np.arange(9.0).reshape(1, 1, 3, 3), np.ones((1, 1, 2, 2))
got = conv2d_naive(x0, w0)
assert got.shape == (1, 1, 2, 2) and np.allclose(got, [[[[8, 12], [20, 24]]]]), f"expected [[8, 12], [20, 24]], got {got}"
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(1)
for shape, wshape, s, p in [((2, 3, 5, 7), (4, 3, 3, 2), 1, 0), ((1, 2, 6, 5), (3, 2, 3, 3), 2, 1), ((2, 1, 4, 4), (2, 1, 1, 1), 3, 2)]:
    xr, wr, br = rng.standard_normal(shape), rng.standard_normal(wshape), rng.standard_normal(wshape[0])
    got, exp = conv2d_naive(xr, wr, br, s, p), reference_conv(xr, wr, br, s, p)
    assert got.shape == exp.shape and np.allclose(got, exp), f"x {shape}, w {wshape}, stride {s}, padding {p}: expected\n{exp}\ngot\n{got}"
got = conv2d_naive(x0.astype(np.float32), w0).dtype
assert got == np.float32, f"expected x's dtype float32, got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## im2col: the convolution as one matrix product
# Each output pixel is a dot product of the flattened filter (length $Ck_hk_w$) with the window under
# it. Copy every window of image $n$ into a **column** of $X_{col}^{(n)}$, shape $(Ck_hk_w,\; H_{out} W_{out})$,
# and its dot products become one matrix product $Y^{(n)} = W_{mat} X_{col}^{(n)}$ with $W_{mat}$ =
# `weight.reshape(O, -1)`; `np.matmul` does all $N$ at once on the stack `cols` $(N,\; Ck_hk_w,\; H_{out}W_{out})$.
# Rows of $X_{col}$ are ordered $(c, u, v)$ like $W_{mat}$, columns $(i, j)$. For one filter offset
# $(u, v)$ the pixels $x^{pad}_{:, :, is+u, js+v}$ for **all** $i, j$ are one strided slice of the padded
# input: $k_hk_w$ copies, no loop over output pixels. **col2im** is the adjoint (im2col's backward): it
# sends each column entry back to the pixel it was copied from, **adding** where windows overlap.

# %% solution id="im2col"
#| export
def conv_output_size(size, kernel, stride, padding):
    """floor((size + 2 * padding - kernel) / stride) + 1. EXAMPLE: conv_output_size(32, 3, 2, 1) -> 16"""
    ### BEGIN SOLUTION
    return (size + 2 * padding - kernel) // stride + 1
    ### END SOLUTION

def im2col(x, kh, kw, stride=1, padding=0):
    """Column matrices of the (kh, kw) windows of the ndarray x (N, C, H, W), one per image.

    Returns an ndarray of x's dtype with shape (N, C*kh*kw, H_out*W_out): rows ordered (c, u, v),
    columns ordered (i, j). No Python loop over output pixels (a loop over the kh*kw offsets is fine).
    EXAMPLE: im2col(np.arange(9.).reshape(1, 1, 3, 3), 2, 2) ->
             [[[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]]]
    HINT: allocate (N, C, kh, kw, H_out, W_out) and fill one (u, v) plane per offset.
    """
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    OH, OW = conv_output_size(H, kh, stride, padding), conv_output_size(W, kw, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.empty((N, C, kh, kw, OH, OW), dtype=x.dtype)
    for u in range(kh):
        for v in range(kw):
            cols[:, :, u, v] = xp[:, :, u:u + stride * OH:stride, v:v + stride * OW:stride]
    return cols.reshape(N, C * kh * kw, OH * OW)
    ### END SOLUTION

def col2im(cols, x_shape, kh, kw, stride=1, padding=0):
    """The adjoint of im2col: scatter-add the columns back into an array of shape x_shape (N, C, H, W).

    Every entry of cols goes to the input pixel im2col copied it from; entries that came from the
    same pixel are summed; entries that came from the padding are dropped.
    EXAMPLE: col2im(np.ones((1, 4, 4)), (1, 1, 3, 3), 2, 2) -> [[[[1, 2, 1], [2, 4, 2], [1, 2, 1]]]]
    HINT: the same strided slices as im2col, with += into a zero-padded array.
    """
    ### BEGIN SOLUTION
    N, C, H, W = x_shape
    OH, OW = conv_output_size(H, kh, stride, padding), conv_output_size(W, kw, stride, padding)
    cols = cols.reshape(N, C, kh, kw, OH, OW)
    xp = np.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=cols.dtype)
    for u in range(kh):
        for v in range(kw):
            xp[:, :, u:u + stride * OH:stride, v:v + stride * OW:stride] += cols[:, :, u, v]
    return xp[:, :, padding:padding + H, padding:padding + W]
    ### END SOLUTION

# %% test id="test-im2col" points=3
got = im2col(np.arange(9.0).reshape(1, 1, 3, 3), 2, 2)
assert np.array_equal(got, [[[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]]]), f"expected the 4 windows as columns, got\n{got}"
back = col2im(np.ones((1, 4, 4)), (1, 1, 3, 3), 2, 2)
assert np.array_equal(back, [[[[1, 2, 1], [2, 4, 2], [1, 2, 1]]]]), f"col2im counts how often each pixel was copied; got\n{back}"
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(2)
got = [conv_output_size(32, 3, 2, 1), conv_output_size(7, 3, 3, 0), conv_output_size(5, 5, 1, 2)]
assert got == [16, 2, 5], f"conv_output_size: expected [16, 2, 5], got {got}"
for shape, k, s, p in [((2, 3, 5, 7), (3, 2), 1, 0), ((2, 2, 6, 5), (3, 3), 2, 1), ((1, 2, 7, 4), (2, 3), 3, 2)]:
    xr = rng.standard_normal(shape)
    cols = im2col(xr, *k, s, p)
    wr = rng.standard_normal((3, shape[1], *k))
    ref = reference_conv(xr, wr, None, s, p)
    exp_shape = (shape[0], shape[1] * k[0] * k[1], ref[0, 0].size)
    assert cols.shape == exp_shape, f"im2col shape for x {shape}: expected {exp_shape}, got {cols.shape}"
    assert np.allclose((wr.reshape(3, -1) @ cols).reshape(ref.shape), ref), f"W_mat @ cols differs from the convolution for x {shape}, kernel {k}, stride {s}, padding {p}"
    c = rng.standard_normal(cols.shape)   # adjoint: <im2col(x), c> == <x, col2im(c)>
    assert np.isclose(np.sum(cols * c), np.sum(xr * col2im(c, shape, *k, s, p))), f"col2im is not im2col's adjoint for {shape}, {k}, {s}, {p}"
got = im2col(np.ones((1, 1, 3, 3), np.float32), 2, 2).dtype
assert got == np.float32, f"expected x's dtype float32, got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## The conv2d op and its backward
# `conv2d` computes $Y = W_{mat}X_{col}$ (reshaped, for free, to $(N, O, H_{out}, W_{out})$) and keeps
# `cols` in ctx for backward; the bias is a broadcast add of `bias.reshape(1, O, 1, 1)` (module 05
# differentiates it already). Backward is module 05's matmul rule, $\bar W_{mat} = \bar Y X_{col}^\top$
# and $\bar X_{col} = W_{mat}^\top \bar Y$ per image ($\bar Y$ = `grad` as $(N, O, H_{out}W_{out})$); the
# weight is shared by all images, so its gradient is the **sum** over $n$; then col2im. Return `None`
# for a parent that does not require grad (col2im is not free). The rule goes into `VJP["conv2d"]`.

# %% solution id="conv2d-op"
#| export
def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D convolution of Tensors (NCHW), recorded as op "conv2d" (parents (x, weight); ctx stride,
    padding, cols), plus the bias (O,) as a broadcast Tensor add when it is not None.

    EXAMPLE: conv2d(Tensor of (2, 3, 8, 8), Tensor of (4, 3, 3, 3), padding=1).shape -> (2, 4, 8, 8)
    Raises ValueError naming both shapes unless x is 4-D, weight 4-D, with the same C.
    HINT: W_mat (O, K) @ cols (N, K, L) broadcasts to (N, O, L).
    """
    ### BEGIN SOLUTION
    x, weight = as_tensor(x), as_tensor(weight)
    if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d expects x (N, C, H, W) and weight (O, C, kh, kw), got {x.shape} and {weight.shape}")
    N, _, H, W = x.shape
    O, _, kh, kw = weight.shape
    cols = im2col(x.data, kh, kw, stride, padding)
    OH, OW = conv_output_size(H, kh, stride, padding), conv_output_size(W, kw, stride, padding)
    y = (weight.data.reshape(O, -1) @ cols).reshape(N, O, OH, OW)
    out = _make(y, (x, weight), "conv2d", stride=stride, padding=padding, cols=cols)
    return out if bias is None else out + as_tensor(bias).reshape(1, O, 1, 1)
    ### END SOLUTION

def _conv2d_vjp(grad, out, x, weight, stride, padding, cols):
    """Gradients (grad_x, grad_weight) of conv2d; None for a parent that does not require grad."""
    ### BEGIN SOLUTION
    O, _, kh, kw = weight.shape
    G = np.asarray(grad).reshape(x.shape[0], O, -1)
    grad_w = (G @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(weight.shape) if weight.requires_grad else None
    grad_x = None
    if x.requires_grad:
        grad_x = col2im(weight.data.reshape(O, -1).T @ G, x.shape, kh, kw, stride, padding)
    return grad_x, grad_w
    ### END SOLUTION

VJP["conv2d"] = _conv2d_vjp

# %% test id="test-conv2d-op" points=4
rng = np.random.default_rng(3)
xr, wr, br = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
y = conv2d(Tensor(xr), Tensor(wr), Tensor(br), stride=1, padding=1)
assert y.shape == (2, 4, 5, 4) and np.allclose(y.data, reference_conv(xr, wr, br, 1, 1)), f"forward: expected shape (2, 4, 5, 4), got {y.shape}"
grad_check(lambda a, w, b: conv2d(a, w, b, stride=1, padding=1), xr, wr, br)
### BEGIN HIDDEN TESTS
grad_check(lambda a, w: conv2d(a, w, stride=2, padding=1), rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 3, 2)))
grad_check(lambda a, w: conv2d(a, w, stride=3, padding=2), rng.standard_normal((1, 2, 7, 4)), rng.standard_normal((2, 2, 2, 3)))
wt = Tensor(wr, requires_grad=True)
y2 = conv2d(Tensor(xr), wt, stride=2)
assert y2.shape == (2, 4, 2, 1) and np.allclose(y2.data, reference_conv(xr, wr, None, 2, 0)) and y2._op == "conv2d", f"stride 2, no bias: expected shape (2, 4, 2, 1) recorded as 'conv2d', got {y2.shape}, {y2._op!r}"
assert y2.data.flags["C_CONTIGUOUS"] and np.allclose(y2._ctx["cols"], im2col(xr, 3, 3, 2, 0)), "expected a C-contiguous output and ctx['cols'] == im2col(x, 3, 3, 2, 0)"
gx, gw = _conv2d_vjp(np.ones((2, 4, 2, 1)), y2, Tensor(xr), wt, 2, 0, im2col(xr, 3, 3, 2, 0))
assert gx is None and gw.shape == wr.shape, f"expected None for x (no requires_grad) and a {wr.shape} weight gradient, got {type(gx).__name__}, {getattr(gw, 'shape', gw)}"
f32 = conv2d(Tensor(xr.astype(np.float32)), Tensor(wr.astype(np.float32)), Tensor(br.astype(np.float32)), padding=1)
assert f32.dtype == np.float32, f"float32 in: expected float32 out, got {f32.dtype}"
### END HIDDEN TESTS

# %% solution id="conv2d-layer"
#| export
class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        """Store the arguments (kernel_size as a (kh, kw) pair) and create the parameters as PyTorch:
        float32 `weight` (out, in, kh, kw) and `bias` (out,) or None, both uniform in +-1/sqrt(fan_in),
        fan_in = in_channels * kh * kw, drawn from get_generator(), the weight first.
        EXAMPLE: Conv2d(3, 16, 3).weight.shape -> (16, 3, 3, 3); Conv2d(3, 16, (1, 5), bias=False).bias -> None
        """
        ### BEGIN SOLUTION
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), stride, padding
        kh, kw = self.kernel_size
        bound = 1.0 / np.sqrt(in_channels * kh * kw)
        g = get_generator()
        w = g.uniform(-bound, bound, size=(out_channels, in_channels, kh, kw))
        self.weight = Tensor(w.astype(np.float32), requires_grad=True)
        b = g.uniform(-bound, bound, size=(out_channels,)) if bias else None
        self.bias = Tensor(b.astype(np.float32), requires_grad=True) if bias else None
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)
        ### END SOLUTION

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")

# %% test id="test-conv2d-layer" points=2
from tinytorch_lib.tensor import manual_seed
manual_seed(0)
conv = Conv2d(3, 16, 3, padding=1)
assert conv.weight.shape == (16, 3, 3, 3) and conv.bias.shape == (16,), f"expected weight (16, 3, 3, 3), bias (16,), got {conv.weight.shape}"
bound = 1 / np.sqrt(27)
assert conv.weight.dtype == np.float32 and np.abs(conv.weight.data).max() <= bound and np.abs(conv.weight.data).max() > 0.9 * bound, f"weights uniform in +-1/sqrt(27) = +-{bound:.4f}, got max |w| {np.abs(conv.weight.data).max():.4f}"
### BEGIN HIDDEN TESTS
manual_seed(0)
w_ref, b_ref = get_generator().uniform(-bound, bound, size=(16, 3, 3, 3)), get_generator().uniform(-bound, bound, size=(16,))
assert np.allclose(conv.weight.data, w_ref) and np.allclose(conv.bias.data, b_ref), "expected the weight drawn first, then the bias, from get_generator()"
got = [p.shape for p in conv.parameters()]
assert got == [(16, 3, 3, 3), (16,)], f"expected parameters [(16, 3, 3, 3), (16,)], got {got}"
nb = Conv2d(2, 4, (1, 3), stride=2, bias=False)
assert nb.bias is None and nb.weight.shape == (4, 2, 1, 3) and np.abs(nb.weight.data).max() <= 1 / np.sqrt(6), f"Conv2d(2, 4, (1, 3), bias=False): expected no bias, weight (4, 2, 1, 3) within 1/sqrt(6), got {nb.bias!r}, {nb.weight.shape}"
assert (nb.kernel_size, nb.stride, nb.padding) == ((1, 3), 2, 0), f"expected ((1, 3), 2, 0), got {(nb.kernel_size, nb.stride, nb.padding)}"
xb = np.random.default_rng(4).standard_normal((2, 3, 6, 5)).astype(np.float32)
got, exp = conv(Tensor(xb)).data, reference_conv(xb, conv.weight.data, conv.bias.data, 1, 1)
assert np.allclose(got, exp, atol=1e-5), f"Conv2d forward: expected\n{exp}\ngot\n{got}"
got = nb(Tensor(xb[:, :2])).shape
assert got == (2, 4, 3, 2), f"stride 2, kernel (1, 3) on (6, 5): expected (2, 4, 3, 2), got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## Pooling
# Pooling turns each $k \times k$ window (stride $k$ by default) into its maximum or mean. With every
# channel an image of its own (`reshape(N*C, 1, H, W)`), `im2col` puts each window in a column and
# pooling reduces axis 1. Backward: the mean sends $\bar y / k^2$ to every pixel of its window; the max
# sends $\bar y$ only to the **arg-max** (the first of equal ones, as PyTorch), via col2im of a column
# matrix that is zero elsewhere (`ctx` keeps the arg-max rows; see `np.take_along_axis`).

# %% solution id="pooling"
#| export
def max_pool2d(x, kernel_size, stride=None):
    """Max over (kh, kw) windows of a Tensor (N, C, H, W), recorded as op "max_pool2d" with ctx
    kernel_size (a pair), stride (a pair) and argmax (N*C, 1, H_out*W_out): the winning row of each column.
    EXAMPLE: max_pool2d(Tensor(np.arange(16.).reshape(1, 1, 4, 4)), 2) -> [[[[5, 7], [13, 15]]]]
    """
    ### BEGIN SOLUTION
    x = as_tensor(x)
    (kh, kw), (sh, sw) = _pair(kernel_size), _pair(stride if stride is not None else kernel_size)
    N, C, H, W = x.data.shape
    if sh != sw:
        raise ValueError(f"max_pool2d: unequal strides {(sh, sw)} are not supported")
    cols = im2col(x.data.reshape(N * C, 1, H, W), kh, kw, sh)
    argmax = cols.argmax(axis=1)[:, None]
    y = np.take_along_axis(cols, argmax, axis=1)
    OH, OW = conv_output_size(H, kh, sh, 0), conv_output_size(W, kw, sh, 0)
    return _make(y.reshape(N, C, OH, OW), (x,), "max_pool2d", kernel_size=(kh, kw), stride=(sh, sw), argmax=argmax)
    ### END SOLUTION

def _max_pool2d_vjp(grad, out, x, kernel_size, stride, argmax):
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    dcols = np.zeros((N * C, kernel_size[0] * kernel_size[1], argmax.shape[2]), dtype=np.asarray(grad).dtype)
    np.put_along_axis(dcols, argmax, np.asarray(grad).reshape(argmax.shape), axis=1)
    return (col2im(dcols, (N * C, 1, H, W), *kernel_size, stride[0]).reshape(x.shape),)
    ### END SOLUTION

def avg_pool2d(x, kernel_size, stride=None):
    """Mean over (kh, kw) windows, op "avg_pool2d" with ctx kernel_size and stride (pairs).
    EXAMPLE: avg_pool2d(Tensor(np.arange(16.).reshape(1, 1, 4, 4)), 2) -> [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    ### BEGIN SOLUTION
    x = as_tensor(x)
    (kh, kw), (sh, sw) = _pair(kernel_size), _pair(stride if stride is not None else kernel_size)
    N, C, H, W = x.data.shape
    if sh != sw:
        raise ValueError(f"avg_pool2d: unequal strides {(sh, sw)} are not supported")
    y = im2col(x.data.reshape(N * C, 1, H, W), kh, kw, sh).mean(axis=1)
    OH, OW = conv_output_size(H, kh, sh, 0), conv_output_size(W, kw, sh, 0)
    return _make(y.reshape(N, C, OH, OW), (x,), "avg_pool2d", kernel_size=(kh, kw), stride=(sh, sw))
    ### END SOLUTION

def _avg_pool2d_vjp(grad, out, x, kernel_size, stride):
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    k = kernel_size[0] * kernel_size[1]
    g = np.asarray(grad).reshape(N * C, 1, -1)
    dcols = np.broadcast_to(g / k, (N * C, k, g.shape[2]))
    return (col2im(dcols, (N * C, 1, H, W), *kernel_size, stride[0]).reshape(x.shape),)
    ### END SOLUTION

VJP["max_pool2d"] = _max_pool2d_vjp
VJP["avg_pool2d"] = _avg_pool2d_vjp

class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None):
        """Keep `kernel_size` and `stride` (None: the kernel size) as given, for `forward`."""
        ### BEGIN SOLUTION
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return max_pool2d(x, self.kernel_size, self.stride)
        ### END SOLUTION

class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None):
        """Keep `kernel_size` and `stride` (None: the kernel size) as given, for `forward`."""
        ### BEGIN SOLUTION
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return avg_pool2d(x, self.kernel_size, self.stride)
        ### END SOLUTION

# %% test id="test-pooling" points=4
x16 = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
assert np.array_equal(MaxPool2d(2)(x16).data, [[[[5, 7], [13, 15]]]]), f"expected [[5, 7], [13, 15]], got {MaxPool2d(2)(x16).data}"
assert np.allclose(AvgPool2d(2)(x16).data, [[[[2.5, 4.5], [10.5, 12.5]]]]), f"expected [[2.5, 4.5], [10.5, 12.5]], got {AvgPool2d(2)(x16).data}"
rng = np.random.default_rng(5)
grad_check(lambda a: max_pool2d(a, 2), rng.standard_normal((2, 3, 4, 6)))
grad_check(lambda a: avg_pool2d(a, 2), rng.standard_normal((2, 3, 4, 6)))
(g_avg,) = _avg_pool2d_vjp(np.ones((1, 1, 2, 2)), None, x16, (2, 2), (2, 2))
assert np.allclose(g_avg, 0.25), f"each pixel of a 2x2 window gets 1/4 of its gradient, got {g_avg}"
### BEGIN HIDDEN TESTS
(g_max,) = _max_pool2d_vjp(np.ones((1, 1, 2, 2)), None, x16, (2, 2), (2, 2), np.full((1, 1, 4), 3))
exp = [0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1]
assert g_max.shape == (1, 1, 4, 4) and np.array_equal(g_max.ravel(), exp), f"gradient to the arg-max rows: expected {exp}, got {g_max.ravel()}"
grad_check(lambda a: max_pool2d(a, 3, stride=2), rng.standard_normal((1, 2, 7, 5)))
grad_check(lambda a: avg_pool2d(a, (2, 3), stride=1), rng.standard_normal((2, 1, 4, 5)))
grad_check(lambda a: avg_pool2d(a, 3, stride=2), rng.standard_normal((1, 2, 7, 5)))
xr = rng.standard_normal((2, 3, 7, 5))
win = np.lib.stride_tricks.sliding_window_view(xr, (3, 2), axis=(2, 3))[:, :, ::2, ::2]
for pool, exp, what in [(max_pool2d, win.max(axis=(-2, -1)), "max"), (avg_pool2d, win.mean(axis=(-2, -1)), "avg")]:
    got = pool(Tensor(xr), (3, 2), 2)
    assert got.shape == (2, 3, 3, 2) and np.allclose(got.data, exp), f"{what} pool (3, 2) stride 2: expected shape (2, 3, 3, 2) and\n{exp}\ngot {got.shape}\n{got.data}"
got = (MaxPool2d(3)(Tensor(xr)).shape, AvgPool2d(2, 1)(Tensor(xr)).shape)
assert got == ((2, 3, 2, 1), (2, 3, 6, 4)), f"expected ((2, 3, 2, 1), (2, 3, 6, 4)), got {got}"
tie = Tensor(np.array([[[[1.0, 3.0], [3.0, 0.0]]]]), requires_grad=True)
max_pool2d(tie, 2).sum().backward()
assert np.array_equal(tie.grad.data, [[[[0, 1], [0, 0]]]]), f"ties: the whole gradient goes to the first max, got {tie.grad.data}"
ov = Tensor(np.array([[[[0.0, 5.0, 0.0, 1.0]]]]), requires_grad=True)
max_pool2d(ov, (1, 2), stride=1).sum().backward()
assert np.array_equal(ov.grad.data, [[[[0, 2, 0, 1]]]]), f"overlapping windows add up at a shared max, got {ov.grad.data}"
got = max_pool2d(Tensor(xr.astype(np.float32)), 2).dtype
assert got == np.float32, f"expected float32, got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## Receptive field
# A unit deep in a conv/pool stack sees an input window that grows with depth: a layer of kernel $k$,
# stride $s$ widens it by $k-1$ times the **jump** $J$ (input distance between neighbouring units
# below it) and multiplies $J$ by $s$: $r_\ell = r_{\ell-1} + (k_\ell - 1)J_{\ell-1}$, $J_\ell = s_\ell J_{\ell-1}$,
# $r_0 = J_0 = 1$. Padding does not change it; LeNet's last layer must see the whole 8x8 digit.

# %% solution id="receptive-field"
def receptive_field(layers):
    """(size, jump) of one output unit of a stack of layers, along the rows (ints).
    layers: in order, each a Conv2d, MaxPool2d or AvgPool2d module (kernel_size an int or a pair;
    a pool's stride None means its kernel size) or a plain (kernel, stride) pair of ints.
    size: how many input rows the unit sees; jump: input rows between neighbouring output units.
    An empty list gives (1, 1).
    EXAMPLE: receptive_field([(3, 1), (2, 2), (3, 1), (2, 2)]) -> (10, 4)
             (3x3 conv, 2x2 pool, 3x3 conv, 2x2 pool: sizes 3, 4, 8, 10; jumps 1, 2, 2, 4)
    HINT: `_pair` turns an int or a pair into a pair; isinstance tells modules from tuples.
    """
    ### BEGIN SOLUTION
    size, jump = 1, 1
    for layer in layers:
        if isinstance(layer, tuple):
            k, s = layer
        else:
            k = _pair(layer.kernel_size)[0]
            s = _pair(layer.kernel_size if layer.stride is None else layer.stride)[0]
        size += (k - 1) * jump
        jump *= s
    return size, jump
    ### END SOLUTION

# %% test id="test-receptive-field" points=2
got = receptive_field([(3, 1), (2, 2), (3, 1), (2, 2)])
assert got == (10, 4), f"conv3, pool2, conv3, pool2: expected (10, 4), got {got}"
### BEGIN HIDDEN TESTS
assert receptive_field([]) == (1, 1), f"no layer: expected (1, 1), got {receptive_field([])}"
got = receptive_field([Conv2d(1, 2, 5, stride=2, padding=2), MaxPool2d(3), AvgPool2d(2, 1), Conv2d(2, 2, (3, 1))])
assert got == (5 + 2 * 2 + 1 * 6 + 2 * 6, 6), f"conv5/2, maxpool3, avgpool2/1, conv(3, 1): expected (27, 6), got {got}"
got = receptive_field([MaxPool2d((2, 4), stride=(3, 1)), (4, 1)])
assert got == (2 + 3 * 3, 3), f"maxpool (2, 4) stride (3, 1), then (4, 1): expected (11, 3), got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## What the filters see
# Two hand-made 3x3 Sobel filters (vertical, horizontal edges) as one `Conv2d(1, 2, 3, padding=1)`,
# then a 2x2 max pool: the maps keep *where* strokes of each orientation are, at a quarter the size.

# %%
import matplotlib.pyplot as plt
from tinytorch_lib.data import load_digits
images, labels = load_digits()
edges = Conv2d(1, 2, 3, padding=1)
sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
edges.weight.data, edges.bias.data = np.stack([sobel, sobel.T])[:, None], np.zeros(2, dtype=np.float32)
maps = edges(images[:4])
pooled = MaxPool2d(2)(maps)
fig, axes = plt.subplots(4, 4, figsize=(7, 7))
for r in range(4):
    panels = [images.data[r, 0], maps.data[r, 0], maps.data[r, 1], pooled.data[r, 0]]
    for ax, img, title in zip(axes[r], panels, ["digit", "vertical edges", "horizontal edges", "max-pooled (4x4)"]):
        ax.imshow(img, cmap="gray_r" if title == "digit" else "RdBu"), ax.axis("off")
        ax.set_title(title if r == 0 else "", fontsize=9)
plt.show()

# %% [markdown]
# ## Systems note: loops against one matrix product
# Same arithmetic: the loops pay a Python iteration and a tiny NumPy call per output value; im2col
# copies the input once per filter offset, then runs at BLAS speed, at a price in memory: the column
# matrix holds every input pixel about $k_hk_w/s^2$ times.

# %% solution id="conv-cost"
def conv_cost(x_shape, weight_shape, stride=1, padding=0, itemsize=4):
    """What one conv2d forward costs: a dict with "flops" (multiply and add counted separately),
    "cols_bytes" (the im2col column matrix of all N images) and "out_bytes" (the output), ints.

    x_shape (N, C, H, W), weight_shape (O, C, kh, kw); itemsize: bytes per element (4 for float32).
    EXAMPLE: conv_cost((1, 1, 3, 3), (2, 1, 2, 2)) -> {"flops": 64, "cols_bytes": 64, "out_bytes": 32}
             (2 channels of 2x2 outputs, each a dot product of length 4: 8 * 4 * 2 FLOPs)
    HINT: count one output value's work first; the column matrix has one column per output pixel.
    """
    ### BEGIN SOLUTION
    N, C, H, W = x_shape
    O, _, kh, kw = weight_shape
    OH, OW = conv_output_size(H, kh, stride, padding), conv_output_size(W, kw, stride, padding)
    K = C * kh * kw
    return {"flops": 2 * N * O * OH * OW * K,
            "cols_bytes": N * K * OH * OW * itemsize,
            "out_bytes": N * O * OH * OW * itemsize}
    ### END SOLUTION

# %% test id="test-conv-cost" points=1
got = conv_cost((1, 1, 3, 3), (2, 1, 2, 2))
assert got == {"flops": 64, "cols_bytes": 64, "out_bytes": 32}, f"expected flops 64, cols_bytes 64, out_bytes 32, got {got}"
### BEGIN HIDDEN TESTS
for got, exp, what in [(conv_cost((2, 3, 7, 6), (4, 3, 3, 2), stride=2, padding=1, itemsize=8), {"flops": 2 * 2 * 4 * 4 * 4 * 18, "cols_bytes": 2 * 18 * 16 * 8, "out_bytes": 2 * 4 * 16 * 8}, "x (2, 3, 7, 6), w (4, 3, 3, 2), stride 2, padding 1, float64"),
                       (conv_cost((1, 2, 5, 4), (3, 2, 1, 3)), {"flops": 2 * 3 * 5 * 2 * 6, "cols_bytes": 6 * 10 * 4, "out_bytes": 3 * 10 * 4}, "non-square kernel (1, 3) on (5, 4)")]:
    assert got == exp, f"{what}: expected {exp}, got {got}"
### END HIDDEN TESTS

# %%
from timeit import repeat
rng = np.random.default_rng(0)
xs, ws = rng.standard_normal((8, 3, 16, 16)).astype(np.float32), rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
cost = conv_cost(xs.shape, ws.shape, padding=1)
flops, cols_bytes = cost["flops"], cost["cols_bytes"]
t_loop = min(repeat(lambda: conv2d_naive(xs, ws, padding=1), number=1, repeat=1))
t_cols = min(repeat(lambda: conv2d(Tensor(xs), Tensor(ws), padding=1), number=1, repeat=3))
print(f"x (8, 3, 16, 16), 8 filters 3x3, {flops / 1e6:.1f} MFLOP: direct loops {t_loop * 1e3:8.1f} ms  ({flops / t_loop / 1e9:.3f} GFLOP/s)")
print(f"im2col       {t_cols * 1e3:8.2f} ms  ({flops / t_cols / 1e9:.3f} GFLOP/s), {t_loop / t_cols:.0f}x faster")
print(f"input {xs.nbytes / 1024:.0f} KiB, column matrix {cols_bytes / 1024:.0f} KiB ({cols_bytes / xs.nbytes:.1f}x)")
