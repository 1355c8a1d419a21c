// Package linkheader parses and formats RFC 8288 Link header field values.
//
// Parsing is lenient per link and strict per character: a malformed link is
// reported on its own and never drops the well-formed links beside it.
// Formatting never emits CR, LF, NUL or an unbalanced quote, whatever the
// input, so a formatted value is always safe to put in a header.
package linkheader

// Link is one link of a Link field value.
type Link struct {
	// URI is the target as written between < and >, unresolved.
	URI string
	// Rel holds the relation types, lower-cased, in the order given.
	Rel []string
	// Params holds every other parameter in the order given; keys are
	// lower-cased, values unquoted. A parameter without a value (e.g.
	// "crossorigin" or "nopush") has an empty Value.
	Params []Param
}

// Param is one target attribute of a Link.
type Param struct {
	Key   string
	Value string
}

// Parse parses one or more Link field values. Each malformed link yields an
// error in errs and is skipped; the others are returned in order.
func Parse(values ...string) (links []Link, errs []error) { panic("todo") }

// Format joins links into one field value.
func Format(links ...Link) string { panic("todo") }

// String formats l as a field value; it never contains CR, LF or NUL.
func (l Link) String() string { panic("todo") }

// Param returns the value of the parameter key (case-insensitive).
func (l Link) Param(key string) (value string, ok bool) { panic("todo") }

// HasRel reports whether l has the relation type rel (case-insensitive).
func (l Link) HasRel(rel string) bool { panic("todo") }
