// Package links owns Tulpar's ISO 8583 connections to partner banks: one
// Link per bank, over TCP, in the bank's dialect, on top of
// moov-io/iso8583-connection.
//
// A link either dials the bank (addresses tried in order, a pool of
// connections) or listens for the bank to dial in. Every connection signs
// on with an 0800/001 before it carries traffic, echoes (0800/301) when
// nothing was written for the echo interval, and is declared dead when
// echoes fail, nothing is read for the read timeout, or the socket dies;
// the link then reconnects with capped exponential backoff and signs on
// again. A frame it cannot read (a length header that is no number or
// says more than the dialect allows, a body that does not follow its
// header, bytes that are no message) drops the connection at once, since
// the stream can no longer be trusted to be in step: the link is not
// ready until it has reconnected and signed on, and
// tulpar_link_frame_errors_total{link,reason} and a warning naming the
// reason (never the frame's bytes) say why. A zero length header is a
// keep-alive. The link answers the bank's own 0800s (sign-on, sign-off,
// echo, key change through a KeyImporter).
//
// Send is the one way a request reaches a bank. Its error tells the two
// outcomes apart that a switch must never confuse: ErrNotSent (the bank
// never saw the request: route it elsewhere) and ErrNoReply (the bank may
// have acted on it: reverse). Responses are matched on the link's match
// key (Config.MatchKey, iso.Matcher), never on the STAN alone: by default
// MTI class, STAN and terminal, what every host echoes, with DE32 compared
// only when the answer carries it, since many hosts do not echo it. Two
// requests with one key are never in flight together on a link (the
// second is not sent), so what the key leaves out cannot cross answers.
// Responses nobody waits for, late or unsolicited, go to
// Deps.OnUnsolicited (the journal) and never to another caller.
//
// With MACs enabled, every message out carries a MAC from the MACer (the
// hsm) and every message in is checked; a response with a bad MAC is
// treated as no reply.
//
// What this package must never do: decide about payments (it returns
// whatever DE39 the bank sent), retry a request on its own (a retry is a
// duplicate charge unless the caller made it a repeat), log a message
// except through iso's log-safe marshaller, or put message bytes in an
// error.
package links
