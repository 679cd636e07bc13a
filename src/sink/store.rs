//! Opening the lake's object store from `--out`: a local path, `file://`, `s3://`, `az://`,
//! `abfss://` or `gs://`. Cloud credentials come from the standard environment variables that
//! `object_store`'s builders read (`AWS_*`, `AZURE_*`, `GOOGLE_*`).

use std::path::PathBuf;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use url::Url;

use super::layout::LakeRoot;

/// An opened lake: the store, the root prefix inside it, and a display name for messages.
#[derive(Clone)]
pub struct Lake {
    pub store: Arc<dyn ObjectStore>,
    pub root: LakeRoot,
    /// `--out` as the user gave it; cloud URLs carry no credentials, so it is safe to log.
    pub location: String,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("invalid --out '{location}': {reason}")]
    Invalid { location: String, reason: String },
    #[error("cannot open the lake at '{location}': {source}")]
    Store { location: String, source: object_store::Error },
    #[error("cannot create the lake folder '{location}': {source}")]
    Folder { location: String, source: std::io::Error },
}

/// Opens the lake at `location`, creating a local folder when it does not exist yet.
pub fn open(location: &str) -> Result<Lake, OpenError> {
    let invalid = |reason: String| OpenError::Invalid { location: location.to_owned(), reason };
    if location.trim().is_empty() {
        return Err(invalid("the location is empty; give a folder or an object-store URL".into()));
    }
    let has_scheme = location.contains("://");
    if !has_scheme {
        return open_local(location, PathBuf::from(location));
    }

    let url = Url::parse(location).map_err(|error| invalid(error.to_string()))?;
    let prefix = Path::from_url_path(url.path()).map_err(|error| invalid(error.to_string()))?;
    let store_error = |source| OpenError::Store { location: location.to_owned(), source };
    let store: Arc<dyn ObjectStore> = match url.scheme() {
        "file" => {
            let path = url
                .to_file_path()
                .map_err(|()| invalid("a file:// URL needs an absolute local path".into()))?;
            return open_local(location, path);
        }
        "s3" | "s3a" => Arc::new(
            AmazonS3Builder::from_env().with_url(location).build().map_err(store_error)?,
        ),
        "az" | "azure" | "abfs" | "abfss" | "adl" => Arc::new(
            MicrosoftAzureBuilder::from_env().with_url(location).build().map_err(store_error)?,
        ),
        "gs" => Arc::new(
            GoogleCloudStorageBuilder::from_env().with_url(location).build().map_err(store_error)?,
        ),
        other => {
            return Err(invalid(format!(
                "unsupported scheme '{other}'; use a local path, file://, s3://, az://, abfss:// or gs://"
            )));
        }
    };
    Ok(Lake { store, root: LakeRoot::new(prefix), location: location.to_owned() })
}

fn open_local(location: &str, path: PathBuf) -> Result<Lake, OpenError> {
    let folder_error = |source| OpenError::Folder { location: location.to_owned(), source };
    std::fs::create_dir_all(&path).map_err(folder_error)?;
    let path = path.canonicalize().map_err(folder_error)?;
    // Automatic cleanup removes folders that a rename leaves empty, such as staging folders.
    let store = LocalFileSystem::new_with_prefix(&path)
        .map_err(|source| OpenError::Store { location: location.to_owned(), source })?
        .with_automatic_cleanup(true);
    Ok(Lake { store: Arc::new(store), root: LakeRoot::new(Path::default()), location: location.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_folder_is_created() {
        let dir = tempfile::tempdir().expect("tempdir");
        let location = dir.path().join("lake/nested");
        let lake = open(location.to_str().expect("utf-8 path")).expect("open");
        assert!(location.is_dir());
        assert_eq!(lake.root.prefix().as_ref(), "");
    }

    #[test]
    fn unknown_scheme_names_the_fix() {
        let error = open("ftp://host/lake").err().expect("unsupported");
        let message = error.to_string();
        assert!(message.contains("'ftp'"), "{message}");
        assert!(message.contains("s3://"), "{message}");
    }

    #[test]
    fn empty_location_is_invalid() {
        assert!(matches!(open(" "), Err(OpenError::Invalid { .. })));
    }

    #[test]
    fn s3_url_keeps_prefix() {
        let lake = open("s3://bucket/copilot/lake").expect("s3 lake");
        assert_eq!(lake.root.prefix().as_ref(), "copilot/lake");
    }
}
