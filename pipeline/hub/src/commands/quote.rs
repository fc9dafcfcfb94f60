//! `hub quote`: one sale quoted from a JSON object on standard input: the quality verdict,
//! the margin line by line, the score with its explanation, and the action.

use std::io::Read;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use hub_core::quote::quote_json;

use crate::config::Config;
use crate::control::ActiveScoring;

/// Exit status for a request the quote cannot be computed from: the input is at fault.
const BAD_INPUT: u8 = 2;

pub fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let economics = ActiveScoring::local(&config.scoring)
        .map_err(anyhow::Error::msg)?
        .economics;
    let mut request = String::new();
    std::io::stdin()
        .read_to_string(&mut request)
        .context("reading the quote request from standard input")?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock before 1970")?
        .as_millis() as i64;
    match quote_json(&request, &economics, &config.gate, now) {
        Ok(answer) => {
            crate::outln!("{answer}")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("hub quote: {error}");
            Ok(ExitCode::from(BAD_INPUT))
        }
    }
}
