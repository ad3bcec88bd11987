"""tinytorch_lib.data (module 08): datasets, the DataLoader, splits, digits, and strict file readers."""
import gzip
import pickle

import numpy as np
import pytest

from tinytorch_lib.data import (DataLoader, Dataset, TensorDataset, load_cifar10_batch, load_digits, random_split,
                                read_idx)
from tinytorch_lib.tensor import Tensor, get_generator, manual_seed

IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array):
    array = np.asarray(array)
    header = bytes([0, 0, IDX_CODES[array.dtype.type], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, data):
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


class Samples(Dataset):
    """Sample i = (float32 [i, -i], i): no __getitems__, so the loader collates."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return Tensor(np.array([i, -i], dtype=np.float32)), i


# ---- datasets and the loader ---------------------------------------------------------------------

def test_tensor_dataset_rows_and_errors():
    ds = TensorDataset(Tensor(np.arange(10.0).reshape(5, 2)), np.arange(5))
    assert len(ds) == 5
    x, y = ds[3]
    assert x.data.tolist() == [6, 7] and y.item() == 3
    with pytest.raises(ValueError, match="5.*4|4.*5"):
        TensorDataset(np.zeros(5), np.zeros(4))


@pytest.mark.parametrize("dataset", [TensorDataset(np.arange(10.0)[:, None] * [1, -1], np.arange(10)), Samples(10)])
def test_loader_batches_in_order(dataset):
    batches = list(DataLoader(dataset, batch_size=4))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert all(isinstance(t, Tensor) for b in batches for t in b)
    assert np.concatenate([b[1].data for b in batches]).tolist() == list(range(10))
    assert batches[0][0].shape == (4, 2)
    assert batches[0][1].dtype == np.int64
    assert len(DataLoader(dataset, 4)) == 3 and len(DataLoader(dataset, 4, drop_last=True)) == 2
    assert [len(b[1]) for b in DataLoader(dataset, 4, drop_last=True)] == [4, 4]


def test_shuffle_is_seeded_and_new_every_epoch():
    loader = DataLoader(Samples(20), batch_size=6, shuffle=True)
    manual_seed(3)
    first = [np.concatenate([b[1].data for b in loader]) for _ in range(2)]
    manual_seed(3)
    again = [np.concatenate([b[1].data for b in loader]) for _ in range(2)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], first[1])
    assert sorted(first[0].tolist()) == list(range(20))
    manual_seed(3)
    assert np.array_equal(first[0], get_generator().permutation(20))


def test_random_split_counts_and_fractions():
    manual_seed(0)
    a, b = random_split(Samples(10), [7, 3])
    got = sorted([a[i][1] for i in range(7)] + [b[i][1] for i in range(3)])
    assert got == list(range(10))
    assert [len(p) for p in random_split(Samples(1797), [0.8, 0.2])] == [1438, 359]
    assert [len(p) for p in random_split(Samples(10), [0.25, 0.25, 0.5])] == [3, 2, 5]
    with pytest.raises(ValueError):
        random_split(Samples(10), [5, 6])
    manual_seed(1)
    train, _ = random_split(TensorDataset(np.arange(8), np.arange(8) * 2), [6, 2])
    (xb, yb), = list(DataLoader(train, 6))
    assert np.array_equal(yb.data, 2 * xb.data)


def test_load_digits():
    X, y = load_digits()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float32 and 0 <= X.data.min() and X.data.max() <= 1
    assert y.shape == (1797,) and y.dtype == np.int64 and set(y.data.tolist()) == set(range(10))
    assert load_digits(flatten=True)[0].shape == (1797, 64)


# ---- IDX -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", list(IDX_CODES))
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_read_idx_round_trip(tmp_path, dtype, name):
    array = (np.arange(24).reshape(2, 3, 4) * (3 if dtype not in (np.int8, np.uint8) else 1)).astype(dtype)
    got = read_idx(write(tmp_path / name, idx_bytes(array)))
    assert got.dtype == dtype and got.dtype.isnative and np.array_equal(got, array)
    got[0, 0, 0] = 1     # writable: not a view of the file's bytes


@pytest.mark.parametrize("damage, expected", [
    (lambda b: b[:-1], "expected 24 data bytes"),
    (lambda b: b + b"\0", "expected 24 data bytes"),
    (lambda b: b[:9], "truncated header"),
    (lambda b: b[:3], "truncated header"),
    (lambda b: b"\x08\x03" + b[2:], "magic"),
    (lambda b: b[:2] + b"\x07" + b[3:], "dtype code"),
    (lambda b: b[:3] + b"\x02" + b[4:], "expected 6 data bytes"),       # 2 dims read: shape (2, 3) vs 28 bytes
])
def test_read_idx_refuses_damaged_files(tmp_path, damage, expected):
    good = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    path = write(tmp_path / "bad.idx", damage(good))
    with pytest.raises(ValueError) as err:
        read_idx(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_read_idx_truncated_gzip(tmp_path):
    path = tmp_path / "x.idx.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((50, 50), np.uint8)))[:-10])
    with pytest.raises(ValueError, match="gzip") as err:
        read_idx(path)
    assert str(path) in str(err.value)


# ---- CIFAR-10 ----------------------------------------------------------------------------------------

def cifar(tmp_path, name="data_batch_1", **entries):
    batch = {b"batch_label": b"training batch 1 of 5", **{k.encode(): v for k, v in entries.items()}}
    return write(tmp_path / name, pickle.dumps(batch, protocol=2))


def test_cifar_batch(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (3, 3072), dtype=np.uint8)
    X, y = load_cifar10_batch(cifar(tmp_path, data=pixels, labels=[0, 9, 4], filenames=[b"a", b"b", b"c"]))
    assert X.shape == (3, 3, 32, 32) and X.dtype == np.float32 and y.dtype == np.int64 and y.data.tolist() == [0, 9, 4]
    assert np.allclose(X.data[2, 1, 3, 4], pixels[2, 1024 + 3 * 32 + 4] / 255)


@pytest.mark.parametrize("entries, expected", [
    ({"labels": [1]}, "'data'"),
    ({"data": np.zeros((1, 3072), np.uint8)}, "'labels'"),
    ({"data": np.zeros((1, 3072), np.float32), "labels": [1]}, "uint8"),
    ({"data": np.zeros((1, 3000), np.uint8), "labels": [1]}, "3072"),
    ({"data": np.zeros((2, 3072), np.uint8), "labels": [1]}, "labels"),
    ({"data": np.zeros((1, 3072), np.uint8), "labels": [10]}, "0..9"),
])
def test_cifar_refuses_malformed_batches(tmp_path, entries, expected):
    path = cifar(tmp_path, **entries)
    with pytest.raises(ValueError) as err:
        load_cifar10_batch(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_cifar_refuses_truncated_and_foreign_pickles(tmp_path):
    whole = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2]}, protocol=2)
    for name, data in [("cut", whole[:len(whole) // 2]), ("evil", b"cos\nsystem\n(S'true'\ntR."),
                       ("list", pickle.dumps([1, 2]))]:
        path = write(tmp_path / name, data)
        with pytest.raises(ValueError) as err:
            load_cifar10_batch(path)
        assert str(path) in str(err.value)
