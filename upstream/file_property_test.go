package upstream

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/pilot-hpc/pilot/task"
)

// fileModel is what a run of random operations should have done to a file
// queue: the lines, which are flushed, the live leases and the results.
type fileModel struct {
	t       *rapid.T
	path    string
	clk     *clock
	q       *FileQueue
	lines   []string          // task id, or "" for a line that is not a task
	cmds    map[string]string // task id → its command
	flushed map[int]bool
	leases  map[string]modelLease
	results map[string]string // id → state, as results.jsonl says
	dups    int
	cursor  Cursor
	nextID  int
}

type modelLease struct {
	cluster string
	expires time.Time
}

func (m *fileModel) open() {
	q, err := OpenFile(m.path, FileOptions{Create: true, Now: m.clk.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		m.t.Fatal(err)
	}
	m.q = q
}

// expire drops the leases that ran out, as every write of the queue does.
func (m *fileModel) expire() {
	for id, l := range m.leases {
		if !m.clk.Now().Before(l.expires) {
			delete(m.leases, id)
		}
	}
}

func (m *fileModel) live(id string) bool {
	l, ok := m.leases[id]
	return ok && m.clk.Now().Before(l.expires)
}

// pending says whether line i may be leased now.
func (m *fileModel) pending(i int) bool {
	id := m.lines[i]
	_, done := m.results[id]
	return id != "" && !done && !m.flushed[i] && !m.live(id)
}

// follow reads new results and checks each is the first for its id.
func (m *fileModel) follow() {
	rs, next, err := m.q.Results(ctx, m.cursor, 0)
	if err != nil {
		m.t.Fatal(err)
	}
	for _, r := range rs {
		if _, twice := m.results[r.ID]; twice {
			m.t.Fatalf("second result for %s", r.ID)
		}
		m.results[r.ID] = r.State
	}
	m.cursor = next
}

func (m *fileModel) idOf(t *rapid.T) string {
	if len(m.lines) == 0 || rapid.IntRange(0, 9).Draw(t, "unknown") == 0 {
		return "nope"
	}
	i := rapid.IntRange(0, len(m.lines)-1).Draw(t, "line")
	if m.lines[i] == "" {
		return badLineID(i + 1)
	}
	return m.lines[i]
}

func (m *fileModel) check(t *rapid.T) {
	m.follow()
	s, err := m.q.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want Status
	for i, id := range m.lines {
		key := id
		if id == "" {
			key = badLineID(i + 1)
		}
		switch st, done := m.results[key]; {
		case done && st == task.StateDone:
			want.Done++
		case done:
			want.Failed++
		case m.flushed[i]:
			want.Flushed++
		case id != "" && m.live(id):
			want.Leased++
		default:
			want.Pending++
		}
	}
	want.Duplicates = m.dups
	if s.Pending != want.Pending || s.Leased != want.Leased || s.Done != want.Done || s.Failed != want.Failed || s.Flushed != want.Flushed || s.Duplicates != want.Duplicates {
		t.Fatalf("status %+v, the model says %+v", s, want)
	}
}

func TestFileQueueProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		dir, err := os.MkdirTemp("", "pilot-file-prop-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		m := &fileModel{t: t, path: filepath.Join(dir, "tasks.jsonl"), clk: newClock(),
			flushed: map[int]bool{}, leases: map[string]modelLease{}, results: map[string]string{}, cmds: map[string]string{}}
		m.open()
		t.Repeat(map[string]func(*rapid.T){
			"append": func(t *rapid.T) {
				var b strings.Builder
				for n := rapid.IntRange(1, 5).Draw(t, "n"); n > 0; n-- {
					if rapid.IntRange(0, 5).Draw(t, "bad") == 0 {
						b.WriteString(garbage(rapid.IntRange(0, 2).Draw(t, "kind")) + "\n")
						m.lines = append(m.lines, "")
						continue
					}
					m.nextID++
					b.WriteString(taskLine(m.nextID) + "\n")
					m.lines = append(m.lines, taskID(m.nextID))
					m.cmds[taskID(m.nextID)] = "true"
				}
				appendRaw(t, m.path, b.String())
			},
			"submit": func(t *rapid.T) {
				// Another process submits (pilot submit): some ids new, some
				// already in the campaign (refused), maybe one twice.
				sub, err := OpenFile(m.path, FileOptions{Now: m.clk.Now, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				// The same id and command is the same task (accepted, not
				// stored again); another command, another task (refused).
				var specs []task.Spec
				for n := rapid.IntRange(1, 4).Draw(t, "n"); n > 0; n-- {
					id := taskID(m.nextID + 1)
					if len(m.lines) > 0 && rapid.IntRange(0, 3).Draw(t, "old") == 0 {
						id = m.idOf(t)
					} else {
						m.nextID++
					}
					specs = append(specs, task.Spec{ID: id, Cmd: []string{rapid.SampledFrom([]string{"true", "false"}).Draw(t, "cmd")}})
				}
				rep, err := sub.Submit(ctx, specs)
				if err != nil {
					t.Fatal(err)
				}
				inBatch := map[string]bool{}
				accepted := 0
				for _, s := range specs {
					switch {
					case task.ValidateID(s.ID) != nil || inBatch[s.ID]:
					case m.cmds[s.ID] == "":
						m.cmds[s.ID] = s.Cmd[0]
						m.lines = append(m.lines, s.ID)
						inBatch[s.ID] = true // a second one in this batch is refused
						accepted++
					case m.cmds[s.ID] == s.Cmd[0]:
						accepted++
					}
				}
				if rep.Accepted != accepted || len(rep.Rejected) != len(specs)-accepted {
					t.Fatalf("submit %v: %+v, the model accepts %d", specs, rep, accepted)
				}
			},
			"lease": func(t *rapid.T) {
				cl := rapid.SampledFrom([]string{"a", "b"}).Draw(t, "cluster")
				n := rapid.IntRange(1, 6).Draw(t, "n")
				ttl := time.Duration(rapid.IntRange(1, 5).Draw(t, "ttl")) * time.Minute
				m.expire()
				ls, err := m.q.Lease(ctx, LeaseRequest{Cluster: cl, MaxTasks: n, TTL: ttl})
				if err != nil {
					t.Fatal(err)
				}
				if len(ls) > n {
					t.Fatalf("asked for %d, got %d", n, len(ls))
				}
				m.follow()
				for _, l := range ls {
					i := -1
					for j, id := range m.lines {
						if id == l.Spec.ID {
							i = j
						}
					}
					if i < 0 || !m.pending(i) {
						t.Fatalf("leased %s, which is not pending", l.Spec.ID)
					}
					m.leases[l.Spec.ID] = modelLease{cl, m.clk.Now().Add(ttl)}
				}
				// Lease hands out everything pending before it returns fewer
				// than asked for.
				if len(ls) < n {
					for i := range m.lines {
						if m.pending(i) {
							t.Fatalf("line %d (%s) is pending but was not leased", i+1, m.lines[i])
						}
					}
				}
			},
			"complete": func(t *rapid.T) {
				id := m.idOf(t)
				st := rapid.SampledFrom([]string{task.StateDone, task.StateFailed}).Draw(t, "state")
				rep, err := m.q.Complete(ctx, "a", []task.Result{{ID: id, State: st}})
				if err != nil {
					t.Fatal(err)
				}
				_, had := m.results[id]
				i := -1
				for j, x := range m.lines {
					if x == id && x != "" {
						i = j
					}
				}
				switch {
				case had:
					if len(rep.Duplicates) != 1 {
						t.Fatalf("complete %s again: %+v", id, rep)
					}
					m.dups++
				case i < 0 || m.flushed[i]:
					if len(rep.Refused) != 1 {
						t.Fatalf("complete of unknown or flushed %s: %+v", id, rep)
					}
				default:
					if rep.Accepted != 1 {
						t.Fatalf("complete %s: %+v", id, rep)
					}
					delete(m.leases, id)
				}
				m.expire()
			},
			"release": func(t *rapid.T) {
				id := m.idOf(t)
				cl := rapid.SampledFrom([]string{"a", "b"}).Draw(t, "cluster")
				if err := m.q.Release(ctx, cl, []string{id}); err != nil {
					t.Fatal(err)
				}
				if l, ok := m.leases[id]; ok && l.cluster == cl {
					delete(m.leases, id)
				}
				m.expire()
			},
			"renew": func(t *rapid.T) {
				id := m.idOf(t)
				cl := rapid.SampledFrom([]string{"a", "b"}).Draw(t, "cluster")
				lost, err := m.q.Renew(ctx, cl, []string{id}, 3*time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				l, held := m.leases[id]
				held = held && l.cluster == cl
				switch {
				case held && len(lost) != 0:
					t.Fatalf("renew of %s by its holder %s lost it", id, cl)
				case !held && len(lost) != 1:
					t.Fatalf("renew of %s that %s does not hold: lost %v", id, cl, lost)
				case held:
					m.leases[id] = modelLease{cl, m.clk.Now().Add(3 * time.Minute)}
				}
				m.expire()
			},
			"advance": func(t *rapid.T) {
				m.clk.Advance(time.Duration(rapid.IntRange(1, 4).Draw(t, "min")) * time.Minute)
			},
			"flush": func(t *rapid.T) {
				admin, err := OpenFile(m.path, FileOptions{Now: m.clk.Now, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := admin.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				m.follow()
				for i, id := range m.lines {
					key := id
					if id == "" {
						key = badLineID(i + 1)
					}
					if _, done := m.results[key]; !done {
						m.flushed[i] = true
					}
				}
				m.leases = map[string]modelLease{}
			},
			"new writer": func(t *rapid.T) {
				m.open()
			},
			"": m.check,
		})
	})
}
