-- A calendar app reads a subscription's feed without a session: the auth service (the service role) looks the
-- URL's token up by its hash, and nothing else of the table.
grant select (user_id, workspace_id, token_hash) on public.calendar_subscriptions to service_role;
