package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
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
	// HAR names the uploaded capture the comparison replays instead of
	// Page (see ReadParams); its think time is the capture's own unless
	// ThinkMS is given.
	HAR    string       `json:"har,omitempty"`
	replay *site.Replay // the upload, loaded
	// ownThink: ThinkMS was left out (a capture keeps its own).
	ownThink bool
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
//
// A page of one's own comes as a HAR file: a multipart/form-data body
// (the form's file field "har", the other parameters as fields), or the
// HAR itself as the body (Content-Type application/har+json, application/json
// with ?har=NAME, or application/gzip) with the parameters in the query
// string. It is bounded by MaxHARUploadBytes (an error wrapping
// site.ErrHARTooLarge) and validated by site.LoadHAR (its named errors).
func ReadParams(r *http.Request) (Params, error) {
	var p Params
	ct, ctParams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "multipart/form-data":
		return readMultipart(r, ctParams["boundary"])
	case ct == "application/har+json" || ct == "application/gzip" || ct == "application/json" && r.URL.Query().Has("har"):
		return readHARBody(r)
	}
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
	return paramsFromForm(form)
}

// paramsFromForm reads the parameters of a form (or a query string).
func paramsFromForm(form url.Values) (Params, error) {
	var p Params
	var err error
	for k := range form {
		switch k {
		case "page", "network", "rtt_ms", "down_mbps", "loss", "think_ms", "protocols", "strategies", "cache", "browser", "runs":
		default:
			return p, bad(k, "unknown parameter; use page, network, rtt_ms, down_mbps, loss, think_ms, protocols, strategies, cache, browser, runs (and a HAR file as har)")
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
		p.ownThink = true
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

	sc := &experiment.Scenario{
		Name: "try-it", Description: "a comparison from the Try-it page", Browser: p.Browser, Runs: p.Runs,
		RunTimeout: experiment.Duration(30 * time.Second),
	}
	page, think := p.Page, *p.ThinkMS
	if p.replay != nil {
		// The uploaded capture replaces the page, at its own think time
		// unless the visitor gave one.
		page = experiment.HARPrefix + p.HAR
		p.Page = page
		if p.ownThink {
			think = int(p.replay.Profile.Think / time.Millisecond)
			p.ThinkMS = &think
		}
		sc.HARs = []experiment.HARDef{{Name: p.HAR, Replay: p.replay}}
		sc.RunTimeout = experiment.Duration(90 * time.Second) // a real page can weigh megabytes
	} else if _, err := site.ProfileByName(p.Page); err != nil {
		return nil, bad("page", "unknown page %q; use one of %s, or upload a HAR file as har", p.Page, strings.Join(site.ProfileNames(), ", "))
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
	if think < 0 || think > 30000 || p.replay == nil && think > 5000 {
		return nil, bad("think_ms", "%d out of range 0..5000", think)
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
		Name: "comparison", Pages: []string{page}, Strategies: strategies, Protocols: protos,
		Caches: caches, Networks: []string{network}, ThinkMS: []int{think},
	}}
	if err := sc.Validate(); err != nil {
		return nil, bad("parameters", "%v", err)
	}
	if n := len(sc.Cells()); n > maxCells {
		return nil, bad("strategies", "%d cells (protocols × strategies × caches × browsers), more than %d; ask for fewer", n, maxCells)
	}
	// A budget in proportion to the work, within the server's.
	perLoad := 40 * time.Second
	if p.replay != nil {
		perLoad = 2 * time.Duration(sc.RunTimeout)
	}
	sc.Budget = experiment.Duration(time.Duration(len(sc.Cells())*p.Runs) * perLoad)
	return sc, nil
}

// MaxHARUploadBytes bounds a HAR uploaded to the Try-it page (compressed
// or not, and once decompressed); the command line takes captures up to
// site.MaxHARBytes.
const MaxHARUploadBytes = 10 << 20

// harTooLarge is the error of an upload over MaxHARUploadBytes.
func harTooLarge() error {
	return &ParamError{Param: "har", Msg: fmt.Sprintf("%v: the upload passes %d MiB; save the HAR without content, or capture fewer requests", site.ErrHARTooLarge, MaxHARUploadBytes>>20), err: site.ErrHARTooLarge}
}

// loadUpload reads and validates an uploaded capture named file (a gzip
// upload decompresses to at most site.MaxHARBytes).
func loadUpload(p *Params, file string, r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, MaxHARUploadBytes+1))
	if err != nil {
		return bad("har", "reading the upload: %v", err)
	}
	if len(data) > MaxHARUploadBytes {
		return harTooLarge()
	}
	rp, err := site.LoadHAR(bytes.NewReader(data))
	if err != nil {
		msg := err.Error()
		if !errors.Is(err, site.ErrHARTooLarge) {
			msg += "; export the page load again from the browser's DevTools (Save all as HAR) and upload that file"
		}
		return &ParamError{Param: "har", Msg: msg, err: err}
	}
	p.replay, p.HAR = rp, experiment.HARName(file)
	return nil
}

// readMultipart reads the form posted with a file: the HAR in the field
// "har", the other parameters as fields.
func readMultipart(r *http.Request, boundary string) (Params, error) {
	if boundary == "" {
		return Params{}, bad("body", "multipart/form-data without a boundary; let the browser or curl -F build the body")
	}
	mr := multipart.NewReader(io.LimitReader(r.Body, MaxHARUploadBytes+MaxBodyBytes+1), boundary)
	form := url.Values{}
	var harPart []byte
	harFile, haveHAR, fields := "", false, 0
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) && haveHAR {
				return Params{}, harTooLarge()
			}
			return Params{}, bad("body", "not a multipart form: %v", err)
		}
		name := part.FormName()
		if name == "har" {
			if haveHAR {
				return Params{}, bad("har", "more than one file; upload one capture per comparison")
			}
			haveHAR, harFile = true, part.FileName()
			harPart, err = io.ReadAll(io.LimitReader(part, MaxHARUploadBytes+1))
			if err != nil {
				return Params{}, harTooLarge()
			}
			if len(harPart) > MaxHARUploadBytes {
				return Params{}, harTooLarge()
			}
			continue
		}
		if fields++; fields > 64 {
			return Params{}, bad("body", "too many fields; send each parameter once")
		}
		v, err := io.ReadAll(io.LimitReader(part, 1<<10+1))
		if err != nil || len(v) > 1<<10 {
			return Params{}, bad(name, "value too long or unreadable")
		}
		form.Add(name, string(v))
	}
	p, err := paramsFromForm(form)
	if err != nil {
		return p, err
	}
	// A form sends an empty file field when no file was chosen.
	if haveHAR && (len(harPart) > 0 || harFile != "") {
		if len(harPart) == 0 {
			return p, &ParamError{Param: "har", Msg: site.ErrBadHAR.Error() + ": the file is empty; export the page load from the browser's DevTools (Save all as HAR)", err: site.ErrBadHAR}
		}
		if err := loadUpload(&p, harFile, bytes.NewReader(harPart)); err != nil {
			return p, err
		}
	}
	return p, nil
}

// readHARBody reads a HAR sent as the body, the parameters in the query
// string (har=NAME names the capture).
func readHARBody(r *http.Request) (Params, error) {
	q := r.URL.Query()
	name := q.Get("har")
	q.Del("har")
	p, err := paramsFromForm(q)
	if err != nil {
		return p, err
	}
	if name == "" {
		name = "upload"
	}
	if err := loadUpload(&p, name, r.Body); err != nil {
		return p, err
	}
	return p, nil
}
