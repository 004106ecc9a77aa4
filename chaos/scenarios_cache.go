package chaos

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// cacheQueue is n tasks whose output file and value are their input;
// prefix names them.
func cacheQueue(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id":"%s%04d","cmd":["sh","-c","v=$(cat); echo \"$v\" > \"$PILOT_OUTDIR/data.txt\"; printf '{\"v\":\"%%s\"}' \"$v\" > \"$PILOT_WORKDIR/result.json\""],"input":"in%04d"}`+"\n", prefix, i, i)
	}
	return b.String()
}

// cacheIntegrity is scenario 33: a campaign runs, then bytes of some sealed
// cache entries are corrupted (an output file, a manifest), and the same
// tasks are submitted again under new ids to a new cluster. A corrupt
// entry must never be used (it is recomputed); every intact one is a hit.
var cacheIntegrity = Scenario{ID: 33, Name: "cache-integrity",
	Scaled: "3 agents x 2 cores, 60*scale tasks that write an output file and a value; one byte flipped in 3 sealed output files and 2 manifests; the same 60 tasks again under new ids on a new cluster (no kill mid-download, no two pilots fetching at once)",
	Run: func(ctx context.Context, env *Env) (out Outcome, err error) {
		n := 60 * env.Scale
		c, err := newRun(ctx, env, []byte(cacheQueue("a", n)), 3)
		if err != nil {
			return out, err
		}
		defer c.Stop(5 * time.Second)
		if err := c.WaitFinished(ctx, n, 120*time.Second); err != nil {
			return out, err
		}
		c.Stop(20 * time.Second)
		manifests, err := sealedManifests(filepath.Join(c.State, "scratch"))
		if err != nil {
			return out, err
		}
		if len(manifests) < n {
			return out, fmt.Errorf("%d sealed entries after %d tasks, want %d", len(manifests), n, n)
		}
		env.Rand.Shuffle(len(manifests), func(i, j int) { manifests[i], manifests[j] = manifests[j], manifests[i] })
		corrupt := map[string]bool{} // inputs whose entry is corrupt
		for k, m := range manifests[:5] {
			target := m
			if k < 3 {
				files, _ := filepath.Glob(filepath.Join(filepath.Dir(m), "*", "data.txt"))
				files2, _ := filepath.Glob(filepath.Join(filepath.Dir(m), "data.txt"))
				if files = append(files, files2...); len(files) == 0 {
					return out, fmt.Errorf("no data.txt in the sealed entry %s", filepath.Dir(m))
				}
				target = files[0]
			}
			in, err := flipByte(env, target)
			if err != nil {
				return out, err
			}
			corrupt[in] = true
			env.Logf("flipped a byte of %s", target)
		}
		f, err := os.OpenFile(c.Queue, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return out, err
		}
		_, err = f.WriteString(cacheQueue("b", n))
		f.Close()
		if err != nil {
			return out, err
		}
		c.Bootstrap = true
		if err := c.StartN(3, 3); err != nil {
			return out, err
		}
		err = finish(ctx, c, 2*n, 120*time.Second, &out)
		res, rerr := records(c.ResultsPath())
		if rerr != nil {
			return out, rerr
		}
		hits, misses := 0, 0
		for i := range n {
			id, in := fmt.Sprintf("b%04d", i), fmt.Sprintf("in%04d", i)
			r := res[id]
			if want := fmt.Sprintf(`{"v":"%s"}`, in); strings.ReplaceAll(string(r.Value), " ", "") != want {
				out.Report.violate("task %s (cache %s) has the value %s, want %s", id, r.Cache, r.Value, want)
			}
			switch {
			case corrupt[in] && r.Cache == "hit":
				out.Report.violate("task %s reused a corrupt cache entry", id)
			case r.Cache == "hit":
				hits++
			default:
				misses++
			}
		}
		intact := n - len(corrupt)
		if hits*100 < intact*95 {
			out.Report.violate("%d cache hits of %d intact entries, want at least 95%%", hits, intact)
		}
		out.Note = fmt.Sprintf("%d corrupt entries recomputed, %d of %d intact ones hit", misses, hits, intact)
		return out, err
	}}

// sealedManifests lists the manifests of the sealed entries under a
// scratch cache root, sorted, however the entries are sharded.
func sealedManifests(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == "quarantine" && d.IsDir() {
			return filepath.SkipDir
		}
		if d.Name() == "manifest.json" && strings.HasSuffix(filepath.Base(filepath.Dir(path)), "sealed") {
			out = append(out, path)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// flipByte flips one byte of a sealed file at a random offset and returns
// the task input its entry holds (read from the entry's data.txt).
func flipByte(env *Env, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return "", fmt.Errorf("corrupt %s: %v (%d bytes)", path, err, len(b))
	}
	entry := filepath.Dir(path)
	for !strings.HasSuffix(filepath.Base(entry), "sealed") {
		entry = filepath.Dir(entry)
	}
	data, _ := filepath.Glob(filepath.Join(entry, "*", "data.txt"))
	data2, _ := filepath.Glob(filepath.Join(entry, "data.txt"))
	data = append(data, data2...)
	if len(data) == 0 {
		return "", fmt.Errorf("no data.txt in %s", entry)
	}
	in, err := os.ReadFile(data[0])
	if err != nil {
		return "", err
	}
	i := env.Rand.IntN(len(b))
	b[i] ^= 0x20
	if filepath.Base(path) == "manifest.json" {
		// A flip in the manifest's JSON syntax may change nothing it says
		// (Go reads keys case-insensitively: "cheCksum" is "checksum"):
		// change a digit of its recorded checksum instead, which always
		// changes what it says.
		b[i] ^= 0x20
		at := strings.Index(string(b), `"checksum":"`)
		if at < 0 {
			return "", fmt.Errorf("no checksum in %s", path)
		}
		i = at + len(`"checksum":"`) + env.Rand.IntN(64)
		b[i] = map[bool]byte{true: '1', false: '0'}[b[i] == '0']
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return "", err
	}
	return strings.TrimSpace(string(in)), os.WriteFile(path, b, 0o600)
}
