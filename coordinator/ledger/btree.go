package ledger

import "cmp"

// btree is a persistent (copy-on-write) B+tree: the ledger's index
// structure. A published tree is never modified; a btxn builds the next
// version, cloning a node the first time it writes it and then writing its
// clone in place (nodes carry the txn that owns them), so a batch of many
// changes in one Apply copies each touched node once. Deletes do not
// rebalance: an emptied node is dropped, a half-empty one stays, which
// suits the ledger's FIFO-like churn and keeps the code small.
type btree[K cmp.Ordered, V any] struct {
	root *bnode[K, V]
	size int
}

// bnode is a leaf (vals set) or a branch (kids set). In a branch, kids[i]
// holds the keys k with keys[i-1] <= k < keys[i].
type bnode[K cmp.Ordered, V any] struct {
	owner *owner
	keys  []K
	vals  []V
	kids  []*bnode[K, V]
}

// owner identifies one txn; it has a size so that each is a distinct pointer.
type owner struct{ _ byte }

const bmax = 64 // entries of a leaf, children of a branch

// Len is the number of entries.
func (t *btree[K, V]) Len() int {
	if t == nil {
		return 0
	}
	return t.size
}

// Get looks a key up.
func (t *btree[K, V]) Get(k K) (V, bool) {
	var zero V
	if t == nil || t.root == nil {
		return zero, false
	}
	return t.root.get(k)
}

func (n *bnode[K, V]) get(k K) (V, bool) {
	for n.kids != nil {
		n = n.kids[n.child(k)]
	}
	i, found := n.search(k)
	if !found {
		var zero V
		return zero, false
	}
	return n.vals[i], true
}

// child is the index of the kid of a branch that may hold k.
func (n *bnode[K, V]) child(k K) int {
	lo, hi := 0, len(n.keys)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if k < n.keys[m] {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// search finds k's position in a leaf: where it is, or where it would go.
func (n *bnode[K, V]) search(k K) (int, bool) {
	lo, hi := 0, len(n.keys)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if n.keys[m] < k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(n.keys) && n.keys[lo] == k
}

// Ascend calls fn on the entries with key >= from, in order, until fn
// returns true.
func (t *btree[K, V]) Ascend(from K, fn func(K, V) bool) {
	if t != nil && t.root != nil {
		t.root.ascend(from, fn)
	}
}

// Walk calls fn on every entry in order until fn returns true.
func (t *btree[K, V]) Walk(fn func(K, V) bool) {
	if t != nil && t.root != nil {
		t.root.walk(fn)
	}
}

func (n *bnode[K, V]) ascend(from K, fn func(K, V) bool) bool {
	if n.kids != nil {
		for i := n.child(from); i < len(n.kids); i++ {
			if n.kids[i].ascend(from, fn) {
				return true
			}
		}
		return false
	}
	for i, _ := n.search(from); i < len(n.keys); i++ {
		if fn(n.keys[i], n.vals[i]) {
			return true
		}
	}
	return false
}

func (n *bnode[K, V]) walk(fn func(K, V) bool) bool {
	if n.kids != nil {
		for _, c := range n.kids {
			if c.walk(fn) {
				return true
			}
		}
		return false
	}
	for i, k := range n.keys {
		if fn(k, n.vals[i]) {
			return true
		}
	}
	return false
}

// btxn builds the next version of a tree.
type btxn[K cmp.Ordered, V any] struct {
	root *bnode[K, V]
	size int
	own  *owner
}

func (t *btree[K, V]) txn() *btxn[K, V] {
	x := &btxn[K, V]{own: new(owner)}
	if t != nil {
		x.root, x.size = t.root, t.size
	}
	return x
}

// commit publishes the version built so far; the txn must not be used
// after it.
func (x *btxn[K, V]) commit() *btree[K, V] {
	x.own = nil
	return &btree[K, V]{root: x.root, size: x.size}
}

// tree is a read-only look at the version being built, for reads inside
// the same Apply. It must not outlive the next write.
func (x *btxn[K, V]) tree() *btree[K, V] { return &btree[K, V]{root: x.root, size: x.size} }

// Get looks a key up in the version being built.
func (x *btxn[K, V]) Get(k K) (V, bool) {
	if x.root == nil {
		var zero V
		return zero, false
	}
	return x.root.get(k)
}

// writable returns n itself when this txn owns it, else a clone it owns.
func (x *btxn[K, V]) writable(n *bnode[K, V]) *bnode[K, V] {
	if n.owner == x.own {
		return n
	}
	c := &bnode[K, V]{owner: x.own}
	c.keys = append(make([]K, 0, len(n.keys)+1), n.keys...)
	if n.kids != nil {
		c.kids = append(make([]*bnode[K, V], 0, len(n.kids)+1), n.kids...)
	} else {
		c.vals = append(make([]V, 0, len(n.vals)+1), n.vals...)
	}
	return c
}

// Insert sets k to v.
func (x *btxn[K, V]) Insert(k K, v V) {
	if x.root == nil {
		x.root = &bnode[K, V]{owner: x.own, keys: []K{k}, vals: []V{v}}
		x.size = 1
		return
	}
	n, right, sep, added := x.insert(x.root, k, v)
	if right != nil {
		n = &bnode[K, V]{owner: x.own, keys: []K{sep}, kids: []*bnode[K, V]{n, right}}
	}
	x.root = n
	if added {
		x.size++
	}
}

func (x *btxn[K, V]) insert(n *bnode[K, V], k K, v V) (*bnode[K, V], *bnode[K, V], K, bool) {
	var zero K
	if n.kids == nil {
		i, found := n.search(k)
		n = x.writable(n)
		if found {
			n.vals[i] = v
			return n, nil, zero, false
		}
		n.keys = insertAt(n.keys, i, k)
		n.vals = insertAt(n.vals, i, v)
		if len(n.keys) <= bmax {
			return n, nil, zero, true
		}
		m := len(n.keys) / 2
		right := &bnode[K, V]{owner: x.own,
			keys: append(make([]K, 0, bmax+1), n.keys[m:]...),
			vals: append(make([]V, 0, bmax+1), n.vals[m:]...)}
		clear(n.vals[m:])
		n.keys, n.vals = n.keys[:m], n.vals[:m]
		return n, right, right.keys[0], true
	}
	i := n.child(k)
	c, right, sep, added := x.insert(n.kids[i], k, v)
	n = x.writable(n)
	n.kids[i] = c
	if right == nil {
		return n, nil, zero, added
	}
	n.kids = insertAt(n.kids, i+1, right)
	n.keys = insertAt(n.keys, i, sep)
	if len(n.kids) <= bmax {
		return n, nil, zero, added
	}
	m := len(n.kids) / 2
	up := n.keys[m-1]
	r := &bnode[K, V]{owner: x.own,
		keys: append(make([]K, 0, bmax+1), n.keys[m:]...),
		kids: append(make([]*bnode[K, V], 0, bmax+1), n.kids[m:]...)}
	clear(n.kids[m:])
	n.keys, n.kids = n.keys[:m-1], n.kids[:m]
	return n, r, up, added
}

// Delete removes k; it reports whether k was there.
func (x *btxn[K, V]) Delete(k K) bool {
	if x.root == nil {
		return false
	}
	n, removed := x.delete(x.root, k)
	if !removed {
		return false
	}
	for n != nil && n.kids != nil && len(n.kids) == 1 {
		n = n.kids[0]
	}
	x.root = n
	x.size--
	return true
}

// delete returns the node after removing k (nil when it became empty).
func (x *btxn[K, V]) delete(n *bnode[K, V], k K) (*bnode[K, V], bool) {
	if n.kids == nil {
		i, found := n.search(k)
		if !found {
			return n, false
		}
		if len(n.keys) == 1 {
			return nil, true
		}
		n = x.writable(n)
		n.keys = removeAt(n.keys, i)
		n.vals = removeAt(n.vals, i)
		return n, true
	}
	i := n.child(k)
	c, removed := x.delete(n.kids[i], k)
	if !removed {
		return n, false
	}
	if c == nil && len(n.kids) == 1 {
		return nil, true
	}
	n = x.writable(n)
	if c != nil {
		n.kids[i] = c
		return n, true
	}
	n.kids = removeAt(n.kids, i)
	if i > 0 {
		n.keys = removeAt(n.keys, i-1)
	} else {
		n.keys = removeAt(n.keys, 0)
	}
	return n, true
}

func insertAt[T any](s []T, i int, v T) []T {
	var zero T
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

func removeAt[T any](s []T, i int) []T {
	copy(s[i:], s[i+1:])
	var zero T
	s[len(s)-1] = zero
	return s[:len(s)-1]
}
