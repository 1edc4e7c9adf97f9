// Package cli is firmware-sim's command line: its flags, their bounds, the
// run (find the fleet, drive it, wait for the agents, print the story) and
// the local-broker mode.
package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/firmware-sim/internal/limits"
	"github.com/tollgate-iot/tollgate/firmware-sim/internal/pattern"
	"github.com/tollgate-iot/tollgate/shared/cli"
)

// Config is one firmware-sim invocation.
type Config struct {
	Agents   []string // --agent URLs
	Data     []string // --data directories
	Bridges  []string // --bridge local broker URLs, one per gateway
	Devices  int      // 0: every device the agents serve
	Gateways int      // -1: every gateway
	Rate     int
	Pattern  pattern.Kind
	Duration time.Duration
	Speed    float64
	Origin   time.Time
	Tick     time.Duration
	Progress bool
	Output   cli.Format
	// LocalBroker, if set, runs a gateway's local broker on this address
	// instead of a fleet.
	LocalBroker    string
	LocalBrokerDir string
	// AgentTokenFile holds the agents' local API token, for agents run
	// with local_token_file.
	AgentTokenFile string
}

// Defaults of the flags.
const (
	DefaultRate     = 60
	DefaultDuration = 24 * time.Hour
)

// allOrCount is an int flag whose unset value, -1, means "all": its help
// text says so, and -h prints no "(default -1)" after it.
type allOrCount struct{ v *int }

func (a allOrCount) String() string {
	if a.v == nil || *a.v < 0 {
		return ""
	}
	return strconv.Itoa(*a.v)
}

func (a allOrCount) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("want a whole number: %v", err)
	}
	*a.v = n
	return nil
}

// list is a repeatable string flag.
type list struct{ v *[]string }

func (l list) String() string {
	if l.v == nil {
		return ""
	}
	return strings.Join(*l.v, ",")
}

func (l list) Set(s string) error {
	if len(s) > limits.MaxArgBytes {
		return fmt.Errorf("value of %d bytes, at most %d", len(s), limits.MaxArgBytes)
	}
	if len(*l.v) >= limits.MaxTargets {
		return fmt.Errorf("at most %d values", limits.MaxTargets)
	}
	*l.v = append(*l.v, s)
	return nil
}

// Validate checks the bounds of every flag and their combination; its
// errors are usage errors.
func (c *Config) Validate(now time.Time) error {
	if c.LocalBroker != "" {
		if len(c.Agents)+len(c.Data)+len(c.Bridges) > 0 {
			return cli.Usagef("--local-broker runs a gateway's local broker and nothing else: drop --agent, --data and --bridge")
		}
		return nil
	}
	var errs []error
	if len(c.Agents)+len(c.Data) == 0 {
		errs = append(errs, errors.New("name the agents to drive with --agent URL or --data DIR"))
	}
	if len(c.Agents)+len(c.Data) > limits.MaxTargets {
		errs = append(errs, fmt.Errorf("at most %d agents", limits.MaxTargets))
	}
	if c.Devices < 0 || c.Devices > limits.MaxDevices {
		errs = append(errs, fmt.Errorf("--devices %d: want 0 (all) to %d", c.Devices, limits.MaxDevices))
	}
	if c.Gateways < -1 || c.Gateways > limits.MaxTargets {
		errs = append(errs, fmt.Errorf("--gateways %d: want 0 to %d", c.Gateways, limits.MaxTargets))
	}
	if c.Rate < 1 || c.Rate > limits.MaxRate {
		errs = append(errs, fmt.Errorf("--rate %d: want 1 to %d samples per hour", c.Rate, limits.MaxRate))
	}
	if c.Duration < limits.MinDuration || c.Duration > limits.MaxDuration {
		errs = append(errs, fmt.Errorf("--duration %v: want %v to %v", c.Duration, limits.MinDuration, limits.MaxDuration))
	}
	if !(c.Speed >= 1 && c.Speed <= limits.MaxClockSpeed) {
		errs = append(errs, fmt.Errorf("--clock-speed %g: want 1 to %d", c.Speed, limits.MaxClockSpeed))
	} else if real := time.Duration(float64(c.Duration) / c.Speed); real > limits.MaxRealDuration {
		errs = append(errs, fmt.Errorf("--duration %v at --clock-speed %g takes %v of real time, at most %v", c.Duration, c.Speed, real.Round(time.Second), limits.MaxRealDuration))
	}
	if d := now.Sub(c.Origin); d < -time.Minute || d > limits.MaxOriginAge {
		errs = append(errs, fmt.Errorf("--clock-origin %s: must be within the last 30 days (the agents' own --clock-origin)", c.Origin.Format(time.RFC3339)))
	}
	if c.Tick < limits.MinTick || c.Tick > limits.MaxTick {
		errs = append(errs, fmt.Errorf("--tick %v: want %v to %v", c.Tick, limits.MinTick, limits.MaxTick))
	}
	for _, b := range c.Bridges {
		if err := checkBrokerURL(b); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return cli.Usagef("%v", errors.Join(errs...))
	}
	return nil
}

// checkBrokerURL accepts tcp://HOST:PORT.
func checkBrokerURL(s string) error {
	rest, ok := strings.CutPrefix(s, "tcp://")
	if !ok || rest == "" || strings.ContainsAny(rest, "/?#@ ") || !strings.Contains(rest, ":") {
		return fmt.Errorf("--bridge %q: want tcp://HOST:PORT, the gateway's local broker", s)
	}
	return nil
}
