"""The seed app's `user`/`album` models and its mapper listener, shared by
the SQLAlchemy benchmarks (5 and 11)."""
from sqlalchemy import ForeignKey, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def seed_models():
    """Fresh declarative `Base`, `User` and `Album` classes: listeners and
    packs attach to classes and metadata, so a contender that needs its own
    gets its own."""

    class Base(DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "user"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]

    class Album(Base):
        __tablename__ = "album"
        id: Mapped[int] = mapped_column(primary_key=True)
        user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
        album_name: Mapped[str]

    return Base, User, Album


def add_default_album(mapper, connection, target):
    """The seed's listener: every user the ORM flushes gets its album."""
    connection.execute(
        text("INSERT INTO album (user_id, album_name) VALUES (:user_id, 'default album')"),
        {"user_id": target.id},
    )
