// Package rpc is the wire between the leader and the agents: the leader
// sends Assign and Cancel to an agent, an agent sends Report (started,
// completed, failed) to the leader. Every process runs one Server (any
// agent may become the leader) and keeps Clients to its peers.
//
// A connection is a TCP stream that first passes the authconn handshake
// with the campaign key, then carries frames: a 4-byte big-endian length,
// then one type byte, then the msgpack body of one struct encoded as a map
// (new fields stay compatible both ways). Type bytes are append-only and
// never renumbered. Each request frame gets exactly one reply frame on the
// same connection: its reply type, or an error envelope. Connections are
// reused one request at a time; a client keeps a few idle ones per address.
//
// Errors cross the wire as an envelope with a stable Code (and, for
// CodeNotLeader, the leader's address). The client turns the code back into
// a *RemoteError that wraps the sentinel of that code, so callers use
// errors.Is(err, rpc.ErrStale) and never match strings. Transport failures
// (no route, reset, timeout) wrap ErrUnavailable instead: retry later. A
// frame that does not decode is answered with CodeBadRequest and the
// connection is closed; a peer without the key never gets past authconn.
//
// Requests carry batches (many assignments, many reports per frame), so a
// leader pays one round trip per node per scheduling round, not per task.
// All three operations must be idempotent on the receiving side (attempt
// numbers fence repeats), because a client retries a request once on a fresh
// connection when a reused one turns out to be dead.
package rpc
