-- Sign-in keyed by the provider's subject, and server-side session records (docs/sign-in.md). New tables
-- only: upstream's `users` table is not altered.
-- CreateTable
CREATE TABLE "user_identities" (
    "id" SERIAL NOT NULL,
    "user_id" INTEGER NOT NULL,
    "iss" VARCHAR(512) NOT NULL,
    "sub" VARCHAR(255) NOT NULL,
    "email" VARCHAR(320),
    "email_verified" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_sign_in_at" TIMESTAMPTZ(6),

    CONSTRAINT "user_identities_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "web_sessions" (
    "id" VARCHAR(64) NOT NULL,
    "user_id" INTEGER,
    "iss" VARCHAR(512) NOT NULL,
    "sub" VARCHAR(255) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "web_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ix_user_identities_user" ON "user_identities"("user_id");

-- CreateIndex
CREATE UNIQUE INDEX "ux_user_identities_iss_sub" ON "user_identities"("iss", "sub");

-- CreateIndex
CREATE INDEX "ix_web_sessions_user" ON "web_sessions"("user_id");

-- CreateIndex
CREATE INDEX "ix_web_sessions_identity" ON "web_sessions"("iss", "sub");

-- CreateIndex
CREATE INDEX "ix_web_sessions_expires" ON "web_sessions"("expires_at");

-- AddForeignKey
ALTER TABLE "user_identities" ADD CONSTRAINT "user_identities_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "web_sessions" ADD CONSTRAINT "web_sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
