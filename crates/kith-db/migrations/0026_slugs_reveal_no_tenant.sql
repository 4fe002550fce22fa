-- A derived organization slug carries a random suffix, so it tells nothing about other tenants: before, a second
-- "Acme" became `acme-2`, which told a stranger that some Acme was already a customer. (A slug given explicitly
-- is the creator's public choice, like a user name, and is refused when taken.)
create or replace function private.organization_before_insert() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  base text;
  candidate text;
begin
  if new.slug is not null then
    return new;
  end if;
  base := pg_catalog.left(pg_catalog.btrim(pg_catalog.regexp_replace(pg_catalog.lower(new.name), '[^a-z0-9]+', '-', 'g'), '-'), 48);
  base := pg_catalog.btrim(base, '-');
  if base = '' then
    base := 'org';
  end if;
  loop
    candidate := base || '-' || pg_catalog.substr(pg_catalog.md5(pg_catalog.gen_random_uuid()::text), 1, 6);
    exit when not exists (select 1 from public.organizations o where o.slug = candidate);
  end loop;
  new.slug := candidate;
  return new;
end
$$;
