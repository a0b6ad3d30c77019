-- A request's failure reports in the order they arrived (docs/api.md, "Pages"; docs/decisions.md D39): the
-- request page groups the most recent 10,000 of them by message, and the errors API lists them in id
-- order. With `id` in the key both read a range of the index in order instead of sorting every failure of
-- the request. Replaces the (request_id, status) index, which it covers: one index to maintain, as before.
DROP INDEX "ix_file_status_request_id_status";

CREATE INDEX "ix_file_status_request_status_id" ON "file_status"("request_id", "status", "id");
