//! Exports that leave Mergecast as files: the people × teams table (`store::people`), as CSV or
//! a JSON array, and the org's own data (every table `store::org_data` lists: one JSON
//! document, or one CSV per table), written to the CLI's output or an admin download. Shared by
//! both so the two cannot drift. Rows are encoded as they arrive from a Postgres cursor and
//! handed on in chunks of about [`CHUNK`] bytes through a bounded channel, so memory stays flat
//! whatever the size of the org (the benchmarks `bench/export_people.rs` and
//! `bench/export_org.rs` check it).

use bytes::Bytes;
use futures::StreamExt;
use sqlx::PgPool;
use thiserror::Error;
use tokio::sync::mpsc;

use crate::store::org_data::{self, Export, ORG_TABLES, OrgTable};
use crate::store::people::{self, COLUMNS, PersonTeamRow};

/// Bytes gathered before a chunk is handed on.
pub const CHUNK: usize = 32 * 1024;

/// Chunks in flight between the database reader and the writer.
const IN_FLIGHT: usize = 4;

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// RFC 4180 CSV with a header line; empty cells for absent values.
    Csv,
    /// One JSON array of objects (keys as the CSV header; absent values are `null`).
    Json,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

#[derive(Debug, Error)]
pub enum ExportError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("encoding a row: {0}")]
    Csv(#[from] csv::Error),
    #[error("encoding a row: {0}")]
    Json(#[from] serde_json::Error),
    /// The reader went away (the download was cancelled).
    #[error("the export's reader went away")]
    Closed,
}

/// Encodes rows into a buffer, taken out in chunks (CSV through a `csv::Writer` over its own
/// buffer, swapped for a fresh one at each chunk; JSON straight into `json`).
struct Encoder {
    format: Format,
    csv: csv::Writer<Vec<u8>>,
    json: Vec<u8>,
    rows: u64,
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::with_capacity(CHUNK * 2))
}

impl Encoder {
    fn new(format: Format) -> Self {
        Self {
            format,
            csv: csv_writer(),
            json: Vec::new(),
            rows: 0,
        }
    }

    fn start(&mut self) -> Result<(), ExportError> {
        match self.format {
            Format::Csv => self.csv.write_record(COLUMNS)?,
            Format::Json => self.json.push(b'['),
        }
        Ok(())
    }

    fn row(&mut self, row: &PersonTeamRow) -> Result<(), ExportError> {
        match self.format {
            Format::Csv => self.csv.serialize(row)?,
            Format::Json => {
                let sep: &[u8] = if self.rows == 0 { b"\n" } else { b",\n" };
                self.json.extend_from_slice(sep);
                serde_json::to_writer(&mut self.json, row)?;
            }
        }
        self.rows += 1;
        Ok(())
    }

    fn finish(&mut self) {
        if self.format == Format::Json {
            self.json.extend_from_slice(b"\n]\n");
        }
    }

    /// What is buffered, once at least `min` bytes are (`min` 0: whatever is left).
    fn take(&mut self, min: usize) -> Result<Option<Bytes>, ExportError> {
        let buf = match self.format {
            Format::Json if self.json.len() >= min.max(1) => std::mem::take(&mut self.json),
            Format::Csv if self.csv.get_ref().len() >= min.max(1) || min == 0 => {
                let full = std::mem::replace(&mut self.csv, csv_writer());
                full.into_inner()
                    .map_err(|e| csv::Error::from(e.into_error()))?
            }
            _ => return Ok(None),
        };
        Ok((!buf.is_empty()).then(|| Bytes::from(buf)))
    }
}

/// Writes the people × teams table of `installation` into `tx`, chunk by chunk; returns the
/// number of rows, or `None` when it failed. A failure is sent down `tx` as the last item (so a
/// download ends as an error, not as a short file that looks complete) and logged.
pub async fn people(
    pool: PgPool,
    installation: i64,
    format: Format,
    tx: mpsc::Sender<Result<Bytes, ExportError>>,
) -> Option<u64> {
    match produce(&pool, installation, format, &tx).await {
        Ok(rows) => Some(rows),
        Err(ExportError::Closed) => None,
        Err(e) => {
            tracing::warn!(installation, error = %e, "people export failed");
            let _ = tx.send(Err(e)).await;
            None
        }
    }
}

async fn produce(
    pool: &PgPool,
    installation: i64,
    format: Format,
    tx: &mpsc::Sender<Result<Bytes, ExportError>>,
) -> Result<u64, ExportError> {
    let send =
        |chunk: Bytes| async move { tx.send(Ok(chunk)).await.map_err(|_| ExportError::Closed) };
    let mut enc = Encoder::new(format);
    enc.start()?;
    let mut rows = people::people_teams(pool, installation);
    while let Some(row) = rows.next().await {
        enc.row(&row?)?;
        if let Some(chunk) = enc.take(CHUNK)? {
            send(chunk).await?;
        }
    }
    enc.finish();
    if let Some(chunk) = enc.take(0)? {
        send(chunk).await?;
    }
    Ok(enc.rows)
}

/// Starts [`people`] on its own task; the receiver yields the chunks (at most a few in flight).
pub fn spawn_people(
    pool: PgPool,
    installation: i64,
    format: Format,
) -> (
    mpsc::Receiver<Result<Bytes, ExportError>>,
    tokio::task::JoinHandle<Option<u64>>,
) {
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let task = tokio::spawn(people(pool, installation, format, tx));
    (rx, task)
}

/// The org's data download: what it holds.
#[derive(Debug, Clone, Copy)]
pub enum OrgData {
    /// Every exported table in one JSON document (see [`ORG_DATA_FORMAT`]).
    Json,
    /// One table as RFC 4180 CSV: a header of its exported columns, one line per row.
    Csv(&'static OrgTable),
}

impl OrgData {
    pub fn content_type(self) -> &'static str {
        match self {
            OrgData::Json => Format::Json.content_type(),
            OrgData::Csv(_) => Format::Csv.content_type(),
        }
    }

    /// The download's file name.
    pub fn file_name(self, installation: i64) -> String {
        match self {
            OrgData::Json => format!("mergecast-org-{installation}.json"),
            OrgData::Csv(t) => format!("mergecast-org-{installation}-{}.csv", t.name),
        }
    }
}

/// The `format` member of the org data JSON document. The document is
/// `{"format": …, "installation_id": N, "exported_at": "RFC 3339", "tables": {"<table>": [row,
/// …], …}, "not_exported": {"<table>": "why", …}}`; each row is an object keyed by column (times
/// RFC 3339, JSONB and array columns as JSON, absent values `null`).
pub const ORG_DATA_FORMAT: &str = "mergecast-org-data/1";

/// The tables the download holds, parents first (the reverse of the purge order).
pub fn exported_tables() -> impl Iterator<Item = &'static OrgTable> {
    ORG_TABLES
        .iter()
        .rev()
        .filter(|t| !matches!(t.export, Export::No(_)))
}

/// One CSV cell from a JSON value: empty for null, text as is, anything else as JSON.
pub fn csv_cell(value: Option<&serde_json::Value>) -> String {
    match value {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Writes the org's data of `installation` into `tx` chunk by chunk; returns the number of
/// rows, or `None` when it failed (the failure is sent down `tx` as the last item and logged).
pub async fn org_data(
    pool: PgPool,
    installation: i64,
    what: OrgData,
    tx: mpsc::Sender<Result<Bytes, ExportError>>,
) -> Option<u64> {
    match produce_org(&pool, installation, what, &tx).await {
        Ok(rows) => Some(rows),
        Err(ExportError::Closed) => None,
        Err(e) => {
            tracing::warn!(installation, error = %e, "org data export failed");
            let _ = tx.send(Err(e)).await;
            None
        }
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

async fn produce_org(
    pool: &PgPool,
    installation: i64,
    what: OrgData,
    tx: &mpsc::Sender<Result<Bytes, ExportError>>,
) -> Result<u64, ExportError> {
    let send =
        |chunk: Bytes| async move { tx.send(Ok(chunk)).await.map_err(|_| ExportError::Closed) };
    let mut snapshot = org_data::read_snapshot(pool).await?;
    let mut rows = 0u64;
    match what {
        OrgData::Json => {
            let mut buf: Vec<u8> = Vec::with_capacity(CHUNK * 2);
            buf.extend_from_slice(
                format!(
                    "{{\"format\":{},\"installation_id\":{installation},\"exported_at\":{},\"tables\":{{",
                    json_string(ORG_DATA_FORMAT),
                    json_string(&chrono::Utc::now().to_rfc3339()),
                )
                .as_bytes(),
            );
            for (i, table) in exported_tables().enumerate() {
                let sep = if i == 0 { "\n" } else { ",\n" };
                buf.extend_from_slice(format!("{sep}{}:[", json_string(table.name)).as_bytes());
                let mut first = true;
                let mut stream = org_data::export_rows(&mut *snapshot, table, installation);
                while let Some(row) = stream.next().await {
                    buf.extend_from_slice(if first { b"\n" } else { b",\n" });
                    buf.extend_from_slice(row?.as_bytes());
                    first = false;
                    rows += 1;
                    if buf.len() >= CHUNK {
                        send(Bytes::from(std::mem::take(&mut buf))).await?;
                    }
                }
                buf.extend_from_slice(if first { b"]" } else { b"\n]" });
            }
            buf.extend_from_slice(b"\n},\"not_exported\":{");
            let skipped = ORG_TABLES.iter().filter_map(|t| match t.export {
                Export::No(why) => Some((t.name, why)),
                _ => None,
            });
            for (i, (name, why)) in skipped.enumerate() {
                let sep = if i == 0 { "" } else { "," };
                buf.extend_from_slice(
                    format!("{sep}{}:{}", json_string(name), json_string(why)).as_bytes(),
                );
            }
            buf.extend_from_slice(b"}}\n");
            send(Bytes::from(buf)).await?;
        }
        OrgData::Csv(table) => {
            let columns = org_data::export_columns(&mut *snapshot, table).await?;
            let mut csv = csv_writer();
            csv.write_record(&columns)?;
            let mut stream = org_data::export_rows(&mut *snapshot, table, installation);
            while let Some(row) = stream.next().await {
                let row: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&row?)?;
                csv.write_record(columns.iter().map(|c| csv_cell(row.get(c))))?;
                rows += 1;
                if csv.get_ref().len() >= CHUNK {
                    let full = std::mem::replace(&mut csv, csv_writer());
                    let bytes = full
                        .into_inner()
                        .map_err(|e| csv::Error::from(e.into_error()))?;
                    send(Bytes::from(bytes)).await?;
                }
            }
            let bytes = csv
                .into_inner()
                .map_err(|e| csv::Error::from(e.into_error()))?;
            if !bytes.is_empty() {
                send(Bytes::from(bytes)).await?;
            }
        }
    }
    snapshot.commit().await?;
    Ok(rows)
}

/// Starts [`org_data`] on its own task; the receiver yields the chunks (at most a few in flight).
pub fn spawn_org_data(
    pool: PgPool,
    installation: i64,
    what: OrgData,
) -> (
    mpsc::Receiver<Result<Bytes, ExportError>>,
    tokio::task::JoinHandle<Option<u64>>,
) {
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let task = tokio::spawn(org_data(pool, installation, what, tx));
    (rx, task)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(login: &str, name: Option<&str>) -> PersonTeamRow {
        PersonTeamRow {
            installation_id: 1,
            org: "org".into(),
            member_id: 7,
            login: login.into(),
            name: name.map(Into::into),
            email: None,
            member_role: Some("member".into()),
            member_active: true,
            team_id: None,
            team_slug: None,
            team_name: None,
            parent_team_slug: None,
            team_role: None,
            team_joined_at: None,
            copilot_plan_type: None,
            copilot_assigned_at: None,
            copilot_last_activity_at: None,
            copilot_last_activity_editor: None,
            copilot_pending_cancellation_date: None,
            copilot_assigning_team: None,
        }
    }

    fn encode(format: Format, rows: &[PersonTeamRow]) -> String {
        let mut enc = Encoder::new(format);
        enc.start().unwrap();
        for r in rows {
            enc.row(r).unwrap();
        }
        enc.finish();
        String::from_utf8(enc.take(0).unwrap().unwrap().to_vec()).unwrap()
    }

    #[test]
    fn csv_quotes_and_has_the_header() {
        let out = encode(Format::Csv, &[row("a", Some("Doe, \"J\""))]);
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some(COLUMNS.join(",").as_str()));
        assert!(out.contains("\"Doe, \"\"J\"\"\""), "{out}");
    }

    #[test]
    fn json_is_one_array_even_when_empty() {
        let empty: Vec<PersonTeamRow> = serde_json::from_str(&encode(Format::Json, &[])).unwrap();
        assert!(empty.is_empty());
        let rows = vec![row("a", None), row("b", Some("B"))];
        let back: Vec<PersonTeamRow> = serde_json::from_str(&encode(Format::Json, &rows)).unwrap();
        assert_eq!(back, rows);
    }
}
