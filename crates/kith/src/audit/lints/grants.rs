//! Grants: what `anon` may do to tenant tables, and that the request pool's login role can do nothing by itself.

use super::Lint;
use crate::audit::Level;

pub const ANON_WRITES_TENANT_TABLE: Lint = Lint {
    name: "anon_grant_writes_tenant_table",
    level: Level::Error,
    title: "anon (anyone with the public API key) may write a tenant table",
    remediation: "revoke insert, update, delete, truncate on … from anon",
    sql: concat!(
        "select format('%I.%I', t.nspname, t.relname),
                format('anon holds %s', array_to_string(array_remove(array[
                  case when has_table_privilege('anon', t.oid, 'INSERT') or has_any_column_privilege('anon', t.oid, 'INSERT') then 'INSERT' end,
                  case when has_table_privilege('anon', t.oid, 'UPDATE') or has_any_column_privilege('anon', t.oid, 'UPDATE') then 'UPDATE' end,
                  case when has_table_privilege('anon', t.oid, 'DELETE') then 'DELETE' end,
                  case when has_table_privilege('anon', t.oid, 'TRUNCATE') then 'TRUNCATE' end], null), ', '))
         from ",
        exposed_tables!(),
        " t where t.is_tenant and (has_table_privilege('anon', t.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
                                  or has_any_column_privilege('anon', t.oid, 'INSERT, UPDATE'))
         order by 1"
    ),
};

pub const ANON_READS_TENANT_TABLE: Lint = Lint {
    name: "anon_reads_tenant_table",
    level: Level::Error,
    title: "anon may select from a tenant table and a policy lets it see rows",
    remediation: "restrict the policy to authenticated (`to authenticated`), or revoke select from anon",
    sql: concat!(
        "select format('%I.%I', t.nspname, t.relname),
                format('select granted to anon, and policy %s applies to it', string_agg(quote_ident(p.polname), ', ' order by p.polname))
         from ",
        exposed_tables!(),
        " t join pg_policy p on p.polrelid = t.oid
         where t.is_tenant and has_table_privilege('anon', t.oid, 'SELECT') and p.polpermissive and p.polcmd in ('r', '*')
           and (0 = any(p.polroles) or (select oid from pg_roles where rolname = 'anon') = any(p.polroles))
           and coalesce(pg_get_expr(p.polqual, p.polrelid), '') <> 'false'
         group by t.nspname, t.relname
         order by 1"
    ),
};

pub const ANON_SELECT_GRANT_TENANT_TABLE: Lint = Lint {
    name: "anon_grant_on_tenant_table",
    level: Level::Warn,
    title: "anon may select from a tenant table; no policy shows it a row today, one careless `to public` would",
    remediation: "revoke select on … from anon unless anon must get an empty answer rather than 401",
    sql: concat!(
        "select format('%I.%I', t.nspname, t.relname), 'select granted to anon; every policy is for other roles'
         from ",
        exposed_tables!(),
        " t where t.is_tenant and has_table_privilege('anon', t.oid, 'SELECT')
            and not exists (select 1 from pg_policy p where p.polrelid = t.oid and p.polpermissive and p.polcmd in ('r', '*')
                            and (0 = any(p.polroles) or (select oid from pg_roles where rolname = 'anon') = any(p.polroles))
                            and coalesce(pg_get_expr(p.polqual, p.polrelid), '') <> 'false')
         order by 1"
    ),
};

/// The login role may only USAGE these schemas (name resolution while preparing) and read the migration table.
pub const AUTHENTICATOR_PRIVILEGES: Lint = Lint {
    name: "authenticator_has_privileges",
    level: Level::Error,
    title: "The request pool's login role owns or was granted something: a query that forgets its caller would work",
    remediation: "reassign owned by kith_authenticator to the schema owner; revoke the grant; it must only SET ROLE",
    sql: ", me as (select r.* from pg_roles r where r.rolname = (select authenticator from params))
          select object, detail from (
            select format('role %I', me.rolname) as object,
                   'attributes: ' || array_to_string(array_remove(array[
                     case when me.rolsuper then 'SUPERUSER' end, case when me.rolcreaterole then 'CREATEROLE' end,
                     case when me.rolcreatedb then 'CREATEDB' end, case when me.rolbypassrls then 'BYPASSRLS' end,
                     case when me.rolinherit then 'INHERIT' end, case when me.rolreplication then 'REPLICATION' end],
                     null), ', ') as detail
            from me where me.rolsuper or me.rolcreaterole or me.rolcreatedb or me.rolbypassrls or me.rolinherit or me.rolreplication
            union all
            select format('role %I', me.rolname), format('member of %I', g.rolname)
            from me join pg_auth_members m on m.member = me.oid join pg_roles g on g.oid = m.roleid
            where g.rolname not in ('anon', 'authenticated', 'service_role')
            union all
            select format('%I.%I', n.nspname, c.relname), 'owned by the login role'
            from me join pg_class c on c.relowner = me.oid join pg_namespace n on n.oid = c.relnamespace
            union all
            select format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), 'owned by the login role'
            from me join pg_proc p on p.proowner = me.oid join pg_namespace n on n.oid = p.pronamespace
            union all
            select format('schema %I', n.nspname), 'owned by the login role'
            from me join pg_namespace n on n.nspowner = me.oid
            union all
            select format('%I.%I', n.nspname, c.relname), format('granted %s', string_agg(a.privilege_type, ', ' order by a.privilege_type))
            from me, pg_class c join pg_namespace n on n.oid = c.relnamespace
            cross join lateral aclexplode(c.relacl) a
            where a.grantee = me.oid
              and not (n.nspname = 'kith' and c.relname = 'schema_migrations' and a.privilege_type = 'SELECT')
            group by n.nspname, c.relname
            union all
            select format('%I.%I.%I', n.nspname, c.relname, att.attname), format('granted %s on the column', a.privilege_type)
            from me, pg_attribute att join pg_class c on c.oid = att.attrelid join pg_namespace n on n.oid = c.relnamespace
            cross join lateral aclexplode(att.attacl) a
            where a.grantee = me.oid
            union all
            select format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), 'granted EXECUTE'
            from me, pg_proc p join pg_namespace n on n.oid = p.pronamespace
            cross join lateral aclexplode(p.proacl) a
            where a.grantee = me.oid
            union all
            select format('schema %I', n.nspname), format('granted %s', a.privilege_type)
            from me, pg_namespace n cross join lateral aclexplode(n.nspacl) a
            where a.grantee = me.oid
              and not (a.privilege_type = 'USAGE' and n.nspname in ('public', 'auth', 'private', 'kith'))
            union all
            select format('database %I', d.datname), format('granted %s', a.privilege_type)
            from me, pg_database d cross join lateral aclexplode(d.datacl) a
            where d.datname = current_database() and a.grantee = me.oid and a.privilege_type <> 'CONNECT'
          ) found
          order by 1, 2",
};
