# %% [markdown]
# # 13 · Transformers
#
# A GPT (Radford et al., 2018) stacks **blocks** on an embedding: each token looks at the tokens
# before it (attention, module 12), then thinks alone (an MLP). **Residual connections** give the
# gradient a straight path down; **pre-norm** layer normalisation (GPT-2) fixes the input scale:
# $$x \leftarrow x + \text{MHA}(\text{LN}_1(x)), \qquad x \leftarrow x + \text{MLP}(\text{LN}_2(x)),
#   \qquad \text{MLP}(h) = \text{GELU}(h W_1 + b_1) W_2 + b_2.$$

# %%
#| default_exp transformer
#| export
import numpy as np

from tinytorch_lib.activations import GELU
from tinytorch_lib.attention import MultiHeadAttention, scaled_dot_product_attention
from tinytorch_lib.autograd import VJP, no_grad
from tinytorch_lib.embeddings import Embedding
from tinytorch_lib.layers import Dropout, Linear, Module, Sequential
from tinytorch_lib.losses import CrossEntropyLoss
from tinytorch_lib.optim import AdamW
from tinytorch_lib.tensor import Tensor, _make, get_generator, manual_seed
from tinytorch_lib.training import clip_grad_norm_

# %% [markdown]
# ## Layer normalisation
# Over the last $n$ features of $x$ (`normalized_shape`: an int or a tuple of trailing sizes), with mean $\mu$,
# **biased** variance $\sigma^2$, learned $\gamma$ (`weight`, ones) and $\beta$ (`bias`, zeros) of shape `normalized_shape`:
# $$\hat x = (x - \mu)\,/\sqrt{\sigma^2 + \varepsilon}, \qquad y = \hat x \odot \gamma + \beta .$$
# A **fused op** `"layer_norm"` replaces a dozen graph nodes with one and its own backward rule in
# module 05's `VJP` table (as module 11's `"embedding"`). With $g = \bar y \odot \gamma$ and means over
# the $n$ normalised features, the chain rule through $\mu$ and $\sigma$ collapses to
# $$\bar x = \frac{g - \operatorname{mean}(g) - \hat x\, \operatorname{mean}(g \odot \hat x)}{\sqrt{\sigma^2 + \varepsilon}},
#   \qquad \bar\gamma = \textstyle\sum \bar y \odot \hat x, \qquad \bar\beta = \sum \bar y,$$
# the last two summed over every leading (batch, position) axis. Check: adding a constant to $x$
# does not move $\hat x$, so $\sum_i \bar x_i = 0$.

# %% solution id="layer-norm-op"
#| export
def layer_norm(x, weight, bias, eps=1e-5):
    """y of the formula above for Tensors x (..., *S), weight and bias (S), normalised over the
    last weight.ndim axes; recorded as op "layer_norm", parents (x, weight, bias), with whatever
    ctx your backward rule needs. Returns a Tensor of x's shape (dtypes promote as NumPy does).
    A constant vector gives bias (eps keeps it finite).
    EXAMPLE: layer_norm(Tensor([[1., 3.], [5., 5.]]), Tensor([1., 2.]), Tensor([0., 1.])).data
             -> [[-1., 3.], [0., 1.]] (up to eps)
    HINT: `np.var` is the biased variance; reductions over a tuple of axes with keepdims=True
    broadcast back against x. Keep x-hat and 1/sqrt(var + eps) for the backward pass.
    """
    ### BEGIN SOLUTION
    axes = tuple(range(-weight.ndim, 0))
    xhat = x.data - x.data.mean(axis=axes, keepdims=True)
    inv = 1.0 / np.sqrt((xhat * xhat).mean(axis=axes, keepdims=True) + eps)
    xhat *= inv                                   # in place: one array of x's size, not three
    out = xhat * weight.data
    out += bias.data
    return _make(out, (x, weight, bias), "layer_norm", xhat=xhat, inv=inv)
    ### END SOLUTION

def _layer_norm_vjp(grad, out, x, weight, bias, **ctx):
    """Gradients of (x, weight, bias): a tuple of three ndarrays of their shapes."""
    ### BEGIN SOLUTION
    xhat, inv = ctx["xhat"], ctx["inv"]
    axes = tuple(range(-weight.ndim, 0))
    lead = tuple(range(grad.ndim - weight.ndim))
    gx = grad * xhat                              # serves d(weight) and, times weight, the xhat term
    dw, db = gx.sum(axis=lead), grad.sum(axis=lead)
    gx *= weight.data
    dx = grad * weight.data
    dx -= dx.mean(axis=axes, keepdims=True)
    dx -= xhat * gx.mean(axis=axes, keepdims=True)
    dx *= inv
    return dx, dw, db
    ### END SOLUTION

VJP["layer_norm"] = _layer_norm_vjp

class LayerNorm(Module):
    """EXAMPLE: LayerNorm(2)(Tensor([[1., 3.]])).data -> [[-1., 1.]] (up to eps)
    LayerNorm((2, 3)) normalises over the last two axes together.
    """

    def __init__(self, normalized_shape, eps=1e-5):
        super().__init__()
        ### BEGIN SOLUTION
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        self.weight = Tensor(np.ones(self.normalized_shape, dtype=np.float32), requires_grad=True)
        self.bias = Tensor(np.zeros(self.normalized_shape, dtype=np.float32), requires_grad=True)
        ### END SOLUTION

    def forward(self, x):
        """x: Tensor (..., *normalized_shape) -> Tensor of the same shape (dtype of x and weight,
        promoted as NumPy does). ValueError naming both shapes if x does not end in normalized_shape."""
        ### BEGIN SOLUTION
        n = len(self.normalized_shape)
        if tuple(x.shape[x.ndim - n:]) != self.normalized_shape:
            raise ValueError(f"LayerNorm{self.normalized_shape} got an input of shape {x.shape}")
        return layer_norm(x, self.weight, self.bias, self.eps)
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

def reference_layernorm(x, w, b, n, eps=1e-5):
    ax = tuple(range(x.ndim - n, x.ndim))
    return (x - x.mean(ax, keepdims=True)) / np.sqrt(x.var(ax, keepdims=True) + eps) * w + b

# %% test id="test-layernorm" points=3
got = layer_norm(Tensor([[1.0, 3.0], [5.0, 5.0]]), Tensor([1.0, 2.0]), Tensor([0.0, 1.0])).data
assert np.allclose(got, [[-1, 3], [0, 1]], atol=1e-4), f"expected [[-1, 3], [0, 1]], got {got.tolist()}"
rng = np.random.default_rng(1)
grad_check(lambda a, w, b: layer_norm(a, w, b), rng.standard_normal((3, 5)), rng.standard_normal(5), rng.standard_normal(5))
ln = LayerNorm(4)
x = rng.standard_normal((2, 3, 4)) * 5 + 3
assert np.all(ln.weight.data == 1) and np.all(ln.bias.data == 0) and ln.weight.shape == (4,), "weight ones, bias zeros, shape (4,)"
assert np.allclose(ln(Tensor(x)).data, reference_layernorm(x, 1, 0, 1), atol=1e-6), "LayerNorm(4) of a (2, 3, 4) input"
### BEGIN HIDDEN TESTS
xt = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
y = layer_norm(xt, Tensor(np.ones((3, 4))), Tensor(np.zeros((3, 4))), eps=0.1)
assert y._op == "layer_norm" and y.dtype == np.float64, f"op 'layer_norm', float64 kept, got {y._op} {y.dtype}"
assert np.allclose(y.data, reference_layernorm(xt.data, 1, 0, 2, eps=0.1)), "two axes, eps=0.1"
(y * Tensor(rng.standard_normal((2, 3, 4)))).sum().backward()
assert np.allclose(xt.grad.data.sum(axis=(1, 2)), 0, atol=1e-9) and callable(_layer_norm_vjp), "gradients of x sum to 0"
y1 = layer_norm(xt, Tensor(np.ones(4)), Tensor(np.zeros(4)))
shapes = [g.shape for g in _layer_norm_vjp(np.ones((2, 3, 4)), y1, *y1._parents, **dict(y1._ctx))]
assert shapes == [(2, 3, 4), (4,), (4,)], f"the rule gives each input's shape: expected [(2, 3, 4), (4,), (4,)], got {shapes}"
grad_check(lambda a, w, b: layer_norm(a, w, b, eps=0.01), rng.standard_normal((2, 2, 3)), rng.standard_normal((2, 3)), rng.standard_normal((2, 3)))
grad_check(lambda a, w, b: layer_norm(a, w, b), rng.standard_normal((2, 3, 2, 4)), rng.standard_normal(4), rng.standard_normal(4))
assert [n for n, _ in ln.named_parameters()] == ["weight", "bias"] and ln.weight.dtype == np.float32, "float32 weight, then bias"
assert LayerNorm(3)(Tensor(np.ones((2, 3), np.float32))).dtype == np.float32, "float32 stays float32"
two = LayerNorm((3, 4), eps=0.5)
two.weight.data, two.bias.data = np.arange(12.0).reshape(3, 4), np.full((3, 4), 0.25)
assert np.allclose(two(Tensor(x)).data, reference_layernorm(x, two.weight.data, 0.25, 2, eps=0.5)), "a tuple shape, eps=0.5"
const = LayerNorm(3)(Tensor(np.full((1, 3), 7.0))).data
assert np.allclose(const, 0) and np.all(np.isfinite(const)), f"a constant row normalises to 0, got {const}"
msg = raises(lambda: LayerNorm(4)(Tensor(np.zeros((2, 3)))), ValueError)
assert "4" in msg and "3" in msg, f"name both shapes: {msg}"
### END HIDDEN TESTS

# %% [markdown]
# ## The block, and attention that remembers
# `TransformerBlock(d_model, num_heads, mlp_ratio=4, dropout=0.0)` holds, in this order, `ln1`, `attn`
# (a causal `MultiHeadAttention`), `ln2`, `mlp` (a `Sequential` of `Linear(d, mlp_ratio*d)`, `GELU()`,
# `Linear(mlp_ratio*d, d)`) and `drop` (`Dropout(dropout)`, applied to each branch before the add).
# **The cache protocol** (module 14 builds the `KVCache`): a cache has `.length` (positions already
# stored) and `update(layer, k, v)`, which stores one layer's new keys and values (Tensors $(B, H, T, D)$)
# at positions `length .. length+T-1` and returns `(keys, values)`, Tensors $(B, H, S, D)$ of every
# position so far ($S$ = `length` + $T$). The $T$ new queries sit at the **end** of the $S$ keys: query $i$
# may see keys $j \le S - T + i$, a causal mask aligned bottom-right (`is_causal` aligns top-left).

# %% solution id="cached-attention"
#| export
def cached_self_attention(attn, x, kv_cache, layer):
    """Causal self-attention of the MultiHeadAttention `attn` on x (B, T, E) with its q/k/v/out
    projections, storing this call's keys and values in `kv_cache` (layer `layer`) and attending
    over every cached position. Returns a Tensor (B, T, E).
    With an empty cache it equals attn(x); a call on tokens 0..3 then one on token 4 gives, for
    token 4, what one call on tokens 0..4 gives.
    HINT: `np.tril` has an offset argument `k`; the mask is (T, S) booleans, True = may attend.
    """
    ### BEGIN SOLUTION
    q = attn.split_heads(attn.q_proj(x))
    k = attn.split_heads(attn.k_proj(x))
    v = attn.split_heads(attn.v_proj(x))
    keys, values = kv_cache.update(layer, k, v)
    T, S = x.shape[1], keys.shape[-2]
    mask = np.tril(np.ones((T, S), dtype=bool), k=S - T)
    out = scaled_dot_product_attention(q, keys, values, attn_mask=mask)
    return attn.out_proj(attn.merge_heads(out))
    ### END SOLUTION

class TransformerBlock(Module):
    def __init__(self, d_model, num_heads, mlp_ratio=4, dropout=0.0):
        super().__init__()
        ### BEGIN SOLUTION
        self.ln1 = LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, num_heads, causal=True)
        self.ln2 = LayerNorm(d_model)
        hidden = mlp_ratio * d_model
        self.mlp = Sequential(Linear(d_model, hidden), GELU(), Linear(hidden, d_model))
        self.drop = Dropout(dropout)
        ### END SOLUTION

    def forward(self, x, kv_cache=None, layer=0):
        """x (B, T, d_model) -> (B, T, d_model); with a kv_cache, attention is cached_self_attention."""
        ### BEGIN SOLUTION
        h = self.ln1(x)
        a = self.attn(h) if kv_cache is None else cached_self_attention(self.attn, h, kv_cache, layer)
        x = x + self.drop(a)
        return x + self.drop(self.mlp(self.ln2(x)))
        ### END SOLUTION

# %% test id="test-cached-attention" points=3
class GrowingCache:  # the cache protocol with growing arrays (module 14 preallocates)
    def __init__(self, num_layers):
        self.length, self.kv, self.num_layers = 0, [(None, None)] * num_layers, num_layers
    def update(self, layer, k, v):
        old = self.kv[layer]
        self.kv[layer] = tuple(n.data if o is None else np.concatenate([o, n.data], axis=2) for o, n in zip(old, (k, v)))
        self.length += k.shape[2] if layer == self.num_layers - 1 else 0
        return Tensor(self.kv[layer][0]), Tensor(self.kv[layer][1])
att = MultiHeadAttention(8, 2, causal=True)
xs = np.random.default_rng(6).standard_normal((2, 5, 8)).astype(np.float32)
full, cache = att(Tensor(xs)).data, GrowingCache(1)
first = cached_self_attention(att, Tensor(xs[:, :3]), cache, 0).data
assert first.shape == (2, 3, 8) and np.allclose(first, full[:, :3], atol=1e-5), "empty cache: the same as attn(x) on tokens 0..2"
rest = cached_self_attention(att, Tensor(xs[:, 3:]), cache, 0).data
assert np.allclose(rest, full[:, 3:], atol=1e-5), f"tokens 3..4 after 0..2 are cached: expected\n{full[:, 3:]}\ngot\n{rest}"
### BEGIN HIDDEN TESTS
c2 = GrowingCache(1)
outs = [cached_self_attention(att, Tensor(xs[:, t:t + 1]), c2, 0).data for t in range(5)]
assert np.allclose(np.concatenate(outs, axis=1), full, atol=1e-5), "one token at a time equals the full causal pass"
nb, c3 = MultiHeadAttention(6, 3, bias=False, causal=True), GrowingCache(2)
x6 = np.random.default_rng(7).standard_normal((1, 4, 6))
cached_self_attention(nb, Tensor(x6[:, :1]), c3, 1)
got = cached_self_attention(nb, Tensor(x6[:, 1:]), c3, 1).data
assert np.allclose(got, nb(Tensor(x6)).data[:, 1:], atol=1e-5), "3 heads, no bias, layer 1 of 2"
### END HIDDEN TESTS

# %% test id="test-block" points=3
blk = TransformerBlock(8, 2)
names = [n for n, _ in blk.named_parameters()]
assert names[:2] == ["ln1.weight", "ln1.bias"] and names[-6:-4] == ["ln2.weight", "ln2.bias"], f"ln1, attn, ln2, mlp in that order, got {names}"
assert blk.mlp[0].weight.shape == (32, 8) and len(names) == 16, f"mlp_ratio 4: first Linear 8 -> 32, got {blk.mlp[0].weight.shape}"
xb = np.random.default_rng(8).standard_normal((2, 5, 8)).astype(np.float32)
mid = xb + blk.attn(blk.ln1(Tensor(xb))).data
exp = mid + blk.mlp(blk.ln2(Tensor(mid))).data
assert np.allclose(blk(Tensor(xb)).data, exp, atol=1e-5), f"expected x + attn(ln1(x)), then + mlp(ln2(x)): {exp[0, 0]}"
### BEGIN HIDDEN TESTS
b2 = TransformerBlock(6, 3, mlp_ratio=2, dropout=0.5)
assert b2.mlp[2].weight.shape == (6, 12) and b2.drop.p == 0.5 and b2.attn.causal and isinstance(b2.mlp[1], GELU), "mlp_ratio=2, dropout=0.5, causal, GELU"
for p in b2.parameters():
    p.data = p.data + np.random.default_rng(9).standard_normal(p.shape).astype(np.float32) * 0.3
x6 = np.random.default_rng(10).standard_normal((1, 4, 6)).astype(np.float32)
mid = x6 + b2.attn(b2.ln1(Tensor(x6))).data
exp = mid + b2.mlp(b2.ln2(Tensor(mid))).data
assert not np.allclose(b2.train()(Tensor(x6)).data, exp, atol=1e-4), "in training mode dropout(0.5) changes the output"
assert np.allclose(b2.eval()(Tensor(x6)).data, exp, atol=1e-5), "in eval mode dropout is the identity"
c = GrowingCache(3)
got = b2(Tensor(x6[:, :2]), c, 2).data
assert np.allclose(got, exp[:, :2], atol=1e-5) and c.kv[2][0].shape[2] == 2, "with a cache, the block writes its own layer"
### END HIDDEN TESTS

# %% [markdown]
# ## GPT
# `GPT(vocab_size, d_model, num_heads, num_layers, max_len)` creates `tok_emb` (`Embedding(vocab_size, d_model)`),
# `pos_emb` (`Embedding(max_len, d_model)`, learned positions), `blocks` (a list of `num_layers` blocks),
# `ln_f` (`LayerNorm`) and `head` (`Linear(d_model, vocab_size)`), in this order, then initialises them as
# GPT-2: Linear and Embedding weights $\sim \mathcal N(0, 0.02^2)$, Linear biases 0, LayerNorms untouched,
# except each block's two Linears that *write into the residual stream* (`attn.out_proj`, `mlp[2]`):
# $0.02/\sqrt{2L}$ for $L$ layers, so the sum of $2L$ branches does not grow with depth. For ids $(B, T)$:
# $$\text{logits} = \text{LN}_f\big(\text{blocks}(E_{\text{tok}}[\text{idx}] + E_{\text{pos}}[p_0 \dots p_0 + T - 1])\big)\, W_{\text{head}}^\top + b ,$$
# with $p_0$ = 0, or `kv_cache.length` with a cache.

# %% solution id="gpt"
#| export
def init_gpt_weights(model):
    """Re-initialise a GPT's parameters in place as described above, drawing with
    `get_generator().standard_normal` in `model.named_parameters()` order; dtypes kept. Returns None.
    HINT: `id()` tells one Tensor from another; a set of ids answers "is this one of those?"."""
    ### BEGIN SOLUTION
    residual, norms = set(), {id(p) for p in model.ln_f.parameters()}
    for b in model.blocks:
        residual |= {id(b.attn.out_proj.weight), id(b.mlp[2].weight)}
        norms |= {id(p) for ln in (b.ln1, b.ln2) for p in ln.parameters()}
    std_residual = 0.02 / np.sqrt(2 * len(model.blocks))
    for name, p in model.named_parameters():
        if id(p) in norms:
            continue
        if name.endswith("bias"):
            p.data = np.zeros_like(p.data)
        else:
            std = std_residual if id(p) in residual else 0.02
            p.data = (get_generator().standard_normal(p.shape) * std).astype(p.dtype)
    ### END SOLUTION

class GPT(Module):
    """EXAMPLE: GPT(10, 16, 2, 2, 32)(np.zeros((3, 5), dtype=int)).shape -> (3, 5, 10)"""

    def __init__(self, vocab_size, d_model, num_heads, num_layers, max_len):
        super().__init__()
        ### BEGIN SOLUTION
        self.vocab_size, self.d_model, self.num_heads = vocab_size, d_model, num_heads
        self.num_layers, self.max_len = num_layers, max_len
        self.tok_emb = Embedding(vocab_size, d_model)
        self.pos_emb = Embedding(max_len, d_model)
        self.blocks = [TransformerBlock(d_model, num_heads) for _ in range(num_layers)]
        self.ln_f = LayerNorm(d_model)
        self.head = Linear(d_model, vocab_size)
        init_gpt_weights(self)
        ### END SOLUTION

    def forward(self, idx, kv_cache=None):
        """idx: integer ids (B, T) (ndarray, list or Tensor) -> logits Tensor (B, T, vocab_size).
        ValueError naming max_len if positions p0 .. p0 + T - 1 do not fit in max_len."""
        ### BEGIN SOLUTION
        start = 0 if kv_cache is None else kv_cache.length
        ids = np.asarray(idx.data if isinstance(idx, Tensor) else idx)
        T = ids.shape[1]
        if start + T > self.max_len:
            raise ValueError(f"positions up to {start + T} do not fit max_len={self.max_len}")
        x = self.tok_emb(ids) + self.pos_emb(np.arange(start, start + T))
        for i, block in enumerate(self.blocks):
            x = block(x, kv_cache, i)
        return self.head(self.ln_f(x))
        ### END SOLUTION

# %% test id="test-gpt" points=4
manual_seed(0)
gpt = GPT(10, 16, 2, 2, 12)
ids = np.random.default_rng(11).integers(0, 10, size=(3, 6))
logits = gpt(ids)
assert logits.shape == (3, 6, 10), f"expected (3, 6, 10), got {logits.shape}"
h = gpt.tok_emb.weight.data[ids] + gpt.pos_emb.weight.data[:6]
for blk in gpt.blocks:
    h = blk(Tensor(h)).data
ref = gpt.head(gpt.ln_f(Tensor(h))).data
assert np.allclose(logits.data, ref, atol=1e-5), "expected head(ln_f(blocks(tok_emb[idx] + pos_emb[0..T-1])))"
for t in range(6):
    ch = ids.copy()
    ch[:, t] = (ch[:, t] + 3) % 10
    out = gpt(ch).data
    assert np.allclose(out[:, :t], logits.data[:, :t], atol=1e-6), f"causality: changing token {t} changed a logit before {t}"
    assert not np.allclose(out[:, t], logits.data[:, t], atol=1e-6), f"changing token {t} must change the logits at {t}"
### BEGIN HIDDEN TESTS
names = [n for n, _ in gpt.named_parameters()]
assert names[:3] == ["tok_emb.weight", "pos_emb.weight", "blocks.0.ln1.weight"] and names[-4:] == ["ln_f.weight", "ln_f.bias", "head.weight", "head.bias"], f"got {names}"
assert gpt.pos_emb.weight.shape == (12, 16) and gpt.max_len == 12 and gpt(Tensor(ids[:1])).shape == (1, 6, 10), "12 positions; a Tensor of ids"
assert gpt(np.zeros((1, 12), dtype=int)).shape == (1, 12, 10), "T == max_len is allowed"
msg = raises(lambda: gpt(np.zeros((1, 13), dtype=int)), ValueError)
assert "max_len" in msg and "12" in msg, f"name max_len and its value: {msg}"
cache = GrowingCache(2)
a, b = gpt(ids[:, :4], kv_cache=cache).data, gpt(ids[:, 4:].tolist(), kv_cache=cache).data
assert np.allclose(np.concatenate([a, b], axis=1), logits.data, atol=1e-4), "with a cache, positions continue at kv_cache.length"
msg = raises(lambda: gpt(np.zeros((1, 7), dtype=int), kv_cache=cache), ValueError)
assert "max_len" in msg, f"6 cached + 7 new > 12: {msg}"
big = GPT(50, 64, 2, 8, 64)
for name, p in big.named_parameters():
    d, want = p.data, (0.005 if ("out_proj.w" in name or "mlp.2.w" in name) else 0.02)
    if "ln" in name:
        assert np.all(d == (1 if name.endswith("weight") else 0)), f"{name}: LayerNorms keep ones and zeros"
    else:
        ok = np.all(d == 0) if name.endswith("bias") else abs(d.std() - want) < 0.15 * want and d.dtype == np.float32
        assert ok, f"{name}: expected {'zeros' if name.endswith('bias') else f'std {want}'}, got std {d.std():.4f}"
manual_seed(1); exp0 = get_generator().standard_normal((10, 16))
manual_seed(1); init_gpt_weights(gpt)
assert np.allclose(gpt.tok_emb.weight.data, (exp0 * 0.02).astype(np.float32)), "draw from get_generator() in named_parameters() order"
### END HIDDEN TESTS

# %% [markdown]
# ## Training a language model
# The data is one long sequence of ids. A batch is `batch_size` random windows `x` of `block_size`
# tokens and the same windows shifted by one, `y`: the logits at position $t$ of `x` are scored against
# `y[t]` (`lm_loss`: the mean cross-entropy), so each window gives `block_size` examples, kept honest by
# the causal mask. `train_lm` runs `steps` AdamW steps (weight decay 0.01, gradients clipped to
# `max_norm`) with GPT's schedule: the learning rate rises linearly over the first `warmup` steps (step
# $s$ uses $\text{lr}\cdot(s+1)/\text{warmup}$), then follows a cosine from `lr` down to `lr / 10` at the
# last step. `estimate_loss` runs in eval mode without a graph and leaves the model in the mode it found.

# %% solution id="train-lm"
#| export
def lm_loss(logits, targets):
    """Mean cross-entropy of logits (B, T, V) (a Tensor) against int targets (B, T) (ndarray,
    list or Tensor), a 0-d Tensor. EXAMPLE: zero logits over V = 4 -> log 4 = 1.386
    HINT: module 04's CrossEntropyLoss takes (N, C) logits; B*T positions are N examples."""
    ### BEGIN SOLUTION
    B, T, V = logits.shape
    t = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    return CrossEntropyLoss()(logits.reshape(B * T, V), t.reshape(B * T))
    ### END SOLUTION

def get_batch(data, block_size, batch_size):
    """(x, y) int64 ndarrays (batch_size, block_size) from the 1-D int sequence `data`:
    x[b] = data[i:i + block_size], y[b] = data[i + 1:i + block_size + 1], each start i uniform
    over every start that fits, drawn with `get_generator().integers`. ValueError naming
    block_size if data has fewer than block_size + 1 tokens.
    EXAMPLE: data [0, 1, 2, 3], block_size 3: the only window is x [[0, 1, 2]], y [[1, 2, 3]].
    HINT: `np.stack` of a list of slices."""
    ### BEGIN SOLUTION
    data = np.asarray(data, dtype=np.int64)
    if len(data) < block_size + 1:
        raise ValueError(f"{len(data)} tokens are too few for block_size={block_size}")
    starts = get_generator().integers(0, len(data) - block_size, size=batch_size)
    x = np.stack([data[i:i + block_size] for i in starts])
    y = np.stack([data[i + 1:i + block_size + 1] for i in starts])
    return x, y
    ### END SOLUTION

def train_lm(model, data, steps, block_size, batch_size=16, lr=3e-3, max_norm=1.0, warmup=10):
    """Train `model` (put in training mode) on `data` as above; returns the `steps` losses as floats."""
    ### BEGIN SOLUTION
    optimizer = AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    losses = []
    for step in range(steps):
        if step < warmup:
            optimizer.lr = lr * (step + 1) / warmup
        else:
            progress = (step - warmup) / max(1, steps - 1 - warmup)
            floor = lr / 10
            optimizer.lr = floor + (lr - floor) * 0.5 * (1 + np.cos(np.pi * progress))
        x, y = get_batch(data, block_size, batch_size)
        loss = lm_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        losses.append(float(loss.data))
    return losses
    ### END SOLUTION

def estimate_loss(model, data, block_size, batch_size=16, iters=10):
    """Mean lm_loss (a float) of `iters` batches of `data`, in eval mode, without a graph."""
    ### BEGIN SOLUTION
    was_training = model.training
    model.eval()
    total = 0.0
    with no_grad():
        for _ in range(iters):
            x, y = get_batch(data, block_size, batch_size)
            total += float(lm_loss(model(x), y).data)
    model.train(was_training)
    return total / iters
    ### END SOLUTION

# %% test id="test-train-lm" points=4
lo, tg = np.random.default_rng(15).standard_normal((2, 3, 4)), np.array([[0, 3, 1], [2, 2, 0]])
ref = np.mean([np.log(np.exp(lo[b, t]).sum()) - lo[b, t, tg[b, t]] for b in range(2) for t in range(3)])
assert np.isclose(float(lm_loss(Tensor(lo), tg).data), ref), f"lm_loss: expected {ref}"
manual_seed(0)
x, y = get_batch([0, 1, 2, 3], 3, 2)
assert np.array_equal(x, [[0, 1, 2]] * 2) and np.array_equal(y, [[1, 2, 3]] * 2), f"one window fits: got x {x.tolist()}, y {y.tolist()}"
manual_seed(0)
m0 = GPT(5, 16, 2, 1, 8)
losses = train_lm(m0, [0, 1, 2, 3, 4] * 20, 60, 6)
assert len(losses) == 60 and losses[-1] < 0.3 * losses[0], f"a periodic sequence is easy: expected the loss to fall below 30% of {losses[0]:.3f}, got {losses[-1]:.3f}"
est = estimate_loss(m0, [0, 1, 2, 3, 4] * 20, 6)
assert isinstance(est, float) and est < 0.3 * losses[0] and m0.training, f"estimate_loss: a float near the last losses, model left training, got {est}"
### BEGIN HIDDEN TESTS
assert np.isclose(float(lm_loss(Tensor(lo), Tensor(tg)).data), ref), "targets as a Tensor"
assert get_batch([1, 2, 3], 2, 1)[0].dtype == np.int64, "int64 windows"
manual_seed(3); starts = get_batch(np.arange(12), 4, 4000)[0][:, 0]
assert starts.min() == 0 and starts.max() == 7, f"every start 0..7 can be drawn, got {starts.min()}..{starts.max()}"
manual_seed(3); assert np.array_equal(get_generator().integers(0, 8, size=4000), starts), "draw the starts with get_generator().integers"
assert "block_size" in raises(lambda: get_batch([1, 2, 3], 3, 1), ValueError), "name block_size"
from tinytorch_lib.optim import AdamW as _AdamW
from tinytorch_lib.training import clip_grad_norm_ as _clip
seq, lrs = [0, 1, 2, 3, 4, 3, 2, 1] * 6, [0.025, 0.05, 0.05, 0.0275, 0.005]
manual_seed(4); m1 = GPT(5, 8, 2, 1, 6)
got = train_lm(m1.eval(), seq, 5, 5, batch_size=4, lr=0.05, max_norm=0.5, warmup=2)
assert m1.training, "train_lm puts the model in training mode"
manual_seed(4); m2 = GPT(5, 8, 2, 1, 6)
opt, want = _AdamW(m2.parameters(), lr=0.05, weight_decay=0.01), []
for lr_s in lrs:
    xb, yb = get_batch(seq, 5, 4)
    l2 = lm_loss(m2(xb), yb)
    opt.zero_grad()
    l2.backward()
    _clip(m2.parameters(), 0.5)
    opt.lr = lr_s
    opt.step()
    want.append(float(l2.data))
assert np.allclose(got, want, rtol=1e-5), f"warmup 2 then cosine to lr/10 {lrs}, AdamW, clipping: expected {want}, got {got}"
m1.eval()
manual_seed(5); e2 = estimate_loss(m1, seq, 5, batch_size=3, iters=4)
manual_seed(5); e3 = np.mean([float(lm_loss(m1(a), b).data) for a, b in [get_batch(seq, 5, 3) for _ in range(4)]])
assert np.isclose(e2, e3) and not m1.training, f"mean of 4 batches in eval mode: expected {e3}, got {e2}"
### END HIDDEN TESTS

# %% [markdown]
# **Systems note.** A block has $4d^2$ attention and $8 d^2$ MLP weights; a forward pass costs about
# $2\times$ parameters FLOPs per token plus $T^2 d$ for attention. Measured: forward time against $T$.

# %%
import time
import matplotlib.pyplot as plt
model, lengths, seconds = GPT(96, 64, 4, 4, 512), [32, 64, 128, 256, 512], []
print(f"{sum(p.numel() for p in model.parameters())} parameters, 12 d^2 L = {12 * 64 * 64 * 4} in the blocks")
for T in lengths:
    start = time.perf_counter()
    model(np.zeros((1, T), dtype=int))
    seconds.append(time.perf_counter() - start)
manual_seed(0)
curve = train_lm(GPT(8, 32, 2, 2, 16), list(np.arange(40) % 8), 80, 12)
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
axes[0].loglog(lengths, [sec / T * 1e6 for sec, T in zip(seconds, lengths)], marker="o")
axes[0].set(xlabel="sequence length T", ylabel="microseconds per token", title="GPT forward (d=64, 4 layers)")
axes[1].plot(curve)
axes[1].set(xlabel="step", ylabel="cross-entropy", title="train_lm on a repeating sequence")
plt.show()
