# %% [markdown]
# # 02 · Activations
#
# A stack of linear layers is one linear map, $W_2(W_1x) = (W_2W_1)x$; a **nonlinearity** between
# them is what makes a network more than a matrix. You write the five activations the course uses:
#
# | name | formula | used for |
# |---|---|---|
# | ReLU | $\max(0, x)$ | hidden layers of MLPs and CNNs |
# | Sigmoid | $\sigma(x) = 1/(1+e^{-x})$ | probabilities of yes/no questions, gates |
# | Tanh | $\tanh(x) = 2\sigma(2x) - 1$ | zero-centred squashing, RNNs |
# | GELU | $\tfrac12 x\bigl(1+\tanh\bigl(\sqrt{2/\pi}\,(x+0.044715\,x^3)\bigr)\bigr)$ | transformers |
# | Softmax | $e^{x_i} / \sum_j e^{x_j}$ along one axis | scores to a distribution |
#
# An activation is an object: `act = ReLU()`, then `act(x)` runs `forward`, which computes on the
# ndarray `x.data` and records the result with `_make(out, (x,), "relu")` as in module 01 (module 05
# differentiates through these records). The trap of this module is **overflow**: `np.exp(1000.0)`
# is `inf` and `inf / inf` is `nan`. Sigmoid and softmax must survive inputs as large as $|x|=10^4$.

# %%
#| default_exp activations
#| export
import math

import numpy as np

from tinytorch_lib.tensor import Tensor, _make, as_tensor

# %%
#| export
class Activation:
    """Base class of the parameter-free activations: `act(x)` runs `act.forward(x)`."""

    def __call__(self, x):
        return self.forward(as_tensor(x))

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def __repr__(self):
        return f"{type(self).__name__}()"

# %% helper
def arr(t):
    """The values of a Tensor as a plain ndarray (for judging)."""
    return np.asarray(t.data)

# %% [markdown]
# ## ReLU, Tanh and GELU
#
# Every activation here keeps the dtype of its input (float32 stays float32, float64 stays float64)
# and its shape. Beware of NumPy scalars: `np.sqrt(2 / np.pi)` is a float64 *array scalar*, and
# multiplying a float32 array by it promotes the result to float64; a Python `float` does not.
# GELU weighs $x$ by $\Phi(x)$, the probability that a standard normal is below $x$; GPT-2 and
# `torch.nn.GELU(approximate="tanh")` use the tanh formula of the table.

# %% solution id="relu-tanh-gelu"
#| export
class ReLU(Activation):
    def forward(self, x):
        """max(0, x) elementwise, recorded as op "relu". Same shape and dtype as `x`.

        EXAMPLE: ReLU()(Tensor([-1., 0., 2.])) -> Tensor([0., 0., 2.])
        HINT: an elementwise maximum against a scalar; never modify `x.data` in place.
        """
        ### BEGIN SOLUTION
        return _make(np.maximum(x.data, 0), (x,), "relu")
        ### END SOLUTION


class Tanh(Activation):
    def forward(self, x):
        """tanh(x) elementwise, recorded as op "tanh".

        EXAMPLE: Tanh()(Tensor([0., 1.])) -> Tensor([0., 0.7616])
        HINT: NumPy's own tanh is already stable for any input.
        """
        ### BEGIN SOLUTION
        return _make(np.tanh(x.data), (x,), "tanh")
        ### END SOLUTION


class GELU(Activation):
    def forward(self, x):
        """GELU, tanh approximation (torch.nn.GELU(approximate="tanh")), recorded as op "gelu".

        EXAMPLE: GELU()(Tensor([-1., 0., 1.])) -> Tensor([-0.1588, 0., 0.8412])
        HINT: build it from the table's formula; the constant sqrt(2/pi) must be a Python float
              (`math`), or float32 inputs come back as float64.
        """
        ### BEGIN SOLUTION
        a = x.data
        inner = math.sqrt(2 / math.pi) * (a + 0.044715 * a * a * a)
        out = 0.5 * a * (1 + np.tanh(inner))
        return _make(out, (x,), "gelu")
        ### END SOLUTION

# %% test id="test-relu-tanh-gelu" points=2
x = Tensor([-2.0, -0.5, 0.0, 0.5, 3.0])
got = arr(ReLU()(x))
assert np.allclose(got, [0, 0, 0, 0.5, 3]), f"ReLU: expected [0, 0, 0, 0.5, 3], got {got}"
got = arr(Tanh()(Tensor([-1.0, 0.0, 1.0])))
assert np.allclose(got, [-0.7615942, 0, 0.7615942]), f"Tanh: expected [-0.7616, 0, 0.7616], got {got}"
got = arr(GELU()(Tensor([-1.0, 0.0, 1.0, 3.0])))
exp = [-0.1588080, 0.0, 0.8411920, 2.9963627]                   # torch.nn.GELU(approximate="tanh")
assert np.allclose(got, exp, atol=1e-6), f"GELU: expected {exp}, got {got}"
### BEGIN HIDDEN TESTS
v = np.array([[-3.0, -0.7], [0.2, 2.5]])
for act, op, ref in [(ReLU(), "relu", np.where(v > 0, v, 0.0)), (Tanh(), "tanh", np.tanh(v)),
                     (GELU(), "gelu", 0.5 * v * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v ** 3))))]:
    xin = Tensor(v.copy(), requires_grad=True)
    y = act(xin)
    assert np.allclose(arr(y), ref, rtol=1e-14, atol=1e-16), f"{op}: expected {ref}, got {arr(y)}"
    assert arr(y).dtype == np.float64, f"{op}: float64 in must give float64 out, got {arr(y).dtype}"
    assert str(y._op) == op and len(y._parents) == 1 and bool(y.requires_grad), f"record op {op!r} with _make"
    assert np.array_equal(arr(y._parents[0]), v), f"{op}: the recorded parent must be the input x"
    assert np.array_equal(arr(xin), v), f"{op}: the input must not be modified in place"
    got = arr(act(Tensor([0.5, -2.0])))
    assert got.dtype == np.float32, f"{op}: float32 in must give float32 out, got {got.dtype}"
### END HIDDEN TESTS

# %% [markdown]
# ## Sigmoid, without overflow
#
# $1/(1+e^{-x})$ is fine for $x \ge 0$, but for $x = -10^4$ it computes $e^{10^4} = \infty$ (with an
# overflow warning), and for $x=-740$ it returns exactly 0 although $\sigma(-740) \approx 4\cdot10^{-322}$
# is a representable (subnormal) float64. The cure: never exponentiate a positive number. With
# $z = e^{-|x|} \in (0, 1]$,
#
# $$\sigma(x) = \frac{1}{1+z}\ \ (x \ge 0), \qquad \sigma(x) = \frac{z}{1+z}\ \ (x < 0)$$
#
# (multiply numerator and denominator of $1/(1+e^{-x})$ by $e^{x}$ for the second). Compute each branch
# only where it is the right one, or compute both and select.

# %% solution id="sigmoid"
#| export
class Sigmoid(Activation):
    def forward(self, x):
        """Logistic sigmoid elementwise, recorded as op "sigmoid"; never overflows.

        Same shape and dtype as `x`. Exact in the tails: sigmoid(-740.) is about 4.2e-322, not 0.
        EXAMPLE: Sigmoid()(Tensor([0., -1e4, 1e4])) -> Tensor([0.5, 0., 1.])
        HINT: boolean masks (or np.where) pick, per element, the branch whose exponent is <= 0.
        """
        ### BEGIN SOLUTION
        a = x.data
        z = np.exp(-np.abs(a))          # in (0, 1]: cannot overflow
        out = np.empty_like(z)
        pos = a >= 0
        neg = ~pos
        out[pos] = 1 / (1 + z[pos])
        out[neg] = z[neg] / (1 + z[neg])
        return _make(out, (x,), "sigmoid")
        ### END SOLUTION

# %% test id="test-sigmoid" points=2
got = arr(Sigmoid()(Tensor([0.0, 2.0, -2.0])))
exp = [0.5, 1 / (1 + np.exp(-2.0)), 1 / (1 + np.exp(2.0))]
assert np.allclose(got, exp), f"expected {exp}, got {got}"
got = arr(Sigmoid()(Tensor(np.array([-1e4, -740.0, 740.0, 1e4]))))
assert not np.isnan(got).any() and got[0] == 0 and got[3] == 1, f"expected [0, ~4e-322, 1, 1], got {got}"
assert got[1] > 0, f"sigmoid(-740) is about 4.2e-322, a representable float64, but you returned {got[1]}"
### BEGIN HIDDEN TESTS
v = np.array([-1e4, -100.0, -30.0, -1.0, 0.0, 0.5, 30.0, 1e4])
xin = Tensor(v.copy(), requires_grad=True)
y = Sigmoid()(xin)
ref = np.array([0.0, np.exp(-100.0) / (1 + np.exp(-100.0)), np.exp(-30.0) / (1 + np.exp(-30.0)),
                1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-0.5)), 1 / (1 + np.exp(-30.0)), 1.0])
assert np.allclose(arr(y), ref, rtol=1e-13, atol=0), f"expected {ref}, got {arr(y)}"
assert np.isclose(arr(y)[1], 3.720075976020836e-44, rtol=1e-12), f"sigmoid(-100) = 3.72e-44, got {arr(y)[1]}"
assert str(y._op) == "sigmoid" and bool(y.requires_grad), f"record op 'sigmoid', got {y._op!r}"
assert np.array_equal(arr(y._parents[0]), v) and np.array_equal(arr(xin), v), "record x; do not modify it"
got = arr(Sigmoid()(Tensor([-100.0, 0.0, 100.0])))
assert got.dtype == np.float32 and got[0] > 0 and got[2] == 1, f"float32: expected [3.7e-44, .5, 1], got {got}"
assert tuple(Sigmoid()(Tensor(np.zeros((2, 3)))).shape) == (2, 3), "the shape must be kept"
### END HIDDEN TESTS

# %% [markdown]
# ## Softmax and log-softmax
#
# Softmax turns scores (logits) into probabilities along one axis `dim`. It does not change when the
# same constant is subtracted from every score, so subtract the maximum $m$ of each slice first:
# every exponent is then $\le 0$ (no overflow) and the largest term is $e^0 = 1$ (the sum is $\ge 1$,
# never 0). The log of the softmax is computed directly, because a probability of $e^{-2000}$ rounds
# to 0 and its log would be $-\infty$:
#
# $$\mathrm{softmax}(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}, \qquad
#   \log\mathrm{softmax}(x)_i = (x_i - m) - \log\sum_j e^{x_j - m}.$$
#
# The max is per slice along `dim`, not one global max: with a global shift a row of small scores
# underflows to $0/0$. Both record their axis for module 05: `_make(out, (x,), "softmax", dim=dim)`.
# Module 04 builds the cross-entropy loss on `log_softmax`.

# %% solution id="softmax"
#| export
class Softmax(Activation):
    def __init__(self, dim=-1):
        self.dim = dim

    def forward(self, x):
        """Softmax along `self.dim`, recorded as op "softmax" with ctx dim=self.dim.

        Same shape and dtype as `x`; every slice along dim sums to 1; no overflow up to |x| = 1e4.
        EXAMPLE: Softmax()(Tensor([[0., 0.], [1e4, 0.]])) -> Tensor([[0.5, 0.5], [1., 0.]])
        HINT: reductions with keepdims=True keep the reduced axis, so they broadcast back for any dim.
        """
        ### BEGIN SOLUTION
        a = x.data
        shifted = a - a.max(axis=self.dim, keepdims=True)
        e = np.exp(shifted)
        return _make(e / e.sum(axis=self.dim, keepdims=True), (x,), "softmax", dim=self.dim)
        ### END SOLUTION

    def __repr__(self):
        return f"Softmax(dim={self.dim})"


def log_softmax(x, dim=-1):
    """log(softmax(x)) along `dim`, computed stably; recorded as op "log_softmax" with ctx dim=dim.

    `x` may be a Tensor or anything `as_tensor` accepts. Finite wherever x is finite.
    EXAMPLE: log_softmax(Tensor([0., 0.])) -> Tensor([-0.6931, -0.6931]);
             log_softmax(Tensor([0., -1e4])) -> Tensor([0., -10000.])
    HINT: the log-sum-exp trick above; np.log of the shifted sum, never of a probability.
    """
    ### BEGIN SOLUTION
    x = as_tensor(x)
    a = x.data
    shifted = a - a.max(axis=dim, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    return _make(out, (x,), "log_softmax", dim=dim)
    ### END SOLUTION

# %% test id="test-softmax" points=3
got = arr(Softmax()(Tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])))
e = np.exp([1.0, 2.0, 3.0])
exp = [e / e.sum(), [1 / 3] * 3]
assert np.allclose(got, exp), f"expected {exp}, got {got}"
got = arr(Softmax()(Tensor([[1e4, 0.0], [-1e4, 1e4]])))
assert np.allclose(got, [[1, 0], [0, 1]]), f"subtract the max before exp: expected [[1, 0], [0, 1]], got {got}"
got = arr(log_softmax(Tensor([0.0, -1e4])))
assert np.allclose(got, [0.0, -1e4]), f"expected [0, -10000] (finite), got {got}"
### BEGIN HIDDEN TESTS
v = np.array([[1.0, 2.0], [3.0, 5.0], [0.0, -1.0]])
xin = Tensor(v.copy(), requires_grad=True)
s0 = Softmax(dim=0)(xin)
ref0 = np.exp(v) / np.exp(v).sum(axis=0, keepdims=True)
assert np.allclose(arr(s0), ref0, rtol=1e-14), f"Softmax(dim=0) normalises columns: expected {ref0}, got {arr(s0)}"
assert str(s0._op) == "softmax" and int(s0._ctx["dim"]) == 0, f"record dim=0, got {s0._op!r} {s0._ctx!r}"
assert int(Softmax()(xin)._ctx["dim"]) == -1 and np.array_equal(arr(xin), v), "record dim=-1; keep x intact"
rows = np.array([[1e4, 1e4 - 1.0], [-1e4, -1e4 - 1.0], [0.0, -1e4]])
ref = np.array([1, np.exp(-1.0)]) / (1 + np.exp(-1.0))
got = arr(Softmax()(Tensor(rows)))
assert np.allclose(got, [ref, ref, [1.0, 0.0]], rtol=1e-12, atol=0), f"shift each row by its own max; got {got}"
lp = log_softmax(Tensor(rows, requires_grad=True), dim=-1)
exp = [np.log(ref), np.log(ref), [0.0, -1e4]]
assert np.allclose(arr(lp), exp, rtol=1e-12), f"expected {exp}, got {arr(lp)}"
assert str(lp._op) == "log_softmax" and int(lp._ctx["dim"]) == -1 and bool(lp.requires_grad), "record op and dim"
lp0 = log_softmax(Tensor(v, requires_grad=True), dim=0)
assert np.allclose(arr(lp0), np.log(ref0), rtol=1e-13) and int(lp0._ctx["dim"]) == 0, f"dim=0: got {arr(lp0)}"
got = arr(log_softmax(np.array([[1.0, 1.0, 1.0]])))
assert np.allclose(got, -np.log(3)), f"log_softmax must accept ndarrays; expected -log 3, got {got}"
assert arr(Softmax()(Tensor([1.0, 2.0]))).dtype == np.float32, "Softmax must keep float32"
assert arr(log_softmax(Tensor([1.0, 2.0]))).dtype == np.float32, "log_softmax must keep float32"
### END HIDDEN TESTS

# %% [markdown]
# ## Finding the edge: where does a formula break?
#
# How large may a logit get before the naive $e^{x}$ overflows? In float32 it is far smaller than you
# might think. The edge can be found for *any* function by **bisection**: keep an interval
# $[lo, hi]$ with $f(lo)$ finite and $f(hi)$ not, halve it, keep the half that still straddles the
# edge, and stop when it is shorter than a tolerance. Each step gains one bit of the answer.

# %% solution id="overflow-point"
def overflow_point(f, lo, hi, tol=1e-6):
    """The smallest x in [lo, hi] at which f(x) stops being finite, found by bisection.

    f takes a Python float and returns a number. Requires f(lo) finite and f(hi) not finite
    (otherwise raise ValueError). Returns a float within `tol` of the edge, at or above it
    (f of the returned value is not finite), calling f about log2((hi - lo) / tol) times.
    EXAMPLE: overflow_point(lambda v: np.exp(np.float32(v)), 0, 1000) -> 88.72284 (overflow warnings aside)
    HINT: math.isfinite; the loop invariant is "f(lo) finite, f(hi) not".
    """
    ### BEGIN SOLUTION
    if not math.isfinite(f(lo)) or math.isfinite(f(hi)):
        raise ValueError(f"need f(lo) finite and f(hi) not, got f({lo}) = {f(lo)}, f({hi}) = {f(hi)}")
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if math.isfinite(f(mid)):
            lo = mid
        else:
            hi = mid
    return hi
    ### END SOLUTION

# %% test id="test-overflow-point" points=2
edge = overflow_point(lambda v: 1.0 if v < 3.25 else math.inf, 0.0, 10.0)
assert 3.25 <= edge <= 3.25 + 1e-6, f"expected 3.25 (within 1e-6, not below), got {edge}"
### BEGIN HIDDEN TESTS
edge = overflow_point(lambda v: 1.0 if v <= -2.0 else math.nan, -5.0, 7.0, tol=1e-9)
assert -2.0 < edge <= -2.0 + 1e-9, f"nan counts as not finite: expected -2.0 (+1e-9), got {edge}"
calls = []
overflow_point(lambda v: calls.append(v) or (0.0 if v < 0.3 else math.inf), 0.0, 1.0, tol=1e-3)
assert len(calls) <= 14, f"bisection needs about log2(1000) = 10 calls, you made {len(calls)}"
edge = overflow_point(lambda v: 0.0 if v < 0.5 else math.inf, 0.0, 1.0, tol=0.3)
assert 0.5 <= edge and edge - 0.5 <= 0.3, f"stop when the interval is below tol: expected 0.5..0.8, got {edge}"
for lo, hi in [(4.0, 10.0), (0.0, 2.0)]:
    try:
        overflow_point(lambda v: 1.0 if v < 3.25 else math.inf, lo, hi)
        raise AssertionError(f"f({lo}) must be finite and f({hi}) not: expected ValueError, nothing raised")
    except ValueError:
        pass
### END HIDDEN TESTS

# %% [markdown]
# Where a naive `exp` (and with it the naive sigmoid and softmax) breaks, per dtype. Half precision,
# common on GPUs, overflows at a logit of 11.

# %%
with np.errstate(over="ignore"):
    for dtype in (np.float16, np.float32, np.float64):
        edge = overflow_point(lambda v: np.exp(dtype(v)), 0.0, 1e5)
        print(f"{np.dtype(dtype).name:8s} exp(x) overflows from x = {edge:9.4f}  (log of the largest float: "
              f"{np.log(np.float64(np.finfo(dtype).max)):9.4f})")

# %% [markdown]
# ## Log-softmax in chunks
#
# A language model scores tens of thousands of tokens per position, and `log_softmax` above builds
# three temporaries as large as the whole score matrix. The **online** log-sum-exp reads the columns
# a chunk at a time and keeps two numbers per row: the largest score $m$ seen so far and
# $s = \sum e^{x_j - m}$ over the columns seen so far. When a chunk raises the maximum to $m'$, the
# old sum was measured against the wrong reference and becomes $s\,e^{m - m'}$. After the last chunk
# $\log\sum_j e^{x_j} = m + \log s$, and a second pass writes $x_{ij} - (m_i + \log s_i)$ chunk by
# chunk. (FlashAttention computes attention's softmax exactly this way.)

# %% solution id="chunked-log-softmax"
def chunked_log_softmax(a, chunk):
    """Log-softmax along the last axis of a 2-D float ndarray, reading `chunk` columns at a time.

    a: shape (N, C), C >= 1; chunk: int >= 1 (need not divide C). Returns a new float64 ndarray
    (N, C) equal to log_softmax(a, dim=-1) up to rounding; `a` is not modified. Apart from the
    result, no temporary larger than (N, chunk) is built; no overflow for |a| up to 1e4.
    EXAMPLE: chunked_log_softmax(np.array([[0., 0., 0.], [1e4, 0., 1e4]]), 2)
             -> array([[-1.0986, -1.0986, -1.0986], [-0.6931, -10000.6931, -0.6931]])
    HINT: start from m = -inf and s = 0 per row; np.maximum merges the running and the chunk maxima.
    """
    ### BEGIN SOLUTION
    n, c = a.shape
    m = np.full(n, -np.inf)
    s = np.zeros(n)
    for start in range(0, c, chunk):
        block = a[:, start:start + chunk]
        m_new = np.maximum(m, block.max(axis=1))
        s = s * np.exp(m - m_new) + np.exp(block - m_new[:, None]).sum(axis=1)
        m = m_new
    lse = (m + np.log(s))[:, None]
    out = np.empty((n, c))
    for start in range(0, c, chunk):
        out[:, start:start + chunk] = a[:, start:start + chunk] - lse
    return out
    ### END SOLUTION

# %% test id="test-chunked-log-softmax" points=3
got = np.asarray(chunked_log_softmax(np.array([[0.0, 0.0, 0.0], [1e4, 0.0, 1e4]]), 2))
exp = [[-np.log(3)] * 3, [-np.log(2), -1e4 - np.log(2), -np.log(2)]]
assert np.allclose(got, exp, rtol=1e-13), f"expected {exp}, got {got}"
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(3)
v = rng.standard_normal((4, 11)) * 5
v[1, 0] = 40.0                                       # the maximum sits in the first column
v[2, 10] = 60.0                                      # ... in the last, alone in its chunk for chunk=5
keep = v.copy()
ref = v - np.log(np.exp(v).sum(axis=1, keepdims=True))
for chunk in (1, 2, 5, 11, 50):
    got = np.asarray(chunked_log_softmax(v, chunk))
    assert got.shape == (4, 11) and np.allclose(got, ref, rtol=1e-13), f"chunk={chunk}: expected {ref}, got {got}"
assert np.array_equal(v, keep), "chunked_log_softmax must not modify its input"
big = np.array([[-1e4, -1e4 + 1.0, -1e4 - 2.0, -1e4], [1e4, 3.0, 1e4 - 50.0, 0.0]])
lse = np.array([-1e4 + 1 + np.log(np.exp([-1.0, 0.0, -3.0, -1.0]).sum()), 1e4 + np.log1p(np.exp(-50.0))])
got = np.asarray(chunked_log_softmax(big, 2))
assert np.allclose(got, big - lse[:, None], rtol=1e-14), f"|a| = 1e4: expected {big - lse[:, None]}, got {got}"
got = np.asarray(chunked_log_softmax(np.array([[2.0, 3.0, 5.0]]), 1))
exp = np.array([2.0, 3.0, 5.0]) - np.log(np.exp(2.0) + np.exp(3.0) + np.exp(5.0))
assert np.allclose(got, exp, rtol=1e-14), f"rising maxima: rescale the old sum; expected {exp}, got {got}"
got = np.asarray(chunked_log_softmax(np.array([[1.0, 2.0, 3.0]], dtype=np.float32), 2))
assert got.dtype == np.float64, f"the result is float64, got {got.dtype}"
### END HIDDEN TESTS

# %% [markdown]
# ## Systems note: memory of the full and the chunked log-softmax
#
# NumPy reports its allocations to Python's `tracemalloc`, so we can measure the peak memory each
# version allocates (result included) on a (256, 20 000) float64 score matrix, and time them.

# %%
import time
import tracemalloc

scores = np.random.default_rng(0).standard_normal((256, 20_000))
for name, fn in [("full", lambda a: log_softmax(a).data), ("chunk 4096", lambda a: chunked_log_softmax(a, 4096)),
                 ("chunk 512", lambda a: chunked_log_softmax(a, 512))]:
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn(scores)
    ms = (time.perf_counter() - t0) * 1e3
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{name:11s} peak allocation {peak / 2**20:7.1f} MiB   time {ms:6.1f} ms")
print(f"the scores (and the result): {scores.nbytes / 2**20:.1f} MiB each")

# %% [markdown]
# The chunked version allocates the result plus a few (N, chunk) temporaries instead of several
# full-size arrays, and is no slower: memory traffic, not arithmetic, sets the pace. Production kernels fuse the loss into the
# matmul that produces the scores, so the full matrix never exists at all.
#
# ## The picture
#
# Each activation (solid) and its slope (dashed), from central finite differences of your forward
# passes; module 05 writes the slopes exactly. Sigmoid and tanh saturate (slope near 0) for large
# $|x|$; ReLU is flat for every $x<0$; GELU dips slightly below zero.

# %%
import matplotlib.pyplot as plt

xs, h = np.linspace(-5, 5, 401), 1e-4
fig, axes = plt.subplots(1, 4, figsize=(14, 3.2), sharex=True)
for ax, act in zip(axes, [ReLU(), Sigmoid(), Tanh(), GELU()]):
    f = lambda v: act(Tensor(v)).data
    ax.plot(xs, f(xs), label="f(x)")
    ax.plot(xs, (f(xs + h) - f(xs - h)) / (2 * h), "--", label="f'(x)")
    ax.set_title(repr(act)); ax.axhline(0, color="gray", lw=0.5); ax.grid(alpha=0.3)
axes[0].legend()
plt.tight_layout()
plt.show()
