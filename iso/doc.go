// Package iso is Tulpar's ISO 8583 message layer: typed messages for every
// exchange the switch has with a partner bank, packed and unpacked through a
// dialect from package specs on top of moov-io/iso8583.
//
// It owns the MTIs, processing and network-management codes, the DE39
// response-code table, STAN and RRN generation, the key that matches a
// response to its request, the length headers, the log-safe description of a
// message, and the card-number helpers: Luhn, ValidPAN and MaskPAN, which
// every package that checks or shows a PAN uses instead of a copy of its own.
// Which brand a card is belongs to routing (routing.BrandOf), not here.
//
// It never touches sockets, disks or HTTP, and a full PAN, CVV2, CAVV, track
// data or key never leaves it in an error or a log line: Describe and the
// zerolog marshaller are the only ways a message reaches a log.
package iso
