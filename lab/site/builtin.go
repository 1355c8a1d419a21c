package site

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// The built-in profiles are modelled on the shapes of real pages, scaled to
// 0.6–1 MB so that a lab run on a 3G link stays short. The proportions
// follow the HTTP Archive Web Almanac (2022 and 2024 "Page Weight" and
// "JavaScript" chapters: a median mobile page of about 2 MB over about 70
// requests, JavaScript and images the heaviest types, CSS and fonts on the
// critical path); the request counts are lower than the median because the
// long tail of small third-party requests adds little to the critical path
// that the lab measures. Third-party origins use the reserved .example TLD.

// newsArticle is a news article: a large server-rendered document with
// inline critical CSS, two stylesheets, two web fonts reached only through
// @font-face, a synchronous consent-manager script, ad and analytics tags,
// a hero image and images further down the text.
func newsArticle() *Profile {
	const (
		cmp = "https://cmp.consent.example"
		ads = "https://ads.adnetwork.example"
		ana = "https://www.analytics.example"
	)
	return &Profile{
		Name: "news-article",
		Source: "news article shape: HTTP Archive Web Almanac 2022/2024 Page Weight (median mobile page ≈ 2 MB, ≈ 70 requests), " +
			"scaled to ≈ 0.93 MB in 17 requests; big server-rendered HTML with inline critical CSS, render-blocking " +
			"consent manager, ad and analytics tags, web fonts via @font-face, hero image",
		HTMLSize:       100_000,
		HeadInlineSize: 14_000,
		Think:          200 * time.Millisecond,
		Preconnect:     []string{ads},
		Resources: []Resource{
			{Path: "/assets/main.4f1c2a.css", Type: TypeCSS, Size: 62_000, RenderBlocking: true, Where: WhereHead},
			{Path: "/assets/article.9b2e71.css", Type: TypeCSS, Size: 18_000, RenderBlocking: true, Where: WhereHead},
			{Path: "/assets/fonts/serif-regular.3e1f.woff2", Type: TypeFont, Size: 31_000, Where: WhereCSS, From: "/assets/main.4f1c2a.css"},
			{Path: "/assets/fonts/sans-bold.a07c.woff2", Type: TypeFont, Size: 24_000, Where: WhereCSS, From: "/assets/main.4f1c2a.css"},
			{Path: "/cmp.js", ThirdParty: cmp, Type: TypeJS, Size: 45_000, RenderBlocking: true, Where: WhereHead, CacheControl: "public, max-age=3600"},
			{Path: "/assets/polyfills.2d7e09.js", Type: TypeJS, Size: 12_000, RenderBlocking: true, Where: WhereHead},
			{Path: "/assets/app.8a3f5c.js", Type: TypeJS, Size: 118_000, Defer: true, Where: WhereHead},
			{Path: "/tag.js", ThirdParty: ads, Type: TypeJS, Size: 88_000, Async: true, Where: WhereHead, CacheControl: "public, max-age=900"},
			{Path: "/analytics.js", ThirdParty: ana, Type: TypeJS, Size: 52_000, Async: true, Where: WhereHead, CacheControl: "public, max-age=7200"},
			{Path: "/img/logo.5d2a.svg", Type: TypeImage, ContentType: "image/svg+xml", Size: 6_000, Where: WhereBodyStart},
			{Path: "/img/hero-1280.b81e.jpg", Type: TypeImage, Size: 142_000, Where: WhereBodyStart, FetchPriority: "high"},
			{Path: "/img/inline-1-800.c2f0.jpg", Type: TypeImage, Size: 78_000, Where: WhereBodyMiddle},
			{Path: "/img/inline-2-800.19aa.jpg", Type: TypeImage, Size: 61_000, Where: WhereBodyEnd},
			{Path: "/assets/comments.c41d2e.js", Type: TypeJS, Size: 38_000, Async: true, Where: WhereBodyEnd},
			{Path: "/api/related.json", Type: TypeJSON, Size: 8_000, Where: WhereInjected, From: "/assets/app.8a3f5c.js", CacheControl: "public, max-age=60"},
			{Path: "/creative/300x250.jpg", ThirdParty: ads, Type: TypeImage, Size: 46_000, Where: WhereInjected, From: ads + "/tag.js", CacheControl: "public, max-age=86400"},
		},
	}
}

// storeProduct is an e-commerce product page: a personalised document
// (longer think time), theme and vendor stylesheets, a deferred JS bundle,
// a large main product image and a gallery, brand fonts, a payment button
// SDK the page preconnects to (as Shopify does for third parties) and
// analytics.
func storeProduct() *Profile {
	const (
		pay = "https://pay.payments.example"
		ana = "https://www.analytics.example"
	)
	return &Profile{
		Name: "store-product",
		Source: "store product page shape: HTTP Archive Web Almanac 2022/2024 Page Weight and Ecommerce chapters " +
			"(images the heaviest type, a theme JS bundle, payment and analytics third parties), scaled to ≈ 0.9 MB in 16 requests",
		HTMLSize:       56_000,
		HeadInlineSize: 6_000,
		Think:          350 * time.Millisecond,
		Preconnect:     []string{pay},
		Resources: []Resource{
			{Path: "/assets/theme.1e8b4d.css", Type: TypeCSS, Size: 72_000, RenderBlocking: true, Where: WhereHead},
			{Path: "/assets/vendor.77c0a3.css", Type: TypeCSS, Size: 14_000, RenderBlocking: true, Where: WhereHead},
			{Path: "/assets/fonts/brand-regular.0b3d.woff2", Type: TypeFont, Size: 22_000, Where: WhereCSS, From: "/assets/theme.1e8b4d.css"},
			{Path: "/assets/fonts/brand-bold.8e21.woff2", Type: TypeFont, Size: 21_000, Where: WhereCSS, From: "/assets/theme.1e8b4d.css"},
			{Path: "/assets/icons.6f2c.svg", Type: TypeImage, ContentType: "image/svg+xml", Size: 9_000, Where: WhereCSS, From: "/assets/theme.1e8b4d.css"},
			{Path: "/assets/vendor.3a91f0.js", Type: TypeJS, Size: 86_000, Defer: true, Where: WhereHead},
			{Path: "/assets/theme.c0e5b7.js", Type: TypeJS, Size: 142_000, Defer: true, Where: WhereHead},
			{Path: "/gtag.js", ThirdParty: ana, Type: TypeJS, Size: 78_000, Async: true, Where: WhereHead, CacheControl: "public, max-age=900"},
			{Path: "/products/sneaker-main-1200.jpg", Type: TypeImage, Size: 158_000, Where: WhereBodyStart, FetchPriority: "high"},
			{Path: "/products/sneaker-2-800.jpg", Type: TypeImage, Size: 58_000, Where: WhereBodyMiddle},
			{Path: "/products/sneaker-3-800.jpg", Type: TypeImage, Size: 54_000, Where: WhereBodyMiddle},
			{Path: "/products/sneaker-4-800.jpg", Type: TypeImage, Size: 49_000, Where: WhereBodyMiddle},
			{Path: "/sdk/v1/buy-button.js", ThirdParty: pay, Type: TypeJS, Size: 64_000, Async: true, Where: WhereBodyEnd, CacheControl: "public, max-age=3600"},
			{Path: "/api/reviews.json", Type: TypeJSON, Size: 12_000, Where: WhereInjected, From: "/assets/theme.c0e5b7.js", CacheControl: "no-cache"},
			{Path: "/api/recommendations.json", Type: TypeJSON, Size: 9_000, Where: WhereInjected, From: "/assets/theme.c0e5b7.js", CacheControl: "no-cache"},
		},
	}
}

// spaShell is a single-page application as a bundler (Vite, Rollup) emits
// it: a tiny HTML shell, one stylesheet, an entry module whose static
// import graph is two levels deep (discovered one round trip per level
// unless modulepreload flattens it), a font in the CSS, and data and the
// hero image fetched by the code once it runs. The shell carries no
// modulepreload of its own, so the preload strategy is what adds them.
func spaShell() *Profile {
	const ana = "https://www.analytics.example"
	return &Profile{
		Name: "spa-shell",
		Source: "SPA shell shape: a Vite/Rollup production build (index.html + hashed entry module, vendor and route chunks), " +
			"HTTP Archive Web Almanac 2024 JavaScript chapter (JS the heaviest critical type), ≈ 0.68 MB in 10 requests",
		HTMLSize: 2_400,
		Think:    40 * time.Millisecond,
		Resources: []Resource{
			{Path: "/assets/index-B2x9kQ.css", Type: TypeCSS, Size: 36_000, RenderBlocking: true, Where: WhereHead},
			{Path: "/assets/index-D4f8aL.js", Type: TypeModule, Size: 148_000, Where: WhereHead},
			{Path: "/assets/vendor-Cq1mZt.js", Type: TypeModule, Size: 196_000, Where: WhereImport, From: "/assets/index-D4f8aL.js"},
			{Path: "/assets/router-Bn3uXe.js", Type: TypeModule, Size: 28_000, Where: WhereImport, From: "/assets/index-D4f8aL.js"},
			{Path: "/assets/page-home-Df7hQw.js", Type: TypeModule, Size: 58_000, Where: WhereImport, From: "/assets/router-Bn3uXe.js"},
			{Path: "/assets/inter-var-Bx4tQ.woff2", Type: TypeFont, Size: 48_000, Where: WhereCSS, From: "/assets/index-B2x9kQ.css"},
			{Path: "/api/bootstrap.json", Type: TypeJSON, Size: 18_000, Where: WhereInjected, From: "/assets/index-D4f8aL.js", CacheControl: "no-cache"},
			{Path: "/img/hero-960.webp", Type: TypeImage, ContentType: "image/webp", Size: 88_000, Where: WhereInjected, From: "/assets/page-home-Df7hQw.js"},
			{Path: "/analytics.js", ThirdParty: ana, Type: TypeJS, Size: 52_000, Where: WhereInjected, From: "/assets/index-D4f8aL.js", CacheControl: "public, max-age=7200"},
		},
	}
}

// tiny is the smallest useful page, for tests: one stylesheet and one
// synchronous script (both render-blocking) and one image.
func tiny() *Profile {
	return &Profile{
		Name:     "tiny",
		Source:   "hand-made test page: 1 CSS, 1 JS, 1 image",
		HTMLSize: 2_000,
		Resources: []Resource{
			{Path: "/style.css", Type: TypeCSS, Size: 4_000, RenderBlocking: true, Where: WhereHead},
			{Path: "/app.js", Type: TypeJS, Size: 6_000, RenderBlocking: true, Where: WhereHead},
			{Path: "/hero.png", Type: TypeImage, ContentType: "image/png", Size: 10_000, Where: WhereBodyStart},
		},
	}
}

var builtins = map[string]func() *Profile{
	"news-article":  newsArticle,
	"store-product": storeProduct,
	"spa-shell":     spaShell,
	"tiny":          tiny,
}

// ProfileNames returns the names of the built-in profiles, sorted.
func ProfileNames() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ProfileByName returns a fresh copy of the built-in profile name.
func ProfileByName(name string) (*Profile, error) {
	f, ok := builtins[name]
	if !ok {
		return nil, fmt.Errorf("%w %q: use one of %s, or load a HAR file", ErrUnknownProfile, name, strings.Join(ProfileNames(), ", "))
	}
	return f(), nil
}
