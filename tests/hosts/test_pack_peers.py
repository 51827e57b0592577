"""The touch pack beside its peer in an application: SQLAlchemy's column
`onupdate`. The same model maps the same table twice, once with
`onupdate=` (SQLAlchemy writes the time into the UPDATEs it builds) and once
with the touch pack installed instead (a trigger writes it, whoever
updates); the same writes run against both, and the rows each one stamped
are compared.

What they share: ORM flushes, ORM-enabled and Core `update()` statements all
stamp the rows they update, in both; an update that changes nothing is not
sent by the ORM, so neither stamps it; a value the application sets itself
is kept by both. Where they differ: SQL that SQLAlchemy does not build
(`text()`, the DB-API cursor, another program) is stamped by the pack only.
"""
import datetime
import re
import sqlite3

import pytest
import sqlalchemy as sa
from sqlalchemy import Integer, String, event, text, update
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column
from sqlalchemy.schema import FetchedValue

from conftest import EXT

ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
ROWS = 9


def now_iso():
    """What the pack's default format writes: ISO 8601 in UTC with milliseconds."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def model(stamped_by):
    """The `item` model: its updated_at written by SQLAlchemy (`onupdate`),
    or by the pack, which SQLAlchemy is told of (`server_onupdate`), so that
    it reads the trigger's value back after a flush instead of keeping the
    one it loaded."""

    class Base(DeclarativeBase):
        pass

    column = {"onupdate": now_iso} if stamped_by == "onupdate" else {"server_onupdate": FetchedValue()}

    class Item(Base):
        __tablename__ = "item"
        id = mapped_column(Integer, primary_key=True)
        name = mapped_column(String)
        updated_at = mapped_column(String, **column)

    return Base, Item


def engine_for(path, stamped_by):
    engine = sa.create_engine(f"sqlite:///{path}")
    if stamped_by == "pack":
        @event.listens_for(engine, "connect")
        def load(dbapi_conn, _record):
            dbapi_conn.enable_load_extension(True)
            dbapi_conn.load_extension(EXT)
            dbapi_conn.enable_load_extension(False)
    return engine


@pytest.fixture(params=["onupdate", "pack"])
def app(request, tmp_path):
    stamped_by = request.param
    path = tmp_path / f"{stamped_by}.db"
    Base, Item = model(stamped_by)
    engine = engine_for(path, stamped_by)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(Item.__table__.insert(), [{"id": i, "name": f"n{i}"} for i in range(1, ROWS + 1)])
        if stamped_by == "pack":
            assert conn.exec_driver_sql("SELECT trigger_install('touch')").scalar() == (
                "installed touch (item) 1.0.0: trigger item_touch on item")
    yield stamped_by, engine, Item, path
    engine.dispose()


def stamps(engine):
    """The rows stamped since the last call, then every row marked 'before'
    again. The mark is written only where it is not there yet: an UPDATE
    that leaves updated_at as it was counts, for the pack, as one that does
    not set it, and is stamped."""
    with engine.begin() as conn:
        rows = conn.exec_driver_sql("SELECT id, updated_at FROM item ORDER BY id").all()
        conn.exec_driver_sql("UPDATE item SET updated_at = 'before' WHERE updated_at IS NOT 'before'")
    for _, value in rows:
        assert value in ("before", None, "set by the app") or ISO_MS.fullmatch(value), value
    return {i: v for i, v in rows if v != "before"}


def test_the_same_writes_stamp_the_same_rows_but_sql_sqlalchemy_did_not_build(app):
    stamped_by, engine, Item, path = app
    assert set(stamps(engine)) == set(range(1, ROWS + 1))  # the inserts: NULL, not yet marked
    seen = {}

    # An ORM flush of one changed attribute.
    with Session(engine) as session:
        item = session.get(Item, 1)
        item.name = "changed"
        session.flush()
        # Both give the flushed object the new time: onupdate sent it, and
        # server_onupdate makes SQLAlchemy read back what the trigger wrote.
        assert ISO_MS.fullmatch(item.updated_at), item.updated_at
        session.commit()
    seen["orm flush"] = set(stamps(engine))

    # An ORM flush with nothing changed: an attribute set to the value it
    # holds is no change, and no UPDATE is sent.
    with Session(engine) as session:
        session.get(Item, 2).name = "n2"
        session.commit()
    seen["orm, nothing changed"] = set(stamps(engine))

    # ORM-enabled update(): SQLAlchemy builds the UPDATE, and adds onupdate.
    with Session(engine) as session:
        session.execute(update(Item).where(Item.id.in_([3, 4])).values(name="bulk"))
        session.commit()
    seen["orm update() by criteria"] = set(stamps(engine))

    # ORM bulk UPDATE by primary key.
    with Session(engine) as session:
        session.execute(update(Item), [{"id": 5, "name": "by key"}])
        session.commit()
    seen["orm bulk update by key"] = set(stamps(engine))

    # A Core update() of the Table.
    with engine.begin() as conn:
        conn.execute(Item.__table__.update().where(Item.__table__.c.id == 6).values(name="core"))
    seen["core update()"] = set(stamps(engine))

    # Raw SQL through SQLAlchemy: text() and the driver's own SQL.
    with Session(engine) as session:
        session.execute(text("UPDATE item SET name = 'raw' WHERE id = 7"))
        session.commit()
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE item SET name = 'driver' WHERE id = 8")
    seen["raw sql through sqlalchemy"] = set(stamps(engine))

    # Another program: a plain sqlite3 connection, without the extension.
    other = sqlite3.connect(path)
    other.execute("UPDATE item SET name = 'elsewhere' WHERE id = 9")
    other.commit()
    other.close()
    seen["another program"] = set(stamps(engine))

    # A time the application sets itself is kept, by both.
    with Session(engine) as session:
        item = session.get(Item, 1)
        item.name, item.updated_at = "again", "set by the app"
        session.commit()
    seen["orm, time set by the app"] = stamps(engine)

    expected = {
        "orm flush": {1},
        "orm, nothing changed": set(),
        "orm update() by criteria": {3, 4},
        "orm bulk update by key": {5},
        "core update()": {6},
        # onupdate is SQLAlchemy's: SQL it did not build gets no time.
        "raw sql through sqlalchemy": {7, 8} if stamped_by == "pack" else set(),
        "another program": {9} if stamped_by == "pack" else set(),
        "orm, time set by the app": {1: "set by the app"},
    }
    assert seen == expected


def test_a_flushed_object_keeps_the_loaded_time_unless_told_the_server_writes_it(tmp_path):
    """Without server_onupdate, SQLAlchemy does not know the trigger wrote
    updated_at: the flushed object keeps the value it loaded until it is
    expired (commit expires it by default) and read again."""

    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "item"
        id = mapped_column(Integer, primary_key=True)
        name = mapped_column(String)
        updated_at = mapped_column(String)

    engine = engine_for(tmp_path / "plain.db", "pack")
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO item (id, name, updated_at) VALUES (1, 'a', 'loaded')")
        conn.exec_driver_sql("SELECT trigger_install('touch')")
    with Session(engine) as session:
        item = session.get(Item, 1)
        item.name = "b"
        session.flush()
        assert item.updated_at == "loaded"
        in_db = session.execute(text("SELECT updated_at FROM item")).scalar()
        assert ISO_MS.fullmatch(in_db), in_db
        session.commit()
        assert item.updated_at == in_db
    engine.dispose()


def test_a_datetime_column_reads_the_packs_time_as_aware_utc(tmp_path):
    """Declared DateTime, the pack's ISO text reads back as a timezone-aware
    datetime in UTC, where a time SQLAlchemy wrote from a naive datetime
    reads back naive: an application that mixes the two compares them only
    after making them alike."""

    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "item"
        id = mapped_column(Integer, primary_key=True)
        name = mapped_column(String)
        updated_at = mapped_column(sa.DateTime, server_onupdate=FetchedValue())

    engine = engine_for(tmp_path / "dt.db", "pack")
    Base.metadata.create_all(engine)
    naive = datetime.datetime(2026, 1, 2, 3, 4, 5)
    with Session(engine) as session:
        session.add_all([Item(id=1, name="a", updated_at=naive), Item(id=2, name="b", updated_at=naive)])
        session.commit()
    with engine.begin() as conn:
        conn.exec_driver_sql("SELECT trigger_install('touch')")
    with Session(engine) as session:
        session.get(Item, 1).name = "changed"
        session.commit()
        touched, untouched = session.get(Item, 1).updated_at, session.get(Item, 2).updated_at
    assert touched.tzinfo == datetime.timezone.utc
    assert abs(touched - datetime.datetime.now(datetime.timezone.utc)) < datetime.timedelta(minutes=1)
    assert untouched == naive and untouched.tzinfo is None
    engine.dispose()
