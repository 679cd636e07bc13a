//! Opening the lake's object store from `--out`: a local path, `file://`, `s3://`, `az://`,
//! `abfss://` or `gs://`, and writing data files to it. Cloud credentials and endpoints come from
//! the standard environment variables that `object_store`'s builders read (`AWS_*`, `AZURE_*`,
//! `AZURITE_BLOB_STORAGE_URL`, `GOOGLE_*`), then from `--store-option KEY=VALUE`, which wins.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{BackoffConfig, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart};
use url::Url;

use super::layout::LakeRoot;

/// An opened lake: the store, the root prefix inside it, and a display name for messages.
#[derive(Clone)]
pub struct Lake {
    pub store: Arc<dyn ObjectStore>,
    pub root: LakeRoot,
    /// `--out` as the user gave it; cloud URLs carry no credentials, so it is safe to log.
    pub location: String,
    /// The folder of a local lake, where emptied folders are removed after a commit.
    pub local_folder: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("invalid --out '{location}': {reason}")]
    Invalid { location: String, reason: String },
    #[error("cannot open the lake at '{location}': {source}")]
    Store { location: String, source: object_store::Error },
    #[error("cannot create the lake folder '{location}': {source}")]
    Folder { location: String, source: std::io::Error },
    #[error("invalid --store-option {key} for the {scheme}:// lake at '{location}': {reason}")]
    StoreOption { location: String, scheme: String, key: String, reason: String },
}

/// Object-store settings from `--store-option KEY=VALUE`, in the order given; a later value for
/// the same key wins. Keys are the config keys of `object_store`'s builder for the lake's scheme
/// (such as `endpoint` or `aws_allow_http`), plus `max_retries` and `retry_timeout`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StoreOptions(Vec<(String, String)>);

/// Debug lists the keys only, because values can be secrets such as `secret_access_key`.
impl fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter().map(|(key, _)| key)).finish()
    }
}

impl StoreOptions {
    /// Parses `KEY=VALUE` items. Keys are case-insensitive, so `AWS_ENDPOINT=…` works as in the
    /// environment. An error names the item by position and never repeats its value.
    pub fn parse(items: &[String]) -> Result<Self, String> {
        let mut pairs = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let Some((key, value)) = item.split_once('=') else {
                return Err(format!(
                    "--store-option number {} has no '=': use KEY=VALUE, such as endpoint=http://127.0.0.1:3900",
                    index + 1
                ));
            };
            let key = key.trim().to_ascii_lowercase();
            if key.is_empty() {
                return Err(format!("--store-option number {} has an empty key: use KEY=VALUE", index + 1));
            }
            pairs.push((key, value.to_owned()));
        }
        Ok(StoreOptions(pairs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, value)| value.as_str())
    }

    /// Returns the pairs for the builder: every key but the retry settings.
    fn builder_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().filter(|(key, _)| !RETRY_KEYS.contains(&key.as_str())).map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The `--store-option` keys this crate reads itself; `object_store` has no config keys for them.
const RETRY_KEYS: [&str; 2] = ["max_retries", "retry_timeout"];

/// Retries of one failed store request. A request that still fails ends the whole run and
/// wastes its Graph reads, so the store gets about two minutes to recover: 15 retries with
/// backoff from 100 ms doubling up to 15 s. `object_store` 0.13 advises a retry timeout under
/// 5 minutes, because a retried request keeps its original signature.
pub fn default_retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(15),
            base: 2.0,
        },
        max_retries: 15,
        retry_timeout: Duration::from_secs(4 * 60),
    }
}

/// Opens the lake at `location`, creating a local folder when it does not exist yet.
pub fn open(location: &str, options: &StoreOptions) -> Result<Lake, OpenError> {
    let invalid = |reason: String| OpenError::Invalid { location: location.to_owned(), reason };
    if location.trim().is_empty() {
        return Err(invalid("the location is empty; give a folder or an object-store URL".into()));
    }
    let has_scheme = location.contains("://");
    if !has_scheme {
        return open_local(location, PathBuf::from(location), options);
    }

    let url = Url::parse(location).map_err(|error| invalid(error.to_string()))?;
    if url.password().is_some() {
        // The URL is logged and printed, so it must not carry the secret: name neither.
        return Err(OpenError::Invalid {
            location: format!("{}://…", url.scheme()),
            reason: "the URL contains a password; pass credentials in environment variables or --store-option".into(),
        });
    }
    let prefix = Path::from_url_path(url.path()).map_err(|error| invalid(error.to_string()))?;
    let settings = Settings { location, scheme: url.scheme(), options };
    let store: Arc<dyn ObjectStore> = match url.scheme() {
        "file" => {
            let path = url.to_file_path().map_err(|()| invalid("a file:// URL needs an absolute local path".into()))?;
            return open_local(location, path, options);
        }
        "s3" | "s3a" => Arc::new(open_s3(&settings)?),
        "az" | "azure" | "abfs" | "abfss" | "adl" => Arc::new(open_azure(&settings)?),
        "gs" => Arc::new(open_gcs(&settings)?),
        other => {
            return Err(invalid(format!(
                "unsupported scheme '{other}'; use a local path, file://, s3://, az://, abfss:// or gs://"
            )));
        }
    };
    Ok(Lake { store, root: LakeRoot::new(prefix), location: location.to_owned(), local_folder: None })
}

/// The lake URL, its scheme and the options, which a cloud store's builder takes besides the
/// environment.
struct Settings<'a> {
    location: &'a str,
    scheme: &'a str,
    options: &'a StoreOptions,
}

impl Settings<'_> {
    fn option_error(&self, key: &str, reason: String) -> OpenError {
        OpenError::StoreOption {
            location: self.location.to_owned(),
            scheme: self.scheme.to_owned(),
            key: key.to_owned(),
            reason,
        }
    }

    fn build_error(&self, source: object_store::Error) -> OpenError {
        OpenError::Store { location: self.location.to_owned(), source }
    }

    /// Parses every builder key with the store's config-key type `K`, so a typo fails here
    /// instead of being ignored, and hands each pair to `set`.
    fn configure<B, K: FromStr>(&self, mut builder: B, set: impl Fn(B, K, &str) -> B) -> Result<B, OpenError> {
        for (key, value) in self.options.builder_pairs() {
            let Ok(config_key) = key.parse::<K>() else {
                return Err(self.option_error(
                    key,
                    format!(
                        "unknown key; use a config key of object_store's {} builder (see `copilot-lake sync --help`)",
                        self.scheme
                    ),
                ));
            };
            builder = set(builder, config_key, value);
        }
        Ok(builder)
    }

    /// Returns the default retries, changed by `max_retries` and `retry_timeout`.
    fn retry(&self) -> Result<RetryConfig, OpenError> {
        let mut retry = default_retry();
        if let Some(text) = self.options.get("max_retries") {
            retry.max_retries = text.trim().parse().map_err(|_| {
                self.option_error("max_retries", format!("'{text}' is not a count; use a whole number such as 15"))
            })?;
        }
        if let Some(text) = self.options.get("retry_timeout") {
            retry.retry_timeout = humantime::parse_duration(text.trim()).map_err(|error| {
                self.option_error("retry_timeout", format!("'{text}' is not a duration ({error}); use one such as 4m"))
            })?;
        }
        Ok(retry)
    }
}

// The URL goes in last because its bucket or container overrides any from the options.
fn open_s3(settings: &Settings) -> Result<object_store::aws::AmazonS3, OpenError> {
    let builder = AmazonS3Builder::from_env().with_retry(settings.retry()?);
    let builder = settings.configure(builder, |b, key: AmazonS3ConfigKey, value| b.with_config(key, value))?;
    builder.with_url(settings.location).build().map_err(|error| settings.build_error(error))
}

fn open_azure(settings: &Settings) -> Result<object_store::azure::MicrosoftAzure, OpenError> {
    let builder = MicrosoftAzureBuilder::from_env().with_retry(settings.retry()?);
    let builder = settings.configure(builder, |b, key: AzureConfigKey, value| b.with_config(key, value))?;
    builder.with_url(settings.location).build().map_err(|error| settings.build_error(error))
}

fn open_gcs(settings: &Settings) -> Result<object_store::gcp::GoogleCloudStorage, OpenError> {
    let builder = GoogleCloudStorageBuilder::from_env().with_retry(settings.retry()?);
    let builder = settings.configure(builder, |b, key: GoogleConfigKey, value| b.with_config(key, value))?;
    builder.with_url(settings.location).build().map_err(|error| settings.build_error(error))
}

impl Lake {
    /// An error of `operation` on `path`, naming the lake.
    pub fn store_error(&self, operation: &'static str, path: &Path, source: object_store::Error) -> super::SinkError {
        super::SinkError::Store { operation, path: path.to_string(), location: self.location.clone(), source }
    }
}

/// Removes the empty folders below `prefix` of a local lake; object stores have no folders.
/// Best effort: a folder that cannot be removed only costs a directory entry.
pub fn remove_empty_folders(lake: &Lake, prefix: &Path) {
    let Some(root) = &lake.local_folder else {
        return;
    };
    let folder = prefix.parts().fold(root.clone(), |folder, part| folder.join(part.as_ref()));
    remove_empty_below(&folder);
}

fn remove_empty_below(folder: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            remove_empty_below(&entry.path());
            // Fails, as intended, when the folder still holds files.
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

fn open_local(location: &str, path: PathBuf, options: &StoreOptions) -> Result<Lake, OpenError> {
    if let Some((key, _)) = options.0.first() {
        return Err(OpenError::StoreOption {
            location: location.to_owned(),
            scheme: "file".into(),
            key: key.clone(),
            reason: "a local folder takes no store options; remove --store-option".into(),
        });
    }
    let folder_error = |source| OpenError::Folder { location: location.to_owned(), source };
    std::fs::create_dir_all(&path).map_err(folder_error)?;
    let path = path.canonicalize().map_err(folder_error)?;
    // Automatic cleanup removes folders that a rename leaves empty, such as staging folders.
    let store = LocalFileSystem::new_with_prefix(&path)
        .map_err(|source| OpenError::Store { location: location.to_owned(), source })?
        .with_automatic_cleanup(true);
    Ok(Lake {
        store: Arc::new(store),
        root: LakeRoot::new(Path::default()),
        location: location.to_owned(),
        local_folder: Some(path),
    })
}

/// The part size of multipart uploads, and the file size from which they are used. S3 requires
/// parts of at least 5 MiB, except the last, and at most 10,000 parts, so a file can reach
/// about 97 GiB.
pub const PART_SIZE: usize = 10 * 1024 * 1024;

/// The parts of one file uploaded at the same time.
const PART_CONCURRENCY: usize = 4;

/// Writes `data` to `path`: a file smaller than [`PART_SIZE`] goes as one PUT, a larger one as a
/// multipart upload with at most [`PART_CONCURRENCY`] parts in flight. Parts are slices of
/// `data`, so the upload copies nothing. A failed multipart upload is aborted, best effort, so
/// its parts do not linger; readers never see an incomplete object either way.
pub async fn put_file(store: &dyn ObjectStore, path: &Path, data: Bytes) -> object_store::Result<()> {
    if data.len() < PART_SIZE {
        store.put(path, PutPayload::from(data)).await?;
        return Ok(());
    }

    let mut upload = WriteMultipart::new_with_chunk_size(store.put_multipart(path).await?, PART_SIZE);
    let mut offset = 0;
    while offset < data.len() {
        if let Err(error) = upload.wait_for_capacity(PART_CONCURRENCY).await {
            return Err(abort_upload(upload, path, error).await);
        }
        let end = data.len().min(offset + PART_SIZE);
        upload.put(data.slice(offset..end));
        offset = end;
    }
    // `finish` aborts by itself only when the final request fails, so wait for the parts first.
    if let Err(error) = upload.wait_for_capacity(0).await {
        return Err(abort_upload(upload, path, error).await);
    }
    upload.finish().await?;
    Ok(())
}

/// Aborts a failed multipart upload and returns the error that failed it.
async fn abort_upload(upload: WriteMultipart, path: &Path, error: object_store::Error) -> object_store::Error {
    if let Err(abort_error) = upload.abort().await {
        // NOTE: parts of an upload that cannot be aborted stay until the store expires them:
        // S3 keeps them until a lifecycle rule for incomplete multipart uploads removes them,
        // Azure discards uncommitted blocks after 7 days.
        tracing::warn!(%path, error = %abort_error, "cannot abort the failed multipart upload");
    }
    error
}

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;

    use super::*;

    fn options(items: &[&str]) -> StoreOptions {
        let items: Vec<String> = items.iter().map(|item| item.to_string()).collect();
        StoreOptions::parse(&items).expect("valid options")
    }

    fn no_options() -> StoreOptions {
        StoreOptions::default()
    }

    #[test]
    fn local_folder_is_created() {
        let dir = tempfile::tempdir().expect("tempdir");
        let location = dir.path().join("lake/nested");
        let lake = open(location.to_str().expect("utf-8 path"), &no_options()).expect("open");
        assert!(location.is_dir());
        assert_eq!(lake.root.prefix().as_ref(), "");
    }

    #[test]
    fn unknown_scheme_names_the_fix() {
        let error = open("ftp://host/lake", &no_options()).err().expect("unsupported");
        let message = error.to_string();
        assert!(message.contains("'ftp'"), "{message}");
        assert!(message.contains("s3://"), "{message}");
    }

    #[test]
    fn empty_location_is_invalid() {
        assert!(matches!(open(" ", &no_options()), Err(OpenError::Invalid { .. })));
    }

    #[test]
    fn s3_url_keeps_prefix() {
        let lake = open("s3://bucket/copilot/lake", &no_options()).expect("s3 lake");
        assert_eq!(lake.root.prefix().as_ref(), "copilot/lake");
    }

    #[test]
    fn known_keys_open_every_cloud_scheme() {
        let cases = [
            ("s3://bucket/lake", options(&["endpoint=http://127.0.0.1:3900", "AWS_ALLOW_HTTP=true", "region=garage"])),
            ("az://container/lake", options(&["account_name=devstoreaccount1", "use_emulator=true"])),
            (
                "abfss://fs@account.dfs.core.windows.net/lake",
                options(&["azure_storage_account_key=a2V5", "timeout=60s"]),
            ),
            ("gs://bucket/lake", options(&["google_bucket=other", "connect_timeout=5s"])),
        ];
        for (location, options) in cases {
            let lake = open(location, &options).unwrap_or_else(|error| panic!("{location}: {error}"));
            assert_eq!(lake.root.prefix().as_ref(), "lake", "{location}");
        }
    }

    #[test]
    fn unknown_key_names_key_and_scheme() {
        let error = open("s3://bucket/lake", &options(&["endpoint=http://127.0.0.1:1", "sekret_key=hunter2"]))
            .err()
            .expect("unknown key");
        let message = error.to_string();
        assert!(matches!(error, OpenError::StoreOption { .. }), "{message}");
        assert!(message.contains("sekret_key"), "{message}");
        assert!(message.contains("s3://"), "{message}");
        assert!(!message.contains("hunter2"), "the value is not repeated: {message}");
    }

    #[test]
    fn key_of_another_store_is_unknown() {
        let error =
            open("az://container/lake", &options(&["aws_secret_access_key=hunter2"])).err().expect("unknown key");
        let message = error.to_string();
        assert!(message.contains("aws_secret_access_key") && message.contains("az://"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn option_without_equals_hides_value() {
        let error = StoreOptions::parse(&["secret_access_key:hunter2".to_string()]).expect_err("no '='");
        assert!(error.contains("number 1"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn debug_shows_keys_not_values() {
        let text = format!("{:?}", options(&["secret_access_key=hunter2"]));
        assert_eq!(text, r#"["secret_access_key"]"#);
    }

    #[test]
    fn retry_options_are_validated() {
        assert!(open("s3://bucket/lake", &options(&["max_retries=2", "retry_timeout=10s"])).is_ok());
        let error = open("s3://bucket/lake", &options(&["max_retries=many"])).err().expect("invalid count");
        assert!(error.to_string().contains("max_retries"), "{error}");
        let error = open("gs://bucket/lake", &options(&["retry_timeout=soon"])).err().expect("invalid duration");
        assert!(error.to_string().contains("retry_timeout"), "{error}");
    }

    #[test]
    fn local_lake_rejects_store_options() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = open(dir.path().to_str().expect("utf-8 path"), &options(&["region=eu-west-1"]))
            .err()
            .expect("options on a folder");
        assert!(error.to_string().contains("region"), "{error}");
    }

    #[test]
    fn url_with_password_is_not_echoed() {
        let error = open("s3://key:hunter2@bucket/lake", &no_options()).err().expect("password in URL");
        let message = error.to_string();
        assert!(message.contains("password"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    async fn round_trip(size: usize) {
        let store = InMemory::new();
        let path = Path::from("table/date=2026-11-01/part.parquet");
        let data: Bytes = (0..size).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into();
        put_file(&store, &path, data.clone()).await.expect("put_file");
        let stored = store.get(&path).await.expect("get").bytes().await.expect("bytes");
        assert_eq!(stored.len(), size);
        assert!(stored == data, "content of a {size}-byte file differs");
    }

    #[tokio::test]
    async fn put_file_keeps_content_of_every_size() {
        for size in [0, 1, PART_SIZE - 1, PART_SIZE, 2 * PART_SIZE + 7] {
            round_trip(size).await;
        }
    }
}
