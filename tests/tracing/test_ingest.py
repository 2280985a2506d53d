"""Movement files: validation with row-level problems, and the idempotent, atomic store."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fangkong.errors import ErrorDetail, Invalid
from fangkong.tracing import ingest
from fangkong.tracing.geolife import read_user_folder
from fangkong.tracing.ingest import (
    store_checkins,
    store_stays,
    store_travel,
    validate_checkins,
    validate_stays,
    validate_travel,
    write_report,
)
from fangkong.tracing.staypoints import stays_from_points

UTC = dt.UTC
HEADER = "person_id,start,end,lon,lat\n"
GOOD = [
    "1,2022-03-01T08:00:00+08:00,2022-03-01T09:00:00+08:00,104.0657,30.6595",
    "2,2022-03-01T08:30:00Z,2022-03-01T09:30:00Z,104.0700,30.6600",
    "3,2022-03-02 10:00:00,2022-03-02 12:00:00,104.0800,30.6700",  # naive: Asia/Shanghai
]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(found: list[ErrorDetail]) -> list[tuple[int | None, str, str]]:
    return [(p.row, p.field, p.reason) for p in found]


def count(folder: Path) -> int:
    return sum(pq.read_metadata(p).num_rows for p in folder.rglob("*.parquet"))


# ------------------------------------------------------------------------ validation


def test_good_stays_are_normalised(tmp_path: Path) -> None:
    good, problems = validate_stays(write(tmp_path, "s.csv", HEADER + "\n".join(GOOD) + "\n"))
    assert problems == []
    assert good.schema == pa.schema(
        [
            ("person_id", pa.int64()),
            ("start", pa.timestamp("us", "UTC")),
            ("end", pa.timestamp("us", "UTC")),
            ("lon", pa.float64()),
            ("lat", pa.float64()),
        ]
    )
    starts = good["start"].to_pylist()
    assert starts == [
        dt.datetime(2022, 3, 1, 0, 0, tzinfo=UTC),
        dt.datetime(2022, 3, 1, 8, 30, tzinfo=UTC),
        dt.datetime(2022, 3, 2, 2, 0, tzinfo=UTC),  # 10:00 in Shanghai
    ]
    # Naive times are local time of the given zone.
    good, _ = validate_stays(write(tmp_path, "s.csv", HEADER + GOOD[2] + "\n"), tz="Europe/London")
    assert good["start"][0].as_py() == dt.datetime(2022, 3, 2, 10, 0, tzinfo=UTC)


def test_every_bad_stay_is_reported_with_its_row_and_column(tmp_path: Path) -> None:
    rows = [
        GOOD[0],  # 1
        "2,2022-03-01T10:00:00+08:00,2022-03-01T09:00:00+08:00,104.07,30.66",  # 2 end before start
        "2,2022-03-01T10:00:00+08:00,2022-03-01T10:00:00+08:00,104.07,30.66",  # 3 end = start
        "",  # 4 blank: skipped, counted
        "3,2022-03-01T10:00:00+08:00,2022-03-01T11:00:00+08:00,200.5,30.66",  # 5 lon out of range
        "3,2022-03-01T10:00:00+08:00,2022-03-01T11:00:00+08:00,104.07,-91",  # 6 lat out of range
        "99,2022-03-01T10:00:00+08:00,2022-03-01T11:00:00+08:00,104.07,30.66",  # 7 unknown person
        "4,yesterday,2022-03-01T11:00:00+08:00,east,30.66",  # 8 not a time, not a number
        "4,2022-03-01T10:00:00+08:00,2022-03-01T11:00:00+08:00,104.07,",  # 9 lat missing
        ",2022-03-01T10:00:00+08:00,2022-03-01T11:00:00+08:00,104.07,30.66",  # 10 person missing
        "4,2022-03-01T10:00:00+08:00",  # 11 truncated line
        "x7,2022-03-01T10:00:00+08:00,2022-03-01T11:00:00+08:00,104.07,30.66",  # 12 not an integer
        GOOD[1],  # 13
    ]
    source = write(tmp_path, "s.csv", HEADER + "\n".join(rows) + "\n")
    good, problems = validate_stays(source, known_persons={1, 2, 3, 4}, id_type="int")
    assert problems_of(problems) == [
        (2, "end", "end must be after start"),
        (3, "end", "end must be after start"),
        (5, "lon", "outside [-180, 180]"),
        (6, "lat", "outside [-90, 90]"),
        (7, "person_id", "unknown person"),
        (8, "start", "not an ISO 8601 time"),
        (8, "lon", "not a number"),
        (9, "lat", "required"),
        (10, "person_id", "required"),
        (11, "", "has 2 values but the header has 5 columns"),
        (12, "person_id", "not an integer person id"),
    ]
    assert problems[2].value == "200.5" and problems[4].value == "99"  # as written
    assert good["person_id"].to_pylist() == [1, 2]


def test_times_without_a_zone_are_refused_where_a_zone_is_required(tmp_path: Path) -> None:
    source = write(tmp_path, "s.csv", HEADER + "\n".join(GOOD) + "\n")
    good, problems = validate_stays(source, require_zone=True)
    assert problems_of(problems) == [(3, "start", "time without a zone"), (3, "end", "time without a zone")]
    assert problems[0].value == "2022-03-02 10:00:00"
    assert good.num_rows == 2
    # The same for a Parquet file with naive timestamps: every row.
    table = pa.table(
        {
            "person_id": [1, 2],
            "start": pa.array([dt.datetime(2022, 3, 1, 8), dt.datetime(2022, 3, 1, 9)], pa.timestamp("ms")),
            "end": pa.array([dt.datetime(2022, 3, 1, 9), dt.datetime(2022, 3, 1, 10)], pa.timestamp("ms")),
            "lon": [104.0, 104.0],
            "lat": [30.0, 30.0],
        }
    )
    pq.write_table(table, tmp_path / "naive.parquet")
    good, problems = validate_stays(tmp_path / "naive.parquet", require_zone=True)
    assert good.num_rows == 0
    assert problems_of(problems) == [
        (1, "start", "time without a zone"),
        (1, "end", "time without a zone"),
        (2, "start", "time without a zone"),
        (2, "end", "time without a zone"),
    ]
    good, problems = validate_stays(tmp_path / "naive.parquet")  # local time of Asia/Shanghai
    assert problems == [] and good["start"][0].as_py() == dt.datetime(2022, 3, 1, 0, tzinfo=UTC)


def test_one_bad_time_does_not_change_how_the_others_are_read(tmp_path: Path) -> None:
    """A bad value makes the time column be parsed row by row (to name it): same results."""
    fast, _ = validate_stays(write(tmp_path, "a.csv", HEADER + "\n".join(GOOD) + "\n"))
    bad = "8,2022-02-30T10:00:00,2022-03-01T11:00:00,104,30"
    slow, problems = validate_stays(write(tmp_path, "b.csv", HEADER + "\n".join([*GOOD, bad]) + "\n"))
    assert problems_of(problems) == [(4, "start", "not an ISO 8601 time")]
    assert slow.equals(fast)


def test_headers_are_matched_loosely_and_extra_columns_ignored(tmp_path: Path) -> None:
    text = " Person_ID ,START,End,LON,Lat,comment\n" + GOOD[0] + ",hello\n"
    good, problems = validate_stays(write(tmp_path, "s.csv", "\ufeff" + text))
    assert (
        problems == []
        and good.num_rows == 1
        and good.column_names == ["person_id", "start", "end", "lon", "lat"]
    )


def test_string_ids_and_a_callable_for_known_persons(tmp_path: Path) -> None:
    text = HEADER + "\n".join(
        ["0012" + GOOD[0][1:], "A7" + GOOD[1][1:], "A7" + GOOD[1][1:], "B9" + GOOD[2][1:]]
    )
    calls: list[list[object]] = []

    def known(ids: list[object]) -> set[object]:
        calls.append(sorted(ids, key=str))
        return {"0012", "A7"}

    good, problems = validate_stays(write(tmp_path, "s.csv", text + "\n"), known_persons=known)
    assert calls == [["0012", "A7", "B9"]]  # one call with the distinct ids
    assert problems_of(problems) == [(4, "person_id", "unknown person")]
    assert good["person_id"].to_pylist() == ["0012", "A7"]  # the duplicate row is dropped
    # A known set of strings keeps digits as strings.
    good, _ = validate_stays(write(tmp_path, "t.csv", HEADER + GOOD[0] + "\n"), known_persons={"1"})
    assert good["person_id"].to_pylist() == ["1"]


def test_stays_with_cell_ids(tmp_path: Path) -> None:
    text = "person_id,start,end,cell_id\n" + "\n".join(
        [
            "1,2022-03-01T08:00:00+08:00,2022-03-01T09:00:00+08:00,460-00-4112-2031",
            "2,2022-03-01T08:00:00+08:00,2022-03-01T09:00:00+08:00,",
        ]
    )
    good, problems = validate_stays(write(tmp_path, "c.csv", text + "\n"))
    assert good.column_names == ["person_id", "start", "end", "cell_id"]
    assert problems_of(problems) == [(2, "cell_id", "required")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        (HEADER, "the file has a header but no data rows"),
        (HEADER + "\n,,,,\n\n", "the file has a header but no data rows"),
        ("person_id,start,lon,lat\n1,2022-03-01T08:00:00Z,104,30\n", "missing required columns: end"),
        ("person_id,start,end\n1,2022-03-01T08:00:00Z,2022-03-01T09:00:00Z\n", "missing a position"),
        (
            "person_id,start,end,lon\n1,2022-03-01T08:00:00Z,2022-03-01T09:00:00Z,104\n",
            "missing required column: lat",
        ),
        ("person_id,start,end,PERSON_ID\n", "the column person_id is given twice"),
    ],
)
def test_a_file_that_cannot_be_used_is_refused_as_a_whole(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(Invalid) as caught:
        validate_stays(write(tmp_path, "bad.csv", text))
    assert caught.value.message.startswith(message)
    assert caught.value.details and caught.value.details[0].row is None


def test_checkins(tmp_path: Path) -> None:
    text = "person_id,place_id,time,leave_time\n" + "\n".join(
        [
            "1,10,2022-03-01T12:00:00+08:00,2022-03-01T12:45:00+08:00",
            "2,10,2022-03-01T12:10:00+08:00,",  # no leave time: fine
            "3,77,2022-03-01T12:10:00+08:00,",  # unknown place
            "4,10,2022-03-01T12:10:00+08:00,2022-03-01T12:00:00+08:00",  # leaves before arriving
            "5,10,2022-03-01 12:10:00,",  # naive
        ]
    )
    source = write(tmp_path, "k.csv", text + "\n")
    good, problems = validate_checkins(source, known_places={10, 11}, require_zone=True)
    assert problems_of(problems) == [
        (3, "place_id", "unknown place"),
        (4, "leave_time", "leave_time must be after time"),
        (5, "time", "time without a zone"),
    ]
    assert good.column_names == ["person_id", "place_id", "time", "leave_time"]
    assert good["person_id"].to_pylist() == [1, 2]
    assert good["leave_time"].to_pylist()[1] is None
    stored = store_checkins(good, tmp_path / "store", batch_id="k1")
    assert [p.parent.name for p in stored.files] == ["day=2022-03-01"]
    assert store_checkins(good, tmp_path / "store", batch_id="k2").written == 0


def test_travel_records(tmp_path: Path) -> None:
    text = "person_id,mode,number,date,carriage,seat\n" + "\n".join(
        [
            "1,flight,ca 1405,2022-03-01,,12a",
            "2,高铁,G89,2022-03-01,05,07F",
            "3,coach,川A12345,2022-03-02,,",
            "4,ship,X1,2022-03-01,,",  # not a mode
            "5,train,G89,01/03/2022,5,07F",  # not an ISO date
            "6,flight,CA1405,2022-03-01,,aisle",  # not a flight seat
        ]
    )
    good, problems = validate_travel(write(tmp_path, "t.csv", text + "\n"))
    assert problems_of(problems) == [
        (4, "mode", "mode must be flight, train or coach"),
        (5, "date", "not a date (YYYY-MM-DD)"),
        (6, "seat", "a flight seat is a row number and a letter (12A)"),
    ]
    assert good.to_pylist() == [
        {
            "person_id": 1,
            "mode": "flight",
            "number": "CA1405",
            "date": dt.date(2022, 3, 1),
            "carriage": None,
            "seat": "12A",
        },
        {
            "person_id": 2,
            "mode": "train",
            "number": "G89",
            "date": dt.date(2022, 3, 1),
            "carriage": "5",
            "seat": "07F",
        },
        {
            "person_id": 3,
            "mode": "coach",
            "number": "川A12345",
            "date": dt.date(2022, 3, 2),
            "carriage": None,
            "seat": None,
        },
    ]
    stored = store_travel(good, tmp_path / "store", batch_id="t1")
    assert sorted(p.parent.name for p in stored.files) == ["day=2022-03-01", "day=2022-03-02"]
    assert store_travel(good, tmp_path / "store", batch_id="t1").written == 0


def test_the_report_is_the_import_report_csv(tmp_path: Path) -> None:
    rows = [GOOD[0], "2,2022-03-01T10:00:00+08:00,2022-03-01T09:00:00+08:00,=1+1,30.66"]
    _, problems = validate_stays(write(tmp_path, "s.csv", HEADER + "\n".join(rows) + "\n"))
    path = write_report(tmp_path / "report.csv", problems)
    lines = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    assert lines == [
        ["row", "column", "value", "reason"],
        ["2", "end", "2022-03-01T09:00:00+08:00", "end must be after start"],
        ["2", "lon", "'=1+1", "not a number"],
    ]


# ------------------------------------------------------------------------ the store


def test_good_rows_are_stored_by_day_and_a_second_upload_changes_nothing(tmp_path: Path) -> None:
    rows = [*GOOD, "9,2022-03-01T08:00:00+08:00,2022-03-01T07:00:00+08:00,104,30"]
    source = write(tmp_path, "s.csv", HEADER + "\n".join(rows) + "\n")
    store = tmp_path / "store"
    first = ingest.ingest("stays", source, store, batch_id="up1", report_path=tmp_path / "r1.csv")
    assert (first.good, first.stored.written, first.stored.duplicates) == (3, 3, 0)
    assert [(p.row, p.field) for p in first.problems] == [(4, "end")] and first.report is not None
    days = sorted(p.name for p in (store / "stays").iterdir() if p.is_dir())
    assert days == ["day=2022-03-01", "day=2022-03-02"]  # the UTC day of start
    assert (store / "stays" / "day=2022-03-01" / "part-up1.parquet").exists()
    before = {p: p.stat().st_mtime_ns for p in store.rglob("*.parquet")}
    assert count(store / "stays") == 3

    second = ingest.ingest("stays", source, store, batch_id="up2")
    assert (second.stored.written, second.stored.duplicates, second.stored.files) == (0, 3, [])
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*.parquet")} == before
    assert count(store / "stays") == 3
    # Read back as one dataset: the same rows.
    back = pq.read_table(store / "stays").drop_columns(["day"]).sort_by([("person_id", "ascending")])
    good, _ = validate_stays(source)
    assert back.equals(good)


def test_an_overlapping_upload_adds_only_the_new_rows(tmp_path: Path) -> None:
    store = tmp_path / "store"
    good1, _ = validate_stays(write(tmp_path, "a.csv", HEADER + "\n".join(GOOD[:2]) + "\n"))
    extra = "4,2022-03-01T15:00:00+08:00,2022-03-01T16:00:00+08:00,104.1,30.7"
    good2, _ = validate_stays(write(tmp_path, "b.csv", HEADER + "\n".join([*GOOD[1:], extra]) + "\n"))
    assert store_stays(good1, store, batch_id="a").written == 2
    result = store_stays(good2, store, batch_id="b")
    assert (result.written, result.duplicates) == (2, 1)
    assert count(store / "stays") == 4
    # The same batch id again with new rows gets a new part name, never overwrites.
    more, _ = validate_stays(write(tmp_path, "c.csv", HEADER + extra.replace("4,", "5,", 1) + "\n"))
    again = store_stays(more, store, batch_id="b")
    assert [p.name for p in again.files] == ["part-b-1.parquet"]
    assert count(store / "stays") == 5


def test_nulls_count_as_equal_when_deduplicating(tmp_path: Path) -> None:
    text = "person_id,start,end,lon,lat,cell_id\n1,2022-03-01T08:00:00Z,2022-03-01T09:00:00Z,,,c1\n"
    good, problems = validate_stays(write(tmp_path, "c.csv", text))
    assert problems == []
    assert store_stays(good, tmp_path, batch_id="x").written == 1
    assert store_stays(good, tmp_path, batch_id="y").written == 0


def test_a_crash_while_writing_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, _ = validate_stays(write(tmp_path, "s.csv", HEADER + "\n".join(GOOD) + "\n"))
    store = tmp_path / "store"

    def broken(table: pa.Table, where: object, **kwargs: object) -> None:
        Path(str(where)).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(ingest.pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        store_stays(good, store, batch_id="crash")
    assert [p for p in (store / "stays").rglob("*") if p.is_file() and p.name != ".lock"] == []
    monkeypatch.undo()
    # Uploading again stores everything.
    assert store_stays(good, store, batch_id="crash").written == 3
    assert count(store / "stays") == 3


def test_a_temporary_file_left_by_a_killed_process_is_removed(tmp_path: Path) -> None:
    good, _ = validate_stays(write(tmp_path, "s.csv", HEADER + GOOD[0] + "\n"))
    day = tmp_path / "stays" / "day=2022-03-01"
    day.mkdir(parents=True)
    (day / ".part-old.parquet.0123.tmp").write_bytes(b"PAR1")
    store_stays(good, tmp_path, batch_id="new")
    assert sorted(p.name for p in day.iterdir()) == ["part-new.parquet"]


def test_the_store_refuses_other_columns_and_bad_batch_ids(tmp_path: Path) -> None:
    good, _ = validate_stays(write(tmp_path, "s.csv", HEADER + GOOD[0] + "\n"))
    store_stays(good, tmp_path, batch_id="one")
    cells, _ = validate_stays(
        write(
            tmp_path, "c.csv", "person_id,start,end,cell_id\n1,2022-03-01T08:00:00Z,2022-03-01T09:00:00Z,c\n"
        )
    )
    with pytest.raises(Invalid, match="holds other columns"):
        store_stays(cells, tmp_path, batch_id="two")
    with pytest.raises(Invalid, match="batch_id"):
        store_stays(good, tmp_path, batch_id="../escape")
    assert store_stays(good.slice(0, 0), tmp_path, batch_id="empty").written == 0


def test_geolife_stays_go_through_the_store(tmp_path: Path) -> None:
    """Stays detected from real GPS points validate cleanly and store idempotently."""
    folder = Path(__file__).resolve().parents[1] / "data" / "geolife" / "trackintel_subset"
    points = pa.concat_tables([read_user_folder(folder / u) for u in ("003", "005")])
    stays = stays_from_points(points).drop_columns(["points"])
    pq.write_table(stays, tmp_path / "geolife.parquet")
    good, problems = validate_stays(
        tmp_path / "geolife.parquet", known_persons={"003", "005"}, require_zone=True
    )
    assert problems == [] and good.num_rows == stays.num_rows == 27
    first = store_stays(good, tmp_path / "store", batch_id="geolife")
    assert first.written == 27 and count(tmp_path / "store" / "stays") == 27
    assert store_stays(good, tmp_path / "store", batch_id="geolife").written == 0
    assert count(tmp_path / "store" / "stays") == 27
