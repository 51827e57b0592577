/*
 * Memory host: open -> load -> use -> close, again and again, in the system
 * SQLite (the oldest host we test). Used two ways by run.sh:
 *   - under valgrind with a few hundred cycles: no definite leak, no invalid
 *     read or write;
 *   - without valgrind with thousands of cycles: resident memory stays flat.
 *
 * usage: cycles EXTENSION CYCLES [CHECKPOINT...]
 * Prints "rss_kb CYCLE KB" after each checkpoint cycle and "cycles: N ok" at
 * the end; exits 1 on the first unexpected result.
 *
 * "Use" is the packs' whole life (install, fire the triggers, list,
 * uninstall), their error paths, and every SQL function of the extension,
 * found by diffing pragma_function_list against a connection without it, so
 * functions added later are exercised too: each is called with arguments it
 * must refuse (a wrong count, a blob), which runs its error path.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *ext;
static char **names; /* the extension's functions, NULL-terminated */

static void die(sqlite3 *db, const char *what) {
  fprintf(stderr, "cycles: %s: %s\n", what, db ? sqlite3_errmsg(db) : "(no connection)");
  exit(1);
}

static sqlite3 *open_db(const char *path, int load) {
  sqlite3 *db = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK) die(db, "open");
  if (load) {
    char *err = NULL;
    sqlite3_enable_load_extension(db, 1);
    if (sqlite3_load_extension(db, ext, NULL, &err) != SQLITE_OK) {
      fprintf(stderr, "cycles: load: %s\n", err ? err : "?");
      exit(1);
    }
    sqlite3_enable_load_extension(db, 0);
  }
  return db;
}

static void ok(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "cycles: %s\n  failed: %s\n", sql, err ? err : "?");
    exit(1);
  }
}

/* Runs sql, which must fail with a message starting with prefix. */
static void fails(sqlite3 *db, const char *sql, const char *prefix) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK) {
    fprintf(stderr, "cycles: %s\n  succeeded but must fail\n", sql);
    exit(1);
  }
  if (!err || strncmp(err, prefix, strlen(prefix)) != 0) {
    fprintf(stderr, "cycles: %s\n  failed with %s, not %s...\n", sql, err ? err : "(no message)", prefix);
    exit(1);
  }
  sqlite3_free(err);
}

static long long scalar(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) die(db, sql);
  if (sqlite3_step(st) != SQLITE_ROW) die(db, sql);
  long long v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* The extension's functions: those a loaded connection has and a plain one lacks. */
static void find_functions(void) {
  const char *list = "SELECT DISTINCT name FROM pragma_function_list ORDER BY name";
  sqlite3 *plain = open_db(":memory:", 0), *loaded = open_db(":memory:", 1);
  sqlite3_stmt *st = NULL;
  size_t n = 0;
  names = calloc(256, sizeof *names);
  if (sqlite3_prepare_v2(loaded, list, -1, &st, NULL) != SQLITE_OK) die(loaded, list);
  while (sqlite3_step(st) == SQLITE_ROW && n < 255) {
    const char *name = (const char *)sqlite3_column_text(st, 0);
    sqlite3_stmt *q = NULL;
    sqlite3_prepare_v2(plain, "SELECT 1 FROM pragma_function_list WHERE name = ?", -1, &q, NULL);
    sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) != SQLITE_ROW) names[n++] = strdup(name);
    sqlite3_finalize(q);
  }
  sqlite3_finalize(st);
  sqlite3_close(plain);
  sqlite3_close(loaded);
  if (n < 5) {
    fprintf(stderr, "cycles: found only %zu functions of the extension\n", n);
    exit(1);
  }
}

static const char *SEED =
    "CREATE TABLE obs (id INTEGER PRIMARY KEY, name TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE task (id INTEGER PRIMARY KEY, obs_id INTEGER NOT NULL, name TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE user (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
    "CREATE TABLE album (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, album_name TEXT NOT NULL);";

static void use(sqlite3 *db, int cycle) {
  char sql[512];
  ok(db, SEED);
  ok(db, "SELECT trigger_version(), trigger_debug(), trigger_pack_sql('task_state', '{\"set_state\": 3}')");
  ok(db, "SELECT trigger_install('task_state'); SELECT trigger_install('default_album')");
  ok(db, "INSERT INTO user (id, name) VALUES (1, 'alice'), (2, 'bob');"
         "INSERT INTO obs (id, name) VALUES (1, 'comet');"
         "INSERT INTO task (obs_id, name) VALUES (1, 'a'), (1, 'b');"
         "UPDATE obs SET state = 2 WHERE id = 1");
  if (scalar(db, "SELECT count(*) FROM album") != 2 || scalar(db, "SELECT sum(state) FROM task") != 4) {
    fprintf(stderr, "cycles: the packs' triggers did not fire in cycle %d\n", cycle);
    exit(1);
  }
  if (scalar(db, "SELECT count(*) FROM trigger_packs WHERE installed") != 2) die(db, "trigger_packs");
  fails(db, "SELECT trigger_install('nope')", "trigger_install(): argument 1 (pack): unknown pack");
  fails(db, "SELECT trigger_install('task_state', '{\"set_state\": 9}')", "trigger_install(): pack task_state");
  fails(db, "SELECT trigger_pack_sql('task_state', '{')", "trigger_pack_sql(): argument 2 (params_json)");
  fails(db, "SELECT trigger_install('default_album', '{\"user_table\": \"nope\"}')", "trigger_install(): ");
  fails(db, "SELECT * FROM trigger_packs('x')", "too many arguments on trigger_packs");
  ok(db, "SELECT trigger_uninstall('task_state'); SELECT trigger_uninstall('default_album')");
  /* Listeners, the change feed and the outbox, their success paths too. */
  ok(db, "SELECT trigger_listen('user', 'after_insert', 'SELECT 1', '{\"name\": \"l1\"}');"
         "SELECT count(*) FROM trigger_listeners; SELECT trigger_unlisten('l1')");
  ok(db, "SELECT trigger_watch('user'); SELECT trigger_watch('*');"
         "BEGIN; INSERT INTO user (name) VALUES ('c'); SAVEPOINT s; INSERT INTO user (name) VALUES ('d');"
         "ROLLBACK TO s; COMMIT; SELECT count(*) FROM trigger_changes WHERE seq > 0");
  if (scalar(db, "SELECT count(*) FROM trigger_changes WHERE op = 'insert'") < 1) die(db, "trigger_changes");
  ok(db, "SELECT trigger_capture('obs'); INSERT INTO obs (name) VALUES ('x');"
         "SELECT trigger_emit('c', json_object('cycle', 1)); SELECT trigger_ack('c', 1);"
         "SELECT trigger_prune(); SELECT trigger_cursor('c'); SELECT trigger_uncapture('obs')");
  if (scalar(db, "SELECT count(*) FROM trigger_outbox") != 1) die(db, "trigger_outbox");
  fails(db, "SELECT trigger_wait(0, 0)", "trigger_wait(): needs a database file");
  /* Odd cycles close with the feed's hooks set and changes unread. */
  if (cycle % 2 == 0) ok(db, "SELECT trigger_unwatch('*')");
  for (char **f = names; *f; f++) {
    snprintf(sql, sizeof sql, "SELECT %s(x'ff', x'ff', x'ff', x'ff', x'ff', x'ff', x'ff', x'ff', x'ff')", *f);
    fails(db, sql, *f);
    snprintf(sql, sizeof sql, "SELECT %s(x'ff')", *f);
    sqlite3_exec(db, sql, NULL, NULL, NULL); /* may be valid; must not leak either way */
  }
}

static long rss_kb(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f || fscanf(f, "%ld %ld", &pages, &resident) != 2) return -1;
  fclose(f);
  return resident * 4;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: cycles EXTENSION CYCLES [CHECKPOINT...]\n");
    return 2;
  }
  ext = argv[1];
  int cycles = atoi(argv[2]);
  find_functions();
  for (int i = 1; i <= cycles; i++) {
    /* "" is a private temporary database on disk, ":memory:" one in memory. */
    sqlite3 *db = open_db(i % 2 ? ":memory:" : "", 1);
    use(db, i);
    if (sqlite3_close(db) != SQLITE_OK) die(db, "close");
    for (int c = 3; c < argc; c++)
      if (atoi(argv[c]) == i) printf("rss_kb %d %ld\n", i, rss_kb());
  }
  for (char **f = names; *f; f++) free(*f);
  free(names);
  sqlite3_shutdown();
  printf("cycles: %d ok\n", cycles);
  return 0;
}
