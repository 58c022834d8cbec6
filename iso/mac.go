package iso

import (
	"errors"
	"fmt"

	"github.com/moov-io/iso8583"
)

// macLen is the MAC length in bytes in every dialect (DE64/DE128 b 64).
const macLen = 8

// ErrBadMAC is returned by VerifyMAC when the MAC does not match.
var ErrBadMAC = errors.New("iso: MAC verification failed")

// macFieldOf returns the field that carries the MAC of im: 128 when the
// message has a secondary bitmap, 64 otherwise. The MAC is the last field.
func macFieldOf(im *iso8583.Message) int {
	for id := range im.GetFields() {
		if id > 64 && id != 128 {
			return 128
		}
	}
	return 64
}

// macInput packs im with the MAC field present and returns the bytes the
// MAC covers: everything before the MAC field's own bytes.
func macInput(im *iso8583.Message) ([]byte, int, error) {
	id := macFieldOf(im)
	// Another MAC field may linger from a request echoed into a response.
	im.UnsetField(192 - id) // 64 <-> 128
	if f := im.GetField(id); f == nil {
		if err := im.BinaryField(id, make([]byte, macLen)); err != nil {
			return nil, 0, fmt.Errorf("iso: MAC field DE%d: %w", id, err)
		}
	}
	packed, err := im.Pack()
	if err != nil {
		return nil, 0, fmt.Errorf("iso: MAC input: %s", scrub(err.Error()))
	}
	fieldBytes, err := im.GetField(id).Pack()
	if err != nil {
		return nil, 0, fmt.Errorf("iso: MAC field DE%d: %w", id, err)
	}
	return packed[:len(packed)-len(fieldBytes)], id, nil
}

// SignMAC sets the MAC of im to gen(data), where data is the message as
// packed up to the MAC field. Packing is deterministic, so the bank's
// unpack-and-repack sees the same bytes.
func SignMAC(im *iso8583.Message, gen func(data []byte) ([]byte, error)) error {
	data, id, err := macInput(im)
	if err != nil {
		return err
	}
	mac, err := gen(data)
	if err != nil {
		return fmt.Errorf("iso: MAC DE%d: %w", id, err)
	}
	if len(mac) != macLen {
		return fmt.Errorf("iso: MAC DE%d: generator returned %d bytes, want %d", id, len(mac), macLen)
	}
	return im.BinaryField(id, mac)
}

// VerifyMAC checks the MAC of a received message with check(data, mac).
// A message without a MAC fails: a link that requires MACs accepts none
// without one.
func VerifyMAC(im *iso8583.Message, check func(data, mac []byte) error) error {
	id := macFieldOf(im)
	f := im.GetField(id)
	if f == nil {
		return fmt.Errorf("%w: DE%d absent", ErrBadMAC, id)
	}
	got, err := f.Bytes()
	if err != nil {
		return fmt.Errorf("%w: DE%d: %v", ErrBadMAC, id, err)
	}
	got = append([]byte(nil), got...)
	data, _, err := macInput(im)
	if err != nil {
		return err
	}
	if err := check(data, got); err != nil {
		return fmt.Errorf("%w: DE%d: %v", ErrBadMAC, id, err)
	}
	return nil
}
