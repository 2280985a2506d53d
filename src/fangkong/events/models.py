"""The domain-event outbox and the record of which handler has handled which event."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fangkong.db.base import Base, utcnow


class DomainEvent(Base):
    __tablename__ = "domain_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    aggregate_type: Mapped[str] = mapped_column(String(32))
    aggregate_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column()
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_domain_event_aggregate", "aggregate_type", "aggregate_id"),)


class EventHandling(Base):
    """One row per (event, handler) once the handler has run: done or failed."""

    __tablename__ = "event_handling"

    event_id: Mapped[int] = mapped_column(ForeignKey("domain_event.id", ondelete="CASCADE"), primary_key=True)
    handler: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(8))  # done | failed
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    handled_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
