"""The bodies that create and change a key, and creating one from a body (API and CLI alike)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator

from gateway.fields import DisplayName, ModelName
from gateway.keys.principal import BudgetPeriod, Scope
from gateway.keys.store import KeyStore

Whole = Annotated[int, Strict()]
"""An integer, never a boolean (``true`` is not 1)."""
Number = Annotated[float, Strict()]
"""A number (an integer will do), never a boolean."""


def _chat_only() -> list[Scope]:
    return ["chat"]


class NewKey(BaseModel):
    """The body of POST /api/v1/keys."""

    model_config = ConfigDict(extra="forbid")

    name: DisplayName
    scopes: list[Scope] = Field(default_factory=_chat_only, min_length=1, max_length=3)
    models: list[ModelName] | None = Field(None, max_length=1000)
    """The models the key may use; empty or absent means every model."""
    rpm: Whole | None = Field(None, ge=1, le=10_000_000)
    tpm: Whole | None = Field(None, ge=1, le=1_000_000_000)
    expires_at: datetime | None = None
    budget_usd: Number | None = Field(None, ge=0, le=1_000_000_000)
    """Spend allowed per budget period, in USD at the configured prices."""
    max_tokens: Whole | None = Field(None, ge=1, le=10**15)
    """Tokens (prompt + completion) allowed per budget period."""
    budget_period: BudgetPeriod = "month"

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value <= datetime.now(UTC):
            raise ValueError("must be in the future")
        return value


class KeyChanges(BaseModel):
    """The body of PATCH /api/v1/keys/{key_id}: fields present replace, null removes."""

    model_config = ConfigDict(extra="forbid")

    name: DisplayName | None = None
    rpm: Whole | None = Field(None, ge=1, le=10_000_000)
    tpm: Whole | None = Field(None, ge=1, le=1_000_000_000)
    budget_usd: Number | None = Field(None, ge=0, le=1_000_000_000)
    max_tokens: Whole | None = Field(None, ge=1, le=10**15)
    budget_period: BudgetPeriod | None = None


async def issue_key(store: KeyStore, spec: NewKey) -> tuple[str, dict[str, Any]]:
    """A new key as ``spec`` describes it, and its public metadata (the key is shown once)."""
    return await store.create(**spec.model_dump())  # the fields are create()'s arguments
