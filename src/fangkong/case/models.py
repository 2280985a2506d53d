"""Cases (病例): confirmed, asymptomatic and suspected, with their history."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fangkong.db.base import Base, utcnow


class Case(Base):
    __tablename__ = "case_record"  # "case" is an SQL keyword

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_no: Mapped[str] = mapped_column(String(32), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    # Jurisdiction: the person's residence area when the case was opened.
    area_code: Mapped[str] = mapped_column(String(15), ForeignKey("area.code"))
    classification: Mapped[str] = mapped_column(String(16))  # suspected | asymptomatic | confirmed
    origin: Mapped[str] = mapped_column(String(12), default="unknown")  # local | imported | unknown
    onset_date: Mapped[dt.date | None] = mapped_column(Date)
    first_positive_at: Mapped[dt.datetime | None] = mapped_column()
    found_by: Mapped[str] = mapped_column(String(24), default="other")
    work_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    care_status: Mapped[str] = mapped_column(String(24), default="not_isolated")
    care_place: Mapped[str | None] = mapped_column(String(200))
    # When the case came under control (isolated or admitted): close-contact windows end here.
    controlled_at: Mapped[dt.datetime | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(16))  # recovered | died | excluded
    notes: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_case_record_area_code_id", "area_code", "id"),)

    @property
    def anchor(self) -> dt.datetime | None:
        """Where lookback windows are counted from: the start of the onset day (local) when
        there are symptoms, else the first positive sampling time."""
        if self.onset_date is not None:
            from fangkong.config import get_settings

            return dt.datetime.combine(self.onset_date, dt.time(0), get_settings().tz)
        return self.first_positive_at


class CaseChange(Base):
    """Every reclassification and status change, with who and why (kept for ever)."""

    __tablename__ = "case_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(24))
    old: Mapped[str | None] = mapped_column(String(200))
    new: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    actor_name: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
