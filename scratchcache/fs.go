package scratchcache

import (
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// FS is the filesystem the cache works through: every call the cache makes
// on a path goes through it, so a test (or an operator chasing a metadata
// storm) can count them. Reads and writes of an open file do not go
// through it. OSFS is the real one.
type FS interface {
	Open(name string) (*os.File, error)
	OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error)
	Stat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	Mkdir(name string, perm fs.FileMode) error
	MkdirAll(name string, perm fs.FileMode) error
	Rename(oldname, newname string) error
	Link(oldname, newname string) error
	Remove(name string) error
	RemoveAll(name string) error
	Chtimes(name string, atime, mtime time.Time) error
}

// OSFS is FS on the operating system's filesystem.
type OSFS struct{}

func (OSFS) Open(name string) (*os.File, error) { return openFile(name, os.O_RDONLY, 0) }
func (OSFS) OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	return openFile(name, flag, perm)
}

// openFile is os.OpenFile for the small files the cache reads and writes
// whole (lease records, manifests, outputs to hash) without the poller:
// os.OpenFile makes each such file non-blocking, tries to register it with
// epoll (which refuses regular files) and makes it blocking again, five
// system calls an open that cost more than the open itself; os.NewFile
// checks the flags once and leaves the descriptor out of the poller.
func openFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	fd, err := openRaw(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// openRaw is open(2), close-on-exec, retried on EINTR.
func openRaw(name string, flag int, perm fs.FileMode) (int, error) {
	for {
		fd, err := syscall.Open(name, flag|syscall.O_CLOEXEC, uint32(perm.Perm()))
		switch {
		case err == nil:
			return fd, nil
		case err != syscall.EINTR:
			return -1, &fs.PathError{Op: "open", Path: name, Err: err}
		}
	}
}

// IsEmptyDir says whether the directory name holds nothing, with open,
// getdents and close only (os.ReadDir allocates a file, a buffer and an
// entry per name, and sorts them).
func (OSFS) IsEmptyDir(name string) (bool, error) {
	fd, err := openRaw(name, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return false, err
	}
	defer syscall.Close(fd)
	// Room for a few entries (one is at most 280 bytes): a bigger array
	// would grow the stack of every attempt's goroutine that calls this.
	var buf [512]byte
	for {
		n, err := syscall.Getdents(fd, buf[:])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return false, &fs.PathError{Op: "readdirent", Path: name, Err: err}
		case n <= 0:
			return true, nil
		}
		if _, found, _ := syscall.ParseDirent(buf[:n], 1, nil); found > 0 {
			return false, nil // a name other than . and ..
		}
	}
}

// emptier is an FS that can tell an empty directory without listing it
// (OSFS).
type emptier interface {
	IsEmptyDir(name string) (bool, error)
}

// Overwrite writes b at the start of the existing file name with open,
// pwrite and close, and no more (see overwriter).
func (OSFS) Overwrite(name string, b []byte) error {
	fd, err := openRaw(name, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	n, err := syscall.Pwrite(fd, b, 0)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if cerr := syscall.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		return &fs.PathError{Op: "write", Path: name, Err: err}
	}
	return nil
}
func (OSFS) Stat(name string) (fs.FileInfo, error)             { return os.Stat(name) }
func (OSFS) ReadDir(name string) ([]fs.DirEntry, error)        { return os.ReadDir(name) }
func (OSFS) Mkdir(name string, perm fs.FileMode) error         { return os.Mkdir(name, perm) }
func (OSFS) MkdirAll(name string, perm fs.FileMode) error      { return os.MkdirAll(name, perm) }
func (OSFS) Rename(oldname, newname string) error              { return os.Rename(oldname, newname) }
func (OSFS) Link(oldname, newname string) error                { return os.Link(oldname, newname) }
func (OSFS) Remove(name string) error                          { return os.Remove(name) }
func (OSFS) RemoveAll(name string) error                       { return os.RemoveAll(name) }
func (OSFS) Chtimes(name string, atime, mtime time.Time) error { return os.Chtimes(name, atime, mtime) }
