//! Embeds every pack template under `sql/packs/` (and the older versions
//! under `sql/packs/older/`) into the library, so the `.sql` files stay the
//! one source of truth for the packs' SQL.
use std::{env, fs, path::Path};

fn main() {
    keep_loaded();
    let root = env::var("CARGO_MANIFEST_DIR").unwrap();
    let mut out = String::new();
    // sql/packs/<pack>.sql: each pack's current version, which installs.
    embed(&mut out, &root, "sql/packs", "TEMPLATES", "Pack templates");
    // sql/packs/older/<pack>-<version>.sql: older versions, kept only to
    // recognise and upgrade what they installed.
    embed(
        &mut out,
        &root,
        "sql/packs/older",
        "OLDER_TEMPLATES",
        "Older versions of the packs",
    );
    let dest = Path::new(&env::var("OUT_DIR").unwrap()).join("pack_templates.rs");
    fs::write(dest, out).expect("write pack_templates.rs");
}

/// Appends `const NAME: &[(&str, &str)]`, the `.sql` files of `dir` as
/// (file stem, text), sorted by name.
fn embed(out: &mut String, root: &str, dir: &str, name: &str, what: &str) {
    let path = Path::new(dir);
    println!("cargo:rerun-if-changed={}", path.display());
    let mut stems: Vec<String> = fs::read_dir(path)
        .unwrap_or_else(|e| panic!("{dir}/ is readable: {e}"))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .map(|p| {
            println!("cargo:rerun-if-changed={}", p.display());
            p.file_stem().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    stems.sort();
    out.push_str(&format!(
        "/// {what} as (file stem, text), sorted by name.\npub(crate) const {name}: &[(&str, &str)] = &[\n"
    ));
    for stem in &stems {
        out.push_str(&format!(
            "    ({stem:?}, include_str!({:?})),\n",
            format!("{root}/{dir}/{stem}.sql")
        ));
    }
    out.push_str("];\n");
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
