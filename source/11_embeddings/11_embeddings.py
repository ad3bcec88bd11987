# %% [markdown]
# # 11 · Embeddings
#
# A token id is a name, not a quantity. An **embedding** gives each of the $V$ ids a learned vector, row $i$ of
# $W \in \mathbb{R}^{V \times d}$ ($e_i^\top W$ without the one-hot matrix); backward: $\bar W = \sum_t e_{i_t} \bar y_t^\top$
# (an id used three times collects three gradients). Attention (module 12) sees a *set*: put position into the vectors.

# %%
#| default_exp embeddings
#| export
import numpy as np

from tinytorch_lib.autograd import VJP
from tinytorch_lib.layers import Module
from tinytorch_lib.tensor import Tensor, _make, as_tensor, get_generator

# %% [markdown]
# ## The lookup op and its backward
# Op `"embedding"`, one parent (`weight`), ctx `idx`. As in PyTorch, an id outside $0 \le i < V$
# (negative included) is an error, and a float index a type error (rounding `2.7` hides a bug).

# %% solution id="embedding-op"
#| export
def embedding(weight, idx):
    """Rows of `weight` (a (V, d) Tensor) picked by the integer ids `idx`, recorded as op "embedding".

    `idx`: a Tensor, ndarray or (nested) list of ints, any shape S. Returns a Tensor of shape
    S + (d,) and weight's dtype; ctx `idx` is the ids as an integer ndarray. Raises TypeError for
    a non-integer idx, IndexError naming the bad id and V for an id outside 0..V-1.
    EXAMPLE: embedding(Tensor([[0., 1.], [2., 3.], [4., 5.]]), [2, 0, 2]).data -> [[4, 5], [0, 1], [4, 5]]
    HINT: integer-array indexing of an ndarray gathers rows; `np.issubdtype(a.dtype, np.integer)`.
    """
    ### BEGIN SOLUTION
    ids = idx.data if isinstance(idx, Tensor) else np.asarray(idx)
    if ids.size == 0:
        ids = ids.astype(np.int64)
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"embedding indices must be integers, got dtype {ids.dtype}")
    V = weight.shape[0]
    bad = ids[(ids < 0) | (ids >= V)]
    if bad.size:
        raise IndexError(f"index {bad.flat[0]} is out of range for an embedding of {V} rows")
    return _make(weight.data[ids], (weight,), "embedding", idx=ids)
    ### END SOLUTION


def _embedding_vjp(grad, out, weight, idx):
    """The weight's gradient, a 1-tuple: zeros of weight's (V, d) shape and dtype, with every row of
    `grad` (shape idx.shape + (d,)) added to row idx of it; repeated ids add up; no ids: all zeros.
    Without np.add.at (it scatters one element at a time): bring equal ids together, then sum each run
    of equal ids in one call, and write each sum into its row once.
    EXAMPLE: grad [[1., 2.], [3., 4.], [5., 6.]], idx [2, 0, 2], V = 3 -> ([[3., 4.], [0., 0.], [6., 8.]],)
    HINT: a stable np.argsort groups equal ids; a run starts where the sorted id changes
    (np.flatnonzero); np.add.reduceat sums the rows from each start to the next.
    """
    ### BEGIN SOLUTION
    g = np.zeros(weight.shape, dtype=weight.dtype)
    ids = np.asarray(idx).reshape(-1)
    if ids.size == 0:
        return (g,)
    rows = np.asarray(grad).reshape(ids.size, -1)
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    g[ids[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return (g,)
    ### END SOLUTION


VJP["embedding"] = _embedding_vjp

# %% helper
def raises(fn, exc):
    """Call fn(); return the message of the `exc` it must raise (AssertionError if it does not)."""
    try:
        fn()
    except exc as e:
        return str(e)
    raise AssertionError(f"expected {exc.__name__} to be raised, got no error")

def grad_check(fn, a):
    """fn(float64 leaf Tensor) -> Tensor: its backward against central differences."""
    leaf = Tensor(np.array(a, dtype=np.float64), requires_grad=True)
    R = np.random.default_rng(0).standard_normal(fn(leaf).shape)
    (fn(leaf) * Tensor(R)).sum().backward()
    num = np.zeros_like(leaf.data)
    for i in np.ndindex(leaf.shape):
        old, leaf.data[i] = leaf.data[i], leaf.data[i] + 1e-6
        plus = np.sum(R * fn(leaf).data)
        leaf.data[i] = old - 1e-6
        num[i], leaf.data[i] = (plus - np.sum(R * fn(leaf).data)) / 2e-6, old
    got = None if leaf.grad is None else leaf.grad.data
    assert got is not None and np.allclose(got, num, rtol=1e-5, atol=1e-7), f"expected (finite differences)\n{num}\ngot\n{got}"

# %% test id="test-embedding-op" points=3
W = Tensor(np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]), requires_grad=True)
out = embedding(W, [2, 0, 2])
assert np.array_equal(out.data, [[4, 5], [0, 1], [4, 5]]), f"expected rows 2, 0, 2 of W, got {out.data.tolist()}"
out.sum().backward()
assert np.array_equal(W.grad.data, [[1, 1], [0, 0], [2, 2]]), f"id 2 was used twice: expected [[1, 1], [0, 0], [2, 2]], got {W.grad.data.tolist()}"
grad_check(lambda w: embedding(w, np.array([[1, 3, 1], [0, 1, 1]])), np.random.default_rng(1).standard_normal((4, 3)))
### BEGIN HIDDEN TESTS
e2 = embedding(W, Tensor(np.array([[1, 1], [0, 2]])))
assert e2.shape == (2, 2, 2) and np.array_equal(e2.data[1, 1], [4, 5]), f"a (2, 2) Tensor of ids gives (2, 2, 2), got {e2.shape}"
assert e2._op == "embedding" and e2._parents[0] is W and e2._ctx["idx"].dtype.kind == "i", "record op 'embedding' with ctx idx"
assert embedding(W, np.array([], dtype=np.int64)).shape == (0, 2) and embedding(W, []).shape == (0, 2), "no ids, no rows"
assert embedding(Tensor(np.ones((3, 2), np.float32)), [1]).dtype == np.float32, "keep weight's dtype"
(g,) = _embedding_vjp(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), None, W, np.array([2, 0, 2]))
assert np.array_equal(g, [[3, 4], [0, 0], [6, 8]]) and g.dtype == np.float64, f"expected [[3, 4], [0, 0], [6, 8]], got {g.tolist()}"
(g,) = _embedding_vjp(np.ones((1, 2, 2), np.float32), None, Tensor(np.ones((3, 2), np.float32)), np.array([[1, 1]]))
assert g.dtype == np.float32 and np.array_equal(g, [[0, 0], [2, 2], [0, 0]]), f"2-D ids, got {g.tolist()}"
ids, rows = np.random.default_rng(3).integers(0, 5, size=(4, 6)), np.random.default_rng(4).standard_normal((4, 6, 3))
exp = np.zeros((5, 3))
for i, r in zip(ids.reshape(-1), rows.reshape(-1, 3)): exp[i] += r
(g,) = _embedding_vjp(rows, None, Tensor(np.ones((5, 3))), ids)
assert g.shape == (5, 3) and np.allclose(g, exp), f"24 ids, repeats, unsorted: expected\n{exp}\ngot\n{g}"
(g,) = _embedding_vjp(np.zeros((0, 3)), None, Tensor(np.ones((5, 3))), np.array([], dtype=np.int64))
assert np.array_equal(g, np.zeros((5, 3))), f"no ids: expected zeros (5, 3), got {g}"
for bad in (3, -1):
    msg = raises(lambda: embedding(W, [0, bad]), IndexError)
    assert str(bad) in msg and "3" in msg, f"the error names the id and the size: {msg}"
raises(lambda: embedding(W, np.array([0.0, 1.0])), TypeError)
### END HIDDEN TESTS

# %% [markdown]
# ## The layer
# `Embedding(num_embeddings, embedding_dim)` holds `weight` $(V, d)$, float32, initialised from
# $\mathcal{N}(0, 1)$ as PyTorch does (drawn with `get_generator().standard_normal`).

# %% solution id="embedding-layer"
#| export
class Embedding(Module):
    """EXAMPLE: Embedding(10, 4)(np.array([[1, 2, 3]])).shape -> (1, 3, 4)"""

    def __init__(self, num_embeddings, embedding_dim):
        ### BEGIN SOLUTION
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        w = get_generator().standard_normal((num_embeddings, embedding_dim))
        self.weight = Tensor(w.astype(np.float32), requires_grad=True)
        ### END SOLUTION

    def forward(self, idx):
        ### BEGIN SOLUTION
        return embedding(self.weight, idx)
        ### END SOLUTION

    def extra_repr(self):
        ### BEGIN SOLUTION
        return f"{self.num_embeddings}, {self.embedding_dim}"
        ### END SOLUTION

# %%
import time
from tinytorch_lib.tensor import manual_seed
from tinytorch_lib.losses import CrossEntropyLoss
from tinytorch_lib.optim import Adam

# %% test id="test-embedding-layer" points=1
manual_seed(0)
emb = Embedding(10, 4)
assert emb.weight.shape == (10, 4) and emb.weight.dtype == np.float32, f"expected a float32 (10, 4) weight, got {emb.weight.shape} {emb.weight.dtype}"
assert emb(np.array([[1, 2, 3]])).shape == (1, 3, 4), f"expected (1, 3, 4), got {emb(np.array([[1, 2, 3]])).shape}"
assert emb.extra_repr() == "10, 4", f"expected extra_repr '10, 4', got {emb.extra_repr()!r}"
### BEGIN HIDDEN TESTS
manual_seed(0)
assert np.allclose(emb.weight.data, get_generator().standard_normal((10, 4))), "N(0, 1) from get_generator()"
assert len(list(emb.parameters())) == 1 and emb.weight.requires_grad, "one parameter, the weight"
assert np.array_equal(emb([3, 3]).data[1], emb.weight.data[3]), "row 3"
### END HIDDEN TESTS

# %% [markdown]
# ## The simplest language model is an embedding
# A **bigram** model predicts the next token from the current one: `Embedding(V, V)`, row $i$ the logits of the
# token after $i$. Its best weights need no training: with add-$\alpha$ smoothed counts $c_{ij} = \alpha + \#\{t : x_t = i, x_{t+1} = j\}$,
# the maximum-likelihood rows are $\log(c_{ij} / \sum_j c_{ij})$; their validation loss is the GPT milestone's baseline (beat by 20%).

# %% solution id="bigram-nll"
#| export
def bigram_nll(train_ids, val_ids, vocab_size, alpha=1.0):
    """Mean negative log-likelihood (nats, a float) of the transitions of `val_ids` under the
    add-alpha smoothed bigram model counted on `train_ids` (1-D int sequences, ids < vocab_size).

    EXAMPLE: bigram_nll([0, 1, 0, 1], [0, 1], 2, alpha=1.0) -> -log(3/4) = 0.2877
             (counts after 0: {0: 1 + 0, 1: 1 + 2}, so P(1 | 0) = 3/4)
    HINT: `np.add.at` counts repeated (i, j) pairs; normalise each row with keepdims.
    """
    ### BEGIN SOLUTION
    train, val = np.asarray(train_ids), np.asarray(val_ids)
    counts = np.full((vocab_size, vocab_size), float(alpha))
    np.add.at(counts, (train[:-1], train[1:]), 1.0)
    logp = np.log(counts / counts.sum(axis=1, keepdims=True))
    return float(-logp[val[:-1], val[1:]].mean())
    ### END SOLUTION

# %% test id="test-bigram-nll" points=2
got = bigram_nll([0, 1, 0, 1], [0, 1], 2, alpha=1.0)
assert np.isclose(got, -np.log(0.75)), f"expected -log(3/4) = {-np.log(0.75):.4f}, got {got}"
### BEGIN HIDDEN TESTS
got = bigram_nll(np.array([0, 1, 2, 0, 1, 1]), np.array([1, 1, 0, 2]), 3, alpha=0.5)
exp = -(np.log(1.5 / 3.5) + np.log(0.5 / 3.5) + np.log(0.5 / 3.5)) / 3
assert np.isclose(got, exp) and isinstance(got, float), f"expected {exp:.5f}, got {got}"
got = bigram_nll([2, 2, 2], [2, 2, 0], 3, alpha=2.0)
assert np.isclose(got, -(np.log(4 / 8) + np.log(2 / 8)) / 2), f"got {got}"
### END HIDDEN TESTS

# %% [markdown]
# Gradient descent finds the same model: trained with cross-entropy on every (token, next token)
# pair, an `Embedding(V, V)` reaches the unsmoothed bigram loss; its rows become log-frequencies.

# %% solution id="train-bigram"
def train_bigram(ids, vocab_size, steps, lr=0.1):
    """Train a bigram model Embedding(vocab_size, vocab_size) on the 1-D int sequence `ids`.

    Every step uses all pairs (ids[t], ids[t + 1]) as one batch: the rows of the current tokens are
    the logits, CrossEntropyLoss against the next tokens, then one Adam(lr) step on fresh gradients.
    Returns (model, losses): the Embedding and `steps` floats, each the loss before that step's update.
    EXAMPLE: train_bigram([0, 1, 0, 1, 0], 2, 200)[1][-1] -> about 0.01 (1 always follows 0 and 0 follows 1)
    """
    ### BEGIN SOLUTION
    ids = np.asarray(ids)
    model = Embedding(vocab_size, vocab_size)
    optimizer = Adam(model.parameters(), lr=lr)
    loss_fn = CrossEntropyLoss()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(ids[:-1]), ids[1:])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model, losses
    ### END SOLUTION

# %% test id="test-train-bigram" points=2
chain = np.random.default_rng(4).integers(0, 4, size=200)
model, losses = train_bigram(chain, 4, 150, lr=0.1)
best = bigram_nll(chain, chain, 4, alpha=1e-9)
assert len(losses) == 150 and losses[-1] < losses[0], f"expected 150 falling losses, got {len(losses)}: {losses[0]:.3f} -> {losses[-1]:.3f}"
assert abs(losses[-1] - best) < 0.01, f"expected the final loss near the best bigram loss {best:.4f}, got {losses[-1]:.4f}"
### BEGIN HIDDEN TESTS
for seed, ids, used in [(3, [2, 0, 2, 1, 2], [0.5, 0.5, 0.5]), (5, [1, 1, 1], [0.0, 0.5, 0.0])]:
    manual_seed(seed)
    model, losses = train_bigram(ids, 3, 1, lr=0.5)
    manual_seed(seed)
    w0 = np.asarray(get_generator().standard_normal((3, 3)), dtype=np.float32)
    logits, nxt = w0[ids[:-1]], np.array(ids[1:])
    ce = float(np.mean(np.log(np.exp(logits).sum(1)) - logits[np.arange(len(nxt)), nxt]))
    assert len(losses) == 1 and np.isclose(losses[0], ce, rtol=1e-5), f"the first loss is the cross-entropy of the initial weights: expected [{ce:.5f}], got {losses}"
    moved = np.abs(model.weight.data - w0)
    assert np.allclose(moved, np.array(used)[:, None], atol=1e-4), f"one Adam step of lr 0.5 moves each entry of a used row by 0.5, of an unused row by 0: expected per row {used}, got {np.round(moved, 4).tolist()}"
### END HIDDEN TESTS

# %% [markdown]
# ## Sinusoidal positions
# Vaswani et al. (2017) add to position $p$ sines and cosines at geometric frequencies: $PE_{p,2i} = \sin(p\,\omega_i)$,
# $PE_{p,2i+1} = \cos(p\,\omega_i)$, $\omega_i = 10000^{-2i/d}$ (odd $d$: the last dimension is a sine alone); fast
# columns tell neighbours apart, slow ones far positions. Why sines: $PE_{p+k} = PE_p\, R_k$ for a block-diagonal
# rotation $R_k$ (one $2 \times 2$ block per frequency) independent of $p$: "$k$ tokens back" is a *linear* map.
# `PositionalEncoding` keeps the table `pe` (not a parameter) and adds its first $T$ rows.

# %% solution id="positional-encoding"
#| export
def sinusoidal_table(max_len, d_model):
    """The (max_len, d_model) float32 ndarray PE of the formula above (positions 0..max_len-1).

    EXAMPLE: sinusoidal_table(2, 4) -> [[0, 1, 0, 1], [sin 1, cos 1, sin 0.01, cos 0.01]]
             sinusoidal_table(1, 3) -> [[0, 1, 0]]
    HINT: an outer product of positions and frequencies gives every angle at once; slices with a
    step of 2 address the even and the odd columns.
    """
    ### BEGIN SOLUTION
    pos = np.arange(max_len, dtype=np.float64)[:, None]
    freq = 10000.0 ** (-np.arange(0, d_model, 2, dtype=np.float64) / d_model)
    angles = pos * freq[None, :]
    pe = np.zeros((max_len, d_model), dtype=np.float64)
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, : d_model // 2])
    return pe.astype(np.float32)
    ### END SOLUTION


class PositionalEncoding(Module):
    def __init__(self, max_len, d_model):
        ### BEGIN SOLUTION
        super().__init__()
        self.max_len, self.d_model = max_len, d_model
        self.pe = sinusoidal_table(max_len, d_model)
        ### END SOLUTION

    def forward(self, x):
        """x (B, T, d_model) Tensor -> x + PE[:T] (broadcast over the batch); ValueError naming max_len if T > max_len."""
        ### BEGIN SOLUTION
        T = x.shape[1]
        if T > self.max_len:
            raise ValueError(f"sequence length {T} is longer than max_len={self.max_len}")
        return x + Tensor(self.pe[:T])
        ### END SOLUTION

def shift_rotation(k, d_model):
    """R_k: the (d_model, d_model) float64 ndarray with sinusoidal_table rows PE[p + k] == PE[p] @ R_k.

    d_model must be even (ValueError otherwise). Block-diagonal: the 2x2 block on dimensions
    (2i, 2i+1) rotates the pair (sin p w_i, cos p w_i) by the angle k w_i; zeros off the blocks.
    EXAMPLE: shift_rotation(0, 4) -> the 4x4 identity;
             shift_rotation(1, 2) -> [[cos 1, -sin 1], [sin 1, cos 1]]
    HINT: write sin((p + k) w) and cos((p + k) w) with the angle-addition formulas and read off
    which coefficient multiplies sin(p w) and which cos(p w), in row-vector convention.
    """
    ### BEGIN SOLUTION
    if d_model % 2:
        raise ValueError(f"shift_rotation needs an even d_model, got {d_model}")
    R = np.zeros((d_model, d_model))
    for i in range(d_model // 2):
        angle = k * 10000.0 ** (-2 * i / d_model)
        c, s = np.cos(angle), np.sin(angle)
        R[2 * i, 2 * i], R[2 * i, 2 * i + 1] = c, -s
        R[2 * i + 1, 2 * i], R[2 * i + 1, 2 * i + 1] = s, c
    return R
    ### END SOLUTION

# %% test id="test-positional-encoding" points=2
got = sinusoidal_table(2, 4)
exp = [[0, 1, 0, 1], [np.sin(1), np.cos(1), np.sin(0.01), np.cos(0.01)]]
assert got.shape == (2, 4) and np.allclose(got, exp), f"expected {np.round(exp, 4).tolist()}, got {np.round(got, 4).tolist()}"
x = Tensor(np.zeros((2, 3, 4)), requires_grad=True)
y = PositionalEncoding(5, 4)(x)
assert y.shape == (2, 3, 4) and np.allclose(y.data[1], sinusoidal_table(5, 4)[:3]), f"x + PE[:3] for both sequences, got {y.data[1]}"
### BEGIN HIDDEN TESTS
w = 10000.0 ** (-np.array([0, 2, 4]) / 5)
for got, exp in [(sinusoidal_table(3, 5)[2], np.stack([np.sin(2 * w), np.cos(2 * w)], 1).ravel()[:5]),
                 (sinusoidal_table(50, 8)[[37, 49], [6, 3]], [np.sin(37 * 1e-3), np.cos(49 * 0.1)])]:
    assert got.dtype == np.float32 and np.allclose(got, exp), f"expected (float32) {np.round(exp, 5).tolist()}, got {got.dtype} {np.round(got, 5).tolist()}"
assert y.dtype == np.float64 and y.requires_grad, "adding float32 PE to float64 x stays float64 and keeps the graph"
y.sum().backward()
assert np.array_equal(x.grad.data, np.ones((2, 3, 4))), "the gradient passes through unchanged"
full = PositionalEncoding(3, 4)(Tensor(np.ones((1, 3, 4))))
assert np.allclose(full.data[0], 1 + sinusoidal_table(3, 4)), "T == max_len is allowed"
msg = raises(lambda: PositionalEncoding(3, 4)(Tensor(np.zeros((1, 4, 4)))), ValueError)
assert "max_len" in msg and "3" in msg, f"name max_len and its value: {msg}"
### END HIDDEN TESTS

# %% test id="test-shift-rotation" points=2
R1 = shift_rotation(1, 2)
assert np.allclose(R1, [[np.cos(1), -np.sin(1)], [np.sin(1), np.cos(1)]]), f"expected [[cos 1, -sin 1], [sin 1, cos 1]], got {R1}"
table = sinusoidal_table(40, 8).astype(np.float64)
assert np.allclose(table[5] @ shift_rotation(7, 8), table[12], atol=1e-5), "PE[5] @ R_7 should be PE[12]"
### BEGIN HIDDEN TESTS
assert np.allclose(table[:30] @ shift_rotation(10, 8), table[10:40], atol=1e-5), "PE[p] @ R_10 == PE[p + 10] for every p"
assert np.allclose(table[20:] @ shift_rotation(-20, 8), table[:20], atol=1e-5), "a negative k shifts back"
assert np.allclose(shift_rotation(0, 6), np.eye(6)), "R_0 is the identity"
R = shift_rotation(3, 6)
assert R.shape == (6, 6) and R.dtype == np.float64 and np.allclose(R[0, 2:], 0) and np.allclose(R[2:4, :2], 0), "block diagonal"
raises(lambda: shift_rotation(1, 5), ValueError)
### END HIDDEN TESTS

# %% [markdown]
# ## Rotary positions
# Instead of adding $PE_p$, **RoPE** (Su et al., 2021; used by LLaMA) *rotates* each pair of dimensions
# $(2i, 2i+1)$ of a query or key at position $p$ by the angle $p\,\omega_i$. Rotations by $a$ and $b$
# meet in a dot product as one rotation by $a - b$, so $\langle \mathrm{rope}(q, p), \mathrm{rope}(k, p')\rangle$
# depends on $p - p'$ only: attention scores see *relative* positions, and no vector grows.

# %% solution id="rope"
def rope(x, positions):
    """Rotary position embedding: a new float64 ndarray of x's shape; x is not modified.

    x: float ndarray (..., T, d), d even (ValueError naming d otherwise); positions: T ints, one per
    row t. The pair (x[..., t, 2i], x[..., t, 2i+1]) is rotated counter-clockwise by the angle
    positions[t] * w_i, with w_i = 10000^(-2i/d) as in sinusoidal_table.
    EXAMPLE: rope(np.array([[1., 0.], [1., 0.]]), [0, 1]) -> [[1, 0], [cos 1, sin 1]]
    HINT: a 2-D rotation by a maps (u, v) to (u cos a - v sin a, u sin a + v cos a); slices with a
    step of 2 give all first and all second members of the pairs at once.
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    d = x.shape[-1]
    if d % 2:
        raise ValueError(f"rope needs an even d, got d={d}")
    freq = 10000.0 ** (-np.arange(0, d, 2) / d)
    angles = np.asarray(positions, dtype=np.float64)[:, None] * freq[None, :]
    cos, sin = np.cos(angles), np.sin(angles)
    u, v = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = u * cos - v * sin
    out[..., 1::2] = u * sin + v * cos
    return out
    ### END SOLUTION

# %% test id="test-rope" points=2
got = rope(np.array([[1.0, 0.0], [1.0, 0.0]]), [0, 1])
assert np.allclose(got, [[1, 0], [np.cos(1), np.sin(1)]]), f"expected [[1, 0], [0.5403, 0.8415]], got {np.round(got, 4).tolist()}"
q, k = np.random.default_rng(7).standard_normal((2, 1, 16))
dots = [float((rope(q, [p + 3]) @ rope(k, [p]).T)[0, 0]) for p in (0, 5, 40)]
assert np.allclose(dots, dots[0]), f"q at p + 3, k at p: expected the same score for every p, got {dots}"
### BEGIN HIDDEN TESTS
x = np.random.default_rng(8).standard_normal((2, 5, 6))
keep, pos = x.copy(), np.array([0, 2, 4, 9, 1])
a = pos[:, None] * 10000.0 ** (-np.arange(0, 6, 2) / 6)
u, v = x[..., 0::2], x[..., 1::2]
exp = np.stack([u * np.cos(a) - v * np.sin(a), u * np.sin(a) + v * np.cos(a)], axis=-1).reshape(x.shape)
got = rope(x, pos)
assert got.shape == x.shape and got.dtype == np.float64 and np.allclose(got, exp), f"batched (2, 5, 6): expected\n{exp}\ngot\n{got}"
assert np.array_equal(x, keep), f"rope must not modify x: expected it unchanged, got a largest change of {np.abs(x - keep).max()}"
got = rope(x.astype(np.float32), list(pos))
assert got.dtype == np.float64 and np.allclose(got, exp, atol=1e-5), f"float32 x: expected float64\n{exp}\ngot {got.dtype}\n{got}"
raises(lambda: rope(np.ones((2, 3)), [0, 1]), ValueError)
### END HIDDEN TESTS

# %% [markdown]
# ## What a lookup saves, and what the positions look like
# **Systems note.** A lookup of $N$ ids copies $N d$ numbers; the one-hot product computes the same
# rows with an $(N, V)$ matrix: $NV$ floats and $2NVd$ FLOPs, nearly all multiplications by zero.
# The backward wastes too: a batch touches at most $N$ of the $V$ rows, yet `_embedding_vjp` returns all
# $V d$ numbers; a **sparse** gradient (PyTorch's `sparse=True`) keeps only the touched rows' sums.

# %% solution id="lookup-cost"
def lookup_cost(weight, ids):
    """Time the same rows two ways; returns (lookup_seconds, onehot_seconds, onehot_rows).

    weight: (V, d) Tensor; ids: 1-D int ndarray of N ids. The lookup is the `embedding` op; the
    one-hot way multiplies an (N, V) matrix of weight's dtype (row t: a single 1, in column ids[t])
    by weight.data, and its time includes building that matrix. Times come from time.perf_counter.
    EXAMPLE: lookup_cost(Tensor([[0., 1.], [2., 3.], [4., 5.]]), np.array([2, 0]))[2] -> [[4, 5], [0, 1]]
    """
    ### BEGIN SOLUTION
    start = time.perf_counter()
    embedding(weight, ids)
    lookup_seconds = time.perf_counter() - start
    start = time.perf_counter()
    onehot = np.zeros((len(ids), weight.shape[0]), dtype=weight.dtype)
    onehot[np.arange(len(ids)), ids] = 1
    rows = onehot @ weight.data
    return lookup_seconds, time.perf_counter() - start, rows
    ### END SOLUTION

def sparse_grad(grad, idx):
    """The weight gradient of `embedding` in sparse form: (rows, values).

    grad: float ndarray (..., d), the gradient of the lookup's output; idx: ints of shape grad.shape[:-1].
    rows: the distinct ids, ascending (int64 (U,)); values: (U, d) in grad's dtype, row u the sum of the
    rows of grad whose id is rows[u]. Scattered into zeros (V, d), it is `_embedding_vjp`'s gradient.
    EXAMPLE: sparse_grad(np.array([[1., 2.], [3., 4.], [5., 6.]]), np.array([2, 0, 2])) -> ([0, 2], [[3, 4], [6, 8]])
    HINT: `np.unique` can also say, for every element, the position of its value among the distinct ones.
    """
    ### BEGIN SOLUTION
    grad = np.asarray(grad)
    d = grad.shape[-1]
    rows, where = np.unique(np.asarray(idx).reshape(-1), return_inverse=True)
    values = np.zeros((len(rows), d), dtype=grad.dtype)
    np.add.at(values, where.reshape(-1), grad.reshape(-1, d))
    return rows.astype(np.int64), values
    ### END SOLUTION

# %% test id="test-lookup-cost" points=1
W = Tensor(np.arange(12, dtype=np.float32).reshape(4, 3))
t_lookup, t_onehot, rows = lookup_cost(W, np.array([3, 0, 3, 1]))
exp = W.data[[3, 0, 3, 1]]
assert np.array_equal(rows, exp) and rows.dtype == np.float32, f"expected {exp.tolist()} (float32), got {np.asarray(rows).tolist()}"
assert 0 < t_lookup < 1 and 0 < t_onehot < 1, f"expected two small positive times, got {t_lookup}, {t_onehot}"

# %% test id="test-sparse-grad" points=2
rows, values = sparse_grad(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array([2, 0, 2]))
assert np.array_equal(rows, [0, 2]) and np.array_equal(values, [[3, 4], [6, 8]]), f"expected [0, 2] and [[3, 4], [6, 8]], got {np.asarray(rows).tolist()} and {np.asarray(values).tolist()}"
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(9)
for V, shape in [(6, (3, 4)), (4, (1, 5)), (9, (0,))]:
    idx, g = rng.integers(0, V, size=shape), rng.standard_normal(shape + (3,)).astype(np.float32)
    rows, values = sparse_grad(g, idx)
    dense = np.zeros((V, 3), np.float32)
    dense[np.asarray(rows)] = values
    (exp,) = _embedding_vjp(g, None, Tensor(np.zeros((V, 3), np.float32)), idx)
    assert np.array_equal(np.asarray(rows), np.unique(idx)) and np.asarray(rows).dtype == np.int64, f"ids {idx.tolist()}: expected rows {np.unique(idx).tolist()} (int64), got {np.asarray(rows).tolist()}"
    assert np.asarray(values).dtype == np.float32 and np.allclose(dense, exp), f"ids {idx.tolist()}: scattered back, expected\n{exp}\ngot\n{dense}"
### END HIDDEN TESTS

# %%
import matplotlib.pyplot as plt
pe = sinusoidal_table(128, 64)
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
axes[0].imshow(pe, aspect="auto", cmap="RdBu"); axes[0].set(xlabel="dimension", ylabel="position", title="sinusoidal positional encoding")
axes[1].plot(pe @ pe[64]); axes[1].set(xlabel="position p", ylabel="PE[p] . PE[64]", title="similarity to position 64")
chain = np.random.default_rng(0).choice(6, size=2000, p=[0.3, 0.25, 0.2, 0.1, 0.1, 0.05])
axes[2].plot(train_bigram(chain, 6, 300)[1], label="Embedding(6, 6) + Adam")
axes[2].axhline(bigram_nll(chain, chain, 6, alpha=1e-9), color="k", ls="--", label="counted bigram")
axes[2].set(xlabel="step", ylabel="cross-entropy (nats)", title="training finds the counts"); axes[2].legend(); plt.show()
V, d, N = 5000, 128, 4096; table, ids = Embedding(V, d), np.random.default_rng(0).integers(0, V, size=N)
t_lookup, t_onehot, rows = lookup_cost(table.weight, ids)
print(f"{N} ids, V={V}, d={d}: lookup {t_lookup * 1e3:.2f} ms, one-hot matmul {t_onehot * 1e3:.1f} ms "
      f"({N * V * 4 / 2**20:.0f} MiB one-hot, {2 * N * V * d / 1e9:.1f} GFLOP), same rows: {np.allclose(rows, table.weight.data[ids])}")
rows, values = sparse_grad(np.ones((N // 64, d), np.float32), ids[:N // 64])
print(f"gradient of a batch of {N // 64} ids: dense {V * d * 4 / 1024:.0f} KiB, sparse {(rows.nbytes + values.nbytes) / 1024:.0f} KiB")
