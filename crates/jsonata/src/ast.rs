//! The syntax tree. One node struct serves both the raw Pratt parse tree and the
//! processed tree the evaluator walks, because jsonata 1.8.9's post-parse stage
//! (ported in [`crate::process`]) rewrites nodes in place and hangs optional
//! properties on them; mirroring those properties keeps the port line-for-line.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::regex::RegexDef;
use crate::signature::Signature;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    Path,
    Binary,
    Unary,
    Name,
    String,
    Number,
    Value,
    Wildcard,
    Descendant,
    Parent,
    Condition,
    Block,
    Bind,
    Regex,
    Function,
    Variable,
    Lambda,
    Partial,
    Apply,
    Transform,
    Sort,
    Operator,
    /// The `(end)` symbol, which has no type in jsonata.js.
    End,
}

#[derive(Clone, Debug)]
pub(crate) enum Val {
    None,
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Regex(Arc<RegexDef>),
}

impl Val {
    pub fn as_str(&self) -> &str {
        match self {
            Val::Str(s) => s,
            _ => "",
        }
    }
}

/// An ancestor slot of the parent operator `%`: shared between the `%` node and
/// the step that binds the ancestor, as the JS object is.
#[derive(Debug)]
pub(crate) struct Slot {
    pub label: String,
    pub level: i32,
    pub index: usize,
}

pub(crate) type SlotRef = Arc<Mutex<Slot>>;

/// Locks a slot; a poisoned lock still holds a usable label.
pub(crate) fn slot(s: &SlotRef) -> MutexGuard<'_, Slot> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Clone, Debug)]
pub(crate) enum StageKind {
    Filter,
    Index,
}

#[derive(Clone, Debug)]
pub(crate) struct Stage {
    pub kind: StageKind,
    pub expr: Option<Box<Node>>,
    /// Variable name for an index stage.
    pub value: String,
}

#[derive(Clone, Debug)]
pub(crate) struct SortTerm {
    pub descending: bool,
    pub expression: Node,
}

#[derive(Clone, Debug)]
pub(crate) struct Group {
    pub pairs: Vec<(Node, Node)>,
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub ty: Ty,
    /// Symbol id in the raw parse tree: `(name)`, `(literal)`, `(regex)`, `(end)` or the operator.
    pub id: &'static str,
    pub value: Val,
    pub position: usize,
    pub lhs: Option<Box<Node>>,
    pub rhs: Option<Box<Node>>,
    /// Name/value pairs of an object constructor or group-by.
    pub pairs: Vec<(Node, Node)>,
    pub terms: Vec<SortTerm>,
    pub expression: Option<Box<Node>>,
    pub expressions: Vec<Node>,
    pub steps: Vec<Node>,
    pub predicate: Option<Vec<Stage>>,
    pub stages: Option<Vec<Stage>>,
    pub group: Option<Box<Group>>,
    pub keep_array: bool,
    pub keep_singleton_array: bool,
    pub consarray: bool,
    pub focus: Option<String>,
    pub index: Option<String>,
    pub tuple: bool,
    pub ancestor: Option<SlotRef>,
    pub seeking_parent: Option<Vec<SlotRef>>,
    pub slot: Option<SlotRef>,
    pub procedure: Option<Box<Node>>,
    pub arguments: Vec<Node>,
    pub body: Option<Arc<Node>>,
    pub signature: Option<Arc<Signature>>,
    pub thunk: bool,
    pub condition: Option<Box<Node>>,
    pub then: Option<Box<Node>>,
    pub otherwise: Option<Box<Node>>,
    pub pattern: Option<Box<Node>>,
    pub update: Option<Box<Node>>,
    pub delete: Option<Box<Node>>,
}

impl Node {
    pub fn new(ty: Ty, value: Val, position: usize) -> Node {
        Node {
            ty,
            id: "",
            value,
            position,
            lhs: None,
            rhs: None,
            pairs: Vec::new(),
            terms: Vec::new(),
            expression: None,
            expressions: Vec::new(),
            steps: Vec::new(),
            predicate: None,
            stages: None,
            group: None,
            keep_array: false,
            keep_singleton_array: false,
            consarray: false,
            focus: None,
            index: None,
            tuple: false,
            ancestor: None,
            seeking_parent: None,
            slot: None,
            procedure: None,
            arguments: Vec::new(),
            body: None,
            signature: None,
            thunk: false,
            condition: None,
            then: None,
            otherwise: None,
            pattern: None,
            update: None,
            delete: None,
        }
    }

    pub fn op(&self) -> &str {
        self.value.as_str()
    }
}
