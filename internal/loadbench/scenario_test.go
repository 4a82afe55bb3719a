package loadbench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// The CPU sources read what the kernel and a Prometheus endpoint say.
func TestCPUSources(t *testing.T) {
	v, err := ProcCPU([]int{os.Getpid()})()
	if err != nil || v <= 0 {
		t.Errorf("ProcCPU(self) = %v, %v", v, err)
	}
	if _, err := ProcCPU([]int{1 << 30})(); err == nil {
		t.Error("ProcCPU of no such process succeeded")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "# HELP x\nprocess_cpu_seconds_total 12.5\ngo_goroutines 3\n")
	}))
	defer srv.Close()
	if v, err := MetricsCPU(srv.URL, "tok")(); err != nil || v != 12.5 {
		t.Errorf("MetricsCPU = %v, %v", v, err)
	}
	if _, err := MetricsCPU(srv.URL, "bad")(); err == nil {
		t.Error("MetricsCPU with a bad token succeeded")
	}
}
