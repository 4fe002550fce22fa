-- Emailed six-digit codes allow few guesses: each wrong code for an address counts against its outstanding
-- tokens, which are withdrawn after five misses (the auth service enforces the limit).
alter table auth.one_time_tokens add column failed_attempts integer not null default 0;
create index one_time_tokens_relates_to_idx on auth.one_time_tokens (relates_to);
