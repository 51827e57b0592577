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
    assert_eq!(packs, 10);
    // Registering twice is harmless.
    sqlite_triggers::register(&conn).unwrap();
}

#[test]
fn the_seed_story_through_the_rust_api() {
    let conn = seed();
    let summary = sqlite_triggers::packs::install(&conn, "default_album", None).unwrap();
    assert!(
        summary.starts_with("installed default_album 1.1.0"),
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
    let installed: Vec<&str> = listed
        .iter()
        .filter(|p| p.installed)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(installed, ["default_album", "task_state"]);
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
fn upgrades_and_packs_of_ones_own_through_the_rust_api() {
    let conn = seed();
    // default_album 1.0.0, as release 0.1.0's plain file installs it.
    conn.execute_batch(include_str!("fixtures/default_album-1.0.0.sql"))
        .unwrap();
    let row = |conn: &rusqlite::Connection| {
        sqlite_triggers::packs::list(conn)
            .unwrap()
            .into_iter()
            .find(|p| p.name == "default_album")
            .unwrap()
    };
    assert!(row(&conn).upgradable);
    assert_eq!(
        sqlite_triggers::packs::upgrade(&conn, "default_album").unwrap(),
        "upgraded default_album from 1.0.0 to 1.1.0: kept index user_default_album_idx, \
         replaced trigger user_default_album"
    );
    assert_eq!(row(&conn).installed_version.as_deref(), Some("1.1.0"));

    let template = "-- pack: obs_log\n-- version: 1\n\
        -- param: t | ident | \"obs\" | the table\n-- param: n | ident | \"obs_log\" | the trigger\n\
        -- requires: t |\n-- object: trigger | n | t\n--\n\
        CREATE TRIGGER IF NOT EXISTS main.{{n}} AFTER INSERT ON {{t}} BEGIN SELECT 1; END;\n";
    assert_eq!(
        sqlite_triggers::packs::register_pack(&conn, template).unwrap(),
        "registered obs_log 1: trigger obs_log on obs"
    );
    sqlite_triggers::packs::install(&conn, "obs_log", None).unwrap();
    assert!(row(&conn).installed);
    let err = sqlite_triggers::packs::unregister_pack(&conn, "obs_log").unwrap_err();
    assert!(
        err.to_string()
            .contains("run trigger_uninstall('obs_log') first"),
        "{err}"
    );
    sqlite_triggers::packs::uninstall(&conn, "obs_log").unwrap();
    sqlite_triggers::packs::unregister_pack(&conn, "obs_log").unwrap();
}

#[test]
fn errors_are_typed_and_readable() {
    let conn = seed();
    let err = sqlite_triggers::packs::install(&conn, "task_state", Some("{")).unwrap_err();
    assert!(matches!(err, sqlite_triggers::Error::Invalid(_)));
    assert!(
        err.to_string()
            .starts_with("argument 2 (params_json) is not valid JSON"),
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

mod listeners {
    use std::sync::{Arc, Mutex};

    use rusqlite::types::Value;
    use rusqlite::Connection;
    use sqlite_triggers::{on_change, remove_listener, Change, Op};

    type Log = Arc<Mutex<Vec<(String, Vec<(Op, i64)>)>>>;

    /// A closure that records each batch it gets under `label`.
    fn recorder(log: &Log, label: &str) -> impl FnMut(&[Change]) + Send + 'static {
        let (log, label) = (Arc::clone(log), label.to_string());
        move |batch| {
            let batch = batch.iter().map(|c| (c.op, c.rowid)).collect();
            log.lock().unwrap().push((label.clone(), batch));
        }
    }

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE user(id INTEGER PRIMARY KEY, name TEXT); CREATE TABLE other(x);",
        )
        .unwrap();
        conn
    }

    #[test]
    fn several_closures_per_table_get_each_committed_batch_once() {
        let conn = db();
        let log = Log::default();
        on_change(&conn, "user", &[Op::Insert], recorder(&log, "inserts")).unwrap();
        on_change(
            &conn,
            "USER",
            &[Op::Update, Op::Delete],
            recorder(&log, "others"),
        )
        .unwrap();
        conn.execute_batch(
            "BEGIN;
             INSERT INTO user VALUES (1, 'a');
             INSERT INTO other VALUES (1);
             UPDATE user SET name = 'b' WHERE id = 1;
             INSERT INTO user VALUES (2, 'c');
             DELETE FROM user WHERE id = 1;
             COMMIT;",
        )
        .unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            vec![
                (
                    "inserts".to_string(),
                    vec![(Op::Insert, 1), (Op::Insert, 2)]
                ),
                ("others".to_string(), vec![(Op::Update, 1), (Op::Delete, 1)]),
            ]
        );
    }

    #[test]
    fn rolled_back_work_never_reaches_a_closure() {
        let conn = db();
        conn.execute_batch("CREATE UNIQUE INDEX user_name ON user(name)")
            .unwrap();
        let log = Log::default();
        on_change(
            &conn,
            "user",
            &[Op::Insert, Op::Update, Op::Delete],
            recorder(&log, "all"),
        )
        .unwrap();
        conn.execute_batch("BEGIN; INSERT INTO user VALUES (1, 'a'); ROLLBACK;")
            .unwrap();
        conn.execute_batch(
            "SAVEPOINT outer_sp; INSERT INTO user VALUES (2, 'b'); ROLLBACK TO outer_sp; RELEASE outer_sp;",
        )
        .unwrap();
        conn.execute_batch("BEGIN; INSERT INTO user VALUES (3, 'c')")
            .unwrap();
        // A statement that fails halfway inside the transaction.
        let failed = conn.execute("INSERT INTO user VALUES (4, 'd'), (5, 'c')", []);
        assert!(failed.is_err());
        conn.execute_batch(
            "SAVEPOINT s; UPDATE user SET name = 'x'; ROLLBACK TO s; RELEASE s; COMMIT;",
        )
        .unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            vec![("all".to_string(), vec![(Op::Insert, 3)])]
        );
    }

    #[test]
    fn removing_the_last_listener_takes_the_hooks_off() {
        let conn = db();
        let log = Log::default();
        let id = on_change(&conn, "user", &[Op::Insert], recorder(&log, "a")).unwrap();
        let temp = |conn: &Connection| -> i64 {
            conn.query_row("SELECT count(*) FROM temp.sqlite_master", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(temp(&conn), 4); // the guard triggers
        remove_listener(&conn, id).unwrap();
        assert_eq!(temp(&conn), 0);
        conn.execute("INSERT INTO user VALUES (1, 'a')", [])
            .unwrap();
        assert!(log.lock().unwrap().is_empty());
        let again = remove_listener(&conn, id).unwrap_err();
        assert!(again.to_string().starts_with("no listener"), "{again}");
        // Now the host may use its own update hook, and it is called.
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let host = std::sync::Arc::clone(&seen);
        conn.update_hook(Some(
            move |_: rusqlite::hooks::Action, _: &str, table: &str, rowid: i64| {
                host.lock().unwrap().push((table.to_string(), rowid));
            },
        ))
        .unwrap();
        conn.execute("INSERT INTO user VALUES (2, 'b')", [])
            .unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![("user".to_string(), 2)]);
        assert!(log.lock().unwrap().is_empty());
    }

    #[test]
    fn a_host_hook_is_reported_not_silently_replaced() {
        let conn = db();
        conn.commit_hook(Some(|| false)).unwrap();
        let err = on_change(&conn, "user", &[Op::Insert], |_| {}).unwrap_err();
        assert!(
            err.to_string()
                .contains("the host application had set its own commit hook"),
            "{err}"
        );
        // Nothing half-done: no guard triggers stay behind.
        let temp: i64 = conn
            .query_row("SELECT count(*) FROM temp.sqlite_master", [], |r| r.get(0))
            .unwrap();
        assert_eq!(temp, 0);
        // SQLite shows a host's hook only by replacing it, so the error says
        // it was cleared; set again, the host's hook is called on commit and
        // the refused closure never is.
        let commits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = std::sync::Arc::clone(&commits);
        conn.commit_hook(Some(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            false
        }))
        .unwrap();
        conn.execute("INSERT INTO user VALUES (3, 'c')", [])
            .unwrap();
        assert_eq!(commits.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn bad_tables_are_refused() {
        let conn = db();
        conn.execute_batch("CREATE TABLE wr(k PRIMARY KEY) WITHOUT ROWID")
            .unwrap();
        let err = on_change(&conn, "missing", &[Op::Insert], |_| {}).unwrap_err();
        assert_eq!(err.to_string(), "no table \"missing\" in the main database");
        let err = on_change(&conn, "wr", &[Op::Insert], |_| {}).unwrap_err();
        assert!(err.to_string().contains("WITHOUT ROWID"), "{err}");
        let err = on_change(&conn, "user", &[], |_| {}).unwrap_err();
        assert_eq!(err.to_string(), "on_change needs at least one Op");
    }

    #[test]
    fn handlers_run_inside_the_transaction_and_roll_back_with_it() {
        let conn = db();
        conn.execute_batch("CREATE TABLE note(user_id, text)")
            .unwrap();
        let calls = Arc::new(Mutex::new(0));
        let counted = Arc::clone(&calls);
        sqlite_triggers::register_handler(&conn, "greet", move |args: &[Value]| {
            *counted.lock().unwrap() += 1;
            match args {
                [Value::Integer(id), Value::Text(name)] => {
                    Ok(Value::Text(format!("hi {name} #{id}")))
                }
                other => Err(format!("unexpected arguments {other:?}")),
            }
        })
        .unwrap();
        conn.execute_batch(
            "CREATE TRIGGER user_greet AFTER INSERT ON user BEGIN
               INSERT INTO note VALUES (NEW.id, trigger_call('greet', NEW.id, NEW.name));
             END;
             INSERT INTO user VALUES (1, 'ada');
             BEGIN; INSERT INTO user VALUES (2, 'bob'); ROLLBACK;",
        )
        .unwrap();
        let notes: Vec<String> = conn
            .prepare("SELECT text FROM note")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(notes, vec!["hi ada #1"]);
        assert_eq!(*calls.lock().unwrap(), 2);
        // An error from the handler aborts the statement that fired it.
        let err = conn
            .execute("INSERT INTO user VALUES (3, NULL)", [])
            .unwrap_err();
        assert!(
            err.to_string().contains(
                "trigger_call(): argument 1 (name): handler greet failed: unexpected arguments"
            ),
            "{err}"
        );
        sqlite_triggers::remove_handler(&conn, "greet").unwrap();
        let err = conn
            .execute("INSERT INTO user VALUES (4, 'x')", [])
            .unwrap_err();
        assert!(
            err.to_string().contains(
                "trigger_call(): argument 1 (name): no handler named greet on this connection"
            ),
            "{err}"
        );
    }
}

#[test]
fn listeners_work_on_a_rust_connection() {
    let conn = seed();
    let name: String = conn
        .query_row(
            "SELECT trigger_listen('user', 'after_insert', \
             'INSERT INTO album (user_id, album_name) VALUES (NEW.id, ''first'')')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(name.starts_with("listen_user_after_insert_"), "{name}");
    conn.execute("INSERT INTO user (id, name) VALUES (3, 'c')", [])
        .unwrap();
    let album: (i64, String) = conn
        .query_row("SELECT user_id, album_name FROM album", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(album, (3, "first".to_string()));
    let listed: String = conn
        .query_row("SELECT name FROM trigger_listeners", [], |r| r.get(0))
        .unwrap();
    assert_eq!(listed, name);
    let err = conn
        .query_row("SELECT trigger_unlisten('user')", [], |r| {
            r.get::<_, String>(0)
        })
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("trigger_unlisten(): argument 1 (name): \"user\" is a table, not a listener"),
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

#[test]
fn a_closure_never_gets_a_change_that_cannot_be_proven_committed() {
    use std::sync::{Arc, Mutex};
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE TABLE t(x)").unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    sqlite_triggers::on_change(&conn, "t", &[sqlite_triggers::Op::Insert], move |batch| {
        sink.lock().unwrap().extend(batch.iter().map(|c| c.rowid));
    })
    .unwrap();
    // Dropped and created again: the table's guard went with it, so a
    // ROLLBACK TO inside a transaction would go unheard.
    conn.execute_batch(
        "DROP TABLE t; CREATE TABLE t(x);
         BEGIN; INSERT INTO t VALUES ('kept'); SAVEPOINT s; INSERT INTO t VALUES ('undone');
         ROLLBACK TO s; RELEASE s; COMMIT;",
    )
    .unwrap();
    assert_eq!(*seen.lock().unwrap(), Vec::<i64>::new());
    // Autocommit changes are proven: only a whole rollback undoes them.
    conn.execute_batch("INSERT INTO t VALUES ('auto')").unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![2]);
}

#[test]
fn a_connection_whose_emit_statement_is_cached_closes_cleanly() {
    // trigger_emit keeps its INSERT prepared between calls; Connection::close
    // (sqlite3_close) must still succeed, also mid-transaction and with
    // hooks set, and a second connection must never get the first one's
    // statement.
    let dir = std::env::temp_dir().join(format!("st-close-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, mid_transaction) in [false, true].into_iter().enumerate() {
        let path = dir.join(format!("{i}.db"));
        let _ = std::fs::remove_file(&path);
        let conn = Connection::open(&path).unwrap();
        sqlite_triggers::register(&conn).unwrap();
        conn.execute_batch(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, v);
             CREATE TRIGGER t_emit AFTER INSERT ON t BEGIN SELECT trigger_emit('t', new.v); END;
             SELECT trigger_watch('t');
             INSERT INTO t(v) VALUES (1), (2);",
        )
        .unwrap();
        let other = Connection::open_in_memory().unwrap();
        sqlite_triggers::register(&other).unwrap();
        other
            .execute_batch("SELECT trigger_emit('other', 'x')")
            .unwrap();
        if mid_transaction {
            conn.execute_batch("BEGIN; INSERT INTO t(v) VALUES (3);")
                .unwrap();
        }
        conn.close().map_err(|(_, e)| e).unwrap();
        let seqs: Vec<(i64, String)> = other
            .prepare("SELECT seq, channel FROM trigger_outbox")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(seqs, vec![(1, "other".to_string())]);
        other.close().map_err(|(_, e)| e).unwrap();
        let again = Connection::open(&path).unwrap();
        let payloads: Vec<i64> = again
            .prepare("SELECT payload FROM trigger_outbox ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(payloads, vec![1, 2]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_pack_installed_per_table_through_the_rust_api() {
    let conn = seed();
    conn.execute_batch(
        "ALTER TABLE obs ADD COLUMN updated_at TEXT; ALTER TABLE task ADD COLUMN updated_at INTEGER;",
    )
    .unwrap();
    use sqlite_triggers::packs;
    packs::install(&conn, "touch", Some(r#"{"table": "obs"}"#)).unwrap();
    packs::install(
        &conn,
        "touch",
        Some(r#"{"table": "task", "format": "unix"}"#),
    )
    .unwrap();
    conn.execute_batch(
        "INSERT INTO obs (id, name) VALUES (1, 'o'); INSERT INTO task (obs_id, name) VALUES (1, 't');
         UPDATE obs SET name = 'p'; UPDATE task SET name = 'u';",
    )
    .unwrap();
    let kinds: (String, String) = conn
        .query_row(
            "SELECT (SELECT typeof(updated_at) FROM obs), (SELECT typeof(updated_at) FROM task)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(kinds, ("text".to_string(), "integer".to_string()));
    let touch = packs::list(&conn)
        .unwrap()
        .into_iter()
        .find(|p| p.name == "touch")
        .unwrap();
    assert_eq!(
        (touch.installs, touch.instance.as_deref()),
        (2, Some("table"))
    );
    let e = packs::uninstall(&conn, "touch").unwrap_err().to_string();
    assert!(e.contains("is installed 2 times (obs, task)"), "{e}");
    assert_eq!(
        packs::uninstall_instance(&conn, "touch", Some("OBS")).unwrap(),
        "uninstalled touch (obs) 1.0.0: trigger obs_touch"
    );
    assert!(packs::upgrade_instance(&conn, "touch", None)
        .unwrap()
        .contains("touch (task) 1.0.0 is installed, the newest version"));
    packs::uninstall(&conn, "touch").unwrap();
}
