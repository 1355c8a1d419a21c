// Package inspect is the engine of "earlyhints check": it requests a page
// the way Chromium navigates to it, over HTTP/1.1, HTTP/2 and HTTP/3, records
// every informational response with its arrival time, the final headers and
// the start of the body, checks each hinted file, and reports what is wrong
// as findings with stable codes (see the README's "Checking a site").
//
// The rules of what Chromium accepts in a 103 are the root package's
// (AcceptedDestination, DroppedAttributes, HintFromLink, HopByHopFields and
// the default caps); the head is read by package scan, the Link fields by
// package linkheader. Every network step has a deadline, and every response
// is read within a bound, so a hostile or broken server yields a finding,
// never a hang.
package inspect
