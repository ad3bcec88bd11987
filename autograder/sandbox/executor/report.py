"""The execution report: what the in-sandbox executor tells the launcher about one notebook.

Standard library only: the executor imports it inside the sandbox, the launcher outside.
"""
from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field

MAX_TIMED_CELLS = 1000


class ExecStatus(str, enum.Enum):
    """How a notebook's run ended, from harmless to worst (the report keeps the worst)."""

    OK = "ok"
    CELL_TIMEOUT = "cell_timeout"      # a cell hit its time limit (interrupted, or its kernel killed)
    MEMORY = "memory"                  # a cell hit the memory limit
    TIMEOUT = "timeout"                # the notebook hit its total time limit
    KERNEL_DIED = "kernel_died"        # the kernel crashed or was killed; later cells not run
    ERROR = "error"                    # the executor could not run the notebook at all
    REJECTED = "rejected"              # intake refused the submission; nothing was run

    @property
    def severity(self) -> int:
        return list(ExecStatus).index(self)


@dataclass
class ExecReport:
    status: ExecStatus = ExecStatus.OK
    reason: str = ""
    cell_seconds: dict = field(default_factory=dict)    # cell name -> wall time (class report: slowest cells)
    failed_part: dict = field(default_factory=dict)     # test cell -> "visible" or "hidden": where it failed

    def add(self, status: ExecStatus, reason: str) -> None:
        """Record a problem; the status becomes the worst seen, reasons accumulate in order."""
        if status.severity > self.status.severity:
            self.status = status
        self.reason = f"{self.reason}; {reason}" if self.reason else reason

    def to_json(self) -> dict:
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_json(cls, data: dict) -> "ExecReport":
        seconds = data.get("cell_seconds") if isinstance(data.get("cell_seconds"), dict) else {}
        timed = {str(k)[:200]: float(v) for k, v in list(seconds.items())[:MAX_TIMED_CELLS]
                 if isinstance(v, (int, float))}
        parts = data.get("failed_part") if isinstance(data.get("failed_part"), dict) else {}
        failed = {str(k)[:200]: v for k, v in list(parts.items())[:MAX_TIMED_CELLS] if v in ("visible", "hidden")}
        return cls(ExecStatus(data.get("status", "error")), str(data.get("reason", "")), timed, failed)
