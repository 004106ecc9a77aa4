package scratchcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/pilot-hpc/pilot/task"
)

// Seal makes the attempt's result the entry's sealed, immutable output.
//
// value is the task's result value (valid JSON is kept as is, anything else
// becomes a JSON string); above InlineMax bytes it goes to the results
// store. The files the task left in OutDir are hashed; those above
// StageThreshold go to the results store (and leave OutDir), the others
// stay where they are. The manifest is written last, into OutDir, and
// OutDir becomes the sealed directory with one rename (or, when the task
// left nothing in it, the manifest becomes the sealed file with one link),
// so no reader ever sees half an entry and no file is moved or copied.
// An empty value with nothing in OutDir gives a silent seal instead: no
// manifest is written, the sealed file is a hard link to this process's
// marker file, and the seal creates no inode. It holds no bytes and
// records no task, attempt or time: the Sealed that Seal returns has
// them, a hit on it has only its Digest (and no value, output or file).
// Then a work/ with anything in it is removed, what can be reused goes to
// the pool, and the lease is released. Call Seal once the task's processes
// are gone: its empty directories may be reused by another entry.
// Keep may go on renewing while Seal runs (uploads can be long).
//
// A fenced attempt gets ErrFenced and seals nothing. A full disk or store
// gives ErrInfra and ErrNoSpace, leaves no trace and keeps work/. A failed
// Seal is not retried on the same lease: Release it; the next attempt
// resumes from work/. If another attempt sealed first, its entry is returned.
func (l *Lease) Seal(ctx context.Context, value []byte) (*Sealed, error) {
	l.mu.Lock()
	if l.done || l.sealing {
		l.mu.Unlock()
		return nil, fmt.Errorf("%w: entry %s: attempt %d already released, sealed or sealing", ErrFenced, l.digest, l.attempt)
	}
	if l.sealFailed {
		l.mu.Unlock()
		return nil, fmt.Errorf("%w: entry %s: a failed Seal of attempt %d cannot be retried (its outputs may be gone); Release, and the next attempt resumes from work/", ErrInvalid, l.digest, l.attempt)
	}
	l.sealing = true
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.sealing = false
		l.mu.Unlock()
	}()
	l.staged = false
	// Building (hashing, uploading) may outlast the lease's TTL, so it runs
	// unlocked and Keep goes on renewing; publishing holds the lock so that
	// Release cannot interleave.
	var names []string // what the entry held when this attempt published
	b, err := l.buildSeal(ctx, value)
	if err == nil {
		l.mu.Lock()
		if l.done {
			err = fmt.Errorf("%w: entry %s: attempt %d was released while sealing", ErrFenced, l.digest, l.attempt)
		} else {
			names, err = l.publish(b)
		}
		l.mu.Unlock()
	}
	if err != nil {
		// Fenced is for good: a Seal again says so again. Any other
		// failure may have taken staged outputs out of OutDir.
		l.mu.Lock()
		l.sealFailed = !errors.Is(err, ErrFenced)
		l.mu.Unlock()
		if b.form == formManifest || b.form == formDir {
			// Written but not published: the output directory is no seal
			// without it; Release or the next attempt removes the rest.
			l.removeManifest()
		}
		var exists *sealedFirst
		if errors.As(err, &exists) {
			return l.finish(exists.s, nil, false), nil
		}
		return nil, err
	}
	s := &Sealed{Manifest: *b.m, Dir: l.c.sealedPath(l.digest), silent: b.form == formSilent}
	s.manifest = s.Dir
	if b.form == formDir {
		s.manifest = filepath.Join(s.Dir, manifestName)
	}
	return l.finish(s, names, b.form != formDir), nil
}

// sealedFirst reports that another attempt's seal won the rename.
type sealedFirst struct{ s *Sealed }

func (e *sealedFirst) Error() string { return "entry sealed by attempt " + fmt.Sprint(e.s.Attempt) }

// sealForm is what publishing makes the sealed name.
type sealForm int

const (
	formNone     sealForm = iota // nothing built
	formDir                      // OutDir, with the manifest and the kept files
	formManifest                 // the manifest alone (OutDir held nothing)
	formSilent                   // a link to the marker: no value, no file
)

// built is a seal ready to publish.
type built struct {
	m      *Manifest
	form   sealForm
	marker string // formSilent: the marker file to link
}

// buildSeal turns OutDir into a complete seal: big outputs staged away,
// the manifest written last, or, for an attempt that sealed no value and
// left nothing in OutDir, no manifest at all but the marker to link. A
// process that cannot make its marker writes the manifest instead.
func (l *Lease) buildSeal(ctx context.Context, value []byte) (built, error) {
	m, alone, err := l.buildManifest(ctx, value)
	if err != nil {
		return built{}, err
	}
	b := built{m: m, form: formDir}
	if alone {
		b.form = formManifest
		if m.Value == nil && m.Output == nil {
			if b.marker, err = l.c.currentMarker(""); err == nil {
				b.form = formSilent
				return b, nil
			}
			l.c.log.Warn("scratch cache: cannot make the marker of silent seals; sealing with a manifest", "err", err)
		}
	}
	if err := l.writeManifest(m); err != nil {
		return built{form: b.form}, err
	}
	return b, nil
}

// buildManifest stages what goes to the results store and describes the
// seal; alone: OutDir holds nothing.
func (l *Lease) buildManifest(ctx context.Context, value []byte) (*Manifest, bool, error) {
	c := l.c
	m := &Manifest{Version: manifestVersion, TaskID: l.task, Digest: l.digest, Attempt: l.attempt, Started: l.acquired, Files: []File{}}
	var staged []task.Output
	if int64(len(value)) > c.cfg.InlineMax {
		out, err := l.put(ctx, "value", bytes.NewReader(value), int64(len(value)), sumBytes(value))
		if err != nil {
			return nil, false, err
		}
		staged = append(staged, out)
	} else {
		v, err := inlineValue(value)
		if err != nil {
			return nil, false, fmt.Errorf("%w: result value: %v", ErrInvalid, err)
		}
		m.Value = v
	}
	names, alone, err := l.outputNames()
	if err != nil {
		return nil, false, err
	}
	for _, name := range names {
		f, err := l.stageFile(ctx, name)
		if err != nil {
			return nil, false, err
		}
		if f.URI != "" {
			staged = append(staged, task.Output{URI: f.URI, Bytes: f.Bytes, SHA256: f.SHA256})
		}
		m.Files = append(m.Files, f)
	}
	switch {
	case len(staged) == 1:
		m.Output = &staged[0]
	case len(staged) > 1:
		index, err := json.Marshal(m.Files)
		if err != nil {
			return nil, false, err
		}
		out, err := l.put(ctx, "outputs.json", bytes.NewReader(index), int64(len(index)), sumBytes(index))
		if err != nil {
			return nil, false, err
		}
		m.Output = &out
	}
	m.Sealed = c.cfg.Now().UTC()
	return m, alone, nil
}

// writeManifest writes the manifest into OutDir, last.
func (l *Lease) writeManifest(m *Manifest) error {
	c := l.c
	b, err := m.encode()
	if err != nil {
		return err
	}
	// No fsync: a crash of the machine that keeps the publishing rename
	// but loses the manifest's bytes leaves a manifest that fails its
	// checksum, and a damaged seal is quarantined and recomputed, never a
	// hit (the output files were never synced either: each is re-hashed
	// on a hit). A sync per task was the largest cost of a short task.
	mpath := filepath.Join(l.OutDir(), manifestName)
	f, err := c.fs.OpenFile(mpath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return infraErr("create", mpath, err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		l.removeManifest()
		return infraErr("write", mpath, err)
	}
	// The manifest's time is the entry's last use for LRU eviction: the
	// write set it, unless the cache runs on a clock of its own.
	if !c.ownClock {
		return nil
	}
	if err := c.fs.Chtimes(mpath, m.Sealed, m.Sealed); err != nil {
		l.removeManifest()
		return infraErr("set the time of", mpath, err)
	}
	return nil
}

// removeManifest removes the manifest a failed seal wrote into OutDir.
func (l *Lease) removeManifest() {
	mpath := filepath.Join(l.OutDir(), manifestName)
	if err := l.c.fs.Remove(mpath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		l.c.log.Warn("scratch cache: cannot remove a failed seal's manifest; the next attempt will", "path", mpath, "err", err)
	}
}

// outputNames lists the regular files under OutDir as sorted slash paths,
// creating OutDir if the task removed it; alone: OutDir holds nothing at
// all. Anything else (a symlink, a device) is refused: a sealed output
// must be content the entry owns; so is a file named like the manifest,
// which the seal writes beside them.
func (l *Lease) outputNames() (names []string, alone bool, err error) {
	if empty, err := l.c.isEmptyDir(l.OutDir()); err == nil && empty {
		return nil, true, nil // most tasks keep no file
	}
	var walk func(rel string) error
	walk = func(rel string) error {
		dir := filepath.Join(l.OutDir(), filepath.FromSlash(rel))
		ents, err := l.c.fs.ReadDir(dir)
		if err != nil {
			if rel == "" && errors.Is(err, fs.ErrNotExist) {
				// A newer attempt's Open removes an older one's: say
				// fenced rather than make it again.
				if err := l.check(); err != nil {
					return err
				}
				alone = true
				return l.c.makeDir(dir)
			}
			return infraErr("list", dir, err)
		}
		if rel == "" {
			alone = len(ents) == 0
		}
		for _, e := range ents {
			name := path.Join(rel, e.Name())
			switch {
			case e.IsDir():
				if err := walk(name); err != nil {
					return err
				}
			case name == manifestName:
				return fmt.Errorf("%w: output %s: the name %s is the sealed entry's own; name the file otherwise", ErrInvalid, filepath.Join(l.OutDir(), name), manifestName)
			case e.Type().IsRegular():
				names = append(names, name)
			default:
				return fmt.Errorf("%w: output %s is a %s; outputs must be regular files", ErrInvalid, filepath.Join(l.OutDir(), name), e.Type())
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, false, err
	}
	sort.Strings(names)
	return names, alone, nil
}

// stageFile hashes one output file and either uploads it to the results
// store (above StageThreshold) and removes it from OutDir, or leaves it
// where it is, in the directory that becomes the seal.
func (l *Lease) stageFile(ctx context.Context, name string) (File, error) {
	c := l.c
	src := filepath.Join(l.OutDir(), filepath.FromSlash(name))
	f, err := c.fs.Open(src)
	if err != nil {
		return File{}, infraErr("open", src, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, infraErr("read", src, err)
	}
	file := File{Name: name, Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	if n > c.cfg.StageThreshold {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return File{}, infraErr("read", src, err)
		}
		out, err := l.put(ctx, name, f, n, file.SHA256)
		if err != nil {
			return File{}, err
		}
		file.URI = out.URI
		if err := c.fs.Remove(src); err != nil {
			return File{}, infraErr("remove the staged output", src, err)
		}
	}
	return file, nil
}

// put uploads one object of this attempt to the results store, once a
// first check found the attempt not fenced (a seal that stages nothing
// checks once, right before publishing).
func (l *Lease) put(ctx context.Context, name string, r io.Reader, size int64, sum string) (task.Output, error) {
	if !l.staged {
		if err := l.check(); err != nil {
			return task.Output{}, err
		}
		l.staged = true
	}
	key := storeKey(l.digest, l.attempt, name)
	out, err := l.c.store.Put(ctx, key, r, size, sum)
	if err != nil {
		return task.Output{}, infraErr("stage to "+l.c.store.URI(), key, err)
	}
	return out, nil
}

// publish makes the seal visible after a last fence check (publishCheck),
// in one step: OutDir renamed to the sealed directory, or, when the task
// left nothing in it, the manifest (or, for a silent seal, the marker)
// linked as the sealed file. Each fails if anything is sealed already (a rename onto a
// directory that holds anything, link(2) onto any name), so one seal
// wins; a damaged seal in the way is quarantined and the step tried
// again. It returns the names the entry held at the check.
func (l *Lease) publish(b built) ([]string, error) {
	c := l.c
	if h := c.cfg.hooks.beforePublish; h != nil {
		h()
	}
	names, err := l.publishCheck()
	if err != nil {
		return nil, err
	}
	sealed := c.sealedPath(l.digest)
	mpath := filepath.Join(l.OutDir(), manifestName)
	step := func() error {
		switch b.form {
		case formDir:
			return c.renameNoReplace(l.OutDir(), sealed)
		case formSilent:
			return c.linkSilent(b.marker, sealed)
		}
		if err := c.fs.Link(mpath, sealed); err != nil {
			return err
		}
		// OutDir is left empty, to reuse; a crash before this leaves a
		// second name of the manifest, harmless.
		if err := c.fs.Remove(mpath); err != nil {
			c.log.Warn("scratch cache: cannot unlink the manifest from the output directory", "path", mpath, "err", err)
		}
		return nil
	}
	for try := 0; ; try++ {
		err = step()
		if err == nil {
			return names, nil
		}
		s, lerr := c.lookup(l.digest, false)
		switch {
		case lerr == nil:
			return nil, &sealedFirst{s: s}
		case try == 0 && errors.Is(lerr, ErrCorrupt):
			if _, qerr := c.quarantineDamaged(l.digest, l.task, lerr); qerr != nil {
				return nil, qerr
			}
		default:
			return nil, infraErr("publish", sealed, err)
		}
	}
}

// finish clears what the sealed entry no longer needs and releases the
// lease. names: what the entry held when this attempt published its seal
// (nil: another attempt's seal won, and this attempt's OutDir goes);
// alone: the seal is the manifest alone, and OutDir is left empty.
//
// Nothing is removed that could be reused. The entry directory of an entry
// this attempt made, holding nothing of another attempt, is parked for the
// next new entry (see park.go), whole: the seal beside it is all a hit
// needs. Otherwise an empty OutDir
// and the lease record go to the pool, and an empty work/ stays (an older
// attempt may still run in it). A work/ with checkpoints or logs goes.
func (l *Lease) finish(s *Sealed, names []string, alone bool) *Sealed {
	c := l.c
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
	published := names != nil
	workEmpty, err := c.isEmptyDir(l.WorkDir())
	workEmpty = err == nil && workEmpty
	if !workEmpty {
		c.removeScratch(l.digest, l.WorkDir())
	}
	if published && l.created && l.onlyOwn(names) &&
		c.park(l.dir, pooledEntry{attempt: l.attempt, work: workEmpty, out: alone, recordLen: l.recordLen}, l.renewed) {
		return s
	}
	switch {
	case published && alone:
		if !c.putDir(l.OutDir()) {
			c.removeScratch(l.digest, l.OutDir())
		}
	case !published:
		c.removeScratch(l.digest, l.OutDir())
	}
	if err := l.recycleRecord(); err != nil {
		c.log.Warn("scratch cache: cannot give up the lease of a sealed entry", "digest", l.digest, "err", err)
	}
	return s
}

// onlyOwn says whether names (an entry's) are all this attempt's own:
// its record, work/ and its OutDir.
func (l *Lease) onlyOwn(names []string) bool {
	for _, n := range names {
		switch n {
		case filepath.Base(leaseFile(l.dir, l.attempt)), workName, filepath.Base(l.OutDir()):
		default:
			return false
		}
	}
	return true
}

// isEmptyDir says whether the directory dir holds nothing.
func (c *Cache) isEmptyDir(dir string) (bool, error) {
	if e, ok := c.fs.(emptier); ok {
		return e.IsEmptyDir(dir)
	}
	ents, err := c.fs.ReadDir(dir)
	return len(ents) == 0, err
}

// removeScratch removes a directory of an entry that is done with it.
func (c *Cache) removeScratch(digest, dir string) {
	if err := c.fs.RemoveAll(dir); err != nil {
		c.log.Warn("scratch cache: cannot remove a sealed entry's scratch", "digest", digest, "path", dir, "err", err)
	}
}

func sumBytes(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
