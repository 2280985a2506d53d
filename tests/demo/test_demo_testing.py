"""The demo's testing round on a small demo city: sites, a lab with the demo lab account, a
round, swabs through the real registration path, results with positive pools and their flows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from fangkong.auth.actor import system_actor
from fangkong.cli.serve import _activate_demo_profile
from fangkong.demo import testing
from fangkong.demo.accounts import create_accounts
from fangkong.demo.city import build_city
from fangkong.measure.models import PersonCategory
from fangkong.nat import progress
from fangkong.nat.models import LabMember, Sample, TestingRound, Tube
from fangkong.task.models import Task

END = dt.date(2022, 11, 1)


def test_demo_testing_round(engine: Any, factory: Any, tmp_path: Path) -> None:
    build_city(engine, tmp_path / "movement", size=3000, end_date=END)
    with factory.begin() as s:
        create_accounts(s)
        _activate_demo_profile(s)
    stats = testing.seed(factory, day=END - dt.timedelta(days=1))
    assert stats.sites > 0 and stats.expected > 0
    assert 0.6 * stats.expected < stats.swabs < 0.8 * stats.expected
    assert 0 < stats.reported < stats.tubes  # some boxes still on their way
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Sample)) == stats.swabs
        assert s.scalar(select(func.count()).select_from(LabMember)) == 1
        r = s.scalars(select(TestingRound)).one()
        p = progress.progress(session=s, actor=system_actor("t"), round_id=r.id)
        assert p.sampled == stats.swabs and p.missing == p.expected - p.sampled
        assert sum(c.pending for c in p.communities) > 0
        positive = s.scalar(select(func.count()).select_from(Tube).where(Tube.result == "positive"))
        assert positive == stats.positive_pools
        assert positive == 2
        if positive:
            members = s.scalar(
                select(func.count())
                .select_from(PersonCategory)
                .where(PersonCategory.category == "positive_pool_member")
            )
            retests = s.scalar(select(func.count()).select_from(Task).where(Task.kind == "retest"))
            assert members > 0 and retests >= members
