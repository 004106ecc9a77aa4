package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary a queue server (the child that tests
// kill -9 and benchmarks measure): it serves until SIGTERM and prints its
// address on stdout once it accepts connections.
const helperEnv = "PILOT_TEST_SERVE_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(serveHelper())
	}
	os.Exit(m.Run())
}

func serveHelper() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg := Config{
		Listen:    os.Getenv("PILOT_HELPER_LISTEN"),
		DataDir:   os.Getenv("PILOT_HELPER_DATA"),
		TokenFile: os.Getenv("PILOT_HELPER_TOKENS"),
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		OnListen:  func(addr string) { fmt.Println(addr) },
	}
	if err := Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// child is a queue server running as a separate process.
type child struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

// startChild starts the test binary as a server on listen and waits until
// it prints its address (or exits). Cleanup kills it.
func startChild(t testing.TB, listen, data, tokens string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "PILOT_HELPER_LISTEN="+listen,
		"PILOT_HELPER_DATA="+data, "PILOT_HELPER_TOKENS="+tokens)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	line, err := bufio.NewReader(out).ReadString('\n')
	go func() {
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(c.kill)
	if err != nil {
		c.kill()
		t.Fatalf("queue server child did not start: %v; stderr: %s", err, stderr.String())
	}
	c.addr = strings.TrimSpace(line)
	return c
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		panic("queue server child survived SIGKILL for 30s")
	}
}

// memory reads one figure of the child's /proc/PID/status (VmHWM: peak
// resident set; RssAnon: resident heap and stacks) in bytes.
func (c *child) memory(field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, c.cmd.Process.Pid)
}
