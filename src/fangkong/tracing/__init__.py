"""Tracing (流调溯源) engines: who shared a place, a vehicle or a grid cell with a case.

Pure: works on files (Parquet, CSV) and Arrow tables; never imports the database, the API,
the web or the CLI. One `TracingEngine` interface (ports.py), two engines: DuckDB (default,
out-of-core on Parquet) and Spark (scale-out); one contract test suite runs on both.
"""
