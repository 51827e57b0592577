//! One thing `trigger_doctor()` reports: an object the extension installed
//! that no longer works as installed, and the call that repairs it.

/// A problem found by a feature's check.
pub(crate) struct Problem {
    /// What kind of object: `capture`, `listener`, `pack`, `watch`.
    pub kind: &'static str,
    /// The object: a table, a trigger, a pack.
    pub object: String,
    /// What is wrong, in one sentence.
    pub problem: String,
    /// The SQL (or the step) that repairs it.
    pub repair: String,
}
