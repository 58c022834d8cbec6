package iso

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"
)

// pcapStream writes one TCP connection, client to server, as a classic pcap
// file (Ethernet frames): the three-way handshake, then one segment per
// payload. It lets a test hand bytes read off a real socket to Wireshark
// without capture privileges; see TestTsharkDecodesEveryMessage for why.
type pcapStream struct {
	buf              bytes.Buffer
	client, server   netip.AddrPort
	clientSeq        uint32
	serverSeq        uint32
	clock            time.Time
	handshakeWritten bool
}

const (
	tcpSYN = 0x02
	tcpPSH = 0x08
	tcpACK = 0x10
)

func newPcapStream(client, server netip.AddrPort, start time.Time) *pcapStream {
	p := &pcapStream{client: client, server: server, clientSeq: 1000, serverSeq: 5000, clock: start}
	// Global header: magic (microsecond timestamps), version 2.4, zone 0,
	// sigfigs 0, snaplen, link type 1 (Ethernet).
	h := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
	h = binary.LittleEndian.AppendUint16(h, 2)
	h = binary.LittleEndian.AppendUint16(h, 4)
	for _, v := range []uint32{0, 0, 65535, 1} {
		h = binary.LittleEndian.AppendUint32(h, v)
	}
	p.buf.Write(h)
	return p
}

// Send writes one segment of payload from client to server, after the
// handshake the first time.
func (p *pcapStream) Send(payload []byte) {
	if !p.handshakeWritten {
		p.segment(p.client, p.server, p.clientSeq, 0, tcpSYN, nil)
		p.segment(p.server, p.client, p.serverSeq, p.clientSeq+1, tcpSYN|tcpACK, nil)
		p.clientSeq++
		p.serverSeq++
		p.segment(p.client, p.server, p.clientSeq, p.serverSeq, tcpACK, nil)
		p.handshakeWritten = true
	}
	p.segment(p.client, p.server, p.clientSeq, p.serverSeq, tcpPSH|tcpACK, payload)
	p.clientSeq += uint32(len(payload))
	p.segment(p.server, p.client, p.serverSeq, p.clientSeq, tcpACK, nil)
}

// Bytes returns the file.
func (p *pcapStream) Bytes() []byte { return p.buf.Bytes() }

func (p *pcapStream) segment(from, to netip.AddrPort, seq, ack uint32, flags byte, payload []byte) {
	tcp := make([]byte, 20, 20+len(payload))
	binary.BigEndian.PutUint16(tcp[0:], from.Port())
	binary.BigEndian.PutUint16(tcp[2:], to.Port())
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12] = 5 << 4 // data offset: 5 words, no options
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	tcp = append(tcp, payload...)

	src, dst := from.Addr().As4(), to.Addr().As4()
	pseudo := make([]byte, 0, 12+len(tcp))
	pseudo = append(pseudo, src[:]...)
	pseudo = append(pseudo, dst[:]...)
	pseudo = append(pseudo, 0, 6)
	pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(tcp)))
	binary.BigEndian.PutUint16(tcp[16:], inetChecksum(append(pseudo, tcp...)))

	ip := make([]byte, 20)
	ip[0] = 0x45 // IPv4, 5-word header
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(tcp)))
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // don't fragment
	ip[8] = 64                                 // TTL
	ip[9] = 6                                  // TCP
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	binary.BigEndian.PutUint16(ip[10:], inetChecksum(ip))

	frame := make([]byte, 12, 14+len(ip)+len(tcp)) // zero MAC addresses
	frame = append(frame, 0x08, 0x00)              // IPv4
	frame = append(frame, ip...)
	frame = append(frame, tcp...)

	p.clock = p.clock.Add(time.Millisecond)
	var rec []byte
	for _, v := range []uint32{uint32(p.clock.Unix()), uint32(p.clock.Nanosecond() / 1000), uint32(len(frame)), uint32(len(frame))} {
		rec = binary.LittleEndian.AppendUint32(rec, v)
	}
	p.buf.Write(rec)
	p.buf.Write(frame)
}

// inetChecksum is the Internet checksum (RFC 1071) of b.
func inetChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
