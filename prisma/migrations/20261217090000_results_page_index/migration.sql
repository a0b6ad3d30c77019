-- The results page (docs/api.md, "Pages") lists a request's transform_result rows 100 at a time in file
-- order, optionally only the successes or only the failures, at any page. Ordered by (file_id, id) with
-- the status in the key, the page's ids come from an index-only scan: a deep page of a 100,000-file request
-- no longer sorts every row of the request.
CREATE INDEX "ix_transform_result_request_file" ON "transform_result"("request_id", "file_id", "id", "transform_status");
