"""Tasks (任务): dispatched work with an owner area, a deadline and a status."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fangkong.db.base import Base, utcnow


class Task(Base):
    __tablename__ = "task"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # locate_control | investigation | supervision | …
    title: Mapped[str] = mapped_column(String(300))
    # Who answers for it: the area (e.g. the community of residence) and optionally a role.
    area_code: Mapped[str] = mapped_column(String(15), ForeignKey("area.code"))
    role: Mapped[str | None] = mapped_column(String(32))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))
    priority: Mapped[str] = mapped_column(String(8), default="normal")  # urgent | high | normal
    due_at: Mapped[dt.datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | done | cancelled
    # What made the task, so that re-running a flow never duplicates it.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column()
    done_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_task_area_status_due", "area_code", "status", "due_at"),
        Index("ix_task_status_due", "status", "due_at"),
    )
