-- Ours: the DID finder's last /complete whose file count differed from the files that had arrived (the
-- lookup was then sent again). A finder that counts some path twice (a file in two datasets of a
-- container) reports more files than there are distinct paths every time: a re-run that reports the same
-- count and adds nothing new completes the lookup with what arrived.
CREATE TABLE "dataset_lookup_shortfalls" (
    "dataset_id" INTEGER NOT NULL,
    "reported" INTEGER NOT NULL,
    "arrived" INTEGER NOT NULL,

    CONSTRAINT "dataset_lookup_shortfalls_pkey" PRIMARY KEY ("dataset_id")
);

ALTER TABLE "dataset_lookup_shortfalls" ADD CONSTRAINT "dataset_lookup_shortfalls_dataset_id_fkey" FOREIGN KEY ("dataset_id") REFERENCES "datasets"("id") ON DELETE CASCADE ON UPDATE CASCADE;
