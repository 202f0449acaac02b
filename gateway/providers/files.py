"""providers.d: operator-managed provider files, watched by a cheap mtime poll.

Each ``*.yaml`` file holds one provider with the API's fields, plus exactly one
way of giving the key: ``api_key`` (``${ENV_VAR}`` is interpolated),
``api_key_file`` (a Docker or Kubernetes secret) or ``api_key_encrypted`` (a
token from ``gateway encrypt``). A broken file is logged with its path and
field, and its last good version stays in force.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gateway.errors import InvalidRequest
from gateway.fields import slugify, yaml_problem
from gateway.providers.records import (
    ProviderFields,
    ProviderRecord,
    invalid_body,
    key_hint,
    resolve,
)
from gateway.providers.templates import Templates
from gateway.storage.crypto import Cipher, MasterKeyError

logger = logging.getLogger("gateway.providers.files")

KEY_FIELDS = ("api_key", "api_key_file", "api_key_encrypted")
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

Stamp = tuple[int, int, int]


class ProviderFileError(Exception):
    """A providers.d file that cannot be loaded; the message names the path and field."""

    def __init__(self, path: Path, field: str, message: str) -> None:
        super().__init__(f"{path}: {field}: {message}")
        self.path = path
        self.field = field


@dataclass(frozen=True, slots=True)
class FileProvider:
    record: ProviderRecord
    api_key: str | None
    """Plaintext, kept in memory only to build the upstream headers."""


def environment_value(name: str) -> str | None:
    """The one place provider files read the process environment: ``${NAME}`` in api_key."""
    return os.environ.get(name)


def interpolate_environment(path: Path, value: str) -> str:
    def substitute(match: re.Match[str]) -> str:
        found = environment_value(match.group(1))
        if found is None:
            raise ProviderFileError(
                path, "api_key", f"environment variable {match.group(1)} is not set"
            )
        return found

    return ENV_REFERENCE.sub(substitute, value)


def _read_key(path: Path, data: dict[str, Any], cipher: Cipher) -> str | None:
    given = [name for name in KEY_FIELDS if data.get(name) is not None]
    if len(given) > 1:
        raise ProviderFileError(path, given[1], f"give only one of {', '.join(KEY_FIELDS)}")
    if not given:
        return None
    field = given[0]
    value = data[field]
    if not isinstance(value, str) or not value.strip():
        raise ProviderFileError(path, field, "must be a non-empty string")
    if field == "api_key":
        key = interpolate_environment(path, value)
    elif field == "api_key_file":
        key_path = (path.parent / value).resolve()
        try:
            key = key_path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ProviderFileError(path, field, f"cannot read {key_path} ({exc})") from None
    else:
        try:
            key = cipher.decrypt(value.strip())
        except MasterKeyError as exc:
            raise ProviderFileError(path, field, str(exc)) from None
    if not key:
        raise ProviderFileError(path, field, "the key is empty")
    if any(ch in key for ch in "\r\n\0"):
        raise ProviderFileError(path, field, "the key contains CR, LF or NUL")
    return key


def load_provider_file(path: Path, templates: Templates, cipher: Cipher) -> FileProvider:
    """Parse and validate one providers.d file; ProviderFileError naming path and field."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        mtime = int(path.stat().st_mtime)
    except yaml.YAMLError as exc:
        raise ProviderFileError(path, "(file)", f"not valid YAML: {yaml_problem(exc)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProviderFileError(path, "(file)", f"cannot be read ({exc})") from None
    if not isinstance(data, dict):
        raise ProviderFileError(path, "(file)", "the top level must be a mapping")
    api_key = _read_key(path, data, cipher)
    fields = {key: value for key, value in data.items() if key not in KEY_FIELDS}
    fields.setdefault("id", slugify(path.stem))
    fields.setdefault("name", path.stem)
    try:
        body = ProviderFields.model_validate(fields)
        record = resolve(
            body,
            templates,
            now=mtime,
            source="file",
            file=str(path),
            has_key=api_key is not None,
            hint=key_hint(api_key) if api_key is not None else None,
        )
    except ValidationError as exc:
        error = invalid_body(exc)
        raise ProviderFileError(path, error.param or "(file)", error.message) from None
    except InvalidRequest as exc:
        raise ProviderFileError(path, exc.param or "(file)", exc.message) from None
    return FileProvider(record=record, api_key=api_key)


def _stamp(path: Path) -> Stamp | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class ProviderFolder:
    """The providers.d folder: the last good provider of every file, refreshed by ``scan``."""

    def __init__(self, folder: Path, templates: Templates, cipher: Cipher) -> None:
        self.folder = folder
        self._templates = templates
        self._cipher = cipher
        self._stamps: dict[Path, Stamp] = {}
        self.providers: dict[Path, FileProvider] = {}

    def scan(self) -> bool:
        """Reload added and changed files, forget removed ones; True when anything changed."""
        current: dict[Path, Stamp] = {}
        if self.folder.is_dir():
            for path in sorted(self.folder.glob("*.yaml")):
                stamp = _stamp(path)
                if stamp is not None and not path.name.startswith("."):
                    current[path] = stamp
        # Built aside and swapped in whole: scan runs in a thread while the loop reads.
        providers = dict(self.providers)
        changed = False
        for path in list(providers):
            if path not in current:
                del providers[path]
                logger.info("provider file %s removed", path)
                changed = True
        for path, stamp in current.items():
            if self._stamps.get(path) == stamp:
                continue
            try:
                loaded = load_provider_file(path, self._templates, self._cipher)
            except ProviderFileError as exc:
                kept = "keeping its last good version" if path in providers else "skipped"
                logger.error("broken provider file: %s (%s)", exc, kept)
                continue
            if providers.get(path) != loaded:
                providers[path] = loaded
                logger.info("provider file %s loaded (id %s)", path, loaded.record.id)
                changed = True
        self.providers = providers
        self._stamps = current
        return changed
