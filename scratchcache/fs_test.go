package scratchcache

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// IsEmptyDir sees any name but . and .., and fails on what is no directory.
func TestIsEmptyDir(t *testing.T) {
	root := t.TempDir()
	mk := func(name string, files ...string) string {
		dir := filepath.Join(root, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if f == "sub/" {
				if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
					t.Fatal(err)
				}
				continue
			}
			writeFile(t, filepath.Join(dir, f), nil)
		}
		return dir
	}
	many := make([]string, 300) // more than one getdents buffer of names
	for i := range many {
		many[i] = "a-long-enough-name-to-fill-the-buffer-" + strconv.Itoa(i)
	}
	for _, c := range []struct {
		dir  string
		want bool
	}{
		{mk("empty"), true},
		{mk("file", "f"), false},
		{mk("dot", ".x"), false},
		{mk("dotdotname", "..."), false},
		{mk("sub", "sub/"), false},
		{mk("many", many...), false},
	} {
		got, err := OSFS{}.IsEmptyDir(c.dir)
		if err != nil || got != c.want {
			t.Fatalf("IsEmptyDir(%s) = %v, %v; want %v", filepath.Base(c.dir), got, err, c.want)
		}
	}
	emptied := mk("emptied", many...)
	for _, f := range many {
		if err := os.Remove(filepath.Join(emptied, f)); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := (OSFS{}).IsEmptyDir(emptied); err != nil || !got {
		t.Fatalf("a directory emptied of 300 names: %v, %v; want empty", got, err)
	}
	if _, err := (OSFS{}).IsEmptyDir(filepath.Join(root, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing directory: %v, want ErrNotExist", err)
	}
	writeFile(t, filepath.Join(root, "plain"), []byte("x"))
	if _, err := (OSFS{}).IsEmptyDir(filepath.Join(root, "plain")); err == nil {
		t.Fatal("a regular file passed for an empty directory")
	}
}
