"""The provider-related CLI commands: ``providers list``, ``encrypt``, ``secrets rotate``.

They work on the same data folder as the server, through the same store.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TextIO

from gateway.providers.registry import ProviderRegistry
from gateway.providers.store import COLLECTION, ProviderStore
from gateway.providers.templates import load_templates
from gateway.security.redaction import SecretRegistry
from gateway.settings import Settings
from gateway.storage.crypto import (
    Cipher,
    generate_key,
    key_file,
    load_cipher,
    parse_keys,
    write_key_file,
)
from gateway.storage.factory import opened_storage

ROTATE_HELP = """\
Re-encrypt every stored provider key under a new master key.

The new key is read from standard input when one is piped in; otherwise a new
key is generated and printed. The current master key (GATEWAY_SECRET_KEY, or
data/secret.key in development) must still decrypt the stored keys; it is kept
as a second, decrypt-only key so tokens made earlier with `gateway encrypt` keep
working. With GATEWAY_SECRET_KEY, restart with GATEWAY_SECRET_KEY="NEW,OLD" (the
command prints it); in development data/secret.key is updated in place.
"""


def _read_secret(stream: TextIO) -> str:
    text = stream.read()
    return text[:-1] if text.endswith("\n") else text


def list_providers(settings: Settings, as_json: bool, out: TextIO = sys.stdout) -> int:
    async def collect() -> list[dict[str, object]]:
        secrets = SecretRegistry()
        secrets.activate()  # the keys it loads are masked in what it logs
        async with opened_storage(settings) as storage:
            registry = ProviderRegistry(
                settings,
                storage.collection(COLLECTION),
                load_templates(settings.providers.templates_dir),
                secrets,
            )
            await registry.start(watch=False)
            records = [record.public() for record in registry.records()]
            await registry.stop()
            return records

    records = asyncio.run(collect())
    if as_json:
        print(json.dumps(records, indent=2), file=out)
        return 0
    columns = ("id", "source", "template", "enabled", "has_api_key", "base_url")
    rows = [columns, *(tuple(str(r[c]) for c in columns) for r in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(),
            file=out,
        )
    return 0


def encrypt(settings: Settings, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    secret = _read_secret(stdin)
    if not secret.strip():
        print("gateway encrypt: nothing on standard input", file=sys.stderr)
        return 1
    print(load_cipher(settings).encrypt(secret), file=out)
    return 0


def rotate(settings: Settings, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    old = load_cipher(settings)
    given = "" if stdin.isatty() else stdin.read().strip()
    generated = not given
    new_key = parse_keys(given, "the new master key on standard input")[0] if given else None
    if new_key is None:
        new_key = generate_key()
    keys = [new_key, *(key for key in old.keys if key != new_key)]
    new = Cipher(keys, old.origin)

    async def run() -> int:
        async with opened_storage(settings) as storage:
            store = ProviderStore(storage.collection(COLLECTION), old)
            await store.verify()
            return await store.rotate(new)

    count = asyncio.run(run())
    if settings.secret_key is None:
        write_key_file(key_file(settings), keys)
        print(f"rotated {count} provider key(s); {key_file(settings)} updated", file=out)
    else:
        print(f"rotated {count} provider key(s); restart with", file=out)
        print(f"GATEWAY_SECRET_KEY={','.join(keys)}", file=out)
    if generated:
        print(f"new master key: {new_key}", file=out)
    return 0
