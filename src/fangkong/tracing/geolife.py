"""Readers for the Microsoft Research GeoLife GPS trajectories (Beijing, 2007–2012).

Both readers return GPS points as an Arrow table with the columns of
`fangkong.tracing.staypoints.stays_from_points`: `person_id, time (timestamp[us, tz=UTC]),
lon, lat (float64, WGS 84 degrees)`, in file order.

- `.plt` files (the original layout `<user>/Trajectory/<YYYYMMDDhhmmss>.plt`): six header
  lines, then `latitude, longitude, 0, altitude in feet (-777 = invalid), days since
  1899-12-30, date (YYYY-MM-DD), time (hh:mm:ss)`. Times are GMT; the point's time is read
  from the date and time fields (exact to the second), not from the fractional days.
- scikit-mobility's sample (`geolife_sample.txt.gz`): a CSV, optionally gzip-compressed,
  with the header `lat,lng,datetime,uid`; `datetime` is `YYYY-MM-DD hh:mm:ss` in UTC.

The data are © Microsoft Research, released under the Microsoft Research License Agreement
(non-commercial research use); see tests/data/geolife/README.md for the citation.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fangkong.tracing.ports import PersonId

TS = pa.timestamp("us", tz="UTC")
HEADER_LINES = 6
PLT_COLUMNS = ("lat", "lon", "zero", "altitude", "days", "date", "time")


def _points(
    person_id: PersonId,
    time: pa.Array | pa.ChunkedArray,
    lon: pa.Array | pa.ChunkedArray,
    lat: pa.Array | pa.ChunkedArray,
) -> pa.Table:
    id_type = pa.int64() if isinstance(person_id, int) else pa.string()
    return pa.table(
        {
            "person_id": pa.array([person_id] * len(time), type=id_type),
            "time": pc.cast(time, TS),
            "lon": pc.cast(lon, pa.float64()),
            "lat": pc.cast(lat, pa.float64()),
        }
    )


def _utc(text: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """`YYYY-MM-DD hh:mm:ss` strings (UTC) → timestamp[us, tz=UTC]."""
    naive = pc.strptime(text, format="%Y-%m-%d %H:%M:%S", unit="us")
    return pc.assume_timezone(naive, "UTC")


def read_plt(path: str | Path, person_id: PersonId | None = None) -> pa.Table:
    """The points of one GeoLife `.plt` file. `person_id` defaults to the user folder's
    name (`003` for `003/Trajectory/x.plt`), or the file's stem when it is not in a
    `Trajectory` folder."""
    path = Path(path)
    if person_id is None:
        person_id = path.parent.parent.name if path.parent.name == "Trajectory" else path.stem
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(skip_rows=HEADER_LINES, column_names=list(PLT_COLUMNS)),
        convert_options=pacsv.ConvertOptions(
            column_types={"lat": pa.float64(), "lon": pa.float64(), "date": pa.string(), "time": pa.string()},
            include_columns=["lat", "lon", "date", "time"],
        ),
    )
    stamp = pc.binary_join_element_wise(table["date"], table["time"], " ")
    return _points(person_id, _utc(stamp), table["lon"], table["lat"])


def read_user_folder(folder: str | Path, person_id: PersonId | None = None) -> pa.Table:
    """All `.plt` files of one user (`folder/Trajectory/*.plt`, or `folder/*.plt`), in
    time order. `person_id` defaults to the folder's name."""
    folder = Path(folder)
    if person_id is None:
        person_id = folder.name
    base = folder / "Trajectory" if (folder / "Trajectory").is_dir() else folder
    files = sorted(base.glob("*.plt"))
    if not files:
        return _points(person_id, pa.array([], TS), pa.array([], pa.float64()), pa.array([], pa.float64()))
    table = pa.concat_tables([read_plt(f, person_id) for f in files])
    return table.take(pc.sort_indices(table, [("time", "ascending")]))


def read_skmob(path: str | Path) -> pa.Table:
    """The points of scikit-mobility's GeoLife sample (CSV `lat,lng,datetime,uid`, gzip when
    the name ends in `.gz`). `person_id` is the `uid` column as written (a string, `001`),
    the same as `read_plt` takes from the folder name."""
    table = pacsv.read_csv(
        Path(path),
        convert_options=pacsv.ConvertOptions(
            column_types={
                "lat": pa.float64(),
                "lng": pa.float64(),
                "datetime": pa.string(),
                "uid": pa.string(),
            },
            include_columns=["lat", "lng", "datetime", "uid"],
        ),
    )
    return pa.table(
        {
            "person_id": table["uid"],
            "time": _utc(table["datetime"]),
            "lon": table["lng"],
            "lat": table["lat"],
        }
    )
