//! The filter grammar: `[not.]op[(modifier)].value`, `in.(…)` lists and `or`/`and` logic trees (bounded by
//! [`MAX_DEPTH`](super::MAX_DEPTH)). Operators map to closed enums; values stay strings.

use super::ast::{CmpOp, Condition, Field, Filter, FtsKind, IsValue, Op, Quant};
use super::cursor::Cursor;
use super::{MAX_DEPTH, ParseError};

/// A field that must span the whole input (a filter key).
pub(super) fn parse_field_exact(input: &str) -> Result<Field, ParseError> {
    let mut cursor = Cursor::new(input, "filter");
    let name = cursor.name()?;
    let path = cursor.json_path()?;
    cursor.skip_spaces();
    if !cursor.done() {
        return Err(cursor.error("unexpected characters after the column name"));
    }
    Ok(Field { name, path })
}

/// `[not.]op[(modifier)].value`; `in_logic` unquotes `"…"` values as logic trees do.
pub(super) fn parse_op_value(input: &str, in_logic: bool) -> Result<(bool, Op), ParseError> {
    let err = |details: &str| ParseError::new("filter", input, details.to_owned());
    let (negate, rest) = match input.strip_prefix("not.") {
        Some(rest) => (true, rest),
        None => (false, input),
    };
    let op_end = rest
        .find(['.', '('])
        .ok_or_else(|| err("unexpected end of input, expecting an operator (eq, gt, ...)"))?;
    let op_name = &rest[..op_end];
    let mut rest = &rest[op_end..];
    let mut modifier = None;
    if let Some(after) = rest.strip_prefix('(') {
        let close = after.find(')').ok_or_else(|| err("expecting ')'"))?;
        modifier = Some(&after[..close]);
        rest = &after[close + 1..];
    }
    let value = rest
        .strip_prefix('.')
        .ok_or_else(|| err("expecting '.' after the operator"))?;
    let value = if in_logic { unquote(value) } else { value.to_owned() };
    let cmp = match op_name {
        "eq" => Some(CmpOp::Eq),
        "neq" => Some(CmpOp::Neq),
        "gt" => Some(CmpOp::Gt),
        "gte" => Some(CmpOp::Gte),
        "lt" => Some(CmpOp::Lt),
        "lte" => Some(CmpOp::Lte),
        "like" => Some(CmpOp::Like),
        "ilike" => Some(CmpOp::Ilike),
        "match" => Some(CmpOp::Match),
        "imatch" => Some(CmpOp::Imatch),
        "cs" => Some(CmpOp::Cs),
        "cd" => Some(CmpOp::Cd),
        "ov" => Some(CmpOp::Ov),
        "sl" => Some(CmpOp::Sl),
        "sr" => Some(CmpOp::Sr),
        "nxl" => Some(CmpOp::Nxl),
        "nxr" => Some(CmpOp::Nxr),
        "adj" => Some(CmpOp::Adj),
        "isdistinct" => Some(CmpOp::IsDistinct),
        _ => None,
    };
    if let Some(op) = cmp {
        let quant = match modifier {
            None => None,
            Some("any") if op.quantifiable() => Some(Quant::Any),
            Some("all") if op.quantifiable() => Some(Quant::All),
            Some(_) => return Err(err("unexpected modifier, expecting (any) or (all)")),
        };
        let value = if matches!(op, CmpOp::Like | CmpOp::Ilike) {
            value.replace('*', "%")
        } else {
            value
        };
        return Ok((negate, Op::Cmp { op, quant, value }));
    }
    let fts = match op_name {
        "fts" => Some(FtsKind::Fts),
        "plfts" => Some(FtsKind::Plfts),
        "phfts" => Some(FtsKind::Phfts),
        "wfts" => Some(FtsKind::Wfts),
        _ => None,
    };
    if let Some(kind) = fts {
        let lang = modifier.map(str::to_owned);
        return Ok((
            negate,
            Op::Fts {
                kind,
                lang,
                query: value,
            },
        ));
    }
    if modifier.is_some() {
        return Err(err("this operator takes no modifier"));
    }
    match op_name {
        "in" => Ok((negate, Op::In(parse_in_list(&value).map_err(|d| err(&d))?))),
        "is" => {
            let is = match value.to_ascii_lowercase().as_str() {
                "null" => IsValue::Null,
                "not_null" => IsValue::NotNull,
                "true" => IsValue::True,
                "false" => IsValue::False,
                "unknown" => IsValue::Unknown,
                _ => return Err(err("expecting null, not_null, true, false or unknown after is.")),
            };
            Ok((negate, Op::Is(is)))
        }
        _ => Err(err(
            "unknown operator, expecting eq, neq, gt, gte, lt, lte, like, ilike, match, imatch, in, is, \
             isdistinct, cs, cd, ov, sl, sr, nxl, nxr, adj, fts, plfts, phfts or wfts",
        )),
    }
}

/// Whether `value` reads as a filter (`[not.]op.value`); for `/rpc` GET, other pairs are arguments.
pub fn is_filter_value(value: &str) -> bool {
    parse_op_value(value, false).is_ok()
}

fn unquote(value: &str) -> String {
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        let inner = &value[1..value.len() - 1];
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            } else {
                out.push(c);
            }
        }
        out
    } else {
        value.to_owned()
    }
}

/// `(a,b,"c,d")` into its elements.
fn parse_in_list(value: &str) -> Result<Vec<String>, String> {
    let inner = value
        .strip_prefix('(')
        .and_then(|v| v.strip_suffix(')'))
        .ok_or("expecting a list in parentheses: in.(a,b)")?;
    if inner.is_empty() {
        return Ok(Vec::new());
    }
    let mut items = Vec::new();
    let mut current = String::new();
    let mut chars = inner.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if !quoted && current.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            '"' if quoted => quoted = false,
            '\\' if quoted => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            ',' if !quoted => {
                items.push(std::mem::take(&mut current));
                was_quoted = false;
            }
            _ => current.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted value in the list".into());
    }
    items.push(current);
    Ok(items)
}

/// Splits `a,b(c,d),"e,f",{g,h}` at top-level commas.
pub(super) fn split_top_level(input: &str) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut depth: i32 = 0;
    let mut quoted = false;
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
                continue;
            }
            '"' => quoted = !quoted,
            '(' | '{' if !quoted => depth += 1,
            ')' | '}' if !quoted => {
                depth -= 1;
                if depth < 0 {
                    return Err("unbalanced parentheses".into());
                }
            }
            ',' if !quoted && depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if quoted || depth != 0 {
        return Err("unbalanced quotes or parentheses".into());
    }
    parts.push(current);
    Ok(parts)
}

/// `(item,item,…)` of an `or`/`and` parameter.
pub(super) fn parse_logic_list(value: &str, depth: usize) -> Result<Vec<Condition>, ParseError> {
    let err = |details: &str| ParseError::new("logic tree", value, details.to_owned());
    if depth > MAX_DEPTH {
        return Err(err("logic trees are nested too deeply"));
    }
    let inner = value
        .trim()
        .strip_prefix('(')
        .and_then(|v| v.strip_suffix(')'))
        .ok_or_else(|| err("expecting a list in parentheses: or=(a.eq.1,b.eq.2)"))?;
    let parts = split_top_level(inner).map_err(|d| err(&d))?;
    let mut items = Vec::new();
    for part in parts {
        let part = part.trim();
        if part.is_empty() {
            return Err(err("empty item in the logic tree"));
        }
        items.push(parse_logic_item(part, depth)?);
    }
    Ok(items)
}

fn parse_logic_item(item: &str, depth: usize) -> Result<Condition, ParseError> {
    let (negate, rest) = match item.strip_prefix("not.") {
        Some(rest) if rest.starts_with("or(") || rest.starts_with("and(") => (true, rest),
        _ => (false, item),
    };
    for (word, or) in [("or", true), ("and", false)] {
        if let Some(list) = rest.strip_prefix(word)
            && list.starts_with('(')
        {
            let items = parse_logic_list(list, depth + 1)?;
            return Ok(Condition::Group { negate, or, items });
        }
    }
    let mut cursor = Cursor::new(item, "logic tree");
    let name = cursor.name()?;
    let path = cursor.json_path()?;
    if !cursor.eat(".") {
        return Err(cursor.error("expecting '.' after the column name"));
    }
    let rest: String = cursor.chars[cursor.pos..].iter().collect();
    let (negate, op) = parse_op_value(&rest, true)?;
    Ok(Condition::Filter(Filter {
        field: Field { name, path },
        negate,
        op,
    }))
}
