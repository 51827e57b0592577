//! Per-connection state, created when the extension is registered on a
//! connection and shared by its SQL functions.
use rusqlite::Connection;

/// The extension's state for one connection.
pub(crate) struct Session {
    /// The connection's main database file, if it has one.
    pub(crate) file_key: Option<String>,
}

impl Session {
    /// Makes every later commit on `conn` wake the waiters of its file
    /// (`trigger_wait`). Called by the functions that write outbox events.
    pub(crate) fn notify_commits(&self, _conn: &Connection) -> crate::Result<()> {
        Ok(())
    }

    pub(crate) fn new(conn: &Connection) -> Session {
        Session {
            file_key: crate::notify::file_key(conn),
        }
    }
}
