// Package codec encrypts Temporal payloads with AES-256-GCM before they leave the
// process, so that the Temporal server stores only ciphertext: workflow inputs,
// results, signals, queries, and (through the failure converter) error messages and
// stack traces.
//
// Each encrypted payload names the key that sealed it in its metadata, so keys rotate
// without breaking running sessions: the current key seals, every configured key opens.
// Payloads without that metadata (histories recorded before encryption) pass through
// unchanged.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// Metadata keys and values of an encrypted payload.
const (
	// MetadataEncoding is Temporal's standard encoding key.
	MetadataEncoding = converter.MetadataEncoding
	// EncodingEncrypted marks a payload sealed by this codec.
	EncodingEncrypted = "binary/encrypted"
	// MetadataKeyID names the key that sealed the payload.
	MetadataKeyID = "encryption-key-id"
)

// KeySize is the size of an AES-256 key in bytes.
const KeySize = 32

// ErrUnknownKey is returned for a payload sealed with a key that is not configured.
var ErrUnknownKey = errors.New("codec: payload sealed with an unknown key")

// Codec is a converter.PayloadCodec that seals payloads with the current key and opens
// them with any configured key.
type Codec struct {
	current string
	aeads   map[string]cipher.AEAD
	derived map[string]map[string][]byte // purpose, key id: subkey
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a codec over keys (key id to 32-byte key) that seals with current.
func New(keys map[string][]byte, current string) (*Codec, error) {
	if _, ok := keys[current]; !ok {
		return nil, fmt.Errorf("codec: current key %q is not among the keys", current)
	}
	c := &Codec{current: current, aeads: map[string]cipher.AEAD{},
		derived: map[string]map[string][]byte{}}
	for id, key := range keys {
		if id == "" {
			return nil, errors.New("codec: empty key id")
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("codec: key %q is %d bytes, want %d", id, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", id, err)
		}
		c.aeads[id] = aead
		for _, purpose := range Purposes {
			sub, err := hkdf.Key(sha256.New, key, nil, "telehealth "+purpose, KeySize)
			if err != nil {
				return nil, fmt.Errorf("codec: derive key %q: %w", id, err)
			}
			if c.derived[purpose] == nil {
				c.derived[purpose] = map[string][]byte{}
			}
			c.derived[purpose][id] = sub
		}
	}
	return c, nil
}

// Purposes are the uses of the subkeys that Derived offers.
var Purposes = []string{PurposeLaunch}

// PurposeLaunch signs the providers' host launch links.
const PurposeLaunch = "launch-link v1"

// Derived returns, for one of Purposes, a subkey of every payload key (by key id),
// derived with HKDF-SHA256, so that one set of keys in custody serves every purpose and
// rotates together. The current key id is CurrentKeyID.
func (c *Codec) Derived(purpose string) map[string][]byte {
	return c.derived[purpose]
}

// CurrentKeyID is the id of the key that seals new payloads.
func (c *Codec) CurrentKeyID() string { return c.current }

// KeyIDs lists the configured key ids, sorted.
func (c *Codec) KeyIDs() []string {
	ids := make([]string, 0, len(c.aeads))
	for id := range c.aeads {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Encode seals each payload, metadata and all, with the current key. The key id is
// bound to the ciphertext as additional data, so it cannot be swapped.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.current]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := p.Marshal()
		if err != nil {
			return nil, fmt.Errorf("codec: marshal payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("codec: nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:    []byte(c.current),
			},
			Data: aead.Seal(nonce, nonce, plain, []byte(c.current)),
		}
	}
	return out, nil
}

// Decode opens each payload this codec sealed and passes any other through unchanged,
// so that histories recorded before encryption still replay.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
		}
		if len(p.GetData()) < aead.NonceSize() {
			return nil, errors.New("codec: payload too short")
		}
		nonce, sealed := p.Data[:aead.NonceSize()], p.Data[aead.NonceSize():]
		plain, err := aead.Open(nil, nonce, sealed, []byte(id))
		if err != nil {
			return nil, fmt.Errorf("codec: open payload with key %q: %w", id, err)
		}
		var decoded commonpb.Payload
		if err := decoded.Unmarshal(plain); err != nil {
			return nil, fmt.Errorf("codec: unmarshal payload: %w", err)
		}
		out[i] = &decoded
	}
	return out, nil
}

// DataConverter is the SDK's default converter with payloads sealed by c.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter encrypts failures' messages and stack traces with c: without it,
// an error's text would reach the history in clear.
func (c *Codec) FailureConverter() converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          c.DataConverter(),
		EncodeCommonAttributes: true,
	})
}
