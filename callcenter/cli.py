"""Command line: run the engine, migrate, issue tokens, create users, render config, check flows."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from callcenter.domain.access import Role
from callcenter.settings import Settings, SettingsError, load_settings


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


def _read_password(given: str | None) -> str:
    if given is not None:
        return given
    if not sys.stdin.isatty():
        # scripts pipe the password in, so it never shows in the process list
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("callcenter: the two passwords differ")
    return first


async def _create_user(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.app import utcnow
    from callcenter.domain.errors import DomainError
    from callcenter.storage.db import make_engine, make_sessions, migrate
    from callcenter.storage.users import UserRepository

    password = _read_password(args.password)
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        users = UserRepository(make_sessions(engine), settings.login_policy)
        account = await users.create(
            args.username,
            password,
            Role(args.role),
            utcnow(),
            display_name=args.display_name,
            subject=args.subject,
            actor="cli",
        )
    except DomainError as err:
        print(f"callcenter: {err.message}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    print(f"user {account.username} ({account.role.value}) created")
    return 0


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
    user = sub.add_parser(
        "create-user", help="create a person's account (logs in with name and password)"
    )
    user.add_argument("--username", required=True)
    user.add_argument("--role", required=True, choices=[role.value for role in Role])
    user.add_argument(
        "--subject", help="agent id (role agent) or department code (role department)"
    )
    user.add_argument("--display-name", default="")
    user.add_argument(
        "--password", help="the password (default: asked for, or read from standard input)"
    )
    render = sub.add_parser("render-asterisk", help="write Asterisk configuration for settings")
    render.add_argument("--out", type=Path, required=True)
    render.add_argument("--module-dir", default="/usr/lib/x86_64-linux-gnu/asterisk/modules")
    render.add_argument("--data-dir", default="/usr/share/asterisk")
    flows = sub.add_parser("check-flows", help="validate IVR flow files and the prompt catalogue")
    flows.add_argument("directory", nargs="?", type=Path, default=Path("ivr_flows"))
    flows.add_argument("--prompts", type=Path, help="prompt catalogue (default DIR/prompts.yaml)")
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
    if args.command == "create-user":
        return asyncio.run(_create_user(settings, args))
    if args.command == "render-asterisk":
        return _render(settings, args.out, args.module_dir, args.data_dir)
    parser.error(f"unknown command {args.command}")
    return 2
