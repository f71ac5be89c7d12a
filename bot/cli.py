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
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from bot import __version__
from bot.config import Config, ConfigError, find_config_file, load

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

    if command == "restore":
        return _restore(config, args.path)
    storage = create_storage(config.database_path, config.postgres_dsn)
    clock = SystemClock()
    await storage.open(clock.now())
    try:
        from bot.app import policy_from

        svc = Services(storage=storage, clock=clock.now, policy=policy_from(config))
        if command == "caseworker":
            return await _caseworker(svc, args)
        if command == "case":
            return await _handover(svc, args)
        if command == "backup":
            await storage.db.backup(str(args.path))
            print(f"backup written to {args.path}")
            return 0
        if command == "status":
            return await _status(svc, config)
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


async def _caseworker(svc, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
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
        username = await _bot_username(svc, load_config_for_username())
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


def load_config_for_username() -> Config:
    return load(find_config_file(None))


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


async def _status(svc, config: Config) -> int:  # type: ignore[no-untyped-def]
    from bot.storage.migrations import available

    now = svc.now()
    version = await svc.storage.schema_version()
    async with svc.storage.transaction() as repo:
        stats = await repo.outbox_stats(now)
        health = await repo.health()
        unreachable = await repo.unreachable_count()
    latest = available()[-1].version
    oldest = stats["oldest_due"]
    overdue_for = (now - oldest).total_seconds() if oldest and oldest <= now else 0
    contact = health.get("last_api_contact")
    print(f"schema version:       {version} (this release: {latest}){'  UPGRADE PENDING' if version < latest else ''}")
    print(f"pending sends:        {stats['pending']} ({stats['overdue']} due now)")
    print(f"oldest overdue send:  {_age(overdue_for) if overdue_for else 'none'}")
    print(f"failed sends:         {stats['failed']}")
    print(f"unreachable people:   {unreachable}")
    print(f"last Bot API contact: {_since(now, contact[1]) if contact else 'never'}")
    healthy = version == latest and overdue_for < 600
    return 0 if healthy else 1


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _since(now: datetime, then: datetime) -> str:
    return f"{then.isoformat(timespec='seconds')} ({_age((now - then).total_seconds())} ago)"


def _restore(config: Config, source: Path) -> int:
    """Copy a backup into place, refusing while anything holds the database open for writing."""
    import shutil
    import sqlite3

    if config.postgres_dsn:
        print("fitbot: restore handles SQLite files; for PostgreSQL use pg_restore", file=sys.stderr)
        return 2
    if not source.exists():
        print(f"fitbot: no backup at {source}", file=sys.stderr)
        return 1
    check = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
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
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        kept = None
        if target.exists():
            kept = Path(f"{target}.before-restore")
            shutil.copy2(target, kept)
        shutil.copy2(source, target)
    print(f"restored {source} to {target}" + (f" (previous database kept as {kept})" if kept else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
