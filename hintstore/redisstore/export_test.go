package redisstore

// Prefix returns the key prefix the store writes under, for tests that
// inspect Redis.
func (s *Store) Prefix() string { return s.prefix }
