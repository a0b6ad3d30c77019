-- Ours (docs/sign-in.md): the sign-in identities of accounts that were deleted or rejected, so that someone
-- who signs in again is told their account was removed instead of landing silently on "Create your
-- profile". Written by the database on every removal (admin pages, DELETE /users, DELETE /pending, Slack
-- reject, the user CLI), before the cascade removes user_identities. Issuer and subject only: no e-mail
-- or name is kept. A legacy row (made by upstream or the CLI, never signed in here) leaves its users.sub
-- with a NULL issuer.
-- CreateTable
CREATE TABLE "removed_accounts" (
    "id" SERIAL NOT NULL,
    "iss" VARCHAR(512),
    "sub" VARCHAR(255) NOT NULL,
    "was_pending" BOOLEAN NOT NULL,
    "removed_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "removed_accounts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ix_removed_accounts_sub" ON "removed_accounts"("sub");

CREATE OR REPLACE FUNCTION sx_remember_removed_account() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO removed_accounts (iss, sub, was_pending)
  SELECT i.iss, i.sub, OLD.pending FROM user_identities i WHERE i.user_id = OLD.id
  UNION ALL
  SELECT NULL, OLD.sub, OLD.pending;
  RETURN OLD;
END
$fn$;

-- BEFORE: the identities are still there (the foreign key's cascade runs after the row is gone).
CREATE TRIGGER sx_users_removed BEFORE DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION sx_remember_removed_account();
