//! The PostgREST query-string grammar (`select`, filters, `or`/`and` trees, `order`, `limit`, `offset`,
//! `columns`, `on_conflict`) parsed into a small syntax tree. Nothing here touches SQL.
//!
//! Guarantees:
//! - Parsing is total: any input yields a tree or a [`ParseError`] (answered 400 `PGRST100`), never a panic.
//!   Nesting (embeds, logic trees) is bounded by [`MAX_DEPTH`] so hostile input cannot exhaust the stack, and
//!   inputs longer than [`MAX_INPUT`] are refused.
//! - Names in the tree are plain strings; they become SQL only after the schema cache has recognised them and
//!   they have been quoted (see `sql.rs`). Values are kept as strings and are always bound as parameters.
//! - Casts are reduced here to one of a fixed list of type names ([`cast_type`]); anything else is refused.
//! - Operators and `is` values come from fixed enums; nothing from the input is passed through as an operator.

use std::collections::BTreeMap;

/// Deepest nesting of embeds or logic trees accepted.
pub const MAX_DEPTH: usize = 16;
/// Longest single parameter value accepted, in bytes.
pub const MAX_INPUT: usize = 16 * 1024;

/// A query-string error: answered `400 PGRST100`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// e.g. `"failed to parse filter (x.y)"`.
    pub message: String,
    /// What was wrong.
    pub details: String,
}

impl ParseError {
    fn new(what: &str, input: &str, details: impl Into<String>) -> Self {
        let shown: String = input.chars().take(200).collect();
        ParseError {
            message: format!("\"failed to parse {what} ({shown})\" (line 1, column 1)"),
            details: details.into(),
        }
    }
}

/// `->` (JSON) or `->>` (text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrow {
    /// `->`
    Json,
    /// `->>`
    Text,
}

/// One step of a JSON path; `key` is bound as a parameter (an integer index when it is all digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonStep {
    /// Which arrow.
    pub arrow: Arrow,
    /// The key or index, as written.
    pub key: String,
}

/// A column, optionally followed by a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Column name (looked up in the schema cache before use).
    pub name: String,
    /// JSON path steps.
    pub path: Vec<JsonStep>,
}

impl Field {
    /// The name PostgREST gives the output: the last JSON key, else the column.
    pub fn default_alias(&self) -> &str {
        self.path.last().map_or(&self.name, |step| &step.key)
    }
}

/// One item of `select`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectItem {
    /// `*`
    Star,
    /// `[alias:]col[->path][::cast]`
    Column {
        /// The column and path.
        field: Field,
        /// `alias:`
        alias: Option<String>,
        /// A type from the allow-list.
        cast: Option<&'static str>,
    },
    /// `[alias:]relation[!hint][!inner](items)`
    Embed(Embed),
}

/// An embedded resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embed {
    /// Table name, FK constraint name or FK column.
    pub name: String,
    /// `alias:`
    pub alias: Option<String>,
    /// `!hint`
    pub hint: Option<String>,
    /// `!inner`
    pub inner: bool,
    /// What to select from it; empty for `rel()`, which adds nothing to the output.
    pub items: Vec<SelectItem>,
}

impl Embed {
    /// The key the embed appears under, and the prefix its filters use.
    pub fn label(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// `(any)` / `(all)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quant {
    /// `(any)`
    Any,
    /// `(all)`
    All,
}

/// Operators that take one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    Like,
    Ilike,
    Match,
    Imatch,
    Cs,
    Cd,
    Ov,
    Sl,
    Sr,
    Nxl,
    Nxr,
    Adj,
    IsDistinct,
}

impl CmpOp {
    /// The SQL operator (a fixed string).
    pub fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Neq => "<>",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
            CmpOp::Like => "LIKE",
            CmpOp::Ilike => "ILIKE",
            CmpOp::Match => "~",
            CmpOp::Imatch => "~*",
            CmpOp::Cs => "@>",
            CmpOp::Cd => "<@",
            CmpOp::Ov => "&&",
            CmpOp::Sl => "<<",
            CmpOp::Sr => ">>",
            // PostgREST: `nxr` (does not extend to the right) is `&<`, `nxl` (… to the left) is `&>`.
            CmpOp::Nxl => "&>",
            CmpOp::Nxr => "&<",
            CmpOp::Adj => "-|-",
            CmpOp::IsDistinct => "IS DISTINCT FROM",
        }
    }

    /// Whether the value is text whatever the column's type (patterns and regexes).
    pub fn text_value(self) -> bool {
        matches!(self, CmpOp::Like | CmpOp::Ilike | CmpOp::Match | CmpOp::Imatch)
    }

    fn quantifiable(self) -> bool {
        matches!(
            self,
            CmpOp::Eq
                | CmpOp::Gt
                | CmpOp::Gte
                | CmpOp::Lt
                | CmpOp::Lte
                | CmpOp::Like
                | CmpOp::Ilike
                | CmpOp::Match
                | CmpOp::Imatch
        )
    }
}

/// `is.` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsValue {
    Null,
    NotNull,
    True,
    False,
    Unknown,
}

impl IsValue {
    /// The SQL keyword(s) (fixed strings).
    pub fn sql(self) -> &'static str {
        match self {
            IsValue::Null => "IS NULL",
            IsValue::NotNull => "IS NOT NULL",
            IsValue::True => "IS TRUE",
            IsValue::False => "IS FALSE",
            IsValue::Unknown => "IS UNKNOWN",
        }
    }
}

/// Full-text search flavours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FtsKind {
    Fts,
    Plfts,
    Phfts,
    Wfts,
}

impl FtsKind {
    /// The tsquery constructor (a fixed function name).
    pub fn function(self) -> &'static str {
        match self {
            FtsKind::Fts => "to_tsquery",
            FtsKind::Plfts => "plainto_tsquery",
            FtsKind::Phfts => "phraseto_tsquery",
            FtsKind::Wfts => "websearch_to_tsquery",
        }
    }
}

/// An operator with its operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A binary operator, possibly quantified (then `value` is a `{a,b}` array literal).
    Cmp {
        op: CmpOp,
        quant: Option<Quant>,
        value: String,
    },
    /// `in.(a,b,"c,d")`
    In(Vec<String>),
    /// `is.null` …
    Is(IsValue),
    /// `fts(lang).query`
    Fts {
        kind: FtsKind,
        lang: Option<String>,
        query: String,
    },
}

/// `field=[not.]op.value`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The column.
    pub field: Field,
    /// `not.`
    pub negate: bool,
    /// The operator.
    pub op: Op,
}

/// A filter or an `and(..)`/`or(..)` group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// A single filter.
    Filter(Filter),
    /// A group.
    Group {
        /// `not.or(..)`
        negate: bool,
        /// `or` (else `and`).
        or: bool,
        /// Members.
        items: Vec<Condition>,
    },
}

/// One `order` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTerm {
    /// The column.
    pub field: Field,
    /// `.desc`
    pub desc: bool,
    /// `Some(true)` = `.nullsfirst`, `Some(false)` = `.nullslast`.
    pub nulls_first: Option<bool>,
}

/// Filters, order and paging of one node: the root (`[]`) or an embed path (`["rel", "sub"]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeParams {
    /// ANDed together.
    pub conditions: Vec<Condition>,
    /// Order terms.
    pub order: Vec<OrderTerm>,
    /// `limit`
    pub limit: Option<i64>,
    /// `offset`
    pub offset: Option<i64>,
}

/// A parsed query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `select` (absent: `*`).
    pub select: Option<Vec<SelectItem>>,
    /// `columns`
    pub columns: Option<Vec<String>>,
    /// `on_conflict`
    pub on_conflict: Option<Vec<String>>,
    /// Per node (embed path) parameters.
    pub nodes: BTreeMap<Vec<String>, NodeParams>,
    /// Pairs the caller set aside (RPC arguments), in order.
    pub args: Vec<(String, String)>,
}

impl Query {
    /// The root node's parameters.
    pub fn root(&self) -> NodeParams {
        self.nodes.get(&Vec::new()).cloned().unwrap_or_default()
    }

    /// Whether any filter (at any node) was given.
    pub fn has_root_filters(&self) -> bool {
        self.nodes
            .get(&Vec::new())
            .is_some_and(|node| !node.conditions.is_empty())
    }
}

/// Parses decoded query pairs. Keys for which `is_arg` holds (and which are not reserved) go to
/// [`Query::args`] instead of being read as filters.
pub fn parse_query(pairs: &[(String, String)], is_arg: &dyn Fn(&str) -> bool) -> Result<Query, ParseError> {
    let mut query = Query::default();
    for (key, value) in pairs {
        if key.len() > MAX_INPUT || value.len() > MAX_INPUT {
            return Err(ParseError::new("parameter", key, "the parameter is too long"));
        }
        match key.as_str() {
            "select" => query.select = Some(parse_select(value)?),
            "columns" => query.columns = Some(parse_name_list(value, "columns")?),
            "on_conflict" => query.on_conflict = Some(parse_name_list(value, "on_conflict")?),
            _ if is_arg(key) => query.args.push((key.clone(), value.clone())),
            _ => parse_keyed(&mut query, key, value)?,
        }
    }
    Ok(query)
}

fn parse_keyed(query: &mut Query, key: &str, value: &str) -> Result<(), ParseError> {
    // The JSON path (if any) starts at the first arrow; the embed path is the dotted part before it.
    let (head, arrows) = match key.find("->") {
        Some(at) => (&key[..at], &key[at..]),
        None => (key, ""),
    };
    let mut segments: Vec<String> = head.split('.').map(|s| s.trim().to_owned()).collect();
    let last = segments.pop().unwrap_or_default();
    if last.is_empty() || segments.iter().any(String::is_empty) {
        return Err(ParseError::new("filter", key, "empty name in the parameter key"));
    }
    let node = query.nodes.entry(segments).or_default();
    if arrows.is_empty() {
        match last.as_str() {
            "order" => {
                node.order = parse_order(value)?;
                return Ok(());
            }
            "limit" => {
                node.limit = Some(parse_count(value, "limit")?);
                return Ok(());
            }
            "offset" => {
                node.offset = Some(parse_count(value, "offset")?);
                return Ok(());
            }
            "or" | "and" => {
                let items = parse_logic_list(value, 0)?;
                node.conditions.push(Condition::Group {
                    negate: false,
                    or: last == "or",
                    items,
                });
                return Ok(());
            }
            _ => {}
        }
    }
    let field_text = format!("{last}{arrows}");
    let field = parse_field_exact(&field_text)?;
    let (negate, op) = parse_op_value(value, false)?;
    node.conditions.push(Condition::Filter(Filter { field, negate, op }));
    Ok(())
}

fn parse_count(value: &str, what: &str) -> Result<i64, ParseError> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| ParseError::new(what, value, "expecting a non-negative integer"))
}

/// A character cursor.
struct Cursor<'a> {
    chars: Vec<char>,
    pos: usize,
    input: &'a str,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn new(input: &'a str, what: &'static str) -> Self {
        Cursor {
            chars: input.chars().collect(),
            pos: 0,
            input,
            what,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn starts_with(&self, text: &str) -> bool {
        text.chars().enumerate().all(|(i, c)| self.peek_at(i) == Some(c))
    }

    fn eat(&mut self, text: &str) -> bool {
        if self.starts_with(text) {
            self.pos += text.chars().count();
            true
        } else {
            false
        }
    }

    fn done(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn error(&self, details: impl Into<String>) -> ParseError {
        ParseError::new(self.what, self.input, details)
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// A name: `"quoted"` (backslash escapes) or a run of characters that are not delimiters.
    fn name(&mut self) -> Result<String, ParseError> {
        self.skip_spaces();
        if self.peek() == Some('"') {
            return self.quoted();
        }
        let mut out = String::new();
        while let Some(c) = self.peek() {
            let delimiter = matches!(c, ',' | '(' | ')' | ':' | '!' | '.' | '"' | '\'' | '{' | '}' | '*')
                || (c == '-' && self.peek_at(1) == Some('>'));
            if delimiter {
                break;
            }
            out.push(c);
            self.pos += 1;
        }
        let out = out.trim().to_owned();
        if out.is_empty() {
            return Err(self.error(format!("expecting a name at position {}", self.pos + 1)));
        }
        Ok(out)
    }

    fn quoted(&mut self) -> Result<String, ParseError> {
        if !self.eat("\"") {
            return Err(self.error("expecting '\"'"));
        }
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated quoted name")),
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c) => {
                            out.push(c);
                            self.pos += 1;
                        }
                        None => return Err(self.error("unterminated quoted name")),
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `->key` / `->>key` steps.
    fn json_path(&mut self) -> Result<Vec<JsonStep>, ParseError> {
        let mut path = Vec::new();
        loop {
            let arrow = if self.eat("->>") {
                Arrow::Text
            } else if self.eat("->") {
                Arrow::Json
            } else {
                return Ok(path);
            };
            let key = if self.peek() == Some('"') {
                self.quoted()?
            } else {
                let mut out = String::new();
                while let Some(c) = self.peek() {
                    let stop = matches!(c, ',' | '(' | ')' | ':' | '!' | '.' | '"')
                        || (c == '-' && self.peek_at(1) == Some('>'));
                    if stop {
                        break;
                    }
                    out.push(c);
                    self.pos += 1;
                }
                out
            };
            if key.is_empty() {
                return Err(self.error("expecting a JSON key after the arrow"));
            }
            path.push(JsonStep { arrow, key });
        }
    }
}

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

/// A field that must span the whole input (a filter key).
fn parse_field_exact(input: &str) -> Result<Field, ParseError> {
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
fn parse_op_value(input: &str, in_logic: bool) -> Result<(bool, Op), ParseError> {
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
fn split_top_level(input: &str) -> Result<Vec<String>, String> {
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
fn parse_logic_list(value: &str, depth: usize) -> Result<Vec<Condition>, ParseError> {
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

/// `order=a.desc.nullslast,b`
pub fn parse_order(value: &str) -> Result<Vec<OrderTerm>, ParseError> {
    let err = |details: &str| ParseError::new("order", value, details.to_owned());
    let mut terms = Vec::new();
    for part in split_top_level(value).map_err(|d| err(&d))? {
        let mut cursor = Cursor::new(&part, "order");
        let name = cursor.name()?;
        if cursor.peek() == Some('(') {
            return Err(err("ordering by a related resource is not supported"));
        }
        let path = cursor.json_path()?;
        let mut term = OrderTerm {
            field: Field { name, path },
            desc: false,
            nulls_first: None,
        };
        while cursor.eat(".") {
            let word: String = cursor.chars[cursor.pos..].iter().take_while(|c| **c != '.').collect();
            cursor.pos += word.chars().count();
            match word.as_str() {
                "asc" => term.desc = false,
                "desc" => term.desc = true,
                "nullsfirst" => term.nulls_first = Some(true),
                "nullslast" => term.nulls_first = Some(false),
                _ => return Err(err("expecting asc, desc, nullsfirst or nullslast")),
            }
        }
        cursor.skip_spaces();
        if !cursor.done() {
            return Err(err("unexpected characters in the order term"));
        }
        terms.push(term);
    }
    Ok(terms)
}

/// `columns=a,"b"` / `on_conflict=a,b`
fn parse_name_list(value: &str, what: &'static str) -> Result<Vec<String>, ParseError> {
    let mut cursor = Cursor::new(value, what);
    let mut names = Vec::new();
    loop {
        names.push(cursor.name()?);
        cursor.skip_spaces();
        if cursor.done() {
            return Ok(names);
        }
        if !cursor.eat(",") {
            return Err(cursor.error("expecting ','"));
        }
    }
}

/// Splits the raw query string into decoded pairs (`+` is a space).
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn col(name: &str) -> SelectItem {
        SelectItem::Column {
            field: Field {
                name: name.into(),
                path: vec![],
            },
            alias: None,
            cast: None,
        }
    }

    #[test]
    fn select_columns_aliases_casts_paths() {
        let items = parse_select("id,label:name,n::text,data->a->>b,\"we,ird\"").unwrap();
        assert_eq!(items[0], col("id"));
        assert!(
            matches!(&items[1], SelectItem::Column { alias: Some(a), field, .. } if a == "label" && field.name == "name")
        );
        assert!(matches!(&items[2], SelectItem::Column { cast: Some("text"), .. }));
        match &items[3] {
            SelectItem::Column { field, .. } => {
                assert_eq!(field.path.len(), 2);
                assert_eq!(field.path[1].arrow, Arrow::Text);
                assert_eq!(field.default_alias(), "b");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(items[4], col("we,ird"));
    }

    #[test]
    fn select_embeds() {
        let items = parse_select("*,owner:users!owner_fk!inner(id,orgs(*)),items()").unwrap();
        assert_eq!(items[0], SelectItem::Star);
        match &items[1] {
            SelectItem::Embed(e) => {
                assert_eq!(e.label(), "owner");
                assert_eq!(e.hint.as_deref(), Some("owner_fk"));
                assert!(e.inner);
                assert!(matches!(&e.items[1], SelectItem::Embed(inner) if inner.name == "orgs"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&items[2], SelectItem::Embed(e) if e.items.is_empty()));
    }

    #[test]
    fn select_refuses_bad_casts_and_junk() {
        assert!(parse_select("id::text; drop table x").is_err());
        assert!(parse_select("id::regclass").is_err());
        assert!(parse_select("a(b").is_err());
        assert!(parse_select("a)").is_err());
        assert!(parse_select("count()").is_err());
        assert!(parse_select("...a(b)").is_err());
        let deep = "a(".repeat(100) + &")".repeat(100);
        assert!(parse_select(&deep).is_err());
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn filters_and_operators() {
        let q = parse_query(
            &pairs(&[
                ("id", "eq.5"),
                ("name", "not.like.*ab*"),
                ("tags", "cs.{a,b}"),
                ("n", "in.(1,\"2,3\",4)"),
                ("x", "is.NULL"),
                ("t", "fts(english).cat"),
                ("e", "eq(any).{1,2}"),
                ("data->>k", "eq.v.w"),
                ("rel.col", "gt.3"),
                ("rel.limit", "2"),
            ]),
            &|_| false,
        )
        .unwrap();
        let root = q.root();
        assert_eq!(root.conditions.len(), 8);
        match &root.conditions[1] {
            Condition::Filter(f) => {
                assert!(f.negate);
                assert_eq!(
                    f.op,
                    Op::Cmp {
                        op: CmpOp::Like,
                        quant: None,
                        value: "%ab%".into()
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(&root.conditions[3], Condition::Filter(Filter { op: Op::In(v), .. }) if v == &vec!["1".to_owned(), "2,3".into(), "4".into()])
        );
        assert!(matches!(
            &root.conditions[4],
            Condition::Filter(Filter {
                op: Op::Is(IsValue::Null),
                ..
            })
        ));
        assert!(
            matches!(&root.conditions[7], Condition::Filter(Filter { op: Op::Cmp { value, .. }, field, .. }) if value == "v.w" && field.path.len() == 1)
        );
        let rel = &q.nodes[&vec!["rel".to_owned()]];
        assert_eq!(rel.limit, Some(2));
        assert_eq!(rel.conditions.len(), 1);
    }

    #[test]
    fn logic_trees_nest() {
        let q = parse_query(
            &pairs(&[("or", "(a.eq.1,and(b.gt.2,c.in.(3,4)),not.or(d.is.null,e.eq.\"x,y\"))")]),
            &|_| false,
        )
        .unwrap();
        match &q.root().conditions[0] {
            Condition::Group { or: true, items, .. } => {
                assert_eq!(items.len(), 3);
                assert!(matches!(&items[1], Condition::Group { or: false, items, .. } if items.len() == 2));
                match &items[2] {
                    Condition::Group {
                        negate: true, items, ..
                    } => {
                        assert!(
                            matches!(&items[1], Condition::Filter(Filter { op: Op::Cmp { value, .. }, .. }) if value == "x,y")
                        );
                    }
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_query(&pairs(&[("or", "(a.eq.1")]), &|_| false).is_err());
        assert!(parse_query(&pairs(&[("or", "a.eq.1")]), &|_| false).is_err());
        let deep = "(".to_owned() + &"or(".repeat(50) + "a.eq.1" + &")".repeat(51);
        assert!(parse_query(&pairs(&[("or", &deep)]), &|_| false).is_err());
    }

    #[test]
    fn order_limit_offset() {
        let q = parse_query(
            &pairs(&[
                ("order", "a.desc.nullslast,b,c->>d.asc"),
                ("limit", "10"),
                ("offset", "5"),
            ]),
            &|_| false,
        )
        .unwrap();
        let root = q.root();
        assert_eq!(root.order.len(), 3);
        assert!(root.order[0].desc);
        assert_eq!(root.order[0].nulls_first, Some(false));
        assert_eq!(root.limit, Some(10));
        assert_eq!(root.offset, Some(5));
        assert!(parse_query(&pairs(&[("limit", "-1")]), &|_| false).is_err());
        assert!(parse_query(&pairs(&[("order", "a.sideways")]), &|_| false).is_err());
    }

    #[test]
    fn bad_filters() {
        for value in ["5", "eq5", "nope.5", "in.1,2", "is.maybe", "eq(some).1", "in(any).(1)"] {
            assert!(parse_query(&pairs(&[("id", value)]), &|_| false).is_err(), "{value}");
        }
        assert!(parse_query(&pairs(&[(".x", "eq.1")]), &|_| false).is_err());
    }

    #[test]
    fn args_are_set_aside() {
        let q = parse_query(&pairs(&[("a", "1"), ("b", "eq.2")]), &|k| k == "a").unwrap();
        assert_eq!(q.args, vec![("a".to_owned(), "1".to_owned())]);
        assert_eq!(q.root().conditions.len(), 1);
    }

    #[test]
    fn name_lists() {
        let q = parse_query(&pairs(&[("columns", "\"a\",b"), ("on_conflict", "x")]), &|_| false).unwrap();
        assert_eq!(q.columns, Some(vec!["a".to_owned(), "b".into()]));
        assert_eq!(q.on_conflict, Some(vec!["x".to_owned()]));
    }

    #[test]
    fn casts_are_an_allow_list() {
        assert_eq!(cast_type("TEXT"), Some("text"));
        assert_eq!(cast_type("int"), Some("int4"));
        assert_eq!(cast_type("text); drop"), None);
    }
}
