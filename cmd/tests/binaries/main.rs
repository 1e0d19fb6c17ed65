//! The binaries of the `commander` package, run as processes (one test executable): the
//! subcommands and flags of `commander`, `commander-slave` and `commander-gateway`, and the
//! standalone gateway run both ways.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod flags;
mod gateway;
