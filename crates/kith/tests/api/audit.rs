//! `kith audit`: no ERROR on the migrated database, and every planted bad pattern is flagged by its lint (or, for
//! tenant isolation, by the live probe).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::TestApp;
use kith::audit::{self, Level, Options, Report};

async fn audit_of(app: &TestApp, options: &Options) -> Report {
    let mut client = app.connect_as("postgres").await;
    audit::run(&mut client, options).await.unwrap()
}

#[tokio::test]
async fn the_migrated_database_passes_the_audit_and_the_probe_writes_as_members() {
    let app = TestApp::spawn().await;
    let report = audit_of(&app, &Options::default()).await;
    let errors: Vec<_> = report.findings.iter().filter(|f| f.level == Level::Error).collect();
    assert!(errors.is_empty(), "{}", report.human());
    assert_eq!(report.errors, 0);
    // The probe really ran: it found the tenant tables and wrote most rows as a member, through the policies.
    let summary = report
        .findings
        .iter()
        .find(|f| f.name == "probe_summary")
        .expect("the probe ran");
    assert!(summary.detail.contains("9 tenant tables"), "{}", summary.detail);
    let member_rows: usize = summary
        .detail
        .split("as a member: ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    assert!(member_rows >= 10, "{}", report.human());
    // Nothing the probe wrote survives.
    let client = app.connect_as("postgres").await;
    let left: i64 = client
        .query_one(
            "select count(*) from auth.users where email like 'kith-audit-probe-%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    // The JSON form carries the same findings.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["errors"], 0);
    assert_eq!(json["findings"].as_array().unwrap().len(), report.findings.len());
}

/// Each bad pattern, planted in a scratch schema the audit is told the data API exposes.
const PLANTED: &str = r"
create schema scratch;
grant usage on schema scratch to anon, authenticated;

create table scratch.no_rls (id uuid primary key, note text);
grant select on scratch.no_rls to authenticated;

create table scratch.unforced (id uuid primary key, org_id uuid not null);
create index on scratch.unforced (org_id);
alter table scratch.unforced enable row level security;
create policy unforced_select on scratch.unforced for select to authenticated
  using (org_id in (select private.org_ids_with_role('viewer')));

create table scratch.plain_unforced (id uuid primary key);
alter table scratch.plain_unforced enable row level security;
create policy plain_select on scratch.plain_unforced for select to authenticated using (false);

create table scratch.policy_off (id uuid primary key);
create policy policy_off_select on scratch.policy_off for select to authenticated using (false);

create table scratch.no_policy (id uuid primary key);
alter table scratch.no_policy enable row level security;
alter table scratch.no_policy force row level security;

create table scratch.open_writes (id uuid primary key);
alter table scratch.open_writes enable row level security;
alter table scratch.open_writes force row level security;
create policy open_insert on scratch.open_writes for insert to authenticated with check (true);
create policy per_row_uid on scratch.open_writes for select to authenticated using (id = auth.uid());

create table scratch.unindexed (id uuid primary key, owner_id uuid);
alter table scratch.unindexed enable row level security;
alter table scratch.unindexed force row level security;
create policy mine on scratch.unindexed for select to authenticated using (owner_id = (select auth.uid()));
create policy also_mine on scratch.unindexed for select to authenticated using (id = (select auth.uid()));

create table scratch.metadata (id uuid primary key);
alter table scratch.metadata enable row level security;
alter table scratch.metadata force row level security;
create policy by_metadata on scratch.metadata for select to authenticated
  using (((select auth.jwt()) -> 'user_metadata' ->> 'team') = 'red');

create table scratch.nullable_uid (id uuid primary key, owner_id uuid);
create index on scratch.nullable_uid (owner_id);
alter table scratch.nullable_uid enable row level security;
alter table scratch.nullable_uid force row level security;
create policy null_or_mine on scratch.nullable_uid for select to authenticated
  using ((select auth.uid()) is null or owner_id = (select auth.uid()));

create function scratch.definer_no_path() returns int language sql security definer as 'select 1';
create function scratch.invoker_no_path() returns int language sql as 'select 1';
create function scratch.definer_for_anon() returns int language sql security definer set search_path = '' as 'select 1';
grant execute on function scratch.definer_for_anon() to anon;
create function scratch.definer_for_users() returns int language sql security definer set search_path = '' as 'select 1';
grant execute on function scratch.definer_for_users() to authenticated;

create view scratch.definer_view as select id from scratch.no_rls;
grant select on scratch.definer_view to authenticated;
create view scratch.users_view with (security_invoker = true) as select id, email from auth.users;
grant select on scratch.users_view to authenticated;

create table scratch.no_pk (note text);
alter table scratch.no_pk enable row level security;
alter table scratch.no_pk force row level security;

create table scratch.child (id uuid primary key, parent uuid references scratch.no_rls (id));
alter table scratch.child enable row level security;
alter table scratch.child force row level security;

create table scratch.dups (id uuid primary key, n int);
create index dups_a on scratch.dups (n);
create index dups_b on scratch.dups (n);
alter table scratch.dups enable row level security;
alter table scratch.dups force row level security;

create extension if not exists citext with schema public;

create table scratch.anon_writes (id uuid primary key, org_id uuid not null);
create index on scratch.anon_writes (org_id);
alter table scratch.anon_writes enable row level security;
alter table scratch.anon_writes force row level security;
grant insert on scratch.anon_writes to anon;

create table scratch.anon_reads (id uuid primary key default gen_random_uuid(), org_id uuid not null);
create index on scratch.anon_reads (org_id);
alter table scratch.anon_reads enable row level security;
alter table scratch.anon_reads force row level security;
create policy anyone_reads on scratch.anon_reads for select using (true);
create policy members_insert on scratch.anon_reads for insert to authenticated
  with check (org_id in (select private.org_ids_with_role('member')));
grant select on scratch.anon_reads to anon, authenticated;
grant insert on scratch.anon_reads to authenticated;

create table scratch.anon_granted (id uuid primary key, org_id uuid not null);
create index on scratch.anon_granted (org_id);
alter table scratch.anon_granted enable row level security;
alter table scratch.anon_granted force row level security;
create policy members_read on scratch.anon_granted for select to authenticated
  using (org_id in (select private.org_ids_with_role('viewer')));
grant select on scratch.anon_granted to anon, authenticated;

create table scratch.pool_owned (id uuid primary key);
alter table scratch.pool_owned enable row level security;
alter table scratch.pool_owned force row level security;
alter table scratch.pool_owned owner to kith_authenticator;
grant select on scratch.no_pk to kith_authenticator;

-- For the live probe: members see every tenant's rows; members write into any tenant.
create table scratch.leaky_reads (id uuid primary key default gen_random_uuid(), org_id uuid not null, note text);
create index on scratch.leaky_reads (org_id);
alter table scratch.leaky_reads enable row level security;
alter table scratch.leaky_reads force row level security;
create policy leaky_select on scratch.leaky_reads for select to authenticated using (org_id is not null);
create policy leaky_insert on scratch.leaky_reads for insert to authenticated
  with check (org_id in (select private.org_ids_with_role('member')));
grant select, insert on scratch.leaky_reads to authenticated;

create table scratch.leaky_writes (id uuid primary key default gen_random_uuid(), org_id uuid not null);
create index on scratch.leaky_writes (org_id);
alter table scratch.leaky_writes enable row level security;
alter table scratch.leaky_writes force row level security;
create policy own_select on scratch.leaky_writes for select to authenticated
  using (org_id in (select private.org_ids_with_role('viewer')));
create policy any_insert on scratch.leaky_writes for insert to authenticated
  with check (org_id is not null);
grant select, insert on scratch.leaky_writes to authenticated;
";

#[tokio::test]
async fn every_planted_pattern_is_flagged() {
    let app = TestApp::spawn().await;
    let owner = app.connect_as("postgres").await;
    owner.batch_execute(PLANTED).await.unwrap();
    let options = Options {
        exposed_schemas: vec!["public".into(), "scratch".into()],
        ..Options::default()
    };
    let report = audit_of(&app, &options).await;
    let flagged = |name: &str, object: &str| report.findings.iter().any(|f| f.name == name && f.object == object);
    let expected = [
        ("rls_disabled_in_exposed_schema", "scratch.no_rls"),
        ("tenant_table_rls_not_forced", "scratch.unforced"),
        ("rls_not_forced", "scratch.plain_unforced"),
        ("policy_exists_rls_disabled", "scratch.policy_off"),
        ("rls_enabled_no_policy", "scratch.no_policy"),
        ("rls_policy_always_true", "scratch.open_writes"),
        ("auth_rls_initplan", "scratch.open_writes"),
        ("policy_column_unindexed", "scratch.unindexed.owner_id"),
        ("multiple_permissive_policies", "scratch.unindexed"),
        ("rls_references_user_metadata", "scratch.metadata"),
        ("policy_uid_is_null_or", "scratch.nullable_uid"),
        ("security_definer_search_path_mutable", "scratch.definer_no_path()"),
        ("function_search_path_mutable", "scratch.invoker_no_path()"),
        (
            "anon_security_definer_function_executable",
            "scratch.definer_for_anon()",
        ),
        (
            "authenticated_security_definer_function_executable",
            "scratch.definer_for_users()",
        ),
        ("security_definer_view", "scratch.definer_view"),
        ("auth_users_exposed", "scratch.users_view"),
        ("no_primary_key", "scratch.no_pk"),
        ("unindexed_foreign_keys", "scratch.child"),
        ("duplicate_index", "scratch.dups"),
        ("extension_in_public", "citext"),
        ("anon_grant_writes_tenant_table", "scratch.anon_writes"),
        ("anon_reads_tenant_table", "scratch.anon_reads"),
        ("anon_grant_on_tenant_table", "scratch.anon_granted"),
        ("authenticator_has_privileges", "scratch.pool_owned"),
        ("authenticator_has_privileges", "scratch.no_pk"),
        ("probe_cross_tenant_access", "scratch.leaky_reads"),
        ("probe_cross_tenant_access", "scratch.leaky_writes"),
        ("probe_anon_reads_tenant_rows", "scratch.anon_reads"),
    ];
    let missing: Vec<_> = expected.iter().filter(|(n, o)| !flagged(n, o)).collect();
    assert!(missing.is_empty(), "not flagged: {missing:?}\n{}", report.human());
    // Every lint is exercised by a planted pattern (the probe's by the leaky tables).
    for lint in audit::lints::ALL {
        assert!(
            expected.iter().any(|(name, _)| *name == lint.name),
            "no planted pattern for {}",
            lint.name
        );
    }
    // Nothing Kith's own migrations made is flagged as an ERROR: only the planted objects are.
    let stray: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.level == Level::Error)
        .filter(|f| !f.object.contains("scratch."))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    assert!(report.errors >= 15);
    // The clean tables of the planted schema stay clean: the policies of leaky_writes let a member read only
    // their own tenant, so only the write crosses.
    assert!(report.findings.iter().any(|f| f.name == "probe_cross_tenant_access"
        && f.object == "scratch.leaky_writes"
        && f.detail.contains("wrote a row among")));
    assert!(!report.findings.iter().any(|f| f.name == "probe_cross_tenant_access"
        && f.object == "scratch.leaky_writes"
        && f.detail.contains(" sees ")));
}
