package upstream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// The index cache spares every OpenFile from parsing the whole queue again
// (a queue of 100k lines of 10 kB is 1 GB of JSON): it holds the index of a
// prefix of the queue file. It is a cache, not state: any process may write
// it, its content depends only on the file, and one that does not check
// out (torn, corrupt, from another file) is ignored and rebuilt.
const (
	indexCacheFile  = "index.cache"
	indexCacheMagic = "pilot-index-1\n"
	// An index this many lines ahead of the cache, and a quarter of the
	// cache's lines ahead at least, is worth writing again: the first full
	// index of a queue is cached at once (the agents 'pilot local' starts
	// right after indexing it read the cache), and a queue that keeps
	// growing is written out a geometric number of times.
	indexCacheLines = 1024
	indexCacheBytes = 32 << 20
)

// saveCache writes the index to path, atomically; no fsync: a cache torn by
// a crash fails its checksum and is rebuilt.
func (x *index) saveCache(path string) error {
	var buf bytes.Buffer
	buf.WriteString(indexCacheMagic)
	var tmp [binary.MaxVarintLen64]byte
	uv := func(v uint64) { buf.Write(tmp[:binary.PutUvarint(tmp[:], v)]) }
	str := func(s string) { uv(uint64(len(s))); buf.WriteString(s) }
	uv(uint64(x.end))
	uv(uint64(x.endNo))
	uv(uint64(len(x.lines)))
	for _, l := range x.lines {
		uv(uint64(l.off))
		uv(uint64(l.n))
		uv(uint64(l.no))
		uv(uint64(l.crc))
		uv(uint64(l.cores))
		str(l.id)
		str(l.bad)
	}
	binary.BigEndian.PutUint32(tmp[:4], crc32.ChecksumIEEE(buf.Bytes()))
	buf.Write(tmp[:4])
	f, err := os.CreateTemp(filepath.Dir(path), "."+indexCacheFile+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(buf.Bytes())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write index cache %s: %w", path, err)
	}
	x.cached, x.cachedEnd = len(x.lines), x.end
	return nil
}

// loadCache fills an empty index from the cache at path. It returns false,
// leaving the index empty, when there is no cache or it does not check out;
// the caller then verifies it against the queue file like any index.
func (x *index) loadCache(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if len(b) < len(indexCacheMagic)+4 || string(b[:len(indexCacheMagic)]) != indexCacheMagic ||
		crc32.ChecksumIEEE(b[:len(b)-4]) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return false, fmt.Errorf("index cache %s is torn or from another version", path)
	}
	r := bytes.NewReader(b[len(indexCacheMagic) : len(b)-4])
	var rerr error
	uv := func() uint64 {
		v, err := binary.ReadUvarint(r)
		if err != nil && rerr == nil {
			rerr = err
		}
		return v
	}
	str := func() string {
		n := uv()
		if n > uint64(r.Len()) {
			rerr = io.ErrUnexpectedEOF
			return ""
		}
		s := make([]byte, n)
		io.ReadFull(r, s)
		return string(s)
	}
	end, endNo, n := int64(uv()), int(uv()), uv()
	if rerr != nil || n > uint64(len(b)) {
		return false, fmt.Errorf("index cache %s: bad header", path)
	}
	lines := make([]qline, 0, n)
	byID := make(map[string]int, n)
	for i := uint64(0); i < n && rerr == nil; i++ {
		l := qline{off: int64(uv()), n: int32(uv()), no: int32(uv()), crc: uint32(uv()), cores: int32(uv())}
		l.id, l.bad = str(), str()
		byID[l.id] = len(lines)
		lines = append(lines, l)
	}
	if rerr != nil {
		return false, fmt.Errorf("index cache %s: %v", path, rerr)
	}
	x.lines, x.byID, x.end, x.endNo, x.cached, x.cachedEnd = lines, byID, end, endNo, len(lines), end
	return true, nil
}
