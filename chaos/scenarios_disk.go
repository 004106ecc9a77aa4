package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// diskFull is scenario 34: the scratch filesystem (a small tmpfs) fills up
// mid-run and is freed again. The attempts that hit it are requeued as
// infra failures once there is space (a task that fails must say why), no
// agent dies, nothing is lost or recorded twice, re-execution stays
// bounded, and the ledger replicas stay identical (the Raft data is on
// another disk).
var diskFull = Scenario{ID: 34, Name: "disk-full",
	Scaled: "3 agents x 2 cores, scratch on a 32 MB tmpfs (needs root), 120*scale tasks writing 64 kB each; a ballast file fills the tmpfs for 2 s at a random point, then is removed (node-local disk and $SCRATCH are the same tmpfs here; no quota, no EDQUOT)",
	Run: func(ctx context.Context, env *Env) (out Outcome, err error) {
		if os.Geteuid() != 0 {
			return out, errors.New("disk-full mounts a tmpfs: run as root")
		}
		n := 120 * env.Scale
		fs := filepath.Join(env.Dir, "scratch-fs")
		if err := os.MkdirAll(fs, 0o700); err != nil {
			return out, err
		}
		if err := unix.Mount("tmpfs", fs, "tmpfs", 0, "size=32m,mode=0700"); err != nil {
			return out, fmt.Errorf("mount a tmpfs on %s: %w", fs, err)
		}
		defer func() { _ = unix.Unmount(fs, unix.MNT_DETACH) }()
		var b strings.Builder
		for i := range n {
			id := fmt.Sprintf("t%04d", i)
			fmt.Fprintf(&b, `{"id":%q,"cmd":["sh","-c","head -c 65536 /dev/zero > \"$PILOT_OUTDIR/data.bin\" && sleep 0.1"],"input":%q}`+"\n", id, id)
		}
		c, err := NewCluster(env.Bin, env.Dir, []byte(b.String()))
		if err != nil {
			return out, err
		}
		c.Extra = []string{"--scratch", fs}
		if err := c.StartN(3, 3); err != nil {
			return out, err
		}
		defer c.Stop(5 * time.Second)
		if _, err := c.Leader(ctx, 30*time.Second); err != nil {
			return out, err
		}
		if err := c.WaitFinished(ctx, at(env, n, 0.2, 0.5), 120*time.Second); err != nil {
			return out, err
		}
		ballast := filepath.Join(fs, "ballast")
		env.Logf("fill the scratch tmpfs at %d results", c.Finished())
		if err := fill(ballast); err != nil {
			return out, err
		}
		// The full disk is the fault: a fixed span of wall time is its measure.
		time.Sleep(2 * time.Second)
		if err := os.Remove(ballast); err != nil {
			return out, err
		}
		if out.Recover, err = c.Recovery(ctx, n, 60*time.Second); err != nil {
			return out, err
		}
		for _, a := range c.Agents {
			if !a.Alive() {
				out.Report.violate("agent %s died when the disk filled:\n%s", a.Name, a.Tail(10))
			}
		}
		early := out.Report.Violations
		err = finish(ctx, c, n, 120*time.Second, &out)
		out.Report.Violations = append(early, out.Report.Violations...)
		res, rerr := records(c.ResultsPath())
		if rerr != nil {
			return out, rerr
		}
		failed := 0
		for id, r := range res {
			if r.State != "failed" {
				continue
			}
			failed++
			if msg := strings.ToLower(r.Error); !strings.Contains(msg, "space") && !strings.Contains(msg, "disk") {
				out.Report.violate("task %s failed while the disk was full with a reason that does not say so: %s", id, r.Error)
			}
		}
		out.Note = fmt.Sprintf("%d tasks failed for the full disk", failed)
		return out, err
	}}

// fill writes zeros to path until the filesystem is full.
func fill(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, unix.ENOSPC) {
				return nil
			}
			return fmt.Errorf("fill %s: %w", path, err)
		}
	}
}
