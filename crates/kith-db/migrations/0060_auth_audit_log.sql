-- Supabase Auth's audit trail of account changes (`auth.audit_log_entries`, GoTrue's own shape): who — the
-- service-role key, a user, the operator's CLI — did what to which account, and from where. Append-only; only the
-- auth service, through its privileged handle (service_role), writes and reads it. API roles get nothing.
create table auth.audit_log_entries (
  instance_id uuid,
  id uuid primary key default gen_random_uuid(),
  payload json not null check (json_typeof(payload) = 'object' and payload ->> 'action' is not null),
  created_at timestamptz not null default now(),
  ip_address varchar(64) not null default ''
);
create index audit_logs_instance_id_idx on auth.audit_log_entries (instance_id);
create index audit_log_entries_created_at_idx on auth.audit_log_entries (created_at desc);

alter table auth.audit_log_entries enable row level security;
alter table auth.audit_log_entries force row level security;
create policy audit_log_entries_select on auth.audit_log_entries for select to anon, authenticated using (false);
create policy audit_log_entries_insert on auth.audit_log_entries for insert to anon, authenticated with check (false);
create policy audit_log_entries_update on auth.audit_log_entries for update to anon, authenticated using (false);
create policy audit_log_entries_delete on auth.audit_log_entries for delete to anon, authenticated using (false);
-- No update or delete, even for the auth service: entries are never rewritten.
grant select, insert on auth.audit_log_entries to service_role;
