package pilot

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/pilot-hpc/pilot/upstream"
)

// progress draws one line of progress: redrawn in place on a terminal,
// printed every few seconds otherwise (a log file, CI).
type progress struct {
	w       io.Writer
	tty     bool
	last    time.Time
	drawn   bool
	started time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, started: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// show draws the line; force draws it even when a line without a terminal
// was printed moments ago (the last one).
func (p *progress) show(st upstream.Status, elapsed time.Duration, force bool) {
	if p.w == nil {
		return
	}
	if !p.tty && !force && time.Since(p.last) < 5*time.Second && p.drawn {
		return
	}
	final := st.Done + st.Failed
	total := final + st.Pending + st.Leased
	const width = 30
	filled := 0
	if total > 0 {
		filled = width * final / total
	}
	rate := float64(final) / max(elapsed.Seconds(), 1e-3)
	eta := "?"
	if rate > 0 && total > final {
		eta = (time.Duration(float64(total-final)/rate) * time.Second).Round(time.Second).String()
	} else if total == final {
		eta = "0s"
	}
	line := fmt.Sprintf("[%s%s] %d/%d final (done %d, failed %d, running or leased %d) %.1f tasks/s ETA %s",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), final, total, st.Done, st.Failed, st.Leased, rate, eta)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
	p.last, p.drawn = time.Now(), true
}

func (p *progress) done() {
	if p.w != nil && p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}
