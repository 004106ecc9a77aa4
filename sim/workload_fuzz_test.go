package sim

import "testing"

// FuzzParseJob: no line of a workload file panics the parser, and every
// line it accepts is a valid task with a positive true runtime.
func FuzzParseJob(f *testing.F) {
	f.Add([]byte(`{"id":"a","fn":"f","cores":4,"est_s":600,"true_s":650}`))
	f.Add([]byte(`{"id":"b","cmd":["x"],"true_s":30}`))
	f.Add([]byte(`{"id":"c","fn":"f","true_s":-1}`))
	f.Add([]byte(`{"id":"d","fn":"f","est_s":1e300,"true_s":1e300}`))
	f.Add([]byte(`{"id":"../x","cmd":["x"],"true_s":1,"extra":1}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		j, err := parseJob(line)
		if err != nil {
			return
		}
		if verr := j.Spec.Validate(); verr != nil || j.True <= 0 || j.Spec.Cores < 1 {
			t.Fatalf("accepted %q as %+v (validate: %v)", line, j, verr)
		}
	})
}
