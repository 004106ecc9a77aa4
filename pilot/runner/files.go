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

	"github.com/pilot-hpc/pilot/task"
)

// logFiles creates this attempt's stdout and stderr files in the workdir,
// one pair per attempt so an earlier attempt's logs stay for a post-mortem.
func logFiles(r *Request) (stdout, stderr *os.File, err error) {
	name := func(stream string) string {
		return filepath.Join(r.Workdir, "attempt-"+strconv.Itoa(r.Attempt)+"."+stream)
	}
	stdout, err = os.OpenFile(name("stdout"), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, nil, err
	}
	stderr, err = os.OpenFile(name("stderr"), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		stdout.Close()
		return nil, nil, err
	}
	return stdout, stderr, nil
}

// tail returns the last n bytes of a file, starting at a line break when
// one is near, so the tail does not begin mid-line.
func tail(path string, n int) string {
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
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
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
