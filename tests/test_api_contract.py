"""The reference package follows the project's contract, docs/api.md: for every module the course has
a source for, each name the contract gives in call form lives in its module and at the package root,
with the contract's parameters first; each method it names exists.

Everything is derived: the modules from `source/` (a module of the contract with no lesson yet is
not checked), the names and signatures from docs/api.md's backticked `Name(args)` spans.
"""
import inspect
import re
from dataclasses import dataclass, field

import numpy as np
import pytest

import tinytorch_lib
from autograder.course.lesson import parse_course
from helpers import COURSE, REPO

API = REPO / "docs" / "api.md"
SECTION = re.compile(r"^## (\d\d) (\w+) \(`tinytorch_lib\.(\w+)`\)\n(.*?)(?=^## |\Z)", re.M | re.S)
CALL = re.compile(r"(?:(\w+)?\.)?(\w+)\((.*)\)", re.S)      # `Name(args)`, `t.name(args)`, `.name()`
# Python's operators (not a course list): the dunders a Tensor needs for those docs/api.md names.
OPERATORS = {"+": ["__add__", "__radd__"], "-": ["__sub__", "__rsub__", "__neg__"], "*": ["__mul__", "__rmul__"],
             "/": ["__truediv__", "__rtruediv__"], "**": ["__pow__"], "@": ["__matmul__", "__rmatmul__"]}


@dataclass
class Section:
    number: int
    title: str
    target: str                                                  # tinytorch_lib.<target>
    names: dict[str, str | None] = field(default_factory=dict)   # root name -> "(args)" or None
    methods: set[str] = field(default_factory=set)

    def __str__(self) -> str:
        return f"{self.number:02d}_{self.title}"


def contract() -> list[Section]:
    sections, earlier = [], set()     # names earlier sections define: a later mention is a reference
    for number, title, target, body in SECTION.findall(API.read_text(encoding="utf-8")):
        section = Section(int(number), title, target)
        defined = set(getattr(getattr(tinytorch_lib, target, None), "__all__", []))   # empty if not built
        for span in (" ".join(s.split()) for s in re.findall(r"`([^`]+)`", body)):
            operators = re.sub(r"\(.*?\)", "", span).split()
            if re.fullmatch(r"__\w+__", span):
                section.methods.add(span)
            elif re.fullmatch(r"[A-Z]\w*", span):               # `Module`: a class named without arguments
                if span not in earlier:                          # (`Linear` in a later section: module 03's)
                    section.names.setdefault(span, None)
            elif operators and set(operators) <= set(OPERATORS):   # `+ - * / ** (scalar exponent) @`
                section.methods.update(d for op in operators for d in OPERATORS[op])
            elif (m := CALL.fullmatch(span)) and not (m.group(1) or "").startswith("torch"):
                owner, name, args = m.groups()
                # a class, or a function of this section's module; anything else is a method
                is_method = span.startswith(".") or owner or not (name[0].isupper() or name in defined)
                if is_method:
                    section.methods.add(name)
                else:
                    section.names[name] = None if "..." in args else f"({args})"
        sections.append(section)
        earlier |= set(section.names)
    return sections


SECTIONS = contract()
BUILT = {p.target for p in parse_course(COURSE) if p.target}
CHECKED = [s for s in SECTIONS if s.target in BUILT]


def parameters(obj) -> list[tuple]:
    """(name, kind, default) of each parameter, without self."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    params = list(inspect.signature(target).parameters.values())
    if inspect.isclass(obj):
        params = params[1:]
    return [(p.name, p.kind, p.default) for p in params]


def contract_parameters(text: str) -> list[tuple] | None:
    try:
        return parameters(eval(f"lambda {text[1:-1]}: None"))
    except (SyntaxError, TypeError):   # prose such as `dict[name, model]` or `scope="global"|"layer"`:
        return None                     # the name is checked, not the signature


def test_the_contract_covers_every_module_of_the_course():
    assert CHECKED, "docs/api.md has no section for any module in source/"
    missing = BUILT - {s.target for s in SECTIONS}
    assert not missing, f"modules with a lesson but no section in docs/api.md: {sorted(missing)}"
    for s in CHECKED:
        assert s.names, f"docs/api.md section {s} names nothing in call form"


@pytest.mark.parametrize("section", CHECKED, ids=str)
def test_each_contract_name_lives_in_its_module_and_at_the_root_with_the_contract_signature(section):
    module = getattr(tinytorch_lib, section.target)
    for name, expected in section.names.items():
        obj = getattr(module, name, None)
        assert obj is not None, f"tinytorch_lib.{section.target} lacks {name} (docs/api.md, {section})"
        assert getattr(tinytorch_lib, name, None) is obj, f"{name} at the root is not {section.target}.{name}"
        assert name in module.__all__ and name in tinytorch_lib.__all__, f"{name} is not in __all__"
        want = contract_parameters(expected) if expected else None
        if want is not None:
            # the contract's parameters come first, with its names and defaults (0 == 0.0); extra
            # keyword options may follow.
            got = parameters(obj)
            assert got[: len(want)] == want, f"{name}: {got} does not start like docs/api.md's {name}{expected}"


@pytest.mark.parametrize("section", CHECKED, ids=str)
def test_each_contract_method_exists_on_a_class_of_the_package(section):
    classes = [obj for n in tinytorch_lib.__all__ if inspect.isclass(obj := getattr(tinytorch_lib, n))]
    missing = [m for m in sorted(section.methods) if not any(callable(getattr(c, m, None)) for c in classes)]
    assert not missing, f"no class of tinytorch_lib has the method(s) {missing} that docs/api.md's {section} names"


def test_tensor_properties_and_full_reductions():
    t = tinytorch_lib.Tensor([[1.0, 2.0], [3.0, 4.0]])
    assert isinstance(t.data, np.ndarray) and t.shape == (2, 2) and t.ndim == 2 and t.dtype == np.float32
    assert t.T.shape == (2, 2) and t.requires_grad is False and t.grad is None
    assert t.sum().shape == () and t.max().item() == 4.0


def test_every_module_is_generated_by_tito_and_imported_in_course_order():
    exported = [p for p in parse_course(COURSE) if p.target]
    for p in exported:
        path = REPO / "tinytorch_lib" / f"{p.target}.py"
        assert "Generated by tito" in path.read_text(encoding="utf-8").splitlines()[0], path
    init = (REPO / "tinytorch_lib" / "__init__.py").read_text(encoding="utf-8")
    imported = re.findall(r"^from \.(\w+) import \*", init, re.M)
    assert imported == [p.target for p in exported], "tinytorch_lib/__init__.py does not follow course order"
