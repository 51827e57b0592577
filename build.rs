//! Embeds every pack template under `sql/packs/` into the library, so the
//! `.sql` files stay the one source of truth for the packs' SQL.
use std::{env, fs, path::Path};

fn main() {
    keep_loaded();
    let dir = Path::new("sql/packs");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("sql/packs/ is readable")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .map(|p| {
            println!("cargo:rerun-if-changed={}", p.display());
            p.file_stem().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    names.sort();
    let root = env::var("CARGO_MANIFEST_DIR").unwrap();
    let mut out = String::from("/// Pack templates as (file stem, text), sorted by name.\npub(crate) const TEMPLATES: &[(&str, &str)] = &[\n");
    for name in &names {
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            format!("{root}/sql/packs/{name}.sql")
        ));
    }
    out.push_str("];\n");
    let dest = Path::new(&env::var("OUT_DIR").unwrap()).join("pack_templates.rs");
    fs::write(dest, out).expect("write pack_templates.rs");
}

/// Marks the extension's `.so` as never unloaded (`-z nodelete`). SQLite
/// closes an extension's library with the last connection that loaded it;
/// without this, every close would unload the library and lose what its
/// process-wide statics own (the parsed packs, the table-function modules,
/// the per-file commit signals), so a program that opens, loads and closes
/// connections in a loop would leak on every cycle
/// (tests/hosts/memory/run.sh measures it). The linker flag only applies to
/// the cdylib; the rlib and test binaries are unaffected.
fn keep_loaded() {
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "android" || os.ends_with("bsd") || os == "solaris" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
}
