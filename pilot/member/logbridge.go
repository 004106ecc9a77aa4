package member

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
)

// logBridge turns memberlist's "[LEVEL] memberlist: text" lines into slog
// records at the matching level.
type logBridge struct{ l *slog.Logger }

func (b logBridge) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(bytes.TrimRight(p, "\n")))
	level := slog.LevelInfo
	for prefix, l := range map[string]slog.Level{"[DEBUG]": slog.LevelDebug, "[INFO]": slog.LevelInfo, "[WARN]": slog.LevelWarn, "[ERR]": slog.LevelError} {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			level, line = l, strings.TrimSpace(rest)
			break
		}
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	b.l.Log(context.Background(), level, line, "component", "memberlist")
	return len(p), nil
}
