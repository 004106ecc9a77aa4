package scratchcache

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// RenameNoReplace renames oldpath to newpath unless newpath exists (an
// fs.ErrExist then), atomically where the filesystem has
// renameat2(RENAME_NOREPLACE) (ext4, xfs, btrfs, tmpfs); elsewhere (NFS,
// where it is EINVAL) it is os.Rename, which fails onto a directory that
// is not empty.
func (OSFS) RenameNoReplace(oldpath, newpath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.ENOSYS):
		return os.Rename(oldpath, newpath)
	}
	return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
}
