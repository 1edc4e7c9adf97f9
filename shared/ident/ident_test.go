package ident

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"ok/simple", "sensor-01", true},
		{"ok/mac", "AA:BB:CC:00:11:22", true},
		{"ok/email-like", "gw@plant-1", true},
		{"error/dot", "pump.1", false},
		{"ok/max-length", strings.Repeat("a", 64), true},
		{"error/empty", "", false},
		{"error/too-long", strings.Repeat("a", 65), false},
		{"error/slash", "a/b", false},
		{"error/plus", "a+b", false},
		{"error/hash", "a#b", false},
		{"error/nul", "a\x00b", false},
		{"error/space", "a b", false},
		{"error/nats-star", "a*", false},
		{"error/nats-gt", "a>", false},
		{"error/leading-dash", "-a", false},
		{"error/non-ascii", "caf\u00e9", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckID("device_id", tt.id)
			if tt.ok && err != nil {
				t.Fatalf("CheckID(%q) = %v, want nil", tt.id, err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalid) {
				t.Fatalf("CheckID(%q) = %v, want ErrInvalid", tt.id, err)
			}
		})
	}
}

func TestModelMatches(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		model    string
		want     bool
	}{
		{"exact", []string{"TG-100"}, "TG-100", true},
		{"star", []string{"TG-*"}, "TG-200", true},
		{"question", []string{"TG-?00"}, "TG-300", true},
		{"second-pattern", []string{"X", "TG-*"}, "TG-1", true},
		{"no-match", []string{"TG-*"}, "XX-1", false},
		{"empty-range", nil, "TG-1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ModelMatches(tt.patterns, tt.model); got != tt.want {
				t.Fatalf("ModelMatches(%v, %q) = %v, want %v", tt.patterns, tt.model, got, tt.want)
			}
		})
	}
}

func TestCheckModel(t *testing.T) {
	for _, m := range []string{"TG-100", "sensor-v1.2"} {
		if err := CheckModel(m); err != nil {
			t.Errorf("CheckModel(%q) = %v", m, err)
		}
	}
	for _, m := range []string{"", ".x", "a/b", "a*", strings.Repeat("m", 65)} {
		if err := CheckModel(m); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckModel(%q) = %v, want ErrInvalid", m, err)
		}
	}
}

func TestCheckModelPattern(t *testing.T) {
	for _, p := range []string{"TG-*", "A?", "*", "v1.*"} {
		if err := CheckModelPattern(p); err != nil {
			t.Errorf("CheckModelPattern(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"", "a/b", "[a]", strings.Repeat("x", 65)} {
		if err := CheckModelPattern(p); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckModelPattern(%q) = %v, want ErrInvalid", p, err)
		}
	}
}
