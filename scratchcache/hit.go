package scratchcache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strconv"
	"syscall"
)

// Sealed is a sealed entry: its manifest and the directory holding the
// output files that were not staged. An entry that kept no file is its
// manifest alone; Dir is then that file's path (Files lists no file to
// look for under it).
type Sealed struct {
	Manifest
	Dir string

	manifest string // the manifest's path
}

// Path is where the sealed output file name (as in Files) lies.
func (s *Sealed) Path(name string) string { return filepath.Join(s.Dir, filepath.FromSlash(name)) }

// maxManifestBytes bounds what a hit reads: the inline value plus the
// file list of a large output directory.
const maxManifestBytes = 16 << 20

// lookup reads and verifies the sealed entry of dir. It costs one open of
// the manifest (two when the seal is the manifest alone), one open per output
// file kept locally (each is hashed), and, when touch is set, one Chtimes
// that records the use for LRU eviction. fs.ErrNotExist means no sealed
// entry; ErrCorrupt a damaged one.
func (c *Cache) lookup(dir, digest string, touch bool) (*Sealed, error) {
	s, err := c.readManifest(dir, digest)
	if err != nil {
		return nil, err
	}
	for _, file := range s.Files {
		if file.URI != "" {
			continue
		}
		if err := c.verifyFile(s.Path(file.Name), file); err != nil {
			return nil, err
		}
	}
	if touch {
		now := c.cfg.Now()
		if err := c.fs.Chtimes(s.manifest, now, now); err != nil {
			c.log.Warn("scratch cache: cannot record a use for LRU eviction", "digest", digest, "path", s.manifest, "err", err)
		}
	}
	return s, nil
}

// readManifest reads and checks the manifest of dir's sealed entry, without
// verifying the files it lists: one open of sealed/manifest.json, or, when
// sealed is the manifest alone (ENOTDIR), a second of sealed.
func (c *Cache) readManifest(dir, digest string) (*Sealed, error) {
	sealed := filepath.Join(dir, sealedName)
	mpath := filepath.Join(sealed, manifestName)
	b, err := c.readSmall(mpath)
	if errors.Is(err, syscall.ENOTDIR) {
		mpath = sealed
		b, err = c.readSmall(mpath)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, ErrCorrupt):
		return nil, err
	case err != nil:
		return nil, infraErr("read", mpath, err)
	}
	m, err := decodeManifest(b, digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mpath, err)
	}
	return &Sealed{Manifest: *m, Dir: sealed, manifest: mpath}, nil
}

// readSmall reads a manifest or a lease record whole, refusing one over
// maxManifestBytes (ErrCorrupt).
func (c *Cache) readSmall(path string) ([]byte, error) {
	f, err := c.fs.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxManifestBytes {
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrCorrupt, path, maxManifestBytes)
	}
	return b, nil
}

// verifyFile hashes a sealed file and compares size and sha256.
func (c *Cache) verifyFile(path string, want File) error {
	f, err := c.fs.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return fmt.Errorf("%w: %s is missing", ErrCorrupt, path)
		}
		return infraErr("open", path, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return infraErr("read", path, err)
	}
	if n != want.Bytes {
		return fmt.Errorf("%w: %s has %d bytes, the manifest says %d", ErrCorrupt, path, n, want.Bytes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.SHA256 {
		return fmt.Errorf("%w: %s has sha256 %s, the manifest says %s", ErrCorrupt, path, got, want.SHA256)
	}
	return nil
}

// quarantine moves a sealed directory that failed verification out of the
// way (one rename), so the entry can be recomputed and the damage looked at.
func (c *Cache) quarantine(dir, digest string) (string, error) {
	qdir := filepath.Join(c.root, quarantineDir)
	if err := c.fs.MkdirAll(qdir, 0o755); err != nil {
		return "", infraErr("create", qdir, err)
	}
	dst := filepath.Join(qdir, digest+"-"+strconv.FormatInt(c.cfg.Now().UnixNano(), 10))
	src := filepath.Join(dir, sealedName)
	if err := c.fs.Rename(src, dst); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil // another node quarantined it first
		}
		return "", infraErr("quarantine", src, err)
	}
	return dst, nil
}
