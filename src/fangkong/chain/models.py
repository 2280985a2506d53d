"""Transmission chains: infector → infectee links between cases (from investigations)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fangkong.db.base import Base, utcnow


class CaseLink(Base):
    __tablename__ = "case_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    infector_case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    infectee_case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    setting: Mapped[str | None] = mapped_column(String(16))
    evidence: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[str] = mapped_column(String(12), default="probable")  # confirmed | probable | possible
    actor_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("infector_case_id", "infectee_case_id"),)
