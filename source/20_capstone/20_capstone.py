# %% [markdown]
# # 20 · Capstone: make it small and fast, and prove it
#
# Deep Compression (Han et al., 2016) shrank AlexNet 35x: **prune** the smallest weights, **fine-tune**
# the survivors, **quantize** the rest: modules 18, 07 and 17, each step measured with 19. You hand in
# a JSON **submission** shaped by a **JSON Schema** (`SUBMISSION_SCHEMA`); size is the **stored** size.

# %%
#| default_exp capstone
#| export
import copy, json, os, platform

import jsonschema
import matplotlib.pyplot as plt
import numpy as np
from tinytorch_lib.activations import ReLU
from tinytorch_lib.benchmarking import Benchmark
from tinytorch_lib.compression import magnitude_prune
from tinytorch_lib.data import DataLoader, TensorDataset, load_digits, random_split
from tinytorch_lib.layers import Linear, Module, Sequential
from tinytorch_lib.losses import CrossEntropyLoss
from tinytorch_lib.optim import Adam
from tinytorch_lib.quantization import QuantizedLinear, model_size_bytes, quantize_model
from tinytorch_lib.tensor import Tensor, manual_seed
from tinytorch_lib.training import Trainer
STEPS = ("prune", "finetune", "quantize")
_POSITIVE = {"type": "number", "exclusiveMinimum": 0}
_MEASURED = {"accuracy": {"type": "number", "minimum": 0, "maximum": 1}, "size_bytes": {"type": "integer", "minimum": 1}, "latency_ms": _POSITIVE}
SUBMISSION_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "TinyTorch capstone submission",
    "type": "object", "additionalProperties": False,
    "required": ["schema_version", "model", "accuracy", "size_bytes", "latency_ms", "baseline", "steps", "environment"],
    "properties": {
        "schema_version": {"const": 1}, "model": {"type": "string", "minLength": 1}, **_MEASURED,
        "baseline": {"type": "object", "required": list(_MEASURED), "properties": _MEASURED},
        "steps": {"type": "array", "items": {"type": "object", "additionalProperties": False,
            "required": ["name", *_MEASURED, "accuracy_change", "size_ratio", "speedup"],
            "properties": {"name": {"enum": list(STEPS)}, **_MEASURED, "accuracy_change": {"type": "number"},
                           "size_ratio": _POSITIVE, "speedup": _POSITIVE}}},
        "environment": {"type": "object", "required": ["python", "numpy", "platform"], "properties": {k: {"type": "string"} for k in ("python", "numpy", "platform")}}}}

# %% [markdown]
# ## Measure, then optimize
#
# `measure` runs module 19's `Benchmark` (warm-up 2, `model_size_bytes(m, sparse=True)`): accuracy, size,
# single-stream median latency. `optimize_pipeline` measures a **deep copy** (the caller's model never
# changes) on `val`, then applies the steps in order, measuring after each: `"prune"` is `magnitude_prune(copy,
# sparsity)`, `"finetune"` `epochs` epochs of `Trainer(copy, CrossEntropyLoss(), Adam(copy.parameters(),
# lr=lr)).fit(train, ..., progress=False)`, `"quantize"` `quantize_model(copy, train)` in its place; an unknown
# step: ValueError naming it, before any work. A step's entry is `"name"`, its measurement and its **effect**
# on the one before: `accuracy_change` (now - before), `size_ratio` (before / now), `speedup` (latency before / now).

# %% solution id="pipeline"
#| export
def measure(model, loader, repeats=20, seed=0):
    """{"accuracy": float, "size_bytes": int, "latency_ms": float}.
    EXAMPLE: measure(Linear(64, 10), loader) -> {"accuracy": 0.1, "size_bytes": 2600, "latency_ms": 0.02}"""
    ### BEGIN SOLUTION
    bench = Benchmark({"m": model}, loader, size_fn=lambda m: model_size_bytes(m, sparse=True))
    r = bench.run(warmup=2, repeats=repeats, seed=seed)["m"]
    return {"accuracy": r["accuracy"], "size_bytes": int(r["size_bytes"]), "latency_ms": r["latency_ms"]["median"]}
    ### END SOLUTION

def optimize_pipeline(model, train, val, steps=STEPS, sparsity=0.5, epochs=2, lr=1e-3, repeats=20, seed=0, name="model"):
    """(the optimized copy, {"model": name, "baseline": ..., "steps": [...], "final": last measurement}).
    EXAMPLE: steps=("prune",) -> report["steps"][0]["size_ratio"] about 1.9 (half the weights, a bitmap)"""
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
def raises(fn, exc):  # the message of the `exc` that fn() must raise
    try:
        fn()
    except exc as e:
        return str(e)
    raise AssertionError(f"expected {exc.__name__} to be raised")

# %% test id="test-pipeline" points=5
manual_seed(0)
xt = np.random.default_rng(0).standard_normal((96, 8)).astype(np.float32)
yt, net = (xt[:, 0] > 0).astype(np.int64) + 2 * (xt[:, 1] > 0), Sequential(Linear(8, 32), ReLU(), Linear(32, 4))
train, val = DataLoader(TensorDataset(Tensor(xt[:64]), Tensor(yt[:64])), 16, shuffle=True), DataLoader(TensorDataset(Tensor(xt[64:]), Tensor(yt[64:])), 32)
w0, m = net[0].weight.data.copy(), measure(net, val, repeats=3)  # a 4-class toy task, 64 + 32 points
assert set(m) == {"accuracy", "size_bytes", "latency_ms"} and m["size_bytes"] == (8 * 32 + 32 + 32 * 4 + 4) * 4, f"expected a dense float32 size of 1680 bytes, got {m}"
opt, rep = optimize_pipeline(net, train, val, epochs=10, lr=0.05, repeats=3, name="tiny")
assert np.array_equal(net[0].weight.data, w0) and isinstance(opt[0], QuantizedLinear), "the caller's model is unchanged; the result is quantized"
assert [s["name"] for s in rep["steps"]] == ["prune", "finetune", "quantize"] and rep["model"] == "tiny", f"one entry per step, in order: got {rep['steps']}"
(b, (p, f, q)), e = (rep["baseline"], rep["steps"]), f"the baseline is the measurement of the untouched model: expected {m['size_bytes']} bytes, got {rep['baseline']}"
assert b["size_bytes"] == m["size_bytes"] and b["accuracy"] == m["accuracy"], e
assert np.isclose(p["size_ratio"], b["size_bytes"] / p["size_bytes"]) and p["size_ratio"] > 1.5, f"50% pruned: about 2x smaller, got {p}"
assert np.isclose(q["accuracy_change"], q["accuracy"] - f["accuracy"]) and np.isclose(q["speedup"], f["latency_ms"] / q["latency_ms"]), f"effects against the step before: got {q}"
assert rep["final"] == {k: q[k] for k in ("accuracy", "size_bytes", "latency_ms")}, f"final is the last measurement, got {rep['final']}"
### BEGIN HIDDEN TESTS
class Counter(Module):
    calls, forward = 0, lambda self, x: (setattr(self, "calls", self.calls + 1), Tensor(np.zeros((x.shape[0], 4), np.float32)))[1]
measure(counter := Counter(), val, repeats=3)
assert counter.calls == 1 + 5 + 5, f"one accuracy pass over 1 batch, 2 + 3 single-stream queries, 2 + 3 offline passes: expected 11 calls, got {counter.calls}"
assert "blur" in raises(lambda: optimize_pipeline(net, train, val, steps=("prune", "blur")), ValueError), "name the unknown step"
assert f["accuracy"] >= 0.75 and f["size_bytes"] == p["size_bytes"], f"10 epochs of fine-tuning learn this easy task and keep the size: got {p} -> {f}"
assert q["size_ratio"] > 1.5 and q["size_bytes"] < p["size_bytes"], f"int8 after pruning: smaller again, got {q}"
(opt2, rep2), (opt3, rep3) = [optimize_pipeline(net, train, val, steps=st, sparsity=sp, epochs=2, lr=0.05, repeats=2) for st, sp in [(("prune",), 0.75), (("prune", "finetune"), 0.5)]]
zeros, w3 = [np.mean(np.concatenate([o[0].weight.data.ravel(), o[2].weight.data.ravel()]) == 0) for o in (opt2, opt3)], opt3[2].weight.data
assert np.allclose(zeros, [0.75, 0.5], atol=0.02) and len(rep2["steps"]) == 1 and rep2["model"] == "model", f"sparsity 0.75, then 0.5 kept through fine-tuning: got {zeros} of the weights zero"
assert not np.allclose(w3[w3 != 0], net[2].weight.data[w3 != 0]) and rep3["final"]["size_bytes"] == rep3["steps"][1]["size_bytes"], "fine-tuning trains the survivors; final = last step"
### END HIDDEN TESTS

# %% [markdown]
# ## The submission
#
# `validate_submission(doc)`: None if `jsonschema.Draft202012Validator(SUBMISSION_SCHEMA)` finds no error, else
# ValueError("<field>: <message>") for the first of its `iter_errors` sorted by `path` (as strings); the field is
# the path joined by `/` (`steps/1/size_ratio`), plus the name of a missing (`required`) or unexpected
# (`additionalProperties`) one. `write_submission(path, report)` builds the document (`schema_version` 1, `model`,
# the final `accuracy`, `size_bytes`, `latency_ms`, `baseline`, `steps`, `environment` of `platform.python_version()`,
# `np.__version__`, `platform.platform()`), validates it, then (only then) writes it as JSON (indent 2); returns it.

# %% solution id="submission"
#| export
def validate_submission(doc):
    """EXAMPLE: a document with "accuracy": 1.5 -> ValueError("accuracy: 1.5 is greater than the maximum of 1")
    HINT: an error's `validator`, `validator_value`, `instance` and `schema` tell which field it is."""
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
report = {"model": "mlp", "baseline": {"accuracy": 0.9, "size_bytes": 1000, "latency_ms": 0.5}, "final": {"accuracy": 0.89, "size_bytes": 200, "latency_ms": 0.4}, "steps": [{"name": "quantize", "accuracy": 0.89, "size_bytes": 200, "latency_ms": 0.4, "accuracy_change": -0.01, "size_ratio": 5.0, "speedup": 1.25}]}
doc = write_submission(path := "test_submission.json", report)
assert doc["accuracy"] == 0.89 and doc["size_bytes"] == 200 and doc["steps"] == report["steps"] and doc["schema_version"] == 1, f"the final measurement and the steps: got {doc}"
assert validate_submission(copy.deepcopy(doc)) is None and set(doc["environment"]) == {"python", "numpy", "platform"}, f"a valid document, with its environment, got {doc.get('environment')}"
msg = raises(lambda: validate_submission(dict(doc, accuracy=1.5)), ValueError)
assert msg.startswith("accuracy: "), f"the message names the field first: expected 'accuracy: ...', got {msg!r}"
### BEGIN HIDDEN TESTS
for change, field in [(lambda d: d.pop("environment"), "environment"), (lambda d: d["steps"][0].update(size_ratio=0), "steps/0/size_ratio"), (lambda d: d.update(extra=1), "extra"),
                      (lambda d: d["baseline"].pop("latency_ms"), "baseline/latency_ms"), (lambda d: d["steps"].append(dict(d["steps"][0], name="blur")), "steps/1/name"), (lambda d: d.update(size_bytes=1.5), "size_bytes")]:
    change(broken := copy.deepcopy(doc))
    assert (msg := raises(lambda: validate_submission(broken), ValueError)).split(": ")[0] == field, f"expected the message to start with {field!r}, got {msg!r}"
assert raises(lambda: validate_submission(dict(doc, latency_ms=-1, accuracy=2)), ValueError).startswith("accuracy: "), "the first field in sorted order is reported"
bad = dict(report, final=dict(report["final"], size_bytes=0))
assert raises(lambda: write_submission("test_broken.json", bad), ValueError).startswith("size_bytes") and not os.path.exists("test_broken.json"), "nothing is written for a broken submission"
assert open(path, encoding="utf-8").read() == json.dumps(doc, indent=2), "the file holds the document as JSON, indent 2"
os.remove(path)
### END HIDDEN TESTS

# %% [markdown]
# ## The one-page report
#
# Which version to ship? Version $j$ **dominates** $i$ if it is no bigger, no less accurate and better in one;
# the undominated ones are the **Pareto front**. `report_markdown` is the page: a title, an empty line, a table
# (header, a separator of 7 `---|` cells, a `baseline` row with `-` effects, a row per step), an empty line and
# the figure. `plot_report` returns a figure of three bar panels (accuracy in %, size in KiB, latency in ms;
# baseline, then the steps), saved to `path` if given; `write_report(folder, report)` creates `folder` if
# needed, writes `report.png` and `report.md` (the page, pointing at `report.png`) there, returns `report.md`'s path.

# %% solution id="report"
#| export
def pareto_front(points):
    """Indices of the undominated points among `points` (dicts with "size_bytes" and "accuracy"),
    smallest first; of identical points only the first. The list is not modified.
    EXAMPLE: sizes [4, 1, 2, 3], accuracies [0.9, 0.5, 0.5, 0.8] -> [1, 3, 0] (2 ties 1 on accuracy, bigger)
    HINT: after sorting by size, a point is on the front if it beats every smaller one's accuracy."""
    ### BEGIN SOLUTION
    order = sorted(range(len(points)), key=lambda i: (points[i]["size_bytes"], -points[i]["accuracy"]))
    front, best = [], -np.inf
    for i in order:
        if points[i]["accuracy"] > best:
            front.append(i)
            best = points[i]["accuracy"]
    return front
    ### END SOLUTION

def report_markdown(report, figure="report.png"):
    """The page as a string. EXAMPLE: '# Optimization report: mlp', '', then
    '| step | accuracy | size KiB | latency ms | accuracy change | size ratio | speed-up |', '|---|...',
    '| baseline | 90.0% | 1.0 | 0.500 | - | - | - |', '| quantize | 89.0% | 0.2 | 0.400 | -1.0 pt | 5.00x | 1.25x |',
    '', '![report](report.png)' (percent, KiB: 1 decimal; ms: 3; points: signed, 1; ratios: 2 and x)"""
    ### BEGIN SOLUTION
    def cells(name, m, effect):
        kept = [name, f"{100 * m['accuracy']:.1f}%", f"{m['size_bytes'] / 1024:.1f}", f"{m['latency_ms']:.3f}"]
        if not effect:
            return kept + ["-", "-", "-"]
        return kept + [f"{100 * m['accuracy_change']:+.1f} pt", f"{m['size_ratio']:.2f}x", f"{m['speedup']:.2f}x"]
    header = ["step", "accuracy", "size KiB", "latency ms", "accuracy change", "size ratio", "speed-up"]
    rows = [cells("baseline", report["baseline"], False)] + [cells(s["name"], s, True) for s in report["steps"]]
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * 7] + ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join([f"# Optimization report: {report['model']}", "", *table, "", f"![report]({figure})"])
    ### END SOLUTION

def plot_report(report, path=None):
    ### BEGIN SOLUTION
    names = ["baseline"] + [s["name"] for s in report["steps"]]
    rows = [report["baseline"]] + report["steps"]
    fig, axes = plt.subplots(1, 3)
    panels = [("accuracy", 100, "accuracy (%)"), ("size_bytes", 1 / 1024, "size (KiB)"), ("latency_ms", 1, "latency (ms)")]
    for ax, (key, scale, title) in zip(axes, panels):
        ax.bar(names, [r[key] * scale for r in rows])
        ax.set_title(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path)
    return fig
    ### END SOLUTION

def write_report(folder, report):
    ### BEGIN SOLUTION
    os.makedirs(folder, exist_ok=True)
    plt.close(plot_report(report, os.path.join(folder, "report.png")))
    md = os.path.join(folder, "report.md")
    with open(md, "w", encoding="utf-8") as f:
        f.write(report_markdown(report, "report.png") + "\n")
    return md
    ### END SOLUTION

# %% test id="test-report" points=3
import os
rep_in = {"model": "mlp", "baseline": {"accuracy": 0.9, "size_bytes": 1024, "latency_ms": 0.5}, "steps": [{"name": "quantize", "accuracy": 0.89, "size_bytes": 205, "latency_ms": 0.4, "accuracy_change": -0.01, "size_ratio": 4.995, "speedup": 1.25}]}
page, fig = report_markdown(rep_in).split("\n"), plot_report(rep_in)
assert len(fig.axes) == 3 and [p.get_height() for p in fig.axes[2].patches] == [0.5, 0.4], f"3 panels, latency last: got {len(fig.axes)}"
assert page[0] == "# Optimization report: mlp" and page[1] == "", f"title line, then an empty line: got {page[:2]}"
assert page[2] == "| step | accuracy | size KiB | latency ms | accuracy change | size ratio | speed-up |" and page[3] == "|---|---|---|---|---|---|---|", f"header and separator: got {page[2:4]}"
assert page[4:6] == (exp := ["| baseline | 90.0% | 1.0 | 0.500 | - | - | - |", "| quantize | 89.0% | 0.2 | 0.400 | -1.0 pt | 5.00x | 1.25x |"]), f"rows: expected {exp}, got {page[4:6]}"
assert page[-1] == "![report](report.png)" and page[-2] == "" and len(page) == 8, f"the image last: got {page[-2:]}"
pts = [{"size_bytes": s, "accuracy": a} for s, a in [(4, 0.9), (1, 0.5), (2, 0.5), (3, 0.8)]]
assert (got := pareto_front(pts)) == [1, 3, 0], f"sizes [4, 1, 2, 3], accuracies [0.9, 0.5, 0.5, 0.8]: expected [1, 3, 0], got {got}"
### BEGIN HIDDEN TESTS
pts = [{"size_bytes": s, "accuracy": a} for s, a in [(5, 0.7), (5, 0.9), (2, 0.9), (2, 0.9), (1, 0.1), (9, 0.95), (8, 0.95)]]
assert (got := pareto_front(pts)) == [4, 2, 6] and pareto_front(pts[:2]) == [1] and pareto_front([]) == [], f"ties: the first of equal points, the smaller of equal accuracies: expected [4, 2, 6], got {got}"
two = dict(rep_in, model="cnn", steps=[dict(rep_in["steps"][0], name="prune", accuracy_change=0.0213, size_ratio=1.9, speedup=0.987)] * 2)
page = report_markdown(two, figure="p.png").split("\n")
assert page[0] == "# Optimization report: cnn" and len(page) == 9 and page[-1] == "![report](p.png)", f"two steps, figure p.png: got {page}"
assert page[5] == page[6] == "| prune | 89.0% | 0.2 | 0.400 | +2.1 pt | 1.90x | 0.99x |", f"got {page[5]!r}"
heights = [[round(p.get_height(), 6) for p in ax.patches] for ax in plot_report(two).axes]
assert heights == [[90.0, 89.0, 89.0], [1.0, 0.200195, 0.200195], [0.5, 0.4, 0.4]], f"three panels: %, KiB, ms; got {heights}"
md = write_report("test_report", two)
assert md.endswith("report.md") and os.path.getsize("test_report/report.png") > 5000, f"report.md and report.png in the folder, got {md}"
assert open(md, encoding="utf-8").read().startswith("# Optimization report: cnn"), "report.md holds the page"
### END HIDDEN TESTS

# %% [markdown]
# **Systems note.** A digits MLP through the pipeline, measured on held-out digits. Read the speed-up
# honestly: int8 saves memory, but NumPy's int32 matmul has no BLAS behind it.

# %%
manual_seed(0)
train_set, val_set = random_split(TensorDataset(*load_digits(flatten=True)), [0.8, 0.2])
train, val = DataLoader(train_set, batch_size=32, shuffle=True), DataLoader(val_set, batch_size=128)
mlp = Sequential(Linear(64, 128), ReLU(), Linear(128, 10))
Trainer(mlp, CrossEntropyLoss(), Adam(mlp.parameters(), lr=3e-3)).fit(train, 8, progress=False)
small, report = optimize_pipeline(mlp, train, val, name="digits MLP 64-128-10")
stages = [report["baseline"], *report["steps"]]
print(report_markdown(report), "\nPareto front:", [["baseline", *STEPS][i] for i in pareto_front(stages)])
plot_report(report).suptitle(" -> ".join(["baseline", *STEPS])), plt.show()
