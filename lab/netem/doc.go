// Package netem emulates network links for the lab: one-way delay, jitter,
// bandwidth, a drop-tail queue, random and burst (Gilbert-Elliott) loss, and
// mahimahi-style trace-driven links, per direction.
//
// The core is [Link], which moves byte slices (IP packets, TCP segments or UDP
// datagrams) from a sender to an output function at the time the model says
// they arrive. A Link is driven by one goroutine that sleeps with nanosecond
// timer slack, so delivery is typically within a few tens of microseconds of
// the scheduled time without spinning.
//
// Two ways to put a Link between a client and a server:
//
//   - Packet mode ([NewPacketNet], Linux, root): two network namespaces, one for
//     the client and one for the server, each with a TUN device on a private /30
//     used only inside them. IP packets read from one TUN are written to the other
//     through the Link of that direction, so TCP and QUIC congestion control see
//     real delay, loss and bandwidth. Close removes the namespaces and devices;
//     [SweepStale] removes what a crashed run left behind.
//   - Relay mode ([NewRelay], no privileges): a TCP or UDP relay on loopback
//     that applies the Link per segment or datagram. It is an approximation: the
//     relay terminates TCP, so the emulated path has no slow start of its own and
//     a lost TCP segment becomes added delay (about one round trip, like a fast
//     retransmit) rather than a drop the endpoints must recover from. UDP loss is
//     a real drop.
//
// Randomness (loss, jitter) comes from a seeded generator, so a run with the
// same seed and the same packet arrivals makes the same decisions.
package netem
