-- Calendar subscriptions: a revocable `.ics` feed URL per user and workspace, for calendar apps that cannot sign
-- in. The URL carries a random 256-bit token; only its SHA-256 is stored. One subscription per user and
-- workspace: regenerating replaces the hash, which revokes the old URL.
--
-- A user sees and manages only their own subscriptions, in workspaces of organizations they belong to (any
-- role: reading the calendar is a viewer's right), and not in an organization that requires a second factor (a
-- calendar app cannot show one). A feed is to be read as the subscription's user, so row-level security keeps
-- deciding what it holds: a user who leaves the organization gets an empty answer, and the subscription row
-- itself goes when the user or the workspace does.
create table public.calendar_subscriptions (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null,
  workspace_id uuid not null,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  token_hash bytea not null check (octet_length(token_hash) = 32),
  created_at timestamptz not null default now(),
  foreign key (workspace_id, org_id) references public.workspaces (id, org_id) on delete cascade,
  constraint calendar_subscriptions_user_workspace_key unique (user_id, workspace_id),
  constraint calendar_subscriptions_token_hash_key unique (token_hash)
);
create index calendar_subscriptions_org_id_idx on public.calendar_subscriptions (org_id);
create index calendar_subscriptions_workspace_id_idx on public.calendar_subscriptions (workspace_id);

alter table public.calendar_subscriptions enable row level security;
alter table public.calendar_subscriptions force row level security;
create policy calendar_subscriptions_select on public.calendar_subscriptions for select to authenticated
  using (user_id = (select auth.uid()) and org_id in (select private.org_ids_with_role('viewer')));
create policy calendar_subscriptions_insert on public.calendar_subscriptions for insert to authenticated
  with check (user_id = (select auth.uid()) and org_id in (select private.org_ids_with_role('viewer'))
              and not exists (select 1 from public.organizations o where o.id = calendar_subscriptions.org_id and o.require_mfa));
create policy calendar_subscriptions_update on public.calendar_subscriptions for update to authenticated
  using (user_id = (select auth.uid()) and org_id in (select private.org_ids_with_role('viewer')))
  with check (user_id = (select auth.uid()) and org_id in (select private.org_ids_with_role('viewer'))
              and not exists (select 1 from public.organizations o where o.id = calendar_subscriptions.org_id and o.require_mfa));
create policy calendar_subscriptions_delete on public.calendar_subscriptions for delete to authenticated
  using (user_id = (select auth.uid()) and org_id in (select private.org_ids_with_role('viewer')));
grant select, insert, delete on public.calendar_subscriptions to authenticated;
-- Rotation replaces the hash in place; nothing else of a subscription changes.
grant update (token_hash, created_at) on public.calendar_subscriptions to authenticated;
