//! One module per `hub` subcommand: each parses nothing itself (clap does) and stays a thin
//! sequence of adapter calls around the core.

pub mod bench;
pub mod connect;
pub mod demo;
pub mod migrate;
pub mod process;
pub mod quote;
pub mod rescore;
pub mod sample;
pub mod simulate;
pub mod sink;
pub mod topics;
