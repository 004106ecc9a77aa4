package upstream

import (
	"bytes"
	"encoding/json"
	"hash/crc32"
	"testing"
)

// FuzzScanLines checks the line reader on any bytes: the lines it passes
// are exactly the complete lines of the input, in order and contiguous;
// an unfinished last line is left; long lines come without their data.
func FuzzScanLines(f *testing.F) {
	f.Add([]byte("{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c"), 0, 8)
	f.Add([]byte("\n\n\r\nx"), 1, 1)
	f.Add(bytes.Repeat([]byte("y"), 70000), 0, 100)
	f.Add(append(bytes.Repeat([]byte("z"), 70000), '\n', 'a', '\n'), 3, 1<<20)
	f.Fuzz(func(t *testing.T, data []byte, from, maxLine int) {
		if maxLine < 0 {
			maxLine = -maxLine
		}
		maxLine = 1 + maxLine%(1<<17)
		// from must be a line start: take the one at or before from.
		if from < 0 || from > len(data) {
			from = 0
		}
		from = bytes.LastIndexByte(data[:from], '\n') + 1
		pos, no := int64(from), 7
		end, endNo, err := scanLines(bytes.NewReader(data), int64(from), 7, int64(len(data)), maxLine, func(l rawLine) bool {
			if l.Off != pos || l.No != no+1 {
				t.Fatalf("line at %d numbered %d, want %d numbered %d", l.Off, l.No, pos, no+1)
			}
			body := data[l.Off : l.Off+int64(l.N)]
			if data[l.Off+int64(l.N)] != '\n' || bytes.IndexByte(body, '\n') >= 0 {
				t.Fatalf("line at %d of %d bytes is not one line", l.Off, l.N)
			}
			if l.CRC != crc32.ChecksumIEEE(body) {
				t.Fatalf("line at %d: wrong checksum", l.Off)
			}
			if (l.Data == nil) != (l.N > maxLine) || (l.Data != nil && !bytes.Equal(l.Data, body)) {
				t.Fatalf("line at %d of %d bytes (limit %d): data %q", l.Off, l.N, maxLine, l.Data)
			}
			pos, no = l.Off+int64(l.N)+1, no+1
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		want := int64(bytes.LastIndexByte(data, '\n') + 1)
		if want < int64(from) {
			want = int64(from)
		}
		if end != want || end != pos || endNo != no {
			t.Fatalf("scan ended at %d (line %d), want %d", end, endNo, want)
		}
	})
}

// FuzzResultHead checks the quick reading of a result line against JSON:
// whatever it answers, the JSON decoder answers too.
func FuzzResultHead(f *testing.F) {
	f.Add([]byte(`{"id":"t-1","state":"done","attempts":1,"exit_code":0,"runtime_s":0,"core_s":0}`))
	f.Add([]byte(`{"id":"line:7","state":"failed","error":"x"}`))
	f.Add([]byte(`{"state":"done","id":"a"}`))
	f.Add([]byte(`{"id":"a\"b","state":"done"}`))
	f.Add([]byte("{\"id\":\"0\",\"state\":\"\x9f\"}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, state, ok := resultHead(b)
		if !ok || !json.Valid(b) {
			return
		}
		var head struct{ ID, State string }
		json.Unmarshal(b, &head)
		if bytes.HasPrefix(b, []byte(`{"id":"`)) && !bytes.Contains(b[7:], []byte(`"id"`)) && !bytes.Contains(b, []byte(`"state":`+`"`+state+`"`+`,"state"`)) {
			if head.ID != id || (head.State != state && bytes.Count(b, []byte(`"state"`)) == 1) {
				t.Fatalf("%q: quick %q %q, JSON %q %q", b, id, state, head.ID, head.State)
			}
		}
	})
}
