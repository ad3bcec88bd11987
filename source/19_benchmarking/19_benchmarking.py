# %% [markdown]
# # 19 · Benchmarking
#
# "The int8 model is 2x faster" is a claim about a **distribution**: no two timings agree. An honest
# benchmark **warms up** (cold caches), **repeats**, reports the **median** (outliers cannot drag it)
# with a **95% confidence interval**, and names its **scenario** (MLPerf Inference, Reddi et al., 2020):
#
# | scenario | a query is | metric |
# |---|---|---|
# | *SingleStream* (a phone unlocking with a face) | one sample, sent when the last answer is back | latency (ms) |
# | *Offline* (re-indexing a photo library) | the whole data set, in batches | throughput (samples/s) |
# | *Server* (a web service) | one sample, arriving at random times | tail latency at a load |

# %%
#| default_exp benchmarking
#| export
import time

import matplotlib.pyplot as plt
import numpy as np

from tinytorch_lib.autograd import no_grad
from tinytorch_lib.data import DataLoader, TensorDataset
from tinytorch_lib.layers import Linear, Module, Sequential
from tinytorch_lib.quantization import model_size_bytes
from tinytorch_lib.tensor import Tensor

METRICS = ("accuracy", "latency", "size")

def _logits(output):
    """A model's output (a Tensor or an array-like) as an ndarray."""
    return output.data if isinstance(output, Tensor) else np.asarray(output)

# %% [markdown]
# ## How sure is a median? The bootstrap
#
# Efron's **bootstrap** (1979) tells how much the median of $n$ timings would move in a rerun: take the medians
# $m^*_b$ of $B$ resamples of size $n$ drawn **with replacement**; the **percentile** interval at confidence $c$ is
# their $\alpha$ and $1-\alpha$ quantiles, $\alpha = (1-c)/2$ (it shrinks as $1/\sqrt n$). Draws use their own
# `np.random.default_rng(seed)`, not `manual_seed`'s. A **speed-up** median(A)/median(B) resamples both independently.

# %% solution id="bootstrap"
#| export
def bootstrap_ci(samples, confidence=0.95, n_boot=1000, seed=0):
    """Interval `(low, high)` (Python floats) of the median of `samples` (array-like, flattened, not
    modified): resample indices `np.random.default_rng(seed).integers(0, n, size=(n_boot, n))`, then the
    alpha, 1 - alpha quantiles (`np.quantile`) of the medians. ValueError saying an empty sample is empty.
    EXAMPLE: bootstrap_ci([3.0, 3.0, 3.0]) -> (3.0, 3.0)
    HINT: fancy indexing with an (n_boot, n) index array gives every resample at once."""
    ### BEGIN SOLUTION
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("bootstrap_ci: the sample is empty")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    medians = np.median(x[idx], axis=1)
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(medians, [alpha, 1.0 - alpha])
    return float(low), float(high)
    ### END SOLUTION

def summarize(samples, confidence=0.95, n_boot=1000, seed=0):
    """{"median", "p90", "low", "high": floats, "n": int}: the median and 90th percentile (MLPerf's
    SingleStream metric; `np.percentile`) of the samples, the bootstrap_ci interval (same arguments)
    and the number of values. EXAMPLE: summarize([2.0, 2.0]) -> {"median": 2.0, "p90": 2.0, "low": 2.0, "high": 2.0, "n": 2}"""
    ### BEGIN SOLUTION
    x = np.asarray(samples, dtype=np.float64).ravel()
    low, high = bootstrap_ci(x, confidence=confidence, n_boot=n_boot, seed=seed)
    median, p90 = float(np.median(x)), float(np.percentile(x, 90))
    return {"median": median, "p90": p90, "low": low, "high": high, "n": int(x.size)}
    ### END SOLUTION

def speedup_ci(base, new, confidence=0.95, n_boot=1000, seed=0):
    """{"speedup": median(base) / median(new), "low", "high"} (floats) for two samples of times: one
    `np.random.default_rng(seed)` draws base's (n_boot, n_base) indices, then new's; the interval is the
    quantiles of the ratios of resampled medians, as above. ValueError if either is empty.
    EXAMPLE: speedup_ci([4.0, 4.0], [2.0, 2.0, 2.0]) -> {"speedup": 2.0, "low": 2.0, "high": 2.0}"""
    ### BEGIN SOLUTION
    a = np.asarray(base, dtype=np.float64).ravel()
    b = np.asarray(new, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError("speedup_ci: a sample is empty")
    rng = np.random.default_rng(seed)
    ma = np.median(a[rng.integers(0, a.size, size=(n_boot, a.size))], axis=1)
    mb = np.median(b[rng.integers(0, b.size, size=(n_boot, b.size))], axis=1)
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(ma / mb, [alpha, 1.0 - alpha])
    return {"speedup": float(np.median(a) / np.median(b)), "low": float(low), "high": float(high)}
    ### END SOLUTION

# %% helper
import numpy as np

def reference_medians(x, n_boot, g):  # the judge: bootstrap medians from generator g
    return np.median(np.take(np.asarray(x, float), g.integers(0, len(x), size=(n_boot, len(x)))), axis=-1)

def reference_ci(x, confidence, n_boot, seed):
    meds, a = reference_medians(x, n_boot, np.random.default_rng(seed)), (1 - confidence) / 2
    return float(np.quantile(meds, a)), float(np.quantile(meds, 1 - a))

def raises(fn, exc):  # the message of the `exc` that fn() must raise
    try:
        fn()
    except exc as e:
        return str(e)
    raise AssertionError(f"expected {exc.__name__} to be raised")

# %% test id="test-bootstrap" points=3
assert (got := bootstrap_ci([3.0, 3.0, 3.0, 3.0])) == (3.0, 3.0), f"a constant sample has an interval of width zero: expected (3.0, 3.0), got {got}"
sample = [5.1, 4.8, 5.0, 5.3, 4.9, 5.2, 5.0, 9.7]
(low, high), exp = bootstrap_ci(sample, seed=1), reference_ci(sample, 0.95, 1000, 1)
assert low <= np.median(sample) <= high, f"the interval should contain the median {np.median(sample)}, got ({low}, {high})"
assert np.allclose((low, high), exp) and bootstrap_ci(sample, seed=1) == (low, high), f"expected {exp} (seed 1) every time, got {(low, high)}"
s = summarize([2.0, 2.0])
assert s == {"median": 2.0, "p90": 2.0, "low": 2.0, "high": 2.0, "n": 2}, f"expected {{'median': 2.0, 'p90': 2.0, 'low': 2.0, 'high': 2.0, 'n': 2}}, got {s}"
assert (got := speedup_ci([4.0, 4.0], [2.0, 2.0, 2.0])) == {"speedup": 2.0, "low": 2.0, "high": 2.0}, f"4 ms -> 2 ms is a 2x speed-up with no doubt: got {got}"
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(7)
for n, conf, nb, seed in [(9, 0.95, 500, 3), (40, 0.8, 300, 11), (6, 0.5, 200, 0)]:
    xs = rng.standard_normal(n) * 3 + 10
    before, got, exp = xs.copy(), bootstrap_ci(xs, confidence=conf, n_boot=nb, seed=seed), reference_ci(xs, conf, nb, seed)
    assert np.allclose(got, exp), f"n={n}, confidence={conf}, n_boot={nb}, seed={seed}: expected {exp}, got {got}"
    assert np.array_equal(xs, before) and type(got[0]) is float is type(got[1]), f"two Python floats, samples unchanged: got {got}"
xs = rng.standard_normal(51)
wide, narrow = bootstrap_ci(xs, 0.99, seed=4), bootstrap_ci(xs, 0.5, seed=4)
assert wide[0] < narrow[0] <= narrow[1] < wide[1], f"a 99% interval contains a 50% one: got {wide} and {narrow}"
assert "empty" in raises(lambda: bootstrap_ci([]), ValueError), "say the sample is empty"
s, exp = summarize([[1.0, 7.0], [3.0, 5.0]], confidence=0.9, n_boot=200, seed=5), reference_ci([1.0, 7.0, 3.0, 5.0], 0.9, 200, 5)
assert s["median"] == 4.0 and np.isclose(s["p90"], 6.4) and s["n"] == 4 and np.allclose((s["low"], s["high"]), exp), f"a 2-D sample counts every value: expected median 4.0, p90 6.4, n 4, interval {exp}, got {s}"
a, b, g = rng.uniform(4, 6, 15), rng.uniform(1, 3, 9), np.random.default_rng(8)
ratios, got = reference_medians(a, 300, g) / reference_medians(b, 300, g), speedup_ci(a, b, confidence=0.8, n_boot=300, seed=8)
exp = [np.median(a) / np.median(b), *np.quantile(ratios, [0.1, 0.9])]
assert np.allclose([got["speedup"], got["low"], got["high"]], exp), f"base's indices first, then new's, seed 8, 80%: expected {exp}, got {got}"
assert raises(lambda: speedup_ci([1.0], []), ValueError) is not None and speedup_ci([3.0], [1.5])["speedup"] == 2.0, "only an empty sample raises"
### END HIDDEN TESTS

# %% [markdown]
# ## The two scenarios
#
# Both loops read the clock (an argument, default `time.perf_counter`) just before and after the
# work, run the model inside `no_grad()` and run `warmup` untimed rounds before the `repeats` timed
# ones. The tests hand in a model moving its own **fake clock**: every timing is known exactly.

# %% solution id="scenarios"
#| export
def single_stream(model, samples, warmup=2, repeats=20, clock=time.perf_counter):
    """SingleStream: `warmup` + `repeats` queries, query q calling model(samples[q % N : q % N + 1])
    once between two readings of `clock()` (seconds); `samples` is a Tensor (N, ...). Returns a
    float64 ndarray (repeats,): the latency in ms of each timed query (warm-up queries not reported).
    ValueError naming `repeats` if it is below 1 (the same in offline).
    EXAMPLE: a model taking 5 ms a call, warmup=1, repeats=3 -> array([5., 5., 5.]) after 4 calls"""
    ### BEGIN SOLUTION
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    n = samples.shape[0]
    latencies = []
    with no_grad():
        for q in range(warmup + repeats):
            i = q % n
            x = samples[i:i + 1]
            start = clock()
            model(x)
            stop = clock()
            if q >= warmup:
                latencies.append((stop - start) * 1000.0)
    return np.array(latencies, dtype=np.float64)
    ### END SOLUTION

def offline(model, batches, warmup=1, repeats=5, clock=time.perf_counter):
    """Offline: `warmup` + `repeats` passes, a pass calling model(batch) on every Tensor of the list
    `batches` in order, `clock()` read once before and once after the pass. Returns a float64
    ndarray (repeats,): (samples in all batches) / (seconds of the pass) of each timed pass.
    EXAMPLE: batches of 4, 4, 2 samples, 4 ms a call + 1 ms a sample: 22 ms a pass -> 454.5 /s"""
    ### BEGIN SOLUTION
    if repeats < 1:
        raise ValueError(f"offline: repeats must be at least 1, got {repeats}")
    total = sum(b.shape[0] for b in batches)
    rates = []
    with no_grad():
        for r in range(warmup + repeats):
            start = clock()
            for b in batches:
                model(b)
            seconds = clock() - start
            if r >= warmup:
                rates.append(total / seconds)
    return np.array(rates, dtype=np.float64)
    ### END SOLUTION

# %% test id="test-scenarios" points=4
class FakeModel(Module):
    def __init__(self, per_call, per_sample, slow_first=0.0):
        super().__init__()
        self.now, self.per_call, self.per_sample, self.slow_first, self.seen = 0.0, per_call, per_sample, slow_first, []
    clock = lambda self: self.now
    def forward(self, x):
        self.now += self.per_call + self.per_sample * x.shape[0] + (0.0 if self.seen else self.slow_first)
        self.seen.append(x.data[:, 0].astype(int).tolist())
        return Tensor(np.eye(3, dtype=np.float32)[x.data[:, 0].astype(int) % 3])
data = Tensor(np.arange(5, dtype=np.float32).reshape(5, 1))
m = FakeModel(0.004, 0.001)
got = single_stream(m, data, warmup=1, repeats=3, clock=m.clock)
assert np.allclose(got, [5.0, 5.0, 5.0]), f"4 ms a call + 1 ms a sample, one sample a query: expected [5, 5, 5] ms, got {got}"
assert m.seen == [[0], [1], [2], [3]], f"1 warm-up + 3 timed queries of samples 0, 1, 2, 3: got {m.seen}"
m = FakeModel(0.004, 0.001)
got = offline(m, [data[:4], data[:4], data[:2]], warmup=1, repeats=2, clock=m.clock)
assert np.allclose(got, [10 / 0.022] * 2) and len(m.seen) == 9, f"10 samples in 22 ms a pass, 3 passes of 3 calls: expected [454.5, 454.5] /s, got {got} after {len(m.seen)} calls"
### BEGIN HIDDEN TESTS
m = FakeModel(0.002, 0.0, slow_first=1.0)
got = single_stream(m, data, warmup=2, repeats=6, clock=m.clock)
assert got.dtype == np.float64 and got.shape == (6,) and np.allclose(got, 2.0), f"the slow first call is warm-up: expected six 2 ms latencies, got {got}"
assert m.seen == [[0], [1], [2], [3], [4], [0], [1], [2]], f"queries wrap around the 5 samples: got {m.seen}"
m = FakeModel(0.003, 0.0, slow_first=1.0)
assert np.allclose(got := single_stream(m, data, 0, 2, m.clock), [1003.0, 3.0]), f"warmup=0 times every query, the slow first one too: expected [1003, 3], got {got}"
m = FakeModel(0.001, 0.0005, slow_first=2.0)
got = offline(m, [data, data[:3]], warmup=2, repeats=3, clock=m.clock)
assert got.dtype == np.float64 and got.shape == (3,) and np.allclose(got, 8 / 0.006), f"8 samples in 2 * 1 + 8 * 0.5 = 6 ms: expected 1333.3 /s three times, got {got}"
assert len(m.seen) == 10 and m.seen[:2] == [[0, 1, 2, 3, 4], [0, 1, 2]], f"5 passes of 2 batches, in order: got {m.seen}"
m = FakeModel(0.001, 0.0, slow_first=0.009)
assert np.allclose(got := offline(m, [data[:2]], 0, 2, m.clock), [200.0, 2000.0]), f"warmup=0: the slow first pass (10 ms) is timed too: expected [200, 2000], got {got}"
class GradProbe(Module):
    def forward(self, x):
        self.grad_on = __import__("tinytorch_lib.autograd").autograd.is_grad_enabled()
        return x
probe = GradProbe()
got = [single_stream(probe, data, 0, 1) is None or probe.grad_on, offline(probe, [data], 0, 1) is None or probe.grad_on]
assert got == [False, False], f"single_stream and offline run the model inside no_grad(): grad was on {got}"
assert all("repeats" in raises(f, ValueError) for f in [lambda: single_stream(probe, data, 1, 0), lambda: offline(probe, [data], 1, 0)]), "repeats=0: ValueError naming repeats"
### END HIDDEN TESTS

# %% [markdown]
# ## Latency under load: the Server scenario
#
# A server answers one query at a time, first come first served. Query $i$ arrives at $a_i$, needs
# $s_i$ ms of work and starts once it has arrived **and** the previous one is done (Lindley):
# $$\text{start}_i = \max(a_i, \text{done}_{i-1}), \qquad \text{done}_i = \text{start}_i + s_i,
#   \qquad \text{latency}_i = \text{done}_i - a_i, \qquad \text{done}_{-1} = -\infty .$$
# With measured $s_i$ and Poisson arrivals: tail latency grows long before the load reaches capacity.

# %% solution id="server"
#| export
def queue_latencies(arrivals, service):
    """Latency (float64 ndarray, ms) of each query of a first-come-first-served single server, by
    the recursion above. `arrivals` (ms, non-decreasing) and `service` (ms) are 1-D array-likes of
    one length (ValueError naming both lengths otherwise); neither is modified.
    EXAMPLE: queue_latencies([0, 1, 10], [3, 3, 3]) -> [3., 5., 3.] (the second query waits 2 ms)"""
    ### BEGIN SOLUTION
    a = np.asarray(arrivals, dtype=np.float64)
    work = np.asarray(service, dtype=np.float64)
    if a.shape != work.shape:
        raise ValueError(f"arrivals has {a.size} queries but service has {work.size}")
    latency, done = np.empty_like(a), -np.inf
    for i in range(a.size):
        done = max(a[i], done) + work[i]
        latency[i] = done - a[i]
    return latency
    ### END SOLUTION

# %% test id="test-server" points=2
assert np.allclose(got := queue_latencies([0, 1, 10], [3, 3, 3]), [3, 5, 3]) and got.dtype == np.float64, f"the second query waits 2 ms behind the first: expected [3, 5, 3], got {got}"
### BEGIN HIDDEN TESTS
got = queue_latencies(np.array([0.0, 0.0, 0.0, 2.0, 20.0]), np.array([1.0, 2.0, 3.0, 0.5, 4.0]))
assert np.allclose(got, [1, 3, 6, 4.5, 4]), f"a burst at t=0 queues up: expected [1, 3, 6, 4.5, 4], got {got}"
assert np.allclose(queue_latencies([5.0], [2.0]), [2.0]) and np.allclose(queue_latencies([-3.0, -1.0], [1.0, 1.0]), [1.0, 1.0]), "a lone query, negative times"
assert "2" in (msg := raises(lambda: queue_latencies([0, 1], [1, 2, 3]), ValueError)) and "3" in msg, f"name both lengths: {msg}"
### END HIDDEN TESTS

# %% [markdown]
# ## The harness and its report
#
# `Benchmark(models, data, metrics=METRICS, size_fn=model_size_bytes, clock=time.perf_counter)`
# compares models (dict name -> model) on a `DataLoader` of `(x, y)`; ValueError naming an unknown
# metric, or for a loader without batches. It reads the loader once into `self.batches` (input
# Tensors), `self.samples` (all inputs in one Tensor), `self.labels` (int64 ndarray).
# `run(warmup, repeats, seed)` puts each model in eval mode and fills `self.results[name]`
# (returned) with its metrics' keys only: `"accuracy"` (float share of labels equal to the logits'
# arg-max, no graph); for `"latency"`, `"latency_ms"` and `"throughput"` (`summarize` of
# `single_stream` and of `offline` with the run's `warmup`, `repeats`, `seed` and the harness's
# clock); `"size_bytes"` (int `size_fn(model)`). `to_markdown()` (RuntimeError saying to call `run()`
# first without results): a header row, a separator `|---|---|...`, a row per model; rows are `| ` +
# cells joined by ` | ` + ` |`, joined by newlines. Columns: `model`, then the metrics run's, in order:
#
# | column header | cell | example |
# |---|---|---|
# | `accuracy` | percent, 1 decimal | `97.5%` |
# | `latency ms (median [95% CI])` | 3 decimals | `0.212 [0.201, 0.230]` |
# | `throughput samples/s (median [95% CI])` | no decimals | `15342 [15001, 15560]` |
# | `size KiB` | bytes / 1024, 1 decimal | `45.1` |
#
# `plot_results(results, path=None)` returns a figure, one bar panel per measurement present
# (latency, throughput, size; bar = median, error bar `low` to `high`), saved to `path` if given.

# %% solution id="harness"
#| export
class Benchmark:
    def __init__(self, models, data, metrics=METRICS, size_fn=model_size_bytes, clock=time.perf_counter):
        ### BEGIN SOLUTION
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; known: {list(METRICS)}")
        self.models, self.metrics = dict(models), tuple(metrics)
        self.size_fn, self.clock, self.results = size_fn, clock, None
        pairs = [(x, _logits(y)) for x, y in data]
        self.batches = [x for x, _ in pairs]
        if not self.batches:
            raise ValueError("Benchmark: the data loader yields no batch")
        self.samples = Tensor(np.concatenate([x.data for x in self.batches]))
        self.labels = np.concatenate([y for _, y in pairs]).astype(np.int64)
        ### END SOLUTION

    def run(self, warmup=2, repeats=20, seed=0):
        """EXAMPLE (a fake clock, 5 ms a call): {"a": {"accuracy": 1.0, "latency_ms": {"median": 5.0,
        "low": 5.0, "high": 5.0, "n": 20}, "throughput": {...}, "size_bytes": 160}}"""
        ### BEGIN SOLUTION
        results = {}
        for name, model in self.models.items():
            model.eval()
            row = {}
            if "accuracy" in self.metrics:
                with no_grad():
                    pred = np.concatenate([_logits(model(x)).argmax(axis=1) for x in self.batches])
                row["accuracy"] = float(np.mean(pred == self.labels))
            if "latency" in self.metrics:
                ms = single_stream(model, self.samples, warmup, repeats, self.clock)
                row["latency_ms"] = summarize(ms, seed=seed)
                rates = offline(model, self.batches, warmup, repeats, self.clock)
                row["throughput"] = summarize(rates, seed=seed)
            if "size" in self.metrics:
                row["size_bytes"] = int(self.size_fn(model))
            results[name] = row
        self.results = results
        return results
        ### END SOLUTION

    def to_markdown(self):
        """EXAMPLE (metrics=("accuracy",), one model "tiny" at 0.5):
        '| model | accuracy |\n|---|---|\n| tiny | 50.0% |'"""
        ### BEGIN SOLUTION
        if not self.results:
            raise RuntimeError("no results yet: call run() first")
        header, cells = ["model"], []
        if "accuracy" in self.metrics:
            header.append("accuracy")
            cells.append(lambda r: f"{100 * r['accuracy']:.1f}%")
        if "latency" in self.metrics:
            header += ["latency ms (median [95% CI])", "throughput samples/s (median [95% CI])"]
            cells.append(lambda r: "{median:.3f} [{low:.3f}, {high:.3f}]".format(**r["latency_ms"]))
            cells.append(lambda r: "{median:.0f} [{low:.0f}, {high:.0f}]".format(**r["throughput"]))
        if "size" in self.metrics:
            header.append("size KiB")
            cells.append(lambda r: f"{r['size_bytes'] / 1024:.1f}")
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for name, r in self.results.items():
            lines.append("| " + " | ".join([name] + [c(r) for c in cells]) + " |")
        return "\n".join(lines)
        ### END SOLUTION

    def plot(self, path):
        ### BEGIN SOLUTION
        plt.close(plot_results(self.results, path))
        return path
        ### END SOLUTION

def plot_results(results, path=None):
    """EXAMPLE: two models with latency, throughput and size -> a Figure with 3 axes, 2 bars each."""
    ### BEGIN SOLUTION
    names = list(results)
    panels = [(key, title) for key, title in [("latency_ms", "single-stream latency (ms)"),
              ("throughput", "offline throughput (samples/s)"), ("size_bytes", "size (KiB)")] if key in results[names[0]]]
    fig, axes = plt.subplots(1, len(panels), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels):
        if key == "size_bytes":
            ax.bar(names, [results[n][key] / 1024 for n in names], color="tab:green")
        else:
            med = np.array([results[n][key]["median"] for n in names])
            low = np.array([results[n][key]["low"] for n in names])
            high = np.array([results[n][key]["high"] for n in names])
            ax.bar(names, med, yerr=np.stack([med - low, high - med]))
        ax.set_title(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path)
    return fig
    ### END SOLUTION

# %% test id="test-harness" points=5
class Oracle(Module):
    """2 ms a call on the clock all Oracles share; predicts x[:, 0] (right), or 0 if wrong."""
    now, tick = [0.0], staticmethod(lambda: Oracle.now[0])
    def __init__(self, wrong=False):
        super().__init__()
        self.wrong, self.weight = wrong, None if wrong else Tensor(np.zeros((3, 4), np.float32), requires_grad=True)
    def forward(self, x):
        Oracle.now[0] += 0.002
        return Tensor(np.eye(3, dtype=np.float32)[np.zeros(x.shape[0], int) if self.wrong else x.data[:, 0].astype(int)])
xs, ys = np.array([[0.0], [1.0], [2.0], [0.0], [1.0]], np.float32), np.array([0, 1, 2, 0, 1])
loader = DataLoader(TensorDataset(Tensor(xs), Tensor(ys)), batch_size=2)
oracle = Oracle()
bench = Benchmark({"oracle": oracle, "zeros": Oracle(wrong=True)}, loader, clock=Oracle.tick)
res = bench.run(warmup=1, repeats=8, seed=0)
assert list(res) == ["oracle", "zeros"], f"one result per model, in order: got {list(res)}"
assert res["oracle"]["accuracy"] == 1.0 and res["zeros"]["accuracy"] == 0.4, f"expected accuracies 1.0 and 0.4 (2 of 5 labels are 0), got {res['oracle']['accuracy']}, {res['zeros']['accuracy']}"
lat, thr = res["oracle"]["latency_ms"], res["oracle"]["throughput"]
assert np.allclose([lat["median"], lat["low"], lat["high"]], 2.0) and lat["n"] == 8, f"8 queries of exactly 2 ms: expected median 2.0, interval (2.0, 2.0), n 8, got {lat}"
assert np.isclose(thr["median"], 5 / 0.006) and thr["n"] == 8, f"5 samples in 3 calls of 2 ms: expected 833.3 samples/s, got {thr}"
assert res["oracle"]["size_bytes"] == 48 and res["zeros"]["size_bytes"] == 0, f"expected 48 bytes (3 x 4 float32) and 0, got {res['oracle']['size_bytes']}, {res['zeros']['size_bytes']}"
table = bench.to_markdown().split("\n")
assert table[0] == "| model | accuracy | latency ms (median [95% CI]) | throughput samples/s (median [95% CI]) | size KiB |", f"header row: got {table[0]!r}"
assert table[1] == "|---|---|---|---|---|" and len(table) == 4, f"a separator row, then one row per model: got {table}"
assert table[2] == "| oracle | 100.0% | 2.000 [2.000, 2.000] | 833 [833, 833] | 0.0 |", f"got {table[2]!r}"
fig = plot_results(res)
heights = [round(p.get_height(), 6) for p in fig.axes[0].patches]
assert len(fig.axes) == 3 and heights == [2.0, 2.0], f"3 panels, the first with the 2 median latencies as bars: got {len(fig.axes)} panels, bars {heights}"
### BEGIN HIDDEN TESTS
assert not oracle.training, "run() puts each model in eval mode"
assert [round(p.get_height(), 6) for p in fig.axes[2].patches] == [0.046875, 0.0], "the size panel shows KiB"
assert "colour" in raises(lambda: Benchmark({}, loader, metrics=("accuracy", "colour")), ValueError), "name the unknown metric"
assert raises(lambda: Benchmark({}, DataLoader(TensorDataset(Tensor(xs[:0]), Tensor(ys[:0])))), ValueError), "no batches: ValueError"
assert np.array_equal(bench.labels, ys) and bench.labels.dtype == np.int64 and bench.samples.shape == (5, 1) and len(bench.batches) == 3, "labels, samples, batches"
class Zeros(Module):
    forward = lambda self, x: Tensor(np.zeros((x.shape[0], 3), np.float32))
sizes = Benchmark({"z": Zeros(), "o": Oracle()}, loader, metrics=("size",), size_fn=lambda m: 1536.0)
got = sizes.run()
assert got == {"z": {"size_bytes": 1536}, "o": {"size_bytes": 1536}} and type(got["z"]["size_bytes"]) is int, f"only the asked metric, size_fn's value as an int: got {got}"
assert sizes.results == got and len(plot_results(got).axes) == 1, "run() keeps its results in self.results; one panel for size alone"
assert sizes.to_markdown() == "| model | size KiB |\n|---|---|\n| z | 1.5 |\n| o | 1.5 |", f"got {sizes.to_markdown()!r}"
acc = Benchmark({"tiny": Zeros()}, DataLoader(TensorDataset(Tensor(xs[:2]), Tensor(ys[:2])), batch_size=1), metrics=("accuracy",))
assert acc.run()["tiny"] == {"accuracy": 0.5}, f"expected {{'accuracy': 0.5}}, got {acc.results}"
assert acc.to_markdown() == "| model | accuracy |\n|---|---|\n| tiny | 50.0% |", f"got {acc.to_markdown()!r}"
assert "run()" in raises(lambda: Benchmark({"z": Zeros()}, loader).to_markdown(), RuntimeError), "to_markdown before run(): say to call run() first"
class Slow(Zeros):
    t, n = [0.0], 0
    def forward(self, x):
        self.n, self.t[0] = self.n + 1, self.t[0] + 0.001 * (self.n + 1)
        return super().forward(x)
slow = Slow()
lat = Benchmark({"s": slow}, loader, metrics=("latency",), clock=lambda: slow.t[0]).run(warmup=2, repeats=5, seed=3)["s"]
exp = reference_ci([3.0, 4.0, 5.0, 6.0, 7.0], 0.95, 1000, 3)
assert np.isclose(lat["latency_ms"]["median"], 5.0) and np.allclose((lat["latency_ms"]["low"], lat["latency_ms"]["high"]), exp), f"latencies 3..7 ms after 2 warm-up calls, seed 3: expected median 5, interval {exp}, got {lat['latency_ms']}"
assert set(lat) == {"latency_ms", "throughput"} and slow.n == 7 + 7 * 3, f"7 single-stream calls, then 7 passes of 3 batches: got {slow.n} calls"
seg = np.asarray(plot_results({"a": {"latency_ms": {"median": 2.0, "low": 1.5, "high": 3.0, "n": 3}}}).axes[0].collections[0].get_segments()[0])
assert np.allclose(seg[:, 1], [1.5, 3.0]), f"an error bar from low 1.5 to high 3.0, got {seg[:, 1]}"
### END HIDDEN TESTS

# %% [markdown]
# **Systems note.** Warm-up, batching, how sure a median is, and load, on one untrained digits MLP.

# %%
from tinytorch_lib.activations import ReLU
from tinytorch_lib.data import load_digits
from tinytorch_lib.tensor import manual_seed
manual_seed(0)
X, y = load_digits(flatten=True)
loader = DataLoader(TensorDataset(X[:512], y[:512]), batch_size=64)
mlp = Sequential(Linear(64, 256), ReLU(), Linear(256, 256), ReLU(), Linear(256, 10))
cold = single_stream(mlp, X, warmup=0, repeats=200)
print(f"first 3 calls: {np.round(cold[:3], 3)} ms; median of the rest {np.median(cold[3:]):.3f} ms")
bench = Benchmark({"mlp": mlp, "wide": Sequential(Linear(64, 1024), ReLU(), Linear(1024, 10))}, loader)
results = bench.run(warmup=3, repeats=30)
print(bench.to_markdown())
for name, r in results.items():
    print(f"{name}: batching is {r['latency_ms']['median'] * r['throughput']['median'] / 1000:.1f}x faster per sample")
sizes, fig = [5, 10, 20, 50, 100, 197], plot_results(results)
widths = [np.subtract(*bootstrap_ci(cold[3:3 + n])[::-1]) for n in sizes]
service, loads = single_stream(mlp, X, repeats=2000), np.linspace(0.1, 0.95, 18)
gaps = np.random.default_rng(0).exponential(size=2000)        # Poisson arrivals, mean gap 1
p90 = [np.percentile(queue_latencies(np.cumsum(gaps) * np.mean(service) / u, service), 90) for u in loads]
print(f"p90 latency: {p90[0]:.3f} ms at 10% load, {p90[-1]:.3f} ms at 95% (one query alone: {np.median(service):.3f} ms)")
fig, axes = plt.subplots(1, 3, figsize=(15, 3.5))
axes[0].semilogy(cold, ".-", lw=0.5), axes[0].set(xlabel="query", ylabel="ms", title="single-stream latency, no warm-up")
axes[1].loglog(sizes, widths, "o-", sizes, widths[0] * np.sqrt(5 / np.array(sizes)), "--")
axes[1].set(xlabel="repeats n", ylabel="ms", title="95% CI width of the median (dashed: 1/sqrt(n))")
axes[2].plot(100 * loads, p90, "o-"), axes[2].set(xlabel="load (% of capacity)", ylabel="ms", title="Server: p90 latency"), plt.show()
