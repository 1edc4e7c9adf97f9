// Package ident validates the identifiers that travel between agent, server
// and broker: device, customer and license ids, model names and patterns.
//
// Ids end up in MQTT topics and client ids, NATS subjects, badger keys, file
// names and URL paths, so the accepted alphabet is deliberately narrower
// than "printable": ASCII letters and digits plus - _ : @, starting with a
// letter or digit. That excludes the MQTT wildcards + and #, the topic
// separator /, NUL, whitespace, and the NATS token separator . and
// wildcards * and > (the embedded broker refuses an MQTT client id with a
// dot, and maps a dot in a topic to //). Model names may also contain dots:
// they never reach a topic.
package ident

import (
	"errors"
	"fmt"
	"path"

	"github.com/tollgate-iot/tollgate/shared/limits"
)

// ErrInvalid reports an identifier outside the accepted alphabet or length.
var ErrInvalid = errors.New("invalid identifier")

// CheckID reports whether s is a valid id; what names the field in the error
// ("device_id", "customer_id", …).
func CheckID(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty", ErrInvalid, what)
	}
	if len(s) > limits.MaxIDLen {
		return fmt.Errorf("%w: %s is %d bytes, at most %d", ErrInvalid, what, len(s), limits.MaxIDLen)
	}
	if !isAlnum(s[0]) {
		return fmt.Errorf("%w: %s must start with a letter or digit", ErrInvalid, what)
	}
	for i := 0; i < len(s); i++ {
		if !idByte(s[i]) {
			return fmt.Errorf("%w: %s contains %q at byte %d (allowed: letters, digits, - _ : @)", ErrInvalid, what, s[i], i)
		}
	}
	return nil
}

// CheckModel reports whether s is a valid device model name: the id
// alphabet plus dots ("TG-100", "sensor-v1.2").
func CheckModel(s string) error {
	if s == "" || len(s) > limits.MaxModelPatternLen {
		return fmt.Errorf("%w: model must be 1..%d bytes", ErrInvalid, limits.MaxModelPatternLen)
	}
	if !isAlnum(s[0]) {
		return fmt.Errorf("%w: model must start with a letter or digit", ErrInvalid)
	}
	for i := 0; i < len(s); i++ {
		if !modelByte(s[i]) {
			return fmt.Errorf("%w: model contains %q at byte %d", ErrInvalid, s[i], i)
		}
	}
	return nil
}

// CheckModelPattern reports whether p is a valid model pattern: a model name
// that may contain the glob characters * and ?.
func CheckModelPattern(p string) error {
	if p == "" {
		return fmt.Errorf("%w: model pattern is empty", ErrInvalid)
	}
	if len(p) > limits.MaxModelPatternLen {
		return fmt.Errorf("%w: model pattern is %d bytes, at most %d", ErrInvalid, len(p), limits.MaxModelPatternLen)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; !modelByte(c) && c != '*' && c != '?' {
			return fmt.Errorf("%w: model pattern contains %q at byte %d", ErrInvalid, c, i)
		}
	}
	return nil
}

// ModelMatches reports whether model matches any of the patterns. Patterns
// use * (any run) and ? (one character); since neither the model alphabet
// nor the patterns contain / [ or \, path.Match needs no further escaping.
func ModelMatches(patterns []string, model string) bool {
	for _, p := range patterns {
		if ok, err := path.Match(p, model); err == nil && ok {
			return true
		}
	}
	return false
}

// CheckFeature reports whether f is a valid feature (module) name.
func CheckFeature(f string) error {
	if f == "" || len(f) > limits.MaxFeatureLen {
		return fmt.Errorf("%w: feature name must be 1..%d bytes", ErrInvalid, limits.MaxFeatureLen)
	}
	for i := 0; i < len(f); i++ {
		if !idByte(f[i]) {
			return fmt.Errorf("%w: feature name contains %q at byte %d", ErrInvalid, f[i], i)
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func idByte(c byte) bool {
	return isAlnum(c) || c == '-' || c == '_' || c == ':' || c == '@'
}

func modelByte(c byte) bool { return idByte(c) || c == '.' }
