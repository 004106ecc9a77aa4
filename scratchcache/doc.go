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
// results store (package stage), writes a manifest (files, sizes, sha256,
// task, attempt, times, its own checksum) beside the small ones in OutDir
// and publishes it in one step: OutDir renamed to <digest>.sealed/, or,
// when the task left nothing in OutDir, the manifest alone linked as the
// file <digest>.sealed (no file moved or copied, no fsync: a manifest a
// machine crash tore fails its checksum and the entry is recomputed).
// Lease.Release gives the entry up after a failure, keeping work/.
//
// What a miss costs is the inodes it creates (on ext4 more than a rename
// each, and every inode freed slows later creations for minutes), so a
// miss then seal of a task that writes nothing creates one, the manifest,
// and frees none. Each process keeps a pool (pool/<host>-<pid>-<token>/)
// of what seals gave back: above all whole entry directories (lease
// record, empty work/ and out.<attempt>/), so a miss takes its entry with
// one rename and its seal gives it back with one. A new entry is put
// together in the pool and renamed into place whole, never seen without
// its lease record. Only what no process can still write to is pooled:
// the entry of an attempt that made it and sealed (no other attempt ran
// in it), empty output directories and spent lease records. Seal and
// Release must therefore come after the task's processes are gone.
//
// Ownership needs no flock: each attempt has a lease record lease.<attempt>
// that appears complete, with the new entry's rename (renameat2 NOREPLACE
// where the filesystem has it; elsewhere a rename fails onto an entry,
// which is never empty) or by link(2) into an existing one (atomic, fails
// if it exists, also on NFS and Lustre), and is renewed by rename. A newer
// attempt takes over only a lease not renewed for LeaseTTL; an attempt
// that finds a newer attempt's record, or lost its own, is fenced
// (ErrFenced) at every Renew and right before publishing, and publishing
// fails onto a seal of either form, so one seal wins.
//
// A hit costs a handful of filesystem calls, not a walk: one open of the
// manifest (two for a sealed directory), one open per output file kept in
// the seal (each re-hashed), and one Chtimes that records the use for LRU
// eviction. A seal that fails verification is moved to quarantine/ and the
// task recomputed. GC evicts sealed entries least recently used first to
// fit a quota, never one a live attempt holds, and removes the pools of
// processes that ended. Every filesystem or store failure wraps ErrInfra
// (and ErrNoSpace when a disk is full), which the agent reports as an
// infra failure of the task.
package scratchcache
