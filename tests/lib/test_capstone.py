"""tinytorch_lib.capstone (module 20): the prune -> fine-tune -> quantize pipeline on a tiny model, the
submission JSON validated against the course's one schema (`tinytorch_lib.capstone.SUBMISSION_SCHEMA`,
read here from the package, never copied), a broken submission rejected with its field named, and
the one-page report."""
import copy
import json

import jsonschema
import numpy as np
import pytest

from tinytorch_lib.activations import ReLU
from tinytorch_lib.capstone import (SUBMISSION_SCHEMA, optimize_pipeline, report_markdown, validate_submission,
                                    write_report, write_submission)
from tinytorch_lib.data import DataLoader, TensorDataset
from tinytorch_lib.layers import Linear, Sequential
from tinytorch_lib.quantization import QuantizedLinear
from tinytorch_lib.tensor import Tensor, manual_seed

REPORT = {"model": "mlp", "baseline": {"accuracy": 0.9, "size_bytes": 1024, "latency_ms": 0.5},
          "final": {"accuracy": 0.89, "size_bytes": 205, "latency_ms": 0.4},
          "steps": [{"name": "quantize", "accuracy": 0.89, "size_bytes": 205, "latency_ms": 0.4,
                     "accuracy_change": -0.01, "size_ratio": 4.995, "speedup": 1.25}]}


@pytest.fixture(scope="module")
def pipeline():
    manual_seed(0)
    x = np.random.default_rng(0).standard_normal((96, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + 2 * (x[:, 1] > 0)
    train = DataLoader(TensorDataset(Tensor(x[:64]), Tensor(y[:64])), 16, shuffle=True)
    val = DataLoader(TensorDataset(Tensor(x[64:]), Tensor(y[64:])), 32)
    net = Sequential(Linear(8, 32), ReLU(), Linear(32, 4))
    w0 = net[0].weight.data.copy()
    optimized, report = optimize_pipeline(net, train, val, epochs=10, lr=0.05, repeats=3, name="tiny")
    return net, w0, optimized, report


def test_pipeline_steps_and_effects(pipeline):
    net, w0, optimized, report = pipeline
    assert np.array_equal(net[0].weight.data, w0)                   # the caller's model is untouched
    assert isinstance(optimized[0], QuantizedLinear) and isinstance(optimized[2], QuantizedLinear)
    base, (prune, finetune, quantize) = report["baseline"], report["steps"]
    assert base["size_bytes"] == (8 * 32 + 32 + 32 * 4 + 4) * 4
    assert [s["name"] for s in report["steps"]] == ["prune", "finetune", "quantize"] and report["model"] == "tiny"
    assert np.isclose(prune["size_ratio"], base["size_bytes"] / prune["size_bytes"]) and prune["size_ratio"] > 1.5
    assert finetune["size_bytes"] == prune["size_bytes"] and finetune["accuracy"] >= 0.75
    assert quantize["size_bytes"] < finetune["size_bytes"]
    assert np.isclose(quantize["speedup"], finetune["latency_ms"] / quantize["latency_ms"])
    assert report["final"] == {k: quantize[k] for k in ("accuracy", "size_bytes", "latency_ms")}
    with pytest.raises(ValueError, match="blur"):
        optimize_pipeline(net, None, None, steps=("prune", "blur"))


def test_submission_validates_against_the_shipped_schema(tmp_path, pipeline):
    path = tmp_path / "submission.json"
    doc = write_submission(path, pipeline[3])
    on_disk = json.loads(path.read_text())
    assert on_disk == doc
    jsonschema.Draft202012Validator.check_schema(SUBMISSION_SCHEMA)
    jsonschema.validate(on_disk, SUBMISSION_SCHEMA)        # the same object the package validates with
    assert doc["size_bytes"] == pipeline[3]["final"]["size_bytes"] and len(doc["steps"]) == 3
    assert set(doc["environment"]) >= {"python", "numpy", "platform"}


@pytest.mark.parametrize("field, breaks", [
    ("accuracy", lambda d: d.update(accuracy=1.5)),
    ("environment", lambda d: d.pop("environment")),
    ("steps/0/size_ratio", lambda d: d["steps"][0].update(size_ratio=-1)),
    ("baseline/latency_ms", lambda d: d["baseline"].pop("latency_ms")),
    ("extra", lambda d: d.update(extra=True)),
])
def test_a_broken_submission_is_rejected_naming_the_field(tmp_path, field, breaks):
    doc = write_submission(tmp_path / "ok.json", REPORT)
    broken = copy.deepcopy(doc)
    breaks(broken)
    with pytest.raises(ValueError) as info:
        validate_submission(broken)
    assert str(info.value).split(": ")[0] == field
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SUBMISSION_SCHEMA)
    bad = dict(REPORT, final=dict(REPORT["final"], size_bytes=0))
    with pytest.raises(ValueError, match="^size_bytes"):
        write_submission(tmp_path / "bad.json", bad)
    assert not (tmp_path / "bad.json").exists()


def test_report_page_and_plot(tmp_path):
    page = report_markdown(REPORT).split("\n")
    assert page[0] == "# Optimization report: mlp"
    assert page[2] == "| step | accuracy | size KiB | latency ms | accuracy change | size ratio | speed-up |"
    assert page[4] == "| baseline | 90.0% | 1.0 | 0.500 | - | - | - |"
    assert page[5] == "| quantize | 89.0% | 0.2 | 0.400 | -1.0 pt | 5.00x | 1.25x |"
    assert page[-1] == "![report](report.png)"
    md = write_report(tmp_path / "out", REPORT)
    assert (tmp_path / "out" / "report.md").read_text().startswith("# Optimization report: mlp")
    assert str(md).endswith("report.md") and (tmp_path / "out" / "report.png").stat().st_size > 5_000
