//! The offline benchmark's measured run: saved Graph pages parsed, flattened and written as the
//! five Parquet tables of a local lake, with no HTTP and no rate limit (a rebuild from saved
//! pages). It uses the sync's parts: `parse_page`, `LakeWriter` and `publish`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use copilot_lake::graph::interactions::parse_page;
use copilot_lake::graph::model::Interaction;
use copilot_lake::sink::store::StoreOptions;
use copilot_lake::sink::{self, LakeWriter, WriteOptions};
use rayon::prelude::*;
use tokio::sync::mpsc;

use crate::measure::{RunResult, Stopwatch};
use crate::pages::{UserPages, list_saved_pages};

/// Users parsed ahead of the writer, as the sync's writer queue allows.
const QUEUE: usize = 4;

struct ParsedUser {
    user_id: String,
    records: Vec<Interaction>,
    json_bytes: u64,
}

/// Lands every page under `pages` in a new lake at `out` and measures it, from reading the
/// page files (from the page cache after the first run) to the published files.
pub fn run(pages: &Path, out: &Path) -> anyhow::Result<RunResult> {
    let users = list_saved_pages(pages)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let stopwatch = Stopwatch::start();
    let (interactions, json_bytes, files) = runtime.block_on(land(users, out.to_path_buf()))?;
    Ok(stopwatch.stop(interactions, json_bytes, files))
}

async fn land(users: Vec<UserPages>, out: PathBuf) -> anyhow::Result<(u64, u64, u64)> {
    let location = out.to_str().context("the output folder is not UTF-8")?;
    let lake = sink::store::open(location, &StoreOptions::default())?;
    let run_id = copilot_lake::sync::new_run_id(chrono::Utc::now());
    let mut writer = LakeWriter::new(lake.clone(), run_id.clone(), WriteOptions::default());

    let (sender, mut receiver) = mpsc::channel(QUEUE);
    let parser = std::thread::spawn(move || parse_users(users, sender));
    let (mut interactions, mut json_bytes) = (0, 0);
    while let Some(user) = receiver.recv().await {
        let user: ParsedUser = user;
        interactions += user.records.len() as u64;
        json_bytes += user.json_bytes;
        writer.add(&user.user_id, &user.records).await?;
    }
    parser.join().map_err(|_| anyhow::anyhow!("the parser thread panicked"))??;

    let staged = writer.finish().await?;
    sink::publish(&lake, &run_id, &staged).await?;
    Ok((interactions, json_bytes, staged.len() as u64))
}

/// Reads and parses the users' pages on rayon's threads, off the async runtime.
fn parse_users(users: Vec<UserPages>, sender: mpsc::Sender<ParsedUser>) -> anyhow::Result<()> {
    users.into_par_iter().try_for_each(|user| {
        let parsed = parse_user(user)?;
        // A closed channel means the writer failed; its error is the one to report.
        let _ = sender.blocking_send(parsed);
        Ok(())
    })
}

fn parse_user(user: UserPages) -> anyhow::Result<ParsedUser> {
    let mut records = Vec::new();
    let mut json_bytes = 0;
    for (index, file) in user.files.iter().enumerate() {
        let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        json_bytes += body.len() as u64;
        let page = parse_page(&body, index as u32)
            .map_err(|error| anyhow::anyhow!("{}: {}", file.display(), error.message))?;
        records.extend(page.records.into_iter().filter_map(Result::ok));
    }
    Ok(ParsedUser { user_id: user.user_id, records, json_bytes })
}
