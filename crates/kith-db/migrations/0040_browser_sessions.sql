-- Browser sessions of the web pages: an opaque random id lives in an HttpOnly cookie; only its SHA-256 is stored.
-- Each one belongs to an auth session, so signing out anywhere (which deletes auth sessions) ends it; a password
-- change ends every browser session of the user (trigger below); the auth service checks bans, the idle and the
-- absolute timeout on every use. Only the auth service writes this table; a signed-in user may list and end
-- their own browser sessions.

-- Lets a browser session name its auth session and user together, so the two can never disagree.
alter table auth.sessions add constraint sessions_id_user_id_key unique (id, user_id);

create table auth.browser_sessions (
  id_hash text primary key check (id_hash ~ '^[0-9a-f]{64}$'),
  session_id uuid not null unique,
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  expires_at timestamptz not null,
  user_agent text check (length(user_agent) <= 512),
  foreign key (session_id, user_id) references auth.sessions (id, user_id) on delete cascade,
  check (expires_at > created_at),
  check (last_seen_at >= created_at)
);
create index browser_sessions_user_id_idx on auth.browser_sessions (user_id);

alter table auth.browser_sessions enable row level security;
alter table auth.browser_sessions force row level security;
grant select, insert, update, delete on auth.browser_sessions to service_role;
grant select, delete on auth.browser_sessions to authenticated;

create policy browser_sessions_select on auth.browser_sessions for select to authenticated
  using (user_id = (select auth.uid()));
create policy browser_sessions_insert on auth.browser_sessions for insert to authenticated
  with check (false);
create policy browser_sessions_update on auth.browser_sessions for update to authenticated
  using (false) with check (false);
create policy browser_sessions_delete on auth.browser_sessions for delete to authenticated
  using (user_id = (select auth.uid()));

-- A new password ends every browser session of the user (a session opened after the change, in the same
-- transaction, survives: it is inserted after this trigger has run).
create function auth.end_browser_sessions_on_password_change() returns trigger
  language plpgsql set search_path = '' as $$
begin
  delete from auth.browser_sessions where user_id = new.id;
  return null;
end
$$;
revoke execute on function auth.end_browser_sessions_on_password_change() from public;

create trigger users_password_change_ends_browser_sessions
  after update of encrypted_password on auth.users
  for each row when (old.encrypted_password is distinct from new.encrypted_password)
  execute function auth.end_browser_sessions_on_password_change();
