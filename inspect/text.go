package inspect

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes rep for a person: per protocol a timeline and the links
// of the 103, then the findings, most severe first, each with what to do.
// color adds ANSI colours (for a terminal).
func WriteText(w io.Writer, rep *Report, color bool) error {
	var b strings.Builder
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	fmt.Fprintf(&b, "%s\n", paint("1", rep.URL))
	for _, r := range rep.Results {
		b.WriteString("\n")
		head := fmt.Sprintf("%s  %s", r.Proto, r.URL)
		if r.Error != "" {
			fmt.Fprintf(&b, "%s\n    failed: %s\n", paint("1", head), r.Error)
			continue
		}
		fmt.Fprintf(&b, "%s  %d %s", paint("1", head), r.Status, r.ContentType)
		if r.Runs > 1 {
			fmt.Fprintf(&b, "  (median of %d runs)", r.Runs)
		}
		b.WriteString("\n    request")
		for _, eh := range r.EarlyHints {
			fmt.Fprintf(&b, " → 103 at %.1f ms", eh.TMS)
		}
		fmt.Fprintf(&b, " → %d at %.1f ms", r.Status, r.FinalHeadersMS)
		if r.FirstByteMS > 0 {
			fmt.Fprintf(&b, " → body at %.1f ms", r.FirstByteMS)
		}
		b.WriteString("\n")
		for i, eh := range r.EarlyHints {
			fmt.Fprintf(&b, "    103 #%d:", i+1)
			if len(eh.Links) == 0 {
				b.WriteString(" no Link")
			}
			b.WriteString("\n")
			for _, l := range eh.Links {
				fmt.Fprintf(&b, "      %s\n", l)
			}
		}
		if r.AltSvc != "" {
			fmt.Fprintf(&b, "    Alt-Svc: %s\n", r.AltSvc)
		}
		if r.Advertised != nil {
			yes := map[bool]string{true: "yes", false: "no"}[*r.Advertised]
			fmt.Fprintf(&b, "    advertised by Alt-Svc: %s\n", yes)
		}
		if r.Location != "" {
			fmt.Fprintf(&b, "    Location: %s\n", r.Location)
		}
	}
	b.WriteString("\n")
	if len(rep.Findings) == 0 {
		b.WriteString(paint("32", "No findings.") + "\n")
	} else {
		fmt.Fprintf(&b, "Findings: %d error, %d warn, %d info\n", rep.Count(SeverityError), rep.Count(SeverityWarn), rep.Count(SeverityInfo))
	}
	for _, g := range groupFindings(rep.Findings) {
		f := g.Finding
		sev := fmt.Sprintf("%-5s", f.Severity)
		switch f.Severity {
		case SeverityError:
			sev = paint("31;1", sev)
		case SeverityWarn:
			sev = paint("33", sev)
		default:
			sev = paint("36", sev)
		}
		proto := strings.Join(g.protos, ",")
		if proto == "" {
			proto = "--"
		}
		fmt.Fprintf(&b, "  %s %s %s", sev, proto, paint("1", f.Code))
		if f.Link != "" {
			fmt.Fprintf(&b, "  %s", f.Link)
		}
		fmt.Fprintf(&b, "\n        %s\n", f.Message)
	}
	for _, br := range rep.Browser {
		writeBrowser(&b, br)
	}
	if rep.Learn != nil {
		writeLearned(&b, rep.Learn)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeBrowser(b *strings.Builder, br BrowserResult) {
	name := br.Browser
	if name == "" {
		name = "Chromium"
	}
	fmt.Fprintf(b, "\n%s over %s:", name, br.Proto)
	if br.Error != "" {
		fmt.Fprintf(b, " failed: %s\n", br.Error)
		return
	}
	fmt.Fprintf(b, " FCP %.0f ms, LCP %.0f ms", br.FCPMS, br.LCPMS)
	switch {
	case br.ErrorWithout != "":
		fmt.Fprintf(b, " (without the 103's files early: not measured, the visit failed: %s)", br.ErrorWithout)
	case br.FCPWithoutMS > 0:
		fmt.Fprintf(b, " (without the 103's files early: FCP %.0f ms, LCP %.0f ms)", br.FCPWithoutMS, br.LCPWithoutMS)
	}
	b.WriteString("\n")
	for _, f := range br.Files {
		fmt.Fprintf(b, "    %-12s %s\n", f.Initiator, f.URL)
	}
}

// group is one finding seen alike over several protocols.
type group struct {
	Finding
	protos []string
}

// groupFindings merges findings that differ only in their protocol, so
// that one defect served over h1, h2 and h3 reads as one line; the order
// of first appearance is kept.
func groupFindings(fs []Finding) []group {
	var out []group
	index := map[Finding]int{}
	for _, f := range fs {
		key := f
		key.Proto = ""
		if i, ok := index[key]; ok {
			out[i].protos = append(out[i].protos, f.Proto)
			continue
		}
		index[key] = len(out)
		g := group{Finding: f}
		if f.Proto != "" {
			g.protos = []string{f.Proto}
		}
		out = append(out, g)
	}
	return out
}

// writeLearned writes what the proxy would learn and hint (check --learn).
func writeLearned(b *strings.Builder, l *Learned) {
	fmt.Fprintf(b, "\nThe proxy would learn from the %s response and send on the next navigation:\n", l.Proto)
	if len(l.Hints) == 0 {
		b.WriteString("    no 103: nothing in the response or its head that a 103 may name\n")
	} else {
		fmt.Fprintf(b, "    103 with %d links, %d bytes of Link:\n", len(l.Hints), l.Bytes)
		for _, h := range l.Hints {
			fmt.Fprintf(b, "      %s\n", h)
		}
	}
	if l.Private {
		fmt.Fprintf(b, "    (a private response: its links are hinted once %d distinct visitors' responses name them)\n", learnVisitors)
	}
	if len(l.LeftOut) > 0 {
		fmt.Fprintf(b, "    left out (%d):\n", len(l.LeftOut))
		for _, lo := range l.LeftOut {
			fmt.Fprintf(b, "      %-10s %s\n", lo.Reason, lo.Link)
		}
	}
	if len(l.MissedBlocking) > 0 {
		fmt.Fprintf(b, "    the first render waited for %d files this 103 would not name:\n", len(l.MissedBlocking))
		for _, m := range l.MissedBlocking {
			fmt.Fprintf(b, "      %s\n", m)
		}
	}
}
