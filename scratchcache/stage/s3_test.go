package stage

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/pilot-hpc/pilot/scratchcache/internal/s3test"
	"github.com/pilot-hpc/pilot/task"
)

func TestS3Store(t *testing.T) {
	srv := s3test.Start(t, "results")
	s, err := Open("s3://results/campaign-1", Options{S3: s3Options(srv)})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.URI(); got != "s3://results/campaign-1/" {
		t.Fatalf("URI() = %q", got)
	}
	exerciseStore(t, s, func(t *testing.T, out task.Output, data []byte) {
		name := strings.TrimPrefix(out.URI, "s3://results/")
		_, err := srv.Client.PutObject(context.Background(), "results", name, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestS3StoreWrongCredentials(t *testing.T) {
	srv := s3test.Start(t, "results")
	opt := s3Options(srv)
	opt.SecretKey = "wrong"
	s, err := Open("s3://results", Options{S3: opt})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("x")
	_, err = s.Put(context.Background(), "k", bytes.NewReader(data), 1, sumOf(data))
	if err == nil || errors.Is(err, ErrChecksum) {
		t.Fatalf("put with a wrong secret: want an access error, got %v", err)
	}
}

func s3Options(srv *s3test.Server) S3Options {
	return S3Options{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}
}
