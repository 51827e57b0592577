"""The models of the Alembic tests (test_alembic.py copies this file into
the Alembic project it makes): the seed schema, an audit table, both packs
and two listeners. Environment variables change the declarations between
revisions: ALBUM_NAME (the default_album pack's album_name) and
WITHOUT_DELETE_LISTENER (leaves the obs after_delete listener out)."""
import os

from sqlalchemy import ForeignKey, Integer, String, Text, insert
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqlite_triggers.sqlalchemy import NEW, OLD, Pack, listen


class Base(DeclarativeBase):
    pass


class Obs(Base):
    __tablename__ = "obs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    state: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Task(Base):
    __tablename__ = "task"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    obs_id: Mapped[int] = mapped_column(ForeignKey("obs.id"))
    name: Mapped[str] = mapped_column(Text)
    state: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class User(Base):
    __tablename__ = "user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)


class Album(Base):
    __tablename__ = "album"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    album_name: Mapped[str] = mapped_column(String)


class Audit(Base):
    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    what: Mapped[str] = mapped_column(Text)


Pack("task_state", Base.metadata, obs_table=Obs, task_table=Task, when_state=2, set_state=2)
Pack("default_album", Base.metadata, user_table=User, album_table=Album,
     album_name=os.environ.get("ALBUM_NAME", "default album"))
listen(User, "after_update", insert(Audit).values(what=OLD.name + " is now " + NEW.name),
       when=OLD.name.is_not(NEW.name), columns=[User.name], name="audit_user_rename")
if not os.environ.get("WITHOUT_DELETE_LISTENER"):
    listen(Obs, "after_delete", insert(Audit).values(what="deleted " + OLD.name))
