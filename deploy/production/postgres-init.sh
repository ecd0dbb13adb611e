#!/bin/bash
# Runs once, when the PostgreSQL volume is initialised: creates PostCert's server role with the
# user and password of the database_url secret. The owner (POSTGRES_USER) owns the tables and runs
# the migrations, which grant this role rows only (README, "Database roles").
set -euo pipefail
url=$(cat /run/secrets/database_url)
if [[ ! $url =~ ^postgres(ql)?://([A-Za-z0-9_]+):([A-Za-z0-9]+)@ ]]; then
  echo "postgres-init: database_url must be postgres://USER:PASSWORD@… with a letters-and-digits password" >&2
  exit 1
fi
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v role="${BASH_REMATCH[2]}" -v password="${BASH_REMATCH[3]}" <<'SQL'
create role :"role" login password :'password';
SQL
