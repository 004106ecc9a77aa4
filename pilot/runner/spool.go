package runner

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Spools hands tasks their stdout and stderr as files instead of pipes: a
// pipe per stream costs its creation, the poller, a goroutine copying it
// and the wake-up at its end, which on a flood of short tasks was a tenth
// of the agent's CPU. A spool is an empty file in dir (on the filesystem
// of the tasks' working directories) that the task writes directly, and
// after it: still empty, it serves the next task; written to, it becomes
// the attempt's log file with one rename (attempt-N.stdout, as the pipe's
// copy would have made it) and a new spool is made. So a task that prints
// nothing still leaves no file; one that runs longer than showAfter gets
// its log linked in its working directory while it runs, so it can be
// followed.
//
// A spool is reused only if nothing holds it open for writing once the
// task has exited: a process that left the task's group (setsid) could
// still write to it. The kernel tells: a read lease (F_SETLEASE) is
// granted only on a file that no one has open for writing. A spool someone
// holds is retired (unlinked, that holder's writes go nowhere). Where leases cannot be taken (some
// network filesystems, leases disabled) or dir cannot hold spools, Spools
// turns itself off and tasks get pipes again.
type Spools struct {
	dir  string
	mu   sync.Mutex
	free []*spool
	held []*spool // still open for writing somewhere when last looked at
	n    int
	dirf *os.File // dir, opened once: each task's writers open spools relative to it
	off  error    // why spools are not used, once they are not
}

// maxHeld bounds the spools kept while something holds them open: past
// it the oldest is retired.
const maxHeld = 64

// showAfter is how long a task runs before its spooled log is linked at
// its log path.
const showAfter = time.Second

// NewSpools keeps spools in dir, made at the first one.
func NewSpools(dir string) *Spools { return &Spools{dir: dir} }

// Off says why spools are not used (nil while they are).
func (s *Spools) Off() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.off
}

// spool is one file of a spool: its path and this process's descriptor,
// read-only (for the lease, see unheld). Each task writes it through a
// description of its own (opened for it, append, relative to the spools'
// directory: no walk of the long path per task), which a process that
// escaped the task's group would keep open.
type spool struct {
	path string
	name string   // its name in dirf
	dirf *os.File // the spools' directory
	f    *os.File
}

// writer opens the spool for one task to write: a bare descriptor, which
// the fork hands on as it is.
func (sp *spool) writer() (int, error) {
	for {
		fd, err := syscall.Openat(int(sp.dirf.Fd()), sp.name, syscall.O_WRONLY|syscall.O_APPEND|syscall.O_CLOEXEC, 0)
		switch {
		case err == nil:
			return fd, nil
		case err != syscall.EINTR:
			return -1, &os.PathError{Op: "open", Path: sp.path, Err: err}
		}
	}
}

// take returns two spools for a task's stdout and stderr, or nil when
// spools are off.
func (s *Spools) take() []*spool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.off != nil {
		return nil
	}
	var pair []*spool
	for len(pair) < 2 {
		if n := len(s.free); n > 0 {
			pair, s.free = append(pair, s.free[n-1]), s.free[:n-1]
			continue
		}
		if sp := s.takeReleased(); sp != nil {
			pair = append(pair, sp)
			continue
		}
		sp, err := s.make()
		if err != nil {
			s.turnOff(err)
			s.free = append(s.free, pair...)
			return nil
		}
		pair = append(pair, sp)
	}
	return pair
}

// make creates a new spool; s.mu is held.
func (s *Spools) make() (*spool, error) {
	if s.dirf == nil {
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			return nil, err
		}
		d, err := os.Open(s.dir)
		if err != nil {
			return nil, err
		}
		s.dirf = d
	}
	s.n++
	name := "spool-" + strconv.Itoa(s.n)
	path := filepath.Join(s.dir, name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	return &spool{path: path, name: name, dirf: s.dirf, f: f}, nil
}

// turnOff stops handing out spools; s.mu is held.
func (s *Spools) turnOff(err error) {
	if s.off == nil {
		s.off = fmt.Errorf("task output goes through pipes: spools in %s: %w", s.dir, err)
	}
}

// takeReleased returns a held spool that nothing holds any more, if one
// is; s.mu is held. Most were held for a moment only: another task's
// child, forked while this task's spool was open for its start, holds
// every descriptor of the agent until its exec closes them.
func (s *Spools) takeReleased() *spool {
	for i := 0; i < len(s.held); i++ {
		sp := s.held[i]
		free := s.unheld(sp)
		if free || sp.f == nil { // taken, or retired
			s.held = append(s.held[:i], s.held[i+1:]...)
			i--
		}
		if free {
			return sp
		}
	}
	return nil
}

// hold keeps a spool that something still holds open for writing, to be
// looked at again when a task needs one; s.mu is not held.
func (s *Spools) hold(sp *spool) {
	if sp.f == nil {
		return // retired
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = append(s.held, sp)
	if len(s.held) > maxHeld {
		retire(s.held[0])
		s.held = s.held[1:]
	}
}

// give puts a spool back for another task.
func (s *Spools) give(sp *spool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free = append(s.free, sp)
}

// spoolStreams puts a task's stdout and stderr (whose log files are out
// and errs) on spools, or returns nil: no spools, or they are off.
func spoolStreams(s *Spools, out, errs *lazyFile) []*spooled {
	if s == nil {
		return nil
	}
	pair := s.take()
	if pair == nil {
		return nil
	}
	t := []*spooled{{sp: pair[0], w: -1, log: out.path}, {sp: pair[1], w: -1, log: errs.path}}
	for _, st := range t {
		w, err := st.sp.writer()
		if err != nil {
			s.mu.Lock()
			s.turnOff(err)
			s.mu.Unlock()
			s.giveBack(t)
			return nil
		}
		st.w = w
	}
	return t
}

// closeWriters closes the runner's copies of the task's writers: the child
// has its own.
func closeWriters(spooled []*spooled) {
	for _, t := range spooled {
		if t.w >= 0 {
			_ = syscall.Close(t.w)
			t.w = -1
		}
	}
}

// giveBack returns the spools of a task that never started (still empty,
// and no process holds them).
func (s *Spools) giveBack(spooled []*spooled) {
	closeWriters(spooled)
	for _, t := range spooled {
		s.give(t.sp)
	}
}

// spooled is one stream of one task on a spool.
type spooled struct {
	sp  *spool
	w   int    // the task's writer (a descriptor) until it started; -1 then
	log string // the attempt's log file for the stream

	mu    sync.Mutex
	shown bool // linked at log while the task runs
	ended bool
}

// show links the spool at the log path, so that a long task's output can
// be followed; once the task has ended it does nothing.
func (t *spooled) show() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.ended && !t.shown {
		t.shown = os.Link(t.sp.path, t.log) == nil
	}
}

// settle ends a spooled stream once the task's processes are gone, and
// returns the log file's path ("" when the task wrote nothing). The
// spool's bytes are never lost: if it cannot be renamed into the log
// (another filesystem, the spool's name gone), they are copied there.
func (s *Spools) settle(t *spooled) (string, error) {
	t.mu.Lock()
	t.ended = true
	t.mu.Unlock()
	sp := t.sp
	fi, err := sp.f.Stat()
	if err != nil {
		retire(sp)
		return "", err
	}
	if fi.Size() == 0 {
		if t.shown {
			if err := removeFile(t.log); err != nil {
				retire(sp)
				return "", err
			}
		}
		s.mu.Lock()
		free := s.unheld(sp)
		s.mu.Unlock()
		if free {
			s.give(sp)
		} else {
			s.hold(sp)
		}
		return "", nil
	}
	// Written to: the spool's file is the log now.
	if !t.shown {
		if rerr := os.Rename(sp.path, t.log); rerr == nil {
			sp.f.Close()
			return t.log, nil
		} else {
			s.mu.Lock()
			s.turnOff(rerr)
			s.mu.Unlock()
			err = copyOut(sp.f, t.log)
		}
	}
	retire(sp)
	return t.log, err
}

// unheld says whether nothing holds sp open for writing any more, by
// taking and dropping a read lease, which the kernel grants on a file no
// one has open for writing. An error other than "held" turns spools off,
// and a lease that cannot be dropped (the next task's open would wait for
// it) retires the spool: held is then false too. s.mu is held.
func (s *Spools) unheld(sp *spool) (free bool) {
	fd := int(sp.f.Fd())
	_, err := unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_RDLCK)
	if err == nil {
		if _, err = unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_UNLCK); err == nil {
			return true
		}
		retire(sp) // closing it drops the lease
		sp.f = nil
	}
	if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EBUSY) {
		s.turnOff(fmt.Errorf("cannot tell whether a spool is still open elsewhere: %w", err))
	}
	return false
}

// retire drops a spool that must not serve another task.
func retire(sp *spool) {
	_ = removeFile(sp.path)
	if sp.f != nil {
		sp.f.Close()
	}
}

// copyOut copies the spool f into a new file at log.
func copyOut(f *os.File, log string) error {
	dst, err := os.OpenFile(log, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, io.NewSectionReader(f, 0, 1<<62))
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return err
}
