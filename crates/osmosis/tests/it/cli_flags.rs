//! What the command line says to a mistyped or unknown flag, and `--version`.

use crate::cli_token::{osmosis, stderr, stdout};

#[test]
fn version_prints_the_version() {
    let out = osmosis(&["--version"], &[]);
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        format!("osmosis {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// The `tip:` lines of a usage error, which must exit 2 with nothing on stdout.
#[track_caller]
fn tips(args: &[&str]) -> Vec<String> {
    let out = osmosis(args, &[]);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(err.contains("unexpected argument"), "{err}");
    err.lines()
        .filter(|l| l.trim_start().starts_with("tip:"))
        .map(str::to_string)
        .collect()
}

#[test]
fn unknown_flags_suggest_only_a_close_real_flag() {
    // Another server's name for the flag: our flag that does its job.
    let port = tips(&["serve", "--port", "9000"]);
    assert_eq!(port.len(), 1, "{port:?}");
    assert!(port[0].contains("'--listen'"), "{port:?}");
    // A typo: the flag it is one letter from.
    let typo = tips(&["serve", "--listn", "127.0.0.1:1"]);
    assert_eq!(typo.len(), 1, "{typo:?}");
    assert!(typo[0].contains("'--listen'"), "{typo:?}");
    assert!(tips(&["serve", "--data-dri", "x"])[0].contains("'--data-dir'"));
    assert!(tips(&["workspace", "create", "--nmae", "x"])[0].contains("'--name'"));
    assert!(tips(&["token", "--admni"])[0].contains("'--admin'"));
    // Nothing close: no suggestion at all.
    assert_eq!(tips(&["serve", "--frobnicate"]), Vec::<String>::new());
    assert_eq!(tips(&["serve", "--retention"]), Vec::<String>::new());
    assert_eq!(
        tips(&["workspace", "list", "--port", "1"]),
        Vec::<String>::new()
    );
}
