"""tinytorch_lib.profiling (module 15): parameter and FLOP counts against values worked out by hand,
the trace (paths, shapes, self time, wrappers removed), activation memory and latency statistics."""
import time

import numpy as np
import pytest

from tinytorch_lib.activations import GELU, ReLU
from tinytorch_lib.attention import MultiHeadAttention
from tinytorch_lib.layers import Flatten, Linear, Module, Sequential
from tinytorch_lib.profiling import (activation_memory, count_flops, count_parameters, gpt_flops, layer_flops,
                                     measure_latency, named_layers, print_profile, profile, trace, training_memory)
from tinytorch_lib.spatial import Conv2d, MaxPool2d
from tinytorch_lib.tensor import Tensor
from tinytorch_lib.transformer import GPT


def test_mlp_by_hand():
    mlp = Sequential(Linear(4, 8), ReLU(), Linear(8, 3))
    # params 4*8 + 8 + 8*3 + 3 = 67; FLOPs on (2, 4): 2*(2*8)*4 + 2*(2*3)*8 = 128 + 96
    assert count_parameters(mlp) == 67
    assert count_flops(mlp, (2, 4)) == 224
    # leaf outputs (2, 8), (2, 8), (2, 3): 38 floats
    assert activation_memory(mlp, (2, 4)) == 38 * 4


def test_conv_with_stride_and_padding_by_hand():
    # Conv2d(3, 8, 3, stride 2, padding 1) on 9x9: out 5x5 = (9 + 2 - 3)//2 + 1; 2*(8*25)*(3*9) = 10800
    # Conv2d(8, 4, (2, 3)) on 5x5: out 4x3; 2*(4*12)*(8*6) = 4608; Linear(48, 10): 2*10*48 = 960
    cnn = Sequential(Conv2d(3, 8, 3, stride=2, padding=1), ReLU(), Conv2d(8, 4, (2, 3)), Flatten(), Linear(48, 10))
    assert count_flops(cnn, (1, 3, 9, 9)) == 10800 + 4608 + 960
    assert count_flops(cnn, (3, 3, 9, 9)) == 3 * (10800 + 4608 + 960)
    assert count_parameters(cnn) == (8 * 27 + 8) + (4 * 48 + 4) + (480 + 10)
    assert layer_flops(MaxPool2d(2), (1, 1, 4, 4), (1, 1, 2, 2)) == 0


def test_attention_by_hand():
    # E=8, 2 heads, (B, T) = (2, 5): 4 projections 2*(10*8)*8 = 1280 each; QK^T and AV 2*(2*2*5*5*4) each
    mha = MultiHeadAttention(8, 2)
    assert count_flops(mha, (2, 5, 8)) == 4 * 1280 + 2 * 800
    assert count_parameters(mha) == 4 * (64 + 8)
    rows = profile(mha, Tensor(np.zeros((2, 5, 8), dtype=np.float32)))
    assert [r[:3] for r in rows] == [("MultiHeadAttention", 0, 1600)] + [(f"{n} (Linear)", 72, 1280) for n in ("q_proj", "k_proj", "v_proj", "out_proj")]


def test_gpt_closed_form_matches_the_counter():
    for args, shape in [((11, 8, 2, 3, 6), (2, 5)), ((64, 64, 4, 2, 64), (1, 64))]:
        vocab, d, _, layers, _ = args
        assert gpt_flops(vocab, d, layers, shape[1], shape[0]) == count_flops(GPT(*args), shape, np.int64)
    assert gpt_flops(64, 64, 2, 64) == 15204352


def test_trace_self_time_and_cleanup():
    class Sleepy(Module):
        def __init__(self, seconds, child=None):
            super().__init__()
            self.seconds, self.child = seconds, child

        def forward(self, x):
            time.sleep(self.seconds)
            return x if self.child is None else self.child(x)
    net = Sleepy(0.04, Sleepy(0.02))
    calls = trace(net, np.zeros(3))
    assert [c["path"] for c in calls] == ["", "child"]
    assert 39 < calls[0]["ms"] < 58 and 19 < calls[1]["ms"] < 38
    assert "forward" not in vars(net) and "forward" not in vars(net.child)
    bad = Sequential(Linear(4, 3), Linear(5, 2))
    with pytest.raises(Exception):
        trace(bad, Tensor(np.zeros((1, 4))))
    assert all("forward" not in vars(m) for _, m in named_layers(bad))


def test_named_layers_finds_activations():
    net = Sequential(Linear(4, 8), ReLU(), Sequential(Linear(8, 2), GELU()))
    assert [p for p, _ in named_layers(net)] == ["", "0", "1", "2", "2.0", "2.1"]


def test_print_profile_and_training_memory(capsys):
    text = print_profile([("0 (Linear)", 10, 2_000_000, (2, 3), 1.5)])
    assert capsys.readouterr().out.strip() == text.strip()
    assert text.splitlines()[-1].split() == ["total", "10", "2.000", "1.500"]
    got = training_memory(Linear(4, 3), (2, 4))
    assert got == {"weights": 60, "gradients": 60, "optimizer": 120, "activations": 24, "total": 264}


def test_measure_latency_excludes_warmup_and_reports_ms():
    plan = [0.1] * 3 + [0.0] * 6 + [0.02, 0.0, 0.005, 0.0]    # slow warm-ups, one 20 ms call
    calls = []

    def step():
        time.sleep(plan[len(calls)])
        calls.append(1)
    got = measure_latency(step, warmup=3, repeats=10)
    t = np.array(got["times_ms"])
    assert len(calls) == 13 and len(t) == 10
    assert t[6] >= 20 and t[8] >= 5 and t.max() < 95          # milliseconds, call order, no warm-up
    assert np.allclose([got["median_ms"], got["p90_ms"], got["min_ms"]], [np.median(t), np.percentile(t, 90), t.min()])
    with pytest.raises(ValueError, match="repeats"):
        measure_latency(step, repeats=0)
