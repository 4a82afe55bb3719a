// Package iplimit bounds what one client address may hold and how fast it
// may come: concurrent slots per address and a token bucket of admissions
// per address. The listeners use it for sockets, the tunnel for RTMPT
// sessions, so that one address cannot take the whole server's connection
// or session limit for itself.
//
// An IPv6 client is keyed by its /64: a host usually gets a whole /64
// and could otherwise use a fresh address for every connection.
package iplimit

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// Config bounds each client address. A zero field means no bound.
type Config struct {
	// MaxPerIP is the most slots one address holds at once.
	MaxPerIP int
	// Rate is the sustained admissions per second per address, Burst the
	// admissions above it an address may make at once.
	Rate  float64
	Burst int
	// ExemptLoopback admits loopback addresses without counting them.
	ExemptLoopback bool
}

// Reason says why Admit refused.
type Reason string

// Reasons of a refusal, as logged.
const (
	ReasonPerIP Reason = "per_ip"
	ReasonRate  Reason = "rate"
)

// sweepEvery is how often entries of addresses that hold nothing and
// whose bucket has refilled are forgotten, so the table holds only the
// addresses that are connected or came recently.
const sweepEvery = 10 * time.Second

// Limiter applies a Config. Safe for concurrent use.
type Limiter struct {
	cfg Config

	mu        sync.Mutex
	ips       map[netip.Addr]*entry
	lastSweep time.Time
}

type entry struct {
	n      int       // slots held
	tokens float64   // admissions left (rate limit)
	at     time.Time // when tokens was last brought up to date
}

// New returns a Limiter of cfg.
func New(cfg Config) *Limiter {
	return &Limiter{cfg: cfg, ips: map[netip.Addr]*entry{}}
}

// Key returns the address a client is counted under: IPv4 as is, IPv6 by
// its /64, an IPv4-mapped IPv6 address as the IPv4 one. The zero Addr
// (an address that is not IP, such as a pipe's) is not limited.
func Key(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// AddrOf returns the IP of a net.Addr (TCP, UDP, or "ip:port" text), or
// the zero Addr. An IPv4-mapped address comes back as IPv4 (a dual-stack
// listener reports IPv4 clients so), so IsLoopback sees 127.0.0.1.
func AddrOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case nil:
		return netip.Addr{}
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

func (l *Limiter) exempt(a netip.Addr) bool {
	return !a.IsValid() || (l.cfg.ExemptLoopback && a.Unmap().IsLoopback())
}

// Admit takes a slot for address a, or reports why not. Every admitted
// call must be matched by one Release(a) when the slot ends.
func (l *Limiter) Admit(a netip.Addr) (Reason, bool) {
	if l.exempt(a) {
		return "", true
	}
	k := Key(a)
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= sweepEvery {
		l.sweepLocked(now)
	}
	e := l.ips[k]
	if e == nil {
		e = &entry{tokens: float64(l.cfg.Burst), at: now}
		l.ips[k] = e
	}
	if l.cfg.MaxPerIP > 0 && e.n >= l.cfg.MaxPerIP {
		return ReasonPerIP, false
	}
	if l.cfg.Rate > 0 {
		e.tokens = min(float64(l.cfg.Burst), e.tokens+now.Sub(e.at).Seconds()*l.cfg.Rate)
		e.at = now
		if e.tokens < 1 {
			return ReasonRate, false
		}
		e.tokens--
	}
	e.n++
	return "", true
}

// Release gives back a slot Admit took for a.
func (l *Limiter) Release(a netip.Addr) {
	if l.exempt(a) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.ips[Key(a)]; e != nil && e.n > 0 {
		e.n--
	}
}

// Held returns the slots a holds now.
func (l *Limiter) Held(a netip.Addr) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.ips[Key(a)]; e != nil {
		return e.n
	}
	return 0
}

// Len returns the number of addresses the Limiter remembers.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ips)
}

func (l *Limiter) sweepLocked(now time.Time) {
	l.lastSweep = now
	for k, e := range l.ips {
		full := l.cfg.Rate <= 0 || e.tokens+now.Sub(e.at).Seconds()*l.cfg.Rate >= float64(l.cfg.Burst)
		if e.n == 0 && full {
			delete(l.ips, k)
		}
	}
}
