"""Contact lists of cases: close contacts, secondary contacts and spatiotemporal companions,
each row with the reason it was listed; assistance requests (协查函) for persons elsewhere."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fangkong.db.base import Base, utcnow


class ContactListing(Base):
    __tablename__ = "contact_listing"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    list: Mapped[str] = mapped_column(String(20))  # close_contact | secondary_contact | companion
    setting: Mapped[str] = mapped_column(String(16))  # household | venue | vehicle | workplace | named | cell
    place_key: Mapped[str] = mapped_column(String(64), default="")  # place id, trip, cell … ("" if none)
    place: Mapped[str | None] = mapped_column(String(300))
    via_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))  # secondary: the close contact
    exposure_start: Mapped[dt.datetime | None] = mapped_column()
    exposure_end: Mapped[dt.datetime | None] = mapped_column()
    minutes: Mapped[float | None] = mapped_column(Float)
    reason_zh: Mapped[str] = mapped_column(Text)
    reason_en: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="proposed")  # proposed | confirmed | rejected
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    decided_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("case_id", "person_id", "list", "setting", "place_key"),
        Index("ix_contact_listing_person_status", "person_id", "status"),
    )


class AssistanceRequest(Base):
    """协查函: a listed person who lives outside the city, to be handed to their home city."""

    __tablename__ = "assistance_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    destination_code: Mapped[str] = mapped_column(String(15))  # the area of residence
    list: Mapped[str] = mapped_column(String(20))
    reason_zh: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="draft")  # draft | sent | answered
    exported_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("case_id", "person_id"),)
