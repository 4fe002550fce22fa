-- Database roles, PostgREST's "authenticator" pattern.
--
-- anon, authenticated and service_role are the only identities a request can take. The request pool logs in
-- as kith_authenticator, which owns nothing, inherits nothing (NOINHERIT) and can only SET ROLE to those three:
-- a query that forgot to set its caller's identity fails with "permission denied" instead of leaking rows.
-- Roles are cluster-wide, so this is written to be applied once per database of a shared cluster.
do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'kith_authenticator') then
    create role kith_authenticator login noinherit;
  end if;
end
$$;

grant anon, authenticated, service_role to kith_authenticator;

-- Nothing is granted by default: every table and function below grants exactly what each role needs.
revoke all on schema public from public;
grant usage on schema public to anon, authenticated, service_role;
-- Statements are prepared before the transaction sets the caller's role, and preparing resolves names, which
-- needs USAGE on the schema. USAGE grants no access to any table: privileges and policies are checked when the
-- statement executes, as the caller's role.
grant usage on schema public to kith_authenticator;
alter default privileges revoke execute on functions from public;

-- /ready compares the applied migrations with the binary's; that is all the login role may read directly.
grant usage on schema kith to kith_authenticator;
grant select on kith.schema_migrations to kith_authenticator;
