package ssas

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// HTTP requests made for scripts go through a client whose dialer applies
// the destination rule (docs/ssas.md#other-guards) to every connection it opens: the
// first request and every redirect hop. The name is resolved once, by the
// check, and the connection goes to an address that passed it, so a DNS
// answer that changes between check and connect cannot lead elsewhere.

// maxRedirects bounds the redirect hops of one script request.
const maxRedirects = 5

// errDestination reports a destination the rule refuses.
var errDestination = errors.New("destination not allowed")

// destinationAddrs resolves host and returns the addresses a script may
// connect to: a host named in allow may be anything; otherwise every
// address it resolves to must be public or inside an allow entry (an
// address or a CIDR range), since one private answer among public ones is
// how a rebinding attack starts.
func destinationAddrs(ctx context.Context, host string, allow []string) ([]netip.Addr, error) {
	named := false
	for _, a := range allow {
		if strings.EqualFold(a, host) {
			named = true
		}
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%s: no address", host)
	}
	for i, addr := range addrs {
		addr = addr.Unmap()
		addrs[i] = addr
		if named || publicAddr(addr) || allowedAddr(addr, allow) {
			continue
		}
		return nil, fmt.Errorf("%w: %s (%s)", errDestination, host, addr)
	}
	return addrs, nil
}

func publicAddr(a netip.Addr) bool {
	return !a.IsLoopback() && !a.IsPrivate() && !a.IsLinkLocalUnicast() && !a.IsLinkLocalMulticast() &&
		!a.IsUnspecified() && !a.IsMulticast()
}

func allowedAddr(a netip.Addr, allow []string) bool {
	for _, s := range allow {
		if p, err := netip.ParsePrefix(s); err == nil && p.Contains(a) {
			return true
		}
		if x, err := netip.ParseAddr(s); err == nil && x.Unmap() == a {
			return true
		}
	}
	return false
}

// newGuardedClient returns the HTTP client of one runtime's script
// requests. Proxies from the environment are not used: the proxy would be
// the checked destination instead of the real one.
func newGuardedClient(allow []string) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			addrs, err := destinationAddrs(ctx, host, allow)
			if err != nil {
				return nil, err
			}
			var errs []error
			for _, a := range addrs {
				c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
				if err == nil {
					return c, nil
				}
				errs = append(errs, err)
			}
			return nil, errors.Join(errs...)
		},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("more than %d redirects", maxRedirects)
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to %s: not http", req.URL.Scheme)
			}
			return nil
		},
	}
}

// httpClient returns the runtime's guarded client, made on first use. Any
// goroutine.
func (r *Runtime) httpClient() *http.Client {
	r.clientOnce.Do(func() { r.client = newGuardedClient(r.cfg.AllowHosts) })
	return r.client
}

// closeHTTP lets go of the runtime's idle connections (at cleanup, once no
// request runs).
func (r *Runtime) closeHTTP() {
	r.httpClient().CloseIdleConnections()
}
