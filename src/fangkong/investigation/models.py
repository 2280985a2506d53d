"""Investigations (流调) of cases: the 2+4+24 clock and the structured interview record."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fangkong.db.base import Base, utcnow


class Investigation(Base):
    __tablename__ = "investigation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), unique=True)
    notified_at: Mapped[dt.datetime] = mapped_column()
    on_site_due: Mapped[dt.datetime] = mapped_column()
    core_facts_due: Mapped[dt.datetime] = mapped_column()
    report_due: Mapped[dt.datetime] = mapped_column()
    on_site_at: Mapped[dt.datetime | None] = mapped_column()
    core_facts_at: Mapped[dt.datetime | None] = mapped_column()
    report_at: Mapped[dt.datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | on_site | core_facts | reported
    lead: Mapped[str | None] = mapped_column(String(64))
    profile_id: Mapped[str] = mapped_column(String(48))
    checksum: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str | None] = mapped_column(Text)
    source_of_infection: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class InterviewEntry(Base):
    """One line of the case's timeline: a place with times, a person met, a trip, a note."""

    __tablename__ = "interview_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    investigation_id: Mapped[int] = mapped_column(
        ForeignKey("investigation.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(12))  # place | person | trip | note
    start: Mapped[dt.datetime | None] = mapped_column()
    end: Mapped[dt.datetime | None] = mapped_column()
    place_id: Mapped[int | None] = mapped_column(ForeignKey("place.id"))
    place_text: Mapped[str | None] = mapped_column(String(300))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    person_text: Mapped[str | None] = mapped_column(String(200))
    relation: Mapped[str | None] = mapped_column(String(32))
    mode: Mapped[str | None] = mapped_column(String(8))  # trips: flight | train | coach
    number: Mapped[str | None] = mapped_column(String(16))
    carriage: Mapped[str | None] = mapped_column(String(8))
    seat: Mapped[str | None] = mapped_column(String(8))
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
