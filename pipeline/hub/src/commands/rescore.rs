//! `hub rescore`: publishes the configured scoring (weights, seller profile, fee schedules
//! of `scoring.config_dir`, exchange rates) as the next revision, and shows the processors'
//! progress re-scoring every reference x channel under it.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::Config;
use crate::control::RescoreProgress;
use crate::rescore::{self, RescoreRequest};

pub async fn run(
    config: &Config,
    request: &RescoreRequest,
    wait: Option<Duration>,
) -> anyhow::Result<()> {
    let revision = rescore::publish(config, request).await?;
    crate::outln!(
        "published scoring revision {} (weights {:?}, seller {:?}, {} configuration files): {}",
        revision.revision,
        revision.weights_profile,
        revision.seller_profile,
        revision.files.len(),
        revision.reason
    )?;
    let Some(timeout) = wait else {
        return Ok(());
    };
    rescore::wait(config, revision.revision, timeout, print_progress).await?;
    crate::outln!(
        "every partition is re-scored under revision {}",
        revision.revision
    )?;
    Ok(())
}

fn print_progress(progress: &BTreeMap<i32, RescoreProgress>) {
    let (rescored, total) = progress
        .values()
        .fold((0, 0), |(rescored, total), partition| {
            (rescored + partition.rescored, total + partition.total)
        });
    let partitions: Vec<String> = progress
        .values()
        .map(|partition| {
            format!(
                "p{} {}/{}",
                partition.partition, partition.rescored, partition.total
            )
        })
        .collect();
    // Progress, like `hub demo`'s and `hub bench`'s, goes to standard error; standard output
    // carries the result.
    eprintln!(
        "hub rescore: re-scored {rescored}/{total} references ({})",
        partitions.join(", ")
    );
}
