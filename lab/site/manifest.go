package site

import (
	"bytes"
	"time"
)

// Manifest describes what a page costs and when its resources are
// discovered, the inputs of the analytic bound on Early Hints' saving,
// min(T + δ, RTT + x_R).
type Manifest struct {
	Profile  string
	HTMLPath string
	// HTMLSize is the size of the document as served.
	HTMLSize int
	// Think is the server think time of the document (T).
	Think time.Duration
	// Requests counts the document and every resource.
	Requests   int
	TotalBytes int
	// Critical holds the render-blocking resources; CriticalBytes is their
	// total size (x_R in bytes).
	Critical      []Resource
	CriticalBytes int
	// Hinted holds what the preload strategy announces (Resource.Hinted).
	Hinted      []Resource
	HintedBytes int
	// Preconnect holds the third-party origins a hint would preconnect.
	Preconnect []string
	// Discovery has one entry per resource, in profile order.
	Discovery []Discovery
}

// Discovery says where a browser finds a resource.
type Discovery struct {
	URL string
	// Offset is the byte offset of the first reference in the document (a
	// preload tag counts); -1 when the resource is referenced only from
	// another resource (or not found in a verbatim document).
	Offset int
	// From is the stylesheet or script referencing it; "" for the document.
	From string
	// Depth is 1 for a resource referenced by the document, 2 for one
	// referenced by such a resource, and so on; 0 when never referenced.
	Depth int
	Size  int
}

func buildManifest(p *Profile, doc []byte, offsets map[string]int, think time.Duration) Manifest {
	m := Manifest{
		Profile:    p.Name,
		HTMLPath:   p.htmlPath(),
		HTMLSize:   len(doc),
		Think:      think,
		Requests:   1 + len(p.Resources),
		TotalBytes: len(doc),
		Critical:   p.Critical(),
		Hinted:     p.HintedResources(),
		Preconnect: p.ThirdPartyOrigins(),
	}
	for _, r := range m.Critical {
		m.CriticalBytes += r.BodySize()
	}
	for _, r := range m.Hinted {
		m.HintedBytes += r.BodySize()
	}
	byURL := map[string]Resource{}
	for _, r := range p.Resources {
		m.TotalBytes += r.BodySize()
		byURL[r.URL()] = r
	}
	for _, r := range p.Resources {
		d := Discovery{URL: r.URL(), Offset: -1, From: r.From, Size: r.BodySize()}
		// A preload in the document counts as its discovery.
		if o, ok := offsets[r.URL()]; ok {
			d.Offset = o
		}
		if r.inHTML() {
			d.Depth = 1
		} else {
			// Validate bounds the chain; the loop bound is a second guard.
			cur := r
			for depth := 1; depth <= len(p.Resources)+1; depth++ {
				if cur.inHTML() {
					d.Depth = depth
					break
				}
				parent, ok := byURL[cur.From]
				if !ok {
					break
				}
				cur = parent
			}
		}
		m.Discovery = append(m.Discovery, d)
	}
	return m
}

// maxOffsetScan bounds the search of a verbatim document: one search per
// resource over a capture's whole document would be quadratic.
const maxOffsetScan = 1 << 20

// offsetsIn finds where a verbatim document first names each resource, by
// its URL or else its path, within its first MiB.
func offsetsIn(p *Profile, doc []byte) map[string]int {
	doc = doc[:min(len(doc), maxOffsetScan)]
	out := map[string]int{}
	for _, r := range p.Resources {
		if i := bytes.Index(doc, []byte(r.URL())); i >= 0 {
			out[r.URL()] = i
		} else if i := bytes.Index(doc, []byte(r.Path)); i >= 0 && len(r.Path) > 1 {
			out[r.URL()] = i
		}
	}
	return out
}

// Manifest returns the manifest of p as served without strategy options.
func (p *Profile) Manifest() (Manifest, error) {
	if err := p.Validate(); err != nil {
		return Manifest{}, err
	}
	if p.HTML != nil {
		return buildManifest(p, p.HTML, offsetsIn(p, p.HTML), p.Think), nil
	}
	d := renderHTML(p, Options{}, false)
	return buildManifest(p, d.doc, d.offsets, p.Think), nil
}

func transfer(bytes int, bytesPerSecond float64) time.Duration {
	if bytesPerSecond <= 0 {
		return 0
	}
	return time.Duration(float64(bytes) / bytesPerSecond * float64(time.Second))
}

// CriticalTransfer returns x_R: the time to move the render-blocking bytes at
// bytesPerSecond.
func (m *Manifest) CriticalTransfer(bytesPerSecond float64) time.Duration {
	return transfer(m.CriticalBytes, bytesPerSecond)
}

// DiscoveryTime estimates when a browser without hints discovers the
// resource u, counted from the document's first byte: the time to receive
// the document up to the reference, plus, for each stylesheet or script on
// the way, one round trip and its transfer. It ignores queueing behind
// other resources, parse and script time. ok is false for a resource that
// is never referenced.
func (m *Manifest) DiscoveryTime(u string, rtt time.Duration, bytesPerSecond float64) (d time.Duration, ok bool) {
	byURL := make(map[string]Discovery, len(m.Discovery))
	for _, x := range m.Discovery {
		byURL[x.URL] = x
	}
	cur, ok := byURL[u]
	if !ok {
		return 0, false
	}
	for range len(m.Discovery) + 1 {
		if cur.Offset >= 0 {
			return d + transfer(cur.Offset, bytesPerSecond), true
		}
		parent, found := byURL[cur.From]
		if !found {
			return 0, false
		}
		d += rtt + transfer(parent.Size, bytesPerSecond)
		cur = parent
	}
	return 0, false
}

// Delta estimates δ, the discovery delay inside the page: the latest
// DiscoveryTime among the hinted resources (the ones Early Hints would
// announce), or among the critical ones if nothing is hinted.
func (m *Manifest) Delta(rtt time.Duration, bytesPerSecond float64) time.Duration {
	set := m.Hinted
	if len(set) == 0 {
		set = m.Critical
	}
	var delta time.Duration
	for _, r := range set {
		if d, ok := m.DiscoveryTime(r.URL(), rtt, bytesPerSecond); ok && d > delta {
			delta = d
		}
	}
	return delta
}

// Bound returns the analytic bound on Early Hints' saving,
// min(T + δ, RTT + x_R), for think time think (T), round trip rtt and a link
// of bytesPerSecond.
func (m *Manifest) Bound(think, rtt time.Duration, bytesPerSecond float64) time.Duration {
	return min(think+m.Delta(rtt, bytesPerSecond), rtt+m.CriticalTransfer(bytesPerSecond))
}
