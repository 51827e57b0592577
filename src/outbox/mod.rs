//! SQL functions: (none yet).
use crate::functions::SqlFunction;

pub(crate) const FUNCTIONS: &[SqlFunction] = &[];
