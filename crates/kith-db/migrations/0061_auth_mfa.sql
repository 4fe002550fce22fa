-- Multi-factor authentication with TOTP, in Supabase Auth's tables (`auth.mfa_factors`, `auth.mfa_challenges`).
-- Secrets are encrypted by the auth service (AES-256-GCM, bound to the factor id) before they reach the table.
-- Kith adds what replay protection and lockout need: the last time step a code was accepted for, and a count of
-- failed verifications with the time the factor is locked until.
create table auth.mfa_factors (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  friendly_name text check (length(friendly_name) <= 255),
  factor_type text not null check (factor_type in ('totp', 'webauthn', 'phone')),
  status text not null default 'unverified' check (status in ('unverified', 'verified')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  secret text check (secret is null or secret like 'v1:%'),
  phone text,
  last_challenged_at timestamptz,
  last_used_step bigint,
  failed_attempts integer not null default 0 check (failed_attempts >= 0),
  locked_until timestamptz
);
create index mfa_factors_user_id_idx on auth.mfa_factors (user_id);
create unique index mfa_factors_user_friendly_name_unique on auth.mfa_factors (friendly_name, user_id)
  where trim(friendly_name) <> '';

create table auth.mfa_challenges (
  id uuid primary key default gen_random_uuid(),
  factor_id uuid not null references auth.mfa_factors (id) on delete cascade,
  created_at timestamptz not null default now(),
  verified_at timestamptz,
  ip_address inet not null
);
create index mfa_challenge_created_at_idx on auth.mfa_challenges (created_at desc);
create index mfa_challenges_factor_id_idx on auth.mfa_challenges (factor_id);

-- The session's factor follows the factor: unenrolling it leaves the session, downgraded by the auth service.
alter table auth.sessions add constraint sessions_factor_id_fkey
  foreign key (factor_id) references auth.mfa_factors (id) on delete set null;

do $$
declare
  t text;
begin
  foreach t in array array['mfa_factors', 'mfa_challenges'] loop
    execute format('alter table auth.%I enable row level security', t);
    execute format('alter table auth.%I force row level security', t);
    execute format('create policy %I on auth.%I for select to anon, authenticated using (false)', t || '_select', t);
    execute format('create policy %I on auth.%I for insert to anon, authenticated with check (false)', t || '_insert', t);
    execute format('create policy %I on auth.%I for update to anon, authenticated using (false)', t || '_update', t);
    execute format('create policy %I on auth.%I for delete to anon, authenticated using (false)', t || '_delete', t);
    execute format('grant select, insert, update, delete on auth.%I to service_role', t);
  end loop;
end
$$;
