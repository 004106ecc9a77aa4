package ledger

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// TestBtreeAgainstMap: random inserts and deletes, in txns of random size,
// match a map; every published version stays as it was.
func TestBtreeAgainstMap(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var tree *btree[int, int]
		model := map[int]int{}
		type version struct {
			tree  *btree[int, int]
			model map[int]int
		}
		var versions []version
		// Small key ranges churn leaves; big ones split branches too.
		span := rapid.SampledFrom([]int{400, 20000}).Draw(t, "span")
		keys := rapid.IntRange(0, span)
		for txns := rapid.IntRange(1, 30).Draw(t, "txns"); txns > 0; txns-- {
			x := tree.txn()
			for ops := rapid.IntRange(1, span/4).Draw(t, "ops"); ops > 0; ops-- {
				k := keys.Draw(t, "key")
				if rapid.IntRange(0, 2).Draw(t, "op") == 0 {
					_, had := model[k]
					if x.Delete(k) != had {
						t.Fatalf("delete %d: presence disagrees with the model", k)
					}
					delete(model, k)
				} else {
					x.Insert(k, k*10+txns)
					model[k] = k*10 + txns
				}
				if v, ok := x.Get(k); ok != hasKey(model, k) || (ok && v != model[k]) {
					t.Fatalf("get %d inside the txn: %d %v", k, v, ok)
				}
			}
			tree = x.commit()
			versions = append(versions, version{tree, clone(model)})
		}
		for vi, v := range versions {
			checkTree(t, vi, v.tree, v.model)
		}
	})
}

func hasKey(m map[int]int, k int) bool { _, ok := m[k]; return ok }

func clone(m map[int]int) map[int]int {
	c := make(map[int]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func checkTree(t *rapid.T, vi int, tree *btree[int, int], model map[int]int) {
	want := make([]int, 0, len(model))
	for k := range model {
		want = append(want, k)
	}
	slices.Sort(want)
	var got []int
	tree.Walk(func(k, v int) bool {
		if v != model[k] {
			t.Fatalf("version %d: key %d holds %d, want %d", vi, k, v, model[k])
		}
		got = append(got, k)
		return false
	})
	if !slices.Equal(got, want) || tree.Len() != len(want) {
		t.Fatalf("version %d: keys %v (len %d), want %v", vi, got, tree.Len(), want)
	}
	for _, from := range []int{0, 1, 57, 200, 399, 401, 7777, 20001} {
		var asc []int
		tree.Ascend(from, func(k, _ int) bool { asc = append(asc, k); return len(asc) == 5 })
		i, _ := slices.BinarySearch(want, from)
		exp := want[i:min(i+5, len(want))]
		if !slices.Equal(asc, exp) {
			t.Fatalf("version %d: ascend from %d gives %v, want %v", vi, from, asc, exp)
		}
	}
}
