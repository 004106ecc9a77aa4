package stage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/pilot-hpc/pilot/task"
)

// fileStore keeps objects as files under one directory of a (shared)
// filesystem.
type fileStore struct {
	dir string
}

func newFileStore(u *url.URL) (*fileStore, error) {
	if u.Host != "" || !filepath.IsAbs(u.Path) {
		return nil, fmt.Errorf("%w: %q: write file:///ABSOLUTE/DIR (three slashes, no host)", ErrURI, u.String())
	}
	return &fileStore{dir: filepath.Clean(u.Path)}, nil
}

// FileStore returns the file store rooted at dir (made absolute).
func FileStore(dir string) (Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrURI, dir, err)
	}
	return &fileStore{dir: abs}, nil
}

func (s *fileStore) URI() string { return "file://" + s.dir + "/" }

func (s *fileStore) Put(ctx context.Context, key string, r io.Reader, size int64, sum string) (task.Output, error) {
	if err := checkKey(key); err != nil {
		return task.Output{}, err
	}
	if err := ctx.Err(); err != nil {
		return task.Output{}, err
	}
	final := filepath.Join(s.dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return task.Output{}, fmt.Errorf("file store: %w", err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := final + ".tmp-" + hex.EncodeToString(rnd[:])
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return task.Output{}, fmt.Errorf("file store: %w", err)
	}
	err = copyChecked(key, f, io.LimitReader(r, size+1), size, sum)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return task.Output{}, fmt.Errorf("file store: put %s: %w", final, err)
	}
	return task.Output{URI: "file://" + final, Bytes: size, SHA256: sum}, nil
}

func (s *fileStore) Fetch(ctx context.Context, out task.Output, w io.Writer) error {
	path, ok := strings.CutPrefix(out.URI, "file://")
	if !ok || !strings.HasPrefix(filepath.Clean(path), s.dir+string(filepath.Separator)) {
		return fmt.Errorf("%w: %q is not an object of %s", ErrURI, out.URI, s.URI())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("file store: fetch %s: %w", out.URI, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("file store: fetch: %w", err)
	}
	defer f.Close()
	if err := copyChecked(out.URI, w, f, out.Bytes, out.SHA256); err != nil {
		return fmt.Errorf("file store: fetch: %w", err)
	}
	return nil
}
