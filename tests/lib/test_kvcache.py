"""tinytorch_lib.kvcache (module 14): the preallocated cache (positions written exactly once, position
0 included; overflow naming max_len; reset), cached logits equal to the full pass at every step in
float64, generate (greedy with the cache == greedy without it, top_k=1 == greedy, sampling
reproducible under manual_seed), sampling statistics, beam search against exhaustive search."""
import itertools

import numpy as np
import pytest

from tinytorch_lib.kvcache import KVCache, beam_search, generate, sample_next, step_flops
from tinytorch_lib.tensor import Tensor, manual_seed
from tinytorch_lib.transformer import GPT


def float64_gpt(vocab=13, d=16, heads=2, layers=2, max_len=12, scale=1.0, seed=0):
    manual_seed(seed)
    gpt = GPT(vocab, d, heads, layers, max_len)
    for p in gpt.parameters():
        p.data = p.data.astype(np.float64) * scale
    return gpt


def nan_cache(*args, **kwargs):
    cache = KVCache(*args, **kwargs)
    for a in cache.keys + cache.values:
        a[...] = np.nan
    return cache


def test_update_by_hand():
    c = KVCache(2, 1, 5, 1, 2)
    assert c.length == 0 and len(c.keys) == len(c.values) == 2 and c.keys[0].shape == (1, 1, 5, 2)
    k = Tensor(np.arange(6.0).reshape(1, 1, 3, 2))
    keys, values = c.update(0, k, k * 10)
    assert np.array_equal(keys.data[0, 0], [[0, 1], [2, 3], [4, 5]])
    assert np.array_equal(values.data[0, 0], [[0, 10], [20, 30], [40, 50]])
    assert c.length == 0                       # only the last layer moves length on
    c.update(1, k, k)
    assert c.length == 3
    keys, _ = c.update(0, Tensor([[[[7.0, 8.0]]]]), Tensor([[[[9.0, 9.0]]]]))
    assert keys.shape == (1, 1, 4, 2) and np.array_equal(keys.data[0, 0], [[0, 1], [2, 3], [4, 5], [7, 8]])
    assert keys.dtype == np.float32


def test_every_position_written_exactly_once_position_zero_included():
    gpt = float64_gpt()
    ids = np.random.default_rng(1).integers(0, 13, size=(2, 9))
    cache = nan_cache(2, 2, 12, 2, 8, dtype=np.float64)
    steps = [ids[:, :1], ids[:, 1:4], *[ids[:, t:t + 1] for t in range(4, 9)]]
    for chunk in steps:
        before = [a.copy() for a in cache.keys + cache.values]
        start = cache.length
        gpt(chunk, kv_cache=cache)
        assert cache.length == start + chunk.shape[1]
        for a, old in zip(cache.keys + cache.values, before):
            assert np.all(np.isfinite(a[:, :, :cache.length]))          # 0 .. length-1 written
            assert np.all(np.isnan(a[:, :, cache.length:]))             # nothing beyond
            assert np.array_equal(a[:, :, :start], old[:, :, :start])   # nothing written twice
    assert cache.length == 9


def test_cached_logits_equal_full_pass_at_every_step_float64():
    gpt = float64_gpt(layers=3)
    ids = np.random.default_rng(2).integers(0, 13, size=(3, 12))
    full = gpt(ids).data
    cache = KVCache(3, 3, 12, 2, 8, dtype=np.float64)
    got = [gpt(ids[:, :2], kv_cache=cache).data]
    for t in range(2, 12):
        step = gpt(ids[:, t:t + 1], kv_cache=cache).data
        assert np.allclose(step[:, 0], full[:, t], rtol=0, atol=1e-12), t
        got.append(step)
    assert np.allclose(np.concatenate(got, axis=1), full, rtol=0, atol=1e-12)


def test_overflow_raises_naming_max_len_and_changes_nothing():
    c = KVCache(1, 1, 4, 1, 2)
    c.update(0, Tensor(np.ones((1, 1, 3, 2))), Tensor(np.ones((1, 1, 3, 2))))
    before = c.keys[0].copy()
    with pytest.raises(ValueError, match="max_len=4"):
        c.update(0, Tensor(np.full((1, 1, 2, 2), 5.0)), Tensor(np.full((1, 1, 2, 2), 5.0)))
    assert c.length == 3 and np.array_equal(c.keys[0], before)
    c.update(0, Tensor(np.ones((1, 1, 1, 2))), Tensor(np.ones((1, 1, 1, 2))))     # exactly full is fine
    assert c.length == 4
    with pytest.raises(ValueError, match=r"\(1, 1, 1, 2\)"):
        KVCache(1, 1, 4, 1, 2).update(0, Tensor(np.ones((1, 2, 1, 2))), Tensor(np.ones((1, 2, 1, 2))))


def test_reset_reuses_the_arrays():
    c = KVCache(2, 1, 4, 1, 1)
    ids = [id(a) for a in c.keys + c.values]
    for layer in (0, 1):
        c.update(layer, Tensor(np.ones((1, 1, 3, 1))), Tensor(np.ones((1, 1, 3, 1))))
    c.reset()
    assert c.length == 0 and [id(a) for a in c.keys + c.values] == ids
    keys, _ = c.update(0, Tensor(np.full((1, 1, 2, 1), 2.0)), Tensor(np.zeros((1, 1, 2, 1))))
    assert keys.shape == (1, 1, 2, 1) and np.all(keys.data == 2)


def test_reorder_copies_rows_in_place():
    c = KVCache(1, 3, 2, 1, 1)
    c.keys[0][...] = np.arange(3.0).reshape(3, 1, 1, 1)
    arr = c.keys[0]
    c.reorder([1, 0, 0])
    assert c.keys[0] is arr and np.array_equal(arr[:, 0, 0, 0], [1, 0, 0])


def test_step_flops_by_hand():
    assert step_flops(1, 2, 3, 4, True) == 108 + 32
    assert step_flops(1, 2, 3, 4, False) == 4 * 108 + 4 * 16 * 2
    assert step_flops(1, 2, 3, 1, True) == step_flops(1, 2, 3, 1, False)


def test_greedy_with_cache_equals_greedy_without_token_for_token():
    gpt = float64_gpt(max_len=16, scale=3.0)
    prompt = np.array([[1, 2, 3, 4], [0, 5, 5, 9]])             # a prompt longer than one token
    fast = generate(gpt, prompt, 13, temperature=0)              # 4 + 13 - 1 = 16 = max_len: fits
    slow = generate(gpt, prompt, 13, temperature=0, use_cache=False)
    assert fast.shape == (2, 17) and fast.dtype == np.int64 and np.array_equal(fast[:, :4], prompt)
    assert np.array_equal(fast, slow)
    assert np.array_equal(generate(gpt, prompt, 13, top_k=1), fast)
    for use_cache in (True, False):
        with pytest.raises(ValueError, match="max_len"):
            generate(gpt, prompt, 14, temperature=0, use_cache=use_cache)


def test_generate_float32_model_matches_too():
    manual_seed(3)
    gpt = GPT(11, 16, 2, 2, 24)
    a = generate(gpt, [[3]], 20, temperature=0)
    assert np.array_equal(a, generate(gpt, [[3]], 20, temperature=0, use_cache=False))
    assert gpt.training                                           # mode restored


def test_sampling_reproducible_under_manual_seed():
    gpt = float64_gpt(max_len=40, scale=3.0)
    manual_seed(5)
    a = generate(gpt, [[5]], 30, temperature=1.2)
    manual_seed(5)
    b = generate(gpt, [[5]], 30, temperature=1.2, use_cache=False)
    manual_seed(6)
    c = generate(gpt, [[5]], 30, temperature=1.2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_sampling_statistics_temperature_top_k_top_p():
    p = np.array([0.1, 0.2, 0.3, 0.4])
    z = np.tile(np.log(p), (6000, 1))
    cases = [({}, p), ({"temperature": 0.5}, p ** 2 / np.sum(p ** 2)),
             ({"temperature": 2.0}, np.sqrt(p) / np.sum(np.sqrt(p))), ({"top_k": 2}, [0, 0, 3 / 7, 4 / 7]),
             ({"top_p": 0.5}, [0, 0, 3 / 7, 4 / 7]), ({"top_k": 10}, p)]
    for kwargs, want in cases:
        manual_seed(0)
        freq = np.bincount(sample_next(z, **kwargs), minlength=4) / len(z)
        assert np.allclose(freq, want, atol=0.025), (kwargs, freq)
    assert np.array_equal(sample_next(np.array([[1.0, 3.0, 3.0]]), temperature=0), [1])   # ties: lower id
    assert np.all(sample_next(np.tile([1.0, 3.0, 2.0], (200, 1)), temperature=5.0, top_k=1) == 1)


def test_beam_search_against_exhaustive_search():
    gpt = float64_gpt(vocab=5, max_len=8, scale=8.0, seed=2)
    seqs = np.array(list(itertools.product(range(5), repeat=3)))
    full = np.concatenate([np.tile([[1, 3]], (125, 1)), seqs], axis=1)
    z = gpt(full[:, :-1]).data[:, 1:]
    logp = z - z.max(axis=2, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=2, keepdims=True))
    lp = logp[np.arange(125)[:, None], np.arange(3), seqs].sum(axis=1)
    ids, score = beam_search(gpt, [[1, 3]], 3, beam_width=25)
    assert np.array_equal(ids[0, 2:], seqs[lp.argmax()]) and np.isclose(score, lp.max())
    ids, score = beam_search(gpt, [[1, 3]], 3, beam_width=1)
    assert np.array_equal(ids, generate(gpt, [[1, 3]], 3, temperature=0))
