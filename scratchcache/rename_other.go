//go:build !linux

package scratchcache

import "os"

// RenameNoReplace is os.Rename where there is no renameat2: it fails onto
// a directory that is not empty, and the cache renames onto nothing else.
func (OSFS) RenameNoReplace(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }
