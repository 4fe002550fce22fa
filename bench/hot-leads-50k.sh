#!/usr/bin/env bash
# Hot leads read path at 50,000 scored contacts (release binary): 500 sequential GETs, p50/p99.
# Needs a PostgreSQL superuser at 127.0.0.1:5432 (trust) and `cargo build --release`; run from the repository root.
set -euo pipefail
BIN=${KITH_BIN:-target/release/kith}
PORT=18124
psql -h 127.0.0.1 -U postgres -qc "drop database if exists leadbench" -c "create database leadbench"
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/leadbench KITH_JWT_SECRET=$(printf 'x%.0s' {1..40}) KITH_BIND=127.0.0.1:$PORT KITH_DATA_DIR=/tmp/leadbench-data RUST_LOG=warn
$BIN serve > /tmp/leadbench.log 2>&1 &
PID=$!
trap 'kill $PID' EXIT
for i in $(seq 50); do curl -sf localhost:$PORT/ready >/dev/null && break; sleep 0.2; done
TOKEN=$(curl -s -XPOST localhost:$PORT/auth/v1/signup -H 'content-type: application/json' -d '{"email":"lead@x.io","password":"a-good-password"}' | python3 -c 'import sys,json;print(json.load(sys.stdin)["access_token"])')
OID=$(curl -s -XPOST localhost:$PORT/api/organizations -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"name":"Leads"}' | python3 -c 'import sys,json;print(json.load(sys.stdin)["id"])')
WS=$(curl -s "localhost:$PORT/api/workspaces?org_id=$OID" -H "authorization: Bearer $TOKEN" | python3 -c 'import sys,json;print(json.load(sys.stdin)[0]["id"])')
psql -h 127.0.0.1 -U postgres -d leadbench -q <<SQL
set session_replication_role = replica; -- bulk load without the audit and re-score triggers
insert into public.contacts (org_id, workspace_id, first_name, last_name, email, company, job_title, score, tier,
                             score_reasons, scored_at, last_interaction_at)
select '$OID', '$WS', 'P'||i, 'N'||i, 'p'||i||'@acme.io', 'Acme '||(i%500), 'Engineer', s,
       case when s >= 70 then 'hot' when s >= 40 then 'warm' else 'cold' end,
       jsonb_build_array(jsonb_build_object('factor','engagement.meeting','points',s/2,'detail','2 × meeting (latest 1 day ago)'),
                         jsonb_build_object('factor','title_seniority','points',s-s/2,'detail','Senior title')),
       now(), now() - (i % 90) * interval '1 day'
  from generate_series(1, 50000) i, lateral (select (hashint4(i) & 127) % 101 as s) r;
analyze public.contacts;
SQL
URL="localhost:$PORT/api/agents/contact-intelligence?workspace_id=$WS&limit=10"
for i in $(seq 50); do curl -s -o /dev/null "$URL" -H "authorization: Bearer $TOKEN"; done
for i in $(seq 500); do curl -s -o /dev/null -w "%{time_total}\n" "$URL" -H "authorization: Bearer $TOKEN"; done | sort -n | awk '{a[NR]=$1} END {printf "GET hot leads at 50,000 contacts, 500 requests: p50 %.2f ms, p99 %.2f ms\n", a[int(NR*0.5)]*1000, a[int(NR*0.99)]*1000}'

