package codec

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ParseKeys reads PAYLOAD_KEYS: comma-separated id:key entries, each key 32 bytes in
// standard or URL-safe base64. Every problem is reported, never a key's value.
func ParseKeys(spec string) (map[string][]byte, error) {
	keys := map[string][]byte{}
	var errs []error
	for i, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		id, enc, ok := strings.Cut(entry, ":")
		id = strings.TrimSpace(id)
		if !ok || id == "" {
			errs = append(errs, fmt.Errorf("entry %d is not id:base64-key", i+1))
			continue
		}
		key, err := decodeKey(strings.TrimSpace(enc))
		if err != nil || len(key) != KeySize {
			errs = append(errs,
				fmt.Errorf("key %q is not %d bytes of base64", id, KeySize))
			continue
		}
		if _, dup := keys[id]; dup {
			errs = append(errs, fmt.Errorf("key %q is given twice", id))
			continue
		}
		keys[id] = key
	}
	if len(keys) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("no keys"))
	}
	return keys, errors.Join(errs...)
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding,
	} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// NewKey returns a fresh random key entry, id:base64-key, for PAYLOAD_KEYS.
func NewKey(id string) (string, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("codec: new key: %w", err)
	}
	return id + ":" + base64.StdEncoding.EncodeToString(key), nil
}

// LocalKeyFile is the file, under the data folder, of the embedded default's key.
const LocalKeyFile = "payload-keys"

// LoadOrCreateLocal returns the codec of the embedded default: the key entries kept in
// path, created with one fresh key the first time, readable by this user only. The
// last entry is the current key, so appending an entry rotates. Two processes starting
// together agree on one key: the file appears whole, and only once.
func LoadOrCreateLocal(path string) (*Codec, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("codec: key folder: %w", err)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := createLocal(path); err != nil {
			return nil, err
		}
	}
	return readLocal(path)
}

// createLocal writes a fresh key to a temporary file and links it into place, which
// fails if another process got there first: then that one's key is used.
func createLocal(path string) error {
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return fmt.Errorf("codec: new key: %w", err)
	}
	entry, err := NewKey("local-" + hex.EncodeToString(suffix))
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".payload-key-*")
	if err != nil {
		return fmt.Errorf("codec: write local key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(entry + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("codec: write local key: %w", err)
	}
	return nil
}

func readLocal(path string) (*Codec, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("codec: read local key: %w", err)
	}
	lines := strings.Fields(string(raw))
	if len(lines) == 0 {
		return nil, fmt.Errorf("codec: %s holds no key", path)
	}
	keys, err := ParseKeys(strings.Join(lines, ","))
	if err != nil {
		return nil, fmt.Errorf("codec: %s: %w", path, err)
	}
	current, _, _ := strings.Cut(lines[len(lines)-1], ":")
	return New(keys, current)
}
