"""Nucleic acid testing (核酸检测): sampling sites, labs, testing rounds and their expected
persons, tubes (single or pooled) with their samples, shipments, and lab results with their
correction history.

A tube's life cycle is collected → shipped → received → reported (采 → 送 → 检 → 报); each
stage keeps its time and who did it, so turnaround is measured per stage.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from fangkong.db.base import Base, utcnow

SITE_KINDS = ("fixed", "temporary", "door_to_door", "checkpoint", "quarantine_site")
TUBE_STATUSES = ("open", "closed", "shipped", "received", "reported")
RESULTS = ("negative", "positive", "invalid")


class Lab(Base):
    """A testing laboratory (检测机构) with its daily capacity in tubes."""

    __tablename__ = "nat_lab"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    area_code: Mapped[str] = mapped_column(String(15), ForeignKey("area.code"))
    daily_capacity: Mapped[int] = mapped_column(Integer, default=0)  # tubes per day
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SamplingSite(Base):
    """A sampling site (采样点): fixed, temporary, a door-to-door team, a checkpoint or a
    quarantine site's own sampling."""

    __tablename__ = "nat_site"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # SITE_KINDS
    area_code: Mapped[str] = mapped_column(String(15), ForeignKey("area.code"), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    capacity_per_hour: Mapped[int] = mapped_column(Integer, default=0)
    hours: Mapped[str | None] = mapped_column(String(64))  # e.g. "08:00-12:00,14:00-20:00"
    staff: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | closed
    opened_at: Mapped[dt.datetime | None] = mapped_column()
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TestingRound(Base):
    """A testing round (全员/区域核酸轮次): everyone (or a target group) of an area, by a deadline.
    Rounds of one series repeat on the profile's cadence until its stop rule is met."""

    __tablename__ = "nat_round"
    __test__ = False  # not a pytest test class, whatever its name

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    area_code: Mapped[str] = mapped_column(String(15), ForeignKey("area.code"), index=True)
    target: Mapped[str] = mapped_column(String(16))  # everyone | key_groups | under_measures
    start_at: Mapped[dt.datetime] = mapped_column()
    deadline_at: Mapped[dt.datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | closed
    default_pool_size: Mapped[int] = mapped_column(Integer)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("nat_round.id"))  # the first round
    seq: Mapped[int] = mapped_column(Integer, default=1)  # its number in the series
    final: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # the closing round
    # The worker closes the series' rounds once past their deadline with every result in, and
    # plans the next one by the profile's stop rule (`nat.series.advance_all`); the same on
    # every round of a series. Rounds from before this column existed: off.
    auto_repeat: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    profile_id: Mapped[str | None] = mapped_column(String(64))
    expected: Mapped[int] = mapped_column(Integer, default=0)
    # How the sites were assigned: residents moved off full sites, residents beyond capacity.
    assignment: Mapped[dict[str, Any]] = mapped_column(default=dict)
    announcement_zh: Mapped[str | None] = mapped_column(Text)
    announcement_en: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column()

    # One round per number in a series: a round is never planned twice, whoever plans it. (A
    # unique index rather than a constraint: SQLite adds it without rebuilding the table.)
    __table_args__ = (Index("uq_nat_round_series_id_seq", "series_id", "seq", unique=True),)


class RoundMember(Base):
    """A person expected in a round (应检人员), their community and assigned site, and whether
    the profile wants their swab in a single tube."""

    __tablename__ = "nat_round_member"

    round_id: Mapped[int] = mapped_column(ForeignKey("nat_round.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True)
    area_code: Mapped[str] = mapped_column(String(15))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("nat_site.id"))
    distance_m: Mapped[float | None] = mapped_column(Float)
    single_tube: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_nat_round_member_round_area", "round_id", "area_code"),)


class Shipment(Base):
    """A transport box (转运箱) of tubes from a site to a lab."""

    __tablename__ = "nat_shipment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("nat_site.id"))
    lab_id: Mapped[int] = mapped_column(ForeignKey("nat_lab.id"))
    carrier: Mapped[str | None] = mapped_column(String(100))
    shipped_at: Mapped[dt.datetime] = mapped_column()
    shipped_by: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime | None] = mapped_column()
    received_by: Mapped[str | None] = mapped_column(String(64))
    temperature_c: Mapped[float | None] = mapped_column(Float)


class Tube(Base):
    """A sampling tube: single (capacity 1) or pooled (5/10/20 合1)."""

    __tablename__ = "nat_tube"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    barcode: Mapped[str] = mapped_column(String(40), unique=True)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("nat_round.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("nat_site.id"), index=True)
    capacity: Mapped[int] = mapped_column(Integer)  # 1 = single tube
    members: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10), default="open")  # TUBE_STATUSES
    setting: Mapped[str] = mapped_column(String(16), default="screening")  # result deadline key
    opened_at: Mapped[dt.datetime] = mapped_column()
    opened_by: Mapped[str] = mapped_column(String(64))
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    closed_by: Mapped[str | None] = mapped_column(String(64))
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("nat_shipment.id"), index=True)
    shipped_at: Mapped[dt.datetime | None] = mapped_column()
    lab_id: Mapped[int | None] = mapped_column(ForeignKey("nat_lab.id"))
    received_at: Mapped[dt.datetime | None] = mapped_column()
    received_by: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str | None] = mapped_column(String(10))  # RESULTS, the current one
    reported_at: Mapped[dt.datetime | None] = mapped_column()

    __table_args__ = (Index("ix_nat_tube_status", "status"),)


class Sample(Base):
    """One person's swab in a tube (采样登记)."""

    __tablename__ = "nat_sample"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tube_id: Mapped[int] = mapped_column(ForeignKey("nat_tube.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("nat_round.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("nat_site.id"))
    scanned: Mapped[str] = mapped_column(String(12))  # person_code | resident_id | passport | person_id
    collected_at: Mapped[dt.datetime] = mapped_column()
    collected_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("tube_id", "person_id"),
        Index("ix_nat_sample_round_person", "round_id", "person_id"),
        Index("ix_nat_sample_person_collected", "person_id", "collected_at"),
    )


class TubeResult(Base):
    """A lab's result for a tube. The same result twice is one result; a different result for
    the same tube is a correction: a new version, the old one kept with `current = false`."""

    __tablename__ = "nat_result"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tube_id: Mapped[int] = mapped_column(ForeignKey("nat_tube.id"))
    lab_id: Mapped[int] = mapped_column(ForeignKey("nat_lab.id"))
    result: Mapped[str] = mapped_column(String(10))  # RESULTS (interpreted by the profile)
    lab_result: Mapped[str | None] = mapped_column(String(10))  # what the lab said, if anything
    ct_n: Mapped[float | None] = mapped_column(Float)
    ct_orf: Mapped[float | None] = mapped_column(Float)
    tested_at: Mapped[dt.datetime] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str | None] = mapped_column(String(200))  # file name or "api"
    reported_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (
        UniqueConstraint("tube_id", "version"),
        Index("ix_nat_result_tube_current", "tube_id", "current"),
    )


class LabMember(Base):
    """Which accounts work for a lab: they receive its shipments and report its results."""

    __tablename__ = "nat_lab_member"

    lab_id: Mapped[int] = mapped_column(ForeignKey("nat_lab.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
