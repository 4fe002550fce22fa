-- /api tells a member of an organization that requires MFA, signed in at aal1, why it sees nothing of it
-- (403 mfa_required) instead of answering as for an organization it does not belong to. Only the caller's own
-- memberships are consulted, so the answer reveals nothing about other organizations.
create function private.caller_needs_mfa() returns boolean
language sql stable security definer set search_path = '' as $$
  select coalesce((select auth.jwt() ->> 'aal'), '') <> 'aal2'
     and exists (select 1 from public.user_organizations uo join public.organizations o on o.id = uo.org_id
                  where uo.user_id = (select auth.uid()) and o.require_mfa)
$$;
revoke execute on function private.caller_needs_mfa() from public;
grant execute on function private.caller_needs_mfa() to authenticated, service_role;
