-- Schema for security-definer helpers that policies call. It is never exposed through the data API, and every
-- function in it pins an empty search_path so a caller cannot shadow the objects it uses.
create schema private;
revoke all on schema private from public;
grant usage on schema private to anon, authenticated, service_role;

-- Keeps updated_at honest on every table that has one.
create function private.touch_updated_at() returns trigger
language plpgsql set search_path = '' as $$
begin
  new.updated_at := pg_catalog.now();
  return new;
end
$$;
