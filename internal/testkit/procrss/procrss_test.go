package procrss

import (
	"os"
	"testing"
)

func TestParseHWM(t *testing.T) {
	tests := []struct {
		name   string
		status string
		want   int64
		ok     bool
	}{
		{"ok", "Name:\tx\nVmPeak:\t  9 kB\nVmHWM:\t   49664 kB\nVmRSS:\t 1 kB\n", 49664, true},
		{"error/missing", "Name:\tx\nVmRSS:\t 1 kB\n", 0, false},
		{"error/not-a-number", "VmHWM:\t lots kB\n", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHWM(tt.status)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("parseHWM = %d, %v; want %d ok=%v", got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestPeakKiBOfThisProcess(t *testing.T) {
	kb, err := PeakKiB(os.Getpid())
	if err != nil {
		t.Skipf("no /proc status here: %v", err)
	}
	if kb <= 0 {
		t.Fatalf("peak RSS of the test process = %d KiB", kb)
	}
}
