"""trigger_doctor and installed packs, in Python's sqlite3: nothing for
packs installed as made (an older version that could be upgraded
included); for each way a pack breaks (an object dropped, replaced, moved
by a rename or lost in a table rebuild by sqlite-utils, a table or column
renamed, a template or a version the database no longer knows, a damaged
install record) the exact row, then the repair it names, run, leaves the
doctor empty and the pack working. The doctor only reads: it answers in a
read-only transaction and on a read-only database file."""
import json
import sqlite3

import pytest
import sqlite_utils

from conftest import EXT, ROOT, SEED_SCHEMA, connect, needs_shell, scalar, schema, shell

ALBUM_COUNT = str(ROOT / "examples" / "packs" / "album_count.sql")
SCHEMA = SEED_SCHEMA + "ALTER TABLE user ADD COLUMN albums INTEGER NOT NULL DEFAULT 0;"

# The install records, as trigger_install writes them.
TASK_STATE = ('{"index_name":"update_task_state_idx","obs_key":"id","obs_state":"state","obs_table":"obs",'
              '"set_state":2,"task_obs_fk":"obs_id","task_state":"state","task_table":"task",'
              '"trigger_name":"update_task_state","when_state":2}')
DEFAULT_ALBUM = ('{"album_name":"default album","album_name_column":"album_name","album_table":"album",'
                 '"album_user_fk":"user_id","index_name":"user_default_album_idx",'
                 '"trigger_name":"user_default_album","user_key":"id","user_table":"user"}')
COUNT = ('{"album_table":"album","album_user_fk":"user_id","count_column":"albums",'
         '"index_name":"album_count_idx","trigger_name":"album_count","user_key":"id","user_table":"user"}')

REBUILT = "(dropped by hand, or with its table, as a rebuild that copies the table into a new one does)"
CANNOT = "cannot be checked, upgraded or uninstalled"
AS_NOW = "'<params with the names as they are now>'"


def doctor(conn):
    return conn.execute("SELECT kind, object, problem, repair FROM trigger_doctor").fetchall()


def run(conn, repair, **fill):
    """Runs a repair: its SQL as the row gives it, with each placeholder
    (`'<...>'`, the one part a row cannot know) replaced by `fill`."""
    for placeholder, value in fill.items():
        assert placeholder in repair, (placeholder, repair)
        repair = repair.replace(placeholder, value)
    assert "<" not in repair, repair
    conn.executescript(repair)


def install(pack, params):
    return f"SELECT trigger_install('{pack}', '{params}')"


def reinstall(pack, params):
    return f"SELECT trigger_uninstall('{pack}'); SELECT trigger_install('{pack}', {params})"


def missing(what, on, fires=True):
    return f"{what} on {on} is missing {REBUILT}, so " + (
        "it no longer fires" if fires else "the lookups it served scan the table")


@pytest.fixture
def conn():
    """The seed schema with both built-in packs and a registered one installed."""
    conn = connect()
    conn.executescript(SCHEMA)
    conn.execute("SELECT trigger_install('task_state')")
    conn.execute("SELECT trigger_install('default_album')")
    conn.execute("SELECT trigger_pack_register(?)", (ALBUM_COUNT,))
    conn.execute("SELECT trigger_install('album_count')")
    assert doctor(conn) == []
    yield conn
    conn.close()


def task_state_works(conn, obs="obs"):
    """An obs set to state 2 sets its tasks to 2."""
    conn.execute(f"INSERT INTO {obs} (id, name) VALUES (100, 'o')")
    conn.execute("INSERT INTO task (id, obs_id, name) VALUES (100, 100, 't')")
    conn.execute(f"UPDATE {obs} SET state = 2 WHERE id = 100")
    return scalar(conn, "SELECT state FROM task WHERE id = 100") == 2


def default_album_works(conn, user="user"):
    conn.execute(f"INSERT INTO {user} (id, name) VALUES (100, 'u')")
    return conn.execute("SELECT album_name FROM album WHERE user_id = 100").fetchall() == [("default album",)]


def album_count_works(conn, column="albums"):
    before = scalar(conn, f"SELECT {column} FROM user WHERE id = 100")
    conn.execute("INSERT INTO album (user_id, album_name) VALUES (100, 'x')")
    return scalar(conn, f"SELECT {column} FROM user WHERE id = 100") == before + 1


def all_work(conn):
    return default_album_works(conn) and album_count_works(conn) and task_state_works(conn)


def test_a_dropped_trigger_is_recreated_by_installing_with_the_recorded_params(conn):
    conn.execute("DROP TRIGGER update_task_state")
    conn.execute("DROP TRIGGER album_count")
    assert doctor(conn) == [
        ("pack", "album_count", missing("trigger album_count", "album"), install("album_count", COUNT)),
        ("pack", "task_state", missing("trigger update_task_state", "obs"), install("task_state", TASK_STATE)),
    ]
    # Installing with the recorded parameters recreates what is missing,
    # for a built-in and a registered pack alike.
    assert scalar(conn, install("task_state", TASK_STATE)) == \
        "repaired task_state 1.0.0: recreated trigger update_task_state"
    assert scalar(conn, doctor(conn)[0][3]) == "repaired album_count 1.0.0: recreated trigger album_count"
    assert doctor(conn) == []
    assert all_work(conn)


def test_a_dropped_index_is_recreated(conn):
    conn.execute("DROP INDEX user_default_album_idx")
    rows = doctor(conn)
    assert rows == [("pack", "default_album", missing("index user_default_album_idx", "album", fires=False),
                     install("default_album", DEFAULT_ALBUM))]
    run(conn, rows[0][3])
    assert doctor(conn) == []
    assert scalar(conn, "SELECT count(*) FROM sqlite_master WHERE name = 'user_default_album_idx'") == 1
    assert all_work(conn)


def test_a_trigger_replaced_by_other_sql_is_dropped_then_installed(conn):
    conn.executescript("""
        DROP TRIGGER user_default_album;
        CREATE TRIGGER user_default_album AFTER INSERT ON user BEGIN SELECT 1; END;
    """)
    rows = doctor(conn)
    assert rows == [(
        "pack", "default_album",
        "trigger user_default_album on user is not the trigger pack default_album created (parameter "
        "trigger_name; its SQL is not the pack's: replaced or edited since), so the pack's trigger is not "
        "there, and uninstalling or upgrading the pack stops at it",
        'DROP TRIGGER main."user_default_album"; ' + install("default_album", DEFAULT_ALBUM))]
    run(conn, rows[0][3])
    assert doctor(conn) == []
    assert all_work(conn)


def test_a_renamed_table_is_reinstalled_with_the_names_as_they_are_now(conn):
    conn.execute("ALTER TABLE obs RENAME TO observation")
    # Uninstall drops only the SQL the pack created: the repair drops the
    # trigger the rename rewrote first, by name.
    repair = 'DROP TRIGGER main."update_task_state"; ' + reinstall("task_state", AS_NOW)
    rows = doctor(conn)
    assert rows == [
        ("pack", "task_state",
         'pack task_state needs a table (parameter obs_table): no table "obs" in the main database; it was '
         "renamed or dropped since the pack was installed", repair),
        ("pack", "task_state",
         "trigger update_task_state was moved to observation by a rename: it still works, but no longer as the "
         "install records it, so the pack can be neither repaired nor upgraded in place", repair),
    ]
    run(conn, repair, **{AS_NOW: """'{"obs_table": "observation"}'"""})
    assert doctor(conn) == []
    assert task_state_works(conn, obs="observation")
    assert default_album_works(conn) and album_count_works(conn)


def test_a_renamed_column_is_reinstalled_with_the_names_as_they_are_now(conn):
    conn.execute("ALTER TABLE user RENAME COLUMN albums TO album_total")
    repair = 'DROP TRIGGER main."album_count"; ' + reinstall("album_count", AS_NOW)
    rows = doctor(conn)
    assert rows == [
        ("pack", "album_count",
         'pack album_count needs column "albums" (parameter count_column) in table "user", which has no such '
         "column; it was renamed or dropped since the pack was installed", repair),
        ("pack", "album_count",
         "trigger album_count was changed by a column rename: it still works, but no longer as the install "
         "records it, so the pack can be neither repaired nor upgraded in place", repair),
    ]
    run(conn, repair, **{AS_NOW: """'{"count_column": "album_total"}'"""})
    assert doctor(conn) == []
    assert default_album_works(conn) and album_count_works(conn, column="album_total")
    assert task_state_works(conn)


def test_a_table_rebuilt_by_sqlite_utils_transform_loses_its_triggers(conn):
    db = sqlite_utils.Database(conn)
    # transform() creates a new table, copies the rows, drops the old table
    # (and its triggers with it) and renames the new one into its place; it
    # recreates the table's indexes, so album_count's index stays the pack's.
    db["obs"].transform(defaults={"name": "unnamed"})
    db["album"].transform(defaults={"album_name": "untitled"})
    db["user"].transform(column_order=["name", "id"])
    rows = doctor(conn)
    assert rows == [
        ("pack", "album_count", missing("trigger album_count", "album"), install("album_count", COUNT)),
        ("pack", "default_album", missing("trigger user_default_album", "user"),
         install("default_album", DEFAULT_ALBUM)),
        ("pack", "task_state", missing("trigger update_task_state", "obs"), install("task_state", TASK_STATE)),
    ]
    for row in rows:
        run(conn, row[3])
    assert doctor(conn) == []
    assert all_work(conn)


def test_a_rebuild_that_changes_a_columns_type_reinstalls_with_values_typed_anew(conn):
    db = sqlite_utils.Database(conn)
    db["obs"].transform(types={"state": str})
    repair = reinstall("task_state", f"'{TASK_STATE}'")
    assert doctor(conn) == [
        ("pack", "task_state",
         "parameter when_state holds 2, typed for column state of obs when the pack was installed; the column's "
         "type changed since, and it takes '2' now, so the pack's SQL compares or assigns a value of another "
         "type than the column's", repair),
        ("pack", "task_state", missing("trigger update_task_state", "obs"), repair),
    ]
    run(conn, repair)
    assert doctor(conn) == []
    assert scalar(conn, "SELECT params->>'$.when_state' FROM trigger_pack_installs WHERE pack = 'task_state'") == "2"
    assert all_work(conn)


def test_a_value_that_no_longer_fits_its_column_is_reinstalled_with_another(conn):
    db = sqlite_utils.Database(conn)
    conn.execute("SELECT trigger_uninstall('task_state')")
    db["obs"].transform(types={"state": str})
    conn.execute("""SELECT trigger_install('task_state', '{"when_state": "done"}')""")
    assert doctor(conn) == []
    db["obs"].transform(types={"state": int})
    placeholder = "'<params with values that fit the columns as they are now>'"
    repair = reinstall("task_state", placeholder)
    assert doctor(conn) == [
        ("pack", "task_state",
         "a column's type changed since the pack was installed: parameter when_state of pack task_state: "
         '"done" for column "state" of "obs" (INTEGER affinity), which is not a number, so it would only match '
         "text stored in that column, never a number; pass a number", repair),
        ("pack", "task_state", missing("trigger update_task_state", "obs"), repair),
    ]
    run(conn, repair, **{placeholder: """'{"when_state": 2}'"""})
    assert doctor(conn) == []
    assert all_work(conn)


def touch(table):
    """The recorded parameters of touch on `table` as the repair passes them:
    without `counted`, which install works out from the table (and keeps as
    recorded when left out)."""
    return ('{"column":"updated_at","format":"iso","ignore":[],"key":"rowid",'
            f'"table":"{table}","trigger_name":"{table}_touch"}}')


def test_a_pack_installed_once_per_table_is_checked_and_repaired_per_install():
    conn = connect()
    for table in ("post", "comment"):
        conn.execute(f"CREATE TABLE {table}(id INTEGER PRIMARY KEY, body TEXT, updated_at TEXT)")
        conn.execute("SELECT trigger_install('touch', json_object('table', ?))", (table,))
        conn.execute(f"INSERT INTO {table} (id, body) VALUES (1, 'a')")
    assert doctor(conn) == []
    conn.execute("DROP TRIGGER post_touch")
    conn.execute("ALTER TABLE comment RENAME TO remark")
    repair = ('DROP TRIGGER main."comment_touch"; '
              "SELECT trigger_uninstall('touch', 'comment'); SELECT trigger_install('touch', " + AS_NOW + ")")
    rows = doctor(conn)
    assert rows == [
        ("pack", "touch (comment)",
         'pack touch needs a table (parameter table): no table "comment" in the main database; it was renamed '
         "or dropped since the pack was installed", repair),
        ("pack", "touch (comment)",
         "trigger comment_touch was moved to remark by a rename: it still works, but no longer as the install "
         "records it, so the pack can be neither repaired nor upgraded in place", repair),
        ("pack", "touch (post)", missing("trigger post_touch", "post"), install("touch", touch("post"))),
    ]
    run(conn, rows[2][3])
    run(conn, repair, **{AS_NOW: """'{"table": "remark"}'"""})
    assert doctor(conn) == []
    for table in ("post", "remark"):
        conn.execute(f"UPDATE {table} SET body = 'b'")
        assert scalar(conn, f"SELECT updated_at IS NOT NULL FROM {table}") == 1
    # A record whose key is not the one its parameters make.
    conn.execute("UPDATE trigger_pack_installs SET pack = 'touch:other' WHERE pack = 'touch:post'")
    rows = doctor(conn)
    assert rows == [(
        "pack", "touch (other)",
        'the install record of pack touch (other) is damaged: its parameters make the key "touch:post", not '
        f'"touch:other"; until it is repaired, the pack\'s triggers and indexes {CANNOT}',
        "UPDATE main.trigger_pack_installs SET pack = 'touch:post' WHERE pack = 'touch:other'")]
    run(conn, rows[0][3])
    assert doctor(conn) == []


@pytest.mark.parametrize("change", [
    "DROP INDEX shelf_code",
    # A rebuild that keeps the index but loses NOT NULL.
    "CREATE TABLE shelf_new(id INTEGER PRIMARY KEY, code TEXT, updated_at TEXT);"
    "INSERT INTO shelf_new SELECT * FROM shelf; DROP TABLE shelf; ALTER TABLE shelf_new RENAME TO shelf;"
    "CREATE UNIQUE INDEX shelf_code ON shelf(code)",
])
def test_a_key_that_no_longer_tells_the_rows_apart_is_reported(change):
    conn = connect()
    conn.executescript("""
        CREATE TABLE shelf(id INTEGER PRIMARY KEY, code TEXT NOT NULL, updated_at TEXT);
        CREATE UNIQUE INDEX shelf_code ON shelf(code);
        INSERT INTO shelf(code) VALUES ('a'), ('b');
    """)
    conn.execute("""SELECT trigger_install('touch', '{"table": "shelf", "key": "code"}')""")
    assert doctor(conn) == []
    conn.executescript(change)
    if "DROP TABLE" in change:
        # Recreating the trigger the rebuild dropped is refused: the key no
        # longer tells the rows apart.
        with pytest.raises(sqlite3.OperationalError) as e:
            conn.execute("""SELECT trigger_install('touch', '{"table": "shelf", "key": "code"}')""")
        assert str(e.value).endswith(
            "the table changed since, so nothing was created; call trigger_uninstall('touch', 'shelf') then "
            "install it with a key that tells the rows apart")
        why = ("but it may hold NULL, which any number of rows may share, and the pack would miss the rows "
               "whose key is NULL; pass the rowid, an INTEGER PRIMARY KEY or a column declared NOT NULL")
    else:
        why = ("the rowid, the PRIMARY KEY, or a column a UNIQUE constraint or index covers alone; it is none "
               "of those, so rows that share a value of it would be taken for one another; pass such a column")
    placeholder = "'<params whose key tells the rows apart>'"
    repair = f"SELECT trigger_uninstall('touch', 'shelf'); SELECT trigger_install('touch', {placeholder})"
    rows = doctor(conn)
    expected = [(
        "pack", "touch (shelf)",
        f'pack touch needs column "code" (parameter key) to tell the rows of table "shelf" apart'
        f'{":" if "DROP INDEX" in change else ","} {why}; the table changed since the pack was installed (a '
        "unique index on that column alone, the column NOT NULL, makes it one again)", repair)]
    if "DROP TABLE" in change:
        # Every row names the one repair that works: not recreating the
        # trigger on a key a fresh install refuses.
        expected.append(("pack", "touch (shelf)", missing("trigger shelf_touch", "shelf"), repair))
    assert rows == expected
    run(conn, rows[0][3], **{placeholder: """'{"table": "shelf"}'"""})
    assert doctor(conn) == []
    conn.execute("UPDATE shelf SET code = 'c' WHERE code = 'a'")
    assert scalar(conn, "SELECT count(*) FROM shelf WHERE updated_at IS NOT NULL") == 1


def test_a_pack_table_dropped_or_taken_is_reported_and_never_dropped_for_you():
    conn = connect()
    conn.executescript("""
        CREATE TABLE post(id INTEGER PRIMARY KEY, comment_count INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE comment(id INTEGER PRIMARY KEY, post_id INTEGER);
        INSERT INTO post(id) VALUES (1);
    """)
    conn.execute("SELECT trigger_install('counter_cache')")
    # The recorded parameters but `conflicts` and `conflict_columns`, which
    # install works out from the table's constraints and refuses to be given.
    given = json.loads(scalar(conn, "SELECT params FROM trigger_pack_installs"))
    assert given["conflict_columns"] == ["id", "rowid", "_rowid_", "oid"]
    del given["conflicts"], given["conflict_columns"]
    repair = f"SELECT trigger_install('counter_cache', '{json.dumps(given, separators=(',', ':'), sort_keys=True)}')"
    assert doctor(conn) == []
    conn.execute("DROP TABLE comment_comment_count_replaced")
    rows = doctor(conn)
    assert rows == [(
        "pack", "counter_cache (comment_comment_count)",
        "scratch table comment_comment_count_replaced is missing (dropped by hand), so the writes that fire "
        "the pack's triggers that use it fail", repair)]
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        conn.execute("INSERT INTO comment(post_id) VALUES (1)")
    run(conn, rows[0][3])
    assert doctor(conn) == []
    # A table of its name that is not the pack's: the repair leaves it to you.
    conn.executescript("DROP TABLE comment_comment_count_replaced; CREATE TABLE comment_comment_count_replaced(x);")
    rows = doctor(conn)
    assert rows == [(
        "pack", "counter_cache (comment_comment_count)",
        "table comment_comment_count_replaced is not the scratch table pack counter_cache (comment_comment_count) "
        "created (parameter replaced_table; its SQL is not the pack's: replaced or edited since), so the pack's "
        "scratch table is not there, and uninstalling or upgrading the pack stops at it",
        "rename or drop table comment_comment_count_replaced yourself (it is not the pack's), then " + repair)]
    # Its rows are not worth keeping here (renaming it would fail: SQLite
    # checks the pack's triggers that name it).
    conn.execute("DROP TABLE comment_comment_count_replaced")
    run(conn, rows[0][3].split(", then ")[1])
    assert doctor(conn) == []
    conn.execute("INSERT INTO comment(post_id) VALUES (1)")
    assert scalar(conn, "SELECT comment_count FROM post WHERE id = 1") == 1


def test_a_registered_pack_whose_template_rows_were_deleted_is_registered_again(conn):
    conn.execute("DELETE FROM trigger_pack_templates")
    rows = doctor(conn)
    assert rows == [(
        "pack", "album_count",
        "pack album_count 1.0.0 is installed, but this extension has no built-in pack album_count and "
        f"trigger_pack_templates holds no template of it, so its triggers and indexes {CANNOT}",
        "register its template again: SELECT trigger_pack_register('<the template file of album_count 1.0.0>'); "
        "or use the sqlite-triggers release that has pack album_count")]
    # Without its template the pack cannot be uninstalled either.
    with pytest.raises(sqlite3.OperationalError, match="unknown pack"):
        conn.execute("SELECT trigger_uninstall('album_count')")
    run(conn, rows[0][3].split(": ", 1)[1].split("; or ")[0],
        **{"<the template file of album_count 1.0.0>": ALBUM_COUNT})
    assert doctor(conn) == []
    assert all_work(conn)


def test_a_damaged_install_record_is_put_back(conn):
    conn.execute("UPDATE trigger_pack_installs SET params = '[1]' WHERE pack = 'task_state'")
    assert conn.execute("SELECT description, installed, installed_params FROM trigger_packs "
                        "WHERE name = 'task_state'").fetchall() == [(
        TASK_STATE_DOES + " (the install record of pack task_state is damaged: params_json must be a JSON object, "
        "got an array; trigger_doctor gives the repair)", 1, "[1]")]
    rows = doctor(conn)
    # The objects are the pack's with its defaults: those are the parameters.
    assert rows == [(
        "pack", "task_state",
        "the install record of pack task_state is damaged: params_json must be a JSON object, got an array; "
        f"until it is repaired, the pack's triggers and indexes {CANNOT}",
        f"UPDATE main.trigger_pack_installs SET params = '{TASK_STATE}' WHERE pack = 'task_state'")]
    with pytest.raises(sqlite3.OperationalError, match="damaged"):
        conn.execute("SELECT trigger_uninstall('task_state')")
    run(conn, rows[0][3])
    assert doctor(conn) == []
    assert all_work(conn)


def test_a_damaged_record_of_other_parameters_names_the_update_to_make(conn):
    conn.execute("SELECT trigger_uninstall('default_album')")
    conn.execute("""SELECT trigger_install('default_album', '{"album_name": "first"}')""")
    recorded = scalar(conn, "SELECT params FROM trigger_pack_installs WHERE pack = 'default_album'")
    conn.execute("UPDATE trigger_pack_installs SET params = json_set(params, '$.colour', 'red') "
                 "WHERE pack = 'default_album'")
    placeholder = "'<the JSON object of the parameters it was installed with>'"
    rows = doctor(conn)
    assert rows == [(
        "pack", "default_album",
        'the install record of pack default_album is damaged: unknown parameter "colour" for pack default_album '
        "(parameters: user_table, user_key, album_table, album_user_fk, album_name_column, album_name, "
        f"trigger_name, index_name); until it is repaired, the pack's triggers and indexes {CANNOT}",
        f"UPDATE main.trigger_pack_installs SET params = {placeholder} WHERE pack = 'default_album'")]
    run(conn, rows[0][3], **{placeholder: f"'{recorded}'"})
    assert doctor(conn) == []
    conn.execute("INSERT INTO user (id, name) VALUES (100, 'u')")
    assert conn.execute("SELECT album_name FROM album WHERE user_id = 100").fetchall() == [("first",)]


@pytest.mark.parametrize("pack, params, trigger", [
    ("protect", {"table": "post", "operation": "update", "columns": ["title", "body"]}, "post_protect_update"),
    # touch's counted is listed at install: every column but the ignored.
    ("touch", {"table": "post", "ignore": ["title"]}, "post_touch"),
    ("history", {"table": "post"}, "post_update_history"),
    # Named only by the constraints a REPLACE goes through: a UNIQUE one,
    # and a partial index's WHERE, which the triggers copy bare.
    ("counts", {"table": "post"}, "post_counts_update_replace"),
    ("fts_sync", {"table": "post", "columns": ["title"]}, "post_fts_replace"),
])
def test_a_listed_column_renamed_is_followed_like_a_single_one(pack, params, trigger):
    conn = connect()
    conn.execute("CREATE TABLE post(id INTEGER PRIMARY KEY, title TEXT, body TEXT, updated_at TEXT)")
    if pack == "counts":
        conn.execute("CREATE UNIQUE INDEX post_body ON post(body)")
    if pack == "fts_sync":
        conn.execute("CREATE UNIQUE INDEX post_title ON post(title) WHERE body IS NOT NULL")
    conn.execute("SELECT trigger_install(?, ?)", (pack, json.dumps(params)))
    conn.execute("ALTER TABLE post RENAME COLUMN body TO text")
    label = "protect (post_protect_update)" if pack == "protect" else f"{pack} (post)"
    instance = "post_protect_update" if pack == "protect" else "post"
    # Uninstall drops only the SQL the pack created: it stops at a trigger
    # the rename rewrote, and drops nothing.
    with pytest.raises(sqlite3.OperationalError) as e:
        conn.execute("SELECT trigger_uninstall(?, ?)", (pack, instance))
    assert "was changed by a column rename since the pack was installed (or edited to look so), so nothing " \
           "was dropped" in str(e.value), str(e.value)
    rewritten = [r[2].split()[1] for r in doctor(conn) if " was changed by a column rename: " in r[2]]
    assert trigger in rewritten
    # The repair drops them by name, uninstalls and installs under the new
    # names; the history table keeps its columns' names, and the repair
    # renames them there too, once the pack's triggers are gone.
    between = 'ALTER TABLE main."_post_history" RENAME COLUMN "body" TO "text"; ' if pack == "history" else ""
    repair = ("".join(f'DROP TRIGGER main."{n}"; ' for n in rewritten)
              + f"SELECT trigger_uninstall('{pack}', '{instance}'); {between}"
              f"SELECT trigger_install('{pack}', {AS_NOW})")
    rows = [r for r in doctor(conn) if r[2].startswith(f"trigger {trigger} ")]
    assert rows == [(
        "pack", label,
        f"trigger {trigger} was changed by a column rename: it still works, but no longer as the install records "
        "it, so the pack can be neither repaired nor upgraded in place", repair)]
    params = {k: ["text" if c == "body" else c for c in v] if isinstance(v, list) else v for k, v in params.items()}
    run(conn, repair, **{AS_NOW: "'" + json.dumps(params) + "'"})
    assert doctor(conn) == []
    if pack == "history":
        conn.execute("INSERT INTO post (title, text) VALUES ('t', 'w')")
        conn.execute("UPDATE post SET text = 'x'")
        assert scalar(conn, "SELECT text FROM _post_history ORDER BY _version DESC LIMIT 1") == "x"


@pytest.mark.parametrize("edit", [
    # Following another column than the rename wrote, in one trigger.
    '"mail"->"body"',
    # The same in every trigger that names it: "body" was there at install,
    # so no rename made it.
    'all "mail"->"body"',
])
def test_a_trigger_edited_by_hand_after_a_rename_is_never_taken_for_the_packs(edit):
    conn = connect()
    conn.executescript("""
        CREATE TABLE t(id INTEGER PRIMARY KEY, email TEXT UNIQUE, body TEXT UNIQUE);
        SELECT trigger_install('counts', '{"table": "t"}');
        ALTER TABLE t RENAME COLUMN email TO mail;
    """)
    edited = ["t_counts_replace"] if not edit.startswith("all") else [
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%\"mail\"%'")]
    assert "t_counts_replace" in edited
    for name in edited:
        sql = scalar(conn, "SELECT sql FROM sqlite_master WHERE name = ?", name)
        conn.execute(f"DROP TRIGGER {name}")
        conn.execute(sql.replace('"mail"', '"body"'))
    schema_before = schema(conn)
    rows = [r for r in doctor(conn) if "is not the trigger pack counts (t) created" in r[2]]
    assert [r[2].split(" on ")[0] for r in rows] == [f"trigger {n}" for n in edited]
    with pytest.raises(sqlite3.OperationalError) as e:
        conn.execute("SELECT trigger_uninstall('counts')")
    assert "is not the trigger pack counts created" in str(e.value) and "nothing was dropped" in str(e.value)
    assert schema(conn) == schema_before
    # The repair drops every trigger that is not the pack's, then installs
    # the pack as the table is now, in one go.
    drops = "; ".join(f'DROP TRIGGER main."{n}"' for n in edited)
    assert all(r[3].startswith(drops + "; ") for r in rows), rows[0][3]
    run(conn, rows[0][3], **{AS_NOW: """'{"table": "t"}'"""})
    assert doctor(conn) == []


RENAMES = {
    # A column of the pack's own table keeps its name: history's records.
    "history": ("CREATE TABLE book(id INTEGER PRIMARY KEY, title TEXT, pages INT)",
                """SELECT trigger_install('history', '{"table": "book"}')""",
                ["ALTER TABLE book RENAME COLUMN title TO headline"],
                ("book_insert_history", 'INSERT INTO "_book_history" (_rowid, "id", "title"',
                 'INSERT INTO "_book_history" (_rowid, "id", "headline"')),
    # A rename of the parent's key, and the child's own "id" edited to match.
    "counter_cache": ("CREATE TABLE author(id INTEGER PRIMARY KEY, books INT NOT NULL DEFAULT 0);"
                      "CREATE TABLE book(id INTEGER PRIMARY KEY, author_id INT, isbn TEXT UNIQUE)",
                      """SELECT trigger_install('counter_cache', '{"child_table": "book", "child_fk": "author_id", """
                      """"parent_table": "author", "parent_column": "books"}')""",
                      ["ALTER TABLE author RENAME COLUMN id TO aid"],
                      ("book_books_update_replaced", '"isbn", "id"', '"isbn", "aid"')),
    # The INTEGER PRIMARY KEY: SQLite writes its new name for "rowid" too.
    "counts": ("CREATE TABLE book(id INTEGER PRIMARY KEY, isbn TEXT UNIQUE)",
               """SELECT trigger_install('counts', '{"table": "book"}')""",
               ["ALTER TABLE book RENAME COLUMN id TO bid"],
               ("book_counts_replace", "old", "old")),
    # A column only an expression parameter reads.
    "counter_cache condition": (
        "CREATE TABLE author(id INTEGER PRIMARY KEY, books INT NOT NULL DEFAULT 0);"
        "CREATE TABLE book(id INTEGER PRIMARY KEY, author_id INT, hidden INT NOT NULL DEFAULT 0)",
        """SELECT trigger_install('counter_cache', '{"child_table": "book", "child_fk": "author_id", """
        """"parent_table": "author", "parent_column": "books", "condition": "hidden = 0"}')""",
        ["ALTER TABLE book RENAME COLUMN hidden TO secret"],
        ("book_books_insert", "(secret = 0)", "(secret = 1)")),
    # The one column fts_sync indexes: SQLite 3.40 cannot rename a column
    # a one-element row value (SET ("a") = (new."a")) names.
    "fts_sync one column": ("CREATE TABLE book(id INTEGER PRIMARY KEY, title TEXT)",
                            """SELECT trigger_install('fts_sync', '{"table": "book", "columns": ["title"]}')""",
                            ["ALTER TABLE book RENAME COLUMN title TO headline"],
                            ("book_au", 'SET "title" = new."headline"', 'SET "title" = new."headline" || \'\'')),
    # A swap of two columns the pack names, through a name of its own.
    "history swap": ("CREATE TABLE book(id INTEGER PRIMARY KEY, title TEXT, isbn TEXT UNIQUE)",
                     """SELECT trigger_install('history', '{"table": "book"}')""",
                     ["ALTER TABLE book RENAME COLUMN title TO tmp", "ALTER TABLE book RENAME COLUMN isbn TO title",
                      "ALTER TABLE book RENAME COLUMN tmp TO isbn"],
                     ("book_delete_history", 'old."title"', 'old."isbn"')),
}


@pytest.mark.parametrize("case", list(RENAMES))
@pytest.mark.parametrize("edited", [False, True])
def test_renames_are_followed_and_edits_never_taken_for_them(case, edited):
    """After the renames alone, the doctor says which objects they
    rewrote, and its repair, run as given, reinstalls the pack; with one
    trigger edited as well (in a way the renames would not write), that
    trigger is named as not the pack's. Uninstall drops neither: only the
    SQL the pack created."""
    table, install, renames, (trigger, was, now) = RENAMES[case]
    pack = install.split(chr(39))[1]
    conn = connect()
    conn.executescript(f"{table}; {install};")
    for rename in renames:
        conn.execute(rename)
    changed = None
    if edited:
        sql = scalar(conn, "SELECT sql FROM sqlite_master WHERE name = ?", trigger)
        if was == now:  # an edit that looks like the rename: "rowid" written back by hand
            changed = sql.replace('"bid"', '"rowid"', 1)
        else:
            assert was in sql, sql
            changed = sql.replace(was, now, 1)
        assert changed != sql
        conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute(changed)
    rows = doctor(conn)
    mine = [r[2] for r in rows if r[2].startswith(f"trigger {trigger} ")]
    if edited:
        assert mine and " is not the trigger " in mine[0], mine
    else:
        assert rows and all(" is not the " not in r[2] for r in rows), rows
        assert mine and " was changed by " in mine[0], mine
    schema_before = schema(conn)
    with pytest.raises(sqlite3.OperationalError) as e:
        conn.execute(f"SELECT trigger_uninstall('{pack}')")
    assert "nothing was dropped" in str(e.value), str(e.value)
    assert schema(conn) == schema_before
    if edited:
        assert scalar(conn, "SELECT sql FROM sqlite_master WHERE name = ?", trigger) == changed


def test_a_parent_table_renamed_is_named_as_a_table_rename():
    conn = connect()
    conn.executescript("""
        CREATE TABLE author(id INTEGER PRIMARY KEY, books INT NOT NULL DEFAULT 0);
        CREATE TABLE book(id INTEGER PRIMARY KEY, author_id INT);
        SELECT trigger_install('counter_cache', '{"child_table": "book", "child_fk": "author_id",
                                                  "parent_table": "author", "parent_column": "books"}');
        ALTER TABLE author RENAME TO writer;
    """)
    rows = [r[2] for r in doctor(conn) if " was changed by " in r[2]]
    assert rows and all("was changed by a table rename" in r for r in rows), rows
    with pytest.raises(sqlite3.OperationalError) as e:
        conn.execute("SELECT trigger_uninstall('counter_cache')")
    assert "was changed by a table rename since the pack was installed" in str(e.value), str(e.value)


def test_a_swap_of_two_column_names_is_repaired_in_one_go():
    conn = connect()
    conn.executescript("""
        CREATE TABLE t(id INTEGER PRIMARY KEY, email TEXT UNIQUE, body TEXT);
        SELECT trigger_install('counts', '{"table": "t"}');
        INSERT INTO t(email, body) VALUES ('a', 'x'), ('b', 'y');
        ALTER TABLE t RENAME COLUMN email TO tmp;
        ALTER TABLE t RENAME COLUMN body TO email;
        ALTER TABLE t RENAME COLUMN tmp TO body;
    """)
    # Only the UNIQUE column is in the pack's triggers: its new name was a
    # column already, so the triggers cannot be told from edited ones, and
    # the one repair drops them all and installs for the table as it is.
    rows = doctor(conn)
    assert rows[-1][2].startswith("the PRIMARY KEY or UNIQUE constraints of table t changed")
    assert len(rows) == 4 and len({r[3] for r in rows}) == 1, rows
    assert rows[0][3].startswith("".join(
        f'DROP TRIGGER main."t_counts_{n}"; ' for n in ("replace", "update_replace", "update_replaced"))
        + "SELECT trigger_uninstall('counts', 't'); SELECT trigger_install('counts', "), rows[0][3]
    run(conn, rows[0][3])
    assert doctor(conn) == []
    conn.execute("INSERT OR REPLACE INTO t(body, email) VALUES ('a', 'z')")
    assert conn.execute("SELECT (SELECT count FROM _counts WHERE \"table\" = 't'), count(*) FROM t").fetchone() == (2, 2)


NAMES = ["album_count", "counter_cache", "counts", "default_album", "fsm", "fts_sync", "history", "protect",
         "soft_delete", "task_state", "touch"]
TASK_STATE_DOES = "When an obs row's state is updated to 2, the tasks of that obs get state 2."
RECORD_REPAIR = ("correct its row of main.trigger_pack_installs: pack, version and params hold the pack's name, the "
                 "version installed and the JSON object of its parameters, as text")


def listing(conn):
    return conn.execute("SELECT name, version, description, params IS NOT NULL, installed, installed_version, "
                        "installed_params IS NOT NULL FROM trigger_packs").fetchall()


def test_a_blob_in_an_install_record_fails_no_listing_and_the_doctor_names_it(conn):
    conn.execute("UPDATE trigger_pack_installs SET params = CAST(params AS BLOB) WHERE pack = 'task_state'")
    rows = listing(conn)
    assert [r[0] for r in rows] == NAMES
    assert rows[NAMES.index("task_state")] == (
        "task_state", "1.0.0",
        TASK_STATE_DOES + " (the install record of pack task_state is damaged: its params is a blob, not text; "
        "trigger_doctor gives the repair)", 1, 1, None, 0)
    assert rows[NAMES.index("default_album")][4:] == (1, "1.1.0", 1)
    assert doctor(conn) == [(
        "pack", "task_state",
        f"the install record of pack task_state is damaged: its params is a blob, not text, so the pack's triggers "
        f"and indexes {CANNOT}", RECORD_REPAIR)]
    for call in ("trigger_install('task_state')", "trigger_uninstall('task_state')", "trigger_upgrade('task_state')"):
        with pytest.raises(sqlite3.OperationalError) as e:
            conn.execute(f"SELECT {call}")
        assert str(e.value) == (
            f"{call.split('(')[0]}(): the install record of pack task_state is damaged: its params is a blob, not "
            "text; trigger_doctor gives the repair")
    conn.execute("UPDATE trigger_pack_installs SET params = CAST(params AS TEXT) WHERE pack = 'task_state'")
    assert doctor(conn) == []
    assert all_work(conn)


def test_text_not_utf8_in_an_install_record_fails_no_listing_and_the_doctor_names_it(conn):
    # Bytes that are not UTF-8 in a text value damage that one record, as a
    # blob does, rather than every read of the table.
    params = scalar(conn, "SELECT params FROM trigger_pack_installs WHERE pack = 'task_state'")
    conn.execute("UPDATE trigger_pack_installs SET params = CAST(params || x'ff' AS TEXT) WHERE pack = 'task_state'")
    rows = listing(conn)
    assert [r[0] for r in rows] == NAMES
    assert rows[NAMES.index("task_state")] == (
        "task_state", "1.0.0",
        TASK_STATE_DOES + " (the install record of pack task_state is damaged: its params holds text that is not "
        "valid UTF-8; trigger_doctor gives the repair)", 1, 1, None, 0)
    assert rows[NAMES.index("default_album")][4:] == (1, "1.1.0", 1)
    assert doctor(conn) == [(
        "pack", "task_state",
        f"the install record of pack task_state is damaged: its params holds text that is not valid UTF-8, so the "
        f"pack's triggers and indexes {CANNOT}", RECORD_REPAIR)]
    for call in ("trigger_install('task_state')", "trigger_uninstall('task_state')", "trigger_upgrade('task_state')"):
        with pytest.raises(sqlite3.OperationalError) as e:
            conn.execute(f"SELECT {call}")
        assert str(e.value) == (
            f"{call.split('(')[0]}(): the install record of pack task_state is damaged: its params holds text that "
            "is not valid UTF-8; trigger_doctor gives the repair")
    conn.execute("UPDATE trigger_pack_installs SET params = ? WHERE pack = 'task_state'", (params,))
    assert doctor(conn) == []
    assert all_work(conn)


@pytest.mark.parametrize("damage, held", [
    ("CAST(pack || x'ff' AS TEXT)", "holds text that is not valid UTF-8"),
    ("CAST(pack || ':' || x'ff' AS TEXT)", "holds text that is not valid UTF-8"),
    ("CAST(pack AS BLOB)", "is a blob, not text"),
])
def test_a_damaged_key_of_an_install_record_is_listed_and_named_by_the_doctor(conn, damage, held):
    conn.execute(f"UPDATE trigger_pack_installs SET pack = {damage} WHERE pack = 'task_state'")
    rows = listing(conn)
    assert [r[0] for r in rows] == NAMES
    # Still an install of task_state, one that cannot be read.
    assert rows[NAMES.index("task_state")] == (
        "task_state", "1.0.0",
        f"{TASK_STATE_DOES} (an install record of it is damaged: its pack {held}; trigger_doctor names it)",
        1, 1, None, 0)
    assert [r[0] for r in doctor(conn)] == ["pack"]
    assert f"its pack {held}" in doctor(conn)[0][2]
    assert rows[NAMES.index("default_album")][4:] == (1, "1.1.0", 1)


@pytest.mark.parametrize("damage, why", [
    ("SET pack = CAST(pack AS BLOB)", "its pack is a blob, not text"),
    ("SET pack = CAST(pack || x'ff' AS TEXT)", "its pack holds text that is not valid UTF-8"),
    ("SET version = CAST(version AS BLOB)", "its version is a blob, not text"),
    ("SET version = CAST(version || x'ff' AS TEXT)", "its version holds text that is not valid UTF-8"),
])
def test_a_template_row_whose_pack_or_version_is_damaged_is_named_not_lost(conn, damage, why):
    text = scalar(conn, "SELECT template FROM trigger_pack_templates")
    conn.execute("SELECT trigger_uninstall('album_count')")
    conn.execute(f"UPDATE trigger_pack_templates {damage}")
    # It names no pack: not listed, but the doctor names the row.
    assert "album_count" not in [r[0] for r in listing(conn)]
    rows = doctor(conn)
    assert [r[2] for r in rows] == [
        f"row 1 of trigger_pack_templates is damaged: {why}, so it registers no version of any pack, and the "
        "template it holds is seen by no call"]
    assert rows[0][3] == ("DELETE FROM main.trigger_pack_templates WHERE rowid = 1; then register its template "
                          "again with trigger_pack_register")
    # Unregistering another pack never drops the table with the damaged row.
    conn.execute("SELECT trigger_pack_register(?)", (text.replace("album_count", "album_total"),))
    conn.execute("SELECT trigger_pack_unregister('album_total')")
    assert scalar(conn, "SELECT count(*) FROM trigger_pack_templates") == 1
    conn.execute("DELETE FROM main.trigger_pack_templates WHERE rowid = 1")
    conn.execute("SELECT trigger_pack_register(?)", (text,))
    assert doctor(conn) == []
    conn.execute("SELECT trigger_install('album_count')")
    assert all_work(conn)


@pytest.mark.parametrize("damage, why", [
    ("SET template = CAST(template AS BLOB)", "its template is a blob, not text"),
    ("SET template = CAST(template || x'ff' AS TEXT)", "its template holds text that is not valid UTF-8"),
    ("SET template = replace(template, '-- pack: album_count', '-- pack: album_total')",
     'its text is pack "album_total" "1.0.0"'),
])
def test_a_damaged_registered_template_fails_no_listing_and_the_doctor_names_it(conn, damage, why):
    text = scalar(conn, "SELECT template FROM trigger_pack_templates")
    conn.execute(f"UPDATE trigger_pack_templates {damage}")
    damaged = (f'the registered template of pack "album_count" "1.0.0" in trigger_pack_templates is damaged: {why}; '
               "delete its row and register it again, or trigger_pack_unregister('album_count') when it is not "
               "installed")
    rows = listing(conn)
    assert [r[0] for r in rows] == NAMES
    assert rows[0] == ("album_count", "1.0.0", damaged, 0, 1, "1.0.0", 1)
    assert rows[NAMES.index("task_state")][2:] == (TASK_STATE_DOES, 1, 1, "1.0.0", 1)
    for installed in (True, False):
        # Not installed, it is still named, with the same repair.
        if not installed:
            conn.execute("SELECT trigger_uninstall('album_count')")
            conn.execute(f"UPDATE trigger_pack_templates {damage}")
        assert doctor(conn) == [(
            "pack", "album_count", damaged,
            "delete the damaged row of trigger_pack_templates (pack album_count), then register that version's "
            "template again with trigger_pack_register")]
        conn.execute("DELETE FROM trigger_pack_templates WHERE pack = 'album_count'")
        conn.execute("SELECT trigger_pack_register(?)", (text,))
        assert doctor(conn) == []
    conn.execute("SELECT trigger_install('album_count')")
    assert all_work(conn)


def test_installing_over_a_damaged_record_names_the_damage_not_the_record(conn):
    damaged = '{"trigger_name": "' + "x" * 5000 + '", "obs_table": 5}'
    conn.execute("UPDATE trigger_pack_installs SET params = ? WHERE pack = 'task_state'", (damaged,))
    with pytest.raises(sqlite3.OperationalError) as e:
        conn.execute("SELECT trigger_install('task_state')")
    assert str(e.value) == (
        "trigger_install(): the install record of pack task_state is damaged: parameter obs_table of pack "
        "task_state: expected a name (a JSON string), got a number; nothing changed (trigger_doctor gives the "
        "repair)")


@pytest.mark.parametrize("version, unknown", [
    ("1.2.0", "newer than 1.0.0, the newest version this database and extension know"),
    ("0.9.0", "a version this database and extension do not know (the newest is 1.0.0)"),
])
def test_an_unknown_version_of_a_registered_pack_is_registered(conn, version, unknown):
    conn.execute("UPDATE trigger_pack_installs SET version = ? WHERE pack = 'album_count'", (version,))
    placeholder = f"<the template file of album_count {version}>"
    rows = doctor(conn)
    assert rows == [(
        "pack", "album_count",
        f"pack album_count {version} is installed, {unknown}, so its triggers and indexes {CANNOT}",
        f"register that version's template: SELECT trigger_pack_register('{placeholder}')")]
    with open(ALBUM_COUNT) as f:
        template = f.read().replace("-- version: 1.0.0", f"-- version: {version}")
    run(conn, rows[0][3].split(": ", 1)[1], **{f"'{placeholder}'": "'" + template.replace("'", "''") + "'"})
    # 1.2.0 is now the newest; 0.9.0 an older one, which installs nothing
    # but is still the install's, shown as upgradable: not a problem.
    assert doctor(conn) == []
    assert all_work(conn)


@pytest.mark.parametrize("version, unknown", [
    ("9.0.0", "newer than 1.0.0, the newest version this database and extension know"),
    ("0.9", "a version this database and extension do not know (the newest is 1.0.0)"),
])
def test_an_unknown_version_of_a_built_in_pack_names_the_release(conn, version, unknown):
    conn.execute("UPDATE trigger_pack_installs SET version = ? WHERE pack = 'task_state'", (version,))
    assert doctor(conn) == [(
        "pack", "task_state",
        f"pack task_state {version} is installed, {unknown}, so its triggers and indexes {CANNOT}",
        f"use the sqlite-triggers release whose pack task_state has version {version}")]
    # The release that knows 1.0.0 is this one.
    conn.execute("UPDATE trigger_pack_installs SET version = '1.0' WHERE pack = 'task_state'")
    assert doctor(conn) == []
    assert all_work(conn)


def test_an_older_version_is_no_problem_and_its_dropped_trigger_is_recreated_by_an_upgrade():
    conn = connect()
    conn.executescript(SEED_SCHEMA)
    conn.executescript((ROOT / "tests" / "fixtures" / "default_album-1.0.0.sql").read_text())
    assert conn.execute("SELECT installed_version, upgradable FROM trigger_packs "
                        "WHERE name = 'default_album'").fetchall() == [("1.0.0", 1)]
    assert doctor(conn) == []
    conn.execute("DROP TRIGGER user_default_album")
    rows = doctor(conn)
    assert rows == [("pack", "default_album", missing("trigger user_default_album", "user"),
                     "SELECT trigger_upgrade('default_album')")]
    # trigger_install refuses an older version; the upgrade creates the
    # trigger, at the newest version.
    with pytest.raises(sqlite3.OperationalError, match="run trigger_upgrade"):
        conn.execute(install("default_album", DEFAULT_ALBUM))
    run(conn, rows[0][3])
    assert doctor(conn) == []
    assert default_album_works(conn)


def test_a_damaged_install_table_is_reported_not_an_error():
    conn = connect()
    conn.executescript(SCHEMA + "CREATE TABLE trigger_pack_installs(pack TEXT PRIMARY KEY, version TEXT);")
    assert doctor(conn) == [(
        "pack", "trigger_pack_installs",
        "table trigger_pack_installs, where packs record their installs, lacks column(s) params, so no installed "
        "pack can be read, upgraded or uninstalled",
        "give trigger_pack_installs back its columns pack, version and params (the table trigger_pack_sql "
        "shows), or rename it if it is not the packs'")]


@pytest.mark.parametrize("columns", ["(pack TEXT)", "(name TEXT, version TEXT)"])
def test_pack_tables_of_another_shape_fail_no_listing_and_the_doctor_names_them(columns):
    conn = connect()
    conn.executescript(f"""
        CREATE TABLE t(id INTEGER PRIMARY KEY, title TEXT, updated_at TEXT);
        SELECT trigger_install('touch', '{{"table": "t"}}');
        CREATE TABLE trigger_pack_templates{columns};
        ALTER TABLE trigger_pack_installs RENAME TO kept;
        CREATE TABLE trigger_pack_installs{columns};
    """)
    assert [r[0] for r in listing(conn)] == NAMES[1:]
    with pytest.raises(sqlite3.OperationalError) as e:
        conn.execute("""SELECT trigger_install('touch', '{"table": "t"}')""")
    installs_lacking = "version, params" if columns == "(pack TEXT)" else "pack, params"
    assert str(e.value) == (
        f"trigger_install(): table trigger_pack_installs, where packs record their installs, lacks column(s) "
        f"{installs_lacking}, so no install can be read; trigger_doctor gives the repair")
    lacking = "version, template" if columns == "(pack TEXT)" else "pack, template"
    assert doctor(conn)[-1] == (
        "pack", "trigger_pack_templates",
        f"table trigger_pack_templates, where registered packs are kept, lacks column(s) {lacking}, so no "
        "registered pack can be read, installed, upgraded or uninstalled, and none can be registered",
        "give trigger_pack_templates back its columns pack, version and template (the table trigger_pack_sql "
        "of a registered pack shows), or rename it if it is not the packs'")
    with pytest.raises(sqlite3.OperationalError) as e:
        conn.execute("SELECT trigger_pack_register(?)", (ALBUM_COUNT,))
    assert str(e.value) == (
        f"trigger_pack_register(): argument 1 (template): table trigger_pack_templates, where registered packs are "
        f"kept, lacks column(s) {lacking}, so nothing can be registered; rename it if it is not the packs' "
        "(trigger_doctor names it)")
    conn.executescript("DROP TABLE trigger_pack_templates; DROP TABLE trigger_pack_installs; "
                       "ALTER TABLE kept RENAME TO trigger_pack_installs;")
    assert doctor(conn) == []
    assert [r[0] for r in listing(conn)] == NAMES[1:]


def test_pack_tables_replaced_by_views_are_named_and_refused():
    conn = connect()
    conn.executescript("""
        CREATE TABLE t(id INTEGER PRIMARY KEY, title TEXT, updated_at TEXT);
        SELECT trigger_install('touch', '{"table": "t"}');
        ALTER TABLE trigger_pack_installs RENAME TO kept;
        CREATE VIEW trigger_pack_installs AS SELECT * FROM kept;
        CREATE VIEW trigger_pack_templates AS SELECT 'x' AS pack, '1.0.0' AS version, '' AS template;
    """)
    assert [r[0] for r in listing(conn)] == NAMES[1:]
    assert [r[2] for r in doctor(conn)] == [
        "trigger_pack_installs, where packs record their installs, is a view, not a table, so no installed pack "
        "can be read, upgraded or uninstalled",
        "trigger_pack_templates, where registered packs are kept, is a view, not a table, so no registered pack "
        "can be read, installed, upgraded or uninstalled, and none can be registered"]
    for call, why in ((f"trigger_install('touch', '{{\"table\": \"t\"}}')",
                       "trigger_pack_installs, where packs record their installs, is a view, not a table, so no "
                       "install can be read; trigger_doctor gives the repair"),
                      ("trigger_pack_register('" + open(ALBUM_COUNT).read().replace("'", "''") + "')",
                       "argument 1 (template): trigger_pack_templates, where registered packs are kept, is a view, "
                       "not a table, so nothing can be registered; rename it if it is not the packs' "
                       "(trigger_doctor names it)")):
        with pytest.raises(sqlite3.OperationalError) as e:
            conn.execute(f"SELECT {call}")
        assert str(e.value) == f"{call.split('(')[0]}(): {why}"
    conn.executescript("DROP VIEW trigger_pack_installs; DROP VIEW trigger_pack_templates; "
                       "ALTER TABLE kept RENAME TO trigger_pack_installs;")
    assert doctor(conn) == []


@pytest.mark.parametrize("version", ["", "1.x", "v1"])
def test_an_install_record_whose_version_is_no_version_is_damaged(version):
    conn = connect()
    conn.executescript("""CREATE TABLE t(id INTEGER PRIMARY KEY, updated_at TEXT);
                          SELECT trigger_install('touch', '{"table": "t"}');""")
    conn.execute("UPDATE trigger_pack_installs SET version = ?", (version,))
    assert doctor(conn) == [(
        "pack", "touch (t)",
        f'the install record of pack touch (t) is damaged: its version "{version}" is not a version (numbers '
        f"separated by dots), so the pack's triggers and indexes {CANNOT}",
        "correct its row of main.trigger_pack_installs: version holds the version installed (the version of "
        "pack touch whose objects the schema has; 1.0.0 is the newest)")]
    for call in ("trigger_install('touch', '{\"table\": \"t\"}')", "trigger_upgrade('touch')",
                 "trigger_uninstall('touch', 't')"):
        with pytest.raises(sqlite3.OperationalError) as e:
            conn.execute(f"SELECT {call}")
        assert str(e.value) == (
            f'{call.split("(")[0]}(): the install record of pack touch (t) is damaged: its version "{version}" is '
            "not a version (numbers separated by dots); trigger_doctor gives the repair")
    conn.execute("UPDATE trigger_pack_installs SET version = '1.0.0'")
    assert doctor(conn) == []


def test_a_table_rebuilt_without_rowid_is_named_so():
    conn = connect()
    conn.executescript("""CREATE TABLE t(id INTEGER PRIMARY KEY, updated_at TEXT);
                          SELECT trigger_install('touch', '{"table": "t"}');
                          CREATE TABLE t2(id INTEGER PRIMARY KEY, updated_at TEXT) WITHOUT ROWID;
                          DROP TABLE t; ALTER TABLE t2 RENAME TO t;""")
    assert doctor(conn)[0][2] == (
        'pack touch needs column "rowid" (parameter key) in table "t", but "t" is a WITHOUT ROWID table, which has '
        "no rowid; pass its PRIMARY KEY column as parameter key; the table was rebuilt WITHOUT ROWID since the pack "
        "was installed")
    run(conn, doctor(conn)[0][3], **{AS_NOW: """'{"table": "t", "key": "id"}'"""})
    assert doctor(conn) == []


def broken(path):
    """A database file whose task_state trigger was dropped."""
    conn = connect(path)
    conn.executescript(SCHEMA)
    conn.execute("SELECT trigger_install('task_state')")
    conn.execute("DROP TRIGGER update_task_state")
    conn.close()


EXPECTED = [("pack", "task_state", missing("trigger update_task_state", "obs"), install("task_state", TASK_STATE))]


def test_the_doctor_only_reads_even_in_a_read_only_transaction(tmp_path):
    path = str(tmp_path / "p.db")
    broken(path)
    conn = connect(path)
    before = schema(conn), conn.execute("SELECT * FROM trigger_pack_installs").fetchall()
    conn.execute("PRAGMA query_only = ON")
    conn.execute("BEGIN")
    assert doctor(conn) == EXPECTED
    conn.execute("COMMIT")
    conn.execute("PRAGMA query_only = OFF")
    assert (schema(conn), conn.execute("SELECT * FROM trigger_pack_installs").fetchall()) == before
    assert conn.total_changes == 0


def test_the_doctor_answers_on_a_read_only_database_file(tmp_path):
    path = str(tmp_path / "p.db")
    broken(path)
    ro = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    ro.enable_load_extension(True)
    ro.load_extension(EXT)
    assert doctor(ro) == EXPECTED
    with pytest.raises(sqlite3.OperationalError, match="readonly|read-only"):
        ro.execute(EXPECTED[0][3])


@needs_shell
def test_the_doctor_in_the_sqlite3_shell_on_a_read_only_file(tmp_path):
    path = str(tmp_path / "p.db")
    broken(path)
    out = shell(f".open --readonly {path}\n.load {EXT}\n.mode json\n"
                "SELECT kind, object, problem, repair FROM trigger_doctor;\n")
    assert out.returncode == 0, out.stderr
    assert [tuple(r.values()) for r in json.loads(out.stdout)] == EXPECTED
