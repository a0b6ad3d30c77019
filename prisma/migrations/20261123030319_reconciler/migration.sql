-- AlterTable
ALTER TABLE "datasets" ADD COLUMN     "lookup_attempts" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "requests" ADD COLUMN     "reconciled_at" TIMESTAMP(6);
