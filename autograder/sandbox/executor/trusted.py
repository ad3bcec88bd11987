"""The grader's end of the grading harness: test and helper cells run HERE, never in the student's kernel.

A test cell's verdict is decided in this process, which no student code ever runs in. Names the
test does not define resolve to objects in the student's kernel through `Remote` proxies: every
attribute access, call, operator and index becomes a request to `student_side.serve`, and only
plain data comes back (decoded here with a whitelist: numbers, strings, numeric arrays, containers,
numbered references). Library modules (numpy, math, ...) are this process's own copies, imported
up front from the reference notebook's import lines, so the student cannot rebind `np.allclose`.
See docs/grading.md for the threat model.
"""
from __future__ import annotations

import ast
import base64
import builtins
import contextlib
import importlib
import importlib.util
import io
import json
import math
import pickle
import socket
import struct
import sys
import time
import types
import weakref
from pathlib import Path

import numpy as np

NAMESPACE = "__tito_tests__"          # __name__ of the trusted namespace (marks its functions)
LIB_NAME = "tinytorch_lib"            # always the student's: never imported in this process
MAX_MESSAGE = 256 * 2**20
HERE = Path(__file__).resolve().parent
LOCAL_PROBES = {"__array_interface__", "__array_struct__", "__array_priority__", "__array_function__",
                "__array_ufunc__", "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__",
                "__deepcopy__", "__copy__", "__length_hint__", "__fspath__",
                "__await__", "__aiter__", "_ipython_display_", "_repr_html_", "__wrapped__"}


class CellTimeout(Exception):
    """The test cell used up its time (its remote calls included)."""


class HarnessBroken(Exception):
    """The student's kernel stopped answering the harness protocol."""


def trusted_module(name: str) -> bool:
    """A module this process may import itself: a library, not the student's package or files."""
    top = name.split(".")[0]
    if top == LIB_NAME or not top:
        return False
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    origin = spec.origin or (list(spec.submodule_search_locations or [""])[0])
    return origin in ("built-in", "frozen") or not Path(origin).resolve().is_relative_to(HERE)


class Channel:
    """One connection to the student's kernel for one test cell; every wait is bounded by a deadline."""

    def __init__(self, sock: socket.socket, deadline: float):
        self.sock, self.deadline = sock, deadline
        self.callbacks: dict[int, object] = {}

    # --- framing ---
    def send(self, message: tuple) -> None:
        buffer = io.BytesIO()
        Pickler(buffer, self).dump(message)
        data = buffer.getvalue()
        self._timeout()
        self.sock.sendall(struct.pack("!Q", len(data)) + data)

    def recv(self) -> dict:
        (size,) = struct.unpack("!Q", self._read(8))
        if size > MAX_MESSAGE:
            raise HarnessBroken(f"the notebook sent a {size}-byte message (limit {MAX_MESSAGE})")
        try:
            message = json.loads(self._read(size))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HarnessBroken(f"unreadable answer from the notebook ({exc})") from None
        if not isinstance(message, dict):
            raise HarnessBroken("unreadable answer from the notebook")
        return message

    def _timeout(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise CellTimeout()
        self.sock.settimeout(left)

    def _read(self, size: int) -> bytes:
        chunks, left = [], size
        while left:
            self._timeout()
            try:
                chunk = self.sock.recv(min(left, 1 << 20))
            except socket.timeout:
                raise CellTimeout() from None
            if not chunk:
                raise HarnessBroken("the notebook's kernel closed the connection (crashed or exited?)")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    # --- requests ---
    def request(self, op: str, *args):
        self.send(("req", op, args))
        while True:
            reply = self.recv()
            if reply.get("k") == "cb":
                self._answer_callback(reply)
                continue
            if reply.get("k") != "ret":
                raise HarnessBroken("unexpected answer from the notebook")
            if reply.get("ok"):
                return decode(reply.get("v"), self)
            raise remote_exception(reply)

    def _answer_callback(self, reply: dict) -> None:
        func = self.callbacks.get(reply.get("id"))
        try:
            if func is None:
                raise RuntimeError("unknown callback")
            args, kwargs = decode(reply.get("args"), self), decode(reply.get("kwargs"), self)
            result = (True, func(*args, **kwargs))
        except (CellTimeout, HarnessBroken):
            raise
        except Exception as exc:
            result = (False, RuntimeError(f"{type(exc).__name__}: {exc}"))
        self.send(("cbret", *result))

    def done(self) -> None:
        self.send(("done",))


class Pickler(pickle.Pickler):
    """Trusted -> student: plain pickles; proxies travel as their ref, test functions as callbacks."""

    def __init__(self, file, channel: Channel):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.channel = channel

    def reducer_override(self, obj):
        """A generator of the test's (e.g. `(p for p in params)`) arrives as an iterator over its items."""
        if isinstance(obj, types.GeneratorType):
            return iter, (list(obj),)
        return NotImplemented

    def persistent_id(self, obj):
        if type(obj) is Remote:
            return ("ref", object.__getattribute__(obj, "_tito_id"))
        if isinstance(obj, (types.FunctionType, types.MethodType)) and getattr(obj, "__module__", "") == NAMESPACE:
            number = id(obj)
            self.channel.callbacks[number] = obj
            return ("cb", number)
        return None


BUILTIN_EXCEPTIONS = {name: cls for name, cls in vars(builtins).items()
                      if isinstance(cls, type) and issubclass(cls, Exception)}


def remote_exception(reply: dict) -> Exception:
    """The student's exception, as the nearest built-in exception type (never their class)."""
    message = str(reply.get("msg", ""))[:4000]
    for name in [reply.get("etype"), *(reply.get("mro") or [])]:
        if isinstance(name, str) and name in BUILTIN_EXCEPTIONS:
            cls = BUILTIN_EXCEPTIONS[name]
            try:
                return cls(message) if name != "StopIteration" else StopIteration()
            except Exception:
                break
    return RuntimeError(f"{reply.get('etype')}: {message}")


# --- decoding: a whitelist of shapes, anything else is refused ---------------------------------
def _array(value: dict) -> np.ndarray:
    dtype = np.dtype(str(value["dtype"]))
    if dtype.kind not in "biufc":
        raise HarnessBroken(f"refused array dtype {dtype}")
    shape = tuple(int(n) for n in value["shape"])
    data = base64.b64decode(value["b64"])
    if math.prod(shape) * dtype.itemsize != len(data):
        raise HarnessBroken("array bytes do not match its shape")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def decode(value, channel: Channel, depth: int = 0):
    if depth > 8:
        raise HarnessBroken("answer nested too deeply")
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is not dict or "$" not in value:
        raise HarnessBroken("unreadable answer from the notebook")
    tag = value["$"]
    if tag == "float":
        return float(value["v"])
    if tag == "complex":
        return complex(float(value["re"]), float(value["im"]))
    if tag == "bytes":
        return base64.b64decode(value["b64"])
    if tag in ("list", "tuple"):
        items = [decode(v, channel, depth + 1) for v in value["v"]]
        return items if tag == "list" else tuple(items)
    if tag == "dict":
        return {str(k): decode(v, channel, depth + 1) for k, v in value["v"].items()}
    if tag == "slice":
        return slice(*(decode(v, channel, depth + 1) for v in value["v"]))
    if tag == "ellipsis":
        return Ellipsis
    if tag == "ndarray":
        return _array(value)
    if tag == "npscalar":
        return _array({**value, "shape": []})[()]
    if tag == "dtype":
        return _array({"dtype": value["v"], "shape": [0], "b64": ""}).dtype
    if tag == "nptype":
        scalar = getattr(np, str(value["v"]), None)
        if isinstance(scalar, type) and issubclass(scalar, np.generic):
            return scalar
        raise HarnessBroken("unknown numpy type")
    if tag == "builtin":
        found = getattr(builtins, str(value["v"]), None)
        if isinstance(found, type):
            return found
        raise HarnessBroken("unknown built-in type")
    if tag == "module":
        name = str(value["name"])
        return importlib.import_module(name) if trusted_module(name) else decode(value["ref"], channel, depth + 1)
    if tag == "ref":
        return Remote._tito_make(channel, int(value["id"]), str(value.get("kind", "object")), str(value.get("type", "?")))
    if tag == "missing":
        return MISSING
    raise HarnessBroken(f"unknown answer type {tag!r}")


MISSING = object()


class Session:
    """The connection of the test cell being run: proxies kept from earlier cells use it too."""

    channel: "Channel | None" = None


def current_channel() -> Channel:
    if Session.channel is None:
        raise HarnessBroken("a notebook object was used outside a test cell")
    return Session.channel


# --- the proxy -----------------------------------------------------------------------------------
class Remote:
    """An object living in the student's kernel. Judging is never delegated to it: the test reads
    plain values out of it (attributes, `np.asarray`, `float`) and compares them here."""

    __slots__ = ("_tito_id", "_tito_kind", "_tito_type", "__weakref__")
    _tito_cache: "weakref.WeakValueDictionary[int, Remote]" = weakref.WeakValueDictionary()

    @classmethod
    def _tito_make(cls, channel: Channel, number: int, kind: str, type_name: str) -> "Remote":
        found = cls._tito_cache.get(number)     # the same student object is always the same proxy (`is` works)
        if found is not None:
            return found
        proxy = object.__new__(cls)
        for slot, value in (("_tito_id", number), ("_tito_kind", kind), ("_tito_type", type_name)):
            object.__setattr__(proxy, slot, value)
        cls._tito_cache[number] = proxy
        return proxy

    def _tito_call(self, op: str, *args):
        return current_channel().request(op, *args)

    @property
    def __class__(self):
        return np.ndarray if object.__getattribute__(self, "_tito_kind") == "ndarray" else Remote

    def __getattr__(self, name):
        if name in LOCAL_PROBES:
            raise AttributeError(name)
        return self._tito_call("getattr", self, name)

    def __setattr__(self, name, value):
        self._tito_call("setattr", self, name, value)

    def __delattr__(self, name):
        self._tito_call("delattr", self, name)

    def __call__(self, *args, **kwargs):
        return self._tito_call("call", self, args, kwargs)

    def __array__(self, dtype=None, copy=None):
        arr = self._tito_call("value", self)
        return arr if dtype is None else arr.astype(dtype)

    def __iter__(self):
        iterator = self._tito_call("builtin", "iter", (self,))
        while True:
            try:
                yield current_channel().request("builtin", "next", (iterator,))
            except StopIteration:
                return

    def __next__(self):
        return self._tito_call("builtin", "next", (self,))

    def __enter__(self):
        return self._tito_call("call", self._tito_call("getattr", self, "__enter__"), (), {})

    def __exit__(self, kind, value, traceback):
        # The traceback stays here; the student's context manager learns the exception and its type.
        return self._tito_call("call", self._tito_call("getattr", self, "__exit__"), (kind, value, None), {})

    def __instancecheck__(self, obj):
        return self._tito_call("builtin", "isinstance", (obj, self))

    def __subclasscheck__(self, cls):
        return self._tito_call("builtin", "issubclass", (cls, self))

    def __repr__(self):
        return str(self._tito_call("builtin", "repr", (self,)))[:10_000]

    def __str__(self):
        return str(self._tito_call("builtin", "str", (self,)))[:10_000]

    def __format__(self, spec):
        return str(self._tito_call("builtin", "format", (self, spec)))[:10_000]

    def __mro_entries__(self, bases):
        raise TypeError("a test cannot subclass a notebook class inside a function; define the class "
                        "at the top level of the test cell")


def _builtin_method(name):
    def method(self, *args):
        return self._tito_call("builtin", name, (self, *args))
    method.__name__ = f"__{name}__"
    return method


def _operator_method(op, reflected=False):
    def method(self, *args):
        operands = (args[0], self) if reflected else (self, *args)
        return self._tito_call("operator", op, operands)
    return method


for _name in ("len", "bool", "int", "float", "complex", "hash", "abs", "round", "reversed", "dir"):
    setattr(Remote, f"__{_name}__", _builtin_method(_name))
Remote.__index__ = _operator_method("index")
for _op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
            "lshift", "rshift"):
    _fn = _op + "_" if _op in ("and", "or") else _op
    setattr(Remote, f"__{_op}__", _operator_method(_fn))
    setattr(Remote, f"__r{_op}__", _operator_method(_fn, reflected=True))
    setattr(Remote, f"__i{_op}__", _operator_method("i" + _op))
for _op in ("lt", "le", "eq", "ne", "gt", "ge", "neg", "pos", "invert", "getitem", "setitem",
            "delitem", "contains"):
    setattr(Remote, f"__{_op}__", _operator_method(_op))


# --- the trusted namespace --------------------------------------------------------------------------
class TrustedNamespace(dict):
    """Globals of the test cells: their own names first, then built-ins, then the reference
    notebook's library imports (bound on first use), then the student's kernel."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.library_names: dict[str, tuple[str, str | None]] = {}   # name -> (module, attribute)

    def __missing__(self, name):
        if name in self.library_names:
            module, attribute = self.library_names[name]
            value = importlib.import_module(module)
            if attribute is not None:
                value = getattr(value, attribute) if hasattr(value, attribute) else \
                    importlib.import_module(f"{module}.{attribute}")
            self[name] = value
            return value
        if hasattr(builtins, name) or Session.channel is None:
            raise KeyError(name)
        value = Session.channel.request("name", name)
        if value is MISSING:
            raise KeyError(name)
        return value


def remote_import():
    real_import = builtins.__import__

    def tito_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and not trusted_module(name):
            channel = current_channel()
            module = channel.request("import", name)
            return module if fromlist or "." not in name else channel.request("import", name.split(".")[0])
        return real_import(name, globals, locals, fromlist, level)

    return tito_import


def new_namespace() -> TrustedNamespace:
    namespace = TrustedNamespace(__name__=NAMESPACE)
    trusted_builtins = dict(vars(builtins))
    trusted_builtins["__import__"] = remote_import()
    namespace["__builtins__"] = trusted_builtins
    return namespace


def prebind_trusted_names(namespace: TrustedNamespace, sources: list[str]) -> None:
    """Bind the library imports and literal constants of the reference notebook's given cells here,
    so tests use this process's numpy (and the author's tolerances), whatever the student rebinds.
    Imports are resolved on first use: most tests never touch matplotlib."""
    for source in sources:
        try:
            tree = ast.parse(strip_magics(source))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if trusted_module(alias.name):
                        bound = alias.asname or alias.name.split(".")[0]
                        namespace.library_names[bound] = (alias.name if alias.asname else bound, None)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and trusted_module(node.module or ""):
                for alias in node.names:
                    if alias.name != "*":
                        namespace.library_names[alias.asname or alias.name] = (node.module, alias.name)
            elif isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
                try:
                    value = ast.literal_eval(node.value)
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    continue
                for target in node.targets:
                    namespace[target.id] = value


def strip_magics(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def remote_class_statements(source: str) -> tuple[ast.Module, dict[str, str]]:
    """The cell's code with each top-level class statement replaced by a call that defines the
    class in the student's kernel (its instances must live there, next to their base classes)."""
    tree = ast.parse(strip_magics(source))
    lines = source.splitlines()
    classes = {}
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.ClassDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            classes[node.name] = "\n".join(lines[first - 1:node.end_lineno])
            call = ast.parse(f"{node.name} = __tito_define_class__({node.name!r})").body[0]
            tree.body[i] = ast.copy_location(call, node)
    return ast.fix_missing_locations(tree), classes


def run_cell(source: str, namespace: TrustedNamespace, label: str) -> str:
    """Execute a trusted cell; returns what it printed. Raises whatever the test raised."""
    tree, classes = remote_class_statements(source)
    namespace["__tito_define_class__"] = lambda name: current_channel().request("defclass", classes[name], name)
    code = compile(tree, label, "exec")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        try:
            exec(code, namespace)
        finally:
            namespace.pop("__tito_define_class__", None)
    return printed.getvalue()


def failing_line(exc: BaseException, label: str) -> int | None:
    """The line of the test cell where `exc` was raised (for the feedback)."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == label:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def load_student_side() -> str:
    return (HERE / "student_side.py").read_text(encoding="utf-8")


if __name__ == "__main__":   # pragma: no cover
    sys.exit("this module is imported by the executor")
