-- Dashboards (issue 5): the pages sort by finish time or status with LIMIT 15; these indexes let Postgres
-- read the first rows in order instead of sorting every request (100,000 requests: a full sort per page).
-- CreateIndex
CREATE INDEX "ix_requests_finish_time" ON "requests"("finish_time", "id");

-- CreateIndex
CREATE INDEX "ix_requests_status_id" ON "requests"("status", "id");
