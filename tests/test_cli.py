"""The `fitbot` command as an operator meets it: real processes, real files, exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.storage import create_storage

ROOT = Path(__file__).resolve().parents[1]


def fitbot(
    *args: str, env: dict[str, str] | None = None, cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FITBOT_")}
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
        check=False,
    )


def test_version_and_help(tmp_path: Path) -> None:
    assert fitbot("--version", cwd=tmp_path).stdout.startswith("fitbot ")
    out = fitbot("--help", cwd=tmp_path).stdout
    for command in ("run", "sandbox", "caseworker", "backup", "restore", "status"):
        assert command in out


def test_run_without_a_token_exits_2_and_says_what_to_do(tmp_path: Path) -> None:
    result = fitbot("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "telegram.token" in result.stderr
    assert "FITBOT_TELEGRAM_TOKEN" in result.stderr
    assert "fitbot sandbox" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_configuration_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[schedule]\nquiet_start = "late"\n', encoding="utf-8")
    result = fitbot("status", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("fitbot: configuration error: schedule.quiet_start:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_caseworker_add_list_disable_and_token_stored_hashed(tmp_path: Path) -> None:
    env = {"FITBOT_DATABASE_PATH": str(tmp_path / "db.sqlite3")}
    added = fitbot("caseworker", "add", "Rikke Holm", "--team", "Nord", cwd=tmp_path, env=env)
    assert added.returncode == 0, added.stderr
    link = next(line for line in added.stdout.splitlines() if "?start=" in line)
    token = link.split("?start=")[1]
    assert len(token) >= 22  # 128 bits in base64url
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        stored = [row[0] for row in db.execute("SELECT token_hash FROM invitations")]
    assert token not in stored
    assert len(stored[0]) == 64
    listed = fitbot("caseworker", "list", cwd=tmp_path, env=env)
    assert "Rikke Holm" in listed.stdout
    assert "not linked yet" in listed.stdout
    assert fitbot("caseworker", "disable", "1", cwd=tmp_path, env=env).returncode == 0
    assert "disabled" in fitbot("caseworker", "list", cwd=tmp_path, env=env).stdout
    assert fitbot("caseworker", "disable", "1", cwd=tmp_path, env=env).returncode == 1


def test_status_backup_and_restore(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    env = {"FITBOT_DATABASE_PATH": str(db)}
    fitbot("caseworker", "add", "Rikke", cwd=tmp_path, env=env)
    status = fitbot("status", cwd=tmp_path, env=env)
    assert "schema version:" in status.stdout
    assert "pending sends:" in status.stdout
    assert status.returncode == 0, status.stdout
    backup = tmp_path / "backup.sqlite3"
    assert fitbot("backup", str(backup), cwd=tmp_path, env=env).returncode == 0
    fitbot("caseworker", "add", "Someone Later", cwd=tmp_path, env=env)
    restored = fitbot("restore", str(backup), cwd=tmp_path, env=env)
    assert restored.returncode == 0, restored.stderr
    listed = fitbot("caseworker", "list", cwd=tmp_path, env=env).stdout
    assert "Rikke" in listed
    assert "Someone Later" not in listed
    assert Path(f"{db}.before-restore").exists()


def test_restore_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    result = fitbot("restore", str(junk), cwd=tmp_path, env={"FITBOT_DATABASE_PATH": str(tmp_path / "db.sqlite3")})
    assert result.returncode == 1
    assert "not a FIT-bot database" in result.stderr


def test_restore_refuses_while_a_bot_holds_the_database(tmp_path: Path) -> None:
    from bot.storage.sqlite import instance_lock

    db = tmp_path / "db.sqlite3"
    env = {"FITBOT_DATABASE_PATH": str(db)}
    fitbot("caseworker", "add", "Rikke", cwd=tmp_path, env=env)
    backup = tmp_path / "backup.sqlite3"
    fitbot("backup", str(backup), cwd=tmp_path, env=env)
    with instance_lock(db) as mine:
        assert mine
        result = fitbot("restore", str(backup), cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "in use" in result.stderr


def test_sandbox_round_trip_from_a_script(tmp_path: Path) -> None:
    script = "/nysag A12 6-12\n/inviter A12 forælder\n:quit\n"
    result = fitbot("sandbox", cwd=tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    assert "Sag A12 er oprettet" in result.stdout
    assert "?start=" in result.stdout


# --- admin commands in this process (to give the code a migration the database has not had) --------------


def in_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str]) -> Callable[..., tuple[int, str]]:
    """`fitbot ARGS` in this process: exit code and stdout. Settings only from `env`; logging left alone."""
    import bot.cli

    for name in [n for n in os.environ if n.startswith("FITBOT_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(bot.cli, "setup_logging", lambda level: None)

    def run(*args: str) -> tuple[int, str]:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = bot.cli.main(list(args))
        return code, out.getvalue()

    return run


def one_migration_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """This release knows a migration more than the database has: the state just after an upgrade."""
    from bot.storage import migrations

    real = migrations.available()
    future = migrations.Migration(real[-1].version + 1, "future", "CREATE TABLE future_table (x INTEGER);")
    monkeypatch.setattr(migrations, "available", lambda: [*real, future])


def schema_of(path: Path) -> tuple[int, bool]:
    """(recorded migration level, whether the future migration's table exists)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        version = db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]
        future = db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'future_table'").fetchone()[0]
    return version, bool(future)


def test_status_and_backup_on_a_database_one_migration_behind_leave_it_unmigrated(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db = tmp_path / "db.sqlite3"
    run = in_process(monkeypatch, tmp_path, {"FITBOT_DATABASE_PATH": str(db)})
    assert run("caseworker", "add", "Rikke")[0] == 0
    current = schema_of(db)[0]
    one_migration_ahead(monkeypatch)

    code, out = run("status")
    assert code == 1, out
    assert f"schema version:       {current} (this release: {current + 1})  UPGRADE PENDING" in out
    assert "health:               ATTENTION: upgrade pending" in out
    assert "pending sends:        0 (0 due now)" in out  # the other figures still shown
    assert schema_of(db) == (current, False)  # not migrated under the old bot

    code, out = run("backup", str(tmp_path / "copy.sqlite3"))
    assert code == 0, out
    assert schema_of(db) == (current, False)
    assert schema_of(tmp_path / "copy.sqlite3") == (current, False)  # the database as it was


def test_status_on_postgres_reads_without_migrating(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, postgres_dsn: str
) -> None:
    import asyncpg

    from tests.pg_cluster import fresh_database

    async def scenario() -> None:
        async with fresh_database(postgres_dsn) as dsn:
            storage = create_storage(tmp_path / "unused.sqlite3", dsn)
            await storage.open(datetime.now(UTC))
            await storage.close()
            run = in_process(monkeypatch, tmp_path, {"FITBOT_DATABASE_POSTGRES_DSN": dsn})
            code, out = await asyncio.to_thread(run, "status")
            assert code == 0, out
            assert "health:               ok" in out
            one_migration_ahead(monkeypatch)
            code, out = await asyncio.to_thread(run, "status")
            assert code == 1, out
            assert "UPGRADE PENDING" in out
            conn = await asyncpg.connect(dsn)
            try:
                assert await conn.fetchval("SELECT to_regclass('future_table')") is None
            finally:
                await conn.close()

    asyncio.run(scenario())


def test_status_without_a_database_creates_none(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    result = fitbot("status", cwd=tmp_path, env={"FITBOT_DATABASE_PATH": str(db)})
    assert result.returncode == 1
    assert "no database at" in result.stderr
    assert not db.exists()


# --- status: the figures and the exit code -------------------------------------------------------------


def put_rows(db: Path, now: datetime, *, due: list[timedelta], contact: timedelta | None) -> None:
    """Outbox rows due at now + each of `due` (pending), failed ones, and the last Bot API contact."""
    from bot.storage.db import to_db_time

    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        rows = [(f"p{n}", "prompt", "pending", to_db_time(now + d), None, None) for n, d in enumerate(due)]
        rows += [
            ("f1", "summary", "failed", to_db_time(now), "no destination: caseworker disabled", to_db_time(now)),
            ("f2", "summary", "failed", to_db_time(now), "no destination: caseworker disabled", to_db_time(now)),
            ("f3", "prompt", "failed", to_db_time(now), "403 unreachable", to_db_time(now - timedelta(days=2))),
        ]
        conn.executemany(
            "INSERT INTO outbox (dedupe_key, kind, status, due_at, outcome, done_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(*r, to_db_time(now)) for r in rows],
        )
        if contact is not None:
            conn.execute(
                "INSERT INTO health (name, value, updated_at) VALUES ('last_api_contact', 'ok', ?)",
                (to_db_time(now - contact),),
            )


STATUS_CASES = {
    # name: (due offsets of pending rows, age of the last contact, exit code, what the health line says)
    "quiet and in touch": ([timedelta(hours=3)], timedelta(seconds=30), 0, "ok"),
    "quiet, no contact for hours (nothing to send)": ([timedelta(hours=3)], timedelta(hours=2), 0, "ok"),
    "a send just due, in touch": ([-timedelta(minutes=2)], timedelta(seconds=30), 0, "ok"),
    "a send 20 min overdue": ([-timedelta(minutes=20), timedelta(hours=3)], timedelta(seconds=30), 1, "overdue"),
    "a send due, no contact for 25 min": ([-timedelta(minutes=2)], timedelta(minutes=25), 1, "not answered for 25"),
    "a send due, never in touch": ([-timedelta(minutes=2)], None, 1, "never answered"),
}


@pytest.mark.parametrize("case", STATUS_CASES, ids=list(STATUS_CASES))
def test_status_figures_and_exit_code(tmp_path: Path, case: str) -> None:
    due, contact, expected_code, health = STATUS_CASES[case]
    db = tmp_path / "db.sqlite3"
    env = {"FITBOT_DATABASE_PATH": str(db)}
    assert fitbot("caseworker", "add", "Rikke", cwd=tmp_path, env=env).returncode == 0
    put_rows(db, datetime.now(UTC), due=due, contact=contact)
    result = fitbot("status", cwd=tmp_path, env=env)
    assert result.returncode == expected_code, result.stdout
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines() if not line.startswith(" "))
    overdue = sum(1 for d in due if d <= timedelta(0))
    assert lines["pending sends"].strip() == f"{len(due)} ({overdue} due now)"
    assert lines["oldest overdue send"].strip() == (
        "none" if not overdue else f"{-min(due).total_seconds() / 60:.0f} min"
    )
    # Failed sends by kind and reason, the most frequent first; how many of them in the last day.
    assert lines["failed sends"].strip() == "3 (2 in the last 24 h)"
    detail = [line.split() for line in result.stdout.splitlines() if line.startswith("  ")]
    assert detail == [
        ["2", "summary:", "no", "destination:", "caseworker", "disabled"],
        ["1", "prompt:", "403", "unreachable"],
    ]
    assert lines["unreachable people"].strip() == "0"
    if contact is None:
        assert lines["last Bot API contact"].strip() == "never"
    else:
        assert lines["last Bot API contact"].strip().endswith(f"({_age_text(contact)} ago)")
    assert health in lines["health"], result.stdout


def _age_text(delta: timedelta) -> str:
    from bot.cli import _age

    return _age(delta.total_seconds())


# --- backup and restore ------------------------------------------------------------------------------


def test_backup_on_postgres_says_pg_dump_in_one_line(tmp_path: Path) -> None:
    result = fitbot(
        "backup",
        str(tmp_path / "x.sqlite3"),
        cwd=tmp_path,
        env={"FITBOT_DATABASE_POSTGRES_DSN": "postgresql://nobody@nowhere/x"},
    )
    assert result.returncode == 2
    assert "pg_dump" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.sqlite3").exists()


KILLED_WRITER = """
import os, signal, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA wal_autocheckpoint=0")  # as a busy bot between checkpoints: the row stays in the WAL
db.execute("INSERT INTO caseworkers (name, role, created_at) VALUES ('Only In The WAL', 'caseworker', 'x')")
os.kill(os.getpid(), signal.SIGKILL)  # committed, never checkpointed: as a bot killed with -9
"""


def test_restore_keeps_rows_a_killed_bot_left_in_the_wal(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    env = {"FITBOT_DATABASE_PATH": str(db)}
    fitbot("caseworker", "add", "Rikke", cwd=tmp_path, env=env)
    backup = tmp_path / "backup.sqlite3"
    assert fitbot("backup", str(backup), cwd=tmp_path, env=env).returncode == 0
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(db)], check=False)  # noqa: S603
    assert killed.returncode == -9
    assert Path(f"{db}-wal").stat().st_size > 0  # the committed row is only in the write-ahead log

    restored = fitbot("restore", str(backup), cwd=tmp_path, env=env)
    assert restored.returncode == 0, restored.stderr
    kept = Path(f"{db}.before-restore")
    with contextlib.closing(sqlite3.connect(f"file:{kept}?mode=ro", uri=True)) as before:
        names = {n for (n,) in before.execute("SELECT name FROM caseworkers")}
        assert before.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert names == {"Rikke", "Only In The WAL"}  # the safety copy has the WAL's row
    listed = fitbot("caseworker", "list", cwd=tmp_path, env=env).stdout
    assert "Rikke" in listed
    assert "Only In The WAL" not in listed  # and the backup is what is in place now
    leftovers = {p.name for p in tmp_path.iterdir()} - {"db.sqlite3", "db.sqlite3.lock", "backup.sqlite3"}
    assert leftovers <= {"db.sqlite3.before-restore", "db.sqlite3-wal", "db.sqlite3-shm"}, leftovers


def test_restore_over_an_unreadable_database_keeps_its_files_as_they_are(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    env = {"FITBOT_DATABASE_PATH": str(db)}
    fitbot("caseworker", "add", "Rikke", cwd=tmp_path, env=env)
    backup = tmp_path / "backup.sqlite3"
    assert fitbot("backup", str(backup), cwd=tmp_path, env=env).returncode == 0
    for name in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        name.unlink(missing_ok=True)
    db.write_bytes(b"damaged" * 1000)
    restored = fitbot("restore", str(backup), cwd=tmp_path, env=env)
    assert restored.returncode == 0, restored.stderr
    assert Path(f"{db}.before-restore").read_bytes() == b"damaged" * 1000
    assert "Rikke" in fitbot("caseworker", "list", cwd=tmp_path, env=env).stdout


# --- caseworker add/link with --config ----------------------------------------------------------------


async def test_caseworker_add_and_link_use_the_config_given(tmp_path: Path) -> None:
    """The link names the bot of the --config file's token, even with another config.toml where it runs."""
    from bot.sandbox.emulator import Emulator

    settings = tmp_path / "etc" / "fitbot.toml"
    settings.parent.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    (work / "config.toml").write_text('[schedule]\nquiet_start = "late"\n', encoding="utf-8")  # not this one
    async with Emulator(strict=True, bot_username="gladsaxe_fit_bot") as emulator:
        settings.write_text(
            f'[telegram]\ntoken = "{emulator.token}"\nbase_url = "{emulator.base_url}"\n'
            f'[database]\npath = "{tmp_path / "db.sqlite3"}"\n',
            encoding="utf-8",
        )
        for args in (("caseworker", "add", "Rikke"), ("caseworker", "link", "1")):
            result = await asyncio.to_thread(fitbot, "--config", str(settings), *args, cwd=work)
            assert result.returncode == 0, result.stderr
            assert "https://t.me/gladsaxe_fit_bot?start=" in result.stdout
