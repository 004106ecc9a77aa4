package upstream

import (
	"fmt"
	"strings"
)

// Options configures Open for either kind of queue; only the part of the
// kind that addr names is used.
type Options struct {
	// HTTP configures the client of a queue server (http:// and https://
	// addresses), including its token.
	HTTP HTTPOptions
	// File configures a JSONL file queue (any other address).
	File FileOptions
}

// Open returns the queue at addr: the client of a queue server for an
// http:// or https:// URL, otherwise the JSONL file at that path.
func Open(addr string, opts Options) (Queue, error) {
	if strings.HasPrefix(addr, "http://") || strings.HasPrefix(addr, "https://") {
		return OpenHTTP(addr, opts.HTTP)
	}
	if strings.Contains(addr, "://") {
		return nil, fmt.Errorf("queue %q: unknown scheme; use a file path or an http:// or https:// URL", addr)
	}
	return OpenFile(addr, opts.File)
}
