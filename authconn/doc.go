// Package authconn lets only holders of a campaign's key talk to each other
// (promise 9). It is a small leaf shared by the agent RPC and the Raft
// transport: before any frame crosses a freshly accepted or dialled
// net.Conn, both ends run a mutual challenge-response handshake.
//
// The handshake, bounded by one deadline on the connection:
//
//	client → server: magic "PLTA1" | client nonce (32 random bytes)
//	server → client: magic "PLTA1" | server nonce | HMAC(k, "server" | Nc | Ns)
//	client → server: HMAC(k, "client" | Nc | Ns)
//	server → client: one byte, accept (1) or refuse (0)
//
// k is derived from the campaign key with HMAC-SHA256 under a fixed label,
// so the handshake never uses the raw key that memberlist encrypts gossip
// with. The direction labels stop a reflection of one side's proof as the
// other's, fresh nonces on both sides stop replays, and proofs are compared
// in constant time. The key itself never crosses the wire. The handshake
// authenticates; it does not encrypt the traffic that follows.
//
// The campaign key lives in a file in the campaign's state directory
// (LoadOrCreateKey): created with mode 0600 on first use, atomically so that
// several agents starting at once agree on one key, and refused when group
// or others can read it.
package authconn
