package chaos

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// leadingRe picks the term out of an agent's "leading the cluster" line.
var leadingRe = regexp.MustCompile(`msg="leading the cluster".*\bterm=(\d+)\b`)

// checkLeaders checks INV-4: no two agents of one Raft cluster claim
// leadership of one term. Every agent logs "leading the cluster term=N"
// when it starts to lead; a Raft term has at most one leader, so one term
// claimed in the logs of two agents of a cluster is a split brain. groups
// holds the logs of each Raft cluster (a new cluster counts its terms
// from the start). A claim with no term cannot be checked and is a
// violation too (the agent's log line changed).
func checkLeaders(rep *Report, groups [][]string) error {
	for _, logs := range groups {
		if err := checkLeadersOf(rep, logs); err != nil {
			return err
		}
	}
	return nil
}

func checkLeadersOf(rep *Report, logs []string) error {
	claims := map[uint64][]string{} // term -> where it was claimed
	for _, path := range logs {
		seen := map[uint64]bool{} // an agent may log one term once only
		err := eachLine(path, func(no int, line []byte) error {
			if !strings.Contains(string(line), `msg="leading the cluster"`) {
				return nil
			}
			m := leadingRe.FindSubmatch(line)
			if m == nil {
				rep.violate("INV-4 one leader per term: %s:%d claims leadership with no term; cannot check it", path, no)
				return nil
			}
			term, err := strconv.ParseUint(string(m[1]), 10, 64)
			if err != nil {
				rep.violate("INV-4 one leader per term: %s:%d: term %q: %v", path, no, m[1], err)
				return nil
			}
			if !seen[term] {
				seen[term] = true
				claims[term] = append(claims[term], path+":"+strconv.Itoa(no))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	terms := make([]uint64, 0, len(claims))
	for t := range claims {
		terms = append(terms, t)
	}
	sort.Slice(terms, func(i, j int) bool { return terms[i] < terms[j] })
	rep.Terms += len(terms)
	for _, t := range terms {
		if len(claims[t]) > 1 {
			rep.violate("INV-4 one leader per term: term %d is claimed by %d agents: %s", t, len(claims[t]), strings.Join(claims[t], ", "))
		}
	}
	return nil
}
