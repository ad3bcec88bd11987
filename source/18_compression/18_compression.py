# %% [markdown]
# # 18 · Compression
#
# A trained network holds far more numbers than it needs. Ways to drop them: **magnitude pruning** (zero the
# smallest $|w|$, Han et al., 2015) and a sparse format to store it; **structured pruning** (drop whole
# neurons: smaller dense matrices); **low rank** (truncated SVD); **weight sharing** (Deep Compression);
# **distillation** (a small student learns a teacher's outputs).
#
# A pruned weight must **stay** zero during fine-tuning. The layer keeps a boolean mask `weight_mask` and
# computes with `weight * mask`: pruned entries get gradient exactly 0, so SGD, Adam and AdamW started after
# pruning never move them ($0 / (\sqrt 0 + \epsilon) = 0$); each forward re-zeroes them (against loaded
# checkpoints). The layer gets its own instance `forward` (module 03's `__call__` looks up `self.forward`).

# %%
#| default_exp compression
#| export
import copy
import types

import numpy as np

from tinytorch_lib.activations import log_softmax
from tinytorch_lib.autograd import no_grad
from tinytorch_lib.layers import Linear, Module, Sequential
from tinytorch_lib.losses import CrossEntropyLoss
from tinytorch_lib.spatial import Conv2d, conv2d
from tinytorch_lib.tensor import Tensor

PRUNABLE = (Linear, Conv2d)

# %%
from tinytorch_lib.activations import ReLU
from tinytorch_lib.optim import SGD, Adam, AdamW
from tinytorch_lib.tensor import manual_seed

# %% solution id="masked-forward"
#| export
def pruned_forward(self, x):
    """The forward of a pruned Linear or Conv2d `self` that has a boolean `weight_mask` (the
    weight's shape, True = kept): first set the pruned entries of self.weight.data to 0 (the same
    Tensor, its data changed), then compute the layer with the Tensor `self.weight * mask` in place
    of the weight (conv2d with the layer's stride and padding for a Conv2d), plus the bias.
    EXAMPLE: weight [[1, 2]], mask [[True, False]], bias [0.5], x [[1, 1]] -> [[1.5]]; the weight's
    gradient is then [[g, 0]].
    """
    ### BEGIN SOLUTION
    self.weight.data[~self.weight_mask] = 0
    w = self.weight * self.weight_mask
    if isinstance(self, Conv2d):
        return conv2d(x, w, self.bias, self.stride, self.padding)
    y = x @ w.T
    return y if self.bias is None else y + self.bias
    ### END SOLUTION

def apply_mask(layer, mask):
    """Prune `layer` (Linear or Conv2d) in place with the boolean array `mask` (True = keep), kept as
    `layer.weight_mask`, ANDed with the mask it already has (a pruned weight stays pruned). Zeroes
    the pruned weights and gives the layer its own `forward`: pruned_forward bound to it.
    Returns the layer. ValueError naming both shapes if mask's shape is not the weight's.
    HINT: `types.MethodType(function, obj)` binds a function to one object (deepcopy keeps it bound
    to the copy).
    """
    ### BEGIN SOLUTION
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != layer.weight.shape:
        raise ValueError(f"mask of shape {mask.shape} does not fit a weight of shape {layer.weight.shape}")
    old = getattr(layer, "weight_mask", None)
    layer.weight_mask = mask.copy() if old is None else old & mask
    layer.weight.data[~layer.weight_mask] = 0
    layer.forward = types.MethodType(pruned_forward, layer)
    return layer
    ### END SOLUTION

# %% helper
def raises(fn, exc):
    """Call fn(); return the message of the `exc` it must raise (AssertionError if it does not)."""
    try:
        fn()
    except exc as e:
        return str(e)
    raise AssertionError(f"expected {exc.__name__} to be raised")

def grad_check(fn, a):
    """fn(float64 leaf Tensor) -> 0-d Tensor: its backward against central differences."""
    leaf = Tensor(np.array(a, dtype=np.float64), requires_grad=True)
    fn(leaf).backward()
    num = np.zeros_like(leaf.data)
    for i in np.ndindex(leaf.shape):
        old, leaf.data[i] = leaf.data[i], leaf.data[i] + 1e-6
        plus = float(fn(leaf).data)
        leaf.data[i] = old - 1e-6
        num[i], leaf.data[i] = (plus - float(fn(leaf).data)) / 2e-6, old
    got = None if leaf.grad is None else leaf.grad.data
    assert got is not None and np.allclose(got, num, rtol=1e-5, atol=1e-7), f"expected (finite differences)\n{np.round(num, 6)}\ngot\n{got}"

# %% test id="test-masked-forward" points=3
lin = Linear(2, 1); lin.weight.data, lin.bias.data = np.array([[1.0, 2.0]], np.float32), np.array([0.5], np.float32)
apply_mask(lin, np.array([[True, False]]))
assert lin.weight.data.tolist() == [[1.0, 0.0]] and lin.weight_mask.dtype == np.bool_, f"the pruned weight is zeroed, mask kept as bool: got {lin.weight.data.tolist()}"
out = lin(Tensor([[1.0, 1.0]]))
assert np.allclose(out.data, [[1.5]]), f"expected [[1.5]] (1*1 + 0*1 + 0.5), got {out.data.tolist()}"
out.sum().backward()
assert lin.weight.grad.data.tolist() == [[1.0, 0.0]], f"the pruned weight gets gradient 0: expected [[1, 0]], got {lin.weight.grad.data.tolist()}"
### BEGIN HIDDEN TESTS
lin.weight.data = np.array([[3.0, 7.0]], np.float32)        # e.g. a checkpoint loaded over it
got = (lin(Tensor([[1.0, 1.0]])).data.tolist(), lin.weight.data.tolist())
assert got == ([[3.5]], [[3.0, 0.0]]), f"each forward re-applies the mask to the weight: expected ([[3.5]], [[3.0, 0.0]]), got {got}"
fresh, mine = Linear(2, 1), np.array([[True, False]])
apply_mask(fresh, mine); apply_mask(lin, np.array([[False, True]])); mine[0, 1] = True
got = (lin.weight_mask.tolist(), lin.weight.data.tolist(), fresh.weight_mask.tolist())
assert got == ([[False, False]], [[0.0, 0.0]], [[True, False]]), f"a new mask is ANDed with the old one; the layer keeps its own copy: expected ([[F, F]], [[0, 0]], [[T, F]]), got {got}"
assert lin.forward.__func__ is pruned_forward, f"the layer's own forward is pruned_forward bound to it, got {lin.forward!r}"
msg = raises(lambda: apply_mask(Linear(3, 2), np.ones((3, 2), bool)), ValueError)
assert "(3, 2)" in msg and "(2, 3)" in msg, f"name both shapes, got: {msg}"
conv, m, x = Conv2d(1, 2, 3, padding=1, bias=False), np.zeros((2, 1, 3, 3), bool), np.random.default_rng(0).standard_normal((1, 1, 4, 4)).astype(np.float32)
m[0, 0, 1, 1] = True
got = apply_mask(conv, m)(Tensor(x)).data
assert np.allclose(got[0, 0], conv.weight.data[0, 0, 1, 1] * x[0, 0]) and np.allclose(got[0, 1], 0), "a pruned Conv2d keeps its stride/padding and only the kept taps"
for make in [lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01), lambda ps: Adam(ps, lr=0.1), lambda ps: AdamW(ps, lr=0.1)]:
    layer = apply_mask(Linear(4, 3), np.random.default_rng(1).random((3, 4)) < 0.5)
    opt = make(list(layer.parameters()))
    for step in range(3):
        opt.zero_grad()
        (layer(Tensor(np.ones((2, 4), np.float32))) ** 2).sum().backward()
        opt.step()
    assert np.all(layer.weight.data[~layer.weight_mask] == 0) and np.any(layer.weight.data[layer.weight_mask] != 0), f"{type(opt).__name__}: pruned weights must stay exactly 0 after steps"
### END HIDDEN TESTS

# %% [markdown]
# ## Magnitude pruning
# To reach sparsity $p$ over $n$ weights, prune the $k = \operatorname{round}(p\,n)$ of smallest $|w|$ (PyTorch's
# `l1_unstructured` rule; Python's `round`). **global**: the $n$ weights of all prunable layers compete, so a
# layer of large weights keeps more of them; **layer**: every Linear and Conv2d loses its own
# $\operatorname{round}(p\, n_\ell)$. Weights pruned before have $|w| = 0$ and go first. Equal magnitudes: the
# first (in `modules()` order, then row-major) is pruned first, as a **stable** sort gives.

# %% solution id="magnitude-prune"
#| export
def magnitude_prune(model, sparsity, scope="global"):
    """Prune every Linear and Conv2d weight of model (biases untouched) in place with apply_mask, as
    described above, and return model. `model` may itself be a Linear or Conv2d.
    ValueError unless 0 <= sparsity <= 1 and scope is "global" or "layer" (name the bad value).
    EXAMPLE: two Linears with weights [[1, -4]] and [[2, 3, -0.5]], sparsity 0.4 (k = round(2.0) = 2):
             global prunes -0.5 and 1 -> masks [[F, T]], [[T, T, F]];
             layer prunes round(0.8) = 1 of the first and round(1.2) = 1 of the second.
    HINT: `np.argsort(..., kind="stable")`; `np.concatenate` the flattened |w|, then `np.split` it
    back at the cumulative sizes.
    """
    ### BEGIN SOLUTION
    if not 0 <= sparsity <= 1:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
    if scope not in ("global", "layer"):
        raise ValueError(f"scope must be 'global' or 'layer', got {scope!r}")
    layers = [m for m in model.modules() if isinstance(m, PRUNABLE)]
    if not layers:
        return model
    groups = [layers] if scope == "global" else [[m] for m in layers]
    for group in groups:
        mags = np.concatenate([np.abs(m.weight.data).ravel() for m in group])
        keep = np.ones(mags.size, dtype=bool)
        keep[np.argsort(mags, kind="stable")[:round(sparsity * mags.size)]] = False
        ends = np.cumsum([m.weight.data.size for m in group])[:-1]
        for m, k in zip(group, np.split(keep, ends)):
            apply_mask(m, k.reshape(m.weight.shape))
    return model
    ### END SOLUTION

def sparsity(model):
    """The fraction (a float) of zeros among all Linear and Conv2d weights of model (biases and
    other layers excluded); 0.0 for a model without such layers.
    EXAMPLE: Linear weights [[0, 1], [2, 0]] and [[0, 0, 0, 5]] -> 5 zeros of 8 = 0.625
    """
    ### BEGIN SOLUTION
    weights = [m.weight.data for m in model.modules() if isinstance(m, PRUNABLE)]
    total = sum(w.size for w in weights)
    return float(sum(w.size - np.count_nonzero(w) for w in weights) / total) if total else 0.0
    ### END SOLUTION

# %% test id="test-magnitude-prune" points=4
def two_layers():
    net = Sequential(Linear(2, 1, bias=False), Linear(3, 1))
    net[0].weight.data, net[1].weight.data = np.array([[1.0, -4.0]], np.float32), np.array([[2.0, 3.0, -0.5]], np.float32)
    return net
g = magnitude_prune(two_layers(), 0.4)
got = (g[0].weight_mask.tolist(), g[1].weight_mask.tolist())
assert got == ([[False, True]], [[True, True, False]]), f"global 40% of 5 = 2 smallest |w| (0.5 and 1): expected masks ([[F, T]], [[T, T, F]]), got {got}"
lay = magnitude_prune(two_layers(), 0.4, scope="layer")
got = (lay[0].weight.data.tolist(), lay[1].weight.data.tolist())
assert got == ([[0.0, -4.0]], [[2.0, 3.0, 0.0]]), f"layer 40%: one of each, got {got}"
assert np.isclose(sparsity(g), 0.4), f"sparsity: expected 2 zeros of 5 = 0.4, got {sparsity(g)}"
### BEGIN HIDDEN TESTS
net = two_layers()
net[0].weight.data[0, 1] = 9.0
got = magnitude_prune(net, 0.8)[1].weight_mask.tolist(), net[0].weight_mask.tolist()
assert got == ([[False, False, False]], [[False, True]]), f"global 80% of 5 = 4: the small layer loses all 3 (|w| 0.5, 2, 3), the other keeps 9, got {got}"
net = two_layers()
magnitude_prune(net, 0.5, scope="layer")     # round(1.0) = 1 and round(1.5) = 2
got = (int(net[0].weight_mask.sum()), int(net[1].weight_mask.sum()))
assert got == (1, 1), f"layer 50%: round(1.0) = 1 pruned of 2, round(1.5) = 2 of 3: expected kept (1, 1), got {got}"
three = Sequential(Linear(2, 1, bias=False), Linear(2, 1, bias=False), Linear(2, 1, bias=False))
for layer, w in zip(three, [[5.0, 1.0], [4.0, 2.0], [3.0, 6.0]]):
    layer.weight.data = np.array([w], np.float32)
got = [layer.weight_mask.tolist() for layer in magnitude_prune(three, 0.5)]
assert got == [[[True, False]], [[True, False]], [[False, True]]], f"global over 3 layers: 1, 2, 3 pruned, got {got}"
tie = Linear(4, 1, bias=False)
tie.weight.data = np.array([[1.0, -1.0, 1.0, 2.0]], np.float32)
for p, what in [(0.5, "ties: the first ones go first"), (0.25, "pruning again to less keeps what was pruned")]:
    got = magnitude_prune(tie, p).weight_mask.tolist()
    assert got == [[False, False, True, True]], f"{what}: expected [[F, F, T, T]], got {got}"
conv = Sequential(Conv2d(1, 2, 2, bias=True), Linear(2, 2))
before = conv[0].bias.data.copy()
magnitude_prune(conv, 1.0)
assert sparsity(conv) == 1.0 and np.array_equal(conv[0].bias.data, before), f"sparsity 1.0 prunes every weight of Conv2d and Linear, never a bias: got {sparsity(conv)}"
assert magnitude_prune(Linear(3, 3), 0.0).weight_mask.all(), "sparsity 0 prunes nothing: expected a mask of all True"
for bad, word in [(lambda: magnitude_prune(two_layers(), 1.5), "1.5"), (lambda: magnitude_prune(two_layers(), 0.5, scope="row"), "row")]:
    msg = raises(bad, ValueError)
    assert word in msg, f"the error names the bad value {word}, got: {msg}"
m = Sequential(Linear(2, 2), Linear(2, 2))
m[0].weight.data, m[1].weight.data = np.array([[0.0, 1.0], [2.0, 0.0]], np.float32), np.array([[0.0, 0.0], [0.0, 5.0]], np.float32)
assert np.isclose(sparsity(m), 5 / 8) and sparsity(Sequential()) == 0.0, f"5 zeros of 8 weights (biases excluded) = 0.625, got {sparsity(m)}"
### END HIDDEN TESTS

# %% [markdown]
# ## A sparse format
# Zeros in a dense array still cost bytes and multiplications. **CSR** (compressed sparse row) keeps only the
# nonzeros of $W$ $(m \times n)$: `values` row by row, their column indices `cols`, and `row_ptr` $(m + 1)$:
# row $r$ owns `values[row_ptr[r]:row_ptr[r + 1]]`. A product with $W$ costs one multiply-add per nonzero.

# %% solution id="csr"
def to_csr(w):
    """CSR form (values, cols, row_ptr) of the 2-D ndarray w (m, n).

    values (nnz,) in w's dtype: the nonzeros in row-major order; cols (nnz,) int64: their column
    indices; row_ptr (m + 1,) int64: row_ptr[0] = 0, and row r has row_ptr[r + 1] - row_ptr[r] nonzeros.
    EXAMPLE: to_csr(np.array([[0., 2.], [0., 0.], [3., 4.]])) -> ([2., 3., 4.], [1, 0, 1], [0, 1, 1, 3])
    HINT: `np.nonzero` lists the positions row by row; `np.bincount(..., minlength=m)` counts per row.
    """
    ### BEGIN SOLUTION
    rows, cols = np.nonzero(w)
    row_ptr = np.zeros(w.shape[0] + 1, dtype=np.int64)
    row_ptr[1:] = np.cumsum(np.bincount(rows, minlength=w.shape[0]))
    return w[rows, cols], cols.astype(np.int64), row_ptr
    ### END SOLUTION

def csr_linear(x, values, cols, row_ptr):
    """x @ W.T for the CSR weight W (m rows) and a 2-D float ndarray x (N, n): an (N, m) ndarray in
    x's dtype, computed from the nonzeros only (no dense W is built); a row of W without nonzeros
    gives a column of zeros.
    EXAMPLE: x [[1., 1.]] and to_csr of [[0, 2], [0, 0], [3, 4]] -> [[2., 0., 7.]]
    HINT: row r of W touches only the columns cols[row_ptr[r]:row_ptr[r + 1]] of x.
    """
    ### BEGIN SOLUTION
    out = np.zeros((x.shape[0], len(row_ptr) - 1), dtype=x.dtype)
    for r in range(len(row_ptr) - 1):
        a, b = row_ptr[r], row_ptr[r + 1]
        out[:, r] = x[:, cols[a:b]] @ values[a:b]
    return out
    ### END SOLUTION

# %% test id="test-csr" points=3
w = np.array([[0.0, 2.0], [0.0, 0.0], [3.0, 4.0]], np.float32)
got = [np.asarray(a).tolist() for a in to_csr(w)]
assert got == [[2.0, 3.0, 4.0], [1, 0, 1], [0, 1, 1, 3]], f"expected values [2, 3, 4], cols [1, 0, 1], row_ptr [0, 1, 1, 3], got {got}"
got = np.asarray(csr_linear(np.array([[1.0, 1.0], [2.0, -1.0]], np.float32), *to_csr(w)))
assert np.allclose(got, [[2, 0, 7], [-2, 0, 2]]), f"expected x @ W.T = [[2, 0, 7], [-2, 0, 2]], got {got.tolist()}"
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(6)
for shape, density in [((5, 7), 0.3), ((4, 3), 0.0), ((3, 4), 1.0), ((6, 1), 0.5)]:
    w = np.where(rng.random(shape) < density, rng.standard_normal(shape), 0.0).astype(np.float32)
    values, cols, row_ptr = (np.asarray(a) for a in to_csr(w))
    r, c = np.nonzero(w)
    exp = (w[r, c], c, np.r_[0, np.cumsum((w != 0).sum(axis=1))])
    ok = all(np.array_equal(g, e) for g, e in zip((values, cols, row_ptr), exp)) and (values.dtype, cols.dtype, row_ptr.dtype) == (np.float32, np.int64, np.int64)
    assert ok, f"{shape}, {len(c)} nonzeros: expected {[e.tolist() for e in exp]} (float32, int64, int64), got {[g.tolist() for g in (values, cols, row_ptr)]} ({values.dtype}, {cols.dtype}, {row_ptr.dtype})"
    x = rng.standard_normal((3, shape[1])).astype(np.float32)
    got = np.asarray(csr_linear(x, *to_csr(w)))
    assert got.dtype == np.float32 and got.shape == (3, shape[0]) and np.allclose(got, x @ w.T, atol=1e-5), f"{shape}: expected x @ W.T\n{x @ w.T}\ngot ({got.dtype})\n{got}"
### END HIDDEN TESTS

# %% [markdown]
# ## Structured pruning
# Hidden neuron $j$ of a Linear is row $j$ of its weight and its bias $b_j$; the next Linear reads it
# through column $j$. Score neurons by the L2 norm of their row, drop the weakest (ties: the first
# ones) with row $j$, $b_j$ and the next column $j$: a smaller dense model. A neuron with zero row
# and bias contributed $\text{ReLU}(0) = 0$, so dropping it changes nothing.

# %% solution id="structured-prune"
#| export
def structured_prune(model, amount):
    """A new Sequential with the layers of `model` (a Sequential of Linears and activations), in
    which every Linear but the last has lost the round(amount * out_features) neurons of smallest
    row norm (at least one kept), and the Linear after it the matching input columns. Kept neurons
    stay in their order; new Linears (plain, no mask) get copies of the kept weights and biases in
    their dtype; other layers are deep copies. `model` is not modified.
    EXAMPLE: Linear(2, 3) with rows [[1, 1], [0, 0.1], [3, 0]], ReLU(), Linear(3, 1), amount 0.34
             -> round(1.02) = 1 neuron (row 1) dropped: Linear(2, 2), ReLU(), Linear(2, 1) (columns 0, 2)
    HINT: `np.linalg.norm(w, axis=1)`; `np.sort` the kept indices; fancy indexing with them.
    """
    ### BEGIN SOLUTION
    layers = [copy.deepcopy(layer) for layer in model]
    linears = [i for i, layer in enumerate(layers) if isinstance(layer, Linear)]
    keep_in = None
    for i in linears:
        old = layers[i]
        w = old.weight.data if keep_in is None else old.weight.data[:, keep_in]
        keep_out = np.arange(w.shape[0])
        if i != linears[-1]:
            n_drop = min(round(amount * w.shape[0]), w.shape[0] - 1)
            order = np.argsort(np.linalg.norm(w, axis=1), kind="stable")
            keep_out = np.sort(order[n_drop:])
        new = Linear(w.shape[1], len(keep_out), bias=old.bias is not None)
        new.weight.data = w[keep_out].astype(old.weight.dtype)
        if old.bias is not None:
            new.bias.data = old.bias.data[keep_out].astype(old.bias.dtype)
        layers[i], keep_in = new, keep_out
    return Sequential(*layers)
    ### END SOLUTION

# %% test id="test-structured-prune" points=3
net = Sequential(Linear(2, 3), ReLU(), Linear(3, 1))
net[0].weight.data = np.array([[1.0, 1.0], [0.0, 0.1], [3.0, 0.0]], np.float32)
net[2].weight.data = np.array([[1.0, 2.0, 3.0]], np.float32)
small = structured_prune(net, 0.34)
got = (small[0].weight.data.tolist(), small[0].bias.data.tolist(), small[2].weight.data.tolist())
exp = ([[1.0, 1.0], [3.0, 0.0]], [net[0].bias.data[0], net[0].bias.data[2]], [[1.0, 3.0]])
assert np.allclose(got[0], exp[0]) and np.allclose(got[1], exp[1]) and got[2] == exp[2], f"neuron 1 (norm 0.1) dropped: expected {exp}, got {got}"
assert (small[0].out_features, small[2].in_features, len(small)) == (2, 2, 3), f"Linear(2, 2), ReLU, Linear(2, 1), got {small}"
### BEGIN HIDDEN TESTS
assert net[0].weight.shape == (3, 2) and isinstance(small[1], ReLU), "the original keeps its shape; activations are carried over"
rng = np.random.default_rng(2)
deep = Sequential(Linear(4, 6), ReLU(), Linear(6, 5), ReLU(), Linear(5, 3))
for i, dead in [(0, [1, 4]), (2, [0, 3])]:        # neurons with zero rows and zero biases
    deep[i].weight.data[dead] = 0
    deep[i].bias.data[dead] = 0
x = rng.standard_normal((7, 4)).astype(np.float32)
pruned = structured_prune(deep, 0.4)            # round(2.4) = 2 of 6, round(2.0) = 2 of 5
got = [pruned[i].weight.shape for i in (0, 2, 4)]
assert got == [(4, 4), (3, 4), (3, 3)], f"expected weights (4, 4), (3, 4), (3, 3), got {got}"
assert np.allclose(pruned(Tensor(x)).data, deep(Tensor(x)).data, atol=1e-6), "dropping dead neurons must not change the output"
assert np.array_equal(pruned[2].weight.data, deep[2].weight.data[[1, 2, 4]][:, [0, 2, 3, 5]]), "rows of kept neurons, columns of the previous layer's kept neurons"
one = structured_prune(Sequential(Linear(3, 2, bias=False), ReLU(), Linear(2, 2)), 1.0)
assert one[0].weight.shape == (1, 3) and one[0].bias is None and one[2].weight.shape == (2, 1), "amount 1.0 keeps one neuron; bias=False stays"
assert structured_prune(deep, 0.0)[2].weight.shape == (5, 6) and pruned[0].weight.dtype == np.float32, "amount 0 keeps every neuron; float32 kept"
### END HIDDEN TESTS

# %% [markdown]
# ## Low rank
# The SVD $W = U \Sigma V^\top$ sorts $W$ into rank-one layers $\sigma_i u_i v_i^\top$ of decreasing weight;
# the first $r$ give the closest rank-$r$ matrix (Frobenius error $\sqrt{\sum_{i>r}\sigma_i^2}$). As two Linears:
# $x \mapsto r$ numbers with weight $\sqrt{\Sigma_r}V_r^\top$ $(r, n)$, no bias; back with $U_r\sqrt{\Sigma_r}$
# $(m, r)$ and the original bias. Splitting $\Sigma$ evenly keeps both factors of one scale.

# %% solution id="low-rank"
#| export
def low_rank(linear, rank):
    """Sequential(Linear(in, rank, bias=False), Linear(rank, out)) whose product is the best rank-`rank`
    approximation of linear.weight (truncated SVD, computed in float64, weights cast back to the
    weight's dtype); the second Linear gets a copy of the bias (bias=False when there is none).
    ValueError naming the rank unless 1 <= rank <= min(out, in). linear is not modified.
    EXAMPLE: low_rank(Linear(8, 5), 5) reproduces the layer (to 1e-5); low_rank(Linear(8, 5), 2)
             has 2 * (8 + 5) = 26 weights instead of 40.
    HINT: `np.linalg.svd(W, full_matrices=False)` returns U, the singular values, and V^T.
    """
    ### BEGIN SOLUTION
    W = linear.weight.data.astype(np.float64)
    if not 1 <= rank <= min(W.shape):
        raise ValueError(f"rank must be between 1 and {min(W.shape)}, got {rank}")
    U, S, Vt = np.linalg.svd(W, full_matrices=False)
    root = np.sqrt(S[:rank])
    first = Linear(W.shape[1], rank, bias=False)
    second = Linear(rank, W.shape[0], bias=linear.bias is not None)
    first.weight.data = (root[:, None] * Vt[:rank]).astype(linear.weight.dtype)
    second.weight.data = (U[:, :rank] * root).astype(linear.weight.dtype)
    if linear.bias is not None:
        second.bias.data = linear.bias.data.copy()
    return Sequential(first, second)
    ### END SOLUTION

# %% test id="test-low-rank" points=3
lin = Linear(8, 5)
x = np.random.default_rng(3).standard_normal((4, 8)).astype(np.float32)
full = low_rank(lin, 5)
assert full[0].weight.shape == (5, 8) and full[1].weight.shape == (5, 5) and full[0].bias is None, f"expected weights (5, 8) without bias, then (5, 5), got {full[0].weight.shape}, {full[1].weight.shape}"
assert np.allclose(full(Tensor(x)).data, lin(Tensor(x)).data, atol=1e-5), "full rank reproduces the layer"
### BEGIN HIDDEN TESTS
W = lin.weight.data.astype(np.float64)
S = np.linalg.svd(W, compute_uv=False)
two = low_rank(lin, 2)
prod = two[1].weight.data.astype(np.float64) @ two[0].weight.data
assert np.isclose(np.linalg.norm(prod - W), np.sqrt(np.sum(S[2:] ** 2)), rtol=1e-4), "rank 2: the Frobenius error of the truncated SVD (Eckart-Young)"
assert np.allclose(np.linalg.norm(two[0].weight.data, axis=1) ** 2, S[:2], rtol=1e-4), "the singular values split evenly: each row of the first factor has norm sqrt(sigma)"
lin.bias.data[0] += 1.0
assert not np.array_equal(two[1].bias.data, lin.bias.data) and two[1].weight.dtype == np.float32, "the bias is a copy, not the layer's own array; float32 kept"
got = (two[0].in_features, two[0].out_features, two[1].in_features, two[1].out_features)
assert got == (8, 2, 2, 5), f"Linear(8, 2) then Linear(2, 5): expected (8, 2, 2, 5), got {got}"
r1 = Linear(3, 4, bias=False)
r1.weight.data = np.outer([1.0, 2.0, 0.0, -1.0], [3.0, 0.0, 1.0]).astype(np.float32)
one = low_rank(r1, 1)
assert one[1].bias is None and np.allclose(one(Tensor(np.eye(3, dtype=np.float32))).data, r1.weight.data.T, atol=1e-5), "a rank-1 weight is exact at rank 1; no bias stays no bias"
for bad in (0, 6):
    msg = raises(lambda: low_rank(lin, bad), ValueError)
    assert str(bad) in msg, f"the error names the rank {bad}, got: {msg}"
### END HIDDEN TESTS

# %% [markdown]
# ## Distillation
# A teacher's softmax at temperature $T$, $p^T = \operatorname{softmax}(z_t / T)$, says how similar
# the wrong classes are ("this 7 looks a bit like a 1"). The student matches it and the labels:
# $$L = \alpha\, T^2\, \frac{1}{N}\sum_n \mathrm{KL}\big(p^T_n \,\|\, q^T_n\big) + (1-\alpha)\, \mathrm{CE}(z_s, y),
#   \qquad \mathrm{KL}(p\|q) = \sum_c p_c (\log p_c - \log q_c),$$
# with $q^T = \operatorname{softmax}(z_s/T)$. The soft gradients shrink like $1/T^2$; the factor $T^2$ keeps
# their weight when $T$ changes (Hinton et al.). The teacher is a constant: no gradient flows into it. Build
# $L$ from Tensor operations (`log_softmax` of module 02) so module 05 differentiates it; check that gradient
# against finite differences.

# %% solution id="distillation"
#| export
def distillation_loss(student_logits, teacher_logits, targets, temperature=4.0, alpha=0.5):
    """The 0-d Tensor L above for student logits (a Tensor (N, C)), teacher logits (Tensor or array
    (N, C), treated as constants) and integer targets (N,); the dtype of the student's logits.
    EXAMPLE: student logits equal to the teacher's -> KL = 0, L = (1 - alpha) * cross-entropy
    HINT: KL(p || q) needs log q from the student (a Tensor) and p, log p from the teacher (arrays);
    module 04's CrossEntropyLoss gives the hard-label term.
    """
    ### BEGIN SOLUTION
    T = temperature
    teacher = np.asarray(teacher_logits.data if isinstance(teacher_logits, Tensor) else teacher_logits)
    log_p = log_softmax(Tensor(teacher / T)).data.astype(student_logits.dtype)
    p = np.exp(log_p)
    log_q = log_softmax(student_logits / T, dim=-1)
    n = student_logits.shape[0]
    kl = ((p * log_p).sum() - (log_q * p).sum()) / n
    hard = CrossEntropyLoss()(student_logits, targets)
    return kl * (alpha * T * T) + hard * (1 - alpha)
    ### END SOLUTION

# %% helper
def reference_distillation(zs, zt, y, T, alpha):
    """The formula in float64 NumPy, written independently of your code."""
    def log_sm(z):
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    pt = np.exp(log_sm(zt / T))
    kl_rows = (pt * (log_sm(zt / T) - log_sm(zs / T))).sum(axis=1)
    ce = -log_sm(zs)[np.arange(len(y)), y].mean()
    return alpha * T ** 2 * kl_rows.mean() + (1 - alpha) * ce

# %% test id="test-distillation" points=4
zt = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
y = np.array([0, 2])
same = distillation_loss(Tensor(zt), zt, y)
ce = reference_distillation(zt, zt, y, 4.0, 0.0)
assert np.isclose(float(same.data), 0.5 * ce), f"student = teacher: KL 0, expected 0.5 * CE = {0.5 * ce:.6f}, got {float(same.data):.6f}"
zs = np.array([[0.0, 1.0, 0.0], [1.0, -1.0, 0.5]])
got = float(distillation_loss(Tensor(zs), zt, y, temperature=2.0, alpha=0.7).data)
exp = reference_distillation(zs, zt, y, 2.0, 0.7)
assert np.isclose(got, exp), f"T = 2, alpha = 0.7: expected {exp:.6f}, got {got:.6f}"
grad_check(lambda s: distillation_loss(s, zt, y, temperature=2.0, alpha=0.7), zs)
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(4)
zs, zt = rng.standard_normal((5, 4)) * 3, rng.standard_normal((5, 4)) * 3
y = rng.integers(0, 4, 5)
for T, a in [(1.0, 1.0), (4.0, 1.0), (3.0, 0.25), (0.5, 0.0)]:
    got, exp = float(distillation_loss(Tensor(zs), Tensor(zt), y, temperature=T, alpha=a).data), reference_distillation(zs, zt, y, T, a)
    assert np.isclose(got, exp), f"T = {T}, alpha = {a} (KL(teacher || student) * T^2, mean over samples): expected {exp:.6f}, got {got:.6f}"
grad_check(lambda s: distillation_loss(s, zt, y, temperature=4.0, alpha=0.9), zs)
tz = Tensor(zt, requires_grad=True)
out = distillation_loss(Tensor(zs, requires_grad=True), tz, y)
out.backward()
assert tz.grad is None and out.shape == () and out.dtype == np.float64, f"the teacher gets no gradient; a 0-d float64 loss: got grad {tz.grad}, shape {out.shape}"
got = float(distillation_loss(Tensor(zs.astype(np.float32)), zt, y).data)
assert np.isclose(got, reference_distillation(zs, zt, y, 4.0, 0.5), rtol=1e-5) and distillation_loss(Tensor(zs.astype(np.float32)), zt, y).dtype == np.float32, "float32 logits give a float32 loss"
### END HIDDEN TESTS

# %% [markdown]
# ## Weight sharing
# Deep Compression (Han et al., 2016) stores each weight as the index of one of $k$ shared values, a
# **codebook** found by k-means on the weights' values (1-D): start from $k$ values evenly spaced from
# the smallest to the largest weight, then alternate *assign* (nearest value) and *update* (mean of the
# assigned weights). $\log_2 k$ bits per weight instead of 32 (Huffman coding of the indices saves more).

# %% solution id="share-weights"
def share_weights(w, k, iters=10):
    """k-means codebook for the values of the float ndarray w (any shape; not modified).

    Returns (codebook, idx): codebook (k,) float64; idx int64 of w's shape, w ~ codebook[idx].
    Start from k values evenly spaced from w.min() to w.max(); then `iters` rounds of assign (each
    weight to its nearest value, a tie to the lower index) and update (each value to the mean of
    its weights; a value no weight chose stays). idx is the assignment to the final codebook.
    EXAMPLE: share_weights(np.array([0., 1., 9., 10.]), 2) -> (array([0.5, 9.5]), array([0, 0, 1, 1]))
    HINT: an (n, 1) column minus a (k,) row gives every distance at once; `np.argmin`, `np.linspace`.
    """
    ### BEGIN SOLUTION
    values = w.astype(np.float64).ravel()
    codebook = np.linspace(values.min(), values.max(), k)
    for _ in range(iters):
        idx = np.argmin(np.abs(values[:, None] - codebook), axis=1)
        for j in range(k):
            if np.any(idx == j):
                codebook[j] = values[idx == j].mean()
    idx = np.argmin(np.abs(values[:, None] - codebook), axis=1)
    return codebook, idx.reshape(w.shape).astype(np.int64)
    ### END SOLUTION

# %% test id="test-share-weights" points=3
book, idx = share_weights(np.array([0.0, 1.0, 9.0, 10.0]), 2)
got = (np.asarray(book).tolist(), np.asarray(idx).tolist())
assert got == ([0.5, 9.5], [0, 0, 1, 1]), f"start [0, 10], assign, update to the means: expected ([0.5, 9.5], [0, 0, 1, 1]), got {got}"
### BEGIN HIDDEN TESTS
for w, k, iters, exp in [(np.array([0.0, 0.1, 10.0]), 3, 10, ([0.05, 5.0, 10.0], [0, 0, 2])),   # an unused value stays
                         (np.array([0.0, 1.0, 2.0]), 2, 0, ([0.0, 2.0], [0, 0, 1])),             # no round; a tie goes low
                         (np.array([[4.0, 0.0], [1.0, 2.0]], np.float32), 2, 1, ([1.0, 4.0], [[1, 0], [0, 0]]))]:
    book, idx = (np.asarray(a) for a in share_weights(w, k, iters))
    ok = np.allclose(book, exp[0]) and idx.tolist() == exp[1] and (book.dtype, idx.dtype) == (np.float64, np.int64)
    assert ok, f"{w.tolist()}, k={k}, iters={iters}: expected {exp} (float64, int64), got ({book.tolist()}, {idx.tolist()}) ({book.dtype}, {idx.dtype})"
w = np.random.default_rng(7).standard_normal(200)
book, idx = (np.asarray(a) for a in share_weights(w, 4, 1))
ref = np.linspace(w.min(), w.max(), 4)
first = np.argmin(np.abs(w[:, None] - ref), axis=1)
ref = np.array([w[first == j].mean() if np.any(first == j) else ref[j] for j in range(4)])
assert np.allclose(book, ref) and np.array_equal(idx, np.argmin(np.abs(w[:, None] - ref), axis=1)), f"one round from the linear start: expected {ref}, got {book}"
### END HIDDEN TESTS

# %% [markdown]
# ## Putting them to work
# `distill` runs one epoch of distillation: the teacher only predicts (eval mode, no graph), the student learns
# from `distillation_loss`. `iterative_prune` prunes in `steps` stages with the cubic schedule of Zhu & Gupta
# (2017), $s_t = s_f\,\big(1 - (1 - t/n)^3\big)$ for $t = 1 \dots n$ (big cuts first, gentle ones near the
# end), and lets the network recover after each stage.

# %% solution id="distill"
def distill(student, teacher, loader, optimizer, temperature=4.0, alpha=0.5):
    """One epoch over loader's (x, y) batches: the teacher's logits for x computed in eval mode under
    no_grad, then one optimizer step of the student (in training mode) on distillation_loss.
    Returns the mean of the batch losses (a float). The teacher's parameters never change.
    HINT: module 05's `no_grad()`; a loss Tensor's value is `float(loss.data)`.
    """
    ### BEGIN SOLUTION
    teacher.eval()
    student.train()
    losses = []
    for x, y in loader:
        with no_grad():
            soft = teacher(x).data
        optimizer.zero_grad()
        loss = distillation_loss(student(x), soft, y, temperature, alpha)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.data))
    return float(np.mean(losses))
    ### END SOLUTION

def iterative_prune(model, final_sparsity, steps, finetune, scope="global"):
    """Prune model in place to sparsity s_1, ..., s_steps of the cubic schedule above (s_steps is
    final_sparsity), calling `finetune` on the model after each stage; returns model.
    EXAMPLE: final 0.875, 3 steps -> 0.875 * (1 - (2/3)^3), 0.875 * (1 - (1/3)^3), 0.875
    """
    ### BEGIN SOLUTION
    for t in range(1, steps + 1):
        magnitude_prune(model, final_sparsity * (1 - (1 - t / steps) ** 3), scope=scope)
        finetune(model)
    return model
    ### END SOLUTION

# %% test id="test-distill" points=3
manual_seed(0); teacher, pupil = Linear(3, 2), Linear(3, 2)
xs = np.random.default_rng(5).standard_normal((32, 3)).astype(np.float32)
batches = [(Tensor(xs[i:i + 8]), Tensor(np.zeros(8, np.int64))) for i in range(0, 32, 8)]
t_before = teacher.weight.data.copy()
first = distill(pupil, teacher, batches, SGD(list(pupil.parameters()), lr=0.5), temperature=1.0, alpha=1.0)
for _ in range(40):
    last = distill(pupil, teacher, batches, SGD(list(pupil.parameters()), lr=0.5), temperature=1.0, alpha=1.0)
assert isinstance(first, float) and last < first / 5, f"alpha = 1: the student learns the teacher's outputs, the loss falls: expected far below {first:.4f}, got {last:.4f}"
assert np.array_equal(teacher.weight.data, t_before) and teacher.weight.grad is None, "the teacher is never trained (no gradient, no change)"
### BEGIN HIDDEN TESTS
assert not teacher.training and pupil.training, "teacher in eval mode, student in training mode"
probs = lambda z: np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)
gap = np.abs(probs(pupil(Tensor(xs)).data) - probs(teacher(Tensor(xs)).data)).max()
assert gap < 0.05, f"after 41 epochs the student's probabilities match the teacher's: largest gap {gap:.3f}"
one = [(Tensor(xs[:4]), Tensor(np.array([0, 1, 0, 1])))]
p2 = Linear(3, 2)
got = distill(p2, teacher, one, SGD(list(p2.parameters()), lr=0.0), temperature=3.0, alpha=0.25)
exp = float(distillation_loss(p2(Tensor(xs[:4])), teacher(Tensor(xs[:4])).data, np.array([0, 1, 0, 1]), 3.0, 0.25).data)
assert np.isclose(got, exp), f"temperature and alpha are passed on: expected {exp:.5f}, got {got:.5f}"
### END HIDDEN TESTS

# %% test id="test-iterative-prune" points=2
seen = []
net = Sequential(Linear(8, 8, bias=False))
iterative_prune(net, 0.875, 3, lambda m: seen.append(round(sparsity(m), 4)))
exp = [round(round(0.875 * (1 - (2 / 3) ** 3) * 64) / 64, 4), round(round(0.875 * (1 - (1 / 3) ** 3) * 64) / 64, 4), 0.875]
assert seen == exp, f"sparsity after each of the 3 stages (cubic schedule): expected {exp}, got {seen}"
### BEGIN HIDDEN TESTS
seen = []
two = Sequential(Linear(4, 4, bias=False), Linear(4, 2, bias=False))
two[0].weight.data *= 100
iterative_prune(two, 0.75, 2, lambda m: seen.append(float(np.mean(m[1].weight.data == 0))), scope="layer")
assert seen == [0.625, 0.75], f"scope='layer' is passed on: the small layer loses round(0.65625 * 8) = 5, then 6 of 8 (globally it would lose all 8): expected [0.625, 0.75], got {seen}"
### END HIDDEN TESTS

# %% [markdown]
# ## Systems note: accuracy against sparsity, measured
# A digits MLP (64 -> 128 -> 10), pruned to growing sparsity without retraining; then pruned 90% and
# fine-tuned with Adam: the masks hold while the accuracy comes back. Sizes from module 17: dense
# storage does not shrink when weights are zero; a sparse format (nonzeros + a bitmap, or CSR) does.

# %%
import matplotlib.pyplot as plt
from tinytorch_lib.data import DataLoader, TensorDataset, load_digits, random_split
from tinytorch_lib.quantization import model_size_bytes
from tinytorch_lib.training import Trainer

manual_seed(0)
X, Y = load_digits(flatten=True)
train_set, test_set = random_split(TensorDataset(X, Y), [1397, 400])
Xt, Yt = next(iter(DataLoader(test_set, batch_size=400)))
accuracy = lambda m: float(np.mean(m(Xt).data.argmax(axis=1) == Yt.data))
def fit(model, epochs):
    Trainer(model, CrossEntropyLoss(), Adam(model.parameters(), lr=3e-3)).fit(DataLoader(train_set, batch_size=64, shuffle=True), epochs, progress=False)
    return model
mlp = fit(Sequential(Linear(64, 128), ReLU(), Linear(128, 10)), 8)
levels = [0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98]
curves = {s: [accuracy(magnitude_prune(copy.deepcopy(mlp), p, scope=s)) for p in levels] for s in ("global", "layer")}
tuned = fit(magnitude_prune(copy.deepcopy(mlp), 0.9), 3)
slim = structured_prune(mlp, 0.75)
for name, m in [("dense", mlp), ("90% pruned + fine-tuned", tuned), ("75% of neurons dropped", slim), ("low rank 8", Sequential(low_rank(mlp[0], 8), ReLU(), mlp[2]))]:
    print(f"{name:24s} accuracy {accuracy(m):.3f}  sparsity {sparsity(m):.2f}  "
          f"bytes dense {model_size_bytes(m):6d}, sparse format {model_size_bytes(m, sparse=True):6d}")
values, cols, row_ptr = to_csr(tuned[0].weight.data)
print(f"first layer, 90% pruned: dense {tuned[0].weight.data.nbytes} bytes, CSR {values.nbytes + cols.nbytes + row_ptr.nbytes} bytes; "
      f"same product: {np.allclose(csr_linear(Xt.data, values, cols, row_ptr), Xt.data @ tuned[0].weight.data.T, atol=1e-4)}")
shared = copy.deepcopy(tuned)
book, idx = share_weights(tuned[0].weight.data, 16)
shared[0].weight.data = book[idx].astype(np.float32)     # its mask keeps the pruned weights at 0
print(f"first layer shared to 16 values: accuracy {accuracy(shared):.3f}, 32 -> 4 bits per weight")
plt.figure(figsize=(5, 3))
for s, accs in curves.items():
    plt.plot(levels, accs, "o-", label=f"{s} pruning, no retraining")
plt.plot([0.9], [accuracy(tuned)], "k*", ms=12, label="90% + 3 epochs fine-tuning")
plt.xlabel("sparsity"), plt.ylabel("test accuracy"), plt.legend(fontsize=8), plt.title("digits MLP"), plt.show()
