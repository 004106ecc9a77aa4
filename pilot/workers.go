package pilot

import "time"

// workers runs the executor's attempts on goroutines that, once one
// attempt is over, wait a while for the next instead of exiting: a new
// goroutine starts on a small stack that every attempt grew again by
// copying (the fork, the scratch cache and the report are deep), ~3% of an
// agent's CPU on a flood of short tasks.
type workers struct {
	idle chan func() // received from by workers waiting for work
}

// workerIdle is how long a worker waits for another attempt.
const workerIdle = time.Second

func newWorkers() *workers { return &workers{idle: make(chan func())} }

// run runs f on a waiting worker, or on a new one.
func (w *workers) run(f func()) {
	select {
	case w.idle <- f:
	default:
		go w.loop(f)
	}
}

func (w *workers) loop(f func()) {
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		f()
		t.Reset(workerIdle)
		select {
		case f = <-w.idle:
		case <-t.C:
			return
		}
	}
}
