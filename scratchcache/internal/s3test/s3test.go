package s3test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Server is one running versitygw.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Client    *minio.Client // for a test to reach behind a store's back
}

// findBinary looks on PATH, then in $(go env GOPATH)/bin.
func findBinary() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = string(trimNewline(out))
		}
	}
	if gopath != "" {
		p := filepath.Join(filepath.SplitList(gopath)[0], "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before versitygw binds it; Start then fails with the server's log.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs versitygw on a free loopback port with its own data directory,
// creates bucket, and stops the server (by its pid) when the test ends. If
// the server exits before serving (another process took the port between
// the probe and its bind), it tries again on a new port, three times.
func Start(t testing.TB, bucket string) *Server {
	t.Helper()
	bin := findBinary()
	if bin == "" {
		msg := "versitygw not found on PATH or in $(go env GOPATH)/bin; run scripts/ci/install-versitygw.sh"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var why string
	for try := 0; try < 3; try++ {
		srv, retry, reason := startOnce(t, bin, bucket)
		if srv != nil {
			return srv
		}
		why = reason
		if !retry {
			break
		}
	}
	t.Fatal(why)
	return nil
}

// startOnce starts one server; on failure it says why and whether a new
// port may help.
func startOnce(t testing.TB, bin, bucket string) (srv *Server, retry bool, why string) {
	t.Helper()
	data := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	const access, secret = "pilot-test", "pilot-test-secret"
	logf, err := os.Create(filepath.Join(t.TempDir(), "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--access", access, "--secret", secret, "--port", addr, "--quiet", "posix", data)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
		logf.Close()
	}
	t.Cleanup(stop)
	failure := func(format string, a ...any) string {
		log, _ := os.ReadFile(logf.Name())
		return fmt.Sprintf(format+"\nversitygw log:\n%s", append(a, log)...)
	}

	// Poll until it accepts connections: it is an external process.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			return nil, true, failure("versitygw exited before serving on %s: %v", addr, waitErr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, false, failure("versitygw did not listen on %s within 30s", addr)
		}
	}
	client, err := minio.New(addr, &minio.Options{
		Creds:        credentials.NewStaticV4(access, secret, ""),
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		return nil, false, failure("create bucket %s: %v", bucket, err)
	}
	return &Server{
		Endpoint:  "http://" + addr,
		AccessKey: access,
		SecretKey: secret,
		Client:    client,
	}, false, ""
}
