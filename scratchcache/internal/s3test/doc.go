// Package s3test starts a real S3-compatible server (versitygw with its POSIX
// backend) on 127.0.0.1 for the tests of the results stores. It is imported
// only by tests. When the binary is missing the test fails under CI=true
// and is skipped with a hint otherwise; scripts/ci/install-versitygw.sh
// installs it.
package s3test
