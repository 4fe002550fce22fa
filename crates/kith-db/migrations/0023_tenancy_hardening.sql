-- Hardening after a security review of 0020/0021.

-- The last-owner rule is checked under a lock on the organization, so two owners leaving (or demoting each
-- other) at the same moment cannot both succeed.
create or replace function private.keep_an_owner() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if old.role = 'owner' and (tg_op = 'DELETE' or new.role <> 'owner') then
    perform 1 from public.organizations o where o.id = old.org_id for update;
    if found and not exists (select 1 from public.user_organizations uo
                             where uo.org_id = old.org_id and uo.role = 'owner' and uo.user_id <> old.user_id) then
      raise exception 'an organization must keep at least one owner'
        using errcode = '23514', constraint = 'last_owner';
    end if;
  end if;
  return case when tg_op = 'DELETE' then old else new end;
end
$$;

-- An invitation is accepted only by the confirmed owner of the address it was sent to.
create or replace function private.accept_invitation(p_token_hash bytea) returns uuid
language plpgsql security definer set search_path = '' as $$
declare
  inv public.invitations;
  me uuid := (select auth.uid());
  my_email text;
begin
  select lower(u.email) into my_email from auth.users u where u.id = me and u.email_confirmed_at is not null;
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

-- The audit log outlives a deleted organization; an id that has history cannot be taken by a new organization
-- (which would make its creator an owner able to read that history).
create function private.refuse_reused_organization_id() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if exists (select 1 from public.audit_log a where a.org_id = new.id) then
    raise exception 'this organization id was used before' using errcode = '23505', constraint = 'organizations_pkey';
  end if;
  return new;
end
$$;
create trigger organizations_refuse_reused_id before insert on public.organizations
  for each row execute function private.refuse_reused_organization_id();
grant execute on function private.refuse_reused_organization_id() to authenticated, service_role;

-- `created_by` is who actually created the row, not what the client says (the service role may set it).
create function private.stamp_created_by() returns trigger
language plpgsql set search_path = '' as $$
begin
  new.created_by := coalesce((select auth.uid()), new.created_by);
  return new;
end
$$;
grant execute on function private.stamp_created_by() to authenticated, service_role;
create trigger contacts_stamp_created_by before insert on public.contacts
  for each row execute function private.stamp_created_by();
create trigger interactions_stamp_created_by before insert on public.interactions
  for each row execute function private.stamp_created_by();
create trigger calendar_events_stamp_created_by before insert on public.calendar_events
  for each row execute function private.stamp_created_by();
