//! Just enough GraphQL for a mock to answer like a GraphQL server: it reads the
//! operation, resolves arguments from the variables, and returns only the fields
//! selected — a connector that forgets to select a field it maps gets nothing for it,
//! as from the real server. Fragments and directives are not read (no connector
//! sends them); a query using them is refused, so a change that starts to is noticed.

use serde_json::{Map, Value};

/// One selected field.
#[derive(Debug)]
pub struct Field {
    pub name: String,
    pub alias: Option<String>,
    /// Arguments, variables already substituted.
    pub args: Map<String, Value>,
    pub selection: Vec<Field>,
}

#[derive(Debug)]
pub struct Operation {
    /// `query` or `mutation`.
    pub kind: String,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Var(String),
    Str(String),
    Num(String),
    Punct(char),
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let word = |i: &mut usize| {
        let start = *i;
        while *i < chars.len() && (chars[*i].is_alphanumeric() || chars[*i] == '_') {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>()
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() || c == ',' => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '.' => return Err("fragments are not supported by this mock".into()),
            '@' => return Err("directives are not supported by this mock".into()),
            '$' => {
                i += 1;
                out.push(Token::Var(word(&mut i)));
            }
            '"' => {
                i += 1;
                let mut s = String::new();
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    s.push(chars[i]);
                    i += 1;
                }
                i += 1;
                out.push(Token::Str(s));
            }
            c if c.is_ascii_digit() || c == '-' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                out.push(Token::Num(chars[start..i].iter().collect()));
            }
            c if c.is_alphabetic() || c == '_' => out.push(Token::Name(word(&mut i))),
            '{' | '}' | '(' | ')' | ':' | '[' | ']' | '!' | '=' => {
                out.push(Token::Punct(c));
                i += 1;
            }
            other => return Err(format!("Syntax Error: Unexpected character \"{other}\".")),
        }
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    variables: &'a Value,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Result<Token, String> {
        let token = self
            .tokens
            .get(self.at)
            .cloned()
            .ok_or("Syntax Error: Unexpected <EOF>.")?;
        self.at += 1;
        Ok(token)
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        match self.next()? {
            Token::Punct(p) if p == c => Ok(()),
            other => Err(format!("Syntax Error: Expected \"{c}\", found {other:?}.")),
        }
    }

    fn name(&mut self) -> Result<String, String> {
        match self.next()? {
            Token::Name(n) => Ok(n),
            other => Err(format!("Syntax Error: Expected Name, found {other:?}.")),
        }
    }

    fn at_punct(&self, c: char) -> bool {
        self.peek() == Some(&Token::Punct(c))
    }

    /// The variable definitions `( $a: Type, … )`, which only declare what the
    /// `variables` object holds.
    fn skip_balanced(&mut self) -> Result<(), String> {
        self.expect('(')?;
        let mut depth = 1;
        while depth > 0 {
            match self.next()? {
                Token::Punct('(') => depth += 1,
                Token::Punct(')') => depth -= 1,
                _ => {}
            }
        }
        Ok(())
    }

    fn selection_set(&mut self) -> Result<Vec<Field>, String> {
        self.expect('{')?;
        let mut fields = Vec::new();
        while !self.at_punct('}') {
            fields.push(self.field()?);
        }
        self.expect('}')?;
        Ok(fields)
    }

    fn field(&mut self) -> Result<Field, String> {
        let mut name = self.name()?;
        let mut alias = None;
        if self.at_punct(':') {
            self.next()?;
            alias = Some(std::mem::replace(&mut name, self.name()?));
        }
        let mut args = Map::new();
        if self.at_punct('(') {
            self.next()?;
            while !self.at_punct(')') {
                let arg = self.name()?;
                self.expect(':')?;
                args.insert(arg, self.value()?);
            }
            self.expect(')')?;
        }
        let selection = if self.at_punct('{') {
            self.selection_set()?
        } else {
            Vec::new()
        };
        Ok(Field {
            name,
            alias,
            args,
            selection,
        })
    }

    fn value(&mut self) -> Result<Value, String> {
        Ok(match self.next()? {
            Token::Var(v) => self.variables.get(&v).cloned().unwrap_or(Value::Null),
            Token::Str(s) => Value::String(s),
            Token::Num(n) => serde_json::from_str(&n).map_err(|e| e.to_string())?,
            Token::Name(n) => match n.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => Value::String(n),
            },
            Token::Punct('[') => {
                let mut items = Vec::new();
                while !self.at_punct(']') {
                    items.push(self.value()?);
                }
                self.next()?;
                Value::Array(items)
            }
            Token::Punct('{') => {
                let mut object = Map::new();
                while !self.at_punct('}') {
                    let key = self.name()?;
                    self.expect(':')?;
                    object.insert(key, self.value()?);
                }
                self.next()?;
                Value::Object(object)
            }
            other => return Err(format!("Syntax Error: Unexpected {other:?}.")),
        })
    }
}

/// Reads `query` with `variables` substituted into the arguments.
pub fn parse(query: &str, variables: &Value) -> Result<Operation, String> {
    let mut parser = Parser {
        tokens: tokens(query)?,
        at: 0,
        variables,
    };
    let kind = match parser.peek() {
        Some(Token::Name(kind))
            if ["query", "mutation", "subscription"].contains(&kind.as_str()) =>
        {
            let kind = kind.clone();
            parser.next()?;
            if matches!(parser.peek(), Some(Token::Name(_))) {
                parser.next()?;
            }
            if parser.at_punct('(') {
                parser.skip_balanced()?;
            }
            kind
        }
        _ => "query".to_owned(),
    };
    let fields = parser.selection_set()?;
    if parser.peek().is_some() {
        return Err("This mock reads one operation a request.".into());
    }
    Ok(Operation { kind, fields })
}

/// `value` with only the `selection` (recursively); a field the object does not have
/// is the server's validation error.
pub fn project(value: &Value, selection: &[Field], type_name: &str) -> Result<Value, String> {
    if selection.is_empty() {
        return Ok(value.clone());
    }
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| project(item, selection, type_name))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(object) => {
            let mut out = Map::new();
            for field in selection {
                let Some(inner) = object.get(&field.name) else {
                    return Err(format!(
                        "Cannot query field \"{}\" on type \"{type_name}\".",
                        field.name
                    ));
                };
                let key = field.alias.clone().unwrap_or_else(|| field.name.clone());
                out.insert(key, project(inner, &field.selection, &field.name)?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}
