"""Late-submission policies, as nbgrader late-submission plugins (`AssignLatePenalties.plugin_class`).

nbgrader computes how late a submission is from its timestamp and the assignment's due date, asks
the plugin for a penalty and stores it in the gradebook; tito's reports read it back from there.

    --late-policy none            no penalty (nbgrader's default)
    --late-policy zero            a late submission scores 0
    --late-policy per-hour:0.5    0.5 points per started hour late (per-day:N: per started day)
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from autograder.course.layout import CourseError

PERIODS = {"per-hour": 3600.0, "per-day": 86400.0}


@functools.cache
def points_per_period_plugin() -> type:
    """The plugin class for per-hour and per-day policies (made on first use: importing nbgrader
    takes most of a second, and `tito grade` starts its workers before it needs nbgrader itself)."""
    from nbgrader.plugins import LateSubmissionPlugin
    from traitlets import Float

    class PointsPerPeriodLate(LateSubmissionPlugin):
        """Deducts `points` for every started `period_seconds` a submission is late (never below 0)."""

        points = Float(0.0, help="points deducted per started period late").tag(config=True)
        period_seconds = Float(3600.0, help="length of one period in seconds (3600: per hour)").tag(config=True)

        def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float:
            periods = math.ceil(total_seconds_late / self.period_seconds) if total_seconds_late > 0 else 0
            return min(score, periods * self.points)

    return PointsPerPeriodLate


@dataclass(frozen=True)
class LatePolicy:
    text: str

    def nbgrader_config(self) -> dict:
        """The configuration that makes nbgrader's AssignLatePenalties apply this policy."""
        if self.text in ("none", "zero"):
            return {"LateSubmissionPlugin.penalty_method": self.text}
        kind, _, amount = self.text.partition(":")
        return {"AssignLatePenalties.plugin_class": points_per_period_plugin(),
                "PointsPerPeriodLate.points": float(amount), "PointsPerPeriodLate.period_seconds": PERIODS[kind]}


def parse_late_policy(text: str) -> LatePolicy:
    text = text.strip()
    if text in ("none", "zero"):
        return LatePolicy(text)
    kind, _, amount = text.partition(":")
    try:
        ok = kind in PERIODS and float(amount) >= 0
    except ValueError:
        ok = False
    if not ok:
        raise CourseError(f"--late-policy {text!r}: use none, zero, per-hour:POINTS or per-day:POINTS")
    return LatePolicy(text)
