// Package scratchcache keeps one directory per task on the shared scratch
// filesystem, keyed by the task's content digest (task.Spec.Digest), so a
// retry resumes from the task's own checkpoints and a finished task is
// never computed twice (promise 7, cache safety).
//
// An entry lives at entries/ab/<digest>/ while attempts run (256 shards:
// 400 entries each at 100k tasks), and its seal beside it at
// entries/ab/<digest>.sealed. The agent calls Cache.Open(task, digest,
// attempt): a seal that verifies is a hit, reported without running the
// task; otherwise Open returns the entry's Lease for that attempt. The task
// runs with $PILOT_WORKDIR = Lease.WorkDir (kept across attempts) and
// writes its output files to $PILOT_OUTDIR = Lease.OutDir; Lease.Keep
// renews the lease while it runs; Lease.Seal stages big outputs to the
// results store (package stage) and publishes the seal in one step, in
// one of three forms:
//   - the task kept files: a manifest (files, sizes, sha256, task,
//     attempt, times, its own checksum) is written last beside them in
//     OutDir, and OutDir is renamed to <digest>.sealed/;
//   - it left nothing in OutDir but has a value or staged outputs: the
//     manifest alone is linked as the file <digest>.sealed;
//   - it has no value and left nothing (`true`): the silent seal, no
//     manifest at all, <digest>.sealed is a hard link to a marker file of
//     fixed content ({"version":1,"silent":true}, which no manifest can
//     be) that all the silent seals of a process share. The marker is
//     made once in the process's pool, written whole under a temporary
//     name and renamed, so a torn one is never linked, and replaced by a
//     new one when it has all the links the filesystem allows (EMLINK). A
//     silent seal records no task, attempt or time and holds no bytes: a
//     hit on it is a result with no value and no output.
//
// No file is moved or copied and nothing is synced: a manifest or marker a
// machine crash tore fails verification and the entry is recomputed.
// Lease.Release gives the entry up after a failure, keeping work/.
//
// What a miss costs is the inodes it creates: on ext4 more than a rename
// each (without a journal each creation scans the inodes its block group
// freed in the last ~30 s: 0.3-0.9 ms once anything deleted files), on
// Lustre a round trip to the metadata server. A miss then seal of a task
// that writes nothing and has no value creates none and frees none; one
// with a value creates one, its manifest, which no pool can recycle since
// every sealed task keeps its seal. Each process keeps a pool
// (pool/<host>-<pid>-<token>/) of what seals gave back: above all whole
// entry directories (lease record, empty work/ and out.<attempt>/). A
// sealed entry's directory is first parked where it is, beside its seal
// and under its live lease, and the next miss takes it with one rename
// (the parked entry is renamed to the new digest); one not taken within a
// second, or at Close, goes into the pool, from where a miss takes it
// with one rename as well. A new entry is put together in the pool and renamed into place
// whole, never seen without its lease record. Only what no process can
// still write to is pooled: the entry of an attempt that made it and
// sealed (no other attempt ran in it), empty output directories and spent
// lease records. Seal and Release must therefore come after the task's
// processes are gone.
//
// Ownership needs no flock: each attempt has a lease record lease.<attempt>
// that appears complete, with the new entry's rename (renameat2 NOREPLACE
// where the filesystem has it; elsewhere a rename fails onto an entry,
// which is never empty) or by link(2) into an existing one (atomic, fails
// if it exists, also on NFS and Lustre), and is renewed by rename. A newer
// attempt takes over only a lease not renewed for LeaseTTL; an attempt
// that finds a newer attempt's record, or lost its own, is fenced
// (ErrFenced) at every Renew and right before publishing (except where no
// other record can be there: in an entry the attempt created, within half
// a LeaseTTL of its last renewal), and publishing fails onto a seal of any
// form (a rename onto a directory that holds anything, link(2) onto any
// name), so one seal wins.
//
// A hit costs a handful of filesystem calls, not a walk: one open of the
// seal (then of its manifest for a sealed directory), one open per output
// file kept in the seal (each re-hashed), and one Chtimes that records the
// use for LRU eviction; none for a silent seal, whose inode is the shared
// marker. A sealed file whose bytes are the marker's is a silent hit; any
// other bytes must be a manifest that checks. A seal that fails
// verification is moved to quarantine/ and the task recomputed (a damaged
// marker fails every silent seal linked to it: each is quarantined in
// turn, and the process that finds one makes a new marker). GC evicts
// sealed entries least recently used first to fit a quota, never one a
// live attempt holds nor a silent seal (it holds no bytes), and removes
// the pools of processes that ended (a marker's pool name is only one of
// its links: the silent seals keep it). Every filesystem or store failure
// wraps ErrInfra (and ErrNoSpace when a disk is full), which the agent
// reports as an infra failure of the task.
package scratchcache
