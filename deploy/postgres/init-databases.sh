#!/usr/bin/env bash
# Run once by the postgres image on an empty data directory (mounted into
# /docker-entrypoint-initdb.d). One database per service, each owned by a
# login role of its own that is not a superuser and cannot create roles or
# databases; nobody else may connect to it. Each service creates its tables
# with its embedded migrations at start, as the owner of its database.
#
# The roles' passwords are read from files (written by `candorctl
# dev-secrets`, or supplied by the operator): $CANDOR_SECRETS_DIR/<service>_password.
# Outside the image (tests), PGHOST/PGPORT/PGUSER select the server, and
# CANDOR_DATABASE_PREFIX (default `candor`) names the roles and databases.
set -euo pipefail

secrets="${CANDOR_SECRETS_DIR:-/run/secrets/candor}"
prefix="${CANDOR_DATABASE_PREFIX:-candor}"

for service in account notification membership forum; do
    password_file="$secrets/${service}_password"
    if [ ! -s "$password_file" ]; then
        echo "init-databases: $password_file is missing or empty" >&2
        exit 1
    fi
    password="$(tr -d '\r\n' <"$password_file")"
    name="${prefix}_${service}"
    psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
        --username "${POSTGRES_USER:-${PGUSER:-postgres}}" --dbname postgres \
        -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"name" TO :"name";
SQL
    echo "init-databases: database $name owned by role $name"
done
