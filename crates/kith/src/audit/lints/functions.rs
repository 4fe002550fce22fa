//! Functions: security-definer code runs with its owner's rights, so it must pin its search_path and be callable
//! only by whom it is meant for.

use super::Lint;
use crate::audit::Level;

/// Functions of the database's own schemas (not system, not an extension's).
macro_rules! own_functions {
    () => {
        "(select p.oid, n.nspname, p.proname, p.prosecdef, p.proconfig, p.prorettype, p.prokind,
                 pg_get_function_identity_arguments(p.oid) as args
          from pg_proc p join pg_namespace n on n.oid = p.pronamespace
          where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
            and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid
                            and d.deptype = 'e'))"
    };
}

pub const SECURITY_DEFINER_SEARCH_PATH: Lint = Lint {
    name: "security_definer_search_path_mutable",
    level: Level::Error,
    title: "A security-definer function does not pin its search_path: a caller can shadow what it calls",
    remediation: "alter function … set search_path = '' (and schema-qualify every name inside)",
    sql: concat!(
        "select format('%I.%I(%s)', f.nspname, f.proname, f.args), 'security definer without `set search_path`'
         from ",
        own_functions!(),
        " f where f.prosecdef
            and not exists (select 1 from unnest(coalesce(f.proconfig, '{}')) c where c like 'search\\_path=%')
         order by 1"
    ),
};

pub const SEARCH_PATH_MUTABLE: Lint = Lint {
    name: "function_search_path_mutable",
    level: Level::Warn,
    title: "A function the data API can call does not pin its search_path",
    remediation: "alter function … set search_path = ''",
    sql: concat!(
        "select format('%I.%I(%s)', f.nspname, f.proname, f.args), 'no `set search_path`'
         from ",
        own_functions!(),
        " f where not f.prosecdef and f.prokind = 'f' and f.nspname = any((select exposed from params)::text[])
            and not exists (select 1 from unnest(coalesce(f.proconfig, '{}')) c where c like 'search\\_path=%')
         order by 1"
    ),
};

pub const SECURITY_DEFINER_ANON: Lint = Lint {
    name: "anon_security_definer_function_executable",
    level: Level::Error,
    title: "Anyone with the anon key can run a security-definer function",
    remediation: "revoke execute on function … from anon, public; grant it to the roles that need it",
    sql: concat!(
        "select format('%I.%I(%s)', f.nspname, f.proname, f.args), 'security definer, executable by anon'
         from ",
        own_functions!(),
        " f where f.prosecdef and f.prorettype <> 'trigger'::regtype and f.prokind = 'f'
            and has_function_privilege('anon', f.oid, 'EXECUTE')
         order by 1"
    ),
};

pub const SECURITY_DEFINER_AUTHENTICATED: Lint = Lint {
    name: "authenticated_security_definer_function_executable",
    level: Level::Warn,
    title: "Every signed-in user can call a security-definer function through /rest/v1/rpc",
    remediation: "move it to a schema the data API does not expose (e.g. private), or make it security invoker",
    sql: concat!(
        "select format('%I.%I(%s)', f.nspname, f.proname, f.args),
                'security definer in an exposed schema, executable by authenticated'
         from ",
        own_functions!(),
        " f where f.prosecdef and f.prorettype <> 'trigger'::regtype and f.prokind = 'f'
            and f.nspname = any((select exposed from params)::text[])
            and has_function_privilege('authenticated', f.oid, 'EXECUTE')
            and not has_function_privilege('anon', f.oid, 'EXECUTE')
         order by 1"
    ),
};
