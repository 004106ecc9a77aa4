//go:build race

package upstream

// raceEnabled shrinks the largest tests: the race detector makes JSON
// parsing ten times slower.
const raceEnabled = true
