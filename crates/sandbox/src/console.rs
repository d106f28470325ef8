//! The `console` global: captures what user code logs, formatted like Node, into a
//! bounded list returned with the run's result or error.

use std::cell::RefCell;
use std::rc::Rc;

use rquickjs::function::Rest;
use rquickjs::{Ctx, Exception, Function, Object, Value};
use serde::{Deserialize, Serialize};

use crate::values::display_value;

/// The console method a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    Log,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    const ALL: [LogLevel; 5] = [
        LogLevel::Debug,
        LogLevel::Log,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
    ];

    fn method_name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Log => "log",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// One console call: its arguments formatted and joined by a space, as Node prints them
/// (strings as they are, other values as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub level: LogLevel,
    pub message: String,
}

/// The log lines of a run, bounded by a byte budget. Past the budget, one final line
/// says that output was cut, and later lines are dropped.
#[derive(Debug)]
pub(crate) struct LogSink {
    entries: Vec<LogEntry>,
    bytes: usize,
    budget: usize,
    truncated: bool,
}

impl LogSink {
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            entries: Vec::new(),
            bytes: 0,
            budget,
            truncated: false,
        }
    }

    fn push(&mut self, level: LogLevel, message: String) {
        if self.truncated {
            return;
        }
        if self.bytes + message.len() > self.budget {
            self.truncated = true;
            self.entries.push(LogEntry {
                level: LogLevel::Warn,
                message: format!(
                    "[osmosis] console output exceeded {} bytes; later lines were dropped",
                    self.budget
                ),
            });
            return;
        }
        self.bytes += message.len();
        self.entries.push(LogEntry { level, message });
    }

    pub(crate) fn take(&mut self) -> Vec<LogEntry> {
        std::mem::take(&mut self.entries)
    }
}

/// Defines `console` on the global object, writing into `sink`.
pub(crate) fn install<'js>(ctx: &Ctx<'js>, sink: &Rc<RefCell<LogSink>>) -> rquickjs::Result<()> {
    let console = Object::new(ctx.clone())?;
    for level in LogLevel::ALL {
        let sink = Rc::clone(sink);
        let method = Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, args: Rest<Value<'js>>| -> rquickjs::Result<()> {
                if sink.borrow().truncated {
                    return Ok(());
                }
                let mut parts = Vec::with_capacity(args.0.len());
                for arg in args.0 {
                    parts.push(display_value(&ctx, arg)?);
                }
                sink.borrow_mut().push(level, parts.join(" "));
                Ok(())
            },
        )?
        .with_name(level.method_name())?;
        console.set(level.method_name(), method)?;
    }
    ctx.globals().set("console", console)?;
    Ok(())
}

/// Formats an error the way Node prints it: `Name: message` then the stack frames.
pub(crate) fn error_text(error: &Exception<'_>) -> String {
    let name: Option<String> = error.get("name").ok();
    let header = match (name, error.message()) {
        (Some(name), Some(message)) if !message.is_empty() => format!("{name}: {message}"),
        (Some(name), _) => name,
        (None, Some(message)) => message,
        (None, None) => "Error".to_owned(),
    };
    match error.stack() {
        Some(stack) if !stack.trim().is_empty() => format!("{header}\n{}", stack.trim_end()),
        _ => header,
    }
}
