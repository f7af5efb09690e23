package codec_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/telehealth/sessions/internal/codec"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, codec.KeySize) }

func mustCodec(t *testing.T, keys map[string][]byte, current string) *codec.Codec {
	t.Helper()
	c, err := codec.New(keys, current)
	require.NoError(t, err)
	return c
}

func payload(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	require.NoError(t, err)
	return p
}

func TestEncodeHidesTheValueAndDecodeRestoresIt(t *testing.T) {
	c := mustCodec(t, map[string][]byte{"k1": key(1)}, "k1")
	in := payload(t, "sarah.johnson@example.com")

	enc, err := c.Encode([]*commonpb.Payload{in})
	require.NoError(t, err)
	assert.Equal(t, "binary/encrypted", string(enc[0].Metadata["encoding"]))
	assert.Equal(t, "k1", string(enc[0].Metadata["encryption-key-id"]))
	assert.NotContains(t, string(enc[0].Data), "sarah")

	dec, err := c.Decode(enc)
	require.NoError(t, err)
	var got string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(dec[0], &got))
	assert.Equal(t, "sarah.johnson@example.com", got)
}

func TestTwoEncodingsOfOneValueDiffer(t *testing.T) {
	c := mustCodec(t, map[string][]byte{"k1": key(1)}, "k1")
	p := payload(t, "same")
	a, _ := c.Encode([]*commonpb.Payload{p})
	b, _ := c.Encode([]*commonpb.Payload{p})
	assert.NotEqual(t, a[0].Data, b[0].Data, "nonces must differ")
}

func TestPlaintextPayloadsPassThrough(t *testing.T) {
	c := mustCodec(t, map[string][]byte{"k1": key(1)}, "k1")
	plain := payload(t, map[string]string{"recorded": "before encryption"})
	dec, err := c.Decode([]*commonpb.Payload{plain})
	require.NoError(t, err)
	assert.Same(t, plain, dec[0])
}

func TestRotationOldKeyStillOpensNewKeySeals(t *testing.T) {
	old := mustCodec(t, map[string][]byte{"2025": key(1)}, "2025")
	sealed, err := old.Encode([]*commonpb.Payload{payload(t, "x")})
	require.NoError(t, err)

	rotated := mustCodec(t, map[string][]byte{"2025": key(1), "2026": key(2)}, "2026")
	_, err = rotated.Decode(sealed)
	require.NoError(t, err)
	fresh, err := rotated.Encode([]*commonpb.Payload{payload(t, "y")})
	require.NoError(t, err)
	assert.Equal(t, "2026", string(fresh[0].Metadata["encryption-key-id"]))

	// The old process cannot read what the new key sealed.
	_, err = old.Decode(fresh)
	assert.ErrorIs(t, err, codec.ErrUnknownKey)
}

func TestTamperingAndKeySwapsAreRefused(t *testing.T) {
	c := mustCodec(t, map[string][]byte{"a": key(1), "b": key(1)}, "a")
	sealed, err := c.Encode([]*commonpb.Payload{payload(t, "x")})
	require.NoError(t, err)

	flipped := &commonpb.Payload{Metadata: sealed[0].Metadata, Data: bytes.Clone(sealed[0].Data)}
	flipped.Data[len(flipped.Data)-1] ^= 1
	_, err = c.Decode([]*commonpb.Payload{flipped})
	assert.Error(t, err)

	// Same key bytes under another id: the id is bound to the ciphertext.
	swapped := &commonpb.Payload{Data: sealed[0].Data, Metadata: map[string][]byte{
		"encoding": []byte("binary/encrypted"), "encryption-key-id": []byte("b")}}
	_, err = c.Decode([]*commonpb.Payload{swapped})
	assert.Error(t, err)

	short := &commonpb.Payload{Data: []byte{1}, Metadata: sealed[0].Metadata}
	_, err = c.Decode([]*commonpb.Payload{short})
	assert.Error(t, err)
}

func TestNewRefusesBadKeys(t *testing.T) {
	_, err := codec.New(map[string][]byte{"a": key(1)}, "b")
	assert.Error(t, err)
	_, err = codec.New(map[string][]byte{"a": make([]byte, 16)}, "a")
	assert.Error(t, err)
}

func TestParseKeysReportsEveryProblemWithoutValues(t *testing.T) {
	good, err := codec.NewKey("good")
	require.NoError(t, err)
	keys, err := codec.ParseKeys(good + ",short:c2hvcnQ=,nocolon,good:" +
		strings.SplitN(good, ":", 2)[1])
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, `key "short" is not 32 bytes`)
	assert.Contains(t, msg, "entry 3 is not id:base64-key")
	assert.Contains(t, msg, `key "good" is given twice`)
	assert.NotContains(t, msg, "c2hvcnQ=")
	assert.Len(t, keys, 1)

	_, err = codec.ParseKeys(" , ")
	assert.Error(t, err)
}

func TestLocalKeyIsCreatedOnceAndShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", codec.LocalKeyFile)
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			c, err := codec.LoadOrCreateLocal(path)
			if assert.NoError(t, err) {
				ids[i] = c.CurrentKeyID()
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		assert.Equal(t, ids[0], id)
	}
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	// Appending an entry rotates: the new one seals, the old one still opens.
	first, err := codec.LoadOrCreateLocal(path)
	require.NoError(t, err)
	sealed, err := first.Encode([]*commonpb.Payload{payload(t, "x")})
	require.NoError(t, err)
	entry, err := codec.NewKey("next")
	require.NoError(t, err)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(entry + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	second, err := codec.LoadOrCreateLocal(path)
	require.NoError(t, err)
	assert.Equal(t, "next", second.CurrentKeyID())
	_, err = second.Decode(sealed)
	assert.NoError(t, err)
}

func TestServerDecodesForTheUIOriginOnlyAndChecksAuth(t *testing.T) {
	c := mustCodec(t, map[string][]byte{"k1": key(1)}, "k1")
	srv := httptest.NewServer(codec.Server(c, codec.ServerOptions{
		Origins:   []string{"http://127.0.0.1:8233"},
		Authorize: func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer ok" },
	}))
	t.Cleanup(srv.Close)

	sealed, err := c.Encode([]*commonpb.Payload{payload(t, "Sarah Johnson")})
	require.NoError(t, err)
	body, err := json.Marshal(map[string]any{"payloads": []any{map[string]any{
		"metadata": map[string][]byte{
			"encoding":          sealed[0].Metadata["encoding"],
			"encryption-key-id": sealed[0].Metadata["encryption-key-id"],
		},
		"data": sealed[0].Data,
	}}})
	require.NoError(t, err)

	post := func(auth, origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/codec/decode", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Namespace", "default")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	resp := post("Bearer ok", "http://127.0.0.1:8233")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "http://127.0.0.1:8233", resp.Header.Get("Access-Control-Allow-Origin"))
	var out struct {
		Payloads []struct{ Data []byte } `json:"payloads"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	assert.Equal(t, `"Sarah Johnson"`, string(out.Payloads[0].Data))

	assert.Equal(t, http.StatusUnauthorized, post("", "").StatusCode)
	assert.Equal(t, http.StatusUnauthorized, post("Bearer wrong", "").StatusCode)
	other := post("Bearer ok", "https://evil.example")
	assert.Empty(t, other.Header.Get("Access-Control-Allow-Origin"))

	// The UI's preflight.
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/codec/decode", nil)
	req.Header.Set("Origin", "http://127.0.0.1:8233")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace")
	pre, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	pre.Body.Close()
	assert.Equal(t, "http://127.0.0.1:8233", pre.Header.Get("Access-Control-Allow-Origin"))
}

// BenchmarkSealAndOpen measures one session-input-sized payload through Encode and
// Decode: the codec's cost on every Temporal call.
func BenchmarkSealAndOpen(b *testing.B) {
	c, err := codec.New(map[string][]byte{"k1": key(1)}, "k1")
	if err != nil {
		b.Fatal(err)
	}
	p, err := converter.GetDefaultDataConverter().ToPayload(map[string]string{
		"patientEmail": "sarah.johnson@example.com", "patientName": "Sarah Johnson",
		"notes": strings.Repeat("x", 1500),
	})
	if err != nil {
		b.Fatal(err)
	}
	in := []*commonpb.Payload{p}
	b.SetBytes(int64(len(p.Data)))
	for b.Loop() {
		sealed, err := c.Encode(in)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Decode(sealed); err != nil {
			b.Fatal(err)
		}
	}
}
