"""The bodies that create and change a key, and creating one from a body (API and CLI alike)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator

from gateway.fields import WHOLE, DisplayName, ModelName
from gateway.keys.principal import BudgetPeriod, Scope
from gateway.keys.store import KeyStore

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
    rpm: Annotated[int, Strict(), Field(ge=1, le=10_000_000), WHOLE] | None = None
    tpm: Annotated[int, Strict(), Field(ge=1, le=1_000_000_000), WHOLE] | None = None
    expires_at: datetime | None = Field(
        None,
        description="When the key stops working; a time already past makes a key that is "
        "expired from the start (listed, unusable), as a key that expires later would be.",
    )
    budget_usd: Number | None = Field(None, ge=0, le=1_000_000_000)
    """Spend allowed per budget period, in USD at the configured prices."""
    max_tokens: Annotated[int, Strict(), Field(ge=1, le=10**15), WHOLE] | None = None
    """Tokens (prompt + completion) allowed per budget period."""
    budget_period: BudgetPeriod = "month"

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        """A time without an offset is UTC."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class KeyChanges(BaseModel):
    """The body of PATCH /api/v1/keys/{key_id}: fields present replace, null removes."""

    model_config = ConfigDict(extra="forbid")

    name: DisplayName | None = None
    rpm: Annotated[int, Strict(), Field(ge=1, le=10_000_000), WHOLE] | None = None
    tpm: Annotated[int, Strict(), Field(ge=1, le=1_000_000_000), WHOLE] | None = None
    budget_usd: Number | None = Field(None, ge=0, le=1_000_000_000)
    max_tokens: Annotated[int, Strict(), Field(ge=1, le=10**15), WHOLE] | None = None
    budget_period: BudgetPeriod | None = None


async def issue_key(store: KeyStore, spec: NewKey) -> tuple[str, dict[str, Any]]:
    """A new key as ``spec`` describes it, and its public metadata (the key is shown once)."""
    return await store.create(**spec.model_dump())  # the fields are create()'s arguments
