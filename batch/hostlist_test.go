package batch

import (
	"reflect"
	"strings"
	"testing"
)

func TestExpandHostlist(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  string
	}{
		{"", nil, ""},
		{"node1", []string{"node1"}, ""},
		{"node[1-3]", []string{"node1", "node2", "node3"}, ""},
		{"nid[0001-0003,0010],gpu-[1-2]", []string{"nid0001", "nid0002", "nid0003", "nid0010", "gpu-1", "gpu-2"}, ""},
		{"nid[000001-000002,000040]", []string{"nid000001", "nid000002", "nid000040"}, ""},
		{"r[1-2]n[01-02]", []string{"r1n01", "r1n02", "r2n01", "r2n02"}, ""},
		{"a,b[9-10],c", []string{"a", "b9", "b10", "c"}, ""},
		{"x[8-11]-ib", []string{"x8-ib", "x9-ib", "x10-ib", "x11-ib"}, ""},
		{"node[1-3", nil, "without ']'"},
		{"node1]", nil, "stray"},
		{"node[]", nil, "empty brackets"},
		{"node[3-1]", nil, "high end"},
		{"node[a-b]", nil, "decimal digits"},
		{"node[0-99999999999]", nil, "more than"},
		{"n[0-999]m[0-9999]", nil, "more than"},
	}
	for _, c := range cases {
		got, err := ExpandHostlist(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ExpandHostlist(%q) error = %v, want one containing %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ExpandHostlist(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestParseCountList(t *testing.T) {
	got, err := ParseCountList("2(x3),4,72(x2)")
	if want := []int{2, 2, 2, 4, 72, 72}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"", "x", "2(x0)", "2(x", "-1", "1(x99999999999)"} {
		if _, err := ParseCountList(bad); err == nil {
			t.Errorf("ParseCountList(%q) accepted", bad)
		}
	}
}

func FuzzExpandHostlist(f *testing.F) {
	for _, s := range []string{"nid[0001-0003,0010],gpu-[1-2]", "r[1-2]n[01-02]", "a,b", "x[", "[1-2]", "n[0-99999]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hosts, err := ExpandHostlist(s)
		if err != nil {
			return
		}
		if len(hosts) > MaxHosts {
			t.Fatalf("%d hosts, over the limit", len(hosts))
		}
		for _, h := range hosts {
			if h == "" || strings.ContainsAny(h, "[],") {
				t.Fatalf("ExpandHostlist(%q) gave host %q", s, h)
			}
		}
		if !strings.ContainsAny(s, "[]") && len(hosts) != len(strings.FieldsFunc(s, func(r rune) bool { return r == ',' })) {
			// Without brackets a list is its comma-separated names.
			if strings.TrimSpace(s) == s {
				t.Fatalf("ExpandHostlist(%q) = %q", s, hosts)
			}
		}
	})
}

func FuzzParseCountList(f *testing.F) {
	f.Add("2(x3),4")
	f.Fuzz(func(t *testing.T, s string) {
		counts, err := ParseCountList(s)
		if err == nil && (len(counts) == 0 || len(counts) > MaxHosts) {
			t.Fatalf("ParseCountList(%q) gave %d counts", s, len(counts))
		}
	})
}
