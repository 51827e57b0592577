"""The models of the Alembic tests (test_alembic.py copies this file into
the Alembic project it makes): the seed schema, an audit table, both seed
packs, two listeners, and a blog's post and comment tables, each touched
(the touch pack, installed once per table). Environment variables change
the declarations between revisions: ALBUM_NAME (the default_album pack's
album_name), WITHOUT_DELETE_LISTENER (leaves the obs after_delete listener
out), COMMENT_TOUCH_FORMAT (the comment's touch format), PACK_TABLES
(declares the packs that make tables: history and fts_sync of post, counts
of post and comment)."""
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
Pack("touch", Base.metadata, table=Post, ignore=[Post.views])
Pack("touch", Base.metadata, table=Comment, column=Comment.edited,
     format=os.environ.get("COMMENT_TOUCH_FORMAT", "unix"))
if os.environ.get("PACK_TABLES"):
    Pack("history", Base.metadata, table=Post, exclude=[Post.views])
    Pack("fts_sync", Base.metadata, table=Post, columns=[Post.title])
    Pack("counts", Base.metadata, table=Post)
    Pack("counts", Base.metadata, table=Comment)
