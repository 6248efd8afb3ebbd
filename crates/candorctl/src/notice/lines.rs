//! Where each key of a TOML notice stands, so that a validation problem on
//! `compensation.currency` can say "line 17".

use std::collections::HashMap;

use toml::de::{DeTable, DeValue};

/// Key path (`data_classes[1].description`) → 1-based line.
#[derive(Debug, Default)]
pub struct KeyLines {
    lines: HashMap<String, usize>,
}

impl KeyLines {
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        let table = DeTable::parse(text)?;
        let mut lines = HashMap::new();
        walk_table(text, "", table.get_ref(), &mut lines);
        Ok(Self { lines })
    }

    /// The line of `field`, or of its closest enclosing key that has one
    /// (`data_classes[0].data_class` falls back to `data_classes[0]`, then
    /// `data_classes`).
    pub fn line_of(&self, field: &str) -> Option<usize> {
        let mut path = field.to_owned();
        loop {
            if let Some(line) = self.lines.get(&path) {
                return Some(*line);
            }
            let cut = path.rfind(['.', '['])?;
            path.truncate(cut);
        }
    }
}

fn walk_table(text: &str, prefix: &str, table: &DeTable<'_>, lines: &mut HashMap<String, usize>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        lines.insert(path.clone(), line_at(text, key.span().start));
        walk_value(text, &path, value.get_ref(), lines);
    }
}

fn walk_value(text: &str, path: &str, value: &DeValue<'_>, lines: &mut HashMap<String, usize>) {
    match value {
        DeValue::Table(table) => walk_table(text, path, table, lines),
        DeValue::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{index}]");
                lines.insert(item_path.clone(), line_at(text, item.span().start));
                walk_value(text, &item_path, item.get_ref(), lines);
            }
        }
        _ => {}
    }
}

/// The 1-based line of byte `offset` in `text`.
pub fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|byte| **byte == b'\n')
        .count()
        + 1
}
