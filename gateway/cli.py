"""The ``gateway`` command: serve, check-config, version, and the admin tools."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from gateway import __version__
from gateway.errors import GatewayError
from gateway.keys import KeyStore
from gateway.keys.spec import NewKey, issue_key
from gateway.logs import configure_logging
from gateway.middleware.auth import check_auth_config
from gateway.settings import ConfigError, Settings, load_settings, masked_dump
from gateway.storage.base import StorageError
from gateway.storage.factory import opened_storage

EXIT_CONFIG = 2


def _load(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    server_overrides = {
        key: value
        for key, value in (
            ("host", getattr(args, "host", None)),
            ("port", getattr(args, "port", None)),
            ("workers", getattr(args, "workers", None)),
            ("reuse_port", getattr(args, "reuse_port", None) or None),
        )
        if value is not None
    }
    if server_overrides:
        merged = settings.server.model_dump() | server_overrides
        try:
            server = type(settings.server).model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(
                [
                    f"server.{'.'.join(map(str, err['loc']))}: {err['input']!r}: {err['msg']}"
                    for err in exc.errors()
                ]
            ) from None
        settings = settings.model_copy(update={"server": server})
    if settings.server.workers > 1 and settings.server.port == 0:
        raise ConfigError(["server.port: 0: --workers N needs a fixed port to share"])
    return settings


def _serve(args: argparse.Namespace) -> int:
    settings = _load(args)
    check_auth_config(settings)  # before any worker starts
    access_log = configure_logging(settings.logging)
    if settings.server.workers > 1:
        from gateway.supervisor import CannotStart, supervise

        try:
            return supervise(
                settings.server.workers,
                args.config,
                settings.server.host,
                settings.server.port,
                settings.server.runtime_dir or settings.storage.path,
            )
        except CannotStart as exc:
            print(f"cannot start: {exc}", file=sys.stderr)
            return 1
    from gateway.server import run

    run(settings, args.parent_fd, access_log)
    return 0


def _healthcheck(args: argparse.Namespace) -> int:
    """The container HEALTHCHECK: 0 when this host's gateway answers its health route.

    It reads the same settings as ``serve`` (so a port set in YAML counts) and uses
    only the standard library's HTTP client.
    """
    import urllib.error
    import urllib.request

    server = _load(args).server
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(server.host, server.host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    url = f"http://{host}:{server.port}/api/v1/health"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as response:
            status = int(response.status)
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    return 0 if status == 200 else 1


def _check_config(args: argparse.Namespace) -> int:
    settings = _load(args)
    print(json.dumps(masked_dump(settings), indent=2))
    return 0


def _version(_args: argparse.Namespace) -> int:
    print(__version__)
    return 0


# -- provider commands -------------------------------------------------------


def _providers_list(args: argparse.Namespace) -> int:
    from gateway.providers import admin

    settings = _load(args)
    configure_logging(settings.logging)
    return admin.list_providers(settings, args.json)


def _encrypt(args: argparse.Namespace) -> int:
    from gateway.providers import admin

    return admin.encrypt(_load(args))


def _secrets_rotate(args: argparse.Namespace) -> int:
    from gateway.providers import admin

    settings = _load(args)
    configure_logging(settings.logging)
    return admin.rotate(settings)


def _add_provider_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from gateway.providers.admin import ROTATE_HELP

    providers = commands.add_parser("providers", help="inspect providers")
    providers_commands = providers.add_subparsers(dest="providers_command", required=True)
    listing = providers_commands.add_parser(
        "list", help="list API and providers.d providers (keys never shown)"
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_providers_list)

    encrypt = commands.add_parser(
        "encrypt",
        help="encrypt a secret read on standard input, for api_key_encrypted: in providers.d",
    )
    encrypt.set_defaults(func=_encrypt)

    secrets = commands.add_parser("secrets", help="manage the master key")
    secrets_commands = secrets.add_subparsers(dest="secrets_command", required=True)
    rotate = secrets_commands.add_parser(
        "rotate",
        help="re-encrypt every stored provider key under a new master key",
        description=ROTATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rotate.set_defaults(func=_secrets_rotate)


# --- gateway migrate: copy stored collections between the file and Redis backends ---


def _migrate(args: argparse.Namespace) -> int:
    import asyncio
    from typing import cast

    from gateway.storage.migrate import Enumerable, migrate

    if args.source == args.target:
        print("--from and --to must name different backends", file=sys.stderr)
        return EXIT_CONFIG
    settings = _load(args)
    if settings.storage.redis_url is None:
        print("migrate needs storage.redis_url (GATEWAY_STORAGE__REDIS_URL)", file=sys.stderr)
        return EXIT_CONFIG

    async def run() -> dict[str, int]:
        async with (
            opened_storage(settings, args.source) as source,
            opened_storage(settings, args.target) as target,
        ):
            # Both backends list their collections (FileStorage, RedisStorage).
            return await migrate(cast(Enumerable, source), target, args.collection)

    try:
        copied = asyncio.run(run())
    except StorageError as exc:
        print(f"migration failed: {exc}", file=sys.stderr)
        return 1
    for name, count in copied.items():
        print(f"{name}: {count} documents copied from {args.source} to {args.target}")
    if not copied:
        print(f"nothing to copy: no collections in the {args.source} store")
    return 0


def _add_migrate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    migrate = commands.add_parser(
        "migrate",
        help="copy providers, keys and every other collection between storage backends",
        description="Each copied collection replaces the one in the target; documents are "
        "copied as stored, so provider keys stay encrypted under the same master key.",
    )
    migrate.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    migrate.add_argument("--from", dest="source", choices=["file", "redis"], required=True)
    migrate.add_argument("--to", dest="target", choices=["file", "redis"], required=True)
    migrate.add_argument(
        "--collection", action="append", help="copy only this collection (repeatable)"
    )
    migrate.set_defaults(func=_migrate)


# --- gateway keys: create, list and revoke API keys directly in the store ---


async def _with_key_store(settings: Settings, action: Callable[[KeyStore], Awaitable[int]]) -> int:
    async with opened_storage(settings) as storage:
        return await action(KeyStore(storage.collection("keys")))


def _keys_create(args: argparse.Namespace) -> int:
    try:
        spec = NewKey.model_validate(
            {
                "name": args.name,
                "scopes": args.scope or ["chat"],
                "models": args.model,
                "rpm": args.rpm,
                "tpm": args.tpm,
                "expires_at": args.expires_at,
                "budget_usd": args.budget_usd,
                "max_tokens": args.max_tokens,
                "budget_period": args.budget_period,
            }
        )
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(part) for part in err["loc"])
            print(f"{where}: {err['msg']}", file=sys.stderr)
        return EXIT_CONFIG
    except GatewayError as exc:
        print(exc.message, file=sys.stderr)
        return EXIT_CONFIG

    async def create(store: KeyStore) -> int:
        key, meta = await issue_key(store, spec)
        print(json.dumps({**meta, "key": key}, indent=2))
        print("Store the key now: it is not shown again.", file=sys.stderr)
        return 0

    return asyncio.run(_with_key_store(_load(args), create))


def _keys_list(args: argparse.Namespace) -> int:
    async def show(store: KeyStore) -> int:
        print(json.dumps(await store.list(), indent=2))
        return 0

    return asyncio.run(_with_key_store(_load(args), show))


def _keys_revoke(args: argparse.Namespace) -> int:
    async def revoke(store: KeyStore) -> int:
        if await store.revoke(args.key_id):
            print(f"revoked {args.key_id}")
            return 0
        print(f"no active key has the id {args.key_id}", file=sys.stderr)
        return 1

    return asyncio.run(_with_key_store(_load(args), revoke))


def _add_keys_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="manage gateway API keys")
    keys.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    verbs = keys.add_subparsers(dest="keys_command", required=True)
    create = verbs.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--scope", action="append", choices=["chat", "models", "admin"], help="repeatable"
    )
    create.add_argument("--model", action="append", help="allowed model (repeatable)")
    create.add_argument("--rpm", type=int)
    create.add_argument("--tpm", type=int)
    create.add_argument("--expires-at", help="ISO 8601 date-time")
    create.add_argument("--budget-usd", type=float, help="USD per budget period")
    create.add_argument("--max-tokens", type=int, help="tokens per budget period")
    create.add_argument("--budget-period", choices=["day", "month", "total"], default="month")
    create.set_defaults(func=_keys_create)
    verbs.add_parser("list", help="list keys (metadata only)").set_defaults(func=_keys_list)
    revoke = verbs.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=_keys_revoke)


# --- end of gateway keys ---


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="OpenAI-compatible LLM gateway")
    parser.add_argument("--config", type=Path, default=None, help="path to gateway.yaml")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the gateway")
    serve.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument("--parent-fd", type=int, help=argparse.SUPPRESS)
    serve.set_defaults(func=_serve)

    check = commands.add_parser("check-config", help="validate and print the configuration")
    check.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    check.set_defaults(func=_check_config)

    healthcheck = commands.add_parser(
        "healthcheck", help="exit 0 when the gateway on this host answers its health check"
    )
    healthcheck.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    healthcheck.add_argument("--timeout", type=float, default=4.0)
    healthcheck.set_defaults(func=_healthcheck)

    version = commands.add_parser("version", help="print the version")
    version.set_defaults(func=_version)

    _add_provider_commands(commands)

    _add_migrate(commands)

    _add_keys_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print("invalid configuration:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except StorageError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
