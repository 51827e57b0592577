"""The extension in the machine's sqlite3 shell (Debian 12: SQLite 3.40.1)."""

import pytest

from conftest import EXT, ROOT, SEED_SCHEMA, needs_shell, shell

pytestmark = needs_shell


def test_load_by_bare_path_without_entry_point():
    run = shell(f".load {EXT}\nSELECT trigger_version();\nSELECT count(*) FROM trigger_packs;\n")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["0.1.0", "10"]


def test_load_by_relative_path_as_the_readme_shows():
    run = shell(".load ./target/release/libsqlite_triggers\nSELECT trigger_version();\n")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "0.1.0"


def test_seed_story_script_runs_end_to_end():
    run = shell((ROOT / "examples" / "seed_story.sql").read_text())
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "installed task_state 1.0.0: index update_task_state_idx on task, trigger update_task_state on obs" in out
    assert "installed default_album 1.1.0: index user_default_album_idx on album, trigger user_default_album on user" in out
    for user in ("alice", "bob", "carol"):
        assert any(line.split()[:4] == [user, "default", "album", "1"] for line in out.splitlines()), out
    tasks = [line.split() for line in out.splitlines() if line[:1].isdigit() and len(line.split()) == 4]
    assert tasks == [["1", "Comet", "calibrate", "2"], ["2", "Comet", "expose", "2"], ["3", "nebula", "calibrate", "0"]]
    assert "uninstalled default_album 1.1.0" in out
    tail = out.split("only the user's tables remain")[1]
    assert [l.split() for l in tail.splitlines() if l.startswith("table")] == [
        ["table", "album"], ["table", "obs"], ["table", "task"], ["table", "user"]]


def test_shipped_sql_file_works_without_the_extension(tmp_path):
    db = str(tmp_path / "plain.db")
    script = SEED_SCHEMA + f"""
.read {ROOT}/sql/task_state.sql
.read {ROOT}/sql/default_album.sql
.read {ROOT}/sql/default_album.sql
INSERT INTO user (id, name) VALUES (1, 'alice');
INSERT INTO obs (id, name) VALUES (1, 'o');
INSERT INTO task (obs_id, name) VALUES (1, 't');
UPDATE obs SET state = 2;
SELECT user_id || ':' || album_name FROM album;
SELECT 'task ' || state FROM task;
SELECT pack FROM trigger_pack_installs ORDER BY pack;
"""
    run = shell(script, db)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["1:default album", "task 2", "default_album", "task_state"]


def test_errors_reach_the_shell_as_sqlite_errors():
    run = shell(f".load {EXT}\n" + SEED_SCHEMA + "SELECT trigger_install('nope');\n", bail=False)
    assert 'trigger_install(): argument 1 (pack): unknown pack "nope" (packs: counter_cache, counts, default_album, fsm, fts_sync, history, protect, soft_delete, task_state, touch)' in run.stderr
    run = shell(f".load {EXT}\nSELECT trigger_install('task_state');\n", bail=False)
    assert ("trigger_install(): pack task_state needs a table (parameter obs_table): "
            "no table \"obs\" in the main database") in run.stderr


def test_loading_a_missing_file_is_an_error_not_a_crash():
    run = shell(f".load {EXT}-missing\nSELECT 1+1;\n", bail=False)
    assert "Error" in run.stderr
    assert run.stdout.strip() == "2"


def test_outbox_example_runs_as_docs_outbox_shows(tmp_path):
    run = shell((ROOT / "examples" / "outbox.sql").read_text(), str(tmp_path / "outbox.db"))
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "captured orders into channel orders: triggers orders_capture_insert, orders_capture_update, "
        "orders_capture_delete, orders_capture_update_key, orders_capture_before_insert, orders_capture_before_update",
        'event|1|orders|{"op":"insert","key":1,"old":null,"new":{"id":1,"item":"tea","qty":2}}',
        'event|2|orders|{"op":"update","key":1,"old":{"id":1,"item":"tea","qty":2},"new":{"id":1,"item":"tea","qty":3}}',
        'event|3|shipping|{"order":1,"carrier":"post"}',
        "mailer at|3",
        "pruned|3",
        "waited|timed out",
        "uncapture|uncaptured orders: dropped triggers orders_capture_before_insert, orders_capture_before_update, "
        "orders_capture_delete, orders_capture_insert, orders_capture_update, orders_capture_update_key",
    ]


def test_feed_example_runs_as_docs_feed_shows():
    run = shell((ROOT / "examples" / "feed.sql").read_text(), bail=False)
    # The example's failing statement is the point: only committed rows show.
    assert "UNIQUE constraint failed: t.a" in run.stderr
    assert run.stdout.splitlines() == [
        "last seq|0",
        "change|1|insert|main|t|1|1",
        "change|2|insert|main|t|2|2",
        "rows|1,3",
        "stopped watching t",
    ]
