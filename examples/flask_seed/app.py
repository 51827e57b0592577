"""The seed app on Flask and Flask-SQLAlchemy, its behaviour in the database.

The seed (examples/seed_schema.sql, examples/seed_story.sql) had two rules:
a new user gets a default album, and setting an obs to state 2 sets its
tasks to state 2. Written as SQLAlchemy mapper events they held only for ORM
flushes of this app; here they are the packs `default_album` and
`task_state`, declared next to the models and installed by create_all(), so
they hold for every writer of app.db: the ORM, Core bulk statements, raw SQL,
and programs with no Python (the sqlite3 shell).

    pip install sqlite-triggers flask flask-sqlalchemy
    flask --app app run          # app.db in Flask's instance folder

Routes (JSON):
    POST /users {"name"}                  a user; GET /users/<id>/albums
    POST /obs {"name"}                    an obs; POST /obs/<id>/tasks {"name"}
    PUT  /obs/<id>/state {"state"}        GET /obs/<id>/tasks
"""
from typing import Optional

from flask import Flask, abort, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqlite_triggers.sqlalchemy import Pack, enable


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Obs(db.Model):
    __tablename__ = "obs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")


class Task(db.Model):
    __tablename__ = "task"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    obs_id: Mapped[int] = mapped_column(ForeignKey("obs.id"), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")


class User(db.Model):
    __tablename__ = "user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)


class Album(db.Model):
    __tablename__ = "album"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), nullable=False)
    album_name: Mapped[str] = mapped_column(String, nullable=False)


# The seed's two rules, in place of its mapper-event listeners.
Pack("default_album", db.metadata, user_table=User, album_table=Album, album_user_fk=Album.user_id)
Pack("task_state", db.metadata, obs_table=Obs, task_table=Task, task_obs_fk=Task.obs_id, when_state=2, set_state=2)


def create_app(database_uri: Optional[str] = None) -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_uri or "sqlite:///app.db"
    db.init_app(app)
    with app.app_context():
        enable(db.engine)   # the extension on every connection (installs need it; the triggers do not)
        db.create_all()     # the tables, then the packs
    register_routes(app)
    return app


def _json(field: str, kind: type):
    value = (request.get_json(silent=True) or {}).get(field)
    if not isinstance(value, kind):
        abort(400, f"{field} must be a {kind.__name__}")
    return value


def register_routes(app: Flask) -> None:
    @app.post("/users")
    def add_user():
        user = User(name=_json("name", str))
        db.session.add(user)
        db.session.commit()
        return jsonify(id=user.id, name=user.name), 201

    @app.get("/users/<int:user_id>/albums")
    def albums(user_id: int):
        db.get_or_404(User, user_id)
        names = db.session.scalars(select(Album.album_name).where(Album.user_id == user_id).order_by(Album.id))
        return jsonify(list(names))

    @app.post("/obs")
    def add_obs():
        obs = Obs(name=_json("name", str))
        db.session.add(obs)
        db.session.commit()
        return jsonify(id=obs.id, name=obs.name, state=obs.state), 201

    @app.post("/obs/<int:obs_id>/tasks")
    def add_task(obs_id: int):
        db.get_or_404(Obs, obs_id)
        task = Task(obs_id=obs_id, name=_json("name", str))
        db.session.add(task)
        db.session.commit()
        return jsonify(id=task.id, name=task.name, state=task.state), 201

    @app.put("/obs/<int:obs_id>/state")
    def set_state(obs_id: int):
        obs = db.get_or_404(Obs, obs_id)
        obs.state = _json("state", int)
        db.session.commit()
        return jsonify(id=obs.id, state=obs.state)

    @app.get("/obs/<int:obs_id>/tasks")
    def tasks(obs_id: int):
        db.get_or_404(Obs, obs_id)
        rows = db.session.execute(select(Task.name, Task.state).where(Task.obs_id == obs_id).order_by(Task.id))
        return jsonify([{"name": name, "state": state} for name, state in rows])
