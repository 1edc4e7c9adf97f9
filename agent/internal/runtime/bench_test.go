package runtime

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

const (
	benchMessages = 20_000
	// submitters is how many goroutines hand samples to the agent, like
	// several producers (or bridged children) on one gateway.
	submitters = 4
)

// payloads are ~100-byte samples, the size docs/dependencies.md measured with,
// whose readings change from one to the next as a sensor's do (identical
// payloads would flatter the outbox's compression). Both sides of a
// comparison publish the same ones.
var payloads = func() [][]byte {
	rng := rand.New(rand.NewPCG(7, 7))
	out := make([][]byte, 4096)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"temperature":%.2f,"humidity":%.2f,"pressure":%.1f,"vibration":[%.3f,%.3f,%.3f],"ok":%v}`,
			15+10*rng.Float64(), 30+40*rng.Float64(), 990+40*rng.Float64(),
			rng.Float64(), rng.Float64(), rng.Float64(), rng.IntN(50) > 0)
	}
	return out
}()

// rawPaho publishes n messages at QoS 1 with the same in-flight window as
// the agent and returns the elapsed time.
func rawPaho(b *testing.B, broker string, n int) time.Duration {
	opts := mqtt.NewClientOptions().AddBroker(broker).SetClientID("raw-bench").SetCleanSession(true).SetOrderMatters(false)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	fifo := make(chan mqtt.Token, limits.DefaultMaxInflight)
	done := make(chan error, 1)
	start := clock.Real{}.Now()
	go func() {
		for i := 0; i < n; i++ {
			tok := <-fifo
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				done <- fmt.Errorf("publish %d: %v", i, tok.Error())
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < n; i++ {
		fifo <- c.Publish("tollgate/v1/acme/raw/telemetry", 1, false, payloads[i%len(payloads)])
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return clock.Real{}.Now().Sub(start)
}

// throughAgent submits n samples through the Go ingest API (batches of 100
// from two goroutines) and returns the time until the broker acknowledged
// the last one.
func throughAgent(b *testing.B, a *Agent, n int) time.Duration {
	r := a.current()
	base := r.ob.Acked()
	start := clock.Real{}.Now()
	var wg sync.WaitGroup
	for w := 0; w < submitters; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]wire.Sample, 100)
			next := w * n / submitters
			for i := 0; i < n/submitters; i += len(batch) {
				for j := range batch {
					batch[j] = wire.Sample{Data: payloads[next%len(payloads)]}
					next++
				}
				res, err := a.Submit(context.Background(), batch)
				if err != nil || !res[0].Accepted {
					b.Errorf("submit: %v %v", err, res[0])
					return
				}
			}
		}()
	}
	wg.Wait()
	// Stop the clock when the last acknowledgement is recorded, as the raw
	// side stops at its last PUBACK (polling would add up to a tick).
	for {
		rec := r.ob.Recorded()
		if r.ob.Acked()-base >= int64(n) {
			break
		}
		<-rec
	}
	return clock.Real{}.Now().Sub(start)
}

// BenchmarkPublishThroughput compares samples/s through the whole agent
// (gate, outbox commit, publish, PUBACK, delete) with raw paho publishing to
// the same embedded broker in the same run, both at QoS 1 with 256 in
// flight. The ratio metric is agent ÷ raw (target ≥ 0.8).
func BenchmarkPublishThroughput(b *testing.B) {
	for _, sync := range []bool{false, true} {
		b.Run(fmt.Sprintf("fsync=%v", sync), func(b *testing.B) {
			nats := testkit.StartNATSNoSink(b, b.TempDir())
			h := startBenchAgent(b, nats.URL, sync)
			rawPaho(b, nats.URL, benchMessages/10) // warm up broker and client
			throughAgent(b, h, benchMessages/10)
			var agentT, rawT time.Duration
			// Alternate short rounds so that load from elsewhere on the
			// machine hits both sides alike.
			const rounds = 5
			for b.Loop() {
				for r := 0; r < rounds; r++ {
					rawT += rawPaho(b, nats.URL, benchMessages/rounds)
					agentT += throughAgent(b, h, benchMessages/rounds)
				}
			}
			raw := float64(benchMessages*b.N) / rawT.Seconds()
			agent := float64(benchMessages*b.N) / agentT.Seconds()
			b.ReportMetric(raw, "raw_msgs/s")
			b.ReportMetric(agent, "agent_msgs/s")
			b.ReportMetric(agent/raw, "ratio")
		})
	}
}

func startAgentOnly(b *testing.B, broker string, fsync bool) *Agent {
	cfg := config.Default()
	cfg.QueueMax = limits.MaxQueueMax
	cfg.Data = b.TempDir()
	cfg.Broker = broker
	cfg.Ingest = "127.0.0.1:0"
	cfg.SyncEveryCommit = fsync
	id, err := Init(context.Background(), cfg, InitRequest{DeviceID: devID, Model: "TG-100", Trust: testkit.TrustBundle(b)}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	a, err := Open(context.Background(), cfg, Options{Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	pub, _ := token.ParsePublicKey(id.PublicKey)
	now := clock.Real{}.Now()
	_, text := testkit.License(b, devID, pub, func(l *token.License) {
		l.MaxSamplesPerHour = 0
		l.NotBefore, l.NotAfter, l.IssuedAt = now.Add(-time.Hour).Unix(), now.Add(24*time.Hour).Unix(), now.Unix()
	})
	if _, err := a.Activate([]string{text}); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- a.Run(ctx, func(Addrs) { close(ready) }) }()
	<-ready
	b.Cleanup(func() { cancel(); <-done; a.Close() })
	return a
}

// startBenchAgent runs a licensed agent publishing to broker and waits
// until it is connected.
func startBenchAgent(b *testing.B, broker string, fsync bool) *Agent {
	a := startAgentOnly(b, broker, fsync)
	for !a.current().pub.Connected() {
		time.Sleep(time.Millisecond)
	}
	return a
}

// BenchmarkIngestSubmit is the ingest hot path without the network:
// validation, gate, envelope and the durable outbox commit, per sample, in
// batches of 100 from four producers.
func BenchmarkIngestSubmit(b *testing.B) {
	a := startAgentOnly(b, "", false)
	batch := make([]wire.Sample, 100)
	for i := range batch {
		batch[i] = wire.Sample{Data: payloads[i]}
	}
	b.ReportAllocs()
	b.SetParallelism(2) // 2 × GOMAXPROCS producers
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := a.Submit(context.Background(), batch)
			if err != nil || !res[99].Accepted {
				b.Errorf("submit: %v %+v", err, res[99])
				return
			}
		}
	})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/sample")
}
