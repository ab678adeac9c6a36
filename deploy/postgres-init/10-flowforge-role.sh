#!/bin/sh
# FlowForge's own PostgreSQL role, for compose.yaml. The postgres image runs this once, when
# its data volume is new, as its superuser `postgres` against the setup server it starts then.
#
# The role `flowforge` may log in and owns the database `flowforge` (so `flowforge migrate`
# can create the schema `flowforge` in it), and nothing more: not a superuser, no CREATEROLE,
# no CREATEDB, no REPLICATION, no BYPASSRLS. Whoever holds its password reaches FlowForge's
# data and no other database's, and cannot change the server.
#
# The password is read from the secret file by psql itself (a backquoted \set), so it appears
# in no command line and no environment.
password_file=/run/secrets/flowforge_db_password
if [ ! -s "$password_file" ]; then
  echo "10-flowforge-role.sh: $password_file is empty: set FLOWFORGE_DB_PASSWORD in deploy/.env" >&2
  exit 1
fi
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres <<'SQL' || exit 1
\set password `cat /run/secrets/flowforge_db_password`
CREATE ROLE flowforge LOGIN PASSWORD :'password'
  NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS;
CREATE DATABASE flowforge OWNER flowforge;
SQL
