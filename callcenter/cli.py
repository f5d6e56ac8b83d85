"""Command line: run the engine, migrate, issue API tokens, render Asterisk config, check flows."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from callcenter.domain.access import Role
from callcenter.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from callcenter.storage.spool import Spool


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("panoramisk").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


async def _run(settings: Settings) -> int:
    from callcenter.app import Application
    from callcenter.domain.errors import InvalidCalendar

    try:
        app = Application(settings)
    except InvalidCalendar as err:
        # a malformed calendar file stops start-up with the file and line, like a bad setting
        print(f"callcenter: working-day calendar: {err}", file=sys.stderr)
        return 2
    return await app.serve()


async def _migrate(settings: Settings) -> int:
    from callcenter.storage.db import make_engine, migrate

    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    return 0


async def _create_token(settings: Settings, name: str, role: Role, subject: str | None) -> int:
    from callcenter.app import utcnow
    from callcenter.storage.db import make_engine, make_sessions, migrate
    from callcenter.storage.tokens import TokenRepository

    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        tokens = TokenRepository(make_sessions(engine))
        token = await tokens.create(name, role, utcnow(), subject)
    finally:
        await engine.dispose()
    print(token)
    return 0


def _dead_letters(settings: Settings, replay: list[str] | None) -> int:
    """List the records the database refused (the writer's dead letters), or write them again."""
    from callcenter.storage.spool import Spool

    if not settings.spool_path.exists():
        print(f"{settings.spool_path}: no journal yet, so no dead letters")
        return 0
    spool = Spool(settings.spool_path)
    try:
        if replay is None:
            letters = spool.dead_letters()
            for letter in letters:
                print(f"{letter.id}\t{letter.at.isoformat()}\t{letter.kind}\t{letter.error}")
                print(f"\t{letter.payload!r}")
            print(f"{len(letters)} dead letter(s) in {settings.spool_path}")
            return 0
        ids = None if replay == ["all"] else [int(i) for i in replay]
        return asyncio.run(_replay(settings, spool, ids))
    finally:
        spool.close()


async def _replay(settings: Settings, spool: Spool, ids: list[int] | None) -> int:
    from callcenter.services.writer import replay_dead_letters
    from callcenter.storage.db import make_engine, make_sessions
    from callcenter.storage.writes import SINKS

    engine = make_engine(settings.database_url)
    try:
        results = await replay_dead_letters(make_sessions(engine), SINKS, spool, ids)
    finally:
        await engine.dispose()
    for letter_id, error in results:
        print(f"{letter_id}\t{'written' if error is None else 'refused again: ' + error}")
    return 0 if all(error is None for _, error in results) else 1


def _render(settings: Settings, out: Path, module_dir: str, data_dir: str) -> int:
    from callcenter.telephony.render import render

    values = settings.asterisk_values(module_dir=module_dir, data_dir=data_dir)
    for path in render(out, values):
        print(path)
    return 0


def _check_flows(directory: Path, prompts: Path | None) -> int:
    from callcenter.telephony.flow_registry import check_directory

    if not directory.is_dir():
        print(f"callcenter: {directory}: no such directory", file=sys.stderr)
        return 2
    flows, problems = check_directory(directory, prompts)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {directory}", file=sys.stderr)
        return 1
    print(f"{directory}: {len(flows)} flow(s) valid: {', '.join(sorted(flows))}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callcenter", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the engine (AMI client, FastAGI server, HTTP API)")
    sub.add_parser("migrate", help="bring the database schema to the latest revision")
    sub.add_parser("check-settings", help="validate CALLCENTER_* settings and exit")
    token = sub.add_parser("create-token", help="issue an API token (printed once)")
    token.add_argument("--name", required=True)
    token.add_argument("--role", required=True, choices=[role.value for role in Role])
    token.add_argument(
        "--subject", help="agent id (role agent) or department code (role department)"
    )
    render = sub.add_parser("render-asterisk", help="write Asterisk configuration for settings")
    render.add_argument("--out", type=Path, required=True)
    render.add_argument("--module-dir", default="/usr/lib/x86_64-linux-gnu/asterisk/modules")
    render.add_argument("--data-dir", default="/usr/share/asterisk")
    flows = sub.add_parser("check-flows", help="validate IVR flow files and the prompt catalogue")
    flows.add_argument("directory", nargs="?", type=Path, default=Path("ivr_flows"))
    flows.add_argument("--prompts", type=Path, help="prompt catalogue (default DIR/prompts.yaml)")
    dead = sub.add_parser(
        "dead-letters", help="list the records the database refused, or --replay them"
    )
    dead.add_argument("--replay", nargs="+", metavar="ID", help="letter ids, or 'all'")
    args = parser.parse_args(argv)

    if args.command == "check-flows":
        # an operator's check: needs no engine settings (no AMI secret) and no logging set-up
        return _check_flows(args.directory, args.prompts)

    try:
        settings = load_settings()
    except SettingsError as err:
        print(f"callcenter: {err}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)

    if args.command == "run":
        return asyncio.run(_run(settings))
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    if args.command == "check-settings":
        print("settings are valid")
        return 0
    if args.command == "create-token":
        return asyncio.run(_create_token(settings, args.name, Role(args.role), args.subject))
    if args.command == "dead-letters":
        return _dead_letters(settings, args.replay)
    if args.command == "render-asterisk":
        return _render(settings, args.out, args.module_dir, args.data_dir)
    parser.error(f"unknown command {args.command}")
    return 2
