-- Close contacts at venues and on conveyances, secondary contacts, trajectories (DuckDB).
-- Filled in by duckdb_engine.py; times are UTC epoch microseconds.

-- name: venue_presence
-- Check-ins as presence intervals: [time, leave_time] when the leave time is known, else
-- [time, time + the venue's dwell]; a leave time not after the check-in drops the row.
CREATE TEMP TABLE _vp AS
SELECT DISTINCT v.pid, v.place, v.s,
       coalesce(v.lt, v.s + CAST(round(coalesce(w.minutes, $default_dwell) * 60000000) AS BIGINT)) AS e
FROM (SELECT $pid AS pid, $place AS place, $t AS s, $lt AS lt FROM $src WHERE $pre) v
LEFT JOIN _dwell w ON v.place = w.place
WHERE v.pid IS NOT NULL AND v.place IS NOT NULL AND v.s IS NOT NULL AND (v.lt IS NULL OR v.lt > v.s)
  AND v.s < $hi AND coalesce(v.lt, v.s + $max_dwell) > $lo;

-- name: venue_merge
-- Per (person, place) presence as disjoint intervals; for cases clipped to their window.
CREATE TEMP TABLE _vm AS
WITH x AS (
    SELECT -1 AS cid, pid, place, s, e FROM _vp WHERE place IN (
        SELECT p.place FROM _vp p JOIN _cases c ON p.pid = c.pid WHERE p.s < c.a AND p.e > c.lo)
    UNION ALL
    SELECT c.cid, p.pid, p.place, greatest(p.s, c.lo), least(p.e, c.a)
    FROM _vp p JOIN _cases c ON p.pid = c.pid WHERE p.s < c.a AND p.e > c.lo
), o AS (
    SELECT *, max(e) OVER (PARTITION BY cid, pid, place ORDER BY s, e
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end FROM x
), g AS (
    SELECT *, sum(CASE WHEN prev_end IS NULL OR s > prev_end THEN 1 ELSE 0 END)
              OVER (PARTITION BY cid, pid, place ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS grp FROM o
)
SELECT cid, pid, place, min(s) AS s, max(e) AS e FROM g GROUP BY cid, pid, place, grp;

-- name: venue_result
SELECT c.pid AS case_person_id, o.pid AS person_id, o.place AS place_id,
       sum(least(o.e, k.e) - greatest(o.s, k.s)) / 60000000.0 AS overlap_minutes,
       min(greatest(o.s, k.s)) AS first_seen, max(least(o.e, k.e)) AS last_seen
FROM _vm k JOIN _cases c ON k.cid = c.cid
JOIN _vm o ON o.cid = -1 AND o.place = k.place AND o.s < k.e AND o.e > k.s AND o.pid <> c.pid
GROUP BY c.pid, o.pid, o.place
HAVING sum(least(o.e, k.e) - greatest(o.s, k.s)) >= $mo
ORDER BY case_person_id, person_id, place_id;

-- name: travel
CREATE TEMP TABLE _tr AS
WITH t AS (
    SELECT $pid AS pid, lower(trim(CAST($mode AS VARCHAR))) AS m0,
           upper(replace(trim(CAST($number AS VARCHAR)), ' ', '')) AS number,
           CAST($date AS DATE) AS date,
           nullif(trim(CAST($carriage AS VARCHAR)), '') AS c0,
           nullif(upper(trim(CAST($seat AS VARCHAR))), '') AS seat
    FROM $src
)
SELECT DISTINCT pid,
       CASE WHEN m0 IN ('flight', '航班', '飞机', '民航', 'plane', 'air') THEN 'flight'
            WHEN m0 IN ('train', '火车', '列车', '高铁', '动车', 'rail') THEN 'train'
            WHEN m0 IN ('coach', '长途汽车', '客车', '大巴', 'bus') THEN 'coach' END AS mode,
       number, date,
       CASE WHEN regexp_full_match(c0, '[0-9]+') THEN CAST(CAST(c0 AS HUGEINT) AS VARCHAR)
            ELSE upper(c0) END AS carriage,
       seat,
       TRY_CAST(nullif(regexp_extract(seat, '^0*([0-9]+)', 1), '') AS INTEGER) AS seat_row
FROM t
WHERE pid IS NOT NULL AND number IS NOT NULL AND date IS NOT NULL;

-- name: vehicle_result
SELECT DISTINCT ON (c.pid, t.pid, t.date, t.number, t.mode)
       c.pid AS case_person_id, t.pid AS person_id, t.mode, t.number, t.date, t.carriage, t.seat,
       k.seat AS case_seat
FROM _tr k JOIN _cases c ON k.pid = c.pid AND k.date BETWEEN c.d_lo AND c.d_hi
JOIN _tr t ON t.mode = k.mode AND t.number = k.number AND t.date = k.date AND t.pid <> c.pid
WHERE (k.mode = 'flight' AND abs(t.seat_row - k.seat_row) <= $aircraft_rows)
   OR (k.mode = 'train' AND t.carriage = k.carriage
       AND ($train_carriage OR abs(t.seat_row - k.seat_row) <= $train_rows))
   OR (k.mode = 'coach' AND ($coach_vehicle OR abs(t.seat_row - k.seat_row) <= $coach_rows))
ORDER BY case_person_id, person_id, t.date, t.number, t.mode,
         abs(t.seat_row - k.seat_row) NULLS LAST, case_seat;

-- name: secondary_result
WITH e AS (
    SELECT $a AS a, $b AS b, lower(trim(CAST($setting AS VARCHAR))) AS setting FROM $src
), both_ways AS (
    SELECT a, b, setting FROM e WHERE a IN (SELECT pid FROM _exp)
    UNION ALL
    SELECT b, a, setting FROM e WHERE b IN (SELECT pid FROM _exp)
)
SELECT x.pid AS contact_person_id, w.b AS person_id, w.setting, any_value(x.since) AS since
FROM both_ways w JOIN _exp x ON w.a = x.pid
WHERE w.setting IN ('household', 'workplace') AND w.b IS NOT NULL AND w.b <> x.pid
GROUP BY x.pid, w.b, w.setting
ORDER BY contact_person_id, person_id, setting;

-- name: trajectory_result
SELECT DISTINCT greatest(s, $lo) AS "start", least(e, $hi) AS "end", lon, lat, cell_id,
       (least(e, $hi) - greatest(s, $lo)) / 60000000.0 AS minutes
FROM (SELECT $s AS s, $e AS e, $lon AS lon, $lat AS lat, $cell AS cell_id FROM $src
      WHERE $pre AND $pid = $person) x
WHERE s < $hi AND e > $lo AND e > s
ORDER BY "start", "end", cell_id;
