"""A throwaway PostgreSQL cluster on a loopback port, from Debian's ``postgresql`` binaries.

``initdb`` and ``pg_ctl`` refuse to run as root, so as root they run as the
``postgres`` system user (``runuser``), in a temporary folder that user owns.
Tests that need it skip only when the binaries are not installed.
"""

from __future__ import annotations

import asyncio
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.webapp import free_port


def binaries() -> Path | None:
    """The newest installed PostgreSQL ``bin`` folder, or ``None``."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _as_owner(cmd: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *cmd] if owner else cmd


@contextmanager
def cluster() -> Iterator[str]:
    """Start a cluster; yields its ``postgresql://`` URL (database ``chat``); stops and deletes it after."""
    bin_dir = binaries()
    assert bin_dir is not None
    owner = "postgres" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="chat-pg-"))
    data, sockets = base / "data", base / "run"
    sockets.mkdir()
    if owner:
        entry = pwd.getpwnam(owner)
        for path in (base, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    port = free_port()
    run = lambda *cmd: subprocess.run(_as_owner([*cmd], owner), check=True, capture_output=True, timeout=120)  # noqa: E731
    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "chat", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-h 127.0.0.1 -p {port} -k {sockets} -F"  # loopback only; -F: no fsync, it is thrown away
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start")
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "chat", "chat")
        yield f"postgresql://chat@127.0.0.1:{port}/chat"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], owner),
                capture_output=True, timeout=60,
            )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


_numbers = itertools.count(1)


def new_database(cluster_url: str) -> str:
    """Create an empty database on the cluster; returns its URL."""
    import asyncpg

    name = f"test_{os.getpid()}_{next(_numbers)}"

    async def create() -> None:
        conn = await asyncpg.connect(cluster_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return cluster_url.rsplit("/", 1)[0] + f"/{name}"
