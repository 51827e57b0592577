"""The seed schema (seed_schema.sql) as SQLAlchemy models, made afresh for
each test: obs/task and user/album."""
from types import SimpleNamespace

from sqlalchemy import ForeignKey, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def make_models(user_table="user", album_table="album"):
    class Base(DeclarativeBase):
        metadata = MetaData()

    class Obs(Base):
        __tablename__ = "obs"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        name: Mapped[str] = mapped_column(Text, nullable=False)
        state: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")

    class Task(Base):
        __tablename__ = "task"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        obs_id: Mapped[int] = mapped_column(ForeignKey("obs.id"), nullable=False)
        name: Mapped[str] = mapped_column(Text, nullable=False)
        state: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")

    class User(Base):
        __tablename__ = user_table
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        name: Mapped[str] = mapped_column(Text, nullable=False)

    class Album(Base):
        __tablename__ = album_table
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        user_id: Mapped[int] = mapped_column(ForeignKey(f"{user_table}.id"), nullable=False)
        album_name: Mapped[str] = mapped_column(String, nullable=False)

    return SimpleNamespace(Base=Base, metadata=Base.metadata, Obs=Obs, Task=Task, User=User, Album=Album)
