-- Re-runs of a request's failed files (docs/database.md, docs/decisions.md D35): one audit row per re-run,
-- with who started it, when and how many files. A table of our own (D6); deleted with its request.
-- CreateTable
CREATE TABLE "request_reruns" (
    "id" SERIAL NOT NULL,
    "request_id" VARCHAR(48) NOT NULL,
    "user_id" INTEGER,
    "user_email" VARCHAR(320),
    "files" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "request_reruns_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ix_request_reruns_request" ON "request_reruns"("request_id", "id");

-- AddForeignKey
ALTER TABLE "request_reruns" ADD CONSTRAINT "request_reruns_request_id_fkey" FOREIGN KEY ("request_id") REFERENCES "requests"("request_id") ON DELETE CASCADE ON UPDATE CASCADE;
