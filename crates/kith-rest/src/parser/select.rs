//! The `select` grammar: columns, aliases, JSON paths, allow-listed casts and (nested) embeds, bounded by
//! [`MAX_DEPTH`](super::MAX_DEPTH).

use super::ast::{Embed, Field, SelectItem};
use super::cursor::Cursor;
use super::{MAX_DEPTH, ParseError};

/// Maps a cast name to the SQL type it stands for; the only casts accepted.
pub fn cast_type(name: &str) -> Option<&'static str> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "text" => "text",
        "varchar" | "character varying" => "varchar",
        "char" | "bpchar" | "character" => "bpchar",
        "int2" | "smallint" => "int2",
        "int" | "int4" | "integer" => "int4",
        "int8" | "bigint" => "int8",
        "numeric" | "decimal" => "numeric",
        "float4" | "real" => "float4",
        "float8" | "double precision" => "float8",
        "bool" | "boolean" => "boolean",
        "json" => "json",
        "jsonb" => "jsonb",
        "uuid" => "uuid",
        "date" => "date",
        "time" => "time",
        "timetz" => "timetz",
        "timestamp" => "timestamp",
        "timestamptz" => "timestamptz",
        "interval" => "interval",
        _ => return None,
    })
}

/// Parses a `select` value.
pub fn parse_select(input: &str) -> Result<Vec<SelectItem>, ParseError> {
    let mut cursor = Cursor::new(input, "select parameter");
    let items = select_items(&mut cursor, 0)?;
    cursor.skip_spaces();
    if !cursor.done() {
        return Err(cursor.error(format!("unexpected '{}'", cursor.peek().unwrap_or(' '))));
    }
    Ok(items)
}

fn select_items(cursor: &mut Cursor<'_>, depth: usize) -> Result<Vec<SelectItem>, ParseError> {
    if depth > MAX_DEPTH {
        return Err(cursor.error("embeds are nested too deeply"));
    }
    let mut items = Vec::new();
    loop {
        cursor.skip_spaces();
        if cursor.done() || cursor.peek() == Some(')') {
            if items.is_empty() && depth == 0 {
                // `select=` selects nothing in PostgREST; treat it as `*` for reads.
                return Ok(vec![SelectItem::Star]);
            }
            if items.is_empty() {
                return Ok(items);
            }
            return Err(cursor.error("expecting a field after ','"));
        }
        items.push(select_item(cursor, depth)?);
        cursor.skip_spaces();
        if !cursor.eat(",") {
            return Ok(items);
        }
    }
}

fn select_item(cursor: &mut Cursor<'_>, depth: usize) -> Result<SelectItem, ParseError> {
    if cursor.eat("*") {
        return Ok(SelectItem::Star);
    }
    if cursor.starts_with("...") {
        return Err(cursor.error("spread embeds ('...') are not supported"));
    }
    let mut name = cursor.name()?;
    let mut alias = None;
    cursor.skip_spaces();
    if cursor.peek() == Some(':') && cursor.peek_at(1) != Some(':') {
        cursor.pos += 1;
        alias = Some(name);
        if cursor.starts_with("...") {
            return Err(cursor.error("spread embeds ('...') are not supported"));
        }
        name = cursor.name()?;
        cursor.skip_spaces();
    }
    if cursor.peek() == Some('!') || cursor.peek() == Some('(') {
        let mut hint = None;
        let mut inner = false;
        while cursor.eat("!") {
            let word = cursor.name()?;
            match word.as_str() {
                "inner" => inner = true,
                "left" => inner = false,
                _ if hint.is_none() => hint = Some(word),
                _ => return Err(cursor.error("more than one embedding hint")),
            }
        }
        if !cursor.eat("(") {
            return Err(cursor.error("expecting '(' after the embedded resource"));
        }
        if cursor.peek() == Some(')') && is_aggregate(&name) {
            return Err(cursor.error("aggregate functions are not enabled"));
        }
        let items = select_items(cursor, depth + 1)?;
        if !cursor.eat(")") {
            return Err(cursor.error("expecting ')'"));
        }
        // `rel()` stays empty: it selects nothing and exists for filtering (`rel!inner()&rel.col=eq.x`).
        return Ok(SelectItem::Embed(Embed {
            name,
            alias,
            hint,
            inner,
            items,
        }));
    }
    let path = cursor.json_path()?;
    let mut cast = None;
    cursor.skip_spaces();
    if cursor.eat("::") {
        let mut type_name = String::new();
        while let Some(c) = cursor.peek() {
            if c.is_ascii_alphanumeric() || c == '_' || c == ' ' {
                type_name.push(c);
                cursor.pos += 1;
            } else {
                break;
            }
        }
        cast = Some(
            cast_type(&type_name)
                .ok_or_else(|| cursor.error(format!("unsupported cast type '{}'", type_name.trim())))?,
        );
    }
    Ok(SelectItem::Column {
        field: Field { name, path },
        alias,
        cast,
    })
}

fn is_aggregate(name: &str) -> bool {
    matches!(name, "count" | "sum" | "avg" | "min" | "max")
}
