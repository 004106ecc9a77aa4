// Package server is the hosted queue ('pilot serve'): an HTTP server whose
// JSON API (API.md beside this file) lets people submit tasks and read
// results, and lets pilots lease windows of tasks, renew, complete and
// release them. Clusters at several sites lease from it at once.
//
// Storage is one bbolt file (DIR/queue.db). Every request that changes
// state is one bbolt transaction, committed with fsync before the answer is
// sent, so an acknowledged task survives kill -9. Pending tasks live in the
// file, not in RAM: memory stays bounded however long the backlog.
//
// Buckets: tasks (id -> a small msgpack record: state, epoch, lease), specs
// (id -> the task's JSON line as submitted), pending-E (seq -> id, the FIFO
// of epoch E), leases-E (expiry|id -> cluster, ordered by expiry so the
// reaper reads only expired ones), results (seq -> result JSON, the stream
// a cursor follows), dups (seq -> a duplicate result), leasedby (cluster ->
// count), flushes (epoch -> what a flush archived) and meta (counters). A
// flush starts a new epoch: the leased tasks join the old epoch's FIFO,
// which stays as the archive, and tasks whose record is still of an older
// epoch count as flushed, so a flush of a million tasks is one small
// transaction.
//
// Store implements upstream.Queue directly (in-process, for tests and
// tools); Server puts the HTTP API, tokens and limits in front of it.
package server
