-- An organization can require a second factor: with `require_mfa` on, its members reach its data only from an
-- `aal2` session. Every policy on organization data asks `private.org_ids_with_role`, so that is where the rule
-- lives; an `aal1` session of a member sees nothing of such an organization (not even that it exists).
alter table public.organizations add column require_mfa boolean not null default false;
comment on column public.organizations.require_mfa is
  'Members reach this organization''s data only from an aal2 (second-factor) session.';
-- Owners may switch it (the update policy already limits updates to owners). Once it is on, only an owner's aal2
-- session can see the organization, so only such a session can switch it off again.
grant update (require_mfa) on public.organizations to authenticated;

create or replace function private.org_ids_with_role(min_role public.org_role default 'viewer') returns setof uuid
language sql stable security definer set search_path = '' as $$
  select uo.org_id from public.user_organizations uo
  where uo.user_id = (select auth.uid()) and uo.role >= min_role
    and (coalesce((select auth.jwt() ->> 'aal'), '') = 'aal2'
         or not exists (select 1 from public.organizations o where o.id = uo.org_id and o.require_mfa))
$$;

-- For the API: whether the caller belongs to `org`, which requires MFA, while their session is below aal2 (so
-- the answer can be 403 `mfa_required` instead of "not found"). Says nothing about organizations the caller is
-- not a member of.
create function private.org_requires_mfa(org uuid) returns boolean
language sql stable security definer set search_path = '' as $$
  select coalesce((select auth.jwt() ->> 'aal'), '') <> 'aal2'
     and exists (select 1 from public.user_organizations uo join public.organizations o on o.id = uo.org_id
                  where uo.org_id = org and uo.user_id = (select auth.uid()) and o.require_mfa)
$$;
grant execute on function private.org_requires_mfa(uuid) to authenticated, service_role;
