//go:build !linux

package rtmp

// parker is the Linux parker's stand-in: elsewhere an idle connection
// keeps its reader goroutine (docs/architecture.md#idle-connections).
type parker struct{}

func newParker() *parker                  { return &parker{} }
func (*parker) park(*conn) bool           { return false }
func (*parker) unpark(*conn, uint64) bool { return false }
func (*parker) count() int                { return 0 }
func (*parker) close()                    {}
