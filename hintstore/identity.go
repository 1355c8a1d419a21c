package hintstore

import (
	"context"
	"crypto/sha1" //nolint:gosec // G505: an identifier that Redis's Lua (redis.sha1hex) computes alike, not a secret
	"encoding/hex"
	"time"
)

// KeyID names an identity key without revealing it, for Requester.Key:
// the first 16 hex digits of the SHA-1 of the key's hex form (a shared
// store computes the same inside its server).
func KeyID(key []byte) string {
	sum := sha1.Sum([]byte(hex.EncodeToString(key))) //nolint:gosec // G401: names the key, protects nothing
	return hex.EncodeToString(sum[:8])
}

type readStartKey struct{}

// WithReadStart marks ctx as serving a request that started at start. A
// store that asks a server on the request path (such as the Redis store)
// counts its read timeout from start, so that all the reads one request
// makes (a route, its variant, the links browsers were seen to fetch)
// wait on the server at most that long together; once it is spent, a
// read returns a miss with an error wrapping context.DeadlineExceeded at
// once. The memory store ignores it.
func WithReadStart(ctx context.Context, start time.Time) context.Context {
	return context.WithValue(ctx, readStartKey{}, start)
}

// ReadStart returns the time WithReadStart marked ctx with.
func ReadStart(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(readStartKey{}).(time.Time)
	return t, ok
}
