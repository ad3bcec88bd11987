# %% [markdown]
# # 08 · Data loading
#
# A training loop wants a **Dataset** (`len(ds)` samples, `ds[i]` is sample `i`), a **DataLoader**
# (mini-batches, reshuffled every epoch from the seeded generator) and **readers** that turn real files
# (MNIST's IDX, CIFAR-10's pickles) into arrays and refuse damaged ones, as `torch.utils.data`. 64
# samples by `__getitem__` cost 64 Python calls; an array-backed dataset gathers a batch with **one**
# fancy index in C, through `__getitems__(indices)` (as PyTorch's do).

# %%
#| default_exp data
#| export
import gzip, io, pickle, zlib

import numpy as np
from tinytorch_lib.tensor import Tensor, as_tensor, get_generator

IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

class Dataset:
    """A map-style data set: subclasses define __len__ and __getitem__ (sample i, usually a tuple)."""
    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}.__getitem__ is not implemented")

# %% helper
import gzip, os, pathlib, pickle, tempfile

def idx_bytes(array, code):
    """The bytes of an IDX file holding `array` with dtype code `code`."""
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.asarray(array).astype(dtypes[code]).tobytes()

def write_file(folder, name, data):
    """Write bytes into folder/name (gzipped when name ends with .gz); return the path."""
    with open(os.path.join(folder, name), "wb") as f:
        f.write(gzip.compress(data) if name.endswith(".gz") else data)
    return os.path.join(folder, name)

def error_of(fn, *args):
    """The message of the ValueError that fn(*args) must raise."""
    try:
        fn(*args)
    except ValueError as e:
        return str(e)
    raise AssertionError(f"{fn.__name__}{args} must raise ValueError, it returned")

def file_bytes(path):
    return pathlib.Path(path).read_bytes()

def cifar_file(folder, name, data, labels, **extra):
    """Pickle a CIFAR-10 style batch (bytes keys, as the real files have) into folder; return the path."""
    batch = {b"batch_label": b"testing batch", b"data": data, b"labels": labels, **extra}
    return write_file(folder, name, pickle.dumps(batch, protocol=2))

# %% solution id="tensor-dataset"
#| export
class TensorDataset(Dataset):
    """TensorDataset(*tensors): sample i is the tuple of row i of every tensor.

    __init__(*tensors): Tensors or ndarrays (wrapped without a copy: `as_tensor`) sharing their first
        dimension, kept as the tuple `self.tensors`; ValueError naming the sizes if they differ or
        if no tensor is given.  __len__(): the number of samples.  __getitem__(i): tuple of rows i.
    __getitems__(indices): the batch for a 1-D int array, one Tensor per field, gathered at once.
    EXAMPLE: ds = TensorDataset(Tensor(np.zeros((5, 3))), Tensor(np.arange(5)))
             len(ds) -> 5;  ds[2] -> (Tensor (3,), Tensor(2));  ds.__getitems__([0, 4])[0].shape -> (2, 3)
    """
    def __init__(self, *tensors):
        ### BEGIN SOLUTION
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        self.tensors = tuple(as_tensor(t) for t in tensors)
        sizes = [t.shape[0] for t in self.tensors]
        if any(s != sizes[0] for s in sizes):
            raise ValueError(f"size mismatch between tensors: first dimensions {sizes}")
        ### END SOLUTION
    def __len__(self):
        ### BEGIN SOLUTION
        return self.tensors[0].shape[0]
        ### END SOLUTION
    def __getitem__(self, i):
        ### BEGIN SOLUTION
        return tuple(t[i] for t in self.tensors)
        ### END SOLUTION
    def __getitems__(self, indices):
        ### BEGIN SOLUTION
        idx = np.asarray(indices, dtype=np.int64)
        return tuple(Tensor(t.data[idx]) for t in self.tensors)
        ### END SOLUTION

# %% test id="test-tensor-dataset" points=2
xs, ys = np.arange(12.0).reshape(6, 2), np.arange(6) % 3
ds = TensorDataset(Tensor(xs), Tensor(ys))
assert len(ds) == 6, f"expected len 6, got {len(ds)}"
x2, y2 = ds[2]
assert np.allclose(x2.data, [4, 5]) and int(y2.item()) == 2, f"ds[2]: expected ([4, 5], 2), got ({x2}, {y2})"
bx, by = ds.__getitems__(np.array([5, 0, 5]))
assert np.allclose(bx.data, xs[[5, 0, 5]]) and np.array_equal(by.data, ys[[5, 0, 5]]), f"__getitems__([5, 0, 5]): expected rows {xs[[5, 0, 5]].tolist()}, got {bx.data.tolist()}"
### BEGIN HIDDEN TESTS
assert by.dtype == np.int64 and bx.shape == (3, 2), f"dtype and shape kept: got {by.dtype}, {bx.shape}"
class WrapProbe:                 # runs in the notebook's kernel, where `is` means the same array
    def wrapped(self):
        raw = np.ones((4, 1))
        return TensorDataset(raw).tensors[0].data is raw
single = TensorDataset(np.ones((4, 1)))
assert len(single) == 4 and WrapProbe().wrapped() is True, "expected an ndarray to be wrapped without a copy (as_tensor)"
assert len(single[3]) == 1 and single[-1][0].shape == (1,), "a one-field sample is still a tuple"
msg = error_of(TensorDataset, np.zeros(3), np.zeros(4)) + error_of(TensorDataset)
assert "3" in msg and "4" in msg, f"sizes 3 and 4, and no tensor: expected two ValueErrors naming the sizes, got {msg!r}"
### END HIDDEN TESTS

# %% [markdown]
# ## The DataLoader
# With `shuffle=True` each **epoch** is a fresh permutation from `get_generator()` (so `manual_seed`
# repeats a run bit for bit), cut into chunks of `batch_size`; `drop_last=True` drops a short last chunk:
# $\lfloor n / b\rfloor$ batches per epoch, else $\lceil n / b\rceil$. A batch comes from `__getitems__(chunk)`
# if the dataset has it, else **collated**: field $k$ of every sample stacked along a new leading axis.

# %% solution id="collate"
#| export
def collate(samples):
    """Stack a list of samples into one batch.

    samples: a non-empty list; every sample is a tuple of fields (Tensors, ndarrays or numbers) or a
    single such field. Returns a tuple of Tensors (one per field, leading axis = len(samples)), or one
    Tensor for non-tuple samples; dtypes are NumPy's (float32 stays float32, int labels int64).
    EXAMPLE: collate([(Tensor([1., 2.]), 0), (Tensor([3., 4.]), 1)])
             -> (Tensor([[1., 2.], [3., 4.]]), Tensor([0, 1], dtype=int64))
    HINT: `np.stack` adds the new axis; a Tensor's numbers are in `.data`.
    """
    ### BEGIN SOLUTION
    def stack(values):
        return Tensor(np.stack([v.data if isinstance(v, Tensor) else np.asarray(v) for v in values]))

    if isinstance(samples[0], tuple):
        return tuple(stack(field) for field in zip(*samples))
    return stack(samples)
    ### END SOLUTION

# %% test id="test-collate" points=1
bx, by = collate([(Tensor([1.0, 2.0]), 0), (Tensor([3.0, 4.0]), 1), (Tensor([5.0, 6.0]), 2)])
assert bx.shape == (3, 2) and np.allclose(bx.data, [[1, 2], [3, 4], [5, 6]]), f"expected rows stacked, got {bx}"
assert np.array_equal(by.data, [0, 1, 2]) and by.dtype == np.int64, f"expected int64 [0, 1, 2], got {by!r}"
### BEGIN HIDDEN TESTS
one = collate([Tensor(np.ones((2, 2), dtype=np.float32)), Tensor(np.zeros((2, 2), dtype=np.float32))])
assert isinstance(one, Tensor) and one.shape == (2, 2, 2) and one.dtype == np.float32, f"collate of two float32 (2, 2) samples: expected a float32 Tensor (2, 2, 2), got {type(one).__name__} {one.shape} {one.dtype}"
trip = collate([(np.zeros(3), Tensor([1.0]), 7)])
assert len(trip) == 3 and trip[0].shape == (1, 3) and trip[1].shape == (1, 1) and trip[2].shape == (1,), f"a batch of one 3-tuple: expected 3 Tensors shaped (1, 3), (1, 1), (1,), got {[t.shape for t in trip]}"
### END HIDDEN TESTS

# %% solution id="dataloader"
#| export
class DataLoader:
    """DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False): mini-batches, epoch after epoch.

    __init__: keep the four arguments as attributes of the same names; batch_size must be an
        integer >= 1 (ValueError naming the value otherwise).
    __len__(): batches per epoch. EXAMPLE: 10 samples, batch 4 -> 3 (2 with drop_last)
    __iter__(): a generator over one epoch. Order: 0..n-1, or with shuffle a new permutation from
        get_generator() (exactly one draw per epoch, none without shuffle), cut into chunks of
        batch_size; a chunk is fetched by dataset.__getitems__(chunk) if the dataset has that method,
        else collated from dataset[i] of each i. EXAMPLE: 5 samples, batch 2: [0, 1], [2, 3], [4]
    HINT: with `yield`, every `for` loop over the loader starts a new epoch.
    """
    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False):
        ### BEGIN SOLUTION
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        ### END SOLUTION
    def __len__(self):
        ### BEGIN SOLUTION
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size
        ### END SOLUTION
    def __iter__(self):
        ### BEGIN SOLUTION
        n = len(self.dataset)
        order = get_generator().permutation(n) if self.shuffle else np.arange(n)
        fetch_many = getattr(self.dataset, "__getitems__", None)
        for start in range(0, n, self.batch_size):
            chunk = order[start:start + self.batch_size]
            if self.drop_last and len(chunk) < self.batch_size:
                break
            if fetch_many is not None:
                yield fetch_many(chunk)
            else:
                yield collate([self.dataset[int(i)] for i in chunk])
        ### END SOLUTION

# %%
import time
from tinytorch_lib.tensor import manual_seed

class Squares(Dataset):  # sample k is (k as a float32 vector of length 1, k * k as an int); no __getitems__
    __init__ = lambda self, n: setattr(self, "n", n)
    __len__ = lambda self: self.n
    __getitem__ = lambda self, k: (Tensor(np.array([k], dtype=np.float32)), k * k)

# %% test id="test-dataloader" points=3
batches = list(DataLoader(Squares(5), batch_size=2))
got = [b[0].data.ravel().tolist() for b in batches]
assert got == [[0, 1], [2, 3], [4]], f"5 samples in batches of 2: expected [[0, 1], [2, 3], [4]], got {got}"
assert np.array_equal(batches[1][1].data, [4, 9]), f"second field of batch 2: expected [4, 9], got {batches[1][1]}"
assert len(DataLoader(Squares(10), 4)) == 3 and len(DataLoader(Squares(10), 4, drop_last=True)) == 2, f"10 samples, batch 4: expected 3 batches (2 with drop_last), got {len(DataLoader(Squares(10), 4))}"
manual_seed(0)
epoch1 = np.concatenate([b[0].data.ravel() for b in DataLoader(Squares(9), 4, shuffle=True)])
assert sorted(epoch1.tolist()) == list(range(9)), f"a shuffled epoch visits every sample once, got {epoch1}"
### BEGIN HIDDEN TESTS
loader = DataLoader(Squares(9), 4, shuffle=True)
manual_seed(0); e1, e2 = [np.concatenate([b[0].data.ravel() for b in loader]) for _ in range(2)]
manual_seed(0); assert np.array_equal(e1, get_generator().permutation(9)) and np.array_equal(e2, get_generator().permutation(9)), "each epoch draws exactly one permutation from get_generator()"
dl = [b[0].data.ravel().tolist() for b in DataLoader(Squares(10), 4, drop_last=True)]
assert dl == [[0, 1, 2, 3], [4, 5, 6, 7]], f"drop_last: {dl}"
assert len(list(DataLoader(Squares(8), 4, drop_last=True))) == 2 and len(DataLoader(Squares(3), 5, drop_last=True)) == 0, f"drop_last: expected 2 batches of Squares(8) by 4 and 0 of Squares(3) by 5, got {len(list(DataLoader(Squares(8), 4, drop_last=True)))}, {len(DataLoader(Squares(3), 5, drop_last=True))}"
class Spied(TensorDataset):
    def __getitems__(self, idx):
        self.calls = getattr(self, "calls", []) + [list(idx)]
        return super().__getitems__(idx)
spied = Spied(np.arange(7.0), np.arange(7))
fast = list(DataLoader(spied, 3))
assert spied.calls == [[0, 1, 2], [3, 4, 5], [6]] and np.array_equal(fast[2][1].data, [6]), f"expected __getitems__ calls [[0, 1, 2], [3, 4, 5], [6]], got {spied.calls}"
assert len(DataLoader(Squares(3), 1)) == 3 and "0" in error_of(DataLoader, Squares(3), 0), f"batch_size 1 is valid, 0 is not: expected 3 batches and a ValueError, got {len(DataLoader(Squares(3), 1))}"
assert len(DataLoader(Squares(7), 7)) == 1 and len(DataLoader(Squares(1), 3)) == 1 and len(DataLoader(Squares(12), 5)) == 3, f"len = ceil(n / batch_size): expected 1, 1, 3, got {len(DataLoader(Squares(7), 7))}, {len(DataLoader(Squares(1), 3))}, {len(DataLoader(Squares(12), 5))}"
### END HIDDEN TESTS

# %% [markdown]
# ## Splitting
# `random_split(dataset, lengths)` cuts one permutation into consecutive `Subset`s: counts summing
# to `len(dataset)`, or fractions summing to 1 (piece $k$ gets $\lfloor f_k n\rfloor$, leftovers go
# one each to the first pieces), as in PyTorch.

# %% solution id="subset"
#| export
class Subset(Dataset):
    """Subset(dataset, indices): sample i is dataset[indices[i]]; `self.indices` is an int64 array.

    __len__ and __getitem__ as for any dataset; __getitems__(positions) keeps the fast path: it
    gathers through the wrapped dataset's own __getitems__ when it has one, else collates samples.
    EXAMPLE: Subset(TensorDataset(np.arange(5) * 10), [4, 0])[1] -> (Tensor(0),)
    """
    def __init__(self, dataset, indices):
        ### BEGIN SOLUTION
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)
        ### END SOLUTION
    def __len__(self):
        ### BEGIN SOLUTION
        return len(self.indices)
        ### END SOLUTION
    def __getitem__(self, i):
        ### BEGIN SOLUTION
        return self.dataset[int(self.indices[i])]
        ### END SOLUTION
    def __getitems__(self, positions):
        ### BEGIN SOLUTION
        picked = self.indices[np.asarray(positions, dtype=np.int64)]
        if hasattr(self.dataset, "__getitems__"):
            return self.dataset.__getitems__(picked)
        return collate([self.dataset[int(i)] for i in picked])
        ### END SOLUTION

# %% solution id="random-split"
#| export
def random_split(dataset, lengths):
    """Split `dataset` into non-overlapping random Subsets of the given lengths.

    lengths: ints summing to len(dataset), or floats in [0, 1] summing to 1 (within 1e-6).
    Draws one permutation of range(len(dataset)) from get_generator(); piece k gets the next
    lengths[k] positions of it. Anything else raises ValueError.
    EXAMPLE: random_split(TensorDataset(np.arange(10)), [0.7, 0.3]) -> Subsets of 7 and 3 samples
             random_split(ds_of_10, [0.25, 0.25, 0.5]) -> lengths 3, 2, 5 (2 + 2 + 5 = 9: the one left over goes to the first)
    """
    ### BEGIN SOLUTION
    n = len(dataset)
    if lengths and all(isinstance(x, float) and 0 <= x <= 1 for x in lengths) and abs(sum(lengths) - 1) < 1e-6:
        counts = [int(np.floor(n * f)) for f in lengths]
        for k in range(n - sum(counts)):
            counts[k % len(counts)] += 1
    else:
        counts = [int(x) for x in lengths]
    if sum(counts) != n or any(c < 0 for c in counts):
        raise ValueError(f"lengths {list(lengths)} do not split a dataset of {n} samples")
    order = get_generator().permutation(n)
    ends = np.cumsum(counts)
    return [Subset(dataset, order[end - c:end]) for c, end in zip(counts, ends)]
    ### END SOLUTION

# %% test id="test-random-split" points=2
manual_seed(1)
parts = random_split(TensorDataset(np.arange(10)), [7, 3])
seen = sorted(int(parts[k][i][0].item()) for k in range(2) for i in range(len(parts[k])))
assert [len(p) for p in parts] == [7, 3] and seen == list(range(10)), f"expected two disjoint pieces of 7 and 3 covering 0..9, got lengths {[len(p) for p in parts]}, samples {seen}"
sub = Subset(TensorDataset(np.arange(5) * 10), [4, 0])
assert len(sub) == 2 and int(sub[1][0].item()) == 0 and sub.__getitems__([0, 1])[0].data.tolist() == [40, 0], f"Subset(ds, [4, 0]): expected samples 40 and 0, got {[int(sub[i][0].item()) for i in range(len(sub))]}"
### BEGIN HIDDEN TESTS
assert sub.indices.dtype == np.int64 and Subset(Squares(5), [3, 1]).__getitems__([1, 0])[1].data.tolist() == [1, 9], f"expected int64 indices and Subset([3, 1]).__getitems__([1, 0]) -> [1, 9], got {sub.indices.dtype}, {Subset(Squares(5), [3, 1]).__getitems__([1, 0])[1].data.tolist()}"
manual_seed(5); a, b = random_split(Squares(6), [4, 2])
manual_seed(5); perm = get_generator().permutation(6)
assert np.array_equal(a.indices, perm[:4]) and np.array_equal(b.indices, perm[4:]), "pieces follow one permutation"
_ = [error_of(random_split, Squares(10), bad) for bad in ([5, 4], [0.5, 0.6], [11, -1], [0.3, 0.3])]
got = [[len(p) for p in random_split(Squares(10), lengths)] for lengths in ([0.25, 0.25, 0.5], [0.8, 0.2], [0.0, 1.0], [1.0], [10, 0])]
assert got == [[3, 2, 5], [8, 2], [0, 10], [10], [10, 0]], f"fractions [0.25, 0.25, 0.5] (remainder round-robin), [0.8, 0.2], [0.0, 1.0], [1.0], counts [10, 0] of 10: expected lengths [[3, 2, 5], [8, 2], [0, 10], [10], [10, 0]], got {got}"
### END HIDDEN TESTS

# %% solution id="load-digits"
#| export
def load_digits(flatten=False):
    """(X, y) Tensors of scikit-learn's 1797 bundled 8x8 digits (pixel values 0-16, no download).

    X: float32 in [0, 1] (pixel / 16), shape (1797, 1, 8, 8), or (1797, 64) when flatten.
    y: int64 labels 0-9, shape (1797,).
    HINT: sklearn.datasets.load_digits() has `.images` (N, 8, 8) and `.target`.
    """
    ### BEGIN SOLUTION
    from sklearn.datasets import load_digits as sk_load_digits

    digits = sk_load_digits()
    images = digits.images.astype(np.float32) / 16.0
    shape = (len(images), 64) if flatten else (len(images), 1, 8, 8)
    return Tensor(images.reshape(shape)), Tensor(digits.target.astype(np.int64))
    ### END SOLUTION

# %% test id="test-load-digits" points=1
X, y = load_digits()
assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float32, f"expected float32 (1797, 1, 8, 8), got {X.dtype} {X.shape}"
assert y.shape == (1797,) and y.dtype == np.int64, f"expected int64 labels (1797,), got {y.dtype} {y.shape}"
### BEGIN HIDDEN TESTS
assert np.isclose(X.data.max(), 1.0) and X.data.min() == 0.0 and set(np.unique(y.data)) == set(range(10)), f"pixels scaled to [0, 1] and labels 0..9: got max {X.data.max()}, min {X.data.min()}, labels {sorted(set(np.unique(y.data)))}"
Xf, yf = load_digits(flatten=True)
assert Xf.shape == (1797, 64) and np.array_equal(Xf.data, X.data.reshape(1797, 64)) and np.array_equal(yf.data, y.data), f"flatten=True: expected X (1797, 64) equal to the images flattened, got {Xf.shape}"
assert np.isclose(X.data[0, 0, 0, 2], 5 / 16) and y.data[:3].tolist() == [0, 1, 2], f"expected X[0, 0, 0, 2] = 5/16 and labels [0, 1, 2], got {X.data[0, 0, 0, 2]}, {y.data[:3].tolist()}"
### END HIDDEN TESTS

# %% [markdown]
# ## Reading MNIST's IDX files
# MNIST ships as IDX files, usually gzipped: a header, then raw numbers.
#
# | bytes | meaning |
# |---|---|
# | 0-1 | `0x00 0x00` (the magic number's first half) |
# | 2 | dtype code: `0x08` uint8, `0x09` int8, `0x0B` int16, `0x0C` int32, `0x0D` float32, `0x0E` float64 |
# | 3 | number of dimensions $d \ge 1$ |
# | 4 .. 4+4d | each dimension as an unsigned 32-bit **big-endian** integer |
# | rest | $\prod$ dims values of that dtype, big-endian, row-major |
#
# `train-images-idx3-ubyte` starts `00 00 08 03 | 00 00 EA 60 | 00 00 00 1C | 00 00 00 1C`: uint8,
# 60000 x 28 x 28. A **strict** reader fails loudly on a cut-short download or the wrong file, naming the
# file and what was expected (never a half-filled array); the writer, its inverse, pins down every byte.

# %% solution id="read-bytes"
#| export
def _read_bytes(path):
    """All bytes of the file `path`, decompressed when it is gzipped (recognised by its content,
    first two bytes 1f 8b, not by its name). A cut-short or corrupt gzip stream raises ValueError
    starting with the path and containing "gzip" (never return the part that did decompress).
    HINT: gzip.decompress raises EOFError, OSError or zlib.error on a damaged stream.
    """
    ### BEGIN SOLUTION
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:
        raise ValueError(f"{path}: truncated or corrupt gzip stream ({e})") from None
    ### END SOLUTION

# %% solution id="read-idx"
#| export
def read_idx(path):
    """The array stored in the IDX file `path` (plain or gzipped): a new, writable ndarray with the
    file's shape and the dtype its code names, in native byte order. Raises ValueError whose message
    starts with the path and says what was expected:
      - fewer than 4 bytes, or fewer than the 4*d bytes of dimensions: "truncated header ...";
      - first two bytes not zero: "... magic ...";  d == 0: "... dimensions ...";
      - a dtype code not in IDX_DTYPES: "... dtype code ...", listing the known codes;
      - data bytes != prod(dims) * itemsize (too few OR too many): "... expected N data bytes ...".
    EXAMPLE: a file b"\\x00\\x00\\x08\\x01\\x00\\x00\\x00\\x03\\x07\\x08\\x09" -> array([7, 8, 9], dtype=uint8)
    HINT: the header is 4 single bytes, then d big-endian uint32; `np.dtype(code).newbyteorder("=")`
          is the same dtype in this machine's byte order.
    """
    ### BEGIN SOLUTION
    buf = _read_bytes(path)
    if len(buf) < 4:
        raise ValueError(f"{path}: truncated header: expected at least 4 bytes, got {len(buf)}")
    if buf[0] != 0 or buf[1] != 0:
        raise ValueError(f"{path}: bad magic number 0x{buf[:4].hex()}: expected two zero bytes first")
    code, ndim = buf[2], buf[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{path}: unknown dtype code 0x{code:02X}: expected one of {known}")
    if ndim == 0:
        raise ValueError(f"{path}: expected at least 1 dimensions, got 0")
    if len(buf) < 4 + 4 * ndim:
        raise ValueError(f"{path}: truncated header: expected {4 + 4 * ndim} bytes for {ndim} dimensions")
    shape = tuple(int(v) for v in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_DTYPES[code])
    expected = int(np.prod(shape)) * dtype.itemsize
    got = len(buf) - 4 - 4 * ndim
    if got != expected:
        raise ValueError(f"{path}: shape {shape} of {dtype.name}: expected {expected} data bytes, found {got}")
    data = np.frombuffer(buf, dtype=dtype, count=int(np.prod(shape)), offset=4 + 4 * ndim)
    return data.astype(dtype.newbyteorder("=")).reshape(shape)
    ### END SOLUTION

# %% solution id="write-idx"
def write_idx(path, array):
    """Write `array` as an IDX file at `path` (gzipped when the name ends with ".gz"); return `path`.
    array: an ndarray with at least one dimension whose dtype (in either byte order) is one of
    IDX_DTYPES. The file is exactly what `read_idx` reads back: read_idx(write_idx(p, a)) equals a,
    with a's dtype. Raises ValueError naming the dtype for any other dtype (int64, bool, ...) and
    for a 0-d array; no file is written then.
    EXAMPLE: write_idx("v.idx", np.array([7, 8, 9], dtype=np.uint8)) writes the 11 bytes
             00 00 08 01 | 00 00 00 03 | 07 08 09
    HINT: the code is the key of IDX_DTYPES whose dtype, both taken in native order, is the array's;
          `ndarray.tobytes` gives raw bytes in a dtype's byte order, `gzip.compress` the .gz form.
    """
    ### BEGIN SOLUTION
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    codes = [c for c, dt in IDX_DTYPES.items() if np.dtype(dt).newbyteorder("=") == native]
    if not codes or array.ndim == 0:
        raise ValueError(f"{path}: IDX cannot hold a {array.ndim}-d array of {array.dtype}")
    head = bytes([0, 0, codes[0], array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    blob = head + array.astype(IDX_DTYPES[codes[0]]).tobytes()
    with open(path, "wb") as f:
        f.write(gzip.compress(blob) if str(path).endswith(".gz") else blob)
    return path
    ### END SOLUTION

# %% test id="test-read-idx" points=3
with tempfile.TemporaryDirectory(dir=os.getcwd()) as tmp:
    images = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    got = read_idx(write_file(tmp, "images.idx", idx_bytes(images, 0x08)))
    assert got.dtype == np.uint8 and got.shape == (2, 3, 4) and np.array_equal(got, images), f"expected the (2, 3, 4) uint8 array 0..23, got {got.dtype} {got.shape}"
    path = write_file(tmp, "short.idx", idx_bytes(images, 0x08)[:-5])
    msg = error_of(read_idx, path)
    assert path in msg and "expected 24 data bytes" in msg, f"a truncated file: expected an error naming {path} and 'expected 24 data bytes', got {msg!r}"
    ### BEGIN HIDDEN TESTS
    assert _read_bytes(write_file(tmp, "g.gz", b"abc")) == b"abc" and _read_bytes(write_file(tmp, "p", b"\x1f")) == b"\x1f", "_read_bytes: expected the bytes of a .gz file decompressed and a plain file as is"
    vals = np.array([[1.5, -2.25], [3e5, 0.0]])
    for code, dt in [(0x0D, np.float32), (0x0E, np.float64), (0x0C, np.int32), (0x0B, np.int16), (0x09, np.int8)]:
        want = vals.astype(dt) if code >= 0x0D else np.array([[1, -2], [100, 0]], dtype=dt)
        arr = read_idx(write_file(tmp, f"v{code}.idx.gz", idx_bytes(want, code)))
        assert arr.dtype == dt and arr.dtype.isnative and np.array_equal(arr, want), f"code 0x{code:02X}: {arr!r}"
    arr[0, 0] = 7
    assert np.array_equal(read_idx(write_file(tmp, "v.idx", b"\x00\x00\x08\x01\x00\x00\x00\x03\x07\x08\x09")), [7, 8, 9]), f"a 1-D uint8 IDX file of 3 values: expected [7, 8, 9], got {read_idx(write_file(tmp, 'v.idx', bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9])))}"
    good = idx_bytes(images, 0x08)
    cases = {"magic": b"\x08\x03" + good[2:], "dtype code": good[:2] + b"\x0A" + good[3:], "truncated header": good[:10],
             "dimensions": b"\x00\x00\x08\x00", "expected 24 data bytes": good + b"\x00"}
    for word, data in cases.items():
        path = write_file(tmp, "bad.idx", data)
        msg = error_of(read_idx, path)
        assert path in msg and word in msg, f"expected {word!r} and the path in the error, got {msg!r}"
    got = read_idx(write_file(tmp, "empty.idx", b"\x00\x00\x08\x01\x00\x00\x00\x00"))
    assert got.shape == (0,) and got.dtype == np.uint8, f"a 1-D uint8 file of 0 values: expected an empty (0,) array, got {got!r}"
    assert "truncated header" in error_of(read_idx, write_file(tmp, "tiny.idx", b"\x00\x00")), f"a 2-byte file: expected 'truncated header' in the error, got {error_of(read_idx, write_file(tmp, 'tiny.idx', bytes(2)))!r}"
    assert "0x08" in error_of(read_idx, write_file(tmp, "c.idx", good[:2] + b"\x07" + good[3:])).replace("0X", "0x"), "a wrong dtype code: expected the error to name the expected code 0x08"
    gz = write_file(tmp, "cut.idx.gz", b"")
    pathlib.Path(gz).write_bytes(gzip.compress(good)[:-12])
    assert gz in error_of(read_idx, gz), f"expected the error to name the file {gz}, got {error_of(read_idx, gz)!r}"
    ### END HIDDEN TESTS

# %% test id="test-write-idx" points=2
with tempfile.TemporaryDirectory(dir=os.getcwd()) as tmp:
    v = np.array([7, 8, 9], dtype=np.uint8)
    assert file_bytes(write_idx(os.path.join(tmp, "v.idx"), v)) == idx_bytes(v, 0x08), f"expected the bytes {idx_bytes(v, 0x08).hex(' ')}, got {file_bytes(os.path.join(tmp, 'v.idx')).hex(' ')}"
    m = np.arange(-6, 6, dtype=np.int16).reshape(3, 4)
    back = read_idx(write_idx(os.path.join(tmp, "m.idx.gz"), m))
    assert back.dtype == np.int16 and np.array_equal(back, m), f"expected the int16 (3, 4) array back, got {back!r}"
    ### BEGIN HIDDEN TESTS
    p = os.path.join(tmp, "f.idx")
    for code, dt in [(0x0D, "<f4"), (0x0E, ">f8"), (0x0C, "<i4"), (0x09, "i1"), (0x08, "u1")]:
        a = np.array([[[1.5, -2.0]], [[3.0, 0.0]], [[100.0, 5.0]]]).astype(dt)
        assert write_idx(p, a) == p, f"expected write_idx to return the path {p}"
        assert file_bytes(p) == idx_bytes(a, code), f"dtype {dt}: expected {idx_bytes(a, code).hex(' ')}, got {file_bytes(p).hex(' ')}"
    assert gzip.decompress(file_bytes(write_idx(os.path.join(tmp, "g.gz"), m))) == idx_bytes(m, 0x0B), "a .gz name: expected the gzipped IDX bytes"
    q = os.path.join(tmp, "bad.idx")
    for bad in (np.arange(3), np.zeros(2, dtype=bool), np.array(5, dtype=np.uint8)):
        msg = error_of(write_idx, q, bad)
        assert str(bad.dtype) in msg and not os.path.exists(q), f"{bad.dtype} {bad.shape}: expected a ValueError naming the dtype and no file, got {msg!r}"
    ### END HIDDEN TESTS

# %% [markdown]
# ## Reading a CIFAR-10 batch
# CIFAR-10's "python version" is six pickled dicts holding `b"data"`, uint8 (N, 3072) (each row
# 1024 red, 1024 green, 1024 blue values: NCHW after a reshape), and `b"labels"`, N ints in 0-9.
# Unpickling runs code named in the file, so the given unpickler allows only what a batch needs.

# %%
#| export
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"), ("numpy._core.numeric", "_frombuffer"),
            ("numpy.core.numeric", "_frombuffer"), ("_codecs", "encode")}

class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)

# %% solution id="cifar"
#| export
def load_cifar10_batch(path):
    """(X, y) Tensors from one CIFAR-10 python batch file (plain or gzipped): X float32
    (N, 3, 32, 32) = pixel / 255, y int64 (N,).

    Unpickle with _BatchUnpickler(file, encoding="bytes") (Python 2 pickles; keys are bytes).
    Raises ValueError starting with the path and saying what was expected when the pickle is
    truncated, corrupt or refused (pickle.UnpicklingError, EOFError, TypeError, AttributeError,
    IndexError), is not a dict ("dict"), lacks "data" or "labels", data is not a uint8 array of
    shape (N, 3072), or labels are not N integers in 0..9.
    EXAMPLE: a batch with data of shape (2, 3072) and labels [3, 8] -> X (2, 3, 32, 32), y [3, 8]
    HINT: check everything before converting anything; `io.BytesIO` makes bytes a file.
    """
    ### BEGIN SOLUTION
    try:
        obj = _BatchUnpickler(io.BytesIO(_read_bytes(path)), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, TypeError, AttributeError, IndexError) as e:
        raise ValueError(f"{path}: not a readable CIFAR-10 pickle batch ({e})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a pickled dict, found {type(obj).__name__}")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}
    for key in ("data", "labels"):
        if key not in batch:
            raise ValueError(f"{path}: expected a {key!r} entry, found keys {sorted(batch)}")
    data, labels = batch["data"], np.asarray(batch["labels"])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shape, dtype = np.shape(data), getattr(data, "dtype", type(data).__name__)
        raise ValueError(f"{path}: expected data as uint8 of shape (N, 3072), found {dtype} {shape}")
    n = data.shape[0]
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer) or n and not 0 <= labels.min() <= labels.max() <= 9:
        raise ValueError(f"{path}: expected {n} labels in 0..9, found shape {labels.shape} of {labels.dtype}")
    X = data.reshape(n, 3, 32, 32).astype(np.float32) / 255.0
    return Tensor(X), Tensor(labels.astype(np.int64))
    ### END SOLUTION

# %% test id="test-cifar" points=3
with tempfile.TemporaryDirectory(dir=os.getcwd()) as tmp:
    pixels = np.random.default_rng(0).integers(0, 256, size=(2, 3072), dtype=np.uint8)
    X, y = load_cifar10_batch(cifar_file(tmp, "data_batch_1", pixels, [3, 8]))
    assert X.shape == (2, 3, 32, 32) and X.dtype == np.float32, f"expected float32 (2, 3, 32, 32), got {X.dtype} {X.shape}"
    assert np.allclose(X.data[1, 2, 0, :3], pixels[1, 2048:2051] / 255), "channel 2 (blue) of image 1 is columns 2048.. of its row"
    assert y.dtype == np.int64 and y.data.tolist() == [3, 8], f"expected int64 labels [3, 8], got {y!r}"
    ### BEGIN HIDDEN TESTS
    assert np.allclose(X.data[0, 1, 5, 7], pixels[0, 1024 + 5 * 32 + 7] / 255) and X.data.max() <= 1.0, f"expected X[0, 1, 5, 7] = pixel 1024 + 5*32 + 7 / 255 and max <= 1, got {X.data[0, 1, 5, 7]}, {X.data.max()}"
    bad = {"uint8": cifar_file(tmp, "a", pixels.astype(np.int32), [3, 8]), "3072": cifar_file(tmp, "b", pixels[:, :3000], [3, 8]),
           "labels": cifar_file(tmp, "c", pixels, [3]), "0..9": cifar_file(tmp, "d", pixels, [3, 10]),
           "'labels'": write_file(tmp, "e", pickle.dumps({b"data": pixels}, protocol=2))}
    for word, path in bad.items():
        msg = error_of(load_cifar10_batch, path)
        assert path in msg and word in msg, f"expected {word!r} and the path in the error, got {msg!r}"
    got = load_cifar10_batch(cifar_file(tmp, "l", pixels, [9, 9]))[1].data.tolist()
    assert got == [9, 9], f"labels [9, 9] (equal, and the largest class): expected [9, 9], got {got}"
    assert "0..9" in error_of(load_cifar10_batch, cifar_file(tmp, "f", pixels, [-1, 2])), "a label of -1: expected the error to say labels must be in 0..9"
    whole = pickle.dumps({b"data": pixels, b"labels": [1, 2]}, protocol=2)
    assert tmp in error_of(load_cifar10_batch, write_file(tmp, "g", whole[: len(whole) // 2])), f"a truncated pickle: expected the error to name the file (in {tmp})"
    assert load_cifar10_batch(write_file(tmp, "h.gz", whole))[1].data.tolist() == [1, 2], "a .gz CIFAR batch: expected labels [1, 2]"
    assert "dict" in error_of(load_cifar10_batch, write_file(tmp, "j", pickle.dumps([1, 2]))), "a pickle that is not a dict: expected the error to say it expected a dict"
    assert "os.system" in error_of(load_cifar10_batch, write_file(tmp, "k", b"cos\nsystem\n(S'true'\ntR.")), "a pickle that calls os.system: expected the error to name the refused global os.system"
    ### END HIDDEN TESTS

# %% [markdown]
# ## Systems note: what batching buys
# A training loop pays a **per-call** cost (Python calls, graph bookkeeping, an optimizer step) and a
# **per-sample** cost (the arithmetic); a batch of $b$ pays the first once for all $b$. Below: one epoch
# over the 1797 digits, *loading* only (per sample plus `collate`, or one `__getitems__`) and *training*
# an MLP. Per-sample loading caps the pipeline however fast the model is; training gets one to two
# orders of magnitude faster from batch 1 to 64-256, at the price of fewer updates per epoch.

# %% solution id="throughput"
def throughput(loader, step=None, repeats=2):
    """Samples per second of one epoch over `loader`, the best of `repeats` epochs (time.perf_counter).
    Each epoch iterates the loader and, if step is given, calls it with the fields of every batch; samples
    are counted from the batches (the first field's leading dimension), not from the dataset.
    EXAMPLE: throughput(DataLoader(ds_of_1000, 100)) -> e.g. 2.5e6 (1000 samples in 0.4 ms)
    """
    ### BEGIN SOLUTION
    best = None
    for _ in range(repeats):
        start, count = time.perf_counter(), 0
        for batch in loader:
            if step is not None:
                step(*batch)
            count += batch[0].shape[0]
        rate = count / max(time.perf_counter() - start, 1e-9)
        best = rate if best is None else max(best, rate)
    return best
    ### END SOLUTION

# %% test id="test-throughput" points=1
rate = throughput(DataLoader(Squares(40), 8), step=lambda xb, yb: time.sleep(0.01), repeats=1)
assert 50 < rate < 800, f"40 samples in 5 batches of ~10 ms each: expected about 800/s or less, got {rate:.0f}/s"
### BEGIN HIDDEN TESTS
rate = throughput(DataLoader(Squares(2), 2), step=lambda xb, yb: time.sleep(0.1), repeats=1)
assert 10 < rate < 21, f"2 samples in one batch that sleeps 100 ms: expected about 20 samples/s, got {rate:.1f}"
seen = []
throughput(DataLoader(Squares(10), 4, drop_last=True), step=lambda xb, yb: seen.append(len(yb)), repeats=3)
assert seen == [4, 4] * 3, f"step is called on every batch of every epoch, got {seen}"
assert throughput(DataLoader(Squares(30), 30), step=lambda xb, yb: time.sleep(0.05), repeats=1) > 400, "a step that sleeps 50 ms for 30 samples: expected about 600 samples/s (> 400)"
### END HIDDEN TESTS

# %%
import matplotlib.pyplot as plt
from tinytorch_lib.activations import ReLU
from tinytorch_lib.layers import Linear, Sequential
from tinytorch_lib.losses import CrossEntropyLoss
from tinytorch_lib.optim import SGD
digits = TensorDataset(*load_digits(flatten=True))
per_sample = type("PerSample", (TensorDataset,), {"__getitems__": None})(*digits.tensors)
manual_seed(0)
mlp, loss_fn = Sequential(Linear(64, 64), ReLU(), Linear(64, 10)), CrossEntropyLoss()
opt = SGD(mlp.parameters(), lr=0.01)
train_step = lambda xb, yb: (opt.zero_grad(), loss_fn(mlp(xb), yb).backward(), opt.step())
sizes, subset = [1, 4, 16, 64, 256], Subset(digits, np.arange(512))
rates = {"load, per sample + collate": [throughput(DataLoader(per_sample, b)) for b in sizes],
         "load, __getitems__": [throughput(DataLoader(digits, b, shuffle=True)) for b in sizes],
         "train (512 digits)": [throughput(DataLoader(subset, b, shuffle=True), train_step, 1) for b in sizes]}
plt.figure(figsize=(6, 3.8))
for name, r in rates.items():
    plt.loglog(sizes, r, "o-", label=name)
plt.xlabel("batch size"), plt.ylabel("samples per second"), plt.legend()
plt.show()
