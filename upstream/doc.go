// Package upstream is where a campaign's tasks wait and its results return,
// outside every pilot, so that work outlives each allocation. Queue is the one
// interface; Open picks the kind from the address: a path to a JSONL file on a
// shared filesystem (its state beside it in FILE.pilot/), or the URL of a
// hosted queue server ('pilot serve'). Pilots lease a window of tasks at a
// time and never pull the whole backlog (promise 6).
package upstream
