# %% [markdown]
# # 02 · Activations
#
# Stacked linear layers are one linear map, $W_2(W_1x) = (W_2W_1)x$; a **nonlinearity** between them
# makes a network more than a matrix. You write the five activations the course uses:
#
# | name | formula | used for |
# |---|---|---|
# | ReLU | $\max(0, x)$ | hidden layers of MLPs and CNNs |
# | Sigmoid | $\sigma(x) = 1/(1+e^{-x})$ | probabilities of yes/no questions, gates |
# | Tanh | $\tanh(x) = 2\sigma(2x) - 1$ | zero-centred squashing, RNNs |
# | GELU | $\tfrac12 x\bigl(1+\tanh\bigl(\sqrt{2/\pi}\,(x+0.044715\,x^3)\bigr)\bigr)$ | transformers |
# | Softmax | $e^{x_i} / \sum_j e^{x_j}$ along one axis | scores to a distribution |
#
# Each `forward` computes on `x.data` and records the result with `_make(out, (x,), "relu")` as in module 01.
# The trap is **overflow**: `np.exp(1000.0)` is `inf`, and `inf / inf` is `nan`.

# %%
#| default_exp activations
#| export
import math

import numpy as np

from tinytorch_lib.tensor import Tensor, _make, as_tensor

# %% helper
def arr(t):
    """The values of a Tensor as a plain ndarray (for judging)."""
    return np.asarray(t.data)

def check_unary(act, v, ref, op, rtol=1e-14, **ctx):
    """Judge act on a float64 copy of v: values, dtype, shape, the record (op, parent, ctx), x intact."""
    x = Tensor(v.copy(), requires_grad=True)
    y = act(x)
    got = arr(y)
    assert np.allclose(got, ref, rtol=rtol, atol=1e-300), f"{op}: expected {ref}, got {got}"
    assert got.dtype == np.float64 and got.shape == v.shape, f"{op}: expected float64 {v.shape}, got {got.dtype} {got.shape}"
    assert str(y._op) == op and len(y._parents) == 1 and bool(y.requires_grad), f"{op}: record op {op!r}, got {y._op!r}"
    assert np.array_equal(arr(y._parents[0]), v) and np.array_equal(arr(x), v), f"{op}: record x, do not modify it"
    for key, val in ctx.items():
        assert int(y._ctx[key]) == val, f"{op}: expected ctx {key}={val}, got {y._ctx!r}"
    got = arr(act(Tensor(v.astype(np.float32))))
    assert got.dtype == np.float32, f"{op}: float32 in must give float32 out, got {got.dtype}"

def raised(call):
    """The exception call() raises (None if it returns)."""
    try:
        call()
    except Exception as e:
        return e

# %% [markdown]
# ## ReLU, Tanh and GELU
# Every activation keeps the shape and dtype of its input (`np.sqrt(2 / np.pi)` is a float64 *array
# scalar* that promotes float32 to float64; a Python `float` does not). GELU weighs $x$ by $\Phi(x)$,
# the standard normal CDF; GPT-2 uses the tanh approximation of the table.

# %% solution id="relu-tanh-gelu"
#| export
class Activation:
    """Base class of the parameter-free activations: act = ReLU(), then act(x) runs act.forward.

    Write act(x) (convert x, a Tensor, ndarray, list or number, with `as_tensor`; return
    self.forward of it), forward(x) (raise NotImplementedError naming the class: every subclass
    overrides it) and the repr: the class name and empty parentheses, e.g. "ReLU()", for any subclass.
    """
    def __call__(self, x):
        ### BEGIN SOLUTION
        return self.forward(as_tensor(x))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")
        ### END SOLUTION

    def __repr__(self):
        ### BEGIN SOLUTION
        return f"{type(self).__name__}()"
        ### END SOLUTION


# Write ReLU, Tanh and GELU: subclasses of Activation whose forward(x) computes on x.data and records the
# result as op "relu", "tanh" or "gelu"; same shape and dtype as x; x.data is never modified.
#   ReLU()(Tensor([-1., 0., 2.])) -> Tensor([0., 0., 2.])    Tanh()(Tensor([0., 1.])) -> Tensor([0., 0.7616])
#   GELU()(Tensor([-1., 0., 1.])) -> Tensor([-0.1588, 0., 0.8412])   (the table's tanh approximation)
# Hints: an elementwise maximum against a scalar; NumPy's tanh is stable for any input; sqrt(2/pi) must be
# a Python float (`math`), or float32 inputs come back as float64.
class ReLU(Activation):
    def forward(self, x):
        ### BEGIN SOLUTION
        return _make(np.maximum(x.data, 0), (x,), "relu")
        ### END SOLUTION


class Tanh(Activation):
    def forward(self, x):
        ### BEGIN SOLUTION
        return _make(np.tanh(x.data), (x,), "tanh")
        ### END SOLUTION


class GELU(Activation):
    def forward(self, x):
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
got = [repr(GELU()), arr(ReLU()([-1.0, 4.0])).tolist(), isinstance(Tanh(), Activation)]
assert got == ["GELU()", [0.0, 4.0], True], f"expected repr 'GELU()', lists accepted ([0, 4]), an Activation; got {got}"
### BEGIN HIDDEN TESTS
v = np.array([[-3.0, -0.7], [0.2, 2.5]])
check_unary(ReLU(), v, np.where(v > 0, v, 0.0), "relu")
check_unary(Tanh(), v, np.tanh(v), "tanh")
check_unary(GELU(), v, 0.5 * v * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v ** 3))), "gelu")
assert repr(Tanh()) == "Tanh()" and np.allclose(arr(Tanh()(np.array(0.5))), np.tanh(0.5)), "repr / ndarray input"
### END HIDDEN TESTS

# %% [markdown]
# ## Sigmoid, without overflow
# $1/(1+e^{-x})$ overflows for $x = -10^4$, and for $x=-740$ returns 0 although $\sigma(-740) \approx 4\cdot10^{-322}$
# is a (subnormal) float64. The cure: never exponentiate a positive number. With $z = e^{-|x|} \in (0, 1]$
# (for $x < 0$, multiply numerator and denominator by $e^{x}$),
# $$\sigma(x) = \frac{1}{1+z}\ \ (x \ge 0), \qquad \sigma(x) = \frac{z}{1+z}\ \ (x < 0).$$

# %% solution id="sigmoid"
#| export
class Sigmoid(Activation):
    """Logistic sigmoid elementwise: forward(x) records op "sigmoid" and never overflows.

    Same shape and dtype as `x`. Exact in the tails: sigmoid(-740.) is about 4.2e-322, not 0.
    EXAMPLE: Sigmoid()(Tensor([0., -1e4, 1e4])) -> Tensor([0.5, 0., 1.])
    HINT: boolean masks (or np.where) pick, per element, the branch whose exponent is <= 0.
    """
    def forward(self, x):
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
v = np.array([[-1e4, -100.0, -30.0, -1.0], [0.0, 0.5, 30.0, 1e4]])
ref = np.array([[0.0, 3.720075976020836e-44, np.exp(-30.0) / (1 + np.exp(-30.0)), 1 / (1 + np.e)],
                [0.5, 1 / (1 + np.exp(-0.5)), 1 / (1 + np.exp(-30.0)), 1.0]])
check_unary(Sigmoid(), v, ref, "sigmoid", rtol=1e-12)
got = arr(Sigmoid()(Tensor([-100.0, 0.0, 100.0])))
assert got[0] > 0 and got[2] == 1, f"float32: expected [3.7e-44, .5, 1], got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## Softmax and log-softmax
# Softmax turns scores into probabilities along `dim` and ignores a constant added to every score. Subtract
# the maximum $m$ of each slice (not one global max: a row of small scores would become $0/0$), so every
# exponent is $\le 0$ and the sum $\ge 1$. Log-softmax is computed directly ($e^{-2000}$ rounds to 0):
# $$\mathrm{softmax}(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}, \qquad
#   \log\mathrm{softmax}(x)_i = (x_i - m) - \log\sum_j e^{x_j - m}.$$

# %% solution id="softmax"
#| export
# Write the class Softmax(dim=-1), an Activation: keep dim (an int, negative counts from the end) as the
# attribute `dim`; forward(x) records op "softmax" with ctx dim=self.dim; same shape and dtype as x; every
# slice along dim sums to 1; no overflow up to |x| = 1e4; repr "Softmax(dim=-1)".
#   Softmax()(Tensor([[0., 0.], [1e4, 0.]])) -> Tensor([[0.5, 0.5], [1., 0.]])
# And the function log_softmax(x, dim=-1): log(softmax(x)) along dim, computed stably, recorded as op
# "log_softmax" with ctx dim=dim; x a Tensor or anything `as_tensor` accepts; finite wherever x is finite.
#   log_softmax(Tensor([0., 0.])) -> Tensor([-0.6931, -0.6931]);  log_softmax(Tensor([0., -1e4])) -> Tensor([0., -1e4])
# Hints: reductions with keepdims=True keep the reduced axis, so they broadcast back for any dim; take
# np.log of the shifted sum, never of a probability.
class Softmax(Activation):
    def __init__(self, dim=-1):
        ### BEGIN SOLUTION
        self.dim = dim
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        a = x.data
        shifted = a - a.max(axis=self.dim, keepdims=True)
        e = np.exp(shifted)
        return _make(e / e.sum(axis=self.dim, keepdims=True), (x,), "softmax", dim=self.dim)
        ### END SOLUTION

    def __repr__(self):
        ### BEGIN SOLUTION
        return f"Softmax(dim={self.dim})"
        ### END SOLUTION


def log_softmax(x, dim=-1):
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
ref0 = np.exp(v) / np.exp(v).sum(axis=0, keepdims=True)
check_unary(Softmax(dim=0), v, ref0, "softmax", dim=0)
check_unary(Softmax(), v, np.exp(v) / np.exp(v).sum(axis=1, keepdims=True), "softmax", dim=-1)
check_unary(lambda t: log_softmax(t, dim=0), v, np.log(ref0), "log_softmax", rtol=1e-13, dim=0)
assert repr(Softmax(dim=0)) == "Softmax(dim=0)", f"expected 'Softmax(dim=0)', got {repr(Softmax(dim=0))}"
rows = np.array([[1e4, 1e4 - 1.0], [-1e4, -1e4 - 1.0], [0.0, -1e4]])
ref = np.array([1, np.exp(-1.0)]) / (1 + np.exp(-1.0))
got = arr(Softmax()(Tensor(rows)))
assert np.allclose(got, [ref, ref, [1.0, 0.0]], rtol=1e-12, atol=0), f"shift each row by its own max; got {got}"
check_unary(log_softmax, rows, [np.log(ref), np.log(ref), [0.0, -1e4]], "log_softmax", rtol=1e-12, dim=-1)
got = arr(log_softmax(np.array([[1.0, 1.0, 1.0]])))
assert np.allclose(got, -np.log(3)), f"log_softmax must accept ndarrays; expected -log 3, got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## Sampling from a softmax, with a temperature
# A language model *samples* its next token from $\mathrm{softmax}(z / T)$: temperature $T<1$ sharpens,
# $T>1$ flattens, $T=0$ is greedy (the argmax). **Inverse-CDF sampling** draws one uniform $u \in [0, 1)$
# per row and returns the first class whose cumulative probability exceeds $u$. Top-$k$ zeroes every class
# below the $k$-th largest logit; **nucleus** (top-$p$) sampling keeps the fewest most likely classes whose
# mass reaches $p$ (Holtzman et al., 2020): few when the model is sure, many when it is not.

# %% solution id="sample"
def sample(logits, temperature=1.0, top_k=None, top_p=None, seed=None):
    """Draw one class index per row of softmax(logits / temperature).

    logits: float ndarray (N, C), not modified. temperature: float >= 0; 0 returns each row's argmax
    (the first one on ties) and draws nothing. top_k: None or an int k in 1..C; logits below the
    k-th largest of their row get probability 0 (ties with it are kept). top_p: None or a float in
    (0, 1]; after top_k, keep in each row the fewest most likely classes (ties: lower index first)
    whose probabilities sum to at least top_p, the others get 0 (nucleus sampling). The N uniforms are
    `np.random.default_rng(seed).random(N)`, one per row in order; row n returns the smallest j with
    cumsum(p_n)[j] > u_n (never more than C - 1). Returns an int ndarray (N,). No overflow for |z| = 1e4.
    EXAMPLE: sample(np.array([[0., 0., 1e4], [5., -5., -5.]]), seed=0) -> array([2, 0])
    HINT: np.cumsum along a row; counting the cumulative values <= u gives the index; np.argsort
    with kind="stable" ranks, and np.put_along_axis writes per-rank decisions back to class order.
    """
    ### BEGIN SOLUTION
    z = np.asarray(logits, dtype=np.float64)
    if temperature == 0:
        return z.argmax(axis=1)
    z = z / temperature
    if top_k is not None:
        kth = np.sort(z, axis=1)[:, -top_k]
        z = np.where(z >= kth[:, None], z, -np.inf)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p = p / p.sum(axis=1, keepdims=True)
    if top_p is not None:
        order = np.argsort(-p, axis=1, kind="stable")
        ranked = np.take_along_axis(p, order, axis=1)
        keep = np.zeros(p.shape, dtype=bool)
        np.put_along_axis(keep, order, np.cumsum(ranked, axis=1) - ranked < top_p, axis=1)
        p = np.where(keep, p, 0.0)
    cdf = np.cumsum(p, axis=1) / p.sum(axis=1, keepdims=True)
    u = np.random.default_rng(seed).random(len(z))
    return np.minimum((cdf <= u[:, None]).sum(axis=1), z.shape[1] - 1)
    ### END SOLUTION

# %% helper
def inverse_cdf(p, u):
    """Reference inverse-CDF draw: for each row of probabilities p, the first j with cumsum > u."""
    return np.array([int(np.searchsorted(np.cumsum(row), ui, side="right")) for row, ui in zip(p, u)])

# %% test id="test-sample" points=3
got = np.asarray(sample(np.array([[0.0, 0.0, 1e4], [5.0, -5.0, -5.0]]), seed=0)).tolist()
assert got == [2, 0], f"near-certain classes: expected [2, 0], got {got}"
z = np.log(np.tile([0.1, 0.2, 0.7], (20_000, 1)))
got = np.bincount(np.asarray(sample(z, seed=1)), minlength=3) / 20_000
assert np.allclose(got, [0.1, 0.2, 0.7], atol=0.015), f"frequencies: expected about [0.1, 0.2, 0.7], got {got}"
got = np.asarray(sample(np.array([[1.0, 3.0, 3.0], [0.0, -1.0, 2.0]]), temperature=0)).tolist()
assert got == [1, 2], f"temperature 0 is the argmax (first on ties): expected [1, 2], got {got}"
got = np.bincount(np.asarray(sample(np.log(np.tile([0.5, 0.3, 0.2], (20_000, 1))), top_p=0.6, seed=4)), minlength=3) / 20_000
assert got[2] == 0 and np.allclose(got[:2], [0.625, 0.375], atol=0.015), f"top_p=0.6 keeps 0.5 + 0.3: expected about [0.625, 0.375, 0], got {got}"
### BEGIN HIDDEN TESTS
z = np.random.default_rng(5).standard_normal((300, 6)) * 2
z[0, :3] = 1.0                                       # a tie of three classes
keep = z.copy()
for temp, k, top in [(1.0, None, None), (0.5, None, None), (2.0, None, None), (1.0, 2, None), (1.5, 1, None),
                     (1.0, 6, None), (1.0, None, 0.5), (0.7, 4, 0.8), (1.0, None, 1e-9), (2.0, None, 1.0)]:
    zz = z / temp
    if k is not None:
        zz = np.where(zz >= np.sort(zz, axis=1)[:, -k][:, None], zz, -np.inf)
    p = np.exp(zz - zz.max(axis=1, keepdims=True))
    p = p / p.sum(axis=1, keepdims=True)
    for row in (p if top is not None else []):
        rank = sorted(range(6), key=lambda j: (-row[j], j))
        mass = np.cumsum(row[rank])
        row[rank[int(np.sum(mass - row[rank] < top)):]] = 0.0
    exp = inverse_cdf(p / p.sum(axis=1, keepdims=True), np.random.default_rng(9).random(300))
    got = np.asarray(sample(z, temperature=temp, top_k=k, top_p=top, seed=9))
    assert np.array_equal(got, exp), f"T={temp}, top_k={k}, top_p={top}: {np.sum(got != exp)} of 300 draws differ from the inverse CDF"
assert np.array_equal(z, keep), "sample must not modify the logits"
got = np.bincount(np.asarray(sample(np.tile([0.0, 1.0, 2.0], (20_000, 1)), top_k=2, seed=2)), minlength=3) / 20_000
exp = np.exp([1.0, 2.0]) / np.exp([1.0, 2.0]).sum()
assert got[0] == 0 and np.allclose(got[1:], exp, atol=0.015), f"top_k=2: expected [0, {exp}], got {got}"
got = np.asarray(sample(np.array([[-1e4, 1e4, 0.0]]), temperature=0.5, seed=3)).tolist()
assert got == [1], f"|z| = 1e4 at T=0.5: expected [1], got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## Finding the edge: where does a formula break?
# How large may a logit get before the naive $e^{x}$ overflows? **Bisection** finds the edge of any
# function: keep $[lo, hi]$ with $f(lo)$ finite and $f(hi)$ not, halve it, keep the half that still
# straddles the edge, stop below a tolerance. Each step gains one bit.

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
    e = raised(lambda: overflow_point(lambda v: 1.0 if v < 3.25 else math.inf, lo, hi))
    assert isinstance(e, ValueError), f"f({lo}) must be finite and f({hi}) not: expected ValueError, got {e!r}"
### END HIDDEN TESTS

# %% [markdown]
# Where a naive `exp` breaks, per dtype (half precision, common on GPUs, at 11):

# %%
with np.errstate(over="ignore"):
    for dtype in (np.float16, np.float32, np.float64):
        edge = overflow_point(lambda v: np.exp(dtype(v)), 0.0, 1e5)
        print(f"{np.dtype(dtype).name:8s} exp(x) overflows from x = {edge:9.4f}  (log of the largest float: "
              f"{np.log(np.float64(np.finfo(dtype).max)):9.4f})")

# %% [markdown]
# ## Log-softmax in chunks
# A language model scores tens of thousands of tokens, and `log_softmax` builds three temporaries as
# large as the score matrix. The **online** log-sum-exp reads a chunk of columns at a time and keeps
# per row the largest score $m$ so far and $s = \sum e^{x_j - m}$. When a chunk raises the maximum to
# $m'$, the old sum becomes $s\,e^{m - m'}$. At the end $\log\sum_j e^{x_j} = m + \log s$, and a
# second pass writes $x_{ij} - (m_i + \log s_i)$. (FlashAttention's softmax works this way.)

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
big = np.array([[-1e4, -1e4 + 1.0, -1e4 - 2.0, -1e4], [1e4, 3.0, 1e4 - 50.0, 0.0]])
lse = np.array([-1e4 + 1 + np.log(np.exp([-1.0, 0.0, -3.0, -1.0]).sum()), 1e4 + np.log1p(np.exp(-50.0))])
rise = np.array([[2.0, 3.0, 5.0]], dtype=np.float32)         # rising maxima: rescale the old sum
cases = [(v, c, v - np.log(np.exp(v).sum(axis=1, keepdims=True))) for c in (1, 2, 5, 11, 50)]
for a, chunk, exp in cases + [(big, 2, big - lse[:, None]), (rise, 1, rise - np.log(np.exp(rise.astype(float)).sum()))]:
    got = np.asarray(chunked_log_softmax(a, chunk))
    assert got.dtype == np.float64 and np.allclose(got, exp, rtol=1e-14 if a is big else 1e-13), f"{a.shape} input, chunk={chunk}: expected float64\n{exp}\ngot {got.dtype}\n{got}"
assert np.array_equal(v, keep), "chunked_log_softmax must not modify its input"
### END HIDDEN TESTS

# %% [markdown]
# ## Backward rules
# Training needs, for a loss $L$, the gradient $\bar x = \partial L/\partial x$ from $\bar y = \partial L/\partial y$
# (`grad`) of $y = f(x)$. For an elementwise $f$, $\bar x = \bar y \odot f'(x)$, and the slopes are
# cheapest from the output: $\sigma' = \sigma(1-\sigma)$, $\tanh' = 1 - \tanh^2$, $\mathrm{relu}'(x) = [x > 0]$.
# GELU is $\tfrac12 x(1 + \tanh u)$ with $u = c(x + 0.044715\,x^3)$, $c = \sqrt{2/\pi}$; by the product and
# chain rules its slope is $\tfrac12(1 + \tanh u) + \tfrac12 x\,(1 - \tanh^2 u)\,c\,(1 + 3\cdot0.044715\,x^2)$.
# **Softmax** mixes a slice: $\partial s_i/\partial x_j = s_i(\delta_{ij} - s_j)$, so
# $\bar x_j = \sum_i \bar s_i s_i(\delta_{ij} - s_j) = s_j\bigl(\bar s_j - \sum_i \bar s_i s_i\bigr)$, summed along `dim`:
# the Jacobian ($C^2$ numbers per slice) is never built. For log-softmax along the last axis,
# $\bar x = \bar y - \mathrm{softmax}(x) \sum_i \bar y_i$. Module 05 wires such rules into `backward()`.
#
# Each rule is checked against the **central difference** $f'(x) \approx \frac{f(x+h) - f(x-h)}{2h}$, which errs
# by $O(h^2)$, and only in float64: in float32, $x + 10^{-5}$ loses most digits of $h$. For a function
# with many outputs, the difference of $\sum_i \bar y_i f_i(x)$ gives one entry of the whole VJP $\bar x$ at a time.

# %% solution id="numerical-vjp"
def numerical_vjp(f, x, grad, eps=1e-6):
    """Central-difference estimate of the vector-Jacobian product sum_i grad_i * d f_i(x) / d x.

    f: a function of a float64 ndarray returning an ndarray of grad's shape; x: float64 ndarray (not
    modified, and f never sees it changed in place). Returns a new float64 ndarray of x's shape whose
    entry j is (L(x + eps e_j) - L(x - eps e_j)) / (2 eps), with L(v) = sum(grad * f(v)).
    EXAMPLE: numerical_vjp(lambda v: v ** 2, np.array([1., -2.]), np.array([1., 3.])) -> array([2., -12.])
    HINT: `np.ndindex(shape)` visits every index of an array of any rank; perturb copies.
    """
    ### BEGIN SOLUTION
    out = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        out[i] = (np.sum(grad * f(up)) - np.sum(grad * f(down))) / (2 * eps)
    return out
    ### END SOLUTION

# %% test id="test-numerical-vjp" points=2
got = np.asarray(numerical_vjp(lambda v: v ** 2, np.array([1.0, -2.0]), np.array([1.0, 3.0])))
assert np.allclose(got, [2.0, -12.0]), f"grad * 2x: expected [2, -12], got {got}"
A = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])
got = np.asarray(numerical_vjp(lambda v: A @ v, np.array([0.5, 1.0, 2.0]), np.array([1.0, 2.0])))
assert np.allclose(got, [1.0, 0.0, 6.0]), f"a matrix mixes the entries: expected A.T @ grad = [1, 0, 6], got {got}"
### BEGIN HIDDEN TESTS
x, g = np.array([[0.3, -1.2, 2.0], [1.0, 0.5, -0.7]]), np.array([[1.0, -2.0, 0.5], [3.0, 1.0, 2.0]])
keep, seen = x.copy(), []
got = np.asarray(numerical_vjp(lambda v: (seen.append(v is x), np.sin(v) * v[::-1])[1], x, g))
exp = g * np.cos(x) * x[::-1] + (g * np.sin(x))[::-1]
assert got.shape == (2, 3) and np.allclose(got, exp, rtol=1e-7, atol=1e-8), f"2-D x: expected\n{exp}\ngot\n{got}"
assert np.array_equal(x, keep) and not any(seen), f"expected x unchanged and never handed to f itself; got x = {x.tolist()}, handed over {sum(seen)} times"
for eps in (1e-3, 1e-1):
    got = np.asarray(numerical_vjp(lambda v: v ** 3, np.array([2.0]), np.array([1.0]), eps=eps))
    assert np.allclose(got, 12 + eps ** 2), f"eps={eps}: the central difference of x^3 at 2 is 12 + eps^2 = {12 + eps ** 2}, got {got}"
### END HIDDEN TESTS

# %% solution id="activation-backward"
def activation_backward(act, x, grad):
    """The gradient with respect to x, given `grad`, the gradient with respect to act(x).

    act: a ReLU(), Sigmoid(), Tanh(), GELU() or Softmax(dim), or the function
    log_softmax (along the last axis); x, grad: float64 ndarrays of one shape (not modified).
    Returns a new float64 ndarray of x's shape: grad * f'(x) for the elementwise activations (ReLU's
    slope at 0 is 0, as in PyTorch), the vector-Jacobian product along the axis for Softmax and
    log_softmax. TypeError naming `act` for anything else.
    EXAMPLE: activation_backward(Sigmoid(), np.array([0.]), np.array([2.])) -> array([0.5])
    HINT: isinstance; reductions with keepdims=True broadcast back along any dim.
    """
    ### BEGIN SOLUTION
    if act is log_softmax:
        s = np.exp(np.asarray(log_softmax(Tensor(x)).data))
        return grad - s * grad.sum(axis=-1, keepdims=True)
    if isinstance(act, ReLU):
        return grad * (x > 0)
    if isinstance(act, GELU):
        c = math.sqrt(2 / math.pi)
        t = np.tanh(c * (x + 0.044715 * x ** 3))
        return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x))
    if not isinstance(act, (Sigmoid, Tanh, Softmax)):
        raise TypeError(f"no backward rule for {act!r}")
    y = np.asarray(act(Tensor(x)).data)
    if isinstance(act, Sigmoid):
        return grad * y * (1 - y)
    if isinstance(act, Tanh):
        return grad * (1 - y * y)
    return y * (grad - np.sum(grad * y, axis=act.dim, keepdims=True))
    ### END SOLUTION

# %% test id="test-activation-backward" points=3
for act, v, g, exp in [(Sigmoid(), [0.0], [2.0], [0.5]), (ReLU(), [-1.0, 0.0, 2.0], [3.0] * 3, [0.0, 0.0, 3.0]),
                       (Softmax(), [0.0, 0.0], [1.0, 0.0], [0.25, -0.25]), (log_softmax, [0.0, 0.0], [1.0, 0.0], [0.5, -0.5])]:
    got = np.asarray(activation_backward(act, np.array(v), np.array(g)))
    assert np.allclose(got, exp, rtol=1e-12, atol=0), f"{act!r} at x={v}, grad={g}: expected {exp}, got {got.tolist()}"
### BEGIN HIDDEN TESTS
def central(f, x, g, h=1e-6):
    steps = np.eye(x.size).reshape((x.size,) + x.shape) * h
    return np.array([np.sum(g * (f(x + e) - f(x - e))) / (2 * h) for e in steps]).reshape(x.shape)
x = np.random.default_rng(6).standard_normal((3, 4)) * 2
x[np.abs(x) < 0.05] = 0.5                       # keep ReLU's kink away from the finite differences
g = np.random.default_rng(7).standard_normal((3, 4))
keep = (x.copy(), g.copy())
softmax0 = lambda v: np.exp(v) / np.exp(v).sum(axis=0, keepdims=True)
refs = [(ReLU(), lambda v: np.maximum(v, 0)), (Sigmoid(), lambda v: 0.5 * (1 + np.tanh(0.5 * v))), (Tanh(), np.tanh),
        (GELU(), lambda v: 0.5 * v * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v ** 3)))),
        (Softmax(), lambda v: softmax0(v.T).T), (Softmax(dim=0), softmax0), (log_softmax, lambda v: np.log(softmax0(v.T).T))]
for act, f in refs:
    got, exp = np.asarray(activation_backward(act, x, g)), central(f, x, g)
    assert got.shape == x.shape and np.allclose(got, exp, rtol=1e-6, atol=1e-8), f"{act!r}: expected (central differences)\n{exp}\ngot\n{got}"
assert np.array_equal(x, keep[0]) and np.array_equal(g, keep[1]), "x and grad must not be modified"
e = raised(lambda: activation_backward(lambda v: v, x, g))
assert isinstance(e, TypeError), f"a function that is not one of the five activations: expected TypeError, got {e!r}"
### END HIDDEN TESTS

# %% [markdown]
# Each activation (solid) and its slope (dashed; the title compares central difference and backward rule).
# Sigmoid and tanh saturate (slope near 0) for large $|x|$; ReLU is flat for $x<0$; GELU dips below zero.

# %%
import matplotlib.pyplot as plt

xs, h = np.linspace(-5, 5, 201), 1e-5
fig, axes = plt.subplots(1, 4, figsize=(14, 3.2), sharex=True)
for ax, act in zip(axes, [ReLU(), Sigmoid(), Tanh(), GELU()]):
    y, slope = act(Tensor(xs)).data, numerical_vjp(lambda v: act(Tensor(v)).data, xs, np.ones_like(xs), h)
    ax.plot(xs, y, label="f(x)"); ax.plot(xs, slope, "--", label="f'(x)")
    err = np.abs(slope - activation_backward(act, xs, np.ones_like(xs)))[xs != 0].max()   # ReLU has a kink at 0
    ax.set_title(f"{act!r}, max error {err:.0e}"); ax.axhline(0, color="gray", lw=0.5); ax.grid(alpha=0.3)
axes[0].legend(); plt.tight_layout(); plt.show()

# %% [markdown]
# ## Systems note: measuring memory and time
# NumPy reports its allocations to Python's `tracemalloc`, so a function's peak memory can be measured:
# start tracing, call it, read the peak, stop. `time.perf_counter` is the clock for short intervals.

# %% solution id="measure"
import time
import tracemalloc

def measure(fn, *args):
    """Call fn(*args) once; return (result, peak_bytes, seconds).

    peak_bytes: the largest amount of memory (int, bytes) that NumPy and Python had allocated at once
    during the call, counted from the start of the call (so the result itself counts); seconds: the
    wall time of the call (float). Tracing is stopped again afterwards, even when fn raises.
    EXAMPLE: measure(np.ones, 1000) -> (array of 1000 ones, about 8100, about 1e-5)
    HINT: `tracemalloc.start`, `get_traced_memory` (its second value), `stop`; try/finally.
    """
    ### BEGIN SOLUTION
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        out = fn(*args)
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return out, peak, seconds
    ### END SOLUTION

# %% test id="test-measure" points=2
out, peak, seconds = measure(chunked_log_softmax, np.zeros((100, 1000)), 100)
assert np.allclose(np.asarray(out), -np.log(1000)), f"measure must return fn's result; got {np.asarray(out)[0, :3]}"
assert 800_000 <= int(peak) < 2_000_000, f"the (100, 1000) float64 result alone is 800000 bytes; got a peak of {peak}"
assert 0 < float(seconds) < 1, f"expected a positive time below a second, got {seconds}"
### BEGIN HIDDEN TESTS
out, peak, seconds = measure(chunked_log_softmax, np.zeros((4, 10)), 5)
assert 320 <= int(peak) < 20_000, f"a (4, 10) result: expected a peak of a few hundred bytes, got {peak}"
out, peak2, _ = measure(chunked_log_softmax, np.zeros((200, 1000)), 100)
assert int(peak2) >= 1_600_000, f"a (200, 1000) result: expected a peak >= 1600000 bytes, got {peak2}"
### END HIDDEN TESTS

# %%
scores = np.random.default_rng(0).standard_normal((256, 20_000))
for name, fn, args in [("full", log_softmax, (scores,)), ("chunk 4096", chunked_log_softmax, (scores, 4096)),
                       ("chunk 512", chunked_log_softmax, (scores, 512))]:
    _, peak, seconds = measure(fn, *args)
    print(f"{name:11s} peak allocation {peak / 2**20:7.1f} MiB   time {seconds * 1e3:6.1f} ms")
print(f"the scores (and the result): {scores.nbytes / 2**20:.1f} MiB each")

# %% [markdown]
# The chunked version allocates the result plus a few (N, chunk) temporaries instead of several
# full-size arrays, and is no slower: memory traffic, not arithmetic, sets the pace.
