-- Per-file transform time with its fraction. The sidecar reports `total-time` in seconds as a float; the
-- upstream column transform_time is an integer, and the App truncated the value before storing it, so every
-- file that took less than a second (all of them, for local passthrough transformers) showed 0 s and no
-- rate on the results page. Ours: transform_seconds (double precision, nullable: rows written before this
-- migration, or by upstream's App after a hand-back, have only transform_time). transform_time keeps the
-- whole seconds, now rounded as Postgres rounds a float stored in an integer column (upstream's behaviour).
--
-- sx_apply_file_reports takes the times as float8[] (an int[] argument still resolves to it: Postgres casts
-- the array implicitly, so a replica running the previous release keeps working during a rolling update).
-- Otherwise unchanged from 20261206130000_file_reports_need_tasks.
--
-- Index for the pages (docs/api.md): the results page shows each failed file's last error, looked up per
-- file of the page among the request's file_status rows.

ALTER TABLE "transform_result" ADD COLUMN "transform_seconds" DOUBLE PRECISION;

CREATE INDEX "ix_file_status_request_file" ON "file_status"("request_id", "file_id", "id");

DROP FUNCTION sx_apply_file_reports(text[], int[], boolean[], text[], text[], int[], bigint[], bigint[], float8[],
  text[], text[], text[]);

CREATE FUNCTION sx_apply_file_reports(
  p_rid text[], p_fid int[], p_ok boolean[], p_status text[], p_path text[], p_time float8[],
  p_events bigint[], p_bytes bigint[], p_rate float8[], p_s3 text[], p_pod text[], p_info text[])
RETURNS TABLE (o_kind text, o_ord bigint, o_rid text)
LANGUAGE plpgsql VOLATILE
-- A generic plan (chosen by plpgsql after a few calls) does not know the arrays are small and hash-joins
-- whole tables; a custom plan per call keeps every lookup on an index.
SET plan_cache_mode = force_custom_plan
AS $fn$
BEGIN
  PERFORM 1 FROM datasets d
   WHERE d.id IN (SELECT r.did_id FROM requests r WHERE r.request_id = ANY(p_rid))
   ORDER BY d.id FOR UPDATE;
  PERFORM 1 FROM requests r WHERE r.request_id = ANY(p_rid) ORDER BY r.id FOR UPDATE;

  RETURN QUERY
  WITH inp AS (
    SELECT i.* FROM unnest(p_rid, p_fid, p_ok, p_status, p_path, p_time, p_events, p_bytes, p_rate, p_s3,
                           p_pod, p_info) WITH ORDINALITY
      AS i(rid, fid, ok, st, path, tt, ev, by, rate, s3, pod, info, ord)
  ),
  req AS (
    SELECT r.id, r.request_id, r.did_id, r.status FROM requests r WHERE r.request_id = ANY(p_rid)
  ),
  valid AS (
    SELECT inp.*, req.id AS req_pk, f.dataset_id, COALESCE(f.file_events, 0) AS f_ev, COALESCE(f.file_size, 0) AS f_sz
    FROM inp JOIN req ON req.request_id = inp.rid
             JOIN files f ON f.id = inp.fid AND f.dataset_id = req.did_id
    WHERE req.status NOT IN ('submitted', 'pending_lookup')
  ),
  chosen AS (
    SELECT DISTINCT ON (v.rid, v.fid) v.*
    FROM valid v ORDER BY v.rid, v.fid, v.ok DESC, CASE WHEN v.ok THEN -v.ord ELSE v.ord END
  ),
  plan AS (
    SELECT c.*, t.transform_status AS old_status, COALESCE(t.total_bytes, 0) AS old_by,
           COALESCE(t.total_events, 0) AS old_ev, t.id IS NULL AS is_new
    FROM chosen c LEFT JOIN transform_result t ON t.request_id = c.rid AND t.file_id = c.fid
  ),
  writes AS (
    SELECT * FROM plan p
    WHERE p.is_new OR (p.ok AND (p.old_status <> 'success' OR p.by <> p.old_by OR p.ev <> p.old_ev))
  ),
  up AS (
    INSERT INTO transform_result AS tr (file_id, request_id, file_path, transform_status, transform_time,
                                        transform_seconds, total_events, total_bytes, avg_rate, s3_object_name,
                                        created_at)
    SELECT w.fid, w.rid, w.path, w.st, LEAST(round(w.tt), 2147483647)::int, w.tt, w.ev, w.by, w.rate, w.s3,
           clock_timestamp() AT TIME ZONE 'UTC'
    FROM writes w
    ON CONFLICT (file_id, request_id) DO UPDATE SET
      file_path = EXCLUDED.file_path, transform_status = EXCLUDED.transform_status,
      transform_time = EXCLUDED.transform_time, transform_seconds = EXCLUDED.transform_seconds,
      total_events = EXCLUDED.total_events,
      total_bytes = EXCLUDED.total_bytes, avg_rate = EXCLUDED.avg_rate,
      s3_object_name = COALESCE(EXCLUDED.s3_object_name, tr.s3_object_name), created_at = EXCLUDED.created_at
    RETURNING 1
  ),
  st AS (
    INSERT INTO file_status (file_id, request_id, status, "timestamp", pod_name, info)
    SELECT v.fid, v.rid, CASE WHEN v.ok THEN 'success' ELSE 'failure' END, now() AT TIME ZONE 'UTC', v.pod, v.info
    FROM valid v ORDER BY v.ord
    RETURNING 1
  ),
  deltas AS (
    SELECT w.req_pk,
           sum(CASE WHEN w.ok AND (w.is_new OR w.old_status <> 'success') THEN 1 ELSE 0 END)::int AS dc,
           sum(CASE WHEN w.is_new AND NOT w.ok THEN 1
                    WHEN NOT w.is_new AND w.ok AND w.old_status <> 'success' THEN -1 ELSE 0 END)::int AS df,
           sum(w.by::numeric - CASE WHEN w.is_new THEN 0 ELSE w.old_by END) AS dby,
           sum(w.ev::numeric - CASE WHEN w.is_new THEN 0 ELSE w.old_ev END) AS dev
    FROM writes w GROUP BY w.req_pk
  ),
  backfill AS (
    SELECT DISTINCT ON (p.fid) p.fid, p.dataset_id, p.f_ev, p.f_sz, p.ev, p.by
    FROM plan p WHERE p.ok AND (p.ev > 0 OR p.by > 0) AND (p.f_ev = 0 OR p.f_sz = 0)
    ORDER BY p.fid
  ),
  bf AS (
    UPDATE files f SET
      file_events = CASE WHEN b.f_ev = 0 THEN b.ev ELSE f.file_events END,
      file_size = CASE WHEN b.f_sz = 0 THEN b.by ELSE f.file_size END
    FROM backfill b WHERE f.id = b.fid
    RETURNING 1
  ),
  ds AS (
    UPDATE datasets d SET events = sx_saturated_bigint(COALESCE(d.events, 0)::numeric + x.ev),
                          size = sx_saturated_bigint(COALESCE(d.size, 0)::numeric + x.by)
    FROM (SELECT b.dataset_id, sum(CASE WHEN b.f_ev = 0 THEN b.ev ELSE 0 END)::numeric AS ev,
                 sum(CASE WHEN b.f_sz = 0 THEN b.by ELSE 0 END)::numeric AS by
          FROM backfill b GROUP BY b.dataset_id) x
    WHERE d.id = x.dataset_id
    RETURNING 1
  ),
  rq AS (
    UPDATE requests r SET
      files_completed = r.files_completed + d.dc,
      files_failed = r.files_failed + d.df,
      total_bytes = sx_saturated_bigint(COALESCE(r.total_bytes, 0)::numeric + d.dby),
      total_events = sx_saturated_bigint(COALESCE(r.total_events, 0)::numeric + d.dev),
      status = CASE WHEN r.status = 'running' AND r.files > 0
                     AND r.files_completed + d.dc + r.files_failed + d.df >= r.files
                    THEN 'complete'::transformstatus ELSE r.status END,
      finish_time = CASE WHEN r.status = 'running' AND r.files > 0
                     AND r.files_completed + d.dc + r.files_failed + d.df >= r.files
                    THEN now() AT TIME ZONE 'UTC' ELSE r.finish_time END
    FROM deltas d WHERE r.id = d.req_pk
    RETURNING r.request_id AS rid, r.status AS new_status
  )
  SELECT 'o'::text, inp.ord,
         CASE WHEN NOT EXISTS (SELECT 1 FROM req WHERE req.request_id = inp.rid) THEN 'request_not_found'
              WHEN EXISTS (SELECT 1 FROM req WHERE req.request_id = inp.rid
                             AND req.status IN ('submitted', 'pending_lookup')) THEN 'request_not_running'
              WHEN NOT EXISTS (SELECT 1 FROM valid v WHERE v.ord = inp.ord) THEN 'file_not_in_request'
              ELSE 'ok' END
  FROM inp
  UNION ALL
  SELECT 'c'::text, NULL::bigint, rq.rid
  FROM rq JOIN req ON req.request_id = rq.rid
  WHERE rq.new_status = 'complete' AND req.status = 'running';
END
$fn$;
