//! `commander` offers every role, and the single-role binaries take exactly the flags of
//! the matching subcommand.

use std::collections::BTreeSet;
use std::process::Command;

const COMMANDER: &str = env!("CARGO_BIN_EXE_commander");

/// Runs `bin args... --help` and returns its standard output.
fn help(bin: &str, args: &[&str]) -> String {
    let out = Command::new(bin).args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "{bin} {args:?} --help: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The long flags a help text lists.
fn flags(help: &str) -> BTreeSet<String> {
    help.split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(|w| w.trim_end_matches([',', '.']).to_owned())
        .filter(|w| w.len() > 2)
        .collect()
}

#[test]
fn commander_offers_every_role_and_tool() {
    let text = help(COMMANDER, &[]);
    for sub in [
        "up", "master", "slave", "gateway", "token", "node", "user", "db",
    ] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(sub)),
            "{sub} missing:\n{text}"
        );
    }
}

#[test]
fn single_role_binaries_take_the_subcommands_flags() {
    for (bin, sub) in [
        (env!("CARGO_BIN_EXE_commander-slave"), "slave"),
        (env!("CARGO_BIN_EXE_commander-gateway"), "gateway"),
    ] {
        let mut alone = flags(&help(bin, &[]));
        assert!(alone.remove("--version"), "{bin} has --version");
        let within = flags(&help(COMMANDER, &[sub]));
        assert_eq!(alone, within, "{bin} vs commander {sub}");
        assert!(alone.contains("--config"), "{alone:?}");
    }
}

#[test]
fn master_flags_are_unchanged() {
    let master = flags(&help(COMMANDER, &["master"]));
    for f in [
        "--config",
        "--data-dir",
        "--http-port",
        "--tcp-port",
        "--udp-port",
        "--http-bind",
        "--advertise",
        "--io-uring",
        "--tls-cert",
        "--tls-key",
        "--trusted-proxy",
    ] {
        assert!(master.contains(f), "{f} missing: {master:?}");
    }
    assert_eq!(master, flags(&help(COMMANDER, &["up"])));
}
