package member

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// WriteMembersFile replaces the members file at path with addrs (gossip
// host:port, one a line), atomically: a reader sees the old list or the new
// one, never a torn one.
func WriteMembersFile(path string, addrs []string, writer string, now time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# live members of this campaign's cluster, written by %s at %s\n", writer, now.UTC().Format(time.RFC3339))
	for _, a := range addrs {
		b.WriteString(a)
		b.WriteByte('\n')
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".members-*")
	if err != nil {
		return fmt.Errorf("members file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return fmt.Errorf("members file %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("members file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("members file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("members file %s: %w", path, err)
	}
	return nil
}

// ReadMembersFile returns the addresses in the members file; none (and no
// error) when there is no file yet, the first pilot of a campaign.
func ReadMembersFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("members file %s: %w", path, err)
	}
	defer f.Close()
	var addrs []string
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if _, _, err := splitHostPort(s); err != nil {
			return nil, fmt.Errorf("members file %s line %d: %q is not host:port; delete the file to start afresh", path, line, s)
		}
		addrs = append(addrs, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("members file %s: %w", path, err)
	}
	return addrs, nil
}

func splitHostPort(s string) (string, string, error) {
	host, port, err := net.SplitHostPort(s)
	if err == nil && (host == "" || port == "") {
		err = errors.New("empty host or port")
	}
	return host, port, err
}
