package batch

import (
	"bufio"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// envFile reads a captured `env | sort` of a job into a getenv.
func envFile(t *testing.T, path string) func(string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return func(k string) string { return env[k] }
}

func TestFromEnvCaptured(t *testing.T) {
	// Captured from `sbatch -N 3 -c 2 --mem=1000 --time=5` on the test
	// cluster (Slurm 22.05.8): the batch shell, and the step on node 2.
	for _, c := range []struct{ file, node string }{
		{"testdata/env-22.05.8-batch.txt", "node1"},
		{"testdata/env-22.05.8-step.txt", "node2"},
	} {
		j, err := FromEnv(envFile(t, c.file))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		want := Job{ID: "1", Name: "envjob.sh", Cluster: "testcluster", Partition: "debug", SubmitDir: "/tmp/h6cap",
			Nodes: []string{"node1", "node2", "node3"}, Node: c.node, CPUsOnNode: 2, CPUsPerNode: []int{2, 2, 2},
			MemPerNodeMB: 1000}
		if !reflect.DeepEqual(j, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.file, j, want)
		}
		if j.MemOnNodeMB() != 1000 {
			t.Errorf("MemOnNodeMB = %d", j.MemOnNodeMB())
		}
	}
}

func TestFromEnvNewerSlurm(t *testing.T) {
	// Hand-written after Slurm 23.11: SLURM_JOB_END_TIME exists, memory per
	// CPU, a requeued run, a mixed node list.
	env := map[string]string{
		"SLURM_JOB_ID": "1048570", "SLURM_JOB_NODELIST": "nid[0001-0003,0010],gpu-[1-2]",
		"SLURM_CPUS_ON_NODE": "128", "SLURM_JOB_CPUS_PER_NODE": "128(x4),64(x2)",
		"SLURM_MEM_PER_CPU": "2G", "SLURM_RESTART_COUNT": "2", "SLURM_JOB_END_TIME": "1796000000",
	}
	j, err := FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Nodes) != 6 || j.Nodes[3] != "nid0010" || j.Restarts != 2 || len(j.CPUsPerNode) != 6 ||
		j.MemOnNodeMB() != 128*2048 || !j.End.Equal(time.Unix(1796000000, 0)) {
		t.Fatalf("got %+v", j)
	}
}

func TestFromEnvErrors(t *testing.T) {
	if _, err := FromEnv(func(string) string { return "" }); !errors.Is(err, ErrNotInJob) {
		t.Fatalf("no job: err = %v", err)
	}
	for key, val := range map[string]string{
		"SLURM_JOB_NODELIST": "n[1-", "SLURM_CPUS_ON_NODE": "many", "SLURM_RESTART_COUNT": "-1",
		"SLURM_JOB_CPUS_PER_NODE": "2(x", "SLURM_MEM_PER_NODE": "4K", "SLURM_JOB_END_TIME": "soon",
	} {
		env := map[string]string{"SLURM_JOB_ID": "7", key: val}
		_, err := FromEnv(func(k string) string { return env[k] })
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%q: err = %v, want one naming the variable", key, val, err)
		}
	}
}

func TestParseMemMB(t *testing.T) {
	for in, want := range map[string]int64{"1000": 1000, "1000M": 1000, "4G": 4096, "1T": 1 << 20} {
		if got, err := ParseMemMB(in); err != nil || got != want {
			t.Errorf("ParseMemMB(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "G", "-1", "1.5G", "99999999999999T"} {
		if _, err := ParseMemMB(bad); err == nil {
			t.Errorf("ParseMemMB(%q) accepted", bad)
		}
	}
}
