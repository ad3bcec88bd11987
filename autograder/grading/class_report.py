"""`tito report MODULE --html`: one page about a graded class, for the instructor.

Score histogram, pass rate of every test cell, the most common failure messages with how many
students hit each, the slowest cells, the per-student table, and pairs of submissions whose
answers are suspiciously alike (copydetect's winnowed fingerprints over the students' solution
cells only: lesson text, given code and the stubs are excluded). Figures are embedded, so the page
is one file that can be mailed or archived.
"""
from __future__ import annotations

import base64
import html
import io
import re
import statistics
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.grading.reports import StudentResult

SIMILARITY_THRESHOLD = 0.8


@dataclass(frozen=True)
class SimilarPair:
    first: str
    second: str
    similarity: float     # the smaller of the two directions: how much of each is in the other


def failure_message(output: str) -> str:
    """The gist of a failed test's output: its last error line, without the line number."""
    lines = [l for l in output.strip().splitlines() if l.strip()]
    last = lines[-1] if lines else "(no output)"
    return re.sub(r" \(test line \d+[^)]*\)$", "", last)[:200]


def solution_code(nb_path: Path) -> str:
    """The student's answers in a submitted notebook: its solution cells, joined."""
    nb = nbformat.read(nb_path, as_version=4)
    return "\n\n".join(c.source for c in nb.cells
                       if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("solution"))


def similar_pairs(answers: dict[str, str], boilerplate: str,
                  threshold: float = SIMILARITY_THRESHOLD) -> list[SimilarPair]:
    """Pairs of students whose answers overlap by at least `threshold` (both directions)."""
    from copydetect import CopyDetector

    with tempfile.TemporaryDirectory(prefix="tito-similarity-") as tmp:
        folder, base = Path(tmp) / "answers", Path(tmp) / "boilerplate"
        folder.mkdir()
        base.mkdir()
        (base / "stub.py").write_text(boilerplate)
        for student, code in answers.items():
            if code.strip() and code.strip() != boilerplate.strip():
                (folder / f"{student}.py").write_text(code)
        detector = CopyDetector(test_dirs=[str(folder)], boilerplate_dirs=[str(base)], extensions=["py"],
                                display_t=threshold, silent=True, autoopen=False, noise_t=10, guarantee_t=10)
        detector.run()
        pairs = {}
        for sim_a, sim_b, file_a, file_b, *_ in detector.get_copied_code_list():
            a, b = sorted((Path(file_a).stem, Path(file_b).stem))
            similarity = min(sim_a, sim_b)
            if similarity >= threshold:
                pairs[(a, b)] = max(similarity, pairs.get((a, b), 0.0))
    return sorted((SimilarPair(a, b, s) for (a, b), s in pairs.items()), key=lambda p: -p.similarity)


def figure_html(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


@dataclass
class ClassSummary:
    pass_rates: dict[str, float]           # test cell -> fraction of students who passed it
    failures: list[tuple[str, int]]        # failure message -> students, most common first
    slowest: list[tuple[str, float, float]]   # cell -> median and max seconds, slowest first


def summarise(results: list[StudentResult], records: dict[str, dict]) -> ClassSummary:
    cells = [t["name"] for t in results[0].tests] if results else []
    rates = {c: sum(any(t["name"] == c and t["status"] == "passed" for t in r.tests) for r in results) / len(results)
             for c in cells}
    failures = Counter()
    for r in results:
        failures.update({failure_message(t["output"]) for t in r.tests if t["status"] == "failed"})
    seconds: dict[str, list[float]] = {}
    for record in records.values():
        for cell, s in record.get("cell_seconds", {}).items():
            seconds.setdefault(cell, []).append(s)
    slowest = sorted(((c, statistics.median(v), max(v)) for c, v in seconds.items()), key=lambda x: -x[1])[:10]
    return ClassSummary(rates, failures.most_common(10), slowest)


def write_class_report(path: Path, module: str, results: list[StudentResult], records: dict[str, dict],
                       pairs: list[SimilarPair]) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarise(results, records)
    top = max((r.max_score for r in results), default=1.0) or 1.0
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.2))
    left.hist([r.score for r in results], bins=min(20, max(5, len(results))), range=(0, top), color="#4c72b0")
    left.set(title="scores", xlabel="points", ylabel="students")
    names = list(summary.pass_rates)
    right.barh(names[::-1], [summary.pass_rates[n] for n in names[::-1]], color="#55a868")
    right.set(title="pass rate per test cell", xlim=(0, 1))
    figures = figure_html(fig)
    plt.close(fig)
    scores = [r.score for r in results]
    parts = [
        f"<h1>{html.escape(module)}: class report</h1>",
        f"<p>{len(results)} students; mean {statistics.fmean(scores) if scores else 0:.2f} / {top:g}, "
        f"median {statistics.median(scores) if scores else 0:g}.</p>", figures,
        "<h2>Pass rate per test cell</h2>",
        table(["test cell", "passed"], [[c, f"{rate:.0%}"] for c, rate in summary.pass_rates.items()]),
        "<h2>Most common failures</h2>",
        table(["failure", "students"], [[m, n] for m, n in summary.failures]),
        "<h2>Slowest cells</h2>",
        table(["cell", "median s", "max s"], [[c, f"{m:.2f}", f"{x:.2f}"] for c, m, x in summary.slowest]),
        f"<h2>Similar answers (at least {SIMILARITY_THRESHOLD:.0%} of each in the other)</h2>",
        table(["student", "student", "similarity"], [[p.first, p.second, f"{p.similarity:.0%}"] for p in pairs])
        if pairs else "<p>No pair above the threshold.</p>",
        "<h2>Students</h2>",
        table(["student", "score", "max", "late penalty", "status", "reason"],
              [[r.student.id, f"{r.score:g}", f"{r.max_score:g}", f"{r.penalty:g}", r.status.value, r.reason[:120]]
               for r in results]),
    ]
    style = ("<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}table{border-collapse:collapse;"
             "margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}</style>")
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(module)}</title>"
                    f"{style}</head><body>{''.join(parts)}</body></html>\n", encoding="utf-8")
    return path
