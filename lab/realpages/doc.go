// Package realpages measures the product on real pages nobody here wrote:
// pages saved from news sites, blogs, shops and institutions (testdata,
// see testdata/README.md), each served from a stub origin behind the real
// product, taught by three visitors, and the fourth navigation's 103
// scored against what headless Chromium reports the page needs.
//
// The pieces:
//   - Corpus: the saved pages and the URL each was saved from.
//   - Origin: the stub origin. It serves a page's saved HTML at its
//     original URL after a think time, and every other URL of any host with
//     a plausible body for what the browser asked for (Sec-Fetch-Dest): valid
//     CSS, JavaScript, font bytes, a decodable image. It logs every request.
//   - Collect (truth.go): Chromium loads each page from the stub origin,
//     every host mapped to it (--host-resolver-rules), and records the
//     requests the origin saw (with the browser's Sec-Fetch-* and Referer),
//     the render-blocking files (Resource Timing renderBlockingStatus), the
//     LCP element's image and the fonts. That is a page's Truth, kept as a
//     golden file so the product can be scored without a browser.
//   - Run (product.go): the product as the command line assembles it
//     (proxy, hinting middleware, HTTPS server) in front of the stub origin;
//     three visitors from distinct networks (127.1.0.1, 127.2.0.1,
//     127.3.0.1) navigate to the page and fetch what Chromium fetched from
//     the page's host, with Chromium's request headers; a fourth
//     (127.4.0.1) navigates and its first 103 is recorded.
//   - Score (score.go): same-site critical recall, third-party coverage,
//     precision, per page, per category and pooled, with a reason guessed
//     for every miss.
package realpages
