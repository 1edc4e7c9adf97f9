// Package report turns a finished run into its summary: per device what
// was sent, accepted and refused by reason, the days charged, the state the
// agent left the device in; per agent what its outbox still holds; and the
// rates — as a table for people or one JSON document (-o json).
package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/firmware-sim/internal/drive"
	"github.com/tollgate-iot/tollgate/firmware-sim/internal/fleet"
	"github.com/tollgate-iot/tollgate/shared/cli"
)

// Summary is the result of a run (`-o json`).
type Summary struct {
	Pattern     string  `json:"pattern"`
	RatePerHour int     `json:"rate_per_hour"`
	ClockSpeed  float64 `json:"clock_speed"`
	SimFrom     string  `json:"sim_from"`
	SimTo       string  `json:"sim_to"`
	SimHours    float64 `json:"sim_hours"`
	// WallSeconds is the real time of the run; DrainSeconds the real time
	// waited after it for the agents to account for and deliver samples.
	WallSeconds  float64 `json:"wall_seconds"`
	DrainSeconds float64 `json:"drain_seconds"`
	// SamplesPerSecond is samples sent per real second of the run.
	SamplesPerSecond float64 `json:"samples_per_second"`
	// DeliveredPerSecond is samples the agents delivered to their upstream
	// broker (accepted and no longer queued) per real second of run and
	// drain.
	DeliveredPerSecond float64         `json:"delivered_per_second"`
	Totals             Totals          `json:"totals"`
	Agents             []AgentSummary  `json:"agents"`
	Devices            []DeviceSummary `json:"devices"`
}

// Totals sums the run.
type Totals struct {
	Devices  int              `json:"devices"`
	Sent     int64            `json:"sent"`
	Accepted int64            `json:"accepted"`
	Refused  int64            `json:"refused"`
	Reasons  map[string]int64 `json:"refused_by_reason"`
	// Unaccounted counts bridged samples the gateways never accounted for.
	Unaccounted int64 `json:"unaccounted"`
	Deductions  int64 `json:"deductions"`
	// Queued is what the agents' outboxes still held at the end.
	Queued    int64 `json:"queued"`
	Delivered int64 `json:"delivered"`
}

// AgentSummary is one agent.
type AgentSummary struct {
	Agent    string           `json:"agent"`
	DeviceID string           `json:"device_id"`
	Gateway  bool             `json:"gateway"`
	Via      string           `json:"via"`
	Devices  int              `json:"devices"`
	Sent     int64            `json:"sent"`
	Accepted int64            `json:"accepted"`
	Refused  int64            `json:"refused"`
	Reasons  map[string]int64 `json:"refused_by_reason"`
	Queued   int64            `json:"queued"`
	Dropped  int64            `json:"dropped"`
	Settled  bool             `json:"settled"`
}

// DeviceSummary is one simulated device.
type DeviceSummary struct {
	DeviceID string `json:"device_id"`
	Agent    string `json:"agent"`
	Via      string `json:"via"`
	Sent     int64  `json:"sent"`
	Accepted int64  `json:"accepted"`
	Refused  int64  `json:"refused"`
	// Reasons are the agent's answers; bridged children's refusals are
	// counted per gateway only (AgentSummary.Reasons).
	Reasons         map[string]int64 `json:"refused_by_reason,omitempty"`
	Deductions      int64            `json:"deductions"`
	AvailableDays   *int64           `json:"available_days"`
	Licenses        []string         `json:"licenses"`
	Blacklisted     bool             `json:"blacklisted"`
	BlacklistReason string           `json:"blacklist_reason,omitempty"`
}

// Run describes the run for Build.
type Run struct {
	Pattern     string
	Rate        int
	Speed       float64
	From, To    time.Time
	Wall, Drain time.Duration
}

// Build summarizes the run of agents.
func Build(r Run, agents []*drive.Agent) *Summary {
	s := &Summary{
		Pattern: r.Pattern, RatePerHour: r.Rate, ClockSpeed: r.Speed,
		SimFrom: r.From.UTC().Format(time.RFC3339), SimTo: r.To.UTC().Format(time.RFC3339),
		SimHours: r.To.Sub(r.From).Hours(), WallSeconds: round(r.Wall.Seconds()), DrainSeconds: round(r.Drain.Seconds()),
		Totals: Totals{Reasons: map[string]int64{}},
	}
	for _, a := range agents {
		as := agentSummary(a)
		s.Agents = append(s.Agents, as)
		for _, d := range a.Devices {
			ds := deviceSummary(a, d)
			s.Devices = append(s.Devices, ds)
			s.Totals.Sent += ds.Sent
			s.Totals.Deductions += ds.Deductions
		}
		s.Totals.Accepted += as.Accepted
		s.Totals.Refused += as.Refused
		for k, v := range as.Reasons {
			s.Totals.Reasons[k] += v
		}
		s.Totals.Queued += as.Queued
		if a.Bridge != "" {
			s.Totals.Unaccounted += max(0, as.Sent-as.Accepted-as.Refused)
		}
	}
	s.Totals.Devices = len(s.Devices)
	s.Totals.Delivered = max(0, s.Totals.Accepted-s.Totals.Queued)
	if r.Wall > 0 {
		s.SamplesPerSecond = round(float64(s.Totals.Sent) / r.Wall.Seconds())
	}
	if r.Wall+r.Drain > 0 {
		s.DeliveredPerSecond = round(float64(s.Totals.Delivered) / (r.Wall + r.Drain).Seconds())
	}
	return s
}

func round(f float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', 2, 64), 64)
	return v
}

func agentSummary(a *drive.Agent) AgentSummary {
	as := AgentSummary{Agent: a.Target.Name, Via: string(drive.ViaHTTP), Devices: len(a.Devices), Settled: a.Settled, Reasons: map[string]int64{}}
	if a.Before != nil {
		as.DeviceID, as.Gateway = a.Before.DeviceID, a.Before.Gateway()
	}
	if a.Bridge != "" {
		as.Via = string(drive.ViaBridge)
	}
	for _, d := range a.Devices {
		as.Sent += d.Sent
		as.Accepted += d.Accepted
		for k, v := range d.Refused {
			as.Reasons[k] += v
		}
	}
	if a.After != nil {
		as.Queued, as.Dropped = a.After.Queue.Depth, a.After.Queue.Dropped-a.Before.Queue.Dropped
		if a.Bridge != "" {
			as.Accepted = drive.BridgeAccepted(a)
			for k, v := range a.After.Refused {
				if n := v - a.Before.Refused[k]; n > 0 {
					as.Reasons[k] = n
				}
			}
		}
	}
	for _, v := range as.Reasons {
		as.Refused += v
	}
	return as
}

func find(st *fleet.Status, id string) *fleet.Device {
	if st == nil {
		return nil
	}
	if st.DeviceID == id {
		return &st.Device
	}
	for i := range st.Children {
		if st.Children[i].DeviceID == id {
			return &st.Children[i]
		}
	}
	return nil
}

func deviceSummary(a *drive.Agent, d *drive.Device) DeviceSummary {
	ds := DeviceSummary{DeviceID: d.ID, Agent: a.Target.Name, Via: string(d.Via), Sent: d.Sent, Accepted: d.Accepted, Licenses: []string{}}
	before, after := find(a.Before, d.ID), find(a.After, d.ID)
	if d.Via == drive.ViaBridge {
		if before != nil && after != nil {
			ds.Accepted = after.Budget.AcceptedTotal - before.Budget.AcceptedTotal
		}
		ds.Refused = max(0, ds.Sent-ds.Accepted)
	} else {
		ds.Reasons = maps.Clone(d.Refused)
		for _, v := range d.Refused {
			ds.Refused += v
		}
	}
	if after != nil {
		ds.Blacklisted, ds.BlacklistReason = after.Blacklisted, after.BlacklistReason
		if before != nil {
			// Days charged: the records numbered during the run, less the
			// failed days among them (docs/design.md#enforcement-on-the-agent step 4: paid nothing).
			ds.Deductions = (after.DeductionSeq - before.DeductionSeq) - (after.FailedDays - before.FailedDays)
		}
		for _, l := range after.Licenses {
			ds.Licenses = append(ds.Licenses, l.Billing+":"+l.Status)
			if l.AvailableDays != nil {
				n := *l.AvailableDays
				if ds.AvailableDays != nil {
					n += *ds.AvailableDays
				}
				ds.AvailableDays = &n
			}
		}
	}
	return ds
}

// Render writes the summary as f: the story table, or one JSON document.
func Render(w io.Writer, f cli.Format, s *Summary) error {
	if f == cli.JSON {
		return cli.Render(w, f, s, nil, nil)
	}
	header := []string{"DEVICE", "AGENT", "VIA", "LICENSES", "SENT", "ACCEPTED", "REFUSED", "REFUSED BY REASON", "DAYS CHARGED", "DAYS LEFT", "STATE"}
	var rows [][]string
	for _, d := range s.Devices {
		left := "-"
		if d.AvailableDays != nil {
			left = strconv.FormatInt(*d.AvailableDays, 10)
		}
		state := deviceState(d)
		reasons := reasonList(d.Reasons)
		if d.Via == string(drive.ViaBridge) && d.Refused > 0 {
			reasons = "see gateway"
		}
		lic := strings.Join(d.Licenses, ",")
		if lic == "" {
			lic = "none"
		}
		rows = append(rows, []string{d.DeviceID, d.Agent, d.Via, lic, itoa(d.Sent), itoa(d.Accepted), itoa(d.Refused), reasons, itoa(d.Deductions), left, state})
	}
	if f == cli.CSV {
		return cli.Render(w, f, s, header, rows)
	}
	if err := cli.Render(w, cli.Table, s, header, rows); err != nil {
		return err
	}
	for _, a := range s.Agents {
		if a.Via == string(drive.ViaBridge) {
			fmt.Fprintf(w, "gateway %s (%s): %d children through its local broker: sent %d, accepted %d, refused %d%s\n",
				a.DeviceID, a.Agent, a.Devices, a.Sent, a.Accepted, a.Refused, parenthesize(reasonList(a.Reasons)))
		}
	}
	t := s.Totals
	fmt.Fprintf(w, "\n%d devices, %s of simulated time (%s pattern, %d samples/hour on average) in %.1f s at %g×\n",
		t.Devices, simSpan(s.SimHours), s.Pattern, s.RatePerHour, s.WallSeconds, s.ClockSpeed)
	fmt.Fprintf(w, "sent %d, accepted %d, refused %d%s; %d days charged\n", t.Sent, t.Accepted, t.Refused, parenthesize(reasonList(t.Reasons)), t.Deductions)
	fmt.Fprintf(w, "%.0f samples/s sent; %.0f samples/s delivered to the upstream broker (%d delivered, %d still queued, %.1f s drain)\n",
		s.SamplesPerSecond, s.DeliveredPerSecond, t.Delivered, t.Queued, s.DrainSeconds)
	if t.Unaccounted > 0 {
		fmt.Fprintf(w, "%d bridged samples were not accounted for by their gateway within the drain timeout\n", t.Unaccounted)
	}
	return nil
}

// deviceState says whether the agent lets the device send at the end:
// blacklisted, without a usable license (each license's status), or ok.
func deviceState(d DeviceSummary) string {
	if d.Blacklisted {
		if d.BlacklistReason != "" {
			return "blacklisted (" + d.BlacklistReason + ")"
		}
		return "blacklisted"
	}
	if len(d.Licenses) == 0 {
		return "no license"
	}
	var why []string
	for _, l := range d.Licenses {
		_, status, _ := strings.Cut(l, ":")
		if status == "active" {
			return "ok"
		}
		why = append(why, status)
	}
	return "cut off (" + strings.Join(why, ", ") + ")"
}

func parenthesize(s string) string {
	if s == "-" {
		return ""
	}
	return " (" + s + ")"
}

func simSpan(h float64) string {
	if h >= 48 {
		return strconv.FormatFloat(h/24, 'f', -1, 64) + " days"
	}
	return strconv.FormatFloat(h, 'f', -1, 64) + " hours"
}

func reasonList(m map[string]int64) string {
	if len(m) == 0 {
		return "-"
	}
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+" "+itoa(m[k]))
	}
	return strings.Join(parts, ", ")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
