package iplimit

import (
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

func TestKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"},
		{"2001:db8:1:2::1", "2001:db8:1:2::"},
		{"2001:db8:1:3::1", "2001:db8:1:3::"},
	} {
		if got := Key(netip.MustParseAddr(tc.in)); got.String() != tc.want {
			t.Errorf("Key(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		a    net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 5}, "192.0.2.1"},
		{&net.UDPAddr{IP: net.ParseIP("::1"), Port: 5}, "::1"},
		{fakeAddr("[2001:db8::1]:443"), "2001:db8::1"},
		{fakeAddr("pipe"), "invalid IP"},
		{nil, "invalid IP"},
	} {
		if got := AddrOf(tc.a); got.String() != tc.want {
			t.Errorf("AddrOf(%v) = %s, want %s", tc.a, got, tc.want)
		}
	}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "x" }
func (a fakeAddr) String() string  { return string(a) }

// TestPerIP: an address holds at most MaxPerIP slots; a /64 is one
// address; releases free slots; a non-IP address and (when configured)
// loopback are not limited.
func TestPerIP(t *testing.T) {
	l := New(Config{MaxPerIP: 2})
	a := netip.MustParseAddr("2001:db8::1")
	b := netip.MustParseAddr("2001:db8::2") // same /64
	c := netip.MustParseAddr("2001:db8:0:1::1")
	if _, ok := l.Admit(a); !ok {
		t.Fatal("first")
	}
	if _, ok := l.Admit(b); !ok {
		t.Fatal("second")
	}
	if why, ok := l.Admit(a); ok || why != ReasonPerIP {
		t.Fatalf("third in one /64: %v %q", ok, why)
	}
	if _, ok := l.Admit(c); !ok {
		t.Fatal("another /64")
	}
	l.Release(b)
	if _, ok := l.Admit(a); !ok {
		t.Fatal("after a release")
	}
	for range 10 {
		if _, ok := l.Admit(netip.Addr{}); !ok {
			t.Fatal("non-IP address limited")
		}
	}
	lo := netip.MustParseAddr("127.0.0.1")
	if _, ok := l.Admit(lo); !ok {
		t.Fatal("loopback 1")
	}
	_, _ = l.Admit(lo)
	if _, ok := l.Admit(lo); ok {
		t.Fatal("loopback is limited unless exempt")
	}
	ex := New(Config{MaxPerIP: 1, ExemptLoopback: true})
	for range 5 {
		if _, ok := ex.Admit(lo); !ok {
			t.Fatal("exempt loopback limited")
		}
	}
	if ex.Held(lo) != 0 || ex.Len() != 0 {
		t.Fatal("exempt loopback counted")
	}
}

// TestRate: Burst admissions at once, then Rate per second; entries of
// addresses that hold nothing and have refilled are forgotten.
func TestRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(Config{Rate: 2, Burst: 4})
		a := netip.MustParseAddr("192.0.2.1")
		for i := range 4 {
			if _, ok := l.Admit(a); !ok {
				t.Fatalf("burst %d refused", i)
			}
			l.Release(a)
		}
		if why, ok := l.Admit(a); ok || why != ReasonRate {
			t.Fatalf("past the burst: %v %q", ok, why)
		}
		time.Sleep(500 * time.Millisecond) // one token at 2/s
		if _, ok := l.Admit(a); !ok {
			t.Fatal("after refill")
		}
		l.Release(a)
		if _, ok := l.Admit(a); ok {
			t.Fatal("only one token refilled")
		}
		time.Sleep(sweepEvery)
		_, _ = l.Admit(netip.MustParseAddr("192.0.2.2")) // sweeps
		if n := l.Len(); n != 1 {
			t.Fatalf("%d addresses remembered after the sweep, want 1", n)
		}
	})
}
