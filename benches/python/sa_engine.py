"""The SQLAlchemy engine the SQLAlchemy benchmarks use: a file database
with synchronous off, the extension loaded on every connection when given."""
from sqlalchemy import create_engine, event


def engine_for(path, extension=None):
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn, _record):
        dbapi_conn.execute("PRAGMA synchronous=OFF")
        if extension:
            dbapi_conn.enable_load_extension(True)
            dbapi_conn.load_extension(extension)
            dbapi_conn.enable_load_extension(False)

    return engine
