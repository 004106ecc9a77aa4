package upstream

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeAtomic replaces dir/name with data so that a crash leaves either the
// old content or the new, never half of it: write a temporary file beside
// it, fsync it, rename it over the old one, fsync the directory.
func writeAtomic(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", filepath.Join(dir, name), werr)
	}
	return syncDir(dir)
}

// syncDir makes a rename or a new file in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// appendSync appends data to path with one write (O_APPEND) and fsyncs it
// before returning. If the write fails part way and nobody else appended
// meanwhile, the partial bytes are cut off again so nothing is half-written.
// It returns the size of the file right after the write: data starts at
// end-len(data) unless another writer appended in between.
func appendSync(path string, data []byte) (end int64, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return 0, fmt.Errorf("append to %s: %w", path, err)
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("append to %s: %w", path, err)
	}
	n, err := f.Write(data)
	if err == nil {
		var st os.FileInfo
		if st, err = f.Stat(); err == nil {
			end = st.Size()
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		if n > 0 && n < len(data) {
			if st, serr := f.Stat(); serr == nil && st.Size() == before.Size()+int64(n) {
				f.Truncate(before.Size())
			}
		}
		return 0, fmt.Errorf("append to %s: %w", path, err)
	}
	return end, nil
}
