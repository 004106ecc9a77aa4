package scratchcache

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the child processes some tests kill:
// SCRATCHCACHE_CHILD names the role.
func TestMain(m *testing.M) {
	switch os.Getenv("SCRATCHCACHE_CHILD") {
	case "":
		os.Exit(m.Run())
	case "task":
		os.Exit(childTask())
	case "sealer":
		os.Exit(childSealer())
	case "silent":
		os.Exit(childSilent())
	default:
		fmt.Fprintln(os.Stderr, "unknown SCRATCHCACHE_CHILD role")
		os.Exit(2)
	}
}

// childTask is an idempotent user task of three steps that checkpoints in
// $PILOT_WORKDIR/ckpt. With STOP_AFTER_STEP=n it says "checkpointed n" on
// stdout after step n and waits to be killed. It prints its value last.
func childTask() int {
	work := os.Getenv("PILOT_WORKDIR")
	ckpt := filepath.Join(work, "ckpt")
	done := 0
	if b, err := os.ReadFile(ckpt); err == nil {
		done, _ = strconv.Atoi(string(b))
	}
	resumedFrom := done
	stopAfter, _ := strconv.Atoi(os.Getenv("STOP_AFTER_STEP"))
	ran := ""
	for step := done + 1; step <= 3; step++ {
		ran += strconv.Itoa(step)
		tmp := ckpt + ".tmp"
		if err := os.WriteFile(tmp, []byte(strconv.Itoa(step)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := os.Rename(tmp, ckpt); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if step == stopAfter {
			fmt.Printf("checkpointed %d\n", step)
			select {} // wait to be killed
		}
	}
	if err := os.WriteFile(filepath.Join(os.Getenv("PILOT_OUTDIR"), "shifts.out"), []byte("H1 7.26\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf(`{"resumed_from":%d,"ran":"%s"}`+"\n", resumedFrom, ran)
	return 0
}

// childSealer takes a lease of SC_ROOT for SC_DIGEST attempt SC_ATTEMPT,
// writes an output and seals; right before the publishing rename it says
// "publishing" and waits to be killed.
func childSealer() int {
	attempt, _ := strconv.Atoi(os.Getenv("SC_ATTEMPT"))
	cfg := Config{Root: os.Getenv("SC_ROOT"), Logger: quietLogger()}
	cfg.hooks.beforePublish = func() {
		fmt.Println("publishing")
		select {}
	}
	c, err := New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, l, err := c.Open("crashy", os.Getenv("SC_DIGEST"), attempt)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.WriteFile(filepath.Join(l.OutDir(), "result.dat"), []byte("from the crashed attempt"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := l.Seal(context.Background(), []byte(`"crashed"`)); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return 1
}

// childSilent takes a lease of SC_ROOT for SC_DIGEST attempt 1 and seals
// it silently (no value, no file), then says "sealed" and exits. With
// SC_CRASH set it instead says "marker written" once its marker is
// written under its temporary name, and waits to be killed.
func childSilent() int {
	cfg := Config{Root: os.Getenv("SC_ROOT"), Logger: quietLogger()}
	if os.Getenv("SC_CRASH") != "" {
		cfg.hooks.beforeMarkerRename = func() {
			fmt.Println("marker written")
			select {}
		}
	}
	c, err := New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, l, err := c.Open("quiet", os.Getenv("SC_DIGEST"), 1)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := l.Seal(context.Background(), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("sealed")
	return 0
}

// child is a running child process of this test binary.
type child struct {
	cmd    *exec.Cmd
	lines  chan string
	exited chan error
}

// startChild runs the test binary in role with env, and kills it (by pid)
// when the test ends if it is still running.
func startChild(t *testing.T, role string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), "SCRATCHCACHE_CHILD="+role), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &child{cmd: cmd, lines: make(chan string, 16), exited: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			ch.lines <- sc.Text()
		}
		close(ch.lines)
		ch.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-ch.exited
	})
	return ch
}

// expect waits for the child's next line, failing if it differs or the
// child ends first. The bound only turns a hang into a failure.
func (ch *child) expect(t *testing.T, want string) string {
	t.Helper()
	select {
	case line, ok := <-ch.lines:
		if !ok {
			t.Fatalf("child exited before saying %q: %v", want, <-ch.exited)
		}
		if want != "" && line != want {
			t.Fatalf("child said %q, want %q", line, want)
		}
		return line
	case <-time.After(time.Minute):
		t.Fatalf("child did not say %q within a minute", want)
	}
	return ""
}

// kill9 kills the child as a crash would and waits until it is gone.
func (ch *child) kill9(t *testing.T) {
	t.Helper()
	if err := ch.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for range ch.lines {
	}
	err := <-ch.exited
	ch.exited <- err // for the cleanup
}
