//! Packs of your own: templates registered with `trigger_pack_register`,
//! stored in the main database's [`TEMPLATES_TABLE`], so that every
//! connection and every host that opens the file sees them. Each version a
//! team registers stays there: the newest one installs, the older ones
//! recognise, upgrade and uninstall what they installed. The table is
//! created by the first registration and dropped with the last pack
//! unregistered.
use std::io::Read;

use rusqlite::{Connection, OptionalExtension};

use super::template::{version_key, Template};
use super::Stored;
use crate::schema::table_exists;
use crate::sql::{quote_text, shorten};
use crate::{Error, Result};

/// The table of registered templates: one row per pack and version.
pub const TEMPLATES_TABLE: &str = "trigger_pack_templates";

/// The largest template, as text or as a file: 1 MiB.
pub const MAX_TEMPLATE_BYTES: usize = 1 << 20;

/// A template's text, and the file it was read from, if any.
pub struct Source {
    pub text: String,
    pub file: Option<String>,
}

impl Source {
    /// How an error about the template names it: nothing for text given
    /// as it is, `file NAME, ` for a file.
    pub fn label(&self) -> String {
        self.file
            .as_ref()
            .map_or_else(String::new, |f| format!("file {}, ", shorten(f)))
    }
}

/// What `trigger_pack_register`'s argument holds: the template itself when
/// it starts with `--` (a template's first line is its `-- pack:` line) or
/// holds a line break (no path does); otherwise the path of a file holding
/// it, read as the process reads files (relative to its working directory).
pub fn read_source(arg: &str) -> Result<Source> {
    if arg.starts_with("--") || arg.contains(['\n', '\r']) {
        check_size(arg.len(), "the template")?;
        return Ok(Source {
            text: arg.to_string(),
            file: None,
        });
    }
    let text = read_file(arg)?;
    Ok(Source {
        text,
        file: Some(arg.to_string()),
    })
}

fn check_size(bytes: usize, what: &str) -> Result<()> {
    if bytes > MAX_TEMPLATE_BYTES {
        return Err(Error::invalid(format!(
            "{what} is {bytes} bytes, more than the {MAX_TEMPLATE_BYTES} (1 MiB) a template may \
             have; split it into several packs"
        )));
    }
    Ok(())
}

/// A template file's text. Only a regular file is opened (never a FIFO or
/// a device, which could block or never end), at most one byte past the
/// limit is read, and nothing of a file that is not a template (its first
/// line is not `-- pack: NAME`) shows in an error.
fn read_file(path: &str) -> Result<String> {
    let cannot = |e: std::io::Error| {
        Error::invalid(format!(
            "cannot read file {} ({e}); give the path of a template file, or the template's \
             text, which starts with its '-- pack: NAME' line",
            shorten(path)
        ))
    };
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if !meta.is_file() {
        return Err(Error::invalid(format!(
            "{} is not a regular file; give the path of a template file, or the template's \
             text (starting with its '-- pack: NAME' line)",
            shorten(path)
        )));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(MAX_TEMPLATE_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(cannot)?;
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    let not_a_template = || {
        Error::invalid(format!(
            "file {} is not a pack template: a template is UTF-8 text whose first line is \
             '-- pack: NAME'",
            shorten(path)
        ))
    };
    if !bytes.starts_with(b"-- pack:") {
        return Err(not_a_template());
    }
    // At most one byte past the limit was read: the size is the file's.
    let size = bytes
        .len()
        .max(usize::try_from(meta.len()).unwrap_or(usize::MAX));
    check_size(size, &format!("file {}", shorten(path)))?;
    String::from_utf8(bytes.to_vec()).map_err(|_| not_a_template())
}

/// The statements that store `text` as version `t.version` of pack
/// `t.name`, creating the table first; they change nothing where that
/// version is stored already. Registering runs them, and the SQL of a
/// registered pack (`trigger_pack_sql`) ends with them, so that a database
/// given that SQL alone knows the template too.
pub fn store_sql(t: &Template, text: &str) -> Result<String> {
    Ok(format!(
        "CREATE TABLE IF NOT EXISTS main.{TEMPLATES_TABLE} (\n  \
           pack TEXT NOT NULL,\n  \
           version TEXT NOT NULL,\n  \
           template TEXT NOT NULL,\n  \
           registered_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),\n  \
           PRIMARY KEY (pack, version)\n\
         );\n\
         INSERT INTO main.{TEMPLATES_TABLE} (pack, version, template)\n  \
           SELECT {name}, {version}, {text}\n  \
           WHERE NOT EXISTS (SELECT 1 FROM main.{TEMPLATES_TABLE} WHERE pack = {name} AND version = {version});\n",
        name = quote_text(&t.name)?,
        version = quote_text(&t.version)?,
        text = quote_text(text)?,
    ))
}

fn reading(e: rusqlite::Error) -> Error {
    Error::sqlite(format!("reading {TEMPLATES_TABLE}"))(e)
}

/// The versions of pack `name` registered in the main database (a row
/// changed by hand to hold another value than text is no version).
pub fn versions(conn: &Connection, name: &str) -> Result<Vec<String>> {
    texts(
        conn,
        &format!(
            "SELECT version FROM main.{TEMPLATES_TABLE} \
             WHERE pack = ?1 AND typeof(version) = 'text'"
        ),
        &[name],
    )
}

/// The names of the registered packs, sorted (a row changed by hand to
/// hold another value than text names none).
pub fn names(conn: &Connection) -> Result<Vec<String>> {
    texts(
        conn,
        &format!(
            "SELECT DISTINCT pack FROM main.{TEMPLATES_TABLE} \
             WHERE typeof(pack) = 'text' ORDER BY pack"
        ),
        &[],
    )
}

/// The columns of [`TEMPLATES_TABLE`] the registry reads.
const COLUMNS: [&str; 3] = ["pack", "version", "template"];

/// What keeps the templates table from being the registry's, when
/// something of its name is there: a table made by something else, or
/// changed by hand, or a view. It then holds no registered pack for any
/// reader (the doctor names it), and registering is refused.
pub fn shape_problem(conn: &Connection) -> Result<Option<String>> {
    crate::schema::shape_problem(conn, TEMPLATES_TABLE, "registered packs are kept", &COLUMNS)
}

/// Whether the templates table exists with the columns the registry reads.
fn readable(conn: &Connection) -> Result<bool> {
    Ok(table_exists(conn, TEMPLATES_TABLE)? && shape_problem(conn)?.is_none())
}

/// The first column of a query of the templates table; nothing when the
/// table does not exist or is not the registry's shape.
fn texts(conn: &Connection, sql: &str, params: &[&str]) -> Result<Vec<String>> {
    if !readable(conn)? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare(sql).map_err(reading)?;
    // Text that is not UTF-8 is no name or version, as a value that is not
    // text.
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params), |r| Stored::read(r, 0))
        .map_err(reading)?;
    let rows = rows
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(reading)?;
    Ok(rows
        .into_iter()
        .filter_map(|v| match v {
            Stored::Text(text) => Some(text),
            _ => None,
        })
        .collect())
}

/// The text stored for version `version` of pack `name`; an error saying
/// the row is damaged when it holds another value than text.
pub fn text(conn: &Connection, name: &str, version: &str) -> Result<Option<String>> {
    if !readable(conn)? {
        return Ok(None);
    }
    let stored = conn
        .query_row(
            &format!(
                "SELECT template FROM main.{TEMPLATES_TABLE} WHERE pack = ?1 AND version = ?2"
            ),
            [name, version],
            |r| Stored::read(r, 0),
        )
        .optional()
        .map_err(reading)?;
    match stored {
        None => Ok(None),
        Some(Stored::Text(text)) => Ok(Some(text)),
        Some(other) => Err(damaged(name, version, &super::not_text("template", &other))),
    }
}

/// The error of a registered template that cannot be read as the row's
/// pack and version.
fn damaged(name: &str, version: &str, why: &str) -> Error {
    Error::invalid(format!(
        "the registered template of pack {} {} in {TEMPLATES_TABLE} is damaged: {why}; \
         delete its row and register it again, or trigger_pack_unregister({}) when it is not \
         installed",
        shorten(name),
        shorten(version),
        quote_text(name).unwrap_or_default()
    ))
}

/// The stored version of pack `name` equal to `version` (`1.0` equals
/// `1.0.0`), parsed, with its text.
pub fn version(conn: &Connection, name: &str, version: &str) -> Result<Option<(Template, String)>> {
    let key = version_key(version);
    let Some(stored) = versions(conn, name)?
        .into_iter()
        .find(|v| key.is_some() && version_key(v) == key)
    else {
        return Ok(None);
    };
    load(conn, name, &stored)
}

/// The newest registered version of pack `name`, parsed, with its text.
pub fn newest(conn: &Connection, name: &str) -> Result<Option<(Template, String)>> {
    let Some(stored) = versions(conn, name)?
        .into_iter()
        .max_by_key(|v| version_key(v))
    else {
        return Ok(None);
    };
    load(conn, name, &stored)
}

fn load(conn: &Connection, name: &str, version: &str) -> Result<Option<(Template, String)>> {
    let Some(text) = text(conn, name, version)? else {
        return Ok(None);
    };
    let damaged = |why: String| damaged(name, version, &why);
    let t = Template::parse(&text).map_err(|e| damaged(e.to_string()))?;
    if t.name != name || t.version != version {
        return Err(damaged(format!(
            "its text is pack {} {}",
            shorten(&t.name),
            shorten(&t.version)
        )));
    }
    Ok(Some((t, text)))
}

/// Deletes every version of pack `name`, and the table with the last pack.
pub fn remove(conn: &Connection, name: &str) -> Result<()> {
    let writing = |e| Error::sqlite(format!("updating {TEMPLATES_TABLE}"))(e);
    conn.execute(
        &format!("DELETE FROM main.{TEMPLATES_TABLE} WHERE pack = ?1"),
        [name],
    )
    .map_err(writing)?;
    // Only an empty table goes: a row damaged by hand (its pack not text)
    // names no pack, but it is still a row the user may want back.
    let left: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM main.{TEMPLATES_TABLE}"),
            [],
            |r| r.get(0),
        )
        .map_err(reading)?;
    if left == 0 {
        conn.execute_batch(&format!("DROP TABLE main.{TEMPLATES_TABLE}"))
            .map_err(Error::sqlite(format!("dropping {TEMPLATES_TABLE}")))?;
    }
    Ok(())
}
