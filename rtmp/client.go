package rtmp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/handshake"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/status"
)

// ErrClientClosed is returned by calls on a closed Client.
var ErrClientClosed = errors.New("rtmp: client closed")

// ClientConfig configures a Client. A zero field means its default.
type ClientConfig struct {
	// Digest selects the digest handshake (as Flash Player 9+ and ffmpeg
	// do); false uses the simple one (as librtmp and OBS).
	Digest bool
	// ObjectEncoding is sent in connect: 0 (AMF0, default) or 3.
	ObjectEncoding int
	// FlashVer is sent as flashVer. Default "LNX 9,0,124,2".
	FlashVer string
	// ChunkSize is the client's outgoing chunk size. Default 4096.
	ChunkSize uint32
	// CapsEx, when not 0, is sent as connect's capsEx (E-RTMP
	// capabilities: 0x01 reconnect request, docs/rtmp.md#connect); a
	// server's ReconnectRequest then arrives on Calls as an onStatus.
	CapsEx int
	// Limits for what the client reads.
	Chunk chunk.Limits
	// Logger receives debug logs; nil discards.
	Logger *slog.Logger
	// Dial opens the byte stream for Dial; default TCP. The tunnel and
	// TLS transports plug in here.
	Dial func(ctx context.Context, u *url.URL) (net.Conn, error)
}

// Client is the client side of an RTMP session: NetConnection plus the
// NetStreams created on it. It is safe for concurrent use.
type Client struct {
	cfg ClientConfig
	nc  net.Conn
	log *slog.Logger

	wmu   sync.Mutex // guards w, enc and writes to nc
	w     *chunk.Writer
	wbuf  []byte
	enc   amf.Encoder
	r     *chunk.Reader
	dec   amf.Decoder
	ackWS uint32

	mu      sync.Mutex
	nextTxn float64
	pending map[float64]chan *message.Command
	streams map[uint32]*ClientStream
	sos     map[clientSOKey]*SharedObject // client_so.go
	err     error

	// Calls receives server-to-client calls (Client.call in SSAS) and
	// NetConnection onStatus messages. Buffered; extra ones are dropped.
	Calls chan *message.Command

	done chan struct{}
}

// Dial connects to rawURL (rtmp://host[:port]/app[/instance]), performs
// the handshake and the connect command. connectArgs are passed after the
// command object (they reach application.onConnect). A rejection returns a
// *status.Error carrying the server's code.
func Dial(ctx context.Context, rawURL string, cfg ClientConfig, connectArgs ...amf.Value) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("rtmp: url: %w", err)
	}
	dial := cfg.Dial
	if dial == nil {
		dial = dialTCP
	}
	nc, err := dial(ctx, u)
	if err != nil {
		return nil, err
	}
	c, err := NewClient(ctx, nc, cfg)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	app := strings.TrimPrefix(u.Path, "/")
	if u.RawQuery != "" {
		app += "?" + u.RawQuery
	}
	tc := *u
	tc.RawQuery = ""
	if _, err := c.Connect(ctx, app, tc.String(), connectArgs...); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func dialTCP(ctx context.Context, u *url.URL) (net.Conn, error) {
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "1935")
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", host)
}

// NewClient runs the handshake over nc and starts reading. Call Connect
// next.
func NewClient(ctx context.Context, nc net.Conn, cfg ClientConfig) (*Client, error) {
	if cfg.FlashVer == "" {
		cfg.FlashVer = "LNX 9,0,124,2"
	}
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = 4096
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	if _, err := handshake.Client(nc, handshake.ClientOptions{Digest: cfg.Digest}); err != nil {
		return nil, fmt.Errorf("rtmp: handshake: %w", err)
	}
	_ = nc.SetDeadline(time.Time{})
	c := &Client{
		cfg:     cfg,
		nc:      nc,
		log:     cfg.Logger,
		w:       chunk.NewWriter(),
		r:       chunk.NewReader(nc, cfg.Chunk),
		nextTxn: 1,
		pending: map[float64]chan *message.Command{},
		streams: map[uint32]*ClientStream{},
		Calls:   make(chan *message.Command, 64),
		done:    make(chan struct{}),
	}
	// Announce our chunk size first, as OBS does.
	if err := c.writeMsg(chunk.Header{CSID: message.CSIDControl, Type: message.TypeSetChunkSize}, message.AppendU32(nil, cfg.ChunkSize)); err != nil {
		return nil, err
	}
	c.wmu.Lock()
	c.w.SetChunkSize(cfg.ChunkSize)
	c.wmu.Unlock()
	go c.readLoop()
	return c, nil
}

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns what ended the connection.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection and waits for the reader to stop.
func (c *Client) Close() error {
	err := c.nc.Close()
	<-c.done
	return err
}

func (c *Client) writeMsg(h chunk.Header, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var err error
	if c.wbuf, err = c.w.AppendBytes(c.wbuf[:0], h, p); err != nil {
		return err
	}
	_, err = c.nc.Write(c.wbuf)
	return err
}

func (c *Client) writeCommand(csid, msid uint32, cmd *message.Command) error {
	c.wmu.Lock()
	p, err := cmd.Append(nil, &c.enc)
	c.enc.Reset()
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	return c.writeMsg(chunk.Header{CSID: csid, Type: message.TypeCommand, StreamID: msid}, p)
}

// call sends a command with a fresh transaction id and waits for its
// _result or _error.
func (c *Client) call(ctx context.Context, csid, msid uint32, name string, obj amf.Value, args ...amf.Value) (*message.Command, error) {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	txn := c.nextTxn
	c.nextTxn++
	ch := make(chan *message.Command, 1)
	c.pending[txn] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, txn)
		c.mu.Unlock()
	}()
	if err := c.writeCommand(csid, msid, &message.Command{Name: name, Txn: txn, Object: obj, Args: args}); err != nil {
		return nil, err
	}
	var r *message.Command
	select {
	case r = <-ch:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		// The reader may have delivered the answer just before it met the
		// end of the stream: a server closes right after the _error that
		// rejects a connect, and select picks among ready cases at random.
		select {
		case r = <-ch:
		default:
			return nil, c.Err()
		}
	}
	if r.Name == "_error" {
		return r, statusError(infoOf(r))
	}
	return r, nil
}

func statusError(info amf.Value) error {
	return &status.Error{Code: info.Get("code").Str(), Description: info.Get("description").Str()}
}

// infoOf returns the info object of a connect _result or of an _error
// (docs/rtmp.md#connect): the value after the command object's place. Servers
// disagree on what goes before it, so the first object that carries a
// code wins: FMS, Red5 and nginx-rtmp put the properties object in the
// command object's place and the info right after it, some servers send
// a null there, and older openfcs sent a null and then both objects.
func infoOf(r *message.Command) amf.Value {
	for _, v := range []amf.Value{r.Arg(0), r.Arg(1), r.Object} {
		if v.Get("code").Kind() == amf.KindString {
			return v
		}
	}
	return r.Arg(0)
}

// Connect sends the connect command. It returns the info object of the
// _result, or a *status.Error for an _error.
func (c *Client) Connect(ctx context.Context, app, tcURL string, args ...amf.Value) (amf.Value, error) {
	r, err := c.call(ctx, message.CSIDCommand, 0, "connect", c.connectObject(app, tcURL, true), args...)
	if err != nil {
		return amf.Undefined(), err
	}
	return infoOf(r), nil
}

// connectObject is the command object of connect (docs/rtmp.md#connect). A player
// announces the codecs it decodes (audioCodecs, videoCodecs,
// videoFunction, as Flash Player does); a server-side NetConnection
// (docs/ssas.md#netconnection-and-netstream, ConnectInfo) announces none, as FCS did.
func (c *Client) connectObject(app, tcURL string, player bool) amf.Value {
	audio, video, fn := 0.0, 0.0, 0.0
	if player {
		audio, video, fn = 4071, 252, 1
	}
	props := []amf.Prop{
		{Key: "app", Value: amf.String(app)},
		{Key: "flashVer", Value: amf.String(c.cfg.FlashVer)},
		{Key: "tcUrl", Value: amf.String(tcURL)},
		{Key: "fpad", Value: amf.Bool(false)},
		{Key: "capabilities", Value: amf.Number(15)},
		{Key: "audioCodecs", Value: amf.Number(audio)},
		{Key: "videoCodecs", Value: amf.Number(video)},
		{Key: "videoFunction", Value: amf.Number(fn)},
		{Key: "objectEncoding", Value: amf.Number(float64(c.cfg.ObjectEncoding))},
	}
	if c.cfg.CapsEx != 0 {
		props = append(props, amf.Prop{Key: "capsEx", Value: amf.Number(float64(c.cfg.CapsEx))})
	}
	return amf.Object(props...)
}

// Call invokes a server method (NetConnection.call) and returns the values
// of its _result.
func (c *Client) Call(ctx context.Context, name string, args ...amf.Value) ([]amf.Value, error) {
	r, err := c.call(ctx, message.CSIDCommand, 0, name, amf.Null(), args...)
	if err != nil {
		return nil, err
	}
	return r.Args, nil
}

// CreateStream creates a NetStream.
func (c *Client) CreateStream(ctx context.Context) (*ClientStream, error) {
	r, err := c.call(ctx, message.CSIDCommand, 0, "createStream", amf.Null())
	if err != nil {
		return nil, err
	}
	id := r.Arg(0)
	if id.Kind() != amf.KindNumber {
		return nil, errors.New("rtmp: createStream result is not a number")
	}
	s := &ClientStream{c: c, ID: uint32(id.Num()), Status: make(chan amf.Value, 64)}
	c.mu.Lock()
	c.streams[s.ID] = s
	c.mu.Unlock()
	return s, nil
}

func (c *Client) readLoop() {
	defer close(c.done)
	var args []amf.Value
	var lastAck uint64
	for {
		h, p, err := c.r.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			_ = c.nc.Close()
			return
		}
		if c.ackWS > 0 && c.r.BytesRead()-lastAck >= uint64(c.ackWS) {
			lastAck = c.r.BytesRead()
			_ = c.writeMsg(chunk.Header{CSID: message.CSIDControl, Type: message.TypeAck}, message.AppendU32(nil, uint32(lastAck)))
		}
		switch h.Type {
		case message.TypeWindowAckSize:
			if v, err := message.ParseU32(p); err == nil {
				c.ackWS = v
			}
		case message.TypeUserControl:
			if uc, err := message.ParseUserControl(p); err == nil && uc.Event == message.EventPingRequest {
				_ = c.writeMsg(chunk.Header{CSID: message.CSIDControl, Type: message.TypeUserControl},
					message.UserControl{Event: message.EventPingResponse, Value: uc.Value}.Append(nil))
			}
		case message.TypeCommand, message.TypeCommandAMF3:
			cmd, err := message.ParseCommand(p, h.Type, &c.dec, args)
			if err != nil {
				c.log.Debug("bad command", "err", err)
				continue
			}
			c.dispatch(h, &cmd)
		case message.TypeSharedObject, message.TypeSharedObjectAMF3:
			c.handleSharedObject(h, p)
		case message.TypeAudio, message.TypeVideo, message.TypeData, message.TypeDataAMF3:
			c.mu.Lock()
			s := c.streams[h.StreamID]
			c.mu.Unlock()
			if s != nil && s.OnPacket != nil {
				k := media.Kind(h.Type)
				if h.Type == message.TypeDataAMF3 {
					k = media.Data
					if len(p) > 0 {
						p = p[1:]
					}
				}
				s.OnPacket(media.Packet{Kind: k, Time: h.Timestamp, Payload: p})
			}
		}
	}
}

func (c *Client) dispatch(h chunk.Header, cmd *message.Command) {
	// The command's Args alias nothing reused: ParseCommand got a nil dst.
	switch cmd.Name {
	case "_result", "_error":
		c.mu.Lock()
		ch := c.pending[cmd.Txn]
		c.mu.Unlock()
		if ch != nil {
			// One answer per transaction: a duplicate from a faulty server
			// must not block the reader on the full one-slot channel.
			select {
			case ch <- cmd:
			default:
			}
		}
		return
	case "onStatus":
		if h.StreamID != 0 {
			c.mu.Lock()
			s := c.streams[h.StreamID]
			c.mu.Unlock()
			if s != nil {
				select {
				case s.Status <- cmd.Arg(0):
				default:
				}
			}
			return
		}
	}
	select {
	case c.Calls <- cmd:
	default:
	}
}

// ClientStream is a NetStream on a Client.
type ClientStream struct {
	c  *Client
	ID uint32
	// Status receives the stream's onStatus info objects (buffered; extra
	// ones are dropped).
	Status chan amf.Value
	// OnPacket, when set before Play, receives every media and data
	// message on the reader goroutine. The payload is owned by the callee.
	OnPacket func(media.Packet)
}

// command sends a NetStream command with txn 0, as Flash Player does.
func (s *ClientStream) command(name string, args ...amf.Value) error {
	return s.c.writeCommand(message.CSIDStream, s.ID, &message.Command{Name: name, Object: amf.Null(), Args: args})
}

// WaitStatus waits for the next onStatus whose code is one of codes and
// returns it; an error-level status of another code ends the wait with a
// *status.Error.
func (s *ClientStream) WaitStatus(ctx context.Context, codes ...string) (amf.Value, error) {
	done := s.c.done
	for {
		var info amf.Value
		select {
		case info = <-s.Status:
		case <-ctx.Done():
			return amf.Undefined(), ctx.Err()
		case <-done:
			// Statuses the reader queued before the end still count (a
			// server's last onStatus often precedes its close).
			select {
			case info = <-s.Status:
			default:
				return amf.Undefined(), s.c.Err()
			}
		}
		code := info.Get("code").Str()
		if slices.Contains(codes, code) {
			return info, nil
		}
		if info.Get("level").Str() == status.LevelError {
			return info, statusError(info)
		}
	}
}

// Publish starts publishing name ("live", "record" or "append") and waits
// for NetStream.Publish.Start.
func (s *ClientStream) Publish(ctx context.Context, name, typ string) error {
	if err := s.command("publish", amf.String(name), amf.String(typ)); err != nil {
		return err
	}
	_, err := s.WaitStatus(ctx, status.PublishStart)
	return err
}

// Play starts playing name from start (ms; -2000 live or recorded, -1000
// live only) and waits for NetStream.Play.Start.
func (s *ClientStream) Play(ctx context.Context, name string, start float64) error {
	if err := s.command("play", amf.String(name), amf.Number(start), amf.Number(-1000), amf.Bool(true)); err != nil {
		return err
	}
	_, err := s.WaitStatus(ctx, status.PlayStart)
	return err
}

// WritePacket sends one media or data message on the stream.
func (s *ClientStream) WritePacket(p media.Packet) error {
	csid := uint32(message.CSIDData)
	switch p.Kind {
	case media.Audio:
		csid = message.CSIDAudio
	case media.Video:
		csid = message.CSIDVideo
	}
	return s.c.writeMsg(chunk.Header{CSID: csid, Timestamp: p.Time, Type: uint8(p.Kind), StreamID: s.ID}, p.Payload)
}

// Close sends closeStream.
func (s *ClientStream) Close() error { return s.command("closeStream") }
