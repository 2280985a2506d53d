"""Persons, their identifiers, key groups, households and merges."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fangkong.db.base import Base, utcnow


class Household(Base):
    __tablename__ = "household"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_code: Mapped[str] = mapped_column(String(15), ForeignKey("area.code"), index=True)
    address: Mapped[str] = mapped_column(String(300))
    # External reference, e.g. the household register number or the sheet's own key.
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    sex: Mapped[str] = mapped_column(String(8), default="unknown")
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    nationality: Mapped[str] = mapped_column(String(3), default="CHN")
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    area_code: Mapped[str] = mapped_column(String(15), ForeignKey("area.code"))
    address: Mapped[str | None] = mapped_column(String(300))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True)
    household_relation: Mapped[str | None] = mapped_column(String(16))
    work_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="active")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    identifiers: Mapped[list[PersonIdentifier]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="PersonIdentifier.id"
    )
    key_groups: Mapped[list[PersonKeyGroup]] = relationship(
        cascade="all, delete-orphan", order_by="PersonKeyGroup.key_group"
    )

    __table_args__ = (
        Index("ix_person_area_code_id", "area_code", "id"),
        Index("ix_person_name", "name"),
    )

    @property
    def primary_identifier(self) -> PersonIdentifier | None:
        for ident in self.identifiers:
            if ident.is_primary:
                return ident
        return self.identifiers[0] if self.identifiers else None


class PersonIdentifier(Base):
    """A document that identifies a person: resident ID, passport, permits."""

    __tablename__ = "person_identifier"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    value: Mapped[str] = mapped_column(String(64))
    is_primary: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    person: Mapped[Person] = relationship(back_populates="identifiers")

    __table_args__ = (UniqueConstraint("kind", "value"), Index("ix_person_identifier_value", "value"))


class PersonKeyGroup(Base):
    __tablename__ = "person_key_group"

    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)
    key_group: Mapped[str] = mapped_column(String(32), primary_key=True)

    __table_args__ = (Index("ix_person_key_group_key_group", "key_group", "person_id"),)


class PersonMerge(Base):
    """History of a merge: the merged person's record as it was, kept for ever."""

    __tablename__ = "person_merge"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    snapshot: Mapped[dict[str, Any]] = mapped_column()
    reason: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    merged_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
