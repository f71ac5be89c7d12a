"""A PostgreSQL server for tests: an existing one named by a DSN, or a throwaway cluster.

`postgres_server()` answers, once per test session, where a superuser-ish DSN for a maintenance
database is:

1. ``FITBOT_TEST_POSTGRES_DSN`` when set (CI may provide a service container this way);
2. else a throwaway cluster started from local server binaries: ``pg_ctl``/``initdb`` on PATH, or
   Debian's ``/usr/lib/postgresql/<version>/bin`` (the postgresql package does not put them on PATH).
   The cluster lives in a fresh directory under /tmp, listens only on a Unix socket in that
   directory (no TCP port, so nothing can collide), trusts local connections, and runs with
   fsync off (the data is thrown away). It is stopped and removed at the end of the session.

   initdb and postgres refuse to run as root. When the tests run as root, the cluster is created and
   started as the ``postgres`` system user (made by Debian's package), else as ``nobody``, through
   ``subprocess.run(user=..., group=...)`` - no ``su``/``runuser``, no user created. The directory is
   chowned to that user; /tmp is world-traversable, so root's tests can reach the socket.
3. else nothing: callers skip (or fail when ``CI`` is set: CI must exercise PostgreSQL).

`fresh_database(dsn)` then makes an empty database per test (CREATE DATABASE from template0), or,
when the DSN's role may not create databases, an empty schema named in the DSN's search_path.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

DSN_ENV = "FITBOT_TEST_POSTGRES_DSN"
SUPERUSER = "postgres"


def find_bin_dir() -> Path | None:
    """Where pg_ctl, initdb and postgres are, newest version first; None when not installed."""
    candidates: list[Path] = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        # /usr/local/bin/pg_ctl may be a symlink into /usr/lib/postgresql/N/bin: use the real place.
        candidates.append(Path(os.path.realpath(on_path)).parent)
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += [Path(p) for p in versions]
    for directory in candidates:
        if all((directory / tool).is_file() for tool in ("pg_ctl", "initdb", "postgres")):
            return directory
    return None


def _run_as() -> tuple[int, int] | None:
    """(uid, gid) to run the server as, or None to run as ourselves (not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root, and neither a 'postgres' nor a 'nobody' user exists to run initdb")


@dataclass
class Cluster:
    bin_dir: Path
    base: Path
    user: tuple[int, int] | None
    port: int = 5432

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def dsn(self) -> str:
        return f"postgresql://{SUPERUSER}@/postgres?host={self.base}&port={self.port}"

    def _run(self, *args: str) -> None:
        kwargs: dict = {}
        if self.user is not None:
            kwargs = {"user": self.user[0], "group": self.user[1], "extra_groups": []}
        result = subprocess.run(  # noqa: S603 - our own arguments, no shell
            [str(self.bin_dir / args[0]), *args[1:]],
            cwd=self.base,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            **kwargs,
        )
        if result.returncode != 0:
            log = self.base / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip()}\n{tail}")

    def start(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--no-sync",
            "--encoding=UTF8",
            "--locale=C.UTF-8",  # not plain C: lower() must know æøå, as in production
        )
        options = " ".join(
            [
                "-c listen_addresses=''",
                f"-c unix_socket_directories='{self.base}'",
                f"-c port={self.port}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.base / "server.log"),
            "-w",
            "-t",
            "30",
            "-o",
            options,
            "start",
        )

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def start_cluster(bin_dir: Path) -> Cluster:
    user = _run_as()
    base = Path(tempfile.mkdtemp(prefix="fitbot-pg-", dir="/tmp"))
    if user is not None:
        os.chown(base, *user)
    cluster = Cluster(bin_dir, base, user)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextlib.contextmanager
def postgres_server() -> Iterator[str | None]:
    """The maintenance DSN of a server for this session, or None when there is none to be had."""
    dsn = os.environ.get(DSN_ENV, "").strip()
    if dsn:
        yield dsn
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        yield None
        return
    cluster = start_cluster(bin_dir)
    try:
        yield cluster.dsn
    finally:
        cluster.stop()


def _with_database(dsn: str, database: str, **query: str) -> str:
    parts = urlsplit(dsn)
    params = dict(parse_qsl(parts.query))
    params.update(query)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, urlencode(params), parts.fragment))


@contextlib.asynccontextmanager
async def fresh_database(dsn: str) -> AsyncIterator[str]:
    """An empty database (or schema) for one test; its DSN. Dropped afterwards."""
    import asyncpg

    name = "fitbot_test_" + secrets.token_hex(6)
    admin = await asyncpg.connect(dsn)
    try:
        try:
            await admin.execute(f"CREATE DATABASE {name} TEMPLATE template0")
            created = "database"
        except asyncpg.InsufficientPrivilegeError:
            await admin.execute(f"CREATE SCHEMA {name}")
            created = "schema"
    finally:
        await admin.close()
    if created == "database":
        target = _with_database(dsn, name)
    else:
        target = _with_database(dsn, urlsplit(dsn).path.lstrip("/") or "postgres", search_path=name)
    try:
        yield target
    finally:
        admin = await asyncpg.connect(dsn)
        try:
            if created == "database":
                await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                await admin.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        finally:
            await admin.close()


# --- pytest fixture (import it into a conftest.py to use it) ---------------------------------------


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> NoReturn:
    """Skip the PostgreSQL tests, or fail them under CI: CI must exercise PostgreSQL."""
    if in_ci():
        pytest.fail(f"CI must test PostgreSQL, but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A maintenance DSN of a PostgreSQL server for the session; skips without one (fails under CI)."""
    dsn = os.environ.get(DSN_ENV, "").strip()
    if dsn:
        yield dsn
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        unavailable(
            f"there is no PostgreSQL: set {DSN_ENV}, or install the server (Debian: apt-get install "
            "postgresql; pg_ctl and initdb are looked for on PATH and in /usr/lib/postgresql/*/bin)"
        )
    try:
        cluster = start_cluster(bin_dir)
    except RuntimeError as exc:  # binaries there, but the throwaway cluster would not start
        unavailable(f"a throwaway PostgreSQL cluster would not start: {exc}")
    try:
        yield cluster.dsn
    finally:
        cluster.stop()
