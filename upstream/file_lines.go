package upstream

import (
	"bufio"
	"errors"
	"hash/crc32"
	"io"
)

// rawLine is one complete line of a JSONL file, as the line scanner found it.
type rawLine struct {
	Off int64  // offset of its first byte
	N   int    // its length without the newline
	No  int    // its 1-based line number
	CRC uint32 // CRC-32 (IEEE) of its bytes without the newline
	// Data is the line without its newline, valid only during the callback;
	// nil when the line is longer than the scanner's limit.
	Data []byte
}

// scanLines calls fn for every complete line (one that ends in '\n') of r
// between from and to; from must be the start of a line and fromNo the
// number of lines before it. A last line without its newline is not
// complete and is left for a later scan: a writer may still be appending
// it. Lines longer than maxLine are passed with Data nil, and never cost
// more than maxLine bytes of memory. When fn returns false the scan stops
// after that line. It returns the offset after the last line passed to fn
// and the number of lines up to there.
func scanLines(r io.ReaderAt, from int64, fromNo int, to int64, maxLine int, fn func(rawLine) bool) (end int64, endNo int, err error) {
	end, endNo = from, fromNo
	if to <= from {
		return end, endNo, nil
	}
	br := bufio.NewReaderSize(io.NewSectionReader(r, from, to-from), 64<<10)
	var (
		acc     []byte // a line longer than the buffer, gathered
		accN    int    // bytes of the current line seen so far
		tooLong bool
		crc     uint32
	)
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			body := chunk[:len(chunk)-1]
			n := accN + len(body)
			crc = crc32.Update(crc, crc32.IEEETable, body)
			l := rawLine{Off: end, N: n, No: endNo + 1, CRC: crc}
			switch {
			case tooLong || n > maxLine:
			case acc != nil:
				l.Data = append(acc, body...)
			default:
				l.Data = body
			}
			end += int64(n) + 1
			endNo++
			acc, accN, tooLong, crc = nil, 0, false, 0
			if !fn(l) {
				return end, endNo, nil
			}
		case errors.Is(err, bufio.ErrBufferFull):
			crc = crc32.Update(crc, crc32.IEEETable, chunk)
			accN += len(chunk)
			if accN > maxLine {
				tooLong, acc = true, nil
			} else if !tooLong {
				acc = append(acc, chunk...)
			}
		case errors.Is(err, io.EOF):
			return end, endNo, nil
		default:
			return end, endNo, err
		}
	}
}
