# %% [markdown]
# # 01 · Tensor
#
# Every number a neural network touches lives in a **tensor**: an n-dimensional array plus a little
# bookkeeping. In this module you build `Tensor`, the one array type of `tinytorch_lib`. It wraps a
# NumPy `ndarray` (`.data`), gives it PyTorch's operators and methods, and, quietly, remembers how
# every result was computed. That memory (the *graph*) is what module 05 turns into gradients.
#
# You will write the forward computation of each operation. The plumbing (dtype rules for operands,
# the graph recorder `_make`, printing, random numbers) is given.

# %%
#| default_exp tensor
#| export
import numpy as np

# %% [markdown]
# ## The graph recorder
#
# Every operation builds its result through one helper, `_make(data, parents, op, **ctx)`. When
# gradients are enabled and some parent has `requires_grad=True`, the result remembers its parents,
# the name of the operation (`"add"`, `"matmul"`, ...) and a small dict `ctx` of whatever the backward
# rule will need (an axis, an exponent, an index). Otherwise the result is a plain leaf.
#
# $$ z = x \cdot y \quad\Longrightarrow\quad z.\_parents = (x, y),\quad z.\_op = \texttt{"mul"} $$
#
# Nothing here knows calculus: module 05 registers the engine that walks this graph backwards.

# %%
#| export
_GRAD_ENABLED = True
_BACKWARD_ENGINE = None
_GENERATOR = np.random.Generator(np.random.PCG64(0))


def is_grad_enabled():
    """True when new operations record the graph (the default)."""
    return _GRAD_ENABLED


def set_grad_enabled(mode):
    """Turn graph recording on or off; return the previous mode (so it can be restored)."""
    global _GRAD_ENABLED
    previous, _GRAD_ENABLED = _GRAD_ENABLED, bool(mode)
    return previous


def register_backward_engine(fn):
    """Install `fn(tensor, gradient)` as the function `Tensor.backward` calls (module 05 does this)."""
    global _BACKWARD_ENGINE
    _BACKWARD_ENGINE = fn


def _from_array(array, requires_grad=False):
    """A Tensor around an existing ndarray, without copying it and without the dtype rule."""
    out = Tensor.__new__(Tensor)
    out.data = np.asarray(array)
    out.requires_grad = requires_grad
    out.grad = None
    out._parents, out._op, out._ctx = (), None, {}
    return out


def _make(data, parents, op, **ctx):
    """The result of operation `op` on `parents`; records the graph when gradients are needed."""
    out = _from_array(data)
    if _GRAD_ENABLED and any(p.requires_grad for p in parents):
        out.requires_grad = True
        out._parents, out._op, out._ctx = tuple(parents), op, ctx
    return out


def _operand(other, like):
    """Turn the other operand of a binary operation into a Tensor.

    A Python (or NumPy) number takes the dtype NumPy would give `like.data <op> number`, so
    `float64_tensor * 0.1` stays float64 and `float32_tensor * 0.1` stays float32, as in PyTorch.
    Lists and ndarrays follow the constructor's dtype rule.
    """
    if isinstance(other, Tensor):
        return other
    if isinstance(other, (bool, int, float, np.number, np.bool_)):
        value = other.item() if isinstance(other, np.generic) else other
        return _from_array(np.asarray(value, dtype=np.result_type(like.data, value)))
    return as_tensor(other)


def _shape_arg(shape):
    """Accept f(2, 3) and f((2, 3)) alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


# %% [markdown]
# ## The class
#
# **dtypes.** Python numbers and lists become `float32`, the precision deep learning trains in. An
# `ndarray` keeps its dtype: `float64` stays `float64` (gradient checks need it) and integer arrays stay
# integers (class labels, indices). The constructor copies, like `torch.tensor`.
#
# **Operators** work elementwise with NumPy **broadcasting**: shapes are aligned from the right and a
# dimension of size 1 is stretched to match, so a `(3, 1)` column plus a `(1, 4)` row is a `(3, 4)` grid.
#
# **Matrix multiplication** `A @ B` with $A \in \mathbb{R}^{n\times k}$, $B \in \mathbb{R}^{k\times m}$:
# $$ C_{ij} = \sum_{l=1}^{k} A_{il} B_{lj}, $$
# batched over any leading dimensions, exactly like `np.matmul` and `torch.matmul`.
#
# **Reductions** `sum`, `mean`, `max` take `axis` (an int, a tuple or `None` for all) and `keepdims`.
# `max` returns the values only (NumPy-style).
#
# **Shape ops** `reshape`, `transpose(dim0, dim1)`, `permute(*dims)` move no numbers, only the view of them.
#
# Each method you write is one line: compute the forward result with NumPy on `.data` and pass it to
# `_make` with the parents and the op name from this table (the names are a contract with module 05):
#
# | method | op | ctx |
# |---|---|---|
# | `+ - * / @` | `add sub mul div matmul` | – |
# | `-x`, `exp`, `log`, `sqrt` | `neg exp log sqrt` | – |
# | `x ** p` | `pow` | `exponent=p` |
# | `sum`, `mean`, `max` | `sum mean max` | `axis=..., keepdims=...` |
# | `reshape` | `reshape` | – |
# | `transpose`, `permute` | `transpose`, `permute` | `dim0=, dim1=` / `dims=` |
# | `x[index]` | `getitem` | `index=...` |
#
# Work through the class top to bottom; after each group, run the class cell and the matching test.

# %% solution id="tensor-class"
#| export
class Tensor:
    """An n-dimensional array that remembers how it was computed."""

    __array_ufunc__ = None          # make `ndarray + Tensor` call Tensor.__radd__, not NumPy

    def __init__(self, data, requires_grad=False):
        """Wrap `data` (a number, a nested list, an ndarray or a Tensor) as a Tensor.

        TODO: set self.data to an ndarray following the dtype rule.
        APPROACH: 1) a Tensor: take its .data  2) an ndarray or NumPy scalar: copy it, keeping its dtype
                  3) anything else (Python numbers, lists): np.array(..., dtype=np.float32).
        EXAMPLE: Tensor([1, 2]).dtype -> float32;  Tensor(np.arange(3)).dtype -> int64
        HINTS: np.array(x) copies; np.generic is the base class of NumPy scalars like np.float64(2.0).
        """
        ### BEGIN SOLUTION
        if isinstance(data, Tensor):
            data = data.data
        if isinstance(data, (np.ndarray, np.generic)):
            self.data = np.array(data)
        else:
            self.data = np.array(data, dtype=np.float32)
        ### END SOLUTION
        if requires_grad and not np.issubdtype(self.data.dtype, np.floating):
            raise RuntimeError(f"only floating-point tensors can require gradients, got dtype {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._parents, self._op, self._ctx = (), None, {}

    # ---- properties and conversions (given) -------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    def numel(self):
        """Number of elements."""
        return int(self.data.size)

    def numpy(self):
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def item(self):
        """The single value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def detach(self):
        """A new leaf sharing the data, cut from the graph."""
        return _from_array(self.data)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data.item())

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extras = []
        if self.dtype != np.float32:
            extras.append(f"dtype={self.dtype}")
        if self._op is not None:
            extras.append(f"grad_fn=<{self._op}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "Tensor(" + body + "".join(", " + e for e in extras) + ")"

    def backward(self, gradient=None):
        """Compute d(self)/d(leaf) for every leaf with requires_grad=True (engine from module 05)."""
        if _BACKWARD_ENGINE is None:
            raise RuntimeError("Tensor.backward() has no autograd engine yet: finish module 05_autograd "
                               "(importing tinytorch_lib.autograd registers it)")
        return _BACKWARD_ENGINE(self, gradient)

    # ---- elementwise arithmetic -----------------------------------------------------------------
    def __add__(self, other):
        """Elementwise self + other with broadcasting.

        TODO: return the sum, recorded as op "add" with parents (self, other).
        APPROACH: add the .data arrays, pass the result to _make.
        EXAMPLE: Tensor([1, 2]) + 3 -> Tensor([4., 5.])
        HINTS: NumPy broadcasts for you; `other` is already a Tensor.
        """
        other = _operand(other, self)
        ### BEGIN SOLUTION
        return _make(self.data + other.data, (self, other), "add")
        ### END SOLUTION

    def __sub__(self, other):
        """Elementwise self - other, op "sub". EXAMPLE: Tensor([5, 7]) - 2 -> Tensor([3., 5.])"""
        other = _operand(other, self)
        ### BEGIN SOLUTION
        return _make(self.data - other.data, (self, other), "sub")
        ### END SOLUTION

    def __mul__(self, other):
        """Elementwise self * other, op "mul". EXAMPLE: Tensor([1, 2]) * Tensor([3, 4]) -> Tensor([3., 8.])"""
        other = _operand(other, self)
        ### BEGIN SOLUTION
        return _make(self.data * other.data, (self, other), "mul")
        ### END SOLUTION

    def __truediv__(self, other):
        """Elementwise self / other, op "div". EXAMPLE: Tensor([1, 3]) / 2 -> Tensor([0.5, 1.5])"""
        other = _operand(other, self)
        ### BEGIN SOLUTION
        return _make(self.data / other.data, (self, other), "div")
        ### END SOLUTION

    def __neg__(self):
        """-self, op "neg" (one parent)."""
        ### BEGIN SOLUTION
        return _make(-self.data, (self,), "neg")
        ### END SOLUTION

    def __pow__(self, exponent):
        """self ** exponent for a Python number `exponent`, op "pow" with ctx exponent=exponent.

        EXAMPLE: Tensor([2, 3]) ** 2 -> Tensor([4., 9.])
        HINTS: store the exponent in ctx: _make(..., "pow", exponent=exponent).
        """
        if not isinstance(exponent, (int, float, np.number)):
            raise TypeError(f"Tensor ** exponent needs a Python number, got {type(exponent).__name__}")
        ### BEGIN SOLUTION
        return _make(self.data ** exponent, (self,), "pow", exponent=exponent)
        ### END SOLUTION

    # reflected forms (given): `3 - x` becomes Tensor(3) - x, so the graph sees a normal "sub"
    def __radd__(self, other):
        return _operand(other, self) + self

    def __rsub__(self, other):
        return _operand(other, self) - self

    def __rmul__(self, other):
        return _operand(other, self) * self

    def __rtruediv__(self, other):
        return _operand(other, self) / self

    def __rmatmul__(self, other):
        return _operand(other, self) @ self

    # ---- matrix multiplication ------------------------------------------------------------------
    def __matmul__(self, other):
        """Matrix product like torch.matmul (batched over leading dims), op "matmul".

        TODO: return self @ other recorded with parents (self, other).
        EXAMPLE: Tensor([[1, 2]]) @ Tensor([[3], [4]]) -> Tensor([[11.]])
        HINTS: np.matmul handles batches and 1-D operands. The shape check is done for you.
        """
        other = _operand(other, self)
        _check_matmul(self.shape, other.shape)
        ### BEGIN SOLUTION
        return _make(np.matmul(self.data, other.data), (self, other), "matmul")
        ### END SOLUTION

    # ---- reductions -----------------------------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        """Sum over `axis` (None = all), op "sum", ctx axis=axis, keepdims=keepdims.

        EXAMPLE: Tensor([[1, 2], [3, 4]]).sum(axis=0) -> Tensor([4., 6.]); .sum() -> Tensor(10.)
        HINTS: np.sum takes the same axis/keepdims arguments.
        """
        ### BEGIN SOLUTION
        return _make(np.sum(self.data, axis=axis, keepdims=keepdims), (self,), "sum",
                     axis=axis, keepdims=keepdims)
        ### END SOLUTION

    def mean(self, axis=None, keepdims=False):
        """Mean over `axis`, op "mean", ctx axis, keepdims. EXAMPLE: Tensor([1, 2, 3, 6]).mean() -> Tensor(3.)"""
        ### BEGIN SOLUTION
        return _make(np.mean(self.data, axis=axis, keepdims=keepdims), (self,), "mean",
                     axis=axis, keepdims=keepdims)
        ### END SOLUTION

    def max(self, axis=None, keepdims=False):
        """Largest value over `axis` (values only), op "max", ctx axis, keepdims.

        EXAMPLE: Tensor([[1, 5], [7, 2]]).max(axis=1) -> Tensor([5., 7.])
        """
        ### BEGIN SOLUTION
        return _make(np.max(self.data, axis=axis, keepdims=keepdims), (self,), "max",
                     axis=axis, keepdims=keepdims)
        ### END SOLUTION

    # ---- shape operations -----------------------------------------------------------------------
    def reshape(self, *shape):
        """Same numbers, new shape (one entry may be -1), op "reshape" (no ctx).

        EXAMPLE: Tensor([1, 2, 3, 4]).reshape(2, 2).shape -> (2, 2)
        """
        shape = _shape_arg(shape)
        ### BEGIN SOLUTION
        return _make(self.data.reshape(shape), (self,), "reshape")
        ### END SOLUTION

    def transpose(self, dim0, dim1):
        """Swap two dimensions, op "transpose", ctx dim0, dim1.

        EXAMPLE: a (2, 3, 4) tensor .transpose(0, 2) has shape (4, 3, 2)
        HINTS: np.swapaxes.
        """
        ### BEGIN SOLUTION
        return _make(np.swapaxes(self.data, dim0, dim1), (self,), "transpose", dim0=dim0, dim1=dim1)
        ### END SOLUTION

    def permute(self, *dims):
        """Reorder all dimensions, op "permute", ctx dims (a tuple).

        EXAMPLE: a (2, 3, 4) tensor .permute(2, 0, 1) has shape (4, 2, 3)
        HINTS: np.transpose(data, dims).
        """
        dims = _shape_arg(dims)
        ### BEGIN SOLUTION
        return _make(np.transpose(self.data, dims), (self,), "permute", dims=dims)
        ### END SOLUTION

    @property
    def T(self):
        """Transpose of a 2-D tensor (a 0-d or 1-D tensor is returned as is)."""
        if self.ndim < 2:
            return self
        return self.permute(*reversed(range(self.ndim)))

    # ---- elementwise functions ------------------------------------------------------------------
    def exp(self):
        """e ** self elementwise, op "exp"."""
        ### BEGIN SOLUTION
        return _make(np.exp(self.data), (self,), "exp")
        ### END SOLUTION

    def log(self):
        """Natural log elementwise, op "log"."""
        ### BEGIN SOLUTION
        return _make(np.log(self.data), (self,), "log")
        ### END SOLUTION

    def sqrt(self):
        """Square root elementwise, op "sqrt"."""
        ### BEGIN SOLUTION
        return _make(np.sqrt(self.data), (self,), "sqrt")
        ### END SOLUTION

    # ---- indexing -------------------------------------------------------------------------------
    def __getitem__(self, index):
        """self[index] with NumPy semantics (ints, slices, None, ..., integer arrays), op "getitem".

        TODO: index the data and record ctx index=index (already converted to plain NumPy).
        EXAMPLE: Tensor([[1, 2], [3, 4]])[:, 1] -> Tensor([2., 4.]);  Tensor([5, 6, 7])[[0, 0, 2]] -> Tensor([5., 5., 7.])
        """
        index = _plain_index(index)
        ### BEGIN SOLUTION
        return _make(self.data[index], (self,), "getitem", index=index)
        ### END SOLUTION


# %%
#| export
def _check_matmul(shape_a, shape_b):
    """Raise a ValueError naming both shapes if `a @ b` is not defined."""
    if len(shape_a) == 0 or len(shape_b) == 0:
        raise ValueError(f"matmul needs tensors with at least 1 dimension, got shapes {shape_a} and {shape_b}")
    k_a = shape_a[-1]
    k_b = shape_b[0] if len(shape_b) == 1 else shape_b[-2]
    if k_a != k_b:
        raise ValueError(f"matmul shape mismatch: {shape_a} @ {shape_b} "
                         f"(inner dimensions {k_a} and {k_b} differ)")
    try:
        np.broadcast_shapes(shape_a[:-2], shape_b[:-2])
    except ValueError:
        raise ValueError(f"matmul batch dimensions do not broadcast: {shape_a} @ {shape_b}") from None


def _plain_index(index):
    """Replace Tensors inside an index by their ndarrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


def as_tensor(data):
    """`data` itself if it is a Tensor, else a Tensor of it (an ndarray is shared, not copied)."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return _from_array(data)
    return Tensor(data)


# %% [markdown]
# ### Construction and dtypes

# %% test id="test-tensor-init" points=1
x = Tensor([[1, 2, 3], [4, 5, 6]])
assert x.shape == (2, 3) and x.ndim == 2, f"expected shape (2, 3), got {x.shape}"
assert x.dtype == np.float32, f"a list of ints becomes float32, got {x.dtype}"
assert Tensor(np.zeros(3)).dtype == np.float64, "a float64 ndarray must stay float64"
assert Tensor(np.arange(3)).dtype == np.int64, "an int ndarray must stay int64 (labels, indices)"
s = Tensor(2.5)
assert s.shape == () and s.dtype == np.float32 and s.item() == 2.5, f"Tensor(2.5) should be a 0-d float32, got {s!r}"
### BEGIN HIDDEN TESTS
src = np.ones(3)
t = Tensor(src)
src[0] = 7.0
assert t.data[0] == 1.0, "the constructor must copy an ndarray (np.array), not share it"
assert Tensor(np.float64(1.5)).dtype == np.float64, "a NumPy float64 scalar keeps its dtype"
assert Tensor(t).dtype == np.float64 and Tensor(t).data is not t.data, "Tensor(tensor) copies the data"
assert isinstance(Tensor(3).data, np.ndarray) and Tensor(3).dtype == np.float32
assert Tensor([True, False]).dtype == np.float32
### END HIDDEN TESTS

# %% [markdown]
# ### Arithmetic and broadcasting
#
# A picture of broadcasting: the column and the row are stretched (without copying) to the common shape.

# %%
import matplotlib.pyplot as plt

col = np.array([[0.0], [10.0], [20.0]])
row = np.array([[1.0, 2.0, 3.0, 4.0]])
fig, axes = plt.subplots(1, 3, figsize=(8, 2.4), gridspec_kw={"width_ratios": [1, 4, 4]})
for ax, arr, title in zip(axes, [col, row, col + row], ["a: (3, 1)", "b: (1, 4)", "a + b: (3, 4)"]):
    ax.imshow(arr, cmap="Blues", vmin=-10, vmax=30)
    for (i, j), v in np.ndenumerate(arr):
        ax.text(j, i, f"{v:g}", ha="center", va="center")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
plt.tight_layout()
plt.show()

# %% test id="test-tensor-arithmetic" points=2
a = Tensor([[1.0, 2.0], [3.0, 4.0]])
b = Tensor([10.0, 20.0])
got = (a + b).data
assert np.allclose(got, [[11, 22], [13, 24]]), f"(2,2) + (2,) broadcasts over rows: expected [[11, 22], [13, 24]], got {got}"
assert np.allclose((a - 1).data, [[0, 1], [2, 3]]), f"a - 1 wrong: {(a - 1).data}"
assert np.allclose((a * b).data, [[10, 40], [30, 80]]), f"a * b wrong: {(a * b).data}"
assert np.allclose((a / 2).data, [[0.5, 1], [1.5, 2]]), f"a / 2 wrong: {(a / 2).data}"
assert np.allclose((-a).data, -a.data) and np.allclose((a ** 2).data, [[1, 4], [9, 16]]), "neg or pow wrong"
assert np.allclose((1 - a).data, [[0, -1], [-2, -3]]), f"1 - a (reflected) wrong: {(1 - a).data}"
### BEGIN HIDDEN TESTS
assert np.allclose((2 / a).data, [[2, 1], [2 / 3, 0.5]]) and np.allclose((3 + a).data, a.data + 3)
assert np.allclose((np.ones(2) * a).data, a.data), "ndarray * Tensor must work"
assert (Tensor(np.ones((2, 1, 3))) + Tensor(np.ones((4, 1)))).shape == (2, 4, 3)
x64 = Tensor(np.array([1.0, 2.0]), requires_grad=True)
assert (x64 * 0.1).dtype == np.float64 and (x64 + Tensor([1.0, 2.0])).dtype == np.float64, "float64 must not be demoted"
assert (a * 0.1).dtype == np.float32, "float32 * Python float stays float32"
y = x64 * 3
assert y._op == "mul" and y._parents[0] is x64 and y.requires_grad, "x * 3 must be recorded as op 'mul' with parents (x, 3)"
p = x64 ** 3
assert p._op == "pow" and p._ctx == {"exponent": 3} and p._parents == (x64,)
r = 1 - x64
assert r._op == "sub" and r._parents[1] is x64 and np.allclose(r.data, [0, -1])
for op, z in [("add", x64 + 1), ("div", x64 / 2), ("neg", -x64)]:
    assert z._op == op, f"expected op {op!r}, got {z._op!r}"
assert (a + b)._op is None and not (a + b).requires_grad, "no parent requires grad: result is a plain leaf"
prev = set_grad_enabled(False)
assert (x64 * 2)._op is None and not (x64 * 2).requires_grad, "with grad disabled nothing is recorded"
set_grad_enabled(prev)
try:
    a + Tensor([1.0, 2.0, 3.0])
    raise AssertionError("(2, 2) + (3,) must raise")
except ValueError as e:
    assert "(2,2)" in str(e).replace(" ", "") and "(3,)" in str(e), f"error must name both shapes: {e}"
### END HIDDEN TESTS

# %% [markdown]
# ### Matrix multiplication

# %% test id="test-tensor-matmul" points=2
A = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
B = Tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
C = A @ B
assert C.shape == (2, 2), f"(2, 3) @ (3, 2) has shape (2, 2), got {C.shape}"
assert np.allclose(C.data, [[4, 5], [10, 11]]), f"expected [[4, 5], [10, 11]], got {C.data}"
try:
    A @ A
    raise AssertionError("(2, 3) @ (2, 3) must raise")
except ValueError as e:
    assert "(2, 3)" in str(e), f"the error names both shapes, got: {e}"
### BEGIN HIDDEN TESTS
batch = Tensor(np.ones((5, 2, 3))) @ Tensor(np.ones((3, 4)))
assert batch.shape == (5, 2, 4) and np.allclose(batch.data, 3)
v = Tensor([1.0, 1.0, 1.0])
assert (A @ v).shape == (2,) and np.allclose((A @ v).data, [6, 15])
W = Tensor(np.ones((3, 2)), requires_grad=True)
assert (A @ W)._op == "matmul" and (A @ W)._parents[1] is W
assert np.allclose((np.eye(2) @ A).data, A.data), "ndarray @ Tensor must work"
### END HIDDEN TESTS

# %% [markdown]
# ### Reductions

# %% test id="test-tensor-reductions" points=2
m = Tensor([[1.0, 5.0, 3.0], [7.0, 2.0, 0.0]])
assert np.allclose(m.sum(axis=0).data, [8, 7, 3]), f"sum(axis=0): expected [8, 7, 3], got {m.sum(axis=0).data}"
assert m.sum().shape == () and m.sum().item() == 18, f"full sum is a 0-d tensor 18, got {m.sum()!r}"
assert np.allclose(m.mean(axis=1).data, [3, 3]), f"mean(axis=1): expected [3, 3], got {m.mean(axis=1).data}"
assert np.allclose(m.max(axis=1).data, [5, 7]), f"max(axis=1) returns values [5, 7], got {m.max(axis=1).data}"
assert m.sum(axis=1, keepdims=True).shape == (2, 1), "keepdims=True keeps a size-1 axis"
### BEGIN HIDDEN TESTS
assert m.max().item() == 7 and m.mean().item() == 3 and m.max(axis=0, keepdims=True).shape == (1, 3)
assert np.allclose(m.sum(axis=-1).data, [9, 9]) and m.sum(axis=(0, 1)).item() == 18
assert isinstance(m.sum().data, np.ndarray), ".data must be an ndarray even for a full reduction"
g = Tensor(np.ones((2, 3)), requires_grad=True)
for name in ("sum", "mean", "max"):
    out = getattr(g, name)(axis=1, keepdims=True)
    assert out._op == name and out._ctx == {"axis": 1, "keepdims": True}, f"{name} must record ctx axis, keepdims; got {out._ctx}"
assert g.sum()._ctx == {"axis": None, "keepdims": False}
### END HIDDEN TESTS

# %% [markdown]
# ### Shapes

# %% test id="test-tensor-shape" points=2
x = Tensor(np.arange(24.0))
assert x.reshape(2, 3, 4).shape == (2, 3, 4), f"reshape(2, 3, 4) gave {x.reshape(2, 3, 4).shape}"
assert x.reshape((4, -1)).shape == (4, 6), "reshape takes a tuple and -1"
y = x.reshape(2, 3, 4)
assert y.transpose(0, 2).shape == (4, 3, 2), f"transpose(0, 2) gave {y.transpose(0, 2).shape}"
assert y.permute(2, 0, 1).shape == (4, 2, 3), f"permute(2, 0, 1) gave {y.permute(2, 0, 1).shape}"
assert np.allclose(Tensor([[1.0, 2.0]]).T.data, [[1], [2]]), ".T of a (1, 2) tensor is (2, 1)"
### BEGIN HIDDEN TESTS
assert np.array_equal(y.transpose(0, 2).data, np.swapaxes(y.data, 0, 2))
assert np.array_equal(y.permute(2, 0, 1).data, np.transpose(y.data, (2, 0, 1)))
assert y.permute((1, 0, 2)).shape == (3, 2, 4)
z = Tensor(np.ones((2, 3)), requires_grad=True)
assert z.reshape(3, 2)._op == "reshape" and z.reshape(6)._parents == (z,)
assert z.transpose(1, 0)._ctx == {"dim0": 1, "dim1": 0}
assert z.permute(1, 0)._ctx == {"dims": (1, 0)} and z.T._op == "permute"
### END HIDDEN TESTS

# %% [markdown]
# ### Elementwise functions and indexing

# %% test id="test-tensor-elementwise" points=1
e = Tensor([0.0, 1.0, 4.0])
assert np.allclose(e.exp().data, np.exp([0, 1, 4])), f"exp wrong: {e.exp().data}"
assert np.allclose(Tensor([1.0, np.e]).log().data, [0, 1]), f"log wrong: {Tensor([1.0, np.e]).log().data}"
assert np.allclose(e.sqrt().data, [0, 1, 2]), f"sqrt wrong: {e.sqrt().data}"
### BEGIN HIDDEN TESTS
h = Tensor(np.array([1.0, 4.0]), requires_grad=True)
assert [h.exp()._op, h.log()._op, h.sqrt()._op] == ["exp", "log", "sqrt"]
assert h.exp().dtype == np.float64 and h.exp()._parents == (h,)
### END HIDDEN TESTS

# %% test id="test-tensor-getitem" points=2
g = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
assert np.allclose(g[1].data, [4, 5, 6]), f"g[1] should be the second row, got {g[1].data}"
assert np.allclose(g[:, 1:].data, [[2, 3], [5, 6]]), f"g[:, 1:] wrong: {g[:, 1:].data}"
picked = g[np.array([0, 1]), np.array([2, 0])]
assert np.allclose(picked.data, [3, 4]), f"integer-array indexing picks g[0,2], g[1,0] = [3, 4], got {picked.data}"
### BEGIN HIDDEN TESTS
assert np.allclose(Tensor([5.0, 6.0, 7.0])[[0, 0, 2]].data, [5, 5, 7]), "repeated indices"
assert np.allclose(g[Tensor(np.array([1, 1]))].data, [[4, 5, 6], [4, 5, 6]]), "an int Tensor works as an index"
q = Tensor(np.ones((3, 2)), requires_grad=True)
item = q[1:, 0]
assert item._op == "getitem" and item._ctx["index"] == (slice(1, None), 0)
idx = q[Tensor(np.array([2, 0]))]
assert isinstance(idx._ctx["index"], np.ndarray), "the recorded index holds ndarrays, not Tensors"
assert g[0, 2].shape == () and g[0, 2].item() == 3
### END HIDDEN TESTS

# %% [markdown]
# ## Factories and the one random generator
#
# `zeros`, `ones` and `randn` make float32 tensors of a shape given as `f(2, 3)` or `f((2, 3))`.
# All randomness in `tinytorch_lib` comes from **one** `numpy.random.Generator`, returned by
# `get_generator()`. `manual_seed(seed)` re-seeds that same object in place, so code that fetched the
# generator earlier still follows the new seed: same seed, same run, bit for bit.

# %%
#| export
def get_generator():
    """The single numpy.random.Generator every random draw in tinytorch_lib uses."""
    return _GENERATOR


def manual_seed(seed):
    """Re-seed the global generator in place (like torch.manual_seed); returns it."""
    _GENERATOR.bit_generator.state = np.random.PCG64(seed).state
    return _GENERATOR


# %% solution id="tensor-factories"
#| export
def zeros(*shape, requires_grad=False):
    """A float32 tensor of zeros. EXAMPLE: zeros(2, 3).shape -> (2, 3)"""
    shape = _shape_arg(shape)
    ### BEGIN SOLUTION
    return Tensor(np.zeros(shape, dtype=np.float32), requires_grad=requires_grad)
    ### END SOLUTION


def ones(*shape, requires_grad=False):
    """A float32 tensor of ones. EXAMPLE: ones((2,)) -> Tensor([1., 1.])"""
    shape = _shape_arg(shape)
    ### BEGIN SOLUTION
    return Tensor(np.ones(shape, dtype=np.float32), requires_grad=requires_grad)
    ### END SOLUTION


def randn(*shape, requires_grad=False):
    """Standard normal float32 samples drawn from get_generator().

    TODO: draw `shape` samples from the global generator.
    HINTS: get_generator().standard_normal(shape, dtype=np.float32)
    """
    shape = _shape_arg(shape)
    ### BEGIN SOLUTION
    return Tensor(get_generator().standard_normal(shape, dtype=np.float32), requires_grad=requires_grad)
    ### END SOLUTION


# %% test id="test-tensor-factories" points=1
assert zeros(2, 3).shape == (2, 3) and zeros(2, 3).dtype == np.float32 and not zeros(2).data.any()
assert np.all(ones((4,)).data == 1), f"ones((4,)) wrong: {ones((4,))}"
manual_seed(0)
first = randn(3, 2)
manual_seed(0)
second = randn(3, 2)
assert first.shape == (3, 2) and first.dtype == np.float32, f"randn(3, 2) gave {first.shape} {first.dtype}"
assert np.array_equal(first.data, second.data), "same seed must give the same numbers"
### BEGIN HIDDEN TESTS
gen = get_generator()
manual_seed(1)
a1 = randn(4)
manual_seed(1)
assert np.array_equal(gen.standard_normal(4, dtype=np.float32), a1.data), "randn must draw from get_generator()"
assert not np.array_equal(randn(1000).data, randn(1000).data), "randn draws fresh numbers each call"
assert zeros(2, requires_grad=True).requires_grad and ones(2, 2).shape == (2, 2)
### END HIDDEN TESTS

# %% [markdown]
# ## The backward hook
#
# `Tensor.backward()` already exists, but it only delegates to an engine registered with
# `register_backward_engine`. You write that engine in module 05; until then it raises.

# %% test id="test-tensor-backward-hook" points=1
w = Tensor([1.0, 2.0], requires_grad=True)
loss = (w * w).sum()
assert loss.requires_grad and loss._op == "sum", "loss of a requires_grad tensor must be recorded"
try:
    loss.backward()
    raise AssertionError("backward() without an engine must raise")
except RuntimeError as e:
    assert "05_autograd" in str(e), f"the error should tell you to finish 05_autograd, got: {e!r}"
calls = []
register_backward_engine(lambda t, g: calls.append((t, g)))
loss.backward()
register_backward_engine(None)
assert calls == [(loss, None)], "backward() hands (tensor, gradient) to the registered engine"

# %% [markdown]
# ## Systems note: precision costs memory and time
#
# A float32 number takes 4 bytes, a float64 number 8. A matmul of two $n \times n$ matrices does
# $2n^3$ floating-point operations (a multiply and an add per term). Measure both:

# %%
import time


def best_time(fn, repeat=3):
    """Fastest of `repeat` runs of fn(), in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


n = 512
for dtype in (np.float32, np.float64):
    X = Tensor(np.ones((n, n), dtype=dtype))
    best = best_time(lambda: X @ X)
    print(f"{np.dtype(dtype).name}: {X.data.nbytes / 2**20:.1f} MiB per matrix, "
          f"matmul {best * 1e3:.1f} ms = {2 * n**3 / best / 1e9:.1f} GFLOP/s")

# %% [markdown]
# float64 doubles the memory and usually halves the matmul throughput (SIMD units fit half as many
# numbers). That is why networks train in float32, while our gradient checks use float64, where
# finite differences are accurate enough to catch a wrong derivative.
