// Package site is the origin under test of the lab: a deterministic synthetic
// web site built from a page Profile, or the replay of a real page captured
// as a HAR file, served by one http.Handler.
//
// Every body is generated from (profile name, path) with a seeded ChaCha8
// generator, so sizes are exact and a run on one machine serves the same
// bytes as a run on another: stylesheets and scripts are comments of
// incompressible-ish characters around the references they must carry
// (@font-face, import, fetch), fonts carry a WOFF2 header, images are real
// 1×1 PNG/JPEG/GIF files padded with ancillary chunks or comments. Each
// response has a strong ETag (a content hash) and a Cache-Control header:
// no-cache for the document, immutable for assets unless the resource says
// otherwise. If-None-Match is honoured with 304.
//
// The document waits for the server think time before its first byte;
// assets are served at once (a HAR replay applies each entry's own wait).
// The strategy knobs in Options add <link rel=preload> tags to the head (the
// "preload" strategy) or Link: rel=preload headers on the 200 (what the
// Early Hints proxy learns from).
//
// # Hosts
//
// A profile's third-party resources, and a HAR capture's entries on other
// hosts, are served by the same handler. A request is routed to a
// third-party resource when its Host header names that resource's host
// (resolve every host of the page to the lab listener, e.g. with a dialer
// that ignores the address), or when its path is
// /_3p/{host}/{path} (ThirdPartyPrefix), for clients that cannot choose the
// Host header. Any other request is looked up among the first-party paths,
// whatever its Host, so the site works behind a proxy that rewrites Host.
//
// The Site keeps a request log with monotonic timestamps, which the lab joins
// with the browser's timings.
package site
