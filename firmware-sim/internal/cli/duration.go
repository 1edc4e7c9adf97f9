package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/firmware-sim/internal/limits"
)

// ErrDuration reports a --duration that does not parse.
var ErrDuration = errors.New("invalid duration")

// ParseDuration reads a simulated duration: a Go duration ("90m",
// "36h"), optionally led by whole days ("3d", "2d12h").
func ParseDuration(s string) (time.Duration, error) {
	if s == "" || len(s) > limits.MaxTimeArgBytes {
		return 0, fmt.Errorf("%w: %q", ErrDuration, s)
	}
	var days int64
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n < 0 || n > limits.MaxDurationDays || s[:i] != strconv.FormatInt(n, 10) {
			return 0, fmt.Errorf("%w: %q: days must be a whole number like 3d", ErrDuration, s)
		}
		days, s = n, s[i+1:]
	}
	var rest time.Duration
	if s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%w: %q (want e.g. 3d, 2d12h, 90m)", ErrDuration, s)
		}
		rest = d
	}
	total := time.Duration(days)*24*time.Hour + rest
	if total < rest {
		return 0, fmt.Errorf("%w: overflow", ErrDuration)
	}
	return total, nil
}
