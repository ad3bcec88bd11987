"""Reference-package tests of tinytorch_lib.training (module 07_training)."""
import math

import numpy as np
import pytest

import tinytorch_lib.autograd  # noqa: F401  (registers the backward engine)
from tinytorch_lib.activations import ReLU, Tanh
from tinytorch_lib.layers import Dropout, Linear, Module, Sequential
from tinytorch_lib.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from tinytorch_lib.optim import SGD, Adam
from tinytorch_lib.tensor import Tensor, is_grad_enabled, manual_seed
from tinytorch_lib.training import CosineAnnealingLR, Trainer, clip_grad_norm_


def with_grad(values, dtype=np.float64):
    p = Tensor(np.zeros(np.shape(values), dtype=dtype), requires_grad=True)
    p.grad = Tensor(np.asarray(values, dtype=dtype))
    return p


# ---- clip_grad_norm_ -------------------------------------------------------------------------------

def test_clip_by_hand():
    a, b = with_grad([3.0, 0.0]), with_grad([[0.0], [4.0]])
    norm = clip_grad_norm_([a, b], max_norm=1.0)
    assert float(norm) == pytest.approx(5.0) and norm.item() == pytest.approx(5.0)
    coef = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(a.grad.data, [3 * coef, 0.0], rtol=1e-12)
    np.testing.assert_allclose(b.grad.data, [[0.0], [4 * coef]], rtol=1e-12)


def test_clip_below_max_norm_is_a_no_op():
    a, b = with_grad([3.0, 0.0]), with_grad([0.0, 4.0])
    assert float(clip_grad_norm_([a, b], max_norm=5.1)) == pytest.approx(5.0)
    np.testing.assert_array_equal(a.grad.data, [3.0, 0.0])
    np.testing.assert_array_equal(b.grad.data, [0.0, 4.0])


def test_clip_is_global_not_per_parameter():
    a, b = with_grad([10.0]), with_grad([0.1])
    clip_grad_norm_([a, b], max_norm=1.0)
    total = math.sqrt(100.01)
    np.testing.assert_allclose([a.grad.data[0], b.grad.data[0]], np.array([10.0, 0.1]) / (total + 1e-6), rtol=1e-12)


def test_clip_skips_missing_grads_accepts_generators_and_single_tensors_keeps_dtype():
    a = with_grad(np.full(3, 2.0), dtype=np.float32)
    none = Tensor(np.zeros(2), requires_grad=True)
    norm = clip_grad_norm_((p for p in [a, none]), max_norm=0.5)
    assert float(norm) == pytest.approx(math.sqrt(12.0), rel=1e-6)
    assert a.grad.dtype == np.float32 and none.grad is None
    assert np.linalg.norm(a.grad.data) == pytest.approx(0.5, rel=1e-5)
    d = with_grad([0.0, 10.0])
    assert float(clip_grad_norm_(d, 1.0)) == pytest.approx(10.0)
    np.testing.assert_allclose(d.grad.data, [0.0, 1.0], atol=1e-6)
    assert float(clip_grad_norm_([none], 1.0)) == 0.0


def test_clip_scales_a_shared_gradient_array_once():
    shared = Tensor(np.array([6.0, 8.0]))
    e, f = Tensor(np.zeros(2), requires_grad=True), Tensor(np.zeros(2), requires_grad=True)
    e.grad, f.grad = shared, shared.detach()
    clip_grad_norm_([e, f], 1.0)
    expected = np.array([6.0, 8.0]) / (math.sqrt(200.0) + 1e-6)
    np.testing.assert_allclose(e.grad.data, expected, rtol=1e-12)
    np.testing.assert_allclose(f.grad.data, expected, rtol=1e-12)


def test_clip_after_backward():
    manual_seed(0)
    net = Sequential(Linear(3, 4), Tanh(), Linear(4, 1))
    x = Tensor(np.random.default_rng(0).normal(size=(5, 3)) * 10)
    (net(x) ** 2).sum().backward()
    before = np.sqrt(sum(np.sum(p.grad.data.astype(np.float64) ** 2) for p in net.parameters()))
    norm = clip_grad_norm_(net.parameters(), 0.1)
    after = np.sqrt(sum(np.sum(p.grad.data.astype(np.float64) ** 2) for p in net.parameters()))
    assert float(norm) == pytest.approx(before, rel=1e-6) and before > 0.1
    assert after == pytest.approx(0.1, rel=1e-4)


# ---- CosineAnnealingLR ----------------------------------------------------------------------------

def make_opt(lr):
    return SGD([Tensor(np.zeros(1), requires_grad=True)], lr=lr)


def test_cosine_by_hand():
    opt = make_opt(1.0)
    sched = CosineAnnealingLR(opt, T_max=4)
    assert sched.get_last_lr() == [1.0] and opt.lr == 1.0
    got = []
    for _ in range(4):
        sched.step()
        got.append(opt.lr)
        assert sched.get_last_lr() == [opt.lr]
    c = math.cos(math.pi / 4)
    np.testing.assert_allclose(got, [(1 + c) / 2, 0.5, (1 - c) / 2, 0.0], atol=1e-15)


def test_cosine_eta_min_and_past_t_max():
    opt = make_opt(0.1)
    sched = CosineAnnealingLR(opt, T_max=10, eta_min=0.01)
    lrs = []
    for _ in range(15):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    ref = [0.01 + 0.09 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(1, 16)]
    np.testing.assert_allclose(lrs, ref, rtol=1e-12)
    assert min(lrs) == pytest.approx(0.01) and lrs[-1] > lrs[10]
    assert isinstance(sched.get_last_lr(), list)


def test_cosine_drives_the_optimizer_update():
    p = Tensor(np.array([0.0]), requires_grad=True)
    opt = SGD([p], lr=1.0)
    sched = CosineAnnealingLR(opt, T_max=2)
    for _ in range(3):
        p.grad = Tensor(np.array([1.0]))
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.data, [-(1.0 + 0.5 + 0.0)], atol=1e-12)


# ---- Trainer --------------------------------------------------------------------------------------

def toy_batches(n=64, batch_size=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return [(Tensor(x[i:i + batch_size]), Tensor(y[i:i + batch_size])) for i in range(0, n, batch_size)]


def mlp(seed=0):
    manual_seed(seed)
    return Sequential(Linear(2, 8), Tanh(), Linear(8, 2))


class Spy(Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.log = []

    def forward(self, x):
        out = self.inner(x)
        self.log.append((self.training, is_grad_enabled(), out.requires_grad))
        return out


def test_fit_decreases_loss_and_reaches_high_accuracy():
    model = mlp()
    trainer = Trainer(model, CrossEntropyLoss(), Adam(model.parameters(), lr=0.05))
    history = trainer.fit(toy_batches(), epochs=20, val_loader=toy_batches(32, seed=1), progress=False)
    for key in ["train_loss", "train_acc", "val_loss", "val_acc", "lr"]:
        assert len(history[key]) == 20, key
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["train_acc"][-1] >= 0.9 and history["val_acc"][-1] >= 0.9
    assert history is trainer.history and trainer.epoch == 20


def test_fit_is_deterministic_under_a_seed():
    runs = []
    for _ in range(2):
        model = mlp(seed=5)
        runs.append(Trainer(model, CrossEntropyLoss(), Adam(model.parameters(), lr=0.05))
                    .fit(toy_batches(), epochs=5, progress=False)["train_loss"])
    assert runs[0] == runs[1]


def test_train_step_equals_the_loop_by_hand():
    model, twin = mlp(), mlp()
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.5, momentum=0.9))
    twin_opt = SGD(twin.parameters(), lr=0.5, momentum=0.9)
    for x, y in toy_batches()[:3]:
        loss, out = trainer.train_step(x, y)
        twin_opt.zero_grad()
        twin_loss = CrossEntropyLoss()(twin(x), y)
        twin_loss.backward()
        twin_opt.step()
        assert loss == pytest.approx(twin_loss.item()) and out.shape == (16, 2)
    for p, q in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_train_step_clips_before_stepping():
    manual_seed(1)
    m1 = Linear(2, 2)
    manual_seed(1)
    m2 = Linear(2, 2)
    x, y = toy_batches()[0]
    Trainer(m1, CrossEntropyLoss(), SGD(m1.parameters(), lr=1.0), max_grad_norm=1e-3).train_step(x, y)
    o2 = SGD(m2.parameters(), lr=1.0)
    CrossEntropyLoss()(m2(x), y).backward()
    clip_grad_norm_(m2.parameters(), 1e-3)
    o2.step()
    for p, q in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_modes_no_grad_and_scheduler_during_fit():
    spy = Spy(Linear(2, 2))
    opt = SGD(spy.parameters(), lr=0.1)
    sched = CosineAnnealingLR(opt, T_max=4)
    trainer = Trainer(spy, CrossEntropyLoss(), opt, scheduler=sched)
    history = trainer.fit(toy_batches()[:1], epochs=3, val_loader=toy_batches()[1:2], progress=False)
    assert spy.log == [(True, True, True), (False, False, False)] * 3
    np.testing.assert_allclose(history["lr"], [sched.lr_at(t) for t in range(3)])
    assert opt.lr == pytest.approx(sched.lr_at(3)) and sched.last_epoch == 3
    assert is_grad_enabled() and spy.training is False


def test_evaluate_uses_eval_mode_no_grad_and_sample_weighted_means():
    manual_seed(2)
    model = Sequential(Linear(2, 8), ReLU(), Dropout(0.5), Linear(8, 2))
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1))
    batches = toy_batches(40, batch_size=32, seed=3)
    loss, acc = trainer.evaluate(batches)
    assert model.training is False and all(p.grad is None for p in model.parameters())
    ce = CrossEntropyLoss()
    ref = (ce(model(batches[0][0]), batches[0][1]).item() * 32 + ce(model(batches[1][0]), batches[1][1]).item() * 8) / 40
    assert loss == pytest.approx(ref, rel=1e-6)
    xs = np.concatenate([b[0].data for b in batches])
    ys = np.concatenate([b[1].data for b in batches])
    assert acc == pytest.approx(np.mean(model(Tensor(xs)).data.argmax(1) == ys))
    assert trainer.evaluate(batches) == (loss, acc)  # dropout is off: repeatable


def test_accuracy_for_one_output_and_one_hot_targets():
    lin = Linear(1, 1)
    lin.weight.data[...] = 1.0
    lin.bias.data[...] = 0.0
    x = Tensor(np.array([[-1.0], [0.3], [0.7], [2.0]]))
    y = Tensor(np.array([[0.0], [1.0], [1.0], [1.0]]))
    assert Trainer(lin, MSELoss(), SGD(lin.parameters(), lr=0.0)).evaluate([(x, y)])[1] == pytest.approx(0.75)
    assert Trainer(lin, BCEWithLogitsLoss(), SGD(lin.parameters(), lr=0.0)).evaluate([(x, y)])[1] == 1.0

    lin2 = Linear(2, 2)
    lin2.weight.data[...] = np.eye(2)
    lin2.bias.data[...] = 0.0
    x2 = Tensor(np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]]))
    onehot = Tensor(np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]))
    assert Trainer(lin2, MSELoss(), SGD(lin2.parameters(), lr=0.0)).evaluate([(x2, onehot)])[1] == pytest.approx(2 / 3)


def test_plain_ndarray_batches_and_empty_loader():
    model = mlp()
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1))
    batches = [(b[0].data, b[1].data) for b in toy_batches()]
    assert len(trainer.fit(batches, epochs=2, progress=False)["train_loss"]) == 2
    with pytest.raises(ValueError, match="no batches"):
        trainer.fit(iter([]), epochs=1, progress=False)


def test_progress_bar_goes_to_stderr_only_when_asked(capsys):
    model = mlp()
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1))
    trainer.fit(toy_batches(), epochs=2, progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    trainer.fit(toy_batches(), epochs=2)
    assert "epoch" in capsys.readouterr().err


def test_save_load_round_trip_is_exact(tmp_path):
    manual_seed(3)
    model = Sequential(Linear(2, 4), ReLU(), Linear(4, 2))
    opt = SGD(model.parameters(), lr=0.25)
    sched = CosineAnnealingLR(opt, T_max=10)
    trainer = Trainer(model, CrossEntropyLoss(), opt, scheduler=sched)
    trainer.fit(toy_batches(), epochs=2, progress=False)
    saved = model.state_dict()
    lr, path = opt.lr, tmp_path / "checkpoint"  # no .npz suffix: written exactly there
    trainer.save(path)
    trainer.fit(toy_batches(), epochs=1, progress=False)
    opt.lr = 123.0
    trainer.load(path)
    for k, v in model.state_dict().items():
        assert v.dtype == saved[k].dtype
        np.testing.assert_array_equal(v, saved[k])
    assert opt.lr == lr and trainer.epoch == 2 and sched.last_epoch == 2 and sched.get_last_lr() == [lr]

    with np.load(path) as data:  # a plain .npz holding the state_dict
        manual_seed(9)
        fresh = Sequential(Linear(2, 4), ReLU(), Linear(4, 2))
        fresh.load_state_dict({k: data[k] for k in data.files if not k.startswith("__")})
    for p, q in zip(fresh.parameters(), model.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
