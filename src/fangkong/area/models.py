"""Administrative areas: province → city → county → township → community → grid.

The primary key is the area's own code in its shortest form, so the code of every area
starts with the code of each of its ancestors: province `51` (2 digits), city `5101` (4),
county `510104` (6, GB/T 2260), township `510104001` (9, statistical code), community
`510104001001` (12, statistical code) and grid `510104001001001` (15, local). A whole
subtree is therefore one index range scan (see `fangkong.area.codes.subtree_filter`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from fangkong.db.base import Base, utcnow


class Area(Base):
    __tablename__ = "area"

    code: Mapped[str] = mapped_column(String(15), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(12))
    parent_code: Mapped[str | None] = mapped_column(String(15), ForeignKey("area.code", ondelete="RESTRICT"))
    # Loaded from the national list (False) or added locally (True).
    local: Mapped[bool] = mapped_column(Boolean, default=False)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_area_parent_code", "parent_code"),)
