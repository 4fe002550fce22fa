-- Tenancy: organizations → workspaces, memberships with roles, invitations.
--
-- Roles, weakest first (an enum compares in declaration order): viewer reads; member also writes contacts,
-- interactions and events; admin also manages workspaces, members below admin and invitations; owner also manages
-- the organization itself and its admins and owners.
--
-- Every policy asks a security-definer helper in `private` for the caller's organizations, written as
-- `org_id in (select private.org_ids_with_role(..))` so Postgres evaluates it once per statement. The helpers read
-- user_organizations as their owner: with FORCE ROW LEVEL SECURITY, that owner must be a superuser or have
-- BYPASSRLS (the embedded mode's `postgres` is a superuser; an external schema owner needs BYPASSRLS, which the
-- README already requires).

create type public.org_role as enum ('viewer', 'member', 'admin', 'owner');
grant usage on type public.org_role to authenticated, service_role;

-- Statements that call private helpers directly (accepting an invitation) are prepared by the pool's login role
-- before the caller's role is set; like 0001's grants on public and auth, USAGE only lets it resolve the names.
-- It grants no EXECUTE: each function below grants that to `authenticated` explicitly.
grant usage on schema private to kith_authenticator;

create table public.organizations (
  id uuid primary key default gen_random_uuid(),
  name text not null check (char_length(btrim(name)) between 1 and 200),
  slug text not null unique
    constraint organizations_slug_format check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and char_length(slug) <= 64),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index organizations_created_by_idx on public.organizations (created_by);

create table public.user_organizations (
  org_id uuid not null references public.organizations (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role public.org_role not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (org_id, user_id)
);
create index user_organizations_user_id_idx on public.user_organizations (user_id, org_id, role);

create table public.workspaces (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.organizations (id) on delete cascade,
  name text not null check (char_length(btrim(name)) between 1 and 200),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (id, org_id)
);
create index workspaces_org_id_idx on public.workspaces (org_id);

create table public.invitations (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.organizations (id) on delete cascade,
  email text not null check (email = lower(email) and char_length(email) between 3 and 255),
  role public.org_role not null default 'member',
  -- SHA-256 of the token; the token itself is shown once, to the inviter.
  token_hash bytea not null unique check (octet_length(token_hash) = 32),
  invited_by uuid default auth.uid() references auth.users (id) on delete set null,
  expires_at timestamptz not null default now() + interval '7 days',
  accepted_at timestamptz,
  accepted_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now()
);
create index invitations_org_id_idx on public.invitations (org_id);

-- The caller's organizations where their role is at least `min_role`.
create function private.org_ids_with_role(min_role public.org_role default 'viewer') returns setof uuid
language sql stable security definer set search_path = '' as $$
  select uo.org_id from public.user_organizations uo
  where uo.user_id = (select auth.uid()) and uo.role >= min_role
$$;
grant execute on function private.org_ids_with_role(public.org_role) to authenticated, service_role;

-- The ids of users who share an organization with the caller (to read their profiles).
create function private.co_member_ids() returns setof uuid
language sql stable security definer set search_path = '' as $$
  select distinct other.user_id from public.user_organizations mine
  join public.user_organizations other on other.org_id = mine.org_id
  where mine.user_id = (select auth.uid())
$$;
grant execute on function private.co_member_ids() to authenticated, service_role;

alter table public.organizations enable row level security;
alter table public.organizations force row level security;
alter table public.user_organizations enable row level security;
alter table public.user_organizations force row level security;
alter table public.workspaces enable row level security;
alter table public.workspaces force row level security;
alter table public.invitations enable row level security;
alter table public.invitations force row level security;

-- organizations: members read; anyone signed in creates (becoming its owner, by trigger); owners edit and delete.
create policy organizations_select on public.organizations for select to authenticated
  using (id in (select private.org_ids_with_role('viewer')));
create policy organizations_insert on public.organizations for insert to authenticated
  with check (created_by = (select auth.uid()));
create policy organizations_update on public.organizations for update to authenticated
  using (id in (select private.org_ids_with_role('owner')))
  with check (id in (select private.org_ids_with_role('owner')));
create policy organizations_delete on public.organizations for delete to authenticated
  using (id in (select private.org_ids_with_role('owner')));
grant select, delete on public.organizations to authenticated;
grant insert (id, name, slug) on public.organizations to authenticated;
grant update (name) on public.organizations to authenticated;

-- user_organizations: members see their org's members. Rows are created only by the organization trigger and by
-- accepting an invitation (both security definer). Admins change and remove viewers and members; owners anyone;
-- anyone may leave. The last owner cannot be demoted or removed (trigger below).
create policy user_organizations_select on public.user_organizations for select to authenticated
  using (org_id in (select private.org_ids_with_role('viewer')));
create policy user_organizations_insert on public.user_organizations for insert to authenticated
  with check (false);
create policy user_organizations_update on public.user_organizations for update to authenticated
  using (org_id in (select private.org_ids_with_role('admin'))
         and (role <= 'member' or org_id in (select private.org_ids_with_role('owner'))))
  with check (org_id in (select private.org_ids_with_role('admin'))
         and (role <= 'member' or org_id in (select private.org_ids_with_role('owner'))));
create policy user_organizations_delete on public.user_organizations for delete to authenticated
  using (user_id = (select auth.uid())
         or (org_id in (select private.org_ids_with_role('admin'))
             and (role <= 'member' or org_id in (select private.org_ids_with_role('owner')))));
grant select, delete on public.user_organizations to authenticated;
grant update (role) on public.user_organizations to authenticated;

-- workspaces: members read; admins manage.
create policy workspaces_select on public.workspaces for select to authenticated
  using (org_id in (select private.org_ids_with_role('viewer')));
create policy workspaces_insert on public.workspaces for insert to authenticated
  with check (org_id in (select private.org_ids_with_role('admin')));
create policy workspaces_update on public.workspaces for update to authenticated
  using (org_id in (select private.org_ids_with_role('admin')))
  with check (org_id in (select private.org_ids_with_role('admin')));
create policy workspaces_delete on public.workspaces for delete to authenticated
  using (org_id in (select private.org_ids_with_role('admin')));
grant select, delete on public.workspaces to authenticated;
grant insert (id, org_id, name) on public.workspaces to authenticated;
grant update (name) on public.workspaces to authenticated;

-- invitations: admins manage their org's; inviting an admin or owner takes an owner. Accepting goes through
-- private.accept_invitation, because the invitee is not a member yet.
create policy invitations_select on public.invitations for select to authenticated
  using (org_id in (select private.org_ids_with_role('admin')));
create policy invitations_insert on public.invitations for insert to authenticated
  with check (org_id in (select private.org_ids_with_role('admin'))
              and (role <= 'member' or org_id in (select private.org_ids_with_role('owner'))));
create policy invitations_update on public.invitations for update to authenticated
  using (false);
create policy invitations_delete on public.invitations for delete to authenticated
  using (org_id in (select private.org_ids_with_role('admin')));
grant select, delete on public.invitations to authenticated;
grant insert (id, org_id, email, role, token_hash, expires_at) on public.invitations to authenticated;

-- Profiles of the caller's co-members are readable (member lists show names and emails).
create policy profiles_select_co_members on public.profiles for select to authenticated
  using (id in (select private.co_member_ids()));

create trigger organizations_touch_updated_at before update on public.organizations
  for each row execute function private.touch_updated_at();
create trigger user_organizations_touch_updated_at before update on public.user_organizations
  for each row execute function private.touch_updated_at();
create trigger workspaces_touch_updated_at before update on public.workspaces
  for each row execute function private.touch_updated_at();

-- A new organization gets a unique slug (derived from its name unless given), its creator as owner and a default
-- workspace. Security definer: the slug must be unique across organizations the caller cannot see, and the
-- creator is not yet a member who could insert rows.
create function private.organization_before_insert() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  base text;
  candidate text;
  n integer := 1;
begin
  if new.slug is not null then
    return new;
  end if;
  base := pg_catalog.left(pg_catalog.btrim(pg_catalog.regexp_replace(pg_catalog.lower(new.name), '[^a-z0-9]+', '-', 'g'), '-'), 48);
  base := pg_catalog.btrim(base, '-');
  if base = '' then
    base := 'org';
  end if;
  candidate := base;
  while exists (select 1 from public.organizations o where o.slug = candidate) loop
    n := n + 1;
    candidate := base || '-' || n::text;
  end loop;
  new.slug := candidate;
  return new;
end
$$;
create trigger organizations_before_insert before insert on public.organizations
  for each row execute function private.organization_before_insert();

create function private.organization_after_insert() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if new.created_by is null then
    raise exception 'an organization needs a creator' using errcode = '23502';
  end if;
  insert into public.user_organizations (org_id, user_id, role) values (new.id, new.created_by, 'owner');
  insert into public.workspaces (org_id, name) values (new.id, 'Default');
  return null;
end
$$;
create trigger organizations_after_insert after insert on public.organizations
  for each row execute function private.organization_after_insert();

-- An organization always keeps an owner (unless the organization itself is being deleted).
create function private.keep_an_owner() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if old.role = 'owner' and (tg_op = 'DELETE' or new.role <> 'owner')
     and exists (select 1 from public.organizations o where o.id = old.org_id)
     and not exists (select 1 from public.user_organizations uo
                     where uo.org_id = old.org_id and uo.role = 'owner' and uo.user_id <> old.user_id) then
    raise exception 'an organization must keep at least one owner'
      using errcode = '23514', constraint = 'last_owner';
  end if;
  return case when tg_op = 'DELETE' then old else new end;
end
$$;
create trigger user_organizations_keep_an_owner before update or delete on public.user_organizations
  for each row execute function private.keep_an_owner();

grant execute on function private.organization_before_insert(), private.organization_after_insert(),
  private.keep_an_owner() to authenticated, service_role;

-- Accepting an invitation: the token's hash, unexpired, unused, addressed to the caller's own email.
-- Returns the organization joined; raises P0002 (no such usable invitation) or 23505 (already a member).
create function private.accept_invitation(p_token_hash bytea) returns uuid
language plpgsql security definer set search_path = '' as $$
declare
  inv public.invitations;
  me uuid := (select auth.uid());
  my_email text;
begin
  select lower(u.email) into my_email from auth.users u where u.id = me;
  select * into inv from public.invitations i
   where i.token_hash = p_token_hash and i.accepted_at is null and i.expires_at > pg_catalog.now()
   for update;
  if not found or my_email is null or inv.email <> my_email then
    raise exception 'no usable invitation' using errcode = 'P0002';
  end if;
  insert into public.user_organizations (org_id, user_id, role) values (inv.org_id, me, inv.role);
  update public.invitations set accepted_at = pg_catalog.now(), accepted_by = me where id = inv.id;
  return inv.org_id;
end
$$;
grant execute on function private.accept_invitation(bytea) to authenticated;
