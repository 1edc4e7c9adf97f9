// Package procrss reads a process's peak resident set size from /proc,
// for tests and benchmarks that hold a child process to a memory target.
package procrss

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// PeakKiB returns the peak resident set size (VmHWM) of process pid in
// KiB (Linux only).
func PeakKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseHWM(string(b))
}

func parseHWM(status string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM %q: %w", strings.TrimSpace(v), err)
			}
			return kb, nil
		}
	}
	return 0, errors.New("no VmHWM line in /proc status")
}
