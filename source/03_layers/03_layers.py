# %% [markdown]
# # 03 · Layers
#
# A neural network is a function with knobs. This module builds the container that holds the knobs,
# `Module`, and the first layers that have them:
#
# * `Module`: calling it runs `forward`; it finds its **parameters** (every `Tensor` attribute with
#   `requires_grad=True`, and those of its sub-modules), switches between training and evaluation
#   mode, and saves/loads its weights.
# * `Linear(in, out)`: $y = xW^\top + b$ with $W$ of shape (out, in).
# * `Sequential(*layers)`: feeds the output of one layer into the next.
# * `Dropout(p)`: randomly zeroes activations while training.
# * `Flatten()`: turns an image batch (N, C, H, W) into a matrix (N, C·H·W).
#
# Everything is written with the `Tensor` operations of module 01, so once module 05 exists the
# gradients of every layer come for free.

# %%
#| default_exp layers
#| export
import numpy as np

from tinytorch_lib.tensor import Tensor, get_generator

# %% [markdown]
# ## Module: finding the parameters
#
# PyTorch finds parameters by looking at a module's attributes. We do the same: a **parameter** is any
# attribute that is a `Tensor` with `requires_grad=True`; a **sub-module** is any attribute that is a
# `Module` (or a list/tuple of them). Python keeps attributes in assignment order (`vars(self)`), so
# that is the registration order.
#
# `named_modules()` (given) walks the tree depth first: first the module itself under the name `""`,
# then each sub-module under a dotted name like `"0"` or `"body.0"`. `named_parameters()` (yours)
# visits those modules in that order and yields each module's own parameters, named
# `"<module name>.<attribute>"`, exactly PyTorch's order and names:
#
# ```
# Sequential(Linear(2, 3), ReLU(), Linear(3, 1))  ->  0.weight, 0.bias, 2.weight, 2.bias
# ```
#
# A tensor shared by two modules (weight tying) is a single parameter: yield it once.
#
# `train()` / `eval()` switch `.training` on the module **and every sub-module**: a `Dropout` buried
# three levels deep must stop dropping when you evaluate the whole network.

# %% solution id="module"
#| export
class Module:
    """Base class of every layer and model: `m(x)` runs `m.forward(x)`."""

    training = True

    def __init__(self):
        self.training = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def named_children(self):
        """(name, module) of the direct sub-modules, in registration order."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

    def named_modules(self, prefix="", memo=None):
        """(name, module) of this module ("") and of all sub-modules, depth first, each once."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_parameters(self):
        """Yield (name, tensor) for every parameter of this module and its sub-modules.

        TODO: for each (module_name, module) of `self.named_modules()`, yield the module's own
              parameters (attributes that are a Tensor with requires_grad=True) in attribute order,
              named "module_name.attr" (just "attr" when module_name is ""). Each tensor only once.
        APPROACH: 1) a set `seen` of ids  2) loop over named_modules(), then over vars(module).items()
                  3) skip what is not a Tensor, has requires_grad False, or whose id was seen.
        EXAMPLE: Sequential(Linear(2, 3), ReLU(), Linear(3, 1)).named_parameters()
                 -> ("0.weight", W0), ("0.bias", b0), ("2.weight", W2), ("2.bias", b2)
        HINTS: `vars(obj)` is the dict of an object's attributes, in assignment order.
        """
        ### BEGIN SOLUTION
        seen = set()
        for module_name, module in self.named_modules():
            for name, value in vars(module).items():
                if isinstance(value, Tensor) and value.requires_grad and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{module_name}.{name}" if module_name else name), value
        ### END SOLUTION

    def parameters(self):
        """Every parameter Tensor, in the order of `named_parameters()`."""
        for _, p in self.named_parameters():
            yield p

    def train(self, mode=True):
        """Set `.training = mode` on this module and every sub-module; return self.

        TODO: switch the whole tree to training (mode=True) or evaluation (mode=False).
        APPROACH: loop over `self.modules()` (this module included) and set `.training`.
        EXAMPLE: net.train(False); net[1].training  ->  False
        HINTS: returning self allows `model = Net().eval()`.
        """
        ### BEGIN SOLUTION
        for module in self.modules():
            module.training = mode
        return self
        ### END SOLUTION

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        """Forget the gradients of every parameter (set `.grad` to None, like PyTorch)."""
        for p in self.parameters():
            p.grad = None

    def state_dict(self):
        """{name: copy of the parameter's ndarray}."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state_dict):
        """Copy arrays from `state_dict` into the parameters (names and shapes must match)."""
        params = dict(self.named_parameters())
        missing = sorted(set(params) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(params))
        if missing or unexpected:
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        for name, p in params.items():
            value = np.asarray(state_dict[name])
            if value.shape != p.shape:
                raise ValueError(f"load_state_dict: {name!r} has shape {value.shape} in the state dict "
                                 f"but {p.shape} in the model")
            p.data = value.astype(p.data.dtype, copy=True)

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"  ({name}): " + repr(value).replace("\n", "\n  ")
                 for name, value in vars(self).items() if hasattr(value, "forward")]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"

# %% test id="test-module" points=3
class Scale(Module):
    def __init__(self):
        super().__init__()
        self.w = Tensor(np.ones(3), requires_grad=True)
        self.offset = Tensor(np.zeros(3))            # requires_grad=False: a constant, not a parameter

    def forward(self, x):
        return x * self.w

class Pair(Module):
    def __init__(self):
        super().__init__()
        self.first = Scale()
        self.second = Scale()

net = Pair()
names = [name for name, _ in net.named_parameters()]
assert names == ["first.w", "second.w"], f"expected ['first.w', 'second.w'], got {names}"
params = list(net.parameters())
assert len(params) == 2 and params[0] is net.first.w and params[1] is net.second.w, \
    "parameters() must yield the very Tensor objects of the sub-modules, in order"
assert net.training and net.first.training, "a new module is in training mode"
assert net.eval() is net, "eval() must return the module itself"
assert not net.training and not net.first.training and not net.second.training, \
    "eval() must switch every sub-module to evaluation mode"
net.train()
assert net.training and net.second.training, "train() must switch every sub-module back"
### BEGIN HIDDEN TESTS
class Deep(Module):
    def __init__(self):
        super().__init__()
        self.a = Pair()
        self.bias = Tensor(np.zeros(3), requires_grad=True)   # own parameter, registered after a child
        self.shared = self.a.first                           # the same module twice: its w counts once
        self.blocks = [Scale(), Scale()]                     # a list of modules is walked too

deep = Deep()
names = [n for n, _ in deep.named_parameters()]
assert names == ["bias", "a.first.w", "a.second.w", "blocks.0.w", "blocks.1.w"], \
    f"own parameters first, then sub-modules depth first, shared ones once (PyTorch order); got {names}"
assert [p is q for p, q in zip(deep.parameters(), [deep.bias, deep.a.first.w])] == [True, True]
deep.train(False)
assert not deep.a.second.training and not deep.blocks[1].training, "train(False) must reach every depth"
deep.train(True)
assert all(m.training for m in deep.modules())
sd = deep.state_dict()
assert sorted(sd) == sorted(names) and isinstance(sd["bias"], np.ndarray)
sd["a.first.w"][:] = 7.0
assert np.allclose(deep.a.first.w.data, 1.0), "state_dict must hold copies"
deep.load_state_dict(sd)
assert np.allclose(deep.a.first.w.data, 7.0) and deep.a.first.w.data.dtype == np.float64
sd["a.first.w"][:] = 9.0
assert np.allclose(deep.a.first.w.data, 7.0), "load_state_dict must copy, not alias"
deep.a.first.w.grad = Tensor(np.ones(3))
deep.zero_grad()
assert deep.a.first.w.grad is None
tied = Pair()
tied.second.w = tied.first.w                                 # weight tying: one tensor, two modules
assert [n for n, _ in tied.named_parameters()] == ["first.w"], "a shared tensor is one parameter"
### END HIDDEN TESTS

# %% [markdown]
# ## Linear
#
# $$y = x W^\top + b, \qquad W \in \mathbb{R}^{\text{out}\times\text{in}},\; b \in \mathbb{R}^{\text{out}}$$
#
# for a batch $x$ of shape (N, in) (or any (…, in): `@` broadcasts). The initial weights matter: each
# output sums `in` products, so its variance grows with `in`. PyTorch draws every weight and bias from
# $\mathcal U\bigl(-1/\sqrt{\text{in}},\ 1/\sqrt{\text{in}}\bigr)$, which keeps the output scale
# independent of the layer width. Draw them from the course's single generator, `get_generator()`,
# so that `manual_seed` makes runs reproducible: the weight first, then the bias, as float32.

# %% solution id="linear"
#| export
class Linear(Module):
    def __init__(self, in_features, out_features, bias=True):
        """A fully connected layer with PyTorch's default initialisation.

        TODO: create self.weight (out_features, in_features) and self.bias (out_features,) or None,
              both float32 Tensors with requires_grad=True drawn from U(-1/sqrt(in), 1/sqrt(in)).
        APPROACH: 1) bound = 1 / sqrt(in_features)  2) g = get_generator()
                  3) g.uniform(-bound, bound, size=...) for the weight, then for the bias.
        EXAMPLE: Linear(4, 2).weight.shape -> (2, 4);  Linear(4, 2, bias=False).bias -> None
        HINTS: `.astype(np.float32)`; the weight must be drawn before the bias.
        """
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        ### BEGIN SOLUTION
        bound = 1.0 / np.sqrt(in_features)
        g = get_generator()
        w = g.uniform(-bound, bound, size=(out_features, in_features))
        self.weight = Tensor(w.astype(np.float32), requires_grad=True)
        b = g.uniform(-bound, bound, size=(out_features,)) if bias else None
        self.bias = Tensor(b.astype(np.float32), requires_grad=True) if bias else None
        ### END SOLUTION

    def forward(self, x):
        """y = x @ W.T + b.

        TODO: return the affine map of x, composed of Tensor operations (so it is differentiable).
        APPROACH: matmul with the transposed weight, add the bias if there is one.
        EXAMPLE: x (5, 4) through Linear(4, 2) -> (5, 2)
        HINTS: `self.weight.T`; broadcasting adds the (out,) bias to every row.
        """
        ### BEGIN SOLUTION
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y
        ### END SOLUTION

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

# %% test id="test-linear" points=3
from tinytorch_lib.tensor import manual_seed

layer = Linear(3, 2)
assert layer.weight.shape == (2, 3) and layer.bias.shape == (2,), \
    f"expected weight (2, 3) and bias (2,), got {layer.weight.shape} and {layer.bias.shape}"
layer.weight.data = np.array([[1, 0, -1], [2, 1, 0]], dtype=np.float32)
layer.bias.data = np.array([0.5, -1.0], dtype=np.float32)
y = layer(Tensor([[1.0, 2.0, 3.0]]))
assert np.allclose(y.data, [[-1.5, 3.0]]), f"expected [[-1.5, 3.0]] (x @ W.T + b), got {y.data}"
assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
### BEGIN HIDDEN TESTS
big = Linear(400, 250)
w = big.weight.data
assert w.dtype == np.float32 and big.bias.dtype == np.float32 and big.weight.requires_grad
assert np.abs(w).max() <= 0.05 and np.abs(w).max() > 0.049, \
    f"weights must fill U(-1/sqrt(in), 1/sqrt(in)) = U(-0.05, 0.05); max |w| = {np.abs(w).max()}"
assert abs(w.mean()) < 2e-3 and abs(w.std() - 0.05 / np.sqrt(3)) < 1e-3, "weights must be uniform, zero-mean"
assert np.abs(big.bias.data).max() <= 0.05 and np.abs(big.bias.data).max() > 0.04
manual_seed(123); a = Linear(5, 4)
manual_seed(123); b = Linear(5, 4)
c = Linear(5, 4)
assert np.array_equal(a.weight.data, b.weight.data) and np.array_equal(a.bias.data, b.bias.data), \
    "draw from get_generator() so that manual_seed makes layers reproducible"
assert not np.array_equal(b.weight.data, c.weight.data), "two layers must not get the same weights"
nb = Linear(3, 2, bias=False)
assert nb.bias is None and len(list(nb.parameters())) == 1
nb.weight.data = layer.weight.data.copy()
assert np.allclose(nb(Tensor([[1.0, 2.0, 3.0]])).data, [[-2.0, 4.0]])
assert layer(Tensor(np.ones((7, 5, 3)))).shape == (7, 5, 2), "Linear must work on (..., in) inputs"
### END HIDDEN TESTS

# %% [markdown]
# ## Sequential, Flatten and Dropout
#
# `Sequential(l1, l2, l3)(x)` is `l3(l2(l1(x)))`. It stores its layers as attributes named `"0"`,
# `"1"`, … so that the parameter names match PyTorch's (`"0.weight"`). Any callable can be a layer,
# including the activations of module 02 (they have no parameters, so the walk skips them).
#
# `Flatten(start_dim=1, end_dim=-1)` merges the dimensions `start_dim … end_dim` into one, with a
# single `reshape`.
#
# **Dropout** fights overfitting by zeroing each activation with probability $p$ during training.
# Dropping would shrink the expected activation to $(1-p)x$, so the kept values are scaled up
# ("inverted dropout"); in evaluation mode dropout is the identity:
#
# $$\mathrm{Dropout}(x) = \frac{m \odot x}{1-p},\quad m_i \sim \mathrm{Bernoulli}(1-p), \qquad
#   \mathbb{E}[\mathrm{Dropout}(x)] = x.$$
#
# The mask comes from `get_generator()`; multiplying by it is a Tensor `*`, so the gradient flows only
# through the kept units.

# %% solution id="sequential-flatten-dropout"
#| export
class Sequential(Module):
    def __init__(self, *modules):
        super().__init__()
        for i, layer in enumerate(modules):
            setattr(self, str(i), layer)
        self._len = len(modules)

    def __len__(self):
        return self._len

    def __getitem__(self, i):
        if not -self._len <= i < self._len:
            raise IndexError(f"index {i} is out of range for a Sequential of {self._len} layers")
        return getattr(self, str(i % self._len))

    def __iter__(self):
        return (getattr(self, str(i)) for i in range(self._len))

    def forward(self, x):
        """Apply the layers one after the other.

        TODO: feed x through every layer in order and return the result.
        APPROACH: iterate over `self` (see __iter__).
        EXAMPLE: Sequential(Linear(2, 3), ReLU())(x) == ReLU()(Linear(2, 3)(x))  (same layer objects)
        HINTS: an empty Sequential returns x unchanged.
        """
        ### BEGIN SOLUTION
        for layer in self:
            x = layer(x)
        return x
        ### END SOLUTION


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x):
        """Merge dimensions start_dim..end_dim (inclusive, negative counts from the end).

        TODO: return x reshaped so that those dimensions become one.
        APPROACH: 1) turn start/end into non-negative indices (`% x.ndim`)
                  2) new shape = shape[:s] + (product of shape[s:e+1],) + shape[e+1:]  3) reshape.
        EXAMPLE: Flatten()(x of shape (2, 3, 4, 5)).shape -> (2, 60)
        HINTS: `int(np.prod(...))`; `x.reshape(*shape)`.
        """
        ### BEGIN SOLUTION
        s, e = self.start_dim % x.ndim, self.end_dim % x.ndim
        shape = x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:]
        return x.reshape(*shape)
        ### END SOLUTION

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, x):
        """Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p).

        TODO: in training mode return x * mask, where mask is 0 with probability p and 1/(1-p)
              otherwise (0 everywhere when p == 1); in eval mode (or p == 0) return x unchanged.
        APPROACH: 1) if not self.training ... return x  2) keep = get_generator().random(x.shape) >= p
                  3) mask = keep * scale, cast to x's dtype  4) return x * mask (a Tensor op).
        EXAMPLE: Dropout(0.5) on ones -> about half 0., the other half 2.
        HINTS: avoid 1 / (1 - p) when p == 1 (division by zero).
        """
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
from tinytorch_lib.activations import ReLU

l0, l2 = Linear(2, 3), Linear(3, 1)
net = Sequential(l0, ReLU(), l2)
x = Tensor([[1.0, -2.0], [0.5, 0.5]])
expected = l2(ReLU()(l0(x))).data
assert np.allclose(net(x).data, expected), f"expected {expected}, got {net(x).data}"
names = [n for n, _ in net.named_parameters()]
assert names == ["0.weight", "0.bias", "2.weight", "2.bias"], f"got {names}"
assert Flatten()(Tensor(np.zeros((2, 3, 4, 5)))).shape == (2, 60), "Flatten() must give (N, C*H*W)"
manual_seed(0)
d = Dropout(0.5)
out = d(Tensor(np.ones((100, 100), dtype=np.float32))).data
assert set(np.unique(out)) <= {0.0, 2.0}, f"kept values must be scaled by 1/(1-p) = 2, got {np.unique(out)}"
assert 0.45 < (out == 0).mean() < 0.55, f"about half must be dropped, got {(out == 0).mean():.2f}"
d.eval()
assert np.array_equal(d(Tensor(np.ones(10))).data, np.ones(10)), "in eval mode Dropout is the identity"
### BEGIN HIDDEN TESTS
assert np.array_equal(Sequential()(x).data, x.data) and len(net) == 3 and net[2] is l2 and net[-1] is l2
assert [p is q for p, q in zip(net.parameters(), [l0.weight, l0.bias, l2.weight, l2.bias])] == [True] * 4
assert Flatten(0)(Tensor(np.zeros((2, 3, 4)))).shape == (24,)
assert Flatten(1, 2)(Tensor(np.zeros((2, 3, 4, 5)))).shape == (2, 12, 5)
assert Flatten(-3, -2)(Tensor(np.zeros((2, 3, 4, 5)))).shape == (2, 12, 5)
img = np.arange(24.0).reshape(2, 3, 4)
assert np.array_equal(Flatten()(Tensor(img)).data, img.reshape(2, 12)), "Flatten must keep the element order"
model = Sequential(Linear(4, 4), Dropout(0.9), Sequential(ReLU(), Dropout(0.9)))
model.eval()
z = Tensor(np.ones((3, 4), dtype=np.float32))
assert np.array_equal(model(z).data, model(z).data), "model.eval() must turn off nested Dropouts"
model.train()
assert model[1].training and model[2][1].training
manual_seed(7); a = Dropout(0.3)(Tensor(np.ones(1000))).data
manual_seed(7); b = Dropout(0.3)(Tensor(np.ones(1000))).data
c = Dropout(0.3)(Tensor(np.ones(1000))).data
assert np.array_equal(a, b) and not np.array_equal(b, c), "draw the mask from get_generator()"
assert np.allclose(np.unique(a), [0.0, 1 / 0.7]) and 0.25 < (a == 0).mean() < 0.35, "p is the DROP probability"
big = Dropout(0.2)(Tensor(np.full(200_000, 3.0))).data
assert abs(big.mean() - 3.0) < 0.03, "inverted dropout keeps the mean: scale kept values by 1/(1-p)"
assert Dropout(0.2)(Tensor(np.ones(4, dtype=np.float32))).data.dtype == np.float32
import warnings
with warnings.catch_warnings():
    warnings.simplefilter("error")
    assert np.array_equal(Dropout(1.0)(Tensor(np.ones(5))).data, np.zeros(5)), "p=1 drops everything"
assert np.array_equal(Dropout(0.0)(Tensor(np.ones(5))).data, np.ones(5))
try:
    Dropout(1.5)
    raise AssertionError("Dropout(1.5) must raise ValueError")
except ValueError:
    pass
### END HIDDEN TESTS

# %% [markdown]
# ## Why $1/\sqrt{\text{in}}$: a signal through ten layers
#
# Push a random batch through ten `Linear(256, 256)` + ReLU layers and watch the standard deviation of
# the activations. With PyTorch's bound every layer scales the signal by a constant factor
# independent of the width; with weights drawn from $\mathcal N(0, 1)$ each layer multiplies it by
# about $\sqrt{256/2} \approx 11$, and ten layers later the numbers are astronomically large.

# %%
import matplotlib.pyplot as plt

from tinytorch_lib.activations import ReLU
from tinytorch_lib.tensor import manual_seed

manual_seed(0)
layers = [Linear(256, 256) for _ in range(10)]
relu = ReLU()
stds = {"PyTorch init U(±1/√in)": [], "N(0, 1) init": []}
for label, scale in [("PyTorch init U(±1/√in)", None), ("N(0, 1) init", 1.0)]:
    h = Tensor(get_generator().standard_normal((512, 256)).astype(np.float32))
    for lin in layers:
        w = lin.weight if scale is None else Tensor(get_generator().standard_normal((256, 256)).astype(np.float32))
        h = relu(h @ w.T)
        stds[label].append(float(h.data.std()))
plt.figure(figsize=(5, 3.2))
for label, s in stds.items():
    plt.semilogy(range(1, 11), s, "o-", label=label)
plt.xlabel("layer"); plt.ylabel("std of activations"); plt.legend(); plt.grid(alpha=0.3)
plt.tight_layout()
plt.show()

# %% [markdown]
# (PyTorch's default actually *shrinks* the signal by $\sqrt{1/6}$ per ReLU layer; Kaiming init,
# $\mathcal N(0, 2/\text{in})$, keeps it constant. Residual connections and normalisation layers,
# later in the course, make deep networks far less sensitive to the choice.)
#
# ## Systems note: how big is an MLP?
#
# A `Linear(in, out)` has $\text{in}\cdot\text{out} + \text{out}$ parameters. For the classic MNIST
# MLP 784 → 256 → 128 → 10 we count them, and measure the bytes they occupy against the bytes of the
# activations of one batch:

# %%
mlp = Sequential(Flatten(), Linear(784, 256), ReLU(), Dropout(0.1), Linear(256, 128), ReLU(), Linear(128, 10))
for name, p in mlp.named_parameters():
    print(f"{name:10s} {str(p.shape):12s} {p.numel():7d}")
n_params = sum(p.numel() for p in mlp.parameters())
param_bytes = sum(p.data.nbytes for p in mlp.parameters())
batch = Tensor(np.zeros((64, 1, 28, 28), dtype=np.float32))
act_bytes, h = 0, batch
for layer in mlp:
    h = layer(h)
    act_bytes += h.data.nbytes
print(f"parameters: {n_params:,} = {param_bytes / 2**20:.2f} MiB in float32")
print(f"activations kept for backward, batch of 64: {act_bytes / 2**20:.2f} MiB")
print(f"training with Adam also keeps gradients and two moment buffers: {4 * param_bytes / 2**20:.2f} MiB")

# %% [markdown]
# The weights dominate for a small batch; the activations grow linearly with the batch size and,
# in deep networks, with the depth. Training must keep every activation until the backward pass, which
# is why training needs several times the memory of inference.
