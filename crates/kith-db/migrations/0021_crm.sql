-- The CRM: contacts, interactions, calendar events (with linked contacts) and the append-only audit log.
--
-- Every row carries its organization and workspace; a composite foreign key to workspaces (id, org_id) keeps the
-- two consistent, so policies can test `org_id` while queries name `workspace_id`. Viewers read; members write.

-- Trigram search for contacts (`q`). pg_trgm is a trusted extension; it lives outside `public`.
create schema if not exists extensions;
create extension if not exists pg_trgm with schema extensions;

create table public.contacts (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null,
  workspace_id uuid not null,
  first_name text check (char_length(first_name) <= 200),
  last_name text check (char_length(last_name) <= 200),
  email text check (email = lower(email) and char_length(email) <= 255),
  phone text check (char_length(phone) <= 50),
  company text check (char_length(company) <= 200),
  job_title text check (char_length(job_title) <= 200),
  tags text[] not null default '{}' check (cardinality(tags) <= 50),
  status text not null default 'lead' check (status in ('lead', 'opportunity', 'customer', 'inactive')),
  score integer not null default 0 check (score between 0 and 100),
  tier text not null default 'cold' check (tier in ('hot', 'warm', 'cold')),
  score_reasons jsonb not null default '[]',
  scored_at timestamptz,
  last_interaction_at timestamptz,
  search text generated always as (lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' ||
    coalesce(email, '') || ' ' || coalesce(company, ''))) stored,
  created_by uuid default auth.uid(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  foreign key (workspace_id, org_id) references public.workspaces (id, org_id) on delete cascade,
  unique (id, workspace_id)
);
create index contacts_org_id_idx on public.contacts (org_id);
create index contacts_workspace_page_idx on public.contacts (workspace_id, created_at desc, id desc);
create index contacts_workspace_score_idx on public.contacts (workspace_id, score desc);
create unique index contacts_workspace_email_key on public.contacts (workspace_id, email) where email is not null;
create index contacts_search_idx on public.contacts using gin (search extensions.gin_trgm_ops);

create table public.interactions (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null,
  workspace_id uuid not null,
  contact_id uuid not null,
  kind text not null check (kind in ('email_sent', 'email_opened', 'email_replied', 'call', 'meeting', 'note',
                                     'form_submitted')),
  occurred_at timestamptz not null,
  summary text check (char_length(summary) <= 2000),
  created_by uuid default auth.uid(),
  created_at timestamptz not null default now(),
  foreign key (workspace_id, org_id) references public.workspaces (id, org_id) on delete cascade,
  foreign key (contact_id, workspace_id) references public.contacts (id, workspace_id) on delete cascade
);
create index interactions_org_id_idx on public.interactions (org_id);
create index interactions_workspace_idx on public.interactions (workspace_id, occurred_at desc);
create index interactions_contact_idx on public.interactions (contact_id, occurred_at desc);

create table public.calendar_events (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null,
  workspace_id uuid not null,
  title text not null check (char_length(btrim(title)) between 1 and 300),
  description text check (char_length(description) <= 5000),
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  all_day boolean not null default false,
  timezone text not null default 'UTC' check (char_length(timezone) <= 64),
  location text check (char_length(location) <= 500),
  attendees jsonb not null default '[]' check (jsonb_typeof(attendees) = 'array'),
  rrule text check (char_length(rrule) <= 500),
  sequence integer not null default 0,
  created_by uuid default auth.uid(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint calendar_events_time_order check (ends_at >= starts_at),
  foreign key (workspace_id, org_id) references public.workspaces (id, org_id) on delete cascade,
  unique (id, workspace_id)
);
create index calendar_events_org_id_idx on public.calendar_events (org_id);
create index calendar_events_window_idx on public.calendar_events (workspace_id, starts_at, ends_at);

create table public.event_contacts (
  event_id uuid not null,
  contact_id uuid not null,
  org_id uuid not null,
  workspace_id uuid not null,
  primary key (event_id, contact_id),
  foreign key (workspace_id, org_id) references public.workspaces (id, org_id) on delete cascade,
  foreign key (event_id, workspace_id) references public.calendar_events (id, workspace_id) on delete cascade,
  foreign key (contact_id, workspace_id) references public.contacts (id, workspace_id) on delete cascade
);
create index event_contacts_org_id_idx on public.event_contacts (org_id);
create index event_contacts_contact_idx on public.event_contacts (contact_id);

-- Append-only: written only by the audit trigger, read by the organization's admins, never changed.
create table public.audit_log (
  id bigint generated always as identity primary key,
  org_id uuid not null,
  workspace_id uuid,
  actor_id uuid,
  table_name text not null,
  row_id uuid,
  action text not null check (action in ('insert', 'update', 'delete')),
  changed_fields text[] not null default '{}',
  at timestamptz not null default now()
);
create index audit_log_org_idx on public.audit_log (org_id, id desc);

do $$
declare t text;
begin
  foreach t in array array['contacts', 'interactions', 'calendar_events', 'event_contacts', 'audit_log'] loop
    execute format('alter table public.%I enable row level security', t);
    execute format('alter table public.%I force row level security', t);
  end loop;
  foreach t in array array['contacts', 'interactions', 'calendar_events', 'event_contacts'] loop
    execute format('create policy %I on public.%I for select to authenticated
                      using (org_id in (select private.org_ids_with_role(''viewer'')))', t || '_select', t);
    execute format('create policy %I on public.%I for insert to authenticated
                      with check (org_id in (select private.org_ids_with_role(''member'')))', t || '_insert', t);
    execute format('create policy %I on public.%I for update to authenticated
                      using (org_id in (select private.org_ids_with_role(''member'')))
                      with check (org_id in (select private.org_ids_with_role(''member'')))', t || '_update', t);
    execute format('create policy %I on public.%I for delete to authenticated
                      using (org_id in (select private.org_ids_with_role(''member'')))', t || '_delete', t);
    execute format('grant select, insert, delete on public.%I to authenticated', t);
  end loop;
end
$$;
grant update (first_name, last_name, email, phone, company, job_title, tags, status, score, tier, score_reasons,
              scored_at, last_interaction_at) on public.contacts to authenticated;
grant update (title, description, starts_at, ends_at, all_day, timezone, location, attendees, rrule, sequence)
  on public.calendar_events to authenticated;
-- interactions and event links are replaced, not edited.
grant update (summary) on public.interactions to authenticated;

create policy audit_log_select on public.audit_log for select to authenticated
  using (org_id in (select private.org_ids_with_role('admin')));
create policy audit_log_insert on public.audit_log for insert to authenticated with check (false);
create policy audit_log_update on public.audit_log for update to authenticated using (false);
create policy audit_log_delete on public.audit_log for delete to authenticated using (false);
grant select on public.audit_log to authenticated;

create trigger contacts_touch_updated_at before update on public.contacts
  for each row execute function private.touch_updated_at();
create trigger calendar_events_touch_updated_at before update on public.calendar_events
  for each row execute function private.touch_updated_at();

-- Records who changed which fields of which row (no values: the log must not copy personal data). Score
-- bookkeeping is not an edit and is not recorded.
create function private.audit_row() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  o jsonb := case when tg_op <> 'INSERT' then pg_catalog.to_jsonb(old) end;
  n jsonb := case when tg_op <> 'DELETE' then pg_catalog.to_jsonb(new) end;
  r jsonb := coalesce(n, o);
  changed text[];
  ignored text[] := array['updated_at', 'score', 'tier', 'score_reasons', 'scored_at', 'last_interaction_at',
                          'search', 'sequence'];
begin
  if tg_op = 'UPDATE' then
    select coalesce(array_agg(k order by k), '{}') into changed
      from pg_catalog.jsonb_object_keys(n) k
     where k <> all (ignored) and (n -> k) is distinct from (o -> k);
    if changed = '{}' then
      return null;
    end if;
  else
    select coalesce(array_agg(k order by k), '{}') into changed
      from pg_catalog.jsonb_object_keys(r) k where k <> all (ignored);
  end if;
  insert into public.audit_log (org_id, workspace_id, actor_id, table_name, row_id, action, changed_fields)
  values (
    case when tg_table_name = 'organizations' then (r ->> 'id')::uuid else (r ->> 'org_id')::uuid end,
    case when tg_table_name = 'workspaces' then (r ->> 'id')::uuid else (r ->> 'workspace_id')::uuid end,
    (select auth.uid()),
    tg_table_name,
    coalesce(r ->> 'id', r ->> 'user_id', r ->> 'event_id')::uuid,
    pg_catalog.lower(tg_op),
    changed);
  return null;
end
$$;
grant execute on function private.audit_row() to authenticated, service_role;

do $$
declare t text;
begin
  foreach t in array array['organizations', 'workspaces', 'user_organizations', 'invitations', 'contacts',
                           'interactions', 'calendar_events'] loop
    execute format('create trigger %I after insert or update or delete on public.%I
                      for each row execute function private.audit_row()', t || '_audit', t);
  end loop;
end
$$;

grant select, insert, update, delete on public.organizations, public.workspaces, public.user_organizations,
  public.invitations, public.contacts, public.interactions, public.calendar_events, public.event_contacts
  to service_role;
grant select on public.audit_log to service_role;
