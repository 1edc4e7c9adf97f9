package runtime

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-iot/tollgate/agent/internal/metrics"
)

// latency holds the agent's histograms: rare events (a sync, a CONNECT),
// timed where they happen. Everything per sample is an atomic counter read
// at scrape time (metricsHandler).
type latency struct {
	sync, connect *prometheus.HistogramVec
}

func newLatency() latency {
	return latency{
		sync: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tollgate_agent_sync_duration_seconds",
			Help:    "Syncs with the license server, from the call (waiting for one under way included) to the answer applied, by result (ok, error).",
			Buckets: metrics.LatencyBuckets}, []string{"result"}),
		connect: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tollgate_agent_upstream_connect_duration_seconds",
			Help:    "CONNECTs to the upstream broker, from dialling to CONNACK, by result (ok, error).",
			Buckets: metrics.LatencyBuckets}, []string{"result"}),
	}
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// metricsHandler serves the agent's Prometheus metrics: the Go and process
// collectors, the latency histograms, and the counters below, read when
// Prometheus scrapes.
func (a *Agent) metricsHandler(r *running) (http.Handler, error) {
	reg, err := metrics.NewRegistry(a.fillMetrics(r), a.lat.sync, a.lat.connect)
	if err != nil {
		return nil, err
	}
	return metrics.Handler(reg, a.log), nil
}

// fillMetrics writes the agent's counters and gauges for one scrape.
func (a *Agent) fillMetrics(r *running) metrics.Fill {
	return func(w *metrics.Sink) {
		eff, tamper := a.clk.Now()
		refused := a.refusedTotals()
		for _, reason := range metrics.SortedKeys(refused) {
			w.Counter("tollgate_agent_samples_refused_total", "Samples refused, by reason.", refused[reason], "reason", reason)
		}
		w.Gauge("tollgate_agent_queue_depth", "Samples in the outbox, not yet acknowledged by the broker.", r.ob.Depth())
		w.Gauge("tollgate_agent_queue_max", "Bound of the outbox.", r.ob.Max())
		w.Counter("tollgate_agent_queue_dropped_total", "Samples refused because the outbox was full.", r.ob.Dropped())
		w.Counter("tollgate_agent_outbox_committed_total", "Samples committed to the outbox since start.", r.ob.Committed())
		w.Counter("tollgate_agent_outbox_acked_total", "Samples acknowledged by the broker since start.", r.ob.Acked())
		if r.pub != nil {
			w.Gauge("tollgate_agent_upstream_connected", "1 while connected to the upstream broker.", b2i(r.pub.Connected()))
			w.Counter("tollgate_agent_upstream_published_total", "PUBLISH packets sent, resends included.", r.pub.Published())
			w.Counter("tollgate_agent_upstream_reconnects_total", "Upstream reconnections.", r.pub.Reconnects())
			w.Counter("tollgate_agent_failovers_total", "Moves to the next address after one could not be reached, by what.", r.pub.Failovers(), "upstream", "broker")
		}
		if r.bridge != nil {
			w.Counter("tollgate_agent_bridge_received_total", "Child messages received from the local broker.", r.bridge.Received())
			w.Counter("tollgate_agent_bridge_invalid_total", "Child messages that did not parse.", r.bridge.Invalid())
			w.Counter("tollgate_agent_bridge_accepted_total", "Child samples accepted.", r.bridge.Accepted())
			w.Counter("tollgate_agent_bridge_redelivered_total", "Child messages acknowledged without a new commit: already committed (local broker redelivery).", r.bridge.Redelivered())
		}
		apiRefused := a.apiRefused.Counts()
		for _, code := range metrics.SortedKeys(apiRefused) {
			w.Counter("tollgate_agent_local_api_refused_total", "Local API requests refused before any handler ran (web pages, foreign Host, token, content type), by code.", apiRefused[code], "code", code)
		}
		a.syncMetrics(w)
		w.Gauge("tollgate_agent_clock_tamper", "1 while the clock is in the tamper state.", b2i(tamper))
		w.Counter("tollgate_agent_clock_tamper_events_total", "Entries into the tamper state.", a.clk.TamperEvents())
		w.Gauge("tollgate_agent_effective_time_seconds", "The effective clock.", eff/int64(time.Second))
		hour := eff / int64(time.Hour)
		for _, d := range a.gate.Devices() {
			used, totals := d.Usage(hour)
			w.Gauge("tollgate_agent_budget_used_24h", "Samples accepted in the rolling 24 hours.", used, "device_id", d.ID)
			w.Counter("tollgate_agent_samples_accepted_total", "Samples accepted, ever.", totals.Accepted, "device_id", d.ID)
			w.Counter("tollgate_agent_samples_overage_total", "Samples accepted over budget in report mode, ever.", totals.Overage, "device_id", d.ID)
			w.Gauge("tollgate_agent_deduction_seq", "Last day-deduction sequence.", d.DeductionSeq(), "device_id", d.ID)
		}
	}
}

// syncMetrics writes the sync counters once a sync was tried.
func (a *Agent) syncMetrics(w *metrics.Sink) {
	a.synm.Lock()
	c := a.sync
	a.synm.Unlock()
	if c == nil {
		return
	}
	ok, failed := c.Counts()
	w.Counter("tollgate_agent_sync_total", "Syncs with the license server since start, by result.", ok, "result", "ok")
	w.Counter("tollgate_agent_sync_total", "Syncs with the license server since start, by result.", failed, "result", "error")
	w.Counter("tollgate_agent_failovers_total", "Moves to the next address after one could not be reached, by what.", c.Failovers(), "upstream", "server")
	if at, ok := a.LastSync(); ok {
		w.Gauge("tollgate_agent_last_sync_seconds", "Effective time of the last successful sync.", at.Unix())
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
