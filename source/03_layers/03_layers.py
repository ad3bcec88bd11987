# %% [markdown]
# # 03 · Layers
#
# A neural network is a function with knobs. `Module` holds them: calling it runs `forward`; it finds its
# **parameters** (and its sub-modules'), switches between training and evaluation mode, and saves and loads
# its weights. Then the first layers, `Linear`, `Sequential`, `Flatten`, `Dropout` (gradients: module 05).

# %%
#| default_exp layers
#| export
import numpy as np

from tinytorch_lib.tensor import Tensor, _make, as_tensor, get_generator

# %% helper
def arr(t):
    """The values of a Tensor as a plain ndarray (for judging)."""
    return np.asarray(t.data)

def names_of(pairs):
    """The names of an iterable of (name, object) pairs, as a plain list of str."""
    return [str(name) for name, _ in pairs]

def raised(call):
    """The exception call() raises (None if it returns)."""
    try:
        call()
    except Exception as e:
        return e

# %% [markdown]
# ## Module: a tree of layers
# Like PyTorch, we find parameters by looking at attributes (`vars(obj)`, in assignment order), with no
# registration calls: a **sub-module** is a `Module` attribute (or a list/tuple of them), a **parameter** a
# `Tensor` attribute with `requires_grad=True`. The modules form a tree (a graph, really: with weight tying
# one object hangs in two places), walked by `named_children()`, `named_modules()` and `named_parameters()`.
# `train()` / `eval()` reach **every** sub-module: a `Dropout` three levels deep must stop dropping.

# %% solution id="module"
#| export
class Module:
    """Base class of every layer and model. Besides the walks below, write the short methods:
    __init__() puts a new module in training mode (`.training = True`);
    m(*args, **kwargs) passes every argument on to m.forward and returns its result;
    modules() yields every module of named_modules() without the names; parameters() yields every
    parameter Tensor in the order of named_parameters(); eval() is train(False) and returns self;
    zero_grad() sets the .grad of every parameter to None (PyTorch's default); train(mode=True)
    sets `.training = mode` on this module and every module below it and returns self (so
    `model = Net().train()` works); state_dict() returns {name: ndarray} for every parameter in
    named_parameters() order, each value a copy (changing it must not change the model, nor the reverse).
    """

    training = True

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def extra_repr(self):
        return ""

    def __init__(self):
        ### BEGIN SOLUTION
        self.training = True
        ### END SOLUTION
    def __call__(self, *args, **kwargs):
        ### BEGIN SOLUTION
        return self.forward(*args, **kwargs)
        ### END SOLUTION
    def modules(self):
        ### BEGIN SOLUTION
        for _, module in self.named_modules():
            yield module
        ### END SOLUTION
    def parameters(self):
        ### BEGIN SOLUTION
        for _, p in self.named_parameters():
            yield p
        ### END SOLUTION
    def train(self, mode=True):
        ### BEGIN SOLUTION
        for module in self.modules():
            module.training = mode
        return self
        ### END SOLUTION
    def eval(self):
        ### BEGIN SOLUTION
        return self.train(False)
        ### END SOLUTION
    def zero_grad(self):
        ### BEGIN SOLUTION
        for p in self.parameters():
            p.grad = None
        ### END SOLUTION
    def state_dict(self):
        ### BEGIN SOLUTION
        return {name: p.data.copy() for name, p in self.named_parameters()}
        ### END SOLUTION
    def named_children(self):
        """Yield (name, module) for each direct sub-module, in attribute order.

        A Module attribute yields (attribute name, it); a list or tuple attribute yields ("<name>.<index>",
        item) for each item that is a Module. Everything else (tensors, numbers, activations) is skipped.
        EXAMPLE: .body = Linear(..), .blocks = [A(), 3, B()] -> ("body", ..), ("blocks.0", ..), ("blocks.2", ..)
        HINT: isinstance accepts a tuple of types; enumerate gives the index.
        """
        ### BEGIN SOLUTION
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item
        ### END SOLUTION
    def named_modules(self, prefix="", memo=None):
        """Yield (path, module) for this module and all its descendants, depth first, each once.

        The module itself comes first under `prefix` ("" for the root), then each child's subtree
        under "<prefix>.<child name>" (just "<child name>" when prefix is ""). `memo` is a set of
        id()s of modules already reported (None: a fresh set); a module met again is skipped with its
        whole subtree, which also makes the walk safe for a module that contains itself.
        EXAMPLE: Sequential(Sequential(Linear(1, 1)), Linear(1, 1)) -> paths "", "0", "0.0", "1"
        HINT: a generator may `yield from` a recursive call.
        """
        ### BEGIN SOLUTION
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)
        ### END SOLUTION
    def named_parameters(self):
        """Yield (name, tensor) for every parameter of this module and its sub-modules.

        Modules in `named_modules()` order; within a module its own attributes in order that are a
        Tensor with requires_grad=True, named "<module path>.<attribute>" ("<attribute>" for the
        root). The very Tensor objects, not copies; a tensor met a second time is skipped.
        EXAMPLE: Sequential(Linear(2, 3), ReLU(), Linear(3, 1)) -> "0.weight", "0.bias", "2.weight", "2.bias"
        HINT: remember the id() of every tensor already yielded.
        """
        ### BEGIN SOLUTION
        seen = set()
        for path, module in self.named_modules():
            for attr, value in vars(module).items():
                if isinstance(value, Tensor) and value.requires_grad and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{path}.{attr}" if path else attr), value
        ### END SOLUTION
    def load_state_dict(self, state_dict):
        """Copy the arrays of `state_dict` (name -> array-like) into the parameters.

        The names must be exactly those of named_parameters(), else KeyError listing the missing and the
        unexpected names (sorted); each value must have its parameter's shape, else ValueError naming
        the parameter and both shapes; check everything before changing anything. Each parameter gets
        a fresh array (never the caller's) in its own dtype; the Tensor objects stay the same.
        EXAMPLE: Linear(3, 2).load_state_dict({"weight": np.zeros((2, 3))}) -> KeyError: missing ['bias']
        HINT: set differences of the two key sets; `astype(..., copy=True)`.
        """
        ### BEGIN SOLUTION
        params = dict(self.named_parameters())
        missing = sorted(set(params) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(params))
        if missing or unexpected:
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        values = {name: np.asarray(state_dict[name]) for name in params}
        for name, p in params.items():
            if values[name].shape != p.shape:
                raise ValueError(f"load_state_dict: {name!r} has shape {values[name].shape} in the state "
                                 f"dict but {p.shape} in the model")
        for name, p in params.items():
            p.data = values[name].astype(p.data.dtype, copy=True)
        ### END SOLUTION
    def __repr__(self):
        """PyTorch's tree: "Name(<extra_repr()>)" for a module without sub-layers, else "Name(" on the
        first line, then one line "  (<attribute>): <repr of it>" per attribute that has a `forward`
        (modules and activations) in attribute order, then ")"; a child's own multi-line repr is
        indented by two more spaces on each of its following lines. EXAMPLE: see the test below.
        HINT: recursion happens by itself: repr() of a child calls the child's __repr__.
        """
        ### BEGIN SOLUTION
        lines = [f"  ({name}): " + repr(value).replace("\n", "\n  ")
                 for name, value in vars(self).items() if hasattr(value, "forward")]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"
        ### END SOLUTION

# %% test id="test-module" points=4
class Scale(Module):
    def __init__(self, value=1.0):
        Module.__init__(self)
        self.w = Tensor(np.full(3, value), requires_grad=True)
        self.offset = Tensor(np.zeros(3))            # requires_grad=False: a constant, not a parameter
    def forward(self, t):
        return t * self.w
class Pair(Module):
    def __init__(self, first=1.0, second=2.0):
        Module.__init__(self)
        self.first = Scale(first)
        self.second = Scale(second)
net = Pair()
for what, got, exp in [("named_parameters", names_of(net.named_parameters()), ["first.w", "second.w"]),
                       ("parameters() values (first.w all 1, then second.w all 2)", [arr(p)[0] for p in net.parameters()], [1.0, 2.0]),
                       ("named_modules", names_of(net.named_modules()), ["", "first", "second"]),
                       ("eval() returns the module and switches it and every sub-module off",
                        [isinstance(net.eval(), Pair)] + [bool(m.training) for m in (net, net.first, net.second)], [True, False, False, False]),
                       ("train() switches every sub-module back on", bool(net.train().second.training), True),
                       ("calling a module runs forward (x * 1)", arr(net.first(Tensor([1.0, 2.0, 3.0]))).tolist(), [1.0, 2.0, 3.0]),
                       ("state_dict", {k: np.asarray(v).tolist() for k, v in net.state_dict().items()}, {"first.w": [1.0] * 3, "second.w": [2.0] * 3})]:
    assert got == exp, f"{what}: expected {exp}, got {got}"
### BEGIN HIDDEN TESTS
class Deep(Module):
    def __init__(self):
        super().__init__()
        self.a = Pair()
        self.bias = Tensor(np.full(3, 5.0), requires_grad=True)   # own parameter, registered after a child
        self.shared = self.a.first                                # the same module twice: counts once
        self.blocks = [Scale(3.0), "not a module", Scale(4.0)]    # a list of modules is walked too
        self.pair = (Scale(6.0),)                                 # ... and a tuple

deep = Deep()
for what, got, exp in [("named_children", names_of(deep.named_children()), ["a", "shared", "blocks.0", "blocks.2", "pair.0"]),
                       ("named_modules (shared module once)", names_of(deep.named_modules()),
                        ["", "a", "a.first", "a.second", "blocks.0", "blocks.2", "pair.0"]),
                       ("named_parameters (own first, then depth first)", names_of(deep.named_parameters()),
                        ["bias", "a.first.w", "a.second.w", "blocks.0.w", "blocks.2.w", "pair.0.w"]),
                       ("parameters() values", [arr(p)[0] for p in deep.parameters()], [5.0, 1.0, 2.0, 3.0, 4.0, 6.0]),
                       ("named_modules(prefix='x')", names_of(deep.a.named_modules(prefix="x")), ["x", "x.first", "x.second"])]:
    assert got == exp, f"{what}: expected {exp}, got {got}"
assert not bool(deep.train(False).a.second.training) and not bool(deep.blocks[2].training), "train(False) reaches every depth"
assert all(bool(m.training) for m in deep.train(True).modules()), "train(True) must switch every module back on"
tied = Pair()
tied.second.w = tied.first.w                                    # weight tying: one tensor, two modules
assert names_of(tied.named_parameters()) == ["first.w"], "a shared tensor is one parameter"
deep.a.first.w.grad, deep.pair[0].w.grad = Tensor(np.ones(3)), Tensor(np.ones(3))
deep.zero_grad()
assert deep.a.first.w.grad is None and deep.pair[0].w.grad is None, "zero_grad sets every .grad to None"
names = names_of(deep.named_parameters())
sd = {name: np.full(3, float(i)) for i, name in enumerate(names)}
sd["bias"] = [8, 8, 8]
deep.load_state_dict(sd)
got = [arr(p)[0] for p in deep.parameters()]
assert got == [8.0, 1.0, 2.0, 3.0, 4.0, 5.0], f"load_state_dict copies each value in by name; got {got}"
assert arr(deep.bias).dtype == np.float64, f"the parameter keeps its dtype, got {arr(deep.bias).dtype}"
sd["a.first.w"][:] = 9.0
assert np.allclose(arr(deep.a.first.w), 1.0), "load_state_dict must copy, not alias the caller's array"
sd = deep.state_dict()
got = [list(sd), [float(v[0]) for v in sd.values()]]
assert got == [names, [8.0, 1.0, 2.0, 3.0, 4.0, 5.0]], f"state_dict: expected names {names} and values, got {got}"
sd["bias"][:] = -1.0
assert np.allclose(arr(deep.bias), 8.0), "state_dict must hold copies, not the parameters' own arrays"
for bad, err, word in [({k: v for k, v in sd.items() if k != "a.second.w"}, KeyError, "a.second.w"),
                       (dict(sd, extra=np.zeros(1)), KeyError, "extra"),
                       (dict(sd, bias=np.zeros(3), **{"pair.0.w": np.zeros(4)}), ValueError, "(4,)")]:
    e = raised(lambda: deep.load_state_dict(bad))
    assert isinstance(e, err) and word in str(e), f"expected {err.__name__} mentioning {word!r}, got {e!r}"
assert np.allclose(arr(deep.bias), 8.0), "a failed load must not change any parameter"
### END HIDDEN TESTS

# %%
from tinytorch_lib.activations import ReLU
from tinytorch_lib.tensor import manual_seed  # for the tests and demos below

# %% [markdown]
# ## Linear
# $$y = x W^\top + b, \qquad W \in \mathbb{R}^{\text{out}\times\text{in}},\; b \in \mathbb{R}^{\text{out}}$$
# for $x$ of shape (…, in). Each output sums `in` products, so its variance grows with `in`; PyTorch draws
# weights and bias from $\mathcal U(-1/\sqrt{\text{in}}, 1/\sqrt{\text{in}})$, which keeps the output scale
# independent of the width. `forward` records ONE op, "linear": one graph node, not three (transpose,
# matmul, add), one new array, not two, and one gradient rule in module 05.

# %% solution id="linear"
#| export
class Linear(Module):
    """Linear(in_features, out_features, bias=True): y = x @ W.T + b, PyTorch's default init.

    __init__ calls Module's, keeps in_features and out_features, and sets self.weight, shape
    (out_features, in_features), and self.bias, shape (out_features,) (None when bias=False):
    float32 Tensors with requires_grad=True, every entry drawn independently from
    U(-1/sqrt(in_features), 1/sqrt(in_features)) by the course generator, the whole weight matrix
    first, then the bias vector (so manual_seed(s) fixes both).
    forward(x): x (a Tensor or anything `as_tensor` takes) of shape (..., in) -> (..., out), NumPy's
    result dtype, recorded as ONE op "linear" with parents (x, weight) or (x, weight, bias) and no ctx
    (module 05 writes its gradient); ValueError naming x's shape if its last size is not in_features.
    EXAMPLE: Linear(4, 2).weight.shape -> (2, 4); Linear(4, 2, bias=False).bias -> None;
             an x of shape (5, 4) through Linear(4, 2) -> shape (5, 2)
    HINT: a NumPy Generator's `uniform(low, high, size)` draws float64; cast afterwards. Flatten the
          leading axes of x.data so one 2-D matmul does every row; `_make` records; `+=` adds in place.
    """
    def __init__(self, in_features, out_features, bias=True):
        ### BEGIN SOLUTION
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / np.sqrt(in_features)
        gen = get_generator()
        w = gen.uniform(-bound, bound, size=(out_features, in_features))
        self.weight = Tensor(w.astype(np.float32), requires_grad=True)
        self.bias = None
        if bias:
            b = gen.uniform(-bound, bound, size=(out_features,))
            self.bias = Tensor(b.astype(np.float32), requires_grad=True)
        ### END SOLUTION
    def forward(self, x):
        ### BEGIN SOLUTION
        x = as_tensor(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear needs an input of shape (..., {self.in_features}), got {x.shape}")
        y = x.data.reshape(-1, self.in_features) @ self.weight.data.T     # every row in one 2-D matmul
        parents = (x, self.weight)
        if self.bias is not None:
            parents += (self.bias,)
            same = np.result_type(y, self.bias.data) == y.dtype
            y = np.add(y, self.bias.data, out=y if same else None)     # in place unless the dtype changes
        return _make(y.reshape(x.shape[:-1] + (self.out_features,)), parents, "linear")
        ### END SOLUTION
    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

# %% test id="test-linear" points=3
layer = Linear(3, 2)
got = (tuple(layer.weight.shape), tuple(layer.bias.shape))
assert got == ((2, 3), (2,)), f"expected weight (2, 3) and bias (2,), got {got}"
layer.weight.data = np.array([[1, 0, -1], [2, 1, 0]], dtype=np.float32)
layer.bias.data = np.array([0.5, -1.0], dtype=np.float32)
got = arr(layer(Tensor([[1.0, 2.0, 3.0]])))
assert np.allclose(got, [[-1.5, 3.0]]), f"expected [[-1.5, 3.0]] (x @ W.T + b), got {got}"
### BEGIN HIDDEN TESTS
assert names_of(layer.named_parameters()) == ["weight", "bias"], "parameters: weight, then bias"
manual_seed(42)
lin = Linear(5, 3)
gen = np.random.default_rng(42)                              # manual_seed(42) makes this same generator
w = gen.uniform(-1 / np.sqrt(5), 1 / np.sqrt(5), size=(3, 5)).astype(np.float32)
b = gen.uniform(-1 / np.sqrt(5), 1 / np.sqrt(5), size=(3,)).astype(np.float32)
assert np.array_equal(arr(lin.weight), w), f"weight: draw U(-1/sqrt(in), 1/sqrt(in)), shape (out, in), first: expected {w}, got {arr(lin.weight)}"
assert np.array_equal(arr(lin.bias), b), f"bias: drawn right after the weight: expected {b}, got {arr(lin.bias)}"
got = [arr(lin.weight).dtype, arr(lin.bias).dtype, bool(lin.weight.requires_grad), bool(lin.bias.requires_grad)]
assert got == [np.float32, np.float32, True, True], f"parameters: float32 with requires_grad=True, got {got}"
assert not np.array_equal(arr(Linear(5, 3).weight), w), "a second layer must get fresh weights"
nb = Linear(3, 2, bias=False)
assert nb.bias is None and names_of(nb.named_parameters()) == ["weight"], "bias=False: no bias parameter"
nb.weight.data = layer.weight.data
got = arr(nb(Tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])))
assert np.allclose(got, [[-2.0, 4.0], [0.0, 3.0]]), f"no bias: expected [[-2, 4], [0, 3]], got {got}"
got = tuple(layer(Tensor(np.ones((7, 5, 3)))).shape)
assert got == (7, 5, 2), f"Linear must work on (..., in) inputs: expected (7, 5, 2), got {got}"
rec = layer(Tensor(np.ones((4, 3)), requires_grad=True))
got = [str(rec._op), len(rec._parents), str(nb(np.ones((4, 3)))._op), len(nb(np.ones((4, 3)))._parents)]
assert got == ["linear", 3, "linear", 2], f"expected ONE op 'linear' with parents (x, W, b), or (x, W) without a bias; got {got}"
got = [tuple(layer(Tensor([1.0, 2.0, 3.0])).shape), str(arr(layer(np.ones((2, 3)))).dtype), str(raised(lambda: layer(Tensor(np.ones((2, 4))))))]
assert got[:2] == [(2,), "float64"] and "(2, 4)" in got[2], f"expected (2,) for a 1-D x, float64 for a float64 x, a ValueError naming (2, 4); got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## Sequential, Flatten and Dropout
# Layers named `"0"`, `"1"`, … give PyTorch's parameter names (`"0.weight"`). `Flatten` turns (N, C, H, W)
# into (N, C·H·W). **Dropout** zeroes each activation with probability $p$ in training and scales the kept
# ones up, so the expectation is kept; in evaluation mode it is the identity:
# $$\mathrm{Dropout}(x) = \frac{m \odot x}{1-p},\quad m_i \sim \mathrm{Bernoulli}(1-p), \qquad
#   \mathbb{E}[\mathrm{Dropout}(x)] = x.$$

# %% solution id="sequential-flatten-dropout"
#| export
class Sequential(Module):
    """Sequential(*layers): a chain, Sequential(l1, l2, l3)(x) = l3(l2(l1(x))).

    Write __init__(self, *modules) (call Module's __init__, store the layers as attributes "0", "1",
    ... and remember their number), __len__, __getitem__(i) (the i-th layer; negative i counts from
    the end; IndexError naming i when out of range), __iter__ (the layers in order) and forward(x)
    (an empty Sequential returns x itself).
    EXAMPLE: seq = Sequential(Linear(2, 3), ReLU()); len(seq) -> 2; seq[-1] -> ReLU()
    HINT: setattr and getattr take any string as the attribute name.
    """
    def __init__(self, *modules):
        ### BEGIN SOLUTION
        super().__init__()
        for i, layer in enumerate(modules):
            setattr(self, str(i), layer)
        self._len = len(modules)
        ### END SOLUTION
    def __len__(self):
        ### BEGIN SOLUTION
        return self._len
        ### END SOLUTION
    def __getitem__(self, i):
        ### BEGIN SOLUTION
        if not -self._len <= i < self._len:
            raise IndexError(f"index {i} is out of range for a Sequential of {self._len} layers")
        return getattr(self, str(i % self._len))
        ### END SOLUTION
    def __iter__(self):
        ### BEGIN SOLUTION
        return (self[i] for i in range(self._len))
        ### END SOLUTION
    def forward(self, x):
        ### BEGIN SOLUTION
        for layer in self:
            x = layer(x)
        return x
        ### END SOLUTION

class Flatten(Module):
    """Flatten(start_dim=1, end_dim=-1): merge the dims start_dim..end_dim (inclusive; negative counts
    from the end) with one reshape (a Tensor op, same element order); keep both dims as attributes
    of those names (extra_repr reads them).
    EXAMPLES: shape (2, 3, 4, 5) -> Flatten(): (2, 60);  Flatten(1, 2): (2, 12, 5);  Flatten(0): (120,)
    HINT: normalise both dims to non-negative indices first; `x.reshape(*shape)`.
    """
    def __init__(self, start_dim=1, end_dim=-1):
        ### BEGIN SOLUTION
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim
        ### END SOLUTION
    def forward(self, x):
        ### BEGIN SOLUTION
        s, e = self.start_dim % x.ndim, self.end_dim % x.ndim
        merged = int(np.prod(x.shape[s:e + 1]))
        return x.reshape(*x.shape[:s], merged, *x.shape[e + 1:])
        ### END SOLUTION
    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

class Dropout(Module):
    """Dropout(p=0.5): inverted dropout; p, kept as attribute `p`, is the probability to DROP an
    element (ValueError unless 0 <= p <= 1).

    forward(x) in training mode: x * mask, a Tensor op, where mask has x's shape and dtype and each
    entry is independently 0 with probability p, else 1/(1-p) (all 0 when p == 1, without dividing
    by zero); the uniform numbers come from the course generator, one per element, in x's shape.
    In eval mode, or when p == 0: return x itself and draw no random numbers.
    EXAMPLE: Dropout(0.5) on a float32 Tensor of ones -> about half 0., the rest 2., float32
    HINT: compare uniform [0, 1) numbers with p to decide which elements survive.
    """
    def __init__(self, p=0.5):
        ### BEGIN SOLUTION
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        ### END SOLUTION
    def forward(self, x):
        ### BEGIN SOLUTION
        if not self.training or self.p == 0:
            return x
        keep = get_generator().random(x.shape) >= self.p
        scale = 1.0 / (1.0 - self.p) if self.p < 1 else 0.0
        return x * (keep * scale).astype(x.data.dtype)
        ### END SOLUTION
    def extra_repr(self):
        return f"p={self.p}"

# %% test id="test-sequential-flatten-dropout" points=4
net = Sequential(Linear(2, 3), ReLU(), Linear(3, 1))
x = Tensor([[1.0, -2.0], [0.5, 0.5]])
exp = arr(net[2](ReLU()(net[0](x))))
got = arr(net(x))
assert np.allclose(got, exp), f"expected layer 2 of (ReLU of (layer 0 of x)) = {exp}, got {got}"
got = names_of(net.named_parameters())
assert got == ["0.weight", "0.bias", "2.weight", "2.bias"], f"expected PyTorch's names, got {got}"
got = tuple(Flatten()(Tensor(np.zeros((2, 3, 4, 5)))).shape)
assert got == (2, 60), f"Flatten() must give (N, C*H*W) = (2, 60), got {got}"
got = repr(Sequential(Linear(2, 3), ReLU()))
exp = "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): ReLU()\n)"
assert got == exp, f"expected\n{exp}\ngot\n{got}"
manual_seed(0)
out = arr(Dropout(0.5)(Tensor(np.ones((100, 100), dtype=np.float32))))
assert set(np.unique(out)) <= {0.0, 2.0}, f"kept values must be scaled by 1/(1-p) = 2, got {np.unique(out)}"
assert 0.45 < (out == 0).mean() < 0.55, f"about half must be dropped, got {(out == 0).mean():.2f}"
got = arr(Dropout(0.5).eval()(Tensor(np.ones(10))))
assert np.array_equal(got, np.ones(10)), f"in eval mode Dropout is the identity, got {got}"
### BEGIN HIDDEN TESTS
assert len(net) == 3 and isinstance(net[1], ReLU) and isinstance(net[-2], ReLU), "indexing, negative too"
assert np.array_equal(arr(net[-1].weight), arr(net[2].weight)), "net[-1] is the last layer"
assert isinstance(net[-3], Linear), "net[-3] of 3 layers is the first layer"
for i in (3, -4):
    assert isinstance(raised(lambda: net[i]), IndexError), f"net[{i}] of 3 layers: expected IndexError"
got = [(isinstance(layer, Linear), isinstance(layer, ReLU)) for layer in net]
exp = [(True, False), (False, True), (True, False)]
assert got == exp, f"iterating must give Linear, ReLU, Linear: expected (is Linear, is ReLU) = {exp}, got {got}"
assert np.array_equal(arr(Sequential()(x)), arr(x)), "an empty Sequential returns x"
got = names_of(Sequential(net, Linear(1, 1)).named_parameters())
assert got == ["0.0.weight", "0.0.bias", "0.2.weight", "0.2.bias", "1.weight", "1.bias"], f"nested: got {got}"
img = np.arange(120.0).reshape(2, 3, 4, 5)
for args, shape in [((0,), (120,)), ((1, 2), (2, 12, 5)), ((-3, -2), (2, 12, 5)), ((2,), (2, 3, 20)),
                    ((0, 1), (6, 4, 5)), ((3,), (2, 3, 4, 5))]:
    got = arr(Flatten(*args)(Tensor(img)))
    assert got.shape == shape and np.array_equal(got.ravel(), img.ravel()), f"Flatten{args}: expected {shape}, got {got.shape}"
model = Sequential(Linear(4, 4), Dropout(0.9), Sequential(ReLU(), Dropout(0.9))).eval()
z = Tensor(np.ones((3, 4), dtype=np.float32))
assert np.array_equal(arr(model(z)), arr(model(z))), "model.eval() must turn off nested Dropouts"
state = get_generator().bit_generator.state["state"]["state"]
Dropout(0.3).eval()(z)
Dropout(0.0)(z)
assert get_generator().bit_generator.state["state"]["state"] == state, "eval mode and p=0 draw no random numbers"
manual_seed(7)
a = arr(Dropout(0.3)(Tensor(np.full(1000, 3.0))))
g = np.random.default_rng(7)
exp = np.where(g.random(1000) >= 0.3, 3.0 / 0.7, 0.0)
assert np.allclose(a, exp), "mask: generator.random(x.shape) >= p, kept values scaled by 1/(1-p)"
c = arr(Dropout(0.3)(Tensor(np.full(1000, 3.0))))
assert not np.array_equal(a, c), "every call draws a fresh mask"
got = arr(Dropout(0.2)(Tensor(np.ones((4, 4), dtype=np.float32))))
assert got.dtype == np.float32 and got.shape == (4, 4), f"Dropout keeps dtype and shape, got {got.dtype} {got.shape}"
got = arr(Dropout(1.0)(Tensor(np.ones(5))))
assert np.array_equal(got, np.zeros(5)), f"p=1 drops everything, got {got}"
for p in (1.5, -0.1):
    assert isinstance(raised(lambda: Dropout(p)), ValueError), f"Dropout({p}): expected ValueError"
got = [float(Dropout(1).p), float(Dropout(0).p), float(Dropout().p)]
assert got == [1.0, 0.0, 0.5], f"p = 0 and p = 1 are allowed, the default is 0.5: expected [1, 0, 0.5], got {got}"
got = [repr(Sequential(Sequential(Flatten()), Dropout(0.2))), repr(Dropout(0.3)), repr(Sequential())]
exp = ["Sequential(\n  (0): Sequential(\n    (0): Flatten(start_dim=1, end_dim=-1)\n  )\n  (1): Dropout(p=0.2)\n)",
       "Dropout(p=0.3)", "Sequential()"]
assert got == exp, f"nested reprs indent by two more spaces: expected {exp}, got {got}"
### END HIDDEN TESTS

# %% [markdown]
# ## Why $1/\sqrt{\text{in}}$: a signal through ten layers
# Ten `Linear(256, 256)` + ReLU layers: PyTorch's bound *shrinks* the signal by $\sqrt{1/6}$ per layer,
# whatever the width; $\mathcal N(0, 1)$ weights grow it by about $\sqrt{256/2} \approx 11$. **Kaiming** init,
# $W \sim \mathcal N(0, 2/\text{in})$, bias 0, keeps it constant: ReLU zeroes half of a symmetric input,
# halving its second moment, and the factor 2 gives it back. Re-initialising finds every `Linear` in the tree.

# %% solution id="kaiming"
def kaiming_normal_(model):
    """Re-initialise in place every Linear of `model` (the model itself or any module below it).

    Each Linear's weight gets new N(0, 2/in_features) entries from the course generator, drawn in
    the weight's shape and cast to its dtype (the same Tensor object keeps requires_grad); its bias,
    if any, becomes zeros. Linears are visited in modules() order; nothing else changes. Returns model.
    EXAMPLE: kaiming_normal_(Sequential(Linear(200, 300))) -> its weight has std about 0.1, bias all 0
    HINT: the generator's `normal(loc, scale, size)`; scale is a standard deviation.
    """
    ### BEGIN SOLUTION
    for module in model.modules():
        if isinstance(module, Linear):
            std = np.sqrt(2.0 / module.in_features)
            w = get_generator().normal(0.0, std, size=module.weight.shape)
            module.weight.data = w.astype(module.weight.data.dtype)
            if module.bias is not None:
                module.bias.data = np.zeros_like(module.bias.data)
    return model
    ### END SOLUTION

# %% test id="test-kaiming" points=2
net = Sequential(Linear(400, 300), ReLU(), Linear(300, 2))
weight = net[0].weight
got = [kaiming_normal_(net) is net, net[0].weight is weight, float(np.std(arr(weight))), float(np.abs(arr(net[2].bias)).max())]
assert got[:2] == [True, True] and abs(got[2] - np.sqrt(2 / 400)) < 0.003 and got[3] == 0, \
    f"expected the model back, the same weight Tensor with std {np.sqrt(2 / 400):.4f}, zero biases; got {got}"
### BEGIN HIDDEN TESTS
nested = Sequential(Flatten(), Sequential(Linear(5, 4, bias=False), Dropout(0.2)), Linear(4, 3))
manual_seed(3)
kaiming_normal_(nested)
gen = np.random.default_rng(3)
w1, w2 = gen.normal(0, np.sqrt(2 / 5), (4, 5)), gen.normal(0, np.sqrt(2 / 4), (3, 4))
got = [arr(nested[1][0].weight), arr(nested[2].weight), arr(nested[2].bias)]
assert np.allclose(got[0], w1) and np.allclose(got[1], w2), f"N(0, 2/in) in modules() order: expected {w1}, {w2}, got {got[:2]}"
assert got[1].dtype == np.float32 and got[2].dtype == np.float32 and not got[2].any(), f"float32 weights, zero bias: got {got}"
assert bool(nested[2].weight.requires_grad) and nested[1][0].bias is None, "the parameters stay parameters"
### END HIDDEN TESTS

# %%
import matplotlib.pyplot as plt
manual_seed(0)
x = Tensor(get_generator().standard_normal((512, 256)).astype(np.float32))
stack = lambda: Sequential(*[layer for _ in range(10) for layer in (Linear(256, 256), ReLU())])
unit = stack()
for i in range(0, 20, 2):
    unit[i].weight.data = get_generator().standard_normal((256, 256)).astype(np.float32)
plt.figure(figsize=(5, 3.2))
for label, model in [("PyTorch U(±1/√in)", stack()), ("N(0, 1)", unit), ("Kaiming N(0, 2/in)", kaiming_normal_(stack()))]:
    h, stds = x, []
    for lay in model:
        stds.append(float((h := lay(h)).data.std()))
    plt.semilogy(range(1, 11), stds[1::2], "o-", label=label)
plt.xlabel("layer"); plt.ylabel("std of activations"); plt.legend(); plt.grid(alpha=0.3); plt.tight_layout(); plt.show()

# %% [markdown]
# ## Systems note: how big is an MLP?
# A `Linear(in, out)` has $\text{in}\cdot\text{out} + \text{out}$ parameters and costs
# $2\cdot\text{in}\cdot\text{out}$ FLOPs per input row (a multiply and an add). Training must also
# keep the output of every layer until the backward pass. Count all three.

# %% solution id="footprint"
def footprint(model, x):
    """(n_params, param_bytes, activation_bytes, flops) of a Sequential `model` run on the Tensor `x`.

    n_params: int, the number of scalars over model.parameters() (a shared tensor once);
    param_bytes: int, their bytes; activation_bytes: int, the bytes of every layer's output when x
    is fed through the layers one by one (the input itself not counted); flops: int, 2 * in * out
    per input row of every Linear (its bias and every other layer cost 0).
    EXAMPLE: footprint(Sequential(Linear(3, 4), ReLU()), Tensor(np.zeros((5, 3), np.float32)))
             -> (16, 64, 160, 120)   (two (5, 4) float32 outputs; 5 rows of 2 * 3 * 4)
    HINT: a Sequential is iterable; `numel()` and `.data.nbytes`.
    """
    ### BEGIN SOLUTION
    params = list(model.parameters())
    n_params = sum(p.numel() for p in params)
    param_bytes = sum(p.data.nbytes for p in params)
    act_bytes = flops = 0
    for layer in model:
        if isinstance(layer, Linear):
            flops += 2 * x.numel() * layer.out_features
        x = layer(x)
        act_bytes += x.data.nbytes
    return n_params, param_bytes, act_bytes, flops
    ### END SOLUTION

# %% test id="test-footprint" points=2
got = tuple(int(v) for v in footprint(Sequential(Linear(3, 4), ReLU(), Linear(4, 2)), Tensor(np.zeros((5, 3), np.float32))))
assert got == (26, 104, 200, 200), f"expected 26 parameters, 104 bytes, 80 + 80 + 40 = 200 activation bytes, 120 + 80 FLOPs; got {got}"
### BEGIN HIDDEN TESTS
tied = Sequential(Flatten(), Linear(6, 6, bias=False), Linear(6, 6, bias=False))
tied[2].weight = tied[1].weight
got = tuple(int(v) for v in footprint(tied, Tensor(np.zeros((2, 3, 2)))))
assert got == (36, 144, 3 * 96, 288), f"shared weight once, float64 outputs (2, 6), 2 * 2 * 72 FLOPs: expected (36, 144, 288, 288), got {got}"
got = tuple(int(v) for v in footprint(Sequential(Linear(2, 3)), Tensor(np.zeros((4, 5, 2)))))
assert got == (9, 36, 480, 240), f"(4, 5, 2) float64 input = 20 rows: expected (9, 36, 480, 240), got {got}"
got = tuple(int(v) for v in footprint(Sequential(), Tensor(np.zeros(4))))
assert got == (0, 0, 0, 0), f"an empty model: expected (0, 0, 0, 0), got {got}"
### END HIDDEN TESTS

# %%
import time
mlp = Sequential(Flatten(), Linear(784, 256), ReLU(), Dropout(0.1), Linear(256, 128), ReLU(), Linear(128, 10))
batch = Tensor(np.zeros((64, 1, 28, 28), dtype=np.float32))
t0 = time.perf_counter()
n_params, param_bytes, act_bytes, flops = footprint(mlp, batch)
ms = (time.perf_counter() - t0) * 1e3
print(f"parameters: {n_params:,} = {param_bytes / 2**20:.2f} MiB in float32; activations kept for backward, batch of 64: "
      f"{act_bytes / 2**20:.2f} MiB; forward {flops / 1e6:.1f} MFLOP in {ms:.2f} ms = {flops / ms / 1e6:.2f} GFLOP/s")

# %% [markdown]
# The weights dominate for a small batch; activations grow with batch size and depth, and Adam keeps
# two more arrays per parameter: training needs several times the memory of inference.
