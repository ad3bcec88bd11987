# %% [markdown]
# # 12 · Attention
#
# Every token asks a **query** $q$ and offers a **key** $k$ and a **value** $v$; its output is the
# average of all values, weighted by how well its query matches each key (Vaswani et al., 2017):
#
# $$\text{Attention}(Q, K, V) = \text{softmax}\!\left(\frac{Q K^\top}{\sqrt{E}} + M\right) V,
#   \qquad Q \in \mathbb{R}^{L \times E},\; K \in \mathbb{R}^{S \times E},\; V \in \mathbb{R}^{S \times E_v}.$$
#
# Dividing by $\sqrt{E}$ keeps unit-variance scores at unit variance (no saturated softmax). The mask
# $M$ is 0 where a query may look and $-\infty$ where not; **causal**: query $i$ sees keys $j \le i$.
# You will match PyTorch's `scaled_dot_product_attention` exactly, masks included.

# %%
#| default_exp attention
#| export
import math

import numpy as np

from tinytorch_lib.autograd import VJP
from tinytorch_lib.layers import Linear, Module
from tinytorch_lib.tensor import Tensor, _make, as_tensor

# %% [markdown]
# ## A softmax that survives $-\infty$
# A row that is $-\infty$ everywhere has maximum $-\infty$, and $-\infty - (-\infty)$ is nan. PyTorch
# returns zeros there (output and gradient 0). Recorded as op `"softmax"` (ctx `dim=-1`), module 05's
# rule $\bar x = s \odot (\bar s - \sum \bar s \odot s)$ differentiates it, giving zero for a zero row.

# %% solution id="masked-softmax"
#| export
def masked_softmax(x):
    """Softmax over the last axis of Tensor x (same shape and dtype, op "softmax", dim=-1); -inf gets
    weight 0 and an all -inf row becomes zeros (no nan, no warning).
    EXAMPLE: masked_softmax(Tensor([[0., -inf], [-inf, -inf], [1e4, 0.]])).data
             -> [[1., 0.], [0., 0.], [1., 0.]]
    HINT: replace an infinite row maximum by 0 before subtracting (`np.isfinite`, `np.where`).
    """
    ### BEGIN SOLUTION
    m = x.data.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = x.data - m
    np.exp(e, out=e)                              # in place: no second array of x's size
    total = e.sum(axis=-1, keepdims=True)
    e /= np.where(total > 0, total, 1)
    return _make(e.astype(x.dtype, copy=False), (x,), "softmax", dim=-1)
    ### END SOLUTION

# %% helper
def raises(fn, exc):
    """Call fn(); return the message of the `exc` it must raise (AssertionError if it does not)."""
    try:
        fn()
    except exc as e:
        return str(e)
    raise AssertionError(f"expected {exc.__name__} to be raised")

def scores_of(q, k, causal=False):
    """Reference scaled scores q k^T / sqrt(E) of float64 ndarrays, -inf where causal masks them."""
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    return np.where(np.tril(np.ones(s.shape[-2:], dtype=bool)), s, -np.inf) if causal else s

def lse_of(q, k, causal=False):
    """Each query's log-sum-exp of its scaled (causal: masked) scores, float64 (..., L)."""
    s = scores_of(q, k, causal)
    m = s.max(-1, keepdims=True)
    return (m + np.log(np.exp(s - m).sum(-1, keepdims=True)))[..., 0]

def attend(q, k, v, causal=False):
    """Reference attention of float64 ndarrays (leading axes broadcast; causal: top-left aligned)."""
    return np.exp(scores_of(q, k, causal) - lse_of(q, k, causal)[..., None]) @ v

def numeric_grads(f, arrays, R):
    """Central differences of sum(R * f(*arrays)) with respect to every float64 ndarray of `arrays`."""
    grads = [np.zeros_like(a) for a in arrays]
    for a, g in zip(arrays, grads):
        for i in np.ndindex(a.shape):
            old = a[i]
            a[i] = old + 1e-6
            plus = np.sum(R * f(*arrays))
            a[i] = old - 1e-6
            g[i], a[i] = (plus - np.sum(R * f(*arrays))) / 2e-6, old
    return grads

def grad_check(fn, *arrays):
    """fn(*float64 leaf Tensors) -> Tensor: its backward against central differences, every input."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    leaves = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    R = np.random.default_rng(0).standard_normal(fn(*leaves).shape)
    (fn(*leaves) * Tensor(R)).sum().backward()
    nums = numeric_grads(lambda *a: fn(*[Tensor(x) for x in a]).data, arrays, R)
    for k, (leaf, num) in enumerate(zip(leaves, nums)):
        got = None if leaf.grad is None else leaf.grad.data
        assert got is not None and np.allclose(got, num, rtol=1e-5, atol=1e-7), \
            f"gradient of input {k}: expected (finite differences)\n{np.round(num, 5)}\ngot\n{got}"

# %% test id="test-masked-softmax" points=2
inf = float("inf")
with np.errstate(over="raise", invalid="raise", divide="raise"):
    got = masked_softmax(Tensor(np.array([[0.0, -inf], [-inf, -inf], [1e4, 0.0]]))).data
assert np.array_equal(got, [[1, 0], [0, 0], [1, 0]]), f"expected [[1, 0], [0, 0], [1, 0]], got {got.tolist()}"
### BEGIN HIDDEN TESTS
got = masked_softmax(Tensor(np.array([[[1.0, 2.0, 3.0], [0.0, -inf, np.log(3)]]])))
exp = [np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum(), [0.25, 0, 0.75]]
assert got.shape == (1, 2, 3) and got.dtype == np.float64 and np.allclose(got.data[0], exp), f"expected {exp} (float64), got {got.data} ({got.dtype})"
assert masked_softmax(Tensor(np.zeros((2, 4), np.float32))).dtype == np.float32, "float32 stays float32"
xt = Tensor(np.array([[0.5, -inf, 1.0], [-inf, -inf, -inf]]), requires_grad=True)
s = masked_softmax(xt)
assert s._op == "softmax" and s._ctx == {"dim": -1}, "record op 'softmax' with dim=-1"
(s * Tensor(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))).sum().backward()
assert np.all(np.isfinite(xt.grad.data)) and np.allclose(xt.grad.data[1], 0), f"no gradient through a fully masked row, got {xt.grad.data}"
grad_check(lambda a: masked_softmax(a), np.random.default_rng(1).standard_normal((3, 4)))
### END HIDDEN TESTS

# %% [markdown]
# ## The backward pass by hand
# Composed from Tensor operations, attention records five graph nodes (matmul, scale, mask, softmax,
# matmul), each with full-size $L \times S$ temporaries forward and backward. The function below records
# **one** op `"attention"` that keeps only the weights $P$, and differentiates by hand. With
# $S = QK^\top/\sqrt{E}$, $P = \text{softmax}(S)$, $O = PV$ and the upstream gradient $\bar O$:
# $\bar V = P^\top \bar O$, $\bar P = \bar O V^\top$, the softmax rule
# $\bar S = P \odot (\bar P - \text{rowsum}(\bar P \odot P))$, then $\bar Q = \bar S K/\sqrt{E}$ and
# $\bar K = \bar S^\top Q/\sqrt{E}$. A masked weight is 0, so its $\bar S$ is 0 too: the same rule serves
# every mask. (A blockwise kernel, below, keeps no $P$ and recomputes it: `weights=None`.)

# %% solution id="attention-backward"
#| export
def attention_backward(q, k, v, grad_out, weights=None):
    """(dq, dk, dv): the gradients of sum(grad_out * (P @ v)) for P = softmax(q k^T / sqrt(E)) (rows over
    the last axis), ndarrays q (..., L, E), k (..., S, E), v (..., S, Ev), grad_out (..., L, Ev); each
    shaped like the broadcast of the leading axes with its own last two. `weights`: P (..., L, S) as the
    forward pass computed it (masked entries 0); None: recompute it from q and k, unmasked, no overflow.
    EXAMPLE: with one key (S = 1) every weight is 1, so dq = dk = 0 and dv = grad_out summed over L.
    HINT: `np.swapaxes(a, -1, -2)` transposes the last two axes of a batch of matrices; every
    intermediate has grad_out's or P's shape, so in-place operators (`-=`, `*=`) can reuse one.
    """
    ### BEGIN SOLUTION
    scale = 1.0 / math.sqrt(q.shape[-1])
    p = weights
    if p is None:
        s = q @ np.swapaxes(k, -1, -2) * scale
        p = np.exp(s - s.max(axis=-1, keepdims=True))
        p = p / p.sum(axis=-1, keepdims=True)
    dv = np.swapaxes(p, -1, -2) @ grad_out
    ds = grad_out @ np.swapaxes(v, -1, -2)
    ds -= (ds * p).sum(axis=-1, keepdims=True)
    ds *= p
    dq = ds @ k * scale
    dk = np.swapaxes(ds, -1, -2) @ q * scale
    return dq, dk, dv
    ### END SOLUTION

# %% test id="test-attention-backward" points=3
rng = np.random.default_rng(8)
qa, ka, va, go = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 2)), rng.standard_normal((3, 2))
leaves = [Tensor(a.copy(), requires_grad=True) for a in (qa, ka, va)]
(masked_softmax(leaves[0] @ leaves[1].T * 0.5) @ leaves[2] * Tensor(go)).sum().backward()
got = attention_backward(qa, ka, va, go)
for name, g, leaf in zip("qkv", got, leaves):
    assert np.shape(g) == leaf.shape and np.allclose(g, leaf.grad.data), f"d{name}: expected (autograd)\n{np.round(leaf.grad.data, 4)}\ngot\n{np.round(g, 4)}"
### BEGIN HIDDEN TESTS
arrays = [rng.standard_normal((2, 3, 4)) * np.array([[[1.0]], [[2000.0]]]), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 3))]
gb = rng.standard_normal((2, 3, 3))
with np.errstate(over="raise", invalid="raise"):
    got = attention_backward(*arrays, gb)
for n, (g, num) in enumerate(zip(got, numeric_grads(attend, arrays, gb))):
    assert np.allclose(g, num, rtol=1e-5, atol=1e-6), f"batched input {n} (scores in the thousands: subtract each row's own maximum): expected (finite differences)\n{np.round(num, 4)}\ngot\n{np.round(g, 4)}"
### END HIDDEN TESTS

# %% [markdown]
# ## Scaled dot-product attention
# `scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=False)`: Tensors $(\dots, L, E)$,
# $(\dots, S, E)$, $(\dots, S, E_v)$ (leading axes broadcast) -> $(\dots, L, E_v)$; PyTorch's masks:
#
# * a **boolean** `attn_mask` (an ndarray broadcastable to $(\dots, L, S)$): `True` = may attend;
# * a **float** `attn_mask`: added to the scores (0 keeps, $-\infty$ removes, anything else biases);
# * `is_causal=True`: query $i$ sees keys $j \le i$, **top-left aligned** (row $i$ of an $L \times S$
#   lower triangle, also when $L \ne S$); giving both a mask and `is_causal` is a `RuntimeError`.
#
# The mask becomes a constant array added to the scores (their dtype). Work on the arrays, compute the
# weights with `masked_softmax`, and record the output as op `"attention"`, parents `(q, k, v)`, ctx
# `weights=P`: the rule below hands them to your `attention_backward`.

# %% solution id="sdpa"
#| export
def scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=False):
    """softmax(q @ k^T / sqrt(E) + mask) @ v on Tensors, PyTorch's semantics (see above).

    EXAMPLE: q = Tensor([[2., 0, 0, 0]]), k = Tensor([[log 3, 0, 0, 0], [0, 0, 0, 0]]),
             v = Tensor([[4., 0], [0, 8]]): scores [log 3, 0] -> weights [3/4, 1/4] -> [[3., 2.]]
             with attn_mask=np.array([[False, True]]) -> [[0., 8.]]
    HINT: `np.tril` of an (L, S) array of ones; `np.where` turns a boolean mask into 0 / -inf.
    """
    ### BEGIN SOLUTION
    q, k, v = as_tensor(q), as_tensor(k), as_tensor(v)
    if is_causal and attn_mask is not None:
        raise RuntimeError("Explicit attn_mask should not be set when is_causal=True")
    L, S = q.shape[-2], k.shape[-2]
    scores = q.data @ np.swapaxes(k.data, -1, -2)
    scores *= 1.0 / math.sqrt(q.shape[-1])
    if is_causal:
        attn_mask = np.tril(np.ones((L, S), dtype=bool))
    if attn_mask is not None:
        mask = np.asarray(attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask)
        if mask.dtype == bool:
            mask = np.where(mask, 0.0, -np.inf)
        scores = scores + mask.astype(scores.dtype)
    weights = masked_softmax(as_tensor(scores)).data
    return _make(weights @ v.data, (q, k, v), "attention", weights=weights)
    ### END SOLUTION

def _attention_vjp(grad, out, q, k, v, weights):
    return attention_backward(q.data, k.data, v.data, grad, weights)

VJP["attention"] = _attention_vjp

# %% test id="test-sdpa" points=4
q1, k1 = Tensor(np.array([[2.0, 0, 0, 0]])), Tensor(np.array([[np.log(3), 0, 0, 0], [0, 0, 0, 0]]))
v1 = Tensor(np.array([[4.0, 0], [0, 8]]))
got = scaled_dot_product_attention(q1, k1, v1).data
assert np.allclose(got, [[3, 2]]), f"weights [3/4, 1/4] of rows [4, 0] and [0, 8]: expected [[3, 2]], got {got}"
got = scaled_dot_product_attention(q1, k1, v1, attn_mask=np.array([[False, True]])).data
assert np.allclose(got, [[0, 8]]), f"True = attend: only key 1 is visible, expected [[0, 8]], got {got}"
got = scaled_dot_product_attention(q1, k1, v1, attn_mask=np.array([[0.0, np.log(3)]])).data
assert np.allclose(got, [[2, 4]]), f"a float mask is added: scores [log 3, log 3], expected [[2, 4]], got {got}"
### BEGIN HIDDEN TESTS
vq = Tensor(np.array([[1.0], [2.0], [4.0]]))
for what, L, S, vv, kw, exp in [("causal", 2, 2, v1, dict(is_causal=True), [[4, 0], [2, 4]]),
                                ("fully masked row -> zeros", 2, 2, v1, dict(attn_mask=np.array([[True, True], [False, False]])), [[2, 4], [0, 0]]),
                                ("-inf float mask", 2, 2, v1, dict(attn_mask=np.array([[0.0, -np.inf], [-np.inf, -np.inf]])), [[4, 0], [0, 0]]),
                                ("L=2 < S=3 causal, top-left", 2, 3, vq, dict(is_causal=True), [[1], [1.5]]),
                                ("L=3 > S=2 causal", 3, 2, v1, dict(is_causal=True), [[4, 0], [2, 4], [2, 4]])]:
    got = scaled_dot_product_attention(Tensor(np.zeros((L, 3))), Tensor(np.zeros((S, 3))), vv, **kw).data
    assert np.allclose(got, exp), f"{what}: expected {exp}, got {got.tolist()}"
raises(lambda: scaled_dot_product_attention(q1, k1, v1, attn_mask=np.array([[True, True]]), is_causal=True), RuntimeError)
rng = np.random.default_rng(2)
qr, kr, vr = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((2, 3, 6, 2))
got, exp = scaled_dot_product_attention(Tensor(qr), Tensor(kr), Tensor(vr)), attend(qr, kr, vr)
assert got.shape == (2, 3, 4, 2) and np.allclose(got.data, exp), f"batched heads (2, 3, L=4, S=6), scale sqrt(E=5): expected\n{exp}\ngot\n{got.data}"
f32 = scaled_dot_product_attention(Tensor(qr.astype(np.float32)), Tensor(kr.astype(np.float32)), Tensor(vr.astype(np.float32)), is_causal=True)
assert f32.dtype == np.float32, f"float32 in, float32 out, got {f32.dtype}"
mask = rng.random((4, 6)) > 0.3
mask[:, 0] = True
grad_check(lambda a, b, c: scaled_dot_product_attention(a, b, c, attn_mask=mask), qr[0], kr[0], vr[0])
grad_check(lambda a, b, c: scaled_dot_product_attention(a, b, c, is_causal=True), qr[1, :, :4], kr[1, :, :4], vr[1, :, :4])
rec = scaled_dot_product_attention(Tensor(qr[0], requires_grad=True), Tensor(kr[0]), Tensor(vr[0]), is_causal=True)
w = np.asarray(rec._ctx["weights"])
assert rec._op == "attention" and len(rec._parents) == 3, f"one op 'attention' with parents (q, k, v), got {rec._op!r}"
assert w.shape == (3, 4, 6) and np.allclose(np.triu(w, 1), 0) and np.allclose(w.sum(-1), 1), f"ctx weights: the causal P, got {np.round(w[0], 3)}"
dv = _attention_vjp(np.ones(rec.shape), rec, *rec._parents, **rec._ctx)[2]
assert np.allclose(dv, w.sum(-2)[..., None] * np.ones(2)), f"dv = P^T @ grad: column sums of P, got {dv}"
### END HIDDEN TESTS

# %% [markdown]
# ## Multi-head attention
# **Multi-head** attention runs $H$ attentions side by side on slices of width $D = E / H$, each free
# to look for something else, at the cost of one:
#
# $$\text{MHA}(x) = \text{concat}(\text{head}_1, \dots, \text{head}_H)\, W_O, \qquad
#   \text{head}_h = \text{Attention}(x W_Q^{(h)}, x W_K^{(h)}, x W_V^{(h)}).$$
#
# `MultiHeadAttention(embed_dim, num_heads, bias=True, causal=False)` is self-attention: four
# `Linear(embed_dim, embed_dim, bias)` named `q_proj`, `k_proj`, `v_proj`, `out_proj`, created in
# that order; `embed_dim % num_heads != 0` raises `ValueError`. `split_heads` turns $(B, T, E)$ into
# $(B, H, T, D)$ (head $h$ = features $hD \dots (h+1)D - 1$), `merge_heads` undoes it, and
# `forward(x)` on $(B, T, E)$ returns the output Tensor $(B, T, E)$, causal if asked.

# %% solution id="mha"
#| export
class MultiHeadAttention(Module):
    """EXAMPLE: MultiHeadAttention(8, 2)(Tensor of (3, 5, 8)).shape -> (3, 5, 8); .head_dim -> 4"""

    def __init__(self, embed_dim, num_heads, bias=True, causal=False):
        ### BEGIN SOLUTION
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.embed_dim, self.num_heads, self.causal = embed_dim, num_heads, causal
        self.head_dim = embed_dim // num_heads
        self.q_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        ### END SOLUTION

    def split_heads(self, x):
        ### BEGIN SOLUTION
        B, T, _ = x.shape
        return x.reshape(B, T, self.num_heads, self.head_dim).permute(0, 2, 1, 3)
        ### END SOLUTION

    def merge_heads(self, x):
        ### BEGIN SOLUTION
        B, _, T, _ = x.shape
        return x.permute(0, 2, 1, 3).reshape(B, T, self.embed_dim)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        q = self.split_heads(self.q_proj(x))
        k = self.split_heads(self.k_proj(x))
        v = self.split_heads(self.v_proj(x))
        out = scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        return self.out_proj(self.merge_heads(out))
        ### END SOLUTION

# %% helper
def reference_mha(m, x, causal):
    """Multi-head attention in plain NumPy with the weights of `m` (head by head, a loop)."""
    lin = lambda layer, a: a @ layer.weight.data.T + (0 if layer.bias is None else layer.bias.data)
    q, k, v = lin(m.q_proj, x), lin(m.k_proj, x), lin(m.v_proj, x)
    T, D, heads = x.shape[1], m.head_dim, []
    for h in range(m.num_heads):
        sl = slice(h * D, (h + 1) * D)
        s = q[..., sl] @ k[..., sl].transpose(0, 2, 1) / np.sqrt(D)
        if causal:
            s = np.where(np.tril(np.ones((T, T), dtype=bool)), s, -np.inf)
        w = np.exp(s - s.max(-1, keepdims=True))
        heads.append(w / w.sum(-1, keepdims=True) @ v[..., sl])
    return lin(m.out_proj, np.concatenate(heads, axis=-1))

# %% test id="test-mha" points=4
mha = MultiHeadAttention(8, 2)
xr = np.random.default_rng(3).standard_normal((3, 5, 8)).astype(np.float32)
out, exp = mha(Tensor(xr)), reference_mha(mha, xr, False)
assert out.shape == (3, 5, 8) and np.allclose(out.data, exp, atol=1e-5), f"head-by-head reference: expected (3, 5, 8)\n{exp[0]}\ngot {out.shape}\n{out.data[0]}"
cm, changed = MultiHeadAttention(8, 4, causal=True), xr.copy()
changed[:, 3] += 1.0
a, b = cm(Tensor(xr)).data, cm(Tensor(changed)).data
assert np.allclose(a[:, :3], b[:, :3]) and not np.allclose(a[:, 3], b[:, 3]), "causal: changing token 3 changes outputs 3.. only"
### BEGIN HIDDEN TESTS
names, nb, x6 = [n for n, _ in cm.named_parameters()], MultiHeadAttention(6, 3, bias=False), np.random.default_rng(4).standard_normal((2, 4, 6))
exp = [f"{p}.{w}" for p in ("q_proj", "k_proj", "v_proj", "out_proj") for w in ("weight", "bias")]
assert names == exp, f"expected {exp}, got {names}"
got = (nb.head_dim, nb.q_proj.bias is None, nb.out_proj.bias is None, len(list(nb.parameters())))
assert got == (2, True, True, 4), f"bias=False: expected head_dim 2, no biases, 4 weights, got {got}"
for m, xx, causal in [(cm, xr, True), (nb, x6, False)]:
    exp = reference_mha(m, xx, causal)
    assert np.allclose(m(Tensor(xx)).data, exp, atol=1e-5), f"{m.num_heads} heads, causal {causal}: expected\n{exp[0]}\ngot\n{m(Tensor(xx)).data[0]}"
sp = nb.split_heads(Tensor(np.arange(24.0).reshape(1, 4, 6)))
assert sp.shape == (1, 3, 4, 2) and np.array_equal(sp.data[0, 1, 2], [14, 15]), f"head 1, token 2 = features 2..3 of token 2, got {sp.data[0, 1, 2]}"
assert np.array_equal(nb.merge_heads(sp).data, np.arange(24.0).reshape(1, 4, 6)), "merge_heads undoes split_heads"
msg, small = raises(lambda: MultiHeadAttention(10, 3), ValueError), MultiHeadAttention(4, 2, causal=True)
assert "10" in msg and "3" in msg, f"expected a message naming embed_dim 10 and num_heads 3, got {msg}"
for p in small.parameters():
    p.data = p.data.astype(np.float64)
grad_check(lambda a: small(a), np.random.default_rng(5).standard_normal((2, 3, 4)))
### END HIDDEN TESTS

# %% [markdown]
# ## What a head looks at
# The weights $P$ (one $T \times T$ matrix per head) are what one plots to see what a head attends to.

# %% solution id="head-weights"
def head_weights(mha, x):
    """The per-head attention weights (float ndarray (B, H, T, T)) that `mha(x)` applies to a (B, T, E)
    Tensor: row i of head h is how much query i draws from each key j (rows sum to 1; causal: 0 above
    the diagonal). EXAMPLE: head_weights(MultiHeadAttention(8, 2, causal=True), x of (1, 3, 8))[0, 1, 0] -> [1., 0., 0.]
    HINT: attention averages the value vectors with these weights; which values give the weights back?
    """
    ### BEGIN SOLUTION
    q = mha.split_heads(mha.q_proj(x))
    k = mha.split_heads(mha.k_proj(x))
    one_hot = Tensor(np.eye(x.shape[1], dtype=q.dtype))
    out = scaled_dot_product_attention(q, k, one_hot, is_causal=mha.causal)
    return out.data
    ### END SOLUTION

# %% test id="test-head-weights" points=2
hm = MultiHeadAttention(8, 2, causal=True)
xw = np.random.default_rng(9).standard_normal((2, 5, 8))
w = head_weights(hm, Tensor(xw))
assert np.shape(w) == (2, 2, 5, 5) and np.allclose(np.sum(w, axis=-1), 1), f"expected (2, 2, 5, 5) with rows summing to 1, got {np.shape(w)}"
assert np.allclose(np.triu(w, 1), 0) and np.allclose(w[:, :, 0, 0], 1), f"causal: nothing above the diagonal, query 0 sees only key 0, got {np.round(w[0, 0], 3)}"
### BEGIN HIDDEN TESTS
for m in (hm, MultiHeadAttention(8, 2)):
    w = head_weights(m, Tensor(xw))
    v = (xw @ m.v_proj.weight.data.T + m.v_proj.bias.data).reshape(2, 5, 2, 4).transpose(0, 2, 1, 3)
    out = (w @ v).transpose(0, 2, 1, 3).reshape(2, 5, 8) @ m.out_proj.weight.data.T + m.out_proj.bias.data
    assert np.allclose(out, m(Tensor(xw)).data, atol=1e-6), f"the weights times the values (causal {m.causal}) must give mha(x)"
assert not np.allclose(np.triu(w, 1), 0), "without causal, queries also see later keys"
### END HIDDEN TESTS

# %% [markdown]
# ## Grouped-query attention
# Generating text keeps every key and value ever computed (module 14), so $K, V$ dominate memory.
# **Grouped-query attention** (Ainslie et al., 2023; Llama 2 70B, Mistral) gives $H$ query heads only
# $G$ key/value heads: query heads $h = 0 \dots H-1$ form $G$ groups of $R = H / G$ consecutive heads,
# and group $g$ reads key/value head $g$ ($G = 1$: multi-query attention). The cache shrinks $R$ times.
# `scaled_dot_product_attention` broadcasts its leading axes, so no key or value needs copying.

# %% solution id="gqa"
def grouped_query_attention(q, k, v, is_causal=False):
    """Attention of Tensor q (..., H, L, D) against k (..., G, S, D), v (..., G, S, Dv) -> Tensor
    (..., H, L, Dv): query head h attends with key/value head h // (H // G). ValueError naming H and G
    unless G divides H. Differentiable: a shared key gets the gradients of all its query heads.
    EXAMPLE: H = 4, G = 2: query heads 0 and 1 use kv head 0, heads 2 and 3 use kv head 1.
    HINT: give the queries an extra group axis and the keys a length-1 axis where the queries have R.
    """
    ### BEGIN SOLUTION
    H, G = q.shape[-3], k.shape[-3]
    if H % G != 0:
        raise ValueError(f"{H} query heads cannot be split into {G} key/value groups")
    lead = q.shape[:-3]
    qg = q.reshape(*lead, G, H // G, *q.shape[-2:])
    kg = k.reshape(*lead, G, 1, *k.shape[-2:])
    vg = v.reshape(*lead, G, 1, *v.shape[-2:])
    out = scaled_dot_product_attention(qg, kg, vg, is_causal=is_causal)
    return out.reshape(*lead, H, *out.shape[-2:])
    ### END SOLUTION

# %% test id="test-gqa" points=2
rng = np.random.default_rng(12)
qg, kg, vg = rng.standard_normal((2, 4, 3, 5)), rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((2, 2, 6, 3))
got, exp = grouped_query_attention(Tensor(qg), Tensor(kg), Tensor(vg)), attend(qg, np.repeat(kg, 2, axis=1), np.repeat(vg, 2, axis=1))
assert got.shape == (2, 4, 3, 3) and np.allclose(got.data, exp), f"heads 0, 1 use kv head 0, heads 2, 3 kv head 1: expected (2, 4, 3, 3)\n{np.round(exp[0, 1], 3)}\ngot {got.shape}\n{np.round(got.data[0, 1], 3)}"
### BEGIN HIDDEN TESTS
for G, causal in [(1, True), (4, False), (2, True)]:
    kk, vv = kg[:, :1].repeat(G, axis=1) + np.arange(G)[:, None, None], vg[:, :1].repeat(G, axis=1) * np.arange(1, G + 1)[:, None, None]
    got, exp = grouped_query_attention(Tensor(qg), Tensor(kk), Tensor(vv), is_causal=causal), attend(qg, np.repeat(kk, 4 // G, axis=1), np.repeat(vv, 4 // G, axis=1), causal)
    assert got.shape == (2, 4, 3, 3) and np.allclose(got.data, exp), f"G = {G}, causal {causal}: expected\n{np.round(exp[1, 3], 3)}\ngot\n{np.round(got.data[1, 3], 3)}"
msg = raises(lambda: grouped_query_attention(Tensor(qg[:, :3]), Tensor(kg), Tensor(vg)), ValueError)
assert "3" in msg and "2" in msg, f"expected a ValueError naming H = 3 and G = 2, got {msg!r}"
assert grouped_query_attention(Tensor(qg[0]), Tensor(kg[0]), Tensor(vg[0])).shape == (4, 3, 3), "no batch axis: (H, L, D) works too"
grad_check(lambda a, b, c: grouped_query_attention(a, b, c, is_causal=True), qg[0, :, :, :3], kg[0, :, :4, :3], vg[0, :, :4])
### END HIDDEN TESTS

# %% [markdown]
# ## Attention in blocks: the online softmax
# FlashAttention (Dao et al., 2022) never holds the $L \times S$ scores: it reads keys and values in
# blocks and keeps, per query, a running maximum $m$, normaliser $\ell$ and weighted sum $a$. A block
# of scores $s$ raises the maximum to $m' = \max(m, \max_j s_j)$, so the old sums are rescaled by $e^{m - m'}$:
#
# $$\ell \leftarrow \ell\, e^{m - m'} + \textstyle\sum_j e^{s_j - m'}, \qquad
#   a \leftarrow a\, e^{m - m'} + \textstyle\sum_j e^{s_j - m'} v_j, \qquad \text{output} = a / \ell .$$
#
# Every exponent is $\le 0$ (no overflow), and the result is exact, not an approximation.

# %% solution id="blockwise-attention"
def blockwise_attention(q, k, v, block_size, is_causal=False, return_lse=False):
    """scaled_dot_product_attention(q, k, v, is_causal=is_causal) of ndarrays (same leading axes) as a
    float64 (..., L, Ev) ndarray, with the online softmax: keys and values `block_size` at a time (the
    last block may be shorter), never more than (..., L, block_size) scores. Causal is top-left aligned.
    return_lse=True: (output, lse), lse the float64 (..., L) log-sum-exp of each query's scaled,
    masked scores, log sum_j exp(s_j): all the backward pass needs to rebuild the weights.
    EXAMPLE: with q, k, v of the scaled_dot_product_attention example, block_size=1 -> [[3., 2.]];
             return_lse=True -> ([[3., 2.]], [log 4])
    HINT: start the running maximum at -inf: np.exp(-inf) is 0, without a warning.
    """
    ### BEGIN SOLUTION
    L, S = q.shape[-2], k.shape[-2]
    m = np.full(q.shape[:-1] + (1,), -np.inf)
    total = np.zeros(q.shape[:-1] + (1,))
    acc = np.zeros(q.shape[:-1] + (v.shape[-1],))
    for start in range(0, S, block_size):
        stop = min(start + block_size, S)
        s = q @ np.swapaxes(k[..., start:stop, :], -1, -2) / math.sqrt(q.shape[-1])
        if is_causal:
            s = np.where(np.arange(start, stop) <= np.arange(L)[:, None], s, -np.inf)
        m_new = np.maximum(m, s.max(axis=-1, keepdims=True))
        p = np.exp(s - m_new)
        rescale = np.exp(m - m_new)
        total = total * rescale + p.sum(axis=-1, keepdims=True)
        acc = acc * rescale + p @ v[..., start:stop, :]
        m = m_new
    out = acc / total
    if return_lse:
        return out, (m + np.log(total))[..., 0]
    return out
    ### END SOLUTION

# %% test id="test-blockwise-attention" points=3
got = blockwise_attention(np.array([[2.0, 0, 0, 0]]), np.array([[np.log(3), 0, 0, 0], [0, 0, 0, 0]]), np.array([[4.0, 0], [0, 8]]), 1)
assert np.allclose(got, [[3, 2]]), f"weights [3/4, 1/4] of rows [4, 0] and [0, 8], one key at a time: expected [[3, 2]], got {got}"
rng = np.random.default_rng(7)
qb, kb, vb = rng.standard_normal((5, 4)), rng.standard_normal((7, 4)), rng.standard_normal((7, 3))
full = scaled_dot_product_attention(Tensor(qb), Tensor(kb), Tensor(vb)).data
for bs in (1, 3, 7):
    got = blockwise_attention(qb, kb, vb, bs)
    assert got.shape == (5, 3) and np.allclose(got, full), f"block_size {bs}: expected the full attention\n{np.round(full, 4)}\ngot\n{np.round(got, 4)}"
### BEGIN HIDDEN TESTS
qh, kh, vh = rng.standard_normal((2, 3, 6, 4)) * 30, rng.standard_normal((2, 3, 9, 4)), rng.standard_normal((2, 3, 9, 2))
with np.errstate(over="raise", invalid="raise", divide="raise"):
    for bs, causal in [(2, False), (4, True), (1, True), (20, False), (9, True)]:
        got, exp = blockwise_attention(qh, kh, vh, bs, is_causal=causal), attend(qh, kh, vh, causal)
        assert got.shape == (2, 3, 6, 2) and np.allclose(got, exp), f"batched heads, scores up to ~100, block {bs}, causal {causal}: max error {np.abs(got - exp).max()}"
    got, exp = blockwise_attention(kh, qh, vh[..., :6, :], 4, is_causal=True), attend(kh, qh, vh[..., :6, :], True)
    assert got.shape == (2, 3, 9, 2) and np.allclose(got, exp), f"L=9 > S=6, causal top-left: max error {np.abs(got - exp).max()}"
got = blockwise_attention(qb.astype(np.float32), kb.astype(np.float32), vb.astype(np.float32), 2)
assert got.dtype == np.float64 and np.allclose(got, full, atol=1e-5), f"float32 in, float64 out: got {got.dtype}"
for bs, causal in [(4, True), (1, False), (20, True)]:
    got, exp = blockwise_attention(qh, kh, vh, bs, causal, return_lse=True), lse_of(qh, kh, causal)
    assert len(got) == 2 and np.allclose(got[0], attend(qh, kh, vh, causal)) and np.shape(got[1]) == (2, 3, 6) and np.allclose(got[1], exp), \
        f"return_lse, block {bs}, causal {causal}: expected lse (2, 3, 6)\n{np.round(exp[0, 0], 3)}\ngot {np.shape(got[1])}\n{np.round(got[1][0, 0], 3)}"
### END HIDDEN TESTS

# %% [markdown]
# ## The backward pass in blocks
# FlashAttention's backward stores no $P$ either. The forward kept the output $O$ and each query's
# log-sum-exp $\lambda_i = m_i + \log \ell_i$, so a block of weights comes back exactly,
# $P_{ij} = e^{s_{ij} - \lambda_i}$. The softmax rule needs $\sum_j \bar P_{ij} P_{ij}$ over *all* keys; since
# $\bar P_{ij} = \bar O_i \cdot v_j$, that sum is $\bar O_i \cdot O_i$: one number per query, known before
# the loop. Each block of keys then yields its own rows of $\bar K$, $\bar V$ and adds its share to $\bar Q$.

# %% solution id="blockwise-backward"
def blockwise_attention_backward(q, k, v, grad_out, out, lse, block_size, is_causal=False):
    """(dq, dk, dv) of attention_backward, float64 ndarrays shaped like q, k, v (same leading axes),
    computed `block_size` keys at a time from out = blockwise_attention(q, k, v, ...) and its lse
    ((..., L), see return_lse): never more than (..., L, block_size) weights or scores at once.
    Causal is top-left aligned (masked weights are 0).
    EXAMPLE: with one key (S = 1, lse = the only score) -> dq = dk = 0, dv = grad_out summed over L.
    HINT: exp(score - lse) is a weight; the row sums the softmax rule needs come from grad_out and out.
    """
    ### BEGIN SOLUTION
    scale = 1.0 / math.sqrt(q.shape[-1])
    L, S = q.shape[-2], k.shape[-2]
    row_dot = np.sum(grad_out * out, axis=-1, keepdims=True)
    lse = lse[..., None]
    dq, dk, dv = np.zeros(q.shape), np.zeros(k.shape), np.zeros(v.shape)
    for start in range(0, S, block_size):
        stop = min(start + block_size, S)
        kb, vb = k[..., start:stop, :], v[..., start:stop, :]
        s = q @ np.swapaxes(kb, -1, -2) * scale
        if is_causal:
            s = np.where(np.arange(start, stop) <= np.arange(L)[:, None], s, -np.inf)
        p = np.exp(s - lse)
        dv[..., start:stop, :] = np.swapaxes(p, -1, -2) @ grad_out
        ds = p * (grad_out @ np.swapaxes(vb, -1, -2) - row_dot)
        dq += ds @ kb * scale
        dk[..., start:stop, :] = np.swapaxes(ds, -1, -2) @ q * scale
    return dq, dk, dv
    ### END SOLUTION

# %% test id="test-blockwise-backward" points=3
rng = np.random.default_rng(11)
qb, kb, vb, gb = rng.standard_normal((5, 4)), rng.standard_normal((7, 4)), rng.standard_normal((7, 3)), rng.standard_normal((5, 3))
exp = numeric_grads(attend, [qb, kb, vb], gb)
for bs in (1, 3, 7):
    got = blockwise_attention_backward(qb, kb, vb, gb, attend(qb, kb, vb), lse_of(qb, kb), bs)
    for name, g, e in zip("qkv", got, exp):
        assert np.shape(g) == e.shape and np.allclose(g, e, atol=1e-6), f"block_size {bs}, d{name}: expected (finite differences)\n{np.round(e, 4)}\ngot\n{np.round(g, 4)}"
### BEGIN HIDDEN TESTS
qh, kh, vh, gh = rng.standard_normal((2, 2, 6, 4)) * 20, rng.standard_normal((2, 2, 9, 4)), rng.standard_normal((2, 2, 9, 2)), rng.standard_normal((2, 2, 6, 2))
for (q_, k_, v_, g_), causal in [((qh, kh, vh, gh), False), ((qh, kh, vh, gh), True), ((kh, qh, vh[..., :6, :], rng.standard_normal((2, 2, 9, 2))), True)]:
    exp = numeric_grads(lambda a, b, c: attend(a, b, c, causal), [q_.copy(), k_.copy(), v_.copy()], g_)
    for bs in (2, 4, 20):
        with np.errstate(over="raise", invalid="raise"):
            got = blockwise_attention_backward(q_, k_, v_, g_, attend(q_, k_, v_, causal), lse_of(q_, k_, causal), bs, is_causal=causal)
        for name, g, e in zip("qkv", got, exp):
            assert np.shape(g) == e.shape and np.allclose(g, e, rtol=1e-4, atol=1e-5), f"batched heads (L={q_.shape[-2]}, S={k_.shape[-2]}), scores ~ 50, block {bs}, causal {causal}, d{name}: max error {np.abs(g - e).max()}"
got = blockwise_attention_backward(qb.astype(np.float32), kb, vb, gb, attend(qb, kb, vb), lse_of(qb, kb), 2)
assert all(np.asarray(g).dtype == np.float64 for g in got), f"float64 results, got {[np.asarray(g).dtype for g in got]}"
### END HIDDEN TESTS

# %% [markdown]
# ## What the heads look at, and what attention costs
# A causal head's weights form a lower triangle (left). **Systems note:** the scores are $L \times S$ per
# head, so time and memory grow with $T^2$ (the Linears only with $T$). Measured below (right,
# log-log), and the peak memory of the full and the blockwise computation (`tracemalloc`).

# %%
import time, tracemalloc
import matplotlib.pyplot as plt

att = MultiHeadAttention(64, 4, causal=True)
x = Tensor(np.random.default_rng(0).standard_normal((1, 16, 64)).astype(np.float32))
weights = head_weights(att, x)
lengths, seconds = [64, 128, 256, 512, 1024], []
for T in lengths:
    xT = Tensor(np.random.default_rng(1).standard_normal((1, T, 64)).astype(np.float32))
    start = time.perf_counter(); att(xT); seconds.append(time.perf_counter() - start)
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
axes[0].imshow(weights[0, 0], cmap="viridis"); axes[0].set(title="causal head 0: weight of key j for query i", xlabel="key j", ylabel="query i")
axes[1].loglog(lengths, seconds, marker="o", label="measured")
axes[1].loglog(lengths, [seconds[-1] * (T / lengths[-1]) ** 2 for T in lengths], "--", label="T^2")
axes[1].set(xlabel="sequence length T", ylabel="seconds per forward", title="attention cost"); axes[1].legend(); plt.show()
for T, sec in zip(lengths, seconds):
    print(f"T = {T:5d}: {sec * 1e3:8.2f} ms, score matrices {4 * T * T * 4 / 2**20:6.1f} MiB")

def peak_mib(fn):
    tracemalloc.start(); fn(); peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
    return peak / 2**20

qT = np.random.default_rng(2).standard_normal((4, 1024, 16))
full_mib = peak_mib(lambda: scaled_dot_product_attention(Tensor(qT), Tensor(qT), Tensor(qT), is_causal=True))
block_mib = peak_mib(lambda: blockwise_attention(qT, qT, qT, 128, is_causal=True))
print(f"4 heads, T = 1024, float64: peak {full_mib:.1f} MiB with the full scores, {block_mib:.1f} MiB in blocks of 128 keys")
