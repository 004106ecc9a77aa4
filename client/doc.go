// Package client is the Executor for Go programs: Submit returns a Future
// at once, Map submits many, AsCompleted yields futures as their results
// arrive. It works over any upstream.Queue (a JSONL file or a queue server
// URL, from upstream.Open).
//
// Two goroutines do the work. The batcher gathers submissions into batches
// (BatchSize tasks, or whatever arrived within Linger), so 100,000 Submits
// make about a hundred Queue.Submit calls; an outage is retried with
// backoff until Close, never dropped. The follower reads the queue's
// results stream from a cursor (held open by the server when the queue
// supports upstream.ResultsWaiter, polled otherwise) and resolves the
// futures by task id. It remembers only the ids it has seen (and where),
// not the results, so memory stays small; a future for a task that had
// finished before it was submitted is resolved by reading that page again.
package client
