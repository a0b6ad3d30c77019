-- Adopting a Flask App database: the search words of the requests it already holds (the migration's own
-- backfill ran in an empty scratch schema).
INSERT INTO request_search (id, words) SELECT id, sx_request_search_words(title, did) FROM requests
ON CONFLICT (id) DO NOTHING;
