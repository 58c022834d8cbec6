// Package bench is Tulpar's load engine: it drives a target under a closed
// or an open load model, records latencies in HDR histograms, and reports
// throughput, percentiles and errors as a table or JSON.
//
// It owns the measurement, not the system under test. A scenario is a
// [Target], a function that performs one operation and says what kind it
// was; the package ships the targets that need nothing of the switch: an
// ISO 8583 client over moov-io/iso8583-connection ([ISOClient]), the bare
// echo server that gives the reference limit ([EchoServer]), and the
// merchant-API mix over HTTP ([RBSMix]).
//
// [Execute] runs one [Config], `tulpar bench`'s flags: the reference first
// when asked, then the system under test, then the scenario, measured and
// reported. A system under test started in this process (`--self`) reaches
// the bench only as a [System], plain fields and functions that
// switch/demo fills in for the switch: so the switch's own link, journal
// and merchant API are measured without this package importing them.
//
// # Load models
//
// Closed loop ([Closed]): N clients, each issuing its next request when the
// previous one answers. It finds the peak rate; its latencies are service
// times, and they hide queueing (coordinated omission): a stalled system
// stops the clients from sending, so the stall is recorded once, not for
// every request that would have waited. Use it for throughput, not for
// latency claims.
//
// Open loop ([Open]): requests are due at fixed intended times t0 + i/rate,
// whatever the system does. Latency is measured from the intended time,
// not from when a worker got around to sending, so time spent queued
// behind a slow request counts: that is the coordinated-omission
// correction. A bounded pool of workers claims the requests in order; when
// every worker is busy, due requests wait (virtually) and their latency
// keeps growing. No ticker is involved: each worker computes the intended
// time of the request it claims.
//
// Warm-up: requests whose start (closed) or intended start (open) falls
// within the warm-up are run but not recorded.
//
// What it must never do: import anything under switch/ (DESIGN.md: the
// bench measures the switch from outside; a dependency test holds this).
package bench
