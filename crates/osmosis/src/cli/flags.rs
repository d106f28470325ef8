//! Parse errors that help: an unknown flag is answered with a real flag only when
//! one is close to it (a typo, or a flag other servers spell differently, such as
//! `--port` for `--listen`), never with clap's loose guess (`--port` drew
//! `--api-log-retention-days`). The exit code stays clap's (2).

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Parser;

/// Flags other tools use, and the flag of ours that does their job.
const HINTS: &[(&str, &str)] = &[
    ("port", "listen"),
    ("host", "listen"),
    ("bind", "listen"),
    ("address", "listen"),
    ("addr", "listen"),
    ("db", "database"),
    ("database-url", "database"),
    ("datadir", "data-dir"),
    ("dir", "data-dir"),
    ("data", "data-dir"),
];

/// Parses the process's arguments; on an error prints it and exits, as
/// `Parser::parse` does.
pub fn parse<P: Parser>() -> P {
    parse_from(std::env::args_os())
}

pub fn parse_from<P: Parser>(args: impl IntoIterator<Item = OsString>) -> P {
    let args: Vec<OsString> = args.into_iter().collect();
    let mut cmd = P::command();
    let parsed = cmd
        .try_get_matches_from_mut(args.clone())
        .and_then(|m| P::from_arg_matches(&m));
    match parsed {
        Ok(p) => p,
        Err(e) => with_close_suggestion(e, &mut cmd, &args).exit(),
    }
}

/// An unknown `--flag` error with clap's suggestions replaced by ours.
pub fn with_close_suggestion(
    mut error: clap::Error,
    root: &mut clap::Command,
    args: &[OsString],
) -> clap::Error {
    if error.kind() != ErrorKind::UnknownArgument {
        return error;
    }
    let Some(ContextValue::String(invalid)) = error.get(ContextKind::InvalidArg) else {
        return error;
    };
    let Some(name) = invalid.strip_prefix("--") else {
        return error;
    };
    let name = name.split('=').next().unwrap_or_default().to_owned();
    root.build();
    let cmd = subcommand_of(root, args);
    let longs: Vec<String> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect();
    error.remove(ContextKind::SuggestedArg);
    // Clap's other tips name flags of other subcommands; a trailing-value tip stays.
    if let Some(ContextValue::StyledStrs(tips)) = error.remove(ContextKind::Suggested) {
        let kept: Vec<_> = tips
            .into_iter()
            .filter(|t| !t.to_string().ends_with("' exists"))
            .collect();
        if !kept.is_empty() {
            error.insert(ContextKind::Suggested, ContextValue::StyledStrs(kept));
        }
    }
    let suggestion = close_flag(&name, &longs);
    if let Some(flag) = suggestion {
        error.insert(
            ContextKind::SuggestedArg,
            ContextValue::String(format!("--{flag}")),
        );
    }
    // Clap writes its own guess into the usage line as if it had been given; the
    // command's plain usage instead.
    if error.get(ContextKind::Usage).is_some() {
        error.insert(
            ContextKind::Usage,
            ContextValue::StyledStr(cmd.clone().render_usage()),
        );
    }
    error
}

/// The subcommand the arguments name (the deepest one), or the root.
fn subcommand_of<'c>(root: &'c clap::Command, args: &[OsString]) -> &'c clap::Command {
    let mut cmd = root;
    for arg in args.iter().skip(1) {
        let Some(arg) = arg.to_str() else { break };
        if arg.starts_with('-') {
            continue;
        }
        match cmd.find_subcommand(arg) {
            Some(sub) => cmd = sub,
            None => continue,
        }
    }
    cmd
}

/// A flag among `longs` that `name` most likely meant: a known other spelling, or
/// one a typo or two away (one for short names).
pub fn close_flag<'a>(name: &str, longs: &'a [String]) -> Option<&'a str> {
    if let Some((_, to)) = HINTS.iter().find(|(from, _)| *from == name) {
        if let Some(flag) = longs.iter().find(|l| l == to) {
            return Some(flag);
        }
    }
    let allowed = if name.chars().count() >= 5 { 2 } else { 1 };
    longs
        .iter()
        .map(|l| (edit_distance(name, l), l))
        .filter(|(d, _)| *d <= allowed)
        .min_by_key(|(d, _)| *d)
        .map(|(_, l)| l.as_str())
}

/// Edit distance over characters: insertions, deletions, substitutions and swaps
/// of two neighbours (`nmae` is one edit from `name`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j]: distance between a[..i] and b[..j].
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j - 1] + cost)
                .min(d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn longs(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn suggests_only_close_flags() {
        let serve = longs(&["listen", "data-dir", "database", "api-log-retention-days"]);
        assert_eq!(close_flag("port", &serve), Some("listen"));
        assert_eq!(close_flag("listn", &serve), Some("listen"));
        assert_eq!(close_flag("data-dri", &serve), Some("data-dir"));
        assert_eq!(close_flag("frobnicate", &serve), None);
        assert_eq!(close_flag("api", &serve), None);
        // A hint whose flag this command lacks is no suggestion.
        assert_eq!(close_flag("port", &longs(&["key"])), None);
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("listn", "listen"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("nmae", "name"), 1);
    }
}
