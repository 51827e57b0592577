"""Listeners declared as SQLAlchemy Core: compiled by SQLAlchemy's SQLite
dialect into trigger_listen() calls at create_all(), firing for every writer,
dropped at drop_all(); and what a trigger body cannot hold, refused."""
import sqlite3

import pytest
import sqlalchemy
from sqlalchemy import (Column, Integer, MetaData, String, Table, bindparam, create_engine, delete,
                        insert, literal_column, select, text, update)

from sqlite_triggers.sqlalchemy import NEW, OLD, TriggerBodyError, declared, enable, listen
from models import make_models


def setup(tmp_path):
    m = make_models()
    m.audit = Table("audit", m.metadata, Column("at", Integer, primary_key=True), Column("what", String))
    return m, enable(create_engine(f"sqlite:///{tmp_path / 'app.db'}")), tmp_path / "app.db"


def triggers(conn):
    return conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name").scalars().all()


def test_a_core_listener_fires_for_raw_sql_and_connections_without_the_extension(tmp_path):
    m, engine, path = setup(tmp_path)
    albums = listen(m.User, "after_insert", insert(m.Album).values(user_id=NEW.id, album_name="default album"))
    assert albums.action == """INSERT INTO album (user_id, album_name) VALUES (NEW."id", 'default album')"""
    assert declared(m.metadata) == [albums]
    m.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO user (id, name) VALUES (1, 'alice')")
        name, table, event = conn.execute(text("SELECT name, table_name, event FROM trigger_listeners")).one()
        assert (table, event) == ("user", "after_insert") and name.startswith("listen_user_after_insert_")
    plain = sqlite3.connect(path)  # never loaded the extension
    with plain:
        plain.execute("INSERT INTO user (id, name) VALUES (2, 'bob')")
    assert plain.execute("SELECT user_id, album_name FROM album ORDER BY user_id").fetchall() == [
        (1, "default album"), (2, "default album")]
    plain.close()

    m.metadata.drop_all(engine)
    with engine.connect() as conn:
        assert triggers(conn) == []


def test_when_columns_and_name(tmp_path):
    m, engine, path = setup(tmp_path)
    listener = listen(m.User.__table__, "after_update",
                      insert(m.audit).values(what=OLD.name + " is now " + NEW.name),
                      when=OLD.name.is_not(NEW.name), columns=[m.User.name], name="audit_user_rename")
    assert listener.when == 'OLD."name" IS NOT NEW."name"'
    m.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO user (id, name) VALUES (1, 'alice'), (2, 'bob')")
        conn.exec_driver_sql("UPDATE user SET name = 'Alice' WHERE id = 1")
        conn.exec_driver_sql("UPDATE user SET name = 'bob' WHERE id = 2")  # no change, no row
        conn.execute(update(m.User).where(m.User.id == 2).values(name="Bob"))
        assert conn.exec_driver_sql("SELECT what FROM audit ORDER BY at").scalars().all() == [
            "alice is now Alice", "bob is now Bob"]
        row = conn.execute(text(
            "SELECT name, event, columns, when_expr, action FROM trigger_listeners")).one()
        assert tuple(row) == ("audit_user_rename", "after_update", '["name"]', 'OLD."name" IS NOT NEW."name"',
                              """INSERT INTO audit (what) VALUES ((OLD."name" || ' is now ' || NEW."name"))""")
        sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'audit_user_rename'").scalar_one()
        assert 'AFTER UPDATE OF "name" ON "user"' in sql and 'WHEN (OLD."name" IS NOT NEW."name")' in sql
    m.metadata.drop_all(engine)


def test_the_seed_listeners_update_delete_and_typed_columns(tmp_path):
    m, engine, path = setup(tmp_path)
    # obs state 2 -> its tasks state 2, as the task_state pack does
    listen(m.Obs, "after_update", update(m.Task).where(m.Task.obs_id == OLD.id).values(state=2),
           when=NEW[m.Obs.state] == 2, columns=["state"], name="obs_tasks")
    listen(m.Obs, "before_delete", delete(m.Task).where(m.Task.obs_id == OLD.id))
    m.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO obs (id, name) VALUES (1, 'comet'), (2, 'nebula')")
        conn.exec_driver_sql("INSERT INTO task (obs_id, name) VALUES (1, 'calibrate'), (1, 'expose'), (2, 'calibrate')")
        conn.exec_driver_sql("UPDATE obs SET state = 2 WHERE id = 1")
        conn.exec_driver_sql("UPDATE obs SET state = 1 WHERE id = 2")
        assert conn.exec_driver_sql("SELECT obs_id, name, state FROM task ORDER BY id").all() == [
            (1, "calibrate", 2), (1, "expose", 2), (2, "calibrate", 0)]
        conn.exec_driver_sql("DELETE FROM obs WHERE id = 1")
        assert conn.exec_driver_sql("SELECT obs_id FROM task").scalars().all() == [2]
        assert len(triggers(conn)) == 2


def test_python_side_defaults_are_written_in(tmp_path):
    m, engine, path = setup(tmp_path)
    # Task.state has default=0 (SQLAlchemy fills it in Python): it is written as 0.
    listener = listen(m.Obs, "after_insert", insert(m.Task).values(obs_id=NEW.id, name="first"))
    assert listener.action == """INSERT INTO task (obs_id, name, state) VALUES (NEW."id", 'first', 0)"""
    m.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO obs (id, name) VALUES (5, 'x')")
        assert conn.exec_driver_sql("SELECT obs_id, name, state FROM task").all() == [(5, "first", 0)]


def test_odd_names_are_quoted(tmp_path):
    metadata = MetaData()
    odd = Table('my "odd" table', metadata, Column("id", Integer, primary_key=True), Column('the "name"', String))
    log = Table("log", metadata, Column("id", Integer, primary_key=True), Column("what", String))
    listen(odd, "after_insert", insert(log).values(what=NEW['the "name"'] + "'s row"))
    engine = enable(create_engine(f"sqlite:///{tmp_path / 'app.db'}"))
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(odd).values(id=1, **{'the "name"': "o'hara"}))
        assert conn.exec_driver_sql("SELECT what FROM log").scalar_one() == "o'hara's row"


def test_create_all_again_keeps_one_trigger_each(tmp_path):
    m, engine, path = setup(tmp_path)
    listen(m.User, "after_insert", insert(m.Album).values(user_id=NEW.id, album_name="a"))
    listen(m.User, "after_insert", insert(m.Album).values(user_id=NEW.id, album_name="b"), name="second")
    m.metadata.create_all(engine)
    m.metadata.create_all(engine)
    with engine.begin() as conn:
        assert len(triggers(conn)) == 2
        conn.exec_driver_sql("INSERT INTO user (id, name) VALUES (1, 'alice')")
        assert sorted(conn.exec_driver_sql("SELECT album_name FROM album").scalars()) == ["a", "b"]


def test_the_extensions_check_is_an_sqlalchemy_error(tmp_path):
    m, engine, path = setup(tmp_path)
    listen(m.User, "after_insert", insert(m.audit).values(what=NEW.nme))
    with pytest.raises(sqlalchemy.exc.OperationalError, match=r'argument 3 \(action_sql\) does not compile: "no such column: NEW\.nme"'):
        m.metadata.create_all(engine)


@pytest.mark.parametrize("statement, message", [
    (lambda m: text("INSERT INTO audit (what) VALUES ('x')"), "is text\\(\\): give a Core insert\\(\\)"),
    (lambda m: [insert(m.audit).values(what="a"), insert(m.audit).values(what="b")],
     "must be one Core statement, got 2"),
    (lambda m: insert(m.audit).values(what="a").returning(m.audit.c.at), "has RETURNING"),
    (lambda m: insert(Table("t", MetaData(), Column("id", Integer, primary_key=True), schema="aux")).values(id=NEW.id),
     "names table aux.t of schema 'aux'"),
    (lambda m: select(m.audit.c.what).where(m.audit.c.at == bindparam("at")), "has the bound parameter 'at'"),
    (lambda m: insert(m.audit).values(what=b"\x00"), "cannot be written into a trigger: Could not render literal value"),
    (lambda m: insert(Table("d", MetaData(), Column("id", Integer, primary_key=True),
                            Column("n", Integer, default=lambda: 5))).values(id=NEW.id),
     "leaves column d.n to its Python-side default= \\(a Python callable\\)"),
    (lambda m: insert(m.Task).from_select(["obs_id", "name"], select(NEW.id, NEW.name)),
     "INSERT ... SELECT into columns with Python-side defaults \\(state\\)"),
    (lambda m: m.audit, "must be a Core insert\\(\\), update\\(\\), delete\\(\\) or select\\(\\) construct, got Table"),
    # Columns given no value: SQLAlchemy writes a placeholder for each.
    (lambda m: insert(m.audit), "leaves at, what without a value"),
    (lambda m: update(m.audit), "leaves at, what without a value"),
    (lambda m: update(m.audit).where(m.audit.c.at == NEW.id), "leaves at, what without a value"),
    (lambda m: insert(m.audit).values(), "is INSERT ... DEFAULT VALUES .* which SQLite does not allow in a trigger"),
    (lambda m: select(literal_column("?")), "holds the parameter placeholder '\\?'"),
    (lambda m: insert(m.audit).values(what="a\x00b"), "holds a NUL character"),
    (lambda m: select(literal_column("1; DELETE FROM audit")), "compiles to several statements"),
    (lambda m: select(literal_column("1; END; DROP TABLE audit; SELECT 1")), "compiles to several statements"),
    (lambda m: insert(m.audit).from_select(["what"], select(select(m.User.name).cte("c"))),
     "begins with a WITH clause .* SQLite does not support common table expressions in trigger bodies"),
])
def test_refusals(tmp_path, statement, message):
    m, engine, path = setup(tmp_path)
    with pytest.raises(TriggerBodyError, match=message):
        listen(m.User, "after_insert", statement(m))
    assert declared(m.metadata) == []


def test_values_that_look_like_sql_stay_values(tmp_path):
    m, engine, path = setup(tmp_path)
    listen(m.User, "after_insert", insert(m.audit).values(what="a; b ? :c -- d"))
    m.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO user (id, name) VALUES (1, 'alice')")
        assert conn.exec_driver_sql("SELECT what FROM audit").scalars().all() == ["a; b ? :c -- d"]


def test_refused_options_and_targets(tmp_path):
    m, engine, path = setup(tmp_path)
    stmt = insert(m.audit).values(what="x")
    with pytest.raises(sqlalchemy.exc.ArgumentError, match="event must be one of before_insert, .*; got 'after_create'"):
        listen(m.User, "after_create", stmt)
    with pytest.raises(TriggerBodyError, match="when= must be a Core condition over NEW/OLD"):
        listen(m.User, "after_insert", stmt, when="NEW.id > 1")
    with pytest.raises(TriggerBodyError, match="when= has the bound parameter 'n'"):
        listen(m.User, "after_insert", stmt, when=NEW.id > bindparam("n"))
    with pytest.raises(TypeError, match="expected a Table or a mapped class"):
        listen("user", "after_insert", stmt)
    with pytest.raises(TriggerBodyError, match="when= holds a NUL character"):
        listen(m.User, "after_insert", stmt, when=NEW.name == "a\x00")
    for event in ("after_insert", "before_delete"):
        with pytest.raises(sqlalchemy.exc.ArgumentError, match=f"columns= .* is only for update events .*, not {event}"):
            listen(m.User, event, stmt, columns=[m.User.name])
    assert declared(m.metadata) == []
    aux = Table("u", MetaData(), Column("id", Integer, primary_key=True), schema="aux")
    with pytest.raises(ValueError, match="works on the main database's tables only"):
        listen(aux, "after_insert", stmt)
    assert isinstance(TriggerBodyError("x"), sqlalchemy.exc.CompileError)
