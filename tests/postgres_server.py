"""A throwaway PostgreSQL server for the tests: Debian's `postgresql` binaries, a data folder in a
temporary directory, listening on loopback only, trust authentication for one user."""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def server_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_server_user() -> list[str]:
    """initdb refuses to run as root: run the server as Debian's `postgres` user then."""
    if os.geteuid() != 0:
        return []
    pwd.getpwnam("postgres")     # KeyError: the package that creates it is not installed
    return ["runuser", "-u", "postgres", "--"]


@contextlib.contextmanager
def postgres_server(database: str = "gradebook") -> Iterator[str]:
    """Start a server; yields the URL of a fresh database on it; stops and deletes it after."""
    bindir = server_binaries()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL's server is not installed (Debian package postgresql)")
    prefix = as_server_user()
    root = Path(tempfile.mkdtemp(prefix="tito-pg-"))
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    sockets.mkdir()
    if prefix:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    run = lambda *cmd: subprocess.run([*prefix, *cmd], check=True, capture_output=True, text=True)  # noqa: E731
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "tito", "-A", "trust", "-E", "UTF8")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o",
            f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "tito", database)
        yield f"postgresql://tito@127.0.0.1:{port}/{database}"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
