//! Row-level security: is it on, forced, and are the policies what they look like?

use super::Lint;
use crate::audit::Level;

pub const RLS_DISABLED: Lint = Lint {
    name: "rls_disabled_in_exposed_schema",
    level: Level::Error,
    title: "A table the data API exposes has row-level security disabled",
    remediation: "alter table … enable row level security; alter table … force row level security; then a policy per command",
    sql: concat!(
        "select format('%I.%I', t.nspname, t.relname), 'row-level security is disabled: every granted role sees every row'
         from ",
        exposed_tables!(),
        " t where not t.relrowsecurity order by 1"
    ),
};

pub const TENANT_RLS_NOT_FORCED: Lint = Lint {
    name: "tenant_table_rls_not_forced",
    level: Level::Error,
    title: "A tenant table does not force row-level security",
    remediation: "alter table … force row level security (its owner and security-definer code then obey the policies too)",
    sql: concat!(
        "select format('%I.%I', t.nspname, t.relname),
                format('carries the tenant key %I but RLS is not forced: its owner, and every security-definer function it owns, bypass the policies', (select tenant_key from params))
         from ",
        exposed_tables!(),
        " t where t.is_tenant and not t.relforcerowsecurity order by 1"
    ),
};

pub const RLS_NOT_FORCED: Lint = Lint {
    name: "rls_not_forced",
    level: Level::Warn,
    title: "An exposed table enables row-level security without forcing it",
    remediation: "alter table … force row level security",
    sql: concat!(
        "select format('%I.%I', t.nspname, t.relname), 'RLS is enabled but not forced: the owner bypasses the policies'
         from ",
        exposed_tables!(),
        " t where t.relrowsecurity and not t.relforcerowsecurity and not t.is_tenant order by 1"
    ),
};

pub const POLICY_EXISTS_RLS_DISABLED: Lint = Lint {
    name: "policy_exists_rls_disabled",
    level: Level::Error,
    title: "A table has policies but row-level security is disabled, so they do nothing",
    remediation: "alter table … enable row level security",
    sql: concat!(
        "select format('%I.%I', n.nspname, c.relname),
                format('policies %s exist but are not applied', string_agg(quote_ident(p.polname), ', ' order by p.polname))
         from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_policy p on p.polrelid = c.oid
         where not c.relrowsecurity and n.nspname not in ",
        system_schemas!(),
        " group by n.nspname, c.relname order by 1"
    ),
};

pub const RLS_ENABLED_NO_POLICY: Lint = Lint {
    name: "rls_enabled_no_policy",
    level: Level::Info,
    title: "An exposed table has row-level security but no policy: nobody but its owner reads or writes it",
    remediation: "add a policy per command, or revoke the grants if nobody should reach it",
    sql: concat!(
        "select format('%I.%I', t.nspname, t.relname), 'RLS is enabled and no policy exists'
         from ",
        exposed_tables!(),
        " t where t.relrowsecurity and not exists (select 1 from pg_policy p where p.polrelid = t.oid) order by 1"
    ),
};

pub const ALWAYS_TRUE_WRITE: Lint = Lint {
    name: "rls_policy_always_true",
    level: Level::Error,
    title: "A permissive policy lets a write through unconditionally",
    remediation: "scope the policy to the caller's tenant, e.g. using (org_id in (select private.org_ids_with_role('member')))",
    sql: "select format('%I.%I', p.schemaname, p.tablename),
                 format('policy %I (%s, for %s) is %s', p.policyname, p.cmd, array_to_string(p.roles, ', '),
                        case when coalesce(p.qual, '') in ('true', '(1 = 1)') then 'using (true)' else 'with check (true)' end)
          from pg_policies p
          where p.schemaname = any((select exposed from params)::text[]) and p.permissive = 'PERMISSIVE'
            and ((p.cmd in ('UPDATE', 'DELETE', 'ALL') and coalesce(p.qual, '') in ('true', '(1 = 1)'))
              or (p.cmd in ('INSERT', 'UPDATE', 'ALL') and coalesce(p.with_check, '') in ('true', '(1 = 1)')))
          order by 1, 2",
};

pub const AUTH_RLS_INITPLAN: Lint = Lint {
    name: "auth_rls_initplan",
    level: Level::Warn,
    title: "A policy calls auth.uid() (or auth.jwt(), auth.role(), auth.email()) per row instead of once",
    remediation: "wrap the call in a sub-select: (select auth.uid()) = user_id",
    sql: ", calls as (
            select p.schemaname, p.tablename, p.policyname, f.fn, e.expr
            from pg_policies p
            cross join lateral (values (p.qual), (p.with_check)) e(expr)
            cross join lateral unnest(array['auth.uid()', 'auth.jwt()', 'auth.role()', 'auth.email()']) f(fn)
            where p.schemaname = any((select exposed from params)::text[]) and e.expr is not null)
          select format('%I.%I', schemaname, tablename),
                 format('policy %I calls %s outside a sub-select', policyname, fn)
          from calls
          where (length(expr) - length(replace(expr, fn, ''))) / length(fn)
              > (length(expr) - length(replace(expr, 'SELECT ' || fn, ''))) / length('SELECT ' || fn)
          group by schemaname, tablename, policyname, fn
          order by 1, 2",
};

pub const POLICY_COLUMN_UNINDEXED: Lint = Lint {
    name: "policy_column_unindexed",
    level: Level::Warn,
    title: "A policy filters on a key column that leads no index: every statement scans the table",
    remediation: "create index on … (column)",
    sql: "select distinct format('%I.%I.%I', n.nspname, c.relname, a.attname),
                 format('policy %I filters on %I, which is not the first column of any index', p.polname, a.attname)
          from pg_policy p
          join pg_class c on c.oid = p.polrelid
          join pg_namespace n on n.oid = c.relnamespace
          join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
          where n.nspname = any((select exposed from params)::text[])
            and a.atttypid in ('uuid'::regtype, 'int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'text'::regtype)
            and p.polqual is not null
            and pg_get_expr(p.polqual, p.polrelid) ~ ('\\m' || a.attname || '\\M')
            and not exists (select 1 from pg_index i where i.indrelid = c.oid and i.indkey[0] = a.attnum)
          order by 1, 2",
};

pub const MULTIPLE_PERMISSIVE: Lint = Lint {
    name: "multiple_permissive_policies",
    level: Level::Warn,
    title: "Several permissive policies for one role and command: each is evaluated, and any one lets a row through",
    remediation: "merge them into one policy with `or`, or make the extra ones restrictive",
    sql: "select format('%I.%I', p.schemaname, p.tablename),
                 format('%s policies for %s on %s: %s', count(*), r.role, c.cmd,
                        string_agg(quote_ident(p.policyname), ', ' order by p.policyname))
          from pg_policies p
          cross join lateral unnest(p.roles) r(role)
          cross join lateral unnest(case p.cmd when 'ALL' then array['SELECT', 'INSERT', 'UPDATE', 'DELETE']
                                               else array[p.cmd] end) c(cmd)
          where p.schemaname = any((select exposed from params)::text[]) and p.permissive = 'PERMISSIVE'
          group by p.schemaname, p.tablename, r.role, c.cmd
          having count(*) > 1
          order by 1, 2",
};

pub const USER_METADATA: Lint = Lint {
    name: "rls_references_user_metadata",
    level: Level::Error,
    title: "A policy trusts user_metadata, which every user can edit about themselves",
    remediation: "decide on app_metadata (set only by the server) or on a table the user cannot write",
    sql: concat!(
        "select format('%I.%I', p.schemaname, p.tablename), format('policy %I reads user_metadata', p.policyname)
         from pg_policies p
         where p.schemaname not in ",
        system_schemas!(),
        " and (coalesce(p.qual, '') ilike '%user_metadata%' or coalesce(p.with_check, '') ilike '%user_metadata%')
         order by 1, 2"
    ),
};

pub const UID_IS_NULL_OR: Lint = Lint {
    name: "policy_uid_is_null_or",
    level: Level::Error,
    title: "A policy lets `auth.uid() is null` through: every request without a user passes it",
    remediation: "drop the `auth.uid() is null or …` branch; give anon its own policy if it must read",
    sql: concat!(
        "select format('%I.%I', p.schemaname, p.tablename),
                format('policy %I: %s', p.policyname, coalesce(p.qual, p.with_check))
         from pg_policies p
         cross join lateral (values (coalesce(p.qual, '') || ' ' || coalesce(p.with_check, ''))) e(expr)
         where p.schemaname not in ",
        system_schemas!(),
        " and (e.expr ~* 'auth\\.uid\\(\\)(\\s+AS\\s+uid\\))?\\s+IS\\s+NULL\\)\\s+OR'
              or e.expr ~* 'OR\\s+\\(+\\s*(SELECT\\s+)?auth\\.uid\\(\\)(\\s+AS\\s+uid\\))?\\s+IS\\s+NULL')
         order by 1, 2"
    ),
};
