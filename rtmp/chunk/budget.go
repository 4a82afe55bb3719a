package chunk

import "sync/atomic"

// Budget bounds the bytes that a group of Readers (a server's connections)
// hold for messages still arriving. Limits.MaxPendingBytes bounds one
// connection by what its peer declares; a Budget bounds them all by what is
// really allocated, so many connections that each start a large message
// cannot together hold more than the server can afford. Safe for
// concurrent use.
type Budget struct {
	limit int64
	used  atomic.Int64
}

// NewBudget returns a Budget of limit bytes; limit ≤ 0 means unlimited.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Used returns the bytes held now.
func (b *Budget) Used() int64 { return b.used.Load() }

// Limit returns the budget's size (≤ 0: unlimited).
func (b *Budget) Limit() int64 { return b.limit }

// take reserves n bytes; it fails, reserving nothing, when that would go
// over the limit.
func (b *Budget) take(n int) bool {
	if b.used.Add(int64(n)) > b.limit && b.limit > 0 {
		b.used.Add(-int64(n))
		return false
	}
	return true
}

func (b *Budget) give(n int) { b.used.Add(-int64(n)) }
