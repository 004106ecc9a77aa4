// Package scratchcache keeps one directory per task on the shared scratch
// filesystem, keyed by the task's content digest (task.Spec.Digest), so a
// retry resumes from the task's own checkpoints and a finished task is
// never computed twice (promise 7, cache safety).
//
// An entry lives at entries/ab/<digest>/ (256 shards: 400 entries each at
// 100k tasks; a second level cost a mkdir per task and saved nothing). The
// agent calls Cache.Open(task, digest, attempt): a sealed entry that
// verifies is a hit, reported without running the task; otherwise Open
// returns the entry's Lease for that attempt. The task runs with
// $PILOT_WORKDIR = Lease.WorkDir (kept across attempts) and writes its
// output files to $PILOT_OUTDIR = Lease.OutDir; Lease.Keep renews the lease
// while it runs; Lease.Seal stages big outputs to the results store
// (package stage), writes a manifest (files, sizes, sha256, task, attempt,
// times, its own checksum) beside the small ones in OutDir and publishes
// it in one step: OutDir renamed to sealed/, or, when the task left
// nothing in OutDir, the manifest alone linked as the file sealed (no file
// moved or copied, no fsync: a manifest a machine crash tore fails its
// checksum and the entry is recomputed); Lease.Release gives the entry up
// after a failure, keeping work/.
//
// Creating inodes is what a miss costs (on ext4 a mkdir is 5-20 renames,
// and each inode freed slows later creations for minutes), so a miss of a
// task that writes nothing creates two, the entry directory and the
// manifest, and frees none. A new entry is put together beside its place
// (lease record, work/, out.<attempt>/) and renamed there whole; its parts
// come from pool/, where a seal gives back what the entry no longer needs:
// the empty OutDir that did not become sealed/, the lease record, and the
// empty work/ of an entry whose only attempt sealed. What a task of a
// still-running older attempt could write to never goes to the pool, and
// Seal and Release must come after the task's processes are gone.
//
// Ownership needs no flock: each attempt has a lease record lease.<attempt>
// that appears complete, by link(2) (atomic, fails if it exists) into an
// existing entry or with the new entry's rename (renameat2 NOREPLACE where
// the filesystem has it; elsewhere a rename fails onto an entry, which is
// never empty), and is renewed by rename. A newer attempt takes over only
// a lease not renewed for LeaseTTL; an attempt that finds a newer
// attempt's record, or lost its own, is fenced (ErrFenced) at every Renew
// and right before publishing, and publishing fails onto an existing seal
// of either form, so one seal wins.
//
// A hit costs a handful of filesystem calls, not a walk: one open of the
// manifest (two for a manifest alone), one open per output file kept in
// the entry (each re-hashed), and one Chtimes that records the use for LRU
// eviction. A sealed entry that fails verification is moved to
// quarantine/ and recomputed. GC evicts sealed entries least recently used
// first to fit a quota, never one a live attempt holds. Every filesystem
// or store failure wraps ErrInfra (and ErrNoSpace when a disk is full),
// which the agent reports as an infra failure of the task.
package scratchcache
