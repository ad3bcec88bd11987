"""The limits on one untrusted notebook: the ONE definition behind `tito grade`'s options, the
`SandboxedExecute` preprocessor's traits and the job the in-sandbox executor receives.

Standard library only. Each field's metadata holds its help text and, for the limits a grader sets
on the command line, the option's name.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields


def _limit(default: int, help: str, option: str | None = None) -> int:
    return field(default=default, metadata={"help": help, "option": option})


@dataclass(frozen=True)
class Limits:
    cell_timeout: int = _limit(30, "seconds per cell", "--cell-timeout")
    notebook_timeout: int = _limit(300, "seconds per notebook", "--notebook-timeout")
    memory_mb: int = _limit(4096, "memory limit per kernel", "--memory-mb")  # address space, kernel and children
    output_chars: int = _limit(100_000, "characters of output kept per cell")
    file_mb: int = _limit(256, "largest file (MB) the notebook may write")

    def to_job(self) -> dict[str, int]:
        """What the executor's job carries (it enforces the time and output limits itself)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_options(cls, options: object) -> "Limits":
        """From argparse's namespace (or any object with the fields as attributes)."""
        return cls(**{f.name: getattr(options, f.name) for f in fields(cls) if hasattr(options, f.name)})


def add_limit_options(parser) -> None:
    """`--cell-timeout`, `--notebook-timeout`, `--memory-mb` on an argparse parser."""
    for f in fields(Limits):
        if f.metadata["option"]:
            parser.add_argument(f.metadata["option"], dest=f.name, type=int, default=f.default,
                                help=f"{f.metadata['help']} (default {f.default})")


def limit_traits() -> dict:
    """One configurable traitlets `Integer` per limit, with its default and help."""
    from traitlets import Integer

    return {f.name: Integer(f.default, help=f.metadata["help"]).tag(config=True) for f in fields(Limits)}
