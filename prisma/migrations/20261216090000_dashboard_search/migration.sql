-- Dashboards (issue 13; docs/database.md, docs/decisions.md D38): the status filters, their counts and the
-- title/dataset search run in SQL on indexes, the same on a Postgres server and on the embedded PGlite (no
-- extension: see D38 for why not pg_trgm).

-- The Active filter: the few requests still moving among many finished ones, newest first.
-- CreateIndex
CREATE INDEX "ix_requests_active" ON "requests"("id") WHERE "status" IN ('submitted', 'pending_lookup', 'lookup', 'running');

-- The counts of each filter (by status, with failures or not; per submitter or everyone's) from this index
-- alone, without reading the table's rows.
-- CreateIndex
CREATE INDEX "ix_requests_owner_status" ON "requests"("submitted_by", "status", "files_failed");

-- The search: the words of each request's title and dataset name (runs of letters and digits, lower-cased),
-- one row per request, kept by the triggers below; the GIN index finds the requests with a word starting
-- with each searched word. A table of its own (D6) so the search never recomputes words per row and the
-- counter updates of file-complete never rewrite them.
-- CreateTable
CREATE TABLE "request_search" (
    "id" INTEGER NOT NULL,
    "words" TSVECTOR NOT NULL,

    CONSTRAINT "request_search_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ix_request_search_words" ON "request_search" USING GIN ("words");

CREATE OR REPLACE FUNCTION sx_request_search_words(title TEXT, did TEXT) RETURNS tsvector
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT to_tsvector('simple'::regconfig,
                     regexp_replace(COALESCE(title, '') || ' ' || COALESCE(did, ''), '[^[:alnum:]]+', ' ', 'g'))
$fn$;

-- Statement-level for inserts and deletes (a bulk delete of the data lifecycle is one statement here);
-- title and did never change in the App, a row trigger covers other writers.
CREATE OR REPLACE FUNCTION sx_request_search_added() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO request_search (id, words)
  SELECT n.id, sx_request_search_words(n.title, n.did) FROM sx_new_requests n
  ON CONFLICT (id) DO UPDATE SET words = EXCLUDED.words;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION sx_request_search_removed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM request_search s USING sx_old_requests o WHERE s.id = o.id;
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION sx_request_search_changed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO request_search (id, words) VALUES (NEW.id, sx_request_search_words(NEW.title, NEW.did))
  ON CONFLICT (id) DO UPDATE SET words = EXCLUDED.words;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER sx_requests_search_insert AFTER INSERT ON requests
  REFERENCING NEW TABLE AS sx_new_requests
  FOR EACH STATEMENT EXECUTE FUNCTION sx_request_search_added();

CREATE TRIGGER sx_requests_search_delete AFTER DELETE ON requests
  REFERENCING OLD TABLE AS sx_old_requests
  FOR EACH STATEMENT EXECUTE FUNCTION sx_request_search_removed();

CREATE TRIGGER sx_requests_search_update AFTER UPDATE OF title, did ON requests
  FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.did IS DISTINCT FROM NEW.did)
  EXECUTE FUNCTION sx_request_search_changed();

-- The requests already there.
INSERT INTO request_search (id, words) SELECT id, sx_request_search_words(title, did) FROM requests;
