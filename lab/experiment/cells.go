package experiment

import (
	"fmt"
	"time"
)

// Cell is one combination of conditions, measured Runs times.
type Cell struct {
	Matrix   string   `json:"matrix"`
	Page     string   `json:"page"`
	Strategy Strategy `json:"strategy"`
	Protocol Protocol `json:"protocol"`
	Cache    Cache    `json:"cache"`
	Network  string   `json:"network"`
	// ThinkMS is the server think time in milliseconds (the page profile's
	// own when the scenario said -1).
	ThinkMS int    `json:"think_ms"`
	Browser string `json:"browser"`
	Runs    int    `json:"-"`
}

// Key identifies the conditions of c (not its matrix or run count).
func (c Cell) Key() string {
	return fmt.Sprintf("%s|%s|%s|%s|%s|%d|%s", c.Page, c.Strategy, c.Protocol, c.Cache, c.Network, c.ThinkMS, c.Browser)
}

// PeerKey is the key of the same conditions in another browser.
func (c Cell) PeerKey(browser string) string {
	p := c
	p.Browser = browser
	return p.Key()
}

// BaselineKey is the key of the no-hint cell c is compared with.
func (c Cell) BaselineKey() string {
	b := c
	b.Strategy = None
	return b.Key()
}

// Think returns the think time of c.
func (c Cell) Think() time.Duration { return time.Duration(c.ThinkMS) * time.Millisecond }

// Cells expands the matrices into cells in declaration order. A cell
// declared twice runs once (with the larger run count), and every cell
// gets its no-hint baseline even when its matrix did not list "none", since
// gains are measured against it.
func (s *Scenario) Cells() []Cell {
	var out []Cell
	index := map[string]int{}
	add := func(c Cell) {
		if i, ok := index[c.Key()]; ok {
			out[i].Runs = max(out[i].Runs, c.Runs)
			return
		}
		index[c.Key()] = len(out)
		out = append(out, c)
	}
	for _, m := range s.Matrices {
		runs := s.Runs
		if m.Runs > 0 {
			runs = m.Runs
		}
		for _, page := range m.Pages {
			own := int(s.PageThink(page) / time.Millisecond)
			for _, network := range m.Networks {
				for _, think := range m.ThinkMS {
					if think < 0 {
						think = own
					}
					for _, proto := range m.Protocols {
						for _, cache := range m.Caches {
							for _, st := range append([]Strategy{None}, m.Strategies...) {
								// The browsers side by side, cell by cell.
								for _, b := range s.Browsers() {
									add(Cell{
										Matrix: m.Name, Page: page, Strategy: st, Protocol: proto, Cache: cache,
										Network: network, ThinkMS: think, Browser: b, Runs: runs,
									})
								}
							}
						}
					}
				}
			}
		}
	}
	return out
}
