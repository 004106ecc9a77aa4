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
// output files that were not staged. The seal of a task that kept no file
// is its manifest alone; Dir is then that file's path (Files lists no
// file to look for under it). The silent seal of a task that sealed no
// value and kept no file holds no manifest: found by a hit, it has no
// Value, Output or Files, and no TaskID, Attempt or times either (only
// Version and Digest are set).
type Sealed struct {
	Manifest
	Dir string

	manifest string // the manifest's path (a silent seal's: the sealed file)
	silent   bool
}

// Silent says whether the seal is a silent one (see Lease.Seal).
func (s *Sealed) Silent() bool { return s.silent }

// Path is where the sealed output file name (as in Files) lies.
func (s *Sealed) Path(name string) string { return filepath.Join(s.Dir, filepath.FromSlash(name)) }

// maxManifestBytes bounds what a hit reads: the inline value plus the
// file list of a large output directory.
const maxManifestBytes = 16 << 20

// lookup reads and verifies the seal of digest. It costs one open of the
// seal, which is the manifest alone (or a silent seal's marker), or a
// directory (whose read fails) and then one open of its manifest; one
// open per output file kept locally (each is hashed); and, when touch is
// set, one Chtimes that records the use for LRU eviction (not for a
// silent seal: its inode is the marker all silent seals share, and it
// holds no bytes that eviction could need). fs.ErrNotExist means no seal;
// ErrCorrupt a damaged one.
func (c *Cache) lookup(digest string, touch bool) (*Sealed, error) {
	s, err := c.readManifest(digest)
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
	if touch && !s.silent {
		now := c.cfg.Now()
		if err := c.fs.Chtimes(s.manifest, now, now); err != nil {
			c.log.Warn("scratch cache: cannot record a use for LRU eviction", "digest", digest, "path", s.manifest, "err", err)
		}
	}
	return s, nil
}

// readManifest reads and checks the manifest of digest's seal, without
// verifying the files it lists. A miss costs the one failed open.
func (c *Cache) readManifest(digest string) (*Sealed, error) {
	sealed := c.sealedPath(digest)
	mpath := sealed
	b, err := c.readSmall(sealed)
	if errors.Is(err, syscall.EISDIR) {
		mpath = filepath.Join(sealed, manifestName)
		b, err = c.readSmall(mpath)
		if errors.Is(err, fs.ErrNotExist) {
			// Never left by a rename: someone removed it.
			return nil, fmt.Errorf("%w: %s is missing", ErrCorrupt, mpath)
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, ErrCorrupt):
		return nil, err
	case err != nil:
		return nil, infraErr("read", mpath, err)
	}
	return c.decodeAt(digest, mpath, b)
}

// readManifestAt reads and checks the manifest of digest's seal at mpath
// (the seal itself, or its manifest.json), known to be there.
func (c *Cache) readManifestAt(digest, mpath string) (*Sealed, error) {
	b, err := c.readSmall(mpath)
	if err != nil {
		return nil, infraErr("read", mpath, err)
	}
	return c.decodeAt(digest, mpath, b)
}

// decodeAt turns the bytes read at mpath into digest's seal: a silent
// one, or a manifest that must check.
func (c *Cache) decodeAt(digest, mpath string, b []byte) (*Sealed, error) {
	if c.isSilent(digest, mpath, b) {
		return c.silentSealed(digest), nil
	}
	m, err := decodeManifest(b, digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mpath, err)
	}
	return &Sealed{Manifest: *m, Dir: c.sealedPath(digest), manifest: mpath}, nil
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

// quarantine moves a seal that failed verification out of the way (one
// rename), so the entry can be recomputed and the damage looked at.
func (c *Cache) quarantine(digest string) (string, error) {
	qdir := filepath.Join(c.root, quarantineDir)
	if err := c.fs.MkdirAll(qdir, 0o755); err != nil {
		return "", infraErr("create", qdir, err)
	}
	dst := filepath.Join(qdir, digest+"-"+strconv.FormatInt(c.cfg.Now().UnixNano(), 10))
	src := c.sealedPath(digest)
	if err := c.fs.Rename(src, dst); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil // another node quarantined it first
		}
		return "", infraErr("quarantine", src, err)
	}
	// If it was a silent seal linked to this process's marker, and the
	// marker is what is damaged, new silent seals must not link to it.
	c.forgetMarker()
	return dst, nil
}
