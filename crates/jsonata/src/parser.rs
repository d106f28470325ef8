//! Pratt (top-down operator precedence) parser, a port of jsonata 1.8.9's `parser`
//! without its error-recovery mode, which the SDK never enables.

use crate::ast::{Node, SortTerm, Ty, Val};
use crate::error::JsonataError;
use crate::lexer::{Lexer, Tok};
use crate::signature::Signature;

/// Left binding power of each symbol, as the JS symbol table ends up.
fn lbp(id: &str) -> u32 {
    match id {
        "." => 75,
        "[" | "(" | "@" | "#" => 80,
        "{" => 70,
        "?" => 20,
        "+" | "-" | "&" => 50,
        "*" | "/" | "%" => 60,
        "=" | "<" | ">" | "!=" | "<=" | ">=" | "^" | "~>" | "in" => 40,
        ":=" => 10,
        "and" => 30,
        "or" => 25,
        _ => 0,
    }
}

/// Operators that have a symbol-table entry; others (`!`, `~`) are S0204.
fn known_operator(op: &str) -> bool {
    matches!(
        op,
        "." | "["
            | "]"
            | "{"
            | "}"
            | "("
            | ")"
            | ","
            | "@"
            | "#"
            | ";"
            | ":"
            | "?"
            | "+"
            | "-"
            | "*"
            | "/"
            | "%"
            | "|"
            | "="
            | "<"
            | ">"
            | "^"
            | "**"
            | ".."
            | ":="
            | "!="
            | "<="
            | ">="
            | "~>"
            | "and"
            | "or"
            | "in"
            | "&"
    )
}

pub(crate) struct Parser {
    lexer: Lexer,
    node: Node,
    source_len: usize,
}

fn err(code: &'static str, position: usize, token: Option<String>) -> JsonataError {
    JsonataError::compile(code, position, token)
}

fn token_text(n: &Node) -> String {
    match &n.value {
        Val::Str(s) => s.clone(),
        Val::Num(x) => crate::number::js_to_string(*x),
        Val::Bool(b) => b.to_string(),
        Val::Null => "null".into(),
        Val::Regex(_) => "regex".into(),
        Val::None => n.id.to_string(),
    }
}

impl Parser {
    /// Parses `source` into a raw parse tree (before [`crate::process`]).
    pub fn parse(source: &str) -> Result<Node, JsonataError> {
        let lexer = Lexer::new(source);
        let source_len = lexer.len();
        let mut p = Parser {
            lexer,
            node: Node::new(Ty::End, Val::None, 0),
            source_len,
        };
        p.advance(None, false)?;
        let expr = p.expression(0)?;
        if p.node.id != "(end)" {
            return Err(err("S0201", p.node.position, Some(token_text(&p.node))));
        }
        Ok(expr)
    }

    fn advance(&mut self, id: Option<&str>, infix: bool) -> Result<Node, JsonataError> {
        if let Some(id) = id {
            if self.node.id != id {
                let code = if self.node.id == "(end)" {
                    "S0203"
                } else {
                    "S0202"
                };
                return Err(JsonataError::Compile {
                    code,
                    position: self.node.position,
                    message: format!("Expected {id:?}, got {}", token_text(&self.node)),
                });
            }
        }
        let next = self.lexer.next(infix)?;
        let Some(tok) = next else {
            let mut end = Node::new(Ty::End, Val::None, self.source_len);
            end.id = "(end)";
            self.node = end;
            return Ok(self.node.clone());
        };
        let (ty, id, value) = match tok.tok {
            Tok::Name(n) => (Ty::Name, "(name)", Val::Str(n)),
            Tok::Variable(n) => (Ty::Variable, "(name)", Val::Str(n)),
            Tok::Operator(op) => {
                if !known_operator(op) {
                    return Err(err("S0204", tok.position, Some(op.to_string())));
                }
                (Ty::Operator, op, Val::Str(op.to_string()))
            }
            Tok::Str(s) => (Ty::String, "(literal)", Val::Str(s)),
            Tok::Number(n) => (Ty::Number, "(literal)", Val::Num(n)),
            Tok::Value(Some(b)) => (Ty::Value, "(literal)", Val::Bool(b)),
            Tok::Value(None) => (Ty::Value, "(literal)", Val::Null),
            Tok::Regex(r) => (Ty::Regex, "(regex)", Val::Regex(r)),
        };
        let mut n = Node::new(ty, value, tok.position);
        n.id = id;
        self.node = n;
        Ok(self.node.clone())
    }

    fn expression(&mut self, rbp: u32) -> Result<Node, JsonataError> {
        // Deeply nested source must not overflow the caller's thread stack.
        stacker::maybe_grow(256 * 1024, 4 * 1024 * 1024, || self.expression_inner(rbp))
    }

    fn expression_inner(&mut self, rbp: u32) -> Result<Node, JsonataError> {
        let t = self.node.clone();
        self.advance(None, true)?;
        let mut left = self.nud(t)?;
        while rbp < lbp(self.node.id) {
            let t = self.node.clone();
            self.advance(None, false)?;
            left = self.led(t, left)?;
        }
        Ok(left)
    }

    fn nud(&mut self, mut this: Node) -> Result<Node, JsonataError> {
        match this.id {
            "(end)" | "(name)" | "(literal)" | "(regex)" | "and" | "or" | "in" => Ok(this),
            "-" => {
                this.expression = Some(Box::new(self.expression(70)?));
                this.ty = Ty::Unary;
                Ok(this)
            }
            "*" => {
                this.ty = Ty::Wildcard;
                Ok(this)
            }
            "**" => {
                this.ty = Ty::Descendant;
                Ok(this)
            }
            "%" => {
                this.ty = Ty::Parent;
                Ok(this)
            }
            "(" => {
                let mut expressions = Vec::new();
                while self.node.id != ")" {
                    expressions.push(self.expression(0)?);
                    if self.node.id != ";" {
                        break;
                    }
                    self.advance(Some(";"), false)?;
                }
                self.advance(Some(")"), true)?;
                this.ty = Ty::Block;
                this.expressions = expressions;
                Ok(this)
            }
            "[" => {
                let mut a = Vec::new();
                if self.node.id != "]" {
                    loop {
                        let mut item = self.expression(0)?;
                        if self.node.id == ".." {
                            let mut range =
                                Node::new(Ty::Binary, Val::Str("..".into()), self.node.position);
                            range.lhs = Some(Box::new(item));
                            self.advance(Some(".."), false)?;
                            range.rhs = Some(Box::new(self.expression(0)?));
                            item = range;
                        }
                        a.push(item);
                        if self.node.id != "," {
                            break;
                        }
                        self.advance(Some(","), false)?;
                    }
                }
                self.advance(Some("]"), true)?;
                this.expressions = a;
                this.ty = Ty::Unary;
                Ok(this)
            }
            "{" => self.object_parser(this, None),
            "|" => {
                this.ty = Ty::Transform;
                this.pattern = Some(Box::new(self.expression(0)?));
                self.advance(Some("|"), false)?;
                this.update = Some(Box::new(self.expression(0)?));
                if self.node.id == "," {
                    self.advance(Some(","), false)?;
                    this.delete = Some(Box::new(self.expression(0)?));
                }
                self.advance(Some("|"), false)?;
                Ok(this)
            }
            _ => Err(err("S0211", this.position, Some(token_text(&this)))),
        }
    }

    fn object_parser(&mut self, mut this: Node, left: Option<Node>) -> Result<Node, JsonataError> {
        let mut a = Vec::new();
        if self.node.id != "}" {
            loop {
                let n = self.expression(0)?;
                self.advance(Some(":"), false)?;
                let v = self.expression(0)?;
                a.push((n, v));
                if self.node.id != "," {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some("}"), true)?;
        match left {
            None => {
                this.pairs = a;
                this.ty = Ty::Unary;
            }
            Some(left) => {
                this.lhs = Some(Box::new(left));
                this.pairs = a;
                this.ty = Ty::Binary;
            }
        }
        Ok(this)
    }

    fn led(&mut self, mut this: Node, left: Node) -> Result<Node, JsonataError> {
        match this.id {
            "." | "+" | "-" | "*" | "/" | "%" | "=" | "<" | ">" | "!=" | "<=" | ">=" | "&"
            | "and" | "or" | "in" | "~>" => {
                let bp = lbp(this.id);
                this.lhs = Some(Box::new(left));
                this.rhs = Some(Box::new(self.expression(bp)?));
                this.ty = Ty::Binary;
                Ok(this)
            }
            "(" => {
                this.ty = Ty::Function;
                let is_lambda =
                    left.ty == Ty::Name && matches!(left.value.as_str(), "function" | "\u{3bb}");
                this.procedure = Some(Box::new(left));
                if self.node.id != ")" {
                    loop {
                        if self.node.ty == Ty::Operator && self.node.id == "?" {
                            this.ty = Ty::Partial;
                            this.arguments.push(self.node.clone());
                            self.advance(Some("?"), false)?;
                        } else {
                            let e = self.expression(0)?;
                            this.arguments.push(e);
                        }
                        if self.node.id != "," {
                            break;
                        }
                        self.advance(Some(","), false)?;
                    }
                }
                self.advance(Some(")"), true)?;
                if is_lambda {
                    for a in &this.arguments {
                        if a.ty != Ty::Variable {
                            return Err(err("S0208", a.position, Some(token_text(a))));
                        }
                    }
                    this.ty = Ty::Lambda;
                    if self.node.id == "<" {
                        let sig_pos = self.node.position;
                        let mut depth = 1;
                        let mut sig = String::from("<");
                        while depth > 0 && self.node.id != "{" && self.node.id != "(end)" {
                            let tok = self.advance(None, false)?;
                            if tok.id == ">" {
                                depth -= 1;
                            } else if tok.id == "<" {
                                depth += 1;
                            }
                            sig.push_str(&token_text(&tok));
                        }
                        self.advance(Some(">"), false)?;
                        let parsed = Signature::parse(&sig).map_err(|e| e.at(sig_pos))?;
                        this.signature = Some(std::sync::Arc::new(parsed));
                    }
                    self.advance(Some("{"), false)?;
                    this.body = Some(std::sync::Arc::new(self.expression(0)?));
                    self.advance(Some("}"), false)?;
                }
                Ok(this)
            }
            "[" => {
                if self.node.id == "]" {
                    let mut left = left;
                    // Mark the innermost non-predicate step (JS walks `step.lhs`).
                    {
                        let mut step = &mut left;
                        while step.ty == Ty::Binary && step.op() == "[" {
                            step = step.lhs.as_mut().expect("predicate has lhs");
                        }
                        step.keep_array = true;
                    }
                    self.advance(Some("]"), false)?;
                    Ok(left)
                } else {
                    this.lhs = Some(Box::new(left));
                    this.rhs = Some(Box::new(self.expression(0)?));
                    this.ty = Ty::Binary;
                    self.advance(Some("]"), true)?;
                    Ok(this)
                }
            }
            "^" => {
                self.advance(Some("("), false)?;
                let mut terms = Vec::new();
                loop {
                    let mut descending = false;
                    if self.node.id == "<" {
                        self.advance(Some("<"), false)?;
                    } else if self.node.id == ">" {
                        descending = true;
                        self.advance(Some(">"), false)?;
                    }
                    let expression = self.expression(0)?;
                    terms.push(SortTerm {
                        descending,
                        expression,
                    });
                    if self.node.id != "," {
                        break;
                    }
                    self.advance(Some(","), false)?;
                }
                self.advance(Some(")"), false)?;
                this.lhs = Some(Box::new(left));
                this.terms = terms;
                this.ty = Ty::Binary;
                Ok(this)
            }
            "{" => self.object_parser(this, Some(left)),
            ":=" => {
                if left.ty != Ty::Variable {
                    return Err(err("S0212", left.position, Some(token_text(&left))));
                }
                this.lhs = Some(Box::new(left));
                this.rhs = Some(Box::new(self.expression(lbp(":=") - 1)?));
                this.ty = Ty::Binary;
                Ok(this)
            }
            "@" | "#" => {
                let op = this.id;
                this.lhs = Some(Box::new(left));
                let rhs = self.expression(80)?;
                if rhs.ty != Ty::Variable {
                    return Err(err("S0214", rhs.position, Some(op.to_string())));
                }
                this.rhs = Some(Box::new(rhs));
                this.ty = Ty::Binary;
                Ok(this)
            }
            "?" => {
                this.ty = Ty::Condition;
                this.condition = Some(Box::new(left));
                this.then = Some(Box::new(self.expression(0)?));
                if self.node.id == ":" {
                    self.advance(Some(":"), false)?;
                    this.otherwise = Some(Box::new(self.expression(0)?));
                }
                Ok(this)
            }
            // Symbols without a led (only reachable with lbp 0, so never here).
            _ => Err(err("S0201", this.position, Some(token_text(&this)))),
        }
    }
}
