//! Views: a view runs with its owner's rights unless it says `security_invoker`, so it can read past RLS.

use super::Lint;
use crate::audit::Level;

pub const SECURITY_DEFINER_VIEW: Lint = Lint {
    name: "security_definer_view",
    level: Level::Error,
    title: "An exposed view runs as its owner, bypassing the callers' row-level security",
    remediation: "alter view … set (security_invoker = true)",
    sql: "select format('%I.%I', n.nspname, c.relname),
                 'readable by anon or authenticated and not security_invoker: it reads the tables as its owner'
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where c.relkind = 'v' and n.nspname = any((select exposed from params)::text[])
            and not exists (select 1 from unnest(coalesce(c.reloptions, '{}')) o
                            where lower(o) in ('security_invoker=true', 'security_invoker=on', 'security_invoker=1'))
            and (has_table_privilege('anon', c.oid, 'SELECT') or has_table_privilege('authenticated', c.oid, 'SELECT'))
          order by 1",
};

pub const AUTH_USERS_EXPOSED: Lint = Lint {
    name: "auth_users_exposed",
    level: Level::Error,
    title: "A view or materialized view the data API exposes reads auth.users",
    remediation: "expose only the columns needed through public.profiles (kept in sync by trigger), never auth.users",
    sql: "select distinct format('%I.%I', n.nspname, v.relname), 'selects from auth.users and is readable by anon or authenticated'
          from pg_depend d
          join pg_rewrite r on r.oid = d.objid
          join pg_class v on v.oid = r.ev_class
          join pg_namespace n on n.oid = v.relnamespace
          where d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_class'::regclass
            and d.refobjid = to_regclass('auth.users') and v.relkind in ('v', 'm')
            and n.nspname = any((select exposed from params)::text[])
            and (has_table_privilege('anon', v.oid, 'SELECT') or has_table_privilege('authenticated', v.oid, 'SELECT'))
          order by 1",
};
