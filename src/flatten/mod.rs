//! Flattening: each interaction becomes one `interactions` row plus one row per element of its
//! `contexts`, `attachments`, `links` and `mentions` lists, keyed by
//! (`user_id`, `session_id`, `interaction_id`) and, for child rows, the 0-based `ordinal`.

pub mod app;
mod builder;
pub mod ddl;
pub mod schema;
pub mod text;

use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use crate::graph::model::{Attachment, Context, Identity, Interaction, Link, Mention};
pub use builder::TableBuilder;
pub use schema::Table;

/// Builders for the five tables of one partition.
pub struct Flattener {
    builders: [TableBuilder; 5],
}

impl Default for Flattener {
    fn default() -> Self {
        Flattener { builders: Table::ALL.map(TableBuilder::new) }
    }
}

impl Flattener {
    fn builder(&mut self, table: Table) -> &mut TableBuilder {
        &mut self.builders[table as usize]
    }

    /// Approximate bytes buffered across the five tables.
    pub fn bytes(&self) -> usize {
        self.builders.iter().map(TableBuilder::bytes).sum()
    }

    /// Memory the five tables' builders hold, see [`TableBuilder::allocated_bytes`].
    pub fn allocated_bytes(&self) -> usize {
        self.builders.iter().map(TableBuilder::allocated_bytes).sum()
    }

    pub fn rows(&self, table: Table) -> usize {
        self.builders[table as usize].rows()
    }

    /// Appends one interaction and its child rows, as requested for `user_id`.
    pub fn push(&mut self, user_id: &str, record: &Interaction) {
        let key = Key { user_id, session_id: &record.session_id, interaction_id: &record.id };
        self.push_interaction(&key, record);

        for (ordinal, context) in present(&record.contexts) {
            self.push_context(&key, ordinal, context);
        }
        for (ordinal, attachment) in present(&record.attachments) {
            self.push_attachment(&key, ordinal, attachment);
        }
        for (ordinal, link) in present(&record.links) {
            self.push_link(&key, ordinal, link);
        }
        for (ordinal, mention) in present(&record.mentions) {
            self.push_mention(&key, ordinal, mention);
        }
    }

    /// Returns the buffered rows as one batch per table, skipping empty tables.
    pub fn finish(&mut self) -> Result<Vec<(Table, RecordBatch)>, ArrowError> {
        let mut batches = Vec::new();
        for table in Table::ALL {
            let builder = self.builder(table);
            if builder.rows() > 0 {
                batches.push((table, builder.finish()?));
            }
        }
        Ok(batches)
    }

    fn push_interaction(&mut self, key: &Key, record: &Interaction) {
        let from = record.from.as_deref();
        let user = from.and_then(|from| from.user.as_deref());
        let application = from.and_then(|from| from.application.as_deref());
        let device = from.and_then(|from| from.device.as_deref());
        let body = record.body.as_ref();
        let body_text = match &record.body_text_override {
            Some(text) => text.clone(),
            None => derive_body_text(record),
        };

        let row = self.builder(Table::Interactions);
        key.append(row);
        row.str(record.request_id.as_deref())
            .str(record.app_class.as_deref())
            .str(record.interaction_type.as_deref())
            .str(record.conversation_type.as_deref())
            .str(record.etag.as_deref())
            .timestamp_micros(Some(record.created_date_time.timestamp_micros()))
            .str(record.locale.as_deref())
            .str(id(user))
            .str(display_name(user))
            .str(user.and_then(|u| u.user_identity_type.as_deref()))
            .str(user.and_then(|u| u.tenant_id.as_deref()))
            .str(id(application))
            .str(display_name(application))
            .str(application.and_then(|a| a.application_identity_type.as_deref()))
            .str(device.and_then(|d| d.id()))
            .str(device.and_then(|d| d.display_name()))
            .str(body.and_then(|b| b.content_type.as_deref()))
            .str(body.and_then(|b| b.content.as_deref()))
            .str(record.app_class.as_deref().and_then(app::app_name))
            .str(body_text.as_deref());
        row.end_row();
    }

    fn push_context(&mut self, key: &Key, ordinal: i32, context: &Context) {
        let row = self.builder(Table::Contexts);
        key.append(row);
        row.int32(Some(ordinal))
            .str(context.context_reference.as_deref())
            .str(context.context_type.as_deref())
            .str(context.display_name.as_deref());
        row.end_row();
    }

    fn push_attachment(&mut self, key: &Key, ordinal: i32, attachment: &Attachment) {
        let row = self.builder(Table::Attachments);
        key.append(row);
        row.int32(Some(ordinal))
            .str(attachment.attachment_id.as_deref())
            .str(attachment.content_type.as_deref())
            .str(attachment.content_url.as_deref())
            .str(attachment.content.as_deref())
            .str(attachment.name.as_deref());
        row.end_row();
    }

    fn push_link(&mut self, key: &Key, ordinal: i32, link: &Link) {
        let row = self.builder(Table::Links);
        key.append(row);
        row.int32(Some(ordinal))
            .str(link.link_url.as_deref())
            .str(link.link_type.as_deref())
            .str(link.display_name.as_deref());
        row.end_row();
    }

    fn push_mention(&mut self, key: &Key, ordinal: i32, mention: &Mention) {
        let mentioned = mention.mentioned.as_deref();
        let user = mentioned.and_then(|m| m.user.as_deref());
        let application = mentioned.and_then(|m| m.application.as_deref());
        let conversation = mentioned.and_then(|m| m.conversation.as_deref());
        let tag = mentioned.and_then(|m| m.tag.as_deref());

        let row = self.builder(Table::Mentions);
        key.append(row);
        row.int32(Some(ordinal))
            .int32(mention.mention_id)
            .str(mention.mention_text.as_deref())
            .str(id(user))
            .str(display_name(user))
            .str(id(application))
            .str(display_name(application))
            .str(id(conversation))
            .str(display_name(conversation))
            .str(conversation.and_then(|c| c.conversation_identity_type.as_deref()))
            .str(id(tag))
            .str(display_name(tag));
        row.end_row();
    }
}

/// Returns the `body_text` column of a record as Graph sent it: the readable text of its body,
/// with Adaptive Card text in place of attachment markers (see [`text`]).
pub fn derive_body_text(record: &Interaction) -> Option<String> {
    let body = record.body.as_ref()?;
    let cards = text::Cards::new(present(&record.attachments).map(|(_, attachment)| attachment));
    text::body_text(body.content_type.as_deref(), body.content.as_deref()?, &cards)
}

struct Key<'a> {
    user_id: &'a str,
    session_id: &'a str,
    interaction_id: &'a str,
}

impl Key<'_> {
    fn append(&self, row: &mut TableBuilder) {
        row.str(Some(self.user_id)).str(Some(self.session_id)).str(Some(self.interaction_id));
    }
}

fn id(identity: Option<&Identity>) -> Option<&str> {
    identity.and_then(|identity| identity.id.as_deref())
}

fn display_name(identity: Option<&Identity>) -> Option<&str> {
    identity.and_then(|identity| identity.display_name.as_deref())
}

/// Yields the non-null elements of a list with their position in the source list, so the
/// `ordinal` of a child row always points back at the same element of the Graph record.
/// A null element produces no row; it has no fields to store.
fn present<T>(list: &Option<Vec<Option<T>>>) -> impl Iterator<Item = (i32, &T)> {
    list.iter().flatten().enumerate().filter_map(|(index, item)| Some((i32::try_from(index).ok()?, item.as_ref()?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use serde_json::value::RawValue;

    fn record(json: &str) -> Interaction {
        let raw: Box<RawValue> = serde_json::from_str(json).expect("valid JSON");
        crate::graph::model::parse_interaction(&raw).expect("valid record")
    }

    #[test]
    fn child_rows_keep_source_ordinals() {
        let interaction = record(
            r#"{"id":"7","sessionId":"s","createdDateTime":"2025-01-01T00:00:00Z",
                "links":[{"linkUrl":"a"},null,{"linkUrl":"c"}]}"#,
        );
        let mut flattener = Flattener::default();
        flattener.push("u1", &interaction);
        let batches = flattener.finish().expect("batches");

        let (_, links) = batches.iter().find(|(t, _)| *t == Table::Links).expect("links batch");
        let ordinals = links.column(3).as_primitive::<arrow::datatypes::Int32Type>();
        assert_eq!(ordinals.values().to_vec(), vec![0, 2]);
        let urls = links.column(4).as_string::<i32>();
        assert_eq!(urls.value(1), "c");
    }

    #[test]
    fn empty_tables_are_skipped() {
        let interaction = record(r#"{"id":"7","sessionId":"s","createdDateTime":"2025-01-01T00:00:00Z"}"#);
        let mut flattener = Flattener::default();
        flattener.push("u1", &interaction);
        let batches = flattener.finish().expect("batches");

        assert_eq!(batches.len(), 1);
        let (table, batch) = &batches[0];
        assert_eq!(*table, Table::Interactions);
        assert_eq!(batch.num_rows(), 1);
        assert!(batch.column(3).is_null(0), "request_id is null");
    }

    #[test]
    fn finish_resets_the_buffers() {
        let interaction = record(r#"{"id":"7","sessionId":"s","createdDateTime":"2025-01-01T00:00:00Z"}"#);
        let mut flattener = Flattener::default();
        flattener.push("u1", &interaction);
        flattener.finish().expect("first batches");

        assert_eq!(flattener.rows(Table::Interactions), 0);
        assert_eq!(flattener.bytes(), 0);
        assert!(flattener.finish().expect("second batches").is_empty());
    }
}
