#!/usr/bin/env bash
# Container entry point (Dockerfile CMD), like upstream's servicex_app/boot.sh:
# 1. apply database migrations, 2. (later) load default users, 3. run the server in the foreground.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

# 1. Migrations: to DATABASE_URL, else SQLALCHEMY_DATABASE_URI when it is a postgresql:// URL, else the
#    embedded PGlite database in ./data/pglite. Postgres may still be starting (compose waits for its
#    healthcheck, Kubernetes may not), so retry a few times before giving up.
attempts=${MIGRATE_ATTEMPTS:-10}
for ((i = 1; ; i++)); do
  if npx tsx scripts/migrate.ts deploy; then
    break
  fi
  if ((i >= attempts)); then
    echo "boot.sh: migrations failed ${attempts} times, giving up" >&2
    exit 1
  fi
  echo "boot.sh: migrations failed (attempt ${i}/${attempts}), retrying in 3s" >&2
  sleep 3
done

# 2. Default users (upstream: /default_users/users.json, a list of {sub, email, name, institution,
#    refresh_token}): created unless their sub exists; JWT_ADMIN's e-mail becomes admin; users without a
#    token wait to claim their account at first sign-in.
DEFAULT_USERS_FILE=${DEFAULT_USERS_FILE:-/default_users/users.json}
if [[ -f "$DEFAULT_USERS_FILE" ]]; then
  npx tsx scripts/user.ts load-defaults "$DEFAULT_USERS_FILE"
fi

# 3. The server, as this process (exec), so the SIGTERM of `docker stop` or Kubernetes reaches it and it shuts
#    down gracefully (SHUTDOWN_GRACE_MS). Not `exec npx tsx src/main.ts`: npx does not pass SIGTERM on to
#    the server; it exits alone and the server is killed without finishing its in-flight work.
exec node --import tsx src/main.ts
