"""Raw GPS points → stays (停留点), the stay-point detection of the GeoLife papers.

Method (Li Q., Zheng Y. et al., "Mining user similarity based on location history",
ACM GIS 2008; Zheng Y. et al., "Mining interesting locations and travel sequences from GPS
trajectories", WWW 2009), per person, on the points in time order:

1. Take point *i* as the anchor. Extend *j* from *i* while every point *i..j* is within
   `distance_m` (haversine on a sphere of radius 6,371,008.8 m, the IUGG mean radius) of
   point *i*; *j* is the last such point. "Within" is inclusive (a point exactly
   `distance_m` away is inside; distances are compared with a 1 µm tolerance so that
   floating-point rounding does not move the boundary).
2. If `t_j − t_i ≥ min_duration`, emit a stay `[t_i, t_j]` at the centroid of points
   *i..j* (the arithmetic mean of longitudes and of latitudes — exact enough at a scale of
   hundreds of metres and away from the ±180° meridian), with `points = j − i + 1`, and
   continue with *j + 1* as the next anchor. Otherwise continue with *i + 1*.

Two details differ from the paper, which measures the duration to the first point outside
the radius and drops a stay still open at the end of the track: here a stay ends at the
last point inside (the person was last seen there then) and a stay open at the end of a
person's points is kept when it is long enough.

Recording gaps. Receivers lose their fix indoors — exactly where people stay — and GeoLife
users often stop logging when they arrive and start again when they leave. A gap between two
consecutive points longer than `max_gap` therefore ends the window *unless both sides of the
gap are at the same place*: the point after the gap must be within `distance_m` of the
point before it (and, by rule 1, of the anchor). When they are, the person is taken to have
stayed through the gap and the gap's time counts towards the stay (an evening's last fix
and the next morning's first fix at the same dormitory make a stay for the night); when
they are not, the person left at some unknown moment during the gap, so the stay (if any)
ends at the last point before the gap and the gap's time never counts. Gaps up to
`max_gap` are ordinary sampling intervals. `max_gap_min=None` (or `inf`) turns the rule
off, so that only rule 1 decides.

Implementation. Points are sorted by person and time (rows with a null person, time or
coordinate are dropped). Everything that can be done for all points at once is vectorised
with numpy: the window boundaries (person changes and unbridged gaps), and for every point
the first point at least `min_duration` later, so that an anchor whose window cannot reach
it is rejected without a scan — only anchors that pass this test (the point `min_duration`
later is within the radius and before the next boundary) are scanned exactly, in growing
numpy chunks, and a stay makes the scan jump past its points.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

EARTH_RADIUS_M = 6_371_008.8
TOLERANCE_M = 1e-6
TS = pa.timestamp("us", tz="UTC")
_US_PER_MIN = 60_000_000
_FIRST_CHUNK = 64

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


def haversine_m(lon1: F64 | float, lat1: F64 | float, lon2: F64 | float, lat2: F64 | float) -> F64:
    """Great-circle distance in metres between (lon1, lat1) and (lon2, lat2), in degrees."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))), dtype=np.float64)


def _stays_schema(id_type: pa.DataType) -> pa.Schema:
    return pa.schema(
        [
            ("person_id", id_type),
            ("start", TS),
            ("end", TS),
            ("lon", pa.float64()),
            ("lat", pa.float64()),
            ("points", pa.int64()),
        ]
    )


def _segment_ends(person: I64, t: I64, lon: F64, lat: F64, max_gap_us: float, limit: float) -> I64:
    """For every point, the index of the last point its window may reach: the last point of
    its person before the next gap that is not bridged."""
    n = len(t)
    cut = np.zeros(n, dtype=bool)  # cut[k]: a window may not extend from k to k + 1
    cut[-1] = True
    if n > 1:
        cut[:-1] = person[1:] != person[:-1]
        if math.isfinite(max_gap_us):
            gap = (t[1:] - t[:-1]) > max_gap_us
            if gap.any():
                k = np.flatnonzero(gap)
                apart = haversine_m(lon[k], lat[k], lon[k + 1], lat[k + 1]) > limit
                cut[k[apart]] = True
    ends = np.flatnonzero(cut)
    return np.asarray(ends[np.searchsorted(ends, np.arange(n))], dtype=np.int64)


def _window_end(i: int, end: int, lon: F64, lat: F64, limit: float) -> int:
    """The last index j ≤ end with every point i..j within `limit` metres of point i."""
    lo, chunk = i + 1, _FIRST_CHUNK
    while lo <= end:
        hi = min(end, lo + chunk - 1)
        outside = haversine_m(lon[i], lat[i], lon[lo : hi + 1], lat[lo : hi + 1]) > limit
        if outside.any():
            return lo + int(np.argmax(outside)) - 1
        lo, chunk = hi + 1, chunk * 2
    return end


def _reach(person: I64, t: I64, min_us: float) -> I64:
    """For every point i, the first point of the same person at least `min_us` later (or
    i itself when `min_us` is 0); beyond the person's last point when there is none."""
    n = len(t)
    idx = np.arange(n, dtype=np.int64)
    span = int(t.max() - t.min()) + int(math.ceil(min_us)) + 1
    if (int(person.max()) + 1) * span < 2**62:
        # One sorted key for all persons: person * span + time, so one searchsorted suffices.
        key = person * span + (t - t.min())
        reach = np.searchsorted(key, key + int(math.ceil(min_us)), side="left")
    else:
        reach = np.empty(n, dtype=np.int64)
        bounds = np.r_[np.flatnonzero(np.r_[True, person[1:] != person[:-1]]), n]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            reach[a:b] = a + np.searchsorted(t[a:b], t[a:b] + min_us, side="left")
    return np.asarray(np.maximum(reach, idx), dtype=np.int64)


def _detect(
    person: I64, t: I64, lon: F64, lat: F64, distance_m: float, min_us: float, max_gap_us: float
) -> list[tuple[int, int]]:
    """(first, last) point indices of every stay."""
    n = len(t)
    limit = distance_m + TOLERANCE_M
    seg_end = _segment_ends(person, t, lon, lat, max_gap_us, limit)
    reach = _reach(person, t, min_us)
    possible = reach <= seg_end
    safe = np.where(possible, reach, np.arange(n))
    possible &= haversine_m(lon, lat, lon[safe], lat[safe]) <= limit
    candidates = np.flatnonzero(possible)
    stays: list[tuple[int, int]] = []
    pos = 0
    while pos < len(candidates):
        i = int(candidates[pos])
        j = _window_end(i, int(seg_end[i]), lon, lat, limit)
        if j >= reach[i]:
            stays.append((i, j))
            pos = int(np.searchsorted(candidates, j + 1))
        else:
            pos += 1
    return stays


def stays_from_points(
    points: pa.Table,
    *,
    distance_m: float = 200.0,
    min_duration_min: float = 20.0,
    max_gap_min: float | None = 60.0,
) -> pa.Table:
    """Stays from GPS points.

    `points`: `person_id` (int or string), `time` (timestamp, tz-aware — naive timestamps
    are taken as UTC), `lon`, `lat` (WGS 84 degrees). Returns `person_id, start, end
    (timestamp[us, tz=UTC]), lon, lat (the centroid), points (how many points)`, sorted by
    person_id, start. See the module docstring for the method.
    """
    if distance_m <= 0 or min_duration_min < 0 or (max_gap_min is not None and max_gap_min < 0):
        raise ValueError("distance_m must be > 0, min_duration_min and max_gap_min ≥ 0")
    missing = {"person_id", "time", "lon", "lat"} - set(points.column_names)
    if missing:
        raise ValueError(f"points lack the columns {sorted(missing)}")
    id_type = points.schema.field("person_id").type
    table = points.select(["person_id", "time", "lon", "lat"]).drop_null()
    time = table["time"]
    if not pa.types.is_timestamp(time.type):
        raise ValueError("points.time must be a timestamp")
    if time.type.tz is None:
        time = pc.assume_timezone(time, "UTC")
    table = table.set_column(1, "time", pc.cast(time, TS))
    table = table.take(pc.sort_indices(table, [("person_id", "ascending"), ("time", "ascending")]))
    n = table.num_rows
    if n == 0:
        return _stays_schema(id_type).empty_table()
    ids = table["person_id"].combine_chunks()
    # Integer codes of the persons, in sorted order (so code changes mark new persons).
    person = np.asarray(pc.dictionary_encode(ids).indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    t = np.asarray(pc.cast(table["time"], pa.int64()).to_numpy(), dtype=np.int64)
    lon = np.asarray(table["lon"].to_numpy(), dtype=np.float64)
    lat = np.asarray(table["lat"].to_numpy(), dtype=np.float64)
    max_gap_us = math.inf if max_gap_min is None else max_gap_min * _US_PER_MIN
    found = _detect(person, t, lon, lat, distance_m, min_duration_min * _US_PER_MIN, max_gap_us)
    if not found:
        return _stays_schema(id_type).empty_table()
    first = np.array([f for f, _ in found], dtype=np.int64)
    last = np.array([g for _, g in found], dtype=np.int64)
    count = last - first + 1
    # Centroids: sums over [first, last + 1) by reduceat (a trailing 0 keeps last + 1 in range).
    bounds = np.empty(2 * len(first), dtype=np.int64)
    bounds[0::2], bounds[1::2] = first, last + 1
    mean_lon = np.add.reduceat(np.r_[lon, 0.0], bounds)[0::2] / count
    mean_lat = np.add.reduceat(np.r_[lat, 0.0], bounds)[0::2] / count
    return pa.table(
        {
            "person_id": ids.take(pa.array(first)),
            "start": pa.array(t[first], type=pa.int64()).cast(TS),
            "end": pa.array(t[last], type=pa.int64()).cast(TS),
            "lon": mean_lon,
            "lat": mean_lat,
            "points": count,
        },
        schema=_stays_schema(id_type),
    )
