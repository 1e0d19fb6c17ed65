//! The binaries of the `commander` package, run as processes (one test executable): the
//! subcommands and flags of `commander`, `commander-slave` and `commander-gateway`, and the
//! standalone gateway run both ways.

mod flags;
mod gateway;
