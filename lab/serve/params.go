package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/earlyhints/earlyhints/lab/experiment"
	"github.com/earlyhints/earlyhints/lab/netem"
	"github.com/earlyhints/earlyhints/lab/site"
)

// List is a list parameter: a JSON array, or a comma-separated string (as
// a form sends it, or repeated).
type List []string

// UnmarshalJSON accepts ["h2","h3"] or "h2,h3".
func (l *List) UnmarshalJSON(b []byte) error {
	var arr []string
	if err := json.Unmarshal(b, &arr); err == nil {
		*l = splitList(arr)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("want a list of strings or a comma-separated string")
	}
	*l = splitList([]string{s})
	return nil
}

func splitList(in []string) List {
	var out List
	for _, s := range in {
		for _, p := range strings.Split(s, ",") {
			if p = strings.ToLower(strings.TrimSpace(p)); p != "" && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// Params are a comparison's parameters, as POST /api/runs takes them.
// Defaults answer the article's question: HTTP/2 against HTTP/3, no
// hints against Early Hints, 4G, 300 ms of think time, cold cache, the
// browser model, 3 runs.
type Params struct {
	// Page is a built-in site (news-article, store-product, spa-shell,
	// tiny).
	Page string `json:"page"`
	// Network is a netem preset (none, cable, 4g, 3g, lossy) or "custom":
	// RTTMS, DownMbps and Loss then define it (any of them set implies
	// custom).
	Network  string   `json:"network"`
	RTTMS    *float64 `json:"rtt_ms,omitempty"`
	DownMbps *float64 `json:"down_mbps,omitempty"`
	Loss     *float64 `json:"loss,omitempty"`
	// ThinkMS is the server's think time.
	ThinkMS    *int `json:"think_ms,omitempty"`
	Protocols  List `json:"protocols"`
	Strategies List `json:"strategies"`
	// Cache is cold, warm or both.
	Cache string `json:"cache"`
	// Browser is model, chromium or model,chromium.
	Browser string `json:"browser"`
	Runs    int    `json:"runs"`
}

// ParamError names the parameter that is wrong and says what to send.
type ParamError struct {
	Param, Msg string
	err        error // a sentinel it is, such as ErrBodyTooLarge
}

func (e *ParamError) Error() string { return e.Param + ": " + e.Msg }

func (e *ParamError) Unwrap() error { return e.err }

func bad(param, format string, a ...any) error {
	return &ParamError{Param: param, Msg: fmt.Sprintf(format, a...)}
}

// MaxBodyBytes bounds the body of a POST of parameters, form or JSON.
const MaxBodyBytes = 64 << 10

// ErrBodyTooLarge reports a POST whose body passes MaxBodyBytes: it is
// refused whole, never read in part.
var ErrBodyTooLarge = fmt.Errorf("the parameters pass %d KiB", MaxBodyBytes>>10)

// ReadParams reads the parameters of a POST: JSON when the Content-Type
// says so, else a form (lists as repeated keys or comma-separated). A
// body over MaxBodyBytes is an error that wraps ErrBodyTooLarge, whatever
// its type.
func ReadParams(r *http.Request) (Params, error) {
	var p Params
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return p, bad("body", "%v", err)
	}
	if len(data) > MaxBodyBytes {
		return p, &ParamError{Param: "body", Msg: ErrBodyTooLarge.Error() + "; send each parameter once, with the values the form offers", err: ErrBodyTooLarge}
	}
	if ct == "application/json" {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return p, bad("body", "not a JSON object of the parameters (%v); see GET / for the form", err)
		}
		return p, nil
	}
	form, err := url.ParseQuery(string(data))
	if err != nil {
		return p, bad("body", "not a form: %v", err)
	}
	for k := range form {
		switch k {
		case "page", "network", "rtt_ms", "down_mbps", "loss", "think_ms", "protocols", "strategies", "cache", "browser", "runs":
		default:
			return p, bad(k, "unknown parameter; use page, network, rtt_ms, down_mbps, loss, think_ms, protocols, strategies, cache, browser, runs")
		}
	}
	p.Page, p.Network, p.Cache = form.Get("page"), form.Get("network"), form.Get("cache")
	p.Browser = strings.Join(splitList(form["browser"]), ",")
	p.Protocols, p.Strategies = splitList(form["protocols"]), splitList(form["strategies"])
	num := func(name string) (*float64, error) {
		v := strings.TrimSpace(form.Get(name))
		if v == "" {
			return nil, nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, bad(name, "%q is not a number", v)
		}
		return &f, nil
	}
	if p.RTTMS, err = num("rtt_ms"); err != nil {
		return p, err
	}
	if p.DownMbps, err = num("down_mbps"); err != nil {
		return p, err
	}
	if p.Loss, err = num("loss"); err != nil {
		return p, err
	}
	if v := strings.TrimSpace(form.Get("think_ms")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, bad("think_ms", "%q is not a whole number of milliseconds", v)
		}
		p.ThinkMS = &n
	}
	if v := strings.TrimSpace(form.Get("runs")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, bad("runs", "%q is not a whole number", v)
		}
		p.Runs = n
	}
	return p, nil
}

// Defaults returns the parameters of the default comparison.
func Defaults() Params {
	think := 300
	return Params{
		Page: "news-article", Network: "4g", ThinkMS: &think,
		Protocols: List{"h2", "h3"}, Strategies: List{"none", "early-hints"},
		Cache: "cold", Browser: experiment.BrowserModel, Runs: 3,
	}
}

// Scenario validates p (with defaults for what it leaves out) and returns
// the scenario of the comparison.
func (p *Params) Scenario(maxRuns, maxCells int) (*experiment.Scenario, error) {
	d := Defaults()
	if p.Page == "" {
		p.Page = d.Page
	}
	if p.Network == "" {
		p.Network = d.Network
		if p.RTTMS != nil || p.DownMbps != nil || p.Loss != nil {
			p.Network = "custom"
		}
	}
	if p.ThinkMS == nil {
		p.ThinkMS = d.ThinkMS
	}
	if len(p.Protocols) == 0 {
		p.Protocols = d.Protocols
	}
	if len(p.Strategies) == 0 {
		p.Strategies = d.Strategies
	}
	if p.Cache == "" {
		p.Cache = d.Cache
	}
	if p.Browser == "" {
		p.Browser = d.Browser
	}
	if p.Runs == 0 {
		p.Runs = d.Runs
	}

	if _, err := site.ProfileByName(p.Page); err != nil {
		return nil, bad("page", "unknown page %q; use one of %s", p.Page, strings.Join(site.ProfileNames(), ", "))
	}
	sc := &experiment.Scenario{
		Name: "try-it", Description: "a comparison from the Try-it page", Browser: p.Browser, Runs: p.Runs,
		RunTimeout: experiment.Duration(30 * time.Second),
	}
	network := strings.ToLower(p.Network)
	if network == "custom" {
		def := experiment.NetworkDef{Name: "custom", RTT: experiment.Duration(40 * time.Millisecond)}
		if p.RTTMS != nil {
			if *p.RTTMS < 0 || *p.RTTMS > 2000 {
				return nil, bad("rtt_ms", "%v out of range 0..2000", *p.RTTMS)
			}
			def.RTT = experiment.Duration(time.Duration(*p.RTTMS * float64(time.Millisecond)))
		}
		if p.DownMbps != nil {
			if *p.DownMbps < 0.1 || *p.DownMbps > 1000 {
				return nil, bad("down_mbps", "%v out of range 0.1..1000 (leave it out for no limit)", *p.DownMbps)
			}
			def.DownMbps, def.UpMbps = *p.DownMbps, *p.DownMbps
		}
		if p.Loss != nil {
			if *p.Loss < 0 || *p.Loss > 0.2 {
				return nil, bad("loss", "%v out of range 0..0.2 (a probability: 0.02 is 2 %%)", *p.Loss)
			}
			def.Loss = *p.Loss
		}
		sc.Networks = []experiment.NetworkDef{def}
	} else {
		if p.RTTMS != nil || p.DownMbps != nil || p.Loss != nil {
			return nil, bad("network", "rtt_ms, down_mbps and loss define a custom network: send network=custom, or leave them out for the preset %q", p.Network)
		}
		if _, err := netem.ProfileByName(network); err != nil {
			return nil, bad("network", "unknown network %q; use custom or a preset (%s)", p.Network, strings.Join(netem.ProfileNames(), ", "))
		}
	}
	if *p.ThinkMS < 0 || *p.ThinkMS > 5000 {
		return nil, bad("think_ms", "%d out of range 0..5000", *p.ThinkMS)
	}
	var protos []experiment.Protocol
	for _, v := range p.Protocols {
		if !slices.Contains(experiment.Protocols, experiment.Protocol(v)) {
			return nil, bad("protocols", "unknown protocol %q; use h1, h2 or h3", v)
		}
		protos = append(protos, experiment.Protocol(v))
	}
	var strategies []experiment.Strategy
	for _, v := range p.Strategies {
		if !slices.Contains(experiment.Strategies, experiment.Strategy(v)) {
			return nil, bad("strategies", "unknown strategy %q; use none, preload, push, push-digest or early-hints", v)
		}
		strategies = append(strategies, experiment.Strategy(v))
	}
	var caches []experiment.Cache
	switch strings.ToLower(p.Cache) {
	case "cold":
		caches = []experiment.Cache{experiment.Cold}
	case "warm":
		caches = []experiment.Cache{experiment.Warm}
	case "both":
		caches = []experiment.Cache{experiment.Cold, experiment.Warm}
	default:
		return nil, bad("cache", "unknown cache %q; use cold, warm or both", p.Cache)
	}
	for _, b := range strings.Split(p.Browser, ",") {
		if b = strings.TrimSpace(b); b != experiment.BrowserModel && b != experiment.BrowserChromium {
			return nil, bad("browser", "unknown browser %q; use model, chromium or model,chromium", b)
		}
	}
	if p.Runs < 1 || p.Runs > maxRuns {
		return nil, bad("runs", "%d out of range 1..%d", p.Runs, maxRuns)
	}
	sc.Matrices = []experiment.Matrix{{
		Name: "comparison", Pages: []string{p.Page}, Strategies: strategies, Protocols: protos,
		Caches: caches, Networks: []string{network}, ThinkMS: []int{*p.ThinkMS},
	}}
	if err := sc.Validate(); err != nil {
		return nil, bad("parameters", "%v", err)
	}
	if n := len(sc.Cells()); n > maxCells {
		return nil, bad("strategies", "%d cells (protocols × strategies × caches × browsers), more than %d; ask for fewer", n, maxCells)
	}
	// A budget in proportion to the work, within the server's.
	sc.Budget = experiment.Duration(time.Duration(len(sc.Cells())*p.Runs) * 40 * time.Second)
	return sc, nil
}
