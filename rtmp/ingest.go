package rtmp

import "time"

// awaitTick makes a publishing connection that has handled everything its
// socket held wait until just before the next ingest tick
// (Config.IngestTick) instead of in a read: what its encoder sends
// meanwhile (a tick's audio and video) is then taken by one read, with
// one wake-up of this goroutine, where each message cost a wake-up by the
// network poller and two reads (one finding nothing, one after the wake).
// The ticks are on the merge clock's grid and the wait ends an eighth of a
// tick before the clock's own, so what is read then is queued to players
// before the clock writes them: a player on the clock gets it at the
// tick it would have had it anyway. Reader goroutine.
func (c *conn) awaitTick() {
	tick := c.cfg.IngestTick
	if tick <= 0 || !c.keepRead || !c.r.Drained() {
		return
	}
	clk := c.srv.clock
	now := clk.now()
	next := now - now%tick + tick - tick/8
	if next <= now {
		next += tick
	}
	time.Sleep(next - now)
}
