-- Spatiotemporal companions (时空伴随者), DuckDB. Each section is one statement; `$name` are
-- filled in by duckdb_engine.py: $pid $s $e $cell (expressions on the stays relation $src),
-- $pre (a predicate on the raw columns that Parquet can prune row groups with), $lo $hi (the
-- union of the cases' windows), $b (time bucket), $mo (minimum co-presence), $md (minimum
-- dwell; 0 = no dwell rule). Times are UTC epoch microseconds throughout.
-- _cases(cid, pid, lo, a) is created by the engine: one row per case, window [lo, a).
--
-- "Union" below: a person's stays in one cell are merged before anything is measured, so
-- overlapping and duplicate stays count once. Sorted by start, each stay adds what lies after
-- the ends of the stays before it: [greatest(s, max(previous ends)), e).

-- name: stays
CREATE TEMP VIEW _st AS
SELECT $pid AS pid, $s AS s, $e AS e, $cell AS cell
FROM $src
WHERE $pre;

-- name: case_stays
-- The cases' own stays, clipped to each case's window. The source is joined with the cases
-- first, so the cell is computed only for the cases' rows.
CREATE TEMP TABLE _cst AS
SELECT cid, cpid, cell, greatest(s, lo) AS s, least(e, a) AS e
FROM (
    SELECT c.cid, c.pid AS cpid, c.lo, c.a, $s AS s, $e AS e, $cell AS cell
    FROM (SELECT $cols FROM $src WHERE $pre) r JOIN _cases c ON $pid = c.pid
) x
WHERE s < a AND e > lo AND e > s;

-- name: case_cells
-- The cells the cases visited, numbered: joins downstream use the small integer `ci`.
CREATE TEMP TABLE _cells AS
SELECT cell, CAST(row_number() OVER () AS INTEGER) AS ci
FROM (SELECT DISTINCT cell FROM _cst WHERE cell IS NOT NULL);

-- name: case_intervals
-- Per (case, cell): the case's presence as disjoint intervals (its stays merged).
CREATE TEMP TABLE _ci AS
WITH x AS (
    SELECT t.cid, t.cpid, c.ci, t.s, t.e FROM _cst t JOIN _cells c ON t.cell = c.cell
), o AS (
    SELECT *, max(e) OVER (PARTITION BY cid, ci ORDER BY s, e
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
    FROM x
), g AS (
    SELECT *, sum(CASE WHEN prev_end IS NULL OR s > prev_end THEN 1 ELSE 0 END)
              OVER (PARTITION BY cid, ci ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS grp
    FROM o
)
SELECT cid, any_value(cpid) AS cpid, ci, min(s) AS s, max(e) AS e
FROM g GROUP BY cid, ci, grp;

-- name: case_dwell
CREATE TEMP TABLE _cd AS
SELECT cid, ci, sum(e - s) AS d, (sum(e - s) >= $md) AS strong FROM _ci GROUP BY cid, ci;

-- name: case_buckets
-- Each case interval once per time bucket it touches: the join key is (cell, bucket).
CREATE TEMP TABLE _cib AS
SELECT cid, cpid, ci, s, e, s // $b AS b0, unnest(range(s // $b, (e - 1) // $b + 1)) AS b FROM _ci;

-- name: cell_stays
-- The one full pass over the data: every stay in the union window that lies in a cell some
-- case visited, its cell computed once. Later steps read this table, never the source again.
CREATE TEMP TABLE _stc AS
SELECT x.pid, x.s, x.e, c.ci
FROM _st x JOIN _cells c ON x.cell = c.cell
WHERE x.e > x.s AND x.s < $hi AND x.e > $lo;

-- name: pieces
-- Every (case interval, stay) overlap in the same cell, met in exactly one bucket: the one where
-- the overlap starts, greatest(first bucket of the stay, first bucket of the case interval). A
-- stay is probed with its first bucket, its last, and (long stays only) those between.
CREATE TEMP TABLE _pc AS
WITH x AS NOT MATERIALIZED (SELECT pid, s, e, ci, s // $b AS b0, (e - 1) // $b AS b1 FROM _stc)
SELECT k.cid, x.pid, x.ci, greatest(x.s, k.s) AS os, least(x.e, k.e) AS oe
FROM x JOIN _cib k ON x.ci = k.ci AND x.b0 = k.b
WHERE k.b0 <= x.b0 AND x.s < k.e AND x.e > k.s AND x.pid <> k.cpid
UNION ALL
SELECT k.cid, x.pid, x.ci, greatest(x.s, k.s) AS os, least(x.e, k.e) AS oe
FROM x JOIN _cib k ON x.ci = k.ci AND x.b1 = k.b
WHERE x.b1 > x.b0 AND k.b0 = x.b1 AND x.s < k.e AND x.e > k.s AND x.pid <> k.cpid
UNION ALL
SELECT k.cid, y.pid, y.ci, greatest(y.s, k.s) AS os, least(y.e, k.e) AS oe
FROM (SELECT *, unnest(range(b0 + 1, b1)) AS bm FROM x WHERE b1 > b0 + 1) y
JOIN _cib k ON y.ci = k.ci AND y.bm = k.b
WHERE k.b0 = y.bm AND y.s < k.e AND y.e > k.s AND y.pid <> k.cpid;

-- name: co_presence
-- Per (case, person, cell): the length of the union of the pieces; below the minimum dropped.
CREATE TEMP TABLE _agg AS
WITH o AS (
    SELECT cid, pid, ci, os, oe,
           greatest(os, coalesce(max(oe) OVER (PARTITION BY cid, pid, ci ORDER BY os, oe
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), os)) AS ns
    FROM _pc
)
SELECT cid, pid, ci, sum(greatest(oe - ns, 0)) AS co, min(os) AS fs, max(oe) AS ls
FROM o
GROUP BY cid, pid, ci
HAVING sum(greatest(oe - ns, 0)) >= $mo;

-- name: need_dwell
-- Cells where the case stayed less than the dwell threshold: the person's own dwell decides.
-- One row per (person, cell, window): cases with the same window share the work.
CREATE TEMP TABLE _need AS
SELECT DISTINCT a.pid, a.ci, c.lo, c.a
FROM _agg a JOIN _cd d ON a.cid = d.cid AND a.ci = d.ci JOIN _cases c ON a.cid = c.cid
WHERE NOT d.strong;

-- name: person_dwell
-- The person's stays in the cell merged, within the union window (U). A case window W inside
-- the union window holds at most U and at least U minus the union window's time outside W.
CREATE TEMP TABLE _pu AS
WITH y AS (
    SELECT x.pid, x.ci, x.s, x.e
    FROM _stc x SEMI JOIN (SELECT DISTINCT pid, ci FROM _need) k ON x.pid = k.pid AND x.ci = k.ci
), m AS (
    SELECT pid, ci, e,
           greatest(s, coalesce(max(e) OVER (PARTITION BY pid, ci ORDER BY s, e
                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), s)) AS ns
    FROM y
)
SELECT pid, ci, sum(least(e, $hi) - greatest(ns, $lo)) AS d
FROM m
WHERE ns < e AND ns < $hi
GROUP BY pid, ci;

-- name: dwell_undecided
-- (person, cell, window) the bounds cannot decide: measured exactly below.
CREATE TEMP TABLE _amb AS
SELECT n.pid, n.ci, n.lo, n.a
FROM _need n JOIN _pu u ON n.pid = u.pid AND n.ci = u.ci
WHERE u.d >= $md AND u.d - (n.lo - $lo) - ($hi - n.a) < $md;

-- name: dwell_exact
CREATE TEMP TABLE _pdx AS
WITH y AS (
    SELECT x.pid, x.ci, x.s, x.e
    FROM _stc x SEMI JOIN (SELECT DISTINCT pid, ci FROM _amb) k ON x.pid = k.pid AND x.ci = k.ci
), m AS (
    SELECT pid, ci, e,
           greatest(s, coalesce(max(e) OVER (PARTITION BY pid, ci ORDER BY s, e
                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), s)) AS ns
    FROM y
)
SELECT n.pid, n.ci, n.lo, n.a, sum(least(m.e, n.a) - greatest(m.ns, n.lo)) AS d
FROM m JOIN _amb n ON m.pid = n.pid AND m.ci = n.ci
WHERE m.ns < m.e AND m.ns < n.a AND m.e > n.lo
GROUP BY n.pid, n.ci, n.lo, n.a;

-- name: result
SELECT c.pid AS case_person_id, a.pid AS person_id,
       sum(a.co) / 60000000.0 AS co_presence_minutes,
       count(*) AS cells,
       min(a.fs) AS first_seen,
       max(a.ls) AS last_seen
FROM _agg a
JOIN _cd d ON a.cid = d.cid AND a.ci = d.ci
JOIN _cases c ON a.cid = c.cid
LEFT JOIN _pu u ON NOT d.strong AND u.pid = a.pid AND u.ci = a.ci
LEFT JOIN _pdx x ON NOT d.strong AND x.pid = a.pid AND x.ci = a.ci AND x.lo = c.lo AND x.a = c.a
WHERE d.strong OR (u.d >= $md AND (u.d - (c.lo - $lo) - ($hi - c.a) >= $md OR x.d >= $md))
GROUP BY c.pid, a.pid
ORDER BY case_person_id, person_id;
