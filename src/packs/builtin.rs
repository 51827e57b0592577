//! The built-in packs: the templates of `sql/packs/`, one per pack (its
//! current version, which installs), and of `sql/packs/older/`, the
//! versions they replaced, kept only so that what those installed is
//! recognised, upgraded and uninstalled. Both are embedded at build time.
use crate::ffi::PerProcess;

use super::template::{version_key, Template};

include!(concat!(env!("OUT_DIR"), "/pack_templates.rs"));

fn parse_all(dir: &str, files: &[(&str, &str)]) -> Vec<Template> {
    files
        .iter()
        .map(|(file, text)| {
            // The crate's tests parse every template, so this cannot fail
            // in a released build.
            Template::parse(text)
                .unwrap_or_else(|e| panic!("invalid pack template {dir}/{file}.sql, {e}"))
        })
        .collect()
}

/// Every built-in pack at its current version, sorted by name: parsed once
/// per process (not in a `OnceLock`, which a child that `fork()` made while
/// another thread was parsing would wait on forever: see
/// [`crate::ffi::PerProcess`]).
pub fn catalog() -> &'static [Template] {
    static CATALOG: PerProcess<Vec<Template>> = PerProcess::new();
    CATALOG.get(|| parse_all("sql/packs", TEMPLATES))
}

/// The older versions of the built-in packs.
fn older() -> &'static [Template] {
    static OLDER: PerProcess<Vec<Template>> = PerProcess::new();
    OLDER.get(|| parse_all("sql/packs/older", OLDER_TEMPLATES))
}

/// The built-in pack `name` at its current version.
pub fn current(name: &str) -> Option<&'static Template> {
    catalog().iter().find(|t| t.name == name)
}

/// Whether `name` is a built-in pack's, in any letter case: a registered
/// pack may not take it.
pub fn taken(name: &str) -> Option<&'static str> {
    catalog()
        .iter()
        .find(|t| t.name.to_lowercase() == name.to_lowercase())
        .map(|t| t.name.as_str())
}

/// Version `version` of the built-in pack `name`, current or older.
pub fn version(name: &str, version: &str) -> Option<&'static Template> {
    let key = version_key(version)?;
    catalog()
        .iter()
        .chain(older())
        .find(|t| t.name == name && version_key(&t.version).as_ref() == Some(&key))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every older version is named `<pack>-<version>.sql`, belongs to a
    /// current pack and is older than it.
    #[test]
    fn older_versions_are_older_versions_of_current_packs() {
        assert!(!older().is_empty());
        for (file, t) in OLDER_TEMPLATES.iter().map(|(f, _)| f).zip(older()) {
            assert_eq!(*file, format!("{}-{}", t.name, t.version));
            let now = current(&t.name).expect("a current pack");
            assert!(
                version_key(&t.version) < version_key(&now.version),
                "{file}"
            );
        }
    }
}
