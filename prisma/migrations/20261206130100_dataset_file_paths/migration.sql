-- Ours: each file path of a dataset once. DID finders repeat batches (a retry after a lost answer, a
-- re-sent lookup, two finders on one lookup), so /files inserts a path only when its key is new here. The
-- key is md5(paths) as a uuid: `paths` may be longer than a btree entry can hold. Upstream's `files` may
-- already hold duplicates in an adopted database, so no unique index is put on it.
CREATE TABLE "dataset_file_paths" (
    "dataset_id" INTEGER NOT NULL,
    "path_key" UUID NOT NULL,

    CONSTRAINT "dataset_file_paths_pkey" PRIMARY KEY ("dataset_id","path_key")
);

ALTER TABLE "dataset_file_paths" ADD CONSTRAINT "dataset_file_paths_dataset_id_fkey" FOREIGN KEY ("dataset_id") REFERENCES "datasets"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Only datasets being looked up receive files from DID finders; their files so far get their keys.
INSERT INTO "dataset_file_paths" ("dataset_id", "path_key")
SELECT DISTINCT f.dataset_id, md5(f.paths)::uuid
FROM files f JOIN datasets d ON d.id = f.dataset_id
WHERE d.lookup_status = 'looking';
