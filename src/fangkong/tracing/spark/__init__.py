"""The Spark tracing engine: every `TracingEngine` question answered with Spark SQL, for data
that outgrow one machine. `local[*]` in tests, any cluster by URL (`spark://…`, `yarn`, `k8s://…`).

Same questions, same rows, same columns as the DuckDB engine (`duckdb_engine.py`,
`sql/*.sql`): the steps follow its statements (the same filters, clipping, merging of a
person's stays per cell, time-bucketed join and dwell rule), times are UTC epoch microseconds
throughout, positions become cells through the same SQL expression (`projection.cell_sql`), and
every number that is fixed by the parameters (window, thresholds, dwell per venue) is worked
out once in Python the same way. The contract suite (tests/tracing/test_contract.py) runs both
engines on the same inputs and requires identical tables.

Inputs: a path (a Parquet file, a folder or glob of Parquet files, a CSV file or glob — local
paths are listed and checked like the DuckDB engine does; a URL such as `hdfs://…/stays/` or
`s3a://…/*.parquet` is handed to Spark as it is, CSV when its name says so, Parquet otherwise)
or an Arrow table (sent to the cluster through Arrow). CSV text is typed by the DuckDB rules:
ids are integers when every value is, times with a zone are taken as written and naive times
are local time of `timezone`.

The session: pass one (`spark=`; it is never stopped by `close()`) or let the engine build one
from `master`, `app_name` and `config` on first use (stopped by `close()` only if the engine
started it). The session time zone is set to UTC; nothing else of it is changed.

The modules:

- `engine.py`: `SparkEngine` — the session, the settings, the timings; one method per question.
- `inputs.py`: opening Parquet, CSV and Arrow inputs, typing CSV text, reporting bad values.
- `cases.py`: the cases' windows, worked out in Python and broadcast.
- `companions.py`: companions (co-presence in grid cells).
- `contacts.py`: venue, vehicle and secondary contacts.
- `trajectory.py`: one person's stays over a time range.
- `helpers.py`: units, SQL literals, result typing, interval merging shared by the others.
"""

from __future__ import annotations

try:
    import pyspark.errors
    import pyspark.sql
    import pyspark.sql.functions
    import pyspark.sql.types  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "the Spark tracing engine needs PySpark: pip install 'fangkong[spark]' (and Java 17+)"
    ) from exc

from fangkong.tracing.spark.engine import SparkEngine

__all__ = ["SparkEngine"]
