//! Object keys of the lake, as types that convert both ways:
//! `<table>/date=YYYY-MM-DD/<file>.parquet` for data, `_copilot_lake/...` for everything else.

use chrono::NaiveDate;
use object_store::path::Path;

use crate::flatten::Table;

/// The folder of the connector's own files. Readers skip names that start with `_`.
pub const META_DIR: &str = "_copilot_lake";

/// The key of one data file, relative to the lake root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DataFilePath {
    pub table: Table,
    pub date: NaiveDate,
    pub file_name: String,
}

impl DataFilePath {
    /// `<table>/date=YYYY-MM-DD/<file_name>`
    pub fn relative(&self) -> String {
        format!("{}/date={}/{}", self.table.name(), self.date.format("%Y-%m-%d"), self.file_name)
    }

    /// Parses a relative key; `None` for keys that are not data files of a lake table.
    pub fn parse(relative: &str) -> Option<DataFilePath> {
        let mut parts = relative.split('/');
        let table = Table::from_name(parts.next()?)?;
        let date = parts.next()?.strip_prefix("date=")?;
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
        let file_name = parts.next()?;
        let valid = parts.next().is_none() && file_name.ends_with(".parquet") && !file_name.starts_with(['_', '.']);
        valid.then(|| DataFilePath { table, date, file_name: file_name.to_owned() })
    }
}

/// Joins relative keys onto the lake's root prefix.
#[derive(Debug, Clone)]
pub struct LakeRoot(Path);

impl LakeRoot {
    pub fn new(prefix: Path) -> Self {
        LakeRoot(prefix)
    }

    pub fn prefix(&self) -> &Path {
        &self.0
    }

    /// The full key of a path relative to the lake root.
    pub fn join(&self, relative: &str) -> Path {
        let mut path = self.0.clone();
        for part in relative.split('/').filter(|part| !part.is_empty()) {
            path = path.join(part);
        }
        path
    }

    /// The key relative to the lake root, or `None` for keys outside it.
    pub fn relative(&self, path: &Path) -> Option<String> {
        let parts: Vec<_> = path.prefix_match(&self.0)?.map(|part| part.as_ref().to_owned()).collect();
        Some(parts.join("/"))
    }

    /// Where a run stages a data file before publishing it.
    pub fn staged(&self, run_id: &str, data: &DataFilePath) -> Path {
        self.join(&format!("{META_DIR}/staging/{run_id}/{}", data.relative()))
    }

    pub fn published(&self, data: &DataFilePath) -> Path {
        self.join(&data.relative())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DataFilePath {
        DataFilePath {
            table: Table::Mentions,
            date: NaiveDate::from_ymd_opt(2026, 11, 5).expect("date"),
            file_name: "part-20261204T205011Z-0a1b2c-00001.parquet".into(),
        }
    }

    #[test]
    fn data_path_round_trips() {
        let path = sample();
        let relative = path.relative();
        assert_eq!(relative, "mentions/date=2026-11-05/part-20261204T205011Z-0a1b2c-00001.parquet");
        assert_eq!(DataFilePath::parse(&relative), Some(path));
    }

    #[test]
    fn non_data_keys_do_not_parse() {
        for key in [
            "_copilot_lake/state.json",
            "users/date=2026-11-05/a.parquet",
            "links/2026-11-05/a.parquet",
            "links/date=2026-13-05/a.parquet",
            "links/date=2026-11-05/a.json",
            "links/date=2026-11-05/_tmp.parquet",
            "links/date=2026-11-05/x/a.parquet",
        ] {
            assert_eq!(DataFilePath::parse(key), None, "{key}");
        }
    }

    #[test]
    fn root_joins_and_strips_prefix() {
        let root = LakeRoot::new(Path::from("bucket-prefix/copilot"));
        let full = root.published(&sample());
        assert_eq!(
            full.as_ref(),
            "bucket-prefix/copilot/mentions/date=2026-11-05/part-20261204T205011Z-0a1b2c-00001.parquet"
        );
        assert_eq!(root.relative(&full).as_deref(), Some(sample().relative().as_str()));
        assert_eq!(root.relative(&Path::from("elsewhere/x")), None);

        let staged = root.staged("run-1", &sample());
        assert!(staged.as_ref().starts_with("bucket-prefix/copilot/_copilot_lake/staging/run-1/mentions/"));
    }

    #[test]
    fn empty_root_is_the_store_root() {
        let root = LakeRoot::new(Path::default());
        assert_eq!(
            root.join("interactions/date=2026-11-05/a.parquet").as_ref(),
            "interactions/date=2026-11-05/a.parquet"
        );
    }
}
