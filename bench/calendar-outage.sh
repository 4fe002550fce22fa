#!/usr/bin/env bash
# Times the issue-8 reproduction on the release binary: hostile recurring events, listed twice at once, /ready meanwhile.
# Needs a PostgreSQL superuser at 127.0.0.1:5432 (trust) and `cargo build --release`; run from the repository root.
set -euo pipefail
BIN=${KITH_BIN:-target/release/kith}
PORT=18123
psql -h 127.0.0.1 -U postgres -qc "drop database if exists calbench" -c "create database calbench"
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/calbench KITH_JWT_SECRET=$(printf 'x%.0s' {1..40}) KITH_BIND=127.0.0.1:$PORT KITH_DATA_DIR=/tmp/calbench-data RUST_LOG=warn
$BIN serve > /tmp/calbench.log 2>&1 &
PID=$!
trap 'kill $PID' EXIT
for i in $(seq 50); do curl -sf localhost:$PORT/ready >/dev/null && break; sleep 0.2; done
TOKEN=$(curl -s -XPOST localhost:$PORT/auth/v1/signup -H 'content-type: application/json' -d '{"email":"cal@x.io","password":"a-good-password"}' | python3 -c 'import sys,json;print(json.load(sys.stdin)["access_token"])')
OID=$(curl -s -XPOST localhost:$PORT/api/organizations -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"name":"Cal"}' | python3 -c 'import sys,json;print(json.load(sys.stdin)["id"])')
WS=$(curl -s "localhost:$PORT/api/workspaces?org_id=$OID" -H "authorization: Bearer $TOKEN" | python3 -c 'import sys,json;print(json.load(sys.stdin)[0]["id"])')
echo "POST FREQ=SECONDLY from 1900 via /api:"
curl -s -o /dev/null -w "  %{http_code} in %{time_total}s\n" -XPOST localhost:$PORT/api/calendar/events -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d "{\"workspace_id\":\"$WS\",\"title\":\"b\",\"starts_at\":\"1900-01-01T00:00:00Z\",\"rrule\":\"FREQ=SECONDLY\"}"
echo "POST starts_at 0001-01-01 via /rest/v1:"
curl -s -o /dev/null -w "  %{http_code}\n" -XPOST localhost:$PORT/rest/v1/calendar_events -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d "{\"org_id\":\"$OID\",\"workspace_id\":\"$WS\",\"title\":\"b\",\"starts_at\":\"0001-01-01T00:00:00Z\",\"ends_at\":\"0001-01-01T00:00:00Z\"}"
# Rows written before the bounds existed (the issue's reproductions), planted by lifting the constraints.
psql -h 127.0.0.1 -U postgres -d calbench -q <<SQL
alter table public.calendar_events drop constraint calendar_events_rrule_format, drop constraint calendar_events_starts_at_range, drop constraint calendar_events_ends_at_range;
insert into public.calendar_events (org_id, workspace_id, title, starts_at, ends_at, rrule) values
 ('$OID','$WS','minutely 2010','2010-01-01Z','2010-01-01Z','FREQ=MINUTELY'),
 ('$OID','$WS','minutely 1900','1900-01-01Z','1900-01-01Z','FREQ=MINUTELY'),
 ('$OID','$WS','secondly 1900','1900-01-01Z','1900-01-01Z','FREQ=SECONDLY');
SQL
echo "GET /api/calendar/events (3 hostile series), 20 times:"
for i in $(seq 20); do curl -s -o /dev/null -w "%{time_total}\n" "localhost:$PORT/api/calendar/events?workspace_id=$WS" -H "authorization: Bearer $TOKEN"; done | sort -n | awk '{a[NR]=$1} END {printf "  p50 %.1f ms, max %.1f ms\n", a[int(NR/2)]*1000, a[NR]*1000}'
echo "two listings at once, /ready meanwhile:"
( curl -s -o /dev/null -w "  listing %{time_total}s\n" "localhost:$PORT/api/calendar/events?workspace_id=$WS" -H "authorization: Bearer $TOKEN" & curl -s -o /dev/null -w "  listing %{time_total}s\n" "localhost:$PORT/api/calendar/events?workspace_id=$WS" -H "authorization: Bearer $TOKEN" & curl -s -o /dev/null -w "  /ready %{time_total}s\n" localhost:$PORT/ready & wait )
curl -s -D - -o /dev/null "localhost:$PORT/api/calendar/events?workspace_id=$WS" -H "authorization: Bearer $TOKEN" | grep -i x-kith-truncated
