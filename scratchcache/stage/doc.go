// Package stage is the results store: where task outputs too big to travel
// in a result record go (promise: results stay small). A Store takes an
// object with its size and sha256 and returns a task.Output {uri, bytes,
// sha256} that the result carries instead of the bytes; Fetch streams an
// object back and verifies its size and sha256 on the way, so a damaged or
// swapped object is never taken for the output.
//
// Two kinds, chosen by the URI a site configures: file:///DIR, a directory
// on the shared filesystem (the default, next to the scratch cache), and
// s3://BUCKET/PREFIX, any S3-compatible object store reached through
// minio-go. Objects are written so that a reader never sees half of one: a
// file is written under a temporary name and renamed, an S3 PUT is atomic.
// Keys are relative slash paths chosen by the caller; the scratch cache uses
// ab/cd/<digest>/a<attempt>/<name>, so two attempts never write one object.
package stage
