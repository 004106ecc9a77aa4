// Package jsonappend appends JSON values to a byte slice exactly as
// encoding/json encodes them, without its reflection: for the records the
// agent writes once per task (scratch cache lease records, attempt-log
// lines), where reflection was a visible share of a short task's cost.
// Each function is tested byte for byte against encoding/json.
package jsonappend
