// A three-node dqlite cluster (hosts/dqlite-node) with sqlite-triggers on
// every node, driven through go-dqlite's database/sql driver while the
// leader is SIGKILLed at random points. After each failover it checks the
// packs' invariants, that every write seen to commit is there (and every
// write seen to fail is not), the outbox's seqs, and a consumer acking
// through the cluster that processes every committed event exactly once.
// Then it checks what a node without the extension does once it leads.
//
// Usage:
//
//	dqlite-cluster-test NODE_BINARY EXTENSION SEED_SCHEMA_SQL WORKDIR ROUNDS
//	dqlite-cluster-test NODE_BINARY EXTENSION SEED_SCHEMA_SQL WORKDIR --bench [--quick] --out FILE
//
// --bench runs benchmark 12 of docs/benchmarks.md instead (bench.go) and
// writes its raw samples to FILE in the shape benches/report.py reads.
//
// The pids of the nodes it runs are kept in WORKDIR/pids, so that run.sh
// can stop them whatever happens to this program.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/canonical/go-dqlite/client"
	"github.com/canonical/go-dqlite/driver"
)

var (
	nodeBin, extPath, workDir string
	nodes                     []*node
	store                     client.NodeStore
	db                        *sql.DB
)

type node struct {
	id        uint64
	addr, dir string
	ext       bool
	cmd       *exec.Cmd
	exited    chan struct{}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	stopAll(syscall.SIGKILL)
	os.Exit(1)
}

func check(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

func writePids() {
	var b strings.Builder
	for _, n := range nodes {
		if n.cmd != nil {
			fmt.Fprintf(&b, "%d\n", n.cmd.Process.Pid)
		}
	}
	check(os.WriteFile(filepath.Join(workDir, "pids"), []byte(b.String()), 0o644), "pids")
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err, "free port")
	defer l.Close()
	return l.Addr().String()
}

func (n *node) start(join string) {
	args := []string{"--id", strconv.FormatUint(n.id, 10), "--address", n.addr, "--dir", n.dir, "--latency-ms", "50"}
	if n.ext {
		args = append(args, "--extension", extPath)
	} else {
		args = append(args, "--no-extension")
	}
	if join != "" {
		args = append(args, "--join", join)
	}
	log, err := os.OpenFile(filepath.Join(workDir, fmt.Sprintf("node%d.log", n.id)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	check(err, "node log")
	n.cmd = exec.Command(nodeBin, args...)
	n.cmd.Stdout, n.cmd.Stderr = log, log
	check(n.cmd.Start(), "start node")
	n.exited = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); log.Close(); close(done) }(n.cmd, n.exited)
	writePids()
}

func (n *node) stop(sig syscall.Signal) {
	if n.cmd == nil {
		return
	}
	n.cmd.Process.Signal(sig)
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-n.exited
	}
	n.cmd = nil
	writePids()
}

func stopAll(sig syscall.Signal) {
	for _, n := range nodes {
		n.stop(sig)
	}
}

func leader() (*node, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cli, err := client.FindLeader(ctx, store)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	info, err := cli.Leader(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		if n.addr == info.Address {
			return n, nil
		}
	}
	return nil, fmt.Errorf("unknown leader %s", info.Address)
}

// waitVoters waits until the leader reports exactly the given voters.
func waitVoters(ids ...uint64) {
	want := fmt.Sprint(ids)
	var got string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		cli, err := client.FindLeader(ctx, store)
		if err == nil {
			var infos []client.NodeInfo
			infos, err = cli.Cluster(ctx)
			cli.Close()
			var voters []uint64
			for _, i := range infos {
				if i.Role == client.Voter {
					voters = append(voters, i.ID)
				}
			}
			sort.Slice(voters, func(a, b int) bool { return voters[a] < voters[b] })
			got = fmt.Sprint(voters)
			if err == nil && got == want {
				cancel()
				return
			}
		}
		cancel()
	}
	fail("the cluster's voters are %s, not %s", got, want)
}

// tx runs f in a transaction on the leader: nil when COMMIT succeeded,
// errBefore when the transaction failed before its COMMIT (so it did not
// commit), and any other error when the COMMIT's outcome is unknown.
var errBefore = errors.New("failed before COMMIT")

func tx(f func(*sql.Tx) error) (error, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t, err := db.BeginTx(ctx, nil)
	if err != nil {
		return errBefore, err
	}
	if err := f(t); err != nil {
		t.Rollback()
		return errBefore, err
	}
	if err := t.Commit(); err != nil {
		return err, err
	}
	return nil, nil
}

// call runs a statement whose SQL functions write (SELECT trigger_ack(...),
// trigger_capture, ...) inside the given transaction, as a query. Such a
// statement must never run outside BEGIN ... COMMIT on dqlite 1.11: dqlite
// takes a SELECT for read-only and does not replicate what it wrote, and
// the leader aborts on its next write (see hosts/dqlite-node/README.md).
func call(t *sql.Tx, query string, args ...any) (string, error) {
	var v any
	if err := t.QueryRow(query, args...).Scan(&v); err != nil {
		return "", err
	}
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	return fmt.Sprint(v), nil
}

func mustTx(what string, f func(*sql.Tx) error) {
	for i := 0; ; i++ {
		outcome, err := tx(f)
		if outcome == nil {
			return
		}
		if i == 50 {
			fail("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func queryInts(query string, args ...any) [][]int64 {
	for i := 0; ; i++ {
		out, err := tryInts(query, args...)
		if err == nil {
			return out
		}
		if i == 50 {
			fail("%s: %v", query, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tryInts(query string, args ...any) ([][]int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]int64
	for rows.Next() {
		r := make([]int64, len(cols))
		p := make([]any, len(cols))
		for i := range r {
			p[i] = &r[i]
		}
		if err := rows.Scan(p...); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// --- the model of what the client saw ---

type status int

const (
	committed status = iota
	failed           // failed before COMMIT: must be absent
	unknown          // the COMMIT's answer was lost: either way
)

var (
	users      = map[int64]status{}
	events     = map[int64]status{}
	obsWrites  = map[int64][]obsWrite{}
	nextID     = int64(1)
	processed  = map[int64]string{} // the consumer's work, keyed by seq
	redelivers = 0
	failovers  []time.Duration
	statusName = map[status]string{committed: "committed", failed: "failed", unknown: "unknown"}
)

type obsWrite struct {
	state int64
	st    status
}

const nObs = 10

func record(outcome error) status {
	switch {
	case outcome == nil:
		return committed
	case outcome == errBefore:
		return failed
	}
	return unknown
}

// oneWrite does one random write transaction and records what it saw.
func oneWrite(r *rand.Rand) error {
	switch k := r.Intn(10); {
	case k < 4: // a user (default_album makes its album), with an emitted event
		id := nextID
		nextID++
		outcome, err := tx(func(t *sql.Tx) error {
			if _, err := t.Exec("INSERT INTO user (id, name) VALUES (?, ?)", id, fmt.Sprintf("user %d", id)); err != nil {
				return err
			}
			_, err := call(t, "SELECT trigger_emit('users', json_object('id', ?))", id)
			return err
		})
		users[id] = record(outcome)
		return err
	case k < 7: // an obs state (task_state follows)
		obs := int64(1 + r.Intn(nObs))
		state := int64(r.Intn(3))
		outcome, err := tx(func(t *sql.Tx) error {
			_, err := t.Exec("UPDATE obs SET state = ? WHERE id = ?", state, obs)
			return err
		})
		obsWrites[obs] = append(obsWrites[obs], obsWrite{state, record(outcome)})
		return err
	default: // a row of the captured table, sometimes with a user in the same transaction
		id := nextID
		nextID++
		both := r.Intn(3) == 0
		outcome, err := tx(func(t *sql.Tx) error {
			if _, err := t.Exec("INSERT INTO reading (id, value) VALUES (?, ?)", id, r.Float64()); err != nil {
				return err
			}
			if both {
				if _, err := t.Exec("INSERT INTO user (id, name) VALUES (?, ?)", id, "with reading"); err != nil {
					return err
				}
				_, err := call(t, "SELECT trigger_emit('users', json_object('id', ?))", id)
				return err
			}
			return nil
		})
		events[id] = record(outcome)
		if both {
			users[id] = record(outcome)
		}
		return err
	}
}

// consume is one step of the consumer "worker": read past its cursor,
// process each event once (keyed by seq), ack the last. Any step may fail
// in a failover; the events of an ack that was lost come again and are
// recognised by seq. It returns how many new events it processed.
func consume() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, "SELECT seq, payload FROM trigger_outbox WHERE seq > trigger_cursor('worker') ORDER BY seq LIMIT 200")
	if err != nil {
		return 0, err
	}
	type ev struct {
		seq     int64
		payload string
	}
	var got []ev
	for rows.Next() {
		var e ev
		if err := rows.Scan(&e.seq, &e.payload); err != nil {
			rows.Close()
			return 0, err
		}
		got = append(got, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	fresh := 0
	for _, e := range got {
		if p, seen := processed[e.seq]; seen {
			if p != e.payload {
				fail("seq %d came again with another payload: %q, then %q", e.seq, p, e.payload)
			}
			redelivers++
			continue
		}
		processed[e.seq] = e.payload
		fresh++
	}
	if len(got) == 0 {
		return 0, nil
	}
	last := got[len(got)-1].seq
	outcome, err := tx(func(t *sql.Tx) error {
		_, err := call(t, "SELECT trigger_ack('worker', ?)", last)
		return err
	})
	if outcome != nil {
		return fresh, err
	}
	return fresh, nil
}

// verify checks the cluster's data against the model.
func verify(round int) {
	present := map[int64]bool{}
	for _, r := range queryInts("SELECT id FROM user") {
		present[r[0]] = true
	}
	for id, st := range users {
		if st == committed && !present[id] {
			fail("round %d: user %d committed but missing", round, id)
		}
		if st == failed && present[id] {
			fail("round %d: user %d failed before COMMIT but is there", round, id)
		}
	}
	for id := range present {
		if _, ok := users[id]; !ok {
			fail("round %d: user %d was never written", round, id)
		}
	}
	albums := map[int64]int64{}
	for _, r := range queryInts("SELECT user.id, count(album.id) FROM user LEFT JOIN album ON album.user_id = user.id GROUP BY user.id") {
		albums[r[0]] = r[1]
		if r[1] != 1 {
			fail("round %d: user %d has %d default albums", round, r[0], r[1])
		}
	}
	if n := queryInts("SELECT count(*) FROM album WHERE user_id NOT IN (SELECT id FROM user)")[0][0]; n != 0 {
		fail("round %d: %d albums without a user", round, n)
	}

	obsState := map[int64]int64{}
	for _, r := range queryInts("SELECT id, state FROM obs") {
		obsState[r[0]] = r[1]
	}
	for obs := int64(1); obs <= nObs; obs++ {
		// the state is that of the last committed write or of an unknown one after it
		ok := map[int64]bool{}
		ever2 := false
		committed2 := false
		last := int64(0)
		ok[0] = true
		for _, w := range obsWrites[obs] {
			switch w.st {
			case committed:
				last = w.state
				ok = map[int64]bool{last: true}
				committed2 = committed2 || w.state == 2
				ever2 = ever2 || w.state == 2
			case unknown:
				ok[w.state] = true
				ever2 = ever2 || w.state == 2
			}
		}
		if !ok[obsState[obs]] {
			fail("round %d: obs %d has state %d; the client's writes allow %v", round, obs, obsState[obs], ok)
		}
		for _, r := range queryInts("SELECT id, state FROM task WHERE obs_id = ?", obs) {
			switch {
			case obsState[obs] == 2 && r[1] != 2, committed2 && r[1] != 2:
				fail("round %d: task %d of obs %d (state %d) has state %d", round, r[0], obs, obsState[obs], r[1])
			case r[1] == 2 && !ever2:
				fail("round %d: task %d has state 2 but obs %d never did", round, r[0], obs)
			}
		}
	}

	readings := map[int64]bool{}
	for _, r := range queryInts("SELECT id FROM reading") {
		readings[r[0]] = true
	}
	for id, st := range events {
		if st == committed && !readings[id] {
			fail("round %d: reading %d committed but missing", round, id)
		}
		if st == failed && readings[id] {
			fail("round %d: reading %d failed before COMMIT but is there", round, id)
		}
	}

	// The outbox: seqs strictly increasing, one insert event per reading and
	// one users event per user, none for rows that are not there.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var outbox [][2]string
	var seqs []int64
	for i := 0; ; i++ {
		outbox, seqs = nil, nil
		rows, err := db.QueryContext(ctx, "SELECT seq, channel, payload FROM trigger_outbox ORDER BY rowid")
		if err == nil {
			for rows.Next() {
				var seq int64
				var ch, p string
				if err = rows.Scan(&seq, &ch, &p); err != nil {
					break
				}
				seqs = append(seqs, seq)
				outbox = append(outbox, [2]string{ch, p})
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
		if err == nil {
			break
		}
		if i == 50 {
			fail("reading the outbox: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	readingEvents := map[int64]int{}
	userEvents := map[int64]int{}
	for i, e := range outbox {
		if i > 0 && seqs[i] <= seqs[i-1] {
			fail("round %d: outbox seq %d follows %d", round, seqs[i], seqs[i-1])
		}
		var p struct {
			Op  string `json:"op"`
			Key int64  `json:"key"`
			ID  int64  `json:"id"`
		}
		check(json.Unmarshal([]byte(e[1]), &p), "payload "+e[1])
		switch e[0] {
		case "reading":
			if p.Op != "insert" {
				fail("round %d: unexpected event %s", round, e[1])
			}
			readingEvents[p.Key]++
		case "users":
			userEvents[p.ID]++
		default:
			fail("round %d: event on channel %q", round, e[0])
		}
	}
	for id := range readings {
		if readingEvents[id] != 1 {
			fail("round %d: reading %d has %d insert events", round, id, readingEvents[id])
		}
	}
	for id, n := range readingEvents {
		if !readings[id] {
			fail("round %d: %d events for reading %d, which is not there", round, n, id)
		}
	}
	for id := range present {
		if userEvents[id] != 1 {
			fail("round %d: user %d has %d events", round, id, userEvents[id])
		}
	}
	for id, n := range userEvents {
		if !present[id] {
			fail("round %d: %d events for user %d, which is not there", round, n, id)
		}
	}

	// The consumer catches up, then has processed exactly the committed events.
	for i := 0; ; i++ {
		n, err := consume()
		if err == nil && n == 0 && len(processed) >= len(seqs) {
			break
		}
		if i == 200 {
			fail("round %d: the consumer does not catch up: %v", round, err)
		}
		if err != nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if len(processed) != len(seqs) {
		fail("round %d: the consumer processed %d events, the outbox has %d", round, len(processed), len(seqs))
	}
	for i, seq := range seqs {
		if processed[seq] != outbox[i][1] {
			fail("round %d: the consumer's seq %d is %q, the outbox's %q", round, seq, processed[seq], outbox[i][1])
		}
	}
	cursor := queryInts("SELECT trigger_cursor('worker')")[0][0]
	if len(seqs) > 0 && cursor != seqs[len(seqs)-1] {
		fail("round %d: the consumer's cursor is %d, the last seq %d", round, cursor, seqs[len(seqs)-1])
	}
	count := map[status]int{}
	for _, st := range users {
		count[st]++
	}
	for _, st := range events {
		count[st]++
	}
	for _, ws := range obsWrites {
		for _, w := range ws {
			count[w.st]++
		}
	}
	fmt.Printf("ok: round %d: %d users (each one default album), %d readings, %d events in seq order, consumer processed each once (%d redelivered after lost acks); writes %d committed, %d failed, %d unknown\n",
		round, len(present), len(readings), len(seqs), redelivers, count[committed], count[failed], count[unknown])
}

// round: writes and consumer steps while the leader is SIGKILLed at a
// random moment; then the killed node is restarted with its data.
func round(r *rand.Rand, i int) {
	killed := make(chan *node, 1)
	delay := time.Duration(100+r.Intn(900)) * time.Millisecond
	var killedAt time.Time
	go func() {
		time.Sleep(delay)
		for {
			n, err := leader()
			if err == nil {
				killedAt = time.Now()
				n.cmd.Process.Signal(syscall.SIGKILL)
				killed <- n
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	var victim *node
	okAfter := 0
	for okAfter < 20 {
		err := oneWrite(r)
		if r.Intn(4) == 0 {
			consume()
		}
		if victim == nil {
			select {
			case victim = <-killed:
			default:
			}
		} else if err == nil {
			if okAfter == 0 {
				failovers = append(failovers, time.Since(killedAt))
			}
			okAfter++
		}
	}
	<-victim.exited
	victim.cmd = nil
	writePids()
	var join string
	for _, n := range nodes {
		if n != victim && n.cmd != nil {
			join = n.addr
		}
	}
	victim.start(join)
	waitVoters(1, 2, 3)
	for _, n := range nodes {
		select {
		case <-n.exited:
			fail("round %d: node %d exited (see its log)", i, n.id)
		default:
		}
	}
	fmt.Printf("ok: round %d: killed the leader (node %d) after %v; writes went on after %v; node %d restarted\n",
		i, victim.id, delay, failovers[len(failovers)-1].Round(time.Millisecond), victim.id)
	verify(i)
}

func schema(seedPath string) {
	seed, err := os.ReadFile(seedPath)
	check(err, "seed schema")
	mustTx("seed schema", func(t *sql.Tx) error {
		var lines []string
		for _, l := range strings.Split(string(seed), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "--") {
				lines = append(lines, l)
			}
		}
		for _, stmt := range strings.Split(strings.Join(lines, "\n"), ";") {
			if strings.TrimSpace(stmt) != "" {
				if _, err := t.Exec(stmt); err != nil {
					return err
				}
			}
		}
		return nil
	})
	var said []string
	mustTx("install the packs and capture", func(t *sql.Tx) error {
		said = nil
		if _, err := t.Exec("CREATE TABLE reading (id INTEGER PRIMARY KEY, value REAL)"); err != nil {
			return err
		}
		for _, q := range []string{
			"SELECT trigger_install('default_album')",
			"SELECT trigger_install('task_state')",
			"SELECT trigger_capture('reading')",
		} {
			s, err := call(t, q)
			if err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
			said = append(said, s)
		}
		for obs := int64(1); obs <= nObs; obs++ {
			if _, err := t.Exec("INSERT INTO obs (id, name) VALUES (?, ?)", obs, fmt.Sprintf("obs %d", obs)); err != nil {
				return err
			}
			for k := 0; k < 2; k++ {
				if _, err := t.Exec("INSERT INTO task (obs_id, name) VALUES (?, ?)", obs, fmt.Sprintf("task %d.%d", obs, k)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	for _, s := range said {
		fmt.Println("ok:", s)
	}
}

// refusals: trigger_wait and trigger_watch refuse on a cluster, saying why
// and what to use instead.
func refusals() {
	for _, c := range []struct{ query, want string }{
		{"SELECT trigger_wait(0, 100)", "poll instead: SELECT seq, channel, payload FROM trigger_outbox WHERE seq > after_seq"},
		{"SELECT trigger_watch('reading')", "capture the table into the outbox instead"},
	} {
		_, err := tx(func(t *sql.Tx) error {
			_, err := call(t, c.query)
			return err
		})
		// go-dqlite's query path reports the SQL; the exec path the message.
		if err == nil {
			fail("%s was not refused", c.query)
		}
		_, execErr := db.Exec(c.query)
		if execErr == nil || !strings.Contains(execErr.Error(), c.want) {
			fail("%s: want an error containing %q, got %v", c.query, c.want, execErr)
		}
		fmt.Printf("ok: %s refused: %v\n", c.query, execErr)
	}
	// A call that writes, in a statement of its own outside BEGIN ...
	// COMMIT: dqlite would take it for a read, not replicate its write and
	// abort the leader on its next write. The extension refuses it, and the
	// leader goes on writing.
	for _, q := range []string{
		"SELECT trigger_emit('refused', 1)",
		"SELECT trigger_ack('refused', 0)",
		"SELECT trigger_capture('reading')",
	} {
		_, err := db.Exec(q)
		if err == nil || !strings.Contains(err.Error(), "must run inside BEGIN ... COMMIT") {
			fail("%s outside a transaction: want it refused, got %v", q, err)
		}
		fmt.Printf("ok: %s outside a transaction refused: %v\n", q, err)
	}
	mustTx("a write after the refusals", func(t *sql.Tx) error {
		if _, err := t.Exec("CREATE TABLE IF NOT EXISTS after_refusals (x)"); err != nil {
			return err
		}
		_, err := t.Exec("INSERT INTO after_refusals VALUES (1)")
		return err
	})
	if n := queryInts("SELECT count(*) FROM trigger_outbox WHERE channel = 'refused'")[0][0]; n != 0 {
		fail("the refused calls left %d events", n)
	}
	fmt.Println("ok: the leader writes on after the refusals, which wrote nothing")
}

// withoutExtension: a node without the extension joins as a voter (nothing
// stops it); while it leads, plain-SQL triggers (packs, capture) work, and
// anything calling the extension's functions fails with "no such function".
func withoutExtension() {
	n4 := &node{id: 4, addr: freePort(), dir: filepath.Join(workDir, "node4"), ext: false}
	nodes = append(nodes, n4)
	n4.start(nodes[0].addr)
	waitVoters(1, 2, 3, 4)
	fmt.Println("ok: node 4, without the extension, joined as a voter")
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cli, err := client.FindLeader(ctx, store)
		if err == nil {
			err = cli.Transfer(ctx, 4)
			cli.Close()
		}
		cancel()
		if l, _ := leader(); l == n4 {
			break
		}
		if i == 50 {
			fail("leadership not transferred to node 4: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Println("ok: node 4 leads")
	id := nextID
	nextID++
	mustTx("a user and a reading on a leader without the extension", func(t *sql.Tx) error {
		if _, err := t.Exec("INSERT INTO user (id, name) VALUES (?, 'no extension')", id); err != nil {
			return err
		}
		_, err := t.Exec("INSERT INTO reading (id, value) VALUES (?, 1.5)", id)
		return err
	})
	events[id] = committed
	if n := queryInts("SELECT count(*) FROM album WHERE user_id = ?", id)[0][0]; n != 1 {
		fail("the pack made %d albums on a leader without the extension", n)
	}
	if n := queryInts("SELECT count(*) FROM trigger_outbox WHERE channel = 'reading' AND payload LIKE ?", fmt.Sprintf(`{"op":"insert","key":%d,%%`, id))[0][0]; n != 1 {
		fail("the capture made %d events on a leader without the extension", n)
	}
	fmt.Println("ok: on a leader without the extension the packs' and capture's triggers work (plain SQL)")
	// The user has no 'users' event: it was written without trigger_emit.
	// Give it one now, through a leader with the extension, below.
	for _, q := range []string{
		"SELECT trigger_emit('users', json_object('id', 0))",
		"SELECT trigger_ack('worker', 1)",
		"SELECT trigger_cursor('worker')",
	} {
		outcome, err := tx(func(t *sql.Tx) error {
			_, err := call(t, q)
			return err
		})
		if outcome != errBefore || !strings.Contains(err.Error(), "no such function") {
			fail("%s on a leader without the extension: want no such function, got %v", q, err)
		}
		fmt.Printf("ok: %s on a leader without the extension: %v\n", q, err)
	}
	// Node 4 leaves: leadership goes back to a node with the extension.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := client.FindLeader(ctx, store)
	check(err, "find leader")
	check(cli.Transfer(ctx, 1), "transfer leadership to node 1")
	cli.Close()
	time.Sleep(500 * time.Millisecond)
	cli, err = client.FindLeader(ctx, store)
	check(err, "find leader")
	check(cli.Remove(ctx, 4), "remove node 4")
	cli.Close()
	n4.stop(syscall.SIGTERM)
	nodes = nodes[:3]
	waitVoters(1, 2, 3)
	mustTx("the users event of the user written without the extension", func(t *sql.Tx) error {
		_, err := call(t, "SELECT trigger_emit('users', json_object('id', ?))", id)
		return err
	})
	users[id] = committed
	fmt.Println("ok: node 4 removed; node 1 leads again")
}

func main() {
	usage := func() {
		fmt.Fprintln(os.Stderr, "usage: dqlite-cluster-test NODE_BINARY EXTENSION SEED_SCHEMA_SQL WORKDIR (ROUNDS | --bench [--quick] --out FILE)")
		os.Exit(2)
	}
	if len(os.Args) < 6 {
		usage()
	}
	nodeBin, extPath, workDir = os.Args[1], os.Args[2], os.Args[4]
	benchMode, quick, benchOut := false, false, ""
	rounds := 0
	var err error
	if os.Args[5] == "--bench" {
		benchMode = true
		for i := 6; i < len(os.Args); i++ {
			switch {
			case os.Args[i] == "--quick":
				quick = true
			case os.Args[i] == "--out" && i+1 < len(os.Args):
				i++
				benchOut = os.Args[i]
			default:
				usage()
			}
		}
		if benchOut == "" {
			usage()
		}
	} else {
		if len(os.Args) != 6 {
			usage()
		}
		rounds, err = strconv.Atoi(os.Args[5])
		check(err, "ROUNDS")
	}
	seed := time.Now().UnixNano()
	if s := os.Getenv("DQLITE_TEST_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	if !benchMode {
		fmt.Printf("seed %d (DQLITE_TEST_SEED=%d repeats the random choices)\n", seed, seed)
	}
	r := rand.New(rand.NewSource(seed))

	for id := uint64(1); id <= 3; id++ {
		nodes = append(nodes, &node{id: id, addr: freePort(), dir: filepath.Join(workDir, fmt.Sprintf("node%d", id)), ext: true})
	}
	store = client.NewInmemNodeStore()
	var infos []client.NodeInfo
	for _, n := range nodes {
		infos = append(infos, client.NodeInfo{ID: n.id, Address: n.addr})
	}
	check(store.Set(context.Background(), infos), "node store")
	nodes[0].start("")
	nodes[1].start(nodes[0].addr)
	waitVoters(1, 2)
	nodes[2].start(nodes[0].addr)
	waitVoters(1, 2, 3)
	fmt.Println("ok: 3 voters")

	drv, err := driver.New(store, driver.WithConnectionTimeout(2*time.Second), driver.WithContextTimeout(5*time.Second),
		driver.WithLogFunc(func(client.LogLevel, string, ...any) {}))
	check(err, "driver")
	sql.Register("dqlite", drv)
	db, err = sql.Open("dqlite", "app.db")
	check(err, "open")

	if benchMode {
		bench(os.Args[3], quick, benchOut)
		check(db.Close(), "close")
		stopAll(syscall.SIGTERM)
		fmt.Println("ok: nodes stopped with SIGTERM")
		return
	}
	schema(os.Args[3])
	refusals()
	verify(0)
	start := time.Now()
	for i := 1; i <= rounds; i++ {
		round(r, i)
	}
	withoutExtension()
	verify(rounds + 1)
	sort.Slice(failovers, func(a, b int) bool { return failovers[a] < failovers[b] })
	if len(failovers) > 0 {
		fmt.Printf("ok: %d failovers in %v; writes went on after min %v, median %v, max %v\n", len(failovers),
			time.Since(start).Round(time.Second), failovers[0].Round(time.Millisecond),
			failovers[len(failovers)/2].Round(time.Millisecond), failovers[len(failovers)-1].Round(time.Millisecond))
	}
	check(db.Close(), "close")
	stopAll(syscall.SIGTERM)
	fmt.Println("ok: nodes stopped with SIGTERM")
}
