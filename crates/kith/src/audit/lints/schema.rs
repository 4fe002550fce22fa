//! Schema hygiene: keys, indexes and extensions.

use super::Lint;
use crate::audit::Level;

pub const NO_PRIMARY_KEY: Lint = Lint {
    name: "no_primary_key",
    level: Level::Info,
    title: "An exposed table has no primary key: rows cannot be addressed one by one",
    remediation: "alter table … add primary key (…)",
    sql: concat!(
        "select format('%I.%I', t.nspname, t.relname), 'no primary key'
         from ",
        exposed_tables!(),
        " t where not exists (select 1 from pg_constraint k where k.conrelid = t.oid and k.contype = 'p') order by 1"
    ),
};

pub const UNINDEXED_FOREIGN_KEYS: Lint = Lint {
    name: "unindexed_foreign_keys",
    level: Level::Info,
    title: "A foreign key's columns lead no index: deleting a referenced row scans this table",
    remediation: "create index on … (the foreign key's columns)",
    sql: "select format('%I.%I', n.nspname, c.relname), format('foreign key %I (%s) has no covering index', k.conname,
                 (select string_agg(quote_ident(a.attname), ', ' order by u.ord) from unnest(k.conkey) with ordinality u(attnum, ord)
                  join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.attnum))
          from pg_constraint k
          join pg_class c on c.oid = k.conrelid
          join pg_namespace n on n.oid = c.relnamespace
          where k.contype = 'f' and n.nspname = any((select exposed from params)::text[])
            and not exists (
              select 1 from pg_index i
              where i.indrelid = k.conrelid
                and (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(k.conkey)] @> k.conkey
                and cardinality(k.conkey) <= i.indnkeyatts)
          order by 1, 2",
};

pub const DUPLICATE_INDEX: Lint = Lint {
    name: "duplicate_index",
    level: Level::Warn,
    title: "Two indexes are identical: every write maintains both",
    remediation: "drop all but one",
    sql: concat!(
        "select format('%I.%I', n.nspname, c.relname),
                format('identical indexes: %s', string_agg(quote_ident(ic.relname), ', ' order by ic.relname))
         from pg_index i
         join pg_class c on c.oid = i.indrelid
         join pg_class ic on ic.oid = i.indexrelid
         join pg_namespace n on n.oid = c.relnamespace
         where n.nspname not in ",
        system_schemas!(),
        " group by n.nspname, c.relname, i.indrelid, ic.relam, i.indkey::text, i.indclass::text, i.indcollation::text,
                  i.indoption::text, coalesce(pg_get_expr(i.indexprs, i.indrelid), ''),
                  coalesce(pg_get_expr(i.indpred, i.indrelid), '')
         having count(*) > 1
         order by 1, 2"
    ),
};

pub const EXTENSION_IN_PUBLIC: Lint = Lint {
    name: "extension_in_public",
    level: Level::Warn,
    title: "An extension is installed in public, where its objects mix with the exposed ones",
    remediation: "drop and re-create it `with schema extensions` (Kith keeps pg_trgm there)",
    sql: "select e.extname::text, format('extension %I %s lives in schema public', e.extname, e.extversion)
          from pg_extension e join pg_namespace n on n.oid = e.extnamespace
          where n.nspname = 'public'
          order by 1",
};
