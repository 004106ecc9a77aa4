package pilot

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestResolveResources(t *testing.T) {
	host := hostProbe{logical: 64, memMB: 256000, cpus: []int{0, 1, 2, 3}}
	cases := []struct {
		name     string
		env      map[string]string
		ov       ResourceOverrides
		cores    int
		mem      int64
		from     string
		wantErr  string
		wantCPUs []int
	}{
		{name: "host capped by affinity", cores: 4, mem: 256000, from: "host/host"},
		{name: "slurm", env: map[string]string{"SLURM_CPUS_ON_NODE": "8", "SLURM_MEM_PER_NODE": "64000"}, cores: 8, mem: 64000, from: "slurm/slurm"},
		{name: "slurm per cpu", env: map[string]string{"SLURM_CPUS_ON_NODE": "8", "SLURM_MEM_PER_CPU": "2G"}, cores: 8, mem: 16384, from: "slurm/slurm"},
		{name: "override wins", env: map[string]string{"SLURM_CPUS_ON_NODE": "8"}, ov: ResourceOverrides{Cores: 2, MemMB: 1000, CPUs: []int{3}}, cores: 2, mem: 1000, from: "override/override", wantCPUs: []int{3}},
		{name: "bad slurm cpus", env: map[string]string{"SLURM_CPUS_ON_NODE": "lots"}, wantErr: "SLURM_CPUS_ON_NODE"},
		{name: "bad slurm mem", env: map[string]string{"SLURM_MEM_PER_NODE": "0"}, wantErr: "SLURM_MEM_PER_NODE"},
		{name: "negative override", ov: ResourceOverrides{Cores: -1}, wantErr: "negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := resolveResources(host, func(k string) string { return c.env[k] }, c.ov)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Cores != c.cores || r.MemMB != c.mem || r.CoresFrom+"/"+r.MemFrom != c.from {
				t.Fatalf("got %+v", r)
			}
			want := c.wantCPUs
			if want == nil {
				want = host.cpus
			}
			if !slices.Equal(r.CPUs, want) {
				t.Fatalf("cpus %v, want %v", r.CPUs, want)
			}
		})
	}
}

func TestParseMemMB(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "2048K": 2, "3m": 3, "2G": 2048, "1T": 1 << 20} {
		if got, err := parseMemMB(in); err != nil || got != want {
			t.Errorf("%s: %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "G", "-5", "1.5G", "0"} {
		if _, err := parseMemMB(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDetectResourcesOnThisHost(t *testing.T) {
	t.Setenv("SLURM_CPUS_ON_NODE", "")
	t.Setenv("SLURM_MEM_PER_NODE", "")
	t.Setenv("SLURM_MEM_PER_CPU", "")
	r, err := DetectResources(context.Background(), ResourceOverrides{})
	if err != nil {
		t.Fatal(err)
	}
	cpus, err := AffinityCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if r.Cores < 1 || r.Cores > len(cpus) || r.MemMB < 64 || !slices.Equal(r.CPUs, cpus) {
		t.Fatalf("implausible: %+v (affinity %v)", r, cpus)
	}
}
