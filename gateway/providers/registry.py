"""The live provider directory: API-stored providers merged with providers.d files.

It rebuilds the precomputed LiveProvider objects (URL, auth and fixed headers)
once per change, so routing and handlers only read. It is also the service the
admin API writes through: it checks templates and file ownership, then stores.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.adapters.base import Target
from gateway.errors import Conflict, InvalidRequest, NotFound
from gateway.ledger.pricing import PriceTable
from gateway.providers.files import ProviderFolder
from gateway.providers.live import LiveProvider
from gateway.providers.records import (
    MASKED,
    SEALED,
    ProviderRecord,
    is_secret_header,
    parse_body,
    resolve,
)
from gateway.providers.store import COLLECTION, KEEP_KEY, KeepKey, ProviderStore
from gateway.providers.templates import TEMPLATES, Template, Templates, load_templates
from gateway.security.redaction import SECRETS, SecretRegistry
from gateway.security.ssrf import UnsafeUpstream, check_upstream_url
from gateway.settings import Settings
from gateway.state import SETTINGS, STORAGE
from gateway.storage.base import Change, Collection
from gateway.storage.crypto import Cipher, MasterKeyError, load_cipher
from gateway.storage.listeners import Listeners
from gateway.tasks import cancel_and_wait

logger = logging.getLogger("gateway.providers.registry")

ProviderListener = Callable[[str | None], None]


def merge_headers(*layers: Mapping[str, str]) -> dict[str, str]:
    """Later layers win; header names compare case-insensitively."""
    merged: dict[str, str] = {}
    for layer in layers:
        for name, value in layer.items():
            for existing in [key for key in merged if key.lower() == name.lower()]:
                del merged[existing]
            merged[name] = value
    return merged


def build_live(
    record: ProviderRecord,
    api_key: str | None,
    template: Template,
    headers: Mapping[str, str] | None = None,
) -> LiveProvider:
    """Everything the hot path needs about one provider, assembled once.

    ``headers`` are the record's headers with secret values decrypted (default: as stored).
    """
    auth = {template.auth.header: template.auth.header_value(api_key)} if api_key else {}
    target = Target(
        provider_id=record.id,
        base_url=record.base_url.rstrip("/"),
        headers=merge_headers(
            auth, template.headers, record.headers if headers is None else headers
        ),
        paths=template.paths.to_target_paths(),
        query=dict(template.query),
        families=tuple(family.to_family() for family in template.families),
    )
    return LiveProvider(
        id=record.id,
        name=record.name,
        template=record.template,
        adapter=template.adapter,
        target=target,
        enabled=record.enabled,
        priority=record.priority,
        weight=record.weight,
        timeout_s=record.timeout_s,
        allowed_models=frozenset(record.models),
        static_models=tuple(record.models or template.models),
        aliases=dict(record.aliases),
        default_model=record.default_model,
        health_checks=record.health_checks,
        proxy=record.proxy,
        prices=PriceTable(record.pricing, template.pricing),
    )


class ProviderRegistry:
    """Implements ProviderDirectory; writes go through ``create``/``update``/``delete``."""

    def __init__(
        self,
        settings: Settings,
        collection: Collection,
        templates: Templates,
        secrets: SecretRegistry,
    ) -> None:
        self._settings = settings
        self._secrets = secrets
        """Where provider keys and secret headers go, to be masked in errors and logs."""
        self._collection = collection
        self.templates = templates
        self._store: ProviderStore | None = None
        self._folder: ProviderFolder | None = None
        self._api: dict[str, ProviderRecord] = {}
        self._records: dict[str, ProviderRecord] = {}
        self._live: dict[str, LiveProvider] = {}
        self._ordered: tuple[LiveProvider, ...] = ()
        self._keys: dict[str, str] = {}
        """Decrypted keys by token, so a rebuild decrypts only what changed."""
        self._listeners: Listeners[str | None] = Listeners(logger, "provider listener")
        self._tasks: set[asyncio.Task[None]] = set()
        self._watcher: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None

    # -- lifecycle -------------------------------------------------------------

    async def start(self, *, watch: bool = True, cipher: Cipher | None = None) -> None:
        """Load the master key, check it against the store, load everything, start watching."""
        cipher = cipher or load_cipher(self._settings)
        self._store = ProviderStore(self._collection, cipher)
        await self._store.verify()
        self._folder = ProviderFolder(self._settings.providers.dir, self.templates, cipher)
        self._folder.scan()
        await self.refresh()
        self._unsubscribe = self._store.subscribe(self._on_store_change)
        if watch:
            self._watcher = asyncio.create_task(self._watch(), name="providers.d-watch")

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await cancel_and_wait(*self._tasks, self._watcher)
        self._watcher = None

    @property
    def store(self) -> ProviderStore:
        if self._store is None:
            raise RuntimeError("the provider registry has not been started")
        return self._store

    # -- ProviderDirectory -------------------------------------------------------

    def get(self, provider_id: str) -> LiveProvider | None:
        return self._live.get(provider_id)

    def all(self) -> Sequence[LiveProvider]:
        return self._ordered

    def subscribe(self, listener: ProviderListener) -> Callable[[], None]:
        return self._listeners.subscribe(listener)

    # -- admin view ---------------------------------------------------------------

    def records(self) -> list[ProviderRecord]:
        return list(self._records.values())

    def record(self, provider_id: str) -> ProviderRecord | None:
        return self._records.get(provider_id)

    async def create(self, data: Mapping[str, Any]) -> ProviderRecord:
        if isinstance(data.get("headers"), Mapping):
            _keep_sealed(data["headers"], {})
        body = parse_body(data)
        api_key = body.api_key.get_secret_value() if body.api_key is not None else None
        record = resolve(body, self.templates, now=int(time.time()), has_key=api_key is not None)
        check_upstream_url(record.base_url, self._settings.private_upstreams_allowed)
        self._refuse_file_provider(record.id)
        saved = await self.store.create(record, api_key)
        await self.refresh()
        return saved

    async def update(self, provider_id: str, data: Mapping[str, Any]) -> ProviderRecord:
        """Fields present replace the stored ones; api_key absent keeps the key, null removes it."""
        self._refuse_file_provider(provider_id)
        stored = await self.store.get(provider_id)
        if stored is None:
            raise NotFound(f"No provider with id {provider_id!r}.")
        if "id" in data and data["id"] != provider_id:
            raise InvalidRequest("The id of a provider cannot change.", param="id")
        merged = {**stored.writable(), **data, "id": provider_id}
        old_template = self.templates.get(stored.template)
        if (
            "template" in data
            and "base_url" not in data
            and old_template is not None
            and stored.base_url == old_template.base_url
        ):
            merged["base_url"] = None  # follow the new template's default
        if "headers" in data and isinstance(data["headers"], Mapping):
            merged["headers"] = _keep_sealed(data["headers"], stored.headers)
        body = parse_body(merged)
        api_key: str | KeepKey | None = KEEP_KEY
        has_key = stored.has_api_key
        if "api_key" in data:
            api_key = body.api_key.get_secret_value() if body.api_key is not None else None
            has_key = api_key is not None
        record = resolve(
            body,
            self.templates,
            now=int(time.time()),
            created_at=stored.created_at,
            has_key=has_key,
            hint=stored.api_key_hint,
            encrypted=stored.api_key_encrypted,
        )
        check_upstream_url(record.base_url, self._settings.private_upstreams_allowed)
        saved = await self.store.update(record, api_key)
        await self.refresh()
        return saved

    async def draft(self, data: Mapping[str, Any], provider_id: str | None = None) -> LiveProvider:
        """What saving ``data`` would route to (a new provider, or ``provider_id`` with these
        changes, keeping its stored key unless ``api_key`` is given), stored nowhere: for a
        live test of a form before it is saved."""
        stored_key: str | None = None
        if provider_id is not None:
            self._refuse_file_provider(provider_id)
            stored = await self.store.get(provider_id)
            if stored is None:
                raise NotFound(f"No provider with id {provider_id!r}.", param="provider_id")
            data = {**stored.writable(), **data, "id": provider_id}
            stored_key = self._decrypt(stored)
        body = parse_body(data)
        api_key = body.api_key.get_secret_value() if body.api_key is not None else None
        if "api_key" not in data:
            api_key = stored_key
        record = resolve(body, self.templates, now=int(time.time()), has_key=api_key is not None)
        check_upstream_url(record.base_url, self._settings.private_upstreams_allowed)
        template = self.templates.get(record.template)
        assert template is not None  # resolve() refused unknown templates
        return build_live(record, api_key, template)

    async def delete(self, provider_id: str) -> None:
        self._refuse_file_provider(provider_id)
        if not await self.store.delete(provider_id):
            raise NotFound(f"No provider with id {provider_id!r}.")
        await self.refresh()

    def _refuse_file_provider(self, provider_id: str) -> None:
        found = self._records.get(provider_id)
        if found is not None and found.source == "file":
            raise Conflict(
                f"Provider {provider_id!r} is defined in {found.file} and is read-only over "
                "the API; edit or remove that file instead.",
                param="id",
                code="provider_from_file",
            )

    # -- rebuilding ---------------------------------------------------------------

    async def refresh(self) -> None:
        """Re-read the store and rebuild the live view."""
        self._api = {record.id: record for record in await self.store.list()}
        self._rebuild()

    def _rebuild(self) -> None:
        records: dict[str, ProviderRecord] = {}
        keys: dict[str, str | None] = {}
        headers: dict[str, dict[str, str]] = {}
        for record in self._api.values():
            records[record.id] = record
            keys[record.id] = self._decrypt(record)
            headers[record.id] = self._decrypt_headers(record)
        files: dict[str, Path] = {}
        folder_providers = self._folder.providers if self._folder is not None else {}
        for path, loaded in sorted(folder_providers.items()):
            provider_id = loaded.record.id
            if provider_id in files:
                logger.error(
                    "provider file %s: id: %r is already defined by %s; skipped",
                    path,
                    provider_id,
                    files[provider_id],
                )
                continue
            if provider_id in records:
                logger.warning("provider file %s overrides the API provider %r", path, provider_id)
            files[provider_id] = path
            records[provider_id] = loaded.record
            keys[provider_id] = loaded.api_key
            headers[provider_id] = loaded.record.headers
        for key in keys.values():
            self._secrets.add(key)  # an upstream that echoes it is masked (errors.error_body)
        for provider_headers in headers.values():
            for name, value in provider_headers.items():
                if is_secret_header(name):
                    self._secrets.add(value)
        live: dict[str, LiveProvider] = {}
        for provider_id, record in sorted(records.items()):
            template = self.templates.get(record.template)
            if template is None:
                logger.error(
                    "provider %r uses the unknown template %r; not routable",
                    provider_id,
                    record.template,
                )
                continue
            try:
                check_upstream_url(record.base_url, self._settings.private_upstreams_allowed)
            except UnsafeUpstream as exc:
                logger.error("provider %r: %s Not routable.", provider_id, exc.message)
                continue
            live[provider_id] = build_live(
                record, keys[provider_id], template, headers.get(provider_id)
            )
        changed = sorted(
            {pid for pid in live.keys() | self._live.keys() if live.get(pid) != self._live.get(pid)}
            | {
                pid
                for pid in records.keys() | self._records.keys()
                if records.get(pid) != self._records.get(pid)
            }
        )
        self._records = dict(sorted(records.items()))
        self._live = live
        self._ordered = tuple(live.values())
        self._keys = {
            r.api_key_encrypted: k
            for r in self._api.values()
            if r.api_key_encrypted and (k := keys.get(r.id))
        }
        # Per provider, so one change refreshes that provider's models, not everyone's.
        for provider_id in changed:
            self._listeners.emit(provider_id)

    def _decrypt(self, record: ProviderRecord) -> str | None:
        token = record.api_key_encrypted
        if token is None:
            return None
        cached = self._keys.get(token)
        if cached is not None:
            return cached
        try:
            return self.store.api_key(record)
        except MasterKeyError as exc:
            logger.error("provider %r: %s; it is used without a key", record.id, exc)
            return None

    def _decrypt_headers(self, record: ProviderRecord) -> dict[str, str]:
        try:
            return self.store.headers(record)
        except MasterKeyError as exc:
            logger.error("provider %r: %s; its secret headers are left out", record.id, exc)
            return {n: v for n, v in record.headers.items() if not v.startswith(SEALED)}

    def _on_store_change(self, change: Change) -> None:
        task = asyncio.get_running_loop().create_task(self.refresh())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(self) -> None:
        assert self._folder is not None
        while True:
            await asyncio.sleep(self._settings.providers.watch_interval_s)
            try:
                if await asyncio.to_thread(self._folder.scan):
                    self._rebuild()
            except Exception:
                logger.exception("scanning %s failed", self._folder.folder)


def _keep_sealed(given: Mapping[str, Any], stored: Mapping[str, str]) -> dict[str, Any]:
    """Incoming headers, where the masked value of a stored secret keeps it; no sealed values."""
    kept: dict[str, Any] = {}
    for name, value in given.items():
        if value == MASKED and stored.get(name, "").startswith(SEALED):
            kept[name] = stored[name]
        elif isinstance(value, str) and (value.startswith(SEALED) or value == MASKED):
            raise InvalidRequest(
                f"Header {name!r}: give its value ({value[:4]!r} is how a stored secret is shown).",
                param="headers",
                code="invalid_provider",
            )
        else:
            kept[name] = value
    return kept


PROVIDERS = web.AppKey("providers", ProviderRegistry)


def setup(app: web.Application) -> None:
    """Load the templates and register the provider registry, started with the app."""
    settings = app[SETTINGS]
    app[TEMPLATES] = load_templates(settings.providers.templates_dir)
    app[PROVIDERS] = ProviderRegistry(
        settings, app[STORAGE].collection(COLLECTION), app[TEMPLATES], app[SECRETS]
    )
    app.cleanup_ctx.append(_registry_context)


async def _registry_context(app: web.Application) -> AsyncIterator[None]:
    registry = app[PROVIDERS]
    await registry.start()
    yield
    await registry.stop()
