package chaos

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pilot-hpc/pilot/task"
)

// Input names what a run left on disk for the checker.
type Input struct {
	Queue       string   // the upstream input: the JSONL queue file (every line submitted)
	Results     string   // the campaign's results, one JSON record a line
	Flushed     string   // directory of flushed archives (STATE/flushed); "" none
	AttemptLogs []string // every agent's attempts.jsonl; a missing one is empty
	// AgentLogs are every agent's log (stdout and stderr), one file per
	// agent (a restarted agent appends to its own), grouped by the Raft
	// cluster the agents formed: a campaign may be worked by one cluster
	// after another (every pilot ended, the next allocation bootstrapped),
	// each counting its own terms. INV-4 reads the "leading the cluster"
	// lines and their terms.
	AgentLogs [][]string
	// MayPend allows tasks with no record: the run ended before they
	// could. They must then be visibly pending (Status). Without it a task
	// with no record is lost.
	MayPend bool
	// Status is 'pilot status --json' upstream counts; nil: not compared.
	Status map[string]int
	// InfraExtra is k of INV-3, the infrastructure-caused extra attempts a
	// task may have (default 2).
	InfraExtra int
}

// Report is what the checker found. Violations lists every broken
// invariant, each naming the task and the file it read it from.
type Report struct {
	Tasks      int `json:"tasks"`      // records the queue asks for (tasks and bad lines)
	Done       int `json:"done"`       // done records
	Failed     int `json:"failed"`     // failed records
	Flushed    int `json:"flushed"`    // tasks archived by a flush, with no record
	Pending    int `json:"pending"`    // no record, not flushed (allowed only with MayPend)
	Lost       int `json:"lost"`       // no record, not flushed, not allowed to pend
	Duplicates int `json:"duplicates"` // records beyond the first of one id
	Strays     int `json:"strays"`     // records of ids the queue never had
	MaxRuns    int `json:"max_runs"`   // most executions of one task in the attempt logs
	Attempts   int `json:"attempts"`   // attempt log lines
	// CrashedNodes counts tasks failed by the poison rule: they were on
	// two nodes that died (innocent ones too, after two kills).
	CrashedNodes int `json:"crashed_nodes"`
	// Terms counts the distinct terms some agent's log claims leadership of.
	Terms      int `json:"terms"`
	Violations []string
}

// OK says whether every invariant held.
func (r Report) OK() bool { return len(r.Violations) == 0 }

func (r *Report) violate(format string, a ...any) {
	r.Violations = append(r.Violations, fmt.Sprintf(format, a...))
}

// attemptLine is one line of an agent's attempt log.
type attemptLine struct {
	Task    string    `json:"task"`
	Attempt int       `json:"attempt"`
	Node    string    `json:"node"`
	Cores   []int     `json:"cores"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Cache   string    `json:"cache"`
	Outcome string    `json:"outcome"`
}

// Check reads a run's input, results, flushed archives, attempt logs and
// agent logs and checks INV-1 (none lost), INV-2 (recorded once), INV-3
// (bounded re-execution; infra failures never spend max_attempts), INV-4
// (one leader per term) and INV-6 (the status counts are the checker's).
func Check(in Input) (Report, error) {
	var rep Report
	if in.InfraExtra == 0 {
		in.InfraExtra = 2
	}
	specs, order, err := readQueue(in.Queue)
	if err != nil {
		return rep, err
	}
	rep.Tasks = len(order)
	records, err := readResults(in.Results, specs, &rep)
	if err != nil {
		return rep, err
	}
	flushed, err := readFlushed(in.Flushed)
	if err != nil {
		return rep, err
	}
	for _, id := range order {
		_, has := records[id]
		switch {
		case has:
		case flushed[id]:
			rep.Flushed++
		case in.MayPend:
			rep.Pending++
		default:
			rep.Lost++
			rep.violate("INV-1 none lost: task %s (%s) has no record in %s and was not flushed", id, in.Queue, in.Results)
		}
	}
	atts, err := readAttempts(in.AttemptLogs)
	if err != nil {
		return rep, err
	}
	var startLogs []string
	for _, p := range in.AttemptLogs {
		startLogs = append(startLogs, filepath.Join(filepath.Dir(p), "starts.jsonl"))
	}
	starts, err := readAttempts(startLogs)
	if err != nil {
		return rep, err
	}
	rep.Attempts = len(atts)
	checkAttempts(&rep, specs, records, atts, starts, in.InfraExtra)
	if err := checkLeaders(&rep, in.AgentLogs); err != nil {
		return rep, err
	}
	if in.Status != nil {
		checkStatus(&rep, in.Status)
	}
	return rep, nil
}

// readQueue returns the record each complete line of the queue must get:
// a task under its id (the first line of an id wins), or a bad line under
// "line:N" (malformed, too long, a repeated id). Blank lines and a last
// line with no newline (not complete yet) get none.
func readQueue(path string) (map[string]task.Spec, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("checker: the queue: %w", err)
	}
	defer f.Close()
	specs := map[string]task.Spec{}
	var order []string
	r := bufio.NewReaderSize(f, 1<<20)
	for no := 1; ; no++ {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return specs, order, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("checker: read %s: %w", path, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		id := fmt.Sprintf("line:%d", no)
		if s, err := task.Parse(bytes.TrimRight(line, "\r\n")); err == nil {
			if _, dup := specs[s.ID]; !dup {
				id = s.ID
				specs[id] = s
			}
		}
		if strings.HasPrefix(id, "line:") {
			specs[id] = task.Spec{ID: id}
		}
		order = append(order, id)
	}
}

// readResults reads the results file; a second record of an id breaks
// INV-2, a record of an id the queue never had is a stray.
func readResults(path string, specs map[string]task.Spec, rep *Report) (map[string]task.Result, error) {
	out := map[string]task.Result{}
	err := eachLine(path, func(no int, line []byte) error {
		var r task.Result
		if err := json.Unmarshal(line, &r); err != nil {
			return fmt.Errorf("checker: %s:%d: %w", path, no, err)
		}
		if _, dup := out[r.ID]; dup {
			rep.Duplicates++
			rep.violate("INV-2 recorded once: task %s has a second record at %s:%d", r.ID, path, no)
			return nil
		}
		if _, ok := specs[r.ID]; !ok {
			rep.Strays++
			rep.violate("INV-1: %s:%d is a record of %s, which the queue never had", path, no, r.ID)
		}
		out[r.ID] = r
		switch r.State {
		case task.StateDone:
			rep.Done++
		case task.StateFailed:
			rep.Failed++
			if strings.HasPrefix(r.Error, "crashed-nodes:") {
				rep.CrashedNodes++
			}
		default:
			rep.violate("%s:%d: task %s has state %q, neither done nor failed", path, no, r.ID, r.State)
		}
		return nil
	})
	return out, err
}

// readFlushed returns the ids in the flush archives under dir.
func readFlushed(dir string) (map[string]bool, error) {
	out := map[string]bool{}
	if dir == "" {
		return out, nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	for _, path := range files {
		err := eachLine(path, func(no int, line []byte) error {
			var s struct {
				ID   string `json:"id"`
				Line int    `json:"line"`
			}
			if json.Unmarshal(line, &s) == nil && s.ID != "" {
				out[s.ID] = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func readAttempts(paths []string) ([]attemptLine, error) {
	var out []attemptLine
	for _, path := range paths {
		err := eachLine(path, func(no int, line []byte) error {
			var a attemptLine
			if err := json.Unmarshal(line, &a); err != nil {
				return fmt.Errorf("checker: %s:%d: %w", path, no, err)
			}
			out = append(out, a)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkAttempts checks INV-3. An execution is an attempt that started a
// process: it has a line in a start log (starts.jsonl, written as the
// process starts, so an execution its node's death cut short counts), or
// an attempt record naming cores that was no cache hit. A task failure is
// an attempt whose own process failed (exit, or failed-task). The extra
// executions caused by the infrastructure are those beyond the first that
// no task failure explains: at most k. Attempts the ledger assigned that
// never started (they waited in a backlog whose node died) are no
// re-execution. A task failed for max-attempts must have that many task
// failures in the logs: infra never spends them.
func checkAttempts(rep *Report, specs map[string]task.Spec, records map[string]task.Result, atts, starts []attemptLine, k int) {
	type ref struct {
		task    string
		attempt int
	}
	ran := map[ref]bool{}
	for _, a := range starts {
		ran[ref{a.Task, a.Attempt}] = true
	}
	taskFails := map[string]int{}
	for _, a := range atts {
		if len(a.Cores) > 0 && a.Cache != task.CacheHit {
			ran[ref{a.Task, a.Attempt}] = true
		}
		if a.Outcome == "exit" || a.Outcome == "failed-task" {
			taskFails[a.Task]++
		}
	}
	runs := map[string]int{}
	for r := range ran {
		runs[r.task]++
	}
	ids := make([]string, 0, len(runs))
	for id := range runs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		rep.MaxRuns = max(rep.MaxRuns, runs[id])
		if _, ok := specs[id]; !ok {
			rep.violate("INV-1: the attempt logs show task %s run, which the queue never had", id)
		}
	}
	ids = ids[:0]
	for id := range records {
		ids = append(ids, id)
	}
	sort.Strings(ids) // violations in a stable order
	for _, id := range ids {
		r := records[id]
		if r.Attempts == 0 {
			continue // a bad line, or a task that never ran
		}
		if extra := runs[id] - 1 - taskFails[id]; extra > k {
			rep.violate("INV-3 bounded re-execution: task %s had %d executions (%d attempts), %d task failures: %d extra from the infrastructure, more than %d",
				id, runs[id], r.Attempts, taskFails[id], extra, k)
		}
		if r.State == task.StateFailed && strings.HasPrefix(r.Error, "max-attempts:") && taskFails[id] < specs[id].MaxAttempts {
			rep.violate("INV-3: task %s failed for max-attempts (%d) with only %d task failures in the attempt logs: infrastructure failures were charged to it (%s)",
				id, specs[id].MaxAttempts, taskFails[id], r.Error)
		}
	}
}

// checkStatus checks INV-6: the upstream counts of 'pilot status' are
// the checker's.
func checkStatus(rep *Report, st map[string]int) {
	want := map[string]int{"done": rep.Done, "failed": rep.Failed, "flushed": rep.Flushed}
	for _, k := range []string{"done", "failed", "flushed"} {
		if st[k] != want[k] {
			rep.violate("INV-6 status truthful: pilot status says %s=%d, the checker counts %d", k, st[k], want[k])
		}
	}
	if got := st["pending"] + st["leased"]; got != rep.Pending+rep.Lost {
		rep.violate("INV-6 status truthful: pilot status says pending+leased=%d, the checker counts %d tasks with no record", got, rep.Pending+rep.Lost)
	}
}

// eachLine calls fn with every non-blank line of a JSONL file; a missing
// file has none.
func eachLine(path string, fn func(no int, line []byte) error) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for no := 1; ; no++ {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 && err == nil {
			if ferr := fn(no, bytes.TrimSpace(line)); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
}

// records reads a results file into a map by id (the last record wins).
func records(path string) (map[string]task.Result, error) {
	out := map[string]task.Result{}
	err := eachLine(path, func(no int, line []byte) error {
		var r task.Result
		if err := json.Unmarshal(line, &r); err != nil {
			return fmt.Errorf("%s:%d: %w", path, no, err)
		}
		out[r.ID] = r
		return nil
	})
	return out, err
}
