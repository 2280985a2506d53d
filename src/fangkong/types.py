"""Shared annotated types for API parameters and schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_ID = 2_147_483_647  # integer primary keys (PostgreSQL int4)

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Limit = Annotated[int, Field(ge=1, le=500, description="page size")]
After = Annotated[int, Field(ge=0, le=MAX_ID, description="keyset cursor: `next_after` of the previous page")]
AreaCodeParam = Annotated[str, Field(min_length=2, max_length=15, pattern=r"^\d+$")]
