//! TEMPORARY SHIM (replaced by the real implementation).
#![allow(missing_docs)]
#[derive(Debug, thiserror::Error)]
#[error("format error: {0}")]
pub struct FormatError(String);
pub enum Format {
    Table,
    Json,
    Template(Template),
    TableTemplate(Template),
}
pub struct Template(String);
pub fn parse_format(text: &str) -> Result<Format, FormatError> {
    Ok(match text {
        "" | "table" => Format::Table,
        "json" => Format::Json,
        t => Format::Template(Template(t.to_owned())),
    })
}
impl Template {
    pub fn parse(text: &str) -> Result<Template, FormatError> {
        Ok(Template(text.to_owned()))
    }
    pub fn render(&self, item: &serde_json::Value) -> Result<String, FormatError> {
        Ok(format!("{item}{}", self.0.len()))
    }
}
pub fn render_list(
    _f: &Format,
    _d: &str,
    items: &[serde_json::Value],
    _h: &dyn Fn(&str) -> Option<String>,
) -> Result<String, FormatError> {
    Ok(items.iter().map(|i| format!("{i}\n")).collect())
}
