package stage

import (
	"os"
	"strings"
	"testing"

	"github.com/pilot-hpc/pilot/task"
)

func TestFileStore(t *testing.T) {
	dir := t.TempDir()
	s, err := Open("file://"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	exerciseStore(t, s, func(t *testing.T, out task.Output, data []byte) {
		if err := os.WriteFile(strings.TrimPrefix(out.URI, "file://"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}
