-- A request with only the anon key reads the tenancy tables as an empty result, as in Supabase, rather than
-- failing with "permission denied": anon may SELECT, and every policy on these tables is `to authenticated`,
-- so RLS shows anon no row at all. (The data API answers 401 to anon on tables it may not read.)
grant select on public.organizations, public.workspaces, public.user_organizations to anon;
