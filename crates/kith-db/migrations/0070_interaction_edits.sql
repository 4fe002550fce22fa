-- Interactions can be corrected: a member may change an interaction's kind and time as well as its summary
-- (`PATCH /api/interactions/{id}`, the dashboard's timeline). The row's tenant keys and contact stay fixed: only
-- these three columns are granted. The existing policies (members of the organization) and CHECK constraints
-- (kind list, plausible time, clean summary) apply to the new values, and the rescore-mark trigger marks the
-- contact as it does on any interaction change.
grant update (kind, occurred_at, summary) on public.interactions to authenticated;
