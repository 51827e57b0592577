"""The seed app ported to Flask (examples/flask_seed/app.py, which
run-tests.sh copies beside the tests as flask_seed/): driven through Flask's
test client, and its two rules shown to hold for rows written by raw SQL,
by SQLAlchemy Core bulk statements, and by the sqlite3 shell in another
process, which has no Python and never loads the extension."""
import pathlib
import subprocess
import sys

import pytest
from sqlalchemy import insert, text, update

HERE = pathlib.Path(__file__).resolve().parent
APP_DIR = HERE / "flask_seed"


@pytest.fixture
def seed(tmp_path):
    sys.path.insert(0, str(APP_DIR))
    import app as seed

    application = seed.create_app(f"sqlite:///{tmp_path / 'app.db'}")
    return seed, application, application.test_client(), tmp_path / "app.db"


def albums(client, user_id):
    response = client.get(f"/users/{user_id}/albums")
    assert response.status_code == 200
    return response.get_json()


def tasks(client, obs_id):
    return [(t["name"], t["state"]) for t in client.get(f"/obs/{obs_id}/tasks").get_json()]


def test_through_the_app(seed):
    _, _, client, _ = seed
    alice = client.post("/users", json={"name": "alice"}).get_json()["id"]
    assert albums(client, alice) == ["default album"]
    comet = client.post("/obs", json={"name": "comet"}).get_json()["id"]
    nebula = client.post("/obs", json={"name": "nebula"}).get_json()["id"]
    for obs, name in [(comet, "calibrate"), (comet, "expose"), (nebula, "calibrate")]:
        assert client.post(f"/obs/{obs}/tasks", json={"name": name}).status_code == 201
    assert client.put(f"/obs/{comet}/state", json={"state": 1}).status_code == 200
    assert tasks(client, comet) == [("calibrate", 0), ("expose", 0)]
    client.put(f"/obs/{comet}/state", json={"state": 2})
    assert tasks(client, comet) == [("calibrate", 2), ("expose", 2)]
    assert tasks(client, nebula) == [("calibrate", 0)]
    assert client.post("/users", json={}).status_code == 400


def test_raw_sql_and_core_bulk_writes(seed):
    module, application, client, _ = seed
    db = module.db
    with application.app_context():
        db.session.execute(text("INSERT INTO user (id, name) VALUES (10, 'raw')"))
        db.session.execute(text("INSERT INTO obs (id, name) VALUES (10, 'raw obs')"))
        db.session.execute(text("INSERT INTO task (obs_id, name) VALUES (10, 'a'), (10, 'b')"))
        db.session.execute(text("UPDATE obs SET state = 2 WHERE id = 10"))
        # Core bulk: executemany INSERTs and one UPDATE of many rows; the ORM
        # never sees the rows, so mapper events would never have run.
        db.session.execute(insert(module.User), [{"id": 100 + i, "name": f"bulk {i}"} for i in range(50)])
        db.session.execute(insert(module.Obs), [{"id": 100 + i, "name": f"obs {i}"} for i in range(5)])
        db.session.execute(insert(module.Task), [{"obs_id": 100 + i % 5, "name": f"t{i}"} for i in range(20)])
        db.session.execute(update(module.Obs).where(module.Obs.id < 103).values(state=2))
        db.session.commit()
    assert albums(client, 10) == ["default album"]
    assert tasks(client, 10) == [("a", 2), ("b", 2)]
    assert all(albums(client, 100 + i) == ["default album"] for i in range(50))
    for i in range(5):
        assert {state for _, state in tasks(client, 100 + i)} == ({2} if 100 + i < 103 else {0})


def test_another_process_without_python(seed):
    _, _, client, db_file = seed
    comet = client.post("/obs", json={"name": "comet"}).get_json()["id"]
    client.post(f"/obs/{comet}/tasks", json={"name": "calibrate"})
    sql = (f"INSERT INTO user (id, name) VALUES (7, 'from the shell');"
           f"INSERT INTO task (obs_id, name) VALUES ({comet}, 'expose');"
           f"UPDATE obs SET state = 2 WHERE id = {comet};")
    subprocess.run(["sqlite3", "-bail", str(db_file), sql], check=True, capture_output=True)
    assert albums(client, 7) == ["default album"]
    assert tasks(client, comet) == [("calibrate", 2), ("expose", 2)]
