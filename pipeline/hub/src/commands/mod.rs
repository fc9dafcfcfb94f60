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

use std::fmt;
use std::io::{self, Write};

/// Writes a command's output to standard output. A reader that went away (`hub quote |
/// head -1`) ends the output there, as it ends any Unix tool's, instead of the panic of
/// `print!`; any other failure to write is an error.
pub fn write_stdout(output: fmt::Arguments<'_>) -> io::Result<()> {
    match io::stdout().lock().write_fmt(output) {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        written => written,
    }
}

/// `println!` through [`write_stdout`]: evaluates to its `io::Result`.
#[macro_export]
macro_rules! outln {
    ($($output:tt)*) => {
        $crate::commands::write_stdout(format_args!("{}\n", format_args!($($output)*)))
    };
}
