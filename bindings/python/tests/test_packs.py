"""Packs declared next to the models: create_all() installs them after their
tables, drop_all() uninstalls them first, and the seed behaviour follows."""
import json

import pytest
import sqlalchemy
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text, update
from sqlalchemy.orm import Session

from sqlite_triggers.sqlalchemy import ExtensionNotLoadedError, Pack, declared, enable
from models import make_models


def engine_for(tmp_path):
    return enable(create_engine(f"sqlite:///{tmp_path / 'app.db'}"))


def schema_names(conn, kind):
    return conn.execute(text("SELECT name FROM sqlite_master WHERE type = :k ORDER BY name"), {"k": kind}).scalars().all()


def test_create_all_installs_and_the_seed_behaviour_follows(tmp_path):
    m = make_models()
    Pack("task_state", m.metadata, obs_table=m.Obs.__table__, task_table=m.Task.__table__,
         task_obs_fk=m.Task.__table__.c.obs_id, when_state=2, set_state=2)
    Pack("default_album", m.metadata, user_table=m.User.__table__, album_table=m.Album.__table__,
         album_user_fk=m.Album.__table__.c.user_id)
    engine = engine_for(tmp_path)
    m.metadata.create_all(engine)

    with Session(engine) as session:  # the ORM's writes
        session.add_all([m.User(id=1, name="alice"), m.Obs(id=1, name="comet"), m.Obs(id=2, name="nebula")])
        session.flush()
        session.add_all([m.Task(obs_id=1, name="calibrate"), m.Task(obs_id=1, name="expose"),
                         m.Task(obs_id=2, name="calibrate")])
        session.flush()
        session.execute(update(m.Obs).where(m.Obs.id == 1).values(state=2))
        session.commit()
    with engine.begin() as conn:  # Core and raw SQL writes fire them too
        conn.execute(insert(m.User).values(id=2, name="bob"))
        conn.exec_driver_sql("INSERT INTO user (id, name) VALUES (3, 'carol')")
        conn.exec_driver_sql("INSERT INTO album (user_id, album_name) VALUES (3, 'holiday')")
        assert conn.execute(select(m.Album.user_id, m.Album.album_name).order_by(m.Album.id)).all() == [
            (1, "default album"), (2, "default album"), (3, "default album"), (3, "holiday")]
        assert conn.execute(select(m.Task.obs_id, m.Task.name, m.Task.state).order_by(m.Task.id)).all() == [
            (1, "calibrate", 2), (1, "expose", 2), (2, "calibrate", 0)]
        installed = dict(conn.execute(text("SELECT name, installed FROM trigger_packs WHERE installed")).all())
        assert installed == {"default_album": 1, "task_state": 1}

    m.metadata.drop_all(engine)
    with engine.connect() as conn:
        assert schema_names(conn, "trigger") == []
        assert schema_names(conn, "index") == []
        assert schema_names(conn, "table") == []  # trigger_pack_installs went with the last pack


def test_parameters_from_renamed_tables_and_mapped_attributes(tmp_path):
    m = make_models(user_table="member", album_table="photo_album")
    pack = Pack("default_album", m.metadata, user_table=m.User, album_table=m.Album,
                album_user_fk=m.Album.user_id, album_name="first album", trigger_name="member_album")
    assert pack.params == {"user_table": "member", "album_table": "photo_album", "album_user_fk": "user_id",
                           "album_name": "first album", "trigger_name": "member_album"}
    assert declared(m.metadata) == [pack]
    engine = engine_for(tmp_path)
    m.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO member (id, name) VALUES (7, 'dora')")
        assert conn.exec_driver_sql("SELECT user_id, album_name FROM photo_album").all() == [(7, "first album")]
        params = json.loads(conn.execute(text(
            "SELECT installed_params FROM trigger_packs WHERE name = 'default_album'")).scalar_one())
        assert params["user_table"] == "member" and params["index_name"] == "member_album_idx"
        assert schema_names(conn, "trigger") == ["member_album"]


def test_create_all_again_changes_nothing(tmp_path):
    m = make_models()
    Pack("default_album", m.metadata)
    engine = engine_for(tmp_path)
    m.metadata.create_all(engine)
    with engine.connect() as conn:
        before = conn.exec_driver_sql("SELECT type, name, sql FROM sqlite_master ORDER BY name").all()
    m.metadata.create_all(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT type, name, sql FROM sqlite_master ORDER BY name").all() == before


def test_drop_all_of_a_pack_never_installed(tmp_path):
    m = make_models()
    pack = Pack("default_album", m.metadata)
    engine = engine_for(tmp_path)
    m.metadata.create_all(engine)
    with engine.begin() as conn:
        assert pack.drop(conn).startswith("uninstalled default_album 1.1.0")
        assert pack.drop(conn) is None
    m.metadata.drop_all(engine)


def test_an_install_error_is_an_sqlalchemy_error_and_installs_nothing(tmp_path):
    m = make_models()
    Pack("task_state", m.metadata, obs_state="status")
    engine = engine_for(tmp_path)
    with pytest.raises(sqlalchemy.exc.OperationalError,
                       match=r'pack task_state needs column "status" \(parameter obs_state\) in table "obs"'):
        m.metadata.create_all(engine)
    with engine.connect() as conn:  # the install is all or nothing
        assert schema_names(conn, "trigger") == [] and schema_names(conn, "index") == []
        assert "trigger_pack_installs" not in schema_names(conn, "table")


def test_without_the_extension_create_all_says_to_enable(tmp_path):
    m = make_models()
    Pack("default_album", m.metadata)
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    with pytest.raises(ExtensionNotLoadedError, match=r"call sqlite_triggers\.sqlalchemy\.enable\(engine\)"):
        m.metadata.create_all(engine)


def test_bad_declarations():
    metadata = MetaData()
    with pytest.raises(TypeError, match="Pack parameter user_table: expected a Table"):
        Pack("default_album", metadata, user_table=object())
    other = Table("user", MetaData(), Column("id", Integer, primary_key=True), schema="aux")
    with pytest.raises(ValueError, match="works on the main database's tables only"):
        Pack("default_album", metadata, user_table=other)
    Pack("default_album", metadata)
    with pytest.raises(sqlalchemy.exc.ArgumentError, match="declared twice"):
        Pack("default_album", metadata, album_name="x")


def test_pack_arguments_are_checked_when_declared():
    metadata = MetaData()
    with pytest.raises(ValueError,
                       match=r'unknown pack "nope" \(packs: counter_cache, counts, default_album, fsm, .*, touch\)'):
        Pack("nope", metadata)
    with pytest.raises(ValueError, match=r'unknown parameter "obs_tabel" for pack task_state \(parameters: .*obs_table'):
        Pack("task_state", metadata, obs_tabel="obs")
    for value in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="parameter when_state of pack task_state is .*which JSON .* cannot carry"):
            Pack("task_state", metadata, when_state=value)
    assert declared(metadata) == []
    # Checked against the catalogue the wheel carries, without loading the
    # extension: this process can still choose apsw as its SQLite library.
    import apsw
    import sqlite_triggers

    conn = apsw.Connection(":memory:")
    sqlite_triggers.load(conn)
    assert list(conn.execute("SELECT trigger_version()")) == [("0.1.0",)]


def blog_models():
    """A blog's tables for the packs installed once per table."""
    from sqlalchemy import ForeignKey, Text
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    class Base(DeclarativeBase):
        metadata = MetaData()

    class Post(Base):
        __tablename__ = "post"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        title: Mapped[str] = mapped_column(Text)
        views: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
        updated_at: Mapped[str] = mapped_column(Text, nullable=True)

    class Comment(Base):
        __tablename__ = "comment"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        post_id: Mapped[int] = mapped_column(ForeignKey("post.id"))
        body: Mapped[str] = mapped_column(Text)
        edited: Mapped[int] = mapped_column(Integer, nullable=True)

    return Base, Post, Comment


def test_a_pack_installed_per_table_is_declared_once_per_table(tmp_path):
    Base, Post, Comment = blog_models()
    post_touch = Pack("touch", Base.metadata, table=Post, ignore=[Post.views])
    comment_touch = Pack("touch", Base.metadata, table=Comment, column=Comment.edited, format="unix")
    assert (post_touch.instance, comment_touch.instance) == ("post", "comment")
    assert post_touch.params == {"table": "post", "ignore": ["views"]}
    assert declared(Base.metadata) == [post_touch, comment_touch]
    engine = engine_for(tmp_path)
    Base.metadata.create_all(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT pack FROM trigger_pack_installs ORDER BY pack").scalars().all() == [
            "touch:comment", "touch:post"]
        assert conn.exec_driver_sql("SELECT installed, instance FROM trigger_packs WHERE name = 'touch'").one() == (
            2, "table")
        assert schema_names(conn, "trigger") == ["comment_touch", "post_touch"]

    with Session(engine) as session:  # an ORM update touches its row
        session.add_all([Post(id=1, title="hello"), Comment(id=1, post_id=1, body="first")])
        session.commit()
        post = session.get(Post, 1)
        assert post.updated_at is None
        post.views += 1  # ignored: not an update that counts
        session.commit()
        session.refresh(post)
        assert post.updated_at is None
        post.title = "hello, world"
        session.commit()
        session.refresh(post)
        assert post.updated_at.endswith("Z") and len(post.updated_at) == len("2026-01-01T00:00:00.000Z")
    with engine.begin() as conn:  # so does a Core one, in the other install's format
        conn.execute(update(Comment.__table__).where(Comment.id == 1).values(body="first!"))
        assert isinstance(conn.execute(select(Comment.edited)).scalar_one(), int)

    Base.metadata.drop_all(engine)  # uninstalls each install, then drops the tables
    with engine.connect() as conn:
        assert schema_names(conn, "trigger") == [] and schema_names(conn, "table") == []


def test_the_instance_is_the_extensions(tmp_path):
    """The instance parameter given, or defaulted (derived from others) as
    the extension defaults it, names the install; two declarations of one
    install are refused."""
    metadata = MetaData()
    cases = [
        (Pack("touch", metadata), "item"),
        (Pack("protect", metadata, table="doc", operation="update"), "doc_protect_update"),
        (Pack("protect", metadata, table="doc"), "doc_protect_delete"),
        (Pack("fsm", metadata, table="ticket", column="status"), "ticket_status_fsm"),
        (Pack("counter_cache", metadata, child_table="book", parent_column="books"), "book_books"),
        (Pack("counter_cache", metadata, child_table="book", parent_column="pages", name="pages_of_books"),
         "pages_of_books"),
        (Pack("counts", metadata, table="doc"), "doc"),
        (Pack("task_state", metadata), None),
    ]
    engine = engine_for(tmp_path)
    with engine.connect() as conn:
        for pack, instance in cases:
            assert pack.instance == instance, pack
            key = "task_state" if instance is None else f"{pack.name}:{instance}"
            assert f"SELECT '{key}', " in conn.execute(
                text("SELECT trigger_pack_sql(:n, :p)"), {"n": pack.name, "p": pack.params_json}).scalar_one()
    with pytest.raises(sqlalchemy.exc.ArgumentError, match="declared twice"):
        Pack("touch", metadata, table="item", column="changed_at")
    with pytest.raises(sqlalchemy.exc.ArgumentError, match="declared twice"):
        Pack("protect", metadata, table="DOC", operation="update")  # SQLite's names: DOC is doc
    with pytest.raises(ValueError, match="parameter table tells the pack's installs apart and must be a string"):
        Pack("touch", metadata, table=3)


def test_drop_and_upgrade_name_their_install(tmp_path):
    Base, Post, Comment = blog_models()
    post_touch = Pack("touch", Base.metadata, table=Post)
    comment_touch = Pack("touch", Base.metadata, table=Comment, column="edited")
    engine = engine_for(tmp_path)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        assert comment_touch.upgrade(conn) == "touch (comment) 1.0.0 is installed, the newest version; nothing changed"
        assert comment_touch.drop(conn) == "uninstalled touch (comment) 1.0.0: trigger comment_touch"
        assert comment_touch.drop(conn) is None
        assert schema_names(conn, "trigger") == ["post_touch"]
        with pytest.raises(sqlalchemy.exc.OperationalError,
                           match=r'pack touch has no install for table "comment" \(installs: post\)'):
            comment_touch.upgrade(conn)
        assert post_touch.drop(conn).startswith("uninstalled touch (post)")
