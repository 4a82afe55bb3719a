package loadbench

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp (the bridge benchmark's HTTP port) keeps a process-wide
		// Date refresher, and its worker-pool cleaner notices Stop only
		// after its sleep of up to 10 s.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.Cleanup(func(int) {
			if binDir != "" {
				_ = os.RemoveAll(binDir)
			}
		}))
}
