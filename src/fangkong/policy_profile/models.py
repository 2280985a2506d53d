"""Which policy profile is in force from which date: activations are data."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fangkong.db.base import Base, utcnow


class PolicyActivation(Base):
    """From `effective_from` on, `profile_id` version `version` (checksum) is in force, until a
    later activation. The resolved profile and its source text are kept, so what was in force is
    known exactly even after the files change."""

    __tablename__ = "policy_activation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(48))
    version: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(String(64))
    effective_from: Mapped[dt.date] = mapped_column(Date)
    resolved: Mapped[dict[str, Any]] = mapped_column()
    source_text: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    actor_name: Mapped[str] = mapped_column(String(64))
    activated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_policy_activation_effective_from", "effective_from", "id"),)
