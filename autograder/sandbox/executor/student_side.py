"""The student's end of the grading harness: runs INSIDE the student's kernel.

The grader's trusted process sends this file's source to the kernel once; it becomes the module
`_tito_student_side`. While a test cell is being judged, the kernel's main thread sits in `serve()`:
it answers the grader's requests (look up a name, get an attribute, call, apply an operator) on
the student's objects, and sends results back as plain JSON: numbers, strings, arrays as bytes, and
numbered references for everything else. Nothing here is trusted by the grader: the student's code
may rewrite this module, and the grader treats every answer as data to check, never as a verdict.
Requests come pickled FROM the grader (trusted to untrusted, so unpickling them here is safe).
"""
import base64
import builtins
import importlib
import io
import json
import operator
import pickle
import socket
import struct

import numpy as np

MAX_MESSAGE = 256 * 2**20
REFS = {}       # ref id -> object (kept alive so ids stay valid for the whole notebook)
REF_IDS = {}    # id(object) -> ref id
CURRENT = []   # the connection of the test cell being judged
OPERATORS = {name for name in dir(operator) if not name.startswith("_")}
BUILTINS = {"len", "iter", "next", "bool", "int", "float", "complex", "hash", "repr", "str", "format",
            "isinstance", "issubclass", "dir", "abs", "round", "reversed", "callable"}
NUMERIC_KINDS = "biufc"


def ref(obj):
    key = id(obj)
    if key not in REF_IDS:
        REF_IDS[key] = len(REFS) + 1
        REFS[REF_IDS[key]] = obj
    kind = "ndarray" if isinstance(obj, np.ndarray) else "class" if isinstance(obj, type) else \
        "callable" if callable(obj) else "object"
    return {"$": "ref", "id": REF_IDS[key], "kind": kind, "type": type(obj).__qualname__}


def encode_array(arr):
    if arr.dtype.kind not in NUMERIC_KINDS:
        raise TypeError(f"cannot send an array of dtype {arr.dtype} to the grader")
    # tobytes(order="C") copes with any strides and keeps a 0-d array 0-d (ascontiguousarray would not)
    return {"$": "ndarray", "dtype": arr.dtype.str, "shape": list(arr.shape),
            "b64": base64.b64encode(arr.tobytes(order="C")).decode()}


def encode(obj, depth=0):
    """Plain data by value (exact built-in types only), anything else by reference."""
    kind = type(obj)
    if obj is None or kind in (bool, int, str):
        return obj
    if kind is float:
        return {"$": "float", "v": repr(obj)}
    if kind is complex:
        return {"$": "complex", "re": repr(obj.real), "im": repr(obj.imag)}
    if kind is bytes:
        return {"$": "bytes", "b64": base64.b64encode(obj).decode()}
    if kind in (tuple, list) and depth < 6 and len(obj) <= 100_000:
        return {"$": kind.__name__, "v": [encode(x, depth + 1) for x in obj]}
    if kind is dict and depth < 6 and all(type(k) is str for k in obj):
        return {"$": "dict", "v": {k: encode(v, depth + 1) for k, v in obj.items()}}
    if kind is slice:
        return {"$": "slice", "v": [encode(obj.start), encode(obj.stop), encode(obj.step)]}
    if obj is Ellipsis:
        return {"$": "ellipsis"}
    if isinstance(obj, np.generic) and kind.__module__ == "numpy" and obj.dtype.kind in NUMERIC_KINDS:
        return {"$": "npscalar", "dtype": obj.dtype.str, "b64": base64.b64encode(obj.tobytes()).decode()}
    if isinstance(obj, np.dtype) and obj.kind in NUMERIC_KINDS:
        return {"$": "dtype", "v": obj.str}
    if isinstance(obj, type) and issubclass(obj, np.generic) and obj.__module__ == "numpy":
        return {"$": "nptype", "v": obj.__name__}
    if isinstance(obj, type) and getattr(builtins, obj.__name__, None) is obj:
        return {"$": "builtin", "v": obj.__name__}
    if kind.__name__ == "module":
        return {"$": "module", "name": obj.__name__, "ref": ref(obj)}
    return ref(obj)


class Callback:
    """A function of the grader's (e.g. a lambda in a test) handed to the student's code."""

    def __init__(self, number):
        self.number = number

    def __call__(self, *args, **kwargs):
        conn = CURRENT[-1]
        conn.send_json({"k": "cb", "id": self.number, "args": encode(list(args)), "kwargs": encode(kwargs)})
        return conn.loop(until_callback_return=True)


class Unpickler(pickle.Unpickler):
    def __init__(self, data):
        super().__init__(io.BytesIO(data))

    def persistent_load(self, pid):
        tag, number = pid
        if tag == "ref":
            return REFS[number]
        return Callback(number)


def user_namespace():
    return get_ipython().user_ns  # noqa: F821 (this module runs inside IPython)


def handle(op, args):
    if op == "name":
        ns = user_namespace()
        return encode(ns[args[0]]) if args[0] in ns else {"$": "missing"}
    if op == "getattr":
        return encode(getattr(args[0], args[1]))
    if op == "setattr":
        setattr(args[0], args[1], args[2])
        return None
    if op == "delattr":
        delattr(args[0], args[1])
        return None
    if op == "call":
        return encode(args[0](*args[1], **args[2]))
    if op == "operator" and args[0] in OPERATORS:
        return encode(getattr(operator, args[0])(*args[1]))
    if op == "builtin" and args[0] in BUILTINS:
        return encode(getattr(builtins, args[0])(*args[1]))
    if op == "value":
        return encode_array(np.asarray(args[0]))
    if op == "import":
        return ref(importlib.import_module(args[0]))
    if op == "defclass":
        exec(compile(args[0], f"<class {args[1]} of a test>", "exec"), user_namespace())
        return encode(user_namespace()[args[1]])
    raise ValueError(f"unknown request {op!r}")


def error_reply(exc):
    names = [c.__name__ for c in type(exc).__mro__]
    return {"k": "ret", "ok": False, "etype": type(exc).__name__, "mro": names, "msg": str(exc)[:4000]}


class Connection:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)

    def send_json(self, message):
        data = json.dumps(message).encode()
        self.sock.sendall(struct.pack("!Q", len(data)) + data)

    def recv(self):
        head = self.read_exactly(8)
        (size,) = struct.unpack("!Q", head)
        if size > MAX_MESSAGE:
            raise ValueError("message too large")
        return Unpickler(self.read_exactly(size)).load()

    def read_exactly(self, size):
        chunks, left = [], size
        while left:
            chunk = self.sock.recv(min(left, 1 << 20))
            if not chunk:
                raise EOFError("the grader closed the connection")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def loop(self, until_callback_return=False):
        while True:
            message = self.recv()
            if message[0] == "done":
                return None
            if message[0] == "cbret":
                if not until_callback_return:
                    continue
                if message[1]:
                    return message[2]
                raise message[2]
            try:
                reply = {"k": "ret", "ok": True, "v": handle(message[1], message[2])}
            except BaseException as exc:  # the student's error is the test's error, not ours
                reply = error_reply(exc)
            try:
                self.send_json(reply)
            except (TypeError, ValueError) as exc:   # e.g. an unencodable float
                self.send_json(error_reply(exc))


def serve(path):
    """Answer the grader's requests until it says a test cell is done."""
    conn = Connection(path)
    CURRENT.append(conn)
    try:
        conn.loop()
    finally:
        CURRENT.remove(conn)
        conn.sock.close()
