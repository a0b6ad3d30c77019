-- Progress history (request_progress): one row at every status change of a request, written by the
-- database itself so that every path that moves a status (submit, lookup, file-complete batches, cancel,
-- fatal reports, the reconciler, other replicas) is covered without an extra round trip. The periodic
-- snapshots of running requests are written by the App (src/domain/progress.service.ts).
CREATE OR REPLACE FUNCTION sx_record_progress() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO request_progress (request_id, recorded_at, status, files_completed, files_failed,
                                total_bytes, total_events)
  VALUES (NEW.request_id, (clock_timestamp() AT TIME ZONE 'UTC'), NEW.status::text, NEW.files_completed,
          NEW.files_failed, COALESCE(NEW.total_bytes, 0), COALESCE(NEW.total_events, 0));
  RETURN NULL;
END
$fn$;

CREATE TRIGGER sx_requests_progress_insert AFTER INSERT ON requests
  FOR EACH ROW EXECUTE FUNCTION sx_record_progress();

CREATE TRIGGER sx_requests_progress_status AFTER UPDATE OF status ON requests
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION sx_record_progress();
