//! The library used from Rust with the program's own SQLite, no `.so`:
//! `cargo test --no-default-features --features bundled --test rust_api`.
#![cfg(not(feature = "loadable"))]

use rusqlite::Connection;

fn seed() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    sqlite_triggers::register(&conn).unwrap();
    conn.execute_batch(include_str!("../examples/seed_schema.sql"))
        .unwrap();
    conn
}

#[test]
fn register_adds_the_sql_functions_to_a_rust_connection() {
    let conn = seed();
    let version: String = conn
        .query_row("SELECT trigger_version()", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let packs: i64 = conn
        .query_row("SELECT count(*) FROM trigger_packs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(packs, 2);
    // Registering twice is harmless.
    sqlite_triggers::register(&conn).unwrap();
}

#[test]
fn the_seed_story_through_the_rust_api() {
    let conn = seed();
    let summary = sqlite_triggers::packs::install(&conn, "default_album", None).unwrap();
    assert!(
        summary.starts_with("installed default_album 1.0.0"),
        "{summary}"
    );
    sqlite_triggers::packs::install(&conn, "task_state", Some(r#"{"set_state": 7}"#)).unwrap();
    conn.execute_batch(
        "INSERT INTO user (id, name) VALUES (1, 'alice');
         INSERT INTO obs (id, name) VALUES (1, 'o');
         INSERT INTO task (obs_id, name) VALUES (1, 't');
         UPDATE obs SET state = 2;",
    )
    .unwrap();
    let album: String = conn
        .query_row("SELECT album_name FROM album", [], |r| r.get(0))
        .unwrap();
    assert_eq!(album, "default album");
    let state: i64 = conn
        .query_row("SELECT state FROM task", [], |r| r.get(0))
        .unwrap();
    assert_eq!(state, 7);
    let listed = sqlite_triggers::packs::list(&conn).unwrap();
    assert!(listed.iter().all(|p| p.installed));
    sqlite_triggers::packs::uninstall(&conn, "task_state").unwrap();
    sqlite_triggers::packs::uninstall(&conn, "default_album").unwrap();
    let left: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type IN ('trigger', 'index')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
}

#[test]
fn errors_are_typed_and_readable() {
    let conn = seed();
    let err = sqlite_triggers::packs::install(&conn, "task_state", Some("{")).unwrap_err();
    assert!(matches!(err, sqlite_triggers::Error::Invalid(_)));
    assert!(
        err.to_string().starts_with("params_json is not valid JSON"),
        "{err}"
    );
    let err = sqlite_triggers::packs::install(
        &conn,
        "task_state",
        Some(r#"{"trigger_name": "sqlite_x"}"#),
    )
    .unwrap_err();
    assert!(matches!(err, sqlite_triggers::Error::Sqlite { .. }));
    assert!(
        err.to_string().contains("reserved for internal use"),
        "{err}"
    );
}

#[test]
fn the_outbox_through_sql_on_a_rust_connection() {
    let dir = std::env::temp_dir().join(format!("sqlite-triggers-outbox-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.db");
    let _ = std::fs::remove_file(&path);
    let conn = Connection::open(&path).unwrap();
    sqlite_triggers::register(&conn).unwrap();
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT)")
        .unwrap();
    conn.query_row("SELECT trigger_capture('t')", [], |r| r.get::<_, String>(0))
        .unwrap();
    conn.execute("INSERT INTO t (x) VALUES ('a')", []).unwrap();
    // A second connection commits while the first waits for it.
    let writer = std::thread::spawn({
        let path = path.clone();
        move || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            let other = Connection::open(path).unwrap();
            other.execute("INSERT INTO t (x) VALUES ('b')", []).unwrap();
        }
    });
    let seq: Option<i64> = conn
        .query_row("SELECT trigger_wait(1, 10000)", [], |r| r.get(0))
        .unwrap();
    writer.join().unwrap();
    assert_eq!(seq, Some(2));
    let payload: String = conn
        .query_row(
            "SELECT payload FROM trigger_outbox WHERE seq = 2",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        payload,
        r#"{"op":"insert","key":2,"old":null,"new":{"id":2,"x":"b"}}"#
    );
    drop(conn);
    std::fs::remove_dir_all(&dir).unwrap();
}
