// Package member is the agent's gossip membership: every agent of every
// live pilot of one campaign at one site joins one hashicorp/memberlist
// cluster, encrypted and authenticated with the campaign key (AES-GCM,
// memberlist's SecretKey), so a process without the key can neither join
// nor read the gossip (promise 9).
//
// Each node gossips its Meta (cores, memory, pilot id, pilot end time, RPC
// and Raft addresses, Raft role, draining) as one type byte then a msgpack
// map, at most 512 bytes. The leader builds the scheduler's view of the
// nodes from it.
//
// As serf does, memberlist's delegate and event callbacks go to small
// unexported adapters that only forward: NodeMeta returns bytes encoded
// beforehand, a user message is noted and any answer sent from a goroutine
// of its own, and join, update, leave and death events are appended to an
// unbounded in-memory queue that a goroutine drains into the Events
// channel. A callback therefore never blocks memberlist and no event is ever
// dropped; the consumer must keep reading Events.
//
// Leave gossips Meta.Leaving and also sends each live member a leave
// notice over TCP (a memberlist user message: type byte then msgpack), and
// waits for each one's acknowledgement before memberlist's leave goes out:
// gossip sends the metadata to a few random members only, so without the
// notice a member could hear of the leave before the metadata and report
// a death.
//
// The members file (WriteMembersFile, ReadMembersFile) in the campaign's
// state directory lists the gossip addresses of live members so that a new
// pilot can find seeds; it is replaced atomically by rename.
package member
