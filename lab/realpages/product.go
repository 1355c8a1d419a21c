package realpages

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/earlyhints/earlyhints"
	product "github.com/earlyhints/earlyhints/internal/stack"
	"github.com/earlyhints/earlyhints/server"
)

// DefaultThink is the stub origin's think time when RunConfig.Think is 0:
// long enough that a 103 has something to fill, as a page rendered by a
// CMS or an application server takes.
const DefaultThink = 300 * time.Millisecond

// Teachers is how many visitors navigate to a page before the measured
// navigation: the product's privacy quorum (earlyhints.DefaultPrivateQuorum)
// of distinct networks, so a file only browsers' fetches name can be
// hinted.
const Teachers = 3

// RunConfig configures Run. The zero value runs the product as the
// command line does with its defaults, behind a stub origin that thinks
// DefaultThink.
type RunConfig struct {
	// Think is the stub origin's think time for the page; 0 means
	// DefaultThink.
	Think time.Duration
	// Sizes are the subresources' body sizes; zero means DefaultSizes.
	Sizes Sizes
	// Product holds the product's settings (the flags of `earlyhints
	// proxy`: MaxPreloads, AssumedBandwidth, …); Run sets the origin,
	// PreserveHost, the observer and the logs. The zero value is the
	// command's defaults. A nil ConnPath measures no client path: on
	// loopback the server would measure no round trip and an unbounded
	// rate, so the assumed client network (AssumedBandwidth, AssumedRTT)
	// sizes the document budget, as for a connection the kernel has not
	// measured yet.
	Product product.Config
	// Timeout bounds one navigation or fetch; 0 means 10s.
	Timeout time.Duration
	// Logger receives the product's logs; nil discards them.
	Logger *slog.Logger
}

// Result is what the product did for one page.
type Result struct {
	Name string
	// Hints are the Link values of the first 103 the measured navigation
	// got; nil when it got none.
	Hints []string
	// Got103 reports whether a 103 came.
	Got103 bool
	// Events counts the middleware's decisions over the whole run, by
	// kind and reason ("left_out/document_budget_assumed",
	// "skipped/learner_busy"), and under "left_out_links/REASON" the links
	// those 103s left out.
	Events map[string]int
}

// Run serves p from a stub origin behind the product, teaches the
// product with Teachers visitors that each navigate to the page and fetch
// what Chromium fetched from the page's own host (t.Requests, with the
// browser's headers), then navigates once more from a fourth network and
// returns that navigation's 103.
func Run(ctx context.Context, p *Page, t *Truth, cfg RunConfig) (_ *Result, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Think == 0 {
		cfg.Think = DefaultThink
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if len(t.Requests) == 0 {
		return nil, fmt.Errorf("realpages: %s: the truth has no requests; regenerate the golden file with -update", p.Name)
	}
	st, err := startStack(ctx, p, cfg)
	if err != nil {
		return nil, err
	}
	defer st.close()

	base, err := url.Parse(p.URL)
	if err != nil {
		return nil, fmt.Errorf("realpages: %s: %w", p.Name, err)
	}
	var own []Fetch // what the page's own host served, through the product
	for _, f := range t.Requests[1:] {
		if u, err := url.Parse(f.URL); err == nil && strings.EqualFold(u.Hostname(), base.Hostname()) {
			own = append(own, f)
		}
	}
	// The middleware analyses a route's public response once per
	// LearnInterval: visitors a little over a second apart (a margin for a
	// response slowed by a loaded machine), as three visitors of a page
	// are, each teach it; back to back, only the first would.
	interval := earlyhints.DefaultLearnInterval
	var last time.Time
	for i := 1; i <= Teachers+1; i++ {
		if wait := time.Until(last.Add(interval + interval/4)); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return nil, ctx.Err()
			}
		}
		last = time.Now()
		if i > Teachers {
			break
		}
		v := st.visitor(i)
		if _, err := v.navigate(ctx, t.Requests[0], cfg.Timeout); err != nil {
			v.close()
			return nil, fmt.Errorf("realpages: %s: visitor %d: %w", p.Name, i, err)
		}
		v.fetchAll(ctx, own, cfg.Timeout)
		v.close()
		st.settle(ctx)
	}
	v := st.visitor(Teachers + 1)
	defer v.close()
	hints, err := v.navigate(ctx, t.Requests[0], cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("realpages: %s: measured visitor: %w", p.Name, err)
	}
	return &Result{Name: p.Name, Hints: hints, Got103: hints != nil, Events: st.eventCounts()}, nil
}

// leftOutLinks prefixes the Result.Events key that counts the links (not
// the events) left out of 103s, by reason.
const leftOutLinks = "left_out_links/"

// stack is the product in front of one page's stub origin.
type stack struct {
	origin  *http.Server
	srv     *server.Server
	product *product.Stack
	cancel  context.CancelFunc
	served  chan error

	mu     sync.Mutex
	events map[string]int
	seq    int // events seen, for settle
}

func startStack(ctx context.Context, p *Page, cfg RunConfig) (_ *stack, err error) {
	st := &stack{served: make(chan error, 1), events: map[string]int{}}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	o := &Origin{Think: cfg.Think, Sizes: cfg.Sizes}
	if err := o.Add(p); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("realpages: origin listener: %w", err)
	}
	st.origin = &http.Server{Handler: o, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)}
	go st.origin.Serve(ln) //nolint:errcheck // ends with Close

	// The product as `earlyhints proxy --origin URL --preserve-host`
	// assembles it: client address, access log, middleware, reverse proxy.
	pc := cfg.Product
	pc.Origin = "http://" + ln.Addr().String()
	pc.PreserveHost = true // the stub origin serves every host by Host
	pc.Observer = earlyhints.ObserverFunc(st.observe)
	pc.Logger = cfg.Logger
	if pc.AccessLog == nil {
		pc.AccessLog = cfg.Logger
	}
	if pc.ConnPath == nil {
		pc.ConnPath = func(*http.Request) (time.Duration, int64) { return 0, 0 }
	}
	if st.product, err = product.New(pc); err != nil {
		return nil, fmt.Errorf("realpages: assemble the product: %w", err)
	}
	st.srv, err = st.product.Listen(server.Config{
		Addr: "127.0.0.1:0", DisableHTTP3: true, Logger: cfg.Logger, ShutdownTimeout: time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("realpages: server: %w", err)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	st.cancel = cancel
	go func() { st.served <- st.srv.Serve(sctx) }()
	return st, nil
}

func (st *stack) observe(e earlyhints.Event) {
	k := e.Kind.String()
	if e.Reason != "" {
		k += "/" + e.Reason
	}
	st.mu.Lock()
	st.events[k]++
	if e.Kind == earlyhints.EventLeftOut {
		st.events[leftOutLinks+e.Reason] += e.Links
	}
	st.seq++
	st.mu.Unlock()
}

func (st *stack) eventCounts() map[string]int {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make(map[string]int, len(st.events))
	for k, v := range st.events {
		out[k] = v
	}
	return out
}

// settle waits until the middleware has reported nothing for a while:
// what a visitor taught is learned off the request path. Bounded to 3s.
func (st *stack) settle(ctx context.Context) {
	const quiet, limit = 100 * time.Millisecond, 3 * time.Second
	deadline := time.Now().Add(limit)
	last := -1
	for time.Now().Before(deadline) && ctx.Err() == nil {
		st.mu.Lock()
		n := st.seq
		st.mu.Unlock()
		if n == last {
			return
		}
		last = n
		time.Sleep(quiet)
	}
}

func (st *stack) close() {
	if st.srv != nil {
		_ = st.srv.Close()
	}
	if st.cancel != nil {
		st.cancel()
		select {
		case err := <-st.served:
			_ = err // serving ends with an error once cancelled; that is the expected end
		case <-time.After(3 * time.Second):
		}
	}
	if st.product != nil {
		_ = st.product.Close() // after the server: the requests in flight are done
	}
	if st.origin != nil {
		_ = st.origin.Close()
	}
}

// visitor is one browser on its own network (127.N.0.1): an HTTP/2
// client that dials the product for every host.
type visitor struct {
	tr *http.Transport
	c  *http.Client
}

// userAgent is the browser the visitors say they are.
const userAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"

func (st *stack) visitor(n int) *visitor {
	addr := st.srv.Addr()
	local := &net.TCPAddr{IP: net.IPv4(127, byte(n), 0, 1)} //nolint:gosec // n is 1 to Teachers+1
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
			return d.DialContext(ctx, network, addr)
		},
		// The server's certificate is generated for loopback; the page's
		// host name is what the request names.
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a loopback test server
		ForceAttemptHTTP2: true,
		MaxIdleConns:      16,
	}
	return &visitor{tr: tr, c: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (v *visitor) close() { v.tr.CloseIdleConnections() }

// request builds a GET of f with the headers the browser sent.
func request(ctx context.Context, f Fetch) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return nil, err
	}
	h := req.Header
	h.Set("User-Agent", userAgent)
	for k, val := range map[string]string{"Sec-Fetch-Dest": f.Dest, "Sec-Fetch-Mode": f.Mode, "Sec-Fetch-Site": f.Site, "Referer": f.Referer, "Accept": f.Accept} {
		if val != "" {
			h.Set(k, val)
		}
	}
	if f.Dest == "document" {
		h.Set("Upgrade-Insecure-Requests", "1")
		h.Set("Sec-Fetch-User", "?1")
	}
	return req, nil
}

// navigate requests the page as the browser did and reads it; it returns
// the Link values of the first 103, nil when none came.
func (v *visitor) navigate(ctx context.Context, doc Fetch, timeout time.Duration) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var mu sync.Mutex
	var links []string
	got := false
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		defer mu.Unlock()
		if code == http.StatusEarlyHints && !got {
			got = true
			links = append([]string{}, h.Values("Link")...)
		}
		return nil
	}}
	req, err := request(httptrace.WithClientTrace(ctx, trace), doc)
	if err != nil {
		return nil, err
	}
	resp, err := v.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return nil, err
	}
	if resp.ProtoMajor != 2 {
		return nil, errors.New("the product did not speak HTTP/2")
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the page answered %s", resp.Status)
	}
	mu.Lock()
	defer mu.Unlock()
	if got && links == nil {
		links = []string{}
	}
	return links, nil
}

// fetchAll fetches fs, four at a time in their order, as a browser's
// requests after the navigation; a failed fetch is skipped, as a browser
// goes on without it.
func (v *visitor) fetchAll(ctx context.Context, fs []Fetch, timeout time.Duration) {
	const parallel = 4
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, f := range fs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			req, err := request(fctx, f)
			if err != nil {
				return
			}
			resp, err := v.c.Do(req)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	wg.Wait()
}
