"""tinytorch_lib.benchmarking (module 19): the percentile bootstrap on hand-worked samples, both
MLPerf scenarios timed on a fake clock (no test depends on this machine's speed), the harness and
its Markdown table and plot."""
import numpy as np
import pytest

from tinytorch_lib.benchmarking import Benchmark, bootstrap_ci, offline, single_stream, speedup_ci, summarize
from tinytorch_lib.data import DataLoader, TensorDataset
from tinytorch_lib.layers import Linear, Module
from tinytorch_lib.tensor import Tensor


class FakeModel(Module):
    """Moves a shared fake clock by per_call + per_sample * batch seconds; predicts class x[:, 0]."""

    def __init__(self, clock, per_call=0.002, per_sample=0.0, right=True):
        super().__init__()
        self.t, self.per_call, self.per_sample, self.right, self.calls = clock, per_call, per_sample, right, 0
        self.weight = Tensor(np.zeros((3, 4), np.float32), requires_grad=True)

    def forward(self, x):
        self.calls += 1
        self.t[0] += self.per_call + self.per_sample * x.shape[0]
        cls = x.data[:, 0].astype(int) % 3 if self.right else np.zeros(x.shape[0], int)
        return Tensor(np.eye(3, dtype=np.float32)[cls])


def loader():
    xs, ys = np.array([[0.0], [1.0], [2.0], [0.0], [1.0]], np.float32), np.array([0, 1, 2, 0, 1])
    return DataLoader(TensorDataset(Tensor(xs), Tensor(ys)), batch_size=2)


def test_bootstrap_of_a_constant_sample_has_zero_width():
    assert bootstrap_ci([3.0] * 7) == (3.0, 3.0)
    assert summarize([2.0, 2.0]) == {"median": 2.0, "p90": 2.0, "low": 2.0, "high": 2.0, "n": 2}


def test_bootstrap_known_sample_median_interval_and_seed():
    sample = [float(v) for v in range(1, 11)] + [1000.0]
    s = summarize(sample, seed=0)
    assert s["median"] == 6.0 and s["n"] == 11
    assert s["low"] <= 6.0 <= s["high"] and 2.0 <= s["low"] and s["high"] <= 10.0    # the outlier barely matters
    assert summarize(sample, seed=0) == s                                             # deterministic under a seed
    # the percentile bootstrap by hand: the same draws, the same quantiles
    idx = np.random.default_rng(5).integers(0, 11, size=(400, 11))
    meds = np.median(np.array(sample)[idx], axis=1)
    assert np.allclose(bootstrap_ci(sample, 0.9, 400, seed=5), np.quantile(meds, [0.05, 0.95]))
    with pytest.raises(ValueError, match="empty"):
        bootstrap_ci([])


def test_speedup_interval():
    assert speedup_ci([4.0, 4.0], [2.0, 2.0, 2.0]) == {"speedup": 2.0, "low": 2.0, "high": 2.0}
    r = speedup_ci(np.full(20, 3.0) + np.linspace(0, 0.1, 20), np.full(20, 1.0) + np.linspace(0, 0.1, 20))
    assert r["low"] <= r["speedup"] <= r["high"] and r["low"] > 2.5


def test_single_stream_and_offline_on_a_fake_clock():
    clock = [0.0]
    m = FakeModel(clock, per_call=0.004, per_sample=0.001)
    data = Tensor(np.arange(5, dtype=np.float32).reshape(5, 1))
    ms = single_stream(m, data, warmup=2, repeats=4, clock=lambda: clock[0])
    assert np.allclose(ms, 5.0) and ms.shape == (4,) and m.calls == 6
    m.calls = 0
    rates = offline(m, [data[:4], data[:4], data[:2]], warmup=1, repeats=3, clock=lambda: clock[0])
    assert np.allclose(rates, 10 / 0.022) and m.calls == 12       # 3 calls + 10 samples = 22 ms a pass


def test_harness_results_table_and_plot(tmp_path):
    clock = [0.0]
    bench = Benchmark({"oracle": FakeModel(clock), "zeros": FakeModel(clock, right=False)}, loader(),
                      clock=lambda: clock[0])
    res = bench.run(warmup=1, repeats=8, seed=0)
    assert list(res) == ["oracle", "zeros"]
    assert res["oracle"]["accuracy"] == 1.0 and res["zeros"]["accuracy"] == 0.4
    assert np.isclose(res["oracle"]["latency_ms"]["median"], 2.0) and res["oracle"]["latency_ms"]["n"] == 8
    assert np.isclose(res["oracle"]["throughput"]["median"], 5 / 0.006)
    assert res["oracle"]["size_bytes"] == 48
    table = bench.to_markdown().split("\n")
    assert table[0] == "| model | accuracy | latency ms (median [95% CI]) | throughput samples/s (median [95% CI]) | size KiB |"
    assert table[1] == "|---|---|---|---|---|" and len(table) == 2 + 2
    assert table[2] == "| oracle | 100.0% | 2.000 [2.000, 2.000] | 833 [833, 833] | 0.0 |"
    assert table[3].startswith("| zeros | 40.0% |")
    path = bench.plot(tmp_path / "bench.png")
    assert path == tmp_path / "bench.png" and path.stat().st_size > 5_000


def test_harness_metrics_subset_and_errors():
    bench = Benchmark({"lin": Linear(1, 3)}, loader(), metrics=("size",))
    assert bench.run() == {"lin": {"size_bytes": (3 + 3) * 4}}
    assert bench.to_markdown() == "| model | size KiB |\n|---|---|\n| lin | 0.0 |"
    with pytest.raises(ValueError, match="colour"):
        Benchmark({}, loader(), metrics=("colour",))
    with pytest.raises(RuntimeError, match="run"):
        Benchmark({"lin": Linear(1, 3)}, loader()).to_markdown()
