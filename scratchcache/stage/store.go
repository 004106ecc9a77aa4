package stage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/pilot-hpc/pilot/task"
)

// Store is a results store. Methods are safe for concurrent use and block
// until the transfer ends or ctx is done.
type Store interface {
	// Put copies exactly size bytes of r to key. sum is the sha256 (hex)
	// the caller computed; Put hashes what it copies and refuses with
	// ErrChecksum when the two differ (the source changed under it),
	// leaving no object behind. An existing object at key is replaced.
	Put(ctx context.Context, key string, r io.Reader, size int64, sum string) (task.Output, error)

	// Fetch writes the object out names to w and verifies its size and
	// sha256 against out. On ErrChecksum the caller must discard what
	// was written.
	Fetch(ctx context.Context, out task.Output, w io.Writer) error

	// URI is the store's own address, ending in a slash (file:///DIR/ or
	// s3://BUCKET/PREFIX/): an object's URI is it followed by the key.
	URI() string
}

// Errors callers tell apart with errors.Is.
var (
	// ErrChecksum: the bytes do not match the recorded size or sha256.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrURI: a store URI or an output URI this store cannot serve.
	ErrURI = errors.New("bad store URI")
	// ErrNotFound: the store has no object at the output's URI.
	ErrNotFound = errors.New("no such object")
)

// Options configure the store kinds that need more than their URI.
type Options struct {
	S3 S3Options
}

// Open returns the store a URI names: file:///ABS/DIR or s3://BUCKET[/PREFIX].
// An empty URI is refused; callers choose their default.
func Open(uri string, opt Options) (Store, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrURI, uri, err)
	}
	switch u.Scheme {
	case "file":
		return newFileStore(u)
	case "s3":
		return newS3Store(u, opt.S3)
	}
	return nil, fmt.Errorf("%w: %q: the scheme must be file:// or s3://", ErrURI, uri)
}

// checkKey refuses keys that could leave the store's directory or prefix.
func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
		return fmt.Errorf("%w: key %q must be a relative slash path", ErrURI, key)
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("%w: key %q has an empty, \".\" or \"..\" element", ErrURI, key)
		}
	}
	return nil
}
