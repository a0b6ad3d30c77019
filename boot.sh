#!/usr/bin/env bash
# Container entry point (Dockerfile CMD), like upstream's servicex_app/boot.sh:
# 1. apply database migrations, 2. load default users, 3. run the server in the foreground.
# Every step reads the App's configuration (environment, APP_CONFIG_FILE such as upstream's
# /opt/servicex/app.conf), so they all use the database the server will open.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

# 1. Migrations: Postgres may still be starting (compose waits for its healthcheck, Kubernetes may not), so
#    retry a few times before giving up. A configuration error (exit 2) is not retried.
attempts=${MIGRATE_ATTEMPTS:-10}
for ((i = 1; ; i++)); do
  rc=0
  node dist/cli/migrate.js || rc=$?
  ((rc == 0)) && break
  ((rc == 2)) && exit 2
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
  node dist/cli/user.js load-defaults "$DEFAULT_USERS_FILE"
fi

# 3. The server, as this process (exec): the SIGTERM of `docker stop` or Kubernetes reaches it and it shuts
#    down gracefully (SHUTDOWN_GRACE_MS). The young generation is capped at 16 MB per semi-space, as in
#    `npm start` (package.json; docs/decisions.md D37): V8's default lets it grow to about 130 MB.
exec node --max-semi-space-size=16 dist/main.js
