package stage

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/pilot-hpc/pilot/task"
)

// S3Options reach an S3-compatible endpoint. Empty fields are taken from
// the environment by S3OptionsFromEnv.
type S3Options struct {
	// Endpoint is http://HOST:PORT or https://HOST[:PORT].
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string
}

// S3OptionsFromEnv reads PILOT_S3_ENDPOINT, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_REGION.
func S3OptionsFromEnv() S3Options {
	return S3Options{
		Endpoint:  os.Getenv("PILOT_S3_ENDPOINT"),
		AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		Region:    os.Getenv("AWS_REGION"),
	}
}

// s3Store keeps objects in one bucket under a key prefix.
type s3Store struct {
	client *minio.Client
	bucket string
	prefix string // "" or ending in "/"
}

func newS3Store(u *url.URL, opt S3Options) (*s3Store, error) {
	if u.Host == "" {
		return nil, fmt.Errorf("%w: %q: write s3://BUCKET/PREFIX", ErrURI, u.String())
	}
	ep, err := url.Parse(opt.Endpoint)
	if err != nil || (ep.Scheme != "http" && ep.Scheme != "https") || ep.Host == "" {
		return nil, fmt.Errorf("%w: S3 endpoint %q: set PILOT_S3_ENDPOINT to http://HOST:PORT or https://HOST", ErrURI, opt.Endpoint)
	}
	client, err := minio.New(ep.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(opt.AccessKey, opt.SecretKey, ""),
		Secure:       ep.Scheme == "https",
		Region:       opt.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: S3 endpoint %q: %v", ErrURI, opt.Endpoint, err)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &s3Store{client: client, bucket: u.Host, prefix: prefix}, nil
}

func (s *s3Store) URI() string { return "s3://" + s.bucket + "/" + s.prefix }

func (s *s3Store) Put(ctx context.Context, key string, r io.Reader, size int64, sum string) (task.Output, error) {
	if err := checkKey(key); err != nil {
		return task.Output{}, err
	}
	name := s.prefix + key
	ch := newCountingHash()
	_, err := s.client.PutObject(ctx, s.bucket, name, io.TeeReader(io.LimitReader(r, size), ch), size,
		minio.PutObjectOptions{
			ContentType:  "application/octet-stream",
			UserMetadata: map[string]string{"sha256": sum},
		})
	if err != nil {
		return task.Output{}, fmt.Errorf("s3 store: put s3://%s/%s: %w", s.bucket, name, err)
	}
	if err := ch.check(key, size, sum); err != nil {
		_ = s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{})
		return task.Output{}, fmt.Errorf("s3 store: put s3://%s/%s: %w", s.bucket, name, err)
	}
	return task.Output{URI: "s3://" + s.bucket + "/" + name, Bytes: size, SHA256: sum}, nil
}

func (s *s3Store) Fetch(ctx context.Context, out task.Output, w io.Writer) error {
	name, ok := strings.CutPrefix(out.URI, "s3://"+s.bucket+"/"+s.prefix)
	if !ok || name == "" {
		return fmt.Errorf("%w: %q is not an object of %s", ErrURI, out.URI, s.URI())
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.prefix+name, minio.GetObjectOptions{})
	if err != nil {
		return fmt.Errorf("s3 store: fetch %s: %w", out.URI, err)
	}
	defer obj.Close()
	if err := copyChecked(out.URI, w, obj, out.Bytes, out.SHA256); err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return fmt.Errorf("s3 store: fetch %s: %w", out.URI, ErrNotFound)
		}
		return fmt.Errorf("s3 store: fetch %s: %w", out.URI, err)
	}
	return nil
}
