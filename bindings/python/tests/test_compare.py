"""compare(metadata, connection): the declared packs and listeners against
trigger_packs and trigger_listeners."""
import pytest
import sqlalchemy
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert

from sqlite_triggers.sqlalchemy import (NEW, OLD, Comparison, InstalledListener, InstalledPack, Listener, Pack,
                                        compare, enable, listen)
from conftest import HERE
from models import make_models


def declare(m, album_name="default album", audit_when=None):
    Pack("default_album", m.metadata, user_table=m.User, album_table=m.Album, album_name=album_name)
    listen(m.User, "after_insert", insert(m.Album).values(user_id=NEW.id, album_name="extra"))
    listen(m.User, "after_update", insert(m.Album).values(user_id=NEW.id, album_name=NEW.name),
           name="named", when=audit_when)


def test_in_sync_after_create_all_and_empty_after_drop_all(tmp_path):
    m = make_models()
    declare(m)
    engine = enable(create_engine(f"sqlite:///{tmp_path / 'app.db'}"))
    m.metadata.create_all(engine)
    with engine.connect() as conn:
        result = compare(m.metadata, conn)
        assert result == Comparison((), (), ()) and result.in_sync
    m.metadata.drop_all(engine)
    m.metadata.tables["user"].create(engine)  # tables without the triggers
    m.metadata.tables["album"].create(engine)
    with engine.connect() as conn:
        result = compare(m.metadata, conn)
    assert not result.in_sync and result.extra == () and result.differ == ()
    assert [type(x) for x in result.missing] == [Pack, Listener, Listener]


def test_missing_extra_and_different(tmp_path):
    installed = make_models()
    declare(installed)
    Pack("task_state", installed.metadata)
    engine = enable(create_engine(f"sqlite:///{tmp_path / 'app.db'}"))
    installed.metadata.create_all(engine)

    m = make_models()
    # Same pack, another album name; the unnamed listener changed; the named
    # one got a condition; task_state no longer declared; a new listener.
    Pack("default_album", m.metadata, user_table=m.User, album_table=m.Album, album_name="first album")
    changed = listen(m.User, "after_insert", insert(m.Album).values(user_id=NEW.id, album_name="other"))
    listen(m.User, "after_update", insert(m.Album).values(user_id=NEW.id, album_name=NEW.name),
           name="named", when=NEW.name.is_not(OLD.name))
    new = listen(m.Obs, "after_delete", insert(m.Album).values(user_id=OLD.id, album_name="gone"), name="new_one")
    with engine.connect() as conn:
        result = compare(m.metadata, conn)

    assert result.missing == (changed, new)
    assert [(type(x), x.name) for x in result.extra] == [
        (InstalledPack, "task_state"), (InstalledListener, result.extra[1].name)]
    assert result.extra[1].action == """INSERT INTO album (user_id, album_name) VALUES (NEW."id", 'extra')"""
    pack, named = result.differ
    assert pack.declared.name == "default_album" and pack.installed.params["album_name"] == "default album"
    assert pack.reasons == ("parameter album_name: declared 'first album', installed 'default album'",)
    assert named.installed.name == "named"
    assert named.reasons == ("""when: declared 'NEW."name" IS NOT OLD."name"', installed None""",)


OLD_DEFAULT_ALBUM = (HERE / "default_album-1.0.0.sql").read_text()


def test_values_are_compared_as_installed_and_versions_too(tmp_path):
    m = make_models()
    Pack("task_state", m.metadata, when_state=2, trigger_name="obs_done")
    engine = enable(create_engine(f"sqlite:///{tmp_path / 'app.db'}"))
    m.metadata.create_all(engine)

    again = make_models()
    # "2" is installed as 2 (state is an INTEGER column); index_name follows trigger_name.
    Pack("task_state", again.metadata, when_state="2", trigger_name="obs_done", index_name="obs_done_idx")
    with engine.begin() as conn:
        assert compare(again.metadata, conn).in_sync
        conn.exec_driver_sql("UPDATE trigger_pack_installs SET version = '0.9.0' WHERE pack = 'task_state'")
        (difference,) = compare(again.metadata, conn).differ
        assert difference.reasons == ("version: installed 0.9.0, the extension's is 1.0.0",)
        assert not difference.upgrade  # a version the extension does not know


def test_a_pack_installed_at_an_older_version_is_one_to_upgrade(tmp_path):
    """default_album 1.0.0, from the plain file release 0.1.0 shipped:
    compare() finds it to upgrade, Pack.upgrade() upgrades it."""
    m = make_models()
    pack = Pack("default_album", m.metadata)
    engine = enable(create_engine(f"sqlite:///{tmp_path / 'app.db'}"))
    m.User.__table__.create(engine)  # the tables alone: no pack yet
    m.Album.__table__.create(engine)
    with engine.begin() as conn:
        conn.connection.driver_connection.executescript(OLD_DEFAULT_ALBUM)
    with engine.begin() as conn:
        (difference,) = compare(m.metadata, conn).differ
        assert difference.reasons == ("version: installed 1.0.0, the extension's is 1.1.0",)
        assert difference.upgrade and difference.installed.upgradable
        assert pack.upgrade(conn) == ("upgraded default_album from 1.0.0 to 1.1.0: kept index "
                                      "user_default_album_idx, replaced trigger user_default_album")
        assert compare(m.metadata, conn).in_sync
        # Other parameters declared: not an upgrade, a reinstall.
        other = make_models()
        Pack("default_album", other.metadata, album_name="photos")
        conn.exec_driver_sql("UPDATE trigger_pack_installs SET version = '1.0.0'")
        (difference,) = compare(other.metadata, conn).differ
        assert not difference.upgrade


def test_names_differing_only_in_case_are_the_same_names(tmp_path):
    engine = enable(create_engine(f"sqlite:///{tmp_path / 'app.db'}"))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE user (id INTEGER PRIMARY KEY, name TEXT)")
        conn.exec_driver_sql("CREATE TABLE audit (at INTEGER PRIMARY KEY, what TEXT)")
    metadata = MetaData()
    # SQLite matches names ASCII-case-insensitively: USER is the table user, Name its column name.
    user = Table("USER", metadata, Column("id", Integer, primary_key=True), Column("Name", String))
    audit = Table("audit", metadata, Column("at", Integer, primary_key=True), Column("what", String))
    listen(user, "after_update", insert(audit).values(what=NEW.Name), columns=[user.c.Name])
    listen(user, "after_insert", insert(audit).values(what="named"), name="Nm", when=NEW.id > 0)
    metadata.create_all(engine)
    with engine.connect() as conn:
        assert compare(metadata, conn) == Comparison((), (), ())
    metadata.create_all(engine)  # again: the listeners are found, not created twice
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM trigger_listeners").scalar_one() == 2
    with pytest.raises(sqlalchemy.exc.ArgumentError, match="declared twice"):
        listen(user, "after_insert", insert(audit).values(what="other"), name="NM")
    metadata.drop_all(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").scalar_one() == 0


def test_a_pack_whose_trigger_was_dropped_by_hand_differs(tmp_path):
    m = make_models()
    Pack("default_album", m.metadata)
    Pack("task_state", m.metadata, trigger_name='obs "done"')
    engine = enable(create_engine(f"sqlite:///{tmp_path / 'app.db'}"))
    m.metadata.create_all(engine)
    with engine.begin() as conn:
        assert compare(m.metadata, conn).in_sync
        conn.exec_driver_sql('DROP TRIGGER "user_default_album"')
        conn.exec_driver_sql('DROP TRIGGER "obs ""done"""')
        conn.exec_driver_sql('DROP INDEX "obs ""done""_idx"')
        result = compare(m.metadata, conn)
    assert result.missing == () and result.extra == ()
    assert [(d.declared.name, d.reasons) for d in result.differ] == [
        ("default_album", ("trigger user_default_album is missing",)),
        ("task_state", ('index obs "done"_idx is missing', 'trigger obs "done" is missing')),
    ]


def blog(touch_comment_format="unix", note=False):
    """post and comment (and note) tables, touched."""
    metadata = MetaData()
    post = Table("post", metadata, Column("id", Integer, primary_key=True), Column("title", String),
                 Column("updated_at", String))
    comment = Table("comment", metadata, Column("id", Integer, primary_key=True), Column("body", String),
                    Column("edited", Integer))
    Pack("touch", metadata, table=post)
    Pack("touch", metadata, table=comment, column=comment.c.edited, format=touch_comment_format)
    if note:
        note = Table("note", metadata, Column("id", Integer, primary_key=True), Column("updated_at", String))
        Pack("touch", metadata, table=note)
    return metadata


def test_packs_installed_per_table_are_compared_install_by_install(tmp_path):
    engine = enable(create_engine(f"sqlite:///{tmp_path / 'app.db'}"))
    installed = blog(note=True)
    installed.create_all(engine)
    with engine.begin() as conn:
        assert compare(installed, conn).in_sync
        conn.exec_driver_sql("CREATE TABLE tag (id INTEGER PRIMARY KEY, updated_at TEXT)")
        conn.exec_driver_sql("""SELECT trigger_install('touch', '{"table": "tag"}')""")
        # post as installed; comment in another format; note no longer declared;
        # tag installed by hand; item declared and not installed.
        declared_now = blog(touch_comment_format="iso")
        item = Pack("touch", declared_now, table="item")
        result = compare(declared_now, conn)

    assert result.missing == (item,)
    assert [(type(x), x.name, x.instance, x.key) for x in result.extra] == [
        (InstalledPack, "touch", "note", "touch:note"), (InstalledPack, "touch", "tag", "touch:tag")]
    assert result.extra[0].params["trigger_name"] == "note_touch"
    (difference,) = result.differ
    assert (difference.declared.instance, difference.installed.instance) == ("comment", "comment")
    assert difference.reasons == ("parameter format: declared 'iso', installed 'unix'",)
    assert not difference.upgrade


def test_an_install_of_a_pack_per_table_whose_tables_were_dropped_differs(tmp_path):
    engine = enable(create_engine(f"sqlite:///{tmp_path / 'app.db'}"))
    metadata = MetaData()
    Table("book", metadata, Column("id", Integer, primary_key=True), Column("title", String))
    Pack("history", metadata, table="book")
    Pack("fts_sync", metadata, table="book")
    Pack("counts", metadata, table="book")
    metadata.create_all(engine)
    with engine.begin() as conn:
        assert compare(metadata, conn).in_sync
        conn.exec_driver_sql('DROP TABLE "_book_history"')
        conn.exec_driver_sql('DROP TABLE "book_fts"')
        conn.exec_driver_sql('DROP TABLE "book_counts_replaced"')
        result = compare(metadata, conn)
    assert result.missing == () and result.extra == ()
    assert [(d.installed.key, d.reasons) for d in result.differ] == [
        ("history:book", ("table _book_history is missing", "index idx_book_history_rowid is missing")),
        ("fts_sync:book", ("virtual table book_fts is missing",)),
        ("counts:book", ("table book_counts_replaced is missing",)),
    ]


def test_an_instance_differing_in_case_is_the_same_install(tmp_path):
    engine = enable(create_engine(f"sqlite:///{tmp_path / 'app.db'}"))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE post (id INTEGER PRIMARY KEY, updated_at TEXT)")
        conn.exec_driver_sql("""SELECT trigger_install('touch', '{"table": "post"}')""")
    metadata = MetaData()
    pack = Pack("touch", metadata, table="Post", trigger_name="post_touch")
    with engine.begin() as conn:
        (difference,) = compare(metadata, conn).differ
        assert difference.installed.instance == "post"
        assert difference.reasons == ("parameter table: declared 'Post', installed 'post'",)
        assert pack.drop(conn) == "uninstalled touch (post) 1.0.0: trigger post_touch"
