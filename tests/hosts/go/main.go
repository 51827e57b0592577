// The extension in a Go program: database/sql with mattn/go-sqlite3, which
// loads it in a ConnectHook, the way README.md shows. It runs the seed
// story, the change feed, the outbox and an error, and exits 1 on the first
// mismatch.
//
// Usage: sqlite-triggers-go-host EXTENSION SEED_SCHEMA_SQL
//
// It works in a temporary directory where ./target/release/libsqlite_triggers.so
// is a link to EXTENSION, so that README.md's lines run here word for word.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/mattn/go-sqlite3"
)

const minimum = "3.38.0"

var ctx = context.Background()

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func check(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

// rows runs a query on the pinned connection and returns every row, each
// column as a string, int64 or nil.
func rows(q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string) [][]any {
	rs, err := q.QueryContext(ctx, query)
	check(err, query)
	defer rs.Close()
	cols, err := rs.Columns()
	check(err, query)
	var out [][]any
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		check(rs.Scan(ptrs...), query)
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		out = append(out, vals)
	}
	check(rs.Err(), query)
	return out
}

func expectRows(q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, want [][]any) {
	got := rows(q, query)
	if !reflect.DeepEqual(got, want) {
		fail("%s\n  got  %v\n  want %v", query, got, want)
	}
	fmt.Printf("ok: %s -> %v\n", query, got)
}

func text(conn *sql.Conn, query string) string {
	var s string
	check(conn.QueryRowContext(ctx, query).Scan(&s), query)
	return s
}

func expectPrefix(conn *sql.Conn, query, prefix string) {
	got := text(conn, query)
	if !strings.HasPrefix(got, prefix) {
		fail("%s\n  got  %q\n  want it to start with %q", query, got, prefix)
	}
	fmt.Printf("ok: %s -> %s\n", query, got)
}

func exec(conn *sql.Conn, query string) {
	_, err := conn.ExecContext(ctx, query)
	check(err, query)
}

// versionAtLeast compares dotted versions such as 3.40.1 and 3.38.0.
func versionAtLeast(v, min string) bool {
	var a, b [3]int
	fmt.Sscanf(v, "%d.%d.%d", &a[0], &a[1], &a[2])
	fmt.Sscanf(min, "%d.%d.%d", &b[0], &b[1], &b[2])
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return true
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: sqlite-triggers-go-host EXTENSION SEED_SCHEMA_SQL")
		os.Exit(2)
	}
	ext, err := filepath.Abs(os.Args[1])
	check(err, "extension path")
	if !strings.HasSuffix(ext, ".so") {
		ext += ".so"
	}
	seed, err := os.ReadFile(os.Args[2])
	check(err, "seed schema")

	dir, err := os.MkdirTemp("", "sqlite-triggers-go-host-")
	check(err, "temporary directory")
	defer os.RemoveAll(dir)
	check(os.MkdirAll(filepath.Join(dir, "target", "release"), 0o755), "mkdir")
	check(os.Symlink(ext, filepath.Join(dir, "target", "release", "libsqlite_triggers.so")), "symlink")
	check(os.Chdir(dir), "chdir")

	version, _, source := sqlite3.Version()
	fmt.Printf("mattn/go-sqlite3 runs SQLite %s (%s)\n", version, source)

	// README.md's snippet: keep these lines as they are there.
	sql.Register("sqlite3_triggers", &sqlite3.SQLiteDriver{
		ConnectHook: func(conn *sqlite3.SQLiteConn) error {
			return conn.LoadExtension("./target/release/libsqlite_triggers", "sqlite3_extension_init")
		},
	})
	db, err := sql.Open("sqlite3_triggers", "app.db")
	check(err, "sql.Open")
	defer db.Close()

	// The feed's watches and hooks belong to a connection: pin one.
	conn, err := db.Conn(ctx)
	if !versionAtLeast(version, minimum) {
		want := fmt.Sprintf("needs SQLite %s or newer, but this host runs SQLite %s", minimum, version)
		if err == nil || !strings.Contains(err.Error(), want) {
			fail("SQLite %s is older than %s: wanted the load refused with %q, got %v", version, minimum, want, err)
		}
		fmt.Printf("ok: SQLite %s refuses the load: %v\n", version, err)
		return
	}
	check(err, "connect (the ConnectHook loads the extension)")
	defer conn.Close()

	if got := text(conn, "SELECT sqlite_version()"); got != version {
		fail("sqlite_version() is %s, the library says %s", got, version)
	}
	if debug := text(conn, "SELECT trigger_debug()"); !strings.Contains(debug, "running SQLite "+version) {
		fail("trigger_debug() does not say it runs SQLite %s:\n%s", version, debug)
	}
	fmt.Printf("ok: sqlite_version() = %s, trigger_version() = %s\n", version, text(conn, "SELECT trigger_version()"))

	// The seed story.
	exec(conn, string(seed))
	expectPrefix(conn, "SELECT trigger_install('task_state')", "installed task_state 1.0.0")
	expectPrefix(conn, "SELECT trigger_install('default_album')", "installed default_album 1.1.0")
	exec(conn, "INSERT INTO user (id, name) VALUES (1, 'alice'), (2, 'bob')")
	expectRows(conn, "SELECT user_id, album_name FROM album ORDER BY 1",
		[][]any{{int64(1), "default album"}, {int64(2), "default album"}})
	exec(conn, "INSERT INTO obs (id, name) VALUES (1, 'comet'), (2, 'nebula')")
	exec(conn, "INSERT INTO task (obs_id, name) VALUES (1, 'a'), (1, 'b'), (2, 'c')")
	exec(conn, "UPDATE obs SET state = 2 WHERE id = 1")
	expectRows(conn, "SELECT id, state FROM task ORDER BY id",
		[][]any{{int64(1), int64(2)}, {int64(2), int64(2)}, {int64(3), int64(0)}})
	expectPrefix(conn, "SELECT trigger_uninstall('task_state')", "uninstalled task_state")
	expectRows(conn, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'obs'", nil)

	// An error carries its message.
	var answer string
	err = conn.QueryRowContext(ctx, "SELECT trigger_install('nope')").Scan(&answer)
	if err == nil || !strings.Contains(err.Error(), `unknown pack "nope"`) {
		fail("trigger_install('nope'): wanted an error with %q, got %v (answer %q)", `unknown pack "nope"`, err, answer)
	}
	fmt.Printf("ok: SELECT trigger_install('nope') -> error %v\n", err)

	// The change feed: committed changes only.
	exec(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)")
	expectRows(conn, "SELECT trigger_watch('*')", [][]any{{int64(0)}})
	tx, err := conn.BeginTx(ctx, nil)
	check(err, "begin")
	_, err = tx.ExecContext(ctx, "INSERT INTO t (id, a) VALUES (1, 'kept')")
	check(err, "insert in a transaction")
	check(tx.Commit(), "commit")
	tx, err = conn.BeginTx(ctx, nil)
	check(err, "begin")
	_, err = tx.ExecContext(ctx, "INSERT INTO t (id, a) VALUES (2, 'rolled back')")
	check(err, "insert in a transaction")
	check(tx.Rollback(), "rollback")
	expectRows(conn, "SELECT op, table_name, rowid FROM trigger_changes ORDER BY seq",
		[][]any{{"insert", "t", int64(1)}})
	expectRows(conn, "SELECT trigger_unwatch('*') IS NOT NULL", [][]any{{int64(1)}})

	// The outbox: capture triggers and trigger_emit.
	expectPrefix(conn, "SELECT trigger_capture('t')", "captured t into channel t")
	exec(conn, "INSERT INTO t (id, a) VALUES (3, 'captured')")
	tx, err = conn.BeginTx(ctx, nil)
	check(err, "begin")
	_, err = tx.ExecContext(ctx, "SELECT trigger_emit('c', 'x')")
	check(err, "trigger_emit in a transaction")
	check(tx.Commit(), "commit")
	tx, err = conn.BeginTx(ctx, nil)
	check(err, "begin")
	_, err = tx.ExecContext(ctx, "SELECT trigger_emit('c', 'rolled back')")
	check(err, "trigger_emit in a transaction")
	check(tx.Rollback(), "rollback")
	expectRows(conn, `SELECT seq, channel, json_extract(payload, '$.op'), json_extract(payload, '$.new.a')
		FROM trigger_outbox WHERE channel = 't' ORDER BY seq`,
		[][]any{{int64(1), "t", "insert", "captured"}})
	expectRows(conn, "SELECT seq, channel, payload FROM trigger_outbox WHERE channel = 'c' ORDER BY seq",
		[][]any{{int64(2), "c", "x"}})

	fmt.Printf("Go host (mattn/go-sqlite3, SQLite %s): all checks passed\n", version)
}
