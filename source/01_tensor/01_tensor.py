# %% [markdown]
# # 01 · Tensor
#
# A **tensor** is an n-dimensional array plus bookkeeping: `Tensor` wraps a NumPy `ndarray` (`.data`),
# gives it PyTorch's operators and records how each result was computed (the *graph* module 05 turns
# into gradients). NumPy does the arithmetic; you write the **rules** on top: dtypes, broadcasting,
# `axis`/`keepdims`, reshape's `-1`, matmul shapes.
#
# **Given:** each operator hands over to a function you write, which computes on `.data` and returns
# `_make(data, parents, op, **ctx)`: if gradients are enabled and a parent requires grad, the result
# records parents, op and backward's `ctx`: $z = x y \Rightarrow z.\_parents = (x, y),\ z.\_op = \texttt{"mul"}$.

# %%
#| default_exp tensor
#| export
import numpy as np

_GRAD_ENABLED, _BACKWARD_ENGINE = True, None
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
    out.data, out.requires_grad, out.grad = np.asarray(array), requires_grad, None
    out._parents, out._op, out._ctx = (), None, {}
    return out
def _make(data, parents, op, **ctx):
    """The result of operation `op` on `parents`; records the graph when gradients are needed."""
    out = _from_array(data)
    if _GRAD_ENABLED and any(p.requires_grad for p in parents):
        out.requires_grad = True
        out._parents, out._op, out._ctx = tuple(parents), op, ctx
    return out

# %%
#| export
class Tensor:
    """An n-dimensional array that remembers how it was computed."""
    __array_ufunc__ = None          # make `ndarray + Tensor` call Tensor.__radd__, not NumPy
    shape, ndim = property(lambda self: self.data.shape), property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    def __init__(self, data, requires_grad=False): _init_tensor(self, data, requires_grad)
    def numel(self): return int(self.data.size)
    def numpy(self): return self.data                       # shared, not copied
    def detach(self): return _from_array(self.data)         # a new leaf sharing the data
    def __array__(self, dtype=None, copy=None): return self.data if dtype is None else self.data.astype(dtype)
    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()
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
        extras = [f"dtype={self.dtype}"] if self.dtype != np.float32 else []
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
    # Your functions do the work; `3 - x` becomes _binary(<3 as a Tensor>, x, "sub").
    def __add__(self, other): return _binary(self, other, "add")
    def __sub__(self, other): return _binary(self, other, "sub")
    def __mul__(self, other): return _binary(self, other, "mul")
    def __truediv__(self, other): return _binary(self, other, "div")
    def __radd__(self, other): return _binary(_operand(other, self), self, "add")
    def __rsub__(self, other): return _binary(_operand(other, self), self, "sub")
    def __rmul__(self, other): return _binary(_operand(other, self), self, "mul")
    def __rtruediv__(self, other): return _binary(_operand(other, self), self, "div")
    def __matmul__(self, other): return _matmul(self, other)
    def __rmatmul__(self, other): return _matmul(_operand(other, self), self)
    def __neg__(self): return _unary(self, "neg")
    def __pow__(self, exponent): return _unary(self, "pow", exponent=exponent)
    def exp(self): return _unary(self, "exp")
    def log(self): return _unary(self, "log")
    def sqrt(self): return _unary(self, "sqrt")
    def sum(self, axis=None, keepdims=False): return _reduce(self, "sum", axis, keepdims)
    def mean(self, axis=None, keepdims=False): return _reduce(self, "mean", axis, keepdims)
    def max(self, axis=None, keepdims=False): return _reduce(self, "max", axis, keepdims)
    def reshape(self, *shape): return _reshape(self, _shape_arg(shape))
    def transpose(self, dim0, dim1): return _transpose(self, dim0, dim1)
    def permute(self, *dims): return _permute(self, _shape_arg(dims))
    def __getitem__(self, index): return _getitem(self, index)
    T = property(lambda self: self if self.ndim < 2 else self.permute(*reversed(range(self.ndim))))  # 2-D

# %% [markdown]
# ## Construction: the dtype rules
# Deep learning trains in float32, so **Python numbers and lists become float32**, even `[1, 2]`; an
# **ndarray or NumPy scalar keeps its dtype** (float64 for gradient checks, integer labels).
# `Tensor(...)` **copies**; `as_tensor(...)` **shares** an ndarray. A number operand keeps the tensor's
# dtype (`float64_tensor * 0.1` stays float64): NumPy treats a Python number as "weak", not `np.float64(0.1)`.

# %% solution id="tensor-construction"
#| export
def _init_tensor(self, data, requires_grad):
    """The body of Tensor.__init__; `data`: a number, (nested) list, NumPy scalar, ndarray or Tensor.
    Sets `self.data` to a NEW ndarray (float32 for numbers and lists, else the dtype of the ndarray, NumPy
    scalar or Tensor), `self.requires_grad` (a bool), `self.grad` (None), leaf fields `_parents` (),
    `_op` (None), `_ctx` ({}). RuntimeError naming the dtype if requires_grad is set on a non-float dtype.
    Example: Tensor([1, 2]).dtype -> float32. Hint: np.generic (NumPy scalars); np.issubdtype."""
    ### BEGIN SOLUTION
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):
        self.data = np.array(data)
    else:
        self.data = np.array(data, dtype=np.float32)
    if requires_grad and not np.issubdtype(self.data.dtype, np.floating):
        raise RuntimeError(f"only floating-point tensors can require gradients, got dtype {self.data.dtype}")
    self.requires_grad = bool(requires_grad)
    self.grad = None
    self._parents, self._op, self._ctx = (), None, {}
    ### END SOLUTION

def as_tensor(data):
    """A Tensor itself; an ndarray wrapped without a copy (`_from_array`); anything else via Tensor()."""
    ### BEGIN SOLUTION
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return _from_array(data)
    return Tensor(data)
    ### END SOLUTION

def _operand(other, like):
    """The other operand of a binary operation with Tensor `like`: a Tensor is returned itself; a number
    (bool, int, float, np.number, np.bool_) becomes a 0-d tensor of the dtype NumPy gives `like.data` with
    that number as a Python number; lists and ndarrays go through `as_tensor`.
    Example: _operand(0.1, Tensor(np.ones(2))).dtype -> float64. Hint: `.item()`; np.result_type."""
    ### BEGIN SOLUTION
    if isinstance(other, Tensor):
        return other
    if isinstance(other, (bool, int, float, np.number, np.bool_)):
        value = other.item() if isinstance(other, np.generic) else other
        return _from_array(np.asarray(value, dtype=np.result_type(like.data, value)))
    return as_tensor(other)
    ### END SOLUTION

# %% helper
def expect(got, want, what, dtype=None):
    """A Tensor (or ndarray) must hold `want` (values and shape) and, if given, that dtype."""
    arr, want = np.asarray(got if isinstance(got, np.ndarray) else got.data), np.asarray(want)
    assert arr.shape == want.shape and np.allclose(arr, want), \
        f"{what}: expected {want.tolist()} (shape {want.shape}), got {arr.tolist()} (shape {arr.shape})"
    assert dtype is None or str(arr.dtype) == dtype, f"{what}: expected dtype {dtype}, got {arr.dtype}"

def expect_error(fn, error, what, *names):
    """fn() must raise `error` with a message naming every string in `names` (spaces ignored)."""
    try:
        fn()
    except error as e:
        missing = [n for n in names if n.replace(" ", "") not in str(e).replace(" ", "")]
        assert not missing, f"{what}: the error message should name {missing}, got: {e}"
    else:
        raise AssertionError(f"{what}: expected {error.__name__}, nothing was raised")

# %% test id="test-tensor-construction" points=2
x = Tensor([[1, 2, 3], [4, 5, 6]])
expect(x, [[1, 2, 3], [4, 5, 6]], "Tensor(list of ints)", dtype="float32")
expect(Tensor(np.zeros(3)), [0, 0, 0], "Tensor(float64 ndarray)", dtype="float64")
expect(Tensor(np.arange(3)), [0, 1, 2], "Tensor(int64 ndarray)", dtype="int64")
assert x.requires_grad is False and x.grad is None and x._op is None and x._parents == () and x._ctx == {}, \
    f"a new tensor is a leaf: got requires_grad={x.requires_grad}, grad={x.grad}, _op={x._op}, _ctx={x._ctx}"
expect(_operand(0.1, Tensor(np.ones(2))), 0.1, "float64 tensor with 0.1", dtype="float64")
### BEGIN HIDDEN TESTS
t, r, s = Tensor([1.0, 2.0, 3.0]), Tensor(0.0), Tensor([1.0, 2.0])
u, v, shared, same = Tensor(t.data), Tensor(t), as_tensor(s.data), as_tensor(s)
t.data[0], s.data[0], same.data[1] = 7.0, 5.0, 8.0
assert float(u.data[0]) == 1.0 and float(v.data[0]) == 1.0, "Tensor(ndarray) and Tensor(tensor) must copy the data"
assert float(shared.data[0]) == 5.0 and float(s.data[1]) == 8.0, "as_tensor shares an ndarray, returns a Tensor itself"
assert float(_operand(s, x).data[0]) == 5.0, "_operand(tensor, like) returns the tensor itself"
_init_tensor(r, [1.0], 1)
assert r.requires_grad is True and Tensor([1.0]).requires_grad is False, f"requires_grad=1 is True, got {r.requires_grad!r}"
expect_error(lambda: Tensor(np.arange(3), requires_grad=True), RuntimeError, "int tensor with grad", "int64")
for got, want, dt in [(Tensor(np.float64(1.5)), 1.5, "float64"), (Tensor(Tensor(np.ones(1))), [1], "float64"),
                      (Tensor(3), 3, "float32"), (as_tensor(np.arange(2)), [0, 1], "int64"), (as_tensor([1, 2]), [1, 2], "float32"),
                      (_operand(np.float64(0.5), Tensor([1.0])), 0.5, "float32"), (_operand(2, Tensor(np.arange(2))), 2, "int64"),
                      (_operand([1, 2], Tensor(np.ones(2))), [1, 2], "float32"), (_operand(np.ones(2), x), [1, 1], "float64")]:
    expect(got, want, "construction dtype rules", dtype=dt)
### END HIDDEN TESTS

# %% [markdown]
# ## Broadcasting and elementwise operations
# Shapes align at the right (the shorter padded with 1s on the left); in each position the sizes must be
# equal or one of them 1, which is stretched: $(5, 1, 4)$ with $(3, 1)$ $\to$ $(5, 3, 4)$; $(2, 3)$ with
# $(4,)$ fails, with an error naming both shapes (module 05 undoes the stretching in the backward pass).
# Module 05 differentiates by op name and parents, in order: for $z = a / b$, $\partial z/\partial a = 1/b$
# and $\partial z/\partial b = -a/b^2$.

# %%
import matplotlib.pyplot as plt
col, row = np.array([[0.0], [10.0], [20.0]]), np.array([[1.0, 2.0, 3.0, 4.0]])
fig, axes = plt.subplots(1, 3, figsize=(8, 2.4), gridspec_kw={"width_ratios": [1, 4, 4]})
for ax, arr, title in zip(axes, [col, row, col + row], ["a: (3, 1)", "b: (1, 4)", "a + b: (3, 4)"]):
    ax.imshow(arr, cmap="Blues", vmin=-10, vmax=30)
    [ax.text(j, i, f"{val:g}", ha="center", va="center") for (i, j), val in np.ndenumerate(arr)]
    ax.set(title=title, xticks=[], yticks=[])
plt.show()

# %% solution id="tensor-broadcast"
#| export
def _broadcast_shape(shape_a, shape_b):
    """The shape (a tuple) of `a <op> b` for shapes `shape_a`, `shape_b` (tuples or lists); ValueError
    naming both shapes if incompatible. Do not call np.broadcast_shapes: this is the rule you write.
    Example: _broadcast_shape((5, 1, 4), (3, 1)) -> (5, 3, 4);  ((0,), (1,)) -> (0,)"""
    ### BEGIN SOLUTION
    ndim = max(len(shape_a), len(shape_b))
    a = (1,) * (ndim - len(shape_a)) + tuple(shape_a)
    b = (1,) * (ndim - len(shape_b)) + tuple(shape_b)
    out = []
    for size_a, size_b in zip(a, b):
        if size_a == size_b or size_b == 1:
            out.append(size_a)
        elif size_a == 1:
            out.append(size_b)
        else:
            raise ValueError(f"shapes {tuple(shape_a)} and {tuple(shape_b)} do not broadcast "
                             f"(sizes {size_a} and {size_b} meet in the same position)")
    return tuple(out)
    ### END SOLUTION

# %% test id="test-tensor-broadcast" points=2
for sa, sb, want in [((3, 1), (1, 4), (3, 4)), ((2, 3), (3,), (2, 3)), ((5, 1, 4), (3, 1), (5, 3, 4)), ((), (2,), (2,))]:
    assert _broadcast_shape(sa, sb) == want, f"_broadcast_shape({sa}, {sb}): expected {want}, got {_broadcast_shape(sa, sb)}"
expect_error(lambda: _broadcast_shape((2, 3), (4,)), ValueError, "(2, 3) with (4,)", "(2, 3)", "(4,)")
### BEGIN HIDDEN TESTS
for sa, sb, want in [((1,), (4,), (4,)), ((4, 1), (1,), (4, 1)), ((2, 1, 3), (4, 1), (2, 4, 3)), ((0,), (1,), (0,)),
                     ((3,), (), (3,)), ([2, 1], [3], (2, 3)), ((1, 1), (1, 5, 1), (1, 5, 1)), ((6, 1, 1), (7, 1), (6, 7, 1))]:
    got = _broadcast_shape(sa, sb)
    assert got == want and isinstance(got, tuple), f"_broadcast_shape({sa}, {sb}): expected {want}, got {got!r}"
for sa, sb in [((3,), (4,)), ((2, 3), (3, 2)), ((1, 2), (3,)), ((2, 1), (3, 3, 3)), ((0,), (2,))]:
    expect_error(lambda: _broadcast_shape(sa, sb), ValueError, f"{sa} with {sb}", str(tuple(sa)), str(tuple(sb)))
### END HIDDEN TESTS

# %% solution id="tensor-elementwise"
#| export
def _binary(a, b, op):
    """Elementwise a <op> b with broadcasting for op "add", "sub", "mul", "div"; parents (a, b), no ctx.
    `b`: Tensor, number, list or ndarray (use `_operand`). NumPy's result dtype. ValueError naming both
    shapes if they do not broadcast (ask `_broadcast_shape` first), and for an unknown op.
    Example: _binary(Tensor([[1, 2], [3, 4]]), [10, 20], "sub") -> Tensor([[-9., -18.], [-7., -16.]])"""
    ### BEGIN SOLUTION
    b = _operand(b, a)
    _broadcast_shape(a.shape, b.shape)
    if op == "add":
        out = a.data + b.data
    elif op == "sub":
        out = a.data - b.data
    elif op == "mul":
        out = a.data * b.data
    elif op == "div":
        out = a.data / b.data
    else:
        raise ValueError(f"unknown binary op {op!r}")
    return _make(out, (a, b), op)
    ### END SOLUTION

def _unary(x, op, **ctx):
    """Elementwise -x, x ** exponent, e ** x, ln x, sqrt x for op "neg", "pow", "exp", "log", "sqrt";
    parents (x,), ctx as received ({"exponent": p} for "pow"). TypeError if the exponent is not a Python
    or NumPy number; ValueError for an unknown op. Example: _unary(Tensor([2, 3]), "pow", exponent=2) -> [4., 9.]"""
    ### BEGIN SOLUTION
    if op == "neg":
        out = -x.data
    elif op == "exp":
        out = np.exp(x.data)
    elif op == "log":
        out = np.log(x.data)
    elif op == "sqrt":
        out = np.sqrt(x.data)
    elif op == "pow":
        if not isinstance(ctx["exponent"], (int, float, np.number)):
            raise TypeError(f"Tensor ** exponent needs a number, got {type(ctx['exponent']).__name__}")
        out = x.data ** ctx["exponent"]
    else:
        raise ValueError(f"unknown unary op {op!r}")
    return _make(out, (x,), op, **ctx)
    ### END SOLUTION

# %% test id="test-tensor-elementwise" points=2
a, b = Tensor([[1.0, 2.0], [3.0, 4.0]]), Tensor([10.0, 20.0])
for got, want, what in [(a + b, [[11, 22], [13, 24]], "(2, 2) + (2,)"), (a - b, [[-9, -18], [-7, -16]], "a - b"),
                        (a * b, [[10, 40], [30, 80]], "a * b"), (a / b, [[0.1, 0.1], [0.3, 0.2]], "a / b"),
                        (1 - a, [[0, -1], [-2, -3]], "1 - a"), (-a, [[-1, -2], [-3, -4]], "-a"),
                        (a ** 2, [[1, 4], [9, 16]], "a ** 2"), (a.sqrt(), np.sqrt([[1, 2], [3, 4]]), "sqrt"),
                        (a.exp(), np.exp([[1, 2], [3, 4]]), "exp"), (a.log(), np.log([[1, 2], [3, 4]]), "log")]:
    expect(got, want, what)
expect_error(lambda: a + Tensor([1.0, 2.0, 3.0]), ValueError, "(2, 2) + (3,)", "(2, 2)", "(3,)")
### BEGIN HIDDEN TESTS
x64, prev = Tensor(np.array([1.0, 2.0]), requires_grad=True), set_grad_enabled(False)
off = x64 * 2
set_grad_enabled(prev)
assert (a + b)._op is None and off._op is None and not off.requires_grad, "no requires_grad or grad disabled: a leaf"
for got, want, dt in [(2 / a, [[2, 1], [2 / 3, 0.5]], None), (np.ones(2) - a, [[0, -1], [-2, -3]], None),
                      (x64 * 0.1, [0.1, 0.2], "float64"), (a * 0.1, a.data * 0.1, "float32"), (Tensor(np.arange(3)) + 1, [1, 2, 3], "int64")]:
    expect(got, want, "arithmetic values and dtypes", dtype=dt)
for z, op, ctx, parents in [(x64 * 3, "mul", {}, [[1, 2], 3]), (1 - x64, "sub", {}, [1, [1, 2]]), (x64 + 1, "add", {}, [[1, 2], 1]),
                            (x64 / 2, "div", {}, [[1, 2], 2]), (-x64, "neg", {}, [[1, 2]]), (x64.exp(), "exp", {}, [[1, 2]]),
                            (x64.log(), "log", {}, [[1, 2]]), (x64.sqrt(), "sqrt", {}, [[1, 2]]), (x64 ** 3, "pow", {"exponent": 3}, [[1, 2]])]:
    assert z._op == op and z._ctx == ctx and len(z._parents) == len(parents), f"expected {op} {ctx}, got {z._op} {z._ctx}"
    [expect(parent, want, f"parents of {op}, in order", dtype="float64") for parent, want in zip(z._parents, parents)]
expect_error(lambda: a ** Tensor([2.0]), TypeError, "Tensor ** Tensor")
expect_error(lambda: _binary(a, b, "pow"), ValueError, "unknown op")
expect_error(lambda: _unary(a, "tanh"), ValueError, "unknown op")
### END HIDDEN TESTS

# %% [markdown]
# ## Matrix multiplication
# $C = AB$, $C_{ij} = \sum_{l=1}^{k} A_{il} B_{lj}$ for $A$ $(n, k)$, $B$ $(k, m)$. As in `np.matmul`, a 1-D
# left operand is a row, a 1-D right one a column (dropped from the result), and dimensions before the
# last two are a batch that broadcasts: $(5, 2, 3) \mathbin{@} (3, 4) \to (5, 2, 4)$. You write the shape checks.

# %% solution id="tensor-matmul"
#| export
def _matmul(a, b):
    """`a @ b` like torch.matmul, op "matmul", parents (a, b), no ctx; `b`: Tensor, list or ndarray.
    ValueError whose message contains both shapes as Python prints them ("(2, 3)", "(4,)") if an operand
    is 0-d, if the inner sizes differ (a's last against a 1-D b's only size, else b's second to last), or
    if the batch shapes do not broadcast (then it also says "batch"). Example: (3, 2) @ (3, 2) -> ValueError."""
    ### BEGIN SOLUTION
    b = _operand(b, a)
    sa, sb = a.shape, b.shape
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError(f"matmul needs tensors with at least 1 dimension, got shapes {sa} and {sb}")
    k_a = sa[-1]
    k_b = sb[0] if len(sb) == 1 else sb[-2]
    if k_a != k_b:
        raise ValueError(f"matmul shape mismatch: {sa} @ {sb} (inner dimensions {k_a} and {k_b} differ)")
    try:
        _broadcast_shape(sa[:-2], sb[:-2])
    except ValueError:
        raise ValueError(f"matmul batch dimensions do not broadcast: {sa} @ {sb}") from None
    if len(sa) > 2 and len(sb) == 2 and k_a:    # a batch times one matrix: ONE 2-D BLAS call, not one per matrix
        return _make((a.data.reshape(-1, k_a) @ b.data).reshape(sa[:-1] + sb[-1:]), (a, b), "matmul")
    return _make(np.matmul(a.data, b.data), (a, b), "matmul")
    ### END SOLUTION

# %% test id="test-tensor-matmul" points=2
A, B = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), Tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
expect(A @ B, [[4, 5], [10, 11]], "(2, 3) @ (3, 2)")
expect(A @ Tensor([1.0, 1.0, 1.0]), [6, 15], "(2, 3) @ (3,)")
expect_error(lambda: A @ A, ValueError, "(2, 3) @ (2, 3)", "(2, 3)")
### BEGIN HIDDEN TESTS
for got, want in [(Tensor(np.ones((2, 1, 2, 3))) @ np.ones((4, 3, 5)), np.full((2, 4, 2, 5), 3)), (Tensor([1.0, 1.0]) @ A, [5, 7, 9]),
                  (Tensor([1.0, 2.0]) @ [3.0, 4.0], 11), (np.eye(2) @ A, A.data), (_matmul(A, [[1.0], [0.0], [2.0]]), [[7], [16]]),
                  (Tensor(np.ones((4, 2, 3))) @ np.ones((4, 3, 5)), np.full((4, 2, 5), 3)), (Tensor(np.arange(12.0).reshape(2, 2, 3)) @ B, np.arange(12.0).reshape(2, 2, 3) @ B.data)]:
    expect(got, want, "matmul values")
for sa, sb in [((3,), (4,)), ((2, 3), (4,)), ((2, 2, 3), (3, 3, 1)), ((), (3,)), ((3,), ()), ((4,), (3, 2)), ((4, 2, 3), (2, 3, 1))]:
    expect_error(lambda: Tensor(np.ones(sa)) @ Tensor(np.ones(sb)), ValueError, f"{sa} @ {sb}", str(sa), str(sb))
for sa, sb in [((2, 2, 3), (3, 3, 1)), ((4, 2, 3), (2, 3, 1)), ((3, 4, 2, 3), (2, 4, 3, 1))]:
    expect_error(lambda: Tensor(np.ones(sa)) @ np.ones(sb), ValueError, f"batch of {sa} @ {sb}", "batch")
C = A @ Tensor(np.ones((3, 2)), requires_grad=True)
assert C._op == "matmul" and C._ctx == {} and len(C._parents) == 2, f"A @ W: expected op 'matmul', got {C._op}"
expect(C._parents[1], np.ones((3, 2)), "second parent of A @ W")
### END HIDDEN TESTS

# %% [markdown]
# ## Reductions: `axis` and `keepdims`
# `sum`, `mean`, `max` collapse the dimensions in `axis` (an int, a tuple, or `None` for all; negative
# counts from the end); `keepdims=True` keeps each as size 1, so the result broadcasts against the input
# (`x - x.mean(axis=1, keepdims=True)` centres rows). For $(2, 3)$: `sum(axis=0)` is $(3,)$,
# `sum(axis=1, keepdims=True)` $(2, 1)$, `sum()` 0-d. mean = sum over axes $A$ / $\prod_{a \in A} n_a$; `max` returns values only.

# %% solution id="tensor-reduce"
#| export
def _normalize_axes(axis, shape):
    """The positions `axis` names in shape `shape` as a tuple of non-negative ints, in the order given;
    `axis` is None (all), an int, or a tuple/list. ValueError naming axis and shape outside range(-ndim, ndim).
    Example: _normalize_axes((0, -1), (2, 3, 4)) -> (0, 2);  _normalize_axes(2, (2, 3)) -> ValueError"""
    ### BEGIN SOLUTION
    ndim = len(shape)
    if axis is None:
        return tuple(range(ndim))
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for ax in axes:
        if not -ndim <= ax < ndim:
            raise ValueError(f"axis {ax} is out of range for a tensor of shape {tuple(shape)}")
        out.append(ax % ndim)
    return tuple(out)
    ### END SOLUTION

def _reduce(x, op, axis, keepdims):
    """x.sum / mean / max over `axis` for op "sum", "mean", "max"; parents (x,), ctx axis, keepdims as received.
    Work out the keepdims shape yourself (module 05 needs it). mean = sum / count (float32 stays float32,
    ints give float64). ValueError naming the shape for a bad axis (`_normalize_axes`), and for an unknown op.
    Example: Tensor([[1, 5], [7, 2]]).max(axis=1, keepdims=True) -> Tensor([[5.], [7.]])"""
    ### BEGIN SOLUTION
    axes = _normalize_axes(axis, x.shape)
    if op == "sum":
        out = np.sum(x.data, axis=axes)
    elif op == "mean":
        count = 1
        for ax in axes:
            count *= x.shape[ax]
        out = np.sum(x.data, axis=axes) / count
    elif op == "max":
        out = np.max(x.data, axis=axes)
    else:
        raise ValueError(f"unknown reduction {op!r}")
    if keepdims:
        out = np.reshape(out, tuple(1 if i in axes else size for i, size in enumerate(x.shape)))
    return _make(out, (x,), op, axis=axis, keepdims=keepdims)
    ### END SOLUTION

# %% test id="test-tensor-reduce" points=2
got, m = _normalize_axes(-1, (2, 3)), Tensor([[1.0, 5.0, 3.0], [7.0, 2.0, 0.0]])
assert got == (1,), f"_normalize_axes(-1, (2, 3)): expected (1,), got {got}"
for got, want, what in [(m.sum(axis=0), [8, 7, 3], "sum(axis=0)"), (m.sum(), 18, "sum() is 0-d"),
                        (m.mean(axis=1), [3, 3], "mean(axis=1)"), (m.max(axis=1), [5, 7], "max(axis=1)"),
                        (m.sum(axis=1, keepdims=True), [[9], [9]], "sum(axis=1, keepdims=True)")]:
    expect(got, want, what)
expect_error(lambda: m.sum(axis=2), ValueError, "axis 2 of a (2, 3) tensor", "(2, 3)")
### BEGIN HIDDEN TESTS
for axis, shape, want in [(None, (2, 3, 4), (0, 1, 2)), ((0, -1), (2, 3, 4), (0, 2)), (-3, (2, 3, 4), (0,)), ((), (2, 3), ()),
                          ([1, 0], (2, 3), (1, 0)), (2, (2, 3, 4), (2,))]:
    assert _normalize_axes(axis, shape) == want, f"_normalize_axes({axis}, {shape}): expected {want}"
for axis, shape in [(2, (2, 3)), (-3, (2, 3)), (0, ()), ((0, 3), (2, 3, 1))]:
    expect_error(lambda: _normalize_axes(axis, shape), ValueError, f"axis {axis} for {shape}", str(shape))
ones3, g = Tensor(np.ones((2, 3, 4))), Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
for got, want, dt in [(m.sum(axis=-1), [9, 9], None), (m.max(), 7, None), (m.max(axis=0), [7, 5, 3], None),
                      (m.mean(axis=0), [4, 3.5, 1.5], None), (m.mean(keepdims=True), [[3]], None),
                      (m.max(axis=0, keepdims=True), [[7, 5, 3]], None), (ones3.mean(axis=(0, 2), keepdims=True), np.ones((1, 3, 1)), None),
                      (ones3.max(axis=-1, keepdims=True), np.ones((2, 3, 1)), None), (Tensor([1, 2]).mean(), 1.5, "float32"),
                      (Tensor(np.arange(4)).sum(), 6, "int64"), (Tensor(np.arange(4)).mean(), 1.5, "float64")]:
    expect(got, want, "reduction values, shapes and dtypes", dtype=dt)
for out, op, ctx in [(g.sum(axis=1, keepdims=True), "sum", {"axis": 1, "keepdims": True}),
                     (g.mean(axis=-1), "mean", {"axis": -1, "keepdims": False}), (g.max(), "max", {"axis": None, "keepdims": False})]:
    assert out._op == op and out._ctx == ctx and len(out._parents) == 1, f"expected {op} {ctx}, got {out._op} {out._ctx}"
expect_error(lambda: _reduce(m, "min", None, False), ValueError, "unknown reduction")
expect_error(lambda: g.sum().backward(), RuntimeError, "backward() without module 05's engine", "05_autograd")
### END HIDDEN TESTS

# %% [markdown]
# ## Shapes and indexing
# A shape is a view of one block of numbers. `reshape` keeps row-major order, so the sizes must multiply
# to the same count; one may be `-1` ("whatever fits"): 24 numbers as `(4, -1)` are `(4, 6)`.
# `permute(*dims)` puts dimension `dims[i]` at position `i`; `transpose` swaps two. `x[i]` follows NumPy
# (an integer Tensor index is replaced by its ndarray). `reshape(2, 3)` is `reshape((2, 3))`.

# %% solution id="tensor-shape"
#| export
def _shape_arg(shape):
    """The sizes given as f(*shape) as one tuple: f(2, 3), f((2, 3)) and f([2, 3]) all give (2, 3)."""
    ### BEGIN SOLUTION
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)
    ### END SOLUTION

def _reshape(x, shape):
    """x's numbers in `shape` (a tuple, at most one -1, which you resolve), op "reshape", no ctx.
    ValueError naming both shapes if two sizes are -1 or no size fits. Example: (24,) to (4, -1) -> (4, 6)"""
    ### BEGIN SOLUTION
    sizes = list(shape)
    if sizes.count(-1) > 1:
        raise ValueError(f"only one size may be -1, got {tuple(shape)} for a tensor of shape {x.shape}")
    known = 1
    for size in sizes:
        if size != -1:
            known *= size
    if -1 in sizes:
        if known == 0 or x.numel() % known != 0:
            raise ValueError(f"cannot reshape a tensor of shape {x.shape} into {tuple(shape)}")
        sizes[sizes.index(-1)] = x.numel() // known
    elif known != x.numel():
        raise ValueError(f"cannot reshape a tensor of shape {x.shape} into {tuple(shape)}")
    return _make(x.data.reshape(tuple(sizes)), (x,), "reshape")
    ### END SOLUTION

def _permute(x, dims):
    """x with dimension dims[i] at position i (negative counts from the end), op "permute", ctx dims as
    received. ValueError naming the shape unless dims names each dimension once. Example: (2, 3, 4) with
    (2, 0, 1) -> (4, 2, 3)"""
    ### BEGIN SOLUTION
    axes = _normalize_axes(dims, x.shape)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"permute{tuple(dims)} does not name each dimension of shape {x.shape} once")
    return _make(np.transpose(x.data, axes), (x,), "permute", dims=dims)
    ### END SOLUTION

def _transpose(x, dim0, dim1):
    """x with dims dim0, dim1 swapped, op "transpose", ctx dim0, dim1 as received. Example: (2, 3, 4) with
    (0, 2) -> (4, 3, 2). Hint: a transpose is a permutation; np.transpose."""
    ### BEGIN SOLUTION
    d0, d1 = _normalize_axes((dim0, dim1), x.shape)
    order = list(range(x.ndim))
    order[d0], order[d1] = order[d1], order[d0]
    return _make(np.transpose(x.data, order), (x,), "transpose", dim0=dim0, dim1=dim1)
    ### END SOLUTION

def _getitem(x, index):
    """x[index] as NumPy indexes, op "getitem", ctx index with each Tensor in it (the index itself or an
    element of a tuple) replaced by its ndarray. Example: Tensor([5, 6])[[0, 0]] -> Tensor([5., 5.])"""
    ### BEGIN SOLUTION
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return _make(x.data[index], (x,), "getitem", index=index)
    ### END SOLUTION

# %% test id="test-tensor-shape" points=3
x, ref = Tensor(np.arange(24.0)), np.arange(24.0)
y, yr, g = x.reshape(2, 3, 4), ref.reshape(2, 3, 4), Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
for got, want, what in [(x.reshape(4, -1), ref.reshape(4, 6), "reshape(4, -1)"), (y, yr, "reshape(2, 3, 4)"),
                        (y.transpose(0, 2), np.swapaxes(yr, 0, 2), "transpose(0, 2)"),
                        (y.permute(2, 0, 1), np.transpose(yr, (2, 0, 1)), "permute(2, 0, 1)"), (Tensor([[1.0, 2.0]]).T, [[1], [2]], ".T"),
                        (g[1], [4, 5, 6], "g[1]"), (g[:, 1:], [[2, 3], [5, 6]], "g[:, 1:]"),
                        (g[np.array([0, 1]), np.array([2, 0])], [3, 4], "integer arrays pick g[0, 2], g[1, 0]"),
                        (g[Tensor(np.array([1, 1]))], [[4, 5, 6], [4, 5, 6]], "an int Tensor as index")]:
    expect(got, want, what)
expect_error(lambda: x.reshape(5, -1), ValueError, "(24,) into (5, -1)", "(24,)", "(5, -1)")
### BEGIN HIDDEN TESTS
for args, want in [(((2, 3),), (2, 3)), ((2, 3), (2, 3)), (((5,),), (5,)), (([2, 3],), (2, 3)), ((), ()), ([2, 3], (2, 3))]:
    assert _shape_arg(args) == want and isinstance(_shape_arg(args), tuple), f"_shape_arg{args}: expected {want}"
for shape, want in [((-1, 8), (3, 8)), ((2, -1, 3), (2, 4, 3)), ((-1,), (24,)), ((1, 24, -1), (1, 24, 1)), ((3, 8), (3, 8))]:
    expect(x.reshape(*shape), ref.reshape(want), f"reshape{shape}")
for shape in [(5, 5), (-1, -1), (0, -1), (7, -1), (2, 3, 3)]:
    expect_error(lambda: x.reshape(*shape), ValueError, f"reshape{shape}", "(24,)", str(shape))
for dims in [(0, 1), (0, 0, 1), (0, 1, 2, 3)]:
    expect_error(lambda: y.permute(*dims), ValueError, f"permute{dims}", "(2, 3, 4)")
q = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
pair = q[Tensor(np.array([2, 0])), Tensor(np.array([1, 1]))]
for got, want in [(y.transpose(-1, 0), np.swapaxes(yr, -1, 0)), (y.transpose(1, 2), np.swapaxes(yr, 1, 2)),
                  (y.permute(-1, 0, 1), np.transpose(yr, (2, 0, 1))), (y.permute(1, 2, 0), np.transpose(yr, (1, 2, 0))),
                  (Tensor([1.0, 2.0]).T, [1, 2]), (_reshape(x, (6, 4)), ref.reshape(6, 4)), (pair, [5, 1]),
                  (_transpose(y, 0, 1), np.swapaxes(yr, 0, 1)), (_permute(y, (2, 1, 0)), np.transpose(yr, (2, 1, 0))),
                  (_getitem(g, (1, slice(None, 2))), [4, 5])]:
    expect(got, want, "transpose / permute / reshape / getitem")
for out, op, ctx in [(q.reshape(2, 3), "reshape", {}), (q.transpose(-1, 0), "transpose", {"dim0": -1, "dim1": 0}),
                     (q.permute(1, 0), "permute", {"dims": (1, 0)}), (q.T, "permute", {"dims": (1, 0)}),
                     (q[1:, 0], "getitem", {"index": (slice(1, None), 0)})]:
    assert out._op == op and out._ctx == ctx and len(out._parents) == 1, f"expected {op} {ctx}, got {out._op} {out._ctx}"
assert all(isinstance(i, np.ndarray) for i in pair._ctx["index"]), "a tuple index is recorded with ndarrays"
assert isinstance(q[Tensor(np.array([2, 0]))]._ctx["index"], np.ndarray), "the recorded index must be an ndarray"
### END HIDDEN TESTS

# %% [markdown]
# ## Factories and the one random generator
# `zeros`, `ones`, `randn` make float32 tensors of `f(2, 3)` or `f((2, 3))`. All randomness comes from
# **one** generator, `get_generator()`; `manual_seed(seed)` re-seeds it in place: same seed, same run.

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
    """A float32 Tensor of zeros. Example: zeros(2, 3).shape -> (2, 3)"""
    ### BEGIN SOLUTION
    return Tensor(np.zeros(_shape_arg(shape), dtype=np.float32), requires_grad=requires_grad)
    ### END SOLUTION

def ones(*shape, requires_grad=False):
    """A float32 Tensor of ones. Example: ones((2,)) -> Tensor([1., 1.])"""
    ### BEGIN SOLUTION
    return Tensor(np.ones(_shape_arg(shape), dtype=np.float32), requires_grad=requires_grad)
    ### END SOLUTION

def randn(*shape, requires_grad=False):
    """A float32 Tensor of standard normal samples from the global generator, ONE draw of that shape
    generated in float32 (not float64 then cast). Hint: numpy.random.Generator.standard_normal's dtype."""
    ### BEGIN SOLUTION
    return Tensor(get_generator().standard_normal(_shape_arg(shape), dtype=np.float32), requires_grad=requires_grad)
    ### END SOLUTION

# %% test id="test-tensor-factories" points=1
expect(zeros(2, 3), np.zeros((2, 3)), "zeros(2, 3)", dtype="float32")
expect(ones((4,)), np.ones(4), "ones((4,))", dtype="float32")
first = (manual_seed(0), randn(3, 2))[1]
expect(first, np.asarray((manual_seed(0), randn(3, 2))[1].data), "randn(3, 2) after the same seed", dtype="float32")
### BEGIN HIDDEN TESTS
for got, want, what in [(zeros((2, 3)), np.zeros((2, 3)), "zeros((2, 3))"), (ones(2, 2), np.ones((2, 2)), "ones(2, 2)"),
                        ((manual_seed(1), randn(2, 3))[1], (manual_seed(1), get_generator().standard_normal((2, 3), dtype=np.float32))[1], "randn draws from get_generator()")]:
    expect(got, want, what, dtype="float32")
for t in (zeros(2, requires_grad=True), ones(2, requires_grad=True), randn(2, requires_grad=True)):
    assert t.requires_grad is True, f"requires_grad=True must be passed on, got {t.requires_grad}"
### END HIDDEN TESTS

# %% [markdown]
# ## Systems note: what float32 buys
# An $n \times n$ matmul is $2n^3$ floating-point operations (a multiply and an add per term) on $n^2$
# numbers of 4 (float32) or 8 (float64) bytes. float64 doubles the memory and, on most machines, the
# time (a SIMD register holds half as many numbers): networks train in float32, while module 05 checks
# gradients in float64, where finite differences are accurate enough to catch a wrong derivative.

# %%
from timeit import repeat
for X in (Tensor(np.ones((512, 512), np.float32)), Tensor(np.ones((512, 512)))):
    best = min(repeat(lambda: X @ X, number=1, repeat=3))
    print(f"n=512 {X.dtype}: {X.data.nbytes / 2**20:.0f} MiB per matrix, {best * 1e3:.1f} ms, "
          f"{2 * 512**3 / best / 1e9:.1f} GFLOP/s")

