-- Supabase's default privileges for what apps create, and Kith's own objects out of the names apps use
-- (issue 15 items 1 and 2).
--
-- 0001 revoked EXECUTE from PUBLIC on every function the schema owner would ever create: an app's functions then
-- answered `42501 permission denied for function` through /rest/v1 and inside its own policies. In `public`,
-- every role may execute a new function again, as in PostgreSQL and Supabase, and an app's
-- `revoke execute … from public` closes it again as it expects (PostgreSQL adds per-schema defaults to the
-- database-wide revoke, which keeps every other schema, Kith's own included, closed). Kith's existing functions
-- are unaffected: default privileges apply to new objects only.
alter default privileges in schema public grant execute on functions to public;

-- The `extensions` schema, as Supabase opens it: the API roles may use it and call what extensions install
-- there (`extensions.digest`, citext's operators, …), now and later.
create schema if not exists extensions;
grant usage on schema extensions to anon, authenticated, service_role;
grant execute on all functions in schema extensions to anon, authenticated, service_role;
alter default privileges in schema extensions grant all on tables to anon, authenticated, service_role;
alter default privileges in schema extensions grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema extensions grant execute on functions to anon, authenticated, service_role;

-- Kith's triggers on auth.users took the names Supabase's docs give apps' own (`create trigger
-- on_auth_user_created …` then failed with "trigger already exists"), and their functions names an app's
-- `private` schema may well hold. Kith's carry a `kith_` prefix.
alter trigger on_auth_user_created on auth.users rename to kith_on_auth_user_created;
alter trigger on_auth_user_email_changed on auth.users rename to kith_on_auth_user_email_changed;
alter trigger users_password_change_ends_browser_sessions on auth.users
  rename to kith_users_password_change_ends_browser_sessions;
alter function private.create_profile_for_user() rename to kith_create_profile_for_user;
alter function private.sync_profile_email() rename to kith_sync_profile_email;
