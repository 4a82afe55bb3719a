//go:build e2e

package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// adminToken is the admin token of every server startServer runs.
const adminToken = "e2e-admin-token"

// adminGet sends an authorized GET to the server's admin listener and
// returns the status and body.
func (s *server) adminGet(t testing.TB, path string) (int, []byte) {
	t.Helper()
	return s.adminDo(t, http.MethodGet, path)
}

func (s *server) adminDo(t testing.TB, method, path string) (int, []byte) {
	t.Helper()
	if s.adminAddr == "" {
		t.Fatal("the server has no admin listener")
	}
	req, err := http.NewRequest(method, "http://"+s.adminAddr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// adminJSON decodes the answer of an authorized GET into v; anything but
// 200 fails the test.
func (s *server) adminJSON(t testing.TB, path string, v any) {
	t.Helper()
	code, b := s.adminGet(t, path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}
