# %% [markdown]
# # 14 · KV-caching and generation
#
# A GPT writes one token at a time: run the model on the sequence so far, pick the next token from
# the **last** position's logits, append it, repeat. Naively each step recomputes the whole prefix:
# $T\,(24\,d^2 L + 2\,d V) + 4\,T^2 d\,L$ FLOPs for $T$ tokens, $L$ layers of width $d$, vocabulary $V$.
# By causality (module 13) the keys and values of positions $0 \dots T-2$ **never change**, so a
# **KV-cache** keeps them; each step feeds only the newest token: $24\,d^2 L + 2\,d V + 4\,T d\,L$
# FLOPs, $O(T)$ instead of $O(T^2)$. (Per token and layer: projections $4 \cdot 2d^2$, MLP $2 \cdot 8 d^2$;
# head $2dV$; a query against $S$ keys $2Sd + 2Sd$. Multiply-add = 2 FLOPs; norms, softmax not counted.)

# %%
#| default_exp kvcache
#| export
import time

import numpy as np

from tinytorch_lib.autograd import no_grad
from tinytorch_lib.tensor import Tensor, get_generator

# %%
from tinytorch_lib.tensor import manual_seed
from tinytorch_lib.transformer import GPT

# %% [markdown]
# ## The cache
#
# A `KVCache` **preallocates** keys and values $(B, H, \text{max\_len}, D)$ per layer (appending to
# an ndarray copies it: $O(T^2)$ in all). Module 13's attention calls `update(layer, k, v)` once per
# layer and attends over what it returns; `length` moves on after the **last** layer has written.

# %% solution id="kvcache"
#| export
class KVCache:
    """Preallocated keys and values of every layer, for generation (no gradients flow through it).

    EXAMPLE: c = KVCache(2, 1, 8, 4, 16); c.keys[1].shape -> (1, 4, 8, 16); c.length -> 0
             c.update(0, k, v) with k, v of shape (1, 4, 3, 16): returns two (1, 4, 3, 16) Tensors,
             c.length still 0; then c.update(1, k, v): c.length -> 3.
    """

    def __init__(self, num_layers, batch_size, max_len, num_heads, head_dim, dtype=np.float32):
        """Store every argument as an attribute of the same name (dtype as np.dtype), set
        `length` to 0 and allocate `keys` and `values`: lists of num_layers zero arrays
        (batch_size, num_heads, max_len, head_dim), eight separate arrays for four layers.
        HINT: `np.zeros`; a list comprehension calls it once per layer."""
        ### BEGIN SOLUTION
        self.num_layers, self.batch_size, self.max_len = num_layers, batch_size, max_len
        self.num_heads, self.head_dim, self.dtype = num_heads, head_dim, np.dtype(dtype)
        shape = (batch_size, num_heads, max_len, head_dim)
        self.keys = [np.zeros(shape, dtype=self.dtype) for _ in range(num_layers)]
        self.values = [np.zeros(shape, dtype=self.dtype) for _ in range(num_layers)]
        self.length = 0
        ### END SOLUTION

    def update(self, layer, k, v):
        """Write Tensors k, v (batch_size, num_heads, T, head_dim) of layer `layer` at positions
        length .. length+T-1 (cast to the cache's dtype); return (keys, values), Tensors
        (batch_size, num_heads, length+T, head_dim) of positions 0 .. length+T-1 of that layer.
        After the last layer (num_layers - 1) `length` grows by T.
        ValueError naming max_len (and changing nothing) if length + T > max_len; ValueError
        naming the expected shape if k or v has another one.
        HINT: slice assignment `array[:, :, a:b] = ...` writes in place."""
        ### BEGIN SOLUTION
        start, end = self.length, self.length + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"positions {start}..{end - 1} do not fit a cache of max_len={self.max_len}")
        want = (self.batch_size, self.num_heads, end - start, self.head_dim)
        if tuple(k.shape) != want or tuple(v.shape) != want:
            raise ValueError(f"expected keys and values of shape {want}, got {k.shape} and {v.shape}")
        self.keys[layer][:, :, start:end] = k.data
        self.values[layer][:, :, start:end] = v.data
        if layer == self.num_layers - 1:
            self.length = end
        return Tensor(self.keys[layer][:, :, :end]), Tensor(self.values[layer][:, :, :end])
        ### END SOLUTION

    def reset(self):
        """Forget every position (length 0); keep the arrays (no new allocation)."""
        ### BEGIN SOLUTION
        self.length = 0
        ### END SOLUTION

    def reorder(self, rows):
        """Beam search (below): make row b of every keys and values array a copy of what row
        rows[b] held (rows: batch_size ints; a row may be chosen twice or dropped), in place.
        EXAMPLE: rows [1, 1] copies row 1 over row 0. HINT: fancy indexing `a[rows]` copies."""
        ### BEGIN SOLUTION
        for arrays in (self.keys, self.values):
            for layer in range(self.num_layers):
                arrays[layer][...] = arrays[layer][np.asarray(rows)]
        ### END SOLUTION

# %% helper
import numpy as np
from tinytorch_lib.layers import Module

def raises(fn, exc):
    """Call fn(); return the message of the `exc` it must raise (AssertionError if it does not)."""
    try:
        fn()
    except exc as e:
        return str(e)
    raise AssertionError(f"expected {exc.__name__} to be raised")

def check_positions(cache, before=None):
    """Positions < cache.length are written (finite) and, if `before` (a snapshot of an earlier
    state: list of (keys, values) copies and its length) is given, unchanged since; positions >=
    length still hold the NaN the test filled in (written by nobody)."""
    for layer in range(cache.num_layers):
        for name, arr in (("keys", np.asarray(cache.keys[layer])), ("values", np.asarray(cache.values[layer]))):
            n = cache.length
            assert np.all(np.isfinite(arr[:, :, :n])), f"{name}[{layer}]: positions 0..{n - 1} should be written, some are NaN"
            assert np.all(np.isnan(arr[:, :, n:])), f"{name}[{layer}]: positions {n}.. should be untouched (NaN)"
            if before is not None:
                old, m = before[0][layer][0 if name == "keys" else 1], before[1]
                assert np.array_equal(arr[:, :, :m], old[:, :, :m]), f"{name}[{layer}]: positions 0..{m - 1} were written again"

def nan_cache(*args, **kwargs):
    cache = KVCache(*args, **kwargs)
    for arr in cache.keys + cache.values:
        arr[...] = np.nan
    return cache

class Spy(Module):
    def __init__(self, inner):
        super().__init__()
        self.inner, self.seen = inner, []
        self.num_layers, self.num_heads, self.d_model, self.max_len = inner.num_layers, inner.num_heads, inner.d_model, inner.max_len
    def forward(self, idx, kv_cache=None):
        self.seen.append([np.asarray(idx).shape[1], kv_cache is None, self.inner.training])
        return self.inner(idx, kv_cache=kv_cache)

def snapshot(cache):
    return [(np.array(cache.keys[i]), np.array(cache.values[i])) for i in range(cache.num_layers)], cache.length

def f64(model, scale=1.0):
    """The model, every parameter cast to float64 and multiplied by scale (sharper logits)."""
    for p in model.parameters():
        p.data = p.data.astype(np.float64) * scale
    return model

# %% test id="test-kvcache" points=4
c = KVCache(2, 1, 8, 4, 16)
assert c.length == 0 and len(c.keys) == 2 and c.keys[1].shape == (1, 4, 8, 16), f"two layers of (1, 4, 8, 16), length 0: got {len(c.keys)} x {c.keys[1].shape}"
k = Tensor(np.arange(6.0).reshape(1, 1, 3, 2))
c = KVCache(2, 1, 5, 1, 2)
keys, values = c.update(0, k, k * 10)
assert np.array_equal(keys.data, k.data) and np.array_equal(values.data, 10 * k.data), f"an empty cache returns what was written, got {keys.data}"
assert c.length == 0, f"layer 0 of 2 written: length stays 0 until the last layer, got {c.length}"
c.update(1, k, k)
assert c.length == 3, f"after the last layer length is 3, got {c.length}"
keys, values = c.update(0, Tensor([[[[7.0, 8.0]]]]), Tensor([[[[9.0, 9.0]]]]))
assert keys.shape == (1, 1, 4, 2) and np.array_equal(keys.data[0, 0, 3], [7, 8]), f"position 3 follows 0..2: got {keys.data}"
assert np.array_equal(keys.data[0, 0, :3], k.data[0, 0]), "positions 0..2 are still there"
msg = raises(lambda: KVCache(1, 1, 4, 1, 2).update(0, Tensor(np.zeros((1, 1, 5, 2))), Tensor(np.zeros((1, 1, 5, 2)))), ValueError)
assert "max_len" in msg and "4" in msg, f"5 positions into max_len=4: name max_len and its value, got {msg!r}"
### BEGIN HIDDEN TESTS
c = nan_cache(3, 2, 6, 2, 3, dtype=np.float64)
assert c.dtype == np.float64 and c.keys[2].dtype == np.float64 and c.max_len == 6 and c.head_dim == 3, "attributes and dtype"
rng = np.random.default_rng(0)
for T in (2, 1, 3):
    before = snapshot(c)
    new = [rng.standard_normal((2, 2, T, 3)) for _ in range(6)]
    for layer in range(3):
        kk, vv = c.update(layer, Tensor(new[2 * layer]), Tensor(new[2 * layer + 1]))
        assert np.array_equal(kk.data[:, :, -T:], new[2 * layer]) and np.array_equal(vv.data[:, :, -T:], new[2 * layer + 1]), "values go to values"
        assert kk.shape == (2, 2, before[1] + T, 3) and kk.dtype == np.float64, f"keys of all positions, got {kk.shape}"
    check_positions(c, before)
assert c.length == 6, f"2 + 1 + 3 positions, got {c.length}"
before = snapshot(c)
msg = raises(lambda: c.update(0, Tensor(new[0][:, :, :1]), Tensor(new[0][:, :, :1])), ValueError)
assert "max_len" in msg and "6" in msg and c.length == 6, f"a full cache: {msg!r}"
check_positions(c, before)
held = np.array(c.keys[2])
c.reset()
assert c.length == 0 and np.array_equal(np.asarray(c.keys[2]), held), "reset: length 0, the arrays kept as they are"
kk, _ = c.update(0, Tensor(new[1][:, :, :2]), Tensor(new[1][:, :, :2]))
assert kk.shape == (2, 2, 2, 3) and np.array_equal(c.keys[0][:, :, :2], new[1][:, :, :2]), "after reset, writing starts at 0"
assert "(2, 2, 1, 3)" in raises(lambda: c.update(1, Tensor(np.zeros((2, 1, 1, 3))), Tensor(np.zeros((2, 1, 1, 3)))), ValueError), "name the expected shape"
assert "(1, 1, 1, 2)" in raises(lambda: KVCache(1, 1, 4, 1, 2).update(0, Tensor(np.zeros((1, 1, 1, 2))), Tensor(np.zeros((1, 1, 1, 3)))), ValueError), "values checked too"
assert KVCache(1, 1, 2, 1, 1).update(0, Tensor(np.ones((1, 1, 2, 1))), Tensor(np.ones((1, 1, 2, 1))))[0].shape == (1, 1, 2, 1), "T == max_len fits"
c32 = KVCache(1, 1, 3, 1, 1)
assert c32.update(0, Tensor(np.ones((1, 1, 1, 1))), Tensor(np.ones((1, 1, 1, 1))))[0].dtype == np.float32, "float64 input stored as float32"
### END HIDDEN TESTS

# %% [markdown]
# With module 13's `GPT.forward(idx, kv_cache)`, a prompt then one token per call must give the
# logits of one full pass and write every position once (checked in float64, unwritten slots NaN).

# %% test id="test-cache-with-gpt" points=3
manual_seed(0)
gpt = f64(GPT(13, 16, 2, 2, 10))
ids = np.random.default_rng(1).integers(0, 13, size=(2, 7))
full = gpt(ids).data
cache = nan_cache(2, 2, 10, 2, 8, dtype=np.float64)
parts = [gpt(ids[:, :3], kv_cache=cache).data]
check_positions(cache)
for t in range(3, 7):
    before = snapshot(cache)
    parts.append(gpt(ids[:, t:t + 1], kv_cache=cache).data)
    check_positions(cache, before)
got = np.concatenate(parts, axis=1)
assert cache.length == 7 and np.allclose(got, full, rtol=0, atol=1e-12), f"cached logits equal the full pass: max difference {np.abs(got - full).max()}"

# %% [markdown]
# ## Counting the work
#
# `step_flops` evaluates the two formulas at the top: with the cache one token attends over $T$
# keys; without it all $T$ are fed and the $T \times T$ scores computed in full (then masked).

# %% solution id="step-flops"
#| export
def step_flops(num_layers, d_model, vocab_size, T, use_cache):
    """FLOPs (an int) of one generation step as above, for a GPT with mlp_ratio 4.
    EXAMPLE: step_flops(1, 2, 3, 4, True) -> 140;  step_flops(1, 2, 3, 4, False) -> 560
    HINT: compute the cost of one position through the Linears and the head first."""
    ### BEGIN SOLUTION
    per_token = 24 * d_model ** 2 * num_layers + 2 * d_model * vocab_size
    if use_cache:
        return per_token + 4 * T * d_model * num_layers
    return T * per_token + 4 * T * T * d_model * num_layers
    ### END SOLUTION

# %% test id="test-step-flops" points=2
assert step_flops(1, 2, 3, 4, True) == 140, f"108 for the new token + 32 for attention over 4 keys, got {step_flops(1, 2, 3, 4, True)}"
assert step_flops(1, 2, 3, 4, False) == 560, f"4 x 108 + 4 * 16 * 2, got {step_flops(1, 2, 3, 4, False)}"
### BEGIN HIDDEN TESTS
for args, want in [((3, 8, 5, 10, True), 24 * 64 * 3 + 80 + 960), ((3, 8, 5, 10, False), 10 * (4608 + 80) + 9600),
                   ((2, 4, 7, 1, True), 768 + 56 + 32), ((2, 4, 7, 1, False), 768 + 56 + 32)]:
    got = step_flops(*args)
    assert got == want and isinstance(got, int), f"step_flops{args}: expected {want}, got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## Choosing the next token
#
# The last logits $z$ give $p_i \propto e^{z_i / \tau}$: **temperature** $\tau < 1$ sharpens,
# $\tau > 1$ flattens, $\tau \to 0$ is **greedy** ($\arg\max$, deterministic, prone to loops).
# **Top-$k$** keeps the $k$ largest logits; **top-$p$** (nucleus, Holtzman et al. 2019) keeps the
# fewest most likely tokens whose probabilities sum to at least $p$, a cut that adapts to the model's
# certainty. Draws come from `get_generator()`, so `manual_seed` makes a run repeatable.

# %% solution id="sample-next"
#| export
def sample_next(logits, temperature=1.0, top_k=None, top_p=None):
    """Next token of each row of `logits`, an ndarray (B, V) (not modified): an int64 ndarray (B,).
    temperature == 0: the argmax (ties: the lower id), no random draw. Otherwise sample from
    softmax(logits / temperature) (in float64) restricted to the top_k largest logits (ties with
    the k-th largest are kept; top_k >= V keeps all), then to the nucleus: the most likely tokens,
    in decreasing order, up to and including the first whose cumulative probability reaches top_p.
    EXAMPLE: sample_next(np.array([[1., 3., 2.]]), temperature=0) -> [1]
             with top_k=1 every temperature gives [1]; top_p=0.5 on probabilities [.1, .6, .3] keeps id 1.
    HINT: subtract the row maximum before `np.exp`; `np.sort`, `np.argsort`, `np.cumsum`;
    `get_generator().choice(V, p=...)` draws one id.
    """
    ### BEGIN SOLUTION
    z = np.asarray(logits, dtype=np.float64)
    if temperature == 0:
        return z.argmax(axis=-1).astype(np.int64)
    z = z / temperature
    if top_k is not None and top_k < z.shape[-1]:
        kth = np.sort(z, axis=-1)[:, -top_k][:, None]
        z = np.where(z < kth, -np.inf, z)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    if top_p is not None:
        order = np.argsort(-p, axis=-1, kind="stable")
        sorted_p = np.take_along_axis(p, order, axis=-1)
        keep = np.cumsum(sorted_p, axis=-1) - sorted_p < top_p
        mask = np.zeros_like(keep)
        np.put_along_axis(mask, order, keep, axis=-1)
        p = np.where(mask, p, 0.0)
        p /= p.sum(axis=-1, keepdims=True)
    return np.array([get_generator().choice(len(row), p=row) for row in p], dtype=np.int64)
    ### END SOLUTION

# %% test id="test-sample-next" points=3
got = sample_next(np.array([[1.0, 3.0, 2.0], [5.0, 5.0, 1.0]]), temperature=0)
assert np.array_equal(got, [1, 0]) and got.dtype == np.int64, f"greedy: argmax per row, ties to the lower id: expected [1, 0], got {got}"
for tau in (0.5, 1.0, 5.0):
    got = sample_next(np.array([[1.0, 3.0, 2.0]] * 50), temperature=tau, top_k=1)
    assert np.all(got == 1), f"top_k=1 is greedy at temperature {tau}, got {got.tolist()}"
p4 = np.array([0.1, 0.2, 0.3, 0.4])
manual_seed(0)
freq = np.bincount(sample_next(np.tile(np.log(p4), (4000, 1))), minlength=4) / 4000
assert np.allclose(freq, p4, atol=0.03), f"temperature 1 samples softmax(logits) = {p4}: frequencies {freq}"
### BEGIN HIDDEN TESTS
for probs, kwargs, want in [(p4, {"temperature": 0.5}, p4 ** 2 / np.sum(p4 ** 2)), (p4, {"temperature": 2.0}, np.sqrt(p4) / np.sum(np.sqrt(p4))),
                            (p4, {"top_k": 2}, [0, 0, 3 / 7, 4 / 7]), (p4, {"top_k": 4}, p4), (p4, {"top_k": 9}, p4),
                            (p4, {"top_p": 0.5}, [0, 0, 3 / 7, 4 / 7]), (p4, {"top_p": 0.75}, [0, 0.2 / 0.9, 0.3 / 0.9, 0.4 / 0.9]),
                            (p4, {"top_p": 0.3}, [0, 0, 0, 1]), (p4, {"top_p": 1.0}, p4), (p4, {"temperature": 0.5, "top_k": 3}, [0, 0.04 / 0.29, 0.09 / 0.29, 0.16 / 0.29]),
                            (p4, {"temperature": 2.0, "top_p": 0.4}, [0, 0, np.sqrt(0.3), np.sqrt(0.4)] / (np.sqrt(0.3) + np.sqrt(0.4))),
                            (np.exp([1.0, 1.0, 1.0, 0.0]), {"top_k": 2}, [1 / 3, 1 / 3, 1 / 3, 0]),     # ties with the 2nd largest are kept
                            (np.array([0.2, 0.5, 0.3]), {"top_p": 0.6}, [0, 0.625, 0.375])]:           # nucleus by probability, not id
    manual_seed(1)
    freq = np.bincount(sample_next(np.tile(np.log(probs), (4000, 1)), **kwargs), minlength=len(probs)) / 4000
    assert np.allclose(freq, want, atol=0.03), f"{np.round(probs / probs.sum(), 3)} with {kwargs}: expected frequencies {np.round(want, 3)}, got {freq}"
z = np.array([[0.0, 9.0, 1.0], [8.0, 0.0, -2.0]])
rows = sample_next(np.tile(z, (100, 1)).astype(np.float32), temperature=0.3)
assert np.all(rows[0::2] == 1) and np.all(rows[1::2] == 0), f"each row samples from its own logits: expected 1, 0, 1, 0, ..., got {rows[:6]}"
keep = z.copy()
sample_next(z, temperature=2.0, top_k=2, top_p=0.9)
assert np.array_equal(z, keep), f"the logits passed in must not change, got {z}"
a, b, c = [(manual_seed(seed), sample_next(np.zeros((300, 5))))[1] for seed in (7, 7, 8)]
assert np.array_equal(a, b) and not np.array_equal(a, c), "draw from get_generator(): same seed, same tokens; another seed, others"
assert a.shape == (300,) and a.dtype == np.int64 and set(a.tolist()) == {0, 1, 2, 3, 4}, f"(B,) int64 over all 5 ids, got {a.shape} {a.dtype}"
manual_seed(9)
g = sample_next(np.zeros((5, 3)), temperature=0)
assert np.array_equal(g, [0] * 5) and get_generator().integers(0, 10 ** 9) == manual_seed(9).integers(0, 10 ** 9), "greedy draws nothing"
### END HIDDEN TESTS

# %% [markdown]
# ## The generation loop
#
# With the cache the prompt goes through the model **once** (the *prefill*), then each step feeds
# only the token just chosen; without it, the whole sequence. Same output either way, same seed.

# %% solution id="generate"
#| export
def generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, use_cache=True, top_p=None):
    """The prompt `idx` (B, T0) (ndarray, list or Tensor of ids; not modified) followed by
    `max_new_tokens` new tokens per row: an int64 ndarray (B, T0 + max_new_tokens).
    `model` is a GPT (attributes num_layers, num_heads, d_model, max_len; forward(idx, kv_cache));
    run it in eval mode without a graph and leave it in the mode it was in. Each new token is
    sample_next(last position's logits, temperature, top_k, top_p). With use_cache, the cache is a
    KVCache for the whole of model.max_len, in the dtype of the model's parameters, the prompt goes
    in one call and every later call feeds one token. The model is never run on a token that no
    step needs, so T0 + max_new_tokens may be max_len + 1; beyond that the model or the cache
    raises ValueError naming max_len.
    EXAMPLE: generate(gpt, [[3, 1]], 4, temperature=0).shape -> (1, 6); it starts [3, 1, ...]
    HINT: `np.concatenate` along the time axis; `try`/`finally` restores the mode.
    """
    ### BEGIN SOLUTION
    ids = np.array(idx.data if isinstance(idx, Tensor) else idx, dtype=np.int64)
    was_training = model.training
    model.eval()
    cache = None
    if use_cache:
        dtype = next(iter(model.parameters())).dtype
        cache = KVCache(model.num_layers, ids.shape[0], model.max_len, model.num_heads,
                        model.d_model // model.num_heads, dtype=dtype)
    feed = ids
    try:
        with no_grad():
            for _ in range(max_new_tokens):
                logits = model(feed, kv_cache=cache).data[:, -1]
                nxt = sample_next(logits, temperature, top_k, top_p)[:, None]
                ids = np.concatenate([ids, nxt], axis=1)
                feed = nxt if use_cache else ids
    finally:
        model.train(was_training)
    return ids
    ### END SOLUTION

# %% test id="test-generate" points=4
manual_seed(0)
gpt = GPT(11, 16, 2, 2, 12)
prompt = np.array([[1, 2, 3], [4, 4, 0]])
fast = generate(gpt, prompt, 6, temperature=0)
slow = generate(gpt, prompt, 6, temperature=0, use_cache=False)
assert fast.shape == (2, 9) and np.array_equal(fast[:, :3], prompt), f"the prompt, then 6 new tokens: got {fast.tolist()}"
assert np.array_equal(fast, slow), f"greedy with the cache {fast.tolist()} must equal greedy without it {slow.tolist()}"
logits = gpt(prompt).data[:, -1]
assert np.array_equal(fast[:, 3], logits.argmax(axis=1)), f"the first new token is the argmax of the last logits {logits.argmax(axis=1)}"
assert np.array_equal(generate(gpt, prompt, 6, top_k=1), fast), "top_k=1 sampling equals greedy"
### BEGIN HIDDEN TESTS
spy = Spy(gpt)
generate(spy, prompt, 4, temperature=0)
assert np.array_equal(np.asarray(spy.seen), [[3, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0]]), f"with the cache: prefill 3, then 1 token per step, in eval mode: {np.asarray(spy.seen).tolist()}"
spy2 = Spy(gpt).eval()
generate(spy2, prompt, 3, temperature=0, use_cache=False)
assert np.array_equal(np.asarray(spy2.seen), [[3, 1, 0], [4, 1, 0], [5, 1, 0]]) and not spy2.training, f"without the cache: {np.asarray(spy2.seen).tolist()}"
assert spy.training, "the model goes back to the mode it was in"
assert np.array_equal(generate(gpt, prompt.tolist(), 10, temperature=0)[:, :9], fast), "the full max_len (12 = 3 + 10 - 1) fits"
assert "max_len" in raises(lambda: generate(gpt, prompt, 11, temperature=0), ValueError), "13 positions into max_len 12"
assert "max_len" in raises(lambda: generate(gpt, prompt, 11, temperature=0, use_cache=False), ValueError), "without the cache too"
p2 = Tensor(prompt.copy())
out0 = generate(gpt, p2, 0)
assert out0.shape == (2, 3) and out0.dtype == np.int64 and np.array_equal(p2.data, prompt), f"0 new tokens: the prompt, got {out0}"
g64 = f64(GPT(11, 16, 4, 3, 40), 4)
a, b, c = [(manual_seed(3), generate(g64, [[5]], 30, temperature=1.5, **kw))[1] for kw in ({}, {"use_cache": False}, {"top_k": 3, "top_p": 0.8})]
assert np.array_equal(a, b) and len(set(a[0].tolist())) > 3, f"sampling, same seed: cached {a.tolist()} vs uncached {b.tolist()}"
d = (manual_seed(3), sample_next(g64(np.array([[5]])).data[:, -1], 1.5, 3, 0.8))[1]
assert c[0, 1] == d[0] and not np.array_equal(c, a), "temperature, top_k and top_p reach sample_next"
### END HIDDEN TESTS

# %% [markdown]
# ## Beam search: a cache that follows its hypotheses
#
# Greedy commits to the best token *now*; a worse token may lead to a better sequence. **Beam
# search** extends the `beam_width` best partial sequences (by summed log-probabilities) by every
# token and keeps the best `beam_width`. Beams are batch rows: when beam $b$ continues beam $r$, it
# needs $r$'s cached keys and values (`reorder`). Scoring a finished sequence needs no cache: by
# causality one pass gives every token's log-probability given its prefix (*teacher forcing*).

# %% solution id="beam-search"
#| export
def beam_search(model, idx, max_new_tokens, beam_width=4):
    """Best continuation of one prompt `idx` (1, T0) (ndarray, list or Tensor of ids) found by beam
    search with a KVCache of beam_width rows (1 <= beam_width <= vocab size): returns (ids, logprob),
    ids an int64 ndarray (1, T0 + max_new_tokens), logprob (a float) the sum of the log-softmax of the
    model's logits at each new token. Start from the prompt alone (no duplicate beams); each step
    scores every (beam, token) pair and keeps the beam_width best (ties: lower beam, then lower
    token); the result is the best beam. Eval mode, no graph, the model's mode restored as generate.
    With beam_width 1 it is greedy decoding. EXAMPLE: beam_search(gpt, [[3, 1]], 4)[0].shape -> (1, 6)
    HINT: a start score of -inf silences a beam; `np.argsort(..., kind="stable")` of the flattened
    (beam_width, V) scores; `divmod` splits a flat index into (beam, token).
    """
    ### BEGIN SOLUTION
    prompt = np.array(idx.data if isinstance(idx, Tensor) else idx, dtype=np.int64)
    beams = np.repeat(prompt, beam_width, axis=0)
    scores = np.full(beam_width, -np.inf)
    scores[0] = 0.0
    cache = KVCache(model.num_layers, beam_width, model.max_len, model.num_heads,
                    model.d_model // model.num_heads, dtype=next(iter(model.parameters())).dtype)
    was_training, feed = model.training, beams
    model.eval()
    try:
        with no_grad():
            for _ in range(max_new_tokens):
                z = model(feed, kv_cache=cache).data[:, -1].astype(np.float64)
                z = z - z.max(axis=1, keepdims=True)
                logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
                total = (scores[:, None] + logp).ravel()
                best = np.argsort(-total, kind="stable")[:beam_width]
                rows, tokens = divmod(best, logp.shape[1])
                cache.reorder(rows)
                beams = np.concatenate([beams[rows], tokens[:, None]], axis=1)
                scores, feed = total[best], tokens[:, None]
    finally:
        model.train(was_training)
    return beams[:1], float(scores[0])
    ### END SOLUTION

# %% solution id="sequence-logprob"
def sequence_logprob(model, idx, start):
    """Log-probabilities (float64 ndarray (B,)) that `model` gives to tokens start .. T-1 of each
    row of `idx` (B, T) (ndarray or list of ids), each given the tokens before it, summed per row;
    1 <= start < T. One forward pass on all but the last token, in eval mode without a graph; the
    model is left in the mode it was in. For a beam_search result and start = T0 it is its logprob.
    EXAMPLE: a model that puts probability 1/2 on every next token, start = T - 2 -> 2 log(1/2)
    HINT: the logits at position t predict token t + 1; log-softmax with the row maximum
    subtracted; `np.take_along_axis` picks one entry per position.
    """
    ### BEGIN SOLUTION
    ids = np.asarray(idx, dtype=np.int64)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            z = model(ids[:, :-1]).data[:, start - 1:].astype(np.float64)
    finally:
        model.train(was_training)
    z = z - z.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return np.take_along_axis(logp, ids[:, start:, None], axis=-1)[..., 0].sum(axis=1)
    ### END SOLUTION

# %% test id="test-beam-search" points=5
import itertools
manual_seed(2)
g = f64(GPT(5, 16, 2, 2, 8), 8)
seqs = np.array(list(itertools.product(range(5), repeat=3)))
full = np.concatenate([np.tile([[1, 3]], (125, 1)), seqs], axis=1)
z = g(full[:, :-1]).data[:, 1:]
z = z - z.max(axis=2, keepdims=True)
logp = z - np.log(np.exp(z).sum(axis=2, keepdims=True))
lp = logp[np.arange(125)[:, None], np.arange(3), seqs].sum(axis=1)
ids, score = beam_search(g, np.array([[1, 3]]), 3, beam_width=25)
assert np.array_equal(ids[0, 2:], seqs[lp.argmax()]) and np.isclose(score, lp.max()), f"25 beams over 3 steps of 5 tokens are exhaustive: expected {seqs[lp.argmax()]} ({lp.max():.4f}), got {ids} ({score:.4f})"
ids, score = beam_search(g, [[1, 3]], 3, beam_width=1)
greedy = generate(g, [[1, 3]], 3, temperature=0)
assert np.array_equal(ids, greedy) and ids.dtype == np.int64, f"one beam is greedy: expected {greedy}, got {ids}"
got = sequence_logprob(g, full, 2)
assert got.shape == (125,) and np.allclose(got, lp, rtol=1e-10), f"sequence_logprob of the 125 continuations: expected {lp[:4]}..., got {got[:4]}..."
### BEGIN HIDDEN TESTS
got = [sequence_logprob(g, full[7:9].tolist(), 4), sequence_logprob(g, full[:1], 1)]
z0 = g(full[:1, :1]).data[0, 0]
exp = [logp[[7, 8], 2, seqs[[7, 8], 2]], z0[3] - z0.max() - np.log(np.exp(z0 - z0.max()).sum()) + lp[:1]]
assert np.allclose(got[0], exp[0], rtol=1e-10) and np.allclose(got[1], exp[1], rtol=1e-10), f"start=4 (the last token) and start=1 (the whole row): expected {exp}, got {got}"
spy = Spy(g).train()
sequence_logprob(spy, full[:2], 2)
assert np.asarray(spy.seen).tolist() == [[4, 1, 0]] and bool(spy.training), f"one pass on T - 1 = 4 tokens, no cache, in eval mode, then back to training: got {spy.seen}, training={spy.training}"
for width in (1, 2, 3, 5):
    ids, score = beam_search(g, [[1, 3]], 3, beam_width=width)
    k = int(np.flatnonzero((seqs == ids[0, 2:]).all(axis=1))[0])
    assert ids.shape == (1, 5) and np.isclose(score, lp[k]) and isinstance(score, float), f"width {width}: the score is the log-probability of the sequence returned: {lp[k]:.4f}, got {score}"
    assert score >= lp[np.flatnonzero((seqs == greedy[0, 2:]).all(axis=1))[0]] - 1e-9 or width == 1, f"width {width} found something worse than greedy here"
assert np.isclose(beam_search(g, [[1, 3]], 3, beam_width=5)[1], beam_search(g, Tensor(np.array([[1, 3]])), 3, beam_width=5)[1]), "a Tensor prompt"
c = KVCache(2, 3, 4, 1, 1)
for a in c.keys + c.values:
    a[...] = np.arange(3.0).reshape(3, 1, 1, 1) + 10 * np.arange(4.0).reshape(1, 1, 4, 1)
before = [a.copy() for a in c.keys + c.values]
c.reorder(np.array([2, 0, 0]))
assert all(np.array_equal(a, b[[2, 0, 0]]) for a, b in zip(c.keys + c.values, before)), "row b becomes old row rows[b] in every array"
c.reorder([1, 0, 2])
assert np.array_equal(c.values[1][:, 0, 0, 0], [0, 2, 0]), f"a swap must not overwrite a row before it is read: {c.values[1][:, 0, 0, 0]}"
g.train()
beam_search(g, [[1]], 2, beam_width=2)
assert g.training, "the model goes back to training mode"
### END HIDDEN TESTS

# %% [markdown]
# ## Speculative decoding
#
# Cached steps are cheap but sequential. A small **draft** model guesses $k$ tokens; the big model
# checks them in **one** call (as in `sequence_logprob`), keeps those it agrees with and adds its
# own: the same greedy output with up to $k+1$ times fewer big calls. Lowering `length` forgets rejects.

# %% solution id="speculative"
def speculative_generate(target, draft, idx, max_new_tokens, k=4):
    """Exactly generate(target, idx, max_new_tokens, temperature=0) for a prompt `idx` (1, T0)
    (ndarray or list of ids), with fewer calls of `target`: an int64 ndarray (1, T0 + max_new_tokens).
    target and draft: GPTs with one vocabulary, used in the mode they are in, each with its own
    KVCache (its max_len, its parameters' dtype); no graph. Each round the draft proposes greedily up
    to k tokens (never more than the tokens still needed minus one); the target runs once on the
    tokens its cache lacks plus the proposals; the longest prefix of proposals equal to the target's
    argmax choices is kept, plus the target's own next token. Then both caches are rewound to hold
    only right tokens (a cache holds every token of the sequence but the last).
    EXAMPLE: with draft = target every proposal is accepted: 10 new tokens after a 3-token prompt
             with k=4 take two target calls, fed 7 and then 5 tokens.
    HINT: the logits at position t choose token t + 1; setting `cache.length` forgets later positions.
    """
    ### BEGIN SOLUTION
    ids = np.array(idx, dtype=np.int64)
    caches = [KVCache(m.num_layers, 1, m.max_len, m.num_heads, m.d_model // m.num_heads,
                      dtype=next(iter(m.parameters())).dtype) for m in (target, draft)]
    tcache, dcache = caches
    with no_grad():
        while ids.shape[1] < len(idx[0]) + max_new_tokens:
            n = ids.shape[1]
            guess = ids
            for _ in range(min(k, len(idx[0]) + max_new_tokens - n - 1)):
                z = draft(guess[:, dcache.length:], kv_cache=dcache).data[:, -1]
                guess = np.concatenate([guess, z.argmax(axis=-1)[:, None]], axis=1)
            best = target(guess[:, tcache.length:], kv_cache=tcache).data.argmax(axis=-1)[:, n - 1 - guess.shape[1]:]
            proposed = guess[:, n:]
            a = 0
            while a < proposed.shape[1] and proposed[0, a] == best[0, a]:
                a += 1
            ids = np.concatenate([ids, proposed[:, :a], best[:, a:a + 1]], axis=1)
            tcache.length = n + a
            dcache.length = min(dcache.length, n + a)
    return ids
    ### END SOLUTION

# %% test id="test-speculative" points=3
manual_seed(0)
big, small = f64(GPT(11, 16, 2, 2, 14), 3), f64(GPT(11, 8, 1, 1, 14), 3)
ref = generate(big, [[1, 2, 3]], 10, temperature=0)
spy = Spy(big)
got = [speculative_generate(spy, big, [[1, 2, 3]], 10), np.asarray(spy.seen)[:, :2].tolist()]
assert np.array_equal(got[0], ref) and got[1] == [[7, 0], [5, 0]], f"a perfect draft: expected {ref.tolist()} from 2 cached target calls on 7 and 5 tokens, got {got}"
for k in (1, 3):
    got = speculative_generate(big, small, np.array([[1, 2, 3]]), 10, k)
    assert np.array_equal(got, ref) and got.dtype == np.int64, f"a poor draft, k={k}: expected greedy {ref.tolist()}, got {got.tolist()}"
### BEGIN HIDDEN TESTS
spy = Spy(big)
got = [speculative_generate(spy, small, [[1, 2, 3]], 10, 7), np.asarray(spy.seen)[:, 0].tolist()]
assert np.array_equal(got[0], ref) and got[1] == [10, 8, 8, 7, 6, 5, 4, 3, 2, 1], f"k=7, a draft always wrong here (one token a round, the last 7 rounds propose fewer): expected fed [10, 8, 8, 7, 6, 5, 4, 3, 2, 1], got {got}"
spy = Spy(big)
got = [speculative_generate(spy, big, [[5]], 13, 3), np.asarray(spy.seen)[:, 0].tolist()]
exp = generate(big, [[5]], 13, temperature=0)
assert np.array_equal(got[0], exp) and got[1] == [4, 4, 4, 1], f"the full max_len, the last round proposes nothing: expected {exp.tolist()} fed [4, 4, 4, 1], got {got}"
got = speculative_generate(big, small, [[4, 4]], 1, 5)
assert np.array_equal(got, generate(big, [[4, 4]], 1, temperature=0)), f"one new token needs no draft: got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## Measuring the speed-up
#
# `time_step` times one step at length $T$: the last token after an untimed prefill, or all $T$.

# %% solution id="time-step"
#| export
def time_step(model, ids, use_cache, repeats=3):
    """Seconds (a float, the best of `repeats` runs) of one generation step on ids (B, T), T >= 2,
    no graph, the model in the mode it is in; a fresh KVCache(model's sizes, max_len = T) per run.
    HINT: `time.perf_counter()` before and after the one call that is timed."""
    ### BEGIN SOLUTION
    best = float("inf")
    with no_grad():
        for _ in range(repeats):
            cache = None
            if use_cache:
                cache = KVCache(model.num_layers, ids.shape[0], ids.shape[1], model.num_heads,
                                model.d_model // model.num_heads)
                model(ids[:, :-1], kv_cache=cache)
            start = time.perf_counter()
            model(ids[:, -1:] if use_cache else ids, kv_cache=cache)
            best = min(best, time.perf_counter() - start)
    return best
    ### END SOLUTION

# %% test id="test-time-step" points=2
spy = Spy(GPT(7, 8, 2, 1, 16))
sec = time_step(spy, np.ones((2, 6), dtype=int), True, repeats=2)
assert np.array_equal(np.asarray(spy.seen)[:, :2], [[5, 0], [1, 0]] * 2) and 0 < sec < 1, f"prefill 5 then time 1 token, twice: {np.asarray(spy.seen).tolist()}, {sec} s"
### BEGIN HIDDEN TESTS
spy = Spy(GPT(7, 8, 2, 1, 16))
sec = time_step(spy, np.ones((1, 9), dtype=int), False)
assert np.array_equal(np.asarray(spy.seen)[:, :2], [[9, 1]] * 3) and 0 < sec < 1, f"without the cache: the 9 tokens, 3 times: {np.asarray(spy.seen).tolist()}"
slow, ones = GPT(7, 64, 2, 2, 300), np.ones((1, 256), dtype=int)
assert time_step(slow, ones, False, repeats=2) > 3 * time_step(slow, ones, True, repeats=2), "the cached step is faster"
### END HIDDEN TESTS

# %% [markdown]
# **Systems note.** Uncached, step time grows like $T$ then $T^2$; cached, it barely moves (Python
# overhead and $d^2$ matrix-vector products dominate until $T$ is in the thousands, so the speed-up
# trails the FLOPs ratio). The price: $2 L B\,\text{max\_len}\, d$ numbers held throughout.

# %%
import matplotlib.pyplot as plt

manual_seed(0)
model = GPT(64, 64, 4, 4, 512).eval()
seq = np.random.default_rng(0).integers(0, 64, size=(1, 512))
lengths = [16, 32, 64, 128, 256, 512]
times = {flag: [time_step(model, seq[:, :T], flag) for T in lengths] for flag in (False, True)}
for i, T in enumerate(lengths):
    ratio = step_flops(4, 64, 64, T, False) / step_flops(4, 64, 64, T, True)
    print(f"T={T:3d}: {times[False][i] * 1e3:6.2f} ms without, {times[True][i] * 1e3:5.2f} ms with the cache: {times[False][i] / times[True][i]:5.1f}x (FLOPs ratio {ratio:5.1f}x)")
print(f"a KVCache for max_len 512: {2 * 4 * 512 * 64 * 4 / 2 ** 20:.2f} MiB of float32")
plt.figure(figsize=(6, 4))
for flag, label in ((False, "without cache (all T tokens)"), (True, "with cache (one token)")):
    plt.loglog(lengths, np.array(times[flag]) * 1e3, marker="o", label=label)
plt.gca().set(xlabel="sequence length T", ylabel="ms per generated token", title="one generation step, GPT d=64, 4 layers")
plt.legend(), plt.show()
