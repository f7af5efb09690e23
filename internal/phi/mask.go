package phi

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// stars replaces whatever a mask hides.
const stars = "***"

// MaskEmail masks the local part of an email address like an identifier (see MaskID)
// and keeps the domain, everything after the last @: john.doe@example.com becomes
// j***e@example.com, and a local part of at most two characters becomes ***. An address
// without @ becomes ***, and an empty one stays empty. MaskEmail keeps letter case:
// normalising the address is the caller's job.
func MaskEmail(email string) string {
	if email == "" {
		return ""
	}
	at := strings.LastIndex(email, "@")
	if at < 0 {
		return stars
	}
	local := MaskID(email[:at])
	if local == "" {
		local = stars
	}
	return local + email[at:]
}

// MaskName masks each part of a name down to its first letter: John Michael Doe becomes
// J*** M*** D***. Parts are separated by runs of Unicode white space; leading and
// trailing space is ignored. Hyphenated parts are masked piece by piece
// (O'Brien-González becomes O***-G***). A one-letter piece becomes ***, so it is never
// shown whole. An empty or all-space name gives "".
func MaskName(name string) string {
	parts := strings.Fields(name)
	for i, part := range parts {
		pieces := strings.Split(part, "-")
		for j, p := range pieces {
			pieces[j] = maskNamePiece(p)
		}
		parts[i] = strings.Join(pieces, "-")
	}
	return strings.Join(parts, " ")
}

func maskNamePiece(p string) string {
	first, size := utf8.DecodeRuneInString(p)
	switch {
	case p == "":
		return ""
	case size == len(p):
		return stars
	}
	return string(first) + stars
}

// MaskPhone shows only the last four digits of a phone number:
// +1 (555) 123-4567 becomes ***-***-4567. Only the ASCII digits count. A number with
// fewer than 7 digits is masked completely as ***, because four digits would be most of
// it. An empty number gives "".
func MaskPhone(phone string) string {
	if phone == "" {
		return ""
	}
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, phone)
	if len(digits) < 7 {
		return stars
	}
	return "***-***-" + digits[len(digits)-4:]
}

// MaskID masks one identifier down to its first and last characters: 12345 becomes
// 1***5. An identifier of one or two characters becomes ***. An empty one gives "".
// MaskID works on runes, so multi-byte characters and emoji are never split.
func MaskID(id string) string {
	if id == "" {
		return ""
	}
	first, n := utf8.DecodeRuneInString(id)
	last, m := utf8.DecodeLastRuneInString(id)
	if n+m >= len(id) {
		return stars
	}
	return string(first) + stars + string(last)
}

// digitRun is three or more decimal digits, in any script.
var digitRun = regexp.MustCompile(`\p{Nd}{3,}`)

// MaskDigitRuns masks, with MaskID, every run of three or more digits in text and
// keeps the rest: "Patient ID: 12345" becomes "Patient ID: 1***5". Runs of one or two
// digits, such as "2 pm" or "room 12", are kept. Use it for short text that is known to
// hold identifiers, not prose; MaskText is for free text.
func MaskDigitRuns(text string) string {
	return digitRun.ReplaceAllStringFunc(text, MaskID)
}

// MaskText hides free text completely and keeps only its length in characters:
// "[redacted: 123 chars]". An empty text gives "".
func MaskText(text string) string {
	if text == "" {
		return ""
	}
	return "[redacted: " + strconv.Itoa(utf8.RuneCountInString(text)) + " chars]"
}

// RedactURL prepares a link for logging. It keeps the scheme, host and path, replaces
// every query value and any fragment with ***, and drops any user info. Links can carry
// credentials, such as Zoom's zak and pwd parameters, and the token of our own launch
// links (…/launch/<token>), which becomes ***. A query item without "=" is replaced
// whole. The body of an opaque URL (mailto:…) becomes ***. Text that does not
// parse as a URL becomes ***.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return stars
	}
	u.User = nil
	if u.Opaque != "" {
		u.Opaque = stars
	}
	if before, _, ok := strings.Cut(u.EscapedPath(), "/launch/"); ok {
		u.RawPath = before + "/launch/" + stars
		u.Path, _ = url.PathUnescape(u.RawPath)
	}
	if u.RawQuery != "" {
		items := strings.Split(u.RawQuery, "&")
		for i, item := range items {
			if key, _, ok := strings.Cut(item, "="); ok {
				items[i] = key + "=" + stars
			} else if item != "" {
				items[i] = stars
			}
		}
		u.RawQuery = strings.Join(items, "&")
	}
	if u.Fragment != "" || u.RawFragment != "" {
		u.Fragment, u.RawFragment = stars, ""
	}
	return u.String()
}
