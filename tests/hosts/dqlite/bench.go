package main

// Benchmark 12 of docs/benchmarks.md: write throughput through the
// three-node cluster with the packs and capture on, against the same writes
// into a look-alike table with no triggers, on the same running cluster.

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

type benchContender struct {
	Name        string    `json:"name"`
	Status      string    `json:"status"`
	Reason      *string   `json:"reason"`
	RatioTo     string    `json:"ratio_to"`
	Target      *struct{} `json:"target"`
	Samples     []float64 `json:"samples"`
	WallSamples []float64 `json:"wall_samples"`

	table   string
	checked []string // tables that must hold one row per user written
}

// benchSchema: the seed schema with both packs and the capture of `reading`
// (as the test has it), plus the capture of `user` itself, so that every
// user written runs the default_album pack's trigger and the capture's; and
// `plain_user`, shaped like `user`, with no trigger at all.
func benchSchema(seedPath string) {
	schema(seedPath)
	var said string
	mustTx("capture user and create plain_user", func(t *sql.Tx) error {
		s, err := call(t, "SELECT trigger_capture('user')")
		if err != nil {
			return err
		}
		said = s
		_, err = t.Exec("CREATE TABLE plain_user (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
		return err
	})
	fmt.Println("ok:", said)
}

// benchRun writes n users into the contender's table, one transaction each
// (BEGIN, INSERT, COMMIT, as an application writes), and returns the
// wall-clock time; then it checks that every write and what the triggers
// wrote are there.
func benchRun(c *benchContender, first, n int64) float64 {
	start := time.Now()
	for id := first; id < first+n; id++ {
		outcome, err := tx(func(t *sql.Tx) error {
			_, err := t.Exec("INSERT INTO "+c.table+" (id, name) VALUES (?, ?)", id, fmt.Sprintf("user %d", id))
			return err
		})
		if outcome != nil {
			fail("bench: %s: write %d: %v", c.Name, id, err)
		}
	}
	elapsed := time.Since(start).Seconds()
	for _, q := range c.checked {
		if got := queryInts(q, first, first+n)[0][0]; got != n {
			fail("bench: %s: %q found %d rows for %d users", c.Name, q, got, n)
		}
	}
	return elapsed
}

func bench(seedPath string, quick bool, out string) {
	n, warmup, rounds := int64(400), 1, 7
	mode := "full"
	if quick {
		n, rounds, mode = 40, 3, "quick"
	}
	benchSchema(seedPath)
	contenders := []*benchContender{
		{Name: "no triggers: a look-alike user table (baseline)", table: "plain_user",
			checked: []string{"SELECT count(*) FROM plain_user WHERE id >= ? AND id < ?"}},
		{Name: "default_album + task_state packs, user captured", table: "user",
			checked: []string{
				"SELECT count(*) FROM user WHERE id >= ? AND id < ?",
				"SELECT count(*) FROM album WHERE user_id >= ? AND user_id < ?",
				`SELECT count(*) FROM trigger_outbox WHERE channel = 'user' AND json_extract(payload, '$.op') = 'insert'
				   AND json_extract(payload, '$.key') >= ? AND json_extract(payload, '$.key') < ?`,
			}},
	}
	for _, c := range contenders {
		c.Status, c.RatioTo = "ran", contenders[0].Name
		c.Samples, c.WallSamples = []float64{}, []float64{}
	}
	fmt.Printf("\n== 12 dqlite cluster, 3 nodes: %d writes per round, one transaction each\n", n)
	next := int64(1_000_000)
	for rnd := 0; rnd < warmup+rounds; rnd++ {
		label := fmt.Sprintf("warm-up %d", rnd+1)
		if rnd >= warmup {
			label = fmt.Sprintf("round %d/%d", rnd+1-warmup, rounds)
		}
		line := "   " + label + ":"
		for i, c := range contenders {
			secs := benchRun(c, next, n)
			next += n
			if rnd >= warmup {
				c.Samples = append(c.Samples, secs)
				c.WallSamples = append(c.WallSamples, secs)
			}
			line += fmt.Sprintf("  [%d] %.0f writes/s", i+1, float64(n)/secs)
		}
		fmt.Println(line)
	}
	var sqliteVersion string
	check(db.QueryRow("SELECT sqlite_version()").Scan(&sqliteVersion), "sqlite_version()")
	record := map[string]any{
		"host":   "dqlite",
		"mode":   mode,
		"sqlite": sqliteVersion,
		"benchmarks": []any{map[string]any{
			"id":         "12",
			"title":      "dqlite cluster: writes with the packs and capture, or with no triggers",
			"work":       fmt.Sprintf("%d users per round, one transaction each, through a 3-node dqlite cluster on 127.0.0.1", n),
			"kind":       "time",
			"measure":    "wall-clock time",
			"units":      map[string]any{"count": n, "unit": "write"},
			"rate":       true,
			"warmup":     warmup,
			"rounds":     rounds,
			"contenders": contenders,
		}},
	}
	data, err := json.MarshalIndent(record, "", "  ")
	check(err, "bench JSON")
	check(os.WriteFile(out, data, 0o644), "bench --out")
}
