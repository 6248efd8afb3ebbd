#!/usr/bin/env bash
# The login role postgres-exporter reads the server's statistics as:
# <prefix>_monitoring, a member of pg_monitor and nothing else, so it
# connects to the `postgres` database only and may not connect to any
# service's database (init-databases.sh revoked that from PUBLIC).
#
# Run by the postgres image on an empty data directory after
# init-databases.sh (mounted as /docker-entrypoint-initdb.d/20-monitoring-role.sh).
# It may run again at any time: it creates the role when missing and sets
# its password to the current one otherwise, so a data volume from before
# monitoring gets it with
#   docker compose up secrets && docker compose exec postgres /docker-entrypoint-initdb.d/20-monitoring-role.sh
#
# The password is read from $CANDOR_SECRETS_DIR/monitoring_password (written
# by `candorctl dev-secrets`, or supplied by the operator). Outside the image
# (tests), PGHOST/PGPORT/PGUSER select the server, and CANDOR_DATABASE_PREFIX
# (default `candor`) names the role.
set -euo pipefail

secrets="${CANDOR_SECRETS_DIR:-/run/secrets/candor}"
prefix="${CANDOR_DATABASE_PREFIX:-candor}"

password_file="$secrets/monitoring_password"
if [ ! -s "$password_file" ]; then
    echo "monitoring-role: $password_file is missing or empty" >&2
    exit 1
fi
password="$(tr -d '\r\n' <"$password_file")"
name="${prefix}_monitoring"
psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
    --username "${POSTGRES_USER:-${PGUSER:-postgres}}" --dbname postgres \
    -v name="$name" -v password="$password" <<'SQL'
SET client_min_messages = warning;
SELECT format('CREATE ROLE %I NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION', :'name')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'name') \gexec
ALTER ROLE :"name" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
GRANT pg_monitor TO :"name";
SQL
echo "monitoring-role: role $name (pg_monitor)"
