# %% [markdown]
# # 02 · Activations
#
# A stack of linear layers is still one linear map: $W_2(W_1x) = (W_2W_1)x$. What makes a network
# more than a matrix is the **nonlinearity** between its layers. In this module you write the five
# activations every later module uses:
#
# | name | formula | used for |
# |---|---|---|
# | ReLU | $\max(0, x)$ | hidden layers of MLPs and CNNs |
# | Sigmoid | $\sigma(x) = \dfrac{1}{1+e^{-x}}$ | probabilities of yes/no questions, gates |
# | Tanh | $\tanh(x) = \dfrac{e^{x}-e^{-x}}{e^{x}+e^{-x}}$ | zero-centred squashing, RNNs |
# | GELU | $\tfrac12 x\bigl(1+\tanh\bigl(\sqrt{2/\pi}\,(x+0.044715\,x^3)\bigr)\bigr)$ | transformers |
# | Softmax | $\mathrm{softmax}(x)_i = \dfrac{e^{x_i}}{\sum_j e^{x_j}}$ | turning scores into a distribution |
#
# Each activation is a small object: you build it once (`act = ReLU()`) and call it on a tensor
# (`act(x)`), which runs its `forward`. The forward pass computes with NumPy on `x.data` and records
# the operation with `_make(out, (x,), "relu")` exactly like the operations of module 01, so that
# module 05 can later differentiate through it. You never write a backward pass here.
#
# The one real trap in this module is **floating-point overflow**: `np.exp(1000.0)` is `inf`, and
# `inf / inf` is `nan`. Sigmoid and softmax must survive inputs as large as $|x| = 10^4$.

# %%
#| default_exp activations
#| export
import math

import numpy as np

from tinytorch_lib.tensor import Tensor, _make, as_tensor

# %% [markdown]
# Every activation shares the same tiny base class: calling the object runs `forward`, and an
# activation has no parameters. (Module 03 builds the full `Module` with parameters; a `Sequential`
# simply calls an activation like any other layer.)

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

# %% [markdown]
# ## ReLU
#
# $\mathrm{ReLU}(x) = \max(0, x)$, elementwise. It is the cheapest nonlinearity there is, and its
# gradient is either 0 or 1, so it does not shrink signals passing through many layers.

# %% solution id="relu"
#| export
class ReLU(Activation):
    def forward(self, x):
        """Rectified linear unit, elementwise.

        TODO: return a Tensor holding max(0, x), recorded as op "relu".
        APPROACH: 1) compute on `x.data` with NumPy  2) `_make(out, (x,), "relu")`.
        EXAMPLE: ReLU()(Tensor([-1., 0., 2.]))  ->  Tensor([0., 0., 2.])
        HINTS: `np.maximum` works elementwise and keeps the dtype of `x.data`.
        """
        ### BEGIN SOLUTION
        return _make(np.maximum(x.data, 0), (x,), "relu")
        ### END SOLUTION

# %% test id="test-relu" points=1
out = ReLU()(Tensor([-2.0, -0.5, 0.0, 0.5, 3.0]))
assert isinstance(out, Tensor), f"ReLU must return a Tensor, got {type(out).__name__}"
assert np.allclose(out.data, [0, 0, 0, 0.5, 3]), f"expected [0, 0, 0, 0.5, 3], got {out.data}"
### BEGIN HIDDEN TESTS
assert out.data.dtype == np.float32, f"ReLU must keep float32, got {out.data.dtype}"
x = Tensor(np.array([[-1.0, 2.0], [3.0, -4.0]]), requires_grad=True)
y = ReLU()(x)
assert y.shape == (2, 2) and y.data.dtype == np.float64
assert y.requires_grad and y._op == "relu" and y._parents[0] is x, "record the op with _make(out, (x,), 'relu')"
assert np.array_equal(x.data, [[-1.0, 2.0], [3.0, -4.0]]), "ReLU must not modify its input in place"
### END HIDDEN TESTS

# %% [markdown]
# ## Sigmoid, without overflow
#
# The textbook formula $1/(1+e^{-x})$ is fine for $x \ge 0$, but for $x = -10^4$ it computes
# $e^{10^4} = \infty$ and NumPy prints an overflow warning. The fix is to never exponentiate a
# positive number. With $z = e^{-|x|} \in (0, 1]$:
#
# $$\sigma(x) = \begin{cases} \dfrac{1}{1+z} & x \ge 0 \\[2mm] \dfrac{z}{1+z} & x < 0 \end{cases}$$
#
# (for $x<0$, multiply numerator and denominator of $1/(1+e^{-x})$ by $e^{x}$). Both branches can be
# computed for the whole array and combined with `np.where`, since neither can overflow.

# %% solution id="sigmoid"
#| export
class Sigmoid(Activation):
    def forward(self, x):
        """Logistic sigmoid 1 / (1 + exp(-x)), elementwise and overflow-free.

        TODO: return a Tensor holding sigmoid(x), recorded as op "sigmoid".
        APPROACH: 1) z = exp(-|x|)  2) pick 1/(1+z) where x >= 0 and z/(1+z) elsewhere
                  3) `_make(out, (x,), "sigmoid")`.
        EXAMPLE: Sigmoid()(Tensor([0.])) -> Tensor([0.5]);  Sigmoid()(Tensor([-1e4])) -> Tensor([0.])
        HINTS: never call np.exp on a large positive number; `np.where(cond, a, b)` selects
               elementwise (both branches share the denominator 1 + z).
        """
        ### BEGIN SOLUTION
        z = np.exp(-np.abs(x.data))
        out = np.where(x.data >= 0, 1, z) / (1 + z)
        return _make(out, (x,), "sigmoid")
        ### END SOLUTION

# %% test id="test-sigmoid" points=2
import warnings

out = Sigmoid()(Tensor([0.0, 2.0, -2.0]))
expected = [0.5, 1 / (1 + np.exp(-2.0)), 1 / (1 + np.exp(2.0))]
assert np.allclose(out.data, expected), f"expected {expected}, got {out.data}"
with warnings.catch_warnings():
    warnings.simplefilter("error")          # turn NumPy's overflow warning into an exception
    try:
        big = Sigmoid()(Tensor([-1e4, -100.0, 100.0, 1e4])).data
    except RuntimeWarning as w:
        raise AssertionError(f"Sigmoid of [-1e4, -100, 100, 1e4] warned {w!r}: never exp a large positive number")
assert np.allclose(big, [0, 0, 1, 1]) and not np.isnan(big).any(), f"expected [0, 0, 1, 1], got {big}"
### BEGIN HIDDEN TESTS
with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
    warnings.simplefilter("error")
    x = Tensor(np.array([-1e4, -30.0, -1.0, 0.0, 1.0, 30.0, 1e4]), requires_grad=True)
    y = Sigmoid()(x)
ref = np.array([0.0, np.exp(-30.0) / (1 + np.exp(-30.0)), 1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-1.0)),
                1 / (1 + np.exp(-30.0)), 1.0])
assert np.allclose(y.data, ref, rtol=1e-12, atol=0), f"expected {ref}, got {y.data}"
assert y.data[1] > 0, "sigmoid(-30) is tiny but not 0: use z / (1 + z) for negative inputs"
assert y._op == "sigmoid" and y._parents[0] is x and y.data.dtype == np.float64
assert Sigmoid()(Tensor([1.0])).data.dtype == np.float32
assert Sigmoid()(Tensor(np.zeros((2, 3)))).shape == (2, 3)
### END HIDDEN TESTS

# %% [markdown]
# ## Tanh and GELU
#
# $\tanh$ is a rescaled sigmoid, $\tanh(x) = 2\sigma(2x) - 1$, and NumPy already computes it stably.
#
# GELU weighs $x$ by the probability that a standard normal variable is below $x$,
# $x\,\Phi(x)$. GPT-2 and `torch.nn.GELU(approximate="tanh")` use the tanh approximation
#
# $$\mathrm{GELU}(x) \approx \tfrac12\,x\,\Bigl(1+\tanh\bigl(\sqrt{2/\pi}\,(x + 0.044715\,x^3)\bigr)\Bigr).$$
#
# Unlike ReLU it is smooth and slightly negative for small negative $x$.

# %% solution id="tanh-gelu"
#| export
class Tanh(Activation):
    def forward(self, x):
        """Hyperbolic tangent, elementwise.

        TODO: return a Tensor holding tanh(x), recorded as op "tanh".
        APPROACH: NumPy has it; record it with `_make`.
        EXAMPLE: Tanh()(Tensor([0.])) -> Tensor([0.])
        HINTS: one line.
        """
        ### BEGIN SOLUTION
        return _make(np.tanh(x.data), (x,), "tanh")
        ### END SOLUTION


class GELU(Activation):
    def forward(self, x):
        """GELU with the tanh approximation (= torch.nn.GELU(approximate="tanh")).

        TODO: return a Tensor holding 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), op "gelu".
        APPROACH: compute on `x.data`, then `_make(out, (x,), "gelu")`.
        EXAMPLE: GELU()(Tensor([1.])) -> Tensor([0.8412])
        HINTS: use the Python float `math.sqrt(2 / math.pi)`: a NumPy float64 scalar such as
               `np.sqrt(2 / np.pi)` would promote a float32 array to float64.
        """
        ### BEGIN SOLUTION
        a = x.data
        out = 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a * a * a)))
        return _make(out, (x,), "gelu")
        ### END SOLUTION

# %% test id="test-tanh-gelu" points=2
out = Tanh()(Tensor([-1.0, 0.0, 1.0]))
assert np.allclose(out.data, [-0.7615942, 0, 0.7615942]), f"expected [-0.7616, 0, 0.7616], got {out.data}"
out = GELU()(Tensor([-1.0, 0.0, 1.0, 3.0]))
expected = [-0.1588080, 0.0, 0.8411920, 2.9963627]      # torch.nn.GELU(approximate="tanh")
assert np.allclose(out.data, expected, atol=1e-6), f"expected {expected}, got {out.data}"
### BEGIN HIDDEN TESTS
from math import erf, sqrt
x = Tensor(np.linspace(-5, 5, 41), requires_grad=True)
g = GELU()(x)
exact = np.array([v * 0.5 * (1 + erf(v / sqrt(2))) for v in x.data])
assert np.abs(g.data - exact).max() < 1e-3, "GELU must be close to x * Phi(x)"
assert np.abs(g.data - exact).max() > 1e-6, "use the tanh approximation, not the exact erf form"
assert g._op == "gelu" and g._parents[0] is x and g.data.dtype == np.float64
t = Tanh()(x)
assert t._op == "tanh" and t._parents[0] is x and np.allclose(t.data, np.tanh(x.data))
assert GELU()(Tensor([2.0])).data.dtype == np.float32, "GELU must keep float32 inputs float32"
assert np.allclose(GELU()(Tensor([-10.0, 10.0])).data, [0.0, 10.0], atol=1e-6)
### END HIDDEN TESTS

# %% [markdown]
# ## Softmax and log-softmax
#
# Softmax turns a vector of scores (logits) into probabilities along one axis `dim`. Because
# $\mathrm{softmax}(x) = \mathrm{softmax}(x - c)$ for any constant $c$, we subtract the maximum
# $m = \max_j x_j$ first: every exponent is then $\le 0$, so nothing overflows, and the largest term
# is $e^0 = 1$, so the sum is at least 1 and never 0.
#
# $$\mathrm{softmax}(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}, \qquad
#   \log\mathrm{softmax}(x)_i = (x_i - m) - \log\sum_j e^{x_j - m}.$$
#
# The log-softmax is computed directly rather than as `log(softmax(x))`: a probability of
# $e^{-2000}$ underflows to 0 and its log would be $-\infty$, but $(x_i - m) - \log\sum$ stays
# finite. Module 04 builds the cross-entropy loss on `log_softmax`.
#
# Both record their `dim` for the backward pass: `_make(out, (x,), "softmax", dim=dim)`.

# %% solution id="softmax"
#| export
class Softmax(Activation):
    def __init__(self, dim=-1):
        self.dim = dim

    def forward(self, x):
        """Softmax along `self.dim`, shifted by the maximum so it never overflows.

        TODO: return exp(x - max) / sum(exp(x - max)) along self.dim, recorded as op "softmax"
              with ctx dim=self.dim.
        APPROACH: 1) m = max along dim (keepdims=True)  2) e = exp(x - m)
                  3) divide by the sum along dim (keepdims=True)  4) `_make(..., dim=self.dim)`.
        EXAMPLE: Softmax()(Tensor([[0., 0.], [1e4, 0.]])) -> Tensor([[0.5, 0.5], [1., 0.]])
        HINTS: keepdims=True keeps the reduced axis so broadcasting lines up for any dim.
        """
        ### BEGIN SOLUTION
        e = np.exp(x.data - x.data.max(axis=self.dim, keepdims=True))
        return _make(e / e.sum(axis=self.dim, keepdims=True), (x,), "softmax", dim=self.dim)
        ### END SOLUTION

    def __repr__(self):
        return f"Softmax(dim={self.dim})"


def log_softmax(x, dim=-1):
    """Log of the softmax along `dim`, computed stably (log-sum-exp trick).

    TODO: return (x - m) - log(sum(exp(x - m))) along dim, recorded as op "log_softmax", ctx dim=dim.
    APPROACH: 1) shifted = x - max along dim (keepdims=True)
              2) subtract log of the sum of exp(shifted) along dim (keepdims=True)  3) `_make`.
    EXAMPLE: log_softmax(Tensor([0., 0.])) -> Tensor([-0.6931, -0.6931])
    HINTS: do not take the log of the softmax: tiny probabilities underflow to 0 and log(0) = -inf.
    """
    x = as_tensor(x)
    ### BEGIN SOLUTION
    shifted = x.data - x.data.max(axis=dim, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    return _make(out, (x,), "log_softmax", dim=dim)
    ### END SOLUTION

# %% test id="test-softmax" points=3
p = Softmax()(Tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))
e = np.exp([1.0, 2.0, 3.0])
assert np.allclose(p.data[0], e / e.sum()), f"expected {e / e.sum()}, got {p.data[0]}"
assert np.allclose(p.data.sum(axis=-1), 1), f"each row must sum to 1, got {p.data.sum(axis=-1)}"
with warnings.catch_warnings():
    warnings.simplefilter("error")
    try:
        p = Softmax()(Tensor([[1e4, 0.0], [-1e4, 1e4]])).data
    except RuntimeWarning as w:
        raise AssertionError(f"Softmax of logits up to 1e4 warned {w!r}: subtract the max along dim first")
assert np.allclose(p, [[1, 0], [0, 1]]), f"subtract the row max before exp: expected [[1, 0], [0, 1]], got {p}"
ls = log_softmax(Tensor([0.0, 0.0]))
assert np.allclose(ls.data, np.log(0.5)), f"expected [-0.6931, -0.6931], got {ls.data}"
### BEGIN HIDDEN TESTS
x = Tensor(np.array([[1.0, 2.0], [3.0, 5.0], [0.0, -1.0]]), requires_grad=True)
s0 = Softmax(dim=0)(x)
assert np.allclose(s0.data.sum(axis=0), 1), f"Softmax(dim=0) must normalise columns, got {s0.data}"
assert s0._op == "softmax" and s0._ctx["dim"] == 0 and s0._parents[0] is x
col = np.exp([1.0, 3.0, 0.0]); assert np.allclose(s0.data[:, 0], col / col.sum())
assert Softmax()(x)._ctx["dim"] == -1
# the shift must be per row, not one global max: a global shift underflows the small rows to 0/0
with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
    warnings.simplefilter("error")
    rows = Tensor(np.array([[1e4, 1e4 - 1.0], [-1e4, -1e4 - 1.0], [0.0, -1e4]]), requires_grad=True)
    p = Softmax()(rows).data
    lp = log_softmax(rows, dim=-1)
    lp0 = log_softmax(rows, dim=0)
ref = np.array([1, np.exp(-1.0)]) / (1 + np.exp(-1.0))
assert np.allclose(p, [ref, ref, [1.0, 0.0]], rtol=1e-12, atol=0), f"got {p}"
assert np.allclose(lp.data, [np.log(ref), np.log(ref), [0.0, -1e4]], rtol=1e-12), f"got {lp.data}"
assert np.isfinite(lp.data).all(), "log_softmax must be finite where softmax underflows to 0"
assert lp._op == "log_softmax" and lp._ctx["dim"] == -1 and lp._parents[0] is rows
assert lp0._ctx["dim"] == 0 and np.allclose(np.exp(lp0.data).sum(axis=0), 1)
assert Softmax()(Tensor([1.0, 2.0])).data.dtype == np.float32
assert log_softmax(Tensor([1.0, 2.0])).data.dtype == np.float32
assert np.allclose(log_softmax(Tensor([[1.0, 2.0, 3.0]])).data, np.log(e / e.sum()))
### END HIDDEN TESTS

# %% [markdown]
# ## The picture
#
# Each activation (solid) and its derivative (dashed). The derivatives here are central finite
# differences of your forward passes; module 05 writes them exactly. Note where each derivative
# vanishes: sigmoid and tanh saturate for large $|x|$, ReLU is flat for every $x<0$.

# %%
import matplotlib.pyplot as plt

xs = np.linspace(-5, 5, 401)
h = 1e-4
fig, axes = plt.subplots(1, 4, figsize=(14, 3.2), sharex=True)
for ax, act in zip(axes, [ReLU(), Sigmoid(), Tanh(), GELU()]):
    f = lambda v: act(Tensor(v)).data
    ax.plot(xs, f(xs), label="f(x)")
    ax.plot(xs, (f(xs + h) - f(xs - h)) / (2 * h), "--", label="f'(x)")
    ax.set_title(repr(act)); ax.axhline(0, color="gray", lw=0.5); ax.grid(alpha=0.3)
axes[0].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Systems note: what a nonlinearity costs
#
# ReLU is one comparison per element; GELU is a cube, a `tanh` and a few multiplies, and softmax
# needs a max, an exp, a sum and a divide, each a full pass over memory. Measured on a batch of
# one million float32 activations:

# %%
import time

x = Tensor(np.random.default_rng(0).standard_normal((1000, 1000)).astype(np.float32))
for act in [ReLU(), Sigmoid(), Tanh(), GELU(), Softmax()]:
    act(x)                                   # warm-up
    t0 = time.perf_counter()
    for _ in range(5):
        act(x)
    ms = (time.perf_counter() - t0) / 5 * 1e3
    print(f"{repr(act):14s} {ms:6.2f} ms   {x.data.nbytes / ms / 1e6:6.2f} GB/s of input")

# %% [markdown]
# Each NumPy call is one more full pass over a 4 MB array and one more temporary: count the passes in
# your `Sigmoid` (abs, exp, compare, where, add, divide) and `GELU`, and compare with the timings.
# Arithmetic is cheap; memory traffic is not. That is why deep-learning frameworks *fuse* an
# activation into the matmul before it, so the data is touched once.
