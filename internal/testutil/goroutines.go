package testutil

import (
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
)

// Goroutines counts the goroutines with fn (a function's name as the
// runtime prints it, such as "rtmp.(*conn).readLoop") on their stack.
func Goroutines(tb testing.TB, fn string) int {
	tb.Helper()
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		tb.Fatal(err)
	}
	// debug=1 writes a "goroutine profile: total T" line, then groups
	// identical stacks, a record each, headed by "N @ 0x...": N
	// goroutines share the stack. The first record follows the total
	// line directly.
	_, out, _ := strings.Cut(b.String(), "\n")
	n := 0
	for rec := range strings.SplitSeq(out, "\n\n") {
		count, _, _ := strings.Cut(rec, " ")
		if k, err := strconv.Atoi(count); err == nil && strings.Contains(rec, fn) {
			n += k
		}
	}
	return n
}
