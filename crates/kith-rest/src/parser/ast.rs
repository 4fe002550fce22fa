//! The syntax tree of a PostgREST query string: plain data, built by the grammar in this module's parent and
//! read by the planner and the SQL builder. Names and values are kept as the caller wrote them; operators,
//! `is` values and full-text flavours are closed enums, so nothing from the input can become an operator.

use std::collections::BTreeMap;

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
    /// Whether the value is text whatever the column's type (patterns and regexes).
    pub fn text_value(self) -> bool {
        matches!(self, CmpOp::Like | CmpOp::Ilike | CmpOp::Match | CmpOp::Imatch)
    }

    /// Whether `(any)` / `(all)` may follow it.
    pub(super) fn quantifiable(self) -> bool {
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

/// Full-text search flavours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FtsKind {
    Fts,
    Plfts,
    Phfts,
    Wfts,
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
