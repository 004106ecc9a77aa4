//go:build race

package server

// raceEnabled: the race detector slows the server child about fivefold, so
// the longest tests scale down under it.
const raceEnabled = true
