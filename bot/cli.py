"""The `fitbot` command.

    fitbot                 run the bot if a token is configured, else the offline sandbox
    fitbot run             poll Telegram (or any Bot API server); needs a token
    fitbot sandbox         emulator + bot + a terminal chat, no network, throwaway data
    fitbot caseworker add|list|disable|enable|link
    fitbot case handover LABEL --from ID --to ID
    fitbot backup PATH     a consistent copy of the SQLite database, while the bot runs
    fitbot restore PATH    put a backup in place (refuses while the bot is running)
    fitbot status          schema version, pending sends, overdue, unreachable, last Bot API contact

Exit codes: 0 fine, 1 failed, 2 bad configuration or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import __version__
from bot.config import Config, ConfigError, find_config_file, load

if TYPE_CHECKING:
    from bot.storage import Repository

log = logging.getLogger("bot")

HOW_TO_SET_IT_UP = (
    "telegram.token: no Telegram bot token is configured. Create a bot with @BotFather, then set "
    'FITBOT_TELEGRAM_TOKEN=<token> (or token = "..." under [telegram] in config.toml); '
    "or try FIT-bot offline with `fitbot sandbox`."
)


class _Formatter(logging.Formatter):
    """One line per event. Messages never carry answers or names (the code logs ids and kinds only)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text.replace("\n", " | ")


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL, and the URL holds the bot token: keep it quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # At DEBUG, PTB logs every update and request in full and aiosqlite every statement with its values:
    # names, texts and answers. Those stay at INFO, so DEBUG can be turned on without logging them.
    for name in ("telegram", "aiosqlite"):
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fitbot", description="FIT-bot: ORS/SRS feedback for family departments.")
    parser.add_argument("--version", action="version", version=f"fitbot {__version__}")
    parser.add_argument("--config", type=Path, help="settings file (default: $FITBOT_CONFIG or ./config.toml)")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot against Telegram (needs a token)")
    sandbox = sub.add_parser("sandbox", help="try the bot offline in this terminal")
    sandbox.add_argument("--db", type=Path, help="keep the sandbox's data in this SQLite file")

    cw = sub.add_parser("caseworker", help="enrol and manage caseworkers").add_subparsers(dest="action", required=True)
    add = cw.add_parser("add", help="add a caseworker and print their one-time enrolment link")
    add.add_argument("name")
    add.add_argument("--team", default="")
    add.add_argument("--role", choices=("caseworker", "leader"), default="caseworker")
    cw.add_parser("list", help="list caseworkers")
    disable = cw.add_parser("disable", help="refuse a caseworker's commands from now on")
    disable.add_argument("id", type=int)
    enable = cw.add_parser("enable", help="give a disabled caseworker access again")
    enable.add_argument("id", type=int)
    link = cw.add_parser("link", help="a new enrolment link (lost phone, expired link)")
    link.add_argument("id", type=int)

    case = sub.add_parser("case", help="operator tasks on cases").add_subparsers(dest="action", required=True)
    handover = case.add_parser("handover", help="give a case, with its history, to another caseworker")
    handover.add_argument("label")
    handover.add_argument("--from", dest="from_id", type=int, required=True, help="current caseworker id")
    handover.add_argument("--to", dest="to_id", type=int, required=True, help="new caseworker id")

    backup = sub.add_parser("backup", help="consistent copy of the SQLite database (safe while running)")
    backup.add_argument("path", type=Path)
    restore = sub.add_parser("restore", help="replace the database with a backup (bot must be stopped)")
    restore.add_argument("path", type=Path)
    sub.add_parser("status", help="health: schema, pending and overdue sends, unreachable people")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load(find_config_file(args.config))
    except ConfigError as exc:
        print(f"fitbot: configuration error: {exc}", file=sys.stderr)
        return 2
    command = args.command or ("run" if config.telegram_token else "sandbox")
    # The sandbox shares the terminal with a chat: only warnings and errors there.
    setup_logging(config.log_level if command != "sandbox" or config.log_level == "DEBUG" else "WARNING")
    try:
        if command == "run":
            return _run(config)
        if command == "sandbox":
            from bot.sandbox_session import run_sandbox

            return asyncio.run(run_sandbox(config, db_path=getattr(args, "db", None)))
        return asyncio.run(_admin(command, args, config))
    except ConfigError as exc:
        print(f"fitbot: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


def _run(config: Config) -> int:
    if not config.telegram_token:
        raise ConfigError("telegram.token", HOW_TO_SET_IT_UP.split(": ", 1)[1])
    from bot.app import build, run_polling

    run_polling(build(config))
    return 0


async def _admin(command: str, args: argparse.Namespace, config: Config) -> int:
    from bot.clock import SystemClock
    from bot.services.context import Services
    from bot.storage import create_storage

    # These three only read the database (restore replaces the file whole): they never migrate it. A
    # `status` run by monitoring after a new version is installed must not upgrade the schema under the
    # old bot that is still running, and a backup is a copy of the database as it is.
    if command == "restore":
        return _restore(config, args.path)
    if command == "backup":
        return _backup(config, args.path)
    if command == "status":
        return await _status(config)
    storage = create_storage(config.database_path, config.postgres_dsn)
    clock = SystemClock()
    await storage.open(clock.now())
    try:
        from bot.app import policy_from

        svc = Services(storage=storage, clock=clock.now, policy=policy_from(config))
        if command == "caseworker":
            return await _caseworker(svc, args, config)
        if command == "case":
            return await _handover(svc, args)
    finally:
        await storage.close()
    return 2


async def _bot_username(svc, config: Config) -> str:  # type: ignore[no-untyped-def]
    """The name recorded by the running bot; else ask the Bot API; else a placeholder."""
    async with svc.storage.transaction() as repo:
        health = await repo.health()
    if "bot_username" in health and health["bot_username"][0]:
        return health["bot_username"][0]
    if config.telegram_token:
        from telegram import Bot

        try:
            async with Bot(config.telegram_token, base_url=config.base_url) as bot:
                return bot.username
        except Exception as exc:  # no network, wrong token: still print a usable token
            log.warning("could not ask the Bot API for the bot's name: %s", type(exc).__name__)
    return "<your_bot>"


async def _caseworker(svc, args: argparse.Namespace, config: Config) -> int:  # type: ignore[no-untyped-def]
    from bot.i18n import format_datetime_short, use_language
    from bot.services import enrolment

    config_tz = svc.policy.timezone
    if args.action in ("add", "link"):
        if args.action == "add":
            result = await enrolment.add_caseworker(svc, args.name, args.team, args.role)
        else:
            result = await enrolment.new_enrolment_link(svc, args.id)
            if result is None:
                print(f"fitbot: no active caseworker with id {args.id}", file=sys.stderr)
                return 1
        username = await _bot_username(svc, config)
        with use_language("da"):
            expires = format_datetime_short(result.expires_at, config_tz)
        print(f"caseworker id {result.caseworker_id}")
        print(f"one-time enrolment link (expires {expires}):")
        print(f"https://t.me/{username}?start={result.token}")
        return 0
    if args.action == "list":
        for c in await enrolment.list_caseworkers(svc):
            state = "disabled" if c.disabled_at else ("linked" if c.telegram_user_id else "not linked yet")
            print(f"{c.id:>5}  {c.name:<30} {c.team:<20} {c.role:<10} {state}")
        return 0
    if args.action == "disable":
        if await enrolment.disable_caseworker(svc, args.id):
            print(f"caseworker {args.id} disabled")
            return 0
        print(f"fitbot: no active caseworker with id {args.id}", file=sys.stderr)
        return 1
    if args.action == "enable":
        enabled = await enrolment.enable_caseworker(svc, args.id)
        if enabled is None:
            print(f"fitbot: no disabled caseworker with id {args.id}", file=sys.stderr)
            return 1
        print(f"caseworker {args.id} enabled")
        if enabled.telegram_user_id is None:
            print(f"no Telegram account linked: fitbot caseworker link {args.id}")
        return 0
    return 2


async def _handover(svc, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from bot.services import cases

    async with svc.storage.transaction() as repo:
        case = await repo.case_by_label(args.from_id, args.label)
    if case is None:
        print(f"fitbot: caseworker {args.from_id} has no case {args.label!r}", file=sys.stderr)
        return 1
    result = await cases.hand_over(svc, case.id, args.to_id)
    if isinstance(result, cases.CaseError):
        print(f"fitbot: handover refused: {result.value}", file=sys.stderr)
        return 1
    print(f"case {result.label} now belongs to caseworker {result.caseworker_id}")
    return 0


# `fitbot status` exits 1 (for a monitoring check) when one of these holds.
OVERDUE_LIMIT = 600  # seconds: the oldest due send is later than this
CONTACT_LIMIT = 600  # seconds: no answer from the Bot API for longer than this while a send is due
FAILED_REASONS_SHOWN = 10


class _ReadOnlyConnection:
    """The repositories' Connection over a read-only sqlite3 connection: `status` reads, never writes."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        return self._conn.execute(sql, params or {}).rowcount

    async def fetch_one(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._conn.execute(sql, params or {}).fetchone()

    async def fetch_all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        return list(self._conn.execute(sql, params or {}).fetchall())

    async def execute_script(self, sql: str) -> None:
        raise sqlite3.OperationalError("read-only connection")


def _read_only_uri(path: Path) -> str:
    return f"{path.resolve().as_uri()}?mode=ro"


@asynccontextmanager
async def _reading(config: Config) -> AsyncIterator[tuple[Repository, str]]:
    """One read transaction on the database as it is (no migration): the repository and its dialect."""
    from bot.storage import Repository, create_storage

    if config.postgres_dsn:
        storage = create_storage(config.database_path, config.postgres_dsn)
        await storage.db.open()  # the connection only; Storage.open would migrate
        try:
            async with storage.transaction() as repo:
                await repo.conn.execute("SET TRANSACTION READ ONLY")
                yield repo, "postgres"
        finally:
            await storage.close()
        return
    from bot.storage.sqlite import BUSY_TIMEOUT_MS

    conn = sqlite3.connect(_read_only_uri(config.database_path), uri=True, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("BEGIN")  # one snapshot for every figure
        yield Repository(_ReadOnlyConnection(conn)), "sqlite"  # type: ignore[arg-type]
    finally:
        conn.close()


async def _schema_version(repo: Repository, dialect: str) -> int:
    """The database's migration level; 0 before the first migration (no schema_migrations table)."""
    if dialect == "postgres":
        exists = await repo.conn.fetch_one("SELECT to_regclass('schema_migrations') IS NOT NULL AS e")
    else:
        exists = await repo.conn.fetch_one(
            "SELECT COUNT(*) AS e FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        )
    if not exists or not exists["e"]:
        return 0
    row = await repo.conn.fetch_one("SELECT MAX(version) AS v FROM schema_migrations")
    return int(row["v"] or 0) if row else 0


async def _failed_sends(repo: Repository, since: datetime) -> list[tuple[str, str, int, int]]:
    """(kind, reason, count, count since `since`) of the sends given up on, the most frequent first."""
    from bot.storage.db import to_db_time

    rows = await repo.conn.fetch_all(
        "SELECT kind, COALESCE(outcome, '') AS reason, COUNT(*) AS n, "
        "SUM(CASE WHEN done_at >= :since THEN 1 ELSE 0 END) AS recent FROM outbox WHERE status = 'failed' "
        "GROUP BY kind, COALESCE(outcome, '') ORDER BY COUNT(*) DESC, kind, COALESCE(outcome, '')",
        {"since": to_db_time(since)},
    )
    return [(r["kind"], r["reason"], int(r["n"]), int(r["recent"] or 0)) for r in rows]


async def _read_status(config: Config, now: datetime, latest: int) -> tuple[int, dict[str, Any] | None]:
    """The schema version, and the figures (None when a schema other than this release's lacks them)."""
    async with _reading(config) as (repo, dialect):
        version = await _schema_version(repo, dialect)
        try:
            return version, {
                "stats": await repo.outbox_stats(now),
                "failed": await _failed_sends(repo, now - timedelta(hours=24)),
                "unreachable": await repo.unreachable_count(),
                "contact": (await repo.health()).get("last_api_contact"),
            }
        except Exception:
            if version == latest:
                raise
            return version, None


async def _status(config: Config) -> int:
    from bot.storage.migrations import available

    where = "the PostgreSQL database" if config.postgres_dsn else str(config.database_path)
    if not config.postgres_dsn and not config.database_path.exists():
        print(f"fitbot: no database at {where} (the bot creates it when it starts)", file=sys.stderr)
        return 1
    latest = available()[-1].version
    now = datetime.now(UTC)
    try:
        version, facts = await _read_status(config, now, latest)
    except (sqlite3.Error, OSError) as exc:
        print(f"fitbot: cannot read {where}: {exc}", file=sys.stderr)
        return 1
    problems = []
    note = ""
    if version < latest:
        note = "  UPGRADE PENDING"
        problems.append("upgrade pending")
    elif version > latest:
        note = "  NEWER THAN THIS RELEASE"
        problems.append("database newer than this release")
    print(f"schema version:       {version} (this release: {latest}){note}")
    if facts is None:
        print("(the other figures need the schema of this release)")
    else:
        stats, contact = facts["stats"], facts["contact"]
        oldest = stats["oldest_due"]
        overdue_for = (now - oldest).total_seconds() if oldest and oldest <= now else 0
        contact_age = (now - contact[1]).total_seconds() if contact else None
        failed = facts["failed"]
        print(f"pending sends:        {stats['pending']} ({stats['overdue']} due now)")
        print(f"oldest overdue send:  {_age(overdue_for) if overdue_for else 'none'}")
        recent = sum(r for *_, r in failed)
        print(f"failed sends:         {stats['failed']}" + (f" ({recent} in the last 24 h)" if stats["failed"] else ""))
        for kind, reason, count, _recent in failed[:FAILED_REASONS_SHOWN]:
            print(f"  {count:>6}  {kind}: {reason or 'no reason recorded'}")
        if len(failed) > FAILED_REASONS_SHOWN:
            rest = sum(n for _k, _r, n, _ in failed[FAILED_REASONS_SHOWN:])
            print(f"  {rest:>6}  (other kinds and reasons)")
        print(f"unreachable people:   {facts['unreachable']}")
        print(f"last Bot API contact: {_since(now, contact[1]) if contact else 'never'}")
        if overdue_for >= OVERDUE_LIMIT:
            problems.append(f"a send is {_age(overdue_for)} overdue")
        if stats["overdue"] and (contact_age is None or contact_age >= CONTACT_LIMIT):
            problems.append(
                "sends are due and the Bot API "
                + ("never answered" if contact_age is None else f"has not answered for {_age(contact_age)}")
            )
    print("health:               " + ("ok" if not problems else "ATTENTION: " + "; ".join(problems)))
    return 1 if problems else 0


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _since(now: datetime, then: datetime) -> str:
    return f"{then.isoformat(timespec='seconds')} ({_age((now - then).total_seconds())} ago)"


# --- backup and restore: whole SQLite files -------------------------------------------------------------


def _copy_database(source: Path, target: Path) -> None:
    """A consistent copy of `source` at `target` with SQLite's online backup.

    The copy includes what is committed but still only in the write-ahead log (a bot killed with -9 leaves
    such rows there), and the source is opened read-only: nothing is migrated or checkpointed. The copy is
    written next to `target` and renamed into place, so `target` is never a half-written file.
    """
    partial = target.with_name(f"{target.name}.partial")
    _remove_database_files(partial)
    try:
        src = sqlite3.connect(_read_only_uri(source), uri=True)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst)
                # A file complete in itself: reading it later (restore's check) leaves no -wal or -shm
                # beside it. The bot switches its database back to WAL when it opens it.
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
        finally:
            src.close()
        _fsync(partial)
        _put_in_place(partial, target)
    except BaseException:
        _remove_database_files(partial)
        raise


def _remove_database_files(path: Path) -> None:
    for name in (str(path), f"{path}-wal", f"{path}-shm", f"{path}-journal"):
        Path(name).unlink(missing_ok=True)


def _put_in_place(new: Path, target: Path) -> None:
    """Rename `new` over `target`. Its old -wal and -shm go first: left beside the new file, SQLite would
    apply the old log's pages to it."""
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(new, target)
    _fsync(target.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _backup(config: Config, target: Path) -> int:
    if config.postgres_dsn:
        print("fitbot: backup copies SQLite files; for PostgreSQL use pg_dump", file=sys.stderr)
        return 2
    source = config.database_path
    if not source.exists():
        print(f"fitbot: no database at {source}", file=sys.stderr)
        return 1
    try:
        _copy_database(source, target)
    except (sqlite3.Error, OSError) as exc:
        print(f"fitbot: could not back up {source} to {target}: {exc}", file=sys.stderr)
        return 1
    print(f"backup written to {target}")
    return 0


def _restore(config: Config, source: Path) -> int:
    """Put a backup in place, refusing while a bot holds the database; the replaced one is kept."""
    import shutil

    if config.postgres_dsn:
        print("fitbot: restore handles SQLite files; for PostgreSQL use pg_restore", file=sys.stderr)
        return 2
    if not source.exists():
        print(f"fitbot: no backup at {source}", file=sys.stderr)
        return 1
    try:
        check = sqlite3.connect(_read_only_uri(source), uri=True)
    except sqlite3.Error as exc:
        print(f"fitbot: cannot open {source}: {exc}", file=sys.stderr)
        return 1
    try:
        ok = check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        check.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    except sqlite3.DatabaseError as exc:
        print(f"fitbot: {source} is not a FIT-bot database: {exc}", file=sys.stderr)
        return 1
    finally:
        check.close()
    if not ok:
        print(f"fitbot: {source} failed the integrity check", file=sys.stderr)
        return 1
    from bot.storage.sqlite import instance_lock

    target = config.database_path
    with instance_lock(target) as mine:
        if not mine:
            print(f"fitbot: {target} is in use by a running bot; stop it first", file=sys.stderr)
            return 1
        kept = None
        if target.exists():
            # First a consistent copy of the database being replaced, including what a killed bot left
            # committed in its write-ahead log; only then is anything of it touched.
            kept = Path(f"{target}.before-restore")
            try:
                _copy_database(target, kept)
            except sqlite3.DatabaseError as exc:
                # Unreadable (perhaps why it is being replaced): keep its files exactly as they are.
                log.warning("%s could not be read (%s); keeping its files as they are", target, exc)
                _remove_database_files(kept)
                shutil.copy2(target, kept)
                if Path(f"{target}-wal").exists():
                    shutil.copy2(f"{target}-wal", f"{kept}-wal")
        try:
            _copy_database(source, target)
        except (sqlite3.Error, OSError) as exc:
            print(f"fitbot: could not restore {source} to {target}: {exc}", file=sys.stderr)
            return 1
    print(f"restored {source} to {target}" + (f" (previous database kept as {kept})" if kept else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
