-- One profile per user, created when the user is. Users read and edit only their own.
create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  email text,
  full_name text check (char_length(full_name) <= 200),
  avatar_url text check (char_length(avatar_url) <= 2048),
  timezone text not null default 'UTC' check (char_length(timezone) <= 64),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

alter table public.profiles enable row level security;
alter table public.profiles force row level security;

create policy profiles_select_own on public.profiles
  for select to authenticated using ((select auth.uid()) = id);
create policy profiles_update_own on public.profiles
  for update to authenticated using ((select auth.uid()) = id) with check ((select auth.uid()) = id);
-- Profiles are created and removed with their user, never directly by a caller.
create policy profiles_insert_none on public.profiles
  for insert to authenticated with check (false);
create policy profiles_delete_none on public.profiles
  for delete to authenticated using (false);

grant select on public.profiles to authenticated;
grant update (full_name, avatar_url, timezone) on public.profiles to authenticated;
grant select, insert, update, delete on public.profiles to service_role;

create trigger profiles_touch_updated_at before update on public.profiles
  for each row execute function private.touch_updated_at();
grant execute on function private.touch_updated_at() to authenticated, service_role;

-- Runs as the writer of auth.users: the auth service's privileged handle (service_role) or the schema owner.
create function private.create_profile_for_user() returns trigger
language plpgsql set search_path = '' as $$
begin
  insert into public.profiles (id, email, full_name)
  values (new.id, new.email, new.raw_user_meta_data ->> 'full_name');
  return new;
end
$$;
create trigger on_auth_user_created after insert on auth.users
  for each row execute function private.create_profile_for_user();

create function private.sync_profile_email() returns trigger
language plpgsql set search_path = '' as $$
begin
  update public.profiles set email = new.email where id = new.id;
  return new;
end
$$;
create trigger on_auth_user_email_changed after update of email on auth.users
  for each row when (old.email is distinct from new.email)
  execute function private.sync_profile_email();
grant execute on function private.create_profile_for_user(), private.sync_profile_email() to service_role;
