# %% [markdown]
# # 15 · Profiling
#
# Before making a model faster or smaller, measure it: **parameters** (stored), **FLOPs**
# (arithmetic), **activation memory** (written by a pass) follow from the shapes; **latency** must be
# measured, carefully. A multiply-add is 2 FLOPs, so $(M \times K)(K \times N)$ costs $2MKN$; biases,
# activations and normalisations ($O(\text{elements})$) are not counted.
#
# | layer | input | output | FLOPs of one call |
# |---|---|---|---|
# | `Linear(in, out)` | $(\dots, \text{in})$ | $(\dots, \text{out})$ | $2 \cdot \#\text{outputs} \cdot \text{in}$ |
# | `Conv2d(C, O, (k_h, k_w))` | $(N, C, H, W)$ | $(N, O, H_o, W_o)$ | $2 \cdot N O H_o W_o \cdot C k_h k_w$ |
# | `MultiHeadAttention(E, H)` | $(B, T, E)$ | $(B, T, E)$ | its 4 Linears, plus $QK^\top$, $AV$: $2 \cdot 2BHT^2 \tfrac{E}{H}$ |
#
# A conv output pixel is a dot product over its $C k_h k_w$ window (stride, padding change only
# $H_o, W_o$). Per head, scores $(T \times D)(D \times T)$ and output $(T \times T)(T \times D)$, $D = E/H$.
# A layer with its own method `flops(in_shape, out_shape)` (module 16's fused layer) is its own rule.

# %%
#| default_exp profiling
#| export
import time

import numpy as np

from tinytorch_lib.activations import Activation
from tinytorch_lib.attention import MultiHeadAttention
from tinytorch_lib.autograd import no_grad
from tinytorch_lib.layers import Linear, Module
from tinytorch_lib.spatial import Conv2d
from tinytorch_lib.tensor import Tensor

# %%
from tinytorch_lib.activations import GELU, ReLU
from tinytorch_lib.layers import Flatten, Sequential
from tinytorch_lib.losses import MSELoss
from tinytorch_lib.tensor import manual_seed

# %% solution id="flop-rules"
#| export
def count_parameters(model):
    """The number of scalar parameters of `model` (every Tensor of model.parameters()), an int.
    A Tensor shared by two layers counts once. EXAMPLE: count_parameters(Linear(4, 3)) -> 15
    """
    ### BEGIN SOLUTION
    return int(sum(p.data.size for p in model.parameters()))
    ### END SOLUTION

def layer_flops(module, in_shape, out_shape):
    """FLOPs (an int) of one call of `module` itself, not of its sub-modules, by the table above;
    in_shape and out_shape are the tuples of the call's input and output. A module with a `flops`
    method gives module.flops(in_shape, out_shape); a subclass of Linear counts as a Linear; any
    other layer 0. `Conv2d.kernel_size` is a pair (kh, kw).
    EXAMPLE: layer_flops(Linear(4, 3), (2, 4), (2, 3)) -> 48; layer_flops(ReLU(), (2, 3), (2, 3)) -> 0
    HINT: the output shape already holds stride and padding; `np.prod` of a shape; `isinstance`.
    """
    ### BEGIN SOLUTION
    if hasattr(module, "flops"):
        return int(module.flops(in_shape, out_shape))
    if isinstance(module, Linear):
        return 2 * int(np.prod(out_shape)) * in_shape[-1]
    if isinstance(module, Conv2d):
        kh, kw = module.kernel_size
        return 2 * int(np.prod(out_shape)) * in_shape[1] * kh * kw
    if isinstance(module, MultiHeadAttention):
        B, T, E = in_shape
        return 2 * (2 * B * T * T * E)
    return 0
    ### END SOLUTION

# %% test id="test-flop-rules" points=3
got = (count_parameters(Linear(4, 3)), layer_flops(Linear(4, 3), (2, 4), (2, 3)), layer_flops(ReLU(), (2, 3), (2, 3)))
assert got == (15, 48, 0), f"Linear(4, 3): expected 4*3 + 3 = 15 parameters, on (2, 4) 2*3 outputs of 4 multiply-adds = 48 FLOPs, ReLU 0; got {got}"
got = layer_flops(Conv2d(1, 2, 2), (1, 1, 3, 3), (1, 2, 2, 2))
assert got == 64, f"Conv2d(1, 2, 2) on a 3x3 image: 8 output pixels of 1*2*2 multiply-adds, expected 2*8*4 = 64 FLOPs, got {got}"
got = layer_flops(MultiHeadAttention(4, 1), (1, 2, 4), (1, 2, 4))
assert got == 64, f"attention on (1, 2, 4): scores (2x4)(4x2) and output (2x2)(2x4), 16 multiply-adds each: expected 64 FLOPs, got {got}"
### BEGIN HIDDEN TESTS
cv, mha = Conv2d(3, 4, (2, 3), stride=2, padding=1), MultiHeadAttention(6, 2)
for what, got, exp in [("Linear(5, 7) on (2, 3, 5): FLOPs, params, params without bias", (layer_flops(Linear(5, 7), (2, 3, 5), (2, 3, 7)),
                         count_parameters(Linear(5, 7)), count_parameters(Linear(5, 7, bias=False))), (420, 42, 35)),
                       ("Conv2d(3, 4, (2, 3), stride 2, padding 1) on (2, 3, 7, 6) -> (2, 4, 4, 3): FLOPs, params",
                        (layer_flops(cv, (2, 3, 7, 6), (2, 4, 4, 3)), count_parameters(cv)), (3456, 76)),
                       ("MultiHeadAttention(6, 2) on (3, 5, 6): FLOPs, params", (layer_flops(mha, (3, 5, 6), (3, 5, 6)), count_parameters(mha)), (1800, 168))]:
    assert got == exp, f"{what}: expected {exp}, got {got}"
class Wide(Linear):
    pass
class Costly(Module):
    def flops(self, in_shape, out_shape):
        return in_shape[0] * 1000 + out_shape[0]
got = (layer_flops(Wide(5, 7), (3, 5), (3, 7)), layer_flops(Costly(), (2,), (3,)), layer_flops(Sequential(), (2,), (2,)), count_parameters(Module()))
assert got == (210, 2003, 0, 0), f"expected 210 for a subclass of Linear, 2003 from a flops method, 0 for a Sequential and 0 parameters, got {got}"
assert type(got[0]) is int and type(got[3]) is int, f"expected ints, got {type(got[0])}, {type(got[3])}"
### END HIDDEN TESTS

# %% [markdown]
# ## Tracing a forward pass
#
# `forward` is arbitrary Python, so the shapes each layer sees are found by **running** it once.
# The layers are the modules and the module-02 activations they hold (not Modules). An attribute set
# on an instance hides the class's method: `layer.forward = wrapper` puts a probe in front of a
# layer; deleting the attribute removes it.
#
# A layer's wall time includes the layers it calls, so a profiler reports **self time**: wall time
# minus that of the calls inside it; self times add up to the whole pass. Running calls form a stack:
# when one ends, its time is subtracted from the one below. Beware late binding: a function made in a
# loop sees the loop variable's *last* value unless a default argument or a factory binds it.

# %% solution id="layers"
#| export
def named_layers(model, prefix="", memo=None):
    """Yield (path, layer) for `model` and every layer inside it, depth first, each object once.

    Like Module.named_modules(), whose walk and names it follows, but a layer is also an
    activation of module 02 (ReLU, GELU, ...: an `Activation`, not a Module): found as an
    attribute, or as an item of a list or tuple attribute, it is yielded (and not entered).
    A model that is itself an activation yields ("", model) only.
    EXAMPLE: named_layers(Sequential(Linear(4, 8), ReLU(), Sequential(Linear(8, 2), GELU())))
             -> "", "0", "1", "2", "2.0", "2.1"   (with the objects)
    HINT: a generator may `yield from` a recursive call; `enumerate` numbers a list's items.
    """
    ### BEGIN SOLUTION
    memo = set() if memo is None else memo
    if id(model) in memo:
        return
    memo.add(id(model))
    yield prefix, model
    if not isinstance(model, Module):
        return
    for name, value in vars(model).items():
        items = list(enumerate(value)) if isinstance(value, (list, tuple)) else [(None, value)]
        for i, item in items:
            if isinstance(item, (Module, Activation)):
                path = name if i is None else f"{name}.{i}"
                yield from named_layers(item, f"{prefix}.{path}" if prefix else path, memo)
    ### END SOLUTION

def own_parameters(layer):
    """Scalars in the Tensors with requires_grad that `layer` holds as attributes itself (not
    through a sub-layer), an int. EXAMPLE: own_parameters(Linear(4, 3)) -> 15; of a Sequential: 0"""
    ### BEGIN SOLUTION
    return int(sum(v.data.size for v in vars(layer).values() if isinstance(v, Tensor) and v.requires_grad))
    ### END SOLUTION

def is_leaf(layer):
    """True for a layer without sub-layers in named_layers (Linear, Conv2d, ReLU, ...)."""
    ### BEGIN SOLUTION
    return len(list(named_layers(layer))) == 1
    ### END SOLUTION

# %% test id="test-layers" points=2
net = Sequential(Linear(4, 8), ReLU(), Sequential(Linear(8, 2), GELU()))
got = [p for p, _ in named_layers(net)]
assert got == ["", "0", "1", "2", "2.0", "2.1"], f"expected the paths ['', '0', '1', '2', '2.0', '2.1'], got {got}"
got = (own_parameters(net[0]), own_parameters(net), is_leaf(net[0]), is_leaf(net[1]), is_leaf(net))
assert got == (40, 0, True, True, False), f"expected own parameters 40 and 0, leaves Linear and ReLU, not the Sequential, got {got}"
### BEGIN HIDDEN TESTS
class Holder(Module):
    def __init__(self):
        super().__init__()
        self.w = Tensor(np.ones((2, 3)), requires_grad=True)
        self.c = Tensor(np.ones(5))
        self.acts = [ReLU(), 3, GELU()]
        self.pair = (Linear(2, 2), Linear(2, 1, bias=False))
        self.again = self.pair[0]
        self.act = self.acts[0]
h = Holder()
got = [p for p, _ in named_layers(h)]
assert got == ["", "acts.0", "acts.2", "pair.0", "pair.1"], f"lists, tuples, activations, each object once: expected ['', 'acts.0', 'acts.2', 'pair.0', 'pair.1'], got {got}"
got = [p for p, _ in named_layers(GELU())] + [p for p, _ in named_layers(h.pair[1], "x")]
assert got == ["", "x"], f"an activation alone, a prefix: expected ['', 'x'], got {got}"
got = (own_parameters(h), own_parameters(ReLU()), is_leaf(h), is_leaf(GELU()))
assert got == (6, 0, False, True), f"expected own parameters 6 (not the tensor without grad) and 0, got {got}"
### END HIDDEN TESTS

# %% solution id="trace"
#| export
def trace(model, *inputs):
    """Run the model once on `inputs`, without recording a graph, and report every layer call.

    Returns a list with one dict per call of any layer of named_layers(model) (the model itself
    included), in the order the calls START, with keys:
      "path": the layer's name in named_layers() ("" for the model itself),
      "module": the layer object,
      "in_shape": the shape (a tuple) of the call's first positional argument (Tensor or ndarray),
      "out_shape": the shape (a tuple) of what the call returned,
      "ms": self time in milliseconds, a float: the call's wall time minus that of the calls it made.
    A layer called twice gives two dicts. Afterwards every layer is exactly as before: no wrapper
    left behind, also when the forward raises (the exception propagates).
    EXAMPLE: trace(Sequential(Linear(4, 3), ReLU()), Tensor(np.zeros((2, 4))))
             -> [{"path": "", "in_shape": (2, 4), "out_shape": (2, 3), ...},
                 {"path": "0", "in_shape": (2, 4), "out_shape": (2, 3), ...},
                 {"path": "1", "in_shape": (2, 3), "out_shape": (2, 3), ...}]
    HINT: `time.perf_counter`; `np.shape` works on Tensors and arrays; `try`/`finally`; a dict is
    mutable, so a call can add to the children's time of the record below it on the stack.
    """
    ### BEGIN SOLUTION
    calls, stack, probed = [], [], []

    def probe(path, module, forward):
        def wrapper(*args, **kwargs):
            record = {"path": path, "module": module, "in_shape": tuple(np.shape(args[0])) if args else None,
                      "children": 0.0}
            calls.append(record)
            stack.append(record)
            start = time.perf_counter()
            try:
                out = forward(*args, **kwargs)
            finally:
                stack.pop()
            elapsed = (time.perf_counter() - start) * 1e3
            record["ms"] = elapsed - record.pop("children")
            record["out_shape"] = tuple(np.shape(out))
            if stack:
                stack[-1]["children"] += elapsed
            return out
        return wrapper

    try:
        for path, module in named_layers(model):
            module.forward = probe(path, module, module.forward)
            probed.append(module)
        with no_grad():
            model(*inputs)
    finally:
        for module in probed:
            del module.forward
    return calls
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

# %% test id="test-trace" points=4
mlp = Sequential(Linear(4, 8), ReLU(), Linear(8, 3))
calls = trace(mlp, Tensor(np.zeros((2, 4), dtype=np.float32)))
got = [(c["path"], c["in_shape"], c["out_shape"]) for c in calls]
exp = [("", (2, 4), (2, 3)), ("0", (2, 4), (2, 8)), ("1", (2, 8), (2, 8)), ("2", (2, 8), (2, 3))]
assert got == exp, f"expected (path, in_shape, out_shape) per call\n{exp}\ngot\n{got}"
assert all(c["ms"] >= 0 for c in calls), f"expected self times >= 0 ms, got {[c['ms'] for c in calls]}"
### BEGIN HIDDEN TESTS
import time as _time
class Sleepy(Module):
    def __init__(self, seconds, child=None):
        super().__init__()
        self.seconds, self.child = seconds, child
    def forward(self, x):
        time.sleep(self.seconds)
        return x if self.child is None else self.child(self.child(x))
net = Sleepy(0.03, Sleepy(0.02))
start = _time.perf_counter()
calls = trace(net, np.zeros((3, 1)))
wall = (_time.perf_counter() - start) * 1e3
ms = [c["ms"] for c in calls]
assert [c["path"] for c in calls] == ["", "child", "child"], f"expected paths ['', 'child', 'child'] (the child runs twice), got {[c['path'] for c in calls]}"
assert 29 < ms[0] < 60 and all(19 < m < 45 for m in ms[1:]), f"self times: expected about [30, 20, 20] ms (not 70 for the outer call), got {ms}"
assert sum(ms) <= wall + 1 and calls[0]["in_shape"] == (3, 1), f"self times add up to at most the wall time {wall:.1f} ms, got {sum(ms):.1f}"
assert "forward" not in net.__dict__ and "forward" not in net.child.__dict__, "expected every wrapper removed after the trace"
cnn = Sequential(Conv2d(1, 2, 3, stride=2, padding=1), Flatten(), Linear(18, 5))
got = [(c["path"], c["in_shape"], c["out_shape"]) for c in trace(cnn, np.zeros((1, 1, 5, 6), dtype=np.float32))]
exp = [("", (1, 1, 5, 6), (1, 5)), ("0", (1, 1, 5, 6), (1, 2, 3, 3)), ("1", (1, 2, 3, 3), (1, 18)), ("2", (1, 18), (1, 5))]
assert got == exp, f"conv net: expected\n{exp}\ngot\n{got}"
mha = MultiHeadAttention(4, 2)
got = [c["path"] for c in trace(mha, Tensor(np.zeros((1, 3, 4))))]
assert got == ["", "q_proj", "k_proj", "v_proj", "out_proj"], f"attention: expected the root then its 4 projections in call order, got {got}"
bad = Sequential(Linear(4, 3), Linear(5, 2))
raises(lambda: trace(bad, Tensor(np.zeros((1, 4)))), Exception)
assert "forward" not in bad.__dict__ and "forward" not in bad[1].__dict__, "expected every wrapper removed after a forward that raised"
t = Tensor(np.ones((1, 4)), requires_grad=True)
trace(Linear(4, 2), t)
assert Linear(4, 2)(t).requires_grad, "expected the graph switched back on after the trace (no_grad only inside)"
### END HIDDEN TESTS

# %% [markdown]
# ## A profile of the whole model
#
# A profile row is a call that does work or holds weights; a container only calls others.
# **Activation memory** (the leaf outputs of one pass, float32) is what training keeps for backward
# (minus the $B H T^2$ attention weights no layer returns). **Training** adds a gradient per weight
# and the optimizer's state (Adam: two moments). `by_type`: which kind of layer takes the time?

# %% solution id="profile"
#| export
def profile(model, x):
    """One row per trace(model, x) call that is a leaf call or whose own FLOPs (layer_flops) or
    own_parameters are not zero, in trace order: a tuple (layer, params, flops, output_shape, ms)
    with layer = "<path> (<class name>)", or just "<class name>" for the model itself; params =
    own_parameters; flops = layer_flops; output_shape = the call's out_shape; ms = its self time.
    EXAMPLE: profile(Sequential(Linear(4, 3), ReLU()), Tensor(np.zeros((2, 4))))
             -> [("0 (Linear)", 15, 48, (2, 3), 0.01), ("1 (ReLU)", 0, 0, (2, 3), 0.002)]
    """
    ### BEGIN SOLUTION
    rows = []
    for c in trace(model, x):
        m = c["module"]
        flops, params = layer_flops(m, c["in_shape"], c["out_shape"]), own_parameters(m)
        if is_leaf(m) or flops or params:
            name = f"{c['path']} ({type(m).__name__})" if c["path"] else type(m).__name__
            rows.append((name, params, flops, c["out_shape"], c["ms"]))
    return rows
    ### END SOLUTION

def count_flops(model, input_shape, dtype=np.float32):
    """Total FLOPs (an int) of one forward pass of `model` on zeros of `input_shape` (a Tensor of
    `dtype`; int64 for a model that takes token ids). EXAMPLE: count_flops(Linear(4, 3), (2, 4)) -> 48
    """
    ### BEGIN SOLUTION
    x = Tensor(np.zeros(input_shape, dtype=dtype))
    return int(sum(row[2] for row in profile(model, x)))
    ### END SOLUTION

def activation_memory(model, input_shape, dtype=np.float32):
    """Bytes (an int) of activations of one forward pass on zeros of `input_shape`: the sum over
    every call of a leaf module (one without sub-modules) of the number of elements of its output,
    times 4 (float32), whatever the dtype of the run. The input itself is not counted.
    EXAMPLE: activation_memory(Sequential(Linear(4, 3), ReLU()), (2, 4)) -> 48  (two (2, 3) outputs)
    """
    ### BEGIN SOLUTION
    calls = trace(model, Tensor(np.zeros(input_shape, dtype=dtype)))
    return 4 * int(sum(np.prod(c["out_shape"]) for c in calls if is_leaf(c["module"])))
    ### END SOLUTION

def training_memory(model, input_shape, optimizer_states=2, dtype=np.float32):
    """Bytes (ints) one float32 training step holds: a dict with "weights" (4 bytes per parameter),
    "gradients" (as many), "optimizer" (`optimizer_states` numbers per parameter: Adam 2, SGD with
    momentum 1), "activations" (activation_memory) and "total" (their sum).
    EXAMPLE: Linear(4, 3) on (2, 4) with Adam -> weights 60, gradients 60, optimizer 120,
             activations 24, total 264
    """
    ### BEGIN SOLUTION
    weights = 4 * count_parameters(model)
    out = {"weights": weights, "gradients": weights, "optimizer": optimizer_states * weights,
           "activations": activation_memory(model, input_shape, dtype)}
    out["total"] = sum(out.values())
    return out
    ### END SOLUTION

def print_profile(rows):
    """Print the rows of `profile` as a table and return that text (a str). Lines: a header; one
    per row with layer, params, MFLOPs (flops / 1e6, 3 decimals), output shape, ms (3 decimals) and,
    when flops and ms are both non-zero, the achieved GFLOP/s (flops / ms / 1e6, 2 decimals); last
    a line "total" with the summed params, MFLOPs and ms. Columns separated by spaces.
    EXAMPLE: rows [("0 (Linear)", 10, 2000000, (2, 3), 1.5)] give the lines (header), then
             "0 (Linear)    10    2.000    (2, 3)    1.500    1.33", "total    10    2.000    1.500"
    """
    ### BEGIN SOLUTION
    lines = [f"{'layer':<34}{'params':>10}{'MFLOPs':>10}{'output':>20}{'ms':>9}{'GFLOP/s':>9}"]
    for layer, params, flops, shape, ms in rows:
        rate = f"{flops / ms / 1e6:9.2f}" if flops and ms > 0 else ""
        lines.append(f"{layer:<34}{params:>10}{flops / 1e6:>10.3f}{str(tuple(shape)):>20}{ms:>9.3f}{rate}")
    total = [sum(r[i] for r in rows) for i in (1, 2, 4)]
    lines.append(f"{'total':<34}{total[0]:>10}{total[1] / 1e6:>10.3f}{'':>20}{total[2]:>9.3f}")
    text = "\n".join(lines)
    print(text)
    return text
    ### END SOLUTION

def by_type(rows):
    """Group profile rows by the class name in their layer ("0 (Linear)" and "Linear" are both
    "Linear"): a list of (class name, calls, flops, ms), the ms summed, largest ms first (ties: the
    class met first in rows first).
    EXAMPLE: rows "0 (Linear)" 2 ms, "1 (ReLU)" 1 ms, "2 (Linear)" 3 ms -> [("Linear", 2, ., 5.0), ("ReLU", 1, 0, 1.0)]
    HINT: a dict keeps insertion order; `sorted` is stable and takes a key.
    """
    ### BEGIN SOLUTION
    groups = {}
    for layer, _, flops, _, ms in rows:
        name = layer.split("(")[-1].rstrip(")")
        calls, total_flops, total_ms = groups.get(name, (0, 0, 0.0))
        groups[name] = (calls + 1, total_flops + flops, total_ms + ms)
    table = [(name, *values) for name, values in groups.items()]
    return sorted(table, key=lambda row: -row[3])
    ### END SOLUTION

# %% test id="test-profile" points=4
mlp = Sequential(Linear(4, 8), ReLU(), Linear(8, 3))
rows = profile(mlp, Tensor(np.zeros((2, 4), dtype=np.float32)))
got = [r[:4] for r in rows]
exp = [("0 (Linear)", 40, 128, (2, 8)), ("1 (ReLU)", 0, 0, (2, 8)), ("2 (Linear)", 27, 96, (2, 3))]
assert got == exp, f"expected rows (layer, params, flops, output_shape): 2*(2*8)*4 = 128 and 2*(2*3)*8 = 96 FLOPs\n{exp}\ngot\n{got}"
for what, got, exp in [("MLP: 128 + 96 FLOPs and 67 parameters", (count_flops(mlp, (2, 4)), count_parameters(mlp)), (224, 67)),
                       ("leaf outputs (2, 8), (2, 8), (2, 3): (16 + 16 + 6) * 4 bytes", activation_memory(mlp, (2, 4)), 152),
                       ("training_memory with Adam: 67 parameters * 4 bytes, twice that for the moments", training_memory(mlp, (2, 4)),
                        {"weights": 268, "gradients": 268, "optimizer": 536, "activations": 152, "total": 1224})]:
    assert got == exp, f"{what}: expected {exp}, got {got}"
lines = print_profile([("0 (Linear)", 10, 2000000, (2, 3), 1.5), ("1 (ReLU)", 0, 0, (2, 3), 0.25)]).splitlines()
got = [lines[1].split(), lines[-1].split(), len(lines)]
exp = [["0", "(Linear)", "10", "2.000", "(2,", "3)", "1.500", "1.33"], ["total", "10", "2.000", "1.750"], 4]
assert got == exp, f"print_profile: expected a header, then (split on spaces) {exp[0]}, ..., {exp[1]}; got {lines}"
got = by_type([("0 (Linear)", 4, 10, (1,), 2.0), ("1 (ReLU)", 0, 0, (1,), 1.0), ("2 (Linear)", 5, 20, (1,), 3.0)])
assert got == [("Linear", 2, 30, 5.0), ("ReLU", 1, 0, 1.0)], f"by_type: expected [('Linear', 2, 30, 5.0), ('ReLU', 1, 0, 1.0)], got {got}"
### BEGIN HIDDEN TESTS
cnn = Sequential(Conv2d(3, 8, 3, stride=2, padding=1), ReLU(), Conv2d(8, 4, (2, 3)), Flatten(), Linear(48, 10))
mha = MultiHeadAttention(8, 2)
got = [r[:4] for r in profile(mha, Tensor(np.zeros((2, 5, 8), dtype=np.float32)))]
exp = [("MultiHeadAttention", 0, 1600, (2, 5, 8))] + [(f"{n} (Linear)", 72, 1280, (2, 5, 8)) for n in ("q_proj", "k_proj", "v_proj", "out_proj")]
assert got == exp, f"attention rows: expected\n{exp}\ngot\n{got}"
class Scale(Module):
    def __init__(self):
        super().__init__()
        self.w = Tensor(np.ones(3), requires_grad=True)
        self.inner = Linear(3, 3, bias=False)
    def forward(self, x):
        return self.inner(self.inner(x * self.w))
got = [r[:4] for r in profile(Scale(), Tensor(np.zeros((1, 3))))]
exp = [("Scale", 3, 0, (1, 3)), ("inner (Linear)", 9, 18, (1, 3)), ("inner (Linear)", 9, 18, (1, 3))]
assert got == exp, f"own parameters, a layer called twice: expected\n{exp}\ngot\n{got}"
rows = profile(Linear(4, 3), Tensor(np.zeros((2, 4), dtype=np.float32)))
assert [r[:4] for r in rows] == [("Linear", 15, 48, (2, 3))] and rows[0][4] >= 0, f"a lone Linear: expected [('Linear', 15, 48, (2, 3), ms)], got {rows}"
for what, got, exp in [("CNN (conv 21600 + conv 9216 + Linear 1920 FLOPs, 224 + 196 + 490 params)", (count_flops(cnn, (2, 3, 9, 9)), count_parameters(cnn)), (32736, 910)),
                       ("CNN activations, (400 + 400 + 96 + 96 + 20) * 4 bytes", activation_memory(cnn, (2, 3, 9, 9)), 4048),
                       ("attention (5120 + 1600 FLOPs, 4 outputs of 80 floats)", (count_flops(mha, (2, 5, 8)), activation_memory(mha, (2, 5, 8))), (6720, 1280)),
                       ("Scale on (4, 3) (FLOPs, bytes), Linear(3, 2) on (3,) (FLOPs)", (count_flops(Scale(), (4, 3)), activation_memory(Scale(), (4, 3)),
                                                                                       count_flops(Linear(3, 2), (3,))), (144, 96, 12)),
                       ("training_memory, SGD with momentum, batch 5", training_memory(mlp, (5, 4), optimizer_states=1),
                        {"weights": 268, "gradients": 268, "optimizer": 268, "activations": 4 * (40 + 40 + 15), "total": 1184})]:
    assert got == exp, f"{what}: expected {exp}, got {got}"
lines = print_profile([("x", 3, 500000, (4,), 0.5), ("y", 4, 1500000, (1, 2), 0.0), ("z", 0, 0, (5,), 2.0)]).splitlines()
got = [lines[1].split(), lines[2].split(), lines[3].split(), lines[-1].split()]
exp = [["x", "3", "0.500", "(4,)", "0.500", "1.00"], ["y", "4", "1.500", "(1,", "2)", "0.000"], ["z", "0", "0.000", "(5,)", "2.000"], ["total", "7", "2.000", "2.500"]]
assert got == exp, f"print_profile: expected (split on spaces) {exp}, got {got}"
got = by_type([("A", 0, 5, (1,), 1.0), ("b (B)", 0, 0, (1,), 4.0), ("c (A)", 0, 7, (1,), 0.5), ("C", 0, 1, (1,), 1.5), ("d (B)", 0, 2, (1,), 0.5)])
assert got == [("B", 2, 2, 4.5), ("A", 2, 12, 1.5), ("C", 1, 1, 1.5)], f"by_type: expected [('B', 2, 2, 4.5), ('A', 2, 12, 1.5), ('C', 1, 1, 1.5)] (ties keep row order), got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## A closed form for a GPT
#
# Module 13's GPT by hand, on $B$ sequences of $T$ tokens: per block four $d \times d$ projections, an
# MLP $d \to 4d \to d$ and attention's $4BT^2d$; embeddings are look-ups (0 FLOPs), the head a $d \times V$
# Linear. Every weight multiplies every token once: about $2 \times$ parameters FLOPs per token, the
# scaling-law rule of thumb (training, with backward, $3\times$ that).

# %% solution id="gpt-flops"
#| export
def gpt_flops(vocab_size, d_model, num_layers, seq_len, batch_size=1):
    """FLOPs (an int) of one forward pass of module 13's GPT (mlp_ratio 4) on (batch_size, seq_len)
    token ids, counted by the rules above: what count_flops gives for that model.
    EXAMPLE: gpt_flops(64, 64, 2, 64) -> 15204352
    """
    ### BEGIN SOLUTION
    d, T = d_model, seq_len
    projections = 2 * T * d * d * 4
    mlp = 2 * T * d * (4 * d) * 2
    attention = 4 * T * T * d
    head = 2 * T * d * vocab_size
    return int(batch_size * (num_layers * (projections + mlp + attention) + head))
    ### END SOLUTION

# %% solution id="gpt-parameters"
def gpt_parameters(vocab_size, d_model, num_layers, max_len):
    """Parameters (an int) of module 13's GPT(vocab_size, d_model, heads, num_layers, max_len),
    mlp_ratio 4: what count_parameters gives for it, whatever the number of heads. It holds a token
    and a position embedding table, per block four d x d projections and an MLP d -> 4d -> d (every
    Linear with a bias) and two LayerNorms (a scale and a shift each), a final LayerNorm and the head,
    a d -> vocab_size Linear. EXAMPLE: gpt_parameters(64, 64, 2, 64) -> 112448
    HINT: for a wide model the 12 d^2 weights of each block dominate.
    """
    ### BEGIN SOLUTION
    d = d_model
    embeddings = (vocab_size + max_len) * d
    projections = 4 * (d * d + d)
    mlp = (d * 4 * d + 4 * d) + (4 * d * d + d)
    norms = 2 * 2 * d
    head = d * vocab_size + vocab_size
    return int(embeddings + num_layers * (projections + mlp + norms) + 2 * d + head)
    ### END SOLUTION

# %% test id="test-gpt-flops" points=3
got = gpt_flops(64, 64, 2, 64)
assert got == 15204352, (f"GPT(64, 64, heads, 2, 64) on 64 tokens: 2 blocks of (2097152 projections + 4194304 MLP + 1048576 "
                         f"attention) + 524288 head: expected 15204352 FLOPs, got {got}")
got = gpt_parameters(64, 64, 2, 64)
assert got == 112448 and isinstance(got, int), (f"GPT(64, 64, heads, 2, 64): embeddings 8192 + 2 blocks of (16640 projections + "
                                                f"33088 MLP + 256 norms) + final norm 128 + head 4160: expected 112448 parameters, got {got}")
### BEGIN HIDDEN TESTS
from tinytorch_lib.transformer import GPT
for args in [(11, 8, 2, 3, 6), (5, 12, 3, 1, 9), (30, 4, 1, 2, 2)]:
    exp = int(sum(np.asarray(p.data).size for p in GPT(*args).parameters()))
    got = gpt_parameters(args[0], args[1], args[3], args[4])
    assert got == exp, f"GPT{args}: expected {exp} parameters (summed over the model), got {got}"
got, exp = gpt_flops(11, 8, 3, 5, batch_size=2), count_flops(GPT(11, 8, 2, 3, 6), (2, 5), np.int64)
assert got == exp, f"GPT(11, 8, 2 heads, 3 layers) on (2, 5): expected count_flops's {exp}, got {got}"
got = gpt_flops(7, 4, 1, 3)
assert got == 3 * (32 + 64) * 4 + 36 * 4 + 2 * 3 * 4 * 7 and isinstance(got, int), f"expected 1464, got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## Latency: warm up, repeat, report the distribution
#
# First calls are slow (cold caches, allocations, lazy imports) and later ones vary with the
# machine's load: warm up, then time calls one by one. Report the **median** (robust), the **90th
# percentile** (one user in ten waits longer) and the **minimum** (the true speed); a mean follows every hiccup.

# %% solution id="latency"
#| export
def measure_latency(fn, *args, warmup=3, repeats=20):
    """Call fn(*args) `warmup` times untimed, then `repeats` times timed one by one.
    Returns {"median_ms", "p90_ms", "min_ms": floats in milliseconds over the timed calls;
    "times_ms": the list of the `repeats` times in call order}. p90 is np.percentile's default
    (linear interpolation). ValueError naming repeats if repeats < 1.
    EXAMPLE: timed calls of 1, 2, 3, 4, 10 ms -> median 3, p90 7.6, min 1
    """
    ### BEGIN SOLUTION
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    for _ in range(warmup):
        fn(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - start) * 1e3)
    return {"median_ms": float(np.median(times)), "p90_ms": float(np.percentile(times, 90)),
            "min_ms": float(np.min(times)), "times_ms": times}
    ### END SOLUTION

# %% test id="test-latency" points=3
calls = []
got = measure_latency(lambda a, b: calls.append(a + b), 1, 2, warmup=2, repeats=5)
assert calls == [3] * 7, f"expected fn(*args) called 2 + 5 = 7 times, got {len(calls)} calls: {calls}"
assert len(got["times_ms"]) == 5 and got["min_ms"] <= got["median_ms"] <= got["p90_ms"], f"expected 5 times and min <= median <= p90, got {got}"
### BEGIN HIDDEN TESTS
class Plan:   # created in the notebook's kernel: call k sleeps plan[k] seconds
    def __init__(self, plan):
        self.plan, self.calls = plan, 0
    def __call__(self):
        time.sleep(self.plan[self.calls])
        self.calls += 1
step = Plan([0.1] * 3 + [0.0] * 13 + [0.02, 0.0, 0.005, 0.01, 0.03, 0.0, 0.0])   # 3 slow warm-ups
got = measure_latency(step)
t = np.array(got["times_ms"])
assert step.calls == 23 and len(t) == 20, f"defaults warmup=3, repeats=20: expected 23 calls, 20 times, got {step.calls}, {len(t)}"
assert t[13] >= 20 and t[17] >= 30 and t.max() < 95, f"times in milliseconds, in call order, warm-ups (100 ms) excluded: got {t.round(2).tolist()}"
exp = [np.median(t), np.percentile(t, 90), t.min()]
assert np.allclose([got["median_ms"], got["p90_ms"], got["min_ms"]], exp, rtol=1e-6), f"expected median, 90th percentile (linear interpolation) and min of your times {exp}, got {got}"
got = measure_latency(lambda: None, warmup=0, repeats=1)
assert len(got["times_ms"]) == 1 and got["min_ms"] == got["median_ms"] == got["p90_ms"], f"one timed call: expected one time, min = median = p90, got {got}"
msg = raises(lambda: measure_latency(step, repeats=0), ValueError)
assert "repeats" in msg, f"expected a ValueError naming repeats, got {msg!r}"
### END HIDDEN TESTS

# %% [markdown]
# **Forward and backward.** Backward computes two products per weight matrix (the gradients of the
# input and of the weight) where forward computes one: twice the FLOPs. Twice the time?

# %% solution id="step-times"
def step_times(model, x, target, loss_fn, repeats=5):
    """Median wall times in milliseconds of the two phases of `repeats` (>= 1) training steps of
    `model`: {"forward_ms": model(x) then loss_fn(output, target), "backward_ms": the loss's
    backward(), "ratio": backward_ms / forward_ms}, floats. Every step starts from zeroed gradients,
    so afterwards each parameter's .grad is that of ONE step; no weight changes (no optimizer).
    EXAMPLE: step_times(Linear(4, 3), x, y, MSELoss()) -> {"forward_ms": 0.05, "backward_ms": 0.09, "ratio": 1.8}
    HINT: `time.perf_counter()` before, between and after the phases; `zero_grad`; `np.median`.
    """
    ### BEGIN SOLUTION
    forward, backward = [], []
    for _ in range(repeats):
        model.zero_grad()
        t0 = time.perf_counter()
        loss = loss_fn(model(x), target)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        forward.append((t1 - t0) * 1e3)
        backward.append((t2 - t1) * 1e3)
    f, b = float(np.median(forward)), float(np.median(backward))
    return {"forward_ms": f, "backward_ms": b, "ratio": b / f}
    ### END SOLUTION

# %% test id="test-step-times" points=2
manual_seed(0)
net, x, y = Sequential(Linear(4, 8), ReLU(), Linear(8, 1)), Tensor(np.ones((5, 4))), Tensor(np.zeros((5, 1)))
before, got = np.array(net[0].weight.data), step_times(net, x, y, MSELoss(), repeats=3)
grad = np.array(net[0].weight.grad.data)
net.zero_grad(), MSELoss()(net(x), y).backward()
exp = np.array(net[0].weight.grad.data)
assert np.allclose(grad, exp) and np.array_equal(net[0].weight.data, before), f"the gradient of ONE step, weights unchanged: expected {exp[0]}, got {grad[0]}"
assert sorted(got) == ["backward_ms", "forward_ms", "ratio"] and got["forward_ms"] > 0 and np.isclose(got["ratio"], got["backward_ms"] / got["forward_ms"]), \
    f"expected forward_ms > 0, backward_ms and their ratio backward / forward, got {got}"
### BEGIN HIDDEN TESTS
class Slow(Module):   # created in the notebook's kernel: call k of forward sleeps plan[k] seconds
    def __init__(self, plan):
        super().__init__()
        self.plan, self.lin = plan, Linear(2, 1)
    def forward(self, x):
        time.sleep(self.plan.pop(0))
        return self.lin(x)
got = step_times(Slow([0.2, 0.005, 0.03]), Tensor(np.ones((3, 2))), Tensor(np.zeros((3, 1))), MSELoss(), repeats=3)
assert 29 < got["forward_ms"] < 70 and got["backward_ms"] < 25, f"forwards of 200, 5, 30 ms: expected the median, about 30 ms (not the mean 78), and a fast backward, got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## Systems note: FLOPs are not time
#
# The profile's last column is the **achieved** GFLOP/s: a big matrix product runs near peak;
# pooling, activations and reshapes do few FLOPs per byte moved (memory traffic, Python), so FLOPs do
# not predict time, nor does backward's 2x (per-operation overhead dominates a small model).

# %%
import matplotlib.pyplot as plt
from tinytorch_lib.spatial import MaxPool2d
from tinytorch_lib.transformer import GPT, lm_loss
cnn = Sequential(Conv2d(1, 16, 3, padding=1), ReLU(), MaxPool2d(2), Conv2d(16, 32, 3, padding=1), ReLU(),
                 MaxPool2d(2), Flatten(), Linear(32 * 4 * 4, 10))
xb = Tensor(np.random.default_rng(0).standard_normal((64, 1, 16, 16)).astype(np.float32))
trace(cnn, xb)                                   # warm-up
types = by_type(rows := profile(cnn, xb))
print_profile(rows)
gpt, ids = GPT(64, 64, 4, 2, 64), np.random.default_rng(1).integers(0, 64, size=(1, 65))
st = step_times(gpt, ids[:, :-1], ids[:, 1:], lm_loss)
print(f"\nGPT: {count_parameters(gpt)} parameters, {count_flops(gpt, (1, 64), np.int64) / 1e6:.1f} MFLOPs on 64 tokens, "
      f"Adam training memory {training_memory(gpt, (1, 64), 2, np.int64)['total'] / 2**20:.2f} MiB; forward {st['forward_ms']:.1f} ms, backward {st['backward_ms']:.1f} ms ({st['ratio']:.1f}x)")
lat = measure_latency(cnn, xb, warmup=3, repeats=30)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
axes[0].barh([t[0] for t in types], [t[3] for t in types], label="ms (self time)")
axes[0].barh([t[0] for t in types], [t[2] / 1e6 / types[0][3] for t in types], height=0.3, label="MFLOPs, scaled")
axes[0].set(title="CNN: time and FLOPs by layer type")
axes[1].hist(lat["times_ms"], bins=15)
axes[1].axvline(lat["median_ms"], color="k", label=f"median {lat['median_ms']:.1f} ms")
axes[1].axvline(lat["p90_ms"], color="r", ls="--", label=f"p90 {lat['p90_ms']:.1f} ms")
axes[1].set(xlabel="ms per forward, batch of 64", title="latency of 30 calls")
axes[0].legend(), axes[1].legend(), plt.tight_layout(), plt.show()
