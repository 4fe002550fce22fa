//! A character cursor over one parameter value, with the name, quoted-name and JSON-path readers every part of
//! the grammar shares. It never panics: every read is bounds-checked.

use super::ParseError;
use super::ast::{Arrow, JsonStep};

/// A character cursor.
pub(super) struct Cursor<'a> {
    pub(super) chars: Vec<char>,
    pub(super) pos: usize,
    input: &'a str,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(input: &'a str, what: &'static str) -> Self {
        Cursor {
            chars: input.chars().collect(),
            pos: 0,
            input,
            what,
        }
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub(super) fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    pub(super) fn starts_with(&self, text: &str) -> bool {
        text.chars().enumerate().all(|(i, c)| self.peek_at(i) == Some(c))
    }

    pub(super) fn eat(&mut self, text: &str) -> bool {
        if self.starts_with(text) {
            self.pos += text.chars().count();
            true
        } else {
            false
        }
    }

    pub(super) fn done(&self) -> bool {
        self.pos >= self.chars.len()
    }

    pub(super) fn error(&self, details: impl Into<String>) -> ParseError {
        ParseError::new(self.what, self.input, details)
    }

    pub(super) fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// A name: `"quoted"` (backslash escapes) or a run of characters that are not delimiters.
    pub(super) fn name(&mut self) -> Result<String, ParseError> {
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

    pub(super) fn quoted(&mut self) -> Result<String, ParseError> {
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
    pub(super) fn json_path(&mut self) -> Result<Vec<JsonStep>, ParseError> {
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
