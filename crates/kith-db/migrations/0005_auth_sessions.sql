-- Sessions, refresh tokens, PKCE flow state, one-time tokens, identities, signing keys and rate-limit counters.
-- Only the auth service reads or writes these, through its privileged handle (service_role).

create table auth.identities (
  id uuid primary key default gen_random_uuid(),
  provider_id text not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  identity_data jsonb not null,
  provider text not null,
  last_sign_in_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  email text generated always as (lower(identity_data ->> 'email')) stored,
  unique (provider_id, provider)
);
create index identities_user_id_idx on auth.identities (user_id);

create table auth.sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  factor_id uuid,
  aal text not null default 'aal1' check (aal in ('aal1', 'aal2', 'aal3')),
  amr jsonb not null default '[]',
  not_after timestamptz,
  refreshed_at timestamptz,
  user_agent text,
  ip inet,
  tag text
);
create index sessions_user_id_idx on auth.sessions (user_id);

-- Tokens are stored as SHA-256 hashes; `parent` is the hash of the token this one replaced.
create table auth.refresh_tokens (
  id bigserial primary key,
  token varchar(255) not null unique,
  user_id uuid not null references auth.users (id) on delete cascade,
  revoked boolean not null default false,
  parent varchar(255),
  session_id uuid not null references auth.sessions (id) on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index refresh_tokens_session_id_revoked_idx on auth.refresh_tokens (session_id, revoked);
create index refresh_tokens_parent_idx on auth.refresh_tokens (parent);

create table auth.flow_state (
  id uuid primary key default gen_random_uuid(),
  user_id uuid references auth.users (id) on delete cascade,
  auth_code text not null unique,
  code_challenge_method text not null check (code_challenge_method in ('s256', 'plain')),
  code_challenge text not null,
  authentication_method text not null,
  auth_code_issued_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index flow_state_created_at_idx on auth.flow_state (created_at desc);

-- Links carry a random token (stored hashed); e-mailed codes are stored as a hash of (email, code).
create table auth.one_time_tokens (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  token_type text not null check (token_type in
    ('confirmation_token', 'recovery_token', 'magiclink_token', 'email_change_token', 'invite_token')),
  token_hash text not null unique,
  otp_hash text not null,
  relates_to text not null,
  flow_state_id uuid references auth.flow_state (id) on delete cascade,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index one_time_tokens_user_type_idx on auth.one_time_tokens (user_id, token_type);
create index one_time_tokens_otp_idx on auth.one_time_tokens (otp_hash);

-- Asymmetric signing keys. The newest active key signs; every key not retired verifies.
create table auth.signing_keys (
  kid text primary key,
  algorithm text not null check (algorithm in ('ES256')),
  private_key bytea not null,
  public_jwk jsonb not null,
  status text not null default 'active' check (status in ('active', 'verify_only', 'retired')),
  created_at timestamptz not null default now(),
  retired_at timestamptz
);

-- Fixed-window counters shared by every node.
create table auth.rate_limits (
  key text primary key,
  window_start timestamptz not null,
  hits integer not null
);

do $$
declare
  t text;
begin
  foreach t in array array['identities', 'sessions', 'refresh_tokens', 'flow_state', 'one_time_tokens',
                           'signing_keys', 'rate_limits'] loop
    execute format('alter table auth.%I enable row level security', t);
    execute format('alter table auth.%I force row level security', t);
    execute format('grant select, insert, update, delete on auth.%I to service_role', t);
  end loop;
end
$$;
grant usage on sequence auth.refresh_tokens_id_seq to service_role;
