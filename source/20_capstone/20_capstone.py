# %% [markdown]
# # 20 · Capstone: make it small and fast, and prove it
#
# Deep Compression (Han et al., 2016) shrank AlexNet 35x by chaining three ideas: **prune** the
# smallest weights, **fine-tune** the survivors to win back the accuracy, **quantize** what is left.
# You chain the course's versions (module 18's `magnitude_prune`, module 07's `Trainer`, module 17's
# `quantize_model`), measure every step with module 19's harness, and hand in the result as a
# **submission**: a JSON document a grader's program can check without trusting you, because its
# shape is fixed by a **JSON Schema** (below, `SUBMISSION_SCHEMA`: the one copy the course has; the
# package tests validate against this very object). A submission that breaks it is rejected with the
# offending field named. Last, a one-page report: a Markdown table and a plot.
#
# Size here is the **stored** size, `model_size_bytes(model, sparse=True)`: a mostly-zero array is
# stored as its nonzero entries and a bitmap, so pruning shrinks it and int8 shrinks it again.

# %%
#| default_exp capstone
#| export
import copy
import json
import platform

import jsonschema
import matplotlib.pyplot as plt
import numpy as np

from tinytorch_lib.benchmarking import Benchmark
from tinytorch_lib.compression import magnitude_prune
from tinytorch_lib.losses import CrossEntropyLoss
from tinytorch_lib.optim import Adam
from tinytorch_lib.quantization import model_size_bytes, quantize_model
from tinytorch_lib.training import Trainer

STEPS = ("prune", "finetune", "quantize")
_NUMBER = {"type": "number"}
_MEASURED = {"accuracy": {"type": "number", "minimum": 0, "maximum": 1},
             "size_bytes": {"type": "integer", "minimum": 1}, "latency_ms": {"type": "number", "exclusiveMinimum": 0}}
SUBMISSION_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "TinyTorch capstone submission",
    "type": "object",
    "required": ["schema_version", "model", "accuracy", "size_bytes", "latency_ms", "baseline", "steps", "environment"],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"const": 1},
        "model": {"type": "string", "minLength": 1},
        **_MEASURED,
        "baseline": {"type": "object", "required": list(_MEASURED), "properties": _MEASURED},
        "steps": {"type": "array", "items": {
            "type": "object", "required": ["name", *_MEASURED, "accuracy_change", "size_ratio", "speedup"],
            "additionalProperties": False,
            "properties": {"name": {"enum": list(STEPS)}, **_MEASURED, "accuracy_change": _NUMBER,
                           "size_ratio": {"type": "number", "exclusiveMinimum": 0},
                           "speedup": {"type": "number", "exclusiveMinimum": 0}}}},
        "environment": {"type": "object", "required": ["python", "numpy", "platform"],
                        "properties": {k: {"type": "string"} for k in ("python", "numpy", "platform")}},
    },
}

# %%
import os
from tinytorch_lib.activations import ReLU
from tinytorch_lib.data import DataLoader, TensorDataset, load_digits, random_split
from tinytorch_lib.layers import Linear, Sequential
from tinytorch_lib.quantization import QuantizedLinear
from tinytorch_lib.tensor import Tensor, manual_seed

# %% [markdown]
# ## Measure, then optimize
#
# `measure(model, loader, repeats=20, seed=0)` runs module 19's `Benchmark` on one model (warm-up 2,
# the given repeats and seed, size by `model_size_bytes(m, sparse=True)`) and returns
# `{"accuracy": float, "size_bytes": int, "latency_ms": float}` (the single-stream median).
#
# `optimize_pipeline(model, train, val, steps=STEPS, sparsity=0.5, epochs=2, lr=1e-3, repeats=20,
# seed=0, name="model")` works on a **deep copy** (the caller's model is never changed), measures it
# on `val` (the baseline), then applies the steps in the order given, measuring after each:
#
# * `"prune"`: `magnitude_prune(copy, sparsity)` (global; the masks stay on the layers);
# * `"finetune"`: `epochs` epochs of `Trainer(copy, CrossEntropyLoss(), Adam(copy.parameters(), lr=lr))`
#   on `train`, without a progress bar (`fit(..., progress=False)`);
# * `"quantize"`: the copy becomes `quantize_model(copy, train)` (calibrated on the training data).
#
# An unknown step raises ValueError naming it, before any work. Each step's entry is its measurement
# plus `"name"` and its **effect** against the measurement before it: `accuracy_change` (now - before),
# `size_ratio` (before / now: 2.0 is "half the size") and `speedup` (latency before / now). The report
# is `{"model": name, "baseline": ..., "steps": [...], "final": <last measurement>}`; the function
# returns `(optimized model, report)`.

# %% solution id="pipeline"
#| export
def measure(model, loader, repeats=20, seed=0):
    """EXAMPLE: measure(Linear(64, 10), loader) -> {"accuracy": 0.1, "size_bytes": 2600, "latency_ms": 0.02}"""
    ### BEGIN SOLUTION
    bench = Benchmark({"m": model}, loader, size_fn=lambda m: model_size_bytes(m, sparse=True))
    r = bench.run(warmup=2, repeats=repeats, seed=seed)["m"]
    return {"accuracy": r["accuracy"], "size_bytes": int(r["size_bytes"]), "latency_ms": r["latency_ms"]["median"]}
    ### END SOLUTION

def optimize_pipeline(model, train, val, steps=STEPS, sparsity=0.5, epochs=2, lr=1e-3, repeats=20, seed=0, name="model"):
    """(optimized model, report) as described above. EXAMPLE: steps=("prune",) on a float model ->
    report["steps"][0]["size_ratio"] about 1.9 (half the weights gone, a bitmap added)
    HINT: keep the previous measurement in a variable; the effect divides by it."""
    ### BEGIN SOLUTION
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown pipeline step(s) {unknown}; known: {list(STEPS)}")
    model = copy.deepcopy(model)
    before = baseline = measure(model, val, repeats, seed)
    entries = []
    for step in steps:
        if step == "prune":
            magnitude_prune(model, sparsity)
        elif step == "finetune":
            Trainer(model, CrossEntropyLoss(), Adam(model.parameters(), lr=lr)).fit(train, epochs, progress=False)
        else:
            model = quantize_model(model, train)
        now = measure(model, val, repeats, seed)
        entries.append({"name": step, **now, "accuracy_change": now["accuracy"] - before["accuracy"],
                        "size_ratio": before["size_bytes"] / now["size_bytes"],
                        "speedup": before["latency_ms"] / now["latency_ms"]})
        before = now
    return model, {"model": name, "baseline": baseline, "steps": entries, "final": before}
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

# %% test id="test-pipeline" points=5
manual_seed(0)
xt = np.random.default_rng(0).standard_normal((96, 8)).astype(np.float32)
yt = (xt[:, 0] > 0).astype(np.int64) + 2 * (xt[:, 1] > 0)
train, val = DataLoader(TensorDataset(Tensor(xt[:64]), Tensor(yt[:64])), 16, shuffle=True), DataLoader(TensorDataset(Tensor(xt[64:]), Tensor(yt[64:])), 32)
net = Sequential(Linear(8, 32), ReLU(), Linear(32, 4))
w0 = net[0].weight.data.copy()
m = measure(net, val, repeats=3)
assert set(m) == {"accuracy", "size_bytes", "latency_ms"} and m["size_bytes"] == (8 * 32 + 32 + 32 * 4 + 4) * 4, f"expected a dense float32 size of 1680 bytes, got {m}"
opt, rep = optimize_pipeline(net, train, val, epochs=10, lr=0.05, repeats=3, name="tiny")
assert np.array_equal(net[0].weight.data, w0) and isinstance(opt[0], QuantizedLinear), "the caller's model is unchanged; the result is quantized"
assert [s["name"] for s in rep["steps"]] == ["prune", "finetune", "quantize"] and rep["model"] == "tiny", f"one entry per step, in order: got {rep['steps']}"
b, (p, f, q) = rep["baseline"], rep["steps"]
assert b == m or b["size_bytes"] == m["size_bytes"], f"the baseline is the measurement of the untouched model: expected {m['size_bytes']} bytes, got {b}"
assert np.isclose(p["size_ratio"], b["size_bytes"] / p["size_bytes"]) and p["size_ratio"] > 1.5, f"50% pruned: about 2x smaller, got {p}"
assert np.isclose(q["accuracy_change"], q["accuracy"] - f["accuracy"]) and np.isclose(q["speedup"], f["latency_ms"] / q["latency_ms"]), f"effects against the step before: got {q}"
assert rep["final"] == {k: q[k] for k in ("accuracy", "size_bytes", "latency_ms")}, f"final is the last measurement, got {rep['final']}"
### BEGIN HIDDEN TESTS
assert "blur" in raises(lambda: optimize_pipeline(net, train, val, steps=("prune", "blur")), ValueError), "name the unknown step"
assert f["accuracy"] >= 0.75 and f["size_bytes"] == p["size_bytes"], f"10 epochs of fine-tuning learn this easy task and keep the size: got {p} -> {f}"
assert q["size_ratio"] > 1.5 and q["size_bytes"] < p["size_bytes"], f"int8 after pruning: smaller again, got {q}"
opt2, rep2 = optimize_pipeline(net, train, val, steps=("prune",), sparsity=0.75, repeats=2)
zeros = np.mean(np.concatenate([opt2[0].weight.data.ravel(), opt2[2].weight.data.ravel()]) == 0)
assert abs(zeros - 0.75) < 0.02 and len(rep2["steps"]) == 1 and rep2["model"] == "model", f"sparsity=0.75: got {zeros} of the weights zero"
opt3, rep3 = optimize_pipeline(net, train, val, steps=("prune", "finetune"), epochs=2, lr=0.05, repeats=2)
w3 = opt3[2].weight.data
assert abs(np.mean(np.concatenate([opt3[0].weight.data.ravel(), w3.ravel()]) == 0) - 0.5) < 0.02 and not np.allclose(w3[w3 != 0], net[2].weight.data[w3 != 0]), "fine-tuning trains the survivors, the masks stay"
assert rep3["final"]["size_bytes"] == rep3["steps"][1]["size_bytes"] and rep3["baseline"]["latency_ms"] > 0, "final = last step"
### END HIDDEN TESTS

# %% [markdown]
# ## The submission
#
# `validate_submission(doc)` checks a document against `SUBMISSION_SCHEMA` with
# `jsonschema.Draft202012Validator`. If it breaks the schema, it raises ValueError whose message
# starts with the **field** of the first error in the validator's `iter_errors` order sorted by the
# error's `path` (a deque of keys and list indices, joined with `/`: `steps/1/size_ratio`); for a
# missing field, that field (the path of the object that lacks it, then its name, from
# `validator_value` and the object, `instance`); for an unexpected one, its name likewise. Then
# `": "` and the validator's message. It returns None for a valid document.
#
# `write_submission(path, report)` builds the document from a report (`model`, the final `accuracy`,
# `size_bytes`, `latency_ms`, the `baseline`, the `steps` and the `environment`: the versions of
# `platform.python_version()`, `np.__version__` and `platform.platform()`; `schema_version` 1),
# validates it (nothing is written if it is broken), writes it as JSON (indent 2) and returns it.

# %% solution id="submission"
#| export
def validate_submission(doc):
    """EXAMPLE: a document with "accuracy": 1.5 -> ValueError("accuracy: 1.5 is greater than the maximum of 1")
    HINT: sorted(..., key=lambda e: list(e.path)) puts errors in a fixed order; a missing field is
    a `required` error, an unexpected one `additionalProperties`."""
    ### BEGIN SOLUTION
    errors = sorted(jsonschema.Draft202012Validator(SUBMISSION_SCHEMA).iter_errors(doc), key=lambda e: [str(p) for p in e.path])
    if not errors:
        return None
    error = errors[0]
    where = [str(p) for p in error.path]
    if error.validator == "required":
        where += [next(k for k in error.validator_value if k not in error.instance)]
    elif error.validator == "additionalProperties":
        allowed = error.schema.get("properties", {})
        where += [next(k for k in error.instance if k not in allowed)]
    raise ValueError(f"{'/'.join(where)}: {error.message}")
    ### END SOLUTION

def write_submission(path, report):
    """EXAMPLE: write_submission("submission.json", report)["size_bytes"] -> report["final"]["size_bytes"]"""
    ### BEGIN SOLUTION
    final = report["final"]
    submission = {"schema_version": 1, "model": report["model"], "accuracy": final["accuracy"],
           "size_bytes": final["size_bytes"], "latency_ms": final["latency_ms"],
           "baseline": report["baseline"], "steps": report["steps"],
           "environment": {"python": platform.python_version(), "numpy": np.__version__,
                           "platform": platform.platform()}}
    validate_submission(submission)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(submission, f, indent=2)
    return submission
    ### END SOLUTION

# %% test id="test-submission" points=4
import copy, json, os
measured = {"accuracy": 0.9, "size_bytes": 1000, "latency_ms": 0.5}
report = {"model": "mlp", "baseline": measured, "final": {"accuracy": 0.89, "size_bytes": 200, "latency_ms": 0.4},
          "steps": [{"name": "quantize", "accuracy": 0.89, "size_bytes": 200, "latency_ms": 0.4, "accuracy_change": -0.01, "size_ratio": 5.0, "speedup": 1.25}]}
path = "test_submission.json"
doc = write_submission(path, report)
assert doc["accuracy"] == 0.89 and doc["size_bytes"] == 200 and doc["steps"] == report["steps"] and doc["schema_version"] == 1, f"the final measurement and the steps: got {doc}"
assert validate_submission(copy.deepcopy(doc)) is None and set(doc["environment"]) == {"python", "numpy", "platform"}, f"a valid document, with its environment, got {doc.get('environment')}"
broken = copy.deepcopy(doc)
broken["accuracy"] = 1.5
msg = raises(lambda: validate_submission(broken), ValueError)
assert msg.startswith("accuracy: "), f"the message names the field first: expected 'accuracy: ...', got {msg!r}"
### BEGIN HIDDEN TESTS
for change, field in [(lambda d: d.pop("environment"), "environment"), (lambda d: d["steps"][0].update(size_ratio=0), "steps/0/size_ratio"),
                      (lambda d: d.update(extra=1), "extra"), (lambda d: d["baseline"].pop("latency_ms"), "baseline/latency_ms"),
                      (lambda d: d["steps"].append(dict(d["steps"][0], name="blur")), "steps/1/name"), (lambda d: d.update(size_bytes=1.5), "size_bytes")]:
    broken = copy.deepcopy(doc)
    change(broken)
    msg = raises(lambda: validate_submission(broken), ValueError)
    assert msg.split(": ")[0] == field, f"expected the message to start with {field!r}, got {msg!r}"
two = copy.deepcopy(doc)
two["latency_ms"], two["accuracy"] = -1, 2
assert raises(lambda: validate_submission(two), ValueError).startswith("accuracy: "), "the first field in sorted order is reported"
bad = dict(report, final=dict(report["final"], size_bytes=0))
assert raises(lambda: write_submission("test_broken.json", bad), ValueError).startswith("size_bytes") and not os.path.exists("test_broken.json"), "nothing is written for a broken submission"
with open(path, encoding="utf-8") as f:
    assert json.load(f) == doc, "the file holds the document"
os.remove(path)
### END HIDDEN TESTS

# %% [markdown]
# ## The one-page report
#
# `report_markdown(report, figure="report.png")` is the page: a title line `# Optimization report:
# <model>`, an empty line, then a table with the header `| step | accuracy | size KiB | latency ms |
# accuracy change | size ratio | speed-up |`, a separator `|---|...` of 7 cells, a row `baseline`
# (effect cells `-`), one row per step; then an empty line and the image `![report](<figure>)`.
# Cells: accuracy as a percent with 1 decimal, KiB with 1 decimal, latency 3 decimals, accuracy
# change in points with a sign and 1 decimal (`-0.3 pt`), ratio and speed-up 2 decimals with an
# `x` (`3.95x`). `write_report(folder, report)` (given) saves the page and its plot there.

# %% solution id="report"
#| export
def report_markdown(report, figure="report.png"):
    """EXAMPLE row: '| quantize | 89.0% | 0.2 | 0.400 | -1.0 pt | 5.00x | 1.25x |'"""
    ### BEGIN SOLUTION
    def cells(name, m, effect):
        kept = [name, f"{100 * m['accuracy']:.1f}%", f"{m['size_bytes'] / 1024:.1f}", f"{m['latency_ms']:.3f}"]
        if not effect:
            return kept + ["-", "-", "-"]
        return kept + [f"{100 * m['accuracy_change']:+.1f} pt", f"{m['size_ratio']:.2f}x", f"{m['speedup']:.2f}x"]
    header = ["step", "accuracy", "size KiB", "latency ms", "accuracy change", "size ratio", "speed-up"]
    rows = [header, ["---"] * 7, cells("baseline", report["baseline"], False)]
    rows += [cells(s["name"], s, True) for s in report["steps"]]
    table = ["| " + " | ".join(r) + " |" for r in rows]
    table[1] = "|" + "---|" * 7
    return "\n".join([f"# Optimization report: {report['model']}", "", *table, "", f"![report]({figure})"])
    ### END SOLUTION

# %%
#| export
def plot_report(report, path=None):
    """Accuracy, size and latency after each step, as three bar panels; saved to `path` if given."""
    names = ["baseline"] + [s["name"] for s in report["steps"]]
    rows = [report["baseline"]] + report["steps"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
    for ax, key, scale, title in zip(axes, ("accuracy", "size_bytes", "latency_ms"), (100, 1 / 1024, 1),
                                     ("accuracy (%)", "size (KiB)", "single-stream latency (ms)")):
        ax.bar(names, [r[key] * scale for r in rows], color=["tab:gray"] + ["tab:blue"] * len(report["steps"]))
        ax.set_title(title)
    fig.suptitle(f"{report['model']}: " + " -> ".join(names))
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=90)
    return fig

def write_report(folder, report):
    """Write `report.md` and `report.png` into `folder`; returns the path of the Markdown file."""
    import os
    os.makedirs(folder, exist_ok=True)
    plt.close(plot_report(report, os.path.join(folder, "report.png")))
    md = os.path.join(folder, "report.md")
    with open(md, "w", encoding="utf-8") as f:
        f.write(report_markdown(report, "report.png") + "\n")
    return md

# %% test id="test-report" points=3
rep_in = {"model": "mlp", "baseline": {"accuracy": 0.9, "size_bytes": 1024, "latency_ms": 0.5},
          "steps": [{"name": "quantize", "accuracy": 0.89, "size_bytes": 205, "latency_ms": 0.4, "accuracy_change": -0.01, "size_ratio": 4.995, "speedup": 1.25}]}
page = report_markdown(rep_in).split("\n")
assert page[0] == "# Optimization report: mlp" and page[1] == "", f"title line, then an empty line: got {page[:2]}"
assert page[2] == "| step | accuracy | size KiB | latency ms | accuracy change | size ratio | speed-up |" and page[3] == "|---|---|---|---|---|---|---|", f"header and separator: got {page[2:4]}"
assert page[4] == "| baseline | 90.0% | 1.0 | 0.500 | - | - | - |", f"got {page[4]!r}"
assert page[5] == "| quantize | 89.0% | 0.2 | 0.400 | -1.0 pt | 5.00x | 1.25x |", f"got {page[5]!r}"
assert page[-1] == "![report](report.png)" and page[-2] == "" and len(page) == 8, f"the image last: got {page[-2:]}"
### BEGIN HIDDEN TESTS
two = dict(rep_in, model="cnn", steps=[dict(rep_in["steps"][0], name="prune", accuracy_change=0.0213, size_ratio=1.9, speedup=0.987)] * 2)
page = report_markdown(two, figure="p.png").split("\n")
assert page[0] == "# Optimization report: cnn" and len(page) == 9 and page[-1] == "![report](p.png)", f"two steps, figure p.png: got {page}"
assert page[5] == page[6] == "| prune | 89.0% | 0.2 | 0.400 | +2.1 pt | 1.90x | 0.99x |", f"got {page[5]!r}"
### END HIDDEN TESTS

# %% [markdown]
# ## The whole pipeline on the digits
#
# **Systems note.** A digits MLP, trained, then pruned, fine-tuned and quantized, measured after every
# step on held-out digits. Read the speed-up column honestly: int8 saves memory and bandwidth, but
# NumPy's int32 matmul has no BLAS behind it, so on this machine the int8 model may well be *slower*.

# %%
manual_seed(0)
X, y = load_digits(flatten=True)
train_set, val_set = random_split(TensorDataset(X, y), [0.8, 0.2])
train, val = DataLoader(train_set, batch_size=32, shuffle=True), DataLoader(val_set, batch_size=128)
mlp = Sequential(Linear(64, 128), ReLU(), Linear(128, 10))
optimizer = Adam(mlp.parameters(), lr=3e-3)
Trainer(mlp, CrossEntropyLoss(), optimizer).fit(train, 8, progress=False)
small, report = optimize_pipeline(mlp, train, val, name="digits MLP 64-128-10")
print(report_markdown(report))
print(f"dense float32 {model_size_bytes(mlp)} B -> stored {report['final']['size_bytes']} B")
plot_report(report)
plt.show()
