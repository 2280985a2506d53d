"""`SparkEngine`: the engine object of the Spark implementation of `TracingEngine`. It owns the
Spark session (given, or built on first use and stopped by `close()` only then), the settings
(time zone, tuning knobs) and the timings of the last call; each question is answered by a
function of its own module (`companions.py`, `contacts.py`, `trajectory.py`) that is given the
engine and uses `_session()` and `_arrow()` from here.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession

from fangkong.errors import ErrorDetail, Invalid
from fangkong.tracing.ports import (
    CaseAnchor,
    CompanionParams,
    Exposure,
    Grid,
    PersonId,
    Source,
    VehicleParams,
    VenueParams,
)
from fangkong.tracing.spark.companions import find_companions
from fangkong.tracing.spark.contacts import (
    find_secondary_contacts,
    find_vehicle_contacts,
    find_venue_contacts,
)
from fangkong.tracing.spark.helpers import HOUR, first_line
from fangkong.tracing.spark.trajectory import find_trajectory


class SparkEngine:
    """Tracing on Spark. `master`: where to run (`local[*]`, `spark://host:7077`, `yarn`, …;
    default: the settings' `FANGKONG_SPARK_MASTER`, itself `local[*]` by default);
    `spark`: a session to use instead (the engine never stops it); `app_name`, `config`
    (`spark.*` settings for a session the engine builds); `timezone`: the zone of naive times in
    the inputs (default: the settings' `FANGKONG_TIMEZONE`); `bucket_hours`: the time bucket of
    the companion join (a tuning knob; results do not depend on it).

    `broadcast_rows`: up to this many (case, person, cell) rows whose dwell must be measured are
    sent to every executor instead of shuffling the stays (a tuning knob too). `last_timings`:
    seconds of the Spark jobs of the last call, by step; `last_cases_without_stays`: the cases of
    the last `companions` call with no stays in their window."""

    name = "spark"

    def __init__(
        self,
        master: str | None = None,
        spark: SparkSession | None = None,
        app_name: str = "fangkong-tracing",
        config: dict[str, str] | None = None,
        *,
        timezone: str | None = None,
        bucket_hours: float = 6.0,
    ) -> None:
        self.master = master
        self.app_name = app_name
        self.config = dict(config or {})
        self._spark = spark
        self._owned = False
        self._timezone = timezone
        if not bucket_hours > 0:
            raise ValueError("bucket_hours must be positive")
        self.bucket_us = int(bucket_hours * HOUR)
        self.last_timings: dict[str, float] = {}
        self.last_cases_without_stays: list[PersonId] = []
        self.broadcast_rows = 5_000_000

    # ------------------------------------------------------------ session

    @property
    def timezone(self) -> str:
        if self._timezone is None:
            from fangkong.config import get_settings

            self._timezone = get_settings().timezone
        return self._timezone

    @property
    def spark(self) -> SparkSession:
        """The session (built on first use)."""
        if self._spark is None:
            from pyspark import SparkContext

            existed = SparkContext._active_spark_context is not None
            if self.master is None:
                from fangkong.config import get_settings

                self.master = get_settings().spark_master
            builder: Any = SparkSession.builder.master(self.master).appName(self.app_name)
            settings = {"spark.sql.session.timeZone": "UTC", "spark.ui.showConsoleProgress": "false"}
            for key, value in {**settings, **self.config}.items():
                builder = builder.config(key, value)
            try:
                self._spark = builder.getOrCreate()
            except Exception as exc:  # no Java, a bad master URL, …
                raise Invalid(
                    f"cannot start Spark ({self.master}): {first_line(exc)}; the Spark engine needs Java 17+"
                    " (java on the PATH or JAVA_HOME) and a reachable master",
                    [ErrorDetail("engine", "Spark did not start", first_line(exc))],
                ) from None
            self._owned = not existed
        session = self._spark
        assert session is not None
        if session.conf.get("spark.sql.session.timeZone") != "UTC":
            session.conf.set("spark.sql.session.timeZone", "UTC")
        return session

    def close(self) -> None:
        """Stop the session if this engine started it."""
        if self._spark is not None and self._owned:
            self._spark.stop()
        self._spark = None
        self._owned = False

    def __enter__(self) -> SparkEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ plumbing (for the step modules)

    @contextmanager
    def _session(self) -> Iterator[SparkSession]:
        """The session for one call: timings reset, Spark errors raised as `Invalid`."""
        spark = self.spark
        self.last_timings = {}
        try:
            yield spark
        except PySparkException as exc:
            raise Invalid(
                f"cannot read input: {first_line(exc)}",
                [ErrorDetail("input", "Spark error", first_line(exc))],
            ) from None
        except Exception as exc:  # Py4J errors raised by Spark jobs
            if type(exc).__name__ != "Py4JJavaError":
                raise
            raise Invalid(
                f"cannot read input: {first_line(exc)}",
                [ErrorDetail("input", "Spark error", first_line(exc))],
            ) from None

    def _arrow(self, step: str, df: DataFrame) -> pa.Table:
        """The rows of `df` as Arrow, timed as `step` in `last_timings`."""
        start = time.perf_counter()
        table = df.toArrow()
        self.last_timings[step] = round(time.perf_counter() - start, 3)
        return table

    # ------------------------------------------------------------ the questions

    def companions(self, stays: Source, cases: list[CaseAnchor], params: CompanionParams) -> pa.Table:
        """See `TracingEngine.companions`; the method is in docs/tracing.md (steps: `companions.py`)."""
        return find_companions(self, stays, cases, params)

    def venue_contacts(self, checkins: Source, cases: list[CaseAnchor], params: VenueParams) -> pa.Table:
        """See `TracingEngine.venue_contacts` (steps: `contacts.py`)."""
        return find_venue_contacts(self, checkins, cases, params)

    def vehicle_contacts(self, travel: Source, cases: list[CaseAnchor], params: VehicleParams) -> pa.Table:
        """See `TracingEngine.vehicle_contacts`. Seats give rows by their leading number (`12A` →
        12); a seat without a row (`无座`) matches only by carriage or vehicle (steps: `contacts.py`)."""
        return find_vehicle_contacts(self, travel, cases, params)

    def secondary_contacts(self, edges: Source, exposures: list[Exposure]) -> pa.Table:
        """See `TracingEngine.secondary_contacts`. Edges are undirected; a close contact given
        twice counts from the later exposure (steps: `contacts.py`)."""
        return find_secondary_contacts(self, edges, exposures)

    def trajectory(
        self, stays: Source, person_id: PersonId, start: dt.datetime, end: dt.datetime, grid: Grid
    ) -> pa.Table:
        """See `TracingEngine.trajectory`. Exact duplicate stays are listed once (steps:
        `trajectory.py`)."""
        return find_trajectory(self, stays, person_id, start, end, grid)
