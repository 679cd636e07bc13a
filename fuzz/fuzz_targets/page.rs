//! Fuzzes what a response body goes through on its way into the lake: the page parser, the
//! privacy controls, the flattener into Arrow batches, and the rejection file's entries.
//! Every input must end in records or a page error, never in a panic.

#![no_main]

use copilot_lake::flatten::Flattener;
use copilot_lake::graph::interactions::parse_page;
use copilot_lake::privacy::{ContentMode, Privacy, PrivacyKey};
use libfuzzer_sys::fuzz_target;

const KEY: &[u8] = b"fuzz-key-fuzz-key-fuzz-key-fuzz-key";

fuzz_target!(|body: &[u8]| {
    let Ok(page) = parse_page(body, 0) else {
        return;
    };
    let key = PrivacyKey::new(KEY).expect("the key is long enough");
    let hashing =
        Privacy::new(ContentMode::Hash, Some(key.clone()), Some(key)).expect("valid settings");

    for privacy in [Privacy::default(), hashing] {
        let mut flattener = Flattener::default();
        for record in page.records.iter() {
            match record {
                Ok(record) => {
                    let mut record = record.clone();
                    privacy.apply(&mut record);
                    flattener.push(&privacy.user_id("fuzz-user"), &record);
                }
                Err(rejection) => {
                    // The rejection file must stay valid JSON, whatever the record held.
                    let entry = privacy.rejected("fuzz-user", rejection);
                    let json = serde_json::to_string(&entry).expect("a rejection serializes");
                    serde_json::from_str::<serde::de::IgnoredAny>(&json)
                        .expect("the rejection file is valid JSON");
                }
            }
        }
        flattener.finish().expect("the batches match the schema");
    }
});
