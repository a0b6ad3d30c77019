-- AlterTable
ALTER TABLE "requests" ADD COLUMN     "reconcile_attempts" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "request_progress" (
    "id" BIGSERIAL NOT NULL,
    "request_id" VARCHAR(48) NOT NULL,
    "recorded_at" TIMESTAMP(6) NOT NULL,
    "status" VARCHAR(32) NOT NULL,
    "files_completed" INTEGER NOT NULL,
    "files_failed" INTEGER NOT NULL,
    "total_bytes" BIGINT NOT NULL DEFAULT 0,
    "total_events" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "request_progress_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "idempotency_keys" (
    "user_key" INTEGER NOT NULL,
    "key" VARCHAR(255) NOT NULL,
    "body_hash" VARCHAR(64) NOT NULL,
    "request_id" VARCHAR(48),
    "created_at" TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("user_key","key")
);

-- CreateTable
CREATE TABLE "app_leases" (
    "name" VARCHAR(64) NOT NULL,
    "holder" VARCHAR(128) NOT NULL,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "app_leases_pkey" PRIMARY KEY ("name")
);

-- CreateIndex
CREATE INDEX "ix_request_progress_request" ON "request_progress"("request_id", "recorded_at");
