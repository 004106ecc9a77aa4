package scratchcache

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pilot-hpc/pilot/scratchcache/stage"
	"github.com/pilot-hpc/pilot/task"
)

// Defaults of Config.
const (
	DefaultStageThreshold = 64 << 10 // output files above this go to the results store
	DefaultInlineMax      = task.MaxValueBytes
	DefaultLeaseTTL       = 2 * time.Minute
)

// Config of a Cache. Root is required; the rest have defaults.
type Config struct {
	// Root is the cache directory, on the shared scratch filesystem.
	Root string
	// Store receives outputs too big for the result record. Nil means a
	// file store at Root/results.
	Store stage.Store
	// StageThreshold: output files larger than this many bytes go to the
	// Store; smaller ones stay in the sealed entry.
	StageThreshold int64
	// InlineMax: a result value up to this many bytes travels inline;
	// a larger one goes to the Store.
	InlineMax int64
	// LeaseTTL: a lease not renewed for this long is stale and may be
	// taken over by a newer attempt. Clocks of the nodes must agree to
	// well within it (NTP does).
	LeaseTTL time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// FS is the filesystem (OSFS when nil).
	FS FS
	// Logger gets warnings (quarantine, failed renewals); slog.Default
	// when nil.
	Logger *slog.Logger

	// hooks are fault-injection points for this package's tests.
	hooks hooks
}

// hooks are called at points where a test wants to crash or interleave.
type hooks struct {
	// beforePublish runs after the sealed directory is complete and
	// before the rename that makes it visible.
	beforePublish func()
	// beforeMarkerRename runs once a new marker is written under its
	// temporary name, before the rename that gives it its own.
	beforeMarkerRename func()
}

// Cache is the scratch cache of one site. It is safe for concurrent use,
// and many processes on many nodes may use one Root at once.
type Cache struct {
	root  string
	cfg   Config
	fs    FS
	store stage.Store
	log   *slog.Logger
	owner string // host:pid, recorded in leases
	pool  pool

	marker markerFile // the target of this process's silent seals

	ownClock bool // Config.Now was given: file times are set from it
}

// New opens (creating if needed) the cache at cfg.Root.
func New(cfg Config) (*Cache, error) {
	if cfg.Root == "" {
		return nil, fmt.Errorf("%w: scratch cache root is empty; set it to a directory on the shared scratch filesystem", ErrInvalid)
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("%w: scratch cache root %q: %v", ErrInvalid, cfg.Root, err)
	}
	if cfg.StageThreshold <= 0 {
		cfg.StageThreshold = DefaultStageThreshold
	}
	if cfg.InlineMax <= 0 {
		cfg.InlineMax = DefaultInlineMax
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	ownClock := cfg.Now != nil
	if !ownClock {
		cfg.Now = time.Now
	}
	if cfg.FS == nil {
		cfg.FS = OSFS{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Cache{root: root, cfg: cfg, fs: cfg.FS, log: cfg.Logger, store: cfg.Store, ownClock: ownClock}
	if c.store == nil {
		if c.store, err = stage.FileStore(filepath.Join(root, "results")); err != nil {
			return nil, err
		}
	}
	if err := c.fs.MkdirAll(filepath.Join(root, entriesDir), 0o755); err != nil {
		return nil, infraErr("create", filepath.Join(root, entriesDir), err)
	}
	host, _ := os.Hostname()
	c.owner = host + ":" + strconv.Itoa(os.Getpid())
	// This process's pool directory, made at the first part given back: a
	// process that only reads the cache makes none.
	c.pool.dir = filepath.Join(root, poolDir, host+"-"+strconv.Itoa(os.Getpid())+"-"+token())
	return c, nil
}

// Root is the cache's absolute root directory.
func (c *Cache) Root() string { return c.root }

// SpoolDir is a directory of this process's own on the cache's
// filesystem, for the files its tasks write their output to (see
// runner.Spools): in its pool directory, which GC removes once the
// process has ended.
func (c *Cache) SpoolDir() string { return filepath.Join(c.pool.dir, "spool") }

// The layout under Root:
//
//	entries/ab/<digest>/             an entry's scratch, sharded by the digest's first 2 hex digits
//	    lease.<attempt>              lease records, one per live attempt (10 digits)
//	    work/                        $PILOT_WORKDIR: checkpoints, kept across attempts
//	    out.<attempt>/               $PILOT_OUTDIR: output files of one attempt;
//	                                 the seal is built here (never read)
//	entries/ab/<digest>.sealed/      the seal of a task that kept files: out.<attempt>
//	                                 renamed (manifest.json and the files)
//	entries/ab/<digest>.sealed       the seal of a task that kept none: the manifest alone,
//	                                 or (no value either) a hard link to a pool's marker
//	pool/<host>-<pid>-<token>/       one process's parts to reuse: entry directories
//	                                 (b-<n>), empty directories (d-<n>), records (f-<n>);
//	                                 and the marker its silent seals link (marker-<n>)
//	quarantine/<digest>-<time>       seals that failed verification
//	trash/                           entries being evicted
//	results/                         the default file results store
const (
	entriesDir    = "entries"
	quarantineDir = "quarantine"
	trashDir      = "trash"
	poolDir       = "pool"
	sealedSuffix  = ".sealed"
	manifestName  = "manifest.json"
	leasePrefix   = "lease."
	leaseTmp      = ".lease-tmp-"
	workName      = "work"
	outPrefix     = "out."
)

func checkDigest(digest string) error {
	if !isDigest(digest) {
		return fmt.Errorf("%w: digest %q must be 64 lowercase hex digits (task.Spec.Digest)", ErrInvalid, digest)
	}
	return nil
}

// isDigest says whether digest is 64 lowercase hex digits.
func isDigest(digest string) bool {
	if len(digest) != 64 {
		return false
	}
	for i := 0; i < len(digest); i++ {
		if c := digest[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func (c *Cache) entryDir(digest string) string {
	return c.root + "/" + entriesDir + "/" + digest[0:2] + "/" + digest
}

// join is filepath.Join for a directory the cache made (clean: from its
// clean root) and a name of one element: on every attempt's path,
// filepath.Join's cleaning was a few per cent of an agent's CPU.
func join(dir, name string) string { return dir + "/" + name }

// sealedPath is where the seal of digest lies, beside its entry directory
// (which a seal by the entry's only attempt gives back to the pool).
func (c *Cache) sealedPath(digest string) string {
	return c.entryDir(digest) + sealedSuffix
}

// storeKey names a staged object: sharded like the entries, and per attempt
// so that two attempts never write one object.
func storeKey(digest string, attempt int, name string) string {
	return digest[0:2] + "/" + digest[2:4] + "/" + digest + "/a" + strconv.Itoa(attempt) + "/" + name
}

func token() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
