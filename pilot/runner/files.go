package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"github.com/pilot-hpc/pilot/task"
)

// logFiles returns this attempt's stdout and stderr files in the workdir,
// one pair per attempt so an earlier attempt's logs stay for a post-mortem.
// Each is created at the first byte the task writes to its stream: a task
// that writes nothing leaves no file (creating and, at the seal, deleting
// two empty files per task was most of the runner's own cost on a busy
// scratch filesystem). Files a former run of the same attempt left are
// removed first (a fresh working directory has none).
func logFiles(r *Request) (stdout, stderr *lazyFile, err error) {
	name := func(stream string) string {
		return filepath.Join(r.Workdir, "attempt-"+strconv.Itoa(r.Attempt)+"."+stream)
	}
	stdout, stderr = &lazyFile{path: name("stdout")}, &lazyFile{path: name("stderr")}
	if r.Fresh {
		return stdout, stderr, nil
	}
	for _, f := range []*lazyFile{stdout, stderr} {
		if err := removeFile(f.path); err != nil {
			return nil, nil, err
		}
	}
	return stdout, stderr, nil
}

// lazyFile is a log file created by its first Write. A failure to create
// or write it is kept for Err and the output discarded, so the task is
// not killed by a broken pipe; the attempt then fails as infra.
type lazyFile struct {
	path   string
	f      *os.File
	err    error
	closed bool
}

func (w *lazyFile) Write(p []byte) (int, error) {
	if w.f == nil && w.err == nil {
		w.f, w.err = os.OpenFile(w.path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	}
	if w.err == nil {
		_, w.err = w.f.Write(p)
	}
	return len(p), nil
}

// ReadFrom copies a stream of the task (proc's copying goroutine
// calls it) through a pooled buffer: io.Copy would allocate 32 KB per
// stream and task, most of an agent's garbage on short tasks.
func (w *lazyFile) ReadFrom(r io.Reader) (int64, error) {
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	// Both wrapped: an *os.File's WriteTo would copy through a buffer of
	// its own.
	return io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{r}, *buf)
}

var copyBuffers = sync.Pool{New: func() any {
	b := make([]byte, 32<<10)
	return &b
}}

// Close closes the file if it was created and returns the first error.
// Closing again returns the same.
func (w *lazyFile) Close() error {
	if w.f != nil && !w.closed {
		w.closed = true
		if err := w.f.Close(); w.err == nil {
			w.err = err
		}
	}
	return w.err
}

// Path is the file's name, or "" when the task wrote nothing to it.
func (w *lazyFile) Path() string {
	if w.f == nil {
		return ""
	}
	return w.path
}

// devNull is the stdin of every task without input: one descriptor the
// agent opens once and each task inherits (os/exec would open /dev/null
// for each task, five system calls).
var devNull = sync.OnceValues(func() (*os.File, error) { return os.Open(os.DevNull) })

// tail returns the last n bytes of a file, starting at a line break when
// one is near, so the tail does not begin mid-line.
func tail(path string, n int) string {
	if path == "" {
		return "" // the task wrote nothing to the stream
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-int64(n), 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	if off > 0 {
		if i := bytes.IndexByte(buf, '\n'); i >= 0 && i < len(buf)-1 {
			buf = buf[i+1:]
		}
	}
	return string(buf)
}

// readValue reads result.json: absent is no value; more than
// task.MaxValueBytes or not valid JSON is the task's error.
func readValue(workdir string) (json.RawMessage, error) {
	path := filepath.Join(workdir, ResultFile)
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	for err == syscall.EINTR {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	}
	if err == syscall.ENOENT {
		return nil, nil // most tasks: no value, and no error to allocate
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, task.MaxValueBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > task.MaxValueBytes {
		st, _ := f.Stat()
		size := int64(len(data))
		if st != nil {
			size = st.Size()
		}
		return nil, fmt.Errorf("%s is %d bytes, the limit is %d: write big outputs to files in $PILOT_WORKDIR and return their names", path, size, task.MaxValueBytes)
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("%s is not valid JSON", path)
	}
	return json.RawMessage(bytes.TrimSpace(data)), nil
}

// removeFile removes a file that may not exist with one unlink (os.Remove
// tries rmdir as well when unlink fails, a second call per missing file).
func removeFile(path string) error {
	if err := syscall.Unlink(path); err != nil && !errors.Is(err, syscall.ENOENT) {
		return &fs.PathError{Op: "remove", Path: path, Err: err}
	}
	return nil
}
