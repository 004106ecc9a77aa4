package site

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// vars are the values a template may name, for one task.
type vars struct {
	id, fn  string
	cores   int
	memMB   int64
	args    []string
	checkOn bool // checking a template at load time: any arg number is fine
}

// checkTemplate reports a malformed placeholder. argv says the template is
// an argv element, where {args} may stand alone.
func checkTemplate(s string, argv bool) error {
	if s == "{args}" {
		if !argv {
			return errors.New("{args} is a whole argv element; in env use {1}, {2}, ...")
		}
		return nil
	}
	_, err := expand(s, vars{checkOn: true})
	return err
}

// expand fills a template's placeholders.
func expand(s string, v vars) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '}' && i+1 < len(s) && s[i+1] == '}' {
			b.WriteByte('}')
			i++
			continue
		}
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '{' {
			b.WriteByte('{')
			i++
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", errors.New("'{' without '}' (write {{ for a literal brace)")
		}
		name := s[i+1 : i+end]
		i += end
		switch name {
		case "id":
			b.WriteString(v.id)
		case "fn":
			b.WriteString(v.fn)
		case "cores":
			b.WriteString(strconv.Itoa(v.cores))
		case "mem_mb":
			b.WriteString(strconv.FormatInt(v.memMB, 10))
		case "args":
			return "", errors.New("{args} must be a whole argv element")
		default:
			n, err := strconv.Atoi(name)
			if err != nil || n < 1 || name[0] == '0' {
				return "", fmt.Errorf("unknown placeholder {%s}: want {args}, {1}..{N}, {id}, {fn}, {cores} or {mem_mb}", name)
			}
			if v.checkOn {
				continue
			}
			if n > len(v.args) {
				return "", fmt.Errorf("{%d} names argument %d, the task has %d", n, n, len(v.args))
			}
			b.WriteString(v.args[n-1])
		}
	}
	return b.String(), nil
}
