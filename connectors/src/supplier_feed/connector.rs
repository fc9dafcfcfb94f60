//! The supplier feeds connector: each configured feed is a supplier's mapping and where its
//! files are (a directory, or an HTTP URL the supplier publishes its file at). Each poll
//! reads at most one file not read yet (by name and content hash) and hands its rows over;
//! the feed's cursor, the set of files read, moves after the file is accepted. A round over
//! every feed that finds nothing new is caught up.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;
use hub_core::mapping::SupplierMapping;
use reqwest::Url;
use serde::{Deserialize, Serialize};

use super::file::{FeedFile, map_feed_file};
use super::processed::{ProcessedFiles, fingerprint};
use crate::connector::{Connector, PollReport, RecordSink, hand_over, load_cursor};
use crate::machinery::{
    ApiClient, BreakerState, ConnectorError, Cursor, CursorKey, CursorStore, ErrorKind,
    HttpSettings, RateLimit, epoch_millis,
};

/// The connector's name in configuration, metrics and cursors (one cursor per supplier).
pub const CONNECTOR: &str = "supplier_feeds";

/// `[connectors.supplier_feeds]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplierFeedsConfig {
    pub feeds: Vec<SupplierFeedConfig>,
    /// The pace of downloads from each supplier's server.
    #[serde(default = "default_rate")]
    pub rate: RateLimit,
    #[serde(default)]
    pub http: HttpSettings,
}

/// One supplier's feed: its mapping file and where its files are (exactly one of
/// `directory` and `url`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplierFeedConfig {
    /// The supplier's mapping, e.g. `config/mappings/grossiste_ouest.toml`.
    pub mapping: PathBuf,
    /// A directory the supplier's files are dropped in (`.csv` or `.json` as the mapping
    /// says); every file is read once per content.
    #[serde(default)]
    pub directory: Option<PathBuf>,
    /// A URL the supplier publishes its current file at.
    #[serde(default)]
    pub url: Option<String>,
}

fn default_rate() -> RateLimit {
    RateLimit {
        per_second: 1.0,
        burst: 1,
    }
}

enum Location {
    Directory(PathBuf),
    Url(Url),
}

struct Feed {
    mapping: SupplierMapping,
    location: Location,
    cursor_key: CursorKey,
}

/// A file of a feed, fetched.
struct Fetched {
    name: String,
    bytes: Vec<u8>,
    observed_at: i64,
}

pub struct SupplierFeedsConnector {
    client: ApiClient,
    feeds: Vec<Feed>,
    /// The feed the next poll looks at, and how many feeds in a row had nothing new.
    next_feed: usize,
    idle_feeds: usize,
}

impl SupplierFeedsConnector {
    /// Loads and validates every feed's mapping.
    pub fn from_config(config: &SupplierFeedsConfig) -> Result<Self, ConnectorError> {
        let invalid = |detail: String| ConnectorError::config(CONNECTOR, detail);
        if config.feeds.is_empty() {
            return Err(invalid(
                "no feed is configured: add [[connectors.supplier_feeds.feeds]]".to_owned(),
            ));
        }
        let mut builder = ApiClient::builder(CONNECTOR, &config.http);
        let mut feeds = Vec::with_capacity(config.feeds.len());
        for feed in &config.feeds {
            let text = std::fs::read_to_string(&feed.mapping)
                .map_err(|error| invalid(format!("mapping {}: {error}", feed.mapping.display())))?;
            let mapping = SupplierMapping::from_toml_str(&text)
                .map_err(|error| invalid(format!("mapping {}: {error}", feed.mapping.display())))?;
            let location = match (&feed.directory, &feed.url) {
                (Some(directory), None) => Location::Directory(directory.clone()),
                (None, Some(url)) => Location::Url(Url::parse(url).map_err(|error| {
                    invalid(format!(
                        "feed of {:?}: url {url:?}: {error}",
                        mapping.supplier_id
                    ))
                })?),
                _ => {
                    return Err(invalid(format!(
                        "feed of {:?}: set exactly one of directory and url",
                        mapping.supplier_id
                    )));
                }
            };
            if feeds
                .iter()
                .any(|known: &Feed| known.mapping.supplier_id == mapping.supplier_id)
            {
                return Err(invalid(format!(
                    "supplier {:?} has two feeds: its files would share one cursor",
                    mapping.supplier_id
                )));
            }
            builder = builder.operation(mapping.supplier_id.clone(), config.rate);
            feeds.push(Feed {
                cursor_key: CursorKey::new(CONNECTOR, mapping.supplier_id.clone()),
                mapping,
                location,
            });
        }
        Ok(SupplierFeedsConnector {
            client: builder.build()?,
            feeds,
            next_feed: 0,
            idle_feeds: 0,
        })
    }

    /// The files of a feed as they are now, sorted by name.
    async fn fetch(&self, feed: &Feed) -> Result<Vec<Fetched>, ConnectorError> {
        match &feed.location {
            Location::Directory(directory) => read_directory(feed, directory),
            Location::Url(url) => {
                let response = self
                    .client
                    .send(&feed.mapping.supplier_id, |http| http.get(url.clone()))
                    .await?;
                let observed_at = response
                    .headers
                    .get(reqwest::header::LAST_MODIFIED)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| httpdate::parse_http_date(value).ok())
                    .map_or_else(|| response.received_at_ms(), epoch_millis);
                Ok(vec![Fetched {
                    name: url.to_string(),
                    bytes: response.body.to_vec(),
                    observed_at,
                }])
            }
        }
    }
}

/// The feed's files in `directory`, with the extension its format uses.
fn read_directory(feed: &Feed, directory: &Path) -> Result<Vec<Fetched>, ConnectorError> {
    let failed = |detail: String| {
        // A directory that cannot be read may be a mount that comes back: retry later.
        ConnectorError::new(
            CONNECTOR,
            &feed.mapping.supplier_id,
            ErrorKind::Unavailable {
                status: 0,
                body: detail,
                retry_after: None,
            },
        )
    };
    let extension = if feed.mapping.csv_delimiter.is_some() {
        "csv"
    } else {
        "json"
    };
    let entries = std::fs::read_dir(directory)
        .map_err(|error| failed(format!("directory {}: {error}", directory.display())))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|error| failed(format!("directory {}: {error}", directory.display())))?;
        let path = entry.path();
        let matches = path
            .extension()
            .and_then(|found| found.to_str())
            .is_some_and(|found| found.eq_ignore_ascii_case(extension));
        if !matches || !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path)
            .map_err(|error| failed(format!("file {}: {error}", path.display())))?;
        let modified = entry
            .metadata()
            .and_then(|metadata| metadata.modified())
            .unwrap_or_else(|_| SystemTime::now());
        files.push(Fetched {
            name: entry.file_name().to_string_lossy().into_owned(),
            bytes,
            observed_at: epoch_millis(modified),
        });
    }
    files.sort_by(|left, right| left.name.cmp(&right.name));
    Ok(files)
}

#[async_trait]
impl Connector for SupplierFeedsConnector {
    fn name(&self) -> &str {
        CONNECTOR
    }

    fn circuit(&self) -> BreakerState {
        self.client.circuit()
    }

    async fn poll(
        &mut self,
        cursors: &mut dyn CursorStore,
        out: &mut dyn RecordSink,
    ) -> Result<PollReport, ConnectorError> {
        let index = self.next_feed;
        let feed = &self.feeds[index];
        let saved = load_cursor(cursors, &feed.cursor_key).await?;
        let mut processed: ProcessedFiles = Cursor::json_position(
            &feed.cursor_key,
            saved.as_ref(),
            "reading the feed's files again",
        )
        .unwrap_or_default();
        let files = self.fetch(feed).await?;
        let new_file = files.iter().find_map(|file| {
            let print = fingerprint(&file.bytes);
            (!processed.is_processed(&file.name, &print)).then_some((file, print))
        });
        let Some((file, print)) = new_file else {
            self.next_feed = (index + 1) % self.feeds.len();
            self.idle_feeds += 1;
            let caught_up = self.idle_feeds >= self.feeds.len();
            if caught_up {
                self.idle_feeds = 0;
            }
            return Ok(PollReport {
                caught_up,
                ..PollReport::default()
            });
        };
        self.idle_feeds = 0;
        let records = map_feed_file(
            &feed.mapping,
            &FeedFile {
                name: &file.name,
                bytes: &file.bytes,
                observed_at: file.observed_at,
            },
        );
        processed.retain_listed(files.iter().map(|listed| listed.name.as_str()));
        processed.mark_processed(&file.name, &print);
        let next = Cursor::of_json(&feed.cursor_key, &processed)?;
        let handed_over = hand_over(
            self.client.metrics(),
            &feed.cursor_key,
            records,
            &next,
            cursors,
            out,
        )
        .await?;
        let mut report = PollReport::default();
        report.add(handed_over);
        Ok(report)
    }
}
