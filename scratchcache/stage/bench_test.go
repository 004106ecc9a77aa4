package stage

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/pilot-hpc/pilot/scratchcache/internal/s3test"
)

// benchPutFetch stages and downloads (with verification) 1 MiB objects.
func benchPutFetch(b *testing.B, s Store) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("chemical shift "), (1<<20)/15)
	sum := sumOf(data)
	b.SetBytes(int64(len(data)) * 2)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := s.Put(ctx, "bench/"+strconv.Itoa(i), bytes.NewReader(data), int64(len(data)), sum)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Fetch(ctx, out, &bytes.Buffer{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFileStorePutFetch1MiB(b *testing.B) {
	s, err := FileStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	benchPutFetch(b, s)
}

func BenchmarkS3StorePutFetch1MiB(b *testing.B) {
	srv := s3test.Start(b, "bench")
	s, err := Open("s3://bench", Options{S3: s3Options(srv)})
	if err != nil {
		b.Fatal(err)
	}
	benchPutFetch(b, s)
}
