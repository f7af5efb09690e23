package codec_test

import (
	"bytes"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/proto"

	"github.com/telehealth/sessions/internal/codec"
)

func fuzzCodec(f *testing.F) *codec.Codec {
	c, err := codec.New(map[string][]byte{
		"old": bytes.Repeat([]byte{1}, codec.KeySize),
		"new": bytes.Repeat([]byte{2}, codec.KeySize),
	}, "new")
	if err != nil {
		f.Fatal(err)
	}
	return c
}

// FuzzRoundTrip checks that any payload comes back whole from Encode and Decode, and
// that the sealed form never holds its data in clear.
func FuzzRoundTrip(f *testing.F) {
	f.Add("json/plain", []byte(`{"patientEmail":"sarah.johnson@example.com"}`))
	f.Add("", []byte{})
	f.Add("binary/encrypted", []byte("\x00\x01not really"))
	c := fuzzCodec(f)
	f.Fuzz(func(t *testing.T, encoding string, data []byte) {
		in := &commonpb.Payload{
			Metadata: map[string][]byte{"encoding": []byte(encoding)},
			Data:     data,
		}
		sealed, err := c.Encode([]*commonpb.Payload{in})
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		if len(data) >= 8 && bytes.Contains(sealed[0].Data, data) {
			t.Fatalf("sealed payload holds its data in clear")
		}
		opened, err := c.Decode(sealed)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if !proto.Equal(in, opened[0]) {
			t.Fatalf("round trip changed the payload: %v -> %v", in, opened[0])
		}
	})
}

// FuzzDecode feeds arbitrary sealed-looking payloads to Decode: an error or a payload,
// never a panic, and never a payload but the one payload ever sealed (the seed's).
func FuzzDecode(f *testing.F) {
	c := fuzzCodec(f)
	good, _ := c.Encode([]*commonpb.Payload{{Data: []byte("x")}})
	f.Add("new", good[0].Data)
	f.Add("old", good[0].Data)
	f.Add("missing", []byte{})
	f.Add("new", make([]byte, 11))
	f.Fuzz(func(t *testing.T, keyID string, data []byte) {
		p := &commonpb.Payload{Metadata: map[string][]byte{
			codec.MetadataEncoding: []byte(codec.EncodingEncrypted),
			codec.MetadataKeyID:    []byte(keyID),
		}, Data: data}
		out, err := c.Decode([]*commonpb.Payload{p})
		if err == nil && (keyID != "new" || string(out[0].GetData()) != "x") {
			t.Fatalf("Decode opened bytes no key sealed: %v", out)
		}
	})
}
